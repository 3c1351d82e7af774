package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// migrations[i] takes the schema from version i to version i+1; len(migrations) is this code's
// schema version. A released migration never changes: a change to the schema is a new one.
// Version 0 is the schema "corral" with an empty corral.schema_version table in it, which Open
// creates first.
var migrations = [][]string{
	{ // 1: the records and the revision counter.
		`CREATE TABLE corral.records (
			tbl text COLLATE "C" NOT NULL,
			key text COLLATE "C" NOT NULL,
			version bigint NOT NULL,
			value bytea NOT NULL,
			PRIMARY KEY (tbl, key)
		)`,
		`CREATE TABLE corral.meta (name text PRIMARY KEY, value bigint NOT NULL)`,
		`INSERT INTO corral.meta (name, value) VALUES ('revision', 0)`,
	},
}

// initSchema checks the database and brings Corral's schema in it up to date, on a connection
// of its own.
func initSchema(ctx context.Context, cfg *pgx.ConnConfig) error {
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return wrap("connect", ctx, err, false)
	}
	defer func() {
		ctx, cancel := bounded()
		defer cancel()
		c.Close(ctx)
	}()
	var encoding string
	if err := c.QueryRow(ctx, "SHOW server_encoding").Scan(&encoding); err != nil {
		return wrap("read the encoding", ctx, err, c.IsClosed())
	}
	if encoding != "UTF8" {
		return fmt.Errorf("postgres: the database's encoding is %s; Corral needs UTF8 (CREATE DATABASE ... ENCODING 'UTF8' TEMPLATE template0)", encoding)
	}
	// The common case, a schema up to date, takes no lock.
	if v, err := schemaVersion(ctx, c); err != nil {
		return wrap("read the schema version", ctx, err, c.IsClosed())
	} else if v == len(migrations) {
		return nil
	}
	// The lock is the session's, taken before the transaction begins: PostgreSQL refreshes its
	// catalog caches as a transaction begins, and one that began before another server's
	// migration committed could still miss the tables it created. Closing the connection
	// releases the lock whatever happens.
	if _, err := c.Exec(ctx, `SELECT pg_advisory_lock($1)`, LockKey); err != nil {
		return wrap("migrate: lock", ctx, err, c.IsClosed())
	}
	defer func() {
		ctx, cancel := bounded()
		defer cancel()
		c.Exec(ctx, `SELECT pg_advisory_unlock($1)`, LockKey)
	}()
	tx, err := c.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return wrap("migrate: begin", ctx, err, c.IsClosed())
	}
	defer func() {
		ctx, cancel := bounded()
		defer cancel()
		tx.Rollback(ctx)
	}()
	if err := migrate(ctx, tx); err != nil {
		return wrap("migrate", ctx, err, c.IsClosed())
	}
	if err := tx.Commit(ctx); err != nil {
		return wrap("migrate: commit", ctx, err, c.IsClosed())
	}
	return nil
}

// migrate applies the migrations the schema lacks.
func migrate(ctx context.Context, tx pgx.Tx) error {
	v, err := schemaVersion(ctx, tx)
	switch {
	case err != nil:
		return err
	case v > len(migrations):
		return fmt.Errorf("schema version %d is newer than this Corral's (%d): run a newer Corral", v, len(migrations))
	case v == len(migrations):
		return nil
	case v < 0:
		if err := createSchema(ctx, tx); err != nil {
			return err
		}
		v = 0
	}
	for ; v < len(migrations); v++ {
		for _, q := range migrations[v] {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("to version %d: %w", v+1, err)
			}
		}
	}
	_, err = tx.Exec(ctx, `UPDATE corral.schema_version SET version = $1`, int32(v))
	return err
}

// createSchema creates schema version 0, unless a schema "corral" already holds something.
func createSchema(ctx context.Context, tx pgx.Tx) error {
	var exists bool
	var objects int64
	if err := tx.QueryRow(ctx, `SELECT
		EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = 'corral'),
		(SELECT count(*) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = 'corral')`).Scan(&exists, &objects); err != nil {
		return err
	}
	if objects > 0 {
		return fmt.Errorf("not a Corral store: the schema corral holds %d tables or other objects but no schema_version table", objects)
	}
	if !exists {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA corral`); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE corral.schema_version (version integer NOT NULL)`); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO corral.schema_version (version) VALUES (0)`)
	return err
}

// querier is a connection or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// schemaVersion returns the version in corral.schema_version, or -1 if there is no such table.
func schemaVersion(ctx context.Context, q querier) (int, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('corral.schema_version') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		return -1, err
	}
	var v int32
	err := q.QueryRow(ctx, `SELECT version FROM corral.schema_version`).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, errors.New("corral.schema_version is empty")
	}
	return int(v), err
}
