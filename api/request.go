package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultMaxBodyBytes is the largest request body DecodeJSON accepts unless told otherwise: 1 MiB.
// Azure documents 1 MB for a task collection ("The total serialized size of this collection must
// be less than 1MB", answered with RequestBodyTooLarge); Corral applies the same limit to every
// body, which is generous for single pools, jobs and tasks.
const DefaultMaxBodyBytes = 1 << 20

// MaxTasksPerCollection is the largest number of tasks one add-task-collection request may carry
// ("The maximum count of Tasks is 100").
const MaxTasksPerCollection = 100

// DecodeOptions tunes DecodeJSON.
type DecodeOptions struct {
	// MaxBytes is the largest body accepted; 0 means DefaultMaxBodyBytes.
	MaxBytes int64
	// RejectUnknownFields makes a property that dst does not declare an InvalidRequestBody error.
	// Azure Batch parses bodies with OData, which rejects properties its type does not declare
	// (as InvalidRequestBody with the reason in a "Reason" value); this could not be confirmed
	// against the live service, so it is a choice left to each handler. With it false, unknown
	// properties are ignored.
	RejectUnknownFields bool
	// Model, when it has Properties, is the request model the body's top-level object must fit:
	// a property it does not list (a read-only property of the resource such as state or url,
	// a misspelt one, one of another api-version) is an InvalidRequestBody error naming it, as
	// RejectUnknownFields makes one dst does not declare. Names are compared exactly.
	Model RequestModel
}

// RequestModel is one of Azure's request models: its name (PoolAddParameter) and the names of
// its properties.
type RequestModel struct {
	Name       string
	Properties []string
}

// DecodeJSON reads r's JSON body into dst and returns nil or Azure's error:
//
//   - 413 RequestBodyTooLarge when the body exceeds the limit: at once when Content-Length says
//     so, before reading anything; otherwise as soon as the limit is passed (the rest is not read);
//   - 400 InvalidHeaderValue when a Content-Type is sent that is not application/json;
//   - 400 InvalidRequestBody when the body is empty, is not JSON, has trailing data, has a value of
//     the wrong type (with a PropertyName value giving the JSON path, e.g. "constraints.maxTaskRetryCount",
//     as Azure does for "Cannot convert a primitive value to the expected type"), or names an
//     unknown property while RejectUnknownFields is set or a property outside Model; the
//     reason is in a "Reason" value.
//
// An *Error returned by a json.Unmarshaler of dst is passed through unchanged.
func DecodeJSON(r *http.Request, dst any, opts DecodeOptions) *Error {
	limit := opts.MaxBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return NewError(CodeInvalidHeaderValue, ErrorValue{"HeaderName", "Content-Type"}, ErrorValue{"HeaderValue", ct})
		}
	}
	if r.ContentLength > limit {
		return NewError(CodeRequestBodyTooLarge)
	}
	if r.Body == nil {
		return bodyError("The request body is empty.")
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return NewError(CodeRequestBodyTooLarge)
		}
		return bodyError("The request body could not be read.")
	}
	if int64(len(body)) > limit {
		return NewError(CodeRequestBodyTooLarge)
	}
	return DecodeJSONValue(body, dst, opts)
}

// DecodeJSONValue decodes one JSON value (a request body, or an entry of a collection in one)
// into dst with opts, returning nil or Azure's InvalidRequestBody error as DecodeJSON does; the
// size and Content-Type checks are DecodeJSON's.
func DecodeJSONValue(body []byte, dst any, opts DecodeOptions) *Error {
	if len(bytes.TrimSpace(body)) == 0 {
		return bodyError("The request body is empty.")
	}
	if m := opts.Model; len(m.Properties) > 0 {
		var props map[string]json.RawMessage
		if json.Unmarshal(body, &props) == nil { // not an object: the decoding below says why
			names := make([]string, 0, len(props))
			for name := range props {
				names = append(names, name)
			}
			slices.Sort(names)
			for _, name := range names {
				if !slices.Contains(m.Properties, name) {
					return NewError(CodeInvalidRequestBody, ErrorValue{"PropertyName", name},
						ErrorValue{"Reason", fmt.Sprintf("The property '%s' is not a property of %s.", name, m.Name)})
				}
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if opts.RejectUnknownFields {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return bodyError("The request body has data after the JSON value.")
	}
	return nil
}

func bodyError(reason string) *Error {
	return NewError(CodeInvalidRequestBody, ErrorValue{"Reason", reason})
}

// jsonError turns an encoding/json error into Azure's InvalidRequestBody.
func jsonError(err error) *Error {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return bodyError(fmt.Sprintf("The request body is not valid JSON at offset %d: %s.", syntax.Offset, strings.TrimPrefix(syntax.Error(), "json: ")))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return bodyError("The request body ends in the middle of a JSON value.")
	}
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		e := NewError(CodeInvalidRequestBody)
		if typ.Field != "" {
			e = e.With("PropertyName", typ.Field)
		}
		return e.With("Reason", fmt.Sprintf("Cannot convert a JSON %s to the expected type %s.", typ.Value, jsonTypeName(typ)))
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if name, ok := strings.CutPrefix(msg, "unknown field "); ok {
		name = strings.Trim(name, `"`)
		return NewError(CodeInvalidRequestBody, ErrorValue{"PropertyName", name},
			ErrorValue{"Reason", fmt.Sprintf("The property '%s' does not exist on the type of this request body.", name)})
	}
	return bodyError(msg)
}

func jsonTypeName(e *json.UnmarshalTypeError) string {
	if e.Type == nil {
		return "value"
	}
	switch e.Type.Kind().String() {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "integer"
	case "float32", "float64":
		return "number"
	case "slice", "array":
		return "array"
	case "struct", "map":
		return "object"
	}
	return e.Type.String()
}

// API versions.
const (
	// OldestAPIVersion is the oldest api-version Corral serves: the JavaScript SDK's.
	OldestAPIVersion = "2022-10-01.16.0"
	// LatestAPIVersion is the newest api-version Corral serves: the Go SDK's (azbatch).
	LatestAPIVersion = "2024-07-01.20.0"
)

// SupportedAPIVersions lists the api-versions Corral serves, oldest first: every Batch data-plane
// version from OldestAPIVersion to LatestAPIVersion (the stable versions in
// Azure/azure-rest-api-specs specification/batch/data-plane/Batch/stable).
var SupportedAPIVersions = []string{
	"2022-10-01.16.0",
	"2023-05-01.17.0",
	"2023-11-01.18.0",
	"2024-02-01.19.0",
	"2024-07-01.20.0",
}

// APIVersion returns the request's api-version query parameter, or Azure's error:
// 400 MissingRequiredQueryParameter (QueryParameterName=api-version) when it is absent, as the
// live service answers, and 400 UnsupportedRequestVersion when it is not one of
// SupportedAPIVersions (older versions, newer ones and previews alike). Repeating the parameter is
// accepted only with the same value each time (a client following an odata.nextLink may add it
// again).
func APIVersion(r *http.Request) (string, *Error) {
	vs := QueryValues(r, "api-version")
	if len(vs) == 0 || (len(vs) == 1 && vs[0] == "") {
		return "", NewError(CodeMissingRequiredQueryParameter, ErrorValue{"QueryParameterName", "api-version"})
	}
	v := vs[0]
	for _, o := range vs[1:] {
		if o != v {
			return "", queryError(CodeInvalidQueryParameterValue, "api-version", strings.Join(vs, ","), "The api-version parameter is given more than once with different values.")
		}
	}
	if !slices.Contains(SupportedAPIVersions, v) {
		return "", queryError(CodeUnsupportedRequestVersion, "api-version", v,
			"Corral serves api-versions "+strings.Join(SupportedAPIVersions, ", ")+".")
	}
	return v, nil
}

// InvalidQueryValue is 400 InvalidQueryParameterValue naming the query parameter name and its
// value, with the reason.
func InvalidQueryValue(name, value, reason string) *Error {
	return queryError(CodeInvalidQueryParameterValue, name, value, reason)
}

func queryError(code, name, value, reason string) *Error {
	e := NewError(code, ErrorValue{"QueryParameterName", name}, ErrorValue{"QueryParameterValue", value})
	if reason != "" {
		e = e.With("Reason", reason)
	}
	return e
}

// QueryValues returns the values of the query parameter name, matched case-insensitively: the Go
// SDK sends "timeOut" where the spec says "timeout".
func QueryValues(r *http.Request, name string) []string {
	return valuesFold(r.URL.Query(), name)
}

// QueryValue returns the first value of the query parameter name (case-insensitive) and whether
// it is present.
func QueryValue(r *http.Request, name string) (string, bool) {
	vs := QueryValues(r, name)
	if len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// queryInt parses an integer query parameter in [lo, hi], returning def when absent.
func queryInt(r *http.Request, name string, def, lo, hi int) (int, *Error) {
	s, ok := QueryValue(r, name)
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, queryError(CodeInvalidQueryParameterValue, name, s, "The value is not an integer.")
	}
	if n < lo || n > hi {
		return 0, queryError(CodeOutOfRangeQueryParameterValue, name, s, fmt.Sprintf("The value must be between %d and %d.", lo, hi))
	}
	return n, nil
}

// DefaultTimeout is the server-side time limit of a request when the timeout parameter is absent.
const DefaultTimeout = 30 * time.Second

// Timeout returns the request's timeout query parameter (seconds): DefaultTimeout when absent,
// and also when larger than 30, as the spec says ("If the value is larger than 30, the default
// will be used instead"). A value that is not a positive integer is an error
// (InvalidQueryParameterValue or OutOfRangeQueryParameterValue).
func Timeout(r *http.Request) (time.Duration, *Error) {
	n, err := queryInt(r, "timeout", 30, 1, int(^uint(0)>>1))
	if err != nil {
		return 0, err
	}
	if n > 30 {
		n = 30
	}
	return time.Duration(n) * time.Second, nil
}

// MaxResultsLimit is the largest maxresults a list accepts and its default (spec: default 1000,
// minimum 1, maximum 1000).
const MaxResultsLimit = 1000

// MaxResults returns the maxresults query parameter: limit when absent, an error when it is not
// an integer in [1, limit]. Pass MaxResultsLimit unless the list has a smaller maximum. Azure's
// answer to an out-of-range value could not be confirmed; Corral answers
// OutOfRangeQueryParameterValue rather than clamping.
func MaxResults(r *http.Request, limit int) (int, *Error) {
	return queryInt(r, "maxresults", limit, 1, limit)
}

// UnsupportedQueryOptions are the OData query options of Azure's list and get operations that
// an operation refuses when it does not act on them: $filter (which entities), $select (which
// properties) and $expand (which related entities). The lists and gets of pools, jobs, tasks
// and nodes act on $filter and $select, and those of jobs and tasks on $expand=stats
// (api/rest). Paging (maxresults, $skiptoken) works everywhere.
var UnsupportedQueryOptions = []string{"$filter", "$select", "$expand"}

// RefuseUnsupportedQuery returns nil when the request carries none of UnsupportedQueryOptions
// with a value, and otherwise 400 UnsupportedQueryParameter ("One of the query parameters
// specified in the request URI is not supported") naming the first one, with its value and the
// reason: answering 200 with every entity, or every property, would tell a client that filtered
// something untrue. An option given empty ("$filter=") asks for nothing and is accepted.
func RefuseUnsupportedQuery(r *http.Request) *Error {
	for _, name := range UnsupportedQueryOptions {
		for _, v := range QueryValues(r, name) {
			if strings.TrimSpace(v) != "" {
				return queryError(CodeUnsupportedQueryParameter, name, v,
					"Corral does not implement "+name+" yet; leave it out and select on the client.")
			}
		}
	}
	return nil
}
