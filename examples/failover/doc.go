// Package failover is an example of failover under crashes: a small job service whose host is
// killed mid-operation, and a replacement that must pick up from durable state, as in Microsoft
// Coyote's failover samples.
//
// # The scenario
//
// A [Server] actor, alone on host "server", accepts [Submit]s from two [Client]s, writes each new
// job to a [Store] and acknowledges it ([Ack]) once the store has it. The store is the durable
// state outside the host: it lives on the default host, which never crashes, and the host's boot
// function captures only its ID. Clients make three requests each, one after the other, and resend
// a request (same ReqID) until it is acknowledged, so a request may reach the server many times,
// before and after a crash; it must be applied exactly once.
//
// The host can crash after any step of the server, either after the step's messages left or
// before (they are lost). A restart runs the boot function again: a fresh Server, with nothing in
// memory, loads a [Snapshot] of the store and rebuilds its dedupe index (ReqID -> record) from the
// records, which carry their request ids. The dangerous moment is after the store has a job and
// before its Ack reaches the client: the client will retry, and only the rebuilt index tells the
// new server that the request is already applied.
//
// Two monitors state what must hold. [ExactlyOnce] (safety): the store never applies a ReqID twice,
// and every acknowledged request is durably applied, as the record its Ack names. [AllAcknowledged]
// (liveness): hot until every request of every client has been acknowledged.
//
// Two details make the server correct beyond the happy path; the tester finds a bug if either is
// taken out:
//
//   - Epoch fencing. Each Load opens a new epoch in the store and the server puts its epoch on
//     every write; the store refuses writes from an older epoch. Without it, a write of a replaced
//     incarnation that reaches the store after the replacement's Load (under the production
//     engine, a crashed server's last handler finishing late; under the tester, a message held
//     back by Faults.Delays, or two restarts in a row) is applied but missing from the
//     replacement's index, and the retry applies the request again.
//   - Retry backoff. Clients resend after 1, 2, 4, then every 8 ticks of their retry timer.
//     Resending on every tick keeps a slow server's mailbox as full as it can empty it, and the
//     tester reports that as a liveness bug (see [Client]).
//
// # The planted bug
//
// Setup(rt, true) builds a server that treats its dedupe index as a cache of what it applied
// since it booted, and does not rebuild it from the store. A crash after the write of request r
// reached the store and before r's Ack reached its client (the tester's "crash after the step's
// sends" on the server's Submit step, or "crash before the sends left" on its Appended step), then
// the client's retry, makes the new server apply r a second time: ExactlyOnce fails with "request
// r applied twice". Nothing else is needed, so the shrunk trace keeps exactly one fault, the crash.
//
// # Running it
//
//	go test ./examples/failover                                  # actorvet, fixed version, bug hunts, engine
//	go test -v -run TestTesterFindsBug ./examples/failover       # the shrunk trace of the bug, per strategy
//	SYSTEST_ITERATIONS=100000 SYSTEST_STRATEGY=portfolio \
//	    go test -run TestFixedPasses ./examples/failover         # a long hunt on the fixed version
//	EXAMPLES_BUGGY=1 go test -race -count=200 -run TestEngine ./examples/failover
//
// The last command runs the buggy server 200 times under the production engine, crashing its host
// at a random moment of each run; it counts how often a real crash exposes the bug, for comparison
// with the tester, which finds it within a few iterations and shows the one crash that matters.
package failover
