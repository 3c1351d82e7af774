package service

import (
	"slices"
	"strconv"
	"time"

	"corral/actor"
	"corral/batch"
)

// Events between job managers and the scheduler of their pool.
type (
	// readyTask is a task whose dependencies are satisfied and that waits for slots.
	readyTask struct {
		JobID  string
		JobInc int64 // the job's life
		TaskID string
		Seq    int64 // the task's life in the job's
		Slots  int
	}

	// enqueue hands ready tasks to the scheduler, in the order they should run. ReplyTo, if
	// set, is told enqueued once the scheduler has placed what it can: after every proposal it
	// made for them (see jobhop.go).
	enqueue struct {
		Tasks   []readyTask
		ReplyTo actor.ID
	}

	// enqueued answers an enqueue that asked for it.
	enqueued struct{}

	// withdraw takes tasks back from the scheduler's queue (terminated or deleted).
	withdraw struct {
		JobID  string
		JobInc int64
		TaskID string // "": every task of the job
		Seq    int64
		// ReplyTo, if set, is told withdrawn once the tasks are withdrawn: after every proposal
		// the scheduler made for them.
		ReplyTo actor.ID
	}

	// withdrawn answers a withdraw that asked for it.
	withdrawn struct{}

	// propose asks a job manager to run a task on a node whose slots the scheduler has reserved.
	propose struct {
		Task   readyTask
		NodeID string
		PoolID string // the scheduler's: the answer goes back to it (the job may have moved)
		Queued bool   // beyond the node's free slots: on its queue (see queue.go)
	}

	// jobCounts tells the scheduler how many tasks of a job are in each state, for the pool's
	// autoscale samples. Each replaces the job's previous counts; a withdraw of every task of
	// the job (the job completed) forgets them.
	jobCounts struct {
		JobID  string
		JobInc int64
		Counts taskCounts
	}

	// poolFill tells the scheduler the node fill type of the pool's current life.
	poolFill struct{ Fill batch.NodeFillType }

	// nodeMsg asks the pool's scheduler to pass Msg on to the session of node NodeID: a kill
	// (killAttempt) from a job manager, or the end of a job (jobEnded). They go this way
	// because the scheduler of a pool id always exists while job managers do, and a node's
	// session may not yet: after a restart of the service, a job manager can take a Task -
	// Terminate before the pool manager has loaded and started its nodes' sessions. The
	// scheduler holds such a message until it has. An empty NodeID sends Msg to every session
	// of the pool, once the pool has loaded.
	nodeMsg struct {
		NodeID string
		Msg    actor.Event
	}

	// excludeNode tells the scheduler to place no more tasks of a job life on a node: the job's
	// preparation task failed there for good.
	excludeNode struct {
		JobID  string
		JobInc int64
		NodeID string
	}

	// sessionStarted tells the scheduler that the pool manager has started the session of
	// NodeID: kills for the node can go to it.
	sessionStarted struct{ NodeID string }

	// sessionsLoaded tells the scheduler that a life of the pool has loaded and started the
	// sessions of all its nodes that have one. A kill held for any other node is dropped: that
	// node is leaving the pool, and its VM goes with what it runs.
	sessionsLoaded struct{}

	// sampleTasks asks the scheduler for the pool's task counts (a taskSample to ReplyTo).
	sampleTasks struct{ ReplyTo actor.ID }

	// taskSample answers sampleTasks: the task counts of every job on the pool, summed, and which
	// nodes the scheduler knows are up and which of those have work (slots taken).
	taskSample struct {
		Counts taskCounts
		Up     []string // sorted
		Busy   []string // sorted
	}

	// proposalAnswer tells the scheduler whether the job manager took a proposal. If it did not
	// (the task was terminated meanwhile), the reserved slots are free again.
	proposalAnswer struct {
		Task     readyTask
		NodeID   string
		Accepted bool
	}
)

// NodeSlots is announced, for the monitors, whenever the scheduler's count of a node's free slots
// changes: Up is false once the node takes no more work.
type NodeSlots struct {
	PoolID, NodeID string
	Up             bool
	Free, Total    int
	Queued         int // slots of the attempts placed on the node's queue (see queue.go)
}

// SchedulerStarted is announced, for the monitors, when a pool's scheduler starts (again, after a
// crash): it knows no node until their sessions say they are up.
type SchedulerStarted struct{ PoolID string }

// scheduler places the ready tasks of every job on a pool onto the pool's nodes. It owns the free
// slot count of every node it knows is up; a job manager owns everything else about a task. A
// pool id's scheduler outlives the pool's lives: while no pool of its id exists it has no nodes
// and holds the tasks of the jobs on the pool id, and the next pool's nodes take them.
type scheduler struct {
	poolID string
	fill   batch.NodeFillType

	queue []readyTask
	// free holds, by node id, the free slots of the nodes that are up: below 0 when attempts
	// wait on the node's queue (see queue.go), down to minus its slots.
	free  map[string]int
	total map[string]int // node id -> task slots
	nodes []string       // the keys of free, sorted

	counts map[string]taskCounts // by jobKey: the latest jobCounts

	sessions map[string]bool // nodes whose sessions this life of the service has started
	held     []nodeMsg       // messages for nodes whose sessions have not started (yet)
	loaded   bool            // a life of the pool has loaded and started its sessions
	// excluded holds, by jobKey, the nodes that take no task of the job.
	excluded map[string]map[string]bool

	// ran is a running mean of how long the pool's recent attempts ran, from ranCount of them:
	// nodes have queues only while tasks are short (see queueing).
	ran      time.Duration
	ranCount int
	// reclaiming holds the nodes asked to take queued attempts back (takeBack) since their
	// slots last changed: they are not asked again meanwhile.
	reclaiming map[string]bool
}

// taskCounts counts a job's (or a pool's) tasks for autoscale: active tasks whose dependencies
// are met (Active) and those still waiting on them (Blocked), tasks preparing or running, and
// completed ones by result. Slots weight tasks by requiredSlots; MaxActiveSlots is the largest
// requiredSlots among active tasks.
type taskCounts struct {
	Active, Blocked, Running, Succeeded, Failed int
	ActiveSlots, RunningSlots, MaxActiveSlots   int
}

// add adds o to c.
func (c *taskCounts) add(o taskCounts) {
	c.Active += o.Active
	c.Blocked += o.Blocked
	c.Running += o.Running
	c.Succeeded += o.Succeeded
	c.Failed += o.Failed
	c.ActiveSlots += o.ActiveSlots
	c.RunningSlots += o.RunningSlots
	c.MaxActiveSlots = max(c.MaxActiveSlots, o.MaxActiveSlots)
}

func newScheduler(poolID string, fill batch.NodeFillType) *scheduler {
	return &scheduler{poolID: poolID, fill: fill, free: map[string]int{}, total: map[string]int{}, counts: map[string]taskCounts{},
		sessions: map[string]bool{}, excluded: map[string]map[string]bool{}, reclaiming: map[string]bool{}}
}

// Define declares the scheduler's single state.
func (s *scheduler) Define(m *actor.Machine) {
	m.State("Scheduling",
		actor.OnEntry(func(ctx *actor.Context) { ctx.Announce(SchedulerStarted{PoolID: s.poolID}) }),
		actor.On(func(ctx *actor.Context, e enqueue) {
			s.queue = append(s.queue, e.Tasks...)
			s.dispatch(ctx)
			if e.ReplyTo != "" {
				ctx.Send(e.ReplyTo, enqueued{})
			}
		}),
		actor.On(func(ctx *actor.Context, w withdraw) {
			s.queue = slices.DeleteFunc(s.queue, func(t readyTask) bool {
				return t.JobID == w.JobID && t.JobInc == w.JobInc && (w.TaskID == "" || t.TaskID == w.TaskID && t.Seq == w.Seq)
			})
			if w.TaskID == "" {
				delete(s.counts, jobKey(w.JobID, w.JobInc))
				delete(s.excluded, jobKey(w.JobID, w.JobInc))
			}
			if w.ReplyTo != "" {
				ctx.Send(w.ReplyTo, withdrawn{})
			}
		}),
		actor.On(func(ctx *actor.Context, c jobCounts) { s.counts[jobKey(c.JobID, c.JobInc)] = c.Counts }),
		actor.On(func(ctx *actor.Context, f poolFill) { s.fill = f.Fill }),
		actor.On(s.pass),
		actor.On(func(ctx *actor.Context, x excludeNode) {
			k := jobKey(x.JobID, x.JobInc)
			if s.excluded[k] == nil {
				s.excluded[k] = map[string]bool{}
			}
			s.excluded[k][x.NodeID] = true
		}),
		actor.On(func(ctx *actor.Context, st sessionStarted) {
			s.sessions[st.NodeID] = true
			s.sendHeld(ctx, false)
		}),
		actor.On(func(ctx *actor.Context, _ sessionsLoaded) {
			s.loaded = true
			s.sendHeld(ctx, true)
		}),
		actor.On(s.sample),
		actor.On(func(ctx *actor.Context, u nodeUp) {
			if i, found := slices.BinarySearch(s.nodes, u.NodeID); !found {
				s.nodes = slices.Insert(s.nodes, i, u.NodeID)
			}
			s.free[u.NodeID] = u.Slots
			s.total[u.NodeID] = u.Total
			s.announce(ctx, u.NodeID)
			s.dispatch(ctx)
		}),
		actor.On(func(ctx *actor.Context, d nodeDown) {
			if i, found := slices.BinarySearch(s.nodes, d.NodeID); found {
				s.nodes = slices.Delete(s.nodes, i, i+1)
			}
			delete(s.free, d.NodeID)
			delete(s.total, d.NodeID)
			delete(s.reclaiming, d.NodeID)
			s.announce(ctx, d.NodeID)
		}),
		actor.On(func(ctx *actor.Context, f slotsFreed) {
			s.learn(f.Ran)
			if _, up := s.free[f.NodeID]; up {
				delete(s.reclaiming, f.NodeID)
				s.release(f.NodeID, f.Slots)
				s.announce(ctx, f.NodeID)
				s.dispatch(ctx)
			}
		}),
		actor.On(func(ctx *actor.Context, a proposalAnswer) {
			if a.Accepted {
				return
			}
			if _, up := s.free[a.NodeID]; up {
				s.release(a.NodeID, a.Task.Slots)
				s.announce(ctx, a.NodeID)
				s.dispatch(ctx)
			}
		}),
	)
}

// pass passes a message on to the node's session, or holds it until the session has started.
func (s *scheduler) pass(ctx *actor.Context, m nodeMsg) {
	if m.NodeID == "" && s.loaded {
		for _, id := range sortedKeys(s.sessions) {
			ctx.Send(nodeActor(s.poolID, id), m.Msg)
		}
		return
	}
	if s.sessions[m.NodeID] {
		ctx.Send(nodeActor(s.poolID, m.NodeID), m.Msg)
		return
	}
	s.held = append(s.held, m)
}

// sendHeld passes on the held messages whose nodes' sessions have started; with loaded (the pool
// has started every session it will), it drops the others.
func (s *scheduler) sendHeld(ctx *actor.Context, loaded bool) {
	s.held = slices.DeleteFunc(s.held, func(m nodeMsg) bool {
		if m.NodeID == "" {
			if !s.loaded {
				return false
			}
			for _, id := range sortedKeys(s.sessions) {
				ctx.Send(nodeActor(s.poolID, id), m.Msg)
			}
			return true
		}
		if s.sessions[m.NodeID] {
			ctx.Send(nodeActor(s.poolID, m.NodeID), m.Msg)
			return true
		}
		if loaded {
			ctx.Log("scheduler: a message for a node without a session dropped; the node is leaving", "pool", s.poolID, "node", m.NodeID, "event", actor.EventName(m.Msg))
		}
		return loaded
	})
}

// sample answers sampleTasks.
func (s *scheduler) sample(ctx *actor.Context, q sampleTasks) {
	var out taskSample
	for _, id := range sortedKeys(s.counts) {
		out.Counts.add(s.counts[id])
	}
	out.Up = slices.Clone(s.nodes)
	for _, id := range s.nodes {
		if s.free[id] < s.total[id] {
			out.Busy = append(out.Busy, id)
		}
	}
	ctx.Send(q.ReplyTo, out)
}

// dispatch proposes queued tasks to nodes with room for them, by batch.Place: in queue order, by
// the pool's fill type, and a task that fits no node now does not hold back smaller ones behind it.
func (s *scheduler) dispatch(ctx *actor.Context) {
	if len(s.queue) == 0 || len(s.nodes) == 0 {
		if len(s.queue) == 0 {
			s.reclaim(ctx)
		}
		return
	}
	if !s.room() {
		return // every node is full, queue and all: the next freed slot dispatches
	}
	considered := s.queue[:s.placeable()]
	req := batch.PlacementRequest{FillType: s.fill, Nodes: make([]batch.NodeSlots, len(s.nodes)), Queue: make([]batch.QueuedTask, len(considered))}
	for i, id := range s.nodes {
		req.Nodes[i] = batch.NodeSlots{ID: id, State: batch.NodeIdle, SchedulingState: batch.SchedulingEnabled, TotalSlots: s.total[id], FreeSlots: s.free[id]}
	}
	byKey := make(map[string]readyTask, len(considered))
	for i, t := range considered {
		key := t.key() // task ids are unique only within their job's life
		req.Queue[i] = batch.QueuedTask{ID: key, Job: t.JobID, RequiredSlots: t.Slots}
		byKey[key] = t
	}
	for i := range req.Nodes {
		req.Nodes[i].FreeSlots = max(req.Nodes[i].FreeSlots, 0)
	}
	placed := s.place(req, byKey)
	taken := make(map[string]bool, len(placed))
	s.take(ctx, placed, byKey, taken, false)
	if len(taken) < len(req.Queue) && s.queueing() {
		// Tasks are left and they are short: the nodes' queues take what fits there.
		var rest []batch.QueuedTask
		for _, q := range req.Queue {
			if !taken[q.ID] {
				rest = append(rest, q)
			}
		}
		req.Queue = rest
		for i, n := range req.Nodes {
			req.Nodes[i].FreeSlots = max(s.free[n.ID]+s.queueRoom(n.TotalSlots), 0)
		}
		s.take(ctx, s.place(req, byKey), byKey, taken, true)
	}
	if len(taken) > 0 {
		n := len(considered)
		kept := slices.DeleteFunc(considered, func(t readyTask) bool { return taken[t.key()] })
		s.queue = append(kept, s.queue[n:]...)
	}
	if len(s.queue) == 0 {
		s.reclaim(ctx)
	}
}

// placeable returns how long a head of the queue a dispatch needs to place: all of it, unless
// every queued task needs one slot and no job excludes nodes. Then batch.Place, which places in
// queue order, places exactly the first tasks, as many as there are free slots (and places on
// nodes' queues, while nodes have queues), and the rest of the queue need not be looked at: the
// queue of a wide job holds thousands of ready tasks, and each dispatch frees a slot or two.
func (s *scheduler) placeable() int {
	if len(s.excluded) > 0 || slices.ContainsFunc(s.queue, func(t readyTask) bool { return t.Slots > 1 }) {
		return len(s.queue)
	}
	room := 0
	for _, id := range s.nodes {
		room += max(s.free[id]+s.queueRoom(s.total[id]), 0) // its free slots, then its queue
	}
	return min(room, len(s.queue))
}

// room reports whether some node has a slot free, or room on its queue while nodes have queues:
// otherwise no placement can come of a dispatch, and building one is skipped.
func (s *scheduler) room() bool {
	for _, id := range s.nodes {
		if s.free[id] > 0 || s.free[id]+s.queueRoom(s.total[id]) > 0 {
			return true
		}
	}
	return false
}

// take reserves the slots of placements and proposes them to their job managers.
func (s *scheduler) take(ctx *actor.Context, placed []batch.Assignment, byKey map[string]readyTask, taken map[string]bool, queued bool) {
	for _, a := range placed {
		t := byKey[a.TaskID]
		taken[a.TaskID] = true
		s.free[a.NodeID] -= t.Slots
		s.announce(ctx, a.NodeID)
		ctx.Send(jobActor(t.JobID, t.JobInc), propose{Task: t, NodeID: a.NodeID, PoolID: s.poolID, Queued: queued})
	}
}

// place places the queue of req. Jobs that exclude nodes (their preparation task failed there) are
// placed after the others, each on the nodes it may use and the slots the others left.
func (s *scheduler) place(req batch.PlacementRequest, byKey map[string]readyTask) []batch.Assignment {
	if len(s.excluded) == 0 {
		return batch.Place(req).Assignments
	}
	var free, restricted []batch.QueuedTask
	for _, q := range req.Queue {
		t := byKey[q.ID]
		if s.excluded[jobKey(t.JobID, t.JobInc)] != nil {
			restricted = append(restricted, q)
		} else {
			free = append(free, q)
		}
	}
	req.Queue = free
	out := batch.Place(req).Assignments
	left := map[string]int{}
	for _, n := range req.Nodes {
		left[n.ID] = n.FreeSlots
	}
	for _, a := range out {
		left[a.NodeID] -= byKey[a.TaskID].Slots
	}
	for _, k := range sortedKeys(s.excluded) {
		var queue []batch.QueuedTask
		for _, q := range restricted {
			if t := byKey[q.ID]; jobKey(t.JobID, t.JobInc) == k {
				queue = append(queue, q)
			}
		}
		if len(queue) == 0 {
			continue
		}
		sub := batch.PlacementRequest{FillType: req.FillType, Queue: queue}
		for _, n := range req.Nodes {
			if !s.excluded[k][n.ID] {
				n.FreeSlots = max(left[n.ID], 0)
				sub.Nodes = append(sub.Nodes, n)
			}
		}
		for _, a := range batch.Place(sub).Assignments {
			left[a.NodeID] -= byKey[a.TaskID].Slots
			out = append(out, a)
		}
	}
	return out
}

// release counts slots of a node free again. A node's session may have offered its slots since
// they were taken (the node was lost and came back, and its offer counted them free already): a
// node never has more free slots than it has. (The session refuses a start that finds its slots
// taken, so a count too high only costs a placement made again.)
func (s *scheduler) release(node string, slots int) {
	s.free[node] = min(s.free[node]+slots, s.total[node])
}

// announce tells the monitors a node's free slots as the scheduler counts them.
func (s *scheduler) announce(ctx *actor.Context, node string) {
	free, up := s.free[node]
	ctx.Announce(NodeSlots{PoolID: s.poolID, NodeID: node, Up: up, Free: max(free, 0), Queued: max(-free, 0), Total: s.total[node]})
}

// key names a queued task: its job's life, its id and its life.
func (t readyTask) key() string {
	return jobKey(t.JobID, t.JobInc) + "\x00" + t.TaskID + "\x00" + strconv.FormatInt(t.Seq, 10)
}

// jobKey names a job's life.
func jobKey(jobID string, inc int64) string { return jobID + "#" + strconv.FormatInt(inc, 10) }
