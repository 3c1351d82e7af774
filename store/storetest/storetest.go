// Package storetest is the conformance suite for store.Store implementations. Every backend runs
// it from its own tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openFresh(t) })
//	}
//
// The suite pins down the semantics documented in package store, including the ones a backend
// could get subtly wrong: prefixes with LIKE metacharacters, byte order of Unicode keys, versions
// that never repeat across delete and re-create, a snapshot a View keeps while an Update
// commits, rollback on error, panic and cancelled context, and lost updates under concurrency.
// It uses no timers: every wait is on an event the test itself causes.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/store"
)

// Run runs the suite. open must return a new, empty store for each call; Run closes it at the end
// of the subtest (Close may thus be called twice: the second call must return nil).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"PutGet", testPutGet},
		{"ValuesAreCopied", testValuesAreCopied},
		{"ReadYourWrites", testReadYourWrites},
		{"ConditionalPut", testConditionalPut},
		{"ConditionalDelete", testConditionalDelete},
		{"VersionsIncrease", testVersionsIncrease},
		{"ExpectedErrorsDoNotAbort", testExpectedErrorsDoNotAbort},
		{"InvalidArguments", testInvalidArguments},
		{"TablesAreSeparate", testTablesAreSeparate},
		{"List", testList},
		{"ListPaging", testListPaging},
		{"Count", testCount},
		{"ManyRecords", testManyRecords},
		{"Atomicity", testAtomicity},
		{"ErrorReturnedUnchanged", testErrorReturnedUnchanged},
		{"PanicRollsBack", testPanicRollsBack},
		{"WriteInView", testWriteInView},
		{"TxAfterReturn", testTxAfterReturn},
		{"Isolation", testIsolation},
		{"SnapshotConsistency", testSnapshotConsistency},
		{"SerializedUpdates", testSerializedUpdates},
		{"OptimisticCounter", testOptimisticCounter},
		{"LargeValues", testLargeValues},
		{"ContextDoneBefore", testContextDoneBefore},
		{"ContextCancelledDuring", testContextCancelledDuring},
		{"ContextCancelledWaitingToWrite", testContextCancelledWaitingToWrite},
		{"Close", testClose},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.run(t, s)
		})
	}
}

// Helpers. Each runs one operation in its own transaction.

// MustPut writes value to table/key unconditionally in an Update of its own and returns the
// record's version, or fails t. For the backends' own tests.
func MustPut(t *testing.T, s store.Store, table, key, value string) int64 {
	t.Helper()
	return mustPut(t, s, table, key, value)
}

// Get reads table/key in a View of its own. For the backends' own tests.
func Get(t *testing.T, s store.Store, table, key string) (store.Record, error) {
	t.Helper()
	return get(t, s, table, key)
}

func put(t *testing.T, s store.Store, table, key, value string, ifVersion int64) (int64, error) {
	t.Helper()
	var v int64
	err := s.Update(context.Background(), func(tx store.Tx) error {
		var err error
		v, err = tx.Put(table, key, []byte(value), ifVersion)
		return err
	})
	return v, err
}

func mustPut(t *testing.T, s store.Store, table, key, value string) int64 {
	t.Helper()
	v, err := put(t, s, table, key, value, store.AnyVersion)
	if err != nil {
		t.Fatalf("Put(%q, %q): %v", table, key, err)
	}
	if v <= 0 {
		t.Fatalf("Put(%q, %q) = version %d, want > 0", table, key, v)
	}
	return v
}

func del(t *testing.T, s store.Store, table, key string, ifVersion int64) error {
	t.Helper()
	return s.Update(context.Background(), func(tx store.Tx) error {
		return tx.Delete(table, key, ifVersion)
	})
}

func get(t *testing.T, s store.Store, table, key string) (store.Record, error) {
	t.Helper()
	var r store.Record
	err := s.View(context.Background(), func(tx store.Tx) error {
		var err error
		r, err = tx.Get(table, key)
		return err
	})
	return r, err
}

// want checks that table/key holds value at version (any version if version is 0).
func want(t *testing.T, s store.Store, table, key, value string, version int64) {
	t.Helper()
	r, err := get(t, s, table, key)
	if err != nil {
		t.Fatalf("Get(%q, %q): %v", table, key, err)
	}
	if r.Table != table || r.Key != key || string(r.Value) != value || (version != 0 && r.Version != version) {
		t.Fatalf("Get(%q, %q) = {%q %q %q v%d}, want {%q %q %q v%d}",
			table, key, r.Table, r.Key, r.Value, r.Version, table, key, value, version)
	}
}

func wantAbsent(t *testing.T, s store.Store, table, key string) {
	t.Helper()
	if r, err := get(t, s, table, key); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%q, %q) = %+v, %v; want ErrNotFound", table, key, r, err)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want one wrapping %v", what, err, target)
	}
}

func list(t *testing.T, s store.Store, table, prefix, after string, limit int) []store.Record {
	t.Helper()
	var rs []store.Record
	err := s.View(context.Background(), func(tx store.Tx) error {
		var err error
		rs, err = tx.List(table, prefix, after, limit)
		return err
	})
	if err != nil {
		t.Fatalf("List(%q, %q, %q, %d): %v", table, prefix, after, limit, err)
	}
	return rs
}

func keys(rs []store.Record) []string {
	ks := make([]string, 0, len(rs))
	for _, r := range rs {
		ks = append(ks, r.Key)
	}
	return ks
}

func count(t *testing.T, s store.Store, table, prefix string) int {
	t.Helper()
	var n int
	err := s.View(context.Background(), func(tx store.Tx) error {
		var err error
		n, err = tx.Count(table, prefix)
		return err
	})
	if err != nil {
		t.Fatalf("Count(%q, %q): %v", table, prefix, err)
	}
	return n
}

// Tests.

func testPutGet(t *testing.T, s store.Store) {
	wantAbsent(t, s, "t", "k")
	v := mustPut(t, s, "t", "k", "hello")
	want(t, s, "t", "k", "hello", v)
	wantAbsent(t, s, "u", "k")
	wantAbsent(t, s, "t", "K") // keys are case-sensitive

	v2 := mustPut(t, s, "t", "k", "world")
	if v2 <= v {
		t.Fatalf("second Put version %d, want > %d", v2, v)
	}
	want(t, s, "t", "k", "world", v2)

	// Empty and nil values are stored and read back as empty.
	mustPut(t, s, "t", "empty", "")
	if err := s.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Put("t", "nil", nil, store.AnyVersion)
		return err
	}); err != nil {
		t.Fatalf("Put nil value: %v", err)
	}
	for _, k := range []string{"empty", "nil"} {
		r, err := get(t, s, "t", k)
		if err != nil || len(r.Value) != 0 {
			t.Fatalf("Get(%q) = %q, %v; want an empty value", k, r.Value, err)
		}
	}
}

func testValuesAreCopied(t *testing.T, s store.Store) {
	buf := []byte("original")
	if err := s.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.Put("t", "k", buf, store.AnyVersion)
		copy(buf, "MUTATED!") // Put must not retain buf, not even until commit
		return err
	}); err != nil {
		t.Fatal(err)
	}
	r, err := get(t, s, "t", "k")
	if err != nil {
		t.Fatal(err)
	}
	copy(r.Value, "scribble") // the caller owns what Get returns
	want(t, s, "t", "k", "original", 0)
	rs := list(t, s, "t", "", "", 0)
	copy(rs[0].Value, "scribble")
	want(t, s, "t", "k", "original", 0)
}

func testReadYourWrites(t *testing.T, s store.Store) {
	old := mustPut(t, s, "t", "old", "1")
	err := s.Update(context.Background(), func(tx store.Tx) error {
		v, err := tx.Put("t", "new", []byte("2"), 0)
		if err != nil {
			return err
		}
		r, err := tx.Get("t", "new")
		if err != nil || string(r.Value) != "2" || r.Version != v {
			return fmt.Errorf("Get after Put in the same transaction = %+v, %v", r, err)
		}
		if err := tx.Delete("t", "old", old); err != nil {
			return err
		}
		if _, err := tx.Get("t", "old"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("Get after Delete in the same transaction: %v, want ErrNotFound", err)
		}
		rs, err := tx.List("t", "", "", 0)
		if err != nil || !slices.Equal(keys(rs), []string{"new"}) {
			return fmt.Errorf("List in the transaction = %q, %v; want [new]", keys(rs), err)
		}
		if n, err := tx.Count("t", ""); err != nil || n != 1 {
			return fmt.Errorf("Count in the transaction = %d, %v; want 1", n, err)
		}
		// A record written twice in one transaction: the second write sees the first.
		v2, err := tx.Put("t", "new", []byte("3"), v)
		if err != nil {
			return fmt.Errorf("Put at the version from the same transaction: %w", err)
		}
		if v2 <= v {
			return fmt.Errorf("second Put in a transaction: version %d, want > %d", v2, v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want(t, s, "t", "new", "3", 0)
	wantAbsent(t, s, "t", "old")
}

func testConditionalPut(t *testing.T, s store.Store) {
	stale, err := put(t, s, "t", "k", "a", 0)
	if err != nil {
		t.Fatalf("Put if absent on a new key: %v", err)
	}
	v1, err := put(t, s, "t", "k", "b", stale)
	if err != nil {
		t.Fatalf("Put at the current version: %v", err)
	}
	cases := []struct {
		name      string
		key       string
		ifVersion func(cur int64) int64
		wantErr   error
	}{
		{"absent required, present", "k", func(int64) int64 { return 0 }, store.ErrExists},
		{"stale version", "k", func(int64) int64 { return stale }, store.ErrConflict},
		{"future version", "k", func(cur int64) int64 { return cur + 1000 }, store.ErrConflict},
		{"version of a missing key", "missing", func(cur int64) int64 { return cur }, store.ErrNotFound},
		{"current version", "k", func(cur int64) int64 { return cur }, nil},
		{"any version, present", "k", func(int64) int64 { return store.AnyVersion }, nil},
		{"any version, absent", "k2", func(int64) int64 { return store.AnyVersion }, nil},
		{"absent required, absent", "k3", func(int64) int64 { return 0 }, nil},
	}
	cur := v1
	for _, c := range cases {
		before, beforeErr := get(t, s, "t", c.key)
		v, err := put(t, s, "t", c.key, "new:"+c.name, c.ifVersion(cur))
		if c.wantErr != nil {
			wantErr(t, c.name, err, c.wantErr)
			// The record is unchanged.
			after, afterErr := get(t, s, "t", c.key)
			if (afterErr == nil) != (beforeErr == nil) || !bytes.Equal(after.Value, before.Value) || after.Version != before.Version {
				t.Fatalf("%s: a failed Put changed the record from %+v (%v) to %+v (%v)", c.name, before, beforeErr, after, afterErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if v <= cur {
			t.Fatalf("%s: version %d, want > %d", c.name, v, cur)
		}
		want(t, s, "t", c.key, "new:"+c.name, v)
		cur = v
	}
}

func testConditionalDelete(t *testing.T, s store.Store) {
	wantErr(t, "Delete a missing key", del(t, s, "t", "missing", store.AnyVersion), store.ErrNotFound)
	wantErr(t, "Delete a missing key at a version", del(t, s, "t", "missing", 7), store.ErrNotFound)

	stale := mustPut(t, s, "t", "k", "0")
	v := mustPut(t, s, "t", "k", "a")
	wantErr(t, "Delete at a stale version", del(t, s, "t", "k", stale), store.ErrConflict)
	wantErr(t, "Delete at a future version", del(t, s, "t", "k", v+1), store.ErrConflict)
	wantErr(t, "Delete if absent", del(t, s, "t", "k", 0), store.ErrInvalid)
	want(t, s, "t", "k", "a", v)
	if err := del(t, s, "t", "k", v); err != nil {
		t.Fatalf("Delete at the current version: %v", err)
	}
	wantAbsent(t, s, "t", "k")
	wantErr(t, "Delete twice", del(t, s, "t", "k", v), store.ErrNotFound)

	mustPut(t, s, "t", "k", "b")
	if err := del(t, s, "t", "k", store.AnyVersion); err != nil {
		t.Fatalf("Delete at any version: %v", err)
	}
	wantAbsent(t, s, "t", "k")
}

func testVersionsIncrease(t *testing.T, s store.Store) {
	var last int64
	next := func(what string, v int64) {
		t.Helper()
		if v <= last {
			t.Fatalf("%s: version %d, want > %d (versions increase across the store)", what, v, last)
		}
		last = v
	}
	next("first Put", mustPut(t, s, "a", "x", "1"))
	next("another key", mustPut(t, s, "a", "y", "1"))
	next("another table", mustPut(t, s, "b", "x", "1"))
	next("overwrite", mustPut(t, s, "a", "x", "2"))

	// Several Puts in one transaction each take a version.
	var vs []int64
	if err := s.Update(context.Background(), func(tx store.Tx) error {
		for _, k := range []string{"m1", "m2", "m1"} {
			v, err := tx.Put("a", k, []byte(k), store.AnyVersion)
			if err != nil {
				return err
			}
			vs = append(vs, v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		next(fmt.Sprintf("Put %d of one transaction", i), v)
	}

	// Deleting the newest record and creating it again must not reuse its version: ETags
	// derived from versions never collide.
	if err := del(t, s, "a", "m1", store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	v, err := put(t, s, "a", "m1", "again", 0)
	if err != nil {
		t.Fatal(err)
	}
	next("re-create after delete", v)

	// The same in one transaction.
	if err := s.Update(context.Background(), func(tx store.Tx) error {
		if err := tx.Delete("a", "m1", v); err != nil {
			return err
		}
		v, err = tx.Put("a", "m1", []byte("third"), 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	next("delete and re-create in one transaction", v)
	want(t, s, "a", "m1", "third", v)
}

func testExpectedErrorsDoNotAbort(t *testing.T, s store.Store) {
	v := mustPut(t, s, "t", "k", "a")
	// A failed precondition or a missing record is an answer, not a failure of the
	// transaction: fn may go on and commit.
	err := s.Update(context.Background(), func(tx store.Tx) error {
		if _, err := tx.Put("t", "k", []byte("x"), v+100); !errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("Put at a wrong version: %v, want ErrConflict", err)
		}
		if _, err := tx.Put("t", "k", []byte("x"), 0); !errors.Is(err, store.ErrExists) {
			return fmt.Errorf("Put if absent: %v, want ErrExists", err)
		}
		if _, err := tx.Get("t", "missing"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("Get missing: %v, want ErrNotFound", err)
		}
		if err := tx.Delete("t", "missing", store.AnyVersion); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("Delete missing: %v, want ErrNotFound", err)
		}
		if _, err := tx.Get("", "k"); !errors.Is(err, store.ErrInvalid) {
			return fmt.Errorf("Get with an empty table: %v, want ErrInvalid", err)
		}
		_, err := tx.Put("t", "other", []byte("y"), store.AnyVersion)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want(t, s, "t", "k", "a", v)
	want(t, s, "t", "other", "y", 0)
}

func testInvalidArguments(t *testing.T, s store.Store) {
	mustPut(t, s, "t", "k", "a")
	bad := []struct{ what, table, key string }{
		{"empty table", "", "k"},
		{"empty key", "t", ""},
		{"invalid UTF-8 key", "t", "k\xff"},
		{"truncated UTF-8 key", "t", "\xc3"},
		{"NUL in key", "t", "k\x00"},
		{"NUL in table", "t\x00", "k"},
		{"invalid UTF-8 table", "\xfe", "k"},
	}
	for _, b := range bad {
		err := s.Update(context.Background(), func(tx store.Tx) error {
			if _, err := tx.Get(b.table, b.key); !errors.Is(err, store.ErrInvalid) {
				return fmt.Errorf("Get: %v", err)
			}
			if _, err := tx.Put(b.table, b.key, []byte("v"), store.AnyVersion); !errors.Is(err, store.ErrInvalid) {
				return fmt.Errorf("Put: %v", err)
			}
			if err := tx.Delete(b.table, b.key, store.AnyVersion); !errors.Is(err, store.ErrInvalid) {
				return fmt.Errorf("Delete: %v", err)
			}
			return nil
		})
		if err != nil {
			t.Errorf("%s: %v, want ErrInvalid", b.what, err)
		}
	}
	badRange := []struct{ what, table, prefix, after string }{
		{"empty table", "", "", ""},
		{"invalid UTF-8 prefix", "t", "\xc3", ""},
		{"NUL in prefix", "t", "a\x00", ""},
		{"invalid UTF-8 after", "t", "", "\xff"},
	}
	for _, b := range badRange {
		err := s.View(context.Background(), func(tx store.Tx) error {
			if _, err := tx.List(b.table, b.prefix, b.after, 0); !errors.Is(err, store.ErrInvalid) {
				return fmt.Errorf("List: %v", err)
			}
			if b.after == "" {
				if _, err := tx.Count(b.table, b.prefix); !errors.Is(err, store.ErrInvalid) {
					return fmt.Errorf("Count: %v", err)
				}
			}
			return nil
		})
		if err != nil {
			t.Errorf("%s: %v, want ErrInvalid", b.what, err)
		}
	}
	err := s.Update(context.Background(), func(tx store.Tx) error {
		if _, err := tx.Put("t", "k", nil, -2); !errors.Is(err, store.ErrInvalid) {
			return fmt.Errorf("Put at version -2: %v", err)
		}
		if err := tx.Delete("t", "k", -5); !errors.Is(err, store.ErrInvalid) {
			return fmt.Errorf("Delete at version -5: %v", err)
		}
		if _, err := tx.List("t", "", "", -1); !errors.Is(err, store.ErrInvalid) {
			return fmt.Errorf("List with limit -1: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Errorf("%v, want ErrInvalid", err)
	}
	want(t, s, "t", "k", "a", 0)
}

func testTablesAreSeparate(t *testing.T, s store.Store) {
	// Table names that are prefixes of each other, or differ by a separator, must not bleed.
	tables := []string{"t", "tt", "t/", "t/x", "T", "t\x01"}
	for _, tb := range tables {
		for _, k := range []string{"a", "b", "x/a"} {
			mustPut(t, s, tb, k, tb+"|"+k)
		}
	}
	if err := del(t, s, "t", "a", store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	wantAbsent(t, s, "t", "a")
	for _, tb := range tables {
		wantN := 3
		if tb == "t" {
			wantN = 2
		}
		if n := count(t, s, tb, ""); n != wantN {
			t.Errorf("Count(%q) = %d, want %d", tb, n, wantN)
		}
		for _, r := range list(t, s, tb, "", "", 0) {
			if r.Table != tb || string(r.Value) != tb+"|"+r.Key {
				t.Errorf("List(%q) returned %q/%q = %q", tb, r.Table, r.Key, r.Value)
			}
		}
		if tb != "t" {
			want(t, s, tb, "a", tb+"|a", 0)
		}
	}
}

// trickyKeys exercise LIKE metacharacters, separators, case, and multi-byte UTF-8 (whose byte
// order is code point order).
var trickyKeys = []string{
	"a", "a/", "a/b", "a/b/c", "a/bc", "a%", "a%b", "a_", "a_b", "ab", "aB", "A", "a b", "a\\",
	"a\x01", "a\x7f", "a\u00e9", "a\u00ff", "a\u0100", "\u00e9", "\u00e9t\u00e9", "\u65e5\u672c",
	"\u65e5\u672c\u8a9e", "\U0001F600", "\U0001F600/x", "\uffff", "b", "b%", "z", "~", "%", "_",
	"/", "0", "9",
}

func putTricky(t *testing.T, s store.Store) map[string]int64 {
	t.Helper()
	versions := map[string]int64{}
	if err := s.Update(context.Background(), func(tx store.Tx) error {
		for _, k := range trickyKeys {
			v, err := tx.Put("t", k, []byte("v:"+k), 0)
			if err != nil {
				return err
			}
			versions[k] = v
		}
		// Noise in neighbouring tables.
		for _, tb := range []string{"s", "u", "tt"} {
			for _, k := range trickyKeys[:5] {
				if _, err := tx.Put(tb, k, []byte("noise"), 0); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return versions
}

// expect computes what List returns, from the definition.
func expect(prefix, after string, limit int) []string {
	var ks []string
	for _, k := range trickyKeys {
		if strings.HasPrefix(k, prefix) && k > after {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks) // Go orders strings by bytes
	if limit > 0 && len(ks) > limit {
		ks = ks[:limit]
	}
	return ks
}

var listCases = []struct {
	prefix, after string
	limit         int
}{
	{"", "", 0},
	{"", "", 1},
	{"", "", 5},
	{"", "a/b", 0},
	{"", "a/a", 3}, // after a key that does not exist
	{"", "\uffff", 0},
	{"", "\U0010FFFF", 0},
	{"a", "", 0},
	{"a/", "", 0},
	{"a/b", "", 0},
	{"a%", "", 0}, // % is not a wildcard
	{"a_", "", 0}, // nor is _
	{"%", "", 0},
	{"_", "", 0},
	{"a\\", "", 0},
	{"A", "", 0}, // case-sensitive
	{"\u00e9", "", 0},
	{"a\u00e9", "", 0},
	{"\u65e5", "", 0},
	{"\u65e5\u672c", "\u65e5\u672c", 0},
	{"\U0001F600", "", 0},
	{"\uffff", "", 0},
	{"a", "a/b", 0},
	{"a", "a/b", 2},
	{"a", "0", 0}, // after below the prefix range
	{"a", "b", 0}, // after above it
	{"a/", "a/b/c", 1},
	{"nothing", "", 0},
	{"a/b/c/d", "", 0},
	{"b", "a", 100},
}

func testList(t *testing.T, s store.Store) {
	versions := putTricky(t, s)
	for _, c := range listCases {
		got := list(t, s, "t", c.prefix, c.after, c.limit)
		if w := expect(c.prefix, c.after, c.limit); !slices.Equal(keys(got), w) {
			t.Errorf("List(t, %q, after %q, limit %d) = %q, want %q", c.prefix, c.after, c.limit, keys(got), w)
			continue
		}
		for _, r := range got {
			if r.Table != "t" || string(r.Value) != "v:"+r.Key || r.Version != versions[r.Key] {
				t.Errorf("List(t, %q): record %+v, want table t, value v:%s, version %d", c.prefix, r, r.Key, versions[r.Key])
			}
		}
	}
	if got := list(t, s, "none", "", "", 0); len(got) != 0 {
		t.Errorf("List of an empty table = %q", keys(got))
	}
}

func testListPaging(t *testing.T, s store.Store) {
	putTricky(t, s)
	for _, prefix := range []string{"", "a", "\u65e5"} {
		for _, size := range []int{1, 2, 3, 7} {
			var all []string
			after := ""
			for {
				page := list(t, s, "t", prefix, after, size)
				if len(page) > size {
					t.Fatalf("List limit %d returned %d records", size, len(page))
				}
				if len(page) == 0 {
					break
				}
				all = append(all, keys(page)...)
				after = page[len(page)-1].Key
			}
			if w := expect(prefix, "", 0); !slices.Equal(all, w) {
				t.Errorf("paging prefix %q by %d = %q, want %q", prefix, size, all, w)
			}
		}
	}
}

func testCount(t *testing.T, s store.Store) {
	putTricky(t, s)
	seen := map[string]bool{}
	for _, c := range listCases {
		if seen[c.prefix] {
			continue
		}
		seen[c.prefix] = true
		if got, w := count(t, s, "t", c.prefix), len(expect(c.prefix, "", 0)); got != w {
			t.Errorf("Count(t, %q) = %d, want %d", c.prefix, got, w)
		}
	}
	if n := count(t, s, "none", ""); n != 0 {
		t.Errorf("Count of an empty table = %d", n)
	}
}

func testManyRecords(t *testing.T, s store.Store) {
	const n = 2000
	var ks []string
	if err := s.Update(context.Background(), func(tx store.Tx) error {
		// Insert in an order unrelated to key order.
		for i := range n {
			k := fmt.Sprintf("job/%04d", (i*7919)%n)
			ks = append(ks, k)
			if _, err := tx.Put("tasks", k, []byte(k), 0); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(ks)
	if got := keys(list(t, s, "tasks", "", "", 0)); !slices.Equal(got, ks) {
		t.Fatalf("List of %d records is out of order or incomplete (got %d)", n, len(got))
	}
	if c := count(t, s, "tasks", "job/1"); c != 1000 {
		t.Errorf("Count(job/1) = %d, want 1000", c)
	}
	// Delete every other record, then count and list again.
	if err := s.Update(context.Background(), func(tx store.Tx) error {
		for i := 0; i < n; i += 2 {
			if err := tx.Delete("tasks", ks[i], store.AnyVersion); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var odd []string
	for i := 1; i < n; i += 2 {
		odd = append(odd, ks[i])
	}
	if got := keys(list(t, s, "tasks", "", "", 0)); !slices.Equal(got, odd) {
		t.Fatalf("List after deleting half: %d records, want %d", len(got), len(odd))
	}
	if c := count(t, s, "tasks", ""); c != n/2 {
		t.Errorf("Count = %d, want %d", c, n/2)
	}
	if got := keys(list(t, s, "tasks", "job/1", "job/1500", 3)); !slices.Equal(got, []string{"job/1501", "job/1503", "job/1505"}) {
		t.Errorf("List(job/1, after job/1500, 3) = %q", got)
	}
}

func testAtomicity(t *testing.T, s store.Store) {
	keep := mustPut(t, s, "t", "keep", "kept")
	doomed := errors.New("fn failed")
	err := s.Update(context.Background(), func(tx store.Tx) error {
		for _, k := range []string{"a", "b", "c"} {
			if _, err := tx.Put("t", k, []byte(k), 0); err != nil {
				return err
			}
		}
		if _, err := tx.Put("t", "keep", []byte("changed"), keep); err != nil {
			return err
		}
		if err := tx.Delete("u", "never", store.AnyVersion); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("unexpected: %v", err)
		}
		return doomed
	})
	if !errors.Is(err, doomed) {
		t.Fatalf("Update = %v, want fn's error", err)
	}
	for _, k := range []string{"a", "b", "c"} {
		wantAbsent(t, s, "t", k)
	}
	want(t, s, "t", "keep", "kept", keep)
	if n := count(t, s, "t", ""); n != 1 {
		t.Fatalf("Count after a rolled-back Update = %d, want 1", n)
	}

	// A rolled-back delete leaves the record.
	err = s.Update(context.Background(), func(tx store.Tx) error {
		if err := tx.Delete("t", "keep", keep); err != nil {
			return err
		}
		return doomed
	})
	if !errors.Is(err, doomed) {
		t.Fatalf("Update = %v, want fn's error", err)
	}
	want(t, s, "t", "keep", "kept", keep)

	// Versions handed out by a rolled-back Update are never seen committed below a version
	// that was committed before: the next committed write is still newer than everything.
	v := mustPut(t, s, "t", "after", "x")
	if v <= keep {
		t.Fatalf("version after rollback %d, want > %d", v, keep)
	}
}

type sentinelError struct{ n int }

func (e *sentinelError) Error() string { return fmt.Sprintf("sentinel %d", e.n) }

func testErrorReturnedUnchanged(t *testing.T, s store.Store) {
	want := &sentinelError{42}
	if err := s.Update(context.Background(), func(tx store.Tx) error { return want }); err != want {
		t.Errorf("Update returned %v (%T), want fn's error itself", err, err)
	}
	if err := s.View(context.Background(), func(tx store.Tx) error { return want }); err != want {
		t.Errorf("View returned %v (%T), want fn's error itself", err, err)
	}
	// fn's error is returned as is even when it wraps a store sentinel.
	var got error
	err := s.Update(context.Background(), func(tx store.Tx) error {
		_, got = tx.Get("t", "missing")
		return got
	})
	if err != got || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Update returned %v, want %v", err, got)
	}
}

// time0 is a deadline long past.
var time0 = time.Unix(0, 0)

// panicValue is what the panic tests panic with.
type panicValue struct{ where string }

func catch(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}

func testPanicRollsBack(t *testing.T, s store.Store) {
	v := mustPut(t, s, "t", "k", "before")
	r := catch(func() {
		s.Update(context.Background(), func(tx store.Tx) error {
			if _, err := tx.Put("t", "k", []byte("during"), v); err != nil {
				return err
			}
			if _, err := tx.Put("t", "new", []byte("x"), 0); err != nil {
				return err
			}
			panic(panicValue{"update"})
		})
	})
	if r != (panicValue{"update"}) {
		t.Fatalf("Update's panic: recovered %v, want the value fn panicked with", r)
	}
	want(t, s, "t", "k", "before", v)
	wantAbsent(t, s, "t", "new")

	r = catch(func() {
		s.View(context.Background(), func(tx store.Tx) error {
			if _, err := tx.Get("t", "k"); err != nil {
				return err
			}
			panic(panicValue{"view"})
		})
	})
	if r != (panicValue{"view"}) {
		t.Fatalf("View's panic: recovered %v, want the value fn panicked with", r)
	}

	// The writer was released: more Updates and Views work.
	for i := range 3 {
		v2, err := put(t, s, "t", "k", fmt.Sprint("after", i), store.AnyVersion)
		if err != nil {
			t.Fatalf("Update after a panic: %v", err)
		}
		want(t, s, "t", "k", fmt.Sprint("after", i), v2)
	}
}

func testWriteInView(t *testing.T, s store.Store) {
	v := mustPut(t, s, "t", "k", "a")
	err := s.View(context.Background(), func(tx store.Tx) error {
		if _, err := tx.Put("t", "k", []byte("b"), store.AnyVersion); !errors.Is(err, store.ErrInvalid) {
			return fmt.Errorf("Put in a View: %v, want ErrInvalid", err)
		}
		if _, err := tx.Put("t", "n", []byte("b"), 0); !errors.Is(err, store.ErrInvalid) {
			return fmt.Errorf("Put in a View: %v, want ErrInvalid", err)
		}
		if err := tx.Delete("t", "k", v); !errors.Is(err, store.ErrInvalid) {
			return fmt.Errorf("Delete in a View: %v, want ErrInvalid", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want(t, s, "t", "k", "a", v)
	wantAbsent(t, s, "t", "n")
}

func testTxAfterReturn(t *testing.T, s store.Store) {
	mustPut(t, s, "t", "k", "a")
	for _, name := range []string{"Update", "View"} {
		var leaked store.Tx
		run := s.View
		if name == "Update" {
			run = s.Update
		}
		if err := run(context.Background(), func(tx store.Tx) error { leaked = tx; return nil }); err != nil {
			t.Fatal(err)
		}
		if _, err := leaked.Get("t", "k"); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Get on a Tx after %s returned: %v, want ErrInvalid", name, err)
		}
		if _, err := leaked.List("t", "", "", 0); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("List on a Tx after %s returned: %v, want ErrInvalid", name, err)
		}
		if _, err := leaked.Put("t", "k", []byte("b"), store.AnyVersion); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Put on a Tx after %s returned: %v, want ErrInvalid", name, err)
		}
	}
	want(t, s, "t", "k", "a", 0)
}

func testIsolation(t *testing.T, s store.Store) {
	v1 := mustPut(t, s, "t", "k", "v1")
	gone := mustPut(t, s, "t", "gone", "here")
	started := make(chan struct{})
	signal := sync.OnceFunc(func() { close(started) })
	committed := make(chan struct{})
	viewDone := make(chan error, 1)
	go func() {
		defer signal()
		viewDone <- s.View(context.Background(), func(tx store.Tx) error {
			if r, err := tx.Get("t", "k"); err != nil || string(r.Value) != "v1" {
				return fmt.Errorf("first read = %+v, %v", r, err)
			}
			signal()
			<-committed
			// The Update below has committed; this View still sees the store as it was.
			if r, err := tx.Get("t", "k"); err != nil || string(r.Value) != "v1" || r.Version != v1 {
				return fmt.Errorf("read after a concurrent commit = %+v, %v; want v1 at version %d", r, err, v1)
			}
			if r, err := tx.Get("t", "gone"); err != nil || r.Version != gone {
				return fmt.Errorf("record deleted by a concurrent commit = %+v, %v; want it still there", r, err)
			}
			if _, err := tx.Get("t", "new"); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("record created by a concurrent commit: %v, want ErrNotFound", err)
			}
			if rs, err := tx.List("t", "", "", 0); err != nil || !slices.Equal(keys(rs), []string{"gone", "k"}) {
				return fmt.Errorf("List after a concurrent commit = %q, %v", keys(rs), err)
			}
			if n, err := tx.Count("t", ""); err != nil || n != 2 {
				return fmt.Errorf("Count after a concurrent commit = %d, %v", n, err)
			}
			return nil
		})
	}()
	<-started
	err := s.Update(context.Background(), func(tx store.Tx) error {
		if _, err := tx.Put("t", "k", []byte("v2"), v1); err != nil {
			return err
		}
		if err := tx.Delete("t", "gone", gone); err != nil {
			return err
		}
		_, err := tx.Put("t", "new", []byte("x"), 0)
		return err
	})
	close(committed)
	if err != nil {
		t.Fatalf("Update while a View is open: %v", err)
	}
	if err := <-viewDone; err != nil {
		t.Fatalf("View: %v", err)
	}
	// A View started afterwards sees the Update.
	want(t, s, "t", "k", "v2", 0)
	wantAbsent(t, s, "t", "gone")
	want(t, s, "t", "new", "x", 0)
}

func testSnapshotConsistency(t *testing.T, s store.Store) {
	// One writer moves two records together; readers must never see them disagree, nor a
	// List that disagrees with the Gets of the same View.
	const rounds, readers, reads = 50, 4, 50
	if err := s.Update(context.Background(), func(tx store.Tx) error {
		for _, k := range []string{"x", "y"} {
			if _, err := tx.Put("pair", k, []byte("0"), 0); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 1; i <= rounds; i++ {
			val := []byte(fmt.Sprint(i))
			if err := s.Update(context.Background(), func(tx store.Tx) error {
				for _, k := range []string{"x", "y"} {
					if _, err := tx.Put("pair", k, val, store.AnyVersion); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Errorf("writer: %v", err)
				return
			}
		}
	})
	for range readers {
		wg.Go(func() {
			for range reads {
				err := s.View(context.Background(), func(tx store.Tx) error {
					x, err := tx.Get("pair", "x")
					if err != nil {
						return err
					}
					rs, err := tx.List("pair", "", "", 0)
					if err != nil {
						return err
					}
					y, err := tx.Get("pair", "y")
					if err != nil {
						return err
					}
					if !bytes.Equal(x.Value, y.Value) || len(rs) != 2 || !bytes.Equal(rs[0].Value, x.Value) || !bytes.Equal(rs[1].Value, y.Value) {
						return fmt.Errorf("inconsistent snapshot: x=%q y=%q list=%d records", x.Value, y.Value, len(rs))
					}
					return nil
				})
				if err != nil {
					t.Errorf("reader: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	want(t, s, "pair", "x", fmt.Sprint(rounds), 0)
}

func testSerializedUpdates(t *testing.T, s store.Store) {
	// Read-modify-write inside Update needs no condition: Updates are serialized.
	const goroutines, increments = 8, 25
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range increments {
				err := s.Update(context.Background(), func(tx store.Tx) error {
					n := 0
					r, err := tx.Get("c", "counter")
					switch {
					case err == nil:
						fmt.Sscan(string(r.Value), &n)
					case !errors.Is(err, store.ErrNotFound):
						return err
					}
					_, err = tx.Put("c", "counter", []byte(fmt.Sprint(n+1)), store.AnyVersion)
					return err
				})
				if err != nil {
					t.Errorf("increment: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	want(t, s, "c", "counter", fmt.Sprint(goroutines*increments), 0)
}

func testOptimisticCounter(t *testing.T, s store.Store) {
	// Read in a View, write in an Update conditional on the version read, retry on conflict:
	// the pattern of an API handler with If-Match, and of fencing.
	const goroutines, increments = 8, 25
	if _, err := put(t, s, "c", "counter", "0", 0); err != nil {
		t.Fatal(err)
	}
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		conflicts int
	)
	for range goroutines {
		wg.Go(func() {
			for range increments {
				for {
					r, err := get(t, s, "c", "counter")
					if err != nil {
						t.Errorf("read: %v", err)
						return
					}
					var n int
					fmt.Sscan(string(r.Value), &n)
					_, err = put(t, s, "c", "counter", fmt.Sprint(n+1), r.Version)
					if errors.Is(err, store.ErrConflict) {
						mu.Lock()
						conflicts++
						mu.Unlock()
						continue
					}
					if err != nil {
						t.Errorf("write: %v", err)
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	want(t, s, "c", "counter", fmt.Sprint(goroutines*increments), 0)
	t.Logf("%d conflicts retried", conflicts)
}

func testLargeValues(t *testing.T, s store.Store) {
	big := func(seed byte, n int) []byte {
		b := make([]byte, n)
		x := uint32(seed) + 1
		for i := range b {
			x = x*1664525 + 1013904223
			b[i] = byte(x >> 24)
		}
		return b
	}
	const mib = 1 << 20
	vals := map[string][]byte{"a": big(1, mib), "b": big(2, mib+1), "c": big(3, 3*mib)}
	if err := s.Update(context.Background(), func(tx store.Tx) error {
		for _, k := range []string{"a", "b", "c"} {
			if _, err := tx.Put("big", k, vals[k], 0); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for k, v := range vals {
		r, err := get(t, s, "big", k)
		if err != nil || !bytes.Equal(r.Value, v) {
			t.Fatalf("Get(big, %s): %d bytes, %v; want %d bytes back unchanged", k, len(r.Value), err, len(v))
		}
	}
	rs := list(t, s, "big", "", "", 0)
	if len(rs) != 3 || !bytes.Equal(rs[2].Value, vals["c"]) {
		t.Fatalf("List of large values: %d records", len(rs))
	}
}

func testContextDoneBefore(t *testing.T, s store.Store) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time0)
	defer cancel2()
	for _, c := range []struct {
		name string
		ctx  context.Context
		want error
	}{{"cancelled", cancelled, context.Canceled}, {"deadline", expired, context.DeadlineExceeded}} {
		ran := false
		err := s.Update(c.ctx, func(tx store.Tx) error {
			ran = true
			_, err := tx.Put("t", "k", []byte("x"), store.AnyVersion)
			return err
		})
		wantErr(t, "Update with a "+c.name+" context", err, c.want)
		if ran {
			t.Errorf("Update with a %s context ran fn", c.name)
		}
		ran = false
		err = s.View(c.ctx, func(tx store.Tx) error { ran = true; return nil })
		wantErr(t, "View with a "+c.name+" context", err, c.want)
		if ran {
			t.Errorf("View with a %s context ran fn", c.name)
		}
	}
	wantAbsent(t, s, "t", "k")
}

func testContextCancelledDuring(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Put("t", "a", []byte("x"), store.AnyVersion); err != nil {
			return err
		}
		cancel()
		if _, err := tx.Put("t", "b", []byte("x"), store.AnyVersion); !errors.Is(err, context.Canceled) {
			return fmt.Errorf("Put after cancel: %v, want context.Canceled", err)
		}
		return nil // fn ignores the failure: the Update must still not commit
	})
	wantErr(t, "Update whose context is cancelled in fn", err, context.Canceled)
	wantAbsent(t, s, "t", "a")
	wantAbsent(t, s, "t", "b")

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	err = s.View(ctx, func(tx store.Tx) error {
		cancel()
		_, err := tx.Get("t", "a")
		return err
	})
	wantErr(t, "View whose context is cancelled in fn", err, context.Canceled)

	// The store goes on working.
	mustPut(t, s, "t", "c", "x")
}

func testContextCancelledWaitingToWrite(t *testing.T, s store.Store) {
	holding := make(chan struct{})
	release := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- s.Update(context.Background(), func(tx store.Tx) error {
			close(holding)
			<-release
			_, err := tx.Put("t", "first", []byte("x"), 0)
			return err
		})
	}()
	<-holding
	// Another Update waits for the writer; its context ends before it gets it. It must return
	// without waiting for the first (which would deadlock this test) and without running fn.
	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	ran := false
	go func() {
		second <- s.Update(ctx, func(tx store.Tx) error { ran = true; return nil })
	}()
	cancel()
	err := <-second
	close(release)
	wantErr(t, "Update cancelled while waiting for the writer", err, context.Canceled)
	if ran {
		t.Error("Update cancelled while waiting for the writer ran fn")
	}
	if err := <-first; err != nil {
		t.Fatalf("first Update: %v", err)
	}
	want(t, s, "t", "first", "x", 0)
}

func testClose(t *testing.T, s store.Store) {
	mustPut(t, s, "t", "k", "a")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ran := false
	if err := s.Update(context.Background(), func(tx store.Tx) error { ran = true; return nil }); err == nil {
		t.Error("Update after Close succeeded")
	}
	if err := s.View(context.Background(), func(tx store.Tx) error { ran = true; return nil }); err == nil {
		t.Error("View after Close succeeded")
	}
	if ran {
		t.Error("fn ran after Close")
	}
}
