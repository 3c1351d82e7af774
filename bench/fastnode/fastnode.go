// Package fastnode is an in-process stand-in for Corral's compute nodes, for benchmarks of the
// service alone: a VM provider actor whose "nodes" are agent actors that complete every attempt
// the moment they are told to start it, with exit code 0. No process is started and nothing
// touches the disk, so what a benchmark measures is the service (job managers, scheduler, node
// sessions, the store) and the actor runtime.
//
// The agent speaks package protocol to its node session exactly as service/model.Agent does
// (Hello when it starts, TaskStarted and TaskResult per attempt, ResultAck ends the repetition);
// it differs in that an attempt ends at once instead of after a timer, and it sends no heartbeats
// (a benchmark gives its node sessions a LostAfter longer than the run).
package fastnode

import (
	"slices"
	"time"

	"corral/actor"
	"corral/agent/protocol"
	"corral/compute"
)

// Provider is a VM provider actor (create it under compute.ProviderID) whose nodes are Agent
// actors, created on the provider's host. A CreateVM for a node that exists is answered
// VMCreated without creating anything; DeleteVM and ListVMs are answered too, so the service's
// whole conversation with a provider works.
type Provider struct {
	// AgentID and SessionID name the agent of a node and the session it talks to
	// (service.AgentID and service.NodeSessionID).
	AgentID   func(nodeID string) actor.ID
	SessionID func(poolID, nodeID string) actor.ID
	// Hold, if set, picks creations the provider never answers (a provider slower than any run,
	// for measuring how the service cancels them); a DeleteVM of such a node is answered at once.
	Hold func(c compute.CreateVM) bool

	created map[string]string // node id -> pool id
}

// Define declares the provider's single state.
func (p *Provider) Define(m *actor.Machine) {
	m.State("Serving",
		actor.On(func(ctx *actor.Context, c compute.CreateVM) {
			if p.created == nil {
				p.created = map[string]string{}
			}
			if p.Hold != nil && p.Hold(c) {
				return
			}
			if _, ok := p.created[c.NodeID]; !ok {
				ctx.Create(string(p.AgentID(c.NodeID)), &Agent{NodeID: c.NodeID, Session: p.SessionID(c.PoolID, c.NodeID)})
				p.created[c.NodeID] = c.PoolID
			}
			ctx.Send(c.ReplyTo, compute.VMCreated{RequestID: c.RequestID, PoolID: c.PoolID, NodeID: c.NodeID})
		}),
		actor.On(func(ctx *actor.Context, d compute.DeleteVM) {
			if _, ok := p.created[d.NodeID]; ok {
				ctx.Send(p.AgentID(d.NodeID), stop{})
				delete(p.created, d.NodeID)
			}
			ctx.Send(d.ReplyTo, compute.VMDeleted{RequestID: d.RequestID, PoolID: d.PoolID, NodeID: d.NodeID})
		}),
		actor.On(func(ctx *actor.Context, l compute.ListVMs) {
			list := compute.VMList{RequestID: l.RequestID, PoolID: l.PoolID}
			nodes := make([]string, 0, len(p.created))
			for node := range p.created {
				nodes = append(nodes, node)
			}
			slices.Sort(nodes) // a fixed order, as actor code iterates maps
			for _, node := range nodes {
				if pool := p.created[node]; l.PoolID == "" || l.PoolID == pool {
					list.Nodes = append(list.Nodes, compute.VM{PoolID: pool, NodeID: node, Dedicated: true})
				}
			}
			ctx.Send(l.ReplyTo, list)
		}),
	)
}

// stop tells an agent its node was deleted.
type stop struct{}

// Agent is a node agent that runs nothing: a StartTask is answered at once with TaskStarted and
// a TaskResult with exit code 0, both stamped with the runtime's clock. Like a real agent it
// starts an attempt id at most once while its result is unacknowledged, and it repeats nothing
// (no heartbeats): the session has every result the first time.
type Agent struct {
	NodeID  string
	Session actor.ID

	pending map[string]bool // attempts whose results are not acknowledged yet
}

// Define declares the agent's single state.
func (a *Agent) Define(m *actor.Machine) {
	m.State("Running",
		actor.OnEntry(func(ctx *actor.Context) {
			a.pending = map[string]bool{}
			ctx.Send(a.Session, protocol.Hello{NodeID: a.NodeID, Incarnation: "fastnode"})
		}),
		actor.On(func(ctx *actor.Context, s protocol.StartTask) {
			if a.pending[s.AttemptID] {
				return
			}
			a.pending[s.AttemptID] = true
			now := ctx.Now()
			// The attempt is reported as having run a microsecond: a run of no length tells the
			// scheduler nothing about how long tasks take (service.ranFor), so it would never
			// give the nodes the queues that real short tasks get.
			ctx.Send(a.Session, protocol.TaskStarted{NodeID: a.NodeID, AttemptID: s.AttemptID, StartTime: now})
			ctx.Send(a.Session, protocol.TaskResult{NodeID: a.NodeID, AttemptID: s.AttemptID, ExitCode: 0, StartTime: now, EndTime: now.Add(time.Microsecond)})
		}),
		actor.On(func(ctx *actor.Context, r protocol.ResultAck) { delete(a.pending, r.AttemptID) }),
		actor.Ignore[protocol.KillTask](), // every attempt has ended already
		actor.On(func(ctx *actor.Context, _ stop) { ctx.Halt() }),
	)
}
