package service

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"corral/actor"
	"corral/batch"
	"corral/store"
)

// Job - Delete answers as soon as the job is recorded deleting, as Azure does: the job is shown
// in state deleting (Job - Get works), its running attempts are killed, and every other change
// to it or its tasks is refused with 409 JobBeingDeleted, as is an add of a job of the same id.
// Its manager then removes the tasks a chunk at a time (DeleteChunk per transaction), sending
// itself removeTasks between chunks so that its other events, and other actors' steps, come in
// between; then the job's own records, and the account hears it is gone. A restart finds the
// job deleting and carries on.
//
// The states: Deleting, then Gone, where the manager answers JobNotFound to the requests the
// account forwarded before it heard the job was gone, and refuses the scheduler's proposals,
// until both have said they send no more: the account that it has forgotten the job
// (jobForgotten, sent after every request it forwarded), the scheduler that it has withdrawn the
// job's tasks (withdrawn, after every proposal it made). Then the manager stops.

// JobGone is announced when a life of a job being deleted has no record left in the store: its
// tasks, its counts and the job itself are gone.
type JobGone struct {
	JobID  string
	JobInc int64
}

// jobForgotten tells the manager of a job that is gone that the account has forgotten the job:
// nothing more is forwarded to it, and it stops. Until then it answers that the job does not
// exist (requests the account forwarded before it heard the job was gone).
type jobForgotten struct{}

// removeTasks is the event the manager of a job being deleted sends itself (or, after the store
// failed, sets as a timer) to remove the next chunk of the job's tasks.
type removeTasks struct{}

// defaultDeleteChunk is Config.DeleteChunk's default.
const defaultDeleteChunk = 1000

// defineDeleting declares the states Deleting and Gone (see above).
func (j *jobManager) defineDeleting(m *actor.Machine) {
	m.State("Deleting", append(answerChanges(jobBeingDeleted),
		actor.OnEntry(func(ctx *actor.Context) { ctx.Send(ctx.Self(), removeTasks{}) }),
		actor.On(j.removeTasks),
		actor.On(func(ctx *actor.Context, r DeleteJob) {
			if r.Wait {
				j.waiters = append(j.waiters, r.Request)
				return
			}
			reply(ctx, r.Request, nil)
		}),
		actor.On(refuse),
		actor.On(func(ctx *actor.Context, e attemptEnded) {
			j.lateReport(ctx, e)
			if e.Lost && e.Kill {
				ctx.Send(SchedulerID(e.PoolID), nodeMsg{NodeID: e.NodeID, Msg: killAttempt{AttemptID: e.Ref.AttemptID}})
			}
		}),
		actor.On(j.flush), // of a lost attempt's record (lateReport)
		actor.On(j.schedAnswered),
		actor.On(j.holdExpired),
		actor.Ignore[attemptLaunched](),
		actor.Ignore[sendCounts](), // the scheduler forgot the job's counts with its withdraw
		actor.Ignore[retrySettle](),
		actor.Ignore[retryJobLoad](),
		actor.On(func(ctx *actor.Context, _ withdrawn) { j.withdrawing = false }),
		actor.Targets("Gone"),
	)...)
	m.State("Gone", append(answerChanges(jobNotFound),
		actor.On(func(ctx *actor.Context, _ jobForgotten) {
			j.forgotten = true
			j.haltIfIdle(ctx)
		}),
		actor.On(func(ctx *actor.Context, _ withdrawn) {
			j.withdrawing = false
			j.haltIfIdle(ctx)
		}),
		actor.On(func(ctx *actor.Context, r DeleteJob) { reply(ctx, r.Request, jobNotFound()) }),
		actor.On(refuse),
		actor.On(func(ctx *actor.Context, e attemptEnded) {
			if !e.Lost {
				ctx.Send(nodeActor(e.PoolID, e.NodeID), resultRecorded{AttemptID: e.Ref.AttemptID})
			}
		}),
		actor.Ignore[flushJob](),
		actor.Ignore[enqueued](),
		actor.Ignore[heldFlush](),
		actor.Ignore[attemptLaunched](),
		actor.Ignore[sendCounts](),
		actor.Ignore[retrySettle](),
		actor.Ignore[retryJobLoad](),
		actor.Ignore[removeTasks](),
	)...)
}

// answerChanges answers every request to change a job or its tasks, Job - Delete aside, with
// the error e makes.
func answerChanges(e func() *batch.Error) []actor.StateOption {
	answer := func(ctx *actor.Context, req Request) { reply(ctx, req, e()) }
	return []actor.StateOption{
		actor.On(func(ctx *actor.Context, r AddTasks) { answer(ctx, r.Request) }),
		actor.On(func(ctx *actor.Context, r TerminateJob) { answer(ctx, r.Request) }),
		actor.On(func(ctx *actor.Context, r TerminateTask) { answer(ctx, r.Request) }),
		actor.On(func(ctx *actor.Context, r PatchJob) { answer(ctx, r.Request) }),
		actor.On(func(ctx *actor.Context, r DeleteTask) { answer(ctx, r.Request) }),
		actor.On(func(ctx *actor.Context, r UpdateTask) { answer(ctx, r.Request) }),
		actor.On(func(ctx *actor.Context, r DisableJob) { answer(ctx, r.Request) }),
		actor.On(func(ctx *actor.Context, r EnableJob) { answer(ctx, r.Request) }),
		actor.On(func(ctx *actor.Context, r ReactivateTask) { answer(ctx, r.Request) }),
	}
}

// jobNotFound is the answer to a request about a job that is gone.
func jobNotFound() *batch.Error { return notFound("JobNotFound", "job") }

// jobBeingDeleted is the answer to a change of a job being deleted or of one of its tasks.
func jobBeingDeleted() *batch.Error {
	return &batch.Error{Code: batch.CodeJobBeingDeleted, Message: "The specified job has been marked for deletion and is being garbage collected."}
}

// deleteJob is Job - Delete: the job is recorded deleting, and its running attempts' records go
// in the same write (so that a restart neither runs nor waits for them); then the scheduler
// forgets the job's queued tasks, the attempts are killed, the nodes that ran the job's
// preparation task hear of the deletion, the request is answered (unless it waits for the job
// to be gone), and the manager goes on Deleting.
func (j *jobManager) deleteJob(ctx *actor.Context, req DeleteJob) {
	now := ctx.Now()
	job, err := batch.TransitionJob(j.rec.Job, batch.JobDeleting, now)
	if err != nil {
		reply(ctx, req.Request, asBatchError(err))
		return
	}
	rec := j.rec
	rec.Job, rec.DisableTasks = job, ""
	var running []*taskRecord
	for _, r := range j.tasks {
		if r.NodeID != "" {
			running = append(running, r)
		}
	}
	slices.SortFunc(running, func(a, b *taskRecord) int { return cmp.Compare(a.Seq, b.Seq) })
	err = j.st.Update(context.Background(), func(tx store.Tx) error {
		for _, r := range running {
			err := tx.Delete(tableAttempts, attemptKey(j.rec.PoolID, r.NodeID, r.Attempt.AttemptID), store.AnyVersion)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return putJSON(tx, tableJobs, batch.IDKey(j.jobID), rec, store.AnyVersion)
	})
	if err != nil {
		reply(ctx, req.Request, busy())
		return
	}
	ended := j.rec.Job.State == batch.JobCompleted
	j.rec = rec
	if j.enqueued {
		// The manager stops only once the scheduler has answered: a proposal it made before is
		// refused, not dropped (its slots would stay taken).
		ctx.Send(j.sched, withdraw{JobID: j.jobID, JobInc: j.inc, ReplyTo: ctx.Self()})
		j.withdrawing = true
	}
	if !ended {
		for _, r := range running {
			ctx.Send(SchedulerID(j.rec.PoolID), nodeMsg{NodeID: r.NodeID, Msg: killAttempt{AttemptID: r.Attempt.AttemptID}})
		}
		if rec.ScheduleID != "" {
			// As finishJob does: the schedule may create its next job (see schedule.go).
			ctx.Send(scheduleActor(rec.ScheduleID, rec.ScheduleInc), scheduleJobEnded{JobID: j.jobID, JobInc: j.inc, EndTime: now})
		}
	}
	j.tasks, j.graph, j.done, j.written = nil, nil, nil, nil
	if req.Wait {
		j.waiters = append(j.waiters, req.Request)
	} else {
		reply(ctx, req.Request, nil)
	}
	j.resumeDeleting(ctx)
}

// resumeDeleting goes on Deleting, after deleteJob or a load that found the job deleting.
func (j *jobManager) resumeDeleting(ctx *actor.Context) {
	ctx.Announce(JobDeleted{JobID: j.jobID, JobInc: j.inc})
	j.announceEnd(ctx, true)
	ctx.Goto("Deleting")
}

// removeTasks removes the next chunk of the tasks of a job being deleted, in one transaction that
// adds their tally to the lifetime statistics and takes them out of the kept counts. The last
// chunk takes the job's counts, its statistics, attempt records left and the job itself with it: the account is told
// the job is gone, the deletes that wait for it answered, and the manager stops once the account
// has forgotten the job (Gone). If the store fails, a timer tries again.
func (j *jobManager) removeTasks(ctx *actor.Context, _ removeTasks) {
	chunk := j.deleteChunk
	if chunk <= 0 {
		chunk = defaultDeleteChunk
	}
	key := batch.IDKey(j.jobID)
	gone := false
	err := j.st.Update(context.Background(), func(tx store.Tx) error {
		rs, err := tx.List(tableTasks, key+"/", "", chunk)
		if err != nil {
			return err
		}
		var tally batch.TaskTally
		var d batch.TaskCountsResult
		for _, r := range rs {
			var tr taskRecord
			if err := json.Unmarshal(r.Value, &tr); err != nil {
				return fmt.Errorf("decode task %s: %w", r.Key, err)
			}
			tally.Add(tr.Task, tr.Usage)
			d.Remove(tr.Task)
			if err := tx.Delete(tableTasks, r.Key, store.AnyVersion); err != nil {
				return err
			}
		}
		gone = len(rs) < chunk
		if err := keepTally(tx, tally, j.rec.Job.CreationTime, j.jobID, j.inc, gone); err != nil {
			return err
		}
		if !gone {
			return j.keepCounts(tx, d)
		}
		if err := j.removeAttempts(tx); err != nil {
			return err
		}
		for _, table := range []string{tableJobCounts, tableJobs} {
			if err := tx.Delete(table, key, store.AnyVersion); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		j.deleteDelay = nextLoadDelay(j.deleteDelay)
		ctx.Log("job manager: removing the tasks of a deleted job failed; retrying", "job", j.jobID, "after", j.deleteDelay, "err", err)
		ctx.StartTimer(j.deleteDelay, removeTasks{})
		return
	}
	j.deleteDelay = 0
	if !gone {
		ctx.Send(ctx.Self(), removeTasks{})
		return
	}
	ctx.Announce(JobGone{JobID: j.jobID, JobInc: j.inc})
	// The account first: a client that adds the job again after an answer finds the id free.
	ctx.Send(AccountID, jobGone{JobID: j.jobID, Inc: j.inc})
	for _, w := range j.waiters {
		reply(ctx, w, nil)
	}
	j.waiters = nil
	ctx.Goto("Gone")
}

// removeAttempts removes, in tx, every attempt record of the job's life left on its pool: one
// that a write reported failed committed all the same, whose task has since named another
// attempt. Its loss would be reported to a job manager that is gone, and after a restart to none.
func (j *jobManager) removeAttempts(tx store.Tx) error {
	rs, err := tx.List(tableAttempts, attemptsOf(j.rec.PoolID), "", 0)
	if err != nil {
		return fmt.Errorf("list attempts on pool %s: %w", j.rec.PoolID, err)
	}
	for _, r := range rs {
		var a attemptRef
		if err := json.Unmarshal(r.Value, &a); err != nil {
			return fmt.Errorf("decode attempt %s: %w", r.Key, err)
		}
		if batch.IDKey(a.JobID) != batch.IDKey(j.jobID) || a.JobInc != j.inc {
			continue
		}
		if err := tx.Delete(tableAttempts, r.Key, store.AnyVersion); err != nil {
			return err
		}
	}
	return nil
}

// haltIfIdle stops the manager of a job that is gone once neither the account nor the scheduler
// will send it anything more.
func (j *jobManager) haltIfIdle(ctx *actor.Context) {
	if j.forgotten && !j.withdrawing {
		ctx.Halt()
	}
}
