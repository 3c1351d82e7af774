package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"time"

	"corral/agent/protocol"
)

// Result is the outcome of one attempt to run a task.
type Result struct {
	JobID     string `json:"jobId"`
	TaskID    string `json:"taskId"`
	AttemptID string `json:"attemptId"`
	// StartTask marks a result of the pool's start task (JobID and TaskID are empty).
	StartTask bool `json:"startTask,omitempty"`

	// Started reports that the task's process was started. When it is false, Failure says why
	// not, ExitCode is meaningless and StartTime equals EndTime.
	Started bool `json:"started"`
	// ExitCode is the exit status of the task's process. If the process was terminated by a
	// signal, ExitCode is 128 plus the signal number (as a shell reports it: 137 for SIGKILL)
	// and Signal is set.
	ExitCode int `json:"exitCode"`
	// Signal is the number of the signal that terminated the process, or 0.
	Signal int `json:"signal,omitempty"`

	StartTime time.Time `json:"startTime"`
	EndTime   time.Time `json:"endTime"`

	// Killed reports that Kill (or Close) signalled the task's process group while its main
	// process was running. Azure reports a task ended by the user with failureInfo code
	// "TaskEnded"; mapping this flag to that is the service's business.
	Killed bool `json:"killed,omitempty"`
	// TimedOut reports that the task ran for its MaxWallClock and was killed for it.
	TimedOut bool `json:"timedOut,omitempty"`
	// NotStarted reports an attempt the Client held for a slot and gave up before it started
	// (protocol.TaskResult.NotStarted); Killed is set too when a plain KillTask took it.
	NotStarted bool `json:"notStarted,omitempty"`

	// Failure is set when the process could not be started. It mirrors Azure Batch's
	// TaskFailureInformation (category, code, message).
	Failure *Failure `json:"failure,omitempty"`
	// UploadFailure is set when the process ran but one of the task's output files could not
	// be uploaded (Azure's file upload error): ExitCode is still the process's.
	UploadFailure *Failure `json:"uploadFailure,omitempty"`
	// Usage is what the process used, when it was reaped; zero when it did not start.
	Usage protocol.Usage `json:"usage,omitzero"`

	// Acknowledged is set by ReadResult when the task's journal records an AckResult for the
	// result (the service has recorded it); PendingResults leaves such results out. The Runner
	// never sets it.
	Acknowledged bool `json:"acknowledged,omitempty"`
}

// Failure describes why a task's process could not be started, in the terms of Azure Batch's
// TaskFailureInformation.
type Failure struct {
	// Category is "usererror" or "servererror" (Azure's ErrorCategory values).
	Category string `json:"category"`
	// Code is an Azure Batch task error code such as CodeCommandProgramNotFound.
	Code string `json:"code"`
	// Message is Azure's user message for the code, followed by the detail (the program name,
	// the operating system's error).
	Message string `json:"message"`
}

// Azure Batch failure categories and task error codes used by the Runner (from Azure Batch's
// "Batch status and error codes" reference).
const (
	CategoryUserError   = "usererror"
	CategoryServerError = "servererror"

	// CodeCommandProgramNotFound: "The specified command program is not found." (UserError)
	CodeCommandProgramNotFound = "CommandProgramNotFound"
	// CodeCommandLaunchFailed: "Failed to launch the specified command line." (UserError)
	CodeCommandLaunchFailed = "CommandLaunchFailed"
)

// ReadResult reads the result of a task's latest attempt from its journal. ok is false (and
// err nil) if there is none: the task never ran on this node, its latest attempt is still
// running, or the agent stopped while it ran.
//
// The Runner writes the result before it calls Config.OnDone, so after an agent restart
// ReadResult finds the results of attempts whose report may not have reached the service.
func (l Layout) ReadResult(jobID, taskID string) (res Result, ok bool, err error) {
	dir, err := l.TaskDir(jobID, taskID)
	if err != nil {
		return Result{}, false, err
	}
	return readResultIn(dir, "task "+jobID+"/"+taskID)
}

// ReadStartTaskResult is ReadResult for the start task: the result of its latest attempt that
// ended on this node.
func (l Layout) ReadStartTaskResult() (res Result, ok bool, err error) {
	return readResultIn(l.StartupDir(), "the start task")
}

// LatestStartTaskAttempt returns the id of the latest start task attempt started on this node
// since its files were last cleared ("" if none): what the agent reports to the service, which
// runs the start task again on a node that reports none.
func (l Layout) LatestStartTaskAttempt() (string, error) {
	j, err := readJournal(l.StartupDir(), "")
	if err != nil {
		return "", fmt.Errorf("agent: the start task's attempts: %w", err)
	}
	return j.latest, nil
}

// readResultIn reads the result of the latest attempt in the task directory dir (what names it
// in errors).
func readResultIn(dir, what string) (res Result, ok bool, err error) {
	j, err := readJournal(dir, "")
	if err != nil {
		return Result{}, false, fmt.Errorf("agent: result of %s: %w", what, err)
	}
	res, ok, err = j.decodeResult()
	if err != nil {
		return Result{}, false, fmt.Errorf("agent: decoding result of %s: %w", what, err)
	}
	return res, ok, nil
}

// PendingResults returns the results in every task directory of the node (and of the start
// task) that have not been acknowledged with AckResult, sorted by job and task id (the start
// task's first): what an agent that (re)connects reports as finished. A task directory whose
// journal cannot be read, or whose result cannot be decoded, is reported in the error (all such
// problems joined) and skipped; the others are still returned.
func (l Layout) PendingResults() ([]Result, error) {
	pattern := filepath.Join(l.root, workitemsDir, "*", jobDirGlob, "*", journalFile)
	paths, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("agent: listing journals: %w", err)
	}
	var (
		out  []Result
		errs []error
	)
	if res, ok, err := l.ReadStartTaskResult(); err != nil {
		errs = append(errs, err)
	} else if ok && !res.Acknowledged {
		out = append(out, res)
	}
	for _, p := range paths {
		taskDir := filepath.Dir(p)
		taskID := filepath.Base(taskDir)
		jobDir := filepath.Base(filepath.Dir(taskDir))
		jobID := filepath.Base(filepath.Dir(filepath.Dir(taskDir)))
		if jobDir != jobDirName {
			jobID += ":" + jobDir // a job schedule's job
		}
		// (A job schedule's first job has the directory of a job of the schedule's id: the
		// result names its job, which ReadResult returns as it is.)
		if ValidateJobID(jobID) != nil || ValidateID("task", taskID) != nil {
			continue // not a directory the Runner made
		}
		res, ok, err := l.ReadResult(jobID, taskID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok && !res.Acknowledged {
			out = append(out, res)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].JobID != out[j].JobID {
			return out[i].JobID < out[j].JobID
		}
		return out[i].TaskID < out[j].TaskID
	})
	return out, errors.Join(errs...)
}

// AckResult records that the service has the result of attemptID, so that PendingResults
// stops returning it: an ack line is appended to the task's journal. It does nothing if the
// task's latest attempt is another (or there is none), has no result yet, or is acknowledged
// already: acknowledgements may be repeated or arrive late.
func (l Layout) AckResult(jobID, taskID, attemptID string) error {
	dir, err := l.TaskDir(jobID, taskID)
	if err != nil {
		return err
	}
	return ackResultIn(dir, "task "+jobID+"/"+taskID, attemptID)
}

// AckStartTaskResult is AckResult for the start task.
func (l Layout) AckStartTaskResult(attemptID string) error {
	return ackResultIn(l.StartupDir(), "the start task", attemptID)
}

// ackResultIn is AckResult in the task directory dir (what names it in errors).
func ackResultIn(dir, what, attemptID string) error {
	j, err := readJournal(dir, "")
	if err != nil {
		return fmt.Errorf("agent: acknowledging result of %s: %w", what, err)
	}
	if j.result == nil || j.latest != attemptID || j.acked {
		return nil
	}
	return appendAck(dir, what, attemptID, j.torn)
}

// appendAck appends the ack line of attemptID to the journal of the task directory dir. A
// directory or journal that no longer exists has nothing to acknowledge.
func appendAck(dir, what, attemptID string, torn bool) error {
	err := appendJournal(dir, journalLine(torn, recordAck, attemptID, nil))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("agent: acknowledging result of %s: %w", what, err)
	}
	return nil
}
