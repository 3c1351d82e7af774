package service

import (
	"context"
	"encoding/json"
	"errors"
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

// The specifications of kept task counts and of jobs deleted in the background.

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

// deletionsFinish is hot while a life of a job recorded deleting (JobDeleted) still has its record
// in the store: every deletion finishes, crashes or not. And when a life is gone (JobGone), none
// of its records is left: no task under the job's id, no kept counts, no attempt record.
type deletionsFinish struct {
	st      *memstore.Store
	waiting map[string]jobLife // by jobKey
}

func (m *deletionsFinish) Define(d *actor.Machine) {
	watch := actor.OnAny(func(ctx *actor.Context, ev actor.Event) {
		if m.waiting == nil {
			m.waiting = map[string]jobLife{}
		}
		switch e := ev.(type) {
		case JobDeleted:
			m.waiting[jobKey(e.JobID, e.JobInc)] = jobLife{ID: e.JobID, Inc: e.JobInc}
		case JobGone:
			m.checkGone(ctx, e)
		}
		for _, k := range sortedKeys(m.waiting) {
			l := m.waiting[k]
			var jr jobRecord
			err := peek(m.st, func(tx store.Tx) error { return getJSON(tx, tableJobs, batch.IDKey(l.ID), &jr) })
			switch {
			case errors.Is(err, store.ErrNotFound) || err == nil && jr.Incarnation != l.Inc:
				delete(m.waiting, k)
			case err != nil:
				ctx.Assert(false, "read job %s: %v", l.ID, err)
			default:
				ctx.Assert(jr.Job.State == batch.JobDeleting, "job %s was recorded deleting and is %s", k, jr.Job.State)
			}
		}
		if len(m.waiting) > 0 {
			ctx.Goto("Deleting")
		} else {
			ctx.Goto("Idle")
		}
	})
	d.State("Idle", actor.Temp(actor.Cold), watch, actor.Targets("Deleting"))
	d.State("Deleting", actor.Temp(actor.Hot), watch, actor.Targets("Idle"))
}

// checkGone asserts that nothing of a life of a job is left in the store when it is announced
// gone (before the account hears of it, so no job of the id can have been added again).
func (m *deletionsFinish) checkGone(ctx *actor.Context, e JobGone) {
	key := batch.IDKey(e.JobID)
	err := peek(m.st, func(tx store.Tx) error {
		_, err := tx.Get(tableJobs, key)
		ctx.Assert(errors.Is(err, store.ErrNotFound), "job %s#%d is gone and its record is not: %v", e.JobID, e.JobInc, err)
		_, err = tx.Get(tableJobCounts, key)
		ctx.Assert(errors.Is(err, store.ErrNotFound), "job %s#%d is gone and its counts are not: %v", e.JobID, e.JobInc, err)
		n, err := tx.Count(tableTasks, key+"/")
		if err != nil {
			return err
		}
		ctx.Assert(n == 0, "job %s#%d is gone and %d of its tasks are left", e.JobID, e.JobInc, n)
		rs, err := tx.List(tableAttempts, "", "", 0)
		if err != nil {
			return err
		}
		for _, r := range rs {
			var a attemptRef
			if err := json.Unmarshal(r.Value, &a); err != nil {
				return err
			}
			ctx.Assert(batch.IDKey(a.JobID) != key || a.JobInc != e.JobInc, "job %s#%d is gone and its attempt %s is left", e.JobID, e.JobInc, r.Key)
		}
		return nil
	})
	ctx.Assert(err == nil, "read the store: %v", err)
}

// countsProgram runs the service over st (failing when the tester says so, with storeFails), with
// DeleteChunk chunk, the monitors of kept counts and deletions beside those of every DAG program,
// and a client that sends reqs after adding pool p1 (two nodes of two slots) and job j1 (one
// retry) with the diamond DAG. Attempts exit with exitCodes.
func countsProgram(storeFails bool, chunk int, exitCodes []int, reqs ...actor.Event) func(*systest.Sim) {
	return func(s *systest.Sim) {
		st := memstore.New()
		s.Monitor(&countsKept{st: st})
		s.Monitor(&deletionsFinish{st: st})
		s.Monitor(&depsFirst{})
		s.Monitor(&completedOnce{})
		s.Monitor(&eventuallyDone{})
		if storeFails {
			st.Fail = s.Fail
		}
		runService(s, Config{Store: st, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}, DeleteChunk: chunk},
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
// reactivate, update, delete, a job terminated, a job deleted) under crashes of the service and a
// store that fails (an update refused, or committed with its acknowledgement lost): the counts
// kept equal a count of the tasks at every step.
func TestServiceCountsKept(t *testing.T) {
	three := int32(3)
	more := []batch.Task{{ID: "t7", CommandLine: "/bin/true"}, {ID: "t8", CommandLine: "/bin/true", RequiredSlots: batch.Ptr(int32(2))}}
	systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 4000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{ModelFailures: 3, Crashes: 1, CrashHosts: []string{"service"}}},
		countsProgram(true, 0, []int{0, 1},
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
			DeleteJob{JobID: "j1"},
		))
}

// manyTasks is n independent tasks.
func manyTasks(n int) []batch.Task {
	tasks := make([]batch.Task, n)
	for i := range tasks {
		tasks[i] = batch.Task{ID: fmt.Sprintf("m%d", i), CommandLine: "/bin/true"}
	}
	return tasks
}

// A job of 15 tasks, some running, is deleted two tasks per transaction while the service crashes
// (twice) and the store fails: the deletion resumes after each restart and finishes, nothing of
// the job is left, the counts follow the tasks throughout, and the job's id, refused with
// JobBeingDeleted meanwhile, is free again once it is gone.
func TestServiceDeletionResumes(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 4000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{ModelFailures: 2, Crashes: 2, CrashHosts: []string{"service"}}},
		countsProgram(true, 2, nil,
			AddTasks{JobID: "j1", Tasks: manyTasks(9)},
			pause{Max: time.Second},
			DeleteJob{JobID: "j1"},
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}}},
			AddTasks{JobID: "j1", Tasks: manyTasks(2)},
		))
}
