package service

import (
	"context"
	"slices"

	"corral/actor"
	"corral/batch"
	"corral/store"
)

// nodesShowWork asserts what Compute Node - List shows of the work on a pool's nodes, read from
// the store when the service announces a change:
//   - once a task is recorded running on a node, the node is not idle, and lists the task among
//     its recentTasks and its running tasks;
//   - a node never counts more attempts (ended, with totalTasksRun, or running) than were started
//     on it, nor more successes than runs;
//   - with whole (every completion is by a result, none by a terminate), a node counts in
//     totalTasksRun at least the tasks whose last attempt it ran and that completed;
//   - with allSucceed (every attempt exits 0), every attempt a node ran succeeded.
type nodesShowWork struct {
	st          store.Store
	pool        string
	whole       bool
	allSucceed  bool
	started     map[string]map[string]bool // node -> attempt ids started on it
	lastNode    map[string]string          // task -> node of its latest attempt
	completedOn map[string]int32           // node -> tasks completed by an attempt on it
}

func (w *nodesShowWork) Define(m *actor.Machine) {
	m.State("Watching",
		actor.On(func(ctx *actor.Context, e TaskStarted) {
			if w.started == nil {
				w.started = map[string]map[string]bool{}
			}
			if w.started[e.NodeID] == nil {
				w.started[e.NodeID] = map[string]bool{}
			}
			w.started[e.NodeID][e.AttemptID] = true
			if w.lastNode == nil {
				w.lastNode = map[string]string{}
			}
			w.lastNode[e.JobID+"/"+e.TaskID] = e.NodeID
			if e.Ended {
				return // queued, and its start recorded with its end: it runs no more
			}
			// The other starts of the same write are announced next: the counts wait for a
			// completion.
			nodes, err := ListNodes(context.Background(), w.st, w.pool)
			if err != nil {
				return // the pool is gone
			}
			i := slices.IndexFunc(nodes, func(n batch.Node) bool { return n.ID == e.NodeID })
			if i < 0 {
				return // the node has left the pool
			}
			n := nodes[i]
			ctx.Assert(n.State != batch.NodeIdle, "node %s runs task %s/%s but shows idle", n.ID, e.JobID, e.TaskID)
			shown := slices.ContainsFunc(n.RecentTasks, func(t batch.TaskInformation) bool {
				return t.JobID == e.JobID && t.TaskID == e.TaskID && t.TaskState == batch.TaskRunning
			})
			ctx.Assert(shown && n.RunningTasksCount > 0 && n.RunningTaskSlotsCount >= n.RunningTasksCount,
				"node %s runs task %s/%s but shows %d running (%d slots), recent tasks %+v",
				n.ID, e.JobID, e.TaskID, n.RunningTasksCount, n.RunningTaskSlotsCount, n.RecentTasks)
		}),
		actor.On(func(ctx *actor.Context, e TaskCompleted) {
			if w.completedOn == nil {
				w.completedOn = map[string]int32{}
			}
			on := w.lastNode[e.JobID+"/"+e.TaskID]
			w.completedOn[on]++
			if e.Early {
				// Starts written with it are announced after it: the counts are checked once
				// the batch is out (BatchWritten).
				return
			}
			for _, n := range w.check(ctx) {
				if w.whole && n.ID == on {
					ctx.Assert(n.TotalTasksRun >= w.completedOn[on], "%d tasks completed on node %s, which shows %d run",
						w.completedOn[on], on, n.TotalTasksRun)
				}
			}
		}),
		actor.On(func(ctx *actor.Context, e BatchWritten) {
			for _, n := range w.check(ctx) {
				if w.whole {
					ctx.Assert(n.TotalTasksRun >= w.completedOn[n.ID], "%d tasks completed on node %s, which shows %d run",
						w.completedOn[n.ID], n.ID, n.TotalTasksRun)
				}
			}
		}),
		actor.Ignore[TaskAdded](), actor.Ignore[TaskRecovered](),
	)
}

// check reads the pool's nodes and asserts the counters' bounds. It runs on completions, which
// come after the starts written with them are announced.
func (w *nodesShowWork) check(ctx *actor.Context) []batch.Node {
	nodes, err := ListNodes(context.Background(), w.st, w.pool)
	if err != nil {
		return nil // the pool is gone
	}
	for _, n := range nodes {
		ctx.Assert(n.TotalTasksSucceeded <= n.TotalTasksRun, "node %s: %d succeeded of %d run", n.ID, n.TotalTasksSucceeded, n.TotalTasksRun)
		ctx.Assert(!w.allSucceed || n.TotalTasksSucceeded == n.TotalTasksRun, "node %s: %d succeeded of %d run, all of which exited 0",
			n.ID, n.TotalTasksSucceeded, n.TotalTasksRun)
		ctx.Assert(int(n.TotalTasksRun+n.RunningTasksCount) <= len(w.started[n.ID]),
			"node %s: %d run and %d running, of %d attempts started on it", n.ID, n.TotalTasksRun, n.RunningTasksCount, len(w.started[n.ID]))
	}
	return nodes
}
