package systest

import (
	"testing"

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
