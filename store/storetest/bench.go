package storetest

import (
	"context"
	"fmt"
	"testing"

	"corral/store"
)

// The benchmarks every backend runs, so that their figures compare. They measure what a commit
// costs, so that "many state changes share one transaction" can be quantified: compare writes/s
// of BenchPuts with one Put per Update and with 100.

// benchValue is a small record, about the size of a task's state.
var benchValue = make([]byte, 256)

// BenchPuts runs Updates of perTx small Puts each on s, over 10,000 keys (inserts at first,
// then overwrites), and reports writes/s.
func BenchPuts(b *testing.B, s store.Store, perTx int) {
	ctx := context.Background()
	writes := 0
	for b.Loop() {
		err := s.Update(ctx, func(tx store.Tx) error {
			for range perTx {
				if _, err := tx.Put("tasks", fmt.Sprintf("job-%d/task-%05d", writes%7, writes%10000), benchValue, store.AnyVersion); err != nil {
					return err
				}
				writes++
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(writes)/b.Elapsed().Seconds(), "writes/s")
}

// BenchView runs Views that read one record on s, and reports reads/s.
func BenchView(b *testing.B, s store.Store) {
	ctx := context.Background()
	if err := s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Put("tasks", "k", benchValue, store.AnyVersion)
		return err
	}); err != nil {
		b.Fatal(err)
	}
	reads := 0
	for b.Loop() {
		if err := s.View(ctx, func(tx store.Tx) error {
			_, err := tx.Get("tasks", "k")
			return err
		}); err != nil {
			b.Fatal(err)
		}
		reads++
	}
	b.ReportMetric(float64(reads)/b.Elapsed().Seconds(), "reads/s")
}
