package api

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ErrorValue is one key/value pair of additional information in an Azure Batch error body, such as
// {"key": "QueryParameterName", "value": "api-version"}.
type ErrorValue struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Error is an Azure Batch error response: an HTTP status, an error code, a message and optional
// key/value details. [WriteError] renders it as Azure does:
//
//	{
//	  "odata.metadata": "https://{host}/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element",
//	  "code": "JobNotFound",
//	  "message": {"lang": "en-US", "value": "The specified job does not exist.\nRequestId:{request-id}\nTime:{time}"},
//	  "values": [{"key": "...", "value": "..."}]
//	}
//
// The shape was checked against real Batch error bodies quoted in public code and the error model
// (code, message{lang,value}, values[{key,value}]) of the SDKs; Azure omits "values" when there are
// none, and so does WriteError.
type Error struct {
	Status  int          // HTTP status code
	Code    string       // Azure error code, e.g. CodeJobNotFound
	Message string       // human-readable message, without the RequestId and Time lines
	Values  []ErrorValue // additional details; may be nil
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s: %s", e.Status, e.Code, e.Message)
	for _, v := range e.Values {
		fmt.Fprintf(&b, " [%s=%s]", v.Key, v.Value)
	}
	return b.String()
}

// With returns a copy of e with one more key/value detail.
func (e *Error) With(key, value string) *Error {
	c := *e
	c.Values = append(append([]ErrorValue(nil), e.Values...), ErrorValue{Key: key, Value: value})
	return &c
}

// Error codes returned by Azure Batch, from "Batch Status and Error Codes" (common REST codes and
// Batch service codes). [NewError] knows the HTTP status and message of each.
const (
	CodeConditionNotMet                      = "ConditionNotMet" // 412 for writes; 304 for reads (see CheckConditions)
	CodeMissingRequiredHeader                = "MissingRequiredHeader"
	CodeMissingRequiredProperty              = "MissingRequiredProperty"
	CodeUnsupportedHeader                    = "UnsupportedHeader"
	CodeUnsupportedProperty                  = "UnsupportedProperty"
	CodeInvalidHeaderValue                   = "InvalidHeaderValue"
	CodeInvalidPropertyValue                 = "InvalidPropertyValue"
	CodeMissingRequiredQueryParameter        = "MissingRequiredQueryParameter"
	CodeUnsupportedQueryParameter            = "UnsupportedQueryParameter"
	CodeInvalidQueryParameterValue           = "InvalidQueryParameterValue"
	CodeOutOfRangeQueryParameterValue        = "OutOfRangeQueryParameterValue"
	CodeRequestURLFailedToParse              = "RequestUrlFailedToParse"
	CodeInvalidURI                           = "InvalidUri"
	CodeInvalidHTTPVerb                      = "InvalidHttpVerb"
	CodeInvalidRequestBody                   = "InvalidRequestBody"
	CodeOutOfRangeInput                      = "OutOfRangeInput"
	CodeInvalidAuthenticationInfo            = "InvalidAuthenticationInfo"
	CodeInvalidInput                         = "InvalidInput"
	CodeInvalidMetadata                      = "InvalidMetadata"
	CodeMetadataTooLarge                     = "MetadataTooLarge"
	CodeMultipleConditionHeadersNotSupported = "MultipleConditionHeadersNotSupported"
	CodeAuthenticationFailed                 = "AuthenticationFailed"
	CodeInsufficientAccountPermissions       = "InsufficientAccountPermissions"
	CodeAccountIsDisabled                    = "AccountIsDisabled"
	CodeResourceNotFound                     = "ResourceNotFound"
	CodeUnsupportedHTTPVerb                  = "UnsupportedHttpVerb"
	CodeMissingContentLengthHeader           = "MissingContentLengthHeader"
	CodeRequestBodyTooLarge                  = "RequestBodyTooLarge"
	CodeInvalidRange                         = "InvalidRange"
	CodeInternalError                        = "InternalError"
	CodeOperationTimedOut                    = "OperationTimedOut"
	CodeServerBusy                           = "ServerBusy"

	// CodeUnsupportedRequestVersion is Azure's code for an api-version it does not serve.
	CodeUnsupportedRequestVersion          = "UnsupportedRequestVersion"
	CodeInvalidAutoScalingSettings         = "InvalidAutoScalingSettings"
	CodeAutoScalingFormulaSyntaxError      = "AutoScalingFormulaSyntaxError"
	CodeAutoScalingFormulaTooLong          = "AutoScalingFormulaTooLong"
	CodePoolNotFound                       = "PoolNotFound"
	CodeNodeNotFound                       = "NodeNotFound"
	CodeJobScheduleNotFound                = "JobScheduleNotFound"
	CodeJobNotFound                        = "JobNotFound"
	CodeTaskNotFound                       = "TaskNotFound"
	CodeFileNotFound                       = "FileNotFound"
	CodeNodeUserNotFound                   = "NodeUserNotFound"
	CodeApplicationNotFound                = "ApplicationNotFound"
	CodeJobPreparationTaskNotRunOnNode     = "JobPreparationTaskNotRunOnNode"
	CodeJobReleaseTaskNotRunOnNode         = "JobReleaseTaskNotRunOnNode"
	CodeOperationInvalidForCurrentState    = "OperationInvalidForCurrentState"
	CodePoolBeingDeleted                   = "PoolBeingDeleted"
	CodePoolBeingResized                   = "PoolBeingResized"
	CodePoolBeingCreated                   = "PoolBeingCreated"
	CodeNodeBeingCreated                   = "NodeBeingCreated"
	CodeNodeBeingStarted                   = "NodeBeingStarted"
	CodeNodeBeingReimaged                  = "NodeBeingReimaged"
	CodeNodeBeingRebooted                  = "NodeBeingRebooted"
	CodeNodeStateUnusable                  = "NodeStateUnusable"
	CodeJobScheduleBeingTerminated         = "JobScheduleBeingTerminated"
	CodeJobScheduleBeingDeleted            = "JobScheduleBeingDeleted"
	CodePoolExists                         = "PoolExists"
	CodeJobScheduleExists                  = "JobScheduleExists"
	CodeNodeUserExists                     = "NodeUserExists"
	CodeJobExists                          = "JobExists"
	CodeJobScheduleDisabled                = "JobScheduleDisabled"
	CodeJobScheduleCompleted               = "JobScheduleCompleted"
	CodeJobBeingTerminated                 = "JobBeingTerminated"
	CodeJobBeingDeleted                    = "JobBeingDeleted"
	CodeJobDisabled                        = "JobDisabled"
	CodeJobCompleted                       = "JobCompleted"
	CodeJobNotActive                       = "JobNotActive"
	CodeTaskExists                         = "TaskExists"
	CodeCertificateNotFound                = "CertificateNotFound"
	CodeTaskCompleted                      = "TaskCompleted"
	CodeTaskNotCompleted                   = "TaskNotCompleted"
	CodeTaskSucceeded                      = "TaskSucceeded"
	CodeTaskFilesUnavailable               = "TaskFilesUnavailable"
	CodeTaskFilesCleanedup                 = "TaskFilesCleanedup"
	CodeActiveJobAndScheduleQuotaReached   = "ActiveJobAndScheduleQuotaReached"
	CodePoolQuotaReached                   = "PoolQuotaReached"
	CodeJobPreparationTaskNotSpecified     = "JobPreparationTaskNotSpecified"
	CodeJobReleaseTaskNotSpecified         = "JobReleaseTaskNotSpecified"
	CodeTaskIDSameAsJobPreparationTask     = "TaskIdSameAsJobPreparationTask"
	CodeTaskIDSameAsJobReleaseTask         = "TaskIdSameAsJobReleaseTask"
	CodeJobWithSameIDExists                = "JobWithSameIdExists"
	CodeJobScheduleWithSameIDExists        = "JobScheduleWithSameIdExists"
	CodeNodeAlreadyInTargetSchedulingState = "NodeAlreadyInTargetSchedulingState"
	CodeOperationNotValidOnNode            = "OperationNotValidOnNode"
	CodeOperationNotValidOnPool            = "OperationNotValidOnPool"
	CodeTaskDependenciesNotSpecifiedOnJob  = "TaskDependenciesNotSpecifiedOnJob"
	CodeTaskDependencyListTooLong          = "TaskDependencyListTooLong"
	CodeTaskDependencyRangesTooLong        = "TaskDependencyRangesTooLong"
)

type codeInfo struct {
	status  int
	message string
}

// codes maps each code to Azure's HTTP status and user message ("Batch Status and Error Codes").
var codes = map[string]codeInfo{
	CodeConditionNotMet:                      {http.StatusPreconditionFailed, "The condition specified in the conditional header(s) was not met for a write operation."},
	CodeMissingRequiredHeader:                {http.StatusBadRequest, "A required HTTP header was not specified."},
	CodeMissingRequiredProperty:              {http.StatusBadRequest, "A required property was not specified in the request body."},
	CodeUnsupportedHeader:                    {http.StatusBadRequest, "One of the HTTP headers specified in the request is not supported."},
	CodeUnsupportedProperty:                  {http.StatusBadRequest, "One of the properties specified in the request body is not supported."},
	CodeInvalidHeaderValue:                   {http.StatusBadRequest, "The value provided for one of the HTTP headers was not in the correct format."},
	CodeInvalidPropertyValue:                 {http.StatusBadRequest, "The value provided for one of the properties in the request body is invalid."},
	CodeMissingRequiredQueryParameter:        {http.StatusBadRequest, "A required query parameter was not specified for this request."},
	CodeUnsupportedQueryParameter:            {http.StatusBadRequest, "One of the query parameters specified in the request URI is not supported."},
	CodeInvalidQueryParameterValue:           {http.StatusBadRequest, "An invalid value was specified for one of the query parameters in the request URI."},
	CodeOutOfRangeQueryParameterValue:        {http.StatusBadRequest, "A query parameter specified in the request URI is outside the permissible range."},
	CodeRequestURLFailedToParse:              {http.StatusBadRequest, "The url in the request could not be parsed."},
	CodeInvalidURI:                           {http.StatusBadRequest, "The requested URI does not represent any resource on the server."},
	CodeInvalidHTTPVerb:                      {http.StatusBadRequest, "The HTTP verb specified was not recognized by the server."},
	CodeInvalidRequestBody:                   {http.StatusBadRequest, "The specified Request Body is not syntactically valid."},
	CodeOutOfRangeInput:                      {http.StatusBadRequest, "One of the request inputs is out of range."},
	CodeInvalidAuthenticationInfo:            {http.StatusBadRequest, "The authentication information was not provided in the correct format. Verify the value of Authorization header."},
	CodeInvalidInput:                         {http.StatusBadRequest, "One of the request inputs is not valid."},
	CodeInvalidMetadata:                      {http.StatusBadRequest, "The specified metadata is invalid. It includes characters that are not permitted."},
	CodeMetadataTooLarge:                     {http.StatusBadRequest, "The size of the specified metadata exceeds the maximum size permitted."},
	CodeMultipleConditionHeadersNotSupported: {http.StatusBadRequest, "Multiple condition headers are not supported."},
	CodeAuthenticationFailed:                 {http.StatusForbidden, "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature."},
	CodeInsufficientAccountPermissions:       {http.StatusForbidden, "The account being accessed does not have sufficient permissions to execute this operation."},
	CodeAccountIsDisabled:                    {http.StatusForbidden, "The specified account is disabled."},
	CodeResourceNotFound:                     {http.StatusNotFound, "The specified resource does not exist."},
	CodeUnsupportedHTTPVerb:                  {http.StatusMethodNotAllowed, "The resource doesn't support the specified HTTP verb."},
	CodeMissingContentLengthHeader:           {http.StatusLengthRequired, "The Content-Length header was not specified."},
	CodeRequestBodyTooLarge:                  {http.StatusRequestEntityTooLarge, "The size of the request body exceeds the maximum size permitted."},
	CodeInvalidRange:                         {http.StatusRequestedRangeNotSatisfiable, "The range specified is invalid for the current size of the resource."},
	CodeInternalError:                        {http.StatusInternalServerError, "The server encountered an internal error. Please retry the request."},
	CodeOperationTimedOut:                    {http.StatusInternalServerError, "The operation could not be completed within the permitted time."},
	CodeServerBusy:                           {http.StatusServiceUnavailable, "The server is currently unable to receive requests. Please retry your request."},

	CodeUnsupportedRequestVersion:          {http.StatusBadRequest, "The specified version of the Batch REST API is not supported."},
	CodeInvalidAutoScalingSettings:         {http.StatusBadRequest, "The specified auto-scaling settings are not valid."},
	CodeAutoScalingFormulaSyntaxError:      {http.StatusBadRequest, "The specified auto-scaling formula has a syntax error."},
	CodeAutoScalingFormulaTooLong:          {http.StatusBadRequest, "The specified auto-scaling formula exceeds lengths limit."},
	CodePoolNotFound:                       {http.StatusNotFound, "The specified pool does not exist."},
	CodeNodeNotFound:                       {http.StatusNotFound, "The specified node does not exist."},
	CodeJobScheduleNotFound:                {http.StatusNotFound, "The specified job schedule does not exist."},
	CodeJobNotFound:                        {http.StatusNotFound, "The specified job does not exist."},
	CodeTaskNotFound:                       {http.StatusNotFound, "The specified task does not exist."},
	CodeFileNotFound:                       {http.StatusNotFound, "The specified file does not exist."},
	CodeNodeUserNotFound:                   {http.StatusNotFound, "The specified node user does not exist."},
	CodeApplicationNotFound:                {http.StatusNotFound, "The specified application does not exist."},
	CodeJobPreparationTaskNotRunOnNode:     {http.StatusNotFound, "The job preparation task did not run on the specified node."},
	CodeJobReleaseTaskNotRunOnNode:         {http.StatusNotFound, "The job release task did not run on the specified node."},
	CodeOperationInvalidForCurrentState:    {http.StatusConflict, "The specified operation is not valid for the current state of the resource."},
	CodePoolBeingDeleted:                   {http.StatusConflict, "The specified pool has been marked for deletion and is being reclaimed."},
	CodePoolBeingResized:                   {http.StatusConflict, "The specified pool is being resized."},
	CodePoolBeingCreated:                   {http.StatusConflict, "The specified pool is being created."},
	CodeNodeBeingCreated:                   {http.StatusConflict, "The specified node is being created."},
	CodeNodeBeingStarted:                   {http.StatusConflict, "The specified node is being started."},
	CodeNodeBeingReimaged:                  {http.StatusConflict, "The specified node is being reimaged."},
	CodeNodeBeingRebooted:                  {http.StatusConflict, "The specified node is being rebooted."},
	CodeNodeStateUnusable:                  {http.StatusConflict, "The state of the specified node is unusable."},
	CodeJobScheduleBeingTerminated:         {http.StatusConflict, "The specified job schedule is being terminated."},
	CodeJobScheduleBeingDeleted:            {http.StatusConflict, "The specified job schedule has been marked for deletion and is being reclaimed."},
	CodePoolExists:                         {http.StatusConflict, "The specified pool already exists."},
	CodeJobScheduleExists:                  {http.StatusConflict, "The specified job schedule already exists."},
	CodeNodeUserExists:                     {http.StatusConflict, "The specified node user already exists."},
	CodeJobExists:                          {http.StatusConflict, "The specified job already exists."},
	CodeJobScheduleDisabled:                {http.StatusConflict, "The specified job schedule is disabled."},
	CodeJobScheduleCompleted:               {http.StatusConflict, "The specified job schedule is already in completed state."},
	CodeJobBeingTerminated:                 {http.StatusConflict, "The specified job is being terminated."},
	CodeJobBeingDeleted:                    {http.StatusConflict, "The specified job has been marked for deletion and is being garbage collected."},
	CodeJobDisabled:                        {http.StatusConflict, "The specified job is disabled."},
	CodeJobCompleted:                       {http.StatusConflict, "The specified job is already in a completed state."},
	CodeJobNotActive:                       {http.StatusConflict, "The specified job is not in active state."},
	CodeTaskExists:                         {http.StatusConflict, "The specified task already exists."},
	CodeCertificateNotFound:                {http.StatusNotFound, "The specified certificate does not exist."},
	CodeTaskCompleted:                      {http.StatusConflict, "The specified task is already in a completed state."},
	CodeTaskNotCompleted:                   {http.StatusConflict, "The specified task is not in a completed state, and the requested operation can be performed only on completed tasks."},
	CodeTaskSucceeded:                      {http.StatusConflict, "The specified task has already completed successfully, and the requested operation cannot be performed on successful tasks."},
	CodeTaskFilesUnavailable:               {http.StatusConflict, "The files of the specified task are unavailable."},
	CodeTaskFilesCleanedup:                 {http.StatusConflict, "The files of the specified task are cleanedup."},
	CodeActiveJobAndScheduleQuotaReached:   {http.StatusConflict, "Active job and schedule quota for the account has been reached."},
	CodePoolQuotaReached:                   {http.StatusConflict, "Pool quota for the account has been reached."},
	CodeJobPreparationTaskNotSpecified:     {http.StatusConflict, "The specified job does not have job preparation task."},
	CodeJobReleaseTaskNotSpecified:         {http.StatusConflict, "The specified job does not have job release task."},
	CodeTaskIDSameAsJobPreparationTask:     {http.StatusConflict, "The specified task id is same as the job preparation task."},
	CodeTaskIDSameAsJobReleaseTask:         {http.StatusConflict, "The specified task id is same as the job release task."},
	CodeJobWithSameIDExists:                {http.StatusConflict, "A job with the specified job schedule id exists. Job and job schedule cannot have the same id."},
	CodeJobScheduleWithSameIDExists:        {http.StatusConflict, "A job schedule with the specified job id exists. Job and job schedule cannot have the same id."},
	CodeNodeAlreadyInTargetSchedulingState: {http.StatusConflict, "The specified node is already in the target scheduling state."},
	CodeOperationNotValidOnNode:            {http.StatusConflict, "The specified operation is not valid on the node."},
	CodeOperationNotValidOnPool:            {http.StatusConflict, "The specified operation is not valid on the pool."},
	CodeTaskDependenciesNotSpecifiedOnJob:  {http.StatusBadRequest, "A task was specified as depending on other tasks, but the job did not specify that it would use task dependencies."},
	CodeTaskDependencyListTooLong:          {http.StatusBadRequest, "A task was specified as depending on other tasks, but the list of dependencies was too long to be stored."},
	CodeTaskDependencyRangesTooLong:        {http.StatusBadRequest, "A task was specified as depending on multiple ranges of task ids, and the list of ranges was too long to be stored."},
}

// NewError returns the error for code with Azure's HTTP status and message and the given details.
// A code NewError does not know becomes a 500 whose message names it, so a typo shows.
func NewError(code string, values ...ErrorValue) *Error {
	info, ok := codes[code]
	if !ok {
		info = codeInfo{http.StatusInternalServerError, "Unknown error code " + code + "."}
	}
	return &Error{Status: info.status, Code: code, Message: info.message, Values: append([]ErrorValue(nil), values...)}
}

// InvalidProperty returns an InvalidPropertyValue error naming the property (as a JSON path such
// as "poolInfo.poolId"), its value and the reason, the details Azure gives for this code.
func InvalidProperty(name, value, reason string) *Error {
	return NewError(CodeInvalidPropertyValue,
		ErrorValue{"PropertyName", name}, ErrorValue{"PropertyValue", value}, ErrorValue{"Reason", reason})
}

// MissingProperty returns a MissingRequiredProperty error naming the property.
func MissingProperty(name string) *Error {
	return NewError(CodeMissingRequiredProperty, ErrorValue{"PropertyName", name})
}

// Header names and values shared by every response.
const (
	HeaderRequestID             = "request-id"
	HeaderClientRequestID       = "client-request-id"
	HeaderReturnClientRequestID = "return-client-request-id"
	HeaderDataServiceVersion    = "DataServiceVersion"
	HeaderDataServiceID         = "DataServiceId"

	// ContentTypeJSON is the content type of Batch responses, errors included.
	ContentTypeJSON = "application/json;odata=minimalmetadata"
	// ContentTypeRequest is what the SDKs send with a JSON body (Go's azbatch verbatim).
	ContentTypeRequest = "application/json; odata=minimalmetadata"

	// errorsMetadata is the OData type fragment of Batch error bodies.
	errorsMetadata = "Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element"
)

// SetResponseHeaders sets the headers every Batch response carries: request-id,
// DataServiceVersion 3.0, and client-request-id echoed back when the request asked for it with
// return-client-request-id: true (the spec: "returned only if the return-client-request-id
// parameter was set to true").
func SetResponseHeaders(w http.ResponseWriter, r *http.Request, requestID string) {
	h := w.Header()
	h.Set(HeaderRequestID, requestID)
	h.Set(HeaderDataServiceVersion, "3.0")
	if strings.EqualFold(strings.TrimSpace(r.Header.Get(HeaderReturnClientRequestID)), "true") {
		if id := r.Header.Get(HeaderClientRequestID); id != "" {
			h.Set(HeaderClientRequestID, id)
		}
	}
}

type errorBody struct {
	Metadata string       `json:"odata.metadata"`
	Code     string       `json:"code"`
	Message  errorMessage `json:"message"`
	Values   []ErrorValue `json:"values,omitempty"`
}

type errorMessage struct {
	Lang  string `json:"lang"`
	Value string `json:"value"`
}

// messageTime is the format of the Time line in an error message (seven fractional digits, as
// Azure writes it: "Time:2014-04-09T20:21:24.8452594Z").
const messageTime = "2006-01-02T15:04:05.0000000Z"

// ErrorBody returns the JSON body WriteError sends for e.
func ErrorBody(r *http.Request, e *Error, requestID string, now time.Time) []byte {
	body := errorBody{
		Metadata: MetadataURL(r, errorsMetadata),
		Code:     e.Code,
		Message: errorMessage{
			Lang:  "en-US",
			Value: e.Message + "\nRequestId:" + requestID + "\nTime:" + now.UTC().Format(messageTime),
		},
		Values: e.Values,
	}
	b, err := marshal(body)
	if err != nil { // cannot happen: strings only
		panic(fmt.Sprintf("api: marshal error body: %v", err))
	}
	return b
}

// marshal is json.Marshal without HTML escaping: Azure writes "&" in an odata.nextLink as is.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// WriteError writes e as an Azure Batch error response: the common headers (see
// [SetResponseHeaders]), Content-Type application/json;odata=minimalmetadata, e.Status, and the
// error body, except for a 304 or a HEAD request, which carry no body.
func WriteError(w http.ResponseWriter, r *http.Request, e *Error, requestID string, now time.Time) {
	SetResponseHeaders(w, r, requestID)
	if e.Status == http.StatusNotModified || r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	body := ErrorBody(r, e, requestID, now)
	w.Header().Set("Content-Type", ContentTypeJSON)
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

// WriteJSON writes a successful JSON response with the common headers, Content-Type
// application/json;odata=minimalmetadata and the given status.
func WriteJSON(w http.ResponseWriter, r *http.Request, status int, v any, requestID string) error {
	b, err := marshal(v)
	if err != nil {
		return fmt.Errorf("api: marshal %T response: %w", v, err)
	}
	SetResponseHeaders(w, r, requestID)
	w.Header().Set("Content-Type", ContentTypeJSON)
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return nil
	}
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("api: write %T response: %w", v, err)
	}
	return nil
}

// BaseURL returns the scheme and host the request was addressed to, e.g. "http://127.0.0.1:8080":
// the base of odata.metadata and odata.nextLink URLs, as Azure bases them on its account URL.
func BaseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	return scheme + "://" + host
}

// MetadataURL returns BaseURL(r) + "/$metadata#" + fragment, the odata.metadata value of a
// response ("…/$metadata#jobs" for a job list, "…/$metadata#jobs/@Element" for one job).
func MetadataURL(r *http.Request, fragment string) string {
	return BaseURL(r) + "/$metadata#" + fragment
}

// NewRequestID returns a random version-4 UUID in Azure's request-id format. It is the one
// function in this package that draws randomness; handlers under test can pass their own IDs.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
