package systest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"corral/actor"
)

func TestFuncPackage(t *testing.T) {
	for _, tt := range []struct{ fn, want string }{
		{"corral/examples/raft.TestFixedPasses", "corral/examples/raft"},
		{"corral/examples/raft.TestFixedPasses.func1", "corral/examples/raft"},
		{"corral/service.(*poolManager).timedOut", "corral/service"},
		{"corral/service_test.TestX", "corral/service_test"},
		{"example.com/a.b/c.TestY", "example.com/a.b/c"},
		{"main.TestZ", "main"},
		{"nodot", ""},
	} {
		if got := funcPackage(tt.fn); got != tt.want {
			t.Errorf("funcPackage(%q) = %q, want %q", tt.fn, got, tt.want)
		}
	}
}

func TestDirImportPath(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("// a module\nmodule example.com/m\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(root, "cmd", "tool")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ dir, want string }{
		{root, "example.com/m"},
		{sub, "example.com/m/cmd/tool"},
		{"relative/dir", ""},
	} {
		if got := dirImportPath(tt.dir); got != tt.want {
			t.Errorf("dirImportPath(%q) = %q, want %q", tt.dir, got, tt.want)
		}
	}
}

// fakeT is a testing.TB that records instead of failing, so that a test can look at what Test
// reports. Its Fatal does not stop the caller; Test returns right after calling it.
type fakeT struct {
	testing.TB
	name  string
	fatal string
	logs  []string
}

func (f *fakeT) Helper()                           {}
func (f *fakeT) Name() string                      { return f.name }
func (f *fakeT) Fatal(args ...any)                 { f.fatal += fmt.Sprint(args...) }
func (f *fakeT) Fatalf(format string, args ...any) { f.fatal += fmt.Sprintf(format, args...) }
func (f *fakeT) Logf(format string, args ...any) {
	f.logs = append(f.logs, fmt.Sprintf(format, args...))
}
func (f *fakeT) Skipf(format string, args ...any) { f.fatal += "SKIP " + fmt.Sprintf(format, args...) }

// The replay command names the test's package by import path, so that it runs from any directory
// of the module, and the trace file's name holds the strategy, so that hunts with different
// strategies keep their traces apart.
func TestReplayCommandAndTraceNames(t *testing.T) {
	dir := t.TempDir()
	names := map[string]bool{}
	for _, strat := range []string{"random", "pct:3", "fair"} {
		ft := &fakeT{TB: t, name: "TestRacers"}
		rep := Test(ft, Config{Iterations: 200, MaxSteps: 100, Strategy: strat, Seed: 7, TraceDir: dir}, racers)
		if rep.Bug == nil {
			t.Fatalf("%s: no bug", strat)
		}
		want := "SYSTEST_REPLAY=" + rep.Bug.TracePath + " go test -run '^TestRacers$' corral/actor/systest"
		if got := rep.Bug.ReplayCommand(); got != want {
			t.Errorf("%s: replay command %q, want %q", strat, got, want)
		}
		if !strings.Contains(ft.fatal, want) {
			t.Errorf("%s: report does not print the replay command:\n%s", strat, ft.fatal)
		}
		base := filepath.Base(rep.Bug.TracePath)
		if !strings.Contains(base, sanitize(strat)) {
			t.Errorf("%s: trace %s does not name the strategy", strat, base)
		}
		names[base] = true
	}
	if len(names) != 3 {
		t.Errorf("three hunts with the same seed wrote %d trace files: %v", len(names), names)
	}
}

// Report.Steps and Report.Elapsed count the hunt alone; shrinking and the replay check are
// counted apart.
func TestReportCountsFinishingApart(t *testing.T) {
	rep, err := Run(Config{Iterations: 200, MaxSteps: 100, Seed: 7, TraceDir: t.TempDir()}, racers)
	if err != nil || rep.Bug == nil {
		t.Fatalf("err=%v bug=%v", err, rep.Bug)
	}
	if rep.Bug.ShrunkFrom == 0 {
		t.Fatal("the bug was not shrunk; the test needs a shrinking run")
	}
	// The hunt's steps are those of the iterations it ran, the last of which found the bug.
	if rep.Steps < int64(rep.Bug.ShrunkFrom) || rep.Steps > int64(rep.Iterations)*100 {
		t.Errorf("Steps = %d for %d iterations ending in a run of %d steps", rep.Steps, rep.Iterations, rep.Bug.ShrunkFrom)
	}
	// Shrinking ran candidates and the replay check ran the final trace once more.
	if rep.FinishSteps < int64(rep.Bug.Step) {
		t.Errorf("FinishSteps = %d, want at least the replay's %d", rep.FinishSteps, rep.Bug.Step)
	}
	if rep.FinishElapsed <= 0 || rep.Elapsed <= 0 {
		t.Errorf("Elapsed %v, FinishElapsed %v: want both positive", rep.Elapsed, rep.FinishElapsed)
	}
	if got, want := rep.StepsPerSecond(), float64(rep.Steps)/rep.Elapsed.Seconds(); got != want {
		t.Errorf("StepsPerSecond = %v, want %v", got, want)
	}
	// Without a bug nothing is finished.
	rep, _ = Run(Config{Iterations: 3, MaxSteps: 100, Seed: 7}, func(s *Sim) { s.Create("a", &racer{}) })
	if rep.Bug != nil || rep.FinishSteps != 0 || rep.FinishElapsed != 0 {
		t.Errorf("no bug, yet FinishSteps %d, FinishElapsed %v", rep.FinishSteps, rep.FinishElapsed)
	}
}

// Every step of a trace shows its virtual time, and the diagram shows every timer: set, and
// fired at the time it expired.
func TestTraceAndDiagramShowVirtualTime(t *testing.T) {
	program := func(s *Sim) {
		s.Create("server", replier{})
		s.Create("client", impatient{})
	}
	rep, err := Run(Config{Iterations: 10, Seed: 1, ClockProbability: 1, TraceDir: t.TempDir()}, program)
	if err != nil || rep.Bug == nil {
		t.Fatalf("err=%v bug=%v", err, rep.Bug)
	}
	account := rep.Bug.Trace.Account()
	for i, line := range account {
		if want := fmt.Sprintf("step %d [+", i); !strings.HasPrefix(line, want) {
			t.Errorf("step %d has no virtual time: %q", i, line)
		}
	}
	diagram, err := os.ReadFile(rep.Bug.DiagramPath)
	if err != nil {
		t.Fatal(err)
	}
	trace := strings.Join(account, "\n")
	for _, tt := range []struct{ where, text, want string }{
		{"trace", trace, "timer: client sets timer systest.timedOut, due +1s (in 1s)"},
		{"trace", trace, "[+1s]: clock: time advances 1s, timer fires systest.timedOut for client"},
		{"trace", trace, "[+1s]: client (impatient) in Wait handles systest.timedOut (timer)"},
		{"diagram", string(diagram), "Note over p2: 2 +0s sets timer systest.timedOut, due +1s (in 1s)"},
		{"diagram", string(diagram), "+1s timer systest.timedOut fires"},
		{"diagram", string(diagram), "Note over p2: 4 +1s timer systest.timedOut\n"},
	} {
		if !strings.Contains(tt.text, tt.want) {
			t.Errorf("%s lacks %q:\n%s", tt.where, tt.want, tt.text)
		}
	}
}

type counted struct{}

// counter announces three counted events.
type counter struct{}

func (counter) Define(m *actor.Machine) {
	m.State("Count", actor.OnEntry(func(ctx *actor.Context) {
		for range 3 {
			ctx.Announce(counted{})
		}
	}))
}

// atMost asserts that it sees at most max counted events; it is hot until it has seen want.
type atMost struct {
	name      string
	max, want int
	n         int
}

func (a *atMost) MonitorName() string { return a.name }

func (a *atMost) Define(m *actor.Machine) {
	m.State("Counting", actor.Temp(actor.Hot), actor.On(func(ctx *actor.Context, _ counted) {
		a.n++
		ctx.Assert(a.n <= a.max, "%d counted, at most %d allowed", a.n, a.max)
		if a.n == a.want {
			ctx.Goto("Enough")
		}
	}), actor.Targets("Enough"))
	m.State("Enough", actor.Temp(actor.Cold), actor.On(func(ctx *actor.Context, _ counted) {
		a.n++
		ctx.Assert(a.n <= a.max, "%d counted, at most %d allowed", a.n, a.max)
	}))
}

// Two instances of one monitor type report under their own names; unnamed ones are numbered.
func TestNamedMonitors(t *testing.T) {
	for _, tt := range []struct {
		name     string
		monitors []*atMost
		summary  string // in the bug's summary; "" for no bug
	}{
		{"named safety", []*atMost{{name: "loose", max: 10, want: 3}, {name: "tight", max: 2, want: 1}},
			"in monitor tight (atMost), state Enough: 3 counted, at most 2 allowed"},
		{"named liveness", []*atMost{{name: "short", max: 10, want: 3}, {name: "long", max: 10, want: 4}},
			"in monitor long (atMost), state Counting: monitor long is in hot state Counting at the end of the run"},
		{"unnamed numbered", []*atMost{{max: 10, want: 3}, {max: 2, want: 1}},
			"in monitor atMost(2) (atMost), state Enough"},
		{"unnamed first", []*atMost{{max: 2, want: 1}, {max: 10, want: 3}},
			"in monitor atMost, state Enough"},
		{"all pass", []*atMost{{name: "a", max: 3, want: 3}, {name: "b", max: 3, want: 2}}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Run(Config{Iterations: 3, Seed: 1, TraceDir: t.TempDir()}, func(s *Sim) {
				for _, m := range tt.monitors {
					m := *m
					if err := s.Monitor(&m); err != nil {
						t.Error(err)
					}
				}
				s.Create("counter", counter{})
			})
			if err != nil {
				t.Fatal(err)
			}
			if tt.summary == "" {
				if rep.Bug != nil {
					t.Fatalf("unexpected bug: %s", rep.Bug.Summary())
				}
				return
			}
			if rep.Bug == nil || !strings.Contains(rep.Bug.Summary(), tt.summary) {
				t.Fatalf("bug %v, want one with %q", rep.Bug, tt.summary)
			}
		})
	}
	// Two monitors may not share a name.
	rep, _ := Run(Config{Iterations: 1, Seed: 1}, func(s *Sim) {
		s.Monitor(&atMost{name: "x"})
		if err := s.Monitor(&atMost{name: "x"}); err == nil || !strings.Contains(err.Error(), "a monitor named x already exists") {
			t.Errorf("second monitor named x: err = %v", err)
		}
	})
	if rep.Bug == nil || !strings.Contains(rep.Bug.Summary(), "in monitor x (atMost)") {
		t.Fatalf("want the first monitor x left hot, got %v", rep.Bug)
	}
}
