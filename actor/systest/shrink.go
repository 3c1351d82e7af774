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
