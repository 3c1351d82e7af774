package batch

import (
	"math/bits"
	"slices"
	"strings"
)

// NodeSlots is a node as placement sees it.
type NodeSlots struct {
	ID              string
	State           NodeState
	SchedulingState SchedulingState
	// TotalSlots is the node's task slots (the pool's taskSlotsPerNode).
	TotalSlots int
	// FreeSlots is TotalSlots minus the slots of the tasks running on the node.
	FreeSlots int
}

// SlotsOf returns node n as placement sees it, in a pool with taskSlotsPerNode slots per node.
func SlotsOf(n Node, taskSlotsPerNode int) NodeSlots {
	return NodeSlots{
		ID:              n.ID,
		State:           n.State,
		SchedulingState: n.SchedulingState,
		TotalSlots:      taskSlotsPerNode,
		FreeSlots:       taskSlotsPerNode - int(n.RunningTaskSlotsCount),
	}
}

// QueuedTask is a ready task waiting for a node.
type QueuedTask struct {
	ID string
	// Job is the task's job, for maxParallelTasks; tasks of several jobs may share one queue.
	Job           string
	RequiredSlots int
}

// PlacementRequest is the input of [Place].
type PlacementRequest struct {
	// FillType is the pool's nodeFillType; "" means spread.
	FillType NodeFillType
	// Nodes are the pool's nodes, in any state; only idle and running nodes with scheduling
	// enabled and free slots receive tasks, but every node counts for TooLarge.
	Nodes []NodeSlots
	// Queue holds ready tasks in the order they should be placed (the caller orders by job
	// priority, then by the order tasks became ready).
	Queue []QueuedTask
	// MaxParallel maps a job to its maxParallelTasks; a job that is absent, or -1, has no limit.
	MaxParallel map[string]int
	// Running maps a job to the number of its tasks already preparing or running.
	Running map[string]int
}

// Assignment places one task on one node.
type Assignment struct {
	TaskID string
	NodeID string
	Slots  int
}

// Placement is the result of [Place].
type Placement struct {
	// Assignments in queue order.
	Assignments []Assignment
	// TooLarge lists tasks that need more slots than any node of the pool has: they can never be
	// placed in this pool (Corral's validation rejects them when the job's pool is known; a job
	// can be moved to another pool).
	TooLarge []string
	// NoRoom counts tasks left in the queue because no node had enough free slots.
	NoRoom int
	// AtJobLimit counts tasks left in the queue because their job reached its maxParallelTasks
	// (once every slot is taken, the remaining tasks count as NoRoom).
	AtJobLimit int
}

// Place assigns queued tasks to nodes, one at a time in queue order. A task goes to an eligible
// node (idle or running, scheduling enabled) with enough free slots:
//
//   - spread: the node with the most free slots, so tasks spread evenly over the nodes;
//   - pack: the node with the fewest free slots that still fits the task, so each node is filled
//     before another is started (Azure: as many tasks as possible on each node before the next).
//
// Ties go to the node whose ID sorts first. A task that does not fit now is skipped and later,
// smaller tasks may still be placed (so a large task can wait while small ones pass it); a task of
// a job that reached maxParallelTasks is skipped. Azure documents the two fill types but not its
// tie-breaking or backfilling; this is Corral's choice. The cost is O(n log n) for n nodes plus
// O(log n) per placed task and O(1) per skipped one; once every slot is taken the rest of the
// queue is only counted.
func Place(req PlacementRequest) Placement {
	var out Placement
	maxTotal := 0
	eligible := make([]int, 0, len(req.Nodes))
	for i, n := range req.Nodes {
		maxTotal = max(maxTotal, n.TotalSlots)
		if n.FreeSlots > 0 && n.State.AcceptsTasks() && n.SchedulingState != SchedulingDisabled {
			eligible = append(eligible, i)
		}
	}
	slices.SortFunc(eligible, func(a, b int) int {
		return strings.Compare(req.Nodes[a].ID, req.Nodes[b].ID)
	})
	maxFree := 0
	for _, i := range eligible {
		maxFree = max(maxFree, req.Nodes[i].FreeSlots)
	}
	// buckets[f] is a min-heap of ranks (positions in ID order) of the nodes with f free slots;
	// nonEmpty has bit f set when buckets[f] is not empty.
	buckets := make([][]int32, maxFree+1)
	nonEmpty := make([]uint64, maxFree/64+1)
	for rank, i := range eligible {
		f := req.Nodes[i].FreeSlots
		buckets[f] = append(buckets[f], int32(rank)) // ranks ascend: already a heap
		nonEmpty[f/64] |= 1 << (f % 64)
	}
	remaining := make(map[string]int)
	for job, limit := range req.MaxParallel {
		if limit >= 0 {
			remaining[job] = max(0, limit-req.Running[job])
		}
	}
	pack := req.FillType == FillPack
	full := len(eligible) == 0 // no free slot left anywhere
	for _, t := range req.Queue {
		r := max(t.RequiredSlots, 1)
		if len(req.Nodes) > 0 && r > maxTotal {
			out.TooLarge = append(out.TooLarge, t.ID)
			continue
		}
		if full {
			out.NoRoom++
			continue
		}
		left, limited := remaining[t.Job]
		if limited && left == 0 {
			out.AtJobLimit++
			continue
		}
		var f int
		if pack {
			f = lowestAtLeast(nonEmpty, r)
		} else {
			f = highest(nonEmpty)
			if f < r {
				f = -1
			}
		}
		if f < 0 {
			out.NoRoom++
			continue
		}
		rank := heapPop(&buckets[f])
		if len(buckets[f]) == 0 {
			nonEmpty[f/64] &^= 1 << (f % 64)
		}
		if rest := f - r; rest > 0 {
			heapPush(&buckets[rest], rank)
			nonEmpty[rest/64] |= 1 << (rest % 64)
		} else if highest(nonEmpty) < 0 {
			full = true
		}
		if limited {
			remaining[t.Job] = left - 1
		}
		out.Assignments = append(out.Assignments, Assignment{
			TaskID: t.ID,
			NodeID: req.Nodes[eligible[rank]].ID,
			Slots:  r,
		})
	}
	return out
}

// highest returns the highest bit set in set, or -1.
func highest(set []uint64) int {
	for w := len(set) - 1; w >= 0; w-- {
		if set[w] != 0 {
			return w*64 + 63 - bits.LeadingZeros64(set[w])
		}
	}
	return -1
}

// lowestAtLeast returns the lowest bit set in set that is at least from, or -1.
func lowestAtLeast(set []uint64, from int) int {
	w := from / 64
	if w >= len(set) {
		return -1
	}
	word := set[w] &^ (1<<(from%64) - 1)
	for {
		if word != 0 {
			return w*64 + bits.TrailingZeros64(word)
		}
		w++
		if w >= len(set) {
			return -1
		}
		word = set[w]
	}
}

// heapPush adds v to the min-heap h.
func heapPush(h *[]int32, v int32) {
	*h = append(*h, v)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p] <= s[i] {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

// heapPop removes and returns the smallest value of the non-empty min-heap h.
func heapPop(h *[]int32) int32 {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(s) {
			break
		}
		m := l
		if r := l + 1; r < len(s) && s[r] < s[l] {
			m = r
		}
		if s[i] <= s[m] {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}
