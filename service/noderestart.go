package service

import (
	"corral/actor"
	"corral/agent/protocol"
	"corral/batch"
)

// restartNode tells a node session to reboot (or reimage) its node. The pool manager sends it
// once the reboot is in the store.
type restartNode struct{ Op nodeRestart }

// nodeRestarted tells a pool manager that a node's agent has carried out the restart ID.
type nodeRestarted struct{ NodeID, ID string }

// A session whose node reboots (restart set) offers the node to no scheduler and starts nothing
// on it. In Ready, it first handles what the node runs by the reboot's option (as for a node
// whose scheduling is disabled: requeue and terminate report it and kill it, taskcompletion and
// retaineddata wait for it to end). Once nothing runs but attempts it has given up, and every
// result it handed on and every loss it reported is recorded, it asks the agent to restart (protocol.RestartNode), and asks
// again with every check until the agent's Hello says it has (Hello.Restarted). Then it tells
// the pool manager, which shows the node idle again, and offers the node.

// beginRestart takes a reboot from the pool manager.
func (n *nodeSession) beginRestart(ctx *actor.Context, r restartNode) {
	if n.restart != nil && n.restart.ID == r.Op.ID {
		return
	}
	op := r.Op
	n.restart = &op
	n.startAgain = true // the node restarts afresh: its start task runs again
	if n.offered {
		n.offered = false
		ctx.Send(n.sched, nodeDown{NodeID: n.nodeID}) // after any nodeUp this session sent
	}
	n.stepRestart(ctx)
}

// stepRestart moves a reboot on, in Ready: it kills what the option says, and asks the agent to
// restart once nothing more needs to end first.
func (n *nodeSession) stepRestart(ctx *actor.Context) {
	if n.restart == nil || ctx.State() != "Ready" {
		return
	}
	ctx.Announce(NodeRestartApplied{PoolID: n.poolID, NodeID: n.nodeID, ID: n.restart.ID, Option: n.restart.Option, Known: sortedKeys(n.running)})
	n.giveUpRunning(ctx, n.restart.Option)
	for id := range n.running {
		if !n.killed[id] {
			return // taskcompletion: it ends first
		}
	}
	if len(n.reported) > 0 || len(n.awaitKill) > 0 {
		return // results and losses are recorded first: the restart forgets them
	}
	ctx.Send(n.agent, protocol.RestartNode{RequestID: n.restart.ID, Reimage: n.restart.Reimage})
}

// NodeRestartApplied is announced by a node session each time it moves a reboot on (in Ready):
// Known lists the attempts it knows the agent runs, the only ones the agent may run until the
// reboot is over; with requeue or terminate, none of them may have a result recorded.
type NodeRestartApplied struct {
	PoolID, NodeID, ID string
	Option             batch.NodeDeallocationOption
	Known              []string // sorted
}

// restartDone ends a reboot whose agent says (Hello.Restarted) it has restarted: the pool
// manager hears of it, and the node is offered again.
func (n *nodeSession) restartDone(ctx *actor.Context, h protocol.Hello) bool {
	if n.restart == nil || h.Restarted != n.restart.ID {
		return false
	}
	ctx.Send(n.pool, nodeRestarted{NodeID: n.nodeID, ID: n.restart.ID})
	n.restart = nil
	return true
}
