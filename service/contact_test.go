package service

import (
	"testing"
	"time"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/service/model"
	"corral/store/memstore"
)

// showsContact is the specification of how a node's state follows its agent's silence: a node
// whose session has given its agent up (NodeContact Lost) is shown unknown, as Azure shows a
// node it lost contact with, and shown idle again once its agent is heard. Safety: when the pool
// manager has taken a session's word (NodeShown), an idle node is not shown for a lost agent,
// nor an unknown one for an agent heard (with strict; a failed store write may leave the old
// state until the pool manager tries again). Liveness: hot while what the sessions last said and
// what the pool manager last showed disagree for some node.
type showsContact struct {
	strict  bool
	lost    map[string]bool
	unknown map[string]bool
}

func (c *showsContact) Define(m *actor.Machine) {
	update := func(ctx *actor.Context) {
		for id, lost := range c.lost {
			if lost != c.unknown[id] {
				ctx.Goto("Disagree")
				return
			}
		}
		ctx.Goto("Agree")
	}
	init := func() {
		if c.lost == nil {
			c.lost, c.unknown = map[string]bool{}, map[string]bool{}
		}
	}
	handlers := []actor.StateOption{
		actor.On(func(ctx *actor.Context, e NodeContact) {
			init()
			c.lost[e.PoolID+"/"+e.NodeID] = e.Lost
			update(ctx)
		}),
		actor.On(func(ctx *actor.Context, e NodeShown) {
			init()
			if c.strict {
				ctx.Assert(!(e.Lost && e.State == batch.NodeIdle), "node %s/%s shown idle after its session gave its agent up", e.PoolID, e.NodeID)
				ctx.Assert(!(!e.Lost && e.State == batch.NodeUnknown), "node %s/%s shown unknown after its agent was heard", e.PoolID, e.NodeID)
			}
			id := e.PoolID + "/" + e.NodeID
			switch e.State {
			case batch.NodeUnknown:
				c.unknown[id] = true
			case batch.NodeIdle:
				c.unknown[id] = false
			default:
				delete(c.lost, id) // preempted, unusable...: the state says more
			}
			update(ctx)
		}),
		actor.Targets("Agree", "Disagree"),
	}
	m.State("Agree", append([]actor.StateOption{actor.Temp(actor.Cold)}, handlers...)...)
	m.State("Disagree", append([]actor.StateOption{actor.Temp(actor.Hot)}, handlers...)...)
}

// contactProgram is the service with a pool of two nodes running the diamond DAG, watched by
// showsContact; with storeFails the store fails when the tester says so.
func contactProgram(storeFails bool) func(*systest.Sim) {
	return func(s *systest.Sim) {
		s.Monitor(&showsContact{strict: !storeFails})
		s.Monitor(&depsFirst{})
		s.Monitor(&completedOnce{})
		s.Monitor(&eventuallyDone{})
		st := memstore.New()
		if storeFails {
			st.Fail = s.Fail
		}
		runService(s, Config{Store: st, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 3 * time.Second}}, model.Provider{})
		two, yes := int32(2), true
		s.Create("client", newClient(
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two}},
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes}},
			AddTasks{JobID: "j1", Tasks: diamond()},
		))
	}
}

// Agents cut off from the service for a while: their nodes are shown unknown while their
// sessions have given them up and idle once heard again, and the job still completes, each task
// once.
func TestNodeShownUnknownWhileSilent(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.2,
		Faults: systest.Faults{Partitions: 2, Delays: 1}}, contactProgram(false))
}

// The same with store failures: a state the store failed to write is shown at the next try.
func TestNodeShownUnknownStoreFailures(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.2,
		Faults: systest.Faults{Partitions: 2, ModelFailures: 2}}, contactProgram(true))
}

// The link between the service and its nodes at its worst: partitions, lost, repeated and late
// messages, and crashes of the service's host: every task still runs in dependency order and
// completes once, and nodes are shown as their sessions hear them.
func TestServiceUnderPartitionsAndCrashes(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 4000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.1,
		Faults: systest.Faults{Partitions: 2, Drops: 1, Duplicates: 2, Delays: 2, Crashes: 2, CrashHosts: []string{"service"}}},
		contactProgram(false))
}
