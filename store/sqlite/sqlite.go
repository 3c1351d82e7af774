// Package sqlite is the embedded default [store.Store]: one SQLite database file, through the
// pure-Go driver modernc.org/sqlite (no cgo).
//
// # Durability
//
// The database runs in WAL mode with synchronous=FULL: every commit appends to the write-ahead
// log and fsyncs it before Update returns, so an acknowledged Update survives a crash of the
// process and a crash of the machine or a power cut. synchronous=NORMAL would fsync only at
// checkpoints: still safe against a process crash and never corrupt, but it can lose the last
// transactions on power loss — and the service acknowledges API requests after their Update
// returns, so it would break "anything the API has acknowledged is in the store". The price is
// one fsync per Update; the service amortizes it by making many state changes share one
// transaction (see BenchmarkUpdate and BenchmarkUpdateBatch for the ratio on a given disk).
//
// # Concurrency
//
// One writer connection serializes Updates (BEGIN IMMEDIATE, so the write lock is taken up
// front and a transaction never fails halfway to upgrade its lock). Views use a separate pool of
// read-only connections; in WAL mode a reader works on a snapshot and neither blocks nor is
// blocked by the writer. Each View reads once as it begins, so its snapshot is the state at
// View's start, not at its first read. Several processes may open the same file (SQLite locks
// it); the busy timeout bounds how long one waits for another's write lock, after which the call
// fails with store.ErrUnavailable. Here an Update that returns an error has not committed:
// SQLite rolls back a COMMIT that fails.
//
// # Schema
//
//	records(tbl TEXT, key TEXT, version INTEGER, value BLOB, PRIMARY KEY (tbl, key)) WITHOUT ROWID
//	meta(name TEXT PRIMARY KEY, value INTEGER) WITHOUT ROWID  -- 'revision': the last version
//
// WITHOUT ROWID stores each record in the primary-key B-tree itself, so a lookup or a range
// scan by (tbl, key) is one B-tree walk. Keys compare with the BINARY collation (memcmp), which
// is Go's byte order. Prefix scans are key ranges [prefix, store.PrefixEnd(prefix)), never LIKE
// (whose % and _ are wildcards and which ignores ASCII case). PRAGMA user_version holds the
// schema version and PRAGMA application_id marks the file as Corral's, so Open refuses a newer
// schema or someone else's database.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"corral/store"
)

const (
	schemaVersion = 1
	applicationID = 0x436f726c // "Corl"
	busyTimeoutMS = 10000
	// keyCeiling is above every valid UTF-8 string (no UTF-8 sequence starts with a byte above
	// 0xF4): the upper bound of a scan of a whole table.
	keyCeiling = "\xf5"
)

// Store is a store.Store in a SQLite file. It is safe for concurrent use.
type Store struct {
	writer, reader *sql.DB
	wstmt, rstmt   [nStmts]*sql.Stmt

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

var _ store.Store = (*Store)(nil)

type options struct {
	synchronous   string // FULL (the default) or NORMAL, for benchmarks
	busyTimeoutMS int
}

// Open opens the store in the SQLite file at path, creating the file and the schema if they do
// not exist. Only one process should serve a data directory, but sharing is safe (see the package
// documentation).
func Open(path string) (*Store, error) {
	return open(path, options{synchronous: "FULL", busyTimeoutMS: busyTimeoutMS})
}

func open(path string, opts options) (*Store, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s := &Store{}
	busy := fmt.Sprintf("busy_timeout(%d)", opts.busyTimeoutMS)
	s.writer, err = sql.Open("sqlite", dsn(abs, url.Values{
		"_pragma": {busy, "journal_mode(WAL)", "synchronous(" + opts.synchronous + ")"},
		"_txlock": {"immediate"},
	}))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.writer.SetMaxOpenConns(1)
	s.writer.SetMaxIdleConns(1)
	s.writer.SetConnMaxLifetime(0)
	s.writer.SetConnMaxIdleTime(0)
	if err := s.initSchema(); err != nil {
		s.writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	// Readers open after the schema exists and the file is in WAL mode. No limit on open
	// connections: a View never waits for another View (nor can nested Views deadlock).
	s.reader, err = sql.Open("sqlite", dsn(abs, url.Values{"_pragma": {busy, "query_only(1)"}}))
	if err != nil {
		s.writer.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.reader.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))
	for i, q := range statements {
		if s.wstmt[i], err = s.writer.Prepare(q); err != nil {
			s.Close()
			return nil, fmt.Errorf("sqlite: open %s: prepare %q: %w", path, q, err)
		}
		if readOnly[i] {
			if s.rstmt[i], err = s.reader.Prepare(q); err != nil {
				s.Close()
				return nil, fmt.Errorf("sqlite: open %s: prepare %q: %w", path, q, err)
			}
		}
	}
	return s, nil
}

// dsn builds a SQLite URI for the absolute path abs (escaping ?, # and % in it) with the
// driver's parameters.
func dsn(abs string, params url.Values) string {
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: params.Encode()}
	return u.String()
}

// initSchema creates the schema in a new file and checks it in an existing one.
func (s *Store) initSchema() error {
	ctx := context.Background()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var version, appID, objects int
	if err := tx.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if err := tx.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return err
	}
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&objects); err != nil {
		return err
	}
	switch {
	case appID != 0 && appID != applicationID:
		return fmt.Errorf("not a Corral store (application_id %#x)", appID)
	case appID == 0 && objects > 0:
		return fmt.Errorf("not a Corral store (a SQLite database with %d other objects)", objects)
	case version > schemaVersion:
		return fmt.Errorf("schema version %d is newer than this Corral's (%d)", version, schemaVersion)
	case version == schemaVersion:
		return nil
	}
	for _, q := range []string{
		`CREATE TABLE records (
			tbl TEXT NOT NULL,
			key TEXT NOT NULL,
			version INTEGER NOT NULL,
			value BLOB NOT NULL,
			PRIMARY KEY (tbl, key)
		) WITHOUT ROWID`,
		`CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID`,
		`INSERT INTO meta (name, value) VALUES ('revision', 0)`,
		fmt.Sprintf("PRAGMA application_id = %d", applicationID),
		fmt.Sprintf("PRAGMA user_version = %d", schemaVersion),
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
	}
	return tx.Commit()
}

// Statements, prepared once per connection.
const (
	stmtRevision = iota
	stmtSetRevision
	stmtGet
	stmtVersion
	stmtUpsert
	stmtInsert
	stmtUpdate
	stmtDeleteAny
	stmtDeleteAt
	stmtListFrom  // keys >= lo
	stmtListAfter // keys > lo
	stmtCount
	nStmts
)

var statements = [nStmts]string{
	stmtRevision:    `SELECT value FROM meta WHERE name = 'revision'`,
	stmtSetRevision: `UPDATE meta SET value = ? WHERE name = 'revision'`,
	stmtGet:         `SELECT version, value FROM records WHERE tbl = ? AND key = ?`,
	stmtVersion:     `SELECT version FROM records WHERE tbl = ? AND key = ?`,
	stmtUpsert: `INSERT INTO records (tbl, key, version, value) VALUES (?, ?, ?, ?)
		ON CONFLICT (tbl, key) DO UPDATE SET version = excluded.version, value = excluded.value`,
	stmtInsert: `INSERT INTO records (tbl, key, version, value) VALUES (?, ?, ?, ?)
		ON CONFLICT (tbl, key) DO NOTHING`,
	stmtUpdate:    `UPDATE records SET version = ?, value = ? WHERE tbl = ? AND key = ? AND version = ?`,
	stmtDeleteAny: `DELETE FROM records WHERE tbl = ? AND key = ?`,
	stmtDeleteAt:  `DELETE FROM records WHERE tbl = ? AND key = ? AND version = ?`,
	stmtListFrom: `SELECT key, version, value FROM records
		WHERE tbl = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?`,
	stmtListAfter: `SELECT key, version, value FROM records
		WHERE tbl = ? AND key > ? AND key < ? ORDER BY key LIMIT ?`,
	stmtCount: `SELECT count(*) FROM records WHERE tbl = ? AND key >= ? AND key < ?`,
}

var readOnly = [nStmts]bool{
	stmtRevision: true, stmtGet: true, stmtVersion: true,
	stmtListFrom: true, stmtListAfter: true, stmtCount: true,
}

// Update implements store.Store. It returns nil only once the transaction is committed and
// fsync'd.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	if s.closed.Load() {
		return errors.New("sqlite: update: store closed")
	}
	sqlTx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return wrap("update: begin", ctx, err)
	}
	t := &tx{ctx: ctx, sqlTx: sqlTx, stmts: &s.wstmt, write: true, rev: -1}
	committed := false
	defer func() {
		t.done = true
		if !committed {
			sqlTx.Rollback() // also when fn panics; the panic goes on
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	if t.err != nil {
		return fmt.Errorf("sqlite: update not committed: %w", t.err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: update not committed: %w", err)
	}
	if t.rev > t.startRev {
		if _, err := t.stmt(stmtSetRevision).ExecContext(ctx, t.rev); err != nil {
			return wrap("update: save revision", ctx, err)
		}
	}
	committed = true // from here on, database/sql's Commit rolls back itself if it fails
	if err := sqlTx.Commit(); err != nil {
		return wrap("update: commit", ctx, err)
	}
	return nil
}

// View implements store.Store.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	if s.closed.Load() {
		return errors.New("sqlite: view: store closed")
	}
	sqlTx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return wrap("view: begin", ctx, err)
	}
	t := &tx{ctx: ctx, sqlTx: sqlTx, stmts: &s.rstmt}
	defer func() {
		t.done = true
		sqlTx.Rollback()
	}()
	// A deferred transaction takes its snapshot at its first read: read now, so the snapshot
	// is the state at View's start.
	var rev int64
	if err := t.stmt(stmtRevision).QueryRowContext(ctx).Scan(&rev); err != nil {
		return wrap("view: begin", ctx, err)
	}
	return fn(t)
}

// Close implements store.Store. It closes the database; the WAL is checkpointed into the main
// file when the last connection closes.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		var errs []error
		for _, st := range append(s.rstmt[:], s.wstmt[:]...) {
			if st != nil {
				errs = append(errs, st.Close())
			}
		}
		if s.reader != nil {
			errs = append(errs, s.reader.Close())
		}
		errs = append(errs, s.writer.Close())
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("sqlite: close: %w", err)
		}
	})
	return s.closeErr
}

// wrap adds context to a driver error: the context's error if it has ended (the driver's own
// error is then a consequence), store.ErrUnavailable if the database was locked too long.
func wrap(op string, ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("sqlite: %s: %w (%v)", op, cerr, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("sqlite: %s: %w: %w", op, store.ErrUnavailable, err)
		}
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

type tx struct {
	ctx   context.Context
	sqlTx *sql.Tx
	stmts *[nStmts]*sql.Stmt
	txst  [nStmts]*sql.Stmt // stmts bound to sqlTx, made on first use
	write bool
	// rev is the last version handed out, -1 until read from meta; startRev is its value in
	// meta when read.
	rev, startRev int64
	// err is the first backend failure of a write transaction. SQLite may have rolled the
	// transaction back by itself (on SQLITE_FULL, SQLITE_IOERR, an interrupt), and statements
	// after that would run outside it, each committing alone: so after a failure every
	// operation fails and Update does not commit.
	err  error
	done bool
}

func (t *tx) stmt(i int) *sql.Stmt {
	if t.txst[i] == nil {
		t.txst[i] = t.sqlTx.StmtContext(t.ctx, t.stmts[i])
	}
	return t.txst[i]
}

func (t *tx) usable(op string, write bool) error {
	switch {
	case t.done:
		return fmt.Errorf("sqlite: %s: %w: transaction used after its function returned", op, store.ErrInvalid)
	case write && !t.write:
		return fmt.Errorf("sqlite: %s: %w: write in a read-only transaction", op, store.ErrInvalid)
	case t.err != nil:
		return fmt.Errorf("sqlite: %s: transaction failed earlier: %w", op, t.err)
	}
	if err := t.ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return nil
}

// fail records a backend error (which dooms a write transaction) and returns it wrapped.
func (t *tx) fail(op string, err error) error {
	err = wrap(op, t.ctx, err)
	if t.write && t.err == nil {
		t.err = err
	}
	return err
}

func (t *tx) Get(table, key string) (store.Record, error) {
	if err := t.usable("get", false); err != nil {
		return store.Record{}, err
	}
	if err := store.CheckKey(table, key); err != nil {
		return store.Record{}, fmt.Errorf("sqlite: get: %w", err)
	}
	r := store.Record{Table: table, Key: key}
	err := t.stmt(stmtGet).QueryRowContext(t.ctx, table, key).Scan(&r.Version, &r.Value)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return store.Record{}, fmt.Errorf("sqlite: get %s/%s: %w", table, key, store.ErrNotFound)
	case err != nil:
		return store.Record{}, t.fail("get "+table+"/"+key, err)
	}
	if r.Value == nil {
		r.Value = []byte{}
	}
	return r, nil
}

// current returns the version of table/key, or 0 if there is no record.
func (t *tx) current(op, table, key string) (int64, error) {
	var v int64
	err := t.stmt(stmtVersion).QueryRowContext(t.ctx, table, key).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, t.fail(op, err)
	}
	return v, nil
}

// exec runs a write statement and returns how many rows it changed.
func (t *tx) exec(op string, i int, args ...any) (int64, error) {
	res, err := t.stmt(i).ExecContext(t.ctx, args...)
	if err != nil {
		return 0, t.fail(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, t.fail(op, err)
	}
	return n, nil
}

func (t *tx) Put(table, key string, value []byte, ifVersion int64) (int64, error) {
	if err := t.usable("put", true); err != nil {
		return 0, err
	}
	if err := store.CheckKey(table, key); err != nil {
		return 0, fmt.Errorf("sqlite: put: %w", err)
	}
	op := "put " + table + "/" + key
	if err := store.CheckWrite("put", ifVersion); err != nil {
		return 0, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if t.rev < 0 {
		if err := t.stmt(stmtRevision).QueryRowContext(t.ctx).Scan(&t.rev); err != nil {
			return 0, t.fail(op+": read revision", err)
		}
		t.startRev = t.rev
	}
	if value == nil {
		value = []byte{} // NOT NULL: nil would bind as NULL
	}
	v := t.rev + 1
	var (
		n   int64
		err error
	)
	switch {
	case ifVersion == store.AnyVersion:
		n, err = t.exec(op, stmtUpsert, table, key, v, value)
	case ifVersion == 0:
		n, err = t.exec(op, stmtInsert, table, key, v, value)
	default:
		n, err = t.exec(op, stmtUpdate, v, value, table, key, ifVersion)
	}
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, t.precondition(op, table, key, "put", ifVersion)
	}
	t.rev = v
	return v, nil
}

func (t *tx) Delete(table, key string, ifVersion int64) error {
	if err := t.usable("delete", true); err != nil {
		return err
	}
	if err := store.CheckKey(table, key); err != nil {
		return fmt.Errorf("sqlite: delete: %w", err)
	}
	op := "delete " + table + "/" + key
	if err := store.CheckWrite("delete", ifVersion); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	var (
		n   int64
		err error
	)
	if ifVersion == store.AnyVersion {
		n, err = t.exec(op, stmtDeleteAny, table, key)
	} else {
		n, err = t.exec(op, stmtDeleteAt, table, key, ifVersion)
	}
	if err != nil {
		return err
	}
	if n == 0 {
		return t.precondition(op, table, key, "delete", ifVersion)
	}
	return nil
}

// precondition explains why a conditional write (kind "put" or "delete") changed nothing.
func (t *tx) precondition(op, table, key, kind string, ifVersion int64) error {
	cur, err := t.current(op, table, key)
	if err != nil {
		return err
	}
	return fmt.Errorf("sqlite: %s: %w", op, store.CheckVersion(kind, ifVersion, cur))
}

func (t *tx) List(table, prefix, after string, limit int) ([]store.Record, error) {
	if err := t.usable("list", false); err != nil {
		return nil, err
	}
	if err := store.CheckList(table, prefix, after, limit); err != nil {
		return nil, fmt.Errorf("sqlite: list: %w", err)
	}
	op := "list " + table + "/" + prefix
	lo, hi := bounds(prefix)
	st := stmtListFrom
	if after != "" && after >= lo {
		lo, st = after, stmtListAfter
	}
	sqlLimit := int64(limit)
	if limit == 0 {
		sqlLimit = -1 // no limit
	}
	rows, err := t.stmt(st).QueryContext(t.ctx, table, lo, hi, sqlLimit)
	if err != nil {
		return nil, t.fail(op, err)
	}
	defer rows.Close()
	var out []store.Record
	for rows.Next() {
		r := store.Record{Table: table}
		if err := rows.Scan(&r.Key, &r.Version, &r.Value); err != nil {
			return nil, t.fail(op, err)
		}
		if r.Value == nil {
			r.Value = []byte{}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, t.fail(op, err)
	}
	return out, nil
}

func (t *tx) Count(table, prefix string) (int, error) {
	if err := t.usable("count", false); err != nil {
		return 0, err
	}
	if err := store.CheckCount(table, prefix); err != nil {
		return 0, fmt.Errorf("sqlite: count: %w", err)
	}
	lo, hi := bounds(prefix)
	var n int
	if err := t.stmt(stmtCount).QueryRowContext(t.ctx, table, lo, hi).Scan(&n); err != nil {
		return 0, t.fail("count "+table+"/"+prefix, err)
	}
	return n, nil
}

// bounds returns the key range [lo, hi) of the keys that start with prefix.
func bounds(prefix string) (lo, hi string) {
	if end, ok := store.PrefixEnd(prefix); ok {
		return prefix, end
	}
	return prefix, keyCeiling
}
