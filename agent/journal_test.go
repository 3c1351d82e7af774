package agent

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// appendResult appends to the journal of the task directory dir (which must exist) the start
// and result lines of res, as a Runner that ran the attempt would.
func appendResult(t *testing.T, dir string, res Result) {
	t.Helper()
	line, err := resultLine(res)
	if err != nil {
		t.Fatal(err)
	}
	appendLines(t, dir, string(journalLine(false, recordStart, res.AttemptID, nil))+string(line))
}

// newTaskDir returns a Layout on a fresh root, and the task directory of task j/t, made.
func newTaskDir(t *testing.T) (Layout, string) {
	t.Helper()
	l, err := NewLayout(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := l.TaskDir("j", "t")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return l, dir
}

// pendingAttempts returns the attempt ids of what l.PendingResults returns, in its order.
func pendingAttempts(t *testing.T, l interface{ PendingResults() ([]Result, error) }) []string {
	t.Helper()
	rs, err := l.PendingResults()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.AttemptID)
	}
	return ids
}

// ackLine matches a whole ack line of an attempt named a<n>.
var ackLine = regexp.MustCompile(`(?m)^ack a[0-9]+$`)

// appendLines appends text as it is to the journal of the task directory dir.
func appendLines(t *testing.T, dir, text string) {
	t.Helper()
	f, err := openJournal(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

func TestParseJournal(t *testing.T) {
	const res1 = `{"attemptId":"a1","exitCode":1}`
	const res2 = `{"attemptId":"a2","exitCode":2}`
	tests := []struct {
		name    string
		data    string
		attempt string // asked about
		want    journal
	}{
		{name: "empty", data: "", attempt: "a1", want: journal{}},
		{name: "started", data: "start a1\n", attempt: "a1",
			want: journal{latest: "a1", seen: true}},
		{name: "ended", data: "start a1\nresult a1 " + res1 + "\n", attempt: "a2",
			want: journal{latest: "a1", result: []byte(res1)}},
		{name: "acknowledged", data: "start a1\nresult a1 " + res1 + "\nack a1\n",
			want: journal{latest: "a1", result: []byte(res1), acked: true}},
		{name: "ack repeated", data: "start a1\nresult a1 " + res1 + "\nack a1\nack a1\n",
			want: journal{latest: "a1", result: []byte(res1), acked: true}},
		{name: "ack of a stale attempt", data: "start a1\nresult a1 " + res1 + "\nstart a2\nresult a2 " + res2 + "\nack a1\n",
			want: journal{latest: "a2", result: []byte(res2)}},
		{name: "ack before the result", data: "start a1\nack a1\nresult a1 " + res1 + "\n",
			want: journal{latest: "a1", result: []byte(res1)}},
		{name: "a new attempt hides the result", data: "start a1\nresult a1 " + res1 + "\nack a1\nstart a2\n", attempt: "a1",
			want: journal{latest: "a2", seen: true}},
		{name: "a stale attempt's result", data: "start a1\nstart a2\nresult a1 " + res1 + "\n",
			want: journal{latest: "a2"}},
		{name: "repeated start", data: "start a1\nresult a1 " + res1 + "\nstart a1\n", attempt: "a1",
			want: journal{latest: "a1", seen: true}},
		{name: "partial start line", data: "start a1\nresult a1 " + res1 + "\nstart a", attempt: "a",
			want: journal{latest: "a1", result: []byte(res1), torn: true}},
		{name: "partial result line", data: "start a1\nresult a1 {\"attem", attempt: "a1",
			want: journal{latest: "a1", seen: true, torn: true}},
		{name: "partial ack line", data: "start a1\nresult a1 " + res1 + "\nack a",
			want: journal{latest: "a1", result: []byte(res1), torn: true}},
		{name: "partial line ended by a later append", data: "start a1\nresult a1 {\"att\nstart a2\n", attempt: "a1",
			want: journal{latest: "a2", seen: true}},
		{name: "restart: a later agent's attempt after an ack", data: "start a1\nresult a1 " + res1 + "\nack a1\nstart a2\nresult a2 " + res2 + "\n", attempt: "a1",
			want: journal{latest: "a2", result: []byte(res2), seen: true}},
		{name: "lines that do not parse", data: "junk\nstart\nresult\nresult a1\nack\n\nstart a1\n",
			want: journal{latest: "a1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseJournal([]byte(tt.data), tt.attempt)
			if got.latest != tt.want.latest || string(got.result) != string(tt.want.result) || (got.result == nil) != (tt.want.result == nil) ||
				got.acked != tt.want.acked || got.seen != tt.want.seen || got.torn != tt.want.torn {
				t.Errorf("parseJournal(%q, %q) = %+v (result %s), want %+v (result %s)", tt.data, tt.attempt, got, got.result, tt.want, tt.want.result)
			}
		})
	}
}

// TestJournalAfterATornLine checks that what is appended after a partial last line (an agent
// died writing it) is read, and the partial line is not.
func TestJournalAfterATornLine(t *testing.T) {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		torn string // the partial line
	}{
		{"partial result", `result a1 {"jobId":"j","taskId":"t","attemptId":"a1","star`},
		{"partial ack", "ack a"},
		{"partial ack of the very attempt", "ack a1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, dir := newTaskDir(t)
			res := Result{JobID: "j", TaskID: "t", AttemptID: "a1", Started: true, StartTime: t0, EndTime: t0}
			if strings.HasPrefix(tt.torn, "result") {
				appendLines(t, dir, "start a1\n"+tt.torn)
			} else {
				appendResult(t, dir, res)
				appendLines(t, dir, tt.torn)
			}
			got, ok, err := l.ReadResult("j", "t")
			wantOK := !strings.HasPrefix(tt.torn, "result")
			if err != nil || ok != wantOK || ok && (got.AttemptID != "a1" || got.Acknowledged) {
				t.Fatalf("ReadResult = %+v, %v, %v; want ok %v, not acknowledged", got, ok, err, wantOK)
			}
			if err := l.AckResult("j", "t", "a1"); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(dir, journalFile))
			if err != nil {
				t.Fatal(err)
			}
			if wantOK {
				if !strings.HasSuffix(string(data), tt.torn+"\nack a1\n") {
					t.Errorf("journal after AckResult = %q; want the partial line ended, then the ack", data)
				}
				if got, ok, err := l.ReadResult("j", "t"); err != nil || !ok || !got.Acknowledged {
					t.Errorf("ReadResult after AckResult = %+v, %v, %v; want acknowledged", got, ok, err)
				}
			} else if strings.Contains(string(data), "\nack") {
				t.Errorf("journal = %q: an attempt without a whole result was acknowledged", data)
			}
		})
	}
}

// TestLatestStartTaskAttempt checks the start task's latest attempt as the journal gives it.
func TestLatestStartTaskAttempt(t *testing.T) {
	tests := []struct {
		name, journal, want string
	}{
		{"none", "", ""},
		{"one", "start s1\n", "s1"},
		{"ended and acknowledged", "start s1\nresult s1 {}\nack s1\n", "s1"},
		{"the latest of several", "start s1\nresult s1 {}\nstart s2\n", "s2"},
		{"a partial line", "start s1\nstart s", "s1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := NewLayout(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(l.StartupDir(), 0o755); err != nil {
				t.Fatal(err)
			}
			if tt.journal != "" {
				appendLines(t, l.StartupDir(), tt.journal)
			}
			if got, err := l.LatestStartTaskAttempt(); err != nil || got != tt.want {
				t.Errorf("LatestStartTaskAttempt = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// TestAckResultOfTheJournal checks Layout.AckResult on journals a Runner would have left.
func TestAckResultOfTheJournal(t *testing.T) {
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	res := func(id string) Result {
		return Result{JobID: "j", TaskID: "t", AttemptID: id, Started: true, StartTime: t0, EndTime: t0}
	}
	tests := []struct {
		name      string
		setup     func(t *testing.T, dir string)
		acks      []string
		wantAcks  int    // ack lines in the journal afterwards
		wantPend  string // the pending result's attempt, "" for none
		wantAcked bool   // ReadResult's Acknowledged
	}{
		{name: "ack", setup: func(t *testing.T, dir string) { appendResult(t, dir, res("a1")) },
			acks: []string{"a1"}, wantAcks: 1, wantAcked: true},
		{name: "ack repeated", setup: func(t *testing.T, dir string) { appendResult(t, dir, res("a1")) },
			acks: []string{"a1", "a1", "a1"}, wantAcks: 1, wantAcked: true},
		{name: "ack of a stale attempt", setup: func(t *testing.T, dir string) {
			appendResult(t, dir, res("a1"))
			appendResult(t, dir, res("a2"))
		}, acks: []string{"a1"}, wantAcks: 0, wantPend: "a2"},
		{name: "ack of an attempt still running", setup: func(t *testing.T, dir string) {
			appendResult(t, dir, res("a1"))
			appendLines(t, dir, "start a2\n")
		}, acks: []string{"a1", "a2"}, wantAcks: 0},
		{name: "ack of an unknown attempt", setup: func(t *testing.T, dir string) { appendResult(t, dir, res("a1")) },
			acks: []string{"zz"}, wantAcks: 0, wantPend: "a1"},
		{name: "no journal", setup: func(t *testing.T, dir string) {}, acks: []string{"a1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, dir := newTaskDir(t)
			tt.setup(t, dir)
			for _, id := range tt.acks {
				if err := l.AckResult("j", "t", id); err != nil {
					t.Fatalf("AckResult(%s): %v", id, err)
				}
			}
			data, _ := os.ReadFile(filepath.Join(dir, journalFile))
			if n := len(ackLine.FindAll(data, -1)); n != tt.wantAcks {
				t.Errorf("journal %q has %d whole ack lines, want %d", data, n, tt.wantAcks)
			}
			ids := pendingAttempts(t, l)
			if want := slices.DeleteFunc([]string{tt.wantPend}, func(s string) bool { return s == "" }); !slices.Equal(ids, want) {
				t.Errorf("PendingResults = %q, want %q", ids, want)
			}
			if got, ok, err := l.ReadResult("j", "t"); err != nil || ok && got.Acknowledged != tt.wantAcked {
				t.Errorf("ReadResult = %+v, %v, %v; want acknowledged %v", got, ok, err, tt.wantAcked)
			}
		})
	}
}
