package service

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/service/model"
	"corral/store"
	"corral/store/memstore"
)

// The specification of kept task counts.

// peek reads st for a monitor, with its failures off: a monitor's own read is not one the
// tester may fail.
func peek(st *memstore.Store, fn func(tx store.Tx) error) error {
	fail := st.Fail
	st.Fail = nil
	defer func() { st.Fail = fail }()
	return st.View(context.Background(), fn)
}

// countsKept is the specification of Job - Get Task Counts: at every announcement, each job's
// kept counts (tableJobCounts) are those of its life and equal a count of the job's tasks in the
// store, whatever failed or crashed before; a job that has had tasks added has its counts kept;
// and no counts outlive their job.
type countsKept struct{ st *memstore.Store }

func (m *countsKept) Define(d *actor.Machine) {
	d.State("Watching", actor.OnAny(func(ctx *actor.Context, ev actor.Event) {
		err := peek(m.st, func(tx store.Tx) error {
			if a, ok := ev.(TaskAdded); ok {
				var jr jobRecord
				err := getJSON(tx, tableJobs, batch.IDKey(a.JobID), &jr)
				if err == nil && jr.Incarnation == a.JobInc {
					_, err := tx.Get(tableJobCounts, batch.IDKey(a.JobID))
					ctx.Assert(err == nil, "job %s#%d has a task added (%s) and no counts kept: %v", a.JobID, a.JobInc, a.TaskID, err)
				}
			}
			rs, err := tx.List(tableJobCounts, "", "", 0)
			if err != nil {
				return err
			}
			for _, r := range rs {
				var kept jobCountsRecord
				if err := json.Unmarshal(r.Value, &kept); err != nil {
					return err
				}
				var jr jobRecord
				err := getJSON(tx, tableJobs, r.Key, &jr)
				ctx.Assert(err == nil, "the counts of job %s (life %d) outlive the job: %v", r.Key, kept.Incarnation, err)
				ctx.Assert(jr.Incarnation == kept.Incarnation, "job %s is life %d; its counts are kept for life %d", r.Key, jr.Incarnation, kept.Incarnation)
				counted, err := countTasks(tx, r.Key)
				if err != nil {
					return err
				}
				ctx.Assert(kept.Counts == counted, "job %s#%d: counts kept %+v, tasks in the store %+v", r.Key, kept.Incarnation, kept.Counts, counted)
			}
			return nil
		})
		ctx.Assert(err == nil, "read the store: %v", err)
	}))
}

// countsProgram runs the service over st (failing when the tester says so, with storeFails), with
// the monitor of kept counts beside those of every DAG program,
// and a client that sends reqs after adding pool p1 (two nodes of two slots) and job j1 (one
// retry) with the diamond DAG. Attempts exit with exitCodes.
func countsProgram(storeFails bool, exitCodes []int, reqs ...actor.Event) func(*systest.Sim) {
	return func(s *systest.Sim) {
		st := memstore.New()
		s.Monitor(&countsKept{st: st})
		s.Monitor(&depsFirst{})
		s.Monitor(&completedOnce{})
		s.Monitor(&eventuallyDone{})
		if storeFails {
			st.Fail = s.Fail
		}
		runService(s, Config{Store: st, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}},
			model.Provider{ExitCodes: exitCodes, Failures: true})
		two, one, yes := int32(2), int32(1), true
		s.Create("client", newClient(append([]actor.Event{
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two, TaskSlotsPerNode: &two}},
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes,
				Constraints: &batch.JobConstraints{MaxTaskRetryCount: &one}}},
			AddTasks{JobID: "j1", Tasks: diamond()},
		}, reqs...)...))
	}
}

// Every path that changes a task's state (add, start, end, retry, requeue by a disable, terminate,
// reactivate, update, delete, a job terminated) under crashes of the service and a
// store that fails (an update refused, or committed with its acknowledgement lost): the counts
// kept equal a count of the tasks at every step.
func TestServiceCountsKept(t *testing.T) {
	three := int32(3)
	more := []batch.Task{{ID: "t7", CommandLine: "/bin/true"}, {ID: "t8", CommandLine: "/bin/true", RequiredSlots: batch.Ptr(int32(2))}}
	systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 4000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{ModelFailures: 3, Crashes: 1, CrashHosts: []string{"service"}}},
		countsProgram(true, []int{0, 1},
			pause{Max: 2 * time.Second},
			DisableJob{JobID: "j1", DisableTasks: batch.DisableRequeue},
			EnableJob{JobID: "j1"},
			ReactivateTask{JobID: "j1", TaskID: "t1"},
			TerminateTask{JobID: "j1", TaskID: "t5"},
			UpdateTask{JobID: "j1", TaskID: "t6", Constraints: &batch.TaskConstraints{MaxTaskRetryCount: &three}},
			AddTasks{JobID: "j1", Tasks: more},
			pause{Max: 2 * time.Second},
			DeleteTask{JobID: "j1", TaskID: "t6"},
			AddJob{Job: batch.Job{ID: "j2", PoolInfo: batch.PoolInformation{PoolID: "p1"}}},
			AddTasks{JobID: "j2", Tasks: []batch.Task{{ID: "a", CommandLine: "/bin/true"}, {ID: "b", CommandLine: "/bin/true"}}},
			TerminateJob{JobID: "j2"},
		))
}
