package service

import (
	"fmt"
	"testing"
	"time"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/service/model"
	"corral/store/memstore"
)

// The specifications of the service, as monitors over what the job managers announce.

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
			d.deps[e.JobID+"/"+e.TaskID] = e.DependsOn
		}),
		actor.On(func(ctx *actor.Context, e TaskStarted) {
			for _, dep := range d.deps[e.JobID+"/"+e.TaskID] {
				ctx.Assert(d.done[e.JobID+"/"+dep], "task %s started (attempt %s) before its dependency %s completed", e.TaskID, e.AttemptID, dep)
			}
		}),
		actor.On(func(ctx *actor.Context, e TaskCompleted) {
			if e.Satisfies {
				d.done[e.JobID+"/"+e.TaskID] = true
			}
		}))
}

// completedOnce asserts that no task is recorded completed twice.
type completedOnce struct{ seen map[string]bool }

func (c *completedOnce) Define(m *actor.Machine) {
	m.State("Watching", actor.On(func(ctx *actor.Context, e TaskCompleted) {
		if c.seen == nil {
			c.seen = map[string]bool{}
		}
		k := e.JobID + "/" + e.TaskID
		ctx.Assert(!c.seen[k], "task %s completed twice", k)
		c.seen[k] = true
	}), actor.Ignore[TaskAdded](), actor.Ignore[TaskStarted]())
}

// eventuallyDone is hot while some added task that can still run (no dependency of it, directly
// or through others, completed with dependencyAction block) has not completed: with nodes in the
// pool, every ready task eventually completes.
type eventuallyDone struct {
	deps      map[string][]string
	completed map[string]bool
	blocking  map[string]bool
}

func (e *eventuallyDone) Define(m *actor.Machine) {
	m.State("Idle", actor.Temp(actor.Cold),
		actor.On(e.added), actor.On(e.completedTask), actor.Ignore[TaskStarted](), actor.Targets("Pending"))
	m.State("Pending", actor.Temp(actor.Hot),
		actor.On(e.added), actor.On(e.completedTask), actor.Ignore[TaskStarted](), actor.Targets("Idle"))
}

func (e *eventuallyDone) added(ctx *actor.Context, a TaskAdded) {
	if e.deps == nil {
		e.deps, e.completed, e.blocking = map[string][]string{}, map[string]bool{}, map[string]bool{}
	}
	e.deps[a.TaskID] = a.DependsOn
	e.update(ctx)
}

func (e *eventuallyDone) completedTask(ctx *actor.Context, c TaskCompleted) {
	e.completed[c.TaskID] = true
	e.blocking[c.TaskID] = !c.Satisfies
	e.update(ctx)
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
		if !e.completed[id] && !e.blocked(id, 0) {
			ctx.Goto("Pending")
			return
		}
	}
	ctx.Goto("Idle")
}

// submitter adds the tasks of a job, retrying until the service acknowledges them.
type submitter struct {
	job   string
	tasks []batch.Task
	retry actor.TimerID
}

type resubmit struct{}

func (s *submitter) Define(m *actor.Machine) {
	send := func(ctx *actor.Context) {
		ctx.Send(JobManagerID(s.job), addTasks{RequestID: "r1", ReplyTo: ctx.Self(), Tasks: s.tasks})
	}
	m.State("Submitting",
		actor.OnEntry(func(ctx *actor.Context) {
			send(ctx)
			s.retry = ctx.StartPeriodicTimer(5*time.Second, 5*time.Second, resubmit{})
		}),
		actor.On(func(ctx *actor.Context, _ resubmit) { send(ctx) }),
		actor.On(func(ctx *actor.Context, a tasksAdded) {
			// TaskExists: an earlier attempt of the same request got through.
			if a.Err == nil || a.Err.Code == "TaskExists" {
				ctx.CancelTimer(s.retry)
				ctx.Goto("Done")
			}
		}),
		actor.Targets("Done"))
	m.State("Done", actor.Ignore[tasksAdded](), actor.Ignore[resubmit]())
}

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

// serviceProgram is the whole service on a crashable host, two nodes with agent models, and a
// client adding a job's tasks; retries is the job's maxTaskRetryCount and exitCodes what the
// agents' attempts may exit with.
func serviceProgram(exitCodes []int, retries int32) func(*systest.Sim) {
	return func(s *systest.Sim) {
		s.Monitor(&depsFirst{})
		s.Monitor(&completedOnce{})
		s.Monitor(&eventuallyDone{})
		st := memstore.New()
		yes := true
		job := batch.NewJob(batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes,
			Constraints: &batch.JobConstraints{MaxTaskRetryCount: &retries}}, s.Now())
		if err := PutJob(st, job); err != nil {
			panic(err)
		}
		cfg := Config{Store: st, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second},
			Pools: []PoolConfig{{ID: "p1", SlotsPerNode: 2, Nodes: []string{"n1", "n2"}}}}
		s.AddHost("service", func(h actor.Host) error { return Boot(h, cfg) })
		for _, n := range []string{"n1", "n2"} {
			s.AddHost(n, func(h actor.Host) error {
				_, err := h.Create(string(AgentID(n)), &model.Agent{NodeID: n, Session: NodeSessionID("p1", n), ExitCodes: exitCodes})
				return err
			})
		}
		s.Create("client", &submitter{job: "j1", tasks: diamond()})
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
		Faults: systest.Faults{Crashes: 2}}, serviceProgram([]int{0, 1}, 1))
}

func TestServiceUnderLinkFaultsAndCrashes(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 1, Drops: 2, Duplicates: 2, Delays: 2}}, serviceProgram([]int{0, 1}, 1))
}
