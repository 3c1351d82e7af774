package rest

import (
	"fmt"
	"slices"
	"testing"
)

// scanPage pages a filtered list: every kept entity once, in order, whatever the page size,
// the chunk boundaries and the scan bound.
func TestScanPage(t *testing.T) {
	var all []string
	for i := 0; i < 537; i++ {
		all = append(all, fmt.Sprintf("id%04d", i))
	}
	fetch := func(after string, n int) ([]string, error) {
		i, _ := slices.BinarySearch(all, after)
		if i < len(all) && all[i] == after {
			i++
		}
		return all[i:min(i+n, len(all))], nil
	}
	tests := []struct {
		name           string
		keep           func(string) bool
		limit, maxScan int
	}{
		{"all, small pages", func(string) bool { return true }, 7, 10000},
		{"all, one page", func(string) bool { return true }, 1000, 10000},
		{"every third", func(s string) bool { return s[len(s)-1]%3 == 0 }, 10, 10000},
		{"none", func(string) bool { return false }, 10, 10000},
		{"last only", func(s string) bool { return s == "id0536" }, 5, 10000},
		{"first only, bounded scans", func(s string) bool { return s == "id0000" }, 5, 50},
		{"every other, bounded scans", func(s string) bool { return s[len(s)-1]%2 == 0 }, 1000, 120},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []string
			for _, s := range all {
				if tt.keep(s) {
					want = append(want, s)
				}
			}
			var got []string
			after, pages := "", 0
			for {
				items, next, err := scanPage(fetch, func(s string) string { return s }, tt.keep, after, tt.limit, tt.maxScan)
				if err != nil {
					t.Fatal(err)
				}
				if len(items) > tt.limit {
					t.Fatalf("page of %d, limit %d", len(items), tt.limit)
				}
				got = append(got, items...)
				if pages++; pages > 1000 {
					t.Fatal("no end")
				}
				if next == "" {
					break
				}
				after = next
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %d entities, want %d (first %v)", len(got), len(want), got[:min(3, len(got))])
			}
		})
	}
}
