// Package provkit holds what Corral's VM providers on this machine share besides processes
// (see compute/internal/proc): the provider's actor, which hands requests to the provider and
// sends what it answers, and the memory of final answers by request id that makes repeated
// requests idempotent.
package provkit

import (
	"log/slog"

	"corral/actor"
	"corral/compute"
)

// Outbound is an event to send (an answer, or a notice nobody asked for), made under a
// provider's lock and sent once it is released.
type Outbound struct {
	To actor.ID
	Ev actor.Event
}

// Sender sends a provider's events with the runtime's Send (as from outside any actor), so that
// a ReplyTo that names no actor is logged rather than failing the provider's actor, as ctx.Send
// would. Once Closed is closed it sends nothing.
type Sender struct {
	Runtime actor.Runtime
	Closed  <-chan struct{}
	Log     *slog.Logger
	Name    string // the provider's name in log lines, e.g. "local provider"
}

// Send sends outs, in order.
func (s Sender) Send(outs []Outbound) {
	select {
	case <-s.Closed:
		return
	default:
	}
	for _, o := range outs {
		if err := s.Runtime.Send(o.To, o.Ev); err != nil {
			s.Log.Warn(s.Name+": answer not delivered", "to", o.To, "event", actor.EventName(o.Ev), "err", err)
		}
	}
}

// Handlers are a provider's answers to the requests of the compute contract. Each must return
// at once; what it returns is sent with Send.
type Handlers struct {
	Create func(compute.CreateVM) []Outbound
	Delete func(compute.DeleteVM) []Outbound
	List   func(compute.ListVMs) []Outbound
	Send   func([]Outbound)
}

// Actor returns the provider's actor, to create under compute.ProviderID: in its single state it
// hands each request to h and sends what h returns.
func Actor(h Handlers) actor.Actor { return &providerActor{h} }

// providerActor is a provider as an actor.
type providerActor struct{ h Handlers }

// Define declares the actor's single state.
func (a *providerActor) Define(m *actor.Machine) {
	m.State("Serving",
		actor.On(func(_ *actor.Context, c compute.CreateVM) { a.h.Send(a.h.Create(c)) }),
		actor.On(func(_ *actor.Context, d compute.DeleteVM) { a.h.Send(a.h.Delete(d)) }),
		actor.On(func(_ *actor.Context, l compute.ListVMs) { a.h.Send(a.h.List(l)) }),
	)
}

// Answers remembers the final answers to the most recent requests, by request id, so that a
// repeated request gets the answer the first got, without acting again. It is not safe for
// concurrent use: a provider guards it with its own lock.
type Answers struct {
	max   int
	byID  map[string]actor.Event
	order []string // ids in byID, oldest first
}

// NewAnswers returns a memory of the last max answers.
func NewAnswers(max int) *Answers {
	return &Answers{max: max, byID: map[string]actor.Event{}}
}

// Remember records ev as the final answer to request id (an empty id is not remembered),
// forgetting the oldest answer if the memory is full.
func (a *Answers) Remember(id string, ev actor.Event) {
	if id == "" {
		return
	}
	if _, ok := a.byID[id]; !ok {
		if len(a.order) >= a.max {
			delete(a.byID, a.order[0])
			a.order = a.order[1:]
		}
		a.order = append(a.order, id)
	}
	a.byID[id] = ev
}

// Lookup returns the remembered answer to request id.
func (a *Answers) Lookup(id string) (actor.Event, bool) {
	if id == "" {
		return nil, false
	}
	ev, ok := a.byID[id]
	return ev, ok
}
