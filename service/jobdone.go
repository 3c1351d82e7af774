package service

import (
	"cmp"
	"context"
	"errors"
	"slices"

	"corral/batch"
	"corral/store"
)

// Completed tasks, kept small
//
// A job manager holds the whole record of every task that may still change: it decides retries,
// builds attempts and writes records from it. A completed task changes only by request (Task -
// Reactivate, Update, Delete), and what the job manager decides from it is small: its place in
// the dependency graph, whether its dependents may run, whether it failed (the counts), and its
// Seq and round (the monitors' names for its life). So once the store holds a task completed,
// the job manager keeps only that (doneTask), and reads the record back from the store when a
// request needs the rest (thaw). In a job of many short tasks, almost
// every task is completed most of the time; reads of tasks come from the store, not from here.
//
// A task is made small only once its completion is in the store with no write of it pending or
// in doubt (j.unsure): after a handler ends (compactDone), never under one that may still use
// its record.

// doneTask is what a job manager keeps of a completed task whose record is in the store.
type doneTask struct {
	id        string // as added
	seq       int64
	round     int
	failed    bool // its result is a failure (the counts)
	satisfies bool // its dependents may run (its dependency action is not block)
}

// noteWritten notes that the store holds task key as the job manager does: if it is completed,
// compactDone may make it small.
func (j *jobManager) noteWritten(key string) {
	j.written = append(j.written, key)
}

// compactDone makes small the completed tasks written since it last ran (see "Completed tasks,
// kept small"). It runs at the end of handlers, when no code holds a task's record.
func (j *jobManager) compactDone() {
	written := j.written
	j.written = nil
	for _, key := range written {
		r := j.tasks[key]
		if r == nil || r.Task.State != batch.TaskCompleted || r.NodeID != "" || j.unsure[key] {
			continue
		}
		if j.batch != nil {
			if _, pending := j.batch.before[key]; pending {
				continue // written again by the pending batch: once that is in the store
			}
		}
		j.putDone(key, r)
	}
}

// putDone replaces completed task key's record with its doneTask.
func (j *jobManager) putDone(key string, r *taskRecord) {
	d := doneTask{
		id:        r.Task.ID,
		seq:       r.Seq,
		round:     r.Round,
		failed:    r.Task.ExecutionInfo != nil && r.Task.ExecutionInfo.Result == batch.ResultFailure,
		satisfies: batch.EffectiveExitOptions(r.Task.ExitConditions, exitOf(r.Task)).DependencyAction != batch.DependencyBlock,
	}
	if j.done == nil {
		j.done = map[string]doneTask{}
	}
	j.done[key] = d
	delete(j.tasks, key)
	if d.failed {
		j.doneFailed++
	} else {
		j.doneSucceeded++
	}
}

// has reports whether the job has task key, whole or small.
func (j *jobManager) has(key string) bool {
	if _, ok := j.tasks[key]; ok {
		return true
	}
	_, ok := j.done[key]
	return ok
}

// thaw returns task key's whole record, reading it back from the store if the job manager keeps
// it small; it is nil, with no error, if the job has no such task. The record read is held whole
// again until it is written completed once more.
func (j *jobManager) thaw(key string) (*taskRecord, *batch.Error) {
	if r := j.tasks[key]; r != nil {
		return r, nil
	}
	d, ok := j.done[key]
	if !ok {
		return nil, nil
	}
	r := &taskRecord{}
	err := j.st.View(context.Background(), func(tx store.Tx) error {
		return getJSON(tx, tableTasks, j.taskKey(d.id), r)
	})
	if errors.Is(err, store.ErrNotFound) || (err == nil && r.Seq != d.seq) {
		// Only the job manager writes or deletes its tasks' records.
		return nil, &batch.Error{Code: "InternalError", Message: "The server encountered an internal error: a completed task's record is not in the store as it was written."}
	}
	if err != nil {
		return nil, busy()
	}
	delete(j.done, key)
	if d.failed {
		j.doneFailed--
	} else {
		j.doneSucceeded--
	}
	j.tasks[key] = r
	return r, nil
}

// graphTasks returns the job's tasks as the dependency graph needs them, in the order they were
// added, and its completed tasks with the dependency action of each, in the same order.
func (j *jobManager) graphTasks() (tasks []batch.Task, completed []graphCompletion) {
	type entry struct {
		seq  int64
		task batch.Task
		done *graphCompletion
	}
	entries := make([]entry, 0, len(j.tasks)+len(j.done))
	for _, r := range j.tasks {
		e := entry{seq: r.Seq, task: batch.Task{ID: r.Task.ID, DependsOn: r.Task.DependsOn}}
		if r.Task.State == batch.TaskCompleted {
			e.done = &graphCompletion{id: r.Task.ID, action: batch.EffectiveExitOptions(r.Task.ExitConditions, exitOf(r.Task)).DependencyAction}
		}
		entries = append(entries, e)
	}
	for _, d := range j.done {
		// A completed task's own dependencies no longer matter; a reactivation thaws it first.
		e := entry{seq: d.seq, task: batch.Task{ID: d.id}, done: &graphCompletion{id: d.id, action: batch.DependencyBlock}}
		if d.satisfies {
			e.done.action = batch.DependencySatisfy
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(a.seq, b.seq) })
	tasks = make([]batch.Task, len(entries))
	for i, e := range entries {
		tasks[i] = e.task
		if e.done != nil {
			completed = append(completed, *e.done)
		}
	}
	return tasks, completed
}

// graphCompletion is a completed task, as the dependency graph needs it.
type graphCompletion struct {
	id     string
	action batch.DependencyAction
}

// neverRan drops the executionInfo of a task that has not run yet, when it is empty (as Task - Add
// makes it): the job manager holds many such tasks, and the state transitions make a new one when
// they need it. The API shows an empty one where the record has none (taskRecord.view).
func neverRan(t *batch.Task) {
	if ei := t.ExecutionInfo; ei != nil && t.State == batch.TaskActive && ei.StartTime.IsZero() && ei.EndTime.IsZero() &&
		ei.ExitCode == nil && ei.ContainerInfo == nil && ei.FailureInfo == nil && ei.RetryCount == 0 &&
		ei.LastRetryTime.IsZero() && ei.RequeueCount == 0 && ei.LastRequeueTime.IsZero() && ei.Result == "" {
		t.ExecutionInfo = nil
	}
}
