package service

import (
	"fmt"
	"testing"
	"time"

	"corral/actor"
	"corral/actor/actorvet"
	"corral/actor/systest"
	"corral/agent/protocol"
	"corral/service/model"
)

func TestActorvet(t *testing.T) { actorvet.Test(t, ".", "model") }

// attemptOutcome is announced by the stub job manager for every attemptEnded it gets.
type attemptOutcome struct {
	AttemptID string
	Lost      bool
}

// stubJob stands for a job manager: it starts attempts on the node, records their ends, and
// acknowledges results.
type stubJob struct {
	node     actor.ID
	attempts int
}

func (j *stubJob) Define(m *actor.Machine) {
	m.State("Run",
		actor.OnEntry(func(ctx *actor.Context) {
			for i := range j.attempts {
				id := fmt.Sprintf("a%d", i)
				ctx.Send(j.node, startAttempt{
					Ref:   attemptRef{AttemptID: id, JobID: "j1", TaskID: fmt.Sprintf("t%d", i), Slots: 1},
					Start: protocol.StartTask{AttemptID: id, JobID: "j1", TaskID: fmt.Sprintf("t%d", i), CommandLine: "true"},
				})
			}
		}),
		actor.On(func(ctx *actor.Context, e attemptEnded) {
			ctx.Announce(attemptOutcome{AttemptID: e.Ref.AttemptID, Lost: e.Lost})
			if !e.Lost {
				ctx.Send(j.node, resultRecorded{AttemptID: e.Ref.AttemptID})
			}
		}))
}

// stubPool stands for the pool manager: it takes the session's word on its agent.
type stubPool struct{}

func (stubPool) Define(m *actor.Machine) { m.State("Run", actor.Ignore[nodeContact]()) }

type stubSched struct{}

func (stubSched) Define(m *actor.Machine) {
	m.State("Run", actor.Ignore[nodeUp](), actor.Ignore[nodeDown](), actor.Ignore[slotsFreed]())
}

// endsOnce asserts that every attempt ends exactly one way, finished or lost, and is hot until all
// have ended. A finished attempt may be reported again (the session hands a repeated result on
// until the job manager has recorded it); a loss is reported once.
type endsOnce struct {
	want  int
	ended map[string]bool // attempt id -> lost
}

func (e *endsOnce) Define(m *actor.Machine) {
	check := func(ctx *actor.Context, o attemptOutcome) {
		if e.ended == nil {
			e.ended = map[string]bool{}
		}
		lost, seen := e.ended[o.AttemptID]
		ctx.Assert(!seen || (!lost && !o.Lost), "attempt %s ended twice (lost before: %v, lost now: %v)", o.AttemptID, lost, o.Lost)
		e.ended[o.AttemptID] = o.Lost
	}
	m.State("Waiting", actor.Temp(actor.Hot), actor.On(func(ctx *actor.Context, o attemptOutcome) {
		check(ctx, o)
		if len(e.ended) == e.want {
			ctx.Goto("Done")
		}
	}), actor.Targets("Done"))
	m.State("Done", actor.Temp(actor.Cold), actor.On(check))
}

func nodeProgram(attempts int) func(*systest.Sim) {
	return func(s *systest.Sim) {
		s.Monitor(&endsOnce{want: attempts})
		s.Create("sched/p1", stubSched{})
		s.Create("pool/p1", stubPool{})
		s.Create("node/p1/n1", newNodeSession("p1", "n1", 4, "agent/n1", "sched/p1", "pool/p1",
			NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}, nil, nodeStart{}))
		s.AddHost("n1", func(h actor.Host) error {
			_, err := h.Create("agent/n1", &model.Agent{NodeID: "n1", Session: "node/p1/n1", ExitCodes: []int{0, 1}})
			return err
		})
		s.Create("job/j1", &stubJob{node: "node/p1/n1", attempts: attempts})
	}
}

func TestNodeSessionEndsEveryAttemptOnce(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 2000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05}, nodeProgram(3))
}

func TestNodeSessionUnderLinkFaults(t *testing.T) {
	// Lost, repeated and late messages between the node and the service: every attempt still ends
	// exactly once (a node that goes silent too long is declared lost, and its attempts with it).
	systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 2000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Drops: 2, Duplicates: 2, Delays: 2}}, nodeProgram(3))
}

// silentAgent is an agent that never says anything: its machine died while the service was down.
type silentAgent struct{}

func (silentAgent) Define(m *actor.Machine) {
	m.State("Dead", actor.OnAny(func(*actor.Context, actor.Event) {}))
}

// A session started after a restart, for a node the store says runs two attempts, whose agent
// never says Hello: after the heartbeat timeout the node is given up and both attempts are
// reported lost (requeued), each once.
func TestNodeSessionGivesUpAgentNeverHeard(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 100, MaxSteps: 500, Strategy: "portfolio", Seed: 1, ClockProbability: 0.2},
		func(s *systest.Sim) {
			s.Monitor(&endsOnce{want: 2})
			s.Create("sched/p1", stubSched{})
			s.Create("pool/p1", stubPool{})
			s.Create("job/j1", &stubJob{node: "node/p1/n1"})
			s.Create("agent/n1", silentAgent{})
			expected := []attemptRef{{AttemptID: "a0", JobID: "j1", TaskID: "t0", Slots: 1}, {AttemptID: "a1", JobID: "j1", TaskID: "t1", Slots: 1}}
			s.Create("node/p1/n1", newNodeSession("p1", "n1", 4, "agent/n1", "sched/p1", "pool/p1",
				NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}, expected, nodeStart{}))
		})
}
