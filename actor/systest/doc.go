// Package systest is Corral's systematic concurrency tester: it runs the real actor code of a
// program on one goroutine, under a scheduler that decides at every step which enabled operation
// happens next (an actor handles its next event, virtual time advances and a timer fires, a delayed
// message arrives, a crashed host restarts, a paused host resumes), and it checks the program's
// monitors as it goes.
//
// A run is fully determined by its seed: no wall clock, no OS scheduling and no Go map order enter
// it. Every choice (scheduling, Context.RandomBool and RandomInt, every fault) is taken through a
// strategy and recorded, so a failing run becomes a trace file that replays step for step. Before
// it is reported, a failing run is shrunk; the replay of the final trace is checked to reproduce
// the same steps, which catches programs that are not deterministic under the tester.
//
// # Reports
//
// A bug's report ([Bug.Text]) gives the seed, strategy, iteration and step, the trace file and a
// Mermaid diagram of the run, and the command that replays it under its test, naming the test's
// package by import path so that it runs from anywhere in the module ([Bug.ReplayCommand]). Trace
// files are named by test, strategy, hunt seed and iteration. Every step of a trace shows its
// virtual time, and the diagram shows every timer set, cancelled and fired.
//
// A safety bug (a failed assertion, an unhandled event, a panic) is shrunk to fewer faults, then
// fewer steps. A liveness bug reports the step at which its monitor went hot ([Bug.HotStep]) and
// the threshold it was judged by. Judged by the threshold, it is shrunk to the shortest prefix of
// the failing run after which random, fair, fault-free continuations never leave the hot state
// ([Bug.LivenessPrefix]); a monitor left hot when nothing more can happen is shrunk like a safety
// bug.
//
// A monitor is named by its type, or by its MonitorName method ([MonitorNamer]), so that two
// instances of one type report apart.
//
// [Report.Steps] and [Report.Elapsed] count the hunt's iterations; shrinking and the replay check
// are counted apart, in [Report.FinishSteps] and [Report.FinishElapsed].
//
// # Liveness
//
// A monitor that stays in a hot state for more than [Config.LivenessThreshold] fair steps is a
// liveness bug; the threshold is MaxSteps/2 unless set, so a test that lowers MaxSteps should set
// it to what its properties need. Steps of PCT's priority-driven prefix are not fair and do not
// count.
//
// # Strategies
//
//   - random: uniform choice among enabled operations; probabilistically fair.
//   - pct, pct:D: probabilistic concurrency testing with D-1 priority change points, then fair
//     random scheduling once Config.UnfairSteps have passed, so liveness can still be judged.
//   - fair: random, but nothing stays enabled for more than 64 steps without running.
//   - dfs: bounded exhaustive depth-first search over every choice; for small programs.
//   - portfolio: iterations cycle through random, pct:3, pct:10 and fair.
//
// Config.ClockProbability weighs a step of virtual time against the other enabled operations in
// every strategy but dfs, PCT's prefix included: with a small weight, always-enabled periodic
// timers cannot run virtual time ahead of the messages, and tests can keep realistic timeouts.
//
// # Faults
//
// Config.Faults opts a program into host crashes (after a step, with or without its sends), host
// pauses, dropped, duplicated and delayed events between hosts, partitions, and failures of model
// calls (Sim.Fail). Each is a budgeted choice, recorded and replayed like the rest.
//
// A paused host (a process stopped by SIGSTOP or a long garbage-collection pause) keeps its
// actors and their state, but they take no steps: events, delayed messages and timers still
// reach their mailboxes, and virtual time moves on with other hosts' timers, until the strategy
// takes the operation "resume:<host>", as it takes "restart:<host>" for a crashed host. Both are
// operations like any other, so fair strategies take them in time and a paused or crashed host is
// no liveness bug in itself. Programs can pause and resume hosts themselves (Sim.PauseHost,
// Sim.ResumeHost).
//
// # Hosts and processes
//
// Actors that setup creates run on the default host, which never crashes; AddHost adds hosts that
// crash and restart. All of them share one namespace of actor IDs, as actors of one engine do.
// A crash forgets a host's actors as a process's exit forgets its engine's: until the restarted
// host creates an ID again, a send to it from the host's own actors is a send to an unknown actor
// (a bug), while from other hosts it is lost, as a message to a process that has no such actor.
// [Sim.AddProcess] adds a host with a namespace of its own, as a separate OS process (a server
// replica) has an engine of its own: two processes may each have an actor "account" at once, a
// paused old leader and the new one. Traces and reports name a process's actors qualified,
// "account@replica-a". An ID names actors of the default namespace or of processes, not both.
//
// An actor of a process that sends to an ID reaches its own process's actor of that ID if there is
// one, else the default namespace's; an actor of the default namespace reaches the default
// namespace's. An ID that neither has goes where the router set by [Sim.Route] says, as standbys
// forward to the leader that a lease names; an event the router sends nowhere is dropped with a
// note. Events cross the network, and its faults, between the hosts of sender and receiver,
// whatever namespaces they are in.
//
// A handler that crashes its own host with [Sim.CrashHost], as a deposed leader exits to restart
// as a standby, finishes first: the host goes down when the step ends, after the step's sends
// have left, and restarts when the strategy chooses.
//
// # Use from go test
//
//	func TestElection(t *testing.T) {
//		systest.Test(t, systest.Config{Iterations: 200, Strategy: "pct:3"}, func(s *systest.Sim) {
//			s.Monitor(&OneLeaderPerTerm{})
//			for _, name := range []string{"a", "b", "c"} {
//				s.AddHost(name, func(h actor.Host) error { _, err := h.Create(name, NewServer(name)); return err })
//			}
//		})
//	}
//
// Budgets default to what suits CI; flags and environment variables raise them for a long hunt:
//
//	SYSTEST_ITERATIONS=100000 SYSTEST_STRATEGY=portfolio SYSTEST_TIMEOUT=10m go test -run TestElection ./...
//
// and a failure prints the command that replays it (SYSTEST_REPLAY=path/to/trace).
package systest
