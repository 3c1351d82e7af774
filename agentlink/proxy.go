package agentlink

import (
	"corral/actor"
	"corral/agent/protocol"
)

// Proxy is the actor that stands for a node's agent inside the runtime. Create it under the id
// the node sessions send to ("agent/<node>", service.AgentID): it puts every StartTask,
// KillTask, ResultAck and RestartNode it receives into the node's outbox in the Hub, for the agent's next
// poll. Its handlers never wait (a full outbox drops the command, see HubOptions.MaxPending).
//
// A Proxy keeps no state of its own: the outbox lives in the Hub, so the Proxy may be created
// again (after a crash of the host it lives on) without losing waiting commands.
type Proxy struct {
	hub    *Hub
	nodeID string
}

// Proxy returns the actor that stands for the agent of nodeID.
func (h *Hub) Proxy(nodeID string) *Proxy { return &Proxy{hub: h, nodeID: nodeID} }

// Define declares the Proxy's single state.
func (p *Proxy) Define(m *actor.Machine) {
	m.State("Linked",
		actor.On(func(_ *actor.Context, c protocol.StartTask) { p.hub.push(p.nodeID, c) }),
		actor.On(func(_ *actor.Context, c protocol.KillTask) { p.hub.push(p.nodeID, c) }),
		actor.On(func(_ *actor.Context, c protocol.ResultAck) { p.hub.push(p.nodeID, c) }),
		actor.On(func(_ *actor.Context, c protocol.RestartNode) { p.hub.push(p.nodeID, c) }),
	)
}
