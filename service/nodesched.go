package service

import (
	"corral/actor"
	"corral/batch"
)

// schedule tells a node session that its node's scheduling is disabled, with Option (requeue,
// terminate or taskcompletion) saying what happens to what the node runs, or enabled again
// (Option ""). The pool manager sends it once the change is in the store.
type schedule struct{ Option batch.NodeDeallocationOption }

// NodeSchedulingApplied is announced by a node session when it has applied its node's scheduling
// state: Disabled, the scheduler has the node down and the session starts nothing new on it;
// Known lists the attempts the session knew on the node then (running, or expected after a
// restart), the only ones it may still have the agent run. A session that starts with its node's
// scheduling disabled (after a restart of the service) announces it as it starts, and again once
// its agent has said Hello. Ready says the session has heard from the agent since it started:
// Known is what the agent runs, as the session knows it.
type NodeSchedulingApplied struct {
	PoolID, NodeID string
	Disabled       bool
	Known          []string // sorted
	Ready          bool
}

// setSchedule takes the node's scheduling state from its pool manager.
func (n *nodeSession) setSchedule(ctx *actor.Context, s schedule) {
	was := n.disable
	n.disable = s.Option
	switch {
	case s.Option == "" && was != "":
		ctx.Announce(NodeSchedulingApplied{PoolID: n.poolID, NodeID: n.nodeID})
		if ctx.State() == "Ready" {
			n.offer(ctx)
		}
	case s.Option != "":
		if n.offered {
			n.offered = false
			ctx.Send(n.sched, nodeDown{NodeID: n.nodeID}) // after any nodeUp this session sent
		}
		n.applyDisable(ctx)
	}
}

// applyDisable handles what a node whose scheduling is disabled runs, by the option: with requeue
// or terminate, each attempt is reported to its job manager (requeued, or completed as
// terminated) and killed once that is recorded; it keeps its slots until the agent reports it
// ended (see killed). With taskcompletion it runs on. Only in Ready does the session know what the agent runs: from
// Connecting it applies on entering Ready, after the agent's Hello.
func (n *nodeSession) applyDisable(ctx *actor.Context) {
	if n.disable == "" {
		return
	}
	if ctx.State() == "Ready" {
		n.giveUpRunning(ctx, n.disable)
	}
	known := map[string]bool{}
	for id := range n.running {
		known[id] = true
	}
	for id := range n.expected {
		known[id] = true
	}
	ctx.Announce(NodeSchedulingApplied{PoolID: n.poolID, NodeID: n.nodeID, Disabled: true, Known: sortedKeys(known), Ready: ctx.State() == "Ready"})
}

// giveUpRunning reports every attempt the node runs lost to its job manager, to be requeued (or,
// with opt terminate, completed as terminated) and then killed (attemptEnded.Kill), unless opt
// is taskcompletion or retaineddata, which let them run. The session counts them as killed from
// now on: their results change nothing.
func (n *nodeSession) giveUpRunning(ctx *actor.Context, opt batch.NodeDeallocationOption) {
	n.giveUpParked(ctx, opt == batch.DeallocateTerminate) // never started: requeued, even with taskcompletion
	if opt != batch.DeallocateRequeue && opt != batch.DeallocateTerminate {
		n.takeBackQueued(ctx, 0) // what has not started there goes elsewhere
		return
	}
	for _, id := range sortedKeys(n.running) {
		if n.killed[id] {
			continue
		}
		r := n.running[id]
		ctx.Announce(AttemptGivenUp{NodeID: n.nodeID, AttemptID: id})
		ctx.Send(jobActor(r.JobID, r.JobInc), attemptEnded{Ref: r, PoolID: n.poolID, NodeID: n.nodeID, Lost: true,
			Terminate: opt == batch.DeallocateTerminate, Kill: true})
		n.killed[id], n.awaitKill[id] = true, true
		delete(n.starts, id) // not to be started again
	}
}
