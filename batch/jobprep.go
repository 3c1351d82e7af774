package batch

import (
	"encoding/json"
	"time"
)

// Job preparation and release tasks (Azure's JobPreparationTask and JobReleaseTask). A job's
// preparation task runs on a node before the first of the job's tasks that the node runs, once
// per node (again after the node restarts afresh); its release task runs on every node that ran
// the preparation task, once the job ends.

// The default ids of a job's preparation and release tasks.
const (
	DefaultJobPreparationTaskID = "jobpreparation"
	DefaultJobReleaseTaskID     = "jobrelease"
)

// JobPreparationTask is Azure's JobPreparationTask.
type JobPreparationTask struct {
	ID                  string               `json:"id,omitempty"`
	CommandLine         string               `json:"commandLine"`
	ContainerSettings   json.RawMessage      `json:"containerSettings,omitempty"`
	ResourceFiles       []ResourceFile       `json:"resourceFiles,omitempty"`
	EnvironmentSettings []EnvironmentSetting `json:"environmentSettings,omitempty"`
	Constraints         *TaskConstraints     `json:"constraints,omitempty"`
	// WaitForSuccess, true by default, keeps the job's tasks off a node until the preparation
	// task has succeeded there.
	WaitForSuccess *bool           `json:"waitForSuccess,omitempty"`
	UserIdentity   json.RawMessage `json:"userIdentity,omitempty"`
	// RerunOnNodeRebootAfterSuccess, true by default: Corral accepts only true (a node that
	// restarts afresh runs the preparation task again before the job's next task).
	RerunOnNodeRebootAfterSuccess *bool `json:"rerunOnNodeRebootAfterSuccess,omitempty"`
}

// TaskID is the preparation task's id, or its default.
func (p *JobPreparationTask) TaskID() string {
	if p.ID == "" {
		return DefaultJobPreparationTaskID
	}
	return p.ID
}

// Waits reports whether the job's tasks wait for the preparation task's success on a node.
func (p *JobPreparationTask) Waits() bool { return p.WaitForSuccess == nil || *p.WaitForSuccess }

// MayRetry reports whether a failed try may be retried after retries retries: the preparation
// task's maxTaskRetryCount (Azure's default for it is 0; -1 is no limit).
func (p *JobPreparationTask) MayRetry(retries int) bool {
	m := int32(0)
	if p.Constraints != nil && p.Constraints.MaxTaskRetryCount != nil {
		m = *p.Constraints.MaxTaskRetryCount
	}
	return m == -1 || int32(retries) < m
}

// JobReleaseTask is Azure's JobReleaseTask.
type JobReleaseTask struct {
	ID                  string               `json:"id,omitempty"`
	CommandLine         string               `json:"commandLine"`
	ContainerSettings   json.RawMessage      `json:"containerSettings,omitempty"`
	ResourceFiles       []ResourceFile       `json:"resourceFiles,omitempty"`
	EnvironmentSettings []EnvironmentSetting `json:"environmentSettings,omitempty"`
	// MaxWallClockTime bounds the release task's run (Azure's default and maximum: 15 minutes).
	MaxWallClockTime *Duration       `json:"maxWallClockTime,omitempty"`
	RetentionTime    *Duration       `json:"retentionTime,omitempty"`
	UserIdentity     json.RawMessage `json:"userIdentity,omitempty"`
}

// TaskID is the release task's id, or its default.
func (r *JobReleaseTask) TaskID() string {
	if r.ID == "" {
		return DefaultJobReleaseTaskID
	}
	return r.ID
}

// MaxReleaseWallClock is Azure's default and largest maxWallClockTime of a job release task.
const MaxReleaseWallClock = 15 * time.Minute

// WallClock is the release task's time limit.
func (r *JobReleaseTask) WallClock() time.Duration {
	if r.MaxWallClockTime == nil {
		return MaxReleaseWallClock
	}
	return min(r.MaxWallClockTime.Std(), MaxReleaseWallClock)
}

// JobPrepTaskState is the state of a preparation or release task on a node.
type JobPrepTaskState string

// The preparation and release task states.
const (
	JobPrepTaskRunning   JobPrepTaskState = "running"
	JobPrepTaskCompleted JobPrepTaskState = "completed"
)

// JobPreparationTaskExecutionInfo is Azure's JobPreparationTaskExecutionInformation.
type JobPreparationTaskExecutionInfo struct {
	StartTime            time.Time        `json:"startTime"`
	EndTime              time.Time        `json:"endTime,omitzero"`
	State                JobPrepTaskState `json:"state"`
	TaskRootDirectory    string           `json:"taskRootDirectory,omitempty"`
	TaskRootDirectoryURL string           `json:"taskRootDirectoryUrl,omitempty"`
	ExitCode             *int32           `json:"exitCode,omitempty"`
	FailureInfo          *FailureInfo     `json:"failureInfo,omitempty"`
	RetryCount           int32            `json:"retryCount"`
	LastRetryTime        time.Time        `json:"lastRetryTime,omitzero"`
	Result               TaskResult       `json:"result,omitempty"`
}

// Succeeded reports whether the preparation task completed with success.
func (i *JobPreparationTaskExecutionInfo) Succeeded() bool {
	return i != nil && i.State == JobPrepTaskCompleted && i.Result == ResultSuccess
}

// Failed reports whether the preparation task completed with failure (every retry spent).
func (i *JobPreparationTaskExecutionInfo) Failed() bool {
	return i != nil && i.State == JobPrepTaskCompleted && i.Result == ResultFailure
}

// JobReleaseTaskExecutionInfo is Azure's JobReleaseTaskExecutionInformation.
type JobReleaseTaskExecutionInfo struct {
	StartTime            time.Time        `json:"startTime"`
	EndTime              time.Time        `json:"endTime,omitzero"`
	State                JobPrepTaskState `json:"state"`
	TaskRootDirectory    string           `json:"taskRootDirectory,omitempty"`
	TaskRootDirectoryURL string           `json:"taskRootDirectoryUrl,omitempty"`
	ExitCode             *int32           `json:"exitCode,omitempty"`
	FailureInfo          *FailureInfo     `json:"failureInfo,omitempty"`
	Result               TaskResult       `json:"result,omitempty"`
}

// JobPrepReleaseStatus is one node's entry of Job - List Preparation And Release Task Status
// (Azure's JobPreparationAndReleaseTaskExecutionInformation).
type JobPrepReleaseStatus struct {
	PoolID      string                           `json:"poolId"`
	NodeID      string                           `json:"nodeId"`
	NodeURL     string                           `json:"nodeUrl,omitempty"`
	Preparation *JobPreparationTaskExecutionInfo `json:"jobPreparationTaskExecutionInfo,omitempty"`
	Release     *JobReleaseTaskExecutionInfo     `json:"jobReleaseTaskExecutionInfo,omitempty"`
}

// UnsupportedJobPrepProperties are the preparation and release task properties [ValidateJob]
// refuses.
var UnsupportedJobPrepProperties = []Unsupported{
	{"jobPreparationTask.containerSettings", "tasks do not run in containers"},
	{"jobPreparationTask.userIdentity.userName", "named user accounts are not supported: tasks run as the node agent's user"},
	{"jobPreparationTask.userIdentity.autoUser.elevationLevel", "tasks run as the node agent's user and are not elevated: leave elevationLevel out or nonadmin"},
	{"jobPreparationTask.rerunOnNodeRebootAfterSuccess", "a node that restarts runs the preparation task again before the job's next task; leave it out or true"},
	{"jobReleaseTask.containerSettings", "tasks do not run in containers"},
	{"jobReleaseTask.userIdentity.userName", "named user accounts are not supported: tasks run as the node agent's user"},
	{"jobReleaseTask.userIdentity.autoUser.elevationLevel", "tasks run as the node agent's user and are not elevated: leave elevationLevel out or nonadmin"},
}

// validateJobPrep checks a job's preparation and release tasks.
func validateJobPrep(p *JobPreparationTask, r *JobReleaseTask) *Error {
	if p != nil {
		if p.CommandLine == "" {
			return missing("jobPreparationTask.commandLine")
		}
		if p.ID != "" {
			if err := validateID("jobPreparationTask.id", p.ID); err != nil {
				return err
			}
		}
		if given(p.ContainerSettings) {
			return refuse(UnsupportedJobPrepProperties, "jobPreparationTask.containerSettings")
		}
		if p.RerunOnNodeRebootAfterSuccess != nil && !*p.RerunOnNodeRebootAfterSuccess {
			return refuse(UnsupportedJobPrepProperties, "jobPreparationTask.rerunOnNodeRebootAfterSuccess")
		}
		if err := checkPrepParts("jobPreparationTask", p.ResourceFiles, p.UserIdentity, p.EnvironmentSettings); err != nil {
			return err
		}
		if c := p.Constraints; c != nil {
			if n := c.MaxTaskRetryCount; n != nil && *n < -1 {
				return invalidCode(CodeInvalidConstraintValue, "jobPreparationTask.constraints.maxTaskRetryCount", itoa(*n),
					"maxTaskRetryCount must be -1 (no limit) or greater")
			}
			if w := c.MaxWallClockTime; w != nil && w.Std() <= 0 {
				return invalidCode(CodeInvalidConstraintValue, "jobPreparationTask.constraints.maxWallClockTime", w.String(),
					"maxWallClockTime must be positive")
			}
		}
	}
	if r == nil {
		return nil
	}
	if p == nil {
		return invalid("jobReleaseTask", "", "a job release task needs a job preparation task: give jobPreparationTask too")
	}
	if r.CommandLine == "" {
		return missing("jobReleaseTask.commandLine")
	}
	if r.ID != "" {
		if err := validateID("jobReleaseTask.id", r.ID); err != nil {
			return err
		}
	}
	if r.TaskID() == p.TaskID() {
		return invalid("jobReleaseTask.id", r.TaskID(), "the release task's id must differ from the preparation task's")
	}
	if given(r.ContainerSettings) {
		return refuse(UnsupportedJobPrepProperties, "jobReleaseTask.containerSettings")
	}
	if err := checkPrepParts("jobReleaseTask", r.ResourceFiles, r.UserIdentity, r.EnvironmentSettings); err != nil {
		return err
	}
	if w := r.MaxWallClockTime; w != nil && (w.Std() <= 0 || w.Std() > MaxReleaseWallClock) {
		return invalidCode(CodeInvalidConstraintValue, "jobReleaseTask.maxWallClockTime", w.String(),
			"maxWallClockTime must be positive and at most 15 minutes")
	}
	return nil
}

// checkPrepParts checks what a preparation and a release task (property names them) have alike:
// their resource files, user identity and environment.
func checkPrepParts(property string, files []ResourceFile, identity json.RawMessage, env []EnvironmentSetting) *Error {
	for i, rf := range files {
		if err := validateResourceFile(property+".resourceFiles["+itoa(int32(i))+"]", rf); err != nil {
			return err
		}
	}
	if err := checkUserIdentity(property+".userIdentity", identity, UnsupportedJobPrepProperties); err != nil {
		return err
	}
	return checkEnvironment(property+".environmentSettings", env)
}
