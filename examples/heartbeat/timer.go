package heartbeat

import (
	"time"

	"corral/actor"
)

// timer serves the detector's timeouts, one at a time, the way a timer wheel does: it counts
// ticks of a short runtime timer and fires when the request's ticks have elapsed. It answers
// cancelTimer with cancelSuccess if the request had not fired yet, and with cancelFailure if it
// had: the request's timeout is then already on its way to (or at) the detector. Events from one
// sender to one receiver arrive in the order sent, so a timeout always reaches the detector before
// the cancelFailure that follows it.
//
// Counting ticks, rather than firing one runtime timer for the whole timeout, is what makes a
// timeout take time under the tester as well: every tick is one step of the clock and one step of
// the timer, so a timeout of probeTicks ticks is 2·probeTicks steps that have to be scheduled.
type timer struct {
	owner actor.ID
	tick  time.Duration

	seq  int           // the request being timed
	left int           // its ticks still to go
	id   actor.TimerID // the pending tick
}

// Define declares the timer's states: Idle and Armed.
func (t *timer) Define(m *actor.Machine) {
	m.State("Idle",
		actor.On(func(ctx *actor.Context, s startTimer) {
			ctx.Assert(s.Ticks > 0, "startTimer %d with %d ticks", s.Seq, s.Ticks)
			t.seq, t.left = s.Seq, s.Ticks
			t.id = ctx.StartTimer(t.tick, tick{})
			ctx.Goto("Armed")
		}),
		// Nothing is armed: the request being cancelled has fired already.
		actor.On(func(ctx *actor.Context, c cancelTimer) {
			ctx.Send(t.owner, cancelFailure{Seq: c.Seq})
		}),
		actor.Targets("Armed"),
	)
	m.State("Armed",
		actor.On(func(ctx *actor.Context, _ tick) {
			t.left--
			if t.left > 0 {
				t.id = ctx.StartTimer(t.tick, tick{})
				return
			}
			ctx.Send(t.owner, timeout{Seq: t.seq})
			ctx.Goto("Idle")
		}),
		actor.On(func(ctx *actor.Context, c cancelTimer) {
			ctx.Assert(c.Seq == t.seq, "cancelTimer %d while timing request %d", c.Seq, t.seq)
			// CancelTimer also drops a tick that has fired but is still in the mailbox.
			ctx.CancelTimer(t.id)
			ctx.Send(t.owner, cancelSuccess{Seq: c.Seq})
			ctx.Goto("Idle")
		}),
		// startTimer is not declared here: the detector never starts a request while another one
		// is armed, and the tester reports it if it does.
		actor.Targets("Idle"),
	)
}
