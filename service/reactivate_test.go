package service

import (
	"testing"
	"time"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/service/model"
)

// reactivatedRunsAgain is hot from a task's reactivation until it completes again, and asserts
// that it runs (starts an attempt) before it does.
type reactivatedRunsAgain struct {
	pending map[string]bool // task life -> it has started since its reactivation
}

func (m *reactivatedRunsAgain) Define(d *actor.Machine) {
	reactivated := actor.On(func(ctx *actor.Context, e TaskReactivated) {
		if m.pending == nil {
			m.pending = map[string]bool{}
		}
		m.pending[taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)] = false
		ctx.Goto("Waiting")
	})
	started := actor.On(func(ctx *actor.Context, e TaskStarted) {
		k := taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)
		if _, ok := m.pending[k]; ok {
			m.pending[k] = true
		}
	})
	completed := actor.On(func(ctx *actor.Context, e TaskCompleted) {
		k := taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)
		ran, ok := m.pending[k]
		if !ok {
			return
		}
		ctx.Assert(ran, "task %s completed again (round %d) without running after its reactivation", k, e.Round)
		delete(m.pending, k)
		if len(m.pending) == 0 {
			ctx.Goto("Idle")
		}
	})
	d.State("Idle", actor.Temp(actor.Cold), reactivated, started, completed, actor.Targets("Waiting"))
	d.State("Waiting", actor.Temp(actor.Hot), reactivated, started, completed, actor.Targets("Idle"))
}

// Tasks fail now and then (no retries; a failure blocks their dependents) and the client
// reactivates some of them as the job runs: a reactivated task runs again under new attempts
// and completes once more, its dependents start only after it has succeeded, and every task
// that can still run completes, through a crash of the service and lost and late messages.
func TestTaskReactivate(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}, Drops: 1, Delays: 1}}, func(s *systest.Sim) {
		s.Monitor(&reactivatedRunsAgain{})
		dagService(s, model.Provider{ExitCodes: []int{0, 1}})
		two, yes := int32(2), true
		s.Create("client", newClient(
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two}},
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes}},
			AddTasks{JobID: "j1", Tasks: diamond()},
			pause{Max: 3 * time.Second},
			ReactivateTask{JobID: "j1", TaskID: "t1"},
			ReactivateTask{JobID: "j1", TaskID: "t5"},
			pause{Max: 2 * time.Second},
			ReactivateTask{JobID: "j1", TaskID: "t2"},
			ReactivateTask{JobID: "j1", TaskID: "t3"},
			pause{Max: 2 * time.Second},
			ReactivateTask{JobID: "j1", TaskID: "t1"},
			ReactivateTask{JobID: "j1", TaskID: "t4"},
		))
	})
}
