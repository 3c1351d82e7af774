package service

import (
	"time"

	"corral/actor"
	"corral/batch"
)

// AccountID is the actor that takes the API's requests: it owns the account's set of pools and
// jobs and hands each request to the actor that owns what it is about.
const AccountID actor.ID = "account"

// Request is what every request to the service carries: an id, and the actor that gets the
// Reply. A request is answered once, after whatever it changed is in the store.
type Request struct {
	ID      string
	ReplyTo actor.ID
}

// Requests from the API (the write half of Azure Batch's data plane; reads go to the store, see
// reads.go).
type (
	// AddPool is Pool - Add.
	AddPool struct {
		Request
		Pool batch.Pool
	}
	// DeletePool is Pool - Delete.
	DeletePool struct {
		Request
		PoolID string
		// Inc, if not 0, is the life of the pool to delete: a delete meant for a life that is
		// gone (a request delayed on its way) finds no pool, rather than deleting a pool added
		// since under the same id.
		Inc int64
	}
	// AddJob is Job - Add.
	AddJob struct {
		Request
		Job batch.Job
	}
	// TerminateJob is Job - Terminate.
	TerminateJob struct {
		Request
		JobID  string
		Reason string
	}
	// DeleteJob is Job - Delete: the job goes to deleting, its running tasks are killed, and the
	// request is answered; the job's tasks and then the job are removed in the background (a
	// restart carries on). A job being deleted answers every other change with 409
	// JobBeingDeleted, and a delete with success.
	DeleteJob struct {
		Request
		JobID string
		Inc   int64 // as DeletePool.Inc
		// Wait holds the answer until the job is gone (a job schedule's delete waits for its
		// jobs).
		Wait bool
	}
	// PatchJob is Job - Patch: the properties given change, the others stay. OnAllTasksComplete
	// "" and Metadata nil leave them as they are; a job whose onAllTasksComplete becomes
	// terminatejob with no task left to run completes at once (Azure's pattern: add the tasks,
	// then set it). Errors: JobNotFound, JobCompleted (409), InvalidPropertyValue (400) for
	// terminatejob to noaction (Azure does not turn automatic termination off), ConditionNotMet
	// (412) when IfVersion is not 0 and the job's record is at another version (If-Match).
	//
	// PoolID, if not "" and another pool than the job's, moves the job to that pool (which need
	// not exist yet, as at Job - Add): only a disabled job moves (409
	// OperationInvalidForCurrentState otherwise), so none of its tasks runs; after the enable
	// they run on the new pool.
	PatchJob struct {
		Request
		JobID              string
		PoolID             string
		OnAllTasksComplete batch.OnAllTasksComplete
		Metadata           *[]batch.MetadataItem
		IfVersion          int64
	}
	// DisableJob is Job - Disable: the job goes to disabling at once and no task of it starts
	// until it is enabled; its running tasks are requeued (killed and put back, their retry
	// count not charged), terminated (completed with failureInfo TaskEnded) or left to finish,
	// as DisableTasks says; once none runs the job is disabled. Disabling a job that is
	// disabling or disabled succeeds and changes nothing. Errors: JobNotFound, JobCompleted,
	// JobNotActive (409, the job is enabling), InvalidPropertyValue (400) for an unknown
	// DisableTasks, ConditionNotMet (412) as PatchJob.IfVersion.
	DisableJob struct {
		Request
		JobID        string
		DisableTasks batch.DisableTasks
		IfVersion    int64
	}
	// EnableJob is Job - Enable: a disabled job goes to enabling, then active, and its ready
	// tasks are scheduled again. Enabling a job that is active or enabling succeeds and changes
	// nothing. Errors: JobNotFound, JobCompleted, OperationInvalidForCurrentState (409, the job
	// is disabling), ConditionNotMet (412) as PatchJob.IfVersion.
	EnableJob struct {
		Request
		JobID     string
		IfVersion int64
	}
	// AddTasks is Task - Add (one task) and Task - Add Collection (up to 100).
	AddTasks struct {
		Request
		JobID string
		Tasks []batch.Task
	}
	// TerminateTask is Task - Terminate.
	TerminateTask struct {
		Request
		JobID, TaskID string
	}
	// DeleteTask is Task - Delete.
	DeleteTask struct {
		Request
		JobID, TaskID string
	}
	// UpdateTask is Task - Update: the task's constraints become Constraints, with Azure's
	// defaults for what it leaves out (batch.TaskConstraintsWithDefaults; nil: all defaults).
	// A new maxTaskRetryCount decides every retry still to come, the running attempt's included;
	// a new maxWallClockTime applies to the attempts that start after the update (the running
	// one keeps the limit it started with). Errors: JobNotFound, TaskNotFound, JobCompleted
	// (409), InvalidConstraintValue (400), ConditionNotMet (412) when IfVersion is not 0 and the
	// task's record is at another version (If-Match).
	UpdateTask struct {
		Request
		JobID, TaskID string
		Constraints   *batch.TaskConstraints
		IfVersion     int64
	}
	// ReactivateTask is Task - Reactivate: a task that completed with a failure is active again,
	// its retry count 0 and its failure forgotten, and runs again (when its job is not
	// disabled) under new attempts; tasks that depend on it and have not started wait for its
	// new completion. Errors: JobNotFound, TaskNotFound, JobCompleted (409), TaskNotCompleted
	// (409), TaskSucceeded (409), ConditionNotMet (412) when IfVersion is not 0 and the task's
	// record is at another version (If-Match).
	ReactivateTask struct {
		Request
		JobID, TaskID string
		IfVersion     int64
	}
	// ResizePool is Pool - Resize: the pool's targets change and it goes to allocation state
	// resizing until it has them (or ResizeTimeout passes). Errors: PoolNotFound,
	// PoolBeingResized (409) while a resize or stop is under way,
	// OperationInvalidForCurrentState for an autoscale pool, PoolBeingDeleted.
	ResizePool struct {
		Request
		PoolID                 string
		TargetDedicatedNodes   int32
		TargetLowPriorityNodes int32
		ResizeTimeout          time.Duration                // 0: Azure's default, 15 minutes
		NodeDeallocationOption batch.NodeDeallocationOption // "": requeue
	}
	// StopResizePool is Pool - Stop Resize: creations under way are cancelled and the pool keeps
	// the nodes it has (allocation state stopping, then steady, with a ResizeStopped resize
	// error). Stopping a pool that is not resizing succeeds and changes nothing (Azure does not
	// document this case; this is Corral's choice).
	StopResizePool struct {
		Request
		PoolID string
	}
	// EnableAutoScale is Pool - Enable AutoScale: the pool sizes itself by Formula, evaluated at
	// once and then every EvaluationInterval (0: the pool's current interval, or Azure's default
	// of 15 minutes). Errors: PoolNotFound, PoolBeingResized (409) while a manual resize is under
	// way, PoolBeingDeleted, InvalidAutoScaleFormula-like formula errors (400, see
	// batch/autoscale), InvalidPropertyValue for an interval out of range.
	EnableAutoScale struct {
		Request
		PoolID             string
		Formula            string        // "": keep the pool's formula (autoscale must be enabled)
		EvaluationInterval time.Duration // 0: keep the pool's interval, or 15 minutes
	}
	// DisableAutoScale is Pool - Disable AutoScale: the pool keeps its current targets and the
	// nodes it has; a resize under way goes on.
	DisableAutoScale struct {
		Request
		PoolID string
	}
	// PatchPool is Pool - Patch and Pool - Update Properties: Metadata replaces the pool's
	// metadata (nil leaves it); with SetStartTask, StartTask replaces the pool's start task (nil
	// removes it), for the nodes' next runs of it (nodes that join, or restart afresh). IfVersion, if not 0, is the version the pool's record must have
	// (If-Match), else ConditionNotMet (412). Errors: PoolNotFound, PoolBeingDeleted.
	PatchPool struct {
		Request
		PoolID       string
		Metadata     *[]batch.MetadataItem
		SetStartTask bool
		StartTask    *batch.StartTask
		IfVersion    int64
	}
	// EvaluateAutoScale is Pool - Evaluate AutoScale: Formula is evaluated against the pool's
	// current samples and counts, and the outcome is answered (Reply.AutoScaleRun) without
	// changing the pool. The pool must have autoscale enabled (409 AutoScaleNotEnabled
	// otherwise, as Azure).
	EvaluateAutoScale struct {
		Request
		PoolID  string
		Formula string
	}
	// AddJobSchedule is Job Schedule - Add. Errors: the validation's (batch.ValidateJobSchedule),
	// JobScheduleExists, JobScheduleBeingDeleted, JobWithSameIdExists (a job has the id).
	AddJobSchedule struct {
		Request
		Schedule batch.JobSchedule
	}
	// PatchJobSchedule is Job Schedule - Patch and Update: Schedule, JobSpecification and
	// Metadata replace the schedule's own when not nil (Update sends all three). The jobs the
	// schedule creates after the change are made from the new specification; the active job is
	// not changed. IfVersion, if not 0, is the version the schedule's record must have
	// (If-Match), else ConditionNotMet (412). Errors: JobScheduleNotFound, JobScheduleCompleted,
	// JobScheduleBeingTerminated, JobScheduleBeingDeleted, the validation's.
	PatchJobSchedule struct {
		Request
		JobScheduleID    string
		Schedule         *batch.Schedule
		JobSpecification *batch.JobSpecification
		Metadata         *[]batch.MetadataItem
		IfVersion        int64
	}
	// DisableJobSchedule is Job Schedule - Disable: the schedule creates no job until it is
	// enabled; its active job runs on. Disabling a disabled schedule changes nothing.
	DisableJobSchedule struct {
		Request
		JobScheduleID string
	}
	// EnableJobSchedule is Job Schedule - Enable. Enabling an active schedule changes nothing.
	EnableJobSchedule struct {
		Request
		JobScheduleID string
	}
	// TerminateJobSchedule is Job Schedule - Terminate: the schedule goes to terminating, its
	// active job is terminated (terminateReason TerminateJobSchedule), then the schedule
	// completes. The answer comes once the schedule is terminating.
	TerminateJobSchedule struct {
		Request
		JobScheduleID string
	}
	// DeleteJobSchedule is Job Schedule - Delete: the schedule goes to deleting, every job it
	// created is deleted (as Job - Delete does), then the schedule. The answer comes once it is
	// gone.
	DeleteJobSchedule struct {
		Request
		JobScheduleID string
		Inc           int64 // as DeletePool.Inc
	}
	// RemoveNodes is Pool - Remove Nodes: the named nodes leave the pool and its targets drop by
	// as many (per kind). The pool must be steady; it resizes (allocation state resizing) until
	// the nodes are gone. At most 100 nodes per request.
	RemoveNodes struct {
		Request
		PoolID                 string
		NodeIDs                []string
		ResizeTimeout          time.Duration                // 0: 15 minutes
		NodeDeallocationOption batch.NodeDeallocationOption // "": requeue
	}
)

// Reply answers a request. Err is nil on success; for AddTasks, Tasks has one result per task, in
// the order given (Azure's TaskAddCollectionResult), and Err is set only when the request as a
// whole failed (the job does not exist).
type Reply struct {
	RequestID string
	Err       *batch.Error
	Tasks     []TaskAddResult
	// AutoScaleRun answers EvaluateAutoScale: the outcome of the evaluation (its Error set if
	// the formula failed to evaluate).
	AutoScaleRun *batch.AutoScaleRun
}

// TaskAddResult is the outcome of adding one task.
type TaskAddResult struct {
	TaskID string
	Err    *batch.Error // nil: added
	// ETag and LastModified are the added task's, as Task - Get would show them just after.
	ETag         string
	LastModified time.Time
}

// jobGone tells the account that a job was deleted.
type jobGone struct {
	JobID string
	Inc   int64
}

// poolGone tells the account that a pool was deleted.
type poolGone struct {
	PoolID string
	Inc    int64
}

// stop ends a pool's scheduler or node session when the pool is deleted, or a node's session
// when its node is removed with nodeDeallocationOption requeue or terminate. With Terminate, the
// attempts the session knows run are reported for termination (attemptEnded.Terminate) instead
// of requeue.
type stop struct{ Terminate bool }

func reply(ctx *actor.Context, r Request, err *batch.Error) {
	ctx.Send(r.ReplyTo, Reply{RequestID: r.ID, Err: err})
}
