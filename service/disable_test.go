package service

import (
	"strings"
	"testing"
	"time"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/service/model"
)

// jobDisableAcked is announced by the client when a Job - Disable is acknowledged.
type jobDisableAcked struct{ JobID string }

// noStartWhileDisabled asserts that no task of a job starts from the moment its disable is
// recorded until its enable has made it active again. An attempt placed on a node's queue before
// the disable (see queue.go) may start all the same: its node started it before it heard of the
// disable, and the start is recorded when the node reports it.
type noStartWhileDisabled struct {
	off    map[string]bool // by job life
	queued map[string]bool // attempts placed on a node's queue while their job was not disabled
}

func (m *noStartWhileDisabled) Define(d *actor.Machine) {
	init := func() {
		if m.off == nil {
			m.off, m.queued = map[string]bool{}, map[string]bool{}
		}
	}
	d.State("Watching",
		actor.On(func(ctx *actor.Context, e JobStateRecorded) {
			init()
			switch e.State {
			case batch.JobDisabling, batch.JobDisabled, batch.JobEnabling:
				m.off[jobKey(e.JobID, e.JobInc)] = true
			default:
				delete(m.off, jobKey(e.JobID, e.JobInc))
			}
		}),
		actor.On(func(ctx *actor.Context, e TaskStarted) {
			init()
			ctx.Assert(!m.off[jobKey(e.JobID, e.JobInc)] || m.queued[e.AttemptID], "task %s of job %s started (attempt %s) while the job is disabled", e.TaskID, e.JobID, e.AttemptID)
		}),
		actor.On(func(ctx *actor.Context, e TaskQueued) {
			init()
			ctx.Assert(!m.off[jobKey(e.JobID, e.JobInc)], "task %s of job %s queued on a node (attempt %s) while the job is disabled", e.TaskID, e.JobID, e.AttemptID)
			m.queued[e.AttemptID] = true
		}),
		actor.On(func(ctx *actor.Context, e JobFinished) { init(); delete(m.off, jobKey(e.JobID, e.JobInc)) }),
		actor.On(func(ctx *actor.Context, e JobDeleted) { init(); delete(m.off, jobKey(e.JobID, e.JobInc)) }),
	)
}

// requeuedRunsAgain is hot while a task that a disable requeued has not started again under a
// new attempt, and asserts that it does not complete before it has.
type requeuedRunsAgain struct{ pending map[string]string } // task life -> the attempt requeued

func (m *requeuedRunsAgain) Define(d *actor.Machine) {
	requeued := actor.On(func(ctx *actor.Context, e TaskRequeued) {
		if m.pending == nil {
			m.pending = map[string]string{}
		}
		m.pending[taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)] = e.AttemptID
		ctx.Goto("Waiting")
	})
	started := actor.On(func(ctx *actor.Context, e TaskStarted) {
		k := taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)
		if old, ok := m.pending[k]; ok {
			ctx.Assert(e.AttemptID != old, "task %s started again under the attempt it was requeued from (%s)", k, old)
			delete(m.pending, k)
		}
		if len(m.pending) == 0 {
			ctx.Goto("Idle")
		}
	})
	completed := actor.On(func(ctx *actor.Context, e TaskCompleted) {
		k := taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)
		_, waiting := m.pending[k]
		ctx.Assert(!waiting, "task %s completed after its requeue without running again", k)
	})
	d.State("Idle", actor.Temp(actor.Cold), requeued, started, completed, actor.Targets("Waiting"))
	d.State("Waiting", actor.Temp(actor.Hot), requeued, started, completed, actor.Targets("Idle"))
}

// disableSettles is hot from the acknowledgement of a Job - Disable until the job is disabled
// (or enabled again, or finished): a disable does not stay disabling for ever.
type disableSettles struct {
	state   map[string]batch.JobState // by job id: the latest state recorded
	waiting map[string]bool
}

func (m *disableSettles) Define(d *actor.Machine) {
	init := func() {
		if m.state == nil {
			m.state, m.waiting = map[string]batch.JobState{}, map[string]bool{}
		}
	}
	update := func(ctx *actor.Context) {
		for id := range m.waiting {
			if m.state[id] != batch.JobDisabling {
				delete(m.waiting, id)
			}
		}
		if len(m.waiting) == 0 {
			ctx.Goto("Idle")
		} else {
			ctx.Goto("Waiting")
		}
	}
	acked := actor.On(func(ctx *actor.Context, e jobDisableAcked) {
		init()
		m.waiting[e.JobID] = true
		update(ctx)
	})
	recorded := actor.On(func(ctx *actor.Context, e JobStateRecorded) {
		init()
		m.state[e.JobID] = e.State
		update(ctx)
	})
	finished := actor.On(func(ctx *actor.Context, e JobFinished) {
		init()
		m.state[e.JobID] = batch.JobCompleted
		update(ctx)
	})
	d.State("Idle", actor.Temp(actor.Cold), acked, recorded, finished, actor.Targets("Waiting"))
	d.State("Waiting", actor.Temp(actor.Hot), acked, recorded, finished, actor.Targets("Idle"))
}

// A job is disabled while its tasks run, with each of Azure's disableTasks options, then
// enabled: no task starts while it is disabled, a requeued task runs again under a new attempt
// and completes once, the disable settles, and every task still completes, through a crash of
// the service and lost and late messages. The disabled state survives the crash (the job
// manager loads it and starts nothing).
func TestJobDisableEnable(t *testing.T) {
	for _, opt := range []batch.DisableTasks{batch.DisableRequeue, batch.DisableTerminate, batch.DisableWait} {
		t.Run(string(opt), func(t *testing.T) {
			systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
				Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}, Drops: 1, Delays: 1}}, disableProgram(opt, false))
		})
	}
}

// The store fails now and then while a job is disabled with requeue and enabled (an update
// refused, or committed with its acknowledgement lost): the disable and the enable are carried
// on when the store is back, and the monitors hold.
func TestJobDisableStoreFailures(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{ModelFailures: 3, Crashes: 1, CrashHosts: []string{"service"}}}, disableProgram(batch.DisableRequeue, true))
}

// disableProgram adds a pool of two nodes, a job and its tasks, disables the job with opt while
// its tasks run, and enables it again; the job fails none of its tasks' attempts.
func disableProgram(opt batch.DisableTasks, storeFails bool) func(*systest.Sim) {
	return func(s *systest.Sim) {
		s.Monitor(&noStartWhileDisabled{})
		s.Monitor(&requeuedRunsAgain{})
		s.Monitor(&disableSettles{})
		dagServiceStore(s, storeFails, model.Provider{})
		two, yes := int32(2), true
		s.Create("client", newClient(
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two}},
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes}},
			AddTasks{JobID: "j1", Tasks: diamond()},
			pause{Max: 3 * time.Second},
			DisableJob{JobID: "j1", DisableTasks: opt},
			pause{Max: 2 * time.Second},
			EnableJob{JobID: "j1"},
		))
	}
}

// jobMoved is announced by the client when a Job - Patch that moves a job to another pool is
// acknowledged.
type jobMoved struct{ JobID, PoolID string }

// runsOnItsPool asserts that once a job's move to another pool is acknowledged, its tasks start
// only on that pool's nodes (named after their pool).
type runsOnItsPool struct{ pool map[string]string } // job id -> pool id

func (m *runsOnItsPool) Define(d *actor.Machine) {
	d.State("Watching",
		actor.On(func(ctx *actor.Context, e jobMoved) {
			if m.pool == nil {
				m.pool = map[string]string{}
			}
			m.pool[e.JobID] = e.PoolID
		}),
		actor.On(func(ctx *actor.Context, e TaskStarted) {
			if p, ok := m.pool[e.JobID]; ok {
				ctx.Assert(strings.HasPrefix(e.NodeID, p+"-"), "task %s of job %s started on node %s after the job moved to pool %s", e.TaskID, e.JobID, e.NodeID, p)
			}
		}))
}

// A job is disabled while its tasks run, moved to another pool, and enabled: its remaining tasks
// run on the new pool's nodes and all complete, through a crash of the service and lost and
// late messages.
func TestJobMovesWhileDisabled(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}, Drops: 1, Delays: 1}}, func(s *systest.Sim) {
		s.Monitor(&noStartWhileDisabled{})
		s.Monitor(&requeuedRunsAgain{})
		s.Monitor(&runsOnItsPool{})
		dagService(s, model.Provider{})
		one, yes := int32(1), true
		s.Create("client", newClient(
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &one}},
			AddPool{Pool: batch.Pool{ID: "p2", VMSize: "local", TargetDedicatedNodes: &one}},
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes}},
			AddTasks{JobID: "j1", Tasks: diamond()},
			pause{Max: 3 * time.Second},
			DisableJob{JobID: "j1", DisableTasks: batch.DisableRequeue},
			PatchJob{JobID: "j1", PoolID: "p2"},
			EnableJob{JobID: "j1"},
		))
	})
}
