package batch

import (
	"encoding/json"
	"strings"
)

// Azure Batch's enumerations are strings. Azure writes them in lower case ("active",
// "performexitoptionsjobaction") but SDKs send some of them in camel case
// ("performExitOptionsJobAction", "terminateJob"), and Azure accepts either; so every enum type here
// lower-cases what it reads from JSON, and Corral always writes lower case, as Azure does.

// unmarshalEnum reads a JSON string into *s, lower-cased.
func unmarshalEnum(b []byte, s *string) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = strings.ToLower(v)
	return nil
}

// PoolState is the state of a pool (CloudPool.state).
type PoolState string

// Pool states.
const (
	PoolActive   PoolState = "active"
	PoolDeleting PoolState = "deleting"
)

// Valid reports whether s is a known pool state.
func (s PoolState) Valid() bool { return s == PoolActive || s == PoolDeleting }

// UnmarshalJSON reads the state case-insensitively.
func (s *PoolState) UnmarshalJSON(b []byte) error { return unmarshalEnum(b, (*string)(s)) }

// AllocationState says whether a pool is resizing (CloudPool.allocationState).
type AllocationState string

// Allocation states.
const (
	// AllocationSteady: the pool is not resizing; its node counts are stable.
	AllocationSteady AllocationState = "steady"
	// AllocationResizing: the pool is resizing, nodes are being added or removed.
	AllocationResizing AllocationState = "resizing"
	// AllocationStopping: a resize was asked to stop and is stopping.
	AllocationStopping AllocationState = "stopping"
)

// Valid reports whether s is a known allocation state.
func (s AllocationState) Valid() bool {
	return s == AllocationSteady || s == AllocationResizing || s == AllocationStopping
}

// UnmarshalJSON reads the state case-insensitively.
func (s *AllocationState) UnmarshalJSON(b []byte) error { return unmarshalEnum(b, (*string)(s)) }

// NodeFillType is how tasks are distributed over a pool's nodes (taskSchedulingPolicy).
type NodeFillType string

// Node fill types. Azure's default is spread.
const (
	// FillSpread spreads tasks evenly over the nodes.
	FillSpread NodeFillType = "spread"
	// FillPack fills each node's task slots before using another node.
	FillPack NodeFillType = "pack"
)

// Valid reports whether f is a known fill type.
func (f NodeFillType) Valid() bool { return f == FillSpread || f == FillPack }

// UnmarshalJSON reads the fill type case-insensitively.
func (f *NodeFillType) UnmarshalJSON(b []byte) error { return unmarshalEnum(b, (*string)(f)) }

// NodeState is the state of a compute node (ComputeNode.state), with Azure's values.
type NodeState string

// Compute node states.
const (
	NodeIdle                NodeState = "idle"
	NodeRebooting           NodeState = "rebooting"
	NodeReimaging           NodeState = "reimaging"
	NodeRunning             NodeState = "running"
	NodeUnusable            NodeState = "unusable"
	NodeCreating            NodeState = "creating"
	NodeStarting            NodeState = "starting"
	NodeWaitingForStartTask NodeState = "waitingforstarttask"
	NodeStartTaskFailed     NodeState = "starttaskfailed"
	NodeUnknown             NodeState = "unknown"
	NodeLeavingPool         NodeState = "leavingpool"
	NodeOffline             NodeState = "offline"
	NodePreempted           NodeState = "preempted"
	NodeUpgradingOS         NodeState = "upgradingos"
)

// Valid reports whether s is a known node state.
func (s NodeState) Valid() bool {
	switch s {
	case NodeIdle, NodeRebooting, NodeReimaging, NodeRunning, NodeUnusable, NodeCreating,
		NodeStarting, NodeWaitingForStartTask, NodeStartTaskFailed, NodeUnknown, NodeLeavingPool,
		NodeOffline, NodePreempted, NodeUpgradingOS:
		return true
	}
	return false
}

// AcceptsTasks reports whether tasks may be scheduled on a node in state s: Azure schedules tasks
// only on idle and running nodes (running meaning it already runs some).
func (s NodeState) AcceptsTasks() bool { return s == NodeIdle || s == NodeRunning }

// UnmarshalJSON reads the state case-insensitively.
func (s *NodeState) UnmarshalJSON(b []byte) error { return unmarshalEnum(b, (*string)(s)) }

// SchedulingState says whether a node accepts new tasks (ComputeNode.schedulingState).
type SchedulingState string

// Scheduling states.
const (
	SchedulingEnabled  SchedulingState = "enabled"
	SchedulingDisabled SchedulingState = "disabled"
)

// Valid reports whether s is a known scheduling state.
func (s SchedulingState) Valid() bool { return s == SchedulingEnabled || s == SchedulingDisabled }

// UnmarshalJSON reads the state case-insensitively.
func (s *SchedulingState) UnmarshalJSON(b []byte) error { return unmarshalEnum(b, (*string)(s)) }

// JobState is the state of a job (CloudJob.state).
type JobState string

// Job states.
const (
	JobActive      JobState = "active"
	JobDisabling   JobState = "disabling"
	JobDisabled    JobState = "disabled"
	JobEnabling    JobState = "enabling"
	JobTerminating JobState = "terminating"
	JobCompleted   JobState = "completed"
	JobDeleting    JobState = "deleting"
)

// Valid reports whether s is a known job state.
func (s JobState) Valid() bool {
	switch s {
	case JobActive, JobDisabling, JobDisabled, JobEnabling, JobTerminating, JobCompleted, JobDeleting:
		return true
	}
	return false
}

// UnmarshalJSON reads the state case-insensitively.
func (s *JobState) UnmarshalJSON(b []byte) error { return unmarshalEnum(b, (*string)(s)) }

// OnAllTasksComplete is what a job does when all its tasks are completed.
type OnAllTasksComplete string

// Values of onAllTasksComplete. Azure's default is noaction.
const (
	AllCompleteNoAction     OnAllTasksComplete = "noaction"
	AllCompleteTerminateJob OnAllTasksComplete = "terminatejob"
)

// Valid reports whether v is a known value.
func (v OnAllTasksComplete) Valid() bool {
	return v == AllCompleteNoAction || v == AllCompleteTerminateJob
}

// UnmarshalJSON reads the value case-insensitively.
func (v *OnAllTasksComplete) UnmarshalJSON(b []byte) error {
	return unmarshalEnum(b, (*string)(v))
}

// OnTaskFailure is what a job does when one of its tasks fails.
type OnTaskFailure string

// Values of onTaskFailure. Azure's default is noaction.
const (
	TaskFailureNoAction                    OnTaskFailure = "noaction"
	TaskFailurePerformExitOptionsJobAction OnTaskFailure = "performexitoptionsjobaction"
)

// Valid reports whether v is a known value.
func (v OnTaskFailure) Valid() bool {
	return v == TaskFailureNoAction || v == TaskFailurePerformExitOptionsJobAction
}

// UnmarshalJSON reads the value case-insensitively.
func (v *OnTaskFailure) UnmarshalJSON(b []byte) error { return unmarshalEnum(b, (*string)(v)) }

// DisableTasks says what happens to a job's running tasks when the job is disabled
// (the disableTasks parameter of Job - Disable).
type DisableTasks string

// Values of disableTasks.
const (
	// DisableRequeue terminates running tasks and requeues them; they run again when the job is
	// enabled. A jobAction of disable uses this.
	DisableRequeue DisableTasks = "requeue"
	// DisableTerminate terminates running tasks; they complete with a failure and are not run again.
	DisableTerminate DisableTasks = "terminate"
	// DisableWait lets running tasks finish.
	DisableWait DisableTasks = "wait"
)

// Valid reports whether v is a known value.
func (v DisableTasks) Valid() bool {
	return v == DisableRequeue || v == DisableTerminate || v == DisableWait
}

// UnmarshalJSON reads the value case-insensitively.
func (v *DisableTasks) UnmarshalJSON(b []byte) error { return unmarshalEnum(b, (*string)(v)) }

// TaskState is the state of a task (CloudTask.state).
type TaskState string

// Task states.
const (
	// TaskActive: queued and able to run, not assigned to a node (also while waiting for its
	// dependencies, and between a failed attempt and its retry).
	TaskActive TaskState = "active"
	// TaskPreparing: assigned to a node, waiting for the job preparation task there.
	TaskPreparing TaskState = "preparing"
	// TaskRunning: running on a node (including downloading its resource files).
	TaskRunning TaskState = "running"
	// TaskCompleted: no longer eligible to run: it succeeded, failed after its retries, could not
	// be started, or was terminated.
	TaskCompleted TaskState = "completed"
)

// Valid reports whether s is a known task state.
func (s TaskState) Valid() bool {
	return s == TaskActive || s == TaskPreparing || s == TaskRunning || s == TaskCompleted
}

// UnmarshalJSON reads the state case-insensitively.
func (s *TaskState) UnmarshalJSON(b []byte) error { return unmarshalEnum(b, (*string)(s)) }

// JobAction is what a task's exit condition does to its job (ExitOptions.jobAction); it is applied
// only when the job's onTaskFailure is performexitoptionsjobaction.
type JobAction string

// Job actions.
const (
	JobActionNone      JobAction = "none"
	JobActionDisable   JobAction = "disable"
	JobActionTerminate JobAction = "terminate"
)

// Valid reports whether a is a known job action.
func (a JobAction) Valid() bool {
	return a == JobActionNone || a == JobActionDisable || a == JobActionTerminate
}

// UnmarshalJSON reads the action case-insensitively.
func (a *JobAction) UnmarshalJSON(b []byte) error { return unmarshalEnum(b, (*string)(a)) }

// DependencyAction is what a task's exit condition does to the tasks that depend on it
// (ExitOptions.dependencyAction).
type DependencyAction string

// Dependency actions.
const (
	// DependencySatisfy counts the dependency as satisfied: dependents may run.
	DependencySatisfy DependencyAction = "satisfy"
	// DependencyBlock leaves the dependency unsatisfied for good: dependents never run.
	DependencyBlock DependencyAction = "block"
)

// Valid reports whether a is a known dependency action.
func (a DependencyAction) Valid() bool { return a == DependencySatisfy || a == DependencyBlock }

// UnmarshalJSON reads the action case-insensitively.
func (a *DependencyAction) UnmarshalJSON(b []byte) error { return unmarshalEnum(b, (*string)(a)) }

// ErrorCategory classifies a task failure (TaskFailureInformation.category).
type ErrorCategory string

// Error categories.
const (
	UserError   ErrorCategory = "usererror"
	ServerError ErrorCategory = "servererror"
)

// Valid reports whether c is a known category.
func (c ErrorCategory) Valid() bool { return c == UserError || c == ServerError }

// UnmarshalJSON reads the category case-insensitively.
func (c *ErrorCategory) UnmarshalJSON(b []byte) error { return unmarshalEnum(b, (*string)(c)) }

// TaskResult is the result of a task's execution (TaskExecutionInformation.result).
type TaskResult string

// Task results.
const (
	ResultSuccess TaskResult = "success"
	ResultFailure TaskResult = "failure"
)

// Valid reports whether r is a known result.
func (r TaskResult) Valid() bool { return r == ResultSuccess || r == ResultFailure }

// UnmarshalJSON reads the result case-insensitively.
func (r *TaskResult) UnmarshalJSON(b []byte) error { return unmarshalEnum(b, (*string)(r)) }

// NodeDeallocationOption says what happens to a node's running tasks when a resize removes the
// node (Azure's ComputeNodeDeallocationOption).
type NodeDeallocationOption string

// Azure's node deallocation options.
const (
	// DeallocateRequeue kills running tasks and requeues them; the node leaves at once. The default.
	DeallocateRequeue NodeDeallocationOption = "requeue"
	// DeallocateTerminate kills running tasks and completes them as terminated.
	DeallocateTerminate NodeDeallocationOption = "terminate"
	// DeallocateTaskCompletion lets running tasks finish, placing no new ones, then removes the node.
	DeallocateTaskCompletion NodeDeallocationOption = "taskcompletion"
	// DeallocateRetainedData lets running tasks finish and waits for their retention time.
	DeallocateRetainedData NodeDeallocationOption = "retaineddata"
)

// ValidNodeDeallocationOption reports whether v is one of Azure's options (lower case).
func ValidNodeDeallocationOption(v NodeDeallocationOption) bool {
	switch v {
	case DeallocateRequeue, DeallocateTerminate, DeallocateTaskCompletion, DeallocateRetainedData:
		return true
	}
	return false
}
