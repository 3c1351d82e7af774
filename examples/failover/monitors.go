package failover

import "corral/actor"

// ExactlyOnce is the safety specification. It watches the store apply requests ([Applied]) and
// clients receive acknowledgements ([Acknowledged]) and asserts that
//
//   - no request is applied twice: the durable log holds at most one record per ReqID, whatever
//     crashes and retries happened;
//   - every acknowledged request is durably applied, as the record the Ack names.
type ExactlyOnce struct {
	applied map[string]int // ReqID -> Seq of its record
}

// Define declares the monitor's single state.
func (x *ExactlyOnce) Define(m *actor.Machine) {
	m.State("Checking",
		actor.On(func(ctx *actor.Context, ev Applied) {
			if x.applied == nil {
				x.applied = make(map[string]int)
			}
			first, dup := x.applied[ev.ReqID]
			ctx.Assert(!dup, "request %s applied twice: as record %d and as record %d", ev.ReqID, first, ev.Seq)
			x.applied[ev.ReqID] = ev.Seq
		}),
		actor.On(func(ctx *actor.Context, ev Acknowledged) {
			seq, ok := x.applied[ev.ReqID]
			ctx.Assert(ok, "request %s acknowledged (as record %d) but never applied", ev.ReqID, ev.Seq)
			ctx.Assert(seq == ev.Seq, "request %s acknowledged as record %d but applied as record %d", ev.ReqID, ev.Seq, seq)
		}),
	)
}

// AllAcknowledged is the liveness specification: it is hot until every client request has been
// acknowledged, and cold after. A run in which some request is never acknowledged (a request
// stuck as "pending" in a server that will never hear back, a server that never recovers) is
// reported by the tester as a liveness bug.
type AllAcknowledged struct {
	want  int
	acked map[string]bool
}

// Define declares the monitor's states: Waiting (hot), then Done (cold).
func (a *AllAcknowledged) Define(m *actor.Machine) {
	m.State("Waiting",
		actor.Temp(actor.Hot),
		actor.On(func(ctx *actor.Context, ev Acknowledged) {
			if a.acked == nil {
				a.acked = make(map[string]bool)
			}
			a.acked[ev.ReqID] = true
			if len(a.acked) == a.want {
				ctx.Goto("Done")
			}
		}),
		actor.Targets("Done"),
	)
	// Done handles nothing: each client announces each request once, so an Acknowledged here
	// would mean a client announced a request twice, and failing the monitor then is right.
	m.State("Done", actor.Temp(actor.Cold))
}
