package actor

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// ID names an actor. The creator chooses it, or the runtime generates one; it is unique among the
// live actors of a runtime. A restarted host creates its actors again under the same IDs, so events
// sent to an ID reach whichever incarnation is alive when they are delivered.
type ID string

// Event is any value sent between actors. An event must not be changed after it is sent.
type Event = any

// TimerID identifies a timer started by an actor.
type TimerID uint64

// Actor is implemented by every actor and every monitor. Define declares the actor's states on m;
// the runtime calls it once when the actor is created. Handlers usually close over the receiver,
// which holds the actor's volatile state.
type Actor interface {
	Define(m *Machine)
}

// Machine is the declaration of an actor's states, built by [Actor.Define].
type Machine struct {
	states []*State
	byName map[string]*State
	err    error

	mentioned map[reflect.Type]bool // for monitors: event types some state declares
	any       bool                  // for monitors: some state has OnAny
}

// State is one named state of a [Machine].
type State struct {
	name     string
	entry    func(*Context)
	exit     func(*Context)
	actions  map[reflect.Type]action
	deferred map[reflect.Type]bool
	ignored  map[reflect.Type]bool
	anyEvent func(*Context, Event)
	temp     Temperature
	targets  []string // declared destinations of ctx.Goto, for coverage
}

// action is what a state does with one event type: run fn, then move to target (either may be
// empty).
type action struct {
	fn     func(*Context, Event)
	target string
}

// Temperature marks a monitor's state for liveness checking.
type Temperature int

const (
	// Warm states are neither hot nor cold: the default.
	Warm Temperature = iota
	// Hot states must eventually be left: a monitor that stays hot is a liveness bug.
	Hot
	// Cold states are where a liveness property is satisfied.
	Cold
)

func (t Temperature) String() string {
	switch t {
	case Hot:
		return "hot"
	case Cold:
		return "cold"
	}
	return "warm"
}

// StateOption configures a state declared with [Machine.State].
type StateOption func(*State) error

// State declares a state. The first state declared is the start state. Declaring the same name
// twice, or an event type twice in one state, is an error reported when the actor is created.
func (m *Machine) State(name string, opts ...StateOption) {
	if m.byName == nil {
		m.byName = make(map[string]*State)
	}
	if name == "" {
		m.fail(fmt.Errorf("state with empty name"))
		return
	}
	if _, dup := m.byName[name]; dup {
		m.fail(fmt.Errorf("state %q declared twice", name))
		return
	}
	s := &State{
		name:     name,
		actions:  make(map[reflect.Type]action),
		deferred: make(map[reflect.Type]bool),
		ignored:  make(map[reflect.Type]bool),
	}
	for _, opt := range opts {
		if err := opt(s); err != nil {
			m.fail(fmt.Errorf("state %q: %w", name, err))
		}
	}
	m.states = append(m.states, s)
	m.byName[name] = s
}

func (m *Machine) fail(err error) {
	if m.err == nil {
		m.err = err
	}
}

// validate checks the declaration once all states are known.
func (m *Machine) validate() error {
	if m.err != nil {
		return m.err
	}
	if len(m.states) == 0 {
		return fmt.Errorf("no states declared")
	}
	for _, s := range m.states {
		for _, a := range s.actions {
			if a.target != "" && m.byName[a.target] == nil {
				return fmt.Errorf("state %q: transition to undeclared state %q", s.name, a.target)
			}
		}
		for _, t := range s.targets {
			if m.byName[t] == nil {
				return fmt.Errorf("state %q: declared target %q is not a state", s.name, t)
			}
		}
	}
	return nil
}

// Name returns the state's name.
func (s *State) Name() string { return s.name }

// Defers reports whether the state defers events like ev.
func (s *State) Defers(ev Event) bool {
	return len(s.deferred) > 0 && s.deferred[reflect.TypeOf(ev)]
}

// HasDeferrals reports whether the state defers any event type.
func (s *State) HasDeferrals() bool { return len(s.deferred) > 0 }

// Temperature returns the state's temperature (meaningful for monitors).
func (s *State) Temperature() Temperature { return s.temp }

func eventType[E any]() (reflect.Type, error) {
	t := reflect.TypeFor[E]()
	if t.Kind() == reflect.Interface {
		return nil, fmt.Errorf("event type %v is an interface; handlers match concrete types (use OnAny)", t)
	}
	return t, nil
}

func (s *State) claim(t reflect.Type) error {
	_, a := s.actions[t]
	if a || s.deferred[t] || s.ignored[t] {
		return fmt.Errorf("event %v declared twice", t)
	}
	return nil
}

// On handles events of type E in the state by calling h.
func On[E any](h func(ctx *Context, ev E)) StateOption {
	return func(s *State) error {
		t, err := eventType[E]()
		if err != nil {
			return err
		}
		if err := s.claim(t); err != nil {
			return err
		}
		s.actions[t] = action{fn: func(ctx *Context, ev Event) { h(ctx, ev.(E)) }}
		return nil
	}
}

// OnGoto moves to state target when an event of type E arrives, after calling h if h is not nil.
func OnGoto[E any](target string, h func(ctx *Context, ev E)) StateOption {
	return func(s *State) error {
		t, err := eventType[E]()
		if err != nil {
			return err
		}
		if err := s.claim(t); err != nil {
			return err
		}
		a := action{target: target}
		if h != nil {
			a.fn = func(ctx *Context, ev Event) { h(ctx, ev.(E)) }
		}
		s.actions[t] = a
		return nil
	}
}

// Goto moves to state target when an event of type E arrives.
func Goto[E any](target string) StateOption { return OnGoto[E](target, nil) }

// Defer keeps events of type E in the mailbox while the actor is in this state; they are handled,
// in their original order, once the actor is in a state that does not defer them.
func Defer[E any]() StateOption {
	return func(s *State) error {
		t, err := eventType[E]()
		if err != nil {
			return err
		}
		if err := s.claim(t); err != nil {
			return err
		}
		s.deferred[t] = true
		return nil
	}
}

// Ignore drops events of type E while the actor is in this state.
func Ignore[E any]() StateOption {
	return func(s *State) error {
		t, err := eventType[E]()
		if err != nil {
			return err
		}
		if err := s.claim(t); err != nil {
			return err
		}
		s.ignored[t] = true
		return nil
	}
}

// OnAny handles every event that the state does not otherwise handle, defer or ignore.
func OnAny(h func(ctx *Context, ev Event)) StateOption {
	return func(s *State) error {
		if s.anyEvent != nil {
			return fmt.Errorf("OnAny declared twice")
		}
		s.anyEvent = h
		return nil
	}
}

// OnEntry runs h each time the actor enters the state, including the start state at creation.
func OnEntry(h func(ctx *Context)) StateOption {
	return func(s *State) error {
		if s.entry != nil {
			return fmt.Errorf("OnEntry declared twice")
		}
		s.entry = h
		return nil
	}
}

// OnExit runs h each time the actor leaves the state by a transition.
func OnExit(h func(ctx *Context)) StateOption {
	return func(s *State) error {
		if s.exit != nil {
			return fmt.Errorf("OnExit declared twice")
		}
		s.exit = h
		return nil
	}
}

// Targets declares the states that handlers of this state may move to with [Context.Goto]. It
// changes no behaviour; the tester's coverage report counts these transitions as declared.
func Targets(states ...string) StateOption {
	return func(s *State) error {
		s.targets = append(s.targets, states...)
		return nil
	}
}

// Temp sets the temperature of a monitor's state: [Hot] states must eventually be left.
func Temp(t Temperature) StateOption {
	return func(s *State) error {
		s.temp = t
		return nil
	}
}

// Declared lists what a machine declares, for coverage reports: every (state, event type) pair it
// handles, defers or ignores, and every transition it names.
type Declared struct {
	Handlers    []string // "State <- EventType", sorted
	Transitions []string // "From -> To", sorted
}

// Declare builds a's machine and lists its declarations.
func Declare(a Actor) (Declared, error) {
	m, err := build(a)
	if err != nil {
		return Declared{}, err
	}
	var d Declared
	seenT := map[string]bool{}
	addT := func(from, to string) {
		k := from + " -> " + to
		if !seenT[k] {
			seenT[k] = true
			d.Transitions = append(d.Transitions, k)
		}
	}
	for _, s := range m.states {
		for t, a := range s.actions {
			d.Handlers = append(d.Handlers, s.name+" <- "+TypeName(t))
			if a.target != "" {
				addT(s.name, a.target)
			}
		}
		for t := range s.deferred {
			d.Handlers = append(d.Handlers, s.name+" <- "+TypeName(t))
		}
		for t := range s.ignored {
			d.Handlers = append(d.Handlers, s.name+" <- "+TypeName(t))
		}
		if s.anyEvent != nil {
			d.Handlers = append(d.Handlers, s.name+" <- *")
		}
		for _, to := range s.targets {
			addT(s.name, to)
		}
	}
	sort.Strings(d.Handlers)
	sort.Strings(d.Transitions)
	return d, nil
}

func build(a Actor) (*Machine, error) {
	m := &Machine{}
	a.Define(m)
	if err := m.validate(); err != nil {
		return nil, fmt.Errorf("actor type %s: %w", TypeOf(a), err)
	}
	return m, nil
}

// TypeOf names an actor's type as traces and reports show it: the Go type name without package
// path or pointer.
func TypeOf(a any) string {
	t := reflect.TypeOf(a)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil {
		return "<nil>"
	}
	return t.Name()
}

// TypeName names an event type as traces show it: package name and type name, e.g. "raft.Vote".
func TypeName(t reflect.Type) string {
	if t == nil {
		return "<nil>"
	}
	ptr := ""
	for t.Kind() == reflect.Pointer {
		ptr += "*"
		t = t.Elem()
	}
	name := t.String()
	if t.Name() == "" {
		return ptr + name
	}
	if i := strings.LastIndex(t.PkgPath(), "/"); i >= 0 {
		name = t.PkgPath()[i+1:] + "." + t.Name()
	}
	return ptr + name
}

// EventName names an event value's type; see [TypeName].
func EventName(ev Event) string { return TypeName(reflect.TypeOf(ev)) }
