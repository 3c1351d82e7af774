package systest

import (
	"strings"
	"testing"
	"time"

	"corral/actor"
)

type req struct{}
type reply struct{}
type gotReply struct{}

// onceStore is durable state outside the server's host.
type onceStore struct{ done bool }

// onceServer answers one request, persisting that it did before replying. After a restart it
// does not answer again if the store says it already did: correct only if the reply cannot be lost.
type onceServer struct {
	st     *onceStore
	client actor.ID
}

func (o *onceServer) Define(m *actor.Machine) {
	m.State("Serve", actor.On(func(ctx *actor.Context, _ req) {
		if o.st.done {
			return
		}
		o.st.done = true
		ctx.Send(o.client, reply{})
	}))
}

// onceClient asks until it has a reply, retrying every second.
type onceClient struct{ retry actor.TimerID }

func (c *onceClient) Define(m *actor.Machine) {
	m.State("Ask",
		actor.OnEntry(func(ctx *actor.Context) {
			ctx.Send("server", req{})
			c.retry = ctx.StartPeriodicTimer(time.Second, time.Second, tick{})
		}),
		actor.On(func(ctx *actor.Context, _ tick) { ctx.Send("server", req{}) }),
		actor.OnGoto[reply]("Done", func(ctx *actor.Context, _ reply) {
			ctx.CancelTimer(c.retry)
			ctx.Announce(gotReply{})
		}))
	m.State("Done", actor.Ignore[reply](), actor.Ignore[tick]())
}

// replied is hot until the client has its reply.
type replied struct{}

func (replied) Define(m *actor.Machine) {
	m.State("Waiting", actor.Temp(actor.Hot), actor.Goto[gotReply]("Done"))
	m.State("Done", actor.Temp(actor.Cold), actor.Ignore[gotReply]())
}

func onceProgram(s *Sim) {
	st := &onceStore{}
	s.Monitor(replied{})
	s.AddHost("h", func(h actor.Host) error {
		_, err := h.Create("server", &onceServer{st: st, client: "client"})
		return err
	})
	s.Create("client", &onceClient{})
}

func TestCrashBeforeSendsLosesReply(t *testing.T) {
	cfg := Config{Iterations: 300, MaxSteps: 300, LivenessThreshold: 100, Seed: 1}
	// Without faults the program is correct; and the client's retries cover every crash but one.
	rep, err := Run(cfg, onceProgram)
	if err != nil || rep.Bug != nil {
		t.Fatalf("no faults: err=%v bug=%v", err, rep.Bug)
	}
	// The one: a crash after the store write and before the reply left. The server then thinks
	// it has answered and ignores every retry.
	cfg.Faults, cfg.TraceDir = Faults{Crashes: 1, Rate: 0.3}, t.TempDir()
	rep, err = Run(cfg, onceProgram)
	if err != nil {
		t.Fatal(err)
	}
	b := rep.Bug
	if b == nil || b.Kind != actor.FailLiveness || b.Type != "replied" {
		t.Fatalf("want liveness bug in replied, got %v", b)
	}
	if got := b.Trace.Faults(); got != 1 {
		t.Fatalf("shrunk trace keeps %d faults, want exactly the crash", got)
	}
	if !strings.Contains(strings.Join(b.Trace.Account(), "\n"), "before the step's 1 sends left it") {
		t.Fatalf("trace does not show the crash before sends:\n%s", b.Text())
	}
	if b.Replay != "" {
		t.Fatal(b.Replay)
	}
}

type numbered struct{ n int }
type received struct{ n int }

// sequencer sends numbered events from the default host to a receiver on host "far".
type sequencer struct{ count int }

func (q *sequencer) Define(m *actor.Machine) {
	m.State("Send", actor.OnEntry(func(ctx *actor.Context) {
		for i := range q.count {
			ctx.Send("receiver", numbered{i})
		}
	}))
}

type receiver struct{}

func (receiver) Define(m *actor.Machine) {
	m.State("Recv", actor.On(func(ctx *actor.Context, e numbered) { ctx.Announce(received(e)) }))
}

// inOrder asserts that every number arrives once, in order, and is hot until all four have.
type inOrder struct{ next int }

func (o *inOrder) Define(m *actor.Machine) {
	m.State("Check", actor.Temp(actor.Hot), actor.On(func(ctx *actor.Context, r received) {
		ctx.Assert(r.n == o.next, "got %d, want %d", r.n, o.next)
		o.next++
		if o.next == 4 {
			ctx.Goto("All")
		}
	}), actor.Targets("All"))
	m.State("All", actor.Temp(actor.Cold), actor.On(func(ctx *actor.Context, r received) {
		ctx.Assert(false, "got %d after all four", r.n)
	}))
}

func sequence(s *Sim) {
	s.Monitor(&inOrder{})
	s.AddHost("far", func(h actor.Host) error { _, err := h.Create("receiver", receiver{}); return err })
	s.Create("sender", &sequencer{count: 4})
}

func TestLinkFaults(t *testing.T) {
	tests := []struct {
		name   string
		faults Faults
		want   string // in the bug message; "" means no bug
	}{
		{"none", Faults{}, ""},
		{"drop", Faults{Drops: 1}, "got #, want #"},
		{"duplicate", Faults{Duplicates: 1}, "got #, want #"},
		{"delay", Faults{Delays: 1}, "got #, want #"},
		{"partition", Faults{Partitions: 1}, "hot state Check at the end"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.faults.Rate = 0.3
			rep, err := Run(Config{Iterations: 300, MaxSteps: 50, Seed: 2, Faults: tt.faults, TraceDir: t.TempDir()}, sequence)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if rep.Bug != nil {
					t.Fatalf("unexpected bug: %s", rep.Bug.Text())
				}
				return
			}
			if rep.Bug == nil {
				t.Fatalf("%s not found in %d iterations", tt.name, rep.Iterations)
			}
			if got := digits.ReplaceAllString(rep.Bug.Message, "#"); !strings.Contains(got, tt.want) {
				t.Fatalf("bug %q, want %q", rep.Bug.Message, tt.want)
			}
			if f := rep.Bug.Trace.Faults(); f != 1 {
				t.Fatalf("trace has %d faults, want 1:\n%s", f, rep.Bug.Text())
			}
		})
	}
}

type wake struct{ name string }

// sleeper checks virtual time: timers fire in deadline order, never early, and a cancelled
// periodic timer delivers nothing more.
type sleeper struct {
	start  time.Time
	order  []string
	ticks  int
	period actor.TimerID
}

func (z *sleeper) Define(m *actor.Machine) {
	m.State("Wait",
		actor.OnEntry(func(ctx *actor.Context) {
			z.start = ctx.Now()
			ctx.StartTimer(3*time.Second, wake{"3s"})
			ctx.StartTimer(1*time.Second, wake{"1s"})
			z.period = ctx.StartPeriodicTimer(500*time.Millisecond, 500*time.Millisecond, tick{})
		}),
		actor.On(func(ctx *actor.Context, w wake) {
			z.order = append(z.order, w.name)
			want := map[string]time.Duration{"1s": time.Second, "3s": 3 * time.Second}[w.name]
			ctx.Assert(ctx.Now().Sub(z.start) >= want, "timer %s fired early, at %v", w.name, ctx.Now().Sub(z.start))
			ctx.Assert(z.order[0] == "1s", "timers out of order: %v", z.order)
		}),
		actor.On(func(ctx *actor.Context, _ tick) {
			z.ticks++
			ctx.Assert(z.ticks <= 3, "periodic timer ticked after it was cancelled")
			if z.ticks == 3 {
				ctx.CancelTimer(z.period)
			}
		}))
}

type tick struct{}

func TestVirtualTimers(t *testing.T) {
	for _, strat := range []string{"random", "pct:3", "fair", "dfs"} {
		t.Run(strat, func(t *testing.T) {
			rep, err := Run(Config{Iterations: 200, MaxSteps: 100, Strategy: strat, Seed: 5}, func(s *Sim) {
				s.Create("z", &sleeper{})
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Bug != nil {
				t.Fatal(rep.Bug.Text())
			}
		})
	}
}

// forever keeps the program busy with a periodic timer; stuck is hot from the start.
type forever struct{}

func (forever) Define(m *actor.Machine) {
	m.State("Run",
		actor.OnEntry(func(ctx *actor.Context) { ctx.StartPeriodicTimer(time.Second, time.Second, tick{}) }),
		actor.Ignore[tick]())
}

type stuck struct{}

func (stuck) Define(m *actor.Machine) { m.State("Hot", actor.Temp(actor.Hot)) }

func TestLivenessThreshold(t *testing.T) {
	rep, err := Run(Config{Iterations: 1, MaxSteps: 400, LivenessThreshold: 100, Seed: 1}, func(s *Sim) {
		s.Monitor(stuck{})
		s.Create("f", forever{})
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Bug == nil || rep.Bug.Kind != actor.FailLiveness || !strings.Contains(rep.Bug.Message, "more than 100 fair steps") {
		t.Fatalf("want liveness bug after 100 fair steps, got %v", rep.Bug)
	}
	// Under PCT the unfair prefix does not count: with a prefix as long as the run, no bug.
	rep, err = Run(Config{Iterations: 1, MaxSteps: 400, UnfairSteps: 400, LivenessThreshold: 100, Strategy: "pct:3", Seed: 1}, func(s *Sim) {
		s.Monitor(stuck{})
		s.Create("f", forever{})
	})
	if err != nil || rep.Bug != nil {
		t.Fatalf("unfair steps counted toward liveness: %v %v", err, rep.Bug)
	}
}

type blocker struct{ ch chan struct{} }

func (b *blocker) Define(m *actor.Machine) {
	m.State("Wait", actor.On(func(ctx *actor.Context, _ req) { <-b.ch }))
}

func TestWatchdogReportsBlockedHandler(t *testing.T) {
	ch := make(chan struct{})
	defer close(ch) // lets the abandoned hunt goroutine finish
	rep, err := Run(Config{Iterations: 1, Seed: 1, Watchdog: 300 * time.Millisecond}, func(s *Sim) {
		s.Create("blocker", &blocker{ch: ch})
		s.Send("blocker", req{})
	})
	if err != nil {
		t.Fatal(err)
	}
	b := rep.Bug
	if b == nil || b.Kind != actor.FailBlocked || b.Actor != "blocker" || b.State != "Wait" || b.Event != "systest.req" {
		t.Fatalf("want blocked report naming blocker/Wait/systest.req, got %+v", b)
	}
}

func TestCoverage(t *testing.T) {
	rep, err := Run(Config{Iterations: 20, MaxSteps: 100, Seed: 1, NoShrink: true}, func(s *Sim) {
		s.Create("a", &racer{})
		s.Create("b", &racer{})
	})
	if err != nil || rep.Bug != nil {
		t.Fatalf("err=%v bug=%v", err, rep.Bug)
	}
	c := rep.Coverage
	if c.Handlers != 1 || c.HandlersHit != 1 {
		t.Fatalf("handlers %d/%d, want 1/1: %+v", c.HandlersHit, c.Handlers, c)
	}
	if len(c.Undeclared) != 1 || c.Undeclared[0] != "racer: Run -> Done" {
		t.Fatalf("undeclared transitions %v", c.Undeclared)
	}
	rep, _ = Run(Config{Iterations: 5, MaxSteps: 100, Seed: 1}, sequence)
	if rep.Coverage.Handlers != 3 || rep.Coverage.HandlersHit != 2 || rep.Coverage.Transitions != 1 || rep.Coverage.TransitionsHit != 1 {
		t.Fatalf("sequence coverage: %s", rep.Coverage)
	}
	// A declared state and handler that no run reaches is listed.
	rep, _ = Run(Config{Iterations: 5, MaxSteps: 100, Seed: 1}, func(s *Sim) { s.Monitor(replied{}) })
	if got := strings.Join(rep.Coverage.Unreached, ";"); !strings.Contains(got, "replied: Waiting <- systest.gotReply") || !strings.Contains(got, "replied: Waiting -> Done") {
		t.Fatalf("unreached = %q", got)
	}
}

// twoStep actors each start, then handle one event. Setup takes two steps (create x, then y), so
// x's two steps interleave freely with setup's second step and y's two: DFS must try all
// C(5,2) = 10 orders, and then stop.
type twoStep struct{}

func (twoStep) Define(m *actor.Machine) {
	m.State("A",
		actor.OnEntry(func(ctx *actor.Context) { ctx.Send(ctx.Self(), req{}) }),
		actor.On(func(*actor.Context, req) {}))
}

func TestDFSIsExhaustive(t *testing.T) {
	rep, err := Run(Config{Iterations: 1000, MaxSteps: 100, Strategy: "dfs", Seed: 1}, func(s *Sim) {
		s.Create("x", twoStep{})
		s.Create("y", twoStep{})
	})
	if err != nil || rep.Bug != nil {
		t.Fatalf("err=%v bug=%v", err, rep.Bug)
	}
	if !rep.Exhausted || rep.Iterations != 10 {
		t.Fatalf("dfs: exhausted=%v after %d iterations, want 10", rep.Exhausted, rep.Iterations)
	}
}

type flaky struct{ sim *Sim }

func (f flaky) Define(m *actor.Machine) {
	m.State("Call", actor.OnEntry(func(ctx *actor.Context) {
		ctx.Assert(!f.sim.Fail("store.put"), "store.put failed and nothing handles it")
	}))
}

func TestModelFailure(t *testing.T) {
	program := func(s *Sim) { s.Create("caller", flaky{sim: s}) }
	if rep, _ := Run(Config{Iterations: 50, Seed: 1}, program); rep.Bug != nil {
		t.Fatalf("model failed without budget: %v", rep.Bug)
	}
	rep, _ := Run(Config{Iterations: 200, Seed: 1, Faults: Faults{ModelFailures: 1, Rate: 0.5}, TraceDir: t.TempDir()}, program)
	if rep.Bug == nil || !strings.Contains(rep.Bug.Message, "store.put failed") {
		t.Fatalf("want the model failure to surface, got %v", rep.Bug)
	}
	if !strings.Contains(strings.Join(rep.Bug.Trace.Account(), "\n"), "model call fails: store.put") {
		t.Fatalf("trace does not name the failing call:\n%s", rep.Bug.Text())
	}
}

type stray struct{}

func TestUnhandledEventIsABug(t *testing.T) {
	rep, _ := Run(Config{Iterations: 5, Seed: 1, TraceDir: t.TempDir()}, func(s *Sim) {
		s.Create("r", receiver{})
		s.Send("r", stray{})
	})
	b := rep.Bug
	if b == nil || b.Kind != actor.FailUnhandled || b.Actor != "r" || b.State != "Recv" || b.Event != "systest.stray" {
		t.Fatalf("got %+v", b)
	}
}

func TestPCTLivenessBugReplays(t *testing.T) {
	program := func(s *Sim) {
		s.Monitor(stuck{})
		s.Create("f", forever{})
	}
	for _, shrink := range []bool{false, true} {
		rep, err := Run(Config{Iterations: 1, MaxSteps: 100, Strategy: "pct:3", Seed: 1, NoShrink: !shrink, TraceDir: t.TempDir()}, program)
		if err != nil || rep.Bug == nil {
			t.Fatalf("err=%v bug=%v", err, rep.Bug)
		}
		if rep.Bug.Replay != "" {
			t.Fatalf("shrink=%v: %s", shrink, rep.Bug.Replay)
		}
		// The unfair prefix (10 steps) does not count: hot for 50 fair steps ends at step 60.
		// Shrunk, no prefix is needed (the monitor is hot from the start whatever happens), and
		// every step of the random continuation is fair: the bug shows at step 50.
		want := 60
		if shrink {
			want = 50
		}
		if rep.Bug.Step != want {
			t.Fatalf("shrink=%v: bug at step %d, want %d", shrink, rep.Bug.Step, want)
		}
	}
}

type evX struct{}
type evY struct{}

type deferrer struct{}

func (deferrer) Define(m *actor.Machine) {
	m.State("A", actor.Defer[evX](), actor.Goto[evY]("B"))
	m.State("B", actor.Ignore[evX]())
}

func TestCoverageCountsDeferrals(t *testing.T) {
	rep, err := Run(Config{Iterations: 10, Seed: 1}, func(s *Sim) {
		s.Create("d", deferrer{})
		s.Send("d", evX{})
		s.Send("d", evY{})
	})
	if err != nil || rep.Bug != nil {
		t.Fatalf("err=%v bug=%v", err, rep.Bug)
	}
	if c := rep.Coverage; c.HandlersHit != c.Handlers || c.TransitionsHit != c.Transitions {
		t.Fatalf("%s; unreached %v", c, c.Unreached)
	}
}

type timedOut struct{}

// impatient asks the server for a reply and gives up after a second: a bug if the timeout wins.
type impatient struct{}

func (impatient) Define(m *actor.Machine) {
	m.State("Wait",
		actor.OnEntry(func(ctx *actor.Context) {
			ctx.Send("server", req{})
			ctx.StartTimer(time.Second, timedOut{})
		}),
		actor.OnGoto[reply]("Done", nil),
		actor.On(func(ctx *actor.Context, _ timedOut) { ctx.Assert(false, "timed out") }))
	m.State("Done", actor.Ignore[timedOut]())
}

type replier struct{}

func (replier) Define(m *actor.Machine) {
	m.State("Serve", actor.On(func(ctx *actor.Context, _ req) { ctx.Send("client", reply{}) }))
}

func TestClockProbability(t *testing.T) {
	program := func(s *Sim) {
		s.Create("server", replier{})
		s.Create("client", impatient{})
	}
	for _, tt := range []struct {
		p       float64
		wantBug bool
	}{
		{0, true},      // the clock is an operation like any other: the timeout often wins
		{1, true},      // time advances whenever it can: the timeout always wins
		{1e-12, false}, // time advances only when nothing else can happen: the reply always wins
	} {
		rep, err := Run(Config{Iterations: 200, Seed: 1, ClockProbability: tt.p, NoShrink: true, TraceDir: t.TempDir()}, program)
		if err != nil {
			t.Fatal(err)
		}
		if got := rep.Bug != nil; got != tt.wantBug {
			t.Errorf("ClockProbability %g: bug found = %v, want %v", tt.p, got, tt.wantBug)
		}
		if tt.p == 1 && rep.Bug != nil && rep.Bug.Iteration != 0 {
			t.Errorf("ClockProbability 1: bug first in iteration %d, want 0", rep.Bug.Iteration)
		}
	}
	if _, err := Run(Config{ClockProbability: 2}, program); err == nil {
		t.Error("ClockProbability 2 accepted")
	}
}

func TestCrashHostsLimitsCrashes(t *testing.T) {
	// The one-reply bug needs a crash of host h; with only another host allowed to crash, it is
	// out of reach.
	cfg := Config{Iterations: 300, MaxSteps: 300, LivenessThreshold: 100, Seed: 1,
		Faults: Faults{Crashes: 1, Rate: 0.3, CrashHosts: []string{"elsewhere"}}}
	if rep, _ := Run(cfg, onceProgram); rep.Bug != nil {
		t.Fatalf("host h crashed though only elsewhere may: %s", rep.Bug.Text())
	}
	cfg.Faults.CrashHosts, cfg.TraceDir = []string{"h"}, t.TempDir()
	if rep, _ := Run(cfg, onceProgram); rep.Bug == nil {
		t.Fatal("crash of h not found")
	}
}
