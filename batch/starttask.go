package batch

import (
	"encoding/json"
	"time"
)

// StartTask is a pool's start task (Azure's StartTask): what every node of the pool runs when it
// joins the pool, and again when it restarts afresh (rebooted or reimaged). Corral acts on
// commandLine, environmentSettings, maxTaskRetryCount, waitForSuccess and userIdentity (as far
// as Task - Add accepts it); resourceFiles and containerSettings are refused.
type StartTask struct {
	CommandLine         string               `json:"commandLine"`
	ContainerSettings   json.RawMessage      `json:"containerSettings,omitempty"`
	ResourceFiles       []ResourceFile       `json:"resourceFiles,omitempty"`
	EnvironmentSettings []EnvironmentSetting `json:"environmentSettings,omitempty"`
	UserIdentity        json.RawMessage      `json:"userIdentity,omitempty"`
	// MaxTaskRetryCount is how many times a failed run is retried: 0 (Azure's default) none,
	// -1 without limit.
	MaxTaskRetryCount *int32 `json:"maxTaskRetryCount,omitempty"`
	// WaitForSuccess, true by default, keeps tasks off a node until its start task succeeded.
	WaitForSuccess *bool `json:"waitForSuccess,omitempty"`
}

// Waits reports whether the node takes no task until the start task has succeeded
// (waitForSuccess, true unless given false).
func (s *StartTask) Waits() bool { return s.WaitForSuccess == nil || *s.WaitForSuccess }

// MaxRetries returns maxTaskRetryCount, or Azure's default, 0.
func (s *StartTask) MaxRetries() int {
	if s.MaxTaskRetryCount == nil {
		return 0
	}
	return int(*s.MaxTaskRetryCount)
}

// MayRetry reports whether a run that failed after retries retries may be retried again.
func (s *StartTask) MayRetry(retries int) bool {
	m := s.MaxRetries()
	return m == -1 || retries < m
}

// StartTaskState is the state of a node's start task (StartTaskInformation.state).
type StartTaskState string

// The start task states.
const (
	StartTaskRunning   StartTaskState = "running"
	StartTaskCompleted StartTaskState = "completed"
)

// StartTaskInfo is what a node shows of its start task (Azure's StartTaskInformation).
type StartTaskInfo struct {
	State         StartTaskState `json:"state"`
	StartTime     time.Time      `json:"startTime,omitzero"`
	EndTime       time.Time      `json:"endTime,omitzero"`
	ExitCode      *int32         `json:"exitCode,omitempty"`
	FailureInfo   *FailureInfo   `json:"failureInfo,omitempty"`
	RetryCount    int32          `json:"retryCount"`
	LastRetryTime time.Time      `json:"lastRetryTime,omitzero"`
	Result        TaskResult     `json:"result,omitempty"`
}

// Succeeded reports whether the start task has completed with success.
func (i *StartTaskInfo) Succeeded() bool {
	return i != nil && i.State == StartTaskCompleted && i.Result == ResultSuccess
}

// Failed reports whether the start task has completed with failure (every retry spent).
func (i *StartTaskInfo) Failed() bool {
	return i != nil && i.State == StartTaskCompleted && i.Result == ResultFailure
}

// ShownState is the state a node that is up shows, given its start task: waitingforstarttask
// while a start task with waitForSuccess has not yet succeeded, starttaskfailed once it has
// failed for good; otherwise state itself.
func ShownState(state NodeState, spec *StartTask, info *StartTaskInfo) NodeState {
	if spec == nil || !spec.Waits() || !state.AcceptsTasks() {
		return state
	}
	switch {
	case info.Failed():
		return NodeStartTaskFailed
	case !info.Succeeded():
		return NodeWaitingForStartTask
	}
	return state
}

// UnsupportedStartTaskProperties are the start task properties [ValidatePool] refuses.
var UnsupportedStartTaskProperties = []Unsupported{
	{"startTask.containerSettings", "tasks do not run in containers"},
	{"startTask.userIdentity.userName", "named user accounts are not supported: tasks run as the node agent's user"},
	{"startTask.userIdentity.autoUser.elevationLevel", "tasks run as the node agent's user and are not elevated: leave elevationLevel out or nonadmin"},
}

// ValidateStartTask checks a pool's start task, as Pool - Add, Pool - Patch and Pool - Update
// Properties take it.
func ValidateStartTask(s *StartTask) *Error {
	if s == nil {
		return nil
	}
	if s.CommandLine == "" {
		return missing("startTask.commandLine")
	}
	if given(s.ContainerSettings) {
		return refuse(UnsupportedStartTaskProperties, "startTask.containerSettings")
	}
	for i, rf := range s.ResourceFiles {
		if err := validateResourceFile("startTask.resourceFiles["+itoa(int32(i))+"]", rf); err != nil {
			return err
		}
	}
	if err := checkUserIdentity("startTask.userIdentity", s.UserIdentity, UnsupportedStartTaskProperties); err != nil {
		return err
	}
	if r := s.MaxTaskRetryCount; r != nil && *r < -1 {
		return invalid("startTask.maxTaskRetryCount", itoa(*r), "maxTaskRetryCount must be -1 (no limit) or greater")
	}
	if err := checkEnvironment("startTask.environmentSettings", s.EnvironmentSettings); err != nil {
		return err
	}
	return nil
}
