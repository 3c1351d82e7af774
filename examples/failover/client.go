package failover

import (
	"fmt"

	"corral/actor"
)

// Client submits its jobs one after the other. It cannot tell a crashed server from a slow one, so
// it resends a request, unchanged, until the request is acknowledged: requests are delivered at
// least once, and the server must make them count once.
//
// Retries back off exponentially, 1, 2, 4, then every 8 ticks of the retry timer. The backoff
// counts ticks instead of lengthening the timer because under the tester time is virtual: a timer
// fires whenever the tester chooses to advance the clock, so a longer timeout would not make
// retries rarer relative to the server's work, while skipping ticks does. Without backoff, hunts
// with TesterConfig report a real liveness bug (mostly under PCT, whose priorities starve the
// server for a while): one resend per timeout keeps a slow server's mailbox as full as the server
// can empty it, and the Appended that would acknowledge a request waits behind an ever longer
// queue of retries, so AllAcknowledged stays hot.
type Client struct {
	server actor.ID
	jobs   int // how many requests to make

	next    int // index of the current request, 0-based
	timer   actor.TimerID
	waited  int // ticks since the current request was last sent
	backoff int // ticks to wait before the next resend
}

// Define declares the client's states: Working while requests remain, then Done.
func (c *Client) Define(m *actor.Machine) {
	m.State("Working",
		actor.OnEntry(c.send),
		actor.On(func(ctx *actor.Context, ev Ack) {
			if ev.ReqID != c.reqID(ctx) {
				// A second Ack of an earlier request, answering one of its retries.
				return
			}
			ctx.CancelTimer(c.timer)
			ctx.Announce(Acknowledged{ReqID: ev.ReqID, Seq: ev.Seq})
			c.next++
			if c.next == c.jobs {
				ctx.Goto("Done")
				return
			}
			c.send(ctx)
		}),
		actor.On(func(ctx *actor.Context, ev RetryTimeout) {
			c.waited++
			if c.waited < c.backoff {
				c.timer = ctx.StartTimer(retryAfter, ev)
				return
			}
			ctx.Log("no ack in time, retrying", "req", ev.ReqID, "after", c.waited)
			c.backoff = min(2*c.backoff, maxBackoff)
			c.resend(ctx)
		}),
		actor.Targets("Done"),
	)
	m.State("Done",
		// Late Acks of the last requests' retries. No RetryTimeout can arrive: the timer was
		// cancelled before the move, and a cancelled timer delivers nothing.
		actor.Ignore[Ack](),
	)
}

// reqID names the current request. It depends only on the client and the request's index, so a
// retry carries the same id as the original.
func (c *Client) reqID(ctx *actor.Context) string {
	return fmt.Sprintf("%s/%d", ctx.Self(), c.next+1)
}

// send sends a new request and arms the retry timer.
func (c *Client) send(ctx *actor.Context) {
	c.backoff = 1
	c.resend(ctx)
}

// resend sends the current request, the same each time, and arms the retry timer.
func (c *Client) resend(ctx *actor.Context) {
	id := c.reqID(ctx)
	ctx.Send(c.server, Submit{ReqID: id, Client: ctx.Self(), Job: "job " + id})
	c.waited = 0
	c.timer = ctx.StartTimer(retryAfter, RetryTimeout{ReqID: id})
}
