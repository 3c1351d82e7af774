package service

import (
	"fmt"
	"testing"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/service/model"
)

// ownResults is the specification that a node reports only on its own attempts: every result
// recorded for an attempt came from the session of the node the attempt was placed on.
type ownResults struct{ placed map[string]string } // attempt id -> node id

func (o *ownResults) Define(m *actor.Machine) {
	m.State("Watching",
		actor.On(func(ctx *actor.Context, e TaskStarted) {
			if o.placed == nil {
				o.placed = map[string]string{}
			}
			o.placed[e.AttemptID] = e.NodeID
		}),
		actor.On(func(ctx *actor.Context, e AttemptRecorded) {
			node, ok := o.placed[e.AttemptID]
			// An attempt placed before a crash of the service was announced then; one the
			// monitor never saw placed cannot be judged.
			ctx.Assert(!ok || node == e.NodeID, "attempt %s, placed on %s, recorded from a result of %s", e.AttemptID, node, e.NodeID)
		}),
	)
}

// A node that reports results for other nodes' attempts (its credential gets it only to its
// own node's session, which is all a real agent link allows) changes nothing: every result
// recorded came from the node that ran the attempt. (Its own attempts it may report as it
// likes: those the job may record as failed.)
func TestNodeReportsOnlyOwnAttempts(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.1,
		Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}, Delays: 2}}, func(s *systest.Sim) {
		s.Monitor(&ownResults{})
		// Node p1-1's agent reports every task's first attempt (in the first few incarnations
		// of the job) as failed, with its first heartbeats.
		var forged []string
		for inc := int64(1); inc <= 3; inc++ {
			for seq := int64(1); seq <= 6; seq++ {
				forged = append(forged, attemptID("j1", inc, fmt.Sprintf("t%d", seq), seq, 1))
			}
		}
		dagService(s, model.Provider{Forge: model.Forgery{NodeID: "p1-1", Attempts: forged, Beats: 4}})
		two, yes := int32(2), true
		s.Create("client", newClient(
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two}},
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes}},
			AddTasks{JobID: "j1", Tasks: diamond()},
		))
	})
}
