package systest

import (
	"fmt"

	"corral/actor"
)

// AddProcess declares a host that is a process of its own, as a server replica is: it crashes and
// restarts as a host made by AddHost does (boot runs again on every restart; Faults.Crashes,
// Faults.Pauses and CrashHosts apply to it by name), and it has an actor namespace of its own, as a
// separate OS process has an engine of its own. Its actors (created by boot through the Host, or
// by its actors through Context.Create) keep the IDs the program gives them, so two processes may
// each have an actor "account" at once; traces name them qualified, "account@replica-a". A crash
// empties the namespace: after a restart the process has the actors its boot creates, no others.
//
// An ID names actors of the default namespace (the default host and the hosts of AddHost) or of
// processes, not both: creating an actor under an ID that the other side has used in this run
// fails with actor.FailDuplicate. A process's name may not contain "@".
//
// Sends from a process's actors resolve as [Sim.Route] describes.
func (s *Sim) AddProcess(name string, boot func(actor.Host) error) error {
	s.setupPoint("AddProcess " + name)
	return s.addHost(name, boot, true)
}

// Route sets the router: fn names the process that gets an event addressed to an ID that the
// sender cannot see, as standbys forward requests to the leader that a lease names. An event to
// ID x goes
//
//   - from an actor of process P: to P's x if P has one (a live one, or one that halted in P's
//     current life, which drops the event as any halted actor does), else to x of the default
//     namespace if there is one, else to the process fn(x) names;
//   - from an actor of the default namespace, from outside (Sim.Send) or to Sim.Halt: to x of
//     the default namespace if there is one, else to the process fn(x) names.
//
// If fn returns "", a name that is not a process, or a process without a live x, the event is
// dropped with a note in the trace, as an event to a halted actor is (Sim.Halt returns an error
// instead). fn is called on the tester's goroutine when the event is sent (within the sender's
// step); it must decide from the state of the run alone (a model's records, say), so that runs
// replay. Without a router (fn nil, the default) an event to an ID that no namespace the sender
// sees has fails the sender as a send to an unknown actor.
//
// Between hosts, events cross the network to the host of the actor they reach, through the faults
// the configuration allows, whichever namespace that actor is in.
func (s *Sim) Route(fn func(to actor.ID) string) { s.router = fn }

// resolve finds the namespace an event to ID to reaches when an actor of process from sends it
// (from nil: an actor of the default namespace, or outside). dst is the process whose actor gets
// it, nil for the default namespace. ok is false for an ID that nothing knows: no namespace the
// sender sees has it and there is no router. lost says why an event the router handled reaches no
// actor.
func (s *Sim) resolve(from *simHost, to actor.ID) (dst *simHost, lost string, ok bool) {
	if from != nil && from.ns[to] != nil {
		return from, "", true
	}
	if s.actors[to] != nil {
		return nil, "", true
	}
	if s.router == nil {
		return nil, "", false
	}
	name := s.router(to)
	h := s.hosts[name]
	switch {
	case name == "":
		return nil, "the router names no process", true
	case h == nil || h.ns == nil:
		return nil, fmt.Sprintf("the router names %s, which is not a process", name), true
	}
	if in := h.ns[to]; in == nil || in.Halted() {
		return nil, fmt.Sprintf("the router names %s, which has no live %s", name, to), true
	}
	return h, "", true
}

// instance returns the actor to of namespace dst (nil: the default namespace), or nil.
func (s *Sim) instance(dst *simHost, to actor.ID) *actor.Instance {
	if dst != nil {
		return dst.ns[to]
	}
	return s.actors[to]
}

// hostOf names the host of the actor to of namespace dst, which exists if dst is nil.
func (s *Sim) hostOf(dst *simHost, to actor.ID) string {
	if dst != nil {
		return dst.name
	}
	return s.actors[to].Host()
}

// procOf returns the process that in runs on, or nil if it runs in the default namespace.
func (s *Sim) procOf(in *actor.Instance) *simHost {
	if s.nprocs == 0 || in.Host() == "" {
		return nil
	}
	if h := s.hosts[in.Host()]; h != nil && h.ns != nil {
		return h
	}
	return nil
}

// nameOf is what traces and reports call an actor: its ID, qualified by its process for a
// process's actor ("account@replica-a").
func (s *Sim) nameOf(in *actor.Instance) actor.ID {
	if s.nprocs > 0 {
		if n, ok := s.names[in]; ok {
			return n
		}
	}
	return in.ID()
}

// qualify names the actor id of namespace h as traces do.
func qualify(id actor.ID, h *simHost) actor.ID {
	if h == nil || h.ns == nil {
		return id
	}
	return id + "@" + actor.ID(h.name)
}

// checkID refuses to create an actor under an ID taken in its namespace (h's if h is a process,
// else the default one), or used on the other side of the line between the default namespace
// and processes. qual is the qualified name of a process's actor, "" in the default namespace.
func (s *Sim) checkID(h *simHost, id, qual actor.ID) error {
	if qual == "" {
		if old := s.actors[id]; old != nil && !old.Halted() {
			return &actor.Failure{Kind: actor.FailDuplicate, Message: fmt.Sprintf("actor %s already exists", id)}
		}
		if s.procIDs[id] {
			return &actor.Failure{Kind: actor.FailDuplicate, Message: fmt.Sprintf("actor %s: the ID names actors of processes in this run, and may not name one of the default namespace too", id)}
		}
		return nil
	}
	if old := h.ns[id]; old != nil && !old.Halted() {
		return &actor.Failure{Kind: actor.FailDuplicate, Message: fmt.Sprintf("actor %s already exists", qual)}
	}
	for _, taken := range []actor.ID{id, qual} {
		if s.actors[taken] != nil {
			return &actor.Failure{Kind: actor.FailDuplicate, Message: fmt.Sprintf("actor %s: the ID %s names an actor of the default namespace in this run, and may not name one of a process too", qual, taken)}
		}
	}
	return nil
}
