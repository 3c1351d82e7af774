package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"corral/store"
	"corral/store/memstore"
	"corral/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return memstore.New() })
}

func TestFail(t *testing.T) {
	s := memstore.New()
	ctx := context.Background()
	var fail map[string]bool
	var asked []string
	s.Fail = func(op string) bool { asked = append(asked, op); return fail[op] }

	put := func(key string) error {
		return s.Update(ctx, func(tx store.Tx) error {
			_, err := tx.Put("t", key, []byte(key), store.AnyVersion)
			return err
		})
	}
	has := func(key string) bool {
		var ok bool
		if err := s.View(ctx, func(tx store.Tx) error {
			_, err := tx.Get("t", key)
			ok = err == nil
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return ok
	}

	cases := []struct {
		name      string
		fail      string
		key       string
		wantErr   error
		committed bool
	}{
		{"no failure", "", "a", nil, true},
		{"update fails before fn", memstore.OpUpdate, "b", store.ErrUnavailable, false},
		{"acknowledgement lost", memstore.OpCommit, "c", store.ErrUnavailable, true},
	}
	for _, c := range cases {
		fail = map[string]bool{c.fail: true}
		err := put(c.key)
		if !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil) {
			t.Errorf("%s: Update = %v, want %v", c.name, err, c.wantErr)
		}
		fail = nil
		if got := has(c.key); got != c.committed {
			t.Errorf("%s: committed = %v, want %v", c.name, got, c.committed)
		}
	}

	fail = map[string]bool{memstore.OpView: true}
	ran := false
	if err := s.View(ctx, func(store.Tx) error { ran = true; return nil }); !errors.Is(err, store.ErrUnavailable) || ran {
		t.Errorf("failing View = %v (fn ran: %v), want ErrUnavailable without running fn", err, ran)
	}

	// An Update that writes nothing does not ask about its commit.
	fail, asked = nil, nil
	if err := s.Update(ctx, func(store.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if len(asked) != 1 || asked[0] != memstore.OpUpdate {
		t.Errorf("read-only Update consulted Fail with %q, want only %q", asked, memstore.OpUpdate)
	}
}

// TestBalanced guards the treap's cost: keys inserted in order must not degrade it to a list.
func TestBalanced(t *testing.T) {
	s := memstore.New()
	const n = 100000
	if err := s.Update(context.Background(), func(tx store.Tx) error {
		for i := range n {
			if _, err := tx.Put("t", fmt.Sprintf("k%08d", i), nil, 0); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if d := memstore.Depth(s); d > 60 {
		t.Errorf("depth %d for %d keys", d, n)
	}
	if s.Len() != n {
		t.Errorf("Len = %d, want %d", s.Len(), n)
	}
}
