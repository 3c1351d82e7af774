package batch

// ExitCondition classifies how an attempt of a task ended.
type ExitCondition int

// Exit conditions.
const (
	// ExitProcess: the task's process ran and exited with Exit.Code.
	ExitProcess ExitCondition = iota
	// ExitPreProcessingError: the task could not be started (for example a resource file could not
	// be downloaded). Not retried.
	ExitPreProcessingError
	// ExitFileUploadError: the process exited (Exit.Code) but an output file could not be
	// uploaded. Not retried.
	ExitFileUploadError
	// ExitWallClockTimeout: the service killed the attempt because it ran longer than the task's
	// maxWallClockTime. Not retried; see [WallClockExit].
	ExitWallClockTimeout
	// ExitTerminated: a user terminated the task (Task - Terminate), or its job was terminated.
	// Exit.Code is the process's exit code if it was running, else nil.
	ExitTerminated
)

// String returns the condition's name.
func (c ExitCondition) String() string {
	switch c {
	case ExitProcess:
		return "process exit"
	case ExitPreProcessingError:
		return "pre-processing error"
	case ExitFileUploadError:
		return "file upload error"
	case ExitWallClockTimeout:
		return "maxWallClockTime exceeded"
	case ExitTerminated:
		return "terminated"
	}
	return "unknown exit condition"
}

// Exit is how one attempt of a task ended, as the node agent (or the service, for timeouts and
// terminations) reports it.
type Exit struct {
	Condition ExitCondition
	// Code is the process exit code; nil when the process never ran.
	Code *int32
	// FailureInfo describes a pre-processing or upload error (category, code, message); when nil,
	// [FinishTask] fills in Corral's default for the condition.
	FailureInfo *FailureInfo
}

// Failure codes that Corral writes into a task's failureInfo, following Azure.
const (
	// FailureCodeExitCode: the process exited with a non-zero code (category usererror).
	FailureCodeExitCode = "FailureExitCode"
	// FailureCodeTaskEnded: the task was ended by the service: its maxWallClockTime passed
	// (category servererror) or a user terminated it (category usererror).
	FailureCodeTaskEnded = "TaskEnded"
	// FailureCodePreProcessing: Corral's code for a pre-processing error reported without details.
	FailureCodePreProcessing = "TaskPreProcessingError"
	// FailureCodeFileUpload: Corral's code for a file upload error reported without details.
	FailureCodeFileUpload = "TaskFileUploadError"
)

// File upload failure codes that the node agent reports, from Azure's TaskFailureInformationCodes.
const (
	FailureCodeFileUploadContainerNotFound = "FileUploadContainerNotFound"
	FailureCodeFileUploadAccessDenied      = "FileUploadAccessDenied"
	FailureCodeFileUploadMiscError         = "FileUploadMiscError"
)

// IsFileUploadFailure reports whether a failureInfo code is one of a file upload error.
func IsFileUploadFailure(code string) bool {
	switch code {
	case FailureCodeFileUpload, FailureCodeFileUploadContainerNotFound, FailureCodeFileUploadAccessDenied,
		FailureCodeFileUploadMiscError:
		return true
	}
	return false
}

// RecordedExit rebuilds, from a completed task's executionInfo, the exit its final attempt
// ended with, as far as [EffectiveExitOptions] needs it: a file upload error (a failureInfo
// code of [IsFileUploadFailure], with the process's exit code), a pre-processing error (a
// failureInfo and no exit code), else the process's exit (timeouts and terminations have exit
// codes, or none, that give the same options).
func RecordedExit(t Task) Exit {
	ei := t.ExecutionInfo
	if ei == nil {
		return Exit{Condition: ExitProcess}
	}
	if fi := ei.FailureInfo; fi != nil && ei.Result == ResultFailure {
		switch {
		case IsFileUploadFailure(fi.Code):
			return Exit{Condition: ExitFileUploadError, Code: ei.ExitCode}
		case ei.ExitCode == nil && fi.Code != FailureCodeTaskEnded:
			return Exit{Condition: ExitPreProcessingError}
		}
	}
	return Exit{Condition: ExitProcess, Code: ei.ExitCode}
}

// WallClockExitCode is the exit code Azure Batch records for a task killed because it exceeded its
// maxWallClockTime: 0xC000013A (STATUS_CONTROL_C_EXIT) as a signed 32-bit integer, -1073741510.
// Azure's "Error handling and detection in Azure Batch" (constraint errors) gives this code for
// the case without distinguishing Windows and Linux nodes, so Corral, whose nodes are Linux,
// records it although the node agent ends the task's process group with SIGKILL (a process that
// a signal ends otherwise reports 128+signal), and exit conditions written for Azure keep
// working.
const WallClockExitCode int32 = -1073741510

// WallClockExit returns the Exit with which [FinishTask] completes a task whose attempt exceeded
// its maxWallClockTime: exit code [WallClockExitCode] and failureInfo
// {category servererror, code TaskEnded}, as Azure documents.
func WallClockExit() Exit {
	return Exit{
		Condition: ExitWallClockTimeout,
		Code:      Ptr(WallClockExitCode),
		FailureInfo: &FailureInfo{
			Category: ServerError,
			Code:     FailureCodeTaskEnded,
			Message:  "The task ran longer than its maxWallClockTime constraint and was terminated.",
		},
	}
}

// succeeded reports whether the attempt succeeded: the process exited with code 0 and nothing
// else went wrong.
func (e Exit) succeeded() bool {
	return e.Condition == ExitProcess && e.Code != nil && *e.Code == 0
}

// failureInfo returns the failureInfo to record for a failed final attempt.
func (e Exit) failureInfo() *FailureInfo {
	if e.FailureInfo != nil {
		fi := *e.FailureInfo
		if fi.Category == "" {
			fi.Category = UserError
		}
		return &fi
	}
	switch e.Condition {
	case ExitPreProcessingError:
		return &FailureInfo{Category: UserError, Code: FailureCodePreProcessing,
			Message: "The task could not be started."}
	case ExitFileUploadError:
		return &FailureInfo{Category: UserError, Code: FailureCodeFileUpload,
			Message: "An output file of the task could not be uploaded."}
	case ExitWallClockTimeout:
		return WallClockExit().FailureInfo
	case ExitTerminated:
		return &FailureInfo{Category: UserError, Code: FailureCodeTaskEnded,
			Message: "The task was ended by user request."}
	}
	return &FailureInfo{
		Category: UserError,
		Code:     FailureCodeExitCode,
		Message:  "The task process exited with a non-zero exit code.",
		Details:  []NameValuePair{{Name: "AdditionalErrorCode", Value: FailureCodeExitCode}},
	}
}

// Default exit options, as Azure documents them on ExitOptions (the "Task - Add" REST reference
// and "Create task dependencies to run tasks that depend on other tasks", Dependency actions):
// jobAction defaults to none for exit code 0 and to terminate for every other exit condition;
// dependencyAction defaults to satisfy for exit code 0 and to block for every other exit condition.
var (
	successDefaults = ExitOptions{JobAction: JobActionNone, DependencyAction: DependencySatisfy}
	failureDefaults = ExitOptions{JobAction: JobActionTerminate, DependencyAction: DependencyBlock}
)

// EffectiveExitOptions returns the exit options that apply when a task's final attempt ended with
// exit, with every field filled in. Azure's rules ("exitConditions" on Task - Add):
//
//   - A process exit code is looked up in exitCodes, then in exitCodeRanges (the first match
//     wins); an exit code 0 that is not listed gets the success defaults (none, satisfy) — non-
//     default behaviour on 0 must be listed explicitly; any other unlisted code gets default.
//   - A pre-processing error gets preProcessingError, else default.
//   - A file upload error gets the mapping of the process's exit code if exitCodes or
//     exitCodeRanges list it (that takes precedence), else fileUploadError, else default.
//   - Corral treats a maxWallClockTime timeout as the process exit code Azure records for it
//     ([WallClockExitCode]) and a user termination as its exit code if the process ran, else as
//     default.
//   - A missing default, or a field left out of the options chosen, takes Azure's defaults: for
//     exit code 0 jobAction none and dependencyAction satisfy, for every other condition jobAction
//     terminate and dependencyAction block. With no exitConditions at all, the defaults apply.
func EffectiveExitOptions(ec *ExitConditions, exit Exit) ExitOptions {
	fill := func(o *ExitOptions, d ExitOptions) ExitOptions {
		if o == nil {
			return d
		}
		r := *o
		if r.JobAction == "" {
			r.JobAction = d.JobAction
		}
		if r.DependencyAction == "" {
			r.DependencyAction = d.DependencyAction
		}
		return r
	}
	// byCode finds the mapping of an exit code, if exitCodes or exitCodeRanges list it.
	byCode := func(code int32) (*ExitOptions, bool) {
		if ec == nil {
			return nil, false
		}
		for i := range ec.ExitCodes {
			if ec.ExitCodes[i].Code == code {
				return &ec.ExitCodes[i].ExitOptions, true
			}
		}
		for i := range ec.ExitCodeRanges {
			r := &ec.ExitCodeRanges[i]
			if code >= r.Start && code <= r.End {
				return &r.ExitOptions, true
			}
		}
		return nil, false
	}
	// codeDefaults are the defaults for a mapped exit code: success defaults for 0.
	codeDefaults := func(code int32) ExitOptions {
		if code == 0 {
			return successDefaults
		}
		return failureDefaults
	}
	var def *ExitOptions
	if ec != nil {
		def = ec.Default
	}
	switch exit.Condition {
	case ExitPreProcessingError:
		if ec != nil && ec.PreProcessingError != nil {
			return fill(ec.PreProcessingError, failureDefaults)
		}
		return fill(def, failureDefaults)
	case ExitFileUploadError:
		if exit.Code != nil {
			if o, ok := byCode(*exit.Code); ok {
				return fill(o, failureDefaults)
			}
		}
		if ec != nil && ec.FileUploadError != nil {
			return fill(ec.FileUploadError, failureDefaults)
		}
		return fill(def, failureDefaults)
	default: // ExitProcess, ExitWallClockTimeout, ExitTerminated
		if exit.Code != nil {
			if o, ok := byCode(*exit.Code); ok {
				if exit.Condition == ExitProcess {
					return fill(o, codeDefaults(*exit.Code))
				}
				return fill(o, failureDefaults)
			}
			if exit.Condition == ExitProcess && *exit.Code == 0 {
				return successDefaults
			}
		}
		return fill(def, failureDefaults)
	}
}
