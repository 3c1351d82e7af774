package service

import (
	"slices"

	"corral/actor"
)

// Events between job managers and the scheduler of their pool.
type (
	// readyTask is a task whose dependencies are satisfied and that waits for slots.
	readyTask struct {
		JobID  string
		TaskID string
		Slots  int
	}

	// enqueue hands ready tasks to the scheduler, in the order they should run.
	enqueue struct{ Tasks []readyTask }

	// withdraw takes tasks back from the scheduler's queue (terminated or deleted).
	withdraw struct {
		JobID   string
		TaskIDs []string // empty: every task of the job
	}

	// propose asks a job manager to run a task on a node whose slots the scheduler has reserved.
	propose struct {
		Task   readyTask
		NodeID string
	}

	// proposalAnswer tells the scheduler whether the job manager took a proposal. If it did not
	// (the task was terminated meanwhile), the reserved slots are free again.
	proposalAnswer struct {
		Task     readyTask
		NodeID   string
		Accepted bool
	}
)

// FillType is how the scheduler spreads tasks over nodes (Azure's nodeFillType).
type FillType string

// Azure's node fill types.
const (
	FillSpread FillType = "spread" // each task to the node with the most free slots
	FillPack   FillType = "pack"   // fill a node before using another
)

// scheduler places the ready tasks of every job on a pool onto the pool's nodes. It owns the free
// slot count of every node it knows is up; a job manager owns everything else about a task.
type scheduler struct {
	poolID string
	fill   FillType

	queue []readyTask
	free  map[string]int // node id -> free slots, for nodes that are up
	nodes []string       // the keys of free, sorted
}

func newScheduler(poolID string, fill FillType) *scheduler {
	if fill == "" {
		fill = FillSpread
	}
	return &scheduler{poolID: poolID, fill: fill, free: map[string]int{}}
}

// Define declares the scheduler's single state.
func (s *scheduler) Define(m *actor.Machine) {
	m.State("Scheduling",
		actor.On(func(ctx *actor.Context, e enqueue) {
			s.queue = append(s.queue, e.Tasks...)
			s.dispatch(ctx)
		}),
		actor.On(func(ctx *actor.Context, w withdraw) {
			s.queue = slices.DeleteFunc(s.queue, func(t readyTask) bool {
				return t.JobID == w.JobID && (len(w.TaskIDs) == 0 || slices.Contains(w.TaskIDs, t.TaskID))
			})
		}),
		actor.On(func(ctx *actor.Context, u nodeUp) {
			if i, found := slices.BinarySearch(s.nodes, u.NodeID); !found {
				s.nodes = slices.Insert(s.nodes, i, u.NodeID)
			}
			s.free[u.NodeID] = u.Slots
			s.dispatch(ctx)
		}),
		actor.On(func(ctx *actor.Context, d nodeDown) {
			if i, found := slices.BinarySearch(s.nodes, d.NodeID); found {
				s.nodes = slices.Delete(s.nodes, i, i+1)
			}
			delete(s.free, d.NodeID)
		}),
		actor.On(func(ctx *actor.Context, f slotsFreed) {
			if _, up := s.free[f.NodeID]; up {
				s.free[f.NodeID] += f.Slots
				s.dispatch(ctx)
			}
		}),
		actor.On(func(ctx *actor.Context, a proposalAnswer) {
			if a.Accepted {
				return
			}
			if _, up := s.free[a.NodeID]; up {
				s.free[a.NodeID] += a.Task.Slots
				s.dispatch(ctx)
			}
		}),
	)
}

// dispatch proposes queued tasks, in order, to nodes with room for them. A task that fits no node
// now stays queued, and so do the tasks behind it only if none of them fits either: a large task
// does not hold back small ones (Azure behaves the same way).
func (s *scheduler) dispatch(ctx *actor.Context) {
	kept := s.queue[:0]
	for _, t := range s.queue {
		node, ok := s.choose(t.Slots)
		if !ok {
			kept = append(kept, t)
			continue
		}
		s.free[node] -= t.Slots
		ctx.Send(actor.ID("job/"+t.JobID), propose{Task: t, NodeID: node})
	}
	clear(s.queue[len(kept):])
	s.queue = kept
}

// choose picks the node for a task needing slots, by the pool's fill type; ties go to the lowest
// node id, so placement is deterministic.
func (s *scheduler) choose(slots int) (string, bool) {
	best, bestFree := "", 0
	for _, id := range s.nodes {
		free := s.free[id]
		if free < slots {
			continue
		}
		better := best == "" ||
			(s.fill == FillSpread && free > bestFree) ||
			(s.fill == FillPack && free < bestFree)
		if better {
			best, bestFree = id, free
		}
	}
	return best, best != ""
}
