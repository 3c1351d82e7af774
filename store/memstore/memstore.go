// Package memstore is an in-memory [store.Store] with the same semantics as the durable ones, for
// tests and for the systematic tester, which can make it fail on command through [Store.Fail].
//
// Committed state is an immutable sorted tree; an Update builds a new tree by path copying and
// publishes it at commit, so a View is a pointer to the tree as it was when the View started and
// never waits for an Update. Updates run one at a time. The store starts no goroutine, reads no
// clock and uses no randomness, so a run under the tester depends on its seed alone. Get, Put and
// Delete cost O(log n); List costs O(log n + records returned); Count costs O(log n).
package memstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"corral/store"
)

// The operations named to [Store.Fail]. They match the tester's convention for fault points
// (systest.Sim.Fail), so `s.Fail = sim.Fail` works.
const (
	// OpUpdate is consulted when Update starts. Failing it makes Update return ErrUnavailable
	// without running fn: nothing changes.
	OpUpdate = "store.update"
	// OpView is consulted when View starts. Failing it makes View return ErrUnavailable without
	// running fn.
	OpView = "store.view"
	// OpCommit is consulted after an Update that wrote something has committed. Failing it makes
	// Update return ErrUnavailable although its writes are in the store: the acknowledgement was
	// lost, as when a connection to a database server drops during COMMIT. Code that retries an
	// Update after ErrUnavailable must cope with this (conditional writes, idempotent requests).
	OpCommit = "store.commit"
)

// Store is an in-memory store.Store, safe for concurrent use. The zero value is not usable; call
// New.
type Store struct {
	// Fail, if set, is consulted with an Op* name at the points those constants describe; when
	// it returns true the call fails with an error wrapping store.ErrUnavailable. Set it before
	// the store is used; it is called on the goroutine that called Update or View.
	Fail func(op string) bool

	writer chan struct{}         // a one-slot semaphore: holding it is being the writer
	state  atomic.Pointer[state] // the committed state
	closed atomic.Bool
}

type state struct {
	root *node
	rev  int64 // the last version handed out
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	s := &Store{writer: make(chan struct{}, 1)}
	s.state.Store(&state{})
	return s
}

// Update implements store.Store. An Update that returns nil has committed; one that returns an
// error wrapping store.ErrUnavailable has committed only if it failed at OpCommit.
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	if err := s.begin(ctx, OpUpdate); err != nil {
		return err
	}
	select {
	case s.writer <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("memstore: update: waiting to write: %w", ctx.Err())
	}
	defer func() { <-s.writer }()

	st := s.state.Load()
	t := &tx{ctx: ctx, write: true, root: st.root, rev: st.rev}
	defer t.end()
	if err := fn(t); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: update: not committed: %w", err)
	}
	if s.closed.Load() {
		return errors.New("memstore: update: not committed: store closed")
	}
	if !t.wrote {
		return nil
	}
	s.state.Store(&state{root: t.root, rev: t.rev})
	if s.Fail != nil && s.Fail(OpCommit) {
		return fmt.Errorf("memstore: update committed but the acknowledgement was lost (%s): %w", OpCommit, store.ErrUnavailable)
	}
	return nil
}

// View implements store.Store.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	if err := s.begin(ctx, OpView); err != nil {
		return err
	}
	st := s.state.Load()
	t := &tx{ctx: ctx, root: st.root}
	defer t.end()
	return fn(t)
}

func (s *Store) begin(ctx context.Context, op string) error {
	if s.closed.Load() {
		return fmt.Errorf("memstore: %s: store closed", op)
	}
	if s.Fail != nil && s.Fail(op) {
		return fmt.Errorf("memstore: %s failed on command: %w", op, store.ErrUnavailable)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %s: %w", op, err)
	}
	return nil
}

// Close implements store.Store. Later calls fail; the data stays readable by Views already
// running.
func (s *Store) Close() error {
	s.closed.Store(true)
	return nil
}

// Len returns the number of records in the store, for tests.
func (s *Store) Len() int { return size(s.state.Load().root) }

type tx struct {
	ctx   context.Context
	write bool
	root  *node
	rev   int64
	wrote bool
	done  bool
}

func (t *tx) end() { t.done = true }

func (t *tx) usable(op string, write bool) error {
	switch {
	case t.done:
		return fmt.Errorf("memstore: %s: %w: transaction used after its function returned", op, store.ErrInvalid)
	case write && !t.write:
		return fmt.Errorf("memstore: %s: %w: write in a read-only transaction", op, store.ErrInvalid)
	}
	if err := t.ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %s: %w", op, err)
	}
	return nil
}

func (t *tx) Get(table, key string) (store.Record, error) {
	if err := t.usable("get", false); err != nil {
		return store.Record{}, err
	}
	if err := store.CheckKey(table, key); err != nil {
		return store.Record{}, fmt.Errorf("memstore: get: %w", err)
	}
	n := lookup(t.root, composite(table, key))
	if n == nil {
		return store.Record{}, fmt.Errorf("memstore: get %s/%s: %w", table, key, store.ErrNotFound)
	}
	return clone(n.rec), nil
}

func (t *tx) Put(table, key string, value []byte, ifVersion int64) (int64, error) {
	if err := t.usable("put", true); err != nil {
		return 0, err
	}
	if err := store.CheckKey(table, key); err != nil {
		return 0, fmt.Errorf("memstore: put: %w", err)
	}
	if err := store.CheckWrite("put", ifVersion); err != nil {
		return 0, fmt.Errorf("memstore: put %s/%s: %w", table, key, err)
	}
	ck := composite(table, key)
	if err := store.CheckVersion("put", ifVersion, version(lookup(t.root, ck))); err != nil {
		return 0, fmt.Errorf("memstore: put %s/%s: %w", table, key, err)
	}
	t.rev++
	rec := store.Record{Table: table, Key: key, Value: bytes.Clone(value), Version: t.rev}
	t.root = insert(t.root, &node{ck: ck, prio: priority(ck), rec: rec, size: 1})
	t.wrote = true
	return t.rev, nil
}

func (t *tx) Delete(table, key string, ifVersion int64) error {
	if err := t.usable("delete", true); err != nil {
		return err
	}
	if err := store.CheckKey(table, key); err != nil {
		return fmt.Errorf("memstore: delete: %w", err)
	}
	if err := store.CheckWrite("delete", ifVersion); err != nil {
		return fmt.Errorf("memstore: delete %s/%s: %w", table, key, err)
	}
	ck := composite(table, key)
	if err := store.CheckVersion("delete", ifVersion, version(lookup(t.root, ck))); err != nil {
		return fmt.Errorf("memstore: delete %s/%s: %w", table, key, err)
	}
	t.root = remove(t.root, ck)
	t.wrote = true
	return nil
}

func (t *tx) List(table, prefix, after string, limit int) ([]store.Record, error) {
	if err := t.usable("list", false); err != nil {
		return nil, err
	}
	if err := store.CheckList(table, prefix, after, limit); err != nil {
		return nil, fmt.Errorf("memstore: list: %w", err)
	}
	lo, hi := bounds(table, prefix)
	strict := false
	if a := composite(table, after); after != "" && a >= lo {
		lo, strict = a, true
	}
	var out []store.Record
	ascend(t.root, lo, strict, hi, func(n *node) bool {
		out = append(out, clone(n.rec))
		return limit == 0 || len(out) < limit
	})
	return out, nil
}

func (t *tx) Count(table, prefix string) (int, error) {
	if err := t.usable("count", false); err != nil {
		return 0, err
	}
	if err := store.CheckCount(table, prefix); err != nil {
		return 0, fmt.Errorf("memstore: count: %w", err)
	}
	lo, hi := bounds(table, prefix)
	return rank(t.root, hi) - rank(t.root, lo), nil
}

// bounds returns the composite-key range [lo, hi) of the keys of table that start with prefix.
func bounds(table, prefix string) (lo, hi string) {
	lo = composite(table, prefix)
	if end, ok := store.PrefixEnd(prefix); ok {
		return lo, composite(table, end)
	}
	return lo, table + "\x01" // every key of table, and nothing of the next table
}

// version returns the version of the record n, or 0 if there is none.
func version(n *node) int64 {
	if n == nil {
		return 0
	}
	return n.rec.Version
}

func clone(r store.Record) store.Record {
	r.Value = bytes.Clone(r.Value)
	if r.Value == nil {
		r.Value = []byte{}
	}
	return r
}
