// Package protocol is the conversation between the service and the node agents: the service's
// node session for a node sends commands; the node's agent sends reports. The same types travel
// as JSON over HTTP between the server and a real agent, and as actor events between the service
// and the agent model under the systematic tester.
//
// The network may lose, repeat or delay any message, and either side may restart, so:
//   - every task attempt has an id; StartTask and KillTask are idempotent per attempt at the agent;
//   - an agent reports a finished attempt until the service acknowledges it (ResultAck), and keeps
//     the result on disk meanwhile, so a result survives a restart of either side;
//   - Hello, sent when an agent (re)connects, lists what it runs and what it finished, and the
//     service reconciles: attempts it does not know are killed, attempts it thought running that
//     the agent does not have are lost (requeued without counting as a retry);
//   - the pool's start task runs as attempts too (NodeStartTask), with results reported and
//     acknowledged as tasks' are; Hello and Heartbeat say which start task attempt the agent
//     was last asked to run, so that the service reruns it on a node that restarted afresh.
package protocol

import (
	"time"

	"corral/batch"
)

// StartTask asks an agent to run one attempt of a task.
type StartTask struct {
	AttemptID    string            `json:"attemptId"`
	JobID        string            `json:"jobId"`
	TaskID       string            `json:"taskId"`
	PoolID       string            `json:"poolId"`
	CommandLine  string            `json:"commandLine"`
	Env          []EnvSetting      `json:"environmentSettings,omitempty"`
	MaxWallClock time.Duration     `json:"maxWallClock,omitempty"` // 0: none
	Labels       map[string]string `json:"labels,omitempty"`       // extra AZ_BATCH_* context
	// ElevationAdmin is Azure's userIdentity with elevationLevel "admin": the task runs as root
	// instead of as a user of its own. An agent that is not root fails such a task.
	ElevationAdmin bool `json:"elevationAdmin,omitempty"`
	// ResourceFiles are downloaded into the working directory before the process starts;
	// OutputFiles are uploaded after it ends, before the result is reported. Their URLs carry
	// SAS tokens: secrets that are never logged.
	ResourceFiles []batch.ResourceFile `json:"resourceFiles,omitempty"`
	OutputFiles   []batch.OutputFile   `json:"outputFiles,omitempty"`
	// NodeStartTask marks an attempt of the pool's start task rather than of a job's task
	// (JobID and TaskID are empty): it runs in the node's startup directory, with the start
	// task's environment. Its id starts with StartTaskAttemptPrefix.
	NodeStartTask bool `json:"nodeStartTask,omitempty"`
	// RequiresStartTask, if set, names the start task attempt that must have succeeded on the
	// node before this attempt runs (the pool's start task has waitForSuccess): an agent whose
	// latest start task attempt is another, or did not succeed, has restarted afresh since the
	// service placed the attempt, and does not run it. The service learns of the restart from
	// the agent's next report and requeues the attempt.
	RequiresStartTask string `json:"requiresStartTask,omitempty"`
	// JobPrepTaskID, if set, is the id of the job's preparation task: the task gets
	// AZ_BATCH_JOB_PREP_DIR and AZ_BATCH_JOB_PREP_WORKING_DIR, that task's directories. The
	// preparation and release tasks themselves run as tasks of the job under their own ids.
	JobPrepTaskID string `json:"jobPrepTaskId,omitempty"`
	// NodeSlots, if set, is the node's number of task slots and Slots the attempt's: the agent
	// runs its attempts' processes in at most NodeSlots slots, and holds an attempt that does
	// not fit (or that would overtake one held before it) until enough of the running ones
	// have ended. The service sends a node more attempts than it has free slots so that the
	// next one starts the moment a slot frees; an attempt held so can be taken back
	// (KillTask.IfQueued). Without NodeSlots (node tasks, older services) an attempt starts at
	// once.
	NodeSlots int `json:"nodeSlots,omitempty"`
	Slots     int `json:"slots,omitempty"`
}

// StartTaskAttemptPrefix starts the id of every attempt of a pool's start task: no attempt of
// a job's task has such an id (job ids have no '@').
const StartTaskAttemptPrefix = "@start/"

// EnvSetting is one environment variable of a task, in the order the user gave them.
type EnvSetting struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// KillTask asks an agent to kill an attempt's whole process group. Killing an attempt that is
// not running is not an error.
type KillTask struct {
	AttemptID string `json:"attemptId"`
	// IfQueued takes the attempt back only if the agent holds it for a slot (see
	// StartTask.NodeSlots) and has not started it: it is then reported ended with NotStarted
	// and never runs on this node; an attempt that has started is left alone. The agent is
	// the one that knows which came first, its start or this, so the service places the
	// attempt elsewhere only once it has that result.
	IfQueued bool `json:"ifQueued,omitempty"`
}

// ResultAck tells an agent the service has recorded an attempt's result: it may stop reporting
// it.
type ResultAck struct {
	AttemptID string `json:"attemptId"`
}

// Hello is the first report of an agent after it starts, reconnects or restarts.
type Hello struct {
	NodeID      string       `json:"nodeId"`
	Incarnation string       `json:"incarnation"` // changes every time the agent process starts, and with every RestartNode
	Running     []string     `json:"running"`     // attempt ids running now
	Finished    []TaskResult `json:"finished"`    // results not yet acknowledged
	// StartTask is the id of the latest start task attempt the agent was asked to run since its
	// node's files were last fresh (it joined, or was reimaged or rebooted); empty if none.
	// An agent that reports none to a session that ran one is a node that restarted afresh:
	// the service runs the start task again.
	StartTask string `json:"startTask,omitempty"`
	// Restarted is the RequestID of the last RestartNode the agent carried out ("" if none).
	Restarted string `json:"restarted,omitempty"`
}

// RestartNode asks an agent to restart as a node does when Azure reboots or reimages it: it
// kills every running attempt and forgets their results (the service has given them up), and,
// with Reimage, deletes every file of the node's tasks (the task directories, shared and
// startup); then it starts afresh, as a new incarnation, and says Hello with Restarted set to
// RequestID. A RestartNode whose RequestID the agent carried out already (a repeat) changes
// nothing but gets a Hello, so that the service learns it is done.
type RestartNode struct {
	RequestID string `json:"requestId"`
	Reimage   bool   `json:"reimage,omitempty"`
}

// TaskStarted says an attempt's process started.
type TaskStarted struct {
	NodeID    string    `json:"nodeId"`
	AttemptID string    `json:"attemptId"`
	StartTime time.Time `json:"startTime"`
}

// TaskResult says an attempt ended. It is repeated until acknowledged.
type TaskResult struct {
	NodeID    string    `json:"nodeId"`
	AttemptID string    `json:"attemptId"`
	ExitCode  int       `json:"exitCode"`
	StartTime time.Time `json:"startTime"`
	EndTime   time.Time `json:"endTime"`
	Killed    bool      `json:"killed,omitempty"`   // by KillTask
	TimedOut  bool      `json:"timedOut,omitempty"` // by maxWallClockTime
	Error     string    `json:"error,omitempty"`    // the process could not start (exit code meaningless)
	// UploadError is set when the process ran (ExitCode holds its code) but an output file
	// could not be uploaded: Azure's failure code and message, as "Code: message".
	UploadError string `json:"uploadError,omitempty"`
	// Usage is what the attempt's process used (zero when it did not start).
	Usage Usage `json:"usage,omitzero"`
	// NotStarted says the agent held the attempt for a slot and gave it up unstarted, as a
	// KillTask asked: it never ran (ExitCode and the times mean nothing).
	NotStarted bool `json:"notStarted,omitempty"`
}

// Usage is what a task's process used, with the children it waited for, from the kernel's
// accounting of it when it was reaped (Linux's rusage): CPU time in user and kernel mode, and
// bytes read from and written to storage (the page cache not counted).
type Usage struct {
	UserCPU    time.Duration `json:"userCpu,omitempty"`
	KernelCPU  time.Duration `json:"kernelCpu,omitempty"`
	ReadBytes  int64         `json:"readBytes,omitempty"`
	WriteBytes int64         `json:"writeBytes,omitempty"`
}

// Heartbeat says an agent is alive and what it runs.
type Heartbeat struct {
	NodeID  string   `json:"nodeId"`
	Running []string `json:"running"`
	// Incarnation and StartTask are as in Hello (empty from agents that predate them).
	Incarnation string `json:"incarnation,omitempty"`
	StartTask   string `json:"startTask,omitempty"`
}
