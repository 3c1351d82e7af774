// Package pgtest gives a test a new, empty PostgreSQL database of its own, for the tests of
// store/postgres and of whatever runs on it.
//
// The tests find PostgreSQL through the environment variable CORRAL_TEST_POSTGRES: the
// connection string of a role allowed to CREATE DATABASE, such as
// postgres://corral:corral@127.0.0.1:5432/postgres?sslmode=disable. Without it they skip, saying
// so. The CI script (bash .ci/run, as root) installs and starts PostgreSQL and sets it.
package pgtest

import (
	"context"
	"crypto/rand"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env is the environment variable that holds the connection string of a role allowed to CREATE
// DATABASE.
const Env = "CORRAL_TEST_POSTGRES"

// SkipMessage is what a test without Env says as it skips.
const SkipMessage = "no PostgreSQL: set " + Env + "=postgres://corral:corral@127.0.0.1:5432/postgres?sslmode=disable " +
	"(a role that may CREATE DATABASE) to run this test; bash .ci/run starts PostgreSQL and sets it"

// Options of CREATE DATABASE for URL, after TEMPLATE template0, tried in order: the first with
// ICU's root collation as the database's default, which does not order by bytes (it puts "a"
// before "B"), so that a query that forgets COLLATE "C" fails its tests; the second for a
// server without ICU or older than PostgreSQL 15.
var defaultOptions = []string{
	"ENCODING 'UTF8' LOCALE_PROVIDER icu ICU_LOCALE 'und'",
	"ENCODING 'UTF8'",
}

// URL returns the connection string of a new, empty database, created for t and dropped when t
// ends (WITH (FORCE): connections still open are closed). Its encoding is UTF8 and its default
// collation, where the server has ICU, not byte order. Without Env, URL skips t.
func URL(t testing.TB) string {
	t.Helper()
	return create(t, defaultOptions)
}

// URLWith is URL for a database created with the given options of CREATE DATABASE, after
// TEMPLATE template0: for example "ENCODING 'SQL_ASCII' LOCALE 'C'".
func URLWith(t testing.TB, options string) string {
	t.Helper()
	return create(t, []string{options})
}

// Require skips t, saying how to run it, unless Env is set.
func Require(t testing.TB) {
	t.Helper()
	if os.Getenv(Env) == "" {
		t.Skip(SkipMessage)
	}
}

func create(t testing.TB, options []string) string {
	t.Helper()
	Require(t)
	admin := os.Getenv(Env)
	name := "corral_test_" + strings.ToLower(rand.Text())
	var err error
	for _, opts := range options {
		if err = exec(admin, "CREATE DATABASE "+name+" TEMPLATE template0 "+opts); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("pgtest: create a database (as %s says): %v", Env, err)
	}
	t.Cleanup(func() {
		if err := drop(admin, name); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return withDatabase(admin, name)
}

// drop drops the database name, closing the connections still open to it. WITH (FORCE) fails
// when it meets an autovacuum worker of the superuser's and the role may not end it: then the
// role's own sessions are ended, and a plain DROP DATABASE stops autovacuum itself.
func drop(admin, name string) error {
	err := exec(admin, "DROP DATABASE "+name+" WITH (FORCE)")
	if err == nil {
		return nil
	}
	return exec(admin, `SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity
		WHERE datname = '`+name+`' AND usename = current_user AND pid <> pg_backend_pid()`,
		"DROP DATABASE "+name)
}

// exec runs statements on a connection of its own.
func exec(conn string, stmts ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, conn)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	for _, q := range stmts {
		if _, err := c.Exec(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// withDatabase returns the connection string conn (a URL or keyword/value pairs) naming the
// database name instead of its own.
func withDatabase(conn, name string) string {
	var rest string
	ok := false
	for _, scheme := range []string{"postgres://", "postgresql://"} {
		if rest, ok = strings.CutPrefix(conn, scheme); ok {
			break
		}
	}
	if !ok {
		return conn + " dbname=" + name // the last value of a keyword wins
	}
	// As libpq and pgx read a URL: the user information ends at an '@' met before any '/',
	// the hosts at the next '/' or '?', the path at the '?'.
	host := 0
	if i := strings.IndexAny(rest, "@/"); i >= 0 && rest[i] == '@' {
		host = i + 1
	}
	end := len(rest)
	if i := strings.IndexAny(rest[host:], "/?"); i >= 0 {
		end = host + i
	}
	query := ""
	if i := strings.IndexByte(rest[end:], '?'); i >= 0 {
		query = rest[end+i:]
	}
	return conn[:len(conn)-len(rest)] + rest[:end] + "/" + name + query
}
