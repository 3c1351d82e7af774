package pgtest

import (
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
