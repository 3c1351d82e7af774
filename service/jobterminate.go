package service

import (
	"context"
	"slices"

	"corral/actor"
	"corral/batch"
	"corral/store"
)

// terminateAll terminates, for the job's end (finishJob), every task of the job that is on a
// node, as Task - Terminate does: those running or preparing, and those queued on a node (see
// queue.go), which may have started there already. A task still waiting for a node stays
// active, as on Azure ("any remaining active Tasks will not be scheduled"), so the job's end
// costs what runs, not what waits. A chunk of tasks per transaction (as many as a deletion
// takes, Config.DeleteChunk), each with the change to the counts. Attempts are killed once
// their task's chunk is written; the scheduler is not told of each task, since the job's end
// withdraws them all. It reports false if the store failed: the chunks written before stay
// terminated, the rest stay as they were.
func (j *jobManager) terminateAll(ctx *actor.Context) bool {
	chunk := j.deleteChunk
	if chunk <= 0 {
		chunk = defaultDeleteChunk
	}
	var keys []string // a few among many: sorted once found, so that the order is the store's
	for key, r := range j.tasks {
		if r.Task.State != batch.TaskCompleted && (r.NodeID != "" || r.Task.State != batch.TaskActive) {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	open := make([]*taskRecord, len(keys))
	for i, key := range keys {
		open[i] = j.tasks[key]
	}
	for len(open) > 0 {
		n := min(chunk, len(open))
		if !j.terminateChunk(ctx, open[:n]) {
			return false
		}
		open = open[n:]
	}
	return true
}

// terminateChunk terminates the tasks of recs in one transaction.
func (j *jobManager) terminateChunk(ctx *actor.Context, recs []*taskRecord) bool {
	now := ctx.Now()
	nexts := make([]taskRecord, len(recs))
	for i, r := range recs {
		t, _, err := batch.FinishTask(r.Task, batch.Exit{Condition: batch.ExitTerminated}, now)
		ctx.Assert(err == nil, "job %s task %s: terminate: %v", j.jobID, r.Task.ID, err)
		nexts[i] = *r
		nexts[i].Task = t
		nexts[i].Attempt, nexts[i].NodeID = attemptRef{}, ""
	}
	err := j.st.Update(context.Background(), func(tx store.Tx) error {
		var d batch.TaskCountsResult
		for i, r := range recs {
			if err := j.writeStopped(tx, &d, r, &nexts[i]); err != nil {
				return err
			}
		}
		return j.keepCounts(tx, d)
	})
	for _, r := range recs {
		j.wrote(batch.IDKey(r.Task.ID), err)
	}
	if err != nil {
		return false
	}
	for i, r := range recs {
		if r.NodeID != "" {
			ctx.Send(SchedulerID(j.rec.PoolID), nodeMsg{NodeID: r.NodeID, Msg: killAttempt{AttemptID: r.Attempt.AttemptID}})
		}
		*r = nexts[i]
		j.open--
		ctx.Announce(TaskCompleted{JobID: j.jobID, TaskID: r.Task.ID, JobInc: j.inc, Seq: r.Seq, Round: r.Round})
	}
	return true
}

// terminateLeftActive is Task - Terminate of a completed job: a task that its end left active
// (it waited for a node) completes now, as terminated; one that has completed stays as it is.
// Nothing of the job runs any more, so its dependents and the job do not react.
func (j *jobManager) terminateLeftActive(ctx *actor.Context, req TerminateTask) {
	if r, opts, ok := j.terminateRequested(ctx, req); ok {
		ctx.Announce(TaskCompleted{JobID: j.jobID, TaskID: r.Task.ID, JobInc: j.inc, Seq: r.Seq, Round: r.Round,
			Satisfies: opts.DependencyAction != batch.DependencyBlock})
		reply(ctx, req.Request, nil)
	}
}
