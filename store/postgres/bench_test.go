package postgres

import (
	"testing"

	"corral/store/postgres/pgtest"
	"corral/store/storetest"
)

// The benchmarks (storetest's, which every backend runs) measure what a commit costs: compare
// writes/s of BenchmarkUpdate (one Put per Update) and BenchmarkUpdateBatch (100 Puts per
// Update), here and in store/sqlite. Each runs with synchronous_commit=on (what Open uses) and
// off (the server does not wait for its WAL flush to answer COMMIT) to show what the flush
// costs on this server's disk. Each adds the round trips to the server, a few per Update.

func benchStore(b *testing.B, synchronousCommit string) *Store {
	b.Helper()
	return openURL(b, pgtest.URL(b), Options{params: map[string]string{"synchronous_commit": synchronousCommit}})
}

func benchPuts(b *testing.B, perTx int) {
	for _, sync := range []string{"on", "off"} {
		b.Run("sync="+sync, func(b *testing.B) { storetest.BenchPuts(b, benchStore(b, sync), perTx) })
	}
}

// BenchmarkUpdate commits one small Put per transaction.
func BenchmarkUpdate(b *testing.B) { benchPuts(b, 1) }

// BenchmarkUpdateBatch commits 100 small Puts per transaction.
func BenchmarkUpdateBatch(b *testing.B) { benchPuts(b, 100) }

// BenchmarkView reads one record per View, for comparison.
func BenchmarkView(b *testing.B) { storetest.BenchView(b, benchStore(b, "on")) }
