package actor

import (
	"fmt"
	"reflect"
	"runtime/debug"
	"time"
)

// Envelope is an event in an actor's mailbox.
type Envelope struct {
	From  ID      // the sender; empty for events from outside any actor
	Event Event   // the event itself
	Timer TimerID // nonzero when a timer delivers the event
}

// haltRequest is the event that Runtime.Halt enqueues.
type haltRequest struct{}

// Env is what a runtime provides to the actors it runs. Programs never implement it; the two
// runtimes (Engine, and the systematic tester) do. Methods are called from inside handlers and may
// call [Abort] to fail the handler.
type Env interface {
	Send(from *Instance, to ID, ev Event)
	Create(parent *Instance, name string, a Actor) ID
	StartTimer(in *Instance, id TimerID, after, period time.Duration, ev Event)
	StopTimer(in *Instance, id TimerID)
	RandomBool(in *Instance) bool
	RandomInt(in *Instance, n int) int
	Now() time.Time
	Announce(from *Instance, ev Event)
	Log(in *Instance, msg string, args ...any)
	// Transition reports that in moved from one state to another (for traces and coverage).
	Transition(in *Instance, from, to string)
}

// Instance is one actor at run time: its machine, current state and local mailbox. Runtimes drive
// it; programs never use it. An Instance is not safe for concurrent use: its runtime calls it from
// one goroutine at a time.
type Instance struct {
	id    ID
	typ   string
	host  string
	actor Actor
	m     *Machine
	state *State
	ctx   Context

	queue []Envelope
	head  int

	started  bool
	halted   bool
	failed   *Failure
	timers   map[TimerID]bool // active timers: true if periodic
	nextTmr  TimerID
	halting  bool
	askedOff bool // a halt request is in the mailbox
	target   *State
	raised   []Event
	inExit   bool
	monitor  bool
	curType  reflect.Type // the event being handled, for failure reports
	curPhase string       // "<entry>" or "<exit>" while those run
}

// NewInstance builds an instance of a with the given identity. It calls a.Define and validates
// the machine; the start state's entry action runs at the first Step.
func NewInstance(env Env, id ID, host string, a Actor) (*Instance, error) {
	m, err := build(a)
	if err != nil {
		return nil, err
	}
	in := &Instance{id: id, typ: TypeOf(a), host: host, actor: a, m: m, state: m.states[0]}
	in.ctx = Context{in: in, env: env}
	return in, nil
}

// ID returns the actor's ID.
func (in *Instance) ID() ID { return in.id }

// Type returns the actor's type name.
func (in *Instance) Type() string { return in.typ }

// Host returns the name of the host the actor runs on ("" for the default host).
func (in *Instance) Host() string { return in.host }

// Actor returns the actor value.
func (in *Instance) Actor() Actor { return in.actor }

// State returns the current state's name.
func (in *Instance) State() string { return in.state.name }

// CurrentState returns the current state.
func (in *Instance) CurrentState() *State { return in.state }

// Halted reports whether the actor has halted (or failed).
func (in *Instance) Halted() bool { return in.halted }

// Started reports whether the start state's entry action has run.
func (in *Instance) Started() bool { return in.started }

// Failure returns the failure that halted the actor, if any.
func (in *Instance) Failure() *Failure { return in.failed }

// Enqueue appends an envelope to the mailbox. Events for a halted actor are dropped; Enqueue
// reports whether the event was kept.
func (in *Instance) Enqueue(e Envelope) bool {
	if in.halted {
		return false
	}
	in.queue = append(in.queue, e)
	return true
}

// RequestHalt puts a halt request in the mailbox: the actor halts when it takes the request, after
// the events before it. It reports false if the actor has halted or a request is already waiting.
func (in *Instance) RequestHalt() bool {
	if in.halted || in.askedOff {
		return false
	}
	in.askedOff = true
	in.queue = append(in.queue, Envelope{Event: haltRequest{}})
	return true
}

// Mailbox returns the envelopes waiting in the mailbox, oldest first. The slice belongs to the
// instance: read it, do not keep or change it.
func (in *Instance) Mailbox() []Envelope { return in.queue[in.head:] }

// Pending returns the number of envelopes in the mailbox, deliverable or deferred.
func (in *Instance) Pending() int { return len(in.queue) - in.head }

// Runnable reports whether a Step would do something: the actor has not started yet, or has a
// mailbox event that its current state does not defer.
func (in *Instance) Runnable() bool {
	if in.halted {
		return false
	}
	if !in.started {
		return true
	}
	return in.nextIndex() >= 0
}

// Peek returns the envelope that the next Step would handle, if any.
func (in *Instance) Peek() (Envelope, bool) {
	if in.halted || !in.started {
		return Envelope{}, false
	}
	i := in.nextIndex()
	if i < 0 {
		return Envelope{}, false
	}
	return in.queue[i], true
}

func (in *Instance) nextIndex() int {
	if len(in.state.deferred) == 0 {
		if in.head < len(in.queue) {
			return in.head
		}
		return -1
	}
	for i := in.head; i < len(in.queue); i++ {
		if e := in.queue[i]; e.Timer != 0 || !in.state.deferred[reflect.TypeOf(e.Event)] {
			return i
		}
	}
	return -1
}

func (in *Instance) take(i int) Envelope {
	e := in.queue[i]
	if i == in.head {
		in.queue[i] = Envelope{}
		in.head++
		if in.head == len(in.queue) {
			in.queue = in.queue[:0]
			in.head = 0
		} else if in.head > 64 && in.head*2 > len(in.queue) {
			n := copy(in.queue, in.queue[in.head:])
			clear(in.queue[n:])
			in.queue = in.queue[:n]
			in.head = 0
		}
		return e
	}
	copy(in.queue[i:], in.queue[i+1:])
	in.queue[len(in.queue)-1] = Envelope{}
	in.queue = in.queue[:len(in.queue)-1]
	return e
}

// StepKind says what a Step did.
type StepKind int

const (
	StepIdle    StepKind = iota // nothing to do
	StepStart                   // ran the start state's entry action
	StepHandled                 // handled an event (including a halt request)
	StepIgnored                 // dropped an event the state ignores
	StepStale                   // dropped an event from a cancelled timer
	StepHalt                    // took a halt request from the mailbox and halted
)

// StepResult describes one Step.
type StepResult struct {
	Kind     StepKind
	State    string   // the state the actor was in when the step began
	Envelope Envelope // the envelope taken from the mailbox (not for StepStart)
	Halted   bool     // the actor halted (or failed) during the step
}

// Step runs the actor's next piece of work to completion: the start state's entry action if it
// has not run, or else the first mailbox event its state does not defer, along with the
// transitions, raised events and halt that the handler asked for. A panic in a handler fails the
// actor: the returned Failure names actor, state and event, and the actor is halted.
func (in *Instance) Step() (res StepResult, fail *Failure) {
	if in.halted {
		return StepResult{Kind: StepIdle}, nil
	}
	res.State = in.state.name
	defer func() {
		if r := recover(); r != nil {
			fail = in.recovered(r)
			res.Halted = true
		}
	}()
	if !in.started {
		in.started = true
		res.Kind = StepStart
		in.curType, in.curPhase = nil, "<entry>"
		if in.state.entry != nil {
			in.state.entry(&in.ctx)
		}
		in.settle()
		res.Halted = in.halted
		return res, nil
	}
	i := in.nextIndex()
	if i < 0 {
		return StepResult{Kind: StepIdle, State: res.State}, nil
	}
	e := in.take(i)
	res.Envelope = e
	if e.Timer != 0 {
		periodic, active := in.timers[e.Timer]
		if !active {
			res.Kind = StepStale
			return res, nil
		}
		if !periodic {
			delete(in.timers, e.Timer)
		}
	}
	if _, ok := e.Event.(haltRequest); ok {
		res.Kind = StepHalt
		in.halt()
		res.Halted = true
		return res, nil
	}
	if in.handle(e.Event) {
		res.Kind = StepHandled
	} else {
		res.Kind = StepIgnored
	}
	in.settle()
	res.Halted = in.halted
	return res, nil
}

// handle dispatches one event in the current state; it reports false if the state ignores it.
func (in *Instance) handle(ev Event) bool {
	t := reflect.TypeOf(ev)
	s := in.state
	in.curType = t
	if s.ignored[t] {
		return false
	}
	if a, ok := s.actions[t]; ok {
		if a.fn != nil {
			a.fn(&in.ctx, ev)
		}
		if a.target != "" && in.target == nil && !in.halting {
			in.target = in.m.byName[a.target]
		}
		return true
	}
	if s.anyEvent != nil {
		s.anyEvent(&in.ctx, ev)
		return true
	}
	panic(&Failure{Kind: FailUnhandled, Message: fmt.Sprintf("state %s does not handle %s", s.name, TypeName(t))})
}

// maxTransitionsPerStep bounds the transitions and raised events of one step, so that a machine
// that moves between states forever fails instead of hanging its runtime.
const maxTransitionsPerStep = 10000

// settle applies what the handler asked for: halt, transitions (exit, entry) and raised events.
func (in *Instance) settle() {
	for n := 0; ; n++ {
		if n > maxTransitionsPerStep {
			panic(&Failure{Kind: FailGoto, Message: fmt.Sprintf("more than %d transitions and raised events in one step", maxTransitionsPerStep)})
		}
		switch {
		case in.halting:
			in.halt()
			return
		case in.target != nil:
			from, to := in.state, in.target
			in.target = nil
			if from.exit != nil {
				in.inExit = true
				in.curType, in.curPhase = nil, "<exit>"
				from.exit(&in.ctx)
				in.inExit = false
			}
			in.state = to
			in.ctx.env.Transition(in, from.name, to.name)
			if to.entry != nil {
				in.curType, in.curPhase = nil, "<entry>"
				to.entry(&in.ctx)
			}
		case len(in.raised) > 0:
			ev := in.raised[0]
			in.raised = in.raised[1:]
			if in.state.deferred[reflect.TypeOf(ev)] {
				// A raised event that the new state defers waits at the front of the mailbox.
				in.queue = append(in.queue, Envelope{})
				copy(in.queue[in.head+1:], in.queue[in.head:])
				in.queue[in.head] = Envelope{From: in.id, Event: ev}
				continue
			}
			in.handle(ev)
		default:
			return
		}
	}
}

// halt stops the actor: its mailbox and timers are dropped.
func (in *Instance) halt() {
	in.halted = true
	in.halting = false
	in.target = nil
	in.raised = nil
	clear(in.queue)
	in.queue = nil
	in.head = 0
	for id := range in.timers {
		in.ctx.env.StopTimer(in, id)
	}
	in.timers = nil
}

// Kill halts the actor from outside, as a crash of its host does: no handler runs and its mailbox
// and timers are dropped.
func (in *Instance) Kill() {
	if !in.halted {
		in.halt()
	}
}

func (in *Instance) recovered(r any) *Failure {
	f, ok := r.(*Failure)
	if !ok {
		f = &Failure{Kind: FailPanic, Message: fmt.Sprint(r), Stack: string(debug.Stack())}
	} else {
		c := *f
		f = &c
	}
	f.Actor, f.Type, f.State, f.Event = in.id, in.typ, in.state.name, in.curPhase
	if in.curType != nil {
		f.Event = TypeName(in.curType)
	}
	in.failed = f
	in.inExit = false
	if !in.halted {
		in.halt()
	}
	return f
}

// Drain removes and returns every envelope in the mailbox (used when a runtime moves mail).
func (in *Instance) Drain() []Envelope {
	out := append([]Envelope(nil), in.queue[in.head:]...)
	clear(in.queue)
	in.queue = in.queue[:0]
	in.head = 0
	return out
}

// DeferredEvents lists the types of events waiting in the mailbox, for reports of actors stuck
// with only deferred events.
func (in *Instance) DeferredEvents() []string {
	var out []string
	for _, e := range in.queue[in.head:] {
		out = append(out, EventName(e.Event))
	}
	return out
}

// Context returns the context handlers of this instance receive. Runtimes use it to run monitor
// handlers; programs get a Context as their handlers' first argument.
func (in *Instance) Context() *Context { return &in.ctx }

// SetMonitor marks the instance as a monitor: it may not send, create actors or start timers.
func (in *Instance) SetMonitor() { in.monitor = true }

// Observe delivers an announced event to a monitor instance synchronously. The first call runs the
// start state's entry action; a nil event does only that. Event types that no state of the monitor
// mentions are not delivered; a type that some state mentions but the current state does not
// handle fails the monitor as any unhandled event does. It reports whether the event was delivered.
func (in *Instance) Observe(ev Event) (delivered bool, fail *Failure) {
	if in.halted {
		return false, nil
	}
	defer func() {
		if r := recover(); r != nil {
			fail = in.recovered(r)
		}
	}()
	if !in.started {
		in.started = true
		in.curType, in.curPhase = nil, "<entry>"
		if in.state.entry != nil {
			in.state.entry(&in.ctx)
		}
		in.settle()
	}
	if ev == nil || !in.m.mentions(reflect.TypeOf(ev)) {
		return false, nil
	}
	delivered = true
	in.handle(ev)
	in.settle()
	return true, nil
}

// mentions reports whether any state declares the event type.
func (m *Machine) mentions(t reflect.Type) bool {
	if m.mentioned == nil {
		m.mentioned = map[reflect.Type]bool{}
		for _, s := range m.states {
			for t := range s.actions {
				m.mentioned[t] = true
			}
			for t := range s.ignored {
				m.mentioned[t] = true
			}
			for t := range s.deferred {
				m.mentioned[t] = true
			}
			if s.anyEvent != nil {
				m.any = true
			}
		}
	}
	return m.any || m.mentioned[t]
}
