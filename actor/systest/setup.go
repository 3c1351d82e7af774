package systest

import (
	"fmt"
	"runtime/debug"

	"corral/actor"
)

// Program adapts a setup function written against actor.Runtime (the one the production engine
// runs) to the tester. An error it returns is a broken program, not a schedule the tester found:
// it is reported as a bug of kind "setup".
func Program(setup func(rt actor.Runtime) error) func(*Sim) {
	return func(s *Sim) {
		if err := setup(s); err != nil {
			panic(setupError{err})
		}
	}
}

// setupError carries an error returned by a setup function adapted with Program.
type setupError struct{ err error }

// The setup function is part of the program: under the production engine, an actor created by
// setup starts at once and may run before setup's next line (and, say, send to an actor setup has
// not created yet). So the tester runs setup as one more participant: on a goroutine of its own,
// in lockstep with the scheduler, each call it makes to the Runtime (Create, Send, Halt, Monitor,
// AddHost, CrashHost, RestartHost) is a step the strategy schedules like any other, under the
// operation key "setup". Only one of the two goroutines runs at a time, and the handoff is
// recorded as a choice, so runs stay deterministic and replayable.

// setupRunner is the scheduler's side of the setup goroutine.
type setupRunner struct {
	resume  chan bool     // scheduler -> setup: true to take the next step, false to abandon
	yield   chan setupMsg // setup -> scheduler: the step is over
	active  bool          // the setup goroutine is running (the scheduler waits)
	pending bool          // setup waits to make its next Runtime call
	next    string        // that call, for the trace
}

type setupMsg struct {
	done bool // setup returned (or was abandoned)
	bug  *Bug // setup panicked
}

// abandonSetup unwinds a setup goroutine whose run is over.
type abandonSetup struct{}

// startSetup launches setup and runs it up to its first Runtime call.
func (s *Sim) startSetup(setup func(*Sim)) {
	sr := &setupRunner{resume: make(chan bool), yield: make(chan setupMsg)}
	s.sr = sr
	go func() {
		msg := setupMsg{done: true}
		defer func() {
			// Also runs on runtime.Goexit (a t.Fatal from setup), so the scheduler never hangs.
			if r := recover(); r != nil {
				switch r := r.(type) {
				case abandonSetup:
				case setupError:
					msg.bug = &Bug{Kind: "setup", Message: fmt.Sprintf("setup failed: %v", r.err)}
				default:
					msg.bug = &Bug{Kind: "setup", Message: fmt.Sprintf("setup panicked: %v", r), Stack: string(debug.Stack())}
				}
			}
			sr.active = false
			sr.yield <- msg
		}()
		if !<-sr.resume {
			panic(abandonSetup{})
		}
		sr.active = true
		setup(s)
	}()
	s.setupStep()
}

// setupStep lets setup run until its next Runtime call (or its end).
func (s *Sim) setupStep() {
	sr := s.sr
	sr.pending = false
	sr.resume <- true
	msg := <-sr.yield
	if msg.bug != nil && s.bug == nil {
		s.bug = msg.bug
	}
	if !msg.done {
		sr.pending = true
	}
}

// setupPoint is called at the start of every Runtime method. From the setup goroutine it ends the
// current step and waits until the strategy schedules setup again; from anywhere else (a handler,
// a boot function, a model) it does nothing.
func (s *Sim) setupPoint(call string) {
	sr := s.sr
	if sr == nil || !sr.active {
		return
	}
	sr.active = false
	sr.next = call
	sr.yield <- setupMsg{}
	if !<-sr.resume {
		panic(abandonSetup{})
	}
	sr.active = true
}

// stopSetup abandons a setup that has not finished when the run ends, and waits for its goroutine
// to exit.
func (s *Sim) stopSetup() {
	sr := s.sr
	if sr == nil || !sr.pending {
		return
	}
	sr.pending = false
	sr.resume <- false
	<-sr.yield
}
