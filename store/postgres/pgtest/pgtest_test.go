package pgtest

import (
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestWithDatabase(t *testing.T) {
	for _, c := range []struct{ conn, want string }{
		{"postgres://corral:corral@127.0.0.1:5432/postgres?sslmode=disable", "postgres://corral:corral@127.0.0.1:5432/fresh?sslmode=disable"},
		{"postgresql://u@h/db", "postgresql://u@h/fresh"},
		{"postgres://h", "postgres://h/fresh"},
		{"postgres://h?sslmode=disable", "postgres://h/fresh?sslmode=disable"},
		{"postgres://u:p@h1:5432,h2:5433/db?target_session_attrs=read-write", "postgres://u:p@h1:5432,h2:5433/fresh?target_session_attrs=read-write"},
		{"host=127.0.0.1 user=corral dbname=postgres", "host=127.0.0.1 user=corral dbname=postgres dbname=fresh"},
	} {
		got := withDatabase(c.conn, "fresh")
		if got != c.want {
			t.Errorf("withDatabase(%q) = %q, want %q", c.conn, got, c.want)
		}
		if cfg, err := pgx.ParseConfig(got); err != nil {
			t.Errorf("ParseConfig(%q): %v", got, err)
		} else if cfg.Database != "fresh" {
			t.Errorf("%q names database %q, want fresh", got, cfg.Database)
		}
	}
}

// TestNewDatabase creates a database as a program would, uses it, and drops it.
func TestNewDatabase(t *testing.T) {
	Require(t)
	url, drop, err := NewDatabase(os.Getenv(Env))
	if err != nil {
		t.Fatal(err)
	}
	if err := exec(url, "CREATE TABLE t (x int)", "INSERT INTO t VALUES (1)"); err != nil {
		drop()
		t.Fatal(err)
	}
	if err := drop(); err != nil {
		t.Fatal(err)
	}
	if err := exec(url, "SELECT 1"); err == nil {
		t.Fatal("the database is still there after drop")
	}
	if _, _, err := NewDatabase(""); err == nil {
		t.Fatal("NewDatabase without a connection string: no error")
	}
}
