// Package systest is Corral's systematic concurrency tester: it runs the real actor code of a
// program on one goroutine, under a scheduler that decides at every step which enabled operation
// happens next (an actor handles its next event, virtual time advances and a timer fires, a delayed
// message arrives, a crashed host restarts), and it checks the program's monitors as it goes.
//
// A run is fully determined by its seed: no wall clock, no OS scheduling and no Go map order enter
// it. Every choice (scheduling, Context.RandomBool and RandomInt, every fault) is taken through a
// strategy and recorded, so a failing run becomes a trace file that replays step for step. Before
// it is reported, a failing run is shrunk to fewer faults and fewer steps; the replay of the final
// trace is checked to reproduce the same steps, which catches programs that are not deterministic
// under the tester.
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
// # Faults
//
// Config.Faults opts a program into host crashes (after a step, with or without its sends),
// dropped, duplicated and delayed events between hosts, partitions, and failures of model calls
// (Sim.Fail). Each is a budgeted choice, recorded and replayed like the rest.
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
