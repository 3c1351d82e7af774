package systest

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"corral/actor"
)

// coverage collects, across a hunt, which (actor type, state, event) triples were handled and which
// transitions were taken, against what the machines declare.
type coverage struct {
	declH map[string]bool // "Type: State <- Event"
	declT map[string]bool // "Type: From -> To"
	hitH  map[covKey]bool
	hitT  map[transKey]bool
}

type covKey struct {
	typ, state string
	ev         reflect.Type
}

type transKey struct{ typ, from, to string }

func newCoverage() *coverage {
	return &coverage{declH: map[string]bool{}, declT: map[string]bool{}, hitH: map[covKey]bool{}, hitT: map[transKey]bool{}}
}

func (c *coverage) declare(typ string, a actor.Actor) {
	d, err := actor.Declare(a)
	if err != nil {
		return // creating the actor reports the error
	}
	for _, h := range d.Handlers {
		c.declH[typ+": "+h] = true
	}
	for _, t := range d.Transitions {
		c.declT[typ+": "+t] = true
	}
}

func (c *coverage) handled(typ, state string, ev reflect.Type) {
	if ev == nil {
		return
	}
	k := covKey{typ, state, ev}
	if !c.hitH[k] {
		c.hitH[k] = true
	}
}

func (c *coverage) transition(typ, from, to string) {
	k := transKey{typ, from, to}
	if !c.hitT[k] {
		c.hitT[k] = true
	}
}

// Coverage is what a hunt exercised of the declared machines, as Coyote's activity coverage
// reports it: handlers are (actor type, state, event type) triples that a state handles, defers or
// ignores; transitions are the declared moves between states.
type Coverage struct {
	Handlers, HandlersHit       int
	Transitions, TransitionsHit int
	// Unreached lists what is declared and was never exercised, "Type: State <- Event" and
	// "Type: From -> To", sorted.
	Unreached []string
	// Undeclared lists transitions taken with Context.Goto that no state declares (see
	// actor.Targets), so they are not counted above.
	Undeclared []string
}

func (c *coverage) report() *Coverage {
	hitH := map[string]bool{}
	for k := range c.hitH {
		exact := k.typ + ": " + k.state + " <- " + actor.TypeName(k.ev)
		if c.declH[exact] {
			hitH[exact] = true
		} else if wild := k.typ + ": " + k.state + " <- *"; c.declH[wild] {
			hitH[wild] = true
		}
	}
	hitT := map[string]bool{}
	var undeclared []string
	for k := range c.hitT {
		s := k.typ + ": " + k.from + " -> " + k.to
		if c.declT[s] {
			hitT[s] = true
		} else {
			undeclared = append(undeclared, s)
		}
	}
	r := &Coverage{Handlers: len(c.declH), HandlersHit: len(hitH), Transitions: len(c.declT), TransitionsHit: len(hitT)}
	for h := range c.declH {
		if !hitH[h] {
			r.Unreached = append(r.Unreached, h)
		}
	}
	for t := range c.declT {
		if !hitT[t] {
			r.Unreached = append(r.Unreached, t)
		}
	}
	sort.Strings(r.Unreached)
	sort.Strings(undeclared)
	r.Undeclared = undeclared
	return r
}

// String summarises the coverage in one line.
func (c *Coverage) String() string {
	return fmt.Sprintf("coverage: %d/%d handlers (%s), %d/%d declared transitions (%s)",
		c.HandlersHit, c.Handlers, pct(c.HandlersHit, c.Handlers), c.TransitionsHit, c.Transitions, pct(c.TransitionsHit, c.Transitions))
}

// Details lists what was never reached, one per line.
func (c *Coverage) Details() string {
	var b strings.Builder
	for _, u := range c.Unreached {
		fmt.Fprintf(&b, "  never reached: %s\n", u)
	}
	for _, u := range c.Undeclared {
		fmt.Fprintf(&b, "  taken, not declared: %s\n", u)
	}
	return b.String()
}

func pct(a, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*float64(a)/float64(b))
}
