package rest

import (
	"errors"
	"net/http"
	"time"

	"corral/api"
	"corral/batch"
	"corral/batch/autoscale"
)

// CodeNotImplemented is the error code of an Azure Batch operation Corral does not implement yet
// (HTTP 501). Azure's SDKs know the code (BatchErrorCode.NotImplemented); the "Batch Status and
// Error Codes" page does not list it.
const CodeNotImplemented = "NotImplemented"

// codeAutoScaleNotEnabled is the service's answer to Pool - Evaluate AutoScale on a pool that does
// not autoscale (Azure: "The Pool must have auto scaling enabled in order to evaluate a formula").
const codeAutoScaleNotEnabled = "AutoScaleNotEnabled"

// batchStatus holds the HTTP status of the codes the service (package batch, and the formula
// errors of batch/autoscale) returns that api.NewError does not know. All but one are request
// errors, which Azure answers with 400; evaluating a formula on a pool without autoscale is a
// conflict with the pool's state, 409.
var batchStatus = map[string]int{
	batch.CodeInvalidConstraintValue:     http.StatusBadRequest,
	batch.CodeOutOfRangePriority:         http.StatusBadRequest,
	batch.CodeEmptyMetadataKey:           http.StatusBadRequest,
	batch.CodeAutoScaleFormulaTooLong:    http.StatusBadRequest,
	autoscale.CodeEvaluationError:        http.StatusBadRequest,
	autoscale.CodeInsufficientSampleData: http.StatusBadRequest,
	codeAutoScaleNotEnabled:              http.StatusConflict,
}

// asBatchError returns the *batch.Error err is or wraps, or nil.
func asBatchError(err error) *batch.Error {
	var be *batch.Error
	if errors.As(err, &be) {
		return be
	}
	return nil
}

// fromBatch turns the service's error into Azure's: the code's HTTP status, the service's
// message (more precise than the catalogue's) and its details as "values".
func fromBatch(be *batch.Error) *api.Error {
	e := api.NewError(be.Code)
	if status, ok := batchStatus[be.Code]; ok {
		e.Status = status
	}
	if be.Message != "" {
		e.Message = be.Message
	}
	for _, kv := range be.Values {
		e.Values = append(e.Values, api.ErrorValue{Key: kv.Key, Value: kv.Value})
	}
	return e
}

// notImplemented is the answer to an Azure operation Corral does not implement yet.
func notImplemented(r *http.Request) *api.Error {
	return &api.Error{
		Status:  http.StatusNotImplemented,
		Code:    CodeNotImplemented,
		Message: "Corral does not implement this operation yet: " + r.Method + " " + r.URL.Path + ".",
	}
}

// BatchError is an error inside a response body (TaskAddResult.error), in the shape of Azure's
// BatchError: the error code, the message with its language, and key/value details.
type BatchError struct {
	Code    string           `json:"code"`
	Message ErrorMessage     `json:"message"`
	Values  []api.ErrorValue `json:"values,omitempty"`
}

// ErrorMessage is the message of a BatchError.
type ErrorMessage struct {
	Lang  string `json:"lang"`
	Value string `json:"value"`
}

// messageTime is the format of the Time line of an error message, as api.WriteError writes it.
const messageTime = "2006-01-02T15:04:05.0000000Z"

// newBatchError renders e as a BatchError, with the RequestId and Time lines Azure appends to
// every error message.
func newBatchError(e *api.Error, requestID string, now time.Time) *BatchError {
	return &BatchError{
		Code:    e.Code,
		Message: ErrorMessage{Lang: "en-US", Value: e.Message + "\nRequestId:" + requestID + "\nTime:" + now.UTC().Format(messageTime)},
		Values:  e.Values,
	}
}
