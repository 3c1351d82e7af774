package main

import (
	"strings"
	"testing"
)

// The benchmark runs end to end on a small job: the counts are those of the tasks added, the
// job shows deleting and then goes, and a terminated job completes.
func TestJobScaleRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server")
	}
	var out strings.Builder
	if err := run(300, 5, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Get Task Counts (5 calls)") || !strings.Contains(out.String(), "Get Job 404 after") ||
		!strings.Contains(out.String(), "Job - Terminate of a job of as many active tasks") {
		t.Errorf("output:\n%s", out.String())
	}
}
