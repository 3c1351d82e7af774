package service

import (
	"testing"
	"time"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/service/model"
	"corral/store/memstore"
)

// prepFirst asserts that no task of a job runs on a node before the job's preparation task has
// succeeded there (the tests' preparation tasks wait for success), nor after it has failed there
// for good; that a failed preparation task was tried maxTaskRetryCount+1 times; that it runs once
// per node (these tests restart no agent); and that the release task runs on a node only once no
// task of the job runs there.
type prepFirst struct {
	job               string // the job with the preparation task
	prepID, releaseID string
	retries           int
	ok, failed        map[string]bool            // by job/node
	running           map[string]map[string]bool // job/node -> attempts of the job's tasks that run there
	where             map[string]string          // attempt -> job/node
}

func (m *prepFirst) Define(d *actor.Machine) {
	init := func() {
		if m.ok == nil {
			m.ok, m.failed, m.running, m.where = map[string]bool{}, map[string]bool{}, map[string]map[string]bool{}, map[string]string{}
		}
	}
	d.State("Watching",
		actor.On(func(ctx *actor.Context, e JobPrepShown) {
			init()
			k := e.JobID + "/" + e.NodeID
			ctx.Assert(e.Run == 1, "job %s: preparation task run %d on node %s, whose agent never restarted", e.JobID, e.Run, e.NodeID)
			if e.Succeeded {
				m.ok[k] = true
			}
			if e.Failed {
				m.failed[k] = true
				ctx.Assert(e.Tries == m.retries+1, "job %s: preparation task failed on %s after %d tries, want %d", e.JobID, e.NodeID, e.Tries, m.retries+1)
			}
		}),
		actor.On(func(ctx *actor.Context, e model.AttemptRan) {
			init()
			if e.JobID != m.job {
				return
			}
			k := e.JobID + "/" + e.NodeID
			switch e.TaskID {
			case m.prepID:
			case m.releaseID:
				ctx.Assert(len(m.running[k]) == 0, "job %s: release task ran on %s while tasks of the job run there: %v", e.JobID, e.NodeID, m.running[k])
			default:
				ctx.Assert(m.ok[k] && !m.failed[k], "job %s: task %s ran on %s before its preparation task succeeded there (failed: %v)",
					e.JobID, e.TaskID, e.NodeID, m.failed[k])
				if m.running[k] == nil {
					m.running[k] = map[string]bool{}
				}
				m.running[k][e.AttemptID], m.where[e.AttemptID] = true, k
			}
		}),
		actor.On(func(ctx *actor.Context, e model.AttemptStopped) {
			init()
			if k, ok := m.where[e.AttemptID]; ok {
				delete(m.running[k], e.AttemptID)
				delete(m.where, e.AttemptID)
			}
		}),
	)
}

// releasedEverywhere is hot from the end of a job (finished or deleted) until every node that ran
// its preparation task has run its release task (or forgotten the job).
type releasedEverywhere struct {
	pending map[string]bool // job/node: prepared, not released
	ended   map[string]bool // by job
}

func (m *releasedEverywhere) Define(d *actor.Machine) {
	init := func() {
		if m.pending == nil {
			m.pending, m.ended = map[string]bool{}, map[string]bool{}
		}
	}
	update := func(ctx *actor.Context) {
		for k := range m.pending {
			if job, _, _ := cutLast(k); m.ended[job] {
				ctx.Goto("Waiting")
				return
			}
		}
		ctx.Goto("Idle")
	}
	shown := actor.On(func(ctx *actor.Context, e JobPrepShown) {
		init()
		k := jobKey(e.JobID, e.JobInc) + "/" + e.NodeID
		if e.Gone || e.Released {
			delete(m.pending, k)
		} else {
			m.pending[k] = true
		}
		update(ctx)
	})
	finished := actor.On(func(ctx *actor.Context, e JobFinished) {
		init()
		m.ended[jobKey(e.JobID, e.JobInc)] = true
		update(ctx)
	})
	deleted := actor.On(func(ctx *actor.Context, e JobDeleted) {
		init()
		m.ended[jobKey(e.JobID, e.JobInc)] = true
		update(ctx)
	})
	d.State("Idle", actor.Temp(actor.Cold), shown, finished, deleted, actor.Targets("Waiting"))
	d.State("Waiting", actor.Temp(actor.Hot), shown, finished, deleted, actor.Targets("Idle"))
}

// cutLast splits s at its last '/'.
func cutLast(s string) (before, after string, found bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// prepJob is job j1 on pool p1 with a preparation task (maxTaskRetryCount retries) and a release
// task.
func prepJob(retries int32) batch.Job {
	yes := true
	return batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes,
		JobPreparationTask: &batch.JobPreparationTask{CommandLine: "/bin/prepare", Constraints: &batch.TaskConstraints{MaxTaskRetryCount: &retries}},
		JobReleaseTask:     &batch.JobReleaseTask{CommandLine: "/bin/release"}}
}

// A job with preparation and release tasks runs its DAG on two nodes, is set to terminate when
// its tasks are done, and is deleted: each node runs the preparation task once, before any of the
// job's tasks; the release task runs on each such node once the job has ended and its tasks there
// have stopped; every task completes once, in dependency order. Through a crash of the service
// and lost and late messages.
func TestJobPreparationAndRelease(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}, Drops: 1, Delays: 1}}, func(s *systest.Sim) {
		s.Monitor(&prepFirst{job: "j1", prepID: batch.DefaultJobPreparationTaskID, releaseID: batch.DefaultJobReleaseTaskID})
		s.Monitor(&releasedEverywhere{})
		dagService(s, model.Provider{})
		two, slots := int32(2), int32(2)
		s.Create("client", newClient(
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two, TaskSlotsPerNode: &slots}},
			AddJob{Job: prepJob(0)},
			AddTasks{JobID: "j1", Tasks: diamond()},
			PatchJob{JobID: "j1", OnAllTasksComplete: batch.AllCompleteTerminateJob},
			pause{Max: 5 * time.Second},
			DeleteJob{JobID: "j1"},
		))
	})
}

// tasksOf is hot until every task of one job that the client added has completed (an
// acknowledgement may come after the completion: a repeated add whose first answer was lost).
type tasksOf struct {
	job        string
	left, done map[string]bool
	acked      bool
}

func (m *tasksOf) Define(d *actor.Machine) {
	init := func() {
		if m.left == nil {
			m.left, m.done = map[string]bool{}, map[string]bool{}
		}
	}
	d.State("Waiting", actor.Temp(actor.Hot),
		actor.On(func(ctx *actor.Context, e tasksAcked) {
			init()
			if e.JobID != m.job {
				return
			}
			m.acked = true
			for _, id := range e.TaskIDs {
				if !m.done[id] {
					m.left[id] = true
				}
			}
			if len(m.left) == 0 {
				ctx.Goto("Done")
			}
		}),
		actor.On(func(ctx *actor.Context, e TaskCompleted) {
			init()
			if e.JobID != m.job {
				return
			}
			m.done[e.TaskID] = true
			delete(m.left, e.TaskID)
			if m.acked && len(m.left) == 0 {
				ctx.Goto("Done")
			}
		}), actor.Targets("Done"))
	d.State("Done", actor.Temp(actor.Cold), actor.Ignore[tasksAcked](), actor.Ignore[TaskCompleted]())
}

// A job's preparation task fails on every node (after its one retry): none of the job's tasks
// runs anywhere, their attempts are requeued rather than failed, and the nodes go on running
// another job's tasks, which all complete. Through a crash of the service and lost and late
// messages.
func TestJobPreparationFails(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}, Drops: 1, Delays: 1}}, func(s *systest.Sim) {
		s.Monitor(&prepFirst{job: "j1", prepID: batch.DefaultJobPreparationTaskID, releaseID: batch.DefaultJobReleaseTaskID, retries: 1})
		s.Monitor(&tasksOf{job: "j2"})
		s.Monitor(&completedOnce{})
		runService(s, Config{Store: memstore.New(), Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}},
			model.Provider{FailTasks: []string{batch.DefaultJobPreparationTaskID}})
		two, slots := int32(2), int32(1)
		s.Create("client", newClient(
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two, TaskSlotsPerNode: &slots}},
			AddJob{Job: prepJob(1)},
			AddTasks{JobID: "j1", Tasks: []batch.Task{{ID: "a", CommandLine: "/bin/a"}, {ID: "b", CommandLine: "/bin/b"}}},
			AddJob{Job: batch.Job{ID: "j2", PoolInfo: batch.PoolInformation{PoolID: "p1"}}},
			AddTasks{JobID: "j2", Tasks: []batch.Task{{ID: "c", CommandLine: "/bin/c"}, {ID: "d", CommandLine: "/bin/d"}, {ID: "e", CommandLine: "/bin/e"}}},
		))
	})
}
