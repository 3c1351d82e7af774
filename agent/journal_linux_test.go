package agent

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRunnerJournal runs attempts of one task through Runners on one root and checks what the
// task's journal then says, through the Runner and through a Layout (as a restarted agent
// reads it).
func TestRunnerJournal(t *testing.T) {
	// Steps: "run ID" runs an attempt to its end; "start ID" starts one that runs until "end ID"
	// kills it; "ack ID" acknowledges a result; "restart" closes the Runner and starts another
	// on the same root; "tear TEXT" appends TEXT, a partial line, to the journal.
	tests := []struct {
		name        string
		steps       []string
		wantRuns    int      // processes the task's attempts ran
		wantRunning []string // Running at the end
		wantPending []string // PendingResults at the end
		wantResult  string   // ReadResult's attempt at the end, "" for none
		wantAcked   bool
		wantAcks    int // ack lines in the journal
	}{
		{name: "result pending", steps: []string{"run a1"},
			wantRuns: 1, wantPending: []string{"a1"}, wantResult: "a1"},
		{name: "ack", steps: []string{"run a1", "ack a1"},
			wantRuns: 1, wantResult: "a1", wantAcked: true, wantAcks: 1},
		{name: "ack repeated", steps: []string{"run a1", "ack a1", "ack a1", "restart", "ack a1"},
			wantRuns: 1, wantResult: "a1", wantAcked: true, wantAcks: 1},
		{name: "ack of a stale attempt", steps: []string{"run a1", "run a2", "ack a1"},
			wantRuns: 2, wantPending: []string{"a2"}, wantResult: "a2"},
		{name: "ack of a stale attempt after a restart", steps: []string{"run a1", "run a2", "restart", "ack a1"},
			wantRuns: 2, wantPending: []string{"a2"}, wantResult: "a2"},
		{name: "ack of an attempt still running", steps: []string{"run a1", "start a2", "ack a1", "ack a2"},
			wantRuns: 2, wantRunning: []string{"a2"}},
		{name: "late ack after a new attempt ended", steps: []string{"run a1", "start a2", "end a2", "ack a1"},
			wantRuns: 2, wantPending: []string{"a2"}, wantResult: "a2"},
		{name: "repeated start", steps: []string{"run a1", "run a1", "start a1"},
			wantRuns: 1, wantPending: []string{"a1"}, wantResult: "a1"},
		{name: "repeated start after a restart", steps: []string{"run a1", "ack a1", "run a2", "restart", "run a1", "run a2"},
			wantRuns: 2, wantPending: []string{"a2"}, wantResult: "a2", wantAcks: 1},
		{name: "ack after a restart", steps: []string{"run a1", "restart", "ack a1"},
			wantRuns: 1, wantResult: "a1", wantAcked: true, wantAcks: 1},
		{name: "attempt lost to a restart", steps: []string{"run a1", "tear start a2", "restart", "run a2"},
			wantRuns: 2, wantPending: []string{"a2"}, wantResult: "a2"},
		{name: "partial result line", steps: []string{"run a1", "ack a1", "tear result a1 {\"jobId\":", "restart", "ack a1", "run a2", "ack a2"},
			wantRuns: 2, wantResult: "a2", wantAcked: true, wantAcks: 2},
		{name: "partial ack line", steps: []string{"run a1", "tear ack a", "restart", "ack a1"},
			wantRuns: 1, wantResult: "a1", wantAcked: true, wantAcks: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := nodeRoot(t)
			h := newHarness(t, root)
			dir, _ := h.r.TaskDir("job1", "t")
			for _, step := range tt.steps {
				op, arg, _ := strings.Cut(step, " ")
				spec := TaskSpec{JobID: "job1", TaskID: "t", AttemptID: arg, CommandLine: `/bin/sh -c "echo run >> count"`}
				switch op {
				case "run":
					running := len(h.r.Running())
					h.start(spec)
					if len(h.r.Running()) > running {
						h.result(arg)
					}
				case "start":
					spec.CommandLine = `/bin/sh -c "echo run >> count; exec sleep 100"`
					runs := strings.Count(h.taskFile("t", "wd/count"), "run")
					h.start(spec)
					if !h.r.Has(arg) {
						break // started before: nothing runs
					}
					eventually(t, "the attempt has run", func() bool {
						data, _ := os.ReadFile(filepath.Join(dir, WorkingDirName, "count"))
						return strings.Count(string(data), "run") > runs
					})
				case "end":
					if err := h.r.Kill(arg); err != nil {
						t.Fatal(err)
					}
					h.result(arg)
				case "ack":
					if err := h.r.AckResult("job1", "t", arg); err != nil {
						t.Fatalf("%s: %v", step, err)
					}
				case "restart":
					h.r.Close()
					h = newHarness(t, root)
				case "tear":
					appendLines(t, dir, arg)
				default:
					t.Fatalf("unknown step %q", step)
				}
			}
			if got := strings.Count(h.taskFile("t", "wd/count"), "run"); got != tt.wantRuns {
				t.Errorf("the task ran %d times, want %d", got, tt.wantRuns)
			}
			if got := h.r.Running(); !slices.Equal(got, tt.wantRunning) && len(got)+len(tt.wantRunning) > 0 {
				t.Errorf("Running() = %q, want %q", got, tt.wantRunning)
			}
			for _, l := range []interface {
				PendingResults() ([]Result, error)
				ReadResult(jobID, taskID string) (Result, bool, error)
			}{h.r, h.r.Layout} {
				if ids := pendingAttempts(t, l); !slices.Equal(ids, tt.wantPending) {
					t.Errorf("%T: PendingResults = %q, want %q", l, ids, tt.wantPending)
				}
				res, ok, err := l.ReadResult("job1", "t")
				if err != nil || ok != (tt.wantResult != "") || ok && (res.AttemptID != tt.wantResult || res.Acknowledged != tt.wantAcked) {
					t.Errorf("%T: ReadResult = %+v, %v, %v; want attempt %q, acknowledged %v", l, res, ok, err, tt.wantResult, tt.wantAcked)
				}
			}
			data, err := os.ReadFile(filepath.Join(dir, journalFile))
			if err != nil {
				t.Fatal(err)
			}
			if got := len(ackLine.FindAll(data, -1)); got != tt.wantAcks {
				t.Errorf("journal %q has %d whole ack lines, want %d", data, got, tt.wantAcks)
			}
		})
	}
}
