package main

import "testing"

// The benchmark runs end to end on a small submission: every task is added (post checks each
// answer), against SQLite.
func TestSubmitRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	if err := run(300, 2, "", ""); err != nil {
		t.Fatal(err)
	}
}
