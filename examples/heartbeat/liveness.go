package heartbeat

import "corral/actor"

// liveness is the completeness property of the failure detector: every node that the driver
// crashed is eventually declared failed. It is hot while some crashed node has not been declared
// failed, and cold otherwise. A declaration made before the crash (the detector suspected a slow
// node) counts: the detector never takes a declaration back, so that node stays suspected.
type liveness struct {
	declared map[actor.ID]bool
	waiting  map[actor.ID]bool // crashed, not declared failed yet
}

// Define declares the monitor's states: Satisfied (cold) and Waiting (hot).
func (l *liveness) Define(m *actor.Machine) {
	l.declared = map[actor.ID]bool{}
	l.waiting = map[actor.ID]bool{}
	halted := actor.On(func(ctx *actor.Context, ev nodeHalted) {
		if !l.declared[ev.Node] {
			l.waiting[ev.Node] = true
		}
		l.settle(ctx)
	})
	declared := actor.On(func(ctx *actor.Context, ev failureDeclared) {
		l.declared[ev.Node] = true
		delete(l.waiting, ev.Node)
		l.settle(ctx)
	})
	m.State("Satisfied", actor.Temp(actor.Cold), halted, declared, actor.Targets("Waiting"))
	m.State("Waiting", actor.Temp(actor.Hot), halted, declared, actor.Targets("Satisfied"))
}

func (l *liveness) settle(ctx *actor.Context) {
	want := "Satisfied"
	if len(l.waiting) > 0 {
		want = "Waiting"
	}
	if ctx.State() != want {
		ctx.Goto(want)
	}
}
