package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"corral/store"
)

// The benchmarks measure what a commit costs, so that "many state changes share one transaction"
// can be quantified: compare writes/s of BenchmarkUpdate (one Put per Update, one fsync each)
// and BenchmarkUpdateBatch (100 Puts per Update). Each runs with synchronous=FULL (what Open
// uses) and NORMAL (no fsync at commit in WAL mode) to show what the fsync costs on this disk.

func benchStore(b *testing.B, synchronous string) *Store {
	b.Helper()
	s, err := open(filepath.Join(b.TempDir(), "bench.db"), options{synchronous: synchronous, busyTimeoutMS: busyTimeoutMS})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

// value is a small record, about the size of a task's state.
var value = make([]byte, 256)

func benchPuts(b *testing.B, perTx int) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("sync="+sync, func(b *testing.B) {
			s := benchStore(b, sync)
			ctx := context.Background()
			writes := 0
			for b.Loop() {
				err := s.Update(ctx, func(tx store.Tx) error {
					for range perTx {
						// 10,000 distinct keys: inserts at first, then overwrites.
						if _, err := tx.Put("tasks", fmt.Sprintf("job-%d/task-%05d", writes%7, writes%10000), value, store.AnyVersion); err != nil {
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
		})
	}
}

// BenchmarkUpdate commits one small Put per transaction.
func BenchmarkUpdate(b *testing.B) { benchPuts(b, 1) }

// BenchmarkUpdateBatch commits 100 small Puts per transaction.
func BenchmarkUpdateBatch(b *testing.B) { benchPuts(b, 100) }

// BenchmarkView reads one record per View, for comparison.
func BenchmarkView(b *testing.B) {
	s := benchStore(b, "FULL")
	ctx := context.Background()
	if err := s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Put("tasks", "k", value, store.AnyVersion)
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
