// Package store defines Corral's storage interface: a transactional map of versioned records,
// grouped in tables, that is the source of truth of the service.
//
// Every record carries a version drawn from one store-wide revision counter, and every write can
// be made conditional on the version the writer last saw. That gives the REST API its ETags and
// If-Match, and gives scale-out its fencing. The store is generic: it knows tables, keys and byte
// values, never batch types.
//
// Implementations: store/sqlite (the embedded default), store/memstore (in memory, for tests and
// the systematic tester). Each runs the conformance suite in store/storetest, which pins down the
// semantics described here.
//
// # Semantics
//
//   - Tables and keys are non-empty, valid UTF-8 strings without NUL bytes ([CheckName]); they are
//     case-sensitive (callers normalize). Keys order by their bytes, as Go compares strings, which
//     for UTF-8 is Unicode code point order. The restriction keeps every backend honest: PostgreSQL
//     TEXT rejects NUL and invalid UTF-8, and orders by bytes only under COLLATE "C".
//   - A version is a positive int64 drawn from one store-wide counter. A Put's version is
//     greater than every version committed before its transaction began and than the versions
//     of the transaction's earlier Puts, so a record's versions increase and no version is ever
//     committed twice, even for a key deleted and created again: ETags never collide. Deletes
//     do not consume a version. Versions need not be dense, nor (with several writers, as a
//     PostgreSQL backend may allow) ordered like the commits.
//   - Values are opaque bytes; nil and empty are the same value. Put does not retain the slice it is
//     given and reads return slices the caller owns.
//   - Update transactions are serializable: each behaves as if it ran alone, seeing the writes of
//     all that committed before it and its own (store/sqlite and store/memstore simply run them
//     one at a time). A View sees a consistent snapshot taken when it starts and never blocks or
//     is blocked by an Update.
//   - An Update that returns nil has committed. If fn returns an error, ctx ends before the
//     commit, or an operation failed in the backend, nothing fn wrote is kept and Update returns
//     an error. The one ambiguous outcome is ErrUnavailable from a backend that lost the answer
//     to its COMMIT (see ErrUnavailable).
//   - If fn panics, the transaction is rolled back and the panic continues up the stack of the
//     goroutine that called Update or View, with the same value.
//   - A Tx is valid only inside the fn it was passed to and only on that goroutine; Update and View
//     must not be nested inside an Update's fn (the writer is already taken).
package store

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"
)

// AnyVersion, as the ifVersion of Put or Delete, makes the write unconditional.
const AnyVersion int64 = -1

// Sentinel errors. Implementations wrap them with context; test with errors.Is.
var (
	// ErrNotFound means the record does not exist (Get; Delete; Put or Delete with a version > 0).
	ErrNotFound = errors.New("store: record not found")
	// ErrExists means Put with ifVersion 0 found the record already there.
	ErrExists = errors.New("store: record already exists")
	// ErrConflict means Put or Delete with ifVersion > 0 found the record at another version.
	ErrConflict = errors.New("store: version conflict")
	// ErrInvalid means a malformed argument (a bad table or key name, a version below AnyVersion, a
	// negative limit), a write in a View, or a Tx used after its fn returned. A programming error,
	// not a condition to retry.
	ErrInvalid = errors.New("store: invalid argument")
	// ErrUnavailable means the store could not serve the call now (a model told to fail, a lock held
	// too long by another process, a lost connection). The caller may retry. An Update that
	// returns it may or may not have committed unless the implementation says otherwise.
	ErrUnavailable = errors.New("store: unavailable")
)

// Record is one stored value.
type Record struct {
	Table, Key string
	Value      []byte
	// Version identifies this value of the record: it changes on every Put, never repeats, and
	// is greater than the version of every value committed before the Put's transaction began.
	Version int64
}

// Store is the source of truth of the service. Every write is conditional on a version, which
// gives the API its ETags and If-Match and scale-out its fencing. A Store is safe for concurrent
// use.
type Store interface {
	// Update runs fn in a read-write transaction: all of fn's writes commit atomically and
	// durably, or none do. Updates are serialized. An error from fn rolls the transaction back
	// and is returned unchanged. If ctx ends before the commit, Update rolls back and returns an
	// error wrapping ctx.Err(); Update waits for its turn as the writer only as long as ctx lasts.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction on a consistent snapshot of the store, taken when
	// View starts. Writes in a View fail with ErrInvalid. The error from fn is returned unchanged.
	View(ctx context.Context, fn func(Tx) error) error
	// Close releases the store. Transactions still running may fail; calls after Close fail.
	Close() error
}

// Tx is a transaction's view of the store. Reads see the transaction's own writes. A Tx is not
// safe for concurrent use and is invalid once its fn returns.
type Tx interface {
	// Get returns the record table/key, or an error wrapping ErrNotFound.
	Get(table, key string) (Record, error)
	// Put writes value to table/key and returns the record's new version. ifVersion: AnyVersion
	// writes unconditionally; 0 requires that the key does not exist (else ErrExists); n > 0
	// requires the current version to be n (else ErrConflict, or ErrNotFound if there is no
	// record).
	Put(table, key string, value []byte, ifVersion int64) (int64, error)
	// Delete removes table/key. It fails with ErrNotFound if there is no record and, with
	// ifVersion n > 0, with ErrConflict if the current version is not n. AnyVersion deletes
	// whatever version is there; 0 is invalid (ErrInvalid).
	Delete(table, key string, ifVersion int64) error
	// List returns the records of table whose keys start with prefix and sort strictly after
	// after, in key order, at most limit of them (0 means no limit). To page, pass the last key
	// of one page as after for the next.
	List(table, prefix, after string, limit int) ([]Record, error)
	// Count returns how many records of table have keys that start with prefix.
	Count(table, prefix string) (int, error)
}

// CheckName returns an error wrapping ErrInvalid unless s is usable as a table name or key:
// non-empty, valid UTF-8, no NUL byte. what names s in the message ("table", "key").
// Implementations call it on every table and key they are given.
func CheckName(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty %s", ErrInvalid, what)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s %q is not valid UTF-8", ErrInvalid, what, s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return fmt.Errorf("%w: %s %q contains a NUL byte", ErrInvalid, what, s)
		}
	}
	return nil
}

// CheckPrefix is CheckName for a List or Count prefix or a List after, which may be empty.
func CheckPrefix(what, s string) error {
	if s == "" {
		return nil
	}
	return CheckName(what, s)
}

// CheckKey is CheckName for the table and key of a Get, Put or Delete.
func CheckKey(table, key string) error {
	if err := CheckName("table", table); err != nil {
		return err
	}
	return CheckName("key", key)
}

// CheckCount returns an error wrapping ErrInvalid unless table and prefix are valid arguments of
// Count.
func CheckCount(table, prefix string) error {
	if err := CheckName("table", table); err != nil {
		return err
	}
	return CheckPrefix("prefix", prefix)
}

// CheckList returns an error wrapping ErrInvalid unless its arguments are valid arguments of
// List.
func CheckList(table, prefix, after string, limit int) error {
	if err := CheckCount(table, prefix); err != nil {
		return err
	}
	if err := CheckPrefix("after", after); err != nil {
		return err
	}
	if limit < 0 {
		return fmt.Errorf("%w: negative limit %d", ErrInvalid, limit)
	}
	return nil
}

// CheckVersion returns nil if a Put or Delete (op "put" or "delete") conditional on ifVersion,
// which CheckWrite accepts, may change a record at version cur (0 if there is none); else an
// error wrapping ErrNotFound, ErrExists or ErrConflict that says what it found.
func CheckVersion(op string, ifVersion, cur int64) error {
	switch {
	case ifVersion == 0 && cur != 0:
		return fmt.Errorf("if absent: %w (version %d)", ErrExists, cur)
	case cur == 0 && (ifVersion > 0 || op == "delete"):
		return ErrNotFound
	case ifVersion > 0 && cur != ifVersion:
		return fmt.Errorf("if version %d: %w (version %d)", ifVersion, ErrConflict, cur)
	}
	return nil
}

// CheckWrite returns an error wrapping ErrInvalid unless ifVersion is valid for op ("put" or
// "delete"): AnyVersion, 0 (put only) or positive.
func CheckWrite(op string, ifVersion int64) error {
	if ifVersion < AnyVersion || (ifVersion == 0 && op == "delete") {
		return fmt.Errorf("%w: %s with ifVersion %d", ErrInvalid, op, ifVersion)
	}
	return nil
}

// PrefixEnd returns the least string greater than every string that starts with prefix, for
// range scans: a key k starts with prefix exactly when prefix <= k < PrefixEnd(prefix). ok is
// false when there is no such bound (an empty prefix, or one made only of 0xFF bytes, which valid
// UTF-8 never contains). The result need not be valid UTF-8.
func PrefixEnd(prefix string) (end string, ok bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xFF {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}
