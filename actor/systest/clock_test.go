package systest

import (
	"testing"
	"time"

	"corral/actor"
)

type work struct{ left int }

// slowServer answers a request after working through twenty steps of its own.
type slowServer struct{}

func (slowServer) Define(m *actor.Machine) {
	m.State("Serve",
		actor.On(func(ctx *actor.Context, _ req) { ctx.Send(ctx.Self(), work{20}) }),
		actor.On(func(ctx *actor.Context, w work) {
			if w.left == 0 {
				ctx.Send("client", reply{})
				return
			}
			ctx.Send(ctx.Self(), work{w.left - 1})
		}))
}

// patient asks the server and gives up after ten seconds: a bug if the timeout wins. It also
// keeps a periodic timer of one second, as services keep heartbeats, so that virtual time moves
// in steps of at most a second.
type patient struct{}

func (patient) Define(m *actor.Machine) {
	m.State("Wait",
		actor.OnEntry(func(ctx *actor.Context) {
			ctx.Send("server", req{})
			ctx.StartTimer(10*time.Second, timedOut{})
			ctx.StartPeriodicTimer(time.Second, time.Second, tick{})
		}),
		actor.OnGoto[reply]("Done", nil),
		actor.Ignore[tick](),
		actor.On(func(ctx *actor.Context, _ timedOut) { ctx.Assert(false, "timed out") }))
	m.State("Done", actor.Ignore[timedOut](), actor.Ignore[tick]())
}

// Every strategy weighs a step of virtual time by Config.ClockProbability, PCT in its
// priority-driven prefix too: always-enabled periodic timers must not let time run ten seconds
// ahead of twenty steps of work. Unweighed, the clock is an operation like any other and, under
// PCT, an owner with a priority: the timeout can win.
func TestStrategiesWeighClockSteps(t *testing.T) {
	program := func(s *Sim) {
		s.Create("server", slowServer{})
		s.Create("client", patient{})
	}
	for _, tt := range []struct {
		strategy string
		p        float64
		wantBug  bool
	}{
		{"pct:3", 0, true},
		{"pct:10", 0, true},
		{"pct:3", 0.05, false},
		{"pct:10", 0.05, false},
		{"random", 0.05, false},
		{"fair", 0.05, false},
		{"portfolio", 0.05, false},
	} {
		rep, err := Run(Config{Iterations: 300, MaxSteps: 500, Strategy: tt.strategy, ClockProbability: tt.p, Seed: 1, NoShrink: true, TraceDir: t.TempDir()}, program)
		if err != nil {
			t.Fatal(err)
		}
		if got := rep.Bug != nil; got != tt.wantBug {
			t.Errorf("%s, ClockProbability %g: timeout won = %v, want %v", tt.strategy, tt.p, got, tt.wantBug)
		}
	}
}

func TestWeighClock(t *testing.T) {
	deliver := op{kind: opDeliver, key: "a"}
	ahead := op{kind: opClock, key: "clock", advances: true}
	due := op{kind: opClock, key: "clock"}
	for _, tt := range []struct {
		name   string
		p      float64
		ops    []op
		wantCi int
		take   bool
	}{
		{"unweighed", 0, []op{deliver, ahead}, -1, false},
		{"clock alone", 1, []op{ahead}, -1, false},
		{"no clock", 1, []op{deliver, deliver}, -1, false},
		{"due timer is not weighed", 1, []op{deliver, due}, -1, false},
		{"always", 1, []op{deliver, ahead}, 1, true},
		{"never", 1e-300, []op{ahead, deliver}, 0, false},
	} {
		rc := randomChoices{r: newRNG(1), clock: tt.p}
		ci, take := rc.weighClock(tt.ops)
		if ci != tt.wantCi || take != tt.take {
			t.Errorf("%s: weighClock = %d, %v; want %d, %v", tt.name, ci, take, tt.wantCi, tt.take)
		}
	}
}
