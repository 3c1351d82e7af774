package systest

import (
	"testing"
	"time"

	"corral/actor"
)

type spin struct{}

// spinner handles spins forever by sending itself another: the cheapest possible handler, so the
// benchmark measures the tester's own cost per step.
type spinner struct{}

func (spinner) Define(m *actor.Machine) {
	m.State("Spin",
		actor.OnEntry(func(ctx *actor.Context) { ctx.Send(ctx.Self(), spin{}) }),
		actor.On(func(ctx *actor.Context, _ spin) { ctx.Send(ctx.Self(), spin{}) }))
}

func spinners(n int) func(*Sim) {
	return func(s *Sim) {
		for range n {
			s.Create("", spinner{})
		}
	}
}

// BenchmarkSteps reports the tester's throughput in steps per second on a program of trivial
// handlers (8 actors that each send themselves an event per step), for each strategy.
func BenchmarkSteps(b *testing.B) {
	for _, strat := range []string{"random", "pct:3", "fair"} {
		b.Run(strat, func(b *testing.B) {
			const steps = 10_000
			cfg, err := Config{Iterations: 1, MaxSteps: steps, Strategy: strat, Seed: 1, NoShrink: true, NoCoverage: true}.withDefaults()
			if err != nil {
				b.Fatal(err)
			}
			strategy, _ := newStrategy(strat, cfg)
			b.ResetTimer()
			total := 0
			var prev *Sim
			for i := 0; b.Loop(); i++ {
				strategy.begin(i, uint64(i+1))
				sim := newSim(&cfg, strategy, nil, nil)
				sim.reuse(prev)
				sim.run(spinners(8))
				prev = sim
				if sim.bug != nil {
					b.Fatal(sim.bug.Text())
				}
				total += sim.step
			}
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "steps/s")
		})
	}
}

// directEnv is the least an Env can do: sends go straight into the receiver's mailbox.
type directEnv struct{ actors map[actor.ID]*actor.Instance }

func (d directEnv) Send(from *actor.Instance, to actor.ID, ev actor.Event) {
	d.actors[to].Enqueue(actor.Envelope{From: from.ID(), Event: ev})
}
func (directEnv) Create(*actor.Instance, string, actor.Actor) actor.ID { return "" }
func (directEnv) StartTimer(*actor.Instance, actor.TimerID, time.Duration, time.Duration, actor.Event) {
}
func (directEnv) StopTimer(*actor.Instance, actor.TimerID)   {}
func (directEnv) RandomBool(*actor.Instance) bool            { return false }
func (directEnv) RandomInt(*actor.Instance, int) int         { return 0 }
func (directEnv) Now() time.Time                             { return time.Time{} }
func (directEnv) Announce(*actor.Instance, actor.Event)      {}
func (directEnv) Log(*actor.Instance, string, ...any)        {}
func (directEnv) Transition(*actor.Instance, string, string) {}

// BenchmarkStepsReference is the reference for BenchmarkSteps: the same 8 spinners and 10,000
// steps, each actor stepped in turn with no scheduler, no choices, no records. The ratio of the
// two is the tester's overhead per step.
func BenchmarkStepsReference(b *testing.B) {
	const steps = 10_000
	total := 0
	for b.Loop() {
		env := directEnv{actors: map[actor.ID]*actor.Instance{}}
		var ins []*actor.Instance
		for i := range 8 {
			id := actor.ID("s" + string(rune('0'+i)))
			in, err := actor.NewInstance(env, id, "", spinner{})
			if err != nil {
				b.Fatal(err)
			}
			env.actors[id] = in
			ins = append(ins, in)
		}
		for n := 0; n < steps; n++ {
			if _, f := ins[n%len(ins)].Step(); f != nil {
				b.Fatal(f)
			}
		}
		total += steps
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "steps/s")
}
