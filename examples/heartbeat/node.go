package heartbeat

import "corral/actor"

// node is a monitored process. It answers every ping with a pong until the driver crashes it.
type node struct {
	detector actor.ID
}

// Define declares the node's single state.
func (n *node) Define(m *actor.Machine) {
	m.State("Up",
		actor.On(func(ctx *actor.Context, p ping) {
			ctx.Send(n.detector, pong{Round: p.Round, Node: ctx.Self()})
		}),
		actor.On(func(ctx *actor.Context, _ crash) { ctx.Halt() }),
	)
}
