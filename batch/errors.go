package batch

import (
	"errors"
	"strings"
)

// Error codes that this package returns. They are Azure Batch's own codes, as listed on its
// "Batch status and error codes" REST reference page and in the SDKs' BatchErrorCode constants, so
// the API layer can put them in an error body unchanged.
const (
	// CodeMissingRequiredProperty: a required property was not given in the request body.
	CodeMissingRequiredProperty = "MissingRequiredProperty"
	// CodeInvalidPropertyValue: the value of a property in the request body is not valid.
	CodeInvalidPropertyValue = "InvalidPropertyValue"
	// CodeUnsupportedProperty: a property in the request body is not supported (by Corral).
	CodeUnsupportedProperty = "UnsupportedProperty"
	// CodeInvalidConstraintValue: a value in a job or task constraint is out of range.
	CodeInvalidConstraintValue = "InvalidConstraintValue"
	// CodeOutOfRangePriority: a job priority outside -1000..1000.
	CodeOutOfRangePriority = "OutOfRangePriority"
	// CodeEmptyMetadataKey: a metadata item whose name is empty.
	CodeEmptyMetadataKey = "EmptyMetadataKey"
	// CodeInvalidAutoScalingSettings: the auto-scale settings of a pool are not valid.
	CodeInvalidAutoScalingSettings = "InvalidAutoScalingSettings"
	// CodeAutoScaleFormulaTooLong: an autoscale formula longer than 8192 characters.
	CodeAutoScaleFormulaTooLong = "AutoScaleFormulaTooLong"
	// CodeTaskDependenciesNotSpecifiedOnJob: a task names dependencies but its job does not set
	// usesTaskDependencies.
	CodeTaskDependenciesNotSpecifiedOnJob = "TaskDependenciesNotSpecifiedOnJob"
	// CodeTaskDependencyListTooLong: the task IDs in dependsOn.taskIds exceed 64000 characters.
	CodeTaskDependencyListTooLong = "TaskDependencyListTooLong"
	// CodeTaskExists: a task with the same ID (compared case-insensitively) exists in the job.
	CodeTaskExists = "TaskExists"
	// CodeTaskNotFound: the task does not exist.
	CodeTaskNotFound = "TaskNotFound"
	// CodeTaskCompleted: the operation is not allowed on a completed task.
	CodeTaskCompleted = "TaskCompleted"
	// CodeJobCompleted: the operation is not allowed on a completed job.
	CodeJobCompleted = "JobCompleted"
	// CodeJobBeingTerminated: the operation is not allowed while the job is terminating.
	CodeJobBeingTerminated = "JobBeingTerminated"
	// CodeJobBeingDeleted: the operation is not allowed while the job is being deleted.
	CodeJobBeingDeleted = "JobBeingDeleted"
	// CodeJobNotActive: the operation needs an active job.
	CodeJobNotActive = "JobNotActive"
	// CodePoolBeingDeleted: the operation is not allowed while the pool is being deleted.
	CodePoolBeingDeleted = "PoolBeingDeleted"
	// CodePoolBeingResized: the operation is not allowed while the pool is resizing.
	CodePoolBeingResized = "PoolBeingResized"
	// CodeOperationInvalidForCurrentState: the operation is not valid in the resource's state.
	CodeOperationInvalidForCurrentState = "OperationInvalidForCurrentState"
	// CodeJobScheduleCompleted: the operation is not allowed on a completed job schedule.
	CodeJobScheduleCompleted = "JobScheduleCompleted"
	// CodeJobScheduleBeingTerminated: the operation is not allowed while the job schedule is
	// terminating.
	CodeJobScheduleBeingTerminated = "JobScheduleBeingTerminated"
	// CodeJobScheduleBeingDeleted: the operation is not allowed while the job schedule is being
	// deleted.
	CodeJobScheduleBeingDeleted = "JobScheduleBeingDeleted"
	// CodeJobScheduleExists: a job schedule with the same ID (compared case-insensitively) exists.
	CodeJobScheduleExists = "JobScheduleExists"
	// CodeJobScheduleNotFound: the job schedule does not exist.
	CodeJobScheduleNotFound = "JobScheduleNotFound"
	// CodeJobWithSameIDExists: a job schedule cannot be added under the ID of a job.
	CodeJobWithSameIDExists = "JobWithSameIdExists"
	// CodeJobScheduleWithSameIDExists: a job cannot be added under the ID of a job schedule.
	CodeJobScheduleWithSameIDExists = "JobScheduleWithSameIdExists"
)

// Keys of the name/value details that Azure attaches to property errors ("values" in the error
// body).
const (
	KeyPropertyName  = "PropertyName"
	KeyPropertyValue = "PropertyValue"
	KeyReason        = "Reason"
)

// KV is one detail of an [Error]: Azure's error body carries them as "values": [{"key", "value"}].
type KV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Error is a domain error that carries Azure Batch's error code, a message meant for people, and
// the details Azure would put in the error body's "values". Functions of this package return it
// as a *Error; use [errors.As] (or [CodeOf]) to read the code.
type Error struct {
	Code    string
	Message string
	Values  []KV
}

// Error returns the code, the message and the details on one line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	for i, kv := range e.Values {
		if i == 0 {
			b.WriteString(" (")
		} else {
			b.WriteString(", ")
		}
		b.WriteString(kv.Key)
		b.WriteString("=")
		b.WriteString(kv.Value)
		if i == len(e.Values)-1 {
			b.WriteString(")")
		}
	}
	return b.String()
}

// Value returns the detail with the given key, or "" if there is none.
func (e *Error) Value(key string) string {
	for _, kv := range e.Values {
		if kv.Key == key {
			return kv.Value
		}
	}
	return ""
}

// CodeOf returns the Azure error code of err if err is or wraps an *Error, and "" otherwise.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// missing reports a required property that was not given.
func missing(property string) *Error {
	return &Error{
		Code:    CodeMissingRequiredProperty,
		Message: "A required property was not specified in the request body: " + property + ".",
		Values:  []KV{{KeyPropertyName, property}},
	}
}

// invalid reports a property whose value is not valid, with the reason.
func invalid(property, value, reason string) *Error {
	return invalidCode(CodeInvalidPropertyValue, property, value, reason)
}

// invalidCode is invalid with another error code (InvalidConstraintValue, OutOfRangePriority…).
func invalidCode(code, property, value, reason string) *Error {
	return &Error{
		Code:    code,
		Message: "The value provided for " + property + " is invalid: " + reason,
		Values: []KV{
			{KeyPropertyName, property},
			{KeyPropertyValue, value},
			{KeyReason, reason},
		},
	}
}

// unsupported reports a property that Azure accepts but Corral does not implement.
func unsupported(property, reason string) *Error {
	return &Error{
		Code:    CodeUnsupportedProperty,
		Message: "The property " + property + " is not supported by Corral: " + reason,
		Values:  []KV{{KeyPropertyName, property}, {KeyReason, reason}},
	}
}

// stateError reports an operation that the resource's current state does not allow.
func stateError(code, message string) *Error {
	return &Error{Code: code, Message: message}
}
