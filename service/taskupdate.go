package service

import (
	"context"
	"errors"

	"corral/actor"
	"corral/batch"
	"corral/store"
)

// TaskUpdated is announced when a Task - Update is recorded: the task's maxTaskRetryCount is
// now MaxTaskRetryCount, for every retry decided after this announcement.
type TaskUpdated struct {
	JobID, TaskID     string
	JobInc, Seq       int64
	MaxTaskRetryCount int32
}

// updateTask is Task - Update (see UpdateTask). The task's record is written in one transaction
// that checks its version when the request names one. The job manager decides retries from the
// record it holds, so the new maxTaskRetryCount governs the end of the running attempt too; the
// agent enforces maxWallClockTime from the attempt's start message, so a new one applies from
// the next attempt on.
func (j *jobManager) updateTask(ctx *actor.Context, req UpdateTask) {
	r, e := j.thaw(batch.IDKey(req.TaskID))
	if e != nil {
		reply(ctx, req.Request, e)
		return
	}
	if r == nil {
		reply(ctx, req.Request, notFound("TaskNotFound", "task"))
		return
	}
	if err := batch.ValidateTaskConstraints(req.Constraints); err != nil {
		reply(ctx, req.Request, asBatchError(err))
		return
	}
	c := batch.TaskConstraintsWithDefaults(req.Constraints, j.rec.Job)
	next := *r
	next.Task.Constraints = &c
	next.Task.LastModified = ctx.Now()
	if e := j.writeTask(r, next, req.IfVersion); e != nil {
		reply(ctx, req.Request, e)
		return
	}
	ctx.Announce(TaskUpdated{JobID: j.jobID, TaskID: r.Task.ID, JobInc: j.inc, Seq: r.Seq, MaxTaskRetryCount: *c.MaxTaskRetryCount})
	reply(ctx, req.Request, nil)
}

// writeIf writes one record, at any version when ifVersion is 0 and only at ifVersion otherwise
// (a request's If-Match, checked again as the change is written). It answers ConditionNotMet
// when the record is at another version, ServerBusy when the store fails, nil when written.
func writeIf(st store.Store, table, key string, v any, ifVersion int64) *batch.Error {
	if ifVersion == 0 {
		ifVersion = store.AnyVersion
	}
	err := st.Update(context.Background(), func(tx store.Tx) error {
		return putJSON(tx, table, key, v, ifVersion)
	})
	return writeAnswer(err)
}

// writeAnswer is the answer to a request whose write ended with err: ConditionNotMet when the
// record was at another version than its If-Match, ServerBusy when the store failed, nil when
// written.
func writeAnswer(err error) *batch.Error {
	switch {
	case errors.Is(err, store.ErrConflict):
		return conditionNotMet()
	case err != nil:
		return busy()
	}
	return nil
}

// conditionNotMet is the answer to a write whose If-Match names a version the record no longer
// has.
func conditionNotMet() *batch.Error {
	return &batch.Error{Code: "ConditionNotMet", Message: "The condition specified using HTTP conditional header(s) is not met."}
}

// jobCompleted is the answer to a change of a completed job or of one of its tasks.
func jobCompleted() *batch.Error {
	return &batch.Error{Code: "JobCompleted", Message: "The specified job is already in a completed state."}
}
