package raft

import (
	"fmt"
	"time"

	"corral/actor"
	"corral/actor/systest"
)

// Timing. Production runs use these real durations; under the tester only their order matters,
// because virtual time jumps from one timer deadline to the next. The heartbeat period is well
// below the shortest election timeout, so a live leader keeps its followers from starting
// elections.
const (
	tick            = time.Millisecond
	heartbeatPeriod = 5 * tick
	retryPeriod     = 5 * tick  // how often a candidate asks again for the votes it has no answer to
	electionMin     = 15 * tick // election timeouts are drawn from [electionMin, electionMin+electionSpread*tick)
	electionSpread  = 15
)

// The messages of leader election (Raft §5.2). Every message carries the sender's term, so that a
// server with a stale term learns of the newer one and steps down.
type (
	// requestVote asks for a vote: a candidate sends it to every peer when it starts an election.
	requestVote struct {
		Term      int
		Candidate actor.ID
	}
	// voteReply answers a requestVote.
	voteReply struct {
		Term    int
		From    actor.ID
		Granted bool
	}
	// appendEntries is the leader's heartbeat (a Raft AppendEntries with no log entries).
	appendEntries struct {
		Term   int
		Leader actor.ID
	}
	// appendReply tells a stale leader the current term. Only rejections are sent: without a log
	// there is nothing else for the leader to learn from a reply.
	appendReply struct {
		Term int
	}
)

// join tells a server that every server of the cluster exists, so it may start its election timer
// (and send to its peers). The setup function sends it once all hosts have booted.
type join struct{}

// Timer events.
type (
	electionTimeout struct{}
	heartbeatTick   struct{}
	retryTick       struct{}
)

// disk is a server's stable storage: what Raft requires to survive a crash. The setup function
// creates one per server and the host's boot closure captures it, so a restarted server finds
// what the crashed one saved. Only that server's actor touches it, so it needs no lock.
type disk struct {
	term     int
	votedFor actor.ID
	joined   bool // the server has been told the cluster is complete (see join)
}

// server is one Raft server. It has four states: Joining (the start state), Follower, Candidate
// and Leader.
type server struct {
	peers []actor.ID
	disk  *disk
	bug   bool // plant the durability bug described in grantVote

	// The persistent state, as this incarnation knows it. save writes it to disk; Raft must save
	// before it answers any message that depends on it.
	term     int
	votedFor actor.ID // "" if no vote was cast in term

	// Volatile state, lost in a crash.
	votes     map[actor.ID]bool // Candidate: the servers that granted a vote in term, self included
	answered  map[actor.ID]bool // Candidate: the servers that answered our requestVote in term
	election  actor.TimerID     // Follower, Candidate: the pending election timeout
	retry     actor.TimerID     // Candidate: the timer to ask again
	heartbeat actor.TimerID     // Leader: the periodic heartbeat timer
}

// newServer is called by the host's boot function, at first boot and after every restart: it
// rebuilds the server from what its disk holds.
func newServer(peers []actor.ID, d *disk, bug bool) *server {
	return &server{peers: peers, disk: d, bug: bug, term: d.term, votedFor: d.votedFor}
}

// Define declares the server's states. Every state handles every message a peer may send it: a
// message in flight is not withdrawn when its receiver changes state.
func (s *server) Define(m *actor.Machine) {
	// A server sends to its peers only once they all exist: sending to an actor not yet created is
	// an error. Under the production engine a host's server runs as soon as the host boots, before
	// setup has booted the next host, and a timer can fire in between; the tester found exactly
	// that when it ran setup interleaved with the servers. So a new server waits in Joining for
	// join, keeping what peers send it; a restarted one has joined before and goes on at once. (A
	// server that crashes before join arrives stays out; the other two can still elect leaders.)
	m.State("Joining",
		actor.OnEntry(func(ctx *actor.Context) {
			if s.disk.joined {
				ctx.Goto("Follower")
			}
		}),
		actor.OnGoto[join]("Follower", func(*actor.Context, join) { s.disk.joined = true }),
		actor.Defer[requestVote](),
		actor.Defer[appendEntries](),
	)
	m.State("Follower",
		actor.OnEntry(s.resetElectionTimer),
		actor.On(s.onRequestVote),
		actor.On(s.onAppendEntries),
		actor.On(func(ctx *actor.Context, r voteReply) { s.observeTerm(ctx, r.Term) }),   // a late reply from an election we left
		actor.On(func(ctx *actor.Context, r appendReply) { s.observeTerm(ctx, r.Term) }), // a late reply from when we led
		actor.Goto[electionTimeout]("Candidate"),
	)
	m.State("Candidate",
		actor.OnEntry(s.startElection),
		actor.OnExit(func(ctx *actor.Context) { ctx.CancelTimer(s.retry) }),
		actor.On(s.onRequestVote),
		actor.On(s.onAppendEntries),
		actor.On(s.onVoteReply),
		actor.On(func(ctx *actor.Context, r appendReply) { s.observeTerm(ctx, r.Term) }),
		actor.On(s.onRetry),
		// A split vote: nobody won this term, so try again in the next.
		actor.Goto[electionTimeout]("Candidate"),
		actor.Targets("Follower", "Leader"),
	)
	m.State("Leader",
		actor.OnEntry(s.lead),
		actor.OnExit(func(ctx *actor.Context) { ctx.CancelTimer(s.heartbeat) }),
		actor.On(s.onRequestVote),
		actor.On(s.onAppendEntries),
		actor.On(func(ctx *actor.Context, r voteReply) { s.observeTerm(ctx, r.Term) }), // votes we no longer need
		actor.On(func(ctx *actor.Context, r appendReply) { s.observeTerm(ctx, r.Term) }),
		actor.On(func(ctx *actor.Context, _ heartbeatTick) { s.sendHeartbeats(ctx) }),
		actor.Targets("Follower"),
	)
}

// save writes the persistent state to disk.
func (s *server) save() {
	s.disk.term = s.term
	s.disk.votedFor = s.votedFor
}

// observeTerm applies Raft's rule for every message: a higher term than ours means we are out of
// date, so we adopt it (with no vote cast in it yet) and become a follower. It reports whether
// the term was higher.
func (s *server) observeTerm(ctx *actor.Context, term int) bool {
	if term <= s.term {
		return false
	}
	s.term, s.votedFor = term, ""
	s.save()
	if ctx.State() != "Follower" {
		ctx.Goto("Follower")
	}
	return true
}

// resetElectionTimer (re)starts the election timeout with a random duration. Randomized timeouts
// are how Raft makes split votes rare; ctx.RandomInt lets the tester choose them.
func (s *server) resetElectionTimer(ctx *actor.Context) {
	ctx.CancelTimer(s.election)
	d := electionMin + time.Duration(ctx.RandomInt(electionSpread))*tick
	s.election = ctx.StartTimer(d, electionTimeout{})
}

func (s *server) onRequestVote(ctx *actor.Context, req requestVote) {
	s.observeTerm(ctx, req.Term)
	// One vote per term, first come first served (no log to compare: this is election only). A
	// candidate or leader has voted for itself in its term, so it never grants here.
	grant := req.Term == s.term && (s.votedFor == "" || s.votedFor == req.Candidate)
	if grant {
		s.grantVote(req.Candidate)
		// A server that just voted expects a leader soon; starting an election of its own now
		// would only disrupt it.
		s.resetElectionTimer(ctx)
	}
	ctx.Send(req.Candidate, voteReply{Term: s.term, From: ctx.Self(), Granted: grant})
}

// grantVote records the vote for candidate. It must reach the disk before the reply leaves:
// otherwise a crash and restart in the same term forgets the vote, and the server can vote again
// for another candidate in that term.
//
// The planted bug (s.bug) is exactly that. Saving costs a disk write per vote, and the author
// reasoned that the term is already saved when it changes (observeTerm saves it) and that the vote
// is only a detail of the current term, so the vote is kept in memory only. Without crashes the
// server behaves perfectly; with one badly timed crash, two candidates win the same term.
func (s *server) grantVote(candidate actor.ID) {
	s.votedFor = candidate
	if !s.bug {
		s.save()
	}
}

func (s *server) onAppendEntries(ctx *actor.Context, ae appendEntries) {
	if ae.Term < s.term {
		// A stale leader: tell it the current term so that it steps down.
		ctx.Send(ae.Leader, appendReply{Term: s.term})
		return
	}
	s.observeTerm(ctx, ae.Term)
	switch ctx.State() {
	case "Follower":
		s.resetElectionTimer(ctx) // the leader is alive
	case "Candidate":
		ctx.Goto("Follower") // someone else won this term
	case "Leader":
		// Another leader in our own term: impossible unless safety is already broken, and
		// OneLeaderPerTerm reports that when the second leader announces itself.
	}
}

// startElection begins a new term in which this server is a candidate and votes for itself.
func (s *server) startElection(ctx *actor.Context) {
	s.term++
	s.votedFor = ctx.Self()
	s.save()
	s.votes = map[actor.ID]bool{ctx.Self(): true}
	s.answered = map[actor.ID]bool{}
	s.resetElectionTimer(ctx)
	s.broadcast(ctx, requestVote{Term: s.term, Candidate: ctx.Self()})
	s.retry = ctx.StartPeriodicTimer(retryPeriod, retryPeriod, retryTick{})
}

// onRetry asks again the peers that have not answered: a request or its answer may have been
// lost, for instance in a crash of the peer (Raft retries its RPCs until they are answered).
func (s *server) onRetry(ctx *actor.Context, _ retryTick) {
	for _, p := range s.peers {
		if !s.answered[p] {
			ctx.Send(p, requestVote{Term: s.term, Candidate: ctx.Self()})
		}
	}
}

func (s *server) onVoteReply(ctx *actor.Context, r voteReply) {
	if s.observeTerm(ctx, r.Term) || r.Term < s.term {
		return
	}
	s.answered[r.From] = true
	if !r.Granted {
		return
	}
	// A set, not a counter: the same voter's reply may arrive twice.
	s.votes[r.From] = true
	if 2*len(s.votes) > len(s.peers)+1 {
		ctx.Goto("Leader")
	}
}

// lead runs when a candidate wins: it stops the election timer, announces itself to the
// monitors, and claims its leadership at once and then on every heartbeat.
func (s *server) lead(ctx *actor.Context) {
	ctx.CancelTimer(s.election)
	ctx.Announce(BecameLeader{Term: s.term, ID: ctx.Self()})
	s.sendHeartbeats(ctx)
	s.heartbeat = ctx.StartPeriodicTimer(heartbeatPeriod, heartbeatPeriod, heartbeatTick{})
}

func (s *server) sendHeartbeats(ctx *actor.Context) {
	s.broadcast(ctx, appendEntries{Term: s.term, Leader: ctx.Self()})
}

func (s *server) broadcast(ctx *actor.Context, ev actor.Event) {
	for _, p := range s.peers {
		ctx.Send(p, ev)
	}
}

// Setup builds the whole program on rt: the monitor OneLeaderPerTerm and three servers, s1 to
// s3, each alone on a host of the same name. With bug set, the servers have the planted
// durability bug (see the package documentation). Setup works on any runtime: the production
// actor.Engine or the tester's systest.Sim.
func Setup(rt actor.Runtime, bug bool) error {
	return setup(rt, 3, bug)
}

func setup(rt actor.Runtime, n int, bug bool) error {
	if err := rt.Monitor(&OneLeaderPerTerm{}); err != nil {
		return err
	}
	ids := make([]actor.ID, n)
	for i := range ids {
		ids[i] = actor.ID(fmt.Sprintf("s%d", i+1))
	}
	for _, id := range ids {
		var peers []actor.ID
		for _, p := range ids {
			if p != id {
				peers = append(peers, p)
			}
		}
		d := &disk{} // outside the host: it survives the host's crashes
		boot := func(h actor.Host) error {
			_, err := h.Create(string(id), newServer(peers, d, bug))
			return err
		}
		if err := rt.AddHost(string(id), boot); err != nil {
			return err
		}
	}
	for _, id := range ids {
		if err := rt.Send(id, join{}); err != nil {
			return err
		}
	}
	return nil
}

// TesterConfig returns the tester budget that suits this program: runs of 200 steps (a few
// elections, with room for crashes and restarts) and up to two host crashes per run, injected at a
// tenth of the points where one may strike. Crashes are what it takes to show that a server's
// vote must be saved, and they have to strike between two steps of an election, so they are
// made frequent rather than rare. Callers choose Iterations, Strategy and Seed.
func TesterConfig() systest.Config {
	return systest.Config{
		MaxSteps: 200,
		Faults:   systest.Faults{Crashes: 2, Rate: 0.1},
	}
}
