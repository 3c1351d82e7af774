package failover

import "corral/actor"

// Server is the job service, the only actor on host "server". It takes [Submit]s from clients,
// writes each new job to the [Store] and acknowledges it once the store has it. Its state is
// volatile: when the host crashes it is lost, and the host's boot function creates a fresh Server
// that rebuilds it from the store before serving.
//
// A request may arrive many times (clients retry), so the server keeps a dedupe index, ReqID ->
// record, and acknowledges a known request again instead of applying it again. The index is only
// correct if it covers every request in the store, including those applied by an earlier
// incarnation whose Ack was lost in the crash.
type Server struct {
	store actor.ID
	bug   bool

	epoch   int             // the epoch of the snapshot this incarnation loaded; put on every write
	done    map[string]int  // ReqID -> Seq of its record: the dedupe index
	pending map[string]bool // ReqIDs whose Append is on its way to the store
}

// Define declares the server's states: Recovering until the store's snapshot arrives, then
// Serving.
func (s *Server) Define(m *actor.Machine) {
	m.State("Recovering",
		actor.OnEntry(func(ctx *actor.Context) {
			ctx.Send(s.store, Load{From: ctx.Self()})
		}),
		// Requests wait until the dedupe index is rebuilt; answering them earlier could apply
		// a request twice.
		actor.Defer[Submit](),
		// A reply to a write of an earlier incarnation: the write, being older than our Load,
		// is in the snapshot we are waiting for, and its client will retry.
		actor.Ignore[Appended](),
		actor.OnGoto[Snapshot]("Serving", s.adopt),
	)
	m.State("Serving",
		actor.On(s.submit),
		actor.On(s.appended),
		actor.On(func(ctx *actor.Context, snap Snapshot) {
			// Two incarnations booted in quick succession: the first Snapshot we adopted answered
			// the earlier incarnation's Load. The store's epoch is now this newer one, so adopt
			// it; writes sent under the old epoch are fenced off and their clients will retry.
			if snap.Epoch > s.epoch {
				s.adopt(ctx, snap)
			}
		}),
	)
}

// adopt rebuilds the volatile state from a snapshot of the store.
func (s *Server) adopt(ctx *actor.Context, snap Snapshot) {
	s.epoch = snap.Epoch
	s.done = make(map[string]int)
	s.pending = make(map[string]bool)
	if s.bug {
		// PLANTED BUG: the dedupe index is treated as a cache of the requests this incarnation
		// has applied, so a restarted server starts with an empty one. A request whose write
		// reached the store just before the crash, but whose Ack did not reach the client, is
		// retried by its client and applied a second time.
		return
	}
	for _, r := range snap.Records {
		s.done[r.ReqID] = r.Seq
	}
	ctx.Log("recovered", "epoch", s.epoch, "records", len(snap.Records))
}

func (s *Server) submit(ctx *actor.Context, ev Submit) {
	if seq, ok := s.done[ev.ReqID]; ok {
		// A retry of an applied request: its Ack was lost or is late. Acknowledge it again.
		ctx.Send(ev.Client, Ack{ReqID: ev.ReqID, Seq: seq})
		return
	}
	if s.pending[ev.ReqID] {
		// A retry while the write is on its way: the Appended will acknowledge it.
		return
	}
	s.pending[ev.ReqID] = true
	ctx.Send(s.store, Append{Epoch: s.epoch, From: ctx.Self(), ReqID: ev.ReqID, Client: ev.Client, Job: ev.Job})
}

func (s *Server) appended(ctx *actor.Context, ev Appended) {
	if ev.Epoch != s.epoch {
		// A reply to an earlier incarnation's write, accepted before our Load: it is in our
		// snapshot already, and its client will retry.
		return
	}
	delete(s.pending, ev.ReqID)
	s.done[ev.ReqID] = ev.Seq
	// Acknowledge only now that the job is durable. A crash right after this step, before the
	// Ack leaves, is exactly what the dedupe index must survive.
	ctx.Send(ev.Client, Ack{ReqID: ev.ReqID, Seq: ev.Seq})
}
