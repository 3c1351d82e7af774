package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"corral/actor"
	"corral/batch"
	"corral/batch/autoscale"
	"corral/compute"
	"corral/store"
)

// poolManager owns a pool's record and its nodes. While the pool's allocation state is resizing it
// asks the VM provider for the nodes the pool lacks and removes those it has too many of, kind by
// kind (dedicated, low-priority), until the pool has its targets; then the pool is steady. A stop
// resize cancels the creations under way; a resize timeout does the same and says so in
// resizeErrors. A VM the provider creates although the pool no longer wants it (a creation that
// finished after its cancel) is deleted again: no VM is leaked.
//
// A removed node leaves the pool at once (it no longer counts towards the pool's nodes) and its
// record stays, in state leavingpool, until the provider says the VM is gone. What happens to its
// running tasks is the nodeDeallocationOption of the resize that removed it (Pool - Resize, Pool
// - Remove Nodes, or the autoscale formula's $NodeDeallocationOption; kept in the pool's record):
//   - requeue (the default): its session stops and its running tasks are requeued, without
//     counting as retries; the VM is deleted at once.
//   - terminate: its session stops and its running tasks complete as terminated (as Task -
//     Terminate does) and do not run again; the VM is deleted at once.
//   - taskcompletion: its session drains: the scheduler places nothing more on it, its running
//     tasks finish and their results are recorded; then the session says drained and only then
//     is the VM deleted.
//   - retaineddata: as taskcompletion. Azure then waits for the tasks' data retention time;
//     Corral keeps no task data once a node is gone, so there is nothing to wait for.
//
// Whatever the option, a task placed on the node before the scheduler knew it was leaving, which
// the node never started, is requeued; a node still being created, preempted or failed is
// deleted at once (it runs nothing); and a node whose VM is lost while it drains stops draining
// (its tasks are requeued).
//
// Departures from Azure Batch: a service restart forgets which leaving nodes were draining: their
// VMs are deleted at once and the tasks they still ran are requeued (by sweep), as with requeue.
// Nodes are removed in the order: still being created, then the most recently numbered, not idle
// ones first.
type poolManager struct {
	poolID string
	inc    int64 // the pool's incarnation: this manager's life
	st     store.Store
	timing NodeTiming

	pool     batch.Pool
	next     int                          // poolRecord.NextNode
	nodes    map[string]batch.Node        // the pool's nodes, being created or up (not leaving)
	ops      map[string]nodeOps           // the nodes' operations in force (tableNodeOps)
	pending  map[string]string            // node id -> id of the creation request not yet answered
	leaving  map[string]string            // node id -> id of the deletion request not yet answered
	boot     int64                        // this boot of the pool id's managers (tableBoots)
	asked    int                          // requests made by this incarnation
	timer    actor.TimerID                // the resize timeout, while resizing
	timerSet bool                         // timer is set
	history  []batch.PoolEvent            // poolRecord.History
	dealloc  batch.NodeDeallocationOption // poolRecord.Deallocation: how removed nodes leave
	// draining holds the nodes removed with taskcompletion or retaineddata whose sessions have
	// not yet said drained: their VMs are released (and they join leaving) only then.
	draining map[string]bool
	// ending holds the removed nodes whose sessions have not yet said drained (they say it once
	// they have reported what they ran, stopping or draining): sweep leaves their attempts to
	// them, so that a task a terminate removal ends is not requeued by the sweep first.
	ending map[string]bool

	// listing is the id of the ListVMs not yet answered, if any; clean says (while Deleting) that
	// a listing answered since the last release showed no VM of the pool.
	listing string
	clean   bool

	loadDelay time.Duration // the wait before the next load, after the store failed

	// silent holds the nodes whose sessions last said their agents are lost (nodeContact): they
	// are shown unknown, as Azure shows a node it lost contact with, until heard again.
	silent map[string]bool

	// restoring holds the preempted (or lost) nodes being created again: node id -> request id.
	restoring map[string]string
	// madeBy names, for each node that is up, the CreateVM whose VMCreated brought it up, so that
	// a preemption of an earlier VM of the node is recognised as stale.
	madeBy map[string]string

	// What the scheduler said in its latest taskSample: nodes up, and those with work. Nodes to
	// remove are chosen idle first from it; idleKnown says it came after the resize started,
	// and wantIdle that reconcile waits for it.
	up, busy            map[string]bool
	idleKnown, wantIdle bool
	sampleAsked         bool // a sampleTasks is unanswered

	// Autoscale (see autoscale.go).
	minInterval            time.Duration
	formula                *autoscale.Formula // nil if formulaErr: the pool's formula does not parse
	formulaErr             error
	samples                map[autoscale.Metric][]autoscale.Sample
	lastCounts             taskCounts
	evalTimer, sampleTimer actor.TimerID
	autoscaling            bool // the timers are set
	evalDue                bool // an evaluation waits for the next sample
}

// Events the pool manager announces, for the monitors.
type (
	// PoolAllocation is announced whenever a pool's record is written: its allocation state, its
	// targets, and how many nodes of each kind it has (up, being created, not leaving).
	PoolAllocation struct {
		PoolID                             string
		State                              batch.AllocationState
		TargetDedicated, TargetLowPriority int
		Dedicated, LowPriority             int
		Deleted                            bool
	}
	// PoolNodes is announced whenever the set of nodes a pool wants changes: the VMs it may have.
	PoolNodes struct {
		PoolID string
		Nodes  []string // sorted
	}
)

func newPoolManager(poolID string, inc int64, st store.Store, timing NodeTiming, minInterval time.Duration) *poolManager {
	if minInterval <= 0 {
		minInterval = batch.MinAutoScaleEvaluationInterval
	}
	return &poolManager{poolID: poolID, inc: inc, st: st, timing: timing, minInterval: minInterval}
}

// Define declares the pool manager's states: Loading (reading the pool, retried while the store
// fails), Managing, and Deleting (waiting for the provider to delete every VM).
func (p *poolManager) Define(m *actor.Machine) {
	m.State("Loading", append(deferPoolEvents(),
		actor.OnEntry(p.load),
		actor.On(func(ctx *actor.Context, _ retryLoad) { p.load(ctx) }),
		actor.Defer[compute.VMCreated](),
		actor.Defer[compute.VMFailed](),
		actor.Defer[compute.VMDeleted](),
		actor.Ignore[askAgain](),
		actor.Ignore[resizeTimedOut](),
		actor.Ignore[evalTick](),
		actor.Ignore[sampleTick](),
		actor.Ignore[taskSample](),
		actor.Ignore[restoreNode](),
		actor.Ignore[drained](),       // from a session of before a restart: leaving nodes are released
		actor.Ignore[nodeRestarted](), // from a session of before a restart: the new ones say it again
		actor.Defer[nodeContact](),
		actor.Ignore[compute.VMList](), // asked for before a restart: load lists again
		actor.Targets("Managing", "Deleting"),
	)...)
	m.State("Managing",
		actor.On(p.created),
		actor.On(p.failed),
		actor.On(p.deleted),
		actor.On(p.resize),
		actor.On(p.stopResize),
		actor.On(p.timedOut),
		actor.On(p.delete),
		actor.On(p.enableAutoScale),
		actor.On(p.disableAutoScale),
		actor.On(p.patch),
		actor.On(p.evaluateAutoScale),
		actor.On(p.removeNodes),
		actor.On(p.disableScheduling),
		actor.On(p.enableScheduling),
		actor.On(p.restartNode),
		actor.On(p.restarted),
		actor.On(p.drained),
		actor.On(p.contact),
		actor.On(p.listed),
		actor.On(func(ctx *actor.Context, e compute.VMPreempted) {
			p.vmGone(ctx, e, e.NodeID, e.CreateRequestID, batch.NodePreempted, "the provider preempted the node")
		}),
		actor.On(func(ctx *actor.Context, e compute.VMLost) {
			p.vmGone(ctx, e, e.NodeID, e.CreateRequestID, batch.NodeUnusable, "the node failed: "+e.Reason)
		}),
		actor.On(func(ctx *actor.Context, r restoreNode) { p.restore(ctx, r.NodeID) }),
		actor.On(func(ctx *actor.Context, _ sampleTick) { p.askSample(ctx) }),
		actor.On(func(ctx *actor.Context, _ evalTick) {
			p.evalDue = true
			p.askSample(ctx)
		}),
		actor.On(p.sampled),
		actor.On(func(ctx *actor.Context, _ askAgain) {
			// A request or its answer may have been lost: ask again, under the same request id,
			// which the provider recognises.
			p.askAgain(ctx)
			p.showContacts(ctx) // node states the store failed to write
			p.reconcile(ctx)    // nodes whose record the store failed to write
			p.settle(ctx)
			p.sweep(ctx)
			p.list(ctx)
		}),
		actor.Targets("Deleting"),
	)
	// Deleting: the pool's records are gone; every VM is being deleted. The actor stops once the
	// provider has confirmed each and then lists no VM of the pool, deleting again any that a
	// late creation brought up.
	m.State("Deleting",
		actor.On(func(ctx *actor.Context, c compute.VMCreated) { p.release(ctx, c.NodeID) }),
		actor.On(func(ctx *actor.Context, d compute.VMDeleted) {
			if p.leaving[d.NodeID] == d.RequestID {
				delete(p.leaving, d.NodeID)
			}
			p.haltIfDone(ctx)
		}),
		actor.Ignore[compute.VMFailed](),
		actor.On(p.listed),
		actor.Ignore[compute.VMPreempted](),
		actor.Ignore[compute.VMLost](),
		actor.Ignore[nodeContact](),
		actor.Ignore[drained](),
		actor.On(func(ctx *actor.Context, _ askAgain) {
			p.askAgain(ctx)
			p.haltIfDone(ctx) // it sweeps
		}),
		actor.Ignore[resizeTimedOut](),
		actor.Ignore[evalTick](),
		actor.Ignore[sampleTick](),
		actor.Ignore[taskSample](),
		actor.Ignore[restoreNode](),
		actor.On(func(ctx *actor.Context, r ResizePool) { reply(ctx, r.Request, poolBeingDeleted(p.poolID)) }),
		actor.On(func(ctx *actor.Context, r StopResizePool) { reply(ctx, r.Request, poolBeingDeleted(p.poolID)) }),
		actor.On(func(ctx *actor.Context, r EnableAutoScale) { reply(ctx, r.Request, poolBeingDeleted(p.poolID)) }),
		actor.On(func(ctx *actor.Context, r DisableAutoScale) { reply(ctx, r.Request, poolBeingDeleted(p.poolID)) }),
		actor.On(func(ctx *actor.Context, r PatchPool) { reply(ctx, r.Request, poolBeingDeleted(p.poolID)) }),
		actor.On(func(ctx *actor.Context, r EvaluateAutoScale) { reply(ctx, r.Request, poolBeingDeleted(p.poolID)) }),
		actor.On(func(ctx *actor.Context, r RemoveNodes) { reply(ctx, r.Request, poolBeingDeleted(p.poolID)) }),
		actor.On(func(ctx *actor.Context, r DisableNodeScheduling) { reply(ctx, r.Request, poolBeingDeleted(p.poolID)) }),
		actor.On(func(ctx *actor.Context, r EnableNodeScheduling) { reply(ctx, r.Request, poolBeingDeleted(p.poolID)) }),
		actor.On(func(ctx *actor.Context, r RestartComputeNode) { reply(ctx, r.Request, poolBeingDeleted(p.poolID)) }),
		actor.Ignore[nodeRestarted](),
		actor.On(func(ctx *actor.Context, r DeletePool) { reply(ctx, r.Request, nil) }),
	)
}

func poolBeingDeleted(id string) *batch.Error {
	return &batch.Error{Code: batch.CodePoolBeingDeleted, Message: "The specified pool " + id + " is being deleted."}
}

// retryLoad is the pool manager's timer to load again after the store failed.
type retryLoad struct{}

// resizeTimedOut is the pool manager's resize timer.
type resizeTimedOut struct{ Started time.Time }

// askAgain is the pool manager's timer for requests without an answer.
type askAgain struct{}

// restoreNode is the pool manager's timer to create a preempted node again after a failure.
type restoreNode struct{ NodeID string }

// askAgainEvery is how often unanswered requests to the provider are repeated.
const askAgainEvery = 30 * time.Second

// defaultResizeTimeout is Azure's default resizeTimeout.
const defaultResizeTimeout = 15 * time.Minute

// load reads the pool and its nodes, starts a session per node, and goes on with what was under
// way: creations are asked for again (same node ids), deletions too, and a resize continues. If
// the store fails, it tries again a second later.
func (p *poolManager) load(ctx *actor.Context) {
	p.nodes, p.pending, p.leaving = map[string]batch.Node{}, map[string]string{}, map[string]string{}
	p.restoring, p.madeBy = map[string]string{}, map[string]string{}
	p.draining, p.ending = map[string]bool{}, map[string]bool{}
	p.silent = map[string]bool{}
	p.ops = map[string]nodeOps{}
	p.listing, p.clean = "", false
	p.samples = map[autoscale.Metric][]autoscale.Sample{}
	var leaving []string
	expected := map[string][]attemptRef{}   // by node: the attempts the store records on it
	starts := map[string]*startTaskRecord{} // by node: its start task record
	var preps map[string][]*jobPrepRecord   // by node: its job preparation records
	err := p.st.Update(context.Background(), func(tx store.Tx) error {
		var pr poolRecord
		if err := getJSON(tx, tablePools, batch.IDKey(p.poolID), &pr); err != nil {
			return err
		}
		if pr.Incarnation != p.inc {
			return fmt.Errorf("the store has life %d of the pool: %w", pr.Incarnation, store.ErrNotFound)
		}
		p.pool, p.next, p.history, p.dealloc = pr.Pool, pr.NextNode, pr.History, pr.Deallocation
		var boots int64
		b, err := tx.Get(tableBoots, batch.IDKey(p.poolID))
		switch {
		case err == nil:
			if err := json.Unmarshal(b.Value, &boots); err != nil {
				return err
			}
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		boots++
		if err := putJSON(tx, tableBoots, batch.IDKey(p.poolID), boots, store.AnyVersion); err != nil {
			return err
		}
		p.boot = boots
		rs, err := tx.List(tableNodes, batch.IDKey(p.poolID)+"/", "", 0)
		if err != nil {
			return err
		}
		for _, r := range rs {
			var n batch.Node
			if err := json.Unmarshal(r.Value, &n); err != nil {
				return err
			}
			if k, ok := nodeNumber(p.poolID, n.ID); ok {
				p.next = max(p.next, k+1)
			}
			if n.State == batch.NodeLeavingPool {
				leaving = append(leaving, n.ID)
				continue
			}
			p.nodes[n.ID] = n
		}
		as, err := tx.List(tableAttempts, attemptsOf(p.poolID), "", 0)
		if err != nil {
			return err
		}
		for _, r := range as {
			node, _, _ := strings.Cut(strings.TrimPrefix(r.Key, attemptsOf(p.poolID)), "/")
			var a attemptRef
			if err := json.Unmarshal(r.Value, &a); err != nil {
				return fmt.Errorf("decode attempt %s: %w", r.Key, err)
			}
			expected[node] = append(expected[node], a)
		}
		ss, err := tx.List(tableStartTasks, batch.IDKey(p.poolID)+"/", "", 0)
		if err != nil {
			return err
		}
		for _, r := range ss {
			rec := &startTaskRecord{}
			if err := json.Unmarshal(r.Value, rec); err != nil {
				return fmt.Errorf("decode start task %s: %w", r.Key, err)
			}
			starts[strings.TrimPrefix(r.Key, batch.IDKey(p.poolID)+"/")] = rec
		}
		if p.ops, err = readNodeOps(tx, p.poolID); err != nil {
			return err
		}
		preps, err = readJobPreps(tx, p.poolID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		// This life of the pool is gone (a manager started for it after its end): nothing to do.
		ctx.Log("pool manager: the pool is gone", "pool", p.poolID, "incarnation", p.inc, "err", err)
		ctx.Halt()
		return
	}
	if err != nil {
		p.loadDelay = nextLoadDelay(p.loadDelay)
		ctx.Log("pool manager: reading the store failed; retrying", "pool", p.poolID, "after", p.loadDelay, "err", err)
		ctx.StartTimer(p.loadDelay, retryLoad{})
		return
	}
	p.loadDelay = 0
	ctx.Send(SchedulerID(p.poolID), poolFill{Fill: fillOf(p.pool)})
	ctx.StartPeriodicTimer(askAgainEvery, askAgainEvery, askAgain{})
	slices.Sort(leaving)
	if p.pool.State == batch.PoolDeleting {
		ctx.Send(SchedulerID(p.poolID), sessionsLoaded{})
		p.startDeleting(ctx, append(leaving, sortedKeys(p.nodes)...), false) // no session was started
		return
	}
	ctx.Goto("Managing")
	p.list(ctx)
	for _, id := range sortedKeys(p.nodes) {
		p.startSession(ctx, id, expected[id], starts[id], preps[id])
		switch p.nodes[id].State {
		case batch.NodeCreating:
			p.request(ctx, id)
		case batch.NodePreempted, batch.NodeUnusable:
			p.restore(ctx, id)
		}
	}
	ctx.Send(SchedulerID(p.poolID), sessionsLoaded{})
	for _, id := range leaving {
		p.release(ctx, id)
	}
	p.announce(ctx)
	switch p.pool.AllocationState {
	case batch.AllocationResizing:
		p.armTimer(ctx)
		p.reconcile(ctx)
	case batch.AllocationStopping:
		p.cancelCreations(ctx)
		p.settle(ctx)
	}
	if p.pool.AutoScale() {
		p.startAutoScale(ctx)
	}
}

// contact records what a node's session says of its agent, and shows it.
func (p *poolManager) contact(ctx *actor.Context, c nodeContact) {
	if c.Lost {
		p.silent[c.NodeID] = true
	} else {
		delete(p.silent, c.NodeID)
	}
	p.showContact(ctx, c.NodeID)
}

// showContacts shows every node's contact (after a failed write).
func (p *poolManager) showContacts(ctx *actor.Context) {
	for _, id := range sortedKeys(p.nodes) {
		p.showContact(ctx, id)
	}
}

// showContact makes a node's state say whether its agent is heard: unknown while its session
// has given it up, idle again once heard. Other states (creating, preempted, unusable...) say
// more, and are left as they are. It announces the state it leaves the node in.
func (p *poolManager) showContact(ctx *actor.Context, id string) {
	n, ok := p.nodes[id]
	if !ok {
		return
	}
	want := n.State
	switch {
	case p.silent[id] && n.State == batch.NodeIdle:
		want = batch.NodeUnknown
	case !p.silent[id] && n.State == batch.NodeUnknown:
		want = batch.NodeIdle
	}
	if want != n.State {
		n = batch.SetNodeState(n, want, ctx.Now())
		if err := p.putNode(n); err != nil {
			return // askAgain shows it again
		}
		p.nodes[id] = n
	}
	ctx.Announce(NodeShown{PoolID: p.poolID, NodeID: id, Lost: p.silent[id], State: n.State})
}

// NodeShown is announced by a pool manager when it has shown whether a node's agent is heard:
// Lost is what the node's session last said, State the node's state now.
type NodeShown struct {
	PoolID, NodeID string
	Lost           bool
	State          batch.NodeState
}

// putNode writes a node's record.
func (p *poolManager) putNode(n batch.Node) error {
	return p.st.Update(context.Background(), func(tx store.Tx) error {
		return putJSON(tx, tableNodes, batch.IDKey(p.poolID)+"/"+n.ID, n, store.AnyVersion)
	})
}

// nodeNumber returns n of a node id "<pool>-<n>".
func nodeNumber(poolID, nodeID string) (int, bool) {
	rest, ok := strings.CutPrefix(nodeID, poolID+"-")
	if !ok {
		return 0, false
	}
	k, err := strconv.Atoi(rest)
	return k, err == nil && k >= 0
}

func intOf(p *int32) int {
	if p == nil {
		return 0
	}
	return int(*p)
}

// upCounts returns how many nodes of each kind the pool has that are no longer being created
// (Azure's currentDedicatedNodes and currentLowPriorityNodes: preempted nodes count).
func (p *poolManager) upCounts() (dedicated, lowPriority int) {
	for _, n := range p.nodes {
		if n.State == batch.NodeCreating {
			continue
		}
		if n.IsDedicated {
			dedicated++
		} else {
			lowPriority++
		}
	}
	return dedicated, lowPriority
}

// counts returns how many nodes of each kind the pool has (up or being created).
func (p *poolManager) counts() (dedicated, lowPriority int) {
	for _, n := range p.nodes {
		if n.IsDedicated {
			dedicated++
		} else {
			lowPriority++
		}
	}
	return dedicated, lowPriority
}

// reconcile, while the pool is resizing, creates the nodes it lacks and removes those it has too
// many of, then settles the resize if it is done.
func (p *poolManager) reconcile(ctx *actor.Context) {
	if p.pool.AllocationState != batch.AllocationResizing {
		return
	}
	ded, low := p.counts()
	for _, kind := range []struct {
		dedicated  bool
		have, want int
	}{{true, ded, intOf(p.pool.TargetDedicatedNodes)}, {false, low, intOf(p.pool.TargetLowPriorityNodes)}} {
		for i := kind.have; i < kind.want; i++ {
			if !p.grow(ctx, kind.dedicated) {
				return // the store failed: askAgain tries again
			}
		}
	}
	if p.shrink(ctx, true) {
		p.settle(ctx)
	}
}

// shrink removes the nodes of each kind beyond its target, in the order of removable. With wait,
// if it might remove a node that runs tasks without knowing which nodes are idle, it asks the
// scheduler first and removes nothing now (sampled calls reconcile with the answer). It reports
// whether the pool is within its targets (false: waiting, or the store failed; askAgain retries).
func (p *poolManager) shrink(ctx *actor.Context, wait bool) bool {
	ded, low := p.counts()
	for _, kind := range []struct {
		dedicated  bool
		have, want int
	}{{true, ded, intOf(p.pool.TargetDedicatedNodes)}, {false, low, intOf(p.pool.TargetLowPriorityNodes)}} {
		if kind.have <= kind.want {
			continue
		}
		ids := p.removable(kind.dedicated)[:kind.have-kind.want]
		if wait && !p.idleKnown && slices.ContainsFunc(ids, p.mayBeBusy) {
			// Which nodes are idle is the scheduler's to say: ask, and remove with the answer.
			p.wantIdle = true
			p.askSample(ctx)
			return false
		}
		for _, id := range ids {
			if !p.remove(ctx, id) {
				return false
			}
		}
	}
	return true
}

// removable lists the nodes of a kind in the order they are removed: preempted or failed ones
// (being created again), then those still being created, then those up that the scheduler does
// not know yet (booting, or lost), then idle ones, then those running tasks; within each, the
// most recently numbered first.
func (p *poolManager) removable(dedicated bool) []string {
	var ids []string
	for id, n := range p.nodes {
		if n.IsDedicated == dedicated {
			ids = append(ids, id)
		}
	}
	rank := func(id string) int {
		switch {
		case p.restoring[id] != "" || p.nodes[id].State == batch.NodePreempted || p.nodes[id].State == batch.NodeUnusable:
			return 0
		case p.nodes[id].State == batch.NodeCreating:
			return 1
		case !p.up[id]:
			return 2
		case !p.busy[id]:
			return 3
		}
		return 4
	}
	slices.SortFunc(ids, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		ka, _ := nodeNumber(p.poolID, a)
		kb, _ := nodeNumber(p.poolID, b)
		return kb - ka
	})
	return ids
}

// mayBeBusy reports whether a node may be running tasks: it is up and not preempted.
func (p *poolManager) mayBeBusy(id string) bool {
	switch p.nodes[id].State {
	case batch.NodeCreating, batch.NodePreempted, batch.NodeUnusable:
		return false
	}
	return true
}

// newResize marks what the scheduler said about idle nodes as older than the resize starting now.
func (p *poolManager) newResize() { p.idleKnown = false }

// grow records a new node (state creating), starts its session and asks the provider for it. The
// node is in the store before it is asked for, so that after a crash it is known: it is asked for
// again, and attempts recorded on it are reconciled by its session.
func (p *poolManager) grow(ctx *actor.Context, dedicated bool) bool {
	id := fmt.Sprintf("%s-%d", p.poolID, p.next)
	now := ctx.Now()
	n := batch.Node{ID: id, State: batch.NodeCreating, SchedulingState: batch.SchedulingEnabled, StateTransitionTime: now,
		VMSize: p.pool.VMSize, IsDedicated: dedicated}
	next := p.next + 1
	var start *startTaskRecord
	if p.pool.StartTask != nil {
		// Shown on the node (waitingforstarttask) until its session runs it.
		start = &startTaskRecord{Spec: *p.pool.StartTask}
	}
	err := p.st.Update(context.Background(), func(tx store.Tx) error {
		if err := putJSON(tx, tableNodes, batch.IDKey(p.poolID)+"/"+id, n, store.AnyVersion); err != nil {
			return err
		}
		if start != nil {
			if err := putJSON(tx, tableStartTasks, startKey(p.poolID, id), start, store.AnyVersion); err != nil {
				return err
			}
		}
		return putJSON(tx, tablePools, batch.IDKey(p.poolID), poolRecord{Pool: p.pool, Incarnation: p.inc, NextNode: next, History: p.history, Deallocation: p.dealloc}, store.AnyVersion)
	})
	if err != nil {
		p.next = next // the id may have been written: never use it again
		return false
	}
	p.next = next
	p.nodes[id] = n
	p.startSession(ctx, id, nil, start, nil)
	p.request(ctx, id)
	p.announceNodes(ctx)
	return true
}

// remove takes a node out of the pool: its record goes to leavingpool, and, by the pool's
// nodeDeallocationOption (see poolManager), its session stops (its attempts are reported lost, to
// be requeued or terminated) and the provider is asked to delete its VM, which cancels a creation
// under way; or its session drains, and the VM is deleted once it has (drained).
func (p *poolManager) remove(ctx *actor.Context, id string) bool {
	old := p.nodes[id]
	n := batch.SetNodeState(old, batch.NodeLeavingPool, ctx.Now())
	err := p.putNodeUsage(ctx, n, false, 0)
	if err != nil {
		return false
	}
	wait := (p.dealloc == batch.DeallocateTaskCompletion || p.dealloc == batch.DeallocateRetainedData) &&
		p.pending[id] == "" && p.restoring[id] == "" &&
		old.State != batch.NodeCreating && old.State != batch.NodePreempted && old.State != batch.NodeUnusable
	delete(p.nodes, id)
	delete(p.pending, id)
	delete(p.restoring, id)
	delete(p.ops, id)
	p.ending[id] = true
	if wait {
		p.draining[id] = true // madeBy stays: a preemption of the VM while it drains is recognised
		ctx.Send(nodeActor(p.poolID, id), drain{})
	} else {
		delete(p.madeBy, id)
		ctx.Send(nodeActor(p.poolID, id), stop{Terminate: p.dealloc == batch.DeallocateTerminate})
		p.release(ctx, id)
	}
	p.announceNodes(ctx)
	return true
}

// drained takes the word of a removed node's session that it has reported what it ran: the
// sweep may look at the node's attempts, and a draining node's VM is released.
func (p *poolManager) drained(ctx *actor.Context, d drained) {
	delete(p.ending, d.NodeID)
	if !p.draining[d.NodeID] {
		return
	}
	delete(p.draining, d.NodeID)
	delete(p.madeBy, d.NodeID)
	p.release(ctx, d.NodeID)
}

// release asks the provider to delete a node's VM (again, if it is leaving already).
func (p *poolManager) release(ctx *actor.Context, id string) {
	p.clean = false
	req, ok := p.leaving[id]
	if !ok {
		p.asked++
		req = fmt.Sprintf("delete/%s/%d/%d", id, p.boot, p.asked)
		p.leaving[id] = req
	}
	ctx.Send(compute.ProviderID, compute.DeleteVM{RequestID: req, ReplyTo: ctx.Self(), PoolID: p.poolID, NodeID: id})
}

// cancelCreations removes every node still being created.
func (p *poolManager) cancelCreations(ctx *actor.Context) {
	for _, id := range sortedKeys(p.pending) {
		p.remove(ctx, id)
	}
}

// settle ends a resize that is done: resizing with every target met and nothing being created, or
// stopping with nothing being created. Deletions may still be under way: leaving nodes are no
// longer the pool's.
func (p *poolManager) settle(ctx *actor.Context) {
	if len(p.pending) > 0 {
		return
	}
	switch p.pool.AllocationState {
	case batch.AllocationResizing:
		ded, low := p.counts()
		if ded != intOf(p.pool.TargetDedicatedNodes) || low != intOf(p.pool.TargetLowPriorityNodes) {
			return
		}
	case batch.AllocationStopping:
		if !p.shrink(ctx, false) {
			return // the store failed: askAgain tries again
		}
	default:
		return
	}
	next, err := batch.TransitionAllocation(p.pool, batch.AllocationSteady, ctx.Now())
	ctx.Assert(err == nil, "pool %s: settle: %v", p.poolID, err)
	if p.write(ctx, next, batch.PoolEvent{Kind: batch.PoolEventSteady}) && p.timerSet {
		ctx.CancelTimer(p.timer)
		p.timerSet = false
	}
}

// write records the pool (with its current node counts, and events added to its history) and
// announces it.
func (p *poolManager) write(ctx *actor.Context, next batch.Pool, events ...batch.PoolEvent) bool {
	return p.writeWith(ctx, next, p.dealloc, events...)
}

// patch is Pool - Patch and Pool - Update Properties (see PatchPool).
func (p *poolManager) patch(ctx *actor.Context, r PatchPool) {
	next := p.pool
	if r.Metadata != nil {
		next.Metadata = append([]batch.MetadataItem(nil), *r.Metadata...)
	}
	if r.SetStartTask {
		next.StartTask = r.StartTask
	}
	ifVersion := store.AnyVersion
	if r.IfVersion != 0 {
		ifVersion = r.IfVersion
	}
	switch err := p.writeRecord(ctx, next, p.dealloc, ifVersion); {
	case errors.Is(err, store.ErrConflict):
		reply(ctx, r.Request, &batch.Error{Code: "ConditionNotMet", Message: "The condition specified using HTTP conditional header(s) is not met."})
	case err != nil:
		reply(ctx, r.Request, busy())
	default:
		reply(ctx, r.Request, nil)
		if r.SetStartTask {
			// For the nodes' next runs: those that join, or restart afresh.
			for _, id := range sortedKeys(p.nodes) {
				ctx.Send(nodeActor(p.poolID, id), nodeStartTask{Spec: r.StartTask})
			}
		}
	}
}

// writeWith is write that also records the nodeDeallocationOption of the resize starting.
func (p *poolManager) writeWith(ctx *actor.Context, next batch.Pool, dealloc batch.NodeDeallocationOption, events ...batch.PoolEvent) bool {
	return p.writeRecord(ctx, next, dealloc, store.AnyVersion, events...) == nil
}

// writeRecord is writeWith, conditional on the pool's record being at ifVersion (see
// store.Tx.Put); it returns the store's error.
func (p *poolManager) writeRecord(ctx *actor.Context, next batch.Pool, dealloc batch.NodeDeallocationOption, ifVersion int64, events ...batch.PoolEvent) error {
	d, l := p.upCounts()
	ded, low := int32(d), int32(l)
	next.CurrentDedicatedNodes, next.CurrentLowPriorityNodes = &ded, &low
	next.LastModified = ctx.Now()
	history := p.history
	if len(events) > 0 {
		history = slices.Clone(history)
		for _, e := range events {
			e.Timestamp = ctx.Now()
			e.TargetDedicatedNodes, e.TargetLowPriorityNodes = int32(intOf(next.TargetDedicatedNodes)), int32(intOf(next.TargetLowPriorityNodes))
			history = append(history, e)
		}
		if len(history) > batch.MaxPoolHistory {
			history = slices.Delete(history, 0, len(history)-batch.MaxPoolHistory)
		}
	}
	err := p.st.Update(context.Background(), func(tx store.Tx) error {
		return putJSON(tx, tablePools, batch.IDKey(p.poolID), poolRecord{Pool: next, Incarnation: p.inc, NextNode: p.next, History: history, Deallocation: dealloc}, ifVersion)
	})
	if err != nil {
		return err
	}
	p.pool, p.history, p.dealloc = next, history, dealloc
	p.announce(ctx)
	return nil
}

func (p *poolManager) announce(ctx *actor.Context) {
	ded, low := p.counts()
	ctx.Announce(PoolAllocation{PoolID: p.poolID, State: p.pool.AllocationState,
		TargetDedicated: intOf(p.pool.TargetDedicatedNodes), TargetLowPriority: intOf(p.pool.TargetLowPriorityNodes),
		Dedicated: ded, LowPriority: low})
	p.announceNodes(ctx)
}

func (p *poolManager) announceNodes(ctx *actor.Context) {
	ctx.Announce(PoolNodes{PoolID: p.poolID, Nodes: sortedKeys(p.nodes)})
}

func (p *poolManager) armTimer(ctx *actor.Context) {
	d := defaultResizeTimeout
	if p.pool.ResizeTimeout != nil {
		d = p.pool.ResizeTimeout.Std()
	}
	left := d - ctx.Now().Sub(p.pool.AllocationStateTransitionTime)
	p.timer = ctx.StartTimer(max(left, 0), resizeTimedOut{Started: p.pool.AllocationStateTransitionTime})
	p.timerSet = true
}

// request asks the provider for a node under a new request id.
func (p *poolManager) request(ctx *actor.Context, nodeID string) {
	p.asked++
	req := fmt.Sprintf("%s/%d/%d", nodeID, p.boot, p.asked)
	p.pending[nodeID] = req
	p.send(ctx, nodeID, req)
}

func (p *poolManager) send(ctx *actor.Context, nodeID, req string) {
	ctx.Send(compute.ProviderID, compute.CreateVM{RequestID: req, ReplyTo: ctx.Self(), PoolID: p.poolID, NodeID: nodeID,
		VMSize: p.pool.VMSize, Dedicated: p.nodes[nodeID].IsDedicated})
}

func (p *poolManager) askAgain(ctx *actor.Context) {
	for _, id := range sortedKeys(p.pending) {
		p.send(ctx, id, p.pending[id])
	}
	for _, id := range sortedKeys(p.restoring) {
		p.send(ctx, id, p.restoring[id])
	}
	for _, id := range sortedKeys(p.leaving) {
		p.release(ctx, id)
	}
}

// created records a new node as idle, or deletes a VM the pool does not want (a creation that
// finished after its cancel).
func (p *poolManager) created(ctx *actor.Context, c compute.VMCreated) {
	if req, ok := p.restoring[c.NodeID]; ok && req == c.RequestID {
		p.restored(ctx, c)
		return
	}
	if p.pending[c.NodeID] != c.RequestID {
		if _, ours := p.nodes[c.NodeID]; !ours && !p.draining[c.NodeID] {
			p.release(ctx, c.NodeID)
		}
		return // a repeated or stale answer
	}
	now := ctx.Now()
	n := batch.SetNodeState(p.nodes[c.NodeID], batch.NodeIdle, now)
	n.AllocationTime, n.LastBootTime = now, now
	err := p.putNodeUsage(ctx, n, true, c.Cores)
	if err != nil {
		return // askAgain asks again under the same request id, and the provider answers again
	}
	delete(p.pending, c.NodeID)
	p.nodes[n.ID] = n
	p.madeBy[n.ID] = c.RequestID
	if !p.write(ctx, p.pool) {
		return // the counts are rewritten with the next change
	}
	p.settle(ctx)
}

// failed forgets a node whose creation failed; a resize asks for another under a new id.
func (p *poolManager) failed(ctx *actor.Context, f compute.VMFailed) {
	if req, ok := p.restoring[f.NodeID]; ok && req == f.RequestID {
		// The node stays preempted; it is asked for again later, as Azure keeps trying to
		// restore lost low-priority capacity.
		delete(p.restoring, f.NodeID)
		ctx.StartTimer(askAgainEvery, restoreNode{NodeID: f.NodeID})
		return
	}
	if p.pending[f.NodeID] != f.RequestID {
		return
	}
	err := p.st.Update(context.Background(), func(tx store.Tx) error {
		return deleteNodeRecords(tx, p.poolID, f.NodeID)
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return // still creating in the store: askAgain asks for it again
	}
	delete(p.pending, f.NodeID)
	delete(p.nodes, f.NodeID)
	ctx.Send(nodeActor(p.poolID, f.NodeID), retire{})
	ctx.Log("node creation failed", "pool", p.poolID, "node", f.NodeID, "reason", f.Reason)
	p.announceNodes(ctx)
	p.reconcile(ctx)
	p.settle(ctx)
}

// deleted forgets a node the provider has deleted.
func (p *poolManager) deleted(ctx *actor.Context, d compute.VMDeleted) {
	if p.leaving[d.NodeID] != d.RequestID {
		return
	}
	err := p.st.Update(context.Background(), func(tx store.Tx) error { return deleteNodeRecords(tx, p.poolID, d.NodeID) })
	if err != nil {
		return // askAgain deletes it again
	}
	delete(p.leaving, d.NodeID)
}

// resize is Pool - Resize.
func (p *poolManager) resize(ctx *actor.Context, r ResizePool) {
	if err := batch.CanResize(p.pool); err != nil {
		reply(ctx, r.Request, asBatchError(err))
		return
	}
	next, err := batch.TransitionAllocation(p.pool, batch.AllocationResizing, ctx.Now())
	if err != nil {
		reply(ctx, r.Request, asBatchError(err))
		return
	}
	ded, low := r.TargetDedicatedNodes, r.TargetLowPriorityNodes
	next.TargetDedicatedNodes, next.TargetLowPriorityNodes = &ded, &low
	timeout := r.ResizeTimeout
	if timeout <= 0 {
		timeout = defaultResizeTimeout
	}
	d := batch.Duration(timeout)
	next.ResizeTimeout = &d
	next.ResizeErrors = nil
	if !p.writeWith(ctx, next, r.NodeDeallocationOption, batch.PoolEvent{Kind: batch.PoolEventResize, Message: "Pool - Resize"}) {
		reply(ctx, r.Request, busy())
		return
	}
	reply(ctx, r.Request, nil)
	p.newResize()
	p.armTimer(ctx)
	p.reconcile(ctx)
}

// stopResize is Pool - Stop Resize: the creations under way are cancelled and the pool keeps what
// it has.
func (p *poolManager) stopResize(ctx *actor.Context, r StopResizePool) {
	if p.pool.AllocationState != batch.AllocationResizing {
		reply(ctx, r.Request, nil)
		return
	}
	next, err := batch.TransitionAllocation(p.pool, batch.AllocationStopping, ctx.Now())
	ctx.Assert(err == nil, "pool %s: stop resize: %v", p.poolID, err)
	next.ResizeErrors = []batch.ResizeError{{Code: "ResizeStopped", Message: "The resize was stopped before the pool reached its target size."}}
	if !p.write(ctx, next, batch.PoolEvent{Kind: batch.PoolEventStopResize, Message: "Pool - Stop Resize"}) {
		reply(ctx, r.Request, busy())
		return
	}
	reply(ctx, r.Request, nil)
	p.cancelCreations(ctx)
	p.settle(ctx)
}

// timedOut ends a resize that took longer than its resizeTimeout, as a stop would, with an
// AllocationTimedOut resize error.
func (p *poolManager) timedOut(ctx *actor.Context, t resizeTimedOut) {
	if p.pool.AllocationState != batch.AllocationResizing || !t.Started.Equal(p.pool.AllocationStateTransitionTime) {
		return
	}
	p.timerSet = false
	next, err := batch.TransitionAllocation(p.pool, batch.AllocationStopping, ctx.Now())
	ctx.Assert(err == nil, "pool %s: resize timeout: %v", p.poolID, err)
	next.ResizeErrors = []batch.ResizeError{{Code: "AllocationTimedOut", Message: "The pool did not reach its target size within its resize timeout."}}
	if !p.write(ctx, next, batch.PoolEvent{Kind: batch.PoolEventResizeTimedOut, Message: "the pool did not reach its targets within its resize timeout"}) {
		p.armTimer(ctx) // try again soon: the transition time is unchanged, so it fires at once
		return
	}
	p.cancelCreations(ctx)
	p.settle(ctx)
}

// delete is Pool - Delete: the pool goes to state deleting and every node to leavingpool (in
// the store, so that a restart finishes the deletion), the nodes' sessions and the pool's
// scheduler stop, every VM is released, and the manager stays (Deleting) until the provider has
// deleted each; then the pool's records go. Jobs on the pool stay; their tasks wait for a pool of
// that id to exist again.
func (p *poolManager) delete(ctx *actor.Context, r DeletePool) {
	next, err := batch.DeletePool(p.pool, ctx.Now())
	if err != nil {
		reply(ctx, r.Request, asBatchError(err))
		return
	}
	now := ctx.Now()
	err = p.st.Update(context.Background(), func(tx store.Tx) error {
		for _, id := range sortedKeys(p.nodes) {
			n := batch.SetNodeState(p.nodes[id], batch.NodeLeavingPool, now)
			if err := putJSON(tx, tableNodes, batch.IDKey(p.poolID)+"/"+id, n, store.AnyVersion); err != nil {
				return err
			}
			if err := markNodeDown(tx, p.poolID, id, now); err != nil {
				return err
			}
		}
		return putJSON(tx, tablePools, batch.IDKey(p.poolID), poolRecord{Pool: next, Incarnation: p.inc, NextNode: p.next, History: p.history, Deallocation: p.dealloc}, store.AnyVersion)
	})
	if err != nil {
		reply(ctx, r.Request, busy())
		return
	}
	p.pool = next
	reply(ctx, r.Request, nil)
	for _, id := range sortedKeys(p.nodes) {
		ctx.Announce(NodeUsage{PoolID: p.poolID, NodeID: id, At: now})
	}
	p.startDeleting(ctx, sortedKeys(p.nodes), true)
}

// startDeleting stops the pool's sessions (if it has started them), releases its nodes, and
// waits for them.
func (p *poolManager) startDeleting(ctx *actor.Context, nodes []string, sessions bool) {
	for _, id := range append(nodes, sortedKeys(p.draining)...) {
		if sessions {
			ctx.Send(nodeActor(p.poolID, id), stop{})
		}
		p.release(ctx, id)
	}
	p.nodes, p.pending, p.restoring = map[string]batch.Node{}, map[string]string{}, map[string]string{}
	p.draining, p.ending = map[string]bool{}, map[string]bool{}
	p.stopAutoScale(ctx)
	ctx.Announce(PoolAllocation{PoolID: p.poolID, Deleted: true})
	p.announceNodes(ctx)
	ctx.Goto("Deleting")
	p.haltIfDone(ctx)
}

// haltIfDone ends a deleted pool once no VM deletion is under way and the provider lists no VM
// of the pool: its records go, the account forgets it, and the manager stops. If the store
// fails, askAgain tries again.
func (p *poolManager) haltIfDone(ctx *actor.Context) {
	if len(p.leaving) > 0 {
		return
	}
	if !p.clean {
		p.list(ctx)
		return
	}
	if p.sweep(ctx) > 0 {
		return // the job managers have yet to record their attempts on the pool's nodes lost
	}
	err := p.st.Update(context.Background(), func(tx store.Tx) error {
		for _, table := range []string{tableNodes, tableNodeRuns, tableStartTasks, tableNodeOps} {
			rs, err := tx.List(table, batch.IDKey(p.poolID)+"/", "", 0)
			if err != nil {
				return err
			}
			for _, r := range rs {
				if err := tx.Delete(table, r.Key, store.AnyVersion); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
		}
		// The next pool of this id numbers its nodes on from here, and its managers' boots too
		// (tableBoots stays), so that no node id and no request id to the provider is used twice.
		if err := putJSON(tx, tablePoolTombs, batch.IDKey(p.poolID), p.next, store.AnyVersion); err != nil {
			return err
		}
		return tx.Delete(tablePools, batch.IDKey(p.poolID), store.AnyVersion)
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return
	}
	ctx.Send(AccountID, poolGone{PoolID: p.poolID, Inc: p.inc})
	ctx.Halt()
}

// list asks the provider which VMs the pool has (again, under the same request id, if the
// last listing is not answered yet).
func (p *poolManager) list(ctx *actor.Context) {
	if p.listing == "" {
		p.asked++
		p.listing = fmt.Sprintf("list/%d/%d", p.boot, p.asked)
	}
	ctx.Send(compute.ProviderID, compute.ListVMs{RequestID: p.listing, ReplyTo: ctx.Self(), PoolID: p.poolID})
}

// listed deletes the orphans a listing shows: VMs of nodes the pool no longer has (nor drains).
// Node ids are never reused, so a node the pool does not have when the answer comes is not one
// it will want again. While Deleting, every VM is an orphan, and a listing with none, answered
// when no deletion is under way, lets the manager stop.
func (p *poolManager) listed(ctx *actor.Context, l compute.VMList) {
	if l.RequestID != p.listing {
		return
	}
	p.listing = ""
	for _, vm := range l.Nodes {
		_, ours := p.nodes[vm.NodeID]
		if vm.PoolID != p.poolID || ours || p.draining[vm.NodeID] {
			continue
		}
		if _, leaving := p.leaving[vm.NodeID]; !leaving {
			ctx.Log("deleting an orphan VM", "pool", p.poolID, "node", vm.NodeID)
		}
		p.release(ctx, vm.NodeID)
	}
	if ctx.State() == "Deleting" && len(p.leaving) == 0 {
		p.clean = true
		p.haltIfDone(ctx)
	}
}

// startSession creates a node's session, expecting the attempts the store records on the node,
// with the node's start task record (nil if it has none).
func (p *poolManager) startSession(ctx *actor.Context, nodeID string, expected []attemptRef, start *startTaskRecord, preps []*jobPrepRecord) {
	slots := 1
	if p.pool.TaskSlotsPerNode != nil {
		slots = int(*p.pool.TaskSlotsPerNode)
	}
	s := newNodeSession(p.poolID, nodeID, slots, AgentID(nodeID), SchedulerID(p.poolID), ctx.Self(), p.timing, expected,
		nodeStart{Store: p.st, Spec: p.pool.StartTask, Rec: start, Preps: preps})
	s.disable, s.restart = p.ops[nodeID].Disable, p.ops[nodeID].Restart
	s.startAgain = s.restart != nil // a reboot under way: the start task runs again after it
	ctx.Create(string(nodeActor(p.poolID, nodeID)), s)
	ctx.Send(SchedulerID(p.poolID), sessionStarted{NodeID: nodeID})
}

// vmGone records a node whose VM the provider lost: preempted (a spot eviction), or failed by
// itself (state unusable). The node stays in the pool and listed, in that state, as Azure shows
// preempted nodes; its session gives the node up, so the tasks it ran are requeued without
// counting as retries; and the pool asks the provider for the node again (same node id), as
// Azure restores lost low-priority capacity. A resize that shrinks the pool removes such nodes
// first. If the store fails, the event is handled again a second later.
func (p *poolManager) vmGone(ctx *actor.Context, ev actor.Event, nodeID, createReq string, state batch.NodeState, why string) {
	if p.draining[nodeID] {
		if createReq == "" || createReq == p.madeBy[nodeID] {
			ctx.Send(nodeActor(p.poolID, nodeID), vmLost{}) // it drains at once
		}
		return
	}
	n, ok := p.nodes[nodeID]
	if !ok || n.State == batch.NodeCreating || p.restoring[nodeID] != "" {
		return // not the pool's (any more), not up yet (its creation answers for it), or known
	}
	if createReq != "" && p.madeBy[nodeID] != "" && createReq != p.madeBy[nodeID] {
		return // about an earlier VM of the node
	}
	next := batch.SetNodeState(n, state, ctx.Now())
	err := p.putNodeUsage(ctx, next, false, 0)
	if err != nil {
		ctx.StartTimer(time.Second, ev)
		return
	}
	p.nodes[nodeID] = next
	delete(p.madeBy, nodeID)
	ctx.Send(nodeActor(p.poolID, nodeID), vmLost{})
	kind := batch.PoolEventPreempted
	if state != batch.NodePreempted {
		kind = batch.PoolEventNodeLost
	}
	ctx.Announce(NodePreempted{PoolID: p.poolID, NodeID: nodeID})
	p.write(ctx, p.pool, batch.PoolEvent{Kind: kind, NodeIDs: []string{nodeID}, Message: why}) // counts; rewritten with the next change if this fails
	p.restore(ctx, nodeID)
}

// NodePreempted is announced when a pool manager has recorded that a node's VM is gone
// (preempted or failed) and told its session.
type NodePreempted struct{ PoolID, NodeID string }

// restore asks the provider to create a preempted or failed node again.
func (p *poolManager) restore(ctx *actor.Context, id string) {
	n, ok := p.nodes[id]
	if !ok || (n.State != batch.NodePreempted && n.State != batch.NodeUnusable) || p.restoring[id] != "" {
		return
	}
	p.asked++
	req := fmt.Sprintf("%s/%d/%d", id, p.boot, p.asked)
	p.restoring[id] = req
	p.send(ctx, id, req)
}

// restored records a preempted node that is up again; its session takes its agent's Hello.
func (p *poolManager) restored(ctx *actor.Context, c compute.VMCreated) {
	now := ctx.Now()
	n := batch.SetNodeState(p.nodes[c.NodeID], batch.NodeIdle, now)
	n.LastBootTime = now
	err := p.putNodeUsage(ctx, n, true, c.Cores)
	if err != nil {
		return // askAgain asks again under the same request id, and the provider answers again
	}
	delete(p.restoring, c.NodeID)
	p.nodes[n.ID] = n
	p.madeBy[n.ID] = c.RequestID
	p.write(ctx, p.pool)
}

// removeNodes is Pool - Remove Nodes: the named nodes leave the pool, whose targets drop by as
// many of each kind; the pool resizes (allocation state resizing) until they are gone.
func (p *poolManager) removeNodes(ctx *actor.Context, r RemoveNodes) {
	if err := p.canRemove(r); err != nil {
		reply(ctx, r.Request, err)
		return
	}
	next, err := batch.TransitionAllocation(p.pool, batch.AllocationResizing, ctx.Now())
	if err != nil {
		reply(ctx, r.Request, asBatchError(err))
		return
	}
	ids := slices.Clone(r.NodeIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	ded, low := int32(intOf(p.pool.TargetDedicatedNodes)), int32(intOf(p.pool.TargetLowPriorityNodes))
	for _, id := range ids {
		if p.nodes[id].IsDedicated {
			ded = max(ded-1, 0)
		} else {
			low = max(low-1, 0)
		}
	}
	next.TargetDedicatedNodes, next.TargetLowPriorityNodes = &ded, &low
	timeout := r.ResizeTimeout
	if timeout <= 0 {
		timeout = defaultResizeTimeout
	}
	d := batch.Duration(timeout)
	next.ResizeTimeout = &d
	next.ResizeErrors = nil
	if !p.writeWith(ctx, next, r.NodeDeallocationOption, batch.PoolEvent{Kind: batch.PoolEventRemoveNodes, NodeIDs: ids, Message: "Pool - Remove Nodes"}) {
		reply(ctx, r.Request, busy())
		return
	}
	reply(ctx, r.Request, nil)
	p.newResize()
	p.armTimer(ctx)
	for _, id := range ids {
		p.remove(ctx, id) // if the store fails, reconcile removes others to reach the targets
	}
	p.reconcile(ctx)
}

// canRemove checks a Remove Nodes request against the pool.
func (p *poolManager) canRemove(r RemoveNodes) *batch.Error {
	if p.pool.AllocationState != batch.AllocationSteady {
		return &batch.Error{Code: batch.CodePoolBeingResized, Message: "The specified pool is being resized: nodes can be removed only from a steady pool."}
	}
	if len(r.NodeIDs) == 0 || len(r.NodeIDs) > 100 {
		return &batch.Error{Code: "InvalidPropertyValue", Message: "nodeList must name 1 to 100 nodes.",
			Values: []batch.KV{{Key: batch.KeyPropertyName, Value: "nodeList"}}}
	}
	for _, id := range r.NodeIDs {
		if _, ok := p.nodes[id]; !ok {
			return &batch.Error{Code: "NodeNotFound", Message: "The specified node " + id + " does not exist in the pool.",
				Values: []batch.KV{{Key: "NodeId", Value: id}}}
		}
	}
	return nil
}

// sweep reports lost every attempt the store records on a node the pool no longer has (nodes
// whose sessions have not yet said drained excepted). A session that stops reports the attempts it
// knows of, but not one recorded after it stopped (a placement made just before the node left,
// whose start found the session gone) nor one left by a crash between a node's removal and its job
// manager recording the loss. Job managers ignore a loss they recorded already. An attempt record
// whose task no longer names it (a write reported failed that committed, a job or task of another
// life) is stale: nobody would ever record its loss, so the sweep deletes it. It returns how many
// live attempts it reported (1 if the store failed), so that a deleted pool waits for them.
func (p *poolManager) sweep(ctx *actor.Context) int {
	var lost []attemptEnded
	var stale []string
	err := p.st.View(context.Background(), func(tx store.Tx) error {
		rs, err := tx.List(tableAttempts, attemptsOf(p.poolID), "", 0)
		if err != nil {
			return err
		}
		for _, r := range rs {
			node, _, _ := strings.Cut(strings.TrimPrefix(r.Key, attemptsOf(p.poolID)), "/")
			if _, ours := p.nodes[node]; ours || p.ending[node] {
				continue // its session reports what it runs
			}
			var a attemptRef
			if err := json.Unmarshal(r.Value, &a); err != nil {
				return err
			}
			live, err := attemptIsCurrent(tx, a)
			if err != nil {
				return err
			}
			if !live {
				stale = append(stale, r.Key)
				continue
			}
			lost = append(lost, attemptEnded{Ref: a, PoolID: p.poolID, NodeID: node, Lost: true})
		}
		return nil
	})
	if err != nil {
		return 1 // the next askAgain sweeps again
	}
	if len(stale) > 0 {
		err := p.st.Update(context.Background(), func(tx store.Tx) error {
			for _, key := range stale {
				if err := tx.Delete(tableAttempts, key, store.AnyVersion); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 1
		}
	}
	for _, e := range lost {
		ctx.Send(jobActor(e.Ref.JobID, e.Ref.JobInc), e)
	}
	return len(lost)
}
