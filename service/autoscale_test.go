package service

import (
	"strings"
	"testing"
	"time"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/service/model"
	"corral/store/memstore"
)

// The specifications of autoscale and preemption, beside those of resizing (pool_test.go) and of
// running tasks (service_test.go).

// noTaskFails asserts that every task completes successfully, in a program whose agents always
// exit 0 and whose job allows no retries: a task whose node was preempted is requeued without
// counting as a retry, so it never fails for it.
type noTaskFails struct{}

func (noTaskFails) Define(m *actor.Machine) {
	m.State("Watching",
		actor.On(func(ctx *actor.Context, e TaskCompleted) {
			ctx.Assert(e.Satisfies, "task %s/%s completed as failed", e.JobID, e.TaskID)
		}),
		actor.On(func(ctx *actor.Context, e TaskRecovered) {
			ctx.Assert(!e.Completed || e.Satisfies, "task %s/%s recovered as failed", e.JobID, e.TaskID)
		}),
		actor.Ignore[TaskAdded](), actor.Ignore[TaskStarted]())
}

// shrinksWhenDone is hot while every task added has completed and a pool still has nodes or is
// not steady: an autoscale pool driven by its pending tasks goes back to zero nodes.
type shrinksWhenDone struct {
	open  map[string]bool // tasks not completed
	pools map[string]PoolAllocation
}

func (s *shrinksWhenDone) init() {
	if s.open == nil {
		s.open, s.pools = map[string]bool{}, map[string]PoolAllocation{}
	}
}

func (s *shrinksWhenDone) update(ctx *actor.Context) {
	busy := len(s.open) == 0
	if busy {
		busy = false
		for _, p := range s.pools {
			if !p.Deleted && (p.Dedicated+p.LowPriority > 0 || p.State != batch.AllocationSteady) {
				busy = true
			}
		}
	}
	if busy {
		ctx.Goto("Shrinking")
	} else {
		ctx.Goto("Settled")
	}
}

func (s *shrinksWhenDone) Define(m *actor.Machine) {
	on := []actor.StateOption{
		actor.On(func(ctx *actor.Context, e TaskAdded) { s.init(); s.open[e.JobID+"/"+e.TaskID] = true; s.update(ctx) }),
		actor.On(func(ctx *actor.Context, e TaskRecovered) {
			s.init()
			if e.Completed {
				delete(s.open, e.JobID+"/"+e.TaskID)
			} else {
				s.open[e.JobID+"/"+e.TaskID] = true
			}
			s.update(ctx)
		}),
		actor.On(func(ctx *actor.Context, e TaskCompleted) {
			s.init()
			delete(s.open, e.JobID+"/"+e.TaskID)
			s.update(ctx)
		}),
		actor.On(func(ctx *actor.Context, e PoolAllocation) { s.init(); s.pools[e.PoolID] = e; s.update(ctx) }),
		actor.Ignore[TaskStarted](), actor.Ignore[PoolNodes](),
	}
	m.State("Settled", append(on, actor.Temp(actor.Cold), actor.Targets("Shrinking"))...)
	m.State("Shrinking", append(on, actor.Temp(actor.Hot), actor.Targets("Settled"))...)
}

// pendingFormula sizes a pool by its pending tasks: one dedicated node while there is work, and
// up to two low-priority nodes more.
const pendingFormula = `$tasks = max($PendingTasks.GetSample(1));
$TargetDedicatedNodes = min(1, $tasks);
$TargetLowPriorityNodes = min(2, max(0, $tasks - 1));
$NodeDeallocationOption = requeue;`

// autoscaleProgram runs a DAG on an autoscale pool whose provider is slow, fails, finishes
// creations after their cancel and preempts low-priority nodes, with a crash of the service.
func autoscaleProgram(s *systest.Sim) { autoscaleProgramWith(pendingFormula)(s) }

// autoscaleProgramWith is autoscaleProgram with another formula.
func autoscaleProgramWith(formula string) func(*systest.Sim) {
	return func(s *systest.Sim) { autoscaleRun(s, formula) }
}

func autoscaleRun(s *systest.Sim, formula string) {
	s.Monitor(&depsFirst{})
	s.Monitor(&completedOnce{})
	s.Monitor(&eventuallyDone{})
	s.Monitor(noTaskFails{})
	s.Monitor(&shrinksWhenDone{})
	s.Monitor(&noLeak{})
	s.Monitor(targetsRespected{})
	st := memstore.New()
	s.Monitor(&poolUsageCountsNodes{st: st})
	cfg := Config{Store: st, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}, AutoScaleMinInterval: 10 * time.Second}
	runService(s, cfg, model.Provider{Failures: true, Slow: true, Stubborn: true, Preemptions: 2})
	yes, none, every := true, int32(0), batch.Duration(10*time.Second)
	s.Create("client", newClient(
		AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", EnableAutoScale: &yes, AutoScaleFormula: formula, AutoScaleEvaluationInterval: &every}},
		AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes,
			Constraints: &batch.JobConstraints{MaxTaskRetryCount: &none}}},
		AddTasks{JobID: "j1", Tasks: diamond()},
	))
}

func TestAutoscaleWithPreemption(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 6000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}}}, autoscaleProgram)
}

// The formula removes nodes with taskcompletion: they drain before their VMs go.
func TestAutoscaleTaskCompletion(t *testing.T) {
	formula := strings.Replace(pendingFormula, "= requeue;", "= taskcompletion;", 1)
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 6000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}}}, autoscaleProgramWith(formula))
}
