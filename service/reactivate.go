package service

import (
	"corral/actor"
	"corral/batch"
)

// TaskReactivated is announced when a Task - Reactivate is recorded: the task, completed in
// round Round-1, is active again and its next completion is round Round.
type TaskReactivated struct {
	JobID, TaskID string
	JobInc, Seq   int64
	Round         int
}

// reactivateTask is Task - Reactivate (see ReactivateTask). The task's record is written in one
// transaction that checks its version when the request names one; its round goes up, and its
// attempt count goes on, so that nothing about an attempt of an earlier round changes it. The
// dependency graph is built again without the task's completion: tasks that depend on it and
// have not started wait for its next one.
func (j *jobManager) reactivateTask(ctx *actor.Context, req ReactivateTask) {
	r, e := j.thaw(batch.IDKey(req.TaskID))
	switch {
	case e != nil:
		reply(ctx, req.Request, e)
		return
	case r == nil:
		reply(ctx, req.Request, notFound("TaskNotFound", "task"))
		return
	case r.Task.State != batch.TaskCompleted:
		reply(ctx, req.Request, &batch.Error{Code: "TaskNotCompleted", Message: "The specified task is not in a completed state, and the requested operation can be performed only on completed tasks."})
		return
	case r.Task.ExecutionInfo == nil || r.Task.ExecutionInfo.Result != batch.ResultFailure:
		reply(ctx, req.Request, &batch.Error{Code: "TaskSucceeded", Message: "The specified task has already completed successfully, and the requested operation cannot be performed on successful tasks."})
		return
	}
	t, err := batch.ReactivateTask(r.Task, ctx.Now())
	ctx.Assert(err == nil, "job %s task %s: reactivate: %v", j.jobID, r.Task.ID, err)
	next := *r
	next.Task = t
	next.Round++
	if e := j.writeTask(r, next, req.IfVersion); e != nil {
		reply(ctx, req.Request, e)
		return
	}
	j.open++
	j.rebuildGraph(ctx)
	ctx.Announce(TaskReactivated{JobID: j.jobID, TaskID: t.ID, JobInc: j.inc, Seq: r.Seq, Round: r.Round})
	reply(ctx, req.Request, nil)
	if j.graph.Ready(t.ID) {
		j.queue(ctx, []string{t.ID})
	}
}
