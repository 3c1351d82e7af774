package batch

import (
	"fmt"
	"time"
)

// Task states and the changes between them, as Azure names them ("Task - Get", TaskState):
//
//	active    -> preparing  assigned to a node that must first run the job preparation task
//	active    -> running    assigned to a node and started
//	active    -> completed  terminated before it ran, or it could not be scheduled
//	preparing -> running    the job preparation task succeeded
//	preparing -> active     the job preparation task failed: back in the queue
//	preparing -> completed  terminated, or a pre-processing error
//	running   -> active     a failed attempt to be retried, or a requeue (node lost, preempted,
//	                        removed, job disabled)
//	running   -> completed  the final attempt ended
//	completed -> active     Task - Reactivate, for a task that failed
var taskTransitions = map[TaskState][]TaskState{
	TaskActive:    {TaskPreparing, TaskRunning, TaskCompleted},
	TaskPreparing: {TaskRunning, TaskActive, TaskCompleted},
	TaskRunning:   {TaskActive, TaskCompleted},
	TaskCompleted: {TaskActive},
}

// CanTransitionTask reports whether a task may go from state from to state to.
func CanTransitionTask(from, to TaskState) bool {
	for _, s := range taskTransitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// TransitionTask returns t moved to state to at time now: previousState and
// previousStateTransitionTime take the old values, stateTransitionTime and lastModified become now.
// It fails with TaskCompleted when t is completed and to is not active, and with
// OperationInvalidForCurrentState for any other change not listed above. t itself is not changed.
func TransitionTask(t Task, to TaskState, now time.Time) (Task, error) {
	from := t.State
	if from == "" {
		from = TaskActive
	}
	if !CanTransitionTask(from, to) {
		if from == TaskCompleted {
			return t, stateError(CodeTaskCompleted,
				fmt.Sprintf("task %s is completed and cannot become %s", t.ID, to))
		}
		return t, stateError(CodeOperationInvalidForCurrentState,
			fmt.Sprintf("task %s cannot go from %s to %s", t.ID, from, to))
	}
	t = cloneTask(t)
	t.PreviousState = from
	t.PreviousStateTransitionTime = t.StateTransitionTime
	t.State = to
	t.StateTransitionTime = now
	t.LastModified = now
	return t, nil
}

// cloneTask copies the parts of t that the state functions change, so that the caller's task is
// left as it was.
func cloneTask(t Task) Task {
	if t.ExecutionInfo != nil {
		ei := *t.ExecutionInfo
		t.ExecutionInfo = &ei
	} else {
		t.ExecutionInfo = &TaskExecutionInfo{}
	}
	if t.NodeInfo != nil {
		ni := *t.NodeInfo
		t.NodeInfo = &ni
	}
	return t
}

// PrepareTask assigns an active task to a node that must first run the job's preparation task:
// active -> preparing.
func PrepareTask(t Task, node NodeInfo, now time.Time) (Task, error) {
	if t.State != TaskActive && t.State != "" {
		return t, stateError(CodeOperationInvalidForCurrentState,
			fmt.Sprintf("task %s is %s; only an active task can be assigned to a node", t.ID, t.State))
	}
	retry := retryStarting(t)
	t, err := TransitionTask(t, TaskPreparing, now)
	if err != nil {
		return t, err
	}
	t.NodeInfo = &node
	if retry {
		t.ExecutionInfo.LastRetryTime = now
	}
	return t, nil
}

// retryStarting reports whether an active task that is about to leave the queue starts a retry:
// it entered active from running because an attempt failed (FinishTask), not because it was
// requeued (RequeueTask sets lastRequeueTime to the moment it entered active).
func retryStarting(t Task) bool {
	return t.State == TaskActive && t.PreviousState == TaskRunning &&
		t.ExecutionInfo != nil && t.ExecutionInfo.RetryCount > 0 &&
		!(t.ExecutionInfo.RequeueCount > 0 &&
			t.ExecutionInfo.LastRequeueTime.Equal(t.StateTransitionTime))
}

// RunTask starts an attempt of t on a node: active or preparing -> running. It records the node
// and the start time, and lastRetryTime when this attempt is a retry after a failed one (not when
// it restarts after a requeue, as Azure documents for lastRetryTime; a retry that goes through
// preparing gets its lastRetryTime from PrepareTask).
func RunTask(t Task, node NodeInfo, now time.Time) (Task, error) {
	retryStart := retryStarting(t)
	if t.State == TaskRunning || t.State == TaskCompleted {
		return t, stateError(CodeOperationInvalidForCurrentState,
			fmt.Sprintf("task %s is %s; it cannot start", t.ID, t.State))
	}
	t, err := TransitionTask(t, TaskRunning, now)
	if err != nil {
		return t, err
	}
	t.NodeInfo = &node
	t.ExecutionInfo.StartTime = now
	if retryStart {
		t.ExecutionInfo.LastRetryTime = now
	}
	return t, nil
}

// RequeueTask puts a preparing or running task back in the queue because its attempt was
// interrupted, not because it failed: its node was lost, preempted or removed from the pool, or
// its job was disabled with disableTasks requeue. A requeue does not count against
// maxTaskRetryCount; it increments requeueCount and sets lastRequeueTime.
//
// Departure from Azure: Azure counts in requeueCount only requeues a user asked for (removing
// nodes, disabling the job) and retries tasks after node failures invisibly; Corral counts every
// requeue, so that "why did my task run twice" has an answer in the task itself.
func RequeueTask(t Task, now time.Time) (Task, error) {
	if t.State != TaskRunning && t.State != TaskPreparing {
		return t, stateError(CodeOperationInvalidForCurrentState,
			fmt.Sprintf("task %s is %s; only a preparing or running task can be requeued",
				t.ID, t.State))
	}
	t, err := TransitionTask(t, TaskActive, now)
	if err != nil {
		return t, err
	}
	t.ExecutionInfo.RequeueCount++
	t.ExecutionInfo.LastRequeueTime = now
	return t, nil
}

// RetryLimit returns the task's effective maxTaskRetryCount: its own constraint, or 0 when it has
// none (NewTask copies the job's value into the task, as Azure does).
func RetryLimit(t Task) int32 {
	if t.Constraints == nil || t.Constraints.MaxTaskRetryCount == nil {
		return 0
	}
	return *t.Constraints.MaxTaskRetryCount
}

// ShouldRetry reports whether a task that has been retried retryCount times may be retried once
// more under maxTaskRetryCount limit: -1 means without limit, 0 never. Azure: with a limit of 3 a
// task runs at most 4 times (one try and 3 retries).
func ShouldRetry(retryCount, limit int32) bool {
	return limit == -1 || retryCount < limit
}

// Outcome is what [FinishTask] decided about an attempt.
type Outcome struct {
	// Retry: the attempt failed with a non-zero exit code and retries are left; the task is active
	// again and its retryCount was incremented.
	Retry bool
	// Completed: the task is completed.
	Completed bool
	// Succeeded: the task completed with result success.
	Succeeded bool
	// ExitOptions are the effective exit options of the final attempt (set when Completed): the
	// dependency action for the tasks that depend on it, and the job action (see
	// [ReactToTaskCompletion]).
	ExitOptions ExitOptions
}

// FinishTask applies the end of an attempt of t at time now. A process that exited with a
// non-zero code is retried while [ShouldRetry] allows it (the task goes back to active); pre-
// processing errors, file upload errors, wall-clock timeouts and terminations are never retried
// (Azure retries only application failures, and marks a task over its maxWallClockTime
// completed). Otherwise the task completes: endTime, exitCode, result, and failureInfo when it
// failed; the outcome carries the effective exit options.
//
// Allowed states: running for process exits, upload errors and timeouts; preparing or running for
// pre-processing errors; active, preparing or running for terminations.
func FinishTask(t Task, exit Exit, now time.Time) (Task, Outcome, error) {
	allowed := false
	switch exit.Condition {
	case ExitProcess, ExitFileUploadError, ExitWallClockTimeout:
		allowed = t.State == TaskRunning
	case ExitPreProcessingError:
		allowed = t.State == TaskRunning || t.State == TaskPreparing
	case ExitTerminated:
		allowed = t.State == TaskRunning || t.State == TaskPreparing || t.State == TaskActive ||
			t.State == ""
	}
	if !allowed {
		code := CodeOperationInvalidForCurrentState
		if t.State == TaskCompleted {
			code = CodeTaskCompleted
		}
		return t, Outcome{}, stateError(code,
			fmt.Sprintf("task %s is %s; it cannot finish with a %s", t.ID, t.State, exit.Condition))
	}
	if exit.Condition == ExitProcess && exit.Code == nil {
		return t, Outcome{}, fmt.Errorf("batch: finishing task %s: a process exit needs an exit code",
			t.ID)
	}
	if exit.Condition == ExitProcess && *exit.Code != 0 {
		retries := int32(0)
		if t.ExecutionInfo != nil {
			retries = t.ExecutionInfo.RetryCount
		}
		if ShouldRetry(retries, RetryLimit(t)) {
			t, err := TransitionTask(t, TaskActive, now)
			if err != nil {
				return t, Outcome{}, err
			}
			t.ExecutionInfo.RetryCount++
			return t, Outcome{Retry: true}, nil
		}
	}
	t, err := TransitionTask(t, TaskCompleted, now)
	if err != nil {
		return t, Outcome{}, err
	}
	ei := t.ExecutionInfo
	ei.EndTime = now
	ei.ExitCode = nil
	if exit.Code != nil {
		ei.ExitCode = Ptr(*exit.Code)
	}
	out := Outcome{Completed: true, Succeeded: exit.succeeded()}
	if out.Succeeded {
		ei.Result = ResultSuccess
		ei.FailureInfo = nil
	} else {
		ei.Result = ResultFailure
		ei.FailureInfo = exit.failureInfo()
	}
	out.ExitOptions = EffectiveExitOptions(t.ExitConditions, exit)
	return t, out, nil
}

// ReactivateTask makes a task that completed with a failure eligible to run again (Task -
// Reactivate): completed -> active, retryCount back to 0, and the end time, exit code, failure and
// result of the failed run cleared. It fails for a task that is not completed or that succeeded.
// Whether the job allows it (not completed, terminating or deleting) is for the caller to check.
func ReactivateTask(t Task, now time.Time) (Task, error) {
	if t.State != TaskCompleted {
		return t, stateError(CodeOperationInvalidForCurrentState,
			fmt.Sprintf("task %s is %s; only a completed task can be reactivated", t.ID, t.State))
	}
	if t.ExecutionInfo == nil || t.ExecutionInfo.Result != ResultFailure {
		return t, stateError(CodeOperationInvalidForCurrentState,
			fmt.Sprintf("task %s completed successfully; only a failed task can be reactivated", t.ID))
	}
	t, err := TransitionTask(t, TaskActive, now)
	if err != nil {
		return t, err
	}
	ei := t.ExecutionInfo
	ei.RetryCount = 0
	ei.LastRetryTime = time.Time{}
	ei.EndTime = time.Time{}
	ei.ExitCode = nil
	ei.FailureInfo = nil
	ei.Result = ""
	return t, nil
}

// WallClockDeadline returns the time at which the running attempt of t exceeds its
// maxWallClockTime (measured from the attempt's start, as Azure does), and false when t is not
// running or has no limit.
func WallClockDeadline(t Task) (time.Time, bool) {
	if t.State != TaskRunning || t.ExecutionInfo == nil || t.ExecutionInfo.StartTime.IsZero() {
		return time.Time{}, false
	}
	if t.Constraints == nil {
		return time.Time{}, false
	}
	limit := durationOf(t.Constraints.MaxWallClockTime, Infinite)
	if limit == Infinite {
		return time.Time{}, false
	}
	return t.ExecutionInfo.StartTime.Add(limit), true
}

// WallClockExceeded reports whether the running attempt of t must be killed at time now because
// it reached its maxWallClockTime. The service then ends the attempt and calls [FinishTask] with
// [WallClockExit].
func WallClockExceeded(t Task, now time.Time) bool {
	d, ok := WallClockDeadline(t)
	return ok && !now.Before(d)
}
