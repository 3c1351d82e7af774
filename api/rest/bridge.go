package rest

import (
	"sync"
	"time"

	"corral/actor"
	"corral/api"
	"corral/service"
)

// bridge is the actor that takes the service's answers for the Server: it hands each Reply to the
// handler waiting for it, found by request id. A reply nobody waits for (the handler timed out or
// its client went away, or the reply is a repeat) is dropped. The map is the Server's; the bridge
// only looks up and never blocks.
type bridge struct {
	waiting *sync.Map // request id -> chan service.Reply (buffered, capacity 1)
}

// Define declares the bridge's single state.
func (b *bridge) Define(m *actor.Machine) {
	m.State("Bridging", actor.On(func(ctx *actor.Context, r service.Reply) {
		v, ok := b.waiting.LoadAndDelete(r.RequestID)
		if !ok {
			return
		}
		select {
		case v.(chan service.Reply) <- r:
		default: // cannot happen: the entry is deleted on first delivery
		}
	}))
}

// send sends the request that build makes (given the request's id and the bridge as the
// recipient of the answer) to the service's account actor, and waits for the answer, the
// request's time limit (500 OperationTimedOut), the client going away (errGone), or the service
// stopping (503 ServerBusy, see Server.Stop).
func (c *call) send(build func(service.Request) actor.Event) (service.Reply, *api.Error) {
	ch := make(chan service.Reply, 1)
	c.s.waiting.Store(c.id, ch)
	defer c.s.waiting.Delete(c.id)
	if err := c.s.rt.Send(service.AccountID, build(service.Request{ID: c.id, ReplyTo: BridgeID})); err != nil {
		c.s.log.Warn("rest: service unavailable", "request-id", c.id, "err", err)
		return service.Reply{}, api.NewError(api.CodeServerBusy)
	}
	select {
	case rep := <-ch:
		return rep, nil
	case <-c.s.stopped:
		return service.Reply{}, api.NewError(api.CodeServerBusy)
	case <-c.ctx.Done():
		if c.r.Context().Err() != nil {
			return service.Reply{}, errGone
		}
		c.s.log.Warn("rest: service did not answer in time", "request-id", c.id, "method", c.r.Method, "path", c.r.URL.Path,
			"after", c.s.now().Sub(c.now).Round(time.Millisecond))
		return service.Reply{}, api.NewError(api.CodeOperationTimedOut)
	}
}
