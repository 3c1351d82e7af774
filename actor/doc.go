// Package actor is Corral's actor runtime: actors written as state machines, the events they
// exchange, timers, nondeterministic choices, monitors (written specifications) and hosts (groups of
// actors that crash and restart together).
//
// The same actor code runs under two schedulers. [Engine] is the production scheduler: every actor
// runs on its own goroutine with an unbounded mailbox and a real clock. Package actor/systest is the
// systematic tester: it runs the same actors on one goroutine, chooses which actor handles its next
// event at every step, controls virtual time and injects faults, so a run is fully determined by its
// seed and every bug it finds can be replayed.
//
// # The contract
//
//   - An actor handles one event at a time, to completion. Events from one sender to one receiver
//     arrive in the order sent; nothing else about order is promised.
//   - An event for a halted actor is dropped and logged. An event that the current state neither
//     handles, defers nor ignores fails the actor with an error naming actor, state and event.
//   - Handlers never block, never start goroutines, never read the clock and never draw their own
//     random numbers: time, timers and randomness come from the [Context]. Package actor/actorvet
//     checks this statically.
//   - Monitors observe events that actors announce with [Context.Announce]. A failed assertion in a
//     monitor is a safety bug; a monitor that stays in a hot state is a liveness bug.
//   - A host is a set of actors that fail together. A crash drops its actors, their volatile state,
//     their timers and their undelivered events; a restart calls the host's boot function again, so
//     state comes back only from what the program persisted outside the host.
//
// # Writing an actor
//
// An actor is any type with a Define method that declares its states. The first state declared is
// the start state:
//
//	type Pinger struct{ peer actor.ID; count int }
//
//	func (p *Pinger) Define(m *actor.Machine) {
//		m.State("Active",
//			actor.OnEntry(func(ctx *actor.Context) { ctx.Send(p.peer, Ping{}) }),
//			actor.On(func(ctx *actor.Context, _ Pong) {
//				p.count++
//				if p.count == 3 {
//					ctx.Goto("Done")
//					return
//				}
//				ctx.Send(p.peer, Ping{})
//			}),
//		)
//		m.State("Done", actor.Ignore[Pong]())
//	}
package actor
