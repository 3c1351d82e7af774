package batch

import (
	"fmt"
	"time"
)

// Reasons Azure Batch writes into a job's executionInfo.terminateReason ("Job - Get",
// JobExecutionInformation). Any other string is a reason a user gave to Job - Terminate.
const (
	// TerminateReasonAllTasksComplete: onAllTasksComplete is terminatejob and all tasks completed.
	TerminateReasonAllTasksComplete = "AllTasksComplete"
	// TerminateReasonTaskFailed: onTaskFailure is performexitoptionsjobaction and a task completed
	// with an exit condition whose jobAction is terminate.
	TerminateReasonTaskFailed = "TaskFailed"
	// TerminateReasonMaxWallClockTimeExpiry: the job reached its constraints.maxWallClockTime.
	TerminateReasonMaxWallClockTimeExpiry = "MaxWallClockTimeExpiry"
	// TerminateReasonUserTerminate: a user terminated the job without giving a reason.
	TerminateReasonUserTerminate = "UserTerminate"
	// TerminateReasonJMComplete: the job manager task completed (job manager tasks are not
	// supported by Corral yet; listed for completeness).
	TerminateReasonJMComplete = "JMComplete"
	// TerminateReasonTerminateJobSchedule: the job ran on a job schedule, and the schedule was
	// terminated.
	TerminateReasonTerminateJobSchedule = "TerminateJobSchedule"
)

// Job states and the changes between them:
//
//	active      -> disabling, terminating, deleting
//	disabling   -> disabled, terminating, deleting
//	disabled    -> enabling, terminating, deleting
//	enabling    -> active, terminating, deleting
//	terminating -> completed, deleting
//	completed   -> deleting
var jobTransitions = map[JobState][]JobState{
	JobActive:      {JobDisabling, JobTerminating, JobDeleting},
	JobDisabling:   {JobDisabled, JobTerminating, JobDeleting},
	JobDisabled:    {JobEnabling, JobTerminating, JobDeleting},
	JobEnabling:    {JobActive, JobTerminating, JobDeleting},
	JobTerminating: {JobCompleted, JobDeleting},
	JobCompleted:   {JobDeleting},
}

// CanTransitionJob reports whether a job may go from state from to state to.
func CanTransitionJob(from, to JobState) bool {
	for _, s := range jobTransitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// TransitionJob returns j moved to state to at time now, with previousState,
// previousStateTransitionTime, stateTransitionTime and lastModified updated. A change that is not
// allowed fails with Azure's code for the job's state: JobCompleted, JobBeingTerminated,
// JobBeingDeleted, JobNotActive (disabling a job that is not active), or
// OperationInvalidForCurrentState.
func TransitionJob(j Job, to JobState, now time.Time) (Job, error) {
	from := j.State
	if from == "" {
		from = JobActive
	}
	if !CanTransitionJob(from, to) {
		msg := fmt.Sprintf("job %s cannot go from %s to %s", j.ID, from, to)
		switch {
		case from == JobCompleted:
			return j, stateError(CodeJobCompleted, msg)
		case from == JobTerminating:
			return j, stateError(CodeJobBeingTerminated, msg)
		case from == JobDeleting:
			return j, stateError(CodeJobBeingDeleted, msg)
		case to == JobDisabling:
			return j, stateError(CodeJobNotActive, msg)
		}
		return j, stateError(CodeOperationInvalidForCurrentState, msg)
	}
	if j.ExecutionInfo != nil {
		ei := *j.ExecutionInfo
		j.ExecutionInfo = &ei
	}
	j.PreviousState = from
	j.PreviousStateTransitionTime = j.StateTransitionTime
	j.State = to
	j.StateTransitionTime = now
	j.LastModified = now
	return j, nil
}

// TerminateJob starts terminating j (-> terminating) and records the reason; an empty reason
// becomes [TerminateReasonUserTerminate], the reason Azure writes when a user gives none. The
// service then ends the job's running tasks and calls [CompleteJob].
func TerminateJob(j Job, reason string, now time.Time) (Job, error) {
	j, err := TransitionJob(j, JobTerminating, now)
	if err != nil {
		return j, err
	}
	if reason == "" {
		reason = TerminateReasonUserTerminate
	}
	if j.ExecutionInfo == nil {
		j.ExecutionInfo = &JobExecutionInfo{StartTime: j.CreationTime, PoolID: j.PoolInfo.PoolID}
	}
	j.ExecutionInfo.TerminateReason = reason
	return j, nil
}

// CompleteJob finishes a terminating job: terminating -> completed, with executionInfo.endTime.
func CompleteJob(j Job, now time.Time) (Job, error) {
	if j.State != JobTerminating {
		return TransitionJob(j, JobCompleted, now) // fails with the right code
	}
	j, err := TransitionJob(j, JobCompleted, now)
	if err != nil {
		return j, err
	}
	if j.ExecutionInfo == nil {
		j.ExecutionInfo = &JobExecutionInfo{StartTime: j.CreationTime, PoolID: j.PoolInfo.PoolID}
	}
	j.ExecutionInfo.EndTime = now
	return j, nil
}

// JobReaction is what a job does after one of its tasks completed, decided by
// [ReactToTaskCompletion].
type JobReaction struct {
	// Action is none, disable or terminate.
	Action JobAction
	// TerminateReason is [TerminateReasonTaskFailed] when Action is terminate.
	TerminateReason string
	// DisableTasks is requeue when Action is disable: a jobAction of disable is the same as
	// Job - Disable with disableTasks requeue.
	DisableTasks DisableTasks
}

// ReactToTaskCompletion decides what j does when one of its tasks completed with the effective
// exit options opts (from [FinishTask] or [EffectiveExitOptions]). Azure applies the exit
// options' jobAction only when the job's onTaskFailure is performexitoptionsjobaction; with the
// defaults that means terminate (reason TaskFailed) for a failed task and nothing for exit code 0,
// and an exit condition may map exit code 0 to a job action too. Disable applies only to an active
// job, terminate to a job that is not already terminating, completed or being deleted.
func ReactToTaskCompletion(j Job, opts ExitOptions) JobReaction {
	none := JobReaction{Action: JobActionNone}
	if j.OnTaskFailure != TaskFailurePerformExitOptionsJobAction {
		return none
	}
	state := j.State
	if state == "" {
		state = JobActive
	}
	switch opts.JobAction {
	case JobActionTerminate:
		if state == JobTerminating || state == JobCompleted || state == JobDeleting {
			return none
		}
		return JobReaction{Action: JobActionTerminate, TerminateReason: TerminateReasonTaskFailed}
	case JobActionDisable:
		if state != JobActive {
			return none
		}
		return JobReaction{Action: JobActionDisable, DisableTasks: DisableRequeue}
	}
	return none
}

// AllTasksComplete reports whether j must now terminate because of its onAllTasksComplete
// setting: it is terminatejob, the job is active, and no task is active or running (counts from
// [TaskCountsResult.Add]). As Azure documents, a job with no tasks has all its tasks complete — so
// a job added with terminatejob and no tasks terminates at once (Azure advises setting it only
// after the tasks are added). The reason is [TerminateReasonAllTasksComplete].
//
// Tasks that wait forever because a dependency completed with dependencyAction block stay active,
// in Azure and in Corral, so such a job does not complete by itself.
func AllTasksComplete(j Job, counts TaskCounts) bool {
	if j.OnAllTasksComplete != AllCompleteTerminateJob {
		return false
	}
	if j.State != JobActive && j.State != "" {
		return false
	}
	return counts.Active == 0 && counts.Running == 0
}

// JobWallClockDeadline returns when j reaches its constraints.maxWallClockTime, measured from its
// creation as Azure does, and false when it has no limit.
func JobWallClockDeadline(j Job) (time.Time, bool) {
	if j.Constraints == nil || j.CreationTime.IsZero() {
		return time.Time{}, false
	}
	limit := durationOf(j.Constraints.MaxWallClockTime, Infinite)
	if limit == Infinite {
		return time.Time{}, false
	}
	return j.CreationTime.Add(limit), true
}

// JobWallClockExpired reports whether j must be terminated at time now with reason
// [TerminateReasonMaxWallClockTimeExpiry]: it has a maxWallClockTime that has passed and it is not
// already terminating, completed or being deleted.
func JobWallClockExpired(j Job, now time.Time) bool {
	if j.State == JobTerminating || j.State == JobCompleted || j.State == JobDeleting {
		return false
	}
	d, ok := JobWallClockDeadline(j)
	return ok && !now.Before(d)
}

// CanAddTask checks that tasks may be added to j: Azure refuses them once a job is completed,
// terminating or being deleted.
func CanAddTask(j Job) error {
	msg := fmt.Sprintf("job %s is %s; tasks cannot be added", j.ID, j.State)
	switch j.State {
	case JobCompleted:
		return stateError(CodeJobCompleted, msg)
	case JobTerminating:
		return stateError(CodeJobBeingTerminated, msg)
	case JobDeleting:
		return stateError(CodeJobBeingDeleted, msg)
	}
	return nil
}
