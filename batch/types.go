package batch

import (
	"encoding/json"
	"time"
)

// The types in this file have Azure Batch's JSON shapes: each one is both the "add parameter" a
// client sends (PoolAddParameter, JobAddParameter, TaskAddParameter) and the resource Azure returns
// (CloudPool, CloudJob, CloudTask), with Azure's camelCase property names. Optional scalars are
// pointers so that "not given" and "zero" stay distinct, as Azure's rules need (for example
// targetDedicatedNodes must not be given at all when enableAutoScale is true); times use omitzero.
// Properties that Corral accepts and keeps without acting on them are json.RawMessage: they
// round-trip unchanged.

// Ptr returns a pointer to v; handy for the optional fields of these types.
func Ptr[T any](v T) *T { return &v }

// MetadataItem is a name/value pair attached to a pool or job; Batch gives it no meaning.
type MetadataItem struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// NameValuePair is a name/value detail of a failure or error.
type NameValuePair struct {
	Name  string `json:"name,omitempty"`
	Value string `json:"value,omitempty"`
}

// EnvironmentSetting is an environment variable for a task process.
type EnvironmentSetting struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// TaskSchedulingPolicy says how tasks are distributed over a pool's nodes.
type TaskSchedulingPolicy struct {
	NodeFillType NodeFillType `json:"nodeFillType"`
}

// ResizeError is an error met while resizing a pool (CloudPool.resizeErrors).
type ResizeError struct {
	Code    string          `json:"code,omitempty"`
	Message string          `json:"message,omitempty"`
	Values  []NameValuePair `json:"values,omitempty"`
}

// AutoScaleRunError is an error met while evaluating a pool's autoscale formula.
type AutoScaleRunError struct {
	Code    string          `json:"code,omitempty"`
	Message string          `json:"message,omitempty"`
	Values  []NameValuePair `json:"values,omitempty"`
}

// AutoScaleRun is the result of the latest evaluation of a pool's autoscale formula.
type AutoScaleRun struct {
	Timestamp time.Time          `json:"timestamp,omitzero"`
	Results   string             `json:"results,omitempty"`
	Error     *AutoScaleRunError `json:"error,omitempty"`
	// Warnings is a Corral extension: notes about the evaluation that are not errors (pending
	// tasks that need more task slots than a node has, a target that was negative, ...).
	// Azure's SDKs ignore it.
	Warnings []string `json:"warnings,omitempty"`
}

// Pool is a pool of compute nodes: Azure's PoolAddParameter and CloudPool in one type.
//
// Properties that only matter on Azure itself are kept and returned, not acted on:
// virtualMachineConfiguration (there are no VM images: nodes are whatever the compute provider
// gives) but for its containerConfiguration, cloudServiceConfiguration,
// enableInterNodeCommunication, targetNodeCommunicationMode, resourceTags and upgradePolicy.
// Azure requires virtualMachineConfiguration; Corral does not. Properties Corral does not
// implement are refused by [ValidatePool] (see [UnsupportedPoolProperties]). The limit of
// taskSlotsPerNode to four times the VM size's cores is not checked (Corral does not know the
// cores of a VM size); 256 is.
type Pool struct {
	ID                            string                `json:"id,omitempty"`
	DisplayName                   string                `json:"displayName,omitempty"`
	URL                           string                `json:"url,omitempty"`
	ETag                          string                `json:"eTag,omitempty"`
	LastModified                  time.Time             `json:"lastModified,omitzero"`
	CreationTime                  time.Time             `json:"creationTime,omitzero"`
	State                         PoolState             `json:"state,omitempty"`
	StateTransitionTime           time.Time             `json:"stateTransitionTime,omitzero"`
	AllocationState               AllocationState       `json:"allocationState,omitempty"`
	AllocationStateTransitionTime time.Time             `json:"allocationStateTransitionTime,omitzero"`
	VMSize                        string                `json:"vmSize,omitempty"`
	VirtualMachineConfiguration   json.RawMessage       `json:"virtualMachineConfiguration,omitempty"`
	ResizeTimeout                 *Duration             `json:"resizeTimeout,omitempty"`
	ResizeErrors                  []ResizeError         `json:"resizeErrors,omitempty"`
	CurrentDedicatedNodes         *int32                `json:"currentDedicatedNodes,omitempty"`
	CurrentLowPriorityNodes       *int32                `json:"currentLowPriorityNodes,omitempty"`
	TargetDedicatedNodes          *int32                `json:"targetDedicatedNodes,omitempty"`
	TargetLowPriorityNodes        *int32                `json:"targetLowPriorityNodes,omitempty"`
	EnableAutoScale               *bool                 `json:"enableAutoScale,omitempty"`
	AutoScaleFormula              string                `json:"autoScaleFormula,omitempty"`
	AutoScaleEvaluationInterval   *Duration             `json:"autoScaleEvaluationInterval,omitempty"`
	AutoScaleRun                  *AutoScaleRun         `json:"autoScaleRun,omitempty"`
	EnableInterNodeCommunication  *bool                 `json:"enableInterNodeCommunication,omitempty"`
	NetworkConfiguration          json.RawMessage       `json:"networkConfiguration,omitempty"`
	StartTask                     *StartTask            `json:"startTask,omitempty"`
	ApplicationPackageReferences  json.RawMessage       `json:"applicationPackageReferences,omitempty"`
	TaskSlotsPerNode              *int32                `json:"taskSlotsPerNode,omitempty"`
	TaskSchedulingPolicy          *TaskSchedulingPolicy `json:"taskSchedulingPolicy,omitempty"`
	UserAccounts                  json.RawMessage       `json:"userAccounts,omitempty"`
	Metadata                      []MetadataItem        `json:"metadata,omitempty"`
	MountConfiguration            json.RawMessage       `json:"mountConfiguration,omitempty"`
	CertificateReferences         json.RawMessage       `json:"certificateReferences,omitempty"`
	ApplicationLicenses           json.RawMessage       `json:"applicationLicenses,omitempty"`
	CloudServiceConfiguration     json.RawMessage       `json:"cloudServiceConfiguration,omitempty"`
	TargetNodeCommunicationMode   string                `json:"targetNodeCommunicationMode,omitempty"`
	ResourceTags                  json.RawMessage       `json:"resourceTags,omitempty"`
	UpgradePolicy                 json.RawMessage       `json:"upgradePolicy,omitempty"`
}

// SlotsPerNode returns the pool's taskSlotsPerNode, or Azure's default of 1.
func (p *Pool) SlotsPerNode() int {
	if p == nil || p.TaskSlotsPerNode == nil {
		return 1
	}
	return int(*p.TaskSlotsPerNode)
}

// FillType returns the pool's nodeFillType, or Azure's default, spread.
func (p *Pool) FillType() NodeFillType {
	if p == nil || p.TaskSchedulingPolicy == nil || p.TaskSchedulingPolicy.NodeFillType == "" {
		return FillSpread
	}
	return p.TaskSchedulingPolicy.NodeFillType
}

// AutoScale reports whether the pool sizes itself by its autoscale formula.
func (p *Pool) AutoScale() bool {
	return p != nil && p.EnableAutoScale != nil && *p.EnableAutoScale
}

// NodeError is an error reported by a compute node (ComputeNode.errors).
type NodeError struct {
	Code         string          `json:"code,omitempty"`
	Message      string          `json:"message,omitempty"`
	ErrorDetails []NameValuePair `json:"errorDetails,omitempty"`
}

// TaskInformation is a task that ran or runs on a node (ComputeNode.recentTasks).
type TaskInformation struct {
	TaskURL       string             `json:"taskUrl,omitempty"`
	JobID         string             `json:"jobId,omitempty"`
	TaskID        string             `json:"taskId,omitempty"`
	SubtaskID     *int32             `json:"subtaskId,omitempty"`
	TaskState     TaskState          `json:"taskState"`
	ExecutionInfo *TaskExecutionInfo `json:"executionInfo,omitempty"`
}

// Node is a compute node of a pool (Azure's ComputeNode). Only the service creates nodes, so the
// counters are plain values that are always written, as Azure writes them.
type Node struct {
	ID                    string            `json:"id,omitempty"`
	URL                   string            `json:"url,omitempty"`
	State                 NodeState         `json:"state,omitempty"`
	SchedulingState       SchedulingState   `json:"schedulingState,omitempty"`
	StateTransitionTime   time.Time         `json:"stateTransitionTime,omitzero"`
	LastBootTime          time.Time         `json:"lastBootTime,omitzero"`
	AllocationTime        time.Time         `json:"allocationTime,omitzero"`
	IPAddress             string            `json:"ipAddress,omitempty"`
	AffinityID            string            `json:"affinityId,omitempty"`
	VMSize                string            `json:"vmSize,omitempty"`
	TotalTasksRun         int32             `json:"totalTasksRun"`
	RunningTasksCount     int32             `json:"runningTasksCount"`
	RunningTaskSlotsCount int32             `json:"runningTaskSlotsCount"`
	TotalTasksSucceeded   int32             `json:"totalTasksSucceeded"`
	RecentTasks           []TaskInformation `json:"recentTasks,omitempty"`
	StartTask             *StartTask        `json:"startTask,omitempty"`
	StartTaskInfo         *StartTaskInfo    `json:"startTaskInfo,omitempty"`
	Errors                []NodeError       `json:"errors,omitempty"`
	IsDedicated           bool              `json:"isDedicated"`
}

// Schedulable reports whether new tasks may be placed on the node: its state accepts tasks
// (idle or running) and its scheduling is not disabled.
func (n *Node) Schedulable() bool {
	return n.State.AcceptsTasks() && n.SchedulingState != SchedulingDisabled
}

// JobConstraints are the execution constraints of a job.
type JobConstraints struct {
	// MaxWallClockTime is measured from the job's creation; when it passes, the job is terminated
	// with reason MaxWallClockTimeExpiry. Absent means no limit.
	MaxWallClockTime *Duration `json:"maxWallClockTime,omitempty"`
	// MaxTaskRetryCount is the default for its tasks: 0 (Azure's default) means no retries, -1
	// means retries without limit.
	MaxTaskRetryCount *int32 `json:"maxTaskRetryCount,omitempty"`
}

// PoolInformation says which pool runs a job's tasks. Corral supports only poolId; an
// autoPoolSpecification is kept so that validation can reject it with a clear error.
type PoolInformation struct {
	PoolID                string          `json:"poolId,omitempty"`
	AutoPoolSpecification json.RawMessage `json:"autoPoolSpecification,omitempty"`
}

// JobSchedulingError is an error met by the service while starting a job.
type JobSchedulingError struct {
	Category ErrorCategory   `json:"category"`
	Code     string          `json:"code,omitempty"`
	Message  string          `json:"message,omitempty"`
	Details  []NameValuePair `json:"details,omitempty"`
}

// JobExecutionInfo is a job's executionInfo.
type JobExecutionInfo struct {
	// StartTime is the time the job was created (Azure's definition).
	StartTime time.Time `json:"startTime"`
	// EndTime is set once the job is completed.
	EndTime         time.Time           `json:"endTime,omitzero"`
	PoolID          string              `json:"poolId,omitempty"`
	SchedulingError *JobSchedulingError `json:"schedulingError,omitempty"`
	// TerminateReason is set once the job is completed: one of the TerminateReason constants, or
	// the reason a user gave to Job - Terminate.
	TerminateReason string `json:"terminateReason,omitempty"`
}

// Job is a job: Azure's JobAddParameter and CloudJob in one type. [ValidateJob] refuses the
// properties Corral does not implement (see [UnsupportedJobProperties]).
type Job struct {
	ID                          string               `json:"id,omitempty"`
	DisplayName                 string               `json:"displayName,omitempty"`
	UsesTaskDependencies        *bool                `json:"usesTaskDependencies,omitempty"`
	URL                         string               `json:"url,omitempty"`
	ETag                        string               `json:"eTag,omitempty"`
	LastModified                time.Time            `json:"lastModified,omitzero"`
	CreationTime                time.Time            `json:"creationTime,omitzero"`
	State                       JobState             `json:"state,omitempty"`
	StateTransitionTime         time.Time            `json:"stateTransitionTime,omitzero"`
	PreviousState               JobState             `json:"previousState,omitempty"`
	PreviousStateTransitionTime time.Time            `json:"previousStateTransitionTime,omitzero"`
	Priority                    *int32               `json:"priority,omitempty"`
	AllowTaskPreemption         *bool                `json:"allowTaskPreemption,omitempty"`
	MaxParallelTasks            *int32               `json:"maxParallelTasks,omitempty"`
	Constraints                 *JobConstraints      `json:"constraints,omitempty"`
	JobManagerTask              json.RawMessage      `json:"jobManagerTask,omitempty"`
	JobPreparationTask          *JobPreparationTask  `json:"jobPreparationTask,omitempty"`
	JobReleaseTask              *JobReleaseTask      `json:"jobReleaseTask,omitempty"`
	CommonEnvironmentSettings   []EnvironmentSetting `json:"commonEnvironmentSettings,omitempty"`
	PoolInfo                    PoolInformation      `json:"poolInfo"`
	OnAllTasksComplete          OnAllTasksComplete   `json:"onAllTasksComplete,omitempty"`
	OnTaskFailure               OnTaskFailure        `json:"onTaskFailure,omitempty"`
	NetworkConfiguration        json.RawMessage      `json:"networkConfiguration,omitempty"`
	Metadata                    []MetadataItem       `json:"metadata,omitempty"`
	ExecutionInfo               *JobExecutionInfo    `json:"executionInfo,omitempty"`
}

// UsesDependencies reports whether the job allows task dependencies.
func (j *Job) UsesDependencies() bool {
	return j.UsesTaskDependencies != nil && *j.UsesTaskDependencies
}

// MaxParallel returns the job's maxParallelTasks, or -1 (no limit) when it is not set.
func (j *Job) MaxParallel() int {
	if j.MaxParallelTasks == nil {
		return -1
	}
	return int(*j.MaxParallelTasks)
}

// TaskRetryLimit returns the job's constraints.maxTaskRetryCount, or Azure's default of 0.
func (j *Job) TaskRetryLimit() int32 {
	if j.Constraints == nil || j.Constraints.MaxTaskRetryCount == nil {
		return 0
	}
	return *j.Constraints.MaxTaskRetryCount
}

// TaskConstraints are the execution constraints of a task.
type TaskConstraints struct {
	// MaxWallClockTime is measured from the start of an attempt; absent means no limit (Azure
	// writes [InfiniteString]).
	MaxWallClockTime *Duration `json:"maxWallClockTime,omitempty"`
	// RetentionTime is how long the task directory is kept after the task completes; default 7
	// days.
	RetentionTime *Duration `json:"retentionTime,omitempty"`
	// MaxTaskRetryCount is how often a failed attempt (non-zero exit code) is retried: 0 none, -1
	// without limit; absent means the job's constraints.maxTaskRetryCount.
	MaxTaskRetryCount *int32 `json:"maxTaskRetryCount,omitempty"`
}

// ExitOptions says how Batch responds to one exit condition of a task.
type ExitOptions struct {
	JobAction        JobAction        `json:"jobAction,omitempty"`
	DependencyAction DependencyAction `json:"dependencyAction,omitempty"`
}

// ExitCodeMapping maps one process exit code to exit options.
type ExitCodeMapping struct {
	Code        int32       `json:"code"`
	ExitOptions ExitOptions `json:"exitOptions"`
}

// ExitCodeRangeMapping maps an inclusive range of exit codes to exit options.
type ExitCodeRangeMapping struct {
	Start       int32       `json:"start"`
	End         int32       `json:"end"`
	ExitOptions ExitOptions `json:"exitOptions"`
}

// ExitConditions says how Batch responds when a task completes; see [EffectiveExitOptions].
type ExitConditions struct {
	ExitCodes          []ExitCodeMapping      `json:"exitCodes,omitempty"`
	ExitCodeRanges     []ExitCodeRangeMapping `json:"exitCodeRanges,omitempty"`
	PreProcessingError *ExitOptions           `json:"preProcessingError,omitempty"`
	FileUploadError    *ExitOptions           `json:"fileUploadError,omitempty"`
	Default            *ExitOptions           `json:"default,omitempty"`
}

// TaskIDRange is an inclusive range of task IDs that a task depends on: every task whose ID is
// the decimal form of an integer in [Start, End] (leading zeros allowed) is a dependency.
type TaskIDRange struct {
	Start int32 `json:"start"`
	End   int32 `json:"end"`
}

// TaskDependencies are the tasks a task depends on.
type TaskDependencies struct {
	TaskIDs      []string      `json:"taskIds,omitempty"`
	TaskIDRanges []TaskIDRange `json:"taskIdRanges,omitempty"`
}

// Empty reports whether d names no dependency.
func (d *TaskDependencies) Empty() bool {
	return d == nil || (len(d.TaskIDs) == 0 && len(d.TaskIDRanges) == 0)
}

// AffinityInfo is a locality hint: the affinityId of a node the task would like to run on.
type AffinityInfo struct {
	AffinityID string `json:"affinityId"`
}

// FailureInfo describes why a task failed (TaskFailureInformation).
type FailureInfo struct {
	Category ErrorCategory   `json:"category"`
	Code     string          `json:"code,omitempty"`
	Message  string          `json:"message,omitempty"`
	Details  []NameValuePair `json:"details,omitempty"`
}

// TaskExecutionInfo is a task's executionInfo. Azure always writes retryCount and requeueCount.
type TaskExecutionInfo struct {
	// StartTime is when the most recent attempt started running.
	StartTime time.Time `json:"startTime,omitzero"`
	// EndTime is set once the task is completed.
	EndTime time.Time `json:"endTime,omitzero"`
	// ExitCode is set once the task is completed, if its process ran.
	ExitCode      *int32          `json:"exitCode,omitempty"`
	ContainerInfo json.RawMessage `json:"containerInfo,omitempty"`
	// FailureInfo is set when the task completed with a failure.
	FailureInfo *FailureInfo `json:"failureInfo,omitempty"`
	// RetryCount counts retries after failed attempts (non-zero exit codes).
	RetryCount    int32     `json:"retryCount"`
	LastRetryTime time.Time `json:"lastRetryTime,omitzero"`
	// RequeueCount counts attempts that were interrupted and put back in the queue; see
	// [RequeueTask] for how Corral's use differs from Azure's.
	RequeueCount    int32      `json:"requeueCount"`
	LastRequeueTime time.Time  `json:"lastRequeueTime,omitzero"`
	Result          TaskResult `json:"result,omitempty"`
}

// NodeInfo says on which node a task ran (ComputeNodeInformation).
type NodeInfo struct {
	AffinityID           string `json:"affinityId,omitempty"`
	NodeURL              string `json:"nodeUrl,omitempty"`
	PoolID               string `json:"poolId,omitempty"`
	NodeID               string `json:"nodeId,omitempty"`
	TaskRootDirectory    string `json:"taskRootDirectory,omitempty"`
	TaskRootDirectoryURL string `json:"taskRootDirectoryUrl,omitempty"`
}

// Task is a task: Azure's TaskAddParameter and CloudTask in one type. [ValidateTask] refuses the
// properties Corral does not implement (see [UnsupportedTaskProperties]).
type Task struct {
	ID                           string               `json:"id,omitempty"`
	DisplayName                  string               `json:"displayName,omitempty"`
	URL                          string               `json:"url,omitempty"`
	ETag                         string               `json:"eTag,omitempty"`
	LastModified                 time.Time            `json:"lastModified,omitzero"`
	CreationTime                 time.Time            `json:"creationTime,omitzero"`
	ExitConditions               *ExitConditions      `json:"exitConditions,omitempty"`
	State                        TaskState            `json:"state,omitempty"`
	StateTransitionTime          time.Time            `json:"stateTransitionTime,omitzero"`
	PreviousState                TaskState            `json:"previousState,omitempty"`
	PreviousStateTransitionTime  time.Time            `json:"previousStateTransitionTime,omitzero"`
	CommandLine                  string               `json:"commandLine,omitempty"`
	ContainerSettings            json.RawMessage      `json:"containerSettings,omitempty"`
	ResourceFiles                []ResourceFile       `json:"resourceFiles,omitempty"`
	OutputFiles                  []OutputFile         `json:"outputFiles,omitempty"`
	EnvironmentSettings          []EnvironmentSetting `json:"environmentSettings,omitempty"`
	AffinityInfo                 *AffinityInfo        `json:"affinityInfo,omitempty"`
	Constraints                  *TaskConstraints     `json:"constraints,omitempty"`
	RequiredSlots                *int32               `json:"requiredSlots,omitempty"`
	UserIdentity                 json.RawMessage      `json:"userIdentity,omitempty"`
	ExecutionInfo                *TaskExecutionInfo   `json:"executionInfo,omitempty"`
	NodeInfo                     *NodeInfo            `json:"nodeInfo,omitempty"`
	MultiInstanceSettings        json.RawMessage      `json:"multiInstanceSettings,omitempty"`
	DependsOn                    *TaskDependencies    `json:"dependsOn,omitempty"`
	ApplicationPackageReferences json.RawMessage      `json:"applicationPackageReferences,omitempty"`
	AuthenticationTokenSettings  json.RawMessage      `json:"authenticationTokenSettings,omitempty"`
	// QueuedOn is a Corral extension: the node on whose queue an active task waits, placed
	// there to start the moment one of the node's slots frees (Azure has no such state). The
	// task is active, with no start time, until its process starts.
	QueuedOn string `json:"corralQueuedOn,omitempty"`
}

// Slots returns the task's requiredSlots, or Azure's default of 1.
func (t *Task) Slots() int {
	if t.RequiredSlots == nil {
		return 1
	}
	return int(*t.RequiredSlots)
}

// TaskCounts are the numbers of a job's tasks per state and result.
type TaskCounts struct {
	Active int32 `json:"active"`
	// Running counts tasks that are running or preparing.
	Running   int32 `json:"running"`
	Completed int32 `json:"completed"`
	Succeeded int32 `json:"succeeded"`
	Failed    int32 `json:"failed"`
}

// TaskCountsResult is the body of Job - Get Task Counts: task counts and task slot counts.
type TaskCountsResult struct {
	TaskCounts     TaskCounts `json:"taskCounts"`
	TaskSlotCounts TaskCounts `json:"taskSlotCounts"`
}
