package service

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/compute"
	"corral/service/model"
	"corral/store/memstore"
)

// The specifications of the service, as monitors over what the job managers announce.

// jobTask names a task within one life of its job: tasks depend on tasks of the same life.
func jobTask(jobID string, inc int64, taskID string) string {
	return fmt.Sprintf("%s#%d/%s", jobID, inc, taskID)
}

// taskLife names one life of a task: a task deleted and added again under its id is another.
func taskLife(jobID string, inc int64, taskID string, seq int64) string {
	return fmt.Sprintf("%s#%d", jobTask(jobID, inc, taskID), seq)
}

// depsFirst asserts that no task starts before every task it depends on has completed with
// dependencyAction satisfy.
type depsFirst struct {
	deps map[string][]string
	done map[string]bool // completed and satisfying
}

func (d *depsFirst) Define(m *actor.Machine) {
	m.State("Watching",
		actor.On(func(ctx *actor.Context, e TaskAdded) {
			if d.deps == nil {
				d.deps, d.done = map[string][]string{}, map[string]bool{}
			}
			d.deps[jobTask(e.JobID, e.JobInc, e.TaskID)] = e.DependsOn
		}),
		actor.On(func(ctx *actor.Context, e TaskRecovered) {
			if d.deps == nil {
				d.deps, d.done = map[string][]string{}, map[string]bool{}
			}
			d.deps[jobTask(e.JobID, e.JobInc, e.TaskID)] = e.DependsOn
			d.done[jobTask(e.JobID, e.JobInc, e.TaskID)] = e.Satisfies
		}),
		// A reactivated task's dependents that have not started wait for its next completion.
		actor.On(func(ctx *actor.Context, e TaskReactivated) {
			if d.done != nil {
				delete(d.done, jobTask(e.JobID, e.JobInc, e.TaskID))
			}
		}),
		actor.On(func(ctx *actor.Context, e TaskStarted) {
			for _, dep := range d.deps[jobTask(e.JobID, e.JobInc, e.TaskID)] {
				ctx.Assert(d.done[jobTask(e.JobID, e.JobInc, dep)], "task %s started (attempt %s) before its dependency %s completed", e.TaskID, e.AttemptID, dep)
			}
		}),
		actor.On(func(ctx *actor.Context, e TaskCompleted) {
			if d.done == nil {
				d.deps, d.done = map[string][]string{}, map[string]bool{}
			}
			if e.Satisfies {
				d.done[jobTask(e.JobID, e.JobInc, e.TaskID)] = true
			}
		}))
}

// completedOnce asserts that no task is recorded completed twice in one round, and that only a
// completed task is reactivated (which starts its next round).
type completedOnce struct{ seen map[string]bool }

// round names one round of a task's life.
func round(life string, n int) string { return fmt.Sprintf("%s.%d", life, n) }

func (c *completedOnce) Define(m *actor.Machine) {
	init := func() {
		if c.seen == nil {
			c.seen = map[string]bool{}
		}
	}
	m.State("Watching", actor.On(func(ctx *actor.Context, e TaskCompleted) {
		init()
		k := round(taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq), e.Round)
		ctx.Assert(!c.seen[k], "task %s completed twice", k)
		c.seen[k] = true
	}), actor.On(func(ctx *actor.Context, e TaskRecovered) {
		init()
		if e.Completed {
			c.seen[round(taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq), e.Round)] = true
		}
	}), actor.On(func(ctx *actor.Context, e TaskReactivated) {
		init()
		k := round(taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq), e.Round-1)
		ctx.Assert(c.seen[k], "task %s reactivated without having completed", k)
	}), actor.Ignore[TaskAdded](), actor.Ignore[TaskStarted]())
}

// eventuallyDone is hot while some added task that can still run (no dependency of it, directly
// or through others, completed with dependencyAction block) has not completed: with nodes in the
// pool, every ready task eventually completes.
type eventuallyDone struct {
	deps      map[string][]string
	completed map[string]bool
	blocking  map[string]bool
	ended     map[string]bool // lives of jobs that completed (jobTask(job, inc, "")): their active tasks stay active
}

func (e *eventuallyDone) Define(m *actor.Machine) {
	m.State("Idle", actor.Temp(actor.Cold),
		actor.On(e.added), actor.On(e.completedTask), actor.On(e.recovered), actor.On(e.deleted), actor.On(e.reactivated), actor.Ignore[TaskStarted](),
		actor.On(e.finished), actor.On(e.stateRecorded), actor.Targets("Pending"))
	m.State("Pending", actor.Temp(actor.Hot),
		actor.On(e.added), actor.On(e.completedTask), actor.On(e.recovered), actor.On(e.deleted), actor.On(e.reactivated), actor.Ignore[TaskStarted](),
		actor.On(e.finished), actor.On(e.stateRecorded), actor.Targets("Idle"))
}

// finished: the tasks of a job that completed (terminated, or by its tasks' exit options or
// onAllTasksComplete) need not complete; those still active stay so, as on Azure.
func (e *eventuallyDone) finished(ctx *actor.Context, f JobFinished) {
	e.end(ctx, f.JobID, f.JobInc)
}

// stateRecorded: the same for a job found completed when its manager loads.
func (e *eventuallyDone) stateRecorded(ctx *actor.Context, r JobStateRecorded) {
	if r.State == batch.JobCompleted {
		e.end(ctx, r.JobID, r.JobInc)
	}
}

func (e *eventuallyDone) end(ctx *actor.Context, jobID string, inc int64) {
	if e.ended == nil {
		e.ended = map[string]bool{}
	}
	e.ended[jobTask(jobID, inc, "")] = true
	e.update(ctx)
}

// reactivated makes a task pending again: it must complete once more.
func (e *eventuallyDone) reactivated(ctx *actor.Context, r TaskReactivated) {
	k := jobTask(r.JobID, r.JobInc, r.TaskID)
	if _, ok := e.deps[k]; ok {
		e.completed[k], e.blocking[k] = false, false
	}
	e.update(ctx)
}

// deleted forgets the tasks of a deleted life of a job: they need not complete.
func (e *eventuallyDone) deleted(ctx *actor.Context, d JobDeleted) {
	prefix := jobTask(d.JobID, d.JobInc, "")
	for k := range e.deps {
		if strings.HasPrefix(k, prefix) {
			delete(e.deps, k)
		}
	}
	e.update(ctx)
}

func (e *eventuallyDone) recovered(ctx *actor.Context, r TaskRecovered) {
	e.added(ctx, TaskAdded{JobID: r.JobID, TaskID: r.TaskID, JobInc: r.JobInc, Seq: r.Seq, DependsOn: r.DependsOn})
	if r.Completed {
		e.completedTask(ctx, TaskCompleted{JobID: r.JobID, TaskID: r.TaskID, JobInc: r.JobInc, Seq: r.Seq, Satisfies: r.Satisfies})
	}
}

func (e *eventuallyDone) added(ctx *actor.Context, a TaskAdded) {
	if e.deps == nil {
		e.deps, e.completed, e.blocking = map[string][]string{}, map[string]bool{}, map[string]bool{}
	}
	k := jobTask(a.JobID, a.JobInc, a.TaskID)
	e.deps[k] = nil
	for _, d := range a.DependsOn {
		e.deps[k] = append(e.deps[k], jobTask(a.JobID, a.JobInc, d))
	}
	e.completed[k], e.blocking[k] = false, false // a task added again under its id runs again
	e.update(ctx)
}

func (e *eventuallyDone) completedTask(ctx *actor.Context, c TaskCompleted) {
	if e.deps == nil {
		e.deps, e.completed, e.blocking = map[string][]string{}, map[string]bool{}, map[string]bool{}
	}
	e.completed[jobTask(c.JobID, c.JobInc, c.TaskID)] = true
	e.blocking[jobTask(c.JobID, c.JobInc, c.TaskID)] = !c.Satisfies
	e.update(ctx)
}

// jobEnded reports whether task id (jobTask) belongs to a life of a job that completed.
func (e *eventuallyDone) jobEnded(id string) bool {
	for life := range e.ended {
		if strings.HasPrefix(id, life) {
			return true
		}
	}
	return false
}

func (e *eventuallyDone) blocked(id string, depth int) bool {
	if depth > len(e.deps) {
		return false
	}
	for _, d := range e.deps[id] {
		if e.blocking[d] || (!e.completed[d] && e.blocked(d, depth+1)) {
			return true
		}
	}
	return false
}

func (e *eventuallyDone) update(ctx *actor.Context) {
	for id := range e.deps {
		if !e.completed[id] && !e.blocked(id, 0) && !e.jobEnded(id) {
			ctx.Goto("Pending")
			return
		}
	}
	ctx.Goto("Idle")
}

// client drives the API: it adds a pool, a job and the job's tasks, each request repeated until
// answered (an "exists" answer to a repeat means the first one got through).
type client struct {
	reqs  []actor.Event
	next  int
	retry actor.TimerID
	// lifeOf, if set, names the life a delete is for, as a careful client does with If-Match:
	// a delete delayed on its way must not delete what was added since under the same id. It
	// reports false if it cannot tell now (the store failed).
	lifeOf func(table, id string) (int64, bool)
}

type resend struct{}

// pause makes a client wait a random time, less than Max, before its next request (so that
// the next request finds attempts under way). It is not a request.
type pause struct{ Max time.Duration }

// pauseOver is the client's timer for a pause.
type pauseOver struct{}

// await makes a client wait until Cond holds (checked every 100 ms of virtual time) before its
// next request. It is not a request.
type await struct{ Cond func() bool }

// crashHost makes a client crash a host of the simulation before its next request: the host
// restarts at once with Restart (as a supervisor restarts a killed process), else when the tester
// chooses. It is not a request.
type crashHost struct {
	Sim     *systest.Sim
	Host    string
	Restart bool
}

// clientDone is announced when a client has had every request answered.
type clientDone struct{}

// newClient makes a client that sends reqs in order, each under its index as request id.
func newClient(reqs ...actor.Event) *client {
	c := &client{}
	for i, ev := range reqs {
		c.reqs = append(c.reqs, withRequest(ev, Request{ID: fmt.Sprint(i), ReplyTo: "client"}))
	}
	return c
}

// withRequest sets the Request of a request to the service (a pause is no request).
func withRequest(ev actor.Event, req Request) actor.Event {
	switch r := ev.(type) {
	case AddPool:
		r.Request = req
		ev = r
	case AddJob:
		r.Request = req
		ev = r
	case AddTasks:
		r.Request = req
		ev = r
	case DeleteTask:
		r.Request = req
		ev = r
	case UpdateTask:
		r.Request = req
		ev = r
	case DisableJob:
		r.Request = req
		ev = r
	case EnableJob:
		r.Request = req
		ev = r
	case ReactivateTask:
		r.Request = req
		ev = r
	case PatchJob:
		r.Request = req
		ev = r
	case PatchPool:
		r.Request = req
		ev = r
	case DeleteJob:
		r.Request = req
		ev = r
	case DeletePool:
		r.Request = req
		ev = r
	case ResizePool:
		r.Request = req
		ev = r
	case StopResizePool:
		r.Request = req
		ev = r
	case RemoveNodes:
		r.Request = req
		ev = r
	case DisableNodeScheduling:
		r.Request = req
		ev = r
	case EnableNodeScheduling:
		r.Request = req
		ev = r
	case AddJobSchedule:
		r.Request = req
		ev = r
	case PatchJobSchedule:
		r.Request = req
		ev = r
	case DisableJobSchedule:
		r.Request = req
		ev = r
	case EnableJobSchedule:
		r.Request = req
		ev = r
	case TerminateJobSchedule:
		r.Request = req
		ev = r
	case DeleteJobSchedule:
		r.Request = req
		ev = r
	case RestartComputeNode:
		r.Request = req
		ev = r
	case TerminateTask:
		r.Request = req
		ev = r
	case TerminateJob:
		r.Request = req
		ev = r
	case pause, await, crashHost:
	default:
		panic(fmt.Sprintf("withRequest: no request id for %T", ev))
	}
	return ev
}

// send sends the current request, or waits out the current pause.
func (c *client) send(ctx *actor.Context) {
	switch p := c.reqs[c.next].(type) {
	case pause:
		ticks := int(p.Max / (100 * time.Millisecond))
		ctx.StartTimer(time.Duration(ctx.RandomInt(max(ticks, 1)))*100*time.Millisecond, pauseOver{})
		return
	case await:
		if !p.Cond() {
			ctx.StartTimer(100*time.Millisecond, pauseOver{})
			return
		}
		c.advance(ctx)
		return
	case crashHost:
		ctx.Assert(p.Sim.CrashHost(p.Host) == nil, "crash %s", p.Host)
		if p.Restart {
			ctx.Assert(p.Sim.RestartHost(p.Host) == nil, "restart %s", p.Host)
		}
		c.advance(ctx)
		return
	}
	ev := c.reqs[c.next]
	if c.lifeOf != nil {
		ok := true
		switch r := ev.(type) {
		case DeletePool:
			if r.Inc == 0 {
				r.Inc, ok = c.lifeOf(tablePools, r.PoolID)
				c.reqs[c.next] = r
			}
		case DeleteJob:
			if r.Inc == 0 {
				r.Inc, ok = c.lifeOf(tableJobs, r.JobID)
				c.reqs[c.next] = r
			}
		}
		if !ok {
			return // the resend timer tries again
		}
		ev = c.reqs[c.next]
	}
	ctx.Send(AccountID, ev)
}

// advance goes on to the next request, or ends.
func (c *client) advance(ctx *actor.Context) {
	c.next++
	if c.next == len(c.reqs) {
		ctx.CancelTimer(c.retry)
		ctx.Announce(clientDone{})
		ctx.Goto("Done")
		return
	}
	if r, ok := c.reqs[c.next].(EnableJobSchedule); ok {
		ctx.Announce(scheduleAcked{ID: r.JobScheduleID, What: "enabling"})
	}
	c.send(ctx)
}

func (c *client) Define(m *actor.Machine) {
	m.State("Asking",
		actor.OnEntry(func(ctx *actor.Context) {
			c.send(ctx)
			c.retry = ctx.StartPeriodicTimer(5*time.Second, 5*time.Second, resend{})
		}),
		actor.On(func(ctx *actor.Context, _ resend) {
			switch c.reqs[c.next].(type) {
			case pause, await, crashHost:
			default:
				c.send(ctx)
			}
		}),
		actor.On(func(ctx *actor.Context, _ pauseOver) {
			if _, ok := c.reqs[c.next].(await); ok {
				c.send(ctx) // checks again
				return
			}
			c.advance(ctx)
		}),
		actor.On(func(ctx *actor.Context, r Reply) {
			if r.RequestID != fmt.Sprint(c.next) {
				return // an answer to a repeat of an earlier request
			}
			// A repeated request may find its first copy's work done: an add finds the entity,
			// a delete finds it gone.
			ok := r.Err == nil || r.Err.Code == "PoolExists" || r.Err.Code == "JobExists" ||
				r.Err.Code == "JobNotFound" || r.Err.Code == "TaskNotFound" || r.Err.Code == "PoolNotFound" ||
				r.Err.Code == batch.CodeJobScheduleExists || r.Err.Code == batch.CodeJobScheduleNotFound ||
				r.Err.Code == "NodeBeingRebooted" || r.Err.Code == "NodeBeingReimaged"
			if _, term := c.reqs[c.next].(TerminateJobSchedule); term && r.Err != nil && r.Err.Code == batch.CodeJobScheduleCompleted {
				ok = true // a repeat that finds the schedule its first copy terminated
			}
			switch c.reqs[c.next].(type) {
			case PatchJob, TerminateJob:
				if r.Err != nil && r.Err.Code == "JobCompleted" {
					ok = true // a repeat that finds the job its first copy completed
				}
			}
			busy := r.Err != nil && (r.Err.Code == "ServerBusy" || r.Err.Code == batch.CodePoolBeingResized ||
				r.Err.Code == batch.CodeJobBeingDeleted || r.Err.Code == batch.CodePoolBeingDeleted ||
				r.Err.Code == batch.CodeJobScheduleBeingDeleted || r.Err.Code == "NodeBeingCreated")
			if _, reactivate := c.reqs[c.next].(ReactivateTask); reactivate && r.Err != nil && (r.Err.Code == "TaskNotCompleted" || r.Err.Code == "TaskSucceeded") {
				ok = true // the task did not fail (yet), or a repeat found it reactivated by its first copy
			}
			if _, enable := c.reqs[c.next].(EnableJob); enable && r.Err != nil && r.Err.Code == batch.CodeOperationInvalidForCurrentState {
				busy = true // the job is still disabling: enable it once it is disabled
			}
			for _, t := range r.Tasks {
				ok = ok && (t.Err == nil || t.Err.Code == "TaskExists")
				busy = busy || (t.Err != nil && t.Err.Code == "ServerBusy")
			}
			ctx.Assert(ok || busy, "request %d failed: %+v", c.next, r)
			if !ok {
				return
			}
			if d, isDisable := c.reqs[c.next].(DisableJob); isDisable {
				ctx.Announce(jobDisableAcked{JobID: d.JobID})
			}
			if p, isPatch := c.reqs[c.next].(PatchJob); isPatch && p.PoolID != "" {
				ctx.Announce(jobMoved{JobID: p.JobID, PoolID: p.PoolID})
			}
			switch r := c.reqs[c.next].(type) {
			case DisableJobSchedule:
				ctx.Announce(scheduleAcked{ID: r.JobScheduleID, What: "disabled"})
			case TerminateJobSchedule:
				ctx.Announce(scheduleAcked{ID: r.JobScheduleID, What: "terminated"})
			case DeleteJobSchedule:
				ctx.Announce(scheduleAcked{ID: r.JobScheduleID, What: "deleted"})
			}
			if p, isPatch := c.reqs[c.next].(PatchJob); isPatch {
				ctx.Announce(jobPatched{JobID: p.JobID, OnAllTasksComplete: p.OnAllTasksComplete})
			}
			if p, isPatch := c.reqs[c.next].(PatchPool); isPatch && p.Metadata != nil {
				ctx.Announce(poolPatched{PoolID: p.PoolID, Metadata: *p.Metadata})
			}
			switch r := c.reqs[c.next].(type) {
			case TerminateTask:
				ctx.Announce(killAcked{JobID: r.JobID, TaskID: r.TaskID})
			case TerminateJob:
				ctx.Announce(killAcked{JobID: r.JobID})
			case DeleteJob:
				ctx.Announce(killAcked{JobID: r.JobID})
			}
			if add, isAdd := c.reqs[c.next].(AddTasks); isAdd {
				ids := make([]string, len(add.Tasks))
				for i, t := range add.Tasks {
					ids[i] = t.ID
				}
				ctx.Announce(tasksAcked{JobID: add.JobID, TaskIDs: ids})
			}
			c.advance(ctx)
		}),
		actor.Targets("Done"))
	m.State("Done", actor.Ignore[Reply](), actor.Ignore[resend](), actor.Ignore[pauseOver]())
}

// The pools of these programs keep Azure's default resizeTimeout of 15 minutes. The monitor
// eventuallyDone expects the pool to get its nodes, which a timed-out resize may leave it without;
// the provider model answers within seconds of virtual time, and the tests weigh clock steps
// (ClockProbability), so a resize here times out only if the service loses track of it. A resize
// that does time out, against a slow provider, is in resize_timeout_test.go.

// diamond is a small DAG: t1; t2 and t3 after t1; t4 after t2 and t3; t5 alone; t6 after t4 and t5.
func diamond() []batch.Task {
	deps := map[string][]string{"t2": {"t1"}, "t3": {"t1"}, "t4": {"t2", "t3"}, "t6": {"t4", "t5"}}
	var tasks []batch.Task
	for i := 1; i <= 6; i++ {
		id := fmt.Sprintf("t%d", i)
		t := batch.Task{ID: id, CommandLine: "/bin/true"}
		if d := deps[id]; d != nil {
			t.DependsOn = &batch.TaskDependencies{TaskIDs: d}
		}
		tasks = append(tasks, t)
	}
	return tasks
}

// serviceProgram is the whole service on a crashable host, a provider model whose nodes run agent
// models, and a client that adds a pool of two nodes, a job and its tasks. retries is the job's
// maxTaskRetryCount and exitCodes what the agents' attempts may exit with.
func serviceProgram(exitCodes []int, retries int32, more ...actor.Event) func(*systest.Sim) {
	return serviceProgramStore(false, exitCodes, retries, more...)
}

// serviceProgramStore is serviceProgram; with storeFails, the store fails when the tester says so
// (Faults.ModelFailures).
func serviceProgramStore(storeFails bool, exitCodes []int, retries int32, more ...actor.Event) func(*systest.Sim) {
	return serviceProgramOn("p1", storeFails, exitCodes, retries, more...)
}

// serviceProgramOn is serviceProgramStore with the job naming its pool (p1) as jobPool.
func serviceProgramOn(jobPool string, storeFails bool, exitCodes []int, retries int32, more ...actor.Event) func(*systest.Sim) {
	return func(s *systest.Sim) {
		s.Monitor(&depsFirst{})
		s.Monitor(&completedOnce{})
		s.Monitor(&eventuallyDone{})
		st := memstore.New()
		s.Monitor(&countsKept{st: st})
		s.Monitor(&deletionsFinish{st: st})
		if !storeFails {
			// A write reported failed may have committed: the starts the monitor counts would
			// not be all the attempts recorded.
			s.Monitor(&nodesShowWork{st: st, pool: "p1", whole: len(more) == 0, allSucceed: len(exitCodes) == 0})
			s.Monitor(&statsCountEveryTask{st: st})
			s.Monitor(&jobStatsCountTasks{st: st})
			s.Monitor(&poolUsageCountsNodes{st: st})
		}
		if storeFails {
			st.Fail = s.Fail // reads too: what the actors load is retried
		}
		cfg := Config{Store: st, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}}
		runService(s, cfg, model.Provider{ExitCodes: exitCodes, Failures: true})
		two, slots, yes := int32(2), int32(2), true
		s.Create("client", newClient(append([]actor.Event{
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two, TaskSlotsPerNode: &slots}},
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: jobPool}, UsesTaskDependencies: &yes,
				Constraints: &batch.JobConstraints{MaxTaskRetryCount: &retries}}},
			AddTasks{JobID: "j1", Tasks: diamond()},
		}, more...)...))
	}
}

func TestServiceRunsDAG(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05},
		serviceProgram(nil, 0))
}

func TestServiceFailuresAndRetries(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05},
		serviceProgram([]int{0, 1}, 1))
}

func TestServiceSurvivesCrashes(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 2, CrashHosts: []string{"service"}}}, serviceProgram([]int{0, 1}, 1))
}

func TestServiceUnderLinkFaultsAndCrashes(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}, Drops: 2, Duplicates: 2, Delays: 2}}, serviceProgram([]int{0, 1}, 1))
}

// The store fails now and then (an update refused, or committed with its acknowledgement lost):
// the job managers' batched writes are restored and retried by the reports that caused them.
func TestServiceStoreFailures(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{ModelFailures: 3, Crashes: 1, CrashHosts: []string{"service"}}}, serviceProgramStore(true, []int{0, 1}, 1))
}

func TestServiceDeletes(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}}},
		serviceProgram([]int{0, 1}, 1, DeleteTask{JobID: "j1", TaskID: "t6"}, DeleteJob{JobID: "j1"}, DeletePool{PoolID: "p1"}))
}

// Pool ids are case-insensitive: a job that names pool p1 as P1 runs on it, and after a crash its
// running attempts are found on their nodes.
func TestServiceJobNamesPoolInAnotherCase(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}}}, serviceProgramOn("P1", false, []int{0, 1}, 1))
}

// A job may name a pool that does not exist yet; its tasks wait, and run once the pool is added.
func TestServiceJobBeforePool(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}}}, func(s *systest.Sim) {
		dagService(s, model.Provider{})
		two, yes := int32(2), true
		s.Create("client", newClient([]actor.Event{
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes}},
			AddTasks{JobID: "j1", Tasks: diamond()},
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two}},
		}...))
	})
}

// runService puts a provider model on host "cloud" (a fresh copy of p, with the service's agent
// and session ids, at every boot of the host) and the service on host "service".
func runService(s *systest.Sim, cfg Config, p model.Provider) {
	p.AgentID, p.SessionID = AgentID, NodeSessionID
	s.AddHost("cloud", func(h actor.Host) error {
		prov := p
		_, err := h.Create(string(compute.ProviderID), &prov)
		return err
	})
	s.AddHost("service", func(h actor.Host) error { return Boot(h, cfg) })
}

// dagService watches a run with the monitors of every DAG program (depsFirst, completedOnce,
// eventuallyDone) and runs the service over a new in-memory store with the provider model p.
func dagService(s *systest.Sim, p model.Provider) {
	dagServiceStore(s, false, p)
}

// dagServiceStore is dagService; with storeFails, the store fails when the tester says so
// (Faults.ModelFailures).
func dagServiceStore(s *systest.Sim, storeFails bool, p model.Provider) {
	s.Monitor(&depsFirst{})
	s.Monitor(&completedOnce{})
	s.Monitor(&eventuallyDone{})
	st := memstore.New()
	if storeFails {
		st.Fail = s.Fail // reads too: what the actors load is retried
	}
	runService(s, Config{Store: st, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}}, p)
}
