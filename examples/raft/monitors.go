package raft

import "corral/actor"

// BecameLeader is announced to the monitors by a server when it wins an election: ID is the
// leader of term Term.
type BecameLeader struct {
	Term int
	ID   actor.ID
}

// OneLeaderPerTerm is the safety property of Raft's leader election (the Election Safety
// property of the Raft paper): at most one leader can be elected in a given term. It remembers
// the leader of every term it has seen and fails if a different server claims one of them.
type OneLeaderPerTerm struct {
	leaders map[int]actor.ID
}

// Define declares the monitor's single state.
func (o *OneLeaderPerTerm) Define(m *actor.Machine) {
	o.leaders = map[int]actor.ID{}
	m.State("Watching", actor.On(func(ctx *actor.Context, ev BecameLeader) {
		if prev, ok := o.leaders[ev.Term]; ok {
			ctx.Assert(prev == ev.ID, "two leaders in term %d: %s and %s", ev.Term, prev, ev.ID)
			return
		}
		o.leaders[ev.Term] = ev.ID
	}))
}
