package model

import (
	"corral/actor"
	"corral/compute"
)

// Provider models a VM provider whose nodes run agent models. A CreateVM creates the node's agent
// (an Agent actor on the provider's host) and answers VMCreated; with Failures set, a creation may
// fail instead (a choice the tester makes). A CreateVM for a node that exists (a repeated request,
// or a new request after the caller restarted) is answered VMCreated without creating anything.
type Provider struct {
	// AgentID and SessionID name the agent of a node and the session it talks to.
	AgentID   func(nodeID string) actor.ID
	SessionID func(poolID, nodeID string) actor.ID
	// ExitCodes are what the agents' attempts may exit with (see Agent).
	ExitCodes []int
	// Failures lets creations fail.
	Failures bool

	created map[string]bool // node ids
}

// Define declares the provider's single state.
func (p *Provider) Define(m *actor.Machine) {
	m.State("Serving", actor.On(func(ctx *actor.Context, d compute.DeleteVM) {
		// The node's agent model goes on running (it cannot be halted from here); what matters
		// to the service is the answer.
		ctx.Send(d.ReplyTo, compute.VMDeleted{RequestID: d.RequestID, PoolID: d.PoolID, NodeID: d.NodeID})
	}), actor.On(func(ctx *actor.Context, c compute.CreateVM) {
		if p.created == nil {
			p.created = map[string]bool{}
		}
		done := compute.VMCreated{RequestID: c.RequestID, PoolID: c.PoolID, NodeID: c.NodeID}
		if p.created[c.NodeID] {
			ctx.Send(c.ReplyTo, done)
			return
		}
		if p.Failures && ctx.RandomInt(4) == 0 {
			ctx.Send(c.ReplyTo, compute.VMFailed{RequestID: c.RequestID, PoolID: c.PoolID, NodeID: c.NodeID, Reason: "allocation failed"})
			return
		}
		ctx.Create(string(p.AgentID(c.NodeID)), &Agent{NodeID: c.NodeID, Session: p.SessionID(c.PoolID, c.NodeID), ExitCodes: p.ExitCodes})
		p.created[c.NodeID] = true
		ctx.Send(c.ReplyTo, done)
	}))
}
