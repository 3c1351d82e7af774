package heartbeat

import "corral/actor"

// driver is the detector's client and the test harness: it waits until the detector has seen
// every node answer a round (the cluster is up and being watched), then crashes its victims.
type driver struct {
	victims []actor.ID
}

// Define declares the driver's states: WarmingUp, then Injected.
func (d *driver) Define(m *actor.Machine) {
	m.State("WarmingUp",
		actor.On(func(ctx *actor.Context, _ allAnswered) {
			for _, v := range d.victims {
				ctx.Announce(nodeHalted{Node: v})
				ctx.Send(v, crash{})
			}
			ctx.Goto("Injected")
		}),
		// The detector may suspect a slow node before the first complete round.
		actor.Ignore[nodeFailed](),
		actor.Targets("Injected"),
	)
	m.State("Injected",
		actor.Ignore[allAnswered](),
		actor.Ignore[nodeFailed](),
	)
}
