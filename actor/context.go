package actor

import (
	"fmt"
	"time"
)

// Context is what a handler gets to act on the world: send, create, change state, halt, start
// timers, draw nondeterministic choices and read the time. Everything that would make a run
// irreproducible goes through it, so the systematic tester can control it. A Context is valid only
// during the handler call that received it.
type Context struct {
	in  *Instance
	env Env
}

// Self returns the running actor's ID.
func (c *Context) Self() ID { return c.in.id }

// State returns the name of the current state.
func (c *Context) State() string { return c.in.state.name }

// Host returns the name of the running actor's host ("" for the default host).
func (c *Context) Host() string { return c.in.host }

func (c *Context) forbidInMonitor(op string) {
	if c.in.monitor {
		Abort(FailMisuse, "a monitor may not %s", op)
	}
}

// Send puts ev in the mailbox of actor to. Events from one sender to one receiver arrive in the
// order sent. Sending to a halted actor drops the event; sending to an ID that was never created
// fails the sender.
func (c *Context) Send(to ID, ev Event) {
	c.forbidInMonitor("send")
	c.env.Send(c.in, to, ev)
}

// Create starts a new actor on the same host as the running actor and returns its ID. With an
// empty name the runtime chooses a unique ID. Creating an actor under the ID of a live actor fails
// the creator.
func (c *Context) Create(name string, a Actor) ID {
	c.forbidInMonitor("create actors")
	return c.env.Create(c.in, name, a)
}

// Goto moves the actor to the named state once the handler returns: the current state's exit
// action runs, then the new state's entry action. A later Goto in the same handler replaces an
// earlier one, and replaces a transition declared with [Goto] or [OnGoto].
func (c *Context) Goto(state string) {
	if c.in.inExit {
		Abort(FailGoto, "Goto(%q) called in an exit action", state)
	}
	s := c.in.m.byName[state]
	if s == nil {
		Abort(FailGoto, "Goto(%q): no such state", state)
	}
	c.in.target = s
}

// Raise handles ev right after the current handler (and any transition it asked for), before any
// event in the mailbox.
func (c *Context) Raise(ev Event) {
	if c.in.inExit {
		Abort(FailMisuse, "Raise called in an exit action")
	}
	c.in.raised = append(c.in.raised, ev)
}

// Halt stops the actor once the handler returns: its mailbox and timers are dropped, and later
// events for it are dropped and logged. Calling Halt twice is an error.
func (c *Context) Halt() {
	c.forbidInMonitor("halt")
	if c.in.halting {
		Abort(FailDoubleHalt, "Halt called twice")
	}
	c.in.halting = true
}

// StartTimer delivers ev to the running actor once, after d. It returns an ID for CancelTimer.
func (c *Context) StartTimer(d time.Duration, ev Event) TimerID {
	return c.startTimer(d, 0, ev)
}

// StartPeriodicTimer delivers ev to the running actor after d and then every period. As with
// time.Ticker, ticks are dropped for a slow actor: while one tick waits in the mailbox, the next
// is not delivered.
func (c *Context) StartPeriodicTimer(d, period time.Duration, ev Event) TimerID {
	if period <= 0 {
		Abort(FailMisuse, "StartPeriodicTimer: period %v is not positive", period)
	}
	return c.startTimer(d, period, ev)
}

func (c *Context) startTimer(d, period time.Duration, ev Event) TimerID {
	c.forbidInMonitor("start timers")
	in := c.in
	in.nextTmr++
	id := in.nextTmr
	if in.timers == nil {
		in.timers = make(map[TimerID]bool)
	}
	in.timers[id] = period > 0
	c.env.StartTimer(in, id, d, period, ev)
	return id
}

// CancelTimer stops a timer. Once it returns, the timer delivers nothing more, even an event that
// had already fired and was waiting in the mailbox. It reports whether the timer was active.
func (c *Context) CancelTimer(id TimerID) bool {
	if _, ok := c.in.timers[id]; !ok {
		return false
	}
	delete(c.in.timers, id)
	c.env.StopTimer(c.in, id)
	return true
}

// RandomBool returns a nondeterministic boolean. Under the tester it is a choice the tester
// controls and records.
func (c *Context) RandomBool() bool { return c.env.RandomBool(c.in) }

// RandomInt returns a nondeterministic integer in [0, n). n must be positive.
func (c *Context) RandomInt(n int) int {
	if n <= 0 {
		Abort(FailMisuse, "RandomInt(%d): n must be positive", n)
	}
	return c.env.RandomInt(c.in, n)
}

// Now returns the runtime's current time: the wall clock in production, virtual time under the
// tester.
func (c *Context) Now() time.Time { return c.env.Now() }

// Announce delivers ev to every monitor that declares its type, synchronously.
func (c *Context) Announce(ev Event) { c.env.Announce(c.in, ev) }

// Assert fails the actor (or monitor) with an assertion failure unless cond holds. Under the
// tester a failed assertion is a bug.
func (c *Context) Assert(cond bool, format string, args ...any) {
	if !cond {
		panic(&Failure{Kind: FailAssert, Message: fmt.Sprintf(format, args...)})
	}
}

// Log writes a message to the runtime's log (and, under the tester, to the trace), with slog-style
// key-value pairs.
func (c *Context) Log(msg string, args ...any) { c.env.Log(c.in, msg, args...) }
