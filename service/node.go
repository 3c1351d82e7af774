package service

import (
	"slices"
	"time"

	"corral/actor"
	"corral/agent/protocol"
	"corral/batch"
	"corral/store"
)

// Events between the node session and the rest of the service.
type (
	// attemptRef names one attempt of a task and what it occupies.
	attemptRef struct {
		AttemptID string
		JobID     string
		JobInc    int64 // the life of the job (its manager is jobActor(JobID, JobInc))
		TaskID    string
		Slots     int
		// Queued marks, in the store's record of the attempt, one that waits on its node's
		// queue: it is not running yet (see queue.go).
		Queued bool `json:"queued,omitempty"`
	}

	// startAttempt asks a node session to have its agent run an attempt. The job manager sends it
	// once the attempt is recorded.
	startAttempt struct {
		Ref   attemptRef
		Start protocol.StartTask
		Prep  *jobPrepSpec // the job's preparation and release tasks; nil if it has none
		// Queued marks an attempt placed beyond the node's free slots (see queue.go): the agent
		// holds it until a slot frees, and its job manager records it running only once the
		// agent says it started.
		Queued bool
	}

	// killAttempt asks a node session to have its agent kill an attempt. The job manager asks
	// for it once the attempt's end is recorded (the task terminated, the job deleted): the
	// attempt's result changes nothing any more. It goes through the pool's scheduler (nodeKill),
	// which holds it until the session has started.
	killAttempt struct{ AttemptID string }

	// attemptEnded tells a job manager that an attempt is over: it finished (Result), or its node
	// was lost (Lost) and the attempt must be requeued without counting as a retry, or, with
	// Terminate as well, completed as terminated (its node was removed with nodeDeallocationOption
	// terminate). With Kill, the attempt still runs: once its loss is recorded, the job manager
	// has the session kill it (killAttempt), so that a restart of the service in between finds
	// it running rather than ended by a kill nobody recorded.
	attemptEnded struct {
		Ref       attemptRef
		PoolID    string
		NodeID    string
		Result    protocol.TaskResult
		Lost      bool
		Terminate bool
		Kill      bool
	}

	// resultRecorded tells a node session that the job manager has recorded an attempt's end, so
	// the agent may forget it.
	resultRecorded struct{ AttemptID string }

	// nodeUp tells the scheduler a node can take work, how many slots it has and how many are
	// free.
	nodeUp struct {
		NodeID string
		Slots  int // free
		Total  int
	}

	// nodeDown tells the scheduler a node takes no more work.
	nodeDown struct{ NodeID string }

	// slotsFreed tells the scheduler an attempt no longer occupies its slots, and how long its
	// process ran (0: it did not run, or was killed).
	slotsFreed struct {
		NodeID string
		Slots  int
		Ran    time.Duration
	}

	// aliveCheck is the node session's periodic timer.
	aliveCheck struct{}

	// retire ends a session whose node was never created.
	retire struct{}

	// vmLost tells a session that its node's VM is gone (preempted, or failed): the node is
	// given up at once, as if it had gone silent, and comes back with its agent's Hello when the
	// pool manager has the VM created again.
	vmLost struct{}

	// stopped is the last event a stopping session handles.
	stopped struct{}

	// drain tells the session of a node removed with nodeDeallocationOption taskcompletion (or
	// retaineddata) to take no more work and let what runs finish; then it sends drained to its
	// pool manager and stops.
	drain struct{}

	// drained tells a pool manager that the session of a node it removed has reported what the
	// node ran (stopping), or that a draining node runs nothing any more: its VM may go.
	drained struct{ NodeID string }
)

// AttemptGivenUp is announced when a node session reports an attempt lost to its job manager: the
// session no longer counts it on the node (the node went silent, did not list it, or left), and
// kills it if the node reports it running again.
type AttemptGivenUp struct{ NodeID, AttemptID string }

// giveUp reports an attempt lost to its job manager (to be completed as terminated, with
// terminate; requeued otherwise).
func (n *nodeSession) giveUp(ctx *actor.Context, r attemptRef, terminate bool) {
	ctx.Announce(AttemptGivenUp{NodeID: n.nodeID, AttemptID: r.AttemptID})
	ctx.Send(jobActor(r.JobID, r.JobInc), attemptEnded{Ref: r, PoolID: n.poolID, NodeID: n.nodeID, Lost: true, Terminate: terminate})
}

// AttemptNotRun is announced when a session reports lost an attempt it never had its agent start
// (placed on the node before the scheduler knew the node was leaving): it is requeued.
type AttemptNotRun struct{ JobID, TaskID, AttemptID, NodeID string }

// NodeTiming sets how a node session judges its agent's health.
type NodeTiming struct {
	// CheckEvery is how often the session checks when it last heard from the agent.
	CheckEvery time.Duration
	// LostAfter is how long without any report makes the node lost.
	LostAfter time.Duration
}

// nodeSession is the service's side of the conversation with one node's agent. It starts in
// Connecting and waits for the agent's Hello; in Ready it runs attempts; in Lost it has given the
// node up (every attempt it ran was reported lost) until the agent says Hello again. A session
// told to drain (its node leaves with nodeDeallocationOption taskcompletion) goes from Ready to
// Draining, where it starts nothing new and waits for the attempts under way to end and their
// results to be recorded; from Connecting or Lost, or when the node is lost while draining, it
// drains at once (what still ran is reported lost, so requeued).
type nodeSession struct {
	poolID, nodeID string
	slots          int // task slots per node
	agent          actor.ID
	sched          actor.ID
	pool           actor.ID // the manager of the pool's life the node belongs to
	timing         NodeTiming

	// expected holds, after a restart of the service, the attempts the store says run on this
	// node; Hello reconciles them with what the agent reports.
	expected map[string]attemptRef
	running  map[string]attemptRef         // attempts the agent runs, as far as the session knows
	starts   map[string]protocol.StartTask // how each of them was started, to ask again
	// reported holds the attempts whose result went to their job manager and is not recorded yet
	// (no resultRecorded): a repeated result goes to the job manager again, since the first may
	// not have been recorded (the store failed), and only resultRecorded lets the agent forget it.
	reported map[string]attemptRef
	// killed holds the attempts in running whose end their job manager has recorded already
	// (killAttempt): they hold their slots until the agent reports them ended, and then their
	// result is acknowledged here and goes to no job manager (the job may be deleted, and a job
	// of the same id added since).
	killed map[string]bool
	// awaitKill holds the attempts given up to be killed (attemptEnded.Kill) whose job manager
	// has not yet recorded their loss (no killAttempt yet).
	awaitKill map[string]bool
	lastHeard time.Time
	// agentInc is the incarnation of the agent's latest Hello, and offered says that the
	// scheduler has the node up (a nodeUp was sent since the latest nodeDown).
	agentInc string
	offered  bool
	timer    actor.TimerID

	// The start task (see starttask.go): the pool's, for the node's next run (nil: none); the
	// node's record (nil: none); whether the node restarts afresh (rerunStartTask); and whether
	// a new run is due that the store has not recorded yet (it failed).
	store        store.Store
	startSpec    *batch.StartTask
	startRec     *startTaskRecord
	startAgain   bool
	startPending bool
	// disable is the option the node's scheduling is disabled with ("": enabled): the session
	// offers the node to no scheduler and starts nothing new on it (see nodesched.go).
	disable batch.NodeDeallocationOption
	// restart is the reboot or reimage under way, if any (see noderestart.go).
	restart *nodeRestart
	// preps holds the node's records of job preparation and release tasks, by jobKey, and
	// parked the attempts that wait for their job's preparation task to succeed (by attempt
	// id; they hold their slots). See jobprep.go.
	preps  map[string]*jobPrepRecord
	parked map[string]startAttempt
	// endedJobs holds the jobs (by jobKey) whose end the session has heard of: their attempts
	// that arrive late run no preparation task.
	endedJobs map[string]bool
	// queued holds the attempts started as queued (startAttempt.Queued) whose start the agent
	// has not reported yet, in the order they were sent, and askedBack those of them the
	// session has asked the agent to give back (see queue.go).
	queued    []string
	askedBack map[string]bool
	giveBack  int // slots of queued attempts still to give back as they arrive
}

// nodeStart is what a node session starts with of the start task: the pool's (Spec) and the
// node's record (Rec), either nil.
type nodeStart struct {
	Store store.Store
	Spec  *batch.StartTask
	Rec   *startTaskRecord
	Preps []*jobPrepRecord // the node's job preparation records
}

func newNodeSession(poolID, nodeID string, slots int, agent, sched, pool actor.ID, timing NodeTiming, expected []attemptRef, start nodeStart) *nodeSession {
	n := &nodeSession{poolID: poolID, nodeID: nodeID, slots: slots, agent: agent, sched: sched, pool: pool, timing: timing,
		expected: map[string]attemptRef{}, running: map[string]attemptRef{}, starts: map[string]protocol.StartTask{},
		reported: map[string]attemptRef{}, killed: map[string]bool{}, awaitKill: map[string]bool{},
		store: start.Store, startSpec: start.Spec, startRec: start.Rec,
		preps: map[string]*jobPrepRecord{}, parked: map[string]startAttempt{}, endedJobs: map[string]bool{}}
	for _, r := range start.Preps {
		n.preps[jobKey(r.Spec.JobID, r.Spec.JobInc)] = r
	}
	for _, r := range expected {
		n.expected[r.AttemptID] = r
	}
	return n
}

// Define declares the node session's states.
func (n *nodeSession) Define(m *actor.Machine) {
	m.State("Connecting",
		actor.OnEntry(func(ctx *actor.Context) {
			n.lastHeard = ctx.Now()
			n.timer = ctx.StartPeriodicTimer(n.timing.CheckEvery, n.timing.CheckEvery, aliveCheck{})
			n.applyDisable(ctx)
		}),
		actor.On(n.setSchedule),
		actor.On(n.beginRestart),
		actor.OnGoto[protocol.Hello]("Ready", n.hello),
		// A heartbeat says as much as a Hello whose Hello was lost on the way.
		actor.OnGoto[protocol.Heartbeat]("Ready", n.heartbeatHello),
		// Work for the node waits until its agent is known.
		actor.Defer[startAttempt](),
		actor.Defer[jobEnded](),
		actor.Defer[killAttempt](),
		actor.Defer[resultRecorded](),
		actor.Ignore[takeBack](),
		actor.Defer[takeBackAttempt](),
		actor.Ignore[protocol.TaskStarted](),
		actor.Ignore[protocol.TaskResult](),
		// An agent not heard from since the session started (the service restarted and the
		// machine died meanwhile, say) is given up as a silent one is: what the store says it
		// runs is requeued.
		actor.On(n.check),
		actor.On(func(ctx *actor.Context, _ retire) { ctx.Halt() }),
		actor.On(n.stop),
		actor.On(n.drainNow),
		actor.On(func(ctx *actor.Context, _ vmLost) { ctx.Goto("Lost") }),
		actor.On(func(ctx *actor.Context, s nodeStartTask) { n.startSpec = s.Spec }),
		actor.On(func(ctx *actor.Context, _ rerunStartTask) { n.startAgain = true }),
		actor.Targets("Stopping", "Lost"),
	)
	m.State("Ready",
		actor.OnEntry(func(ctx *actor.Context) {
			n.contact(ctx, false)
			n.applyDisable(ctx)
			n.stepRestart(ctx)
			n.stepReleases(ctx)
		}),
		actor.On(n.ended),
		actor.On(n.hello),
		actor.On(n.setSchedule),
		actor.On(n.beginRestart),
		actor.On(n.start),
		actor.On(n.kill),
		actor.On(func(ctx *actor.Context, r resultRecorded) {
			delete(n.reported, r.AttemptID)
			ctx.Send(n.agent, protocol.ResultAck(r))
			n.stepRestart(ctx)
		}),
		actor.On(n.heartbeat),
		actor.On(n.taskStarted),
		actor.On(n.result),
		actor.On(n.takeBack),
		actor.On(n.takeBackOne),
		actor.On(func(ctx *actor.Context, c aliveCheck) {
			n.check(ctx, c)
			n.stepRestart(ctx) // asks the agent again
		}),
		actor.Ignore[retire](),
		actor.On(n.stop),
		actor.OnGoto[drain]("Draining", func(ctx *actor.Context, _ drain) {
			n.giveUpParked(ctx, false) // not started: requeued
			n.takeBackQueued(ctx, 0)   // likewise, if the agent has not started them yet
			n.offered = false
			ctx.Send(n.sched, nodeDown{NodeID: n.nodeID}) // after any nodeUp this session sent
		}),
		actor.On(func(ctx *actor.Context, _ vmLost) { ctx.Goto("Lost") }),
		actor.On(func(ctx *actor.Context, s nodeStartTask) { n.startSpec = s.Spec }),
		actor.On(func(ctx *actor.Context, _ rerunStartTask) { n.startAgain = true }),
		actor.Targets("Lost", "Stopping", "Draining"),
	)
	m.State("Draining",
		actor.OnEntry(n.drainedIfIdle),
		actor.On(func(ctx *actor.Context, h protocol.Hello) {
			n.reconcile(ctx, h)
			n.drainedIfIdle(ctx)
		}),
		actor.On(func(ctx *actor.Context, s startAttempt) { n.notRun(ctx, s) }),
		actor.On(func(ctx *actor.Context, k killAttempt) {
			n.kill(ctx, k)
			n.drainedIfIdle(ctx)
		}),
		actor.On(func(ctx *actor.Context, r resultRecorded) {
			delete(n.reported, r.AttemptID)
			ctx.Send(n.agent, protocol.ResultAck(r))
			n.drainedIfIdle(ctx)
		}),
		actor.On(n.heartbeat),
		actor.On(n.taskStarted),
		actor.On(n.result),
		actor.Ignore[takeBack](), // its queued attempts were taken back when it began to drain
		actor.Ignore[takeBackAttempt](),
		actor.On(func(ctx *actor.Context, _ aliveCheck) {
			if ctx.Now().Sub(n.lastHeard) > n.timing.LostAfter {
				n.drainNow(ctx, drain{})
			}
		}),
		actor.On(func(ctx *actor.Context, _ vmLost) { n.drainNow(ctx, drain{}) }),
		actor.On(n.stop),
		actor.Ignore[retire](),
		actor.Ignore[drain](),
		actor.Ignore[jobEnded](), // the node leaves: no release task runs
		actor.Ignore[nodeStartTask](),
		actor.Ignore[rerunStartTask](),
		actor.Ignore[schedule](), // the node is leaving: it takes nothing new anyway
		actor.Ignore[restartNode](),
		actor.Targets("Stopping"),
	)
	m.State("Lost",
		actor.OnEntry(n.lose),
		// The node is back (a partition healed, or it was only slow): what it runs now is unknown
		// to the service, since every attempt here was reported lost, so it is killed.
		actor.OnGoto[protocol.Hello]("Ready", n.hello),
		actor.OnGoto[protocol.Heartbeat]("Ready", n.heartbeatHello),
		actor.Ignore[protocol.TaskStarted](),
		actor.Ignore[protocol.TaskResult](),
		actor.Ignore[aliveCheck](),
		actor.Ignore[takeBack](),
		actor.Ignore[takeBackAttempt](),
		// A result handed on before the loss is recorded: no need to hand it on again (and a
		// draining session waits for no such result).
		actor.On(func(ctx *actor.Context, r resultRecorded) {
			delete(n.reported, r.AttemptID)
			ctx.Send(n.agent, protocol.ResultAck(r))
		}),
		actor.Ignore[killAttempt](),
		actor.Defer[jobEnded](), // the release task runs when the node is back
		actor.Ignore[retire](),
		actor.Ignore[vmLost](),
		actor.On(func(ctx *actor.Context, s nodeStartTask) { n.startSpec = s.Spec }),
		actor.On(func(ctx *actor.Context, _ rerunStartTask) { n.startAgain = true }),
		actor.On(n.setSchedule),
		actor.On(n.beginRestart),
		actor.On(n.stop),
		actor.On(n.drainNow),
		actor.Targets("Stopping"),
		actor.On(func(ctx *actor.Context, s startAttempt) {
			// Placed before the loss was known: report it lost at once so it is requeued.
			n.giveUp(ctx, s.Ref, false)
		}),
	)
	m.State("Stopping",
		actor.On(n.notRun),
		actor.On(func(ctx *actor.Context, _ stopped) { ctx.Halt() }),
		actor.OnAny(func(*actor.Context, actor.Event) {}),
	)
}

// hello reconciles what the agent reports with what the service expects, then offers the node's
// free slots to the scheduler.
//
// A Hello repeated by the same agent process (a duplicate, a reconnect, or the answer to a
// repeated RestartNode) while the session is Ready is taken as a heartbeat with results: that
// process lost nothing, and an attempt it does not list may be one whose StartTask has not reached
// it yet, which a full reconcile would give up. It offers nothing if the scheduler has the node
// up: the scheduler's count of free slots includes placements that the session has not yet seen,
// which an offer made from the session's count would undo.
func (n *nodeSession) hello(ctx *actor.Context, h protocol.Hello) {
	if ctx.State() == "Ready" && h.Incarnation != "" && h.Incarnation == n.agentInc {
		for _, res := range h.Finished {
			n.result(ctx, res)
		}
		n.heartbeat(ctx, protocol.Heartbeat{NodeID: h.NodeID, Running: h.Running, Incarnation: h.Incarnation, StartTask: h.StartTask})
		n.restartDone(ctx, h) // the answer to a repeated RestartNode (the first answer was lost)
		if !n.offered {
			n.offer(ctx)
		}
		return
	}
	n.reconcile(ctx, h)
	n.restartDone(ctx, h)
	n.checkStartTask(ctx, h.StartTask, h.Incarnation)
	n.agentInc = h.Incarnation
	n.checkNodeTasks(ctx, h.Running, h.Incarnation)
	n.offer(ctx)
}

// offer tells the scheduler the node is up, with the slots the session counts as free, unless
// its start task keeps it from taking tasks (startBlocks), or its scheduling is disabled.
func (n *nodeSession) offer(ctx *actor.Context) {
	if n.startBlocks() || n.disable != "" || n.restart != nil {
		return
	}
	n.offered = true
	ctx.Send(n.sched, nodeUp{NodeID: n.nodeID, Slots: n.slots - n.used(), Total: n.slots})
}

// used is the number of slots the attempts the node runs take.
func (n *nodeSession) used() int {
	used := 0
	for _, r := range n.running {
		used += r.Slots
	}
	for _, s := range n.parked {
		used += s.Ref.Slots
	}
	return used
}

// reconcile takes what an agent's Hello reports: results, attempts it runs (those the service
// does not know are killed), and attempts the service thought ran that the agent does not have
// (lost).
func (n *nodeSession) reconcile(ctx *actor.Context, h protocol.Hello) {
	n.lastHeard = ctx.Now()
	known := func(id string) (attemptRef, bool) {
		if r, ok := n.running[id]; ok {
			return r, true
		}
		r, ok := n.expected[id]
		return r, ok
	}
	// Results first: they may end attempts the service is waiting for.
	for _, res := range h.Finished {
		if isStartAttempt(res.AttemptID) {
			n.startTaskResult(ctx, res) // a Hello offers the node after reconciling
		} else if isNodeAttempt(res.AttemptID) {
			n.nodeTaskResult(ctx, res)
		} else if r, ok := known(res.AttemptID); ok {
			n.finish(ctx, r, res)
		} else if r, ok := n.reported[res.AttemptID]; ok {
			ctx.Send(jobActor(r.JobID, r.JobInc), attemptEnded{Ref: r, PoolID: n.poolID, NodeID: n.nodeID, Result: res})
		} else {
			// A result the service does not know (recorded already, or never ours): nothing to do
			// but let the agent forget it.
			ctx.Send(n.agent, protocol.ResultAck{AttemptID: res.AttemptID})
		}
	}
	agentHas := map[string]bool{}
	for _, id := range h.Running {
		agentHas[id] = true
	}
	for _, id := range sortedKeys(agentHas) {
		if isNodeAttempt(id) {
			continue // a start, preparation or release task's: see checkStartTask, checkNodeTasks
		}
		if r, ok := known(id); ok {
			if _, restarted := n.expected[id]; restarted && r.Queued {
				// Queued before a restart of the service, and maybe still: its start is
				// recorded when the agent reports it, or with its result.
				n.queued = append(n.queued, id)
			} else if restarted {
				// Running since before a restart of the service: its job manager may show it
				// preparing still (attemptLaunched lost with the restart).
				ctx.Send(jobActor(r.JobID, r.JobInc), attemptLaunched{Ref: r})
			}
			n.running[id] = r
			delete(n.expected, id)
		} else {
			ctx.Send(n.agent, protocol.KillTask{AttemptID: id})
		}
	}
	// Attempts the service thought were running that the agent does not have are lost.
	for _, id := range sortedKeys(n.expected) {
		r := n.expected[id]
		delete(n.expected, id)
		n.giveUp(ctx, r, false)
	}
	for _, id := range sortedKeys(n.running) {
		if !agentHas[id] {
			n.lost(ctx, n.running[id], false)
		}
	}
}

// heartbeatHello takes a heartbeat as a Hello without results: results are repeated on their own.
func (n *nodeSession) heartbeatHello(ctx *actor.Context, h protocol.Heartbeat) {
	n.hello(ctx, protocol.Hello{NodeID: h.NodeID, Incarnation: h.Incarnation, Running: h.Running, StartTask: h.StartTask})
}

// kill has the agent kill an attempt whose end its job manager has recorded. One still running
// keeps its slots until the agent reports it ended (see killed); one whose result is on its way
// to the job manager needs no recording any more, so the agent may forget it now.
func (n *nodeSession) kill(ctx *actor.Context, k killAttempt) {
	delete(n.awaitKill, k.AttemptID)
	if s, ok := n.parked[k.AttemptID]; ok {
		// It never started: its slots are free at once.
		delete(n.parked, k.AttemptID)
		ctx.Send(n.sched, slotsFreed{NodeID: n.nodeID, Slots: s.Ref.Slots})
		n.stepReleases(ctx)
		return
	}
	if _, ok := n.running[k.AttemptID]; ok {
		n.killed[k.AttemptID] = true
	}
	if _, ok := n.reported[k.AttemptID]; ok {
		delete(n.reported, k.AttemptID)
		ctx.Send(n.agent, protocol.ResultAck(k))
		return
	}
	ctx.Send(n.agent, protocol.KillTask{AttemptID: k.AttemptID})
}

// lost forgets an attempt the node no longer runs, and reports it lost to its job manager unless
// the job manager has recorded its end already (killed). With terminate, it is to be completed
// as terminated rather than requeued.
func (n *nodeSession) lost(ctx *actor.Context, r attemptRef, terminate bool) {
	n.unqueue(r.AttemptID)
	delete(n.running, r.AttemptID)
	delete(n.starts, r.AttemptID)
	if n.killed[r.AttemptID] {
		delete(n.killed, r.AttemptID)
		return
	}
	n.giveUp(ctx, r, terminate)
}

func (n *nodeSession) start(ctx *actor.Context, s startAttempt) {
	if _, dup := n.running[s.Ref.AttemptID]; dup {
		return
	}
	if n.startBlocks() || n.disable != "" || n.restart != nil {
		// Placed before the scheduler heard that the node's start task runs again (its agent
		// restarted afresh), that its scheduling is disabled, or that it reboots: the attempt
		// is requeued.
		n.notRun(ctx, s)
		return
	}
	if n.bounce(ctx, s) {
		return
	}
	if n.used()+s.Ref.Slots > n.capacity(s) {
		// Placed on slots that are taken: the scheduler counted them from an offer made before
		// the placement's start reached the session (the node was lost and came back meanwhile).
		// The node never runs more than its slots: the attempt is not started but requeued, and
		// the scheduler hears the node's count again.
		n.notRun(ctx, s)
		n.offer(ctx)
		return
	}
	if _, dup := n.parked[s.Ref.AttemptID]; dup || !n.prepGate(ctx, s) {
		return
	}
	n.launch(ctx, s)
}

// launch has the agent start an attempt.
func (n *nodeSession) launch(ctx *actor.Context, s startAttempt) {
	if r := n.startRec; r != nil && r.Attempt != "" && r.Spec.Waits() {
		s.Start.RequiresStartTask = r.Attempt
	}
	s.Start.NodeSlots, s.Start.Slots = n.slots, s.Ref.Slots
	n.running[s.Ref.AttemptID] = s.Ref
	n.starts[s.Ref.AttemptID] = s.Start
	ctx.Send(n.agent, s.Start)
	if s.Queued {
		n.queued = append(n.queued, s.Ref.AttemptID)
	} else if s.Prep != nil {
		ctx.Send(jobActor(s.Ref.JobID, s.Ref.JobInc), attemptLaunched{Ref: s.Ref})
	}
}

// giveUpParked reports lost (to be requeued, or with terminate completed as terminated) every
// attempt parked for its job's preparation task: the node takes no work now.
func (n *nodeSession) giveUpParked(ctx *actor.Context, terminate bool) {
	for _, id := range sortedKeys(n.parked) {
		s := n.parked[id]
		delete(n.parked, id)
		n.giveUp(ctx, s.Ref, terminate)
	}
}

// heartbeat compares what the agent runs with what the session thinks it runs. An attempt the
// agent does not list was never received (StartTask lost on the way) or has ended (its result is
// on the way or was lost, and the agent repeats it): asking again is safe either way, because the
// agent starts an attempt id at most once.
func (n *nodeSession) heartbeat(ctx *actor.Context, h protocol.Heartbeat) {
	n.lastHeard = ctx.Now()
	has := make(map[string]bool, len(h.Running))
	for _, id := range h.Running {
		has[id] = true
		if _, ok := n.running[id]; (!ok || n.killed[id]) && !isNodeAttempt(id) {
			// Not the session's: reported lost when the agent did not list it (its start came
			// late), or never ours. Nobody waits for it. Or killed, and its KillTask was lost
			// or overtaken by a StartTask that was late.
			ctx.Send(n.agent, protocol.KillTask{AttemptID: id})
		}
	}
	n.askBackAgain(ctx, has)
	for _, id := range sortedKeys(n.running) {
		if !has[id] {
			if st, ok := n.starts[id]; ok {
				ctx.Send(n.agent, st)
			}
			if n.killed[id] {
				// Its slots stay taken until the agent reports it ended: started now, it is
				// killed at once, and a result comes either way.
				ctx.Send(n.agent, protocol.KillTask{AttemptID: id})
			}
		}
	}
	if ctx.State() == "Ready" {
		n.checkStartTask(ctx, h.StartTask, h.Incarnation)
		n.checkNodeTasks(ctx, h.Running, "")
	}
}

func (n *nodeSession) result(ctx *actor.Context, res protocol.TaskResult) {
	n.lastHeard = ctx.Now()
	if isStartAttempt(res.AttemptID) {
		if n.startTaskResult(ctx, res) && ctx.State() == "Ready" && !n.offered {
			n.offer(ctx) // it waited for its start task
		}
		return
	}
	if isNodeAttempt(res.AttemptID) {
		n.nodeTaskResult(ctx, res)
		return
	}
	if r, ok := n.reported[res.AttemptID]; ok {
		// Repeated before the job manager recorded it: maybe it never will (the store failed),
		// so it hears of it again (a repeat of a recorded result changes nothing there).
		ctx.Send(jobActor(r.JobID, r.JobInc), attemptEnded{Ref: r, PoolID: n.poolID, NodeID: n.nodeID, Result: res})
		return
	}
	r, ok := n.running[res.AttemptID]
	if !ok {
		// Recorded already (the agent repeats results until acknowledged) or unknown.
		ctx.Send(n.agent, protocol.ResultAck{AttemptID: res.AttemptID})
		return
	}
	n.finish(ctx, r, res)
	n.stepRestart(ctx)
	n.stepReleases(ctx)
}

// finish hands an attempt's result to its job manager and frees its slots. The agent is told to
// forget the result only once the job manager has recorded it (resultRecorded).
func (n *nodeSession) finish(ctx *actor.Context, r attemptRef, res protocol.TaskResult) {
	n.unqueue(r.AttemptID)
	if res.NotStarted && !n.killed[r.AttemptID] {
		n.tookBack(ctx, r)
		return
	}
	delete(n.running, r.AttemptID)
	delete(n.starts, r.AttemptID)
	delete(n.expected, r.AttemptID)
	if n.killed[r.AttemptID] {
		// Its end is recorded: the result changes nothing, and the agent may forget it.
		delete(n.killed, r.AttemptID)
		ctx.Send(n.agent, protocol.ResultAck{AttemptID: r.AttemptID})
	} else {
		n.reported[r.AttemptID] = r
		ctx.Send(jobActor(r.JobID, r.JobInc), attemptEnded{Ref: r, PoolID: n.poolID, NodeID: n.nodeID, Result: res})
	}
	ctx.Send(n.sched, slotsFreed{NodeID: n.nodeID, Slots: r.Slots, Ran: ranFor(res)})
}

func (n *nodeSession) check(ctx *actor.Context, _ aliveCheck) {
	if ctx.Now().Sub(n.lastHeard) > n.timing.LostAfter {
		ctx.Goto("Lost")
	}
}

// NodeContact is announced by a node's session when it hears from the node's agent after
// silence or since it started (Lost false), and when it gives the node up after the heartbeat
// timeout (Lost true). The pool manager hears the same (nodeContact) and shows the node
// unknown while it is lost.
type NodeContact struct {
	PoolID, NodeID string
	Lost           bool
}

// nodeContact tells the pool manager what NodeContact says.
type nodeContact struct {
	NodeID string
	Lost   bool
}

// contact tells the pool manager (and the monitors) whether the node's agent is heard.
func (n *nodeSession) contact(ctx *actor.Context, lost bool) {
	ctx.Announce(NodeContact{PoolID: n.poolID, NodeID: n.nodeID, Lost: lost})
	ctx.Send(n.pool, nodeContact{NodeID: n.nodeID, Lost: lost})
}

// lose gives the node up: the scheduler stops placing work on it and every attempt on it is
// reported lost, so its job manager requeues it.
func (n *nodeSession) lose(ctx *actor.Context) {
	n.contact(ctx, true)
	n.awaitKill = map[string]bool{} // their losses are reported; nothing is killed in Lost
	n.offered = false
	ctx.Send(n.sched, nodeDown{NodeID: n.nodeID})
	// Given up before the agent said Hello: what the store said it runs is lost too.
	for _, id := range sortedKeys(n.expected) {
		r := n.expected[id]
		delete(n.expected, id)
		n.giveUp(ctx, r, false)
	}
	for _, id := range sortedKeys(n.running) {
		n.lost(ctx, n.running[id], false)
	}
	n.giveUpParked(ctx, false)
	ctx.Log("node lost", "pool", n.poolID, "node", n.nodeID)
}

// stop ends the session of a node that leaves its pool (removed, or the pool deleted): the
// scheduler stops placing work on it, every attempt it knows of is lost (with s.Terminate, to be
// completed as terminated), and so is every attempt still waiting in its mailbox (Stopping
// reports those, then halts: they never ran, so they are requeued whatever the option).
func (n *nodeSession) stop(ctx *actor.Context, s stop) {
	for _, id := range sortedKeys(n.running) {
		n.lost(ctx, n.running[id], s.Terminate)
	}
	n.giveUpParked(ctx, s.Terminate)
	for _, id := range sortedKeys(n.expected) {
		r := n.expected[id]
		n.giveUp(ctx, r, s.Terminate)
	}
	n.expected = map[string]attemptRef{}
	n.offered = false
	ctx.Send(n.sched, nodeDown{NodeID: n.nodeID}) // after any nodeUp this session sent
	n.forgetPreps(ctx)
	// After the reports: the pool manager's sweep, which requeues what the store still records
	// on the node, waits for drained.
	n.finishDrain(ctx)
}

// notRun reports lost an attempt placed on a node that is leaving, before the scheduler knew: the
// agent never started it, so it is requeued.
func (n *nodeSession) notRun(ctx *actor.Context, s startAttempt) {
	ctx.Announce(AttemptNotRun{JobID: s.Ref.JobID, TaskID: s.Ref.TaskID, AttemptID: s.Ref.AttemptID, NodeID: n.nodeID})
	n.giveUp(ctx, s.Ref, false)
}

// drainedIfIdle ends a draining session once no attempt runs and every result it handed on is
// recorded (so that the agent, which lives until the VM goes, need not repeat any).
func (n *nodeSession) drainedIfIdle(ctx *actor.Context) {
	if len(n.running) == 0 && len(n.expected) == 0 && len(n.reported) == 0 {
		n.finishDrain(ctx)
	}
}

// drainNow ends a draining session at once: its node is lost or not connected, so it stops as
// with requeue (what it ran is reported lost).
func (n *nodeSession) drainNow(ctx *actor.Context, _ drain) { n.stop(ctx, stop{}) }

// finishDrain tells the pool manager the node may go, and stops the session (Stopping reports
// lost any attempt still waiting in its mailbox).
func (n *nodeSession) finishDrain(ctx *actor.Context) {
	ctx.Send(n.pool, drained{NodeID: n.nodeID})
	ctx.Send(ctx.Self(), stopped{})
	ctx.Goto("Stopping")
}

// sortedKeys returns a map's keys in order: actor code iterates maps in a fixed order, so that the
// tester's runs are reproducible.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
