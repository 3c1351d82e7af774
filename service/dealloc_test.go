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

// The specifications of nodeDeallocationOption: nodes removed from a pool running a DAG, with
// each option.

// noStartAfterCompleted asserts that no task is recorded started once it has completed (with
// terminate, a task whose node is removed completes and does not run again).
type noStartAfterCompleted struct{ done map[string]bool }

func (n *noStartAfterCompleted) Define(m *actor.Machine) {
	init := func() {
		if n.done == nil {
			n.done = map[string]bool{}
		}
	}
	m.State("Watching",
		actor.On(func(ctx *actor.Context, e TaskCompleted) { init(); n.done[e.JobID+"/"+e.TaskID] = true }),
		actor.On(func(ctx *actor.Context, e TaskRecovered) {
			init()
			if e.Completed {
				n.done[e.JobID+"/"+e.TaskID] = true
			}
		}),
		actor.On(func(ctx *actor.Context, e TaskStarted) {
			init()
			ctx.Assert(!n.done[e.JobID+"/"+e.TaskID], "task %s/%s started (attempt %s) after it completed", e.JobID, e.TaskID, e.AttemptID)
		}),
		actor.Ignore[TaskAdded]())
}

// runsOnce asserts that no task's process is started by an agent twice. It holds in a program
// whose nodes are never lost (no preemption, no crash, no silence long enough), whose agents
// always exit 0 and whose job allows no retries, when removed nodes leave with terminate (a
// running task completes as terminated) or taskcompletion (a running task finishes where it
// runs): a task is run again only if the attempt requeued never reached its node. With requeue it
// does not hold, which is what it is for.
type runsOnce struct{ ran map[string]string } // task -> attempt that ran

func (r *runsOnce) Define(m *actor.Machine) {
	m.State("Watching", actor.On(func(ctx *actor.Context, e model.AttemptRan) {
		if r.ran == nil {
			r.ran = map[string]string{}
		}
		k := e.JobID + "/" + e.TaskID
		ctx.Assert(r.ran[k] == "", "task %s ran twice: attempt %s, then attempt %s on node %s", k, r.ran[k], e.AttemptID, e.NodeID)
		r.ran[k] = e.AttemptID
	}))
}

// deallocProgram runs the diamond DAG on a pool of three one-slot dedicated nodes, then shrinks
// the pool to one node with the given nodeDeallocationOption: by Pool - Resize, or, with
// removeNodes, by Pool - Remove Nodes of p1-0 and p1-1 (then creations do not fail, so that the
// nodes have those ids). With crashes, the service may crash (runsOnce does not hold then: a
// restart requeues the tasks of leaving nodes); then a creation that failed, was asked again
// before the failure was known, and whose VMCreated the crash lost, leaves a VM that only the
// pool manager's listing of the provider's VMs finds (noLeak holds it to that).
func deallocProgram(opt batch.NodeDeallocationOption, removeNodes, crashes bool) func(*systest.Sim) {
	return func(s *systest.Sim) {
		s.Monitor(&depsFirst{})
		s.Monitor(&completedOnce{})
		s.Monitor(&noStartAfterCompleted{})
		s.Monitor(&eventuallyDone{})
		s.Monitor(&noLeak{})
		s.Monitor(&resizeEnds{})
		s.Monitor(targetsRespected{})
		if opt != batch.DeallocateTerminate {
			s.Monitor(noTaskFails{})
		}
		if !crashes {
			s.Monitor(&runsOnce{})
		}
		st := memstore.New()
		// A node is never judged lost: runsOnce needs its tasks to run where they started.
		cfg := Config{Store: st, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 1000 * time.Hour}}
		runService(s, cfg, model.Provider{Failures: !removeNodes, Slow: true, Stubborn: true})
		three, one, none, yes := int32(3), int32(1), int32(0), true
		var shrink actor.Event = ResizePool{PoolID: "p1", TargetDedicatedNodes: 1, NodeDeallocationOption: opt}
		if removeNodes {
			shrink = RemoveNodes{PoolID: "p1", NodeIDs: []string{"p1-0", "p1-1"}, NodeDeallocationOption: opt}
		}
		s.Create("client", newClient(
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &three, TaskSlotsPerNode: &one}},
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes,
				Constraints: &batch.JobConstraints{MaxTaskRetryCount: &none}}},
			AddTasks{JobID: "j1", Tasks: diamond()},
			shrink,
		))
	}
}

func deallocConfig(crashes bool) systest.Config {
	cfg := systest.Config{Iterations: 200, MaxSteps: 4000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05}
	if crashes {
		cfg.Faults = systest.Faults{Crashes: 1, CrashHosts: []string{"service"}}
	}
	return cfg
}

func TestDeallocateTerminate(t *testing.T) {
	systest.Test(t, deallocConfig(false), deallocProgram(batch.DeallocateTerminate, false, false))
}

func TestDeallocateTerminateRemoveNodes(t *testing.T) {
	systest.Test(t, deallocConfig(false), deallocProgram(batch.DeallocateTerminate, true, false))
}

func TestDeallocateTaskCompletion(t *testing.T) {
	systest.Test(t, deallocConfig(false), deallocProgram(batch.DeallocateTaskCompletion, false, false))
}

func TestDeallocateTaskCompletionRemoveNodes(t *testing.T) {
	systest.Test(t, deallocConfig(false), deallocProgram(batch.DeallocateTaskCompletion, true, false))
}

func TestDeallocateRetainedData(t *testing.T) {
	systest.Test(t, deallocConfig(false), deallocProgram(batch.DeallocateRetainedData, false, false))
}

// After a crash, leaving nodes are released at once and their tasks requeued (a departure from
// Azure): every task still completes once, none fails with taskcompletion, and no VM is leaked.
func TestDeallocateTerminateWithCrash(t *testing.T) {
	systest.Test(t, deallocConfig(true), deallocProgram(batch.DeallocateTerminate, false, true))
}

func TestDeallocateTaskCompletionWithCrash(t *testing.T) {
	systest.Test(t, deallocConfig(true), deallocProgram(batch.DeallocateTaskCompletion, false, true))
}
