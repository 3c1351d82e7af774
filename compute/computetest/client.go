package computetest

import (
	"fmt"
	"testing"
	"time"

	"corral/actor"
	"corral/compute"
)

// Deadline bounds every wait of a Client; tests never assert on time.
const Deadline = 60 * time.Second

// Client is a test's end of a provider: a [Requester] that keeps what arrives by request id
// (see [Key]), so that a test can wait for the answer to one request while others arrive. It is
// used by the test's goroutine only.
type Client struct {
	*Requester
	got map[string][]actor.Event // events by key, not yet taken
	seq int
}

// NewClient creates a client named id in eng; the provider's actor is the test's to create.
func NewClient(t *testing.T, eng *actor.Engine, id actor.ID) *Client {
	t.Helper()
	return &Client{Requester: StartAs(t, eng, id), got: map[string][]actor.Event{}}
}

// NextID returns a new request id.
func (c *Client) NextID() string {
	c.seq++
	return fmt.Sprintf("req-%d", c.seq)
}

// Create asks for a dedicated node under a new request id, which it returns.
func (c *Client) Create(pool, node string) string {
	id := c.NextID()
	c.CreateWith(id, pool, node, true)
	return id
}

// CreateWith asks for a node under request id.
func (c *Client) CreateWith(id, pool, node string, dedicated bool) {
	c.Send(compute.CreateVM{RequestID: id, ReplyTo: c.id, PoolID: pool, NodeID: node, VMSize: "standard_d2s_v3", Dedicated: dedicated})
}

// Delete asks to delete a node under a new request id, which it returns.
func (c *Client) Delete(pool, node string) string {
	id := c.NextID()
	c.Send(compute.DeleteVM{RequestID: id, ReplyTo: c.id, PoolID: pool, NodeID: node})
	return id
}

// List lists the nodes of pool (all pools if empty) and waits for the answer.
func (c *Client) List(pool string) []compute.VM {
	c.t.Helper()
	id := c.NextID()
	c.Send(compute.ListVMs{RequestID: id, ReplyTo: c.id, PoolID: pool})
	l := Await[compute.VMList](c, id)
	if l.PoolID != pool {
		c.t.Errorf("VMList.PoolID = %q, want %q", l.PoolID, pool)
	}
	return l.Nodes
}

// Key is the key under which the client keeps an event: the request id of an answer;
// Preempted or Lost of the CreateRequestID of an event sent unasked.
func Key(ev actor.Event) string {
	switch e := ev.(type) {
	case compute.VMCreated:
		return e.RequestID
	case compute.VMFailed:
		return e.RequestID
	case compute.VMDeleted:
		return e.RequestID
	case compute.VMList:
		return e.RequestID
	case compute.VMPreempted:
		return Preempted(e.CreateRequestID)
	case compute.VMLost:
		return Lost(e.CreateRequestID)
	}
	return ""
}

// Preempted and Lost are the keys of the VMPreempted and VMLost naming CreateVM createID.
func Preempted(createID string) string { return "preempted/" + createID }

// Lost is the key of the VMLost naming CreateVM createID; see Preempted.
func Lost(createID string) string { return "lost/" + createID }

// take keeps the events that have arrived, without waiting.
func (c *Client) take() {
	for {
		select {
		case ev := <-c.out:
			c.got[Key(ev)] = append(c.got[Key(ev)], ev)
		default:
			return
		}
	}
}

// Unsolicited returns the VMPreempted and VMLost events that have arrived and were not awaited
// (they stay kept).
func (c *Client) Unsolicited() []actor.Event {
	c.take()
	var out []actor.Event
	for _, evs := range c.got {
		for _, ev := range evs {
			switch ev.(type) {
			case compute.VMPreempted, compute.VMLost:
				out = append(out, ev)
			}
		}
	}
	return out
}

// Pending reports whether an event under key has arrived and not been awaited.
func (c *Client) Pending(key string) bool {
	c.take()
	return len(c.got[key]) > 0
}

// Await returns the next event under key (an answer to request key; see Key), waiting up to
// Deadline.
func (c *Client) Await(key string) actor.Event {
	c.t.Helper()
	timeout := time.After(Deadline)
	for {
		if evs := c.got[key]; len(evs) > 0 {
			c.got[key] = evs[1:]
			return evs[0]
		}
		select {
		case ev := <-c.out:
			c.got[Key(ev)] = append(c.got[Key(ev)], ev)
		case <-timeout:
			c.t.Fatalf("no answer to %s", key)
		}
	}
}

// Await returns the next event under key, which must be an E.
func Await[E any](c *Client, key string) E {
	c.t.Helper()
	ev := c.Await(key)
	e, ok := ev.(E)
	if !ok {
		c.t.Fatalf("answer to %s: got %#v, want a %T", key, ev, e)
	}
	return e
}

// Names returns "pool/node" of each VM.
func Names(vms []compute.VM) []string {
	out := []string{}
	for _, v := range vms {
		out = append(out, v.PoolID+"/"+v.NodeID)
	}
	return out
}
