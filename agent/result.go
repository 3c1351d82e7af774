package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
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

	// Acknowledged is set in the outcome file by AckResult, once the service has recorded the
	// result; PendingResults leaves such results out. The Runner never sets it.
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

// ReadResult reads the outcome file of a task, which holds the result of the task's latest
// attempt that ended. ok is false (and err nil) if there is none: the task never ran on this
// node, its latest attempt is still running, or the agent stopped while it ran.
//
// The Runner writes the outcome file before it calls Config.OnDone, so after an agent restart
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
	data, err := os.ReadFile(filepath.Join(l.StartupDir(), attemptsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("agent: reading start task attempts: %w", err)
	}
	lines := strings.Fields(string(data))
	if len(lines) == 0 {
		return "", nil
	}
	return lines[len(lines)-1], nil
}

// readResultIn reads the outcome file of the task directory dir (what names it in errors).
func readResultIn(dir, what string) (res Result, ok bool, err error) {
	acked := false
	data, err := os.ReadFile(filepath.Join(dir, resultFile))
	if errors.Is(err, fs.ErrNotExist) {
		acked = true
		data, err = os.ReadFile(filepath.Join(dir, ackedResultFile))
	}
	if errors.Is(err, fs.ErrNotExist) {
		return Result{}, false, nil
	}
	if err != nil {
		return Result{}, false, fmt.Errorf("agent: reading result of %s: %w", what, err)
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return Result{}, false, fmt.Errorf("agent: decoding result of %s: %w", what, err)
	}
	res.Acknowledged = res.Acknowledged || acked
	return res, true, nil
}

// PendingResults returns the results in every task directory of the node (and of the start
// task) that have not been acknowledged with AckResult, sorted by job and task id (the start
// task's first): what an agent that (re)connects
// reports as finished. A task directory whose outcome file cannot be read or decoded is
// reported in the error (all such problems joined) and skipped; the others are still returned.
func (l Layout) PendingResults() ([]Result, error) {
	pattern := filepath.Join(l.root, workitemsDir, "*", jobDirGlob, "*", resultFile)
	paths, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("agent: listing outcome files: %w", err)
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
// stops returning it: the outcome file is renamed to the acknowledged name. It does nothing if
// the task's outcome file holds another attempt (or none), or is already acknowledged:
// acknowledgements may be repeated or arrive late.
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
	res, ok, err := readResultIn(dir, what)
	if err != nil || !ok || res.AttemptID != attemptID || res.Acknowledged {
		return err
	}
	if err := os.Rename(filepath.Join(dir, resultFile), filepath.Join(dir, ackedResultFile)); err != nil {
		return fmt.Errorf("agent: acknowledging result of %s: %w", what, err)
	}
	return nil
}

// writeResult writes res into dir's outcome file atomically: a temporary file is written and
// renamed over the outcome file. It is not fsynced (see "Outcomes and restarts" in the package
// documentation).
func writeResult(dir string, res Result) error {
	data, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("agent: encoding result: %w", err)
	}
	data = append(data, '\n')
	tmp, err := os.CreateTemp(dir, bookkeepingPrefix+"result-*.tmp")
	if err != nil {
		return fmt.Errorf("agent: writing result: %w", err)
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, resultFile))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("agent: writing result: %w", err)
	}
	return nil
}
