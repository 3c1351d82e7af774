package sqlite

import (
	"path/filepath"
	"testing"

	"corral/store/storetest"
)

// The benchmarks (storetest's, which every backend runs) measure what a commit costs: compare
// writes/s of BenchmarkUpdate (one Put per Update, one fsync each) and BenchmarkUpdateBatch (100
// Puts per Update). Each runs with synchronous=FULL (what Open uses) and NORMAL (no fsync at
// commit in WAL mode) to show what the fsync costs on this disk.

func benchStore(b *testing.B, synchronous string) *Store {
	b.Helper()
	s, err := open(filepath.Join(b.TempDir(), "bench.db"), options{synchronous: synchronous, busyTimeoutMS: busyTimeoutMS})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func benchPuts(b *testing.B, perTx int) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("sync="+sync, func(b *testing.B) { storetest.BenchPuts(b, benchStore(b, sync), perTx) })
	}
}

// BenchmarkUpdate commits one small Put per transaction.
func BenchmarkUpdate(b *testing.B) { benchPuts(b, 1) }

// BenchmarkUpdateBatch commits 100 small Puts per transaction.
func BenchmarkUpdateBatch(b *testing.B) { benchPuts(b, 100) }

// BenchmarkView reads one record per View, for comparison.
func BenchmarkView(b *testing.B) { storetest.BenchView(b, benchStore(b, "FULL")) }
