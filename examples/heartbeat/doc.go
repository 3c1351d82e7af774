// Package heartbeat is a sample: a heartbeat failure detector, after the failure-detector sample
// of Microsoft Coyote, with a planted liveness bug that the tester's PCT strategy finds in a few
// dozen runs and that uniformly random scheduling practically never finds in a thousand.
//
// # The protocol
//
// Three nodes, node-1 to node-3, a timer, the detector and a driver, all on the default host.
//
//   - The detector probes the nodes in rounds. It pings every node it considers alive and asks
//     the timer for a probe timeout. If every alive node answers first, it tells its client so,
//     cancels the probe timeout and waits for the timer's answer. If the probe timeout fires
//     first, every alive node that has not answered has missed a round; a node that misses two
//     rounds in a row is declared failed, and never probed again. Then the detector rests for a
//     short timeout and starts the next round.
//   - The timer serves one timeout at a time, like a timer wheel: it counts ticks of a short
//     runtime timer and sends timeout when the ticks of the request have elapsed. To a
//     cancelTimer it answers cancelSuccess if the timeout had not fired, and cancelFailure if it
//     had. Events from one sender to one receiver arrive in the order sent, so when a timeout
//     fires just as the detector cancels it, the detector gets the timeout first, then
//     cancelFailure.
//   - The driver is the detector's client and injects the failures: the first time the detector
//     reports that every node answered a round (the cluster is up and watched), it crashes
//     node-1 and node-2. node-3 stays up.
//
// # The property
//
// The liveness monitor states the completeness of the detector: every crashed node is eventually
// declared failed. It is hot from the moment the driver crashes a node until every crashed node
// has been declared failed. With the fixed detector, each crashed node is declared failed two
// probe rounds after its crash.
//
// There is no safety monitor: the detector is not accurate, and cannot be. A probe timeout may
// fire before a node that is slow but up has answered, so the detector may declare a node failed
// that never crashed; the liveness monitor counts such a declaration, since it is never taken
// back.
//
// # The planted bug
//
// With Setup(rt, true), the detector mishandles the race in which the probe timeout fires just as
// the last pong of a round arrives. It handles cancelFailure as if the timeout could still be on
// its way, overtaken by the answer, and waits in a Draining state to swallow it before it rests.
// But the timeout came first and has already been dropped, so the detector waits forever: it
// starts no more rounds. If that happens in the round that makes the driver crash its victims,
// they are never declared failed, and the tester reports the monitor hot when nothing more can
// happen.
//
// # Why random search misses it and PCT finds it
//
// The race needs the timer to count down the whole probe timeout (fourteen ticks, each a step of
// the clock and a step of the timer) between the detector's pings and its handling of the last
// pong, while the detector, which has pongs waiting, does not run. Uniformly random scheduling
// picks the detector about every other step, so the detector must lose some two dozen coin flips
// in a row; and a run has one chance, because the driver crashes the nodes at the first round
// every node answers. PCT gives every actor a priority and runs the highest one: in runs where the
// detector's priority is below the timer's and the clock's, the nodes answer, the timer counts
// down to the end and only then does the detector read its pongs. [TesterConfig] makes the
// priority-driven prefix of PCT runs (UnfairSteps) long enough to hold that first round.
//
// # Running the hunt
//
//	go test -run TestPCTFindsBug -v ./examples/heartbeat            # PCT finds it; the trace replays
//	go test -run TestRandomMissesBugIn1000 -v ./examples/heartbeat  # random, 1000 runs: usually not
//	go test -run TestFixedPasses ./examples/heartbeat               # the fixed detector passes
//	SYSTEST_ITERATIONS=100000 SYSTEST_STRATEGY=portfolio go test -run TestFixedPasses ./examples/heartbeat
//
// TestEngine runs the program under the production engine until the monitor is satisfied;
// EXAMPLES_BUGGY=1 runs the buggy detector there instead, to count how often production runs show
// the bug:
//
//	EXAMPLES_BUGGY=1 go test -race -count=200 -run TestEngine ./examples/heartbeat
package heartbeat
