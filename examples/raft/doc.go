// Package raft is a sample: the leader election of Raft (§5.2 of the Raft paper) with a planted
// safety bug that Corral's systematic tester finds in a fraction of a second.
//
// # The protocol
//
// Three servers, s1 to s3, each alone on its own host so that each can crash and restart on its
// own. A server is a Follower, a Candidate or a Leader, and time is divided into numbered terms.
//
//   - A follower that hears nothing from a leader for an election timeout (randomized, so that
//     servers rarely time out together) becomes a candidate: it starts a new term, votes for
//     itself and sends requestVote to its peers, asking again those that do not answer.
//   - A server grants at most one vote per term, to the first candidate that asks.
//   - A candidate with votes from a majority becomes leader and sends heartbeats (appendEntries
//     without entries) on a periodic timer; a follower that gets a heartbeat of the current term
//     restarts its election timeout, and a candidate that gets one steps down.
//   - Every message carries its sender's term. A server that sees a higher term adopts it and
//     becomes a follower; a message with a lower term is stale and is rejected.
//
// Raft keeps currentTerm and votedFor on stable storage, and a server must save them before it
// answers. Here each server's stable storage is a small disk value that [Setup] creates outside
// the host and the host's boot function hands to every incarnation of the server.
//
// # The property
//
// Election Safety: at most one leader per term. Each new leader announces [BecameLeader], and the
// [OneLeaderPerTerm] monitor fails if two servers lead the same term.
//
// There is deliberately no liveness monitor ("a leader is eventually elected"). Raft promises a
// leader only when messages travel much faster than election timeouts, and the tester assumes no
// such bound: a timeout may fire before any pending delivery, so under it elections can keep
// failing for any number of steps. Such a monitor fails a run of the correct servers every few
// hundred runs, which would make it a test of the scheduler rather than of the protocol.
//
// # The planted bug
//
// With Setup(rt, true) a server that grants a vote keeps votedFor in memory and does not save it:
// the term is saved whenever it changes, and saving the vote as well looked like a needless disk
// write. Without crashes nothing goes wrong. With one, the tester finds runs like this: s1 and s3
// time out together and both ask for votes in term 1. s2 votes for s1, rejects s3, and crashes
// before its rejection leaves. It restarts, reads term 1 and no vote from its disk, and when s3
// asks again it votes for s3. s1 and s3 each hold two votes of three, and both lead term 1.
//
// Finding this takes two candidates in one term, a crash of the voter between their two requests,
// and a restart before the second candidate asks again. The tester controls all three: election
// timeouts are drawn with ctx.RandomInt, time is virtual, and [TesterConfig] allows two host
// crashes per run.
//
// # Running the hunt
//
//	go test -run TestTesterFindsBug -v ./examples/raft   # each strategy finds the bug; the trace replays
//	go test -run TestFixedPasses ./examples/raft         # the correct servers pass the same hunt
//	SYSTEST_ITERATIONS=100000 go test -run TestFixedPasses ./examples/raft   # a longer hunt
//
// TestEngine runs the same program under the production engine for a fifth of a second, crashing
// and restarting servers at random. EXAMPLES_BUGGY=1 runs the buggy servers there instead, which
// shows how rarely real runs hit the bad timing:
//
//	EXAMPLES_BUGGY=1 go test -race -count=200 -run TestEngine ./examples/raft
package raft
