package service

import (
	"context"
	"strings"
	"testing"
	"time"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/service/model"
	"corral/store"
	"corral/store/memstore"
)

// Specifications for ids used again: a job, task or pool deleted and added again under its id is
// another life, and nothing of one life reaches another.

// attemptsOwnLife asserts that an attempt id names one attempt of one life of one task (it is
// started once), that an agent runs only attempts the service started, and that the end the job
// manager records for an attempt comes from that attempt's own result.
type attemptsOwnLife struct {
	life   map[string]string // attempt id -> the task life that started (or queued) it
	queued map[string]bool   // attempts queued whose start is not recorded yet
}

func (a *attemptsOwnLife) Define(m *actor.Machine) {
	m.State("Watching",
		actor.OnEntry(func(*actor.Context) { a.life, a.queued = map[string]string{}, map[string]bool{} }),
		actor.On(func(ctx *actor.Context, e TaskStarted) {
			l := taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)
			if a.queued[e.AttemptID] {
				// Placed on its node's queue first: its start is recorded now.
				ctx.Assert(a.life[e.AttemptID] == l, "attempt id %s queued for %s, started for %s", e.AttemptID, a.life[e.AttemptID], l)
				delete(a.queued, e.AttemptID)
				return
			}
			ctx.Assert(a.life[e.AttemptID] == "", "attempt id %s started for %s, and again for %s", e.AttemptID, a.life[e.AttemptID], l)
			a.life[e.AttemptID] = l
		}),
		actor.On(func(ctx *actor.Context, e TaskQueued) {
			l := taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)
			ctx.Assert(a.life[e.AttemptID] == "", "attempt id %s started for %s, and queued again for %s", e.AttemptID, a.life[e.AttemptID], l)
			a.life[e.AttemptID] = l
			a.queued[e.AttemptID] = true
		}),
		actor.On(func(ctx *actor.Context, e model.AttemptRan) {
			ctx.Assert(a.life[e.AttemptID] != "", "node %s ran attempt %s, which the service never started", e.NodeID, e.AttemptID)
		}),
		actor.On(func(ctx *actor.Context, e AttemptRecorded) {
			l := taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)
			ctx.Assert(e.ResultAttempt == e.AttemptID, "task %s recorded the result of attempt %s as the end of its attempt %s", l, e.ResultAttempt, e.AttemptID)
			ctx.Assert(a.life[e.AttemptID] == l, "task %s recorded the end of attempt %s, started for %s", l, e.AttemptID, a.life[e.AttemptID])
		}),
	)
}

// slotsHeld asserts that the processes running on a node never need more slots than it has
// (attempts of every life counted: a killed attempt holds its slots until its process ends).
// Attempts the service has given up on are not counted: one its node's session reported lost (the
// node did not list it, or went silent), and one that starts only after the service recorded its
// end. A start
// delayed on its way (sent before a crash) may reach the agent after a report that did not list
// it; the node's session kills such an attempt when the agent next reports it, so it runs beside
// others for at most a heartbeat. (The agent link carries one exchange at a time, commands before
// the next report, which keeps this to a crash of the service.) It is
// hot while no task is left to run but the scheduler counts slots of an up node as taken: slots
// must come back once the work is done.
type slotsHeld struct {
	nodeSlots int
	slots     map[string]int            // attempt id -> slots
	ended     map[string]bool           // attempts whose end the service recorded
	current   map[string]string         // task life -> its latest attempt
	running   map[string]map[string]int // node -> attempt id -> slots, from the agents
	open      map[string]bool           // task lives added and not completed
	sched     map[string]NodeSlots      // node -> the scheduler's latest count
}

func (h *slotsHeld) Define(m *actor.Machine) {
	handlers := func() []actor.StateOption {
		return []actor.StateOption{
			actor.On(func(ctx *actor.Context, e TaskStarted) {
				h.slots[e.AttemptID] = e.Slots
				h.current[taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)] = e.AttemptID
			}),
			actor.On(func(ctx *actor.Context, e TaskQueued) {
				h.slots[e.AttemptID] = e.Slots
				h.current[taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)] = e.AttemptID
			}),
			actor.On(func(ctx *actor.Context, e AttemptGivenUp) {
				h.ended[e.AttemptID] = true
				delete(h.running[e.NodeID], e.AttemptID)
			}),
			actor.On(func(ctx *actor.Context, e AttemptRecorded) { h.ended[e.AttemptID] = true }),
			actor.On(func(ctx *actor.Context, e model.AttemptRan) {
				if h.running[e.NodeID] == nil {
					h.running[e.NodeID] = map[string]int{}
				}
				if h.ended[e.AttemptID] {
					return // started after the service gave it up: see above
				}
				h.running[e.NodeID][e.AttemptID] = h.slots[e.AttemptID]
				used := 0
				for _, s := range h.running[e.NodeID] {
					used += s
				}
				ctx.Assert(used <= h.nodeSlots, "node %s runs attempts needing %d slots; it has %d", e.NodeID, used, h.nodeSlots)
			}),
			actor.On(func(ctx *actor.Context, e model.AttemptStopped) {
				delete(h.running[e.NodeID], e.AttemptID)
			}),
			actor.On(func(ctx *actor.Context, e TaskAdded) {
				h.open[taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)] = true
				h.update(ctx)
			}),
			actor.On(func(ctx *actor.Context, e TaskRecovered) {
				h.open[taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)] = !e.Completed
				h.update(ctx)
			}),
			actor.On(func(ctx *actor.Context, e TaskCompleted) {
				h.ended[h.current[taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)]] = true
				h.open[taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)] = false
				h.update(ctx)
			}),
			actor.On(func(ctx *actor.Context, e JobDeleted) {
				for k := range h.open {
					if strings.HasPrefix(k, jobTask(e.JobID, e.JobInc, "")) {
						h.open[k] = false
					}
				}
				h.update(ctx)
			}),
			actor.On(func(ctx *actor.Context, e SchedulerStarted) {
				h.sched = map[string]NodeSlots{} // one pool in these tests
				h.update(ctx)
			}),
			actor.On(func(ctx *actor.Context, e NodeSlots) {
				ctx.Assert(e.Free <= e.Total && (e.Free >= 0 || !e.Up), "the scheduler counts %d free slots of %d on node %s", e.Free, e.Total, e.NodeID)
				h.sched[e.NodeID] = e
				h.update(ctx)
			}),
		}
	}
	m.State("Init", actor.OnEntry(func(ctx *actor.Context) {
		h.slots, h.ended, h.current = map[string]int{}, map[string]bool{}, map[string]string{}
		h.running, h.open, h.sched = map[string]map[string]int{}, map[string]bool{}, map[string]NodeSlots{}
		ctx.Goto("Settled")
	}), actor.Targets("Settled"))
	m.State("Settled", append(handlers(), actor.Temp(actor.Cold), actor.Targets("Leaking"))...)
	m.State("Leaking", append(handlers(), actor.Temp(actor.Hot), actor.Targets("Settled"))...)
}

// update is Leaking while no task is open and an up node has slots the scheduler counts as taken.
func (h *slotsHeld) update(ctx *actor.Context) {
	for _, open := range h.open {
		if open {
			ctx.Goto("Settled")
			return
		}
	}
	for _, n := range h.sched {
		if n.Up && n.Free != n.Total {
			ctx.Goto("Leaking")
			return
		}
	}
	ctx.Goto("Settled")
}

// clientFinishes is hot until the client has had every request answered: a request the service
// never answers, or answers "busy" for ever (a job that stays "being deleted"), is a liveness bug.
type clientFinishes struct{}

func (*clientFinishes) Define(m *actor.Machine) {
	m.State("Waiting", actor.Temp(actor.Hot), actor.Goto[clientDone]("Done"))
	m.State("Done", actor.Temp(actor.Cold), actor.Ignore[clientDone]())
}

// lives is a job whose tasks need 2, 3 and 1 of a node's 4 slots, deleted while its attempts run
// and added again under its id with other tasks under the same ids; then its pool is deleted while
// the second life's attempts run and added again under its id; then one task is deleted and added
// again. Every life of every task must run in its own right.
func lives(storeFails bool) func(*systest.Sim) {
	return func(s *systest.Sim) {
		const nodeSlots = 4
		s.Monitor(&depsFirst{})
		s.Monitor(&completedOnce{})
		s.Monitor(&eventuallyDone{})
		s.Monitor(&attemptsOwnLife{})
		s.Monitor(&slotsHeld{nodeSlots: nodeSlots})
		s.Monitor(&clientFinishes{})
		st := memstore.New()
		if storeFails {
			st.Fail = s.Fail // reads too: the service's actors retry what they load
		}
		cfg := Config{Store: st, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}}
		runService(s, cfg, model.Provider{ExitCodes: []int{0, 1}})
		two, slots, yes, retries := int32(2), int32(nodeSlots), true, int32(1)
		pool := AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two, TaskSlotsPerNode: &slots}}
		job := AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes,
			Constraints: &batch.JobConstraints{MaxTaskRetryCount: &retries}}}
		task := func(id, cmd string, slots int32, deps ...string) batch.Task {
			t := batch.Task{ID: id, CommandLine: cmd, RequiredSlots: &slots}
			if len(deps) > 0 {
				t.DependsOn = &batch.TaskDependencies{TaskIDs: deps}
			}
			return t
		}
		c := newClient(
			pool,
			job,
			AddTasks{JobID: "j1", Tasks: []batch.Task{task("a", "old-a", 2), task("b", "old-b", 3), task("c", "old-c", 1, "a")}},
			pause{Max: time.Second},
			DeleteJob{JobID: "j1"},
			job,
			AddTasks{JobID: "j1", Tasks: []batch.Task{task("a", "new-a", 3), task("b", "new-b", 2), task("c", "new-c", 2, "a"), task("d", "new-d", 1)}},
			pause{Max: time.Second},
			DeletePool{PoolID: "p1"},
			pool,
			pause{Max: time.Second},
			DeleteTask{JobID: "j1", TaskID: "d"},
			AddTasks{JobID: "j1", Tasks: []batch.Task{task("d", "newer-d", 3)}},
		)
		c.lifeOf = func(table, id string) (int64, bool) {
			var inc int64
			err := st.View(context.Background(), func(tx store.Tx) error {
				var rec struct{ Incarnation int64 }
				err := getJSON(tx, table, batch.IDKey(id), &rec)
				inc = rec.Incarnation
				return err
			})
			return inc, err == nil && inc != 0
		}
		s.Create("client", c)
	}
}

// Jobs and pools deleted and added again under their ids while attempts run, with service
// crashes and agents' reports delayed, dropped and repeated on the way.
func TestServiceLives(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 5000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 2, CrashHosts: []string{"service"}, Drops: 2, Duplicates: 2, Delays: 3}}, lives(false))
}

// The same, with the store failing reads and writes now and then.
func TestServiceLivesStoreFailures(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 5000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{ModelFailures: 3, Crashes: 1, CrashHosts: []string{"service"}}}, lives(true))
}
