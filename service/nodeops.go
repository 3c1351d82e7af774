package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"corral/actor"
	"corral/batch"
	"corral/store"
)

// Operations on one compute node (Azure's Compute Node - Disable Scheduling, Enable Scheduling,
// Reboot and Reimage). The pool manager owns the node's record: it checks a request against the
// node, records what it asks for, answers, and only then tells the node's session, which acts on
// it (see nodesched.go).

// tableNodeOps holds, for each node with an operation in force, what the node's record alone
// does not say (key: IDKey(pool) + "/" + node): the nodeDisableSchedulingOption its scheduling
// was disabled with, and the reboot or reimage under way, so that a restart of the service goes
// on with them. It is deleted with the node's record.
const tableNodeOps = "nodeops"

// nodeOps is a node's tableNodeOps record.
type nodeOps struct {
	// Disable is the option the node's scheduling was disabled with (requeue, terminate or
	// taskcompletion); "" while its scheduling is enabled.
	Disable batch.NodeDeallocationOption `json:"disable,omitempty"`
	// Restart is the reboot or reimage under way, if any.
	Restart *nodeRestart `json:"restart,omitempty"`
}

// nodeRestart is a reboot or reimage of a node: ID names it to the agent (protocol.RestartNode),
// Option says what happens to the tasks the node runs (requeue, terminate, taskcompletion or
// retaineddata).
type nodeRestart struct {
	ID      string                       `json:"id"`
	Option  batch.NodeDeallocationOption `json:"option"`
	Reimage bool                         `json:"reimage,omitempty"`
}

// Requests about one compute node.
type (
	// DisableNodeScheduling is Compute Node - Disable Scheduling: the scheduler places nothing
	// more on the node, and what it runs is handled by Option: requeue (the default) kills it and
	// requeues it, terminate kills it and completes it as terminated, taskcompletion lets it
	// finish. The node shows schedulingState disabled, and state offline once it runs nothing.
	// Disabling a node whose scheduling is disabled already changes nothing (its first option
	// stays). Errors: PoolNotFound, NodeNotFound, InvalidPropertyValue for another option.
	DisableNodeScheduling struct {
		Request
		PoolID, NodeID string
		Option         batch.NodeDeallocationOption // "": requeue; retaineddata is refused
	}
	// EnableNodeScheduling is Compute Node - Enable Scheduling: the node takes tasks again.
	// Enabling a node whose scheduling is enabled changes nothing. Errors: PoolNotFound,
	// NodeNotFound.
	EnableNodeScheduling struct {
		Request
		PoolID, NodeID string
	}
	// RestartComputeNode is Compute Node - Reboot, or with Reimage Compute Node - Reimage. The
	// node shows state rebooting (reimaging) until its agent has restarted; the scheduler
	// places nothing on it meanwhile. What it runs is handled by Option first: requeue (the
	// default) and terminate as for DisableNodeScheduling, taskcompletion and retaineddata let
	// it finish. The agent then kills whatever still runs and starts afresh, keeping its task
	// directories (deleting them, with Reimage). Errors: PoolNotFound, NodeNotFound,
	// InvalidPropertyValue for another option, and 409 for a node whose state is not idle or
	// running: NodeBeingRebooted, NodeBeingReimaged, NodeBeingCreated, NodeStateUnusable, or
	// OperationInvalidForCurrentState.
	RestartComputeNode struct {
		Request
		PoolID, NodeID string
		Option         batch.NodeDeallocationOption // "": requeue
		Reimage        bool
	}
)

// NodeSchedulingRecorded is announced by a pool manager when it has recorded a node's scheduling
// state (Disabled, with Option) in the store, before it answers the request.
type NodeSchedulingRecorded struct {
	PoolID, NodeID string
	Disabled       bool
	Option         batch.NodeDeallocationOption
}

// ValidDisableSchedulingOption reports whether o is one of Azure's nodeDisableSchedulingOption
// values (lower case): requeue, terminate or taskcompletion.
func ValidDisableSchedulingOption(o batch.NodeDeallocationOption) bool {
	return o == batch.DeallocateRequeue || o == batch.DeallocateTerminate || o == batch.DeallocateTaskCompletion
}

// findNode returns the id of the pool's node named id (node ids compare case-insensitively, as
// Azure's ids do).
func (p *poolManager) findNode(id string) (string, bool) {
	if _, ok := p.nodes[id]; ok {
		return id, true
	}
	for _, k := range sortedKeys(p.nodes) {
		if strings.EqualFold(k, id) {
			return k, true
		}
	}
	return "", false
}

func nodeNotFound(id string) *batch.Error {
	return &batch.Error{Code: "NodeNotFound", Message: "The specified node " + id + " does not exist in the pool.",
		Values: []batch.KV{{Key: "NodeId", Value: id}}}
}

// disableScheduling is Compute Node - Disable Scheduling (see DisableNodeScheduling).
func (p *poolManager) disableScheduling(ctx *actor.Context, r DisableNodeScheduling) {
	opt := r.Option
	if opt == "" {
		opt = batch.DeallocateRequeue
	}
	if !ValidDisableSchedulingOption(opt) {
		reply(ctx, r.Request, &batch.Error{Code: "InvalidPropertyValue", Message: "nodeDisableSchedulingOption is requeue, terminate or taskcompletion.",
			Values: []batch.KV{{Key: batch.KeyPropertyName, Value: "nodeDisableSchedulingOption"}, {Key: "PropertyValue", Value: string(opt)}}})
		return
	}
	p.setScheduling(ctx, r.Request, r.NodeID, opt)
}

// enableScheduling is Compute Node - Enable Scheduling (see EnableNodeScheduling).
func (p *poolManager) enableScheduling(ctx *actor.Context, r EnableNodeScheduling) {
	p.setScheduling(ctx, r.Request, r.NodeID, "")
}

// setScheduling records a node's scheduling disabled with opt ("": enabled), answers, and tells
// the node's session.
func (p *poolManager) setScheduling(ctx *actor.Context, req Request, nodeID string, opt batch.NodeDeallocationOption) {
	id, ok := p.findNode(nodeID)
	if !ok {
		reply(ctx, req, nodeNotFound(nodeID))
		return
	}
	n, ops := p.nodes[id], p.ops[id]
	if (ops.Disable != "") == (opt != "") {
		reply(ctx, req, nil) // in that state already
		return
	}
	ops.Disable = opt
	n.SchedulingState = batch.SchedulingEnabled
	if opt != "" {
		n.SchedulingState = batch.SchedulingDisabled
	}
	n.StateTransitionTime = ctx.Now()
	err := p.st.Update(context.Background(), func(tx store.Tx) error {
		if err := putJSON(tx, tableNodes, batch.IDKey(p.poolID)+"/"+id, n, store.AnyVersion); err != nil {
			return err
		}
		return putNodeOps(tx, p.poolID, id, ops)
	})
	if err != nil {
		reply(ctx, req, busy())
		return
	}
	p.nodes[id], p.ops[id] = n, ops
	ctx.Announce(NodeSchedulingRecorded{PoolID: p.poolID, NodeID: id, Disabled: opt != "", Option: opt})
	reply(ctx, req, nil)
	ctx.Send(nodeActor(p.poolID, id), schedule{Option: opt})
}

// putNodeOps writes a node's tableNodeOps record, or deletes it when it holds nothing.
func putNodeOps(tx store.Tx, poolID, nodeID string, ops nodeOps) error {
	key := batch.IDKey(poolID) + "/" + nodeID
	if ops == (nodeOps{}) {
		if err := tx.Delete(tableNodeOps, key, store.AnyVersion); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	}
	return putJSON(tx, tableNodeOps, key, ops, store.AnyVersion)
}

// readNodeOps reads the tableNodeOps records of a pool's nodes, by node id.
func readNodeOps(tx store.Tx, poolID string) (map[string]nodeOps, error) {
	rs, err := tx.List(tableNodeOps, batch.IDKey(poolID)+"/", "", 0)
	if err != nil {
		return nil, fmt.Errorf("list node operations of pool %s: %w", poolID, err)
	}
	out := make(map[string]nodeOps, len(rs))
	for _, r := range rs {
		var ops nodeOps
		if err := json.Unmarshal(r.Value, &ops); err != nil {
			return nil, fmt.Errorf("decode node operations %s: %w", r.Key, err)
		}
		out[strings.TrimPrefix(r.Key, batch.IDKey(poolID)+"/")] = ops
	}
	return out, nil
}

// deleteNodeRecords deletes what the store keeps of a node (its record, its task counters, its
// operations, its start task).
func deleteNodeRecords(tx store.Tx, poolID, nodeID string) error {
	key := batch.IDKey(poolID) + "/" + nodeID
	for _, table := range []string{tableNodeRuns, tableNodeOps, tableStartTasks, tableNodes} {
		if err := tx.Delete(table, key, store.AnyVersion); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// restartNode is Compute Node - Reboot and Compute Node - Reimage (see RestartComputeNode).
func (p *poolManager) restartNode(ctx *actor.Context, r RestartComputeNode) {
	opt := r.Option
	if opt == "" {
		opt = batch.DeallocateRequeue
	}
	what := "nodeRebootOption"
	if r.Reimage {
		what = "nodeReimageOption"
	}
	if !batch.ValidNodeDeallocationOption(opt) {
		reply(ctx, r.Request, &batch.Error{Code: "InvalidPropertyValue", Message: what + " is requeue, terminate, taskcompletion or retaineddata.",
			Values: []batch.KV{{Key: batch.KeyPropertyName, Value: what}, {Key: "PropertyValue", Value: string(opt)}}})
		return
	}
	id, ok := p.findNode(r.NodeID)
	if !ok {
		reply(ctx, r.Request, nodeNotFound(r.NodeID))
		return
	}
	n, ops := p.nodes[id], p.ops[id]
	if err := canRestart(n, p.silent[id]); err != nil {
		reply(ctx, r.Request, err)
		return
	}
	p.asked++
	ops.Restart = &nodeRestart{ID: fmt.Sprintf("restart/%s/%d/%d", id, p.boot, p.asked), Option: opt, Reimage: r.Reimage}
	state := batch.NodeRebooting
	if r.Reimage {
		state = batch.NodeReimaging
	}
	n = batch.SetNodeState(n, state, ctx.Now())
	err := p.st.Update(context.Background(), func(tx store.Tx) error {
		if err := putJSON(tx, tableNodes, batch.IDKey(p.poolID)+"/"+id, n, store.AnyVersion); err != nil {
			return err
		}
		return putNodeOps(tx, p.poolID, id, ops)
	})
	if err != nil {
		reply(ctx, r.Request, busy())
		return
	}
	p.nodes[id], p.ops[id] = n, ops
	ctx.Announce(NodeRestartRecorded{PoolID: p.poolID, NodeID: id, ID: ops.Restart.ID, Option: opt, Reimage: r.Reimage})
	reply(ctx, r.Request, nil)
	ctx.Send(nodeActor(p.poolID, id), restartNode{Op: *ops.Restart})
}

// canRestart checks that a node may be rebooted or reimaged: Azure allows it only in state idle
// or running (Corral's records say idle for both; silent is a node whose agent is not heard,
// shown unknown).
func canRestart(n batch.Node, silent bool) *batch.Error {
	code := ""
	switch n.State {
	case batch.NodeIdle:
		if !silent {
			return nil
		}
		code = "OperationInvalidForCurrentState"
	case batch.NodeRebooting:
		code = "NodeBeingRebooted"
	case batch.NodeReimaging:
		code = "NodeBeingReimaged"
	case batch.NodeCreating:
		code = "NodeBeingCreated"
	case batch.NodeUnusable:
		code = "NodeStateUnusable"
	default:
		code = "OperationInvalidForCurrentState"
	}
	return &batch.Error{Code: code, Message: "Node " + n.ID + " can be rebooted or reimaged only when its state is idle or running; it is " + string(n.State) + ".",
		Values: []batch.KV{{Key: "NodeId", Value: n.ID}, {Key: "NodeState", Value: string(n.State)}}}
}

// NodeRestartRecorded is announced by a pool manager when it has recorded a reboot (or reimage)
// of a node in the store, before it answers the request.
type NodeRestartRecorded struct {
	PoolID, NodeID, ID string
	Option             batch.NodeDeallocationOption
	Reimage            bool
}

// NodeRestartDone is announced by a pool manager when it has recorded that a node's reboot (or
// reimage) is over: the node is idle again.
type NodeRestartDone struct{ PoolID, NodeID, ID string }

// restarted records that a node's reboot or reimage is over: the node is idle again, booted
// now. If the store fails, the event is handled again a second later.
func (p *poolManager) restarted(ctx *actor.Context, e nodeRestarted) {
	n, ok := p.nodes[e.NodeID]
	ops := p.ops[e.NodeID]
	if !ok || ops.Restart == nil || ops.Restart.ID != e.ID {
		return // repeated, or the node has left
	}
	ops.Restart = nil
	n = batch.SetNodeState(n, batch.NodeIdle, ctx.Now())
	n.LastBootTime = ctx.Now()
	err := p.st.Update(context.Background(), func(tx store.Tx) error {
		if err := putJSON(tx, tableNodes, batch.IDKey(p.poolID)+"/"+e.NodeID, n, store.AnyVersion); err != nil {
			return err
		}
		return putNodeOps(tx, p.poolID, e.NodeID, ops)
	})
	if err != nil {
		ctx.StartTimer(time.Second, e)
		return
	}
	p.nodes[e.NodeID], p.ops[e.NodeID] = n, ops
	ctx.Announce(NodeRestartDone{PoolID: p.poolID, NodeID: e.NodeID, ID: e.ID})
	p.showContact(ctx, e.NodeID)
}
