// Package computetest helps test VM providers: an actor that sends them requests and hands
// their answers to the test ([Requester]), and a client on it that waits for the answer to
// each request by its id ([Client]).
package computetest

import (
	"testing"
	"time"

	"corral/actor"
	"corral/compute"
)

// RequesterID is where Start creates the requester.
const RequesterID actor.ID = "test.requester"

// Ask wraps a request for the requester to send to compute.ProviderID.
type Ask struct{ Event actor.Event }

// requester sends requests to the provider and hands every answer to out.
type requester struct{ out chan actor.Event }

// Define declares the requester's one state.
func (r *requester) Define(m *actor.Machine) {
	m.State("Asking",
		actor.On(func(ctx *actor.Context, a Ask) { ctx.Send(compute.ProviderID, a.Event) }),
		actor.On(func(_ *actor.Context, ev compute.VMCreated) { r.out <- ev }),
		actor.On(func(_ *actor.Context, ev compute.VMFailed) { r.out <- ev }),
		actor.On(func(_ *actor.Context, ev compute.VMDeleted) { r.out <- ev }),
		actor.On(func(_ *actor.Context, ev compute.VMList) { r.out <- ev }),
		actor.On(func(_ *actor.Context, ev compute.VMPreempted) { r.out <- ev }),
		actor.On(func(_ *actor.Context, ev compute.VMLost) { r.out <- ev }),
	)
}

// Requester talks to a provider actor from a test.
type Requester struct {
	t   *testing.T
	eng *actor.Engine
	id  actor.ID
	out chan actor.Event
}

// Start creates the requester in eng, as RequesterID.
func Start(t *testing.T, eng *actor.Engine) *Requester { return StartAs(t, eng, RequesterID) }

// StartAs creates a requester named id in eng.
func StartAs(t *testing.T, eng *actor.Engine, id actor.ID) *Requester {
	t.Helper()
	r := &Requester{t: t, eng: eng, id: id, out: make(chan actor.Event, 100)}
	if _, err := eng.Create(string(id), &requester{out: r.out}); err != nil {
		t.Fatalf("create requester: %v", err)
	}
	return r
}

// ID is the requester's actor, the ReplyTo of its requests.
func (r *Requester) ID() actor.ID { return r.id }

// Send has the requester send ev to the provider.
func (r *Requester) Send(ev actor.Event) {
	r.t.Helper()
	if err := r.eng.Send(r.id, Ask{ev}); err != nil {
		r.t.Fatalf("send %T: %v", ev, err)
	}
}

// Next returns the next event the provider sent the requester, failing the test after limit.
func (r *Requester) Next(limit time.Duration) actor.Event {
	r.t.Helper()
	select {
	case ev := <-r.out:
		return ev
	case <-time.After(limit):
		r.t.Fatalf("no answer from the provider in %v", limit)
		return nil
	}
}

// Ask sends ev and returns the next answer.
func (r *Requester) Ask(ev actor.Event, limit time.Duration) actor.Event {
	r.t.Helper()
	r.Send(ev)
	return r.Next(limit)
}
