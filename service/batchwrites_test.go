package service

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"corral/store"
	"corral/store/memstore"
)

// A batch writes each record once, as its latest write in the batch says, and the store ends as
// if every write had been made in turn.
func TestBatchWritesLastWins(t *testing.T) {
	for _, tc := range []struct {
		name   string
		before map[string]string // key -> value in table "t" before the batch
		writes []batchWrite
		after  map[string]string
		ops    int // writes the batch makes
	}{
		{"put twice", nil, []batchWrite{{table: "t", key: "a", value: "1"}, {table: "t", key: "a", value: "2"}},
			map[string]string{"a": "2"}, 1},
		{"put then delete", nil, []batchWrite{{table: "t", key: "a", value: "1"}, {table: "t", key: "a", delete: true}},
			map[string]string{}, 1},
		{"delete then put", map[string]string{"a": "0"}, []batchWrite{{table: "t", key: "a", delete: true}, {table: "t", key: "a", value: "1"}},
			map[string]string{"a": "1"}, 1},
		{"delete of a missing record", map[string]string{"b": "0"}, []batchWrite{{table: "t", key: "a", delete: true}},
			map[string]string{"b": "0"}, 1},
		{"other records kept apart", map[string]string{"c": "0"}, []batchWrite{
			{table: "t", key: "a", value: "1"}, {table: "t", key: "b", value: "2"}, {table: "t", key: "a", value: "3"}, {table: "t", key: "c", delete: true}},
			map[string]string{"a": "3", "b": "2"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memstore.New()
			ctx := context.Background()
			if err := st.Update(ctx, func(tx store.Tx) error {
				for k, v := range tc.before {
					if err := putJSON(tx, "t", k, v, store.AnyVersion); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			var b batchWrites
			for _, w := range tc.writes {
				b.add(w)
			}
			ops := 0
			for _, w := range b.ops {
				if w.table != "" {
					ops++
				}
			}
			if ops != tc.ops {
				t.Errorf("the batch makes %d writes, want %d", ops, tc.ops)
			}
			if err := st.Update(ctx, b.apply); err != nil {
				t.Fatalf("apply: %v", err)
			}
			got := map[string]string{}
			if err := st.View(ctx, func(tx store.Tx) error {
				rs, err := tx.List("t", "", "", 0)
				for _, r := range rs {
					var v string
					if err := json.Unmarshal(r.Value, &v); err != nil {
						return err
					}
					got[r.Key] = v
				}
				return err
			}); err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
			if len(got) != len(tc.after) {
				t.Fatalf("after the batch: %v, want %v", got, tc.after)
			}
			for k, v := range tc.after {
				if got[k] != v {
					t.Fatalf("after the batch: %v, want %v", got, tc.after)
				}
			}
		})
	}
}
