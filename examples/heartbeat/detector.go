package heartbeat

import "corral/actor"

// detector is the failure detector. It probes the nodes in rounds: it pings every node it
// considers alive and asks the timer for a probe timeout. A round ends in one of two ways.
//
//   - Every alive node answers: the detector tells its client (allAnswered), cancels the probe
//     timeout and waits for the timer's answer (Cancelling).
//   - The probe timeout fires first: every alive node that did not answer has missed one more
//     round, and a node that has missed maxMissed rounds in a row is declared failed.
//
// Either way it then rests for restTicks ticks (Resting) and starts the next round. A node
// declared failed is never probed again.
type detector struct {
	nodes      []actor.ID
	timer      actor.ID
	client     actor.ID
	probeTicks int
	restTicks  int
	maxMissed  int
	bug        bool

	alive    map[actor.ID]bool
	missed   map[actor.ID]int
	answered map[actor.ID]bool
	round    int
	seq      int // the timer request in flight
}

func newDetector(nodes []actor.ID, timer, client actor.ID, p params, bug bool) *detector {
	d := &detector{
		nodes: nodes, timer: timer, client: client,
		probeTicks: p.probeTicks, restTicks: p.restTicks, maxMissed: p.maxMissed, bug: bug,
		alive:  map[actor.ID]bool{},
		missed: map[actor.ID]int{},
	}
	for _, n := range nodes {
		d.alive[n] = true
	}
	return d
}

// Define declares the detector's states: Probing, Cancelling, Draining (reached only with the
// planted bug) and Resting.
func (d *detector) Define(m *actor.Machine) {
	m.State("Probing",
		actor.OnEntry(d.probe),
		actor.On(d.onPong),
		actor.On(d.onProbeTimeout),
		actor.Targets("Cancelling", "Resting"),
	)
	m.State("Cancelling",
		// The race: the probe timeout fired just as the last pong came in, before the timer saw
		// the cancel. The round is complete anyway, so the timeout means nothing; a cancelFailure
		// follows it.
		actor.On(func(ctx *actor.Context, t timeout) {
			ctx.Assert(t.Seq == d.seq, "timeout %d while cancelling request %d", t.Seq, d.seq)
		}),
		actor.On(func(ctx *actor.Context, c cancelSuccess) {
			ctx.Assert(c.Seq == d.seq, "cancelSuccess %d while cancelling request %d", c.Seq, d.seq)
			ctx.Goto("Resting")
		}),
		actor.On(func(ctx *actor.Context, c cancelFailure) {
			ctx.Assert(c.Seq == d.seq, "cancelFailure %d while cancelling request %d", c.Seq, d.seq)
			if d.bug {
				// THE PLANTED BUG. The code assumes that a cancelFailure may overtake the timeout
				// of the request it could not cancel, and waits in Draining to swallow that
				// timeout, so that it cannot end the rest period early. But the timer sent the
				// timeout first, and events from one sender arrive in order: the timeout has
				// already come, and was dropped above. The detector waits in Draining for a
				// timeout that will never come, probes no more, and a node that fails from then
				// on is never declared failed.
				ctx.Goto("Draining")
				return
			}
			// The timeout of the request has already arrived (it precedes this answer): nothing
			// more will come from the timer, so the rest period can start.
			ctx.Goto("Resting")
		}),
		actor.Ignore[pong](),
		actor.Targets("Resting", "Draining"),
	)
	m.State("Draining",
		actor.On(func(ctx *actor.Context, t timeout) {
			ctx.Assert(t.Seq == d.seq, "timeout %d while draining request %d", t.Seq, d.seq)
			ctx.Goto("Resting")
		}),
		actor.Ignore[pong](),
		actor.Targets("Resting"),
	)
	m.State("Resting",
		actor.OnEntry(func(ctx *actor.Context) { d.startTimer(ctx, d.restTicks) }),
		actor.On(func(ctx *actor.Context, t timeout) {
			ctx.Assert(t.Seq == d.seq, "timeout %d while resting on request %d", t.Seq, d.seq)
			ctx.Goto("Probing")
		}),
		actor.Ignore[pong](),
		actor.Targets("Probing"),
	)
}

func (d *detector) startTimer(ctx *actor.Context, ticks int) {
	d.seq++
	ctx.Send(d.timer, startTimer{Seq: d.seq, Ticks: ticks})
}

// probe starts a round: it pings every alive node and starts the probe timeout.
func (d *detector) probe(ctx *actor.Context) {
	d.round++
	d.answered = map[actor.ID]bool{}
	for _, n := range d.nodes {
		if d.alive[n] {
			ctx.Send(n, ping{Round: d.round})
		}
	}
	d.startTimer(ctx, d.probeTicks)
}

func (d *detector) onPong(ctx *actor.Context, p pong) {
	if p.Round != d.round || !d.alive[p.Node] {
		return // a late answer to an earlier round, or from a node already declared failed
	}
	d.answered[p.Node] = true
	d.missed[p.Node] = 0
	if len(d.answered) < d.aliveCount() {
		return
	}
	ctx.Send(d.client, allAnswered{Round: d.round})
	ctx.Send(d.timer, cancelTimer{Seq: d.seq})
	ctx.Goto("Cancelling")
}

func (d *detector) onProbeTimeout(ctx *actor.Context, t timeout) {
	ctx.Assert(t.Seq == d.seq, "timeout %d while probing with request %d", t.Seq, d.seq)
	for _, n := range d.nodes {
		if !d.alive[n] || d.answered[n] {
			continue
		}
		d.missed[n]++
		if d.missed[n] >= d.maxMissed {
			d.alive[n] = false
			ctx.Announce(failureDeclared{Node: n})
			ctx.Send(d.client, nodeFailed{Node: n})
		}
	}
	ctx.Goto("Resting")
}

func (d *detector) aliveCount() int {
	c := 0
	for _, n := range d.nodes {
		if d.alive[n] {
			c++
		}
	}
	return c
}
