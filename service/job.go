package service

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"corral/actor"
	"corral/agent/protocol"
	"corral/batch"
	"corral/store"
)

// Store tables the service uses.
const (
	tableJobs     = "jobs"     // key: IDKey(job)
	tableTasks    = "tasks"    // key: IDKey(job) + "/" + IDKey(task)
	tableAttempts = "attempts" // key: pool + "/" + node + "/" + attempt id: attempts recorded running
)

// taskRecord is a task as the store keeps it: the task itself and what the service needs besides.
type taskRecord struct {
	Seq      int64      `json:"seq"`      // order of addition within the job (rebuilds the graph in order)
	Attempts int        `json:"attempts"` // attempts started so far (names the next one)
	Attempt  attemptRef `json:"attempt"`  // the current attempt while preparing or running
	NodeID   string     `json:"nodeId,omitempty"`
	Task     batch.Task `json:"task"`
	// Round counts the task's reactivations (Task - Reactivate): each starts a new completion.
	// Attempts goes on counting, so an attempt of one round is never taken for one of another.
	Round int `json:"round,omitempty"`
	// Usage sums what the task's attempts used, as their nodes reported (Job - Get All Lifetime
	// Statistics).
	Usage batch.Usage `json:"usage,omitzero"`
}

// jobRecord is a job as the store keeps it.
type jobRecord struct {
	PoolID string    `json:"poolId"`
	Job    batch.Job `json:"job"`
	// Incarnation is the job's life (see incarnation.go); 0 for jobs added before lives were
	// counted.
	Incarnation int64 `json:"incarnation,omitempty"`
	// NextSeq is the Seq of the last task added (drawn in the same write as the tasks): a task
	// added after another was deleted never gets its Seq, even after a restart.
	NextSeq int64 `json:"nextSeq,omitempty"`
	// DisableTasks is what a disable under way (the job disabling) does with the job's running
	// tasks: it is carried on after a restart.
	DisableTasks batch.DisableTasks `json:"disableTasks,omitempty"`
	// ScheduleID and ScheduleInc name the life of the job schedule that created the job, for
	// one a schedule created: its manager tells the schedule when the job completes.
	ScheduleID  string `json:"scheduleId,omitempty"`
	ScheduleInc int64  `json:"scheduleInc,omitempty"`
}

// Events announced for the service's monitors.
type (
	// TaskAdded is announced when a task is in the store. Every announcement about a task
	// names its life: the job's incarnation (JobInc) and the task's Seq in it.
	TaskAdded struct {
		JobID, TaskID string
		JobInc, Seq   int64
		DependsOn     []string // task ids (ranges are expanded by the monitor's own rule: none here)
	}
	// TaskStarted is announced when an attempt is recorded and sent to a node; for one placed
	// on a node's queue, when its start is recorded.
	TaskStarted struct {
		JobID, TaskID, AttemptID, NodeID string
		JobInc, Seq                      int64
		Slots                            int
		Ended                            bool // its start is recorded with its end
	}
	// TaskQueued is announced when an attempt placed on a node's queue (see queue.go) is
	// recorded and sent to the node: the task stays active until the node starts it.
	TaskQueued struct {
		JobID, TaskID, AttemptID, NodeID string
		JobInc, Seq                      int64
		Slots                            int
	}
	// TaskCompleted is announced when a task is recorded completed: once per round (a
	// reactivation starts the next).
	TaskCompleted struct {
		JobID, TaskID string
		JobInc, Seq   int64
		Round         int
		Satisfies     bool // its dependents may run (dependencyAction satisfy)
		// Early: announced with the sends of the batch that wrote it, before the starts of its
		// dependents written in the same batch (see jobhop.go); BatchWritten follows them.
		Early bool
	}
	// FlushHeld is announced when a job manager's flush begins to wait for the scheduler's
	// answers (see flushOrHold), with the time it began.
	FlushHeld struct {
		JobID  string
		JobInc int64
		At     time.Time
	}
	// HeldFlushExpired is announced when a held flush is written because its wait ran out
	// (flushHoldLimit), not because the answers came.
	HeldFlushExpired struct {
		JobID  string
		JobInc int64
		At     time.Time
	}
	// BatchWritten is announced once a job manager's batch is written and all it sends and
	// announces is out (see pendingBatch).
	BatchWritten struct {
		JobID  string
		JobInc int64
	}
	// JobFinished is announced when a life of a job is recorded completed, with the reason it
	// terminated (Azure's executionInfo.terminateReason).
	JobFinished struct {
		JobID  string
		JobInc int64
		Reason string
	}
	// JobDeleted is announced when a life of a job is recorded deleting (and again by a manager
	// that loads it so): none of its tasks runs again. JobGone follows once its records are gone.
	JobDeleted struct {
		JobID  string
		JobInc int64
	}
	// AttemptRecorded is announced when the end of an attempt is recorded from its node's
	// result: ResultAttempt is the attempt the result was about.
	AttemptRecorded struct {
		JobID, TaskID, AttemptID, ResultAttempt string
		JobInc, Seq                             int64
		ExitCode                                int
		NodeID                                  string // the node whose session reported the result
	}
	// TaskRecovered is announced for every task a job manager loads from the store: the task as
	// recorded, which a monitor may not have seen all of (a write the store reported failed may
	// have committed).
	TaskRecovered struct {
		JobID, TaskID string
		JobInc, Seq   int64
		DependsOn     []string
		Round         int
		Completed     bool
		Satisfies     bool // completed, and its dependents may run
	}
)

// jobManager owns one job and its tasks. See the package documentation.
type jobManager struct {
	jobID string
	inc   int64 // the job's incarnation: this manager's life
	st    store.Store

	rec       jobRecord // rec.NextSeq: the Seq of the last task added
	loadDelay time.Duration
	open      int                    // tasks not completed (so that checking for the job's end is O(1))
	tasks     map[string]*taskRecord // by IDKey(task): every task but those in done
	// done holds the completed tasks kept small, by IDKey (see jobdone.go), and how many of them
	// failed and succeeded; written, the tasks written since compactDone last ran.
	done                      map[string]doneTask
	doneFailed, doneSucceeded int
	written                   []string
	graph                     *batch.Graph
	sched                     actor.ID

	batch *pendingBatch // changes written in memory, not yet in the store; nil if none

	countsDue   bool          // a sendCounts timer is set: the task counts go to the scheduler when it fires
	settleDue   bool          // a retrySettle timer is set (see settle)
	countsEvery time.Duration // see countsEvery

	// unsure holds the tasks (by IDKey) whose records the store may hold otherwise than the job
	// manager does: a write of them failed since the last that succeeded (see jobcounts.go).
	unsure map[string]bool

	enqueued    bool          // tasks were handed to the scheduler (which may propose them) in this life of the host
	awaitSched  int           // enqueues whose answer (enqueued) has not come (see jobhop.go)
	holdFor     int           // the flush waits for this many of those answers (0: it does not wait)
	holdTimer   actor.TimerID // the held flush's heldFlush timer, cancelled when the hold ends otherwise
	deleteChunk int           // tasks removed per transaction while Deleting (Config.DeleteChunk)
	deleteDelay time.Duration // the wait before removing more, after the store failed
	waiters     []Request     // deletes that wait for the job to be gone (DeleteJob.Wait)
	withdrawing bool          // a withdraw of the deleted job's tasks is not answered yet (see Gone)
	forgotten   bool          // the account has forgotten the job (see Gone)
}

// sendCounts is the job manager's timer to send its task counts to the scheduler, at most once
// per countsEvery: counting is a pass over the job's tasks, too much for every change.
type sendCounts struct{}

// countsEvery is how stale a pool's autoscale sample of a job's task counts may be: a second, or
// half the shortest evaluation interval the service allows if that is less.
func countsEvery(minInterval time.Duration) time.Duration {
	if minInterval <= 0 {
		return time.Second
	}
	return min(time.Second, minInterval/2)
}

// pendingBatch is the job manager's group commit: the hot path (attempts starting and ending)
// changes task records in memory at once, and writes them to the store together when the flush
// event the first change sent itself comes round, after every event that was already waiting.
// Nothing of a change leaves the actor before it is in the store: what the change sends and
// announces waits in sends, what it does to the graph and the job in follow. Once the batch is
// written, every send goes out in order, then every follow runs in order (so a follow that
// terminates a task kills an attempt after its start was sent, never before). If the write fails,
// before restores the records and failed answers what needs an answer (a proposal not taken), as
// if the events had failed one by one.
type pendingBatch struct {
	writes batchWrites
	sends  []func(ctx *actor.Context)
	// later holds the sends that wait for the batch only to keep their order (see later): they go
	// out whether the write succeeds or fails.
	later  map[int]bool // indexes into sends
	follow []func(ctx *actor.Context)
	failed []func(ctx *actor.Context)
	before map[string]taskRecord // by IDKey(task): records as they were in the store
	runs   map[string]nodeRuns   // by node: attempts that ended with a result, to count
	early  bool                  // a completion in it is in the graph already (see jobhop.go)
}

// flushJob is the event a job manager sends itself to write its pending batch.
type flushJob struct{}

func newJobManager(jobID string, inc int64, st store.Store, minInterval time.Duration) *jobManager {
	return &jobManager{jobID: jobID, inc: inc, st: st, countsEvery: countsEvery(minInterval)}
}

// retryJobLoad is the job manager's timer to load again after the store failed.
type retryJobLoad struct{}

// Define declares the job manager's states: Loading (rebuilding from the store), then Active.
func (j *jobManager) Define(m *actor.Machine) {
	m.State("Loading",
		actor.OnEntry(func(ctx *actor.Context) {
			j.endHold(ctx) // no flush is held across a reload: the batch was written before it
			j.load(ctx)
		}),
		actor.On(func(ctx *actor.Context, _ retryJobLoad) { j.load(ctx) }),
		actor.Defer[AddTasks](),
		actor.Defer[TerminateJob](),
		actor.Defer[TerminateTask](),
		actor.Defer[DeleteJob](),
		actor.Defer[DeleteTask](),
		actor.Defer[UpdateTask](),
		actor.Defer[DisableJob](),
		actor.Defer[EnableJob](),
		actor.Defer[ReactivateTask](),
		actor.Ignore[retrySettle](), // the load settles
		actor.Defer[propose](),
		actor.Defer[attemptEnded](),
		actor.Defer[attemptLaunched](),
		actor.Ignore[sendCounts](),
		// The answer to an enqueue sent before a reload (an add found the store ahead of it):
		// counted, so that later flushes do not wait for it; no batch is pending here.
		actor.On(func(ctx *actor.Context, _ enqueued) { j.awaitSched = max(j.awaitSched-1, 0) }),
		actor.Ignore[heldFlush](),
		actor.Targets("Active", "Done", "Deleting"),
	)
	m.State("Active",
		actor.On(flushFirst(j, j.add)),
		actor.On(j.propose),
		actor.On(j.launched),
		actor.On(j.ended),
		actor.On(j.flushOrHold),
		actor.On(j.schedAnswered),
		actor.On(j.holdExpired),
		actor.On(flushFirst(j, j.terminateTask)),
		actor.On(flushFirst(j, j.terminateJob)),
		actor.On(flushFirst(j, j.patchJob)),
		actor.On(flushFirst(j, j.deleteJob)),
		actor.On(flushFirst(j, j.deleteTask)),
		actor.On(flushFirst(j, j.updateTask)),
		actor.On(flushFirst(j, j.disableJob)),
		actor.On(flushFirst(j, j.enableJob)),
		actor.On(flushFirst(j, j.reactivateTask)),
		actor.On(flushFirst(j, func(ctx *actor.Context, _ retrySettle) { j.settleDue = false })),
		actor.On(func(ctx *actor.Context, _ sendCounts) {
			j.countsDue = false
			ctx.Send(j.sched, jobCounts{JobID: j.jobID, JobInc: j.inc, Counts: j.count()})
		}),
		actor.Ignore[retryJobLoad](),
		actor.Targets("Done", "Loading", "Deleting"),
	)
	// Done: the job is completed. Late reports only need acknowledging.
	m.State("Done",
		actor.OnEntry(func(ctx *actor.Context) { j.announceEnd(ctx, false) }),
		actor.On(func(ctx *actor.Context, r AddTasks) {
			reply(ctx, r.Request, &batch.Error{Code: "JobCompleted", Message: "The specified job is already in a completed state."})
		}),
		actor.On(func(ctx *actor.Context, r TerminateJob) {
			reply(ctx, r.Request, &batch.Error{Code: "JobCompleted", Message: "The specified job is already in a completed state."})
		}),
		actor.On(j.terminateLeftActive),
		actor.On(func(ctx *actor.Context, r PatchJob) {
			reply(ctx, r.Request, &batch.Error{Code: "JobCompleted", Message: "The specified job is already in a completed state."})
		}),
		actor.On(j.deleteJob),
		actor.On(j.deleteTask),
		actor.On(func(ctx *actor.Context, r UpdateTask) { reply(ctx, r.Request, jobCompleted()) }),
		actor.On(func(ctx *actor.Context, r DisableJob) { reply(ctx, r.Request, jobCompleted()) }),
		actor.On(func(ctx *actor.Context, r EnableJob) { reply(ctx, r.Request, jobCompleted()) }),
		actor.On(func(ctx *actor.Context, r ReactivateTask) { reply(ctx, r.Request, jobCompleted()) }),
		actor.Ignore[retrySettle](),
		actor.On(j.flush),         // a batch is never pending here: this is the flush of one written already
		actor.On(j.schedAnswered), // the same: a batch written already
		actor.On(j.holdExpired),
		actor.Ignore[sendCounts](), // the scheduler forgot the job's counts with its withdraw
		actor.Ignore[retryJobLoad](),
		actor.Ignore[attemptLaunched](),
		actor.On(refuse),
		actor.On(j.lateReport),
		actor.Targets("Deleting"),
	)
	j.defineDeleting(m)
}

// refuse answers a proposal that a job manager does not take.
func refuse(ctx *actor.Context, p propose) {
	ctx.Send(p.from(), proposalAnswer{Task: p.Task, NodeID: p.NodeID})
}

// lateReport takes the end of an attempt reported to a job that runs no more (Done, Deleting):
// a result is acknowledged, so that the agent forgets it; the record of a lost attempt goes.
func (j *jobManager) lateReport(ctx *actor.Context, e attemptEnded) {
	if !e.Lost {
		ctx.Send(nodeActor(e.PoolID, e.NodeID), resultRecorded{AttemptID: e.Ref.AttemptID})
		return
	}
	j.forget(ctx, e)
}

// load rebuilds the job's state from the store: the job, its tasks in the order they were added,
// the dependency graph, its kept task counts; then it queues the tasks that are ready and active
// again. A job being deleted goes on being deleted.
func (j *jobManager) load(ctx *actor.Context) {
	var recs []*taskRecord
	var rec jobRecord
	var kept *jobCountsRecord
	err := j.st.View(context.Background(), func(tx store.Tx) error {
		recs, kept = nil, nil
		if err := getJSON(tx, tableJobs, batch.IDKey(j.jobID), &rec); err != nil {
			return err
		}
		if rec.Incarnation != j.inc {
			return fmt.Errorf("the store has life %d of the job: %w", rec.Incarnation, store.ErrNotFound)
		}
		if rec.Job.State == batch.JobDeleting {
			return nil // its tasks are not needed
		}
		var c jobCountsRecord
		switch err := getJSON(tx, tableJobCounts, batch.IDKey(j.jobID), &c); {
		case err == nil:
			kept = &c
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		rs, err := tx.List(tableTasks, batch.IDKey(j.jobID)+"/", "", 0)
		if err != nil {
			return err
		}
		for _, r := range rs {
			tr := &taskRecord{}
			if err := json.Unmarshal(r.Value, tr); err != nil {
				return err
			}
			recs = append(recs, tr)
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		// This life of the job is deleted: a manager was started for it after its end (a
		// request raced with the delete). Nothing is left to do.
		ctx.Log("job manager: the job is gone", "job", j.jobID, "incarnation", j.inc, "err", err)
		ctx.Halt()
		return
	}
	if err == nil && rec.Job.State != batch.JobDeleting && !j.loadCounts(ctx, recs, kept) {
		err = errors.New("writing the task counts failed")
	}
	if err != nil {
		j.loadDelay = nextLoadDelay(j.loadDelay)
		ctx.Log("job manager: loading the job failed; retrying", "job", j.jobID, "after", j.loadDelay, "err", err)
		ctx.StartTimer(j.loadDelay, retryJobLoad{})
		return
	}
	j.loadDelay = 0
	j.rec = rec
	j.unsure = nil // the store holds the tasks as loaded
	if rec.Job.State == batch.JobDeleting {
		j.resumeDeleting(ctx)
		return
	}
	sortBySeq(recs)
	j.sched = SchedulerID(j.rec.PoolID)
	j.tasks = make(map[string]*taskRecord, len(recs))
	j.done, j.doneFailed, j.doneSucceeded, j.written = nil, 0, 0, nil
	j.open = 0
	for _, r := range recs {
		neverRan(&r.Task)
		j.tasks[batch.IDKey(r.Task.ID)] = r
		// For the monitors, which may not have seen a change that the store reported failed
		// although it committed (the add, a completion): what the store holds is what happened.
		rec := TaskRecovered{JobID: j.jobID, TaskID: r.Task.ID, JobInc: j.inc, Seq: r.Seq, DependsOn: dependsOn(r.Task), Round: r.Round, Completed: r.Task.State == batch.TaskCompleted}
		if rec.Completed {
			rec.Satisfies = batch.EffectiveExitOptions(r.Task.ExitConditions, exitOf(r.Task)).DependencyAction != batch.DependencyBlock
		}
		ctx.Announce(rec)
		j.rec.NextSeq = max(j.rec.NextSeq, r.Seq)
		if r.Task.State != batch.TaskCompleted {
			j.open++
		}
	}
	j.rebuildGraph(ctx)
	for _, r := range recs {
		if r.Task.State == batch.TaskCompleted {
			j.putDone(batch.IDKey(r.Task.ID), r)
		}
	}
	ctx.Announce(JobStateRecorded{JobID: j.jobID, JobInc: j.inc, State: j.rec.Job.State, Recovered: true})
	if j.rec.Job.State == batch.JobCompleted {
		ctx.Goto("Done")
		return
	}
	j.queueReady(ctx, recs)
	ctx.Goto("Active")
	ctx.Send(j.sched, jobCounts{JobID: j.jobID, JobInc: j.inc, Counts: j.count()})
	j.checkDone(ctx)
	j.settle(ctx) // a disable or an enable that was under way
}

// queueReady hands the scheduler every task of recs that is active and ready, in their order,
// unless the job is disabled or on its way there or back.
func (j *jobManager) queueReady(ctx *actor.Context, recs []*taskRecord) {
	if !j.schedulable() {
		return
	}
	var ready []readyTask
	for _, r := range recs {
		if r.Task.State == batch.TaskActive && r.NodeID == "" && j.graph.Ready(r.Task.ID) {
			ready = append(ready, j.ready(r))
		}
	}
	if len(ready) > 0 {
		ctx.Send(j.sched, enqueue{Tasks: ready})
		j.enqueued = true
	}
}

// count counts the job's tasks for the pool's autoscale samples.
func (j *jobManager) count() taskCounts {
	c := taskCounts{Failed: j.doneFailed, Succeeded: j.doneSucceeded}
	for _, r := range j.tasks {
		slots := r.Task.Slots()
		switch r.Task.State {
		case batch.TaskActive:
			if j.graph.Ready(r.Task.ID) {
				c.Active++
				c.ActiveSlots += slots
				c.MaxActiveSlots = max(c.MaxActiveSlots, slots)
			} else {
				c.Blocked++
			}
		case batch.TaskPreparing, batch.TaskRunning:
			c.Running++
			c.RunningSlots += slots
		case batch.TaskCompleted:
			if r.Task.ExecutionInfo != nil && r.Task.ExecutionInfo.Result == batch.ResultFailure {
				c.Failed++
			} else {
				c.Succeeded++
			}
		}
	}
	return c
}

// countsChanged arranges for the task counts to reach the scheduler within j.countsEvery.
func (j *jobManager) countsChanged(ctx *actor.Context) {
	if !j.countsDue {
		j.countsDue = true
		ctx.StartTimer(j.countsEvery, sendCounts{})
	}
}

// rebuildGraph builds the dependency graph anew from the job's tasks, in the order they were added
// (a batch.Graph cannot forget a task, so deleting one rebuilds it).
func (j *jobManager) rebuildGraph(ctx *actor.Context) {
	j.graph = batch.NewGraph()
	tasks, completed := j.graphTasks()
	if _, err := j.graph.Add(tasks...); err != nil {
		ctx.Assert(false, "job %s: rebuild graph: %v", j.jobID, err)
	}
	for _, c := range completed {
		if _, err := j.graph.Complete(c.id, c.action); err != nil {
			ctx.Assert(false, "job %s: rebuild graph: %v", j.jobID, err)
		}
	}
}

// add validates and stores new tasks, answers (one result per task, as Add Task Collection
// does), then queues those that are ready.
func (j *jobManager) add(ctx *actor.Context, req AddTasks) {
	now := ctx.Now()
	results := make([]TaskAddResult, len(req.Tasks))
	var recs []*taskRecord
	var added []int // the index in results of each of recs
	seen := map[string]bool{}
	cycles := j.graph.NewCycleCheck()
	for i, t := range req.Tasks {
		results[i].TaskID = t.ID
		if err := batch.CanAddTask(j.rec.Job); err != nil {
			// A disabled job takes tasks; they run once it is enabled.
			results[i].Err = asBatchError(err)
			continue
		}
		if err := batch.ValidateTask(t, j.rec.Job, nil); err != nil {
			results[i].Err = asBatchError(err)
			continue
		}
		key := batch.IDKey(t.ID)
		if p := j.rec.Job.JobPreparationTask; p != nil && key == batch.IDKey(p.TaskID()) {
			results[i].Err = &batch.Error{Code: "TaskIdSameAsJobPreparationTask", Message: "The specified task id is same as the job preparation task."}
			continue
		}
		if r := j.rec.Job.JobReleaseTask; r != nil && key == batch.IDKey(r.TaskID()) {
			results[i].Err = &batch.Error{Code: "TaskIdSameAsJobReleaseTask", Message: "The specified task id is same as the job release task."}
			continue
		}
		if j.has(key) || seen[key] {
			results[i].Err = &batch.Error{Code: "TaskExists", Message: "The specified task already exists."}
			continue
		}
		if cycle := cycles.Add(t); cycle != nil {
			results[i].Err = batch.CycleError(cycle)
			continue
		}
		seen[key] = true
		j.rec.NextSeq++ // drawn even if the write fails: a Seq is never given twice
		nt := batch.NewTask(t, j.rec.Job, now)
		nt.LastModified = now
		recs = append(recs, &taskRecord{Seq: j.rec.NextSeq, Task: nt})
		added = append(added, i)
	}
	if len(recs) > 0 {
		versions := make([]int64, len(recs))
		err := j.st.Update(context.Background(), func(tx store.Tx) error {
			var d batch.TaskCountsResult
			for i, r := range recs {
				b, err := json.Marshal(r)
				if err != nil {
					return fmt.Errorf("encode task %s: %w", r.Task.ID, err)
				}
				if versions[i], err = tx.Put(tableTasks, j.taskKey(r.Task.ID), b, 0); err != nil {
					return err
				}
				d.Add(r.Task)
			}
			if err := putJSON(tx, tableJobs, batch.IDKey(j.jobID), j.rec, store.AnyVersion); err != nil {
				return err
			}
			return j.keepCounts(tx, d)
		})
		if err != nil {
			if errors.Is(err, store.ErrExists) {
				// The store has tasks this actor does not: an earlier add committed although
				// the store reported it failed. Load the job again; the retry finds them.
				ctx.Goto("Loading")
			}
			busy := &batch.Error{Code: "ServerBusy", Message: "The server is currently unable to receive requests. Please retry your request."}
			for i := range results {
				if results[i].Err == nil {
					results[i].Err = busy
				}
			}
			ctx.Send(req.ReplyTo, Reply{RequestID: req.ID, Tasks: results})
			return
		}
		for k, i := range added {
			results[i].ETag, results[i].LastModified = etag(versions[k]), now
		}
	}
	tasks := make([]batch.Task, len(recs))
	for i, r := range recs {
		neverRan(&r.Task)
		j.tasks[batch.IDKey(r.Task.ID)] = r
		tasks[i] = r.Task
		ctx.Announce(TaskAdded{JobID: j.jobID, TaskID: r.Task.ID, JobInc: j.inc, Seq: r.Seq, DependsOn: dependsOn(r.Task)})
	}
	j.open += len(recs)
	ctx.Send(req.ReplyTo, Reply{RequestID: req.ID, Tasks: results})
	if len(tasks) == 0 {
		return
	}
	change, err := j.graph.Add(tasks...)
	ctx.Assert(err == nil, "job %s: graph: %v", j.jobID, err)
	j.queue(ctx, change.Ready)
}

// queue hands ready tasks that are still active to the scheduler, unless the job is disabled or
// on its way there or back (the enable queues every ready task).
func (j *jobManager) queue(ctx *actor.Context, ids []string) {
	if ready := j.readyOf(ids); len(ready) > 0 {
		ctx.Send(j.sched, enqueue{Tasks: ready})
		j.enqueued = true
	}
}

// readyOf is what queue hands the scheduler of tasks ids: those active, on no node and ready in
// the graph (a completion not written after all makes its dependents wait again: see
// jobhop.go); none while the job is not schedulable.
func (j *jobManager) readyOf(ids []string) []readyTask {
	if !j.schedulable() {
		return nil
	}
	var ready []readyTask
	for _, id := range ids {
		if r := j.tasks[batch.IDKey(id)]; r != nil && r.Task.State == batch.TaskActive && r.NodeID == "" && j.graph.Ready(id) {
			ready = append(ready, j.ready(r))
		}
	}
	return ready
}

// ready is a task as the scheduler queues it.
func (j *jobManager) ready(r *taskRecord) readyTask {
	return readyTask{JobID: j.jobID, JobInc: j.inc, TaskID: r.Task.ID, Seq: r.Seq, Slots: r.Task.Slots()}
}

// propose takes a placement: it records the attempt (the task runs on the node, attempt A) and
// only then tells the node to start it. The record goes into the pending batch.
func (j *jobManager) propose(ctx *actor.Context, p propose) {
	r := j.tasks[batch.IDKey(p.Task.TaskID)]
	if r == nil || r.Task.State != batch.TaskActive || r.NodeID != "" || !j.graph.Ready(r.Task.ID) || p.Task.JobInc != j.inc || p.Task.Seq != r.Seq ||
		!j.schedulable() || p.from() != j.sched {
		j.later(ctx, func(ctx *actor.Context) { ctx.Send(p.from(), proposalAnswer{Task: p.Task, NodeID: p.NodeID}) })
		return
	}
	next := *r
	next.Attempts++
	next.Attempt = attemptRef{AttemptID: attemptID(j.jobID, j.inc, r.Task.ID, r.Seq, next.Attempts), JobID: j.jobID, JobInc: j.inc, TaskID: r.Task.ID, Slots: r.Task.Slots()}
	next.Attempt.Queued = p.Queued
	next.NodeID = p.NodeID
	start := batch.RunTask
	if j.rec.Job.JobPreparationTask != nil {
		// Preparing until the node's session has started it (attemptLaunched): it may wait for
		// the job's preparation task there.
		start = batch.PrepareTask
	}
	t := r.Task
	if !p.Queued {
		// Queued, it stays active until its agent starts it (attemptLaunched): see queue.go.
		var err error
		t, err = start(r.Task, batch.NodeInfo{PoolID: j.rec.PoolID, NodeID: p.NodeID}, ctx.Now())
		ctx.Assert(err == nil, "job %s task %s: run: %v", j.jobID, r.Task.ID, err)
	}
	next.Task = t
	attempt := next.Attempt
	j.change(ctx, r, next, []batchWrite{
		{table: tableTasks, key: j.taskKey(t.ID), value: next},
		{table: tableAttempts, key: attemptKey(j.rec.PoolID, p.NodeID, attempt.AttemptID), value: attempt},
	}, func(ctx *actor.Context) {
		ctx.Send(j.sched, proposalAnswer{Task: p.Task, NodeID: p.NodeID, Accepted: true})
		if p.Queued {
			ctx.Announce(TaskQueued{JobID: j.jobID, TaskID: t.ID, AttemptID: attempt.AttemptID, NodeID: p.NodeID, JobInc: j.inc, Seq: next.Seq, Slots: attempt.Slots})
		} else {
			ctx.Announce(TaskStarted{JobID: j.jobID, TaskID: t.ID, AttemptID: attempt.AttemptID, NodeID: p.NodeID, JobInc: j.inc, Seq: next.Seq, Slots: attempt.Slots})
		}
		prep := prepOf(j.rec, j.jobID, j.inc)
		var prepID string
		if prep != nil {
			prepID = prep.Prep.TaskID()
		}
		ctx.Send(nodeActor(j.rec.PoolID, p.NodeID), startAttempt{Ref: attempt, Prep: prep, Queued: p.Queued, Start: protocol.StartTask{
			AttemptID:     attempt.AttemptID,
			JobID:         j.jobID,
			TaskID:        t.ID,
			PoolID:        j.rec.PoolID,
			CommandLine:   t.CommandLine,
			Env:           envOf(j.rec.Job, t),
			MaxWallClock:  maxWallClock(t),
			ResourceFiles: t.ResourceFiles,
			OutputFiles:   t.OutputFiles,
			JobPrepTaskID: prepID,
		}})
	}, nil, func(ctx *actor.Context) {
		// The slots are free again and the task, still ready, goes back in the queue.
		ctx.Send(j.sched, proposalAnswer{Task: p.Task, NodeID: p.NodeID})
		j.queue(ctx, []string{p.Task.TaskID})
	})
}

// from is the scheduler that made a proposal: a job moved to another pool (Job - Patch) takes
// none from its old pool's, and answers each to the scheduler that made it.
func (p propose) from() actor.ID { return SchedulerID(p.PoolID) }

// change puts a task record's new value in memory and its write, with what follows from it, in the
// pending batch (see pendingBatch); the first change of a batch sends the flush.
func (j *jobManager) change(ctx *actor.Context, r *taskRecord, next taskRecord, writes []batchWrite, sends, follow, failed func(ctx *actor.Context)) {
	b := j.openBatch(ctx)
	key := batch.IDKey(r.Task.ID)
	if _, ok := b.before[key]; !ok {
		b.before[key] = *r
	}
	*r = next
	for _, w := range writes {
		b.writes.add(w)
	}
	b.sends = append(b.sends, sends)
	if follow != nil {
		b.follow = append(b.follow, follow)
	}
	if failed != nil {
		b.failed = append(b.failed, failed)
	}
}

// openBatch returns the pending batch, opening one (and sending the flush) if there is none.
func (j *jobManager) openBatch(ctx *actor.Context) *pendingBatch {
	if j.batch == nil {
		j.batch = &pendingBatch{before: map[string]taskRecord{}, runs: map[string]nodeRuns{}}
		ctx.Send(ctx.Self(), flushJob{}) // the flush sends the task counts on (countsChanged)
	}
	return j.batch
}

// later sends what f sends once what is pending is in the store: now if nothing is, else with
// the batch's sends, in order. What f sends does not depend on the batch: if its write fails, f
// runs all the same.
func (j *jobManager) later(ctx *actor.Context, f func(ctx *actor.Context)) {
	if j.batch == nil {
		f(ctx)
		return
	}
	if j.batch.later == nil {
		j.batch.later = map[int]bool{}
	}
	j.batch.later[len(j.batch.sends)] = true
	j.batch.sends = append(j.batch.sends, f)
}

// flush writes the pending batch in one transaction, then lets its consequences out; if the write
// fails, the records are restored and the changes fail.
func (j *jobManager) flush(ctx *actor.Context, _ flushJob) {
	b := j.batch
	if b == nil {
		return
	}
	j.batch = nil
	err := j.st.Update(context.Background(), func(tx store.Tx) error {
		var d batch.TaskCountsResult
		for _, key := range sortedKeys(b.before) {
			before := b.before[key]
			if r := j.tasks[key]; r != nil {
				if err := j.countChange(tx, &d, key, &before, &r.Task); err != nil {
					return err
				}
			}
		}
		if err := b.writes.apply(tx); err != nil {
			return err
		}
		if err := countRuns(tx, j.rec.PoolID, b.runs); err != nil {
			return err
		}
		return j.keepCounts(tx, d)
	})
	for key := range b.before {
		j.wrote(key, err)
	}
	if err != nil {
		// Not recorded: restore the records. The agents repeat their results, a lost node's
		// attempts are reported again when its session reconciles, and a proposal not taken
		// frees its slots, so nothing is lost.
		for key, rec := range b.before {
			if r := j.tasks[key]; r != nil {
				// The write may have committed all the same (its acknowledgement lost): an
				// attempt id it used is never used again.
				rec.Attempts = max(rec.Attempts, r.Attempts)
				*r = rec
			}
		}
		j.recount()
		if b.early {
			j.rebuildGraph(ctx) // without the completions that were not written
		}
		for i, f := range b.sends {
			if b.later[i] {
				f(ctx) // an answer that depends on nothing in the batch (a proposal not taken)
			}
		}
		for _, f := range b.failed {
			f(ctx)
		}
		return
	}
	for _, f := range b.sends {
		f(ctx)
	}
	for _, f := range b.follow {
		f(ctx)
	}
	ctx.Announce(BatchWritten{JobID: j.jobID, JobInc: j.inc})
	j.settle(ctx) // the end of a job's last running task may finish its disable
	j.compactDone()
	// The follows change the graph (tasks become ready): counts sent since the batch opened may
	// have counted them blocked.
	j.countsChanged(ctx)
}

// recount recomputes the number of tasks not completed.
func (j *jobManager) recount() {
	j.open = 0
	for _, r := range j.tasks {
		if r.Task.State != batch.TaskCompleted {
			j.open++
		}
	}
}

// flushFirst wraps a handler that needs the store and the actor's state to agree: it writes the
// pending batch before it runs.
func flushFirst[E any](j *jobManager, h func(*actor.Context, E)) func(*actor.Context, E) {
	return func(ctx *actor.Context, e E) {
		j.flush(ctx, flushJob{})
		h(ctx, e)
		j.settle(ctx)
		j.countsChanged(ctx)
		j.compactDone()
	}
}

// maxWallClock is the limit the agent enforces on an attempt; 0 means none.
func maxWallClock(t batch.Task) time.Duration {
	if t.Constraints == nil || t.Constraints.MaxWallClockTime == nil {
		return 0
	}
	if d := t.Constraints.MaxWallClockTime.Std(); d != batch.Infinite {
		return d
	}
	return 0
}

// ended records the end of an attempt: a retry or a requeue puts the task back in the queue; a
// completion may make dependents ready and may end the job. An attempt lost with Terminate (its
// node removed with nodeDeallocationOption terminate) completes the task as terminated, as Task -
// Terminate does; it does not run again. The record goes into the pending batch.
func (j *jobManager) ended(ctx *actor.Context, e attemptEnded) {
	r := j.tasks[batch.IDKey(e.Ref.TaskID)]
	stale := r == nil || r.Attempt.AttemptID != e.Ref.AttemptID || r.NodeID != e.NodeID || r.NodeID == "" ||
		r.Task.State == batch.TaskCompleted
	if stale {
		// A repeated or late report of an attempt already recorded (or being recorded): nothing
		// changes, but the agent may stop repeating it.
		if !e.Lost {
			j.later(ctx, func(ctx *actor.Context) {
				ctx.Send(nodeActor(e.PoolID, e.NodeID), resultRecorded{AttemptID: e.Ref.AttemptID})
			})
			return
		}
		if r == nil || r.Attempt.AttemptID != e.Ref.AttemptID || r.NodeID != e.NodeID {
			j.forget(ctx, e)
		}
		if e.Kill {
			// Its loss (or its end) is recorded already.
			ctx.Send(SchedulerID(e.PoolID), nodeMsg{NodeID: e.NodeID, Msg: killAttempt{AttemptID: e.Ref.AttemptID}})
		}
		return
	}
	now := ctx.Now()
	next := *r
	var outcome batch.Outcome
	var err error
	requeue := e.Lost && !e.Terminate
	queued := r.Task.State == batch.TaskActive // on its node's queue (see queue.go)
	var startedNow *TaskStarted                // its start, recorded with its end
	switch {
	case requeue && queued:
		// It never started: it goes back as it was, neither retried nor requeued.
	case requeue:
		next.Task, err = batch.RequeueTask(r.Task, now)
	case e.Lost:
		next.Task, outcome, err = batch.FinishTask(r.Task, batch.Exit{Condition: batch.ExitTerminated}, now)
	default:
		ran := r.Task
		if ran.State == batch.TaskPreparing {
			// Its start was not recorded (the session's attemptLaunched was lost in a restart).
			ran, err = batch.RunTask(ran, *ran.NodeInfo, startOf(e.Result, now))
			ctx.Assert(err == nil, "job %s task %s: %v", j.jobID, r.Task.ID, err)
		} else if queued {
			// Queued, and its start not recorded (not reported yet, or the result came first).
			ran, err = batch.RunTask(ran, batch.NodeInfo{PoolID: j.rec.PoolID, NodeID: e.NodeID}, startOf(e.Result, now))
			ctx.Assert(err == nil, "job %s task %s: %v", j.jobID, r.Task.ID, err)
			startedNow = &TaskStarted{JobID: j.jobID, TaskID: r.Task.ID, AttemptID: r.Attempt.AttemptID, NodeID: e.NodeID, JobInc: j.inc, Seq: r.Seq, Slots: r.Attempt.Slots, Ended: true}
		}
		next.Task, outcome, err = batch.FinishTask(ran, exitFromResult(e.Result), now)
	}
	ctx.Assert(err == nil, "job %s task %s: %v", j.jobID, r.Task.ID, err)
	if !e.Lost {
		next.Usage = r.Usage.Add(usageOf(e.Result))
	}
	if outcome.Retry {
		next.Usage.Retries++
	}
	next.Attempt, next.NodeID = attemptRef{}, ""
	prevNode, prevAttempt := r.NodeID, r.Attempt.AttemptID
	completes := next.Task.State == batch.TaskCompleted
	if completes {
		j.open--
	}
	early := false // the completion is in the graph before it is written (see jobhop.go)
	j.change(ctx, r, next, []batchWrite{
		{table: tableTasks, key: j.taskKey(next.Task.ID), value: next},
		{table: tableAttempts, key: attemptKey(j.rec.PoolID, prevNode, prevAttempt), delete: true},
	}, func(ctx *actor.Context) {
		if startedNow != nil {
			ctx.Announce(*startedNow)
		}
		if !e.Lost {
			ctx.Announce(AttemptRecorded{JobID: j.jobID, TaskID: next.Task.ID, AttemptID: prevAttempt, ResultAttempt: e.Result.AttemptID,
				JobInc: j.inc, Seq: next.Seq, ExitCode: e.Result.ExitCode, NodeID: e.NodeID})
			ctx.Send(nodeActor(e.PoolID, e.NodeID), resultRecorded{AttemptID: e.Ref.AttemptID})
		}
		if e.Kill {
			ctx.Send(SchedulerID(e.PoolID), nodeMsg{NodeID: e.NodeID, Msg: killAttempt{AttemptID: e.Ref.AttemptID}})
		}
		if early {
			// Before the sends of the batch's later changes: a dependent's start among them.
			seq, round := j.lifeOf(next.Task.ID)
			ctx.Announce(TaskCompleted{JobID: j.jobID, TaskID: next.Task.ID, JobInc: j.inc, Seq: seq, Round: round,
				Satisfies: outcome.ExitOptions.DependencyAction != batch.DependencyBlock, Early: true})
		}
	}, func(ctx *actor.Context) {
		switch {
		case requeue || outcome.Retry:
			j.queue(ctx, []string{next.Task.ID})
		case early:
			j.checkDone(ctx)
		default:
			j.completed(ctx, next.Task.ID, outcome.ExitOptions)
		}
	}, func(ctx *actor.Context) {
		// Not recorded: it comes back by timer. A loss is reported once; a result is repeated
		// by its agent until it is recorded, but not when the node has left meanwhile (its
		// session stopped). A second record of the same end is stale and changes nothing.
		ctx.StartTimer(lostRetry, e)
	})
	early = completes && !e.Lost && j.completeEarly(ctx, next.Task.ID, outcome.ExitOptions)
	if !e.Lost {
		c := j.batch.runs[e.NodeID]
		c.Run++
		if res := e.Result; !res.TimedOut && res.Error == "" && res.UploadError == "" && res.ExitCode == 0 {
			c.Succeeded++
		}
		j.batch.runs[e.NodeID] = c
	}
}

// forget deletes the record of an attempt reported lost that is not its task's current one: one
// recorded by a write whose acknowledgement was lost, and never started, or one of a task that is
// gone. (A deleted pool waits for its attempts' records to go.)
//
// The task's record is written again as the job manager holds it: a write reported failed that
// committed all the same may have left it naming this attempt, which never started (its start is
// sent only after a write that succeeds), and a restart would wait for it for ever.
func (j *jobManager) forget(ctx *actor.Context, e attemptEnded) {
	b := j.openBatch(ctx)
	key := batch.IDKey(e.Ref.TaskID)
	if r := j.tasks[key]; r != nil {
		if _, ok := b.before[key]; !ok {
			b.before[key] = *r // written as it is: the counts change only if the store held it otherwise
		}
	}
	// The attempt's pool, which is the job's unless the job has moved since (Job - Patch).
	b.writes.add(batchWrite{table: tableAttempts, key: attemptKey(e.PoolID, e.NodeID, e.Ref.AttemptID), delete: true})
	if r := j.tasks[key]; r != nil {
		b.writes.add(batchWrite{table: tableTasks, key: j.taskKey(r.Task.ID), value: *r})
	}
}

// countRuns adds to the task counters of a pool's nodes (tableNodeRuns).
func countRuns(tx store.Tx, poolID string, runs map[string]nodeRuns) error {
	for _, node := range sortedKeys(runs) {
		key := batch.IDKey(poolID) + "/" + node
		var c nodeRuns
		r, err := tx.Get(tableNodeRuns, key)
		switch {
		case err == nil:
			if err := json.Unmarshal(r.Value, &c); err != nil {
				return fmt.Errorf("decode task counters %s: %w", key, err)
			}
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		c.Run += runs[node].Run
		c.Succeeded += runs[node].Succeeded
		if err := putJSON(tx, tableNodeRuns, key, c, store.AnyVersion); err != nil {
			return err
		}
	}
	return nil
}

// lostRetry is how long a job manager waits before it records again the end of an attempt that
// the store failed to record.
const lostRetry = time.Second

// completed applies a task's completion: dependents may become ready, the job may react to a
// failure (onTaskFailure) or finish (onAllTasksComplete).
func (j *jobManager) completed(ctx *actor.Context, taskID string, opts batch.ExitOptions) {
	seq, round := j.lifeOf(taskID)
	ctx.Announce(TaskCompleted{JobID: j.jobID, TaskID: taskID, JobInc: j.inc, Seq: seq, Round: round, Satisfies: opts.DependencyAction != batch.DependencyBlock})
	change, err := j.graph.Complete(taskID, opts.DependencyAction)
	ctx.Assert(err == nil, "job %s: graph: %v", j.jobID, err)
	switch r := batch.ReactToTaskCompletion(j.rec.Job, opts); r.Action {
	case batch.JobActionTerminate:
		j.finishJob(ctx, r.TerminateReason)
		return
	case batch.JobActionDisable:
		// As Job - Disable with requeue; if the store fails, the job goes on active.
		if e := j.disable(ctx, r.DisableTasks, 0); e != nil {
			ctx.Log("job manager: disabling the job on a task's exit failed", "job", j.jobID, "task", taskID, "err", e.Code)
		}
	}
	j.queue(ctx, change.Ready)
	j.checkDone(ctx)
}

// checkDone ends the job when onAllTasksComplete says so and no task is left to run.
func (j *jobManager) checkDone(ctx *actor.Context) {
	if batch.AllTasksComplete(j.rec.Job, batch.TaskCounts{Active: int32(j.open)}) {
		j.finishJob(ctx, batch.TerminateReasonAllTasksComplete)
	}
}

// terminateTask is Task - Terminate: a task that has not completed completes now, as terminated;
// a running attempt is killed and its late result ignored.
func (j *jobManager) terminateTask(ctx *actor.Context, req TerminateTask) {
	if r, opts, ok := j.terminateRequested(ctx, req); ok {
		reply(ctx, req.Request, nil)
		j.completed(ctx, r.Task.ID, opts)
	}
}

// terminateRequested records the task Task - Terminate names completed as terminated, if it has
// not completed, and reports true; otherwise it answers the request (done already, not found,
// or the store failed) and reports false.
func (j *jobManager) terminateRequested(ctx *actor.Context, req TerminateTask) (*taskRecord, batch.ExitOptions, bool) {
	if _, done := j.done[batch.IDKey(req.TaskID)]; done {
		reply(ctx, req.Request, nil) // completed already
		return nil, batch.ExitOptions{}, false
	}
	r := j.tasks[batch.IDKey(req.TaskID)]
	if r == nil {
		reply(ctx, req.Request, notFound("TaskNotFound", "task"))
		return nil, batch.ExitOptions{}, false
	}
	if r.Task.State == batch.TaskCompleted {
		reply(ctx, req.Request, nil)
		return nil, batch.ExitOptions{}, false
	}
	opts, ok := j.terminate(ctx, r)
	if !ok {
		reply(ctx, req.Request, busy())
		return nil, batch.ExitOptions{}, false
	}
	return r, opts, true
}

// terminate records a task completed as terminated, killing its attempt if it runs.
func (j *jobManager) terminate(ctx *actor.Context, r *taskRecord) (batch.ExitOptions, bool) {
	next := *r
	t, outcome, err := batch.FinishTask(r.Task, batch.Exit{Condition: batch.ExitTerminated}, ctx.Now())
	ctx.Assert(err == nil, "job %s task %s: terminate: %v", j.jobID, r.Task.ID, err)
	next.Task = t
	if !j.stop(ctx, r, next) {
		return batch.ExitOptions{}, false
	}
	j.open--
	return outcome.ExitOptions, true
}

// stop records a task that is to run no more as next (terminated, or put back in the queue of a
// job being disabled): its attempt, if it runs one, is forgotten in the same write and killed
// after it; a task that runs nothing is taken back from the scheduler's queue. It reports whether
// the write succeeded (if not, nothing changed).
func (j *jobManager) stop(ctx *actor.Context, r *taskRecord, next taskRecord) bool {
	next.Attempt, next.NodeID = attemptRef{}, ""
	key := batch.IDKey(r.Task.ID)
	err := j.st.Update(context.Background(), func(tx store.Tx) error {
		var d batch.TaskCountsResult
		if err := j.writeStopped(tx, &d, r, &next); err != nil {
			return err
		}
		return j.keepCounts(tx, d)
	})
	j.wrote(key, err)
	if err != nil {
		return false
	}
	if r.NodeID != "" {
		ctx.Send(SchedulerID(j.rec.PoolID), nodeMsg{NodeID: r.NodeID, Msg: killAttempt{AttemptID: r.Attempt.AttemptID}})
	} else {
		ctx.Send(j.sched, withdraw{JobID: j.jobID, JobInc: j.inc, TaskID: r.Task.ID, Seq: r.Seq})
	}
	*r = next
	return true
}

// writeStopped writes task r as next, which runs nothing, in tx: the record, the change to the
// counts (added to d) and the removal of the attempt r ran, if any.
func (j *jobManager) writeStopped(tx store.Tx, d *batch.TaskCountsResult, r, next *taskRecord) error {
	if err := j.countChange(tx, d, batch.IDKey(r.Task.ID), r, &next.Task); err != nil {
		return err
	}
	if err := putJSON(tx, tableTasks, j.taskKey(next.Task.ID), *next, store.AnyVersion); err != nil {
		return err
	}
	if r.NodeID != "" {
		err := tx.Delete(tableAttempts, attemptKey(j.rec.PoolID, r.NodeID, r.Attempt.AttemptID), store.AnyVersion)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// terminateJob is Job - Terminate.
func (j *jobManager) terminateJob(ctx *actor.Context, req TerminateJob) {
	if !j.finishJob(ctx, req.Reason) {
		reply(ctx, req.Request, &batch.Error{Code: "ServerBusy", Message: "The server is currently unable to receive requests. Please retry your request."})
		return
	}
	reply(ctx, req.Request, nil)
}

// patchJob is Job - Patch (see PatchJob): the record changes in one transaction that checks
// its version when the request names one, then a job whose onAllTasksComplete became
// terminatejob with nothing left to run completes.
func (j *jobManager) patchJob(ctx *actor.Context, req PatchJob) {
	job := j.rec.Job
	if req.OnAllTasksComplete != "" {
		if job.OnAllTasksComplete == batch.AllCompleteTerminateJob && req.OnAllTasksComplete != batch.AllCompleteTerminateJob {
			reply(ctx, req.Request, &batch.Error{Code: "InvalidPropertyValue",
				Message: "The value provided for one of the properties in the request body is invalid.",
				Values: []batch.KV{{Key: "PropertyName", Value: "onAllTasksComplete"},
					{Key: "Reason", Value: "a job that terminates when all its tasks complete cannot be set back to noaction"}}})
			return
		}
		job.OnAllTasksComplete = req.OnAllTasksComplete
	}
	if req.Metadata != nil {
		job.Metadata = append([]batch.MetadataItem(nil), *req.Metadata...)
	}
	rec := j.rec
	move := req.PoolID != "" && batch.IDKey(req.PoolID) != batch.IDKey(j.rec.PoolID)
	if move {
		if job.State != batch.JobDisabled {
			reply(ctx, req.Request, &batch.Error{Code: batch.CodeOperationInvalidForCurrentState,
				Message: "The job must be disabled for its poolInfo to change.",
				Values:  []batch.KV{{Key: "PropertyName", Value: "poolInfo"}}})
			return
		}
		job.PoolInfo.PoolID, rec.PoolID = req.PoolID, req.PoolID
		if job.ExecutionInfo != nil {
			ei := *job.ExecutionInfo
			ei.PoolID = req.PoolID
			job.ExecutionInfo = &ei
		}
	}
	job.LastModified = ctx.Now()
	rec.Job = job
	if e := j.record(rec, req.IfVersion); e != nil {
		reply(ctx, req.Request, e)
		return
	}
	if move {
		// Disabled, the job has nothing queued or running: only its counts move.
		ctx.Send(j.sched, withdraw{JobID: j.jobID, JobInc: j.inc})
		j.sched = SchedulerID(rec.PoolID)
		ctx.Send(j.sched, jobCounts{JobID: j.jobID, JobInc: j.inc, Counts: j.count()})
	}
	reply(ctx, req.Request, nil)
	j.checkDone(ctx)
}

// finishJob terminates every task that has not completed, then completes the job. It reports
// whether the job is recorded completed.
func (j *jobManager) finishJob(ctx *actor.Context, reason string) bool {
	now := ctx.Now()
	job, err := batch.TerminateJob(j.rec.Job, reason, now)
	if err != nil {
		return j.rec.Job.State == batch.JobCompleted
	}
	if !j.terminateAll(ctx) {
		return false // some still active in the store; the caller answers busy, or a later event tries again
	}
	ctx.Send(j.sched, withdraw{JobID: j.jobID, JobInc: j.inc})
	job, err = batch.CompleteJob(job, now)
	ctx.Assert(err == nil, "job %s: complete: %v", j.jobID, err)
	job.LastModified = now
	rec := j.rec
	rec.Job = job
	if err := j.st.Update(context.Background(), func(tx store.Tx) error {
		return putJSON(tx, tableJobs, batch.IDKey(j.jobID), rec, store.AnyVersion)
	}); err != nil {
		return false // still active in the store; a restart or the next completion tries again
	}
	j.rec = rec
	ctx.Announce(JobFinished{JobID: j.jobID, JobInc: j.inc, Reason: reason})
	if rec.ScheduleID != "" {
		// Straight to the schedule's actor, so that the news is ordered with the schedule's own
		// timers (see schedule.go). The account creates the actor of every schedule in the store
		// when it loads, and a schedule's record outlives its jobs, so the actor exists (or has
		// halted, and the news is dropped).
		ctx.Send(scheduleActor(rec.ScheduleID, rec.ScheduleInc), scheduleJobEnded{JobID: j.jobID, JobInc: j.inc, EndTime: now})
	}
	ctx.Goto("Done")
	return true
}

// deleteTask is Task - Delete: a task that has not completed is terminated first; the task is
// removed from the store and the dependency graph is rebuilt without it (tasks that depended on
// it wait for ever, as on a dependency never added).
func (j *jobManager) deleteTask(ctx *actor.Context, req DeleteTask) {
	key := batch.IDKey(req.TaskID)
	r, e := j.thaw(key)
	if e != nil {
		reply(ctx, req.Request, e)
		return
	}
	if r == nil {
		reply(ctx, req.Request, notFound("TaskNotFound", "task"))
		return
	}
	if r.Task.State != batch.TaskCompleted {
		if _, ok := j.terminate(ctx, r); !ok {
			reply(ctx, req.Request, busy())
			return
		}
		ctx.Announce(TaskCompleted{JobID: j.jobID, TaskID: r.Task.ID, JobInc: j.inc, Seq: r.Seq, Round: r.Round})
	}
	var gone batch.TaskTally
	gone.Add(r.Task, r.Usage)
	err := j.st.Update(context.Background(), func(tx store.Tx) error {
		var d batch.TaskCountsResult
		if err := j.countChange(tx, &d, key, r, nil); err != nil {
			return err
		}
		if err := keepTally(tx, gone, j.rec.Job.CreationTime, j.jobID, j.inc, false); err != nil {
			return err
		}
		if err := tx.Delete(tableTasks, j.taskKey(r.Task.ID), store.AnyVersion); err != nil {
			return err
		}
		return j.keepCounts(tx, d)
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		j.wrote(key, err)
		reply(ctx, req.Request, busy())
		return
	}
	delete(j.unsure, key)
	delete(j.tasks, key)
	j.rebuildGraph(ctx)
	reply(ctx, req.Request, nil)
}

func busy() *batch.Error {
	return &batch.Error{Code: "ServerBusy", Message: "The server is currently unable to receive requests. Please retry your request."}
}

// lifeOf is the Seq and the round of a task of the job (0, 0 if it has none).
func (j *jobManager) lifeOf(taskID string) (seq int64, round int) {
	key := batch.IDKey(taskID)
	if r := j.tasks[key]; r != nil {
		return r.Seq, r.Round
	}
	if d, ok := j.done[key]; ok {
		return d.seq, d.round
	}
	return 0, 0
}

func (j *jobManager) taskKey(taskID string) string {
	return batch.IDKey(j.jobID) + "/" + batch.IDKey(taskID)
}

func nodeActor(poolID, nodeID string) actor.ID {
	return actor.ID("node/" + batch.IDKey(poolID) + "/" + nodeID)
}

// attemptKey is the key of an attempt recorded running on a node: pool ids are
// case-insensitive, so a job that names its pool in another case finds the same records.
func attemptKey(poolID, nodeID, attemptID string) string {
	return attemptsOf(poolID) + nodeID + "/" + attemptID
}

// attemptsOf is the key prefix of the attempts recorded running on a pool's nodes.
func attemptsOf(poolID string) string { return batch.IDKey(poolID) + "/" }

func putJSON(tx store.Tx, table, key string, v any, ifVersion int64) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s/%s: %w", table, key, err)
	}
	_, err = tx.Put(table, key, b, ifVersion)
	return err
}

func asBatchError(err error) *batch.Error {
	var be *batch.Error
	if errors.As(err, &be) {
		return be
	}
	return &batch.Error{Code: "InvalidPropertyValue", Message: err.Error()}
}

func dependsOn(t batch.Task) []string {
	if t.DependsOn == nil {
		return nil
	}
	return t.DependsOn.TaskIDs
}

// envOf is the environment task t of job j runs with: the job's common settings, then the task's.
func envOf(j batch.Job, t batch.Task) []protocol.EnvSetting {
	settings := batch.TaskEnvironment(j, t)
	env := make([]protocol.EnvSetting, len(settings))
	for i, e := range settings {
		env[i] = protocol.EnvSetting{Name: e.Name, Value: e.Value}
	}
	return env
}

// exitFromResult turns an agent's report into the exit batch.FinishTask applies. A process that
// could not start (a resource file that could not be downloaded, a program not found) is a
// pre-processing failure with no exit code; a process that ran but whose output files could not
// all be uploaded is a file upload failure with its exit code. The agent reports Azure's code and
// message as "Code: message". Neither is ever a success.
func exitFromResult(res protocol.TaskResult) batch.Exit {
	if res.TimedOut {
		return batch.WallClockExit()
	}
	if res.Error != "" {
		return batch.Exit{Condition: batch.ExitPreProcessingError, FailureInfo: failureOf(res.Error, "CommandLaunchFailed")}
	}
	code := int32(res.ExitCode)
	if res.UploadError != "" {
		return batch.Exit{Condition: batch.ExitFileUploadError, Code: &code, FailureInfo: failureOf(res.UploadError, batch.FailureCodeFileUpload)}
	}
	return batch.Exit{Condition: batch.ExitProcess, Code: &code}
}

// failureOf reads an agent's "Code: message" into a usererror failureInfo; a report without a
// code gets defaultCode.
func failureOf(report, defaultCode string) *batch.FailureInfo {
	code, msg, ok := strings.Cut(report, ": ")
	if !ok || code == "" || strings.ContainsAny(code, " \t") {
		code, msg = defaultCode, report
	}
	return &batch.FailureInfo{Category: batch.UserError, Code: code, Message: msg}
}

// records returns the job's task records in the order they were added.
func (j *jobManager) records() []*taskRecord {
	recs := make([]*taskRecord, 0, len(j.tasks))
	for _, k := range sortedKeys(j.tasks) {
		recs = append(recs, j.tasks[k])
	}
	sortBySeq(recs)
	return recs
}

// exitOf rebuilds the exit of a completed task from its record.
func exitOf(t batch.Task) batch.Exit { return batch.RecordedExit(t) }

// sortBySeq puts task records in the order they were added (a restart loads a job's tasks in
// key order, and rebuilds its graph in addition order).
func sortBySeq(rs []*taskRecord) {
	slices.SortFunc(rs, func(a, b *taskRecord) int { return cmp.Compare(a.Seq, b.Seq) })
}

// announceEnd tells the sessions of the nodes of the job's pool, and of every pool where a node
// ran the job's preparation task, that the job has ended (or, with deleted, is deleted): those
// that ran it run its release task, and none runs it anew. It goes through the account, which
// passes it to the pool's scheduler if the pool still exists, and the scheduler to every session
// of the pool. If the store cannot be read, the nodes of other pools hear of it when their pool
// manager next loads.
func (j *jobManager) announceEnd(ctx *actor.Context, deleted bool) {
	if j.rec.Job.JobPreparationTask == nil {
		return
	}
	var nodes []jobPrepRecord
	err := j.st.View(context.Background(), func(tx store.Tx) error {
		rs, err := tx.List(tableJobPreps, prepJobPrefix(j.jobID, j.inc), "", 0)
		if err != nil {
			return err
		}
		for _, kv := range rs {
			var r jobPrepRecord
			if err := json.Unmarshal(kv.Value, &r); err != nil {
				return err
			}
			nodes = append(nodes, r)
		}
		return nil
	})
	if err != nil {
		ctx.Log("job manager: reading the job's preparation records failed", "job", j.jobID, "err", err)
		return
	}
	pools := map[string]string{batch.IDKey(j.rec.PoolID): j.rec.PoolID}
	for _, r := range nodes {
		pools[batch.IDKey(r.PoolID)] = r.PoolID
	}
	for _, key := range sortedKeys(pools) {
		ctx.Send(AccountID, nodeMsgFor{PoolID: pools[key], Msg: nodeMsg{Msg: jobEnded{JobID: j.jobID, JobInc: j.inc, Deleted: deleted}}})
	}
}

// attemptLaunched tells a job manager that a node's session has had its agent start an attempt
// of a task that was preparing (its job has a preparation task): the task is running now.
type attemptLaunched struct {
	Ref       attemptRef
	StartTime time.Time // when its process started, if the agent said (zero: now)
}

// launched takes attemptLaunched: a task preparing under that attempt goes to running. Anything
// else (a late or repeated report, a task ended since) changes nothing.
func (j *jobManager) launched(ctx *actor.Context, e attemptLaunched) {
	r := j.tasks[batch.IDKey(e.Ref.TaskID)]
	queued := r != nil && r.Task.State == batch.TaskActive && r.NodeID != ""
	if r == nil || r.Attempt.AttemptID != e.Ref.AttemptID || (r.Task.State != batch.TaskPreparing && !queued) {
		return
	}
	start := e.StartTime
	if start.IsZero() {
		start = ctx.Now()
	}
	next := *r
	started := TaskStarted{JobID: j.jobID, TaskID: r.Task.ID, AttemptID: r.Attempt.AttemptID, NodeID: r.NodeID, JobInc: j.inc, Seq: r.Seq, Slots: r.Attempt.Slots}
	t, err := batch.RunTask(r.Task, batch.NodeInfo{PoolID: j.rec.PoolID, NodeID: r.NodeID}, start)
	ctx.Assert(err == nil, "job %s task %s: %v", j.jobID, r.Task.ID, err)
	next.Task = t
	next.Attempt.Queued = false
	writes := []batchWrite{{table: tableTasks, key: j.taskKey(t.ID), value: next}}
	if queued {
		writes = append(writes, batchWrite{table: tableAttempts, key: attemptKey(j.rec.PoolID, next.NodeID, next.Attempt.AttemptID), value: next.Attempt})
	}
	j.change(ctx, r, next, writes, func(ctx *actor.Context) {
		if queued {
			ctx.Announce(started)
		}
	}, nil, nil)
}

// startOf is when an attempt's process started, by its result, or now if it does not say.
func startOf(res protocol.TaskResult, now time.Time) time.Time {
	if res.StartTime.IsZero() {
		return now
	}
	return res.StartTime
}
