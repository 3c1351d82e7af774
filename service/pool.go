package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"corral/actor"
	"corral/batch"
	"corral/compute"
	"corral/store"
)

// poolManager owns a pool's record and its nodes: it asks the VM provider for the nodes the pool
// wants, records each node that arrives and starts its session. (Resizing, autoscale and node
// removal come with the autoscale work; for now a pool gets its target node counts once.)
type poolManager struct {
	poolID string
	st     store.Store
	timing NodeTiming

	pool    batch.Pool
	nodes   map[string]batch.Node
	pending map[string]string // node id -> id of the request that asks for it, not yet answered
	boot    int64             // this incarnation (poolRecord.Boots)
	asked   int               // requests made by this incarnation
	failed  map[string]bool   // node ids whose creation failed: not used again by this incarnation
}

func newPoolManager(poolID string, st store.Store, timing NodeTiming) *poolManager {
	return &poolManager{poolID: poolID, st: st, timing: timing}
}

// Define declares the pool manager's states: Loading (reading the pool, retried while the store
// fails), then Managing.
func (p *poolManager) Define(m *actor.Machine) {
	m.State("Loading",
		actor.OnEntry(p.load),
		actor.On(func(ctx *actor.Context, _ retryLoad) { p.load(ctx) }),
		actor.Defer[compute.VMCreated](),
		actor.Defer[compute.VMFailed](),
		actor.Defer[DeletePool](),
		actor.Ignore[compute.VMDeleted](),
		actor.Ignore[askAgain](),
		actor.Targets("Managing"),
	)
	m.State("Managing",
		actor.On(p.created),
		actor.On(p.delete),
		actor.Ignore[compute.VMDeleted](),
		actor.On(func(ctx *actor.Context, _ askAgain) {
			// A request or its answer may have been lost: ask again, under the same request id,
			// which the provider recognises.
			for _, id := range sortedKeys(p.pending) {
				p.send(ctx, id, p.pending[id])
			}
			p.grow(ctx) // nodes whose record the store failed to write
		}),
		actor.On(func(ctx *actor.Context, f compute.VMFailed) {
			// Ask again under a new node id: the provider may have half-created the failed one.
			if p.pending[f.NodeID] == f.RequestID {
				err := p.st.Update(context.Background(), func(tx store.Tx) error {
					return tx.Delete(tableNodes, batch.IDKey(p.poolID)+"/"+f.NodeID, store.AnyVersion)
				})
				if err != nil {
					return // still creating in the store: a restart asks for it again
				}
				delete(p.pending, f.NodeID)
				delete(p.nodes, f.NodeID)
				p.failed[f.NodeID] = true
				ctx.Send(nodeActor(p.poolID, f.NodeID), retire{})
				ctx.Log("node creation failed", "pool", p.poolID, "node", f.NodeID, "reason", f.Reason)
				p.grow(ctx)
			}
		}),
	)
}

// retryLoad is the pool manager's timer to load again after the store failed.
type retryLoad struct{}

// load reads the pool and its nodes, starts a session per node, and asks for missing nodes. If the
// store fails, it tries again a second later.
// Node ids are "<pool>-<n>"; request ids are "<node>/<incarnation>/<k>", so an answer to a request
// of an earlier incarnation, or to a request that failed, is recognised as stale. (A node asked for before a
// crash and created after it is an orphan until orphan cleanup on restart, which comes with the
// provider's ListVMs.)
func (p *poolManager) load(ctx *actor.Context) {
	p.nodes, p.pending, p.failed = map[string]batch.Node{}, map[string]string{}, map[string]bool{}
	err := p.st.Update(context.Background(), func(tx store.Tx) error {
		r, err := tx.Get(tablePools, batch.IDKey(p.poolID))
		if err != nil {
			return err
		}
		var pr poolRecord
		if err := json.Unmarshal(r.Value, &pr); err != nil {
			return err
		}
		p.pool = pr.Pool
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
			p.nodes[n.ID] = n
		}
		return nil
	})
	if err != nil {
		ctx.Log("pool load failed; retrying", "pool", p.poolID, "err", err)
		ctx.StartTimer(time.Second, retryLoad{})
		return
	}
	ctx.Goto("Managing")
	ctx.StartPeriodicTimer(askAgainEvery, askAgainEvery, askAgain{})
	for _, id := range sortedKeys(p.nodes) {
		p.startSession(ctx, id)
		if p.nodes[id].State == batch.NodeCreating {
			p.request(ctx, id, p.nodes[id].IsDedicated)
		}
	}
	p.grow(ctx)
}

// want is how many nodes the pool should have.
func (p *poolManager) want() int {
	n := 0
	if p.pool.TargetDedicatedNodes != nil {
		n += int(*p.pool.TargetDedicatedNodes)
	}
	if p.pool.TargetLowPriorityNodes != nil {
		n += int(*p.pool.TargetLowPriorityNodes)
	}
	return n
}

// grow asks the provider for the nodes the pool lacks. Each node is in the store (state
// creating) and has its session before it is asked for, so that after a crash the node is known:
// it is asked for again, and attempts recorded on it are reconciled by its session.
func (p *poolManager) grow(ctx *actor.Context) {
	dedicated := 0
	if p.pool.TargetDedicatedNodes != nil {
		dedicated = int(*p.pool.TargetDedicatedNodes)
	}
	for k := 0; len(p.nodes) < p.want(); k++ {
		id := fmt.Sprintf("%s-%d", p.poolID, k)
		if _, have := p.nodes[id]; have || p.failed[id] {
			continue
		}
		now := ctx.Now()
		n := batch.Node{ID: id, State: batch.NodeCreating, SchedulingState: batch.SchedulingEnabled, StateTransitionTime: now,
			VMSize: p.pool.VMSize, IsDedicated: k < dedicated}
		err := p.st.Update(context.Background(), func(tx store.Tx) error {
			return putJSON(tx, tableNodes, batch.IDKey(p.poolID)+"/"+id, n, store.AnyVersion)
		})
		if err != nil {
			return // the next answer from the provider, or a restart, tries again
		}
		p.nodes[id] = n
		p.startSession(ctx, id)
		p.request(ctx, id, n.IsDedicated)
	}
}

// request asks the provider for a node under a new request id.
func (p *poolManager) request(ctx *actor.Context, nodeID string, dedicated bool) {
	p.asked++
	req := fmt.Sprintf("%s/%d/%d", nodeID, p.boot, p.asked)
	p.pending[nodeID] = req
	p.send(ctx, nodeID, req)
}

func (p *poolManager) send(ctx *actor.Context, nodeID, req string) {
	ctx.Send(compute.ProviderID, compute.CreateVM{RequestID: req, ReplyTo: ctx.Self(), PoolID: p.poolID, NodeID: nodeID,
		VMSize: p.pool.VMSize, Dedicated: p.nodes[nodeID].IsDedicated})
}

// askAgain is the pool manager's timer for requests without an answer.
type askAgain struct{}

// askAgainEvery is how often unanswered requests to the provider are repeated.
const askAgainEvery = 30 * time.Second

// created records a new node, starts its session, and moves the pool to steady once it has all
// its nodes.
func (p *poolManager) created(ctx *actor.Context, c compute.VMCreated) {
	if p.pending[c.NodeID] != c.RequestID {
		return // a repeated or stale answer
	}
	now := ctx.Now()
	n := batch.SetNodeState(p.nodes[c.NodeID], batch.NodeIdle, now)
	n.AllocationTime, n.LastBootTime = now, now
	next := p.pool
	up := int32(1)
	for _, other := range p.nodes {
		if other.ID != n.ID && other.State != batch.NodeCreating {
			up++
		}
	}
	next.CurrentDedicatedNodes = &up
	if int(up) >= p.want() && next.AllocationState == batch.AllocationResizing {
		if pool, err := batch.TransitionAllocation(next, batch.AllocationSteady, now); err == nil {
			next = pool
		}
	}
	next.LastModified = now
	err := p.st.Update(context.Background(), func(tx store.Tx) error {
		if err := putJSON(tx, tableNodes, batch.IDKey(p.poolID)+"/"+n.ID, n, store.AnyVersion); err != nil {
			return err
		}
		return putJSON(tx, tablePools, batch.IDKey(p.poolID), poolRecord{Pool: next}, store.AnyVersion)
	})
	if err != nil {
		return // the provider repeats nothing, but a restart asks for the node again under its id
	}
	delete(p.pending, c.NodeID)
	p.nodes[n.ID] = n
	p.pool = next
}

// delete is Pool - Delete: every node is released, the pool's records go, and its actors stop.
// Jobs on the pool stay; their tasks wait for a pool of that id to exist again.
func (p *poolManager) delete(ctx *actor.Context, r DeletePool) {
	err := p.st.Update(context.Background(), func(tx store.Tx) error {
		for _, id := range sortedKeys(p.nodes) {
			if err := tx.Delete(tableNodes, batch.IDKey(p.poolID)+"/"+id, store.AnyVersion); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if err := tx.Delete(tableBoots, batch.IDKey(p.poolID), store.AnyVersion); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.Delete(tablePools, batch.IDKey(p.poolID), store.AnyVersion)
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		reply(ctx, r.Request, busy())
		return
	}
	for _, id := range sortedKeys(p.nodes) {
		ctx.Send(compute.ProviderID, compute.DeleteVM{RequestID: fmt.Sprintf("delete/%s/%d", id, p.boot), ReplyTo: ctx.Self(), PoolID: p.poolID, NodeID: id})
		ctx.Send(nodeActor(p.poolID, id), stop{})
	}
	ctx.Send(SchedulerID(p.poolID), stop{})
	ctx.Send(AccountID, poolGone{PoolID: p.poolID})
	reply(ctx, r.Request, nil)
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
