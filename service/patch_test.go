package service

import (
	"testing"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/service/model"
)

// jobPatched is announced by the client when a Job - Patch is acknowledged.
type jobPatched struct {
	JobID              string
	OnAllTasksComplete batch.OnAllTasksComplete
}

// finishesWhenAllComplete is Azure's documented pattern for onAllTasksComplete: add the tasks,
// then patch the job to terminatejob. Once the patch is acknowledged the job must complete
// (hot until it does), and a job that finishes because all its tasks completed must have every
// added task completed first.
type finishesWhenAllComplete struct {
	added, done       map[string]bool
	patched, finished map[string]bool
}

func (m *finishesWhenAllComplete) Define(d *actor.Machine) {
	init := func() {
		if m.added == nil {
			m.added, m.done = map[string]bool{}, map[string]bool{}
			m.patched, m.finished = map[string]bool{}, map[string]bool{}
		}
	}
	added := actor.On(func(ctx *actor.Context, e TaskAdded) {
		init()
		m.added[e.JobID+"/"+e.TaskID] = true
	})
	recovered := actor.On(func(ctx *actor.Context, e TaskRecovered) {
		init()
		m.added[e.JobID+"/"+e.TaskID] = true
		if e.Completed {
			m.done[e.JobID+"/"+e.TaskID] = true
		}
	})
	completed := actor.On(func(ctx *actor.Context, e TaskCompleted) {
		init()
		m.done[e.JobID+"/"+e.TaskID] = true
	})
	patched := actor.On(func(ctx *actor.Context, e jobPatched) {
		init()
		// The job may have finished before the client heard the answer.
		if e.OnAllTasksComplete == batch.AllCompleteTerminateJob && !m.finished[e.JobID] {
			m.patched[e.JobID] = true
			ctx.Goto("Waiting")
		}
	})
	finished := actor.On(func(ctx *actor.Context, e JobFinished) {
		init()
		if e.Reason == batch.TerminateReasonAllTasksComplete {
			for k := range m.added {
				if len(k) > len(e.JobID) && k[:len(e.JobID)+1] == e.JobID+"/" {
					ctx.Assert(m.done[k], "job %s finished (all tasks complete) before task %s completed", e.JobID, k)
				}
			}
		}
		m.finished[e.JobID] = true
		delete(m.patched, e.JobID)
		if len(m.patched) == 0 {
			ctx.Goto("Idle")
		}
	})
	d.State("Idle", actor.Temp(actor.Cold), added, recovered, completed, patched, finished, actor.Targets("Waiting"))
	d.State("Waiting", actor.Temp(actor.Hot), added, recovered, completed, patched, finished, actor.Targets("Idle"))
}

// Tasks are added to a job, then the job is patched to terminate when all its tasks complete:
// it completes once they have, and not before, through crashes of the service and lost
// messages. Metadata set by the patch is kept.
func TestJobPatchedToTerminate(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}, Drops: 1, Delays: 1}}, func(s *systest.Sim) {
		dagService(s, model.Provider{})
		s.Monitor(&finishesWhenAllComplete{})
		two, yes := int32(2), true
		meta := []batch.MetadataItem{{Name: "owner", Value: "team-a"}}
		s.Create("client", newClient(
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two}},
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes}},
			AddTasks{JobID: "j1", Tasks: diamond()},
			pause{Max: 3e9},
			PatchJob{JobID: "j1", OnAllTasksComplete: batch.AllCompleteTerminateJob, Metadata: &meta},
		))
	})
}
