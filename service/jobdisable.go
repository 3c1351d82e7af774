package service

import (
	"time"

	"corral/actor"
	"corral/batch"
)

// JobStateRecorded is announced when a job's disable or enable moves it to State in the store
// (disabling, disabled, enabling, active), and, with Recovered, for the state a job manager
// loads (which a monitor may not have seen: a write the store reported failed may have
// committed).
type JobStateRecorded struct {
	JobID     string
	JobInc    int64
	State     batch.JobState
	Recovered bool
}

// TaskRequeued is announced when a running task of a job being disabled with disableTasks
// requeue is recorded active again: AttemptID, the attempt it ran, is killed and changes
// nothing any more.
type TaskRequeued struct {
	JobID, TaskID, AttemptID string
	JobInc, Seq              int64
}

// retrySettle is the job manager's timer to carry on a disable or an enable after the store
// failed (see settle).
type retrySettle struct{}

// settleRetry is how long a job manager waits before it carries on a disable or an enable that
// the store failed to record.
const settleRetry = time.Second

// schedulable reports whether the job's tasks may be queued and started: the job is active (not
// disabling, disabled or enabling).
func (j *jobManager) schedulable() bool {
	return j.rec.Job.State == batch.JobActive || j.rec.Job.State == ""
}

// disableJob is Job - Disable (see DisableJob).
func (j *jobManager) disableJob(ctx *actor.Context, req DisableJob) {
	switch {
	case !req.DisableTasks.Valid():
		reply(ctx, req.Request, &batch.Error{Code: batch.CodeInvalidPropertyValue, Message: "The value provided for one of the properties in the request body is invalid.",
			Values: []batch.KV{{Key: "PropertyName", Value: "disableTasks"}, {Key: "PropertyValue", Value: string(req.DisableTasks)}}})
	case j.rec.Job.State == batch.JobDisabling || j.rec.Job.State == batch.JobDisabled:
		reply(ctx, req.Request, nil)
	default:
		reply(ctx, req.Request, j.disable(ctx, req.DisableTasks, req.IfVersion))
	}
}

// disable records the job disabling (at version ifVersion of its record, if not 0), takes its
// tasks back from the scheduler and starts dealing with its running tasks as opt says.
func (j *jobManager) disable(ctx *actor.Context, opt batch.DisableTasks, ifVersion int64) *batch.Error {
	job, err := batch.TransitionJob(j.rec.Job, batch.JobDisabling, ctx.Now())
	if err != nil {
		return asBatchError(err)
	}
	rec := j.rec
	rec.Job, rec.DisableTasks = job, opt
	if e := j.record(rec, ifVersion); e != nil {
		return e
	}
	ctx.Announce(JobStateRecorded{JobID: j.jobID, JobInc: j.inc, State: batch.JobDisabling})
	// Every queued task of the job comes back; a proposal on its way is refused (propose).
	ctx.Send(j.sched, withdraw{JobID: j.jobID, JobInc: j.inc})
	ctx.Send(j.sched, jobCounts{JobID: j.jobID, JobInc: j.inc, Counts: j.count()}) // the withdraw forgot them
	return nil
}

// enableJob is Job - Enable (see EnableJob).
func (j *jobManager) enableJob(ctx *actor.Context, req EnableJob) {
	if j.schedulable() || j.rec.Job.State == batch.JobEnabling {
		reply(ctx, req.Request, nil)
		return
	}
	job, err := batch.TransitionJob(j.rec.Job, batch.JobEnabling, ctx.Now())
	if err != nil {
		reply(ctx, req.Request, asBatchError(err))
		return
	}
	rec := j.rec
	rec.Job = job
	if e := j.record(rec, req.IfVersion); e != nil {
		reply(ctx, req.Request, e)
		return
	}
	ctx.Announce(JobStateRecorded{JobID: j.jobID, JobInc: j.inc, State: batch.JobEnabling})
	reply(ctx, req.Request, nil)
}

// settle carries a disable or an enable under way as far as it goes now: a disabling job's
// running tasks are requeued or terminated (disableTasks), and once none runs the job is
// disabled; an enabling job becomes active and its ready tasks are queued. It runs after every
// change that may let it go on (see flushFirst and flush); where the store fails, a timer tries
// again.
func (j *jobManager) settle(ctx *actor.Context) {
	if j.batch != nil {
		return // the flush settles
	}
	ok := true
	switch j.rec.Job.State {
	case batch.JobDisabling:
		ok = j.stopRunning(ctx)
		if ok && j.rec.Job.State == batch.JobDisabling && !j.running() {
			ok = j.setState(ctx, batch.JobDisabled)
		}
	case batch.JobEnabling:
		if ok = j.setState(ctx, batch.JobActive); ok {
			j.queueReady(ctx, j.records())
			j.checkDone(ctx)
		}
	}
	if !ok && !j.settleDue {
		j.settleDue = true
		ctx.StartTimer(settleRetry, retrySettle{})
	}
}

// stopRunning requeues or terminates the running tasks of a disabling job, as its disableTasks
// says (wait leaves them). It reports false if the store failed (the tasks not recorded yet
// still run).
func (j *jobManager) stopRunning(ctx *actor.Context) bool {
	opt := j.rec.DisableTasks
	if opt == batch.DisableWait || opt == "" {
		// The running tasks finish; the queued ones are asked back (one whose node started it
		// first runs on, as a running task does). See queue.go.
		for _, key := range sortedKeys(j.tasks) {
			if r := j.tasks[key]; r.NodeID != "" && r.Task.State == batch.TaskActive {
				ctx.Send(SchedulerID(j.rec.PoolID), nodeMsg{NodeID: r.NodeID, Msg: takeBackAttempt{AttemptID: r.Attempt.AttemptID}})
			}
		}
		return true
	}
	for _, key := range sortedKeys(j.tasks) {
		r := j.tasks[key]
		if r.NodeID == "" {
			continue // runs nothing, nor waits on a node's queue
		}
		if opt == batch.DisableTerminate {
			opts, ok := j.terminate(ctx, r)
			if !ok {
				return false
			}
			j.completed(ctx, r.Task.ID, opts)
			if j.rec.Job.State != batch.JobDisabling {
				return true // the task's exit options terminated the job
			}
			continue
		}
		next := *r
		if r.Task.State != batch.TaskActive { // a queued one never started: it stays as it is
			t, err := batch.RequeueTask(r.Task, ctx.Now())
			ctx.Assert(err == nil, "job %s task %s: requeue: %v", j.jobID, r.Task.ID, err)
			next.Task = t
		}
		attempt := r.Attempt.AttemptID
		if !j.stop(ctx, r, next) {
			return false
		}
		ctx.Announce(TaskRequeued{JobID: j.jobID, TaskID: r.Task.ID, AttemptID: attempt, JobInc: j.inc, Seq: r.Seq})
	}
	return true
}

// running reports whether a task of the job is preparing or running.
func (j *jobManager) running() bool {
	for _, r := range j.tasks {
		if r.NodeID != "" {
			return true
		}
	}
	return false
}

// setState records the job in state to (the end of a disable or of an enable).
func (j *jobManager) setState(ctx *actor.Context, to batch.JobState) bool {
	job, err := batch.TransitionJob(j.rec.Job, to, ctx.Now())
	ctx.Assert(err == nil, "job %s: %v", j.jobID, err)
	rec := j.rec
	rec.Job, rec.DisableTasks = job, ""
	if j.record(rec, 0) != nil {
		return false
	}
	ctx.Announce(JobStateRecorded{JobID: j.jobID, JobInc: j.inc, State: to})
	return true
}

// record writes the job's record as rec (at version ifVersion, if not 0; see writeIf) and then
// holds it.
func (j *jobManager) record(rec jobRecord, ifVersion int64) *batch.Error {
	if e := writeIf(j.st, tableJobs, batch.IDKey(j.jobID), rec, ifVersion); e != nil {
		return e
	}
	j.rec = rec
	return nil
}
