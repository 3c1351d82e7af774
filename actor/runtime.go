package actor

// Runtime is what a program uses to set itself up and talk to its actors from outside: the
// production [Engine] and the systematic tester both implement it, so one setup function serves
// both.
type Runtime interface {
	// Create starts an actor on the default host, which never crashes. With an empty name the
	// runtime chooses a unique ID.
	Create(name string, a Actor) (ID, error)
	// Send puts ev in an actor's mailbox, as an event from outside any actor.
	Send(to ID, ev Event) error
	// Halt asks an actor to halt: it halts when it takes the request from its mailbox, after the
	// events before it. Halting an actor that has halted, or was asked to, is an error.
	Halt(id ID) error
	// Monitor registers a specification: a machine that observes announced events.
	Monitor(m Actor) error
	// AddHost declares a host and boots it: boot creates the host's actors, and is called again
	// on every restart, so it must rebuild them from what the program persisted outside the host.
	AddHost(name string, boot func(h Host) error) error
	// CrashHost stops every actor of a host at once: their volatile state, timers and
	// undelivered events are lost.
	CrashHost(name string) error
	// RestartHost boots a crashed host again.
	RestartHost(name string) error
}

// Host is a named group of actors that crash and restart together, as handed to a boot function.
type Host interface {
	// Name returns the host's name.
	Name() string
	// Create starts an actor on this host.
	Create(name string, a Actor) (ID, error)
}
