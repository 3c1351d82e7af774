package systest

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"corral/actor"
)

// Bug is a failure the tester found: an actor or monitor that failed, a liveness violation, a
// handler that blocked, or a replay that diverged.
type Bug struct {
	Kind    string   // an actor.Fail* kind, or "nondeterminism" or "setup"
	Message string   // what went wrong
	Actor   actor.ID // where, when an actor failed
	Monitor string   // where, when a monitor failed: the monitor's name (see MonitorNamer)
	Type    string   // the actor's or monitor's type
	State   string
	Event   string
	Stack   string // for panics

	// HotStep is, for a liveness bug, the step at which the monitor entered the hot state it
	// never left: where to look for the cause.
	HotStep int
	// LivenessThreshold is how many fair steps a monitor could stay hot before that counted as a
	// liveness bug (Config.LivenessThreshold, by default MaxSteps/2).
	LivenessThreshold int
	// LivenessPrefix is, for a liveness bug shrunk by prefix, how many steps of the failing run
	// the shrunk trace keeps: after them, fair continuations of the run never left the hot state.
	LivenessPrefix int

	Step      int    // the step at which it happened (after shrinking)
	Iteration int    // the iteration that found it
	Strategy  string // the strategy of that iteration
	Seed      uint64 // that iteration's seed
	HuntSeed  uint64 // the hunt's seed
	Package   string // import path of the test's package, for the replay command ("" outside a test)

	ShrunkFrom  int    // steps before shrinking, 0 if not shrunk
	Trace       *Trace // the (shrunk) run
	TracePath   string // where the trace file was written
	DiagramPath string // where the Mermaid diagram was written
	Replay      string // how the replay check went, if it did not reproduce exactly
}

// Summary is the bug in one line.
func (b *Bug) Summary() string {
	where := ""
	switch {
	case b.Actor != "":
		where = fmt.Sprintf(" in actor %s (%s), state %s, handling %s", b.Actor, b.Type, b.State, b.Event)
	case b.Monitor != "" && b.Monitor != b.Type:
		where = fmt.Sprintf(" in monitor %s (%s), state %s", b.Monitor, b.Type, b.State)
	case b.Type != "":
		where = fmt.Sprintf(" in monitor %s, state %s", b.Type, b.State)
	}
	return fmt.Sprintf("%s%s: %s", b.Kind, where, b.Message)
}

// signature identifies "the same bug" when shrinking: kind, where, and the message with its
// numbers blurred (a smaller run may find the same bug in term 2 instead of term 5).
func (b *Bug) signature() string {
	return b.Kind + "|" + b.Type + "|" + b.Monitor + "|" + digits.ReplaceAllString(b.Message, "#")
}

var digits = regexp.MustCompile(`[0-9]+`)

// Report is the outcome of a hunt. The hunt proper (Iterations, Steps, Elapsed) is counted apart
// from the work done on a bug it found (shrinking and the replay check: FinishSteps,
// FinishElapsed), so that StepsPerSecond measures the search alone.
type Report struct {
	Bug        *Bug // nil if none was found
	Iterations int
	Steps      int64         // steps of the hunt's iterations
	Elapsed    time.Duration // wall-clock time of the hunt's iterations
	// FinishSteps and FinishElapsed are what shrinking the bug, checking that its trace replays
	// and writing the trace cost; zero when no bug was found.
	FinishSteps   int64
	FinishElapsed time.Duration
	Strategy      string
	Seed          uint64
	Exhausted     bool      // a DFS hunt explored every choice within the step bound
	Coverage      *Coverage // nil with Config.NoCoverage
	// LivenessThreshold is the number of fair steps a monitor could stay hot before it counted
	// as a liveness bug (Config.LivenessThreshold, by default MaxSteps/2).
	LivenessThreshold int
}

// StepsPerSecond is the hunt's throughput: Steps over Elapsed, without shrinking and replay.
func (r *Report) StepsPerSecond() float64 {
	return float64(r.Steps) / max(r.Elapsed.Seconds(), 1e-9)
}

// Text is the full report of a bug: what, where, how to replay, and the last steps.
func (b *Bug) Text() string {
	var s strings.Builder
	fmt.Fprintf(&s, "systest found a bug: %s\n", b.Summary())
	fmt.Fprintf(&s, "  strategy %s, iteration %d, step %d, iteration seed %d, hunt seed %d\n", b.Strategy, b.Iteration, b.Step, b.Seed, b.HuntSeed)
	if b.ShrunkFrom > 0 {
		fmt.Fprintf(&s, "  shrunk from %d steps to %d", b.ShrunkFrom, b.Step)
		if b.Trace != nil {
			fmt.Fprintf(&s, " (%d faults left)", b.Trace.Faults())
		}
		s.WriteString("\n")
	}
	if b.LivenessPrefix > 0 {
		fmt.Fprintf(&s, "  the first %d steps of the failing run decide it: random fair continuations after them never leave the hot state\n", b.LivenessPrefix)
	}
	if b.Replay != "" {
		fmt.Fprintf(&s, "  WARNING: %s\n", b.Replay)
	}
	if b.TracePath != "" {
		fmt.Fprintf(&s, "  trace:   %s\n", b.TracePath)
		if b.DiagramPath != "" {
			fmt.Fprintf(&s, "  diagram: %s (Mermaid)\n", b.DiagramPath)
		}
		if b.Trace != nil && b.Trace.Test == runName {
			s.WriteString("  replay:  systest.Replay(cfg, trace, setup) with the trace from systest.ReadTraceFile (recorded by systest.Run, outside a test)\n")
		} else {
			fmt.Fprintf(&s, "  replay:  %s\n", b.ReplayCommand())
		}
	}
	if b.Kind == actor.FailLiveness {
		if b.fairSteps() {
			fmt.Fprintf(&s, "  liveness threshold: %d fair steps (%s); a property that may take longer to hold needs a larger one\n", b.LivenessThreshold, thresholdOrigin)
		}
		fmt.Fprintf(&s, "  the monitor went hot at step %d", b.HotStep)
		if b.Trace != nil && b.HotStep >= 0 && b.HotStep < len(b.Trace.account) {
			fmt.Fprintf(&s, ":\n    %s", strings.ReplaceAll(b.Trace.account[b.HotStep], "\n", "\n    "))
		}
		s.WriteString("\n")
	}
	if b.Trace != nil && len(b.Trace.account) > 0 {
		acc := b.Trace.account
		from := max(0, len(acc)-25)
		fmt.Fprintf(&s, "  last %d of %d steps:\n", len(acc)-from, len(acc))
		for _, line := range acc[from:] {
			fmt.Fprintf(&s, "    %s\n", strings.ReplaceAll(line, "\n", "\n    "))
		}
	}
	if b.Stack != "" {
		fmt.Fprintf(&s, "  stack:\n%s\n", b.Stack)
	}
	return s.String()
}

// ReplayCommand is the shell command that replays the bug's trace under its test. It names the
// test's package by import path, so it works from any directory of the module.
func (b *Bug) ReplayCommand() string {
	pkg := b.Package
	if pkg == "" {
		pkg = "."
	}
	return fmt.Sprintf("SYSTEST_REPLAY=%s go test -run '^%s$' %s", b.TracePath, testRunPattern(b), pkg)
}

func testRunPattern(b *Bug) string {
	if b.Trace == nil {
		return ""
	}
	name, _, _ := strings.Cut(b.Trace.Test, "/")
	return regexp.QuoteMeta(name)
}

// watch lets the watchdog see which handler is running. The worker writes the fields, then bumps
// seq (odd: in a handler); the watchdog reads seq and, only if it has not moved for the whole
// watchdog period, the fields.
type watch struct {
	seq   atomic.Uint64
	actor actor.ID
	typ   string
	state string
	ev    reflect.Type
}

func (w *watch) begin(in *actor.Instance, rec *stepRec) {
	if w == nil {
		return
	}
	w.actor, w.typ, w.state, w.ev = rec.actor, in.Type(), in.State(), rec.ev
	w.seq.Add(1)
}

func (w *watch) end() {
	if w != nil {
		w.seq.Add(1)
	}
}

func (w *watch) blocked(d time.Duration) *Bug {
	ev := "<entry>"
	if w.ev != nil {
		ev = actor.TypeName(w.ev)
	}
	return &Bug{Kind: actor.FailBlocked, Actor: w.actor, Type: w.typ, State: w.state, Event: ev,
		Message: fmt.Sprintf("handler did not return within %v: it blocks on something the tester does not control (a channel, a lock, a sleep, I/O)", d)}
}

// runName is the test name of traces recorded by Run.
const runName = "systest.Run"

// Run hunts for bugs in the program that setup builds, with cfg's budget (flags and environment
// variables do not apply; see Test). It returns when it finds a bug or the budget is spent.
func Run(cfg Config, setup func(*Sim)) (*Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return supervise(&cfg, runName, setup)
}

// Test hunts for bugs in the program that setup builds and fails t with a full report (seed,
// strategy, steps, the trace file and how to replay it) if it finds one. Flags and environment
// variables (see Flags) override cfg. With SYSTEST_REPLAY set, it replays that trace instead, if
// the trace was recorded by this test.
func Test(t testing.TB, cfg Config, setup func(*Sim)) *Report {
	t.Helper()
	cfg, err := cfg.withOverrides()
	if err != nil {
		t.Fatal(err)
	}
	if path := replayPath(); path != "" {
		tr, err := ReadTraceFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if tr.Test != t.Name() {
			t.Skipf("systest: replaying %s, recorded by %s", path, tr.Test)
		}
		rep := Replay(cfg, tr, setup)
		if rep.Bug != nil {
			rep.Bug.Package, rep.Bug.TracePath = testPackage(), path
		}
		if rep.Bug == nil {
			t.Fatalf("systest: replay of %s finished %d steps without the bug it recorded (%s)", path, rep.Steps, tr.Bug)
		}
		t.Fatalf("systest: replayed %s\n%s", path, rep.Bug.Text())
		return rep
	}
	rep, err := supervise(&cfg, t.Name(), setup)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Bug != nil {
		rep.Bug.Package = testPackage()
		t.Fatal(rep.Bug.Text())
		return rep
	}
	t.Logf("systest: %s, seed %d: %d iterations, %d steps, no bug (%.0f steps/s; liveness threshold %d fair steps)%s",
		rep.Strategy, rep.Seed, rep.Iterations, rep.Steps, rep.StepsPerSecond(), rep.LivenessThreshold, exhaustedNote(rep))
	if rep.Coverage != nil {
		t.Logf("systest: %s", rep.Coverage)
		if *Flags.Coverage || envBool("SYSTEST_COVERAGE") {
			t.Logf("systest: coverage details:\n%s", rep.Coverage.Details())
		}
	}
	return rep
}

func exhaustedNote(rep *Report) string {
	if rep.Exhausted {
		return "; dfs explored every schedule within the step bound"
	}
	return ""
}

func replayPath() string {
	if *Flags.Replay != "" {
		return *Flags.Replay
	}
	return os.Getenv("SYSTEST_REPLAY")
}

// supervise runs the hunt on a goroutine of its own and watches it: a handler that does not
// return within the watchdog period is reported as blocked (its goroutine is left behind).
func supervise(cfg *Config, test string, setup func(*Sim)) (*Report, error) {
	w := &watch{}
	done := make(chan *Report, 1)
	go func() { done <- hunt(cfg, test, setup, w) }()
	poll := min(cfg.Watchdog/10, 100*time.Millisecond)
	ticker := time.NewTicker(poll)
	defer ticker.Stop()
	last, since := w.seq.Load(), time.Now()
	for {
		select {
		case rep := <-done:
			return rep, nil
		case now := <-ticker.C:
			seq := w.seq.Load()
			if seq != last || seq%2 == 0 {
				last, since = seq, now
				continue
			}
			if now.Sub(since) >= cfg.Watchdog {
				bug := w.blocked(cfg.Watchdog)
				bug.Strategy, bug.HuntSeed = cfg.Strategy, cfg.Seed
				return &Report{Bug: bug, Strategy: cfg.Strategy, Seed: cfg.Seed}, nil
			}
		}
	}
}

func hunt(cfg *Config, test string, setup func(*Sim), w *watch) *Report {
	strat, err := newStrategy(cfg.Strategy, *cfg)
	if err != nil {
		return &Report{Bug: &Bug{Kind: "setup", Message: err.Error()}}
	}
	rep := &Report{Strategy: cfg.Strategy, Seed: cfg.Seed, LivenessThreshold: cfg.LivenessThreshold}
	var cov *coverage
	if !cfg.NoCoverage {
		cov = newCoverage()
	}
	start := time.Now()
	verbose := *Flags.Verbose || envBool("SYSTEST_V")
	var prev *Sim
	for i := 0; i < cfg.Iterations; i++ {
		if cfg.Timeout > 0 && time.Since(start) > cfg.Timeout {
			break
		}
		seed := mix(cfg.Seed, i)
		if !strat.begin(i, seed) {
			rep.Exhausted = true
			break
		}
		sim := newSim(cfg, strat, w, cov)
		sim.reuse(prev)
		sim.run(setup)
		prev = sim
		rep.Iterations++
		rep.Steps += int64(sim.step)
		if verbose {
			fmt.Fprintf(os.Stderr, "systest: %s iteration %d (%s): %d steps\n", test, i, strat.name(), sim.step)
		}
		if sim.bug != nil {
			rep.Elapsed = time.Since(start)
			fin := &finishCost{start: time.Now()}
			rep.Bug = finish(cfg, test, setup, sim, i, seed, w, fin)
			rep.FinishSteps, rep.FinishElapsed = fin.steps, time.Since(fin.start)
			break
		}
	}
	if rep.Bug == nil {
		rep.Elapsed = time.Since(start)
	}
	if cov != nil {
		rep.Coverage = cov.report()
	}
	return rep
}

// finishCost counts what finishing a bug costs, apart from the hunt.
type finishCost struct {
	start time.Time
	steps int64
}

// finish shrinks a failing run, checks that its trace replays, and writes the trace and diagram.
func finish(cfg *Config, test string, setup func(*Sim), sim *Sim, iter int, seed uint64, w *watch, cost *finishCost) *Bug {
	bug := sim.bug
	bug.Iteration, bug.Seed, bug.HuntSeed, bug.Strategy = iter, seed, cfg.Seed, sim.strat.name()
	original := sim.step
	prefix := 0
	switch {
	case cfg.NoShrink:
	case bug.fairSteps():
		if smaller, k := shrinkLiveness(cfg, setup, sim, seed, w, cost); smaller != nil {
			sim, prefix = smaller, k
		}
	case shrinkable(bug):
		if smaller := shrink(cfg, setup, sim, w, cost); smaller != nil {
			sim = smaller
		}
	}
	final := sim.bug
	final.Iteration, final.Seed, final.HuntSeed, final.Strategy = iter, seed, cfg.Seed, bug.Strategy
	final.Step, final.LivenessThreshold, final.LivenessPrefix = sim.step, cfg.LivenessThreshold, prefix
	if sim.step < original {
		final.ShrunkFrom = original
	}
	tr := sim.trace(test, iter, seed, cfg.Seed)
	tr.Strategy = bug.Strategy
	tr.Shrunk = final.ShrunkFrom
	final.Trace = tr
	// Replay the trace we are about to hand out: it must reproduce the bug step for step.
	if final.Kind != "nondeterminism" {
		check := Replay(*cfg, tr, setup)
		cost.steps += check.Steps
		switch {
		case check.Bug == nil:
			final.Replay = "replaying the trace did not reproduce the bug: the program is not deterministic under the tester"
		case check.Bug.Kind == "nondeterminism":
			final.Replay = check.Bug.Message
		case check.Bug.signature() != final.signature() || check.Bug.Step != final.Step:
			final.Replay = fmt.Sprintf("replaying the trace gave a different outcome (%s at step %d): the program is not deterministic under the tester", check.Bug.Summary(), check.Bug.Step)
		}
	}
	if err := os.MkdirAll(cfg.TraceDir, 0o755); err == nil {
		base := filepath.Join(cfg.TraceDir, fmt.Sprintf("%s-%s-%d-%d", sanitize(test), sanitize(cfg.Strategy), cfg.Seed, iter))
		if tr.WriteFile(base+".trace") == nil {
			final.TracePath = base + ".trace"
		}
		if os.WriteFile(base+".mmd", []byte(sim.mermaid()), 0o644) == nil {
			final.DiagramPath = base + ".mmd"
		}
	}
	return final
}

// shrinkable reports whether a bug can be shrunk by [shrink]. A candidate run follows the failing
// run's choices where it can and takes the first enabled operation where it cannot: a legal run,
// but not a fair one, so a liveness bug judged by the fair-step threshold could appear in it only
// because the candidate starved someone. Those are shrunk by [shrinkLiveness] instead. A monitor
// left hot when nothing more can happen is a bug in any legal run, so those shrink here.
func shrinkable(b *Bug) bool {
	switch {
	case b.Kind == "nondeterminism", b.Kind == "setup", b.Kind == actor.FailBlocked:
		return false
	case b.fairSteps():
		return false
	}
	return true
}

// fairSteps reports whether b is a liveness bug judged by the threshold of fair steps (rather
// than a monitor left hot when nothing more could happen).
func (b *Bug) fairSteps() bool {
	return b.Kind == actor.FailLiveness && strings.Contains(b.Message, "fair steps")
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func sanitize(s string) string { return unsafeName.ReplaceAllString(s, "_") }

// Replay runs a recorded trace again, choice for choice, and checks at every step that the
// program does what the trace says it did. A run that cannot follow the trace ends with a bug of
// kind "nondeterminism" naming the step where it diverged.
func Replay(cfg Config, tr *Trace, setup func(*Sim)) *Report {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return &Report{Bug: &Bug{Kind: "setup", Message: err.Error()}}
	}
	cfg.MaxSteps = max(cfg.MaxSteps, tr.Steps+1)
	if tr.LivenessThreshold > 0 {
		cfg.LivenessThreshold = tr.LivenessThreshold
	}
	strat := &replayStrategy{label: tr.Strategy, unfair: tr.Unfair, choices: tr.choices}
	strat.begin(0, 0)
	sim := newSim(&cfg, strat, nil, nil)
	sim.expect = tr.expect
	if sim.expect == nil {
		sim.expect = []string{}
	}
	sim.run(setup)
	rep := &Report{Iterations: 1, Steps: int64(sim.step), Strategy: tr.Strategy, Seed: tr.HuntSeed, LivenessThreshold: cfg.LivenessThreshold}
	if sim.bug != nil {
		b := sim.bug
		b.Step, b.Iteration, b.Seed, b.HuntSeed, b.Strategy = sim.step, tr.Iteration, tr.Seed, tr.HuntSeed, tr.Strategy
		b.LivenessThreshold = cfg.LivenessThreshold
		b.Trace = sim.trace(tr.Test, tr.Iteration, tr.Seed, tr.HuntSeed)
		rep.Bug = b
	}
	return rep
}
