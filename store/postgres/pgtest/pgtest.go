// Package pgtest gives a test a new, empty PostgreSQL database of its own, for the tests of
// store/postgres and of whatever runs on it; NewDatabase gives one to a program, such as a
// benchmark.
//
// The tests find PostgreSQL through the environment variable CORRAL_TEST_POSTGRES: the
// connection string of a role allowed to CREATE DATABASE, such as
// postgres://corral:corral@127.0.0.1:5432/postgres?sslmode=disable. Without it they skip, saying
// so. The CI script (bash .ci/run, as root) installs and starts PostgreSQL and sets it.
package pgtest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
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
	url, drop, err := newDatabase(os.Getenv(Env), options)
	if err != nil {
		t.Fatalf("pgtest: create a database (as %s says): %v", Env, err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return url
}

// NewDatabase creates a new, empty database, as URL does, on the server that admin names (the
// connection string of a role allowed to CREATE DATABASE, such as Env's), for a program rather
// than a test. It returns the new database's connection string and a function that drops it
// (WITH (FORCE)), which the caller must call once it is done with it.
func NewDatabase(admin string) (url string, drop func() error, err error) {
	if admin == "" {
		return "", nil, errors.New("pgtest: no connection string of a role that may CREATE DATABASE")
	}
	if url, drop, err = newDatabase(admin, defaultOptions); err != nil {
		return "", nil, fmt.Errorf("pgtest: create a database: %w", err)
	}
	return url, drop, nil
}

// newDatabase creates a database on the server that admin names, with the first of options
// that the server accepts, and returns its connection string and a function that drops it.
func newDatabase(admin string, options []string) (url string, dropFn func() error, err error) {
	name := "corral_test_" + strings.ToLower(rand.Text())
	for _, opts := range options {
		if err = exec(admin, "CREATE DATABASE "+name+" TEMPLATE template0 "+opts); err == nil {
			break
		}
	}
	if err != nil {
		return "", nil, err
	}
	dropFn = func() error {
		if err := drop(admin, name); err != nil {
			return fmt.Errorf("drop database %s: %w", name, err)
		}
		return nil
	}
	return withDatabase(admin, name), dropFn, nil
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
