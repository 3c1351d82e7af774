package heartbeat

import (
	"fmt"
	"time"

	"corral/actor"
	"corral/actor/systest"
)

// params are the sizes and times of the program.
type params struct {
	nodes      int           // nodes watched
	victims    int           // nodes the driver crashes (the first ones)
	probeTicks int           // ticks of a probe timeout
	restTicks  int           // ticks of the rest between rounds
	maxMissed  int           // rounds in a row a node may miss before it is declared failed
	tick       time.Duration // the timer's tick
}

var defaults = params{
	nodes:      3,
	victims:    2,
	probeTicks: 14,
	restTicks:  1,
	maxMissed:  2,
	tick:       time.Millisecond,
}

// Setup builds the program on rt: the liveness monitor, the nodes node-1 to node-3, the driver,
// the timer and the detector, all on the default host. With bug set, the detector has the planted
// bug described in the package documentation. Setup works on any runtime: the production
// actor.Engine or the tester's systest.Sim.
func Setup(rt actor.Runtime, bug bool) error {
	return setup(rt, defaults, bug)
}

func setup(rt actor.Runtime, p params, bug bool) error {
	const (
		detectorID actor.ID = "detector"
		timerID    actor.ID = "timer"
		driverID   actor.ID = "driver"
	)
	if err := rt.Monitor(&liveness{}); err != nil {
		return err
	}
	nodes := make([]actor.ID, p.nodes)
	for i := range nodes {
		nodes[i] = actor.ID(fmt.Sprintf("node-%d", i+1))
		if _, err := rt.Create(string(nodes[i]), &node{detector: detectorID}); err != nil {
			return err
		}
	}
	// Under the production engine an actor starts running as soon as it is created, so every
	// actor must exist before one that may send to it: the detector, which starts probing at
	// once, comes last. (Nodes and the timer send only in answer to the detector.)
	if _, err := rt.Create(string(driverID), &driver{victims: nodes[:p.victims]}); err != nil {
		return err
	}
	if _, err := rt.Create(string(timerID), &timer{owner: detectorID, tick: p.tick}); err != nil {
		return err
	}
	_, err := rt.Create(string(detectorID), newDetector(nodes, timerID, driverID, p, bug))
	return err
}

// TesterConfig returns the tester budget that suits this program: runs of 200 steps, with
// PCT's priority-driven prefix and the liveness threshold set for it. Callers choose Iterations,
// Strategy and Seed.
func TesterConfig() systest.Config {
	return systest.Config{
		MaxSteps: 200,
		// PCT schedules by priority only for its first UnfairSteps steps, then at random. The bug
		// needs the first complete round to be scheduled by priority to its end: some ten start
		// and ping steps, then the 28 steps of the probe timeout's countdown, then the detector's
		// pongs. The default (MaxSteps/10 = 20) cuts that round in the middle, after which random
		// scheduling lets the detector in; 60 holds it with room for a change point or two.
		UnfairSteps: 60,
		// A crashed node is declared failed after two probe rounds of some 35 steps each, plus
		// what is left of the round in progress: about 80 fair steps typically, and up to about
		// 105 (measured over 10^5 runs of the fixed program with each strategy). The default
		// (MaxSteps/2 = 100) would report the fixed program now and then; 130 leaves a margin and
		// still fits in the 140 fair steps of a PCT run. The planted bug does not depend on it:
		// the buggy program stops, and a monitor hot when nothing more can happen is reported at
		// once.
		LivenessThreshold: 130,
	}
}
