package actor

import (
	"errors"
	"fmt"
)

// Kinds of [Failure].
const (
	FailPanic      = "panic"          // a handler panicked
	FailAssert     = "assertion"      // Context.Assert failed, in an actor or a monitor
	FailUnhandled  = "unhandled"      // the current state does not handle, defer or ignore the event
	FailUnknownID  = "unknown-actor"  // a send or halt named an actor that was never created
	FailDoubleHalt = "double-halt"    // an actor was halted twice
	FailGoto       = "bad-transition" // Goto named an undeclared state, or was called where it may not be
	FailDefinition = "definition"     // Define declared an invalid machine
	FailDuplicate  = "duplicate-id"   // Create used the ID of a live actor
	FailLiveness   = "liveness"       // a monitor stayed in a hot state (reported by the tester)
	FailBlocked    = "blocked"        // a handler blocked (reported by the tester's watchdog)
	FailMisuse     = "misuse"         // an operation that is not allowed where it was called
)

// Failure describes an actor that failed: which actor, in which state, handling which event, and
// why. A failed actor is halted; the runtime reports the failure and goes on.
type Failure struct {
	Kind    string // one of the Fail* constants
	Actor   ID
	Host    string // the failing actor's host (see Engine.AddHost); empty for the default host and monitors
	Type    string // the actor's type (see TypeOf)
	State   string
	Event   string // the event's type name, or "<entry>"/"<exit>" for entry and exit actions
	Message string
	Stack   string // the goroutine stack for panics
}

func (f *Failure) Error() string {
	where := ""
	if f.Actor != "" {
		where = fmt.Sprintf("actor %s (%s) in state %s handling %s: ", f.Actor, f.Type, f.State, f.Event)
	}
	return fmt.Sprintf("%s%s: %s", where, f.Kind, f.Message)
}

// Abort fails the running handler with a [Failure] of the given kind. Runtimes use it from their
// Env methods to report misuse (a send to an unknown actor, a second halt); the runtime that runs
// the handler fills in actor, state and event.
func Abort(kind, format string, args ...any) {
	panic(&Failure{Kind: kind, Message: fmt.Sprintf(format, args...)})
}

// AsFailure extracts a *Failure from err, if it is one.
func AsFailure(err error) (*Failure, bool) {
	var f *Failure
	ok := errors.As(err, &f)
	return f, ok
}
