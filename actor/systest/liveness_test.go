package systest

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"corral/actor"
)

type asked struct{}

// lateAsker waits ten seconds, then asks the server, announcing that it did, and asks again every
// second until it has a reply.
type lateAsker struct{ retry actor.TimerID }

func (c *lateAsker) Define(m *actor.Machine) {
	m.State("Idle",
		actor.OnEntry(func(ctx *actor.Context) { ctx.StartTimer(10*time.Second, wake{"ask"}) }),
		actor.On(func(ctx *actor.Context, _ wake) {
			ctx.Send("server", req{})
			ctx.Announce(asked{})
			c.retry = ctx.StartPeriodicTimer(time.Second, time.Second, tick{})
			ctx.Goto("Asking")
		}), actor.Targets("Asking"))
	m.State("Asking",
		actor.On(func(ctx *actor.Context, _ tick) { ctx.Send("server", req{}) }),
		actor.OnGoto[reply]("Done", func(ctx *actor.Context, _ reply) {
			ctx.CancelTimer(c.retry)
			ctx.Announce(gotReply{})
		}))
	m.State("Done", actor.Ignore[reply](), actor.Ignore[tick]())
}

// wedgingServer decides, on its first request, whether it wedges for ever (one time in ten).
type wedgingServer struct{}

func (wedgingServer) Define(m *actor.Machine) {
	m.State("Fresh", actor.On(func(ctx *actor.Context, _ req) {
		if ctx.RandomInt(10) == 0 {
			ctx.Goto("Wedged")
			return
		}
		ctx.Send("client", reply{})
		ctx.Goto("Serving")
	}), actor.Targets("Wedged", "Serving"))
	m.State("Serving", actor.On(func(ctx *actor.Context, _ req) { ctx.Send("client", reply{}) }))
	m.State("Wedged", actor.Ignore[req]())
}

// answered is hot from the client's question until its reply.
type answered struct{}

func (answered) Define(m *actor.Machine) {
	m.State("Quiet", actor.Temp(actor.Cold), actor.Goto[asked]("Waiting"))
	m.State("Waiting", actor.Temp(actor.Hot), actor.Goto[gotReply]("Done"))
	m.State("Done", actor.Temp(actor.Cold))
}

func wedgeProgram(s *Sim) {
	s.Monitor(answered{})
	s.Create("noise", forever{})
	s.Create("server", wedgingServer{})
	s.Create("client", &lateAsker{})
}

// A liveness bug reports the step at which the monitor went hot, and is shrunk to the shortest
// prefix of the failing run after which fair continuations stay hot: here, up to the step at
// which the server wedged.
func TestLivenessReportsHotStepAndShrinksToPrefix(t *testing.T) {
	for _, strat := range []string{"random", "pct:3", "fair"} {
		t.Run(strat, func(t *testing.T) {
			rep, err := Run(Config{Iterations: 200, MaxSteps: 600, LivenessThreshold: 200, Strategy: strat, Seed: 4, TraceDir: t.TempDir()}, wedgeProgram)
			if err != nil {
				t.Fatal(err)
			}
			b := rep.Bug
			if b == nil || b.Kind != actor.FailLiveness || b.Monitor != "answered" {
				t.Fatalf("want the liveness bug in answered, got %v", b)
			}
			if b.Replay != "" {
				t.Fatal(b.Replay)
			}
			acc := b.Trace.Account()
			if b.HotStep < 0 || b.HotStep >= len(acc) || !strings.Contains(acc[b.HotStep], "client announces systest.asked") {
				t.Fatalf("HotStep %d is not the step that announced the question:\n%s", b.HotStep, b.Text())
			}
			if b.LivenessPrefix == 0 {
				t.Fatalf("not shrunk to a prefix:\n%s", b.Text())
			}
			if last := acc[b.LivenessPrefix-1]; !strings.Contains(last, "server (wedgingServer) in Fresh handles systest.req from client -> Wedged") {
				t.Fatalf("the prefix ends with %q, want the step at which the server wedged:\n%s", last, b.Text())
			}
			text := b.Text()
			for _, want := range []string{
				"the monitor went hot at step " + itoa(b.HotStep) + ":\n    step " + itoa(b.HotStep) + " [+",
				"liveness threshold: 200 fair steps (Config.LivenessThreshold, by default MaxSteps/2)",
				"the first " + itoa(b.LivenessPrefix) + " steps of the failing run decide it",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("report lacks %q:\n%s", want, text)
				}
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// The liveness threshold is explicit: reported in Report and in the bug, and by default half
// of MaxSteps.
func TestLivenessThresholdIsReported(t *testing.T) {
	program := func(s *Sim) {
		s.Monitor(stuck{})
		s.Create("f", forever{})
	}
	for _, tt := range []struct {
		maxSteps, threshold, want int
	}{
		{400, 0, 200},
		{400, 300, 300},
		{0, 0, 1000},
	} {
		rep, err := Run(Config{Iterations: 1, MaxSteps: tt.maxSteps, LivenessThreshold: tt.threshold, Seed: 1, NoShrink: true, TraceDir: t.TempDir()}, program)
		if err != nil || rep.Bug == nil {
			t.Fatalf("err=%v bug=%v", err, rep.Bug)
		}
		if rep.LivenessThreshold != tt.want || rep.Bug.LivenessThreshold != tt.want {
			t.Errorf("MaxSteps %d, LivenessThreshold %d: reported threshold %d (bug %d), want %d",
				tt.maxSteps, tt.threshold, rep.LivenessThreshold, rep.Bug.LivenessThreshold, tt.want)
		}
		if want := "more than " + itoa(tt.want) + " fair steps (Config.LivenessThreshold, by default MaxSteps/2)"; !strings.Contains(rep.Bug.Message, want) {
			t.Errorf("message %q lacks %q", rep.Bug.Message, want)
		}
		if rep.Bug.Step != tt.want {
			t.Errorf("bug at step %d, want %d", rep.Bug.Step, tt.want)
		}
	}
}

// A trace records the liveness threshold it was judged by, and a replay judges by it whatever its
// own configuration says.
func TestReplayKeepsLivenessThreshold(t *testing.T) {
	program := func(s *Sim) {
		s.Monitor(stuck{})
		s.Create("f", forever{})
	}
	rep, err := Run(Config{Iterations: 1, MaxSteps: 400, LivenessThreshold: 100, Seed: 1, TraceDir: t.TempDir()}, program)
	if err != nil || rep.Bug == nil {
		t.Fatalf("err=%v bug=%v", err, rep.Bug)
	}
	tr, err := ReadTraceFile(rep.Bug.TracePath)
	if err != nil {
		t.Fatal(err)
	}
	if tr.LivenessThreshold != 100 {
		t.Fatalf("trace records threshold %d, want 100", tr.LivenessThreshold)
	}
	again := Replay(Config{}, tr, program)
	if again.Bug == nil || again.Bug.Step != rep.Bug.Step || again.Bug.LivenessThreshold != 100 {
		t.Fatalf("replay with the default configuration: %+v, want the bug at step %d judged by 100 fair steps", again.Bug, rep.Bug.Step)
	}
}
