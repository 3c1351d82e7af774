package service

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/service/model"
	"corral/store"
	"corral/store/memstore"
)

// commitLog is a store that remembers, for every transaction that committed, the task records
// it wrote.
type commitLog struct {
	store.Store
	commits [][]taskRecord // the tester runs one actor at a time: no lock
}

func (c *commitLog) Update(ctx context.Context, fn func(store.Tx) error) error {
	var wrote []taskRecord
	err := c.Store.Update(ctx, func(tx store.Tx) error {
		wrote = nil // a retried fn starts again
		return fn(&loggingTx{Tx: tx, wrote: &wrote})
	})
	if err == nil {
		c.commits = append(c.commits, wrote)
	}
	return err
}

// firstAttempt returns the first committed transaction that wrote task id with an attempt, or
// nil.
func (c *commitLog) firstAttempt(id string) []taskRecord {
	for _, commit := range c.commits {
		for _, r := range commit {
			if r.Task.ID == id && r.Attempt.AttemptID != "" {
				return commit
			}
		}
	}
	return nil
}

type loggingTx struct {
	store.Tx
	wrote *[]taskRecord
}

func (t *loggingTx) Put(table, key string, value []byte, ifVersion int64) (int64, error) {
	v, err := t.Tx.Put(table, key, value, ifVersion)
	if err == nil && table == tableTasks {
		var r taskRecord
		if json.Unmarshal(value, &r) == nil {
			*t.wrote = append(*t.wrote, r)
		}
	}
	return v, err
}

// hopInOneCommit is the specification of jobhop.go: in a chain of tasks run on a pool with a
// free slot for each next task, the transaction that first writes a task's attempt also writes
// the completion of the task it depends on.
type hopInOneCommit struct {
	log   *commitLog
	chain []string
	seen  map[string]bool
}

func (h *hopInOneCommit) Define(m *actor.Machine) {
	check := func(ctx *actor.Context, taskID string) {
		if h.seen == nil {
			h.seen = map[string]bool{}
		}
		if h.seen[taskID] {
			return
		}
		h.seen[taskID] = true
		for k := 1; k < len(h.chain); k++ {
			if h.chain[k] != taskID {
				continue
			}
			commit := h.log.firstAttempt(taskID)
			ctx.Assert(commit != nil, "task %s started, and no transaction wrote its attempt", taskID)
			dep := h.chain[k-1]
			found := false
			for _, r := range commit {
				found = found || (r.Task.ID == dep && r.Task.State == batch.TaskCompleted)
			}
			ctx.Assert(found, "the transaction that wrote %s's first attempt did not write %s completed: %d records", taskID, dep, len(commit))
		}
	}
	m.State("Watching",
		actor.On(func(ctx *actor.Context, e TaskStarted) { check(ctx, e.TaskID) }),
		actor.On(func(ctx *actor.Context, e TaskQueued) { check(ctx, e.TaskID) }),
	)
}

// chainOf is n tasks, each depending on the one before, and their ids.
func chainOf(n int) ([]batch.Task, []string) {
	tasks := make([]batch.Task, n)
	ids := make([]string, n)
	for i := range tasks {
		ids[i] = fmt.Sprintf("c%d", i)
		tasks[i] = batch.Task{ID: ids[i], CommandLine: "/bin/true"}
		if i > 0 {
			tasks[i].DependsOn = &batch.TaskDependencies{TaskIDs: []string{ids[i-1]}}
		}
	}
	return tasks, ids
}

// A chain's hop is one commit: the end of a task and its dependent's attempt are written
// together (jobhop.go), whatever the order in which the actors run, when nothing fails and no
// request comes between. The virtual clock moves only when nothing else can run (a held flush
// waits for its timer only when the scheduler never answers).
func TestHopInOneCommit(t *testing.T) {
	tasks, ids := chainOf(6)
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 4000, Strategy: "portfolio", Seed: 1, ClockProbability: 1e-9},
		func(s *systest.Sim) {
			log := &commitLog{Store: memstore.New()}
			s.Monitor(&depsFirst{})
			s.Monitor(&completedOnce{})
			s.Monitor(&eventuallyDone{})
			s.Monitor(&hopInOneCommit{log: log, chain: ids})
			runService(s, Config{Store: log, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}}, model.Provider{})
			one, two, yes := int32(1), int32(2), true
			s.Create("client", newClient(
				AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &one, TaskSlotsPerNode: &two}},
				AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes}},
				AddTasks{JobID: "j1", Tasks: tasks},
			))
		})
}

// The same hop through what can go wrong: tasks that fail (a failure blocks the dependents) and
// are retried, a store that refuses writes or commits them with the acknowledgement lost (the
// completion applied to the graph early is taken back), a crash of the service, lost and late
// messages, and a job disabled and enabled meanwhile. Dependents run only after what they
// depend on completed and satisfied them, every task completes once, and the counts stay right.
func TestHopThroughFailures(t *testing.T) {
	tasks, _ := chainOf(5)
	systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 4000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{ModelFailures: 3, Crashes: 1, CrashHosts: []string{"service"}, Drops: 1, Delays: 1}},
		countsProgram(true, 0, []int{0, 1},
			AddTasks{JobID: "j1", Tasks: tasks},
			pause{Max: 2 * time.Second},
			DisableJob{JobID: "j1", DisableTasks: batch.DisableRequeue},
			EnableJob{JobID: "j1"},
		))
}

// heldFlushWaits is the specification of a held flush's backstop timer: a flush held for the
// scheduler's answers is written by the timer only once flushHoldLimit has passed since that
// hold began. (A timer of an earlier hold, left running after its answers came, would write a
// later hold's batch early, splitting a hop into two commits.)
type heldFlushWaits struct {
	since map[string]time.Time // job key -> when its current hold began
}

func (h *heldFlushWaits) Define(m *actor.Machine) {
	key := func(job string, inc int64) string { return fmt.Sprintf("%s/%d", job, inc) }
	m.State("Watching",
		actor.On(func(ctx *actor.Context, e FlushHeld) {
			if h.since == nil {
				h.since = map[string]time.Time{}
			}
			h.since[key(e.JobID, e.JobInc)] = e.At
		}),
		actor.On(func(ctx *actor.Context, e HeldFlushExpired) {
			began, ok := h.since[key(e.JobID, e.JobInc)]
			ctx.Assert(ok, "job %s: a held flush expired that was never held", e.JobID)
			ctx.Assert(e.At.Sub(began) >= flushHoldLimit, "job %s: a flush held at %v was written by its timer at %v, %v later (limit %v)",
				e.JobID, began, e.At, e.At.Sub(began), flushHoldLimit)
		}),
	)
}

// A held flush's timer ends with its hold: a chain of short tasks (5 ms ticks of virtual time,
// so that holds come closer together than flushHoldLimit) runs while timers race the
// scheduler's answers, and no hold is cut short by the timer of an earlier one.
func TestHeldFlushWaitsItsLimit(t *testing.T) {
	tasks, _ := chainOf(8)
	systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 6000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05},
		func(s *systest.Sim) {
			s.Monitor(&depsFirst{})
			s.Monitor(&completedOnce{})
			s.Monitor(&heldFlushWaits{})
			runService(s, Config{Store: memstore.New(), Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}},
				model.Provider{Heartbeat: 20 * time.Millisecond, RunFor: 2})
			one, two, yes := int32(1), int32(2), true
			s.Create("client", newClient(
				AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &one, TaskSlotsPerNode: &two}},
				AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes}},
				AddTasks{JobID: "j1", Tasks: tasks},
			))
		})
}
