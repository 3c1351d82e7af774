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
	"corral/compute"
	"corral/store"
)

// poolManager owns a pool's record and its nodes. While the pool's allocation state is resizing it
// asks the VM provider for the nodes the pool lacks and removes those it has too many of, kind by
// kind (dedicated, low-priority), until the pool has its targets; then the pool is steady. A stop
// resize cancels the creations under way; a resize timeout does the same and says so in
// resizeErrors. A removed node leaves the pool at once (its session stops and its running tasks
// are requeued, without counting as retries) and its record stays, in state leavingpool, until the
// provider says the VM is gone. A VM the provider creates although the pool no longer wants it (a
// creation that finished after its cancel) is deleted again: no VM is leaked.
//
// Departures from Azure Batch: every nodeDeallocationOption is carried out as requeue (terminate,
// taskcompletion and retaineddata are accepted and recorded, not yet honoured), and nodes are
// removed in the order: still being created, then the most recently numbered, not idle ones first.
type poolManager struct {
	poolID string
	st     store.Store
	timing NodeTiming

	pool     batch.Pool
	next     int                   // poolRecord.NextNode
	nodes    map[string]batch.Node // the pool's nodes, being created or up (not leaving)
	pending  map[string]string     // node id -> id of the creation request not yet answered
	leaving  map[string]string     // node id -> id of the deletion request not yet answered
	boot     int64                 // this incarnation (tableBoots)
	asked    int                   // requests made by this incarnation
	timer    actor.TimerID         // the resize timeout, while resizing
	timerSet bool                  // timer is set
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

func newPoolManager(poolID string, st store.Store, timing NodeTiming) *poolManager {
	return &poolManager{poolID: poolID, st: st, timing: timing}
}

// Define declares the pool manager's states: Loading (reading the pool, retried while the store
// fails), Managing, and Deleting (waiting for the provider to delete every VM).
func (p *poolManager) Define(m *actor.Machine) {
	m.State("Loading",
		actor.OnEntry(p.load),
		actor.On(func(ctx *actor.Context, _ retryLoad) { p.load(ctx) }),
		actor.Defer[compute.VMCreated](),
		actor.Defer[compute.VMFailed](),
		actor.Defer[compute.VMDeleted](),
		actor.Defer[DeletePool](),
		actor.Defer[ResizePool](),
		actor.Defer[StopResizePool](),
		actor.Ignore[askAgain](),
		actor.Ignore[resizeTimedOut](),
		actor.Targets("Managing", "Deleting"),
	)
	m.State("Managing",
		actor.On(p.created),
		actor.On(p.failed),
		actor.On(p.deleted),
		actor.On(p.resize),
		actor.On(p.stopResize),
		actor.On(p.timedOut),
		actor.On(p.delete),
		actor.On(func(ctx *actor.Context, _ askAgain) {
			// A request or its answer may have been lost: ask again, under the same request id,
			// which the provider recognises.
			p.askAgain(ctx)
			p.reconcile(ctx) // nodes whose record the store failed to write
		}),
		actor.Targets("Deleting"),
	)
	// Deleting: the pool's records are gone; every VM is being deleted. The actor stops once the
	// provider has confirmed each, deleting again any that a late creation brought up.
	m.State("Deleting",
		actor.On(func(ctx *actor.Context, c compute.VMCreated) { p.release(ctx, c.NodeID) }),
		actor.On(func(ctx *actor.Context, d compute.VMDeleted) {
			if p.leaving[d.NodeID] == d.RequestID {
				delete(p.leaving, d.NodeID)
			}
			p.haltIfDone(ctx)
		}),
		actor.Ignore[compute.VMFailed](),
		actor.On(func(ctx *actor.Context, _ askAgain) {
			p.askAgain(ctx)
			p.haltIfDone(ctx)
		}),
		actor.Ignore[resizeTimedOut](),
		actor.On(func(ctx *actor.Context, r ResizePool) { reply(ctx, r.Request, poolBeingDeleted(p.poolID)) }),
		actor.On(func(ctx *actor.Context, r StopResizePool) { reply(ctx, r.Request, poolBeingDeleted(p.poolID)) }),
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

// askAgainEvery is how often unanswered requests to the provider are repeated.
const askAgainEvery = 30 * time.Second

// defaultResizeTimeout is Azure's default resizeTimeout.
const defaultResizeTimeout = 15 * time.Minute

// load reads the pool and its nodes, starts a session per node, and goes on with what was under
// way: creations are asked for again (same node ids), deletions too, and a resize continues. If
// the store fails, it tries again a second later.
func (p *poolManager) load(ctx *actor.Context) {
	p.nodes, p.pending, p.leaving = map[string]batch.Node{}, map[string]string{}, map[string]string{}
	var leaving []string
	err := p.st.Update(context.Background(), func(tx store.Tx) error {
		r, err := tx.Get(tablePools, batch.IDKey(p.poolID))
		if err != nil {
			return err
		}
		var pr poolRecord
		if err := json.Unmarshal(r.Value, &pr); err != nil {
			return err
		}
		p.pool, p.next = pr.Pool, pr.NextNode
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
		return nil
	})
	if err != nil {
		ctx.Log("pool load failed; retrying", "pool", p.poolID, "err", err)
		ctx.StartTimer(time.Second, retryLoad{})
		return
	}
	ctx.StartPeriodicTimer(askAgainEvery, askAgainEvery, askAgain{})
	slices.Sort(leaving)
	if p.pool.State == batch.PoolDeleting {
		p.startDeleting(ctx, append(leaving, sortedKeys(p.nodes)...))
		return
	}
	ctx.Goto("Managing")
	for _, id := range sortedKeys(p.nodes) {
		p.startSession(ctx, id)
		if p.nodes[id].State == batch.NodeCreating {
			p.request(ctx, id)
		}
	}
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
		if kind.have > kind.want {
			for _, id := range p.removable(kind.dedicated)[:kind.have-kind.want] {
				if !p.remove(ctx, id) {
					return
				}
			}
		}
	}
	p.settle(ctx)
}

// removable lists the nodes of a kind in the order they are removed: those still being created
// first, then the most recently numbered.
func (p *poolManager) removable(dedicated bool) []string {
	var ids []string
	for id, n := range p.nodes {
		if n.IsDedicated == dedicated {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int {
		ca, cb := p.nodes[a].State == batch.NodeCreating, p.nodes[b].State == batch.NodeCreating
		if ca != cb {
			if ca {
				return -1
			}
			return 1
		}
		ka, _ := nodeNumber(p.poolID, a)
		kb, _ := nodeNumber(p.poolID, b)
		return kb - ka
	})
	return ids
}

// grow records a new node (state creating), starts its session and asks the provider for it. The
// node is in the store before it is asked for, so that after a crash it is known: it is asked for
// again, and attempts recorded on it are reconciled by its session.
func (p *poolManager) grow(ctx *actor.Context, dedicated bool) bool {
	id := fmt.Sprintf("%s-%d", p.poolID, p.next)
	now := ctx.Now()
	n := batch.Node{ID: id, State: batch.NodeCreating, SchedulingState: batch.SchedulingEnabled, StateTransitionTime: now,
		VMSize: p.pool.VMSize, IsDedicated: dedicated}
	next := p.next + 1
	err := p.st.Update(context.Background(), func(tx store.Tx) error {
		if err := putJSON(tx, tableNodes, batch.IDKey(p.poolID)+"/"+id, n, store.AnyVersion); err != nil {
			return err
		}
		return putJSON(tx, tablePools, batch.IDKey(p.poolID), poolRecord{Pool: p.pool, NextNode: next}, store.AnyVersion)
	})
	if err != nil {
		p.next = next // the id may have been written: never use it again
		return false
	}
	p.next = next
	p.nodes[id] = n
	p.startSession(ctx, id)
	p.request(ctx, id)
	p.announceNodes(ctx)
	return true
}

// remove takes a node out of the pool: its record goes to leavingpool, its session stops (its
// attempts are reported lost, so they are requeued), and the provider is asked to delete its VM,
// which cancels a creation under way.
func (p *poolManager) remove(ctx *actor.Context, id string) bool {
	n := batch.SetNodeState(p.nodes[id], batch.NodeLeavingPool, ctx.Now())
	err := p.st.Update(context.Background(), func(tx store.Tx) error {
		return putJSON(tx, tableNodes, batch.IDKey(p.poolID)+"/"+id, n, store.AnyVersion)
	})
	if err != nil {
		return false
	}
	delete(p.nodes, id)
	delete(p.pending, id)
	ctx.Send(nodeActor(p.poolID, id), stop{})
	p.release(ctx, id)
	p.announceNodes(ctx)
	return true
}

// release asks the provider to delete a node's VM (again, if it is leaving already).
func (p *poolManager) release(ctx *actor.Context, id string) {
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
	default:
		return
	}
	next, err := batch.TransitionAllocation(p.pool, batch.AllocationSteady, ctx.Now())
	ctx.Assert(err == nil, "pool %s: settle: %v", p.poolID, err)
	if p.write(ctx, next) && p.timerSet {
		ctx.CancelTimer(p.timer)
		p.timerSet = false
	}
}

// write records the pool (with its current node counts) and announces it.
func (p *poolManager) write(ctx *actor.Context, next batch.Pool) bool {
	up := map[bool]int32{}
	for _, n := range p.nodes {
		if n.State != batch.NodeCreating {
			up[n.IsDedicated]++
		}
	}
	ded, low := up[true], up[false]
	next.CurrentDedicatedNodes, next.CurrentLowPriorityNodes = &ded, &low
	next.LastModified = ctx.Now()
	err := p.st.Update(context.Background(), func(tx store.Tx) error {
		return putJSON(tx, tablePools, batch.IDKey(p.poolID), poolRecord{Pool: next, NextNode: p.next}, store.AnyVersion)
	})
	if err != nil {
		return false
	}
	p.pool = next
	p.announce(ctx)
	return true
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
	for _, id := range sortedKeys(p.leaving) {
		p.release(ctx, id)
	}
}

// created records a new node as idle, or deletes a VM the pool does not want (a creation that
// finished after its cancel).
func (p *poolManager) created(ctx *actor.Context, c compute.VMCreated) {
	if p.pending[c.NodeID] != c.RequestID {
		if _, ours := p.nodes[c.NodeID]; !ours {
			p.release(ctx, c.NodeID)
		}
		return // a repeated or stale answer
	}
	now := ctx.Now()
	n := batch.SetNodeState(p.nodes[c.NodeID], batch.NodeIdle, now)
	n.AllocationTime, n.LastBootTime = now, now
	err := p.st.Update(context.Background(), func(tx store.Tx) error {
		return putJSON(tx, tableNodes, batch.IDKey(p.poolID)+"/"+n.ID, n, store.AnyVersion)
	})
	if err != nil {
		return // askAgain asks again under the same request id, and the provider answers again
	}
	delete(p.pending, c.NodeID)
	p.nodes[n.ID] = n
	if !p.write(ctx, p.pool) {
		return // the counts are rewritten with the next change
	}
	p.settle(ctx)
}

// failed forgets a node whose creation failed; a resize asks for another under a new id.
func (p *poolManager) failed(ctx *actor.Context, f compute.VMFailed) {
	if p.pending[f.NodeID] != f.RequestID {
		return
	}
	err := p.st.Update(context.Background(), func(tx store.Tx) error {
		return tx.Delete(tableNodes, batch.IDKey(p.poolID)+"/"+f.NodeID, store.AnyVersion)
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
	err := p.st.Update(context.Background(), func(tx store.Tx) error {
		return tx.Delete(tableNodes, batch.IDKey(p.poolID)+"/"+d.NodeID, store.AnyVersion)
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
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
	if !p.write(ctx, next) {
		reply(ctx, r.Request, busy())
		return
	}
	reply(ctx, r.Request, nil)
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
	if !p.write(ctx, next) {
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
	if !p.write(ctx, next) {
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
		}
		return putJSON(tx, tablePools, batch.IDKey(p.poolID), poolRecord{Pool: next, NextNode: p.next}, store.AnyVersion)
	})
	if err != nil {
		reply(ctx, r.Request, busy())
		return
	}
	p.pool = next
	reply(ctx, r.Request, nil)
	p.startDeleting(ctx, sortedKeys(p.nodes))
}

// startDeleting stops the pool's sessions and scheduler, releases its nodes, and waits for them.
func (p *poolManager) startDeleting(ctx *actor.Context, nodes []string) {
	for _, id := range nodes {
		ctx.Send(nodeActor(p.poolID, id), stop{})
		p.release(ctx, id)
	}
	p.nodes, p.pending = map[string]batch.Node{}, map[string]string{}
	ctx.Send(SchedulerID(p.poolID), stop{})
	ctx.Announce(PoolAllocation{PoolID: p.poolID, Deleted: true})
	p.announceNodes(ctx)
	ctx.Goto("Deleting")
	p.haltIfDone(ctx)
}

// haltIfDone ends a deleted pool once no VM deletion is under way: its records go, the account
// forgets it, and the manager stops. If the store fails, askAgain tries again.
func (p *poolManager) haltIfDone(ctx *actor.Context) {
	if len(p.leaving) > 0 {
		return
	}
	err := p.st.Update(context.Background(), func(tx store.Tx) error {
		rs, err := tx.List(tableNodes, batch.IDKey(p.poolID)+"/", "", 0)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if err := tx.Delete(tableNodes, r.Key, store.AnyVersion); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if err := tx.Delete(tableBoots, batch.IDKey(p.poolID), store.AnyVersion); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.Delete(tablePools, batch.IDKey(p.poolID), store.AnyVersion)
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return
	}
	ctx.Send(AccountID, poolGone{PoolID: p.poolID})
	ctx.Halt()
}

// startSession creates a node's session, expecting the attempts the store records on the node.
func (p *poolManager) startSession(ctx *actor.Context, nodeID string) {
	var expected []attemptRef
	err := p.st.View(context.Background(), func(tx store.Tx) error {
		rs, err := tx.List(tableAttempts, p.poolID+"/"+nodeID+"/", "", 0)
		if err != nil {
			return err
		}
		for _, r := range rs {
			var a attemptRef
			if err := json.Unmarshal(r.Value, &a); err != nil {
				return err
			}
			expected = append(expected, a)
		}
		return nil
	})
	ctx.Assert(err == nil, "pool %s: node %s: %v", p.poolID, nodeID, err)
	slots := 1
	if p.pool.TaskSlotsPerNode != nil {
		slots = int(*p.pool.TaskSlotsPerNode)
	}
	ctx.Create(string(nodeActor(p.poolID, nodeID)), newNodeSession(p.poolID, nodeID, slots, AgentID(nodeID), SchedulerID(p.poolID), p.timing, expected))
}
