package service

import (
	"slices"
	"time"

	"corral/actor"
	"corral/agent/protocol"
)

// A node's queue: when its tasks are short, the scheduler places attempts on a node beyond its
// free slots (startAttempt.Queued), up to as many slots again as it has, and twice as many when
// they are very short (see queueRoom). The node's agent holds them (protocol.StartTask.NodeSlots)
// and starts the next the moment a slot frees, so the service's round trip and its store's
// commit leave the cycle of a slot. The API stays truthful:
// a queued task is recorded with its attempt and node but stays active, without a start time,
// until the agent reports its process started (protocol.TaskStarted, passed on to the job
// manager as attemptLaunched).
//
// A queued attempt that has not started can be taken back (the scheduler asks, takeBack, when
// another node has slots free and nothing else to run; a draining node or one whose scheduling
// is disabled gives back what it holds): the session asks the agent with KillTask.IfQueued, and
// the agent, which alone knows whether the start came first, either reports the attempt
// NotStarted (then it is requeued, without counting as a retry or a requeue) or lets it run. An
// attempt is placed again only after the agent's answer, so it never runs on two nodes at once
// unless a node is lost.

// takeBack asks a node's session to take back queued attempts that need up to Slots slots, to
// be placed elsewhere.
type takeBack struct{ Slots int }

// takeBackAttempt asks a node's session (through the pool's scheduler, nodeMsg) to take back one
// queued attempt: its job is being disabled, and what has not started waits for the enable.
type takeBackAttempt struct{ AttemptID string }

// takeBackOne carries out takeBackAttempt.
func (n *nodeSession) takeBackOne(ctx *actor.Context, t takeBackAttempt) {
	if !slices.Contains(n.queued, t.AttemptID) || n.killed[t.AttemptID] {
		return
	}
	if n.askedBack == nil {
		n.askedBack = map[string]bool{}
	}
	n.askedBack[t.AttemptID] = true
	ctx.Send(n.agent, protocol.KillTask{AttemptID: t.AttemptID, IfQueued: true})
}

// capacity is how many slots the attempts a session has sent may take, with s: the node's, or
// with the deepest queue (maxQueueDepth times the node's) for a queued attempt.
func (n *nodeSession) capacity(s startAttempt) int {
	if s.Queued {
		return (1 + maxQueueDepth) * n.slots
	}
	return n.slots
}

// taskStarted takes the agent's word that an attempt's process started: one that was queued
// goes to running with its job manager.
func (n *nodeSession) taskStarted(ctx *actor.Context, s protocol.TaskStarted) {
	n.lastHeard = ctx.Now()
	if !slices.Contains(n.queued, s.AttemptID) {
		return
	}
	n.unqueue(s.AttemptID)
	if r, ok := n.running[s.AttemptID]; ok && !n.killed[s.AttemptID] {
		ctx.Send(jobActor(r.JobID, r.JobInc), attemptLaunched{Ref: r, StartTime: s.StartTime})
	}
}

// unqueue forgets that an attempt waits in its agent's queue.
func (n *nodeSession) unqueue(attemptID string) {
	n.queued = slices.DeleteFunc(n.queued, func(id string) bool { return id == attemptID })
	delete(n.askedBack, attemptID)
}

// askBackAgain repeats, with every heartbeat, the requests to give back queued attempts that the
// agent still lists (has): a KillTask lost on the way must not leave one waiting behind a long
// task while another node is idle. The agent answers a repeat as it does the first.
func (n *nodeSession) askBackAgain(ctx *actor.Context, has map[string]bool) {
	for _, id := range n.queued {
		if n.askedBack[id] && has[id] {
			ctx.Send(n.agent, protocol.KillTask{AttemptID: id, IfQueued: true})
		}
	}
}

// takeBack asks the agent for queued attempts back, the latest sent first (the likeliest not to
// have started), enough for t.Slots slots.
func (n *nodeSession) takeBack(ctx *actor.Context, t takeBack) { n.takeBackQueued(ctx, t.Slots) }

// takeBackQueued asks the agent for queued attempts back, the latest sent first, for up to slots
// slots (0: every one).
func (n *nodeSession) takeBackQueued(ctx *actor.Context, slots int) {
	asked := 0
	defer func() {
		// Asked for more than is queued here: the scheduler counts placements whose starts
		// are still on their way (recorded, not yet sent). The next of those to arrive go
		// back instead (see start).
		n.giveBack = max(slots-asked, 0)
	}()
	for i := len(n.queued) - 1; i >= 0 && (slots == 0 || asked < slots); i-- {
		id := n.queued[i]
		r, ok := n.running[id]
		if !ok || n.killed[id] {
			continue
		}
		asked += r.Slots
		if n.askedBack == nil {
			n.askedBack = map[string]bool{}
		}
		n.askedBack[id] = true
		ctx.Send(n.agent, protocol.KillTask{AttemptID: id, IfQueued: true})
	}
}

// bounce sends back a queued attempt that arrives while the scheduler wants queued attempts
// back (giveBack): it never reached the agent, so it is requeued at once.
func (n *nodeSession) bounce(ctx *actor.Context, s startAttempt) bool {
	if !s.Queued || n.giveBack <= 0 {
		return false
	}
	n.giveBack = max(n.giveBack-s.Ref.Slots, 0)
	n.notRun(ctx, s)
	ctx.Send(n.sched, slotsFreed{NodeID: n.nodeID, Slots: s.Ref.Slots})
	return true
}

// tookBack takes an attempt the agent gave up unstarted: it is requeued (its job manager places
// it again), its slots are free, and the agent may forget it.
func (n *nodeSession) tookBack(ctx *actor.Context, r attemptRef) {
	n.lost(ctx, r, false)
	ctx.Send(n.agent, protocol.ResultAck{AttemptID: r.AttemptID})
	ctx.Send(n.sched, slotsFreed{NodeID: n.nodeID, Slots: r.Slots})
}

// ranFor is how long an attempt's process ran, by its result: 0 if it did not run to its end.
func ranFor(res protocol.TaskResult) time.Duration {
	if res.NotStarted || res.Killed || res.Error != "" || res.StartTime.IsZero() || res.EndTime.Before(res.StartTime) {
		return 0
	}
	return res.EndTime.Sub(res.StartTime)
}

// queueBelow is how short the pool's recent attempts must run, on average, for its nodes to
// have queues: for longer tasks the round trip a queue saves is a small share of a slot's
// time, not worth placing a task before knowing which node frees a slot first.
const queueBelow = time.Second

// deepQueueBelow is how short the pool's recent attempts must run, on average, for its nodes'
// queues to hold maxQueueDepth times their slots: a task that runs a few milliseconds ends
// within the service's round trip and commit, so that a queue of one task a slot runs dry
// before the refill comes. On `go run ./bench/dag` (tasks of about 4 ms on two slots) a queue
// twice as deep made the server's CPU lower and the run faster in most pairs (see
// docs/performance.md).
const deepQueueBelow = 100 * time.Millisecond

// maxQueueDepth is the deepest a node's queue gets, in times its slots.
const maxQueueDepth = 2

// learn takes how long an attempt ran into the scheduler's running mean (0: it did not run to
// its end, and says nothing).
func (s *scheduler) learn(ran time.Duration) {
	if ran <= 0 {
		return
	}
	if s.ranCount == 0 {
		s.ran = ran
	} else {
		s.ran += (ran - s.ran) / 8
	}
	s.ranCount++
}

// queueing reports whether the nodes have queues now: the pool's recent attempts were short.
func (s *scheduler) queueing() bool { return s.ranCount > 0 && s.ran < queueBelow }

// queueRoom is how many slots' worth of attempts a node of total slots may hold queued now.
func (s *scheduler) queueRoom(total int) int {
	switch {
	case !s.queueing():
		return 0
	case s.ran < deepQueueBelow:
		return maxQueueDepth * total
	default:
		return total
	}
}

// reclaim asks the nodes with attempts on their queues to give some back when other nodes have
// slots free and nothing waits to run: a queued task is not left waiting behind another while a
// slot elsewhere is idle. Each node is asked once until its slots change.
func (s *scheduler) reclaim(ctx *actor.Context) {
	idle := 0
	for _, id := range s.nodes {
		idle += max(s.free[id], 0)
	}
	for _, id := range s.nodes {
		if idle <= 0 {
			return
		}
		if q := -s.free[id]; q > 0 && !s.reclaiming[id] && s.sessions[id] {
			s.reclaiming[id] = true
			ctx.Send(nodeActor(s.poolID, id), takeBack{Slots: min(q, idle)})
			idle -= min(q, idle)
		}
	}
}
