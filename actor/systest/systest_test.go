package systest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"corral/actor"
)

type hello struct{ n int }

// racer counts to three by sending itself hellos, then announces that it finished. firstWins
// asserts that a always finishes first: a bug that needs b to be scheduled ahead of a.
type racer struct{}

type winner struct{ who actor.ID }

func (r *racer) Define(m *actor.Machine) {
	m.State("Run",
		actor.OnEntry(func(ctx *actor.Context) { ctx.Send(ctx.Self(), hello{0}) }),
		actor.On(func(ctx *actor.Context, h hello) {
			if h.n == 3 {
				ctx.Announce(winner{ctx.Self()})
				ctx.Goto("Done")
				return
			}
			ctx.Send(ctx.Self(), hello{h.n + 1})
		}))
	m.State("Done")
}

type firstWins struct{ winners []actor.ID }

func (f *firstWins) Define(m *actor.Machine) {
	m.State("Watch", actor.On(func(ctx *actor.Context, w winner) {
		f.winners = append(f.winners, w.who)
		ctx.Assert(f.winners[0] == "a", "b finished first (%v)", f.winners)
	}))
}

func racers(s *Sim) {
	s.Monitor(&firstWins{})
	s.Create("a", &racer{})
	s.Create("b", &racer{})
}

func TestFindsOrderBugAndReplays(t *testing.T) {
	dir := t.TempDir()
	for _, strat := range []string{"random", "pct:3", "fair", "dfs", "portfolio"} {
		t.Run(strat, func(t *testing.T) {
			rep, err := Run(Config{Iterations: 200, MaxSteps: 100, Strategy: strat, Seed: 7, TraceDir: dir}, racers)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Bug == nil {
				t.Fatalf("no bug found in %d iterations", rep.Iterations)
			}
			b := rep.Bug
			if b.Kind != actor.FailAssert || !strings.Contains(b.Message, "b finished first") {
				t.Fatalf("wrong bug: %s", b.Summary())
			}
			if b.Replay != "" {
				t.Fatalf("replay check: %s", b.Replay)
			}
			tr, err := ReadTraceFile(b.TracePath)
			if err != nil {
				t.Fatal(err)
			}
			again := Replay(Config{}, tr, racers)
			if again.Bug == nil || again.Bug.signature() != b.signature() || again.Bug.Step != b.Step {
				t.Fatalf("replay gave %+v, want the same bug at step %d", again.Bug, b.Step)
			}
			if _, err := os.Stat(b.DiagramPath); err != nil {
				t.Fatalf("diagram: %v", err)
			}
		})
	}
}

func TestShrinkRemovesNeedlessSteps(t *testing.T) {
	rep, err := Run(Config{Iterations: 50, MaxSteps: 100, Strategy: "random", Seed: 3, TraceDir: t.TempDir()}, racers)
	if err != nil || rep.Bug == nil {
		t.Fatalf("no bug: %v", err)
	}
	// The shortest failing run: setup registers the monitor, creates a, creates b; b starts and
	// takes its four hellos. 8 steps, failing at step 7.
	if rep.Bug.Step != 7 {
		t.Fatalf("shrunk run fails at step %d; want 7\n%s", rep.Bug.Step, rep.Bug.Text())
	}
}

func TestReplayDetectsNondeterminism(t *testing.T) {
	rep, err := Run(Config{Iterations: 50, MaxSteps: 100, Seed: 3, TraceDir: t.TempDir()}, racers)
	if err != nil || rep.Bug == nil {
		t.Fatalf("no bug: %v", err)
	}
	// The same trace against a program whose actors are named differently cannot be followed.
	other := func(s *Sim) {
		s.Monitor(&firstWins{})
		s.Create("a", &racer{})
		s.Create("c", &racer{})
	}
	got := Replay(Config{}, rep.Bug.Trace, other)
	if got.Bug == nil || got.Bug.Kind != "nondeterminism" {
		t.Fatalf("want nondeterminism, got %+v", got.Bug)
	}
	if !strings.Contains(got.Bug.Message, "diverged") {
		t.Fatalf("message: %s", got.Bug.Message)
	}
}

func TestTraceRoundTrip(t *testing.T) {
	rep, err := Run(Config{Iterations: 50, MaxSteps: 100, Seed: 3, TraceDir: t.TempDir()}, racers)
	if err != nil || rep.Bug == nil {
		t.Fatalf("no bug: %v", err)
	}
	var b strings.Builder
	if _, err := rep.Bug.Trace.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	tr, err := ParseTrace([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	var b2 strings.Builder
	tr.account = rep.Bug.Trace.account // comments are not read back
	tr.WriteTo(&b2)
	if b.String() != b2.String() {
		t.Fatalf("round trip changed the trace:\n%s\n---\n%s", b.String(), b2.String())
	}
	path := filepath.Join(t.TempDir(), "x.trace")
	os.WriteFile(path, []byte("not a trace\n"), 0o644)
	if _, err := ReadTraceFile(path); err == nil {
		t.Fatal("bad file accepted")
	}
}

type pick struct{ key int }

// mapPicker sends, four times, "the first" key of a big map: Go randomizes map iteration, so what it
// sends differs from run to run behind the tester's back.
type mapPicker struct{ keys map[int]bool }

func (p *mapPicker) Define(m *actor.Machine) {
	m.State("Pick", actor.OnEntry(func(ctx *actor.Context) {
		for range 4 {
			for k := range p.keys {
				ctx.Send("sink", pick{k})
				break
			}
		}
	}))
}

// sink fails on the fourth pick: a bug to replay, which needs all four sends.
type sink struct{ n int }

func (s *sink) Define(m *actor.Machine) {
	m.State("Take", actor.On(func(ctx *actor.Context, p pick) {
		s.n++
		ctx.Assert(s.n < 4, "fourth pick (%d)", p.key)
	}))
}

func TestReplayCatchesMapOrder(t *testing.T) {
	program := func(s *Sim) {
		keys := map[int]bool{}
		for k := range 1024 {
			keys[k] = true
		}
		s.Create("sink", &sink{})
		s.Create("picker", &mapPicker{keys: keys})
	}
	rep, err := Run(Config{Iterations: 1, MaxSteps: 200, Seed: 1, NoShrink: true, TraceDir: t.TempDir()}, program)
	if err != nil || rep.Bug == nil {
		t.Fatalf("err=%v bug=%v", err, rep.Bug)
	}
	if !strings.Contains(rep.Bug.Replay, "diverged") {
		t.Fatalf("map-order nondeterminism not reported; replay note %q", rep.Bug.Replay)
	}
}

type early struct{}

// early sends to "late" as soon as it starts.
func (early) Define(m *actor.Machine) {
	m.State("Go", actor.OnEntry(func(ctx *actor.Context) { ctx.Send("late", hello{}) }))
}

type late struct{}

func (late) Define(m *actor.Machine) { m.State("Wait", actor.Ignore[hello]()) }

// Setup is a participant: an actor it creates may run before setup's next call, as under the
// production engine, so a setup that creates a sender before its receiver is a bug the tester finds.
func TestSetupInterleavesWithActors(t *testing.T) {
	rep, err := Run(Config{Iterations: 100, Seed: 1, TraceDir: t.TempDir()}, func(s *Sim) {
		s.Create("early", early{})
		s.Create("late", late{})
	})
	if err != nil {
		t.Fatal(err)
	}
	b := rep.Bug
	if b == nil || b.Kind != actor.FailUnknownID || b.Actor != "early" {
		t.Fatalf("want early's send to the not-yet-created late reported, got %v", b)
	}
	if got := strings.Join(b.Trace.Account(), "\n"); !strings.Contains(got, "setup: Create early") {
		t.Fatalf("trace does not show the setup steps:\n%s", got)
	}
	// In the other order the program is correct.
	rep, _ = Run(Config{Iterations: 100, Seed: 1}, func(s *Sim) {
		s.Create("late", late{})
		s.Create("early", early{})
	})
	if rep.Bug != nil {
		t.Fatal(rep.Bug.Text())
	}
}

func TestProgramReportsSetupErrors(t *testing.T) {
	rep, err := Run(Config{Iterations: 3, Seed: 1}, Program(func(rt actor.Runtime) error {
		if _, err := rt.Create("a", late{}); err != nil {
			return err
		}
		_, err := rt.Create("a", late{}) // a duplicate ID
		return err
	}))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Bug == nil || rep.Bug.Kind != "setup" || !strings.Contains(rep.Bug.Message, "setup failed: ") || !strings.Contains(rep.Bug.Message, "already exists") {
		t.Fatalf("got %v", rep.Bug)
	}
}
