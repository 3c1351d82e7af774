// Package postgres is a [store.Store] on PostgreSQL, through pgx (github.com/jackc/pgx/v5), for
// a control plane of several Corral servers sharing one database.
//
// # Durability
//
// An Update returns nil once PostgreSQL has acknowledged its COMMIT. Open sets
// synchronous_commit=on for its sessions (PostgreSQL's default) unless the URL sets it: the
// server flushes the commit to its write-ahead log (and, if synchronous standbys are configured,
// waits for one to have it) before answering, so an acknowledged Update survives a crash of the
// database server or its machine. With synchronous_commit=off a crash could lose the last
// acknowledged Updates, and the service acknowledges API requests after their Update returns.
// BenchmarkUpdate and BenchmarkUpdateBatch measure what a commit costs.
//
// A connection lost while COMMIT is on its way (the server restarting, the network failing, no
// answer within 30 seconds) leaves the outcome unknown: Update then returns an error wrapping
// [store.ErrUnavailable] that says so, and the transaction may or may not have committed (see
// store.ErrUnavailable). Every other error from Update means nothing was committed, including
// ErrUnavailable for a connection lost before COMMIT was sent and for a session that PostgreSQL
// ended while the transaction was idle (see Timeouts), which say "not committed". Once fn has
// returned with ctx still live, Update waits for the COMMIT's answer even if ctx ends
// meanwhile, so that a deadline expiring at that moment does not make the outcome unknown.
//
// # Concurrency
//
// Updates are serializable against the Updates of every process that shares the database: each
// one first takes the transaction-level advisory lock [LockKey] (pg_advisory_xact_lock), then
// runs in READ COMMITTED, whose every statement sees all that committed before the lock was
// granted. Updates thus run one at a time, as in store/sqlite and store/memstore, which keeps
// read-modify-write in fn correct without conditions, gives the revision counter (a row that
// each Update advances) a single writer, and never fails a transaction halfway with a
// serialization error. What is built on top (a leadership lease with a fencing token that every
// write checks) needs exactly that. Within a process a pool of one connection makes Updates
// queue for the writer (as long as ctx lasts) before they queue for the lock.
//
// Views are REPEATABLE READ READ ONLY transactions on a pool of their own (the URL's
// pool_max_conns connections, by default max(4, CPUs)). Each reads the revision as it begins,
// which takes its snapshot then, so a View sees the store as it was when View started. A View
// neither blocks nor is blocked by an Update, but a View waits for a connection when all of the
// pool's are in use, and Views nested inside Views may then wait for each other until ctx ends.
//
// # Timeouts
//
// A process that stops while it holds the lock (frozen by SIGSTOP or a debugger, partitioned
// from the database, swapping) must not stop every other server. Every session sets
// idle_in_transaction_session_timeout (10 s by default): PostgreSQL ends a session that has been
// idle that long inside a transaction, rolling it back and releasing the lock, and the frozen
// process's Update fails when it wakes. So an Update's fn must not keep its transaction idle
// for that long: it should compute and write, not wait for the outside world. A View idle that
// long fails likewise. Every session also sets lock_timeout (15 s by default, longer than the
// idle timeout so that a waiter outlasts a frozen holder): an Update that waits longer than that
// for the lock fails with store.ErrUnavailable without running fn. Waiting for the lock also
// ends with ctx. The URL may set either parameter; [Options] overrides both.
//
// Failures that say "not now" rather than "wrong" wrap store.ErrUnavailable: a server that
// cannot be reached or went away (SQLSTATE class 08, 57P01 admin_shutdown, 57P02, 57P03
// cannot_connect_now), a killed session (idle_in_transaction_session_timeout 25P03, 57P05), a
// lock wait beyond lock_timeout (55P03), a cancelled statement (57014, when ctx has not ended),
// insufficient resources (class 53: too many connections, disk full), serialization failures and
// deadlocks (40001, 40P01) and a read-only server (25006: a standby). After a connection breaks,
// the next transaction that finds its connection broken drops the pool's connections and tries
// once more on a new one, so a restarted server costs the transactions that were running, not
// the ones after.
//
// # Schema
//
// Corral's tables live in the PostgreSQL schema "corral", which Open creates and migrates:
//
//	corral.schema_version(version integer)  -- one row: the schema version
//	corral.records(tbl text COLLATE "C", key text COLLATE "C", version bigint, value bytea,
//	               PRIMARY KEY (tbl, key))
//	corral.meta(name text PRIMARY KEY, value bigint)  -- 'revision': the last version
//
// Keys compare with the "C" collation, byte by byte as Go compares strings, whatever the
// database's default collation. Prefix scans are key ranges from prefix to the least valid UTF-8
// string above every string that starts with it ([store.PrefixEnd]'s bound, moved up to a valid
// string since a text parameter must be valid UTF-8), never LIKE (whose % and _ are wildcards).
// The database must use the UTF8 encoding. Migrations run in order in one transaction, on a
// session that holds LockKey (pg_advisory_lock, taken before the transaction begins so that the
// transaction sees the catalog as the previous holder left it), so servers starting together on
// an empty database create the schema once and a server never sees half of it. Open refuses a schema newer than this Corral's, and a schema
// "corral" that holds tables of someone else's. The role needs CREATE on the database the first
// time (or a schema "corral" it owns). One database holds one Corral.
//
// Values are opaque bytea, at most [MaxValueSize] bytes (store/sqlite's bound, SQLite's
// SQLITE_MAX_LENGTH, under PostgreSQL's 1 GB): a Put of a larger value fails with
// store.ErrInvalid.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"corral/store"
)

// LockKey is the key of the advisory lock that every Update (pg_advisory_xact_lock) and every
// migration (pg_advisory_lock) holds: "Corral" in ASCII. Nothing else in the database may use it.
const LockKey int64 = 0x436f7272616c

// MaxValueSize is the largest value Put accepts, in bytes.
const MaxValueSize = 1_000_000_000

const (
	defaultIdleInTransactionTimeout = 10 * time.Second
	defaultLockTimeout              = 15 * time.Second
	// commitTimeout bounds the wait for the answer to COMMIT once ctx no longer does.
	commitTimeout = 30 * time.Second
	// rollbackTimeout bounds a ROLLBACK or an unlock; if it fails, the connection is dropped,
	// which rolls back and unlocks too.
	rollbackTimeout = 5 * time.Second
)

// Options tune Open. The zero value gives the defaults.
type Options struct {
	// IdleInTransactionTimeout is the session's idle_in_transaction_session_timeout: how long
	// PostgreSQL lets a transaction sit idle before it ends the session (see the package
	// documentation). 0 means the URL's setting, else 10 s.
	IdleInTransactionTimeout time.Duration
	// LockTimeout is the session's lock_timeout: how long an Update waits for the lock held by
	// another process's Update before it fails with store.ErrUnavailable. 0 means the URL's
	// setting, else 15 s.
	LockTimeout time.Duration
	// MaxConns is how many connections Views may use at once (Updates have one more of their
	// own). 0 means the URL's pool_max_conns, else max(4, CPUs).
	MaxConns int

	// params are more session parameters, and dial replaces the dialer, for tests and
	// benchmarks.
	params map[string]string
	dial   pgconn.DialFunc
}

// Store is a store.Store in a PostgreSQL database. It is safe for concurrent use.
type Store struct {
	writer, reader *pgxpool.Pool

	closed    atomic.Bool
	closeOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// Open connects to the PostgreSQL database at url (postgres://user:password@host:port/db?... or
// "host=... dbname=..."; see pgx's ParseConfig), creates or migrates Corral's schema in it, and
// returns the store. Errors name the URL with its password removed ([Redact]); an error that
// wraps store.ErrUnavailable means the server could not be reached or could not serve now, and
// Open may be tried again.
func Open(ctx context.Context, url string) (*Store, error) {
	return OpenOptions(ctx, url, Options{})
}

// OpenOptions is Open with options.
func OpenOptions(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, openError(url, parseError(url, err))
	}
	params := cfg.ConnConfig.RuntimeParams
	setParam := func(name string, d, def time.Duration) {
		if _, ok := params[name]; !ok || d > 0 {
			params[name] = strconv.FormatInt(orDefault(d, def).Milliseconds(), 10)
		}
	}
	setParam("idle_in_transaction_session_timeout", opts.IdleInTransactionTimeout, defaultIdleInTransactionTimeout)
	setParam("lock_timeout", opts.LockTimeout, defaultLockTimeout)
	for name, def := range map[string]string{"synchronous_commit": "on", "application_name": "corral"} {
		if _, ok := params[name]; !ok {
			params[name] = def
		}
	}
	for name, v := range opts.params {
		params[name] = v
	}
	if opts.dial != nil {
		cfg.ConnConfig.DialFunc = opts.dial
	}

	wcfg := cfg.Copy()
	wcfg.MaxConns, wcfg.MinConns = 1, 0
	if opts.MaxConns > 0 {
		cfg.MaxConns = int32(opts.MaxConns)
	}
	if err := initSchema(ctx, cfg.ConnConfig); err != nil {
		return nil, openError(url, err)
	}
	s := &Store{}
	if s.writer, err = pgxpool.NewWithConfig(ctx, wcfg); err != nil {
		return nil, openError(url, err)
	}
	if s.reader, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		s.writer.Close()
		return nil, openError(url, err)
	}
	return s, nil
}

// orDefault returns d if it is set, else def.
func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Statements. Names are schema-qualified: nothing depends on search_path.
const (
	sqlBeginUpdate = `BEGIN ISOLATION LEVEL READ COMMITTED, READ WRITE`
	sqlBeginView   = `BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY`
	sqlLock        = `SELECT pg_advisory_xact_lock($1)`
	sqlRevision    = `SELECT value FROM corral.meta WHERE name = 'revision'`
	sqlSetRevision = `UPDATE corral.meta SET value = $1 WHERE name = 'revision'`
	sqlGet         = `SELECT version, value FROM corral.records WHERE tbl = $1 AND key = $2`
	sqlVersion     = `SELECT version FROM corral.records WHERE tbl = $1 AND key = $2`
	sqlUpsert      = `INSERT INTO corral.records (tbl, key, version, value) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tbl, key) DO UPDATE SET version = excluded.version, value = excluded.value`
	sqlInsert = `INSERT INTO corral.records (tbl, key, version, value) VALUES ($1, $2, $3, $4)
		ON CONFLICT (tbl, key) DO NOTHING`
	sqlUpdate = `UPDATE corral.records SET version = $3, value = $4
		WHERE tbl = $1 AND key = $2 AND version = $5`
	sqlDeleteAny = `DELETE FROM corral.records WHERE tbl = $1 AND key = $2`
	sqlDeleteAt  = `DELETE FROM corral.records WHERE tbl = $1 AND key = $2 AND version = $3`
)

// Scans of table $1 from key $2 (inclusive, or exclusive after a key) up to key $3 (exclusive)
// if bounded: sqlList[after][bounded], sqlCount[bounded]. List's limit is the last parameter
// (NULL: no limit).
var (
	sqlList = [2][2]string{
		{listSQL(">=", false), listSQL(">=", true)},
		{listSQL(">", false), listSQL(">", true)},
	}
	sqlCount = [2]string{scanSQL("count(*)", ">=", false), scanSQL("count(*)", ">=", true)}
)

func scanSQL(what, lower string, bounded bool) string {
	q := "SELECT " + what + " FROM corral.records WHERE tbl = $1 AND key " + lower + " $2"
	if bounded {
		q += " AND key < $3"
	}
	return q
}

func listSQL(lower string, bounded bool) string {
	limit := "$3"
	if bounded {
		limit = "$4"
	}
	return scanSQL("key, version, value", lower, bounded) + " ORDER BY key LIMIT " + limit
}

// Update implements store.Store. It returns nil only once PostgreSQL has acknowledged the
// COMMIT; an error wrapping store.ErrUnavailable that says the outcome is unknown may hide a
// commit (see the package documentation).
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	t, err := s.begin(ctx, "update", true)
	if err != nil {
		return err
	}
	ended := false
	defer func() {
		t.done = true
		if !ended {
			t.end() // also when fn panics; the panic goes on
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	if t.err != nil {
		return fmt.Errorf("postgres: update not committed: %w", t.err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: update not committed: %w", err)
	}
	ended = true
	return t.commit()
}

// View implements store.Store.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	t, err := s.begin(ctx, "view", false)
	if err != nil {
		return err
	}
	defer func() {
		t.done = true
		t.end()
	}()
	return fn(t)
}

// Close implements store.Store. It closes the connections, after waiting for the transactions
// that use them to end.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		s.reader.Close()
		s.writer.Close()
	})
	return nil
}

// begin starts a transaction on a connection of its own: an Update's holding the lock, with the
// revision read, or a View's with its snapshot taken. If the connection turns out to be broken
// (the server restarted since it was last used), it drops the pool's connections and tries once
// more.
func (s *Store) begin(ctx context.Context, op string, write bool) (*tx, error) {
	if s.closed.Load() {
		return nil, fmt.Errorf("postgres: %s: store closed", op)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", op, err)
	}
	pool := s.reader
	if write {
		pool = s.writer
	}
	for attempt := 0; ; attempt++ {
		c, err := pool.Acquire(ctx)
		if err != nil {
			if s.closed.Load() {
				return nil, fmt.Errorf("postgres: %s: store closed", op)
			}
			return nil, wrap(op+": connect", ctx, err, false)
		}
		t := &tx{ctx: ctx, conn: c, write: write}
		b := &pgx.Batch{}
		if write {
			b.Queue(sqlBeginUpdate)
			b.Queue(sqlLock, LockKey)
		} else {
			b.Queue(sqlBeginView)
		}
		b.Queue(sqlRevision).QueryRow(func(row pgx.Row) error { return row.Scan(&t.rev) })
		err = c.SendBatch(ctx, b).Close()
		if err == nil {
			t.startRev = t.rev
			return t, nil
		}
		broken := c.Conn().IsClosed()
		t.end()
		if broken && attempt == 0 && ctx.Err() == nil {
			pool.Reset()
			continue
		}
		return nil, wrap(op+": begin", ctx, err, broken)
	}
}

// wrap adds context to an error from pgx: the context's error if it has ended (pgx's error is
// then a consequence), store.ErrUnavailable if the server could not serve the call now. broken
// says the connection was lost, whatever the error says.
func wrap(op string, ctx context.Context, err error, broken bool) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("postgres: %s: %w (%v)", op, cerr, err)
	}
	if broken || unavailable(err) {
		return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// unavailable tells a failure of the connection or a transient refusal by the server from an
// error in the request.
func unavailable(err error) bool {
	if c := code(err); c != "" {
		switch {
		case strings.HasPrefix(c, "08"), // connection exception
			strings.HasPrefix(c, "53"),  // insufficient resources
			strings.HasPrefix(c, "57P"), // the server shutting down or starting, the session killed
			c == "57014",                // query_canceled: statement_timeout, pg_cancel_backend
			c == "55P03",                // lock_not_available: lock_timeout
			c == "25P03",                // idle_in_transaction_session_timeout
			c == "25006",                // read_only_sql_transaction: a standby
			c == "40001", c == "40P01":  // serialization failure, deadlock
			return true
		}
		return false
	}
	var netErr net.Error
	return errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		pgconn.Timeout(err) || pgconn.SafeToRetry(err)
}

// code returns the SQLSTATE of a PostgreSQL error, or "".
func code(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

type tx struct {
	ctx   context.Context
	conn  *pgxpool.Conn
	write bool
	// rev is the last version handed out; startRev is its value in meta, read as the
	// transaction began.
	rev, startRev int64
	// err is the transaction's first backend failure: PostgreSQL aborts a transaction at its
	// first error, so every operation after it fails, and Update does not commit.
	err  error
	done bool
}

// end rolls the transaction back if it is still open and returns the connection to its pool,
// which drops it if it is broken or still in a transaction.
func (t *tx) end() {
	c := t.conn.Conn()
	if !c.IsClosed() && c.PgConn().TxStatus() != 'I' {
		ctx, cancel := bounded()
		if _, err := c.Exec(ctx, "ROLLBACK"); err != nil {
			c.Close(ctx)
		}
		cancel()
	}
	t.conn.Release()
}

// bounded returns a context for cleaning up after a transaction, whatever became of its own.
func bounded() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), rollbackTimeout)
}

// commit saves the revision and commits, in one round trip, then returns the connection.
func (t *tx) commit() error {
	defer t.end()
	// ctx was live when fn returned: wait for the answer even if ctx ends now, within bounds.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.ctx), commitTimeout)
	defer cancel()
	b := &pgx.Batch{}
	if t.rev > t.startRev {
		b.Queue(sqlSetRevision, t.rev)
	}
	b.Queue("COMMIT").Exec(func(tag pgconn.CommandTag) error {
		if tag.String() != "COMMIT" {
			return fmt.Errorf("the server answered %q to COMMIT", tag)
		}
		return nil
	})
	err := t.conn.SendBatch(ctx, b).Close()
	switch {
	case err == nil:
		return nil
	case pgconn.SafeToRetry(err), // nothing was sent
		code(err) == "25P03": // the session was ended idle in the transaction, before COMMIT
		return fmt.Errorf("postgres: update not committed: %w: %w", store.ErrUnavailable, err)
	case t.conn.Conn().IsClosed() || unavailable(err):
		return fmt.Errorf("postgres: update: commit: %w, the outcome is unknown (the transaction may have committed): %w",
			store.ErrUnavailable, err)
	default:
		return fmt.Errorf("postgres: update not committed: %w", err)
	}
}

func (t *tx) usable(op string, write bool) error {
	switch {
	case t.done:
		return fmt.Errorf("postgres: %s: %w: transaction used after its function returned", op, store.ErrInvalid)
	case write && !t.write:
		return fmt.Errorf("postgres: %s: %w: write in a read-only transaction", op, store.ErrInvalid)
	case t.err != nil:
		return fmt.Errorf("postgres: %s: transaction failed earlier: %w", op, t.err)
	}
	if err := t.ctx.Err(); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	return nil
}

// fail records a backend error (which dooms the transaction) and returns it wrapped.
func (t *tx) fail(op string, err error) error {
	err = wrap(op, t.ctx, err, t.conn.Conn().IsClosed())
	if t.err == nil {
		t.err = err
	}
	return err
}

func (t *tx) Get(table, key string) (store.Record, error) {
	if err := t.usable("get", false); err != nil {
		return store.Record{}, err
	}
	if err := store.CheckKey(table, key); err != nil {
		return store.Record{}, fmt.Errorf("postgres: get: %w", err)
	}
	r := store.Record{Table: table, Key: key}
	err := t.conn.QueryRow(t.ctx, sqlGet, table, key).Scan(&r.Version, &r.Value)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return store.Record{}, fmt.Errorf("postgres: get %s/%s: %w", table, key, store.ErrNotFound)
	case err != nil:
		return store.Record{}, t.fail("get "+table+"/"+key, err)
	}
	if r.Value == nil {
		r.Value = []byte{}
	}
	return r, nil
}

// exec runs a write statement and returns how many rows it changed.
func (t *tx) exec(op, sql string, args ...any) (int64, error) {
	tag, err := t.conn.Exec(t.ctx, sql, args...)
	if err != nil {
		return 0, t.fail(op, err)
	}
	return tag.RowsAffected(), nil
}

func (t *tx) Put(table, key string, value []byte, ifVersion int64) (int64, error) {
	if err := t.usable("put", true); err != nil {
		return 0, err
	}
	if err := store.CheckKey(table, key); err != nil {
		return 0, fmt.Errorf("postgres: put: %w", err)
	}
	op := "put " + table + "/" + key
	if err := store.CheckWrite("put", ifVersion); err != nil {
		return 0, fmt.Errorf("postgres: %s: %w", op, err)
	}
	if len(value) > MaxValueSize {
		return 0, fmt.Errorf("postgres: %s: %w: a value of %d bytes (at most %d)", op, store.ErrInvalid, len(value), MaxValueSize)
	}
	if value == nil {
		value = []byte{} // NOT NULL: nil would be sent as NULL
	}
	v := t.rev + 1
	var (
		n   int64
		err error
	)
	switch {
	case ifVersion == store.AnyVersion:
		n, err = t.exec(op, sqlUpsert, table, key, v, value)
	case ifVersion == 0:
		n, err = t.exec(op, sqlInsert, table, key, v, value)
	default:
		n, err = t.exec(op, sqlUpdate, table, key, v, value, ifVersion)
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
		return fmt.Errorf("postgres: delete: %w", err)
	}
	op := "delete " + table + "/" + key
	if err := store.CheckWrite("delete", ifVersion); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	var (
		n   int64
		err error
	)
	if ifVersion == store.AnyVersion {
		n, err = t.exec(op, sqlDeleteAny, table, key)
	} else {
		n, err = t.exec(op, sqlDeleteAt, table, key, ifVersion)
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
	var cur int64 // 0 if there is no record
	if err := t.conn.QueryRow(t.ctx, sqlVersion, table, key).Scan(&cur); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return t.fail(op, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, store.CheckVersion(kind, ifVersion, cur))
}

func (t *tx) List(table, prefix, after string, limit int) ([]store.Record, error) {
	if err := t.usable("list", false); err != nil {
		return nil, err
	}
	if err := store.CheckList(table, prefix, after, limit); err != nil {
		return nil, fmt.Errorf("postgres: list: %w", err)
	}
	op := "list " + table + "/" + prefix
	lo, hi, bounded := bounds(prefix)
	exclusive := 0
	if after != "" && after >= lo {
		lo, exclusive = after, 1
	}
	args := []any{table, lo}
	if bounded {
		args = append(args, hi)
	}
	if limit > 0 {
		args = append(args, int64(limit))
	} else {
		args = append(args, nil) // LIMIT NULL: no limit
	}
	rows, err := t.conn.Query(t.ctx, sqlList[exclusive][b2i(bounded)], args...)
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
		return 0, fmt.Errorf("postgres: count: %w", err)
	}
	lo, hi, bounded := bounds(prefix)
	args := []any{table, lo}
	if bounded {
		args = append(args, hi)
	}
	var n int64
	if err := t.conn.QueryRow(t.ctx, sqlCount[b2i(bounded)], args...).Scan(&n); err != nil {
		return 0, t.fail("count "+table+"/"+prefix, err)
	}
	return int(n), nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// bounds returns the key range [lo, hi) of the keys that start with prefix; bounded is false
// when there is no upper bound.
func bounds(prefix string) (lo, hi string, bounded bool) {
	hi, bounded = keyEnd(prefix)
	return prefix, hi, bounded
}

// keyEnd returns the least valid UTF-8 string greater than every valid UTF-8 string that starts
// with prefix (a valid UTF-8 string): prefix with its last code point replaced by the next one,
// after dropping trailing U+10FFFF, which has none. Among valid UTF-8 strings, which order by
// bytes as by code points, the keys in [prefix, keyEnd(prefix)) are exactly those that start
// with prefix, as in [prefix, store.PrefixEnd(prefix)); but store.PrefixEnd's bound may not be
// valid UTF-8 ("\uffff" gives "\xef\xbf\xc0"), and PostgreSQL refuses such a text parameter. ok
// is false when there is no bound: the prefix is empty or made only of U+10FFFF.
func keyEnd(prefix string) (end string, ok bool) {
	for prefix != "" {
		r, n := utf8.DecodeLastRuneInString(prefix)
		prefix = prefix[:len(prefix)-n]
		switch r {
		case utf8.MaxRune:
			continue
		case 0xD7FF: // the next code points, up to U+DFFF, are surrogates, not encodable
			r = 0xE000
		default:
			r++
		}
		return prefix + string(r), true
	}
	return "", false
}
