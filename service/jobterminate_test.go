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

// jobEndLeavesWaiting is the specification of a job's end on Azure's terms: the job's end
// terminates what runs on nodes (or is queued there) and leaves the tasks that wait for a node
// active; once the job has finished, none of its tasks starts or is queued; and a task left
// active that Task - Terminate names (terminated) completes. The client of the test terminates
// no task before the job ends.
type jobEndLeavesWaiting struct {
	terminated string          // the task the client terminates once the job has ended
	onNode     map[string]bool // jobTask: started or queued on a node in this life
	ended      map[string]bool // jobTask(job, inc, ""): lives of jobs that finished
}

func (w *jobEndLeavesWaiting) init() {
	if w.onNode == nil {
		w.onNode, w.ended = map[string]bool{}, map[string]bool{}
	}
}

func (w *jobEndLeavesWaiting) Define(m *actor.Machine) {
	placed := func(ctx *actor.Context, jobID string, inc int64, taskID string) {
		w.init()
		ctx.Assert(!w.ended[jobTask(jobID, inc, "")], "task %s of job %s placed on a node after the job finished", taskID, jobID)
		w.onNode[jobTask(jobID, inc, taskID)] = true
	}
	completed := func(ctx *actor.Context, e TaskCompleted) {
		w.init()
		k := jobTask(e.JobID, e.JobInc, e.TaskID)
		if !w.ended[jobTask(e.JobID, e.JobInc, "")] {
			ctx.Assert(w.onNode[k], "task %s completed before the job's end without having been placed on a node", e.TaskID)
		}
		if e.TaskID == w.terminated {
			ctx.Goto("Done")
		}
	}
	handlers := []actor.StateOption{
		actor.On(func(ctx *actor.Context, e TaskStarted) { placed(ctx, e.JobID, e.JobInc, e.TaskID) }),
		actor.On(func(ctx *actor.Context, e TaskQueued) { placed(ctx, e.JobID, e.JobInc, e.TaskID) }),
		actor.On(completed),
		actor.On(func(ctx *actor.Context, e TaskRecovered) {
			w.init()
			if e.Completed {
				// Its completion may be one the monitor did not see (a write reported failed
				// that committed): it was placed, or it would not have completed.
				w.onNode[jobTask(e.JobID, e.JobInc, e.TaskID)] = true
				if e.TaskID == w.terminated {
					ctx.Goto("Done")
				}
			}
		}),
		actor.On(func(ctx *actor.Context, e JobFinished) { w.init(); w.ended[jobTask(e.JobID, e.JobInc, "")] = true }),
	}
	m.State("Waiting", append([]actor.StateOption{actor.Temp(actor.Hot), actor.Targets("Done")}, handlers...)...)
	m.State("Done", handlers...)
}

// A job of one node and one slot runs its first tasks and is terminated while the others wait:
// what runs is terminated, what waits stays active and is never placed, and a waiting task that
// Task - Terminate names then completes, through a crash of the service, a store that fails, and
// lost and late messages.
func TestJobEndLeavesWaitingTasksActive(t *testing.T) {
	var tasks []batch.Task
	for _, id := range []string{"a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"} {
		tasks = append(tasks, batch.Task{ID: id, CommandLine: "/bin/true"})
	}
	systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 4000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{ModelFailures: 2, Crashes: 1, CrashHosts: []string{"service"}, Drops: 1, Delays: 1}},
		func(s *systest.Sim) {
			st := memstore.New()
			st.Fail = s.Fail
			s.Monitor(&jobEndLeavesWaiting{terminated: "a7"})
			s.Monitor(&countsKept{st: st})
			s.Monitor(&completedOnce{})
			s.Monitor(&eventuallyDone{})
			runService(s, Config{Store: st, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}},
				model.Provider{Failures: true})
			one := int32(1)
			s.Create("client", newClient(
				AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &one, TaskSlotsPerNode: &one}},
				AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}}},
				AddTasks{JobID: "j1", Tasks: tasks},
				pause{Max: 600 * time.Millisecond},
				TerminateJob{JobID: "j1"},
				TerminateTask{JobID: "j1", TaskID: "a7"},
			))
		})
}
