package service

import (
	"time"

	"corral/actor"
	"corral/batch"
)

// A dependency hop in one commit.
//
// When an attempt ends and its task completes, its dependents may become ready. Recorded one
// after the other, that takes two commits with a round trip to the scheduler between them: the
// end is written, then the dependents are queued, then the scheduler proposes them and their
// attempts are written. The job manager instead applies the completion to its dependency graph
// at once, while the end waits in the pending batch, and queues the dependents that became
// ready asking the scheduler to say when it has placed what it can (enqueue.ReplyTo). The flush
// of the batch waits for that answer (enqueued), which comes after every proposal the scheduler
// made for them, so the end and the dependents' attempts are written in one transaction.
//
// Nothing leaves the job manager before it is in the store: the proposals it takes are sends of
// the same batch, after the end's. If the write fails, the records go back as they were and the
// graph is rebuilt from them, so the dependents are not ready any more; their proposals fail as
// any other (the slots go back to the scheduler), and queue hands the scheduler only tasks the
// graph has ready. Only a completion that neither terminates nor disables the job goes this way;
// the others, and the job's end (checkDone), follow the write as before.

// heldFlush is the job manager's timer that writes a batch whose flush waits for the scheduler
// (see flushOrHold) even if no enqueued comes: a backstop, since the scheduler answers every
// enqueue that asks.
type heldFlush struct{}

// flushHoldLimit is how long a held flush waits for the scheduler at most.
const flushHoldLimit = 20 * time.Millisecond

// completeEarly applies a completion to the graph before its record is written, and queues the
// dependents it makes ready, asking the scheduler for an answer. It reports false, changing
// nothing, when the completion must wait for the write (it ends or disables the job).
func (j *jobManager) completeEarly(ctx *actor.Context, taskID string, opts batch.ExitOptions) bool {
	if batch.ReactToTaskCompletion(j.rec.Job, opts).Action != batch.JobActionNone {
		return false
	}
	change, err := j.graph.Complete(taskID, opts.DependencyAction)
	ctx.Assert(err == nil, "job %s: graph: %v", j.jobID, err)
	j.openBatch(ctx).early = true
	if ready := j.readyOf(change.Ready); len(ready) > 0 {
		ctx.Send(j.sched, enqueue{Tasks: ready, ReplyTo: ctx.Self()})
		j.enqueued = true
		j.awaitSched++
	}
	return true
}

// flushOrHold takes the flush event: the batch is written now, unless answers to enqueues are
// awaited; then it waits for as many answers as are awaited now (those of the enqueues sent
// before the flush event came: later ones do not hold it longer), or flushHoldLimit.
func (j *jobManager) flushOrHold(ctx *actor.Context, _ flushJob) {
	if j.awaitSched == 0 || j.batch == nil {
		j.flush(ctx, flushJob{})
		return
	}
	if j.holdFor == 0 {
		j.holdTimer = ctx.StartTimer(flushHoldLimit, heldFlush{})
		ctx.Announce(FlushHeld{JobID: j.jobID, JobInc: j.inc, At: ctx.Now()})
	}
	j.holdFor = j.awaitSched
}

// endHold ends a held flush's wait: its backstop timer is cancelled, so that it cannot fire into
// a later hold and write that one's batch before the scheduler's answer (splitting a hop that
// would have gone in one commit into two).
func (j *jobManager) endHold(ctx *actor.Context) {
	j.holdFor = 0
	if j.holdTimer != 0 {
		ctx.CancelTimer(j.holdTimer)
		j.holdTimer = 0
	}
}

// schedAnswered takes the scheduler's answer to an enqueue that asked for one; a held flush goes
// once the answers it waits for have come.
func (j *jobManager) schedAnswered(ctx *actor.Context, _ enqueued) {
	if j.awaitSched > 0 {
		j.awaitSched--
	}
	if j.holdFor > 0 {
		j.holdFor--
		if j.holdFor == 0 {
			j.endHold(ctx)
			j.flush(ctx, flushJob{})
		}
	}
}

// holdExpired takes the backstop timer of a held flush.
func (j *jobManager) holdExpired(ctx *actor.Context, _ heldFlush) {
	j.holdTimer = 0
	if j.holdFor > 0 {
		j.holdFor = 0
		ctx.Announce(HeldFlushExpired{JobID: j.jobID, JobInc: j.inc, At: ctx.Now()})
		j.flush(ctx, flushJob{})
	}
}
