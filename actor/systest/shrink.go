package systest

// shrink looks for a smaller run with the same bug: first without each fault, then without chunks
// of scheduling choices (delta debugging, halving the chunk size). A candidate is run by the guided
// strategy, which follows the choices it can and takes the first option where it cannot; it is
// kept if it ends with the same bug and fewer faults, or as many faults and fewer steps. It
// returns the smallest run found, or nil if none beat the original.
func shrink(cfg *Config, setup func(*Sim), orig *Sim, w *watch, cost *finishCost) *Sim {
	sig := orig.bug.signature()
	budget := cfg.ShrinkBudget
	var best *Sim
	cur := orig
	try := func(want []choice) bool {
		if budget <= 0 {
			return false
		}
		budget--
		g := &guidedStrategy{want: want, unfair: orig.strat.unfairSteps()}
		g.begin(0, 0)
		sim := newSim(cfg, g, w, nil)
		sim.run(setup)
		cost.steps += int64(sim.step)
		if sim.bug == nil || sim.bug.signature() != sig || !smaller(sim, cur) {
			return false
		}
		cur, best = sim, sim
		return true
	}

	// Faults first: a run without a fault it does not need is easier to understand.
	for i := 0; i < len(cur.choices) && budget > 0; i++ {
		c := cur.choices[i]
		if c.kind != choiceFault || c.v == 0 {
			continue
		}
		cand := append([]choice(nil), cur.choices...)
		cand[i].v = 0
		try(cand)
	}

	// Then scheduling: drop chunks of the choice list, big ones first.
	for chunk := len(cur.choices) / 2; chunk >= 1 && budget > 0; chunk /= 2 {
		for start := 0; start < len(cur.choices) && budget > 0; {
			end := min(start+chunk, len(cur.choices))
			cand := make([]choice, 0, len(cur.choices)-(end-start))
			cand = append(cand, cur.choices[:start]...)
			cand = append(cand, cur.choices[end:]...)
			if !try(cand) {
				start += chunk
			}
		}
	}
	return best
}

// smaller orders runs for shrinking: fewer faults, then fewer steps.
func smaller(a, b *Sim) bool {
	fa, fb := faultCount(a.choices), faultCount(b.choices)
	if fa != fb {
		return fa < fb
	}
	return a.step < b.step
}

func faultCount(cs []choice) int {
	n := 0
	for _, c := range cs {
		if c.kind == choiceFault && c.v != 0 {
			n++
		}
	}
	return n
}

// livenessSeeds is how many fair continuations a liveness prefix must fail in to be kept.
const livenessSeeds = 3

// shrinkLiveness shrinks a liveness bug judged by the fair-step threshold to the shortest prefix of
// the failing run that decides it: a prefix of k steps is kept if, after following the run's
// choices for those k steps, each of a few random, fair continuations (no faults, the configured
// clock weight) stays in the same hot state past the threshold too. The search is a binary search
// on k, which assumes that a prefix that decides the bug still decides it when extended. It
// returns the shortest such continuation and k, or nil if no shorter prefix than the whole run was
// found. The continuation's steps count as fair: liveness is judged from the end of the prefix, or
// from the end of the original run's unfair steps if that comes first.
func shrinkLiveness(cfg *Config, setup func(*Sim), orig *Sim, seed uint64, w *watch, cost *finishCost) (*Sim, int) {
	sig := orig.bug.signature()
	// sched[k] is the index in orig.choices of step k's schedule choice; sched[steps] the end.
	var sched []int
	for i, c := range orig.choices {
		if c.kind == choiceSchedule {
			sched = append(sched, i)
		}
	}
	sched = append(sched, len(orig.choices))
	budget := cfg.ShrinkBudget
	decides := func(k int) *Sim {
		var shortest *Sim
		for j := range livenessSeeds {
			if budget <= 0 {
				return nil
			}
			budget--
			p := &prefixStrategy{want: orig.choices[:sched[k]], unfair: min(k, orig.strat.unfairSteps()),
				randomChoices: randomChoices{clock: cfg.ClockProbability}}
			p.begin(0, mix(seed, k*livenessSeeds+j))
			sim := newSim(cfg, p, w, nil)
			sim.run(setup)
			cost.steps += int64(sim.step)
			if sim.bug == nil || sim.bug.signature() != sig {
				return nil
			}
			if shortest == nil || sim.step < shortest.step {
				shortest = sim
			}
		}
		return shortest
	}
	lo, hi := 0, len(sched)-1 // the whole run (hi steps) decides the bug
	var best *Sim
	bestK := hi
	for lo < hi {
		mid := lo + (hi-lo)/2
		if sim := decides(mid); sim != nil {
			hi, best, bestK = mid, sim, mid
		} else {
			if budget <= 0 {
				break
			}
			lo = mid + 1
		}
	}
	if best == nil {
		return nil, 0
	}
	return best, bestK
}
