package failover

import (
	"slices"

	"corral/actor"
)

// Store is the durable state outside the server's host: a log of job records and the current
// epoch. It runs on the default host, which never crashes, so it survives every crash of the
// server; being an actor, it also serializes the accesses of the server's successive incarnations
// (under the production runtime those run on different goroutines, and a crashed incarnation may
// still be finishing its last handler when its replacement boots).
type Store struct {
	epoch   int
	records []Record
}

// Define declares the store's single state.
func (s *Store) Define(m *actor.Machine) {
	m.State("Up",
		actor.On(func(ctx *actor.Context, ev Load) {
			// A new incarnation of the server is loading: from now on only its writes count.
			s.epoch++
			ctx.Send(ev.From, Snapshot{Epoch: s.epoch, Records: slices.Clone(s.records)})
		}),
		actor.On(func(ctx *actor.Context, ev Append) {
			if ev.Epoch != s.epoch {
				// Fencing: a write from an incarnation that has been replaced. Its replacement
				// loaded a snapshot without this job, so applying it now would go unseen by the
				// replacement's dedupe index, and the client's retry would be applied again.
				// Under the production runtime this is a crashed server's last handler finishing
				// late; under the tester, a write held back by Faults.Delays.
				ctx.Log("write from an old epoch fenced off", "req", ev.ReqID, "epoch", ev.Epoch, "current", s.epoch)
				return
			}
			r := Record{Seq: len(s.records) + 1, ReqID: ev.ReqID, Client: ev.Client, Job: ev.Job}
			s.records = append(s.records, r)
			ctx.Announce(Applied{ReqID: r.ReqID, Seq: r.Seq})
			ctx.Send(ev.From, Appended{Epoch: ev.Epoch, ReqID: r.ReqID, Client: r.Client, Seq: r.Seq})
		}),
	)
}
