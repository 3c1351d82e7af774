package service

import (
	"context"
	"slices"
	"testing"
	"time"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/service/model"
	"corral/store"
	"corral/store/memstore"
)

// startTaskGates asserts that no task runs on a node whose agent has not run the pool's start
// task (which has waitForSuccess) with success since it last started afresh.
type startTaskGates struct{ ok map[string]bool }

func (g *startTaskGates) Define(m *actor.Machine) {
	init := func() {
		if g.ok == nil {
			g.ok = map[string]bool{}
		}
	}
	m.State("Watching",
		actor.On(func(ctx *actor.Context, e model.AgentBooted) {
			init()
			g.ok[e.NodeID] = false
		}),
		actor.On(func(ctx *actor.Context, e model.StartTaskExited) {
			init()
			if e.ExitCode == 0 && !e.Killed {
				g.ok[e.NodeID] = true
			}
		}),
		actor.On(func(ctx *actor.Context, e model.AttemptRan) {
			init()
			ctx.Assert(g.ok[e.NodeID], "task %s/%s ran (attempt %s) on node %s, whose start task has not succeeded",
				e.JobID, e.TaskID, e.AttemptID, e.NodeID)
		}),
	)
}

// startTaskShown asserts that what a node session announces of its start task is what Compute
// Node - List shows, read from the store at once: startTaskInfo (retries, result) and, for a
// node that is up, the state its start task gives it.
type startTaskShown struct{ st store.Store }

func (w *startTaskShown) Define(m *actor.Machine) {
	m.State("Watching", actor.On(func(ctx *actor.Context, e StartTaskShown) {
		nodes, err := ListNodes(context.Background(), w.st, e.PoolID)
		if err != nil {
			return // the pool is gone
		}
		i := slices.IndexFunc(nodes, func(n batch.Node) bool { return n.ID == e.NodeID })
		if i < 0 {
			return // the node left
		}
		n := nodes[i]
		info := n.StartTaskInfo
		ctx.Assert(n.StartTask != nil && info != nil && int(info.RetryCount) == e.Tries-1 &&
			info.Succeeded() == e.Succeeded && info.Failed() == e.Failed,
			"node %s: announced %+v, shown startTask %+v startTaskInfo %+v", e.NodeID, e, n.StartTask, info)
		want := map[batch.NodeState]bool{batch.NodeIdle: true, batch.NodeRunning: true}
		switch {
		case e.Waits && e.Failed:
			want = map[batch.NodeState]bool{batch.NodeStartTaskFailed: true}
		case e.Waits && !e.Succeeded:
			want = map[batch.NodeState]bool{batch.NodeWaitingForStartTask: true}
		}
		switch n.State {
		case batch.NodeUnknown, batch.NodePreempted, batch.NodeLeavingPool, batch.NodeCreating:
		default:
			ctx.Assert(want[n.State], "node %s: state %s with its start task %+v", e.NodeID, n.State, e)
		}
	}))
}

// settling tracks a pool's nodes and which of them have settled: a monitor built on it is hot
// until every node of the pool has.
type settling struct {
	nodes []string
	done  map[string]bool
}

// settle marks a node settled.
func (st *settling) settle(ctx *actor.Context, node string) {
	if st.done == nil {
		st.done = map[string]bool{}
	}
	st.done[node] = true
	st.update(ctx)
}

func (st *settling) update(ctx *actor.Context) {
	for _, n := range st.nodes {
		if !st.done[n] {
			ctx.Goto("Pending")
			return
		}
	}
	ctx.Goto("Settled")
}

// define declares the states Settled (cold) and Pending (hot), with handlers.
func (st *settling) define(m *actor.Machine, handlers ...actor.StateOption) {
	handlers = append(handlers, actor.On(func(ctx *actor.Context, e PoolNodes) {
		st.nodes = e.Nodes
		st.update(ctx)
	}), actor.Targets("Pending", "Settled"))
	m.State("Settled", append([]actor.StateOption{actor.Temp(actor.Cold)}, handlers...)...)
	m.State("Pending", append([]actor.StateOption{actor.Temp(actor.Hot)}, handlers...)...)
}

// startTaskFailsForGood is the specification of a start task that always fails: every node of
// the pool ends with its start task failed (hot until then), after exactly maxTaskRetryCount+1
// attempts, each of which its agent ran.
type startTaskFailsForGood struct {
	settling
	ran map[string][]string // node → start task attempts its agent ran
}

func (f *startTaskFailsForGood) Define(m *actor.Machine) {
	f.ran = map[string][]string{}
	f.define(m,
		actor.On(func(ctx *actor.Context, e model.StartTaskRan) {
			if !slices.Contains(f.ran[e.NodeID], e.AttemptID) {
				f.ran[e.NodeID] = append(f.ran[e.NodeID], e.AttemptID)
			}
		}),
		actor.On(func(ctx *actor.Context, e StartTaskShown) {
			ctx.Assert(!e.Succeeded, "node %s: the start task succeeded, but its agent always fails it", e.NodeID)
			if e.Failed {
				ctx.Assert(e.Tries == e.MaxRetries+1, "node %s: start task failed after %d attempts, want %d", e.NodeID, e.Tries, e.MaxRetries+1)
				ctx.Assert(len(f.ran[e.NodeID]) == e.Tries, "node %s: start task failed after %d attempts, but its agent ran %v",
					e.NodeID, e.Tries, f.ran[e.NodeID])
				f.settle(ctx, e.NodeID)
			}
		}))
}

// startTaskProgram runs the DAG on a pool of two dedicated and one low-priority node (which the
// provider may preempt: its agent comes back afresh and runs the start task again; creations
// may fail too) whose start task has the given waitForSuccess and maxTaskRetryCount, while
// every agent fails its first failFirst start task attempts. With storeFails, the store fails
// when the tester says so (Faults.ModelFailures).
func startTaskProgram(waits bool, retries int32, failFirst int, storeFails bool) func(*systest.Sim) {
	return func(s *systest.Sim) {
		s.Monitor(&depsFirst{})
		s.Monitor(&completedOnce{})
		s.Monitor(&eventuallyDone{})
		if waits {
			s.Monitor(&startTaskGates{})
		}
		st := memstore.New()
		if storeFails {
			st.Fail = s.Fail
		} else {
			s.Monitor(&startTaskShown{st: st})
		}
		cfg := Config{Store: st, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}}
		runService(s, cfg, model.Provider{Preemptions: 1, Failures: true, StartFailFirst: failFirst})
		two, one, yes := int32(2), int32(1), true
		start := &batch.StartTask{CommandLine: "setup", MaxTaskRetryCount: &retries, WaitForSuccess: &waits,
			EnvironmentSettings: []batch.EnvironmentSetting{{Name: "STAGE", Value: "1"}}}
		s.Create("client", newClient(
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two, TargetLowPriorityNodes: &one, StartTask: start}},
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes}},
			AddTasks{JobID: "j1", Tasks: diamond()},
		))
	}
}

var startTaskFaults = systest.Faults{Crashes: 1, CrashHosts: []string{"service"}, Drops: 2, Duplicates: 2, Delays: 2}

// A start task that fails once and is retried: every node runs it before any task (again after
// a preemption brings a node back afresh), and every task completes, through crashes of the
// service and lost, repeated and delayed messages.
func TestStartTaskGatesTasks(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: startTaskFaults}, startTaskProgram(true, 2, 1, false))
}

// The store fails now and then (a write refused, or committed with its acknowledgement lost):
// a session's start task record is written again, under the same attempt ids, by the reports
// that caused it.
func TestStartTaskStoreFailures(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{ModelFailures: 3, Crashes: 1, CrashHosts: []string{"service"}}}, startTaskProgram(true, 2, 1, true))
}

// Without waitForSuccess, tasks run while the start task runs, and even though it always fails.
func TestStartTaskNoWait(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: startTaskFaults}, startTaskProgram(false, 1, 1000, false))
}

// A start task that always fails: every node ends starttaskfailed after maxTaskRetryCount+1
// attempts and never runs a task.
func TestStartTaskFailsForGood(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: startTaskFaults}, func(s *systest.Sim) {
		s.Monitor(&startTaskGates{})
		s.Monitor(&startTaskFailsForGood{})
		st := memstore.New()
		s.Monitor(&startTaskShown{st: st})
		cfg := Config{Store: st, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}}
		runService(s, cfg, model.Provider{StartFailFirst: 1000})
		two, retries, yes := int32(2), int32(2), true
		s.Create("client", newClient(
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two,
				StartTask: &batch.StartTask{CommandLine: "setup", MaxTaskRetryCount: &retries}}},
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes}},
			AddTasks{JobID: "j1", Tasks: diamond()},
		))
	})
}

// noStartTaskRuns asserts that no agent runs a start task.
type noStartTaskRuns struct{}

func (noStartTaskRuns) Define(m *actor.Machine) {
	m.State("Watching", actor.On(func(ctx *actor.Context, e model.StartTaskRan) {
		ctx.Assert(false, "node %s ran start task attempt %s, but it joined its pool before the pool had a start task", e.NodeID, e.AttemptID)
	}))
}

// A start task patched onto a pool is for the nodes that join afterwards: the nodes up keep
// running tasks without it (here it would always fail, and hold them back for ever).
func TestStartTaskPatchedForLaterNodes(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: startTaskFaults}, func(s *systest.Sim) {
		dagService(s, model.Provider{StartFailFirst: 1000})
		s.Monitor(noStartTaskRuns{})
		two, yes := int32(2), true
		s.Create("client", newClient(
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two}},
			PatchPool{PoolID: "p1", SetStartTask: true, StartTask: &batch.StartTask{CommandLine: "setup"}},
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes}},
			AddTasks{JobID: "j1", Tasks: diamond()},
		))
	})
}

// startTaskFilesSettle is the specification of a start task with resource files whose downloads
// may fail: every node's start task completes (hot until then); one that failed did so because
// its resource files could not be downloaded, at its first attempt (a pre-processing error is
// not retried).
type startTaskFilesSettle struct {
	settling
	downloadKO map[string]bool // attempts whose resource files failed
}

func (f *startTaskFilesSettle) Define(m *actor.Machine) {
	f.downloadKO = map[string]bool{}
	f.define(m,
		actor.On(func(ctx *actor.Context, e model.AttemptFileFailed) { f.downloadKO[e.AttemptID] = true }),
		actor.On(func(ctx *actor.Context, e StartTaskShown) {
			if e.Failed {
				ctx.Assert(f.downloadKO[e.Attempt] && e.Tries == 1,
					"node %s: start task failed at attempt %s (try %d), whose resource files were downloaded", e.NodeID, e.Attempt, e.Tries)
			}
			if e.Succeeded || e.Failed {
				f.settle(ctx, e.NodeID)
			}
		}))
}

// A start task with resource files whose download may fail: a node whose download failed ends
// starttaskfailed at once and runs no task; the others run their start task, then tasks.
func TestStartTaskResourceFiles(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: startTaskFaults}, func(s *systest.Sim) {
		s.Monitor(&startTaskGates{})
		s.Monitor(&startTaskFilesSettle{})
		st := memstore.New()
		s.Monitor(&startTaskShown{st: st})
		runService(s, Config{Store: st, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}}, model.Provider{FileFailures: true})
		two, retries, yes := int32(2), int32(2), true
		s.Create("client", newClient(
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two, StartTask: &batch.StartTask{
				CommandLine: "setup", MaxTaskRetryCount: &retries,
				ResourceFiles: []batch.ResourceFile{{HTTPURL: "https://example.com/setup.sh?sig=s", FilePath: "setup.sh"}}}}},
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes}},
			AddTasks{JobID: "j1", Tasks: diamond()},
		))
	})
}
