package rest

import (
	"strings"
	"testing"
	"time"

	"corral/api"
	"corral/batch"
	"corral/service"
)

// TestResizeRequest checks how the body of Pool - Resize is read and checked, without a service:
// what the service is asked for, or Azure's error.
func TestResizeRequest(t *testing.T) {
	ok := func(td, tlp int32, timeout time.Duration, opt batch.NodeDeallocationOption) *service.ResizePool {
		return &service.ResizePool{PoolID: "p1", TargetDedicatedNodes: td, TargetLowPriorityNodes: tlp,
			ResizeTimeout: timeout, NodeDeallocationOption: opt}
	}
	tests := []bodyCase[service.ResizePool]{
		// What is read.
		{name: "dedicated only", body: `{"targetDedicatedNodes": 3}`, want: ok(3, 0, 0, "")},
		{name: "low-priority only", body: `{"targetLowPriorityNodes": 4}`, want: ok(0, 4, 0, "")},
		{name: "everything", body: `{"targetDedicatedNodes": 2, "targetLowPriorityNodes": 1, "resizeTimeout": "PT30M", "nodeDeallocationOption": "taskcompletion"}`,
			contentType: api.ContentTypeRequest, want: ok(2, 1, 30*time.Minute, batch.DeallocateTaskCompletion)},
		{name: "no targets is zero", body: `{}`, want: ok(0, 0, 0, "")},
		{name: "nulls are left out", body: `{"targetDedicatedNodes": null, "targetLowPriorityNodes": null, "resizeTimeout": null, "nodeDeallocationOption": null}`,
			want: ok(0, 0, 0, "")},
		{name: "zero targets", body: `{"targetDedicatedNodes": 0, "targetLowPriorityNodes": 0}`, want: ok(0, 0, 0, "")},
		{name: "option in camel case", body: `{"targetDedicatedNodes": 1, "nodeDeallocationOption": "RetainedData"}`, want: ok(1, 0, 0, batch.DeallocateRetainedData)},
		{name: "requeue", body: `{"nodeDeallocationOption": "requeue"}`, want: ok(0, 0, 0, batch.DeallocateRequeue)},
		{name: "terminate", body: `{"nodeDeallocationOption": "terminate"}`, want: ok(0, 0, 0, batch.DeallocateTerminate)},
		{name: "timeout of exactly 5 minutes", body: `{"resizeTimeout": "PT5M"}`, want: ok(0, 0, 5*time.Minute, "")},
		{name: "timeout in seconds", body: `{"resizeTimeout": "PT300S"}`, want: ok(0, 0, 5*time.Minute, "")},
		{name: "timeout in days", body: `{"resizeTimeout": "P1D"}`, want: ok(0, 0, 24*time.Hour, "")},
		{name: "unlimited timeout", body: `{"resizeTimeout": "` + batch.InfiniteString + `"}`, want: ok(0, 0, batch.Infinite, "")},

		// Malformed bodies.
		{name: "empty body", body: "", status: 400, code: api.CodeInvalidRequestBody},
		{name: "null body", body: "null", status: 400, code: api.CodeInvalidRequestBody},
		{name: "array body", body: `[{"targetDedicatedNodes": 1}]`, status: 400, code: api.CodeInvalidRequestBody},
		{name: "number body", body: `3`, status: 400, code: api.CodeInvalidRequestBody},
		{name: "bad JSON", body: `{"targetDedicatedNodes": 1`, status: 400, code: api.CodeInvalidRequestBody},
		{name: "trailing data", body: `{"targetDedicatedNodes": 1} {}`, status: 400, code: api.CodeInvalidRequestBody},
		{name: "wrong Content-Type", body: `{"targetDedicatedNodes": 1}`, contentType: "text/plain",
			status: 400, code: api.CodeInvalidHeaderValue, values: map[string]string{"HeaderName": "Content-Type"}},
		{name: "oversized body", body: `{"targetDedicatedNodes": 1}` + strings.Repeat(" ", api.DefaultMaxBodyBytes),
			status: 413, code: api.CodeRequestBodyTooLarge},

		// Wrong types.
		{name: "target as a string", body: `{"targetDedicatedNodes": "two"}`,
			status: 400, code: api.CodeInvalidRequestBody, values: map[string]string{"PropertyName": "targetDedicatedNodes"}},
		{name: "fractional target", body: `{"targetLowPriorityNodes": 1.5}`,
			status: 400, code: api.CodeInvalidRequestBody, values: map[string]string{"PropertyName": "targetLowPriorityNodes"}},
		{name: "target beyond int32", body: `{"targetDedicatedNodes": 3000000000}`,
			status: 400, code: api.CodeInvalidRequestBody, values: map[string]string{"PropertyName": "targetDedicatedNodes"}},
		{name: "timeout as a number", body: `{"resizeTimeout": 900}`,
			status: 400, code: api.CodeInvalidRequestBody, values: map[string]string{"PropertyName": "resizeTimeout"}},
		{name: "option as a number", body: `{"nodeDeallocationOption": 1}`,
			status: 400, code: api.CodeInvalidRequestBody, values: map[string]string{"PropertyName": "nodeDeallocationOption"}},

		// Unknown properties: a misspelt target must not read as 0.
		{name: "old property name", body: `{"targetDedicated": 5}`,
			status: 400, code: api.CodeInvalidRequestBody, values: map[string]string{"PropertyName": "targetDedicated"}},
		{name: "misspelt property", body: `{"targetDedicatedNodes": 1, "targetLowPriorityNode": 5}`,
			status: 400, code: api.CodeInvalidRequestBody, values: map[string]string{"PropertyName": "targetLowPriorityNode"}},

		// Values out of range.
		{name: "negative dedicated", body: `{"targetDedicatedNodes": -1}`, status: 400, code: api.CodeInvalidPropertyValue,
			values: map[string]string{"PropertyName": "targetDedicatedNodes", "PropertyValue": "-1"}},
		{name: "negative low-priority", body: `{"targetDedicatedNodes": 1, "targetLowPriorityNodes": -2}`, status: 400, code: api.CodeInvalidPropertyValue,
			values: map[string]string{"PropertyName": "targetLowPriorityNodes", "PropertyValue": "-2"}},
		{name: "timeout under 5 minutes", body: `{"resizeTimeout": "PT4M59S"}`, status: 400, code: api.CodeInvalidPropertyValue,
			values: map[string]string{"PropertyName": "resizeTimeout", "PropertyValue": "PT4M59S"}},
		{name: "zero timeout", body: `{"resizeTimeout": "PT0S"}`, status: 400, code: api.CodeInvalidPropertyValue,
			values: map[string]string{"PropertyName": "resizeTimeout"}},
		{name: "negative timeout", body: `{"resizeTimeout": "-PT20M"}`, status: 400, code: api.CodeInvalidPropertyValue,
			values: map[string]string{"PropertyName": "resizeTimeout"}},
		{name: "timeout not ISO 8601", body: `{"resizeTimeout": "15m"}`, status: 400, code: api.CodeInvalidPropertyValue,
			values: map[string]string{"PropertyName": "resizeTimeout", "PropertyValue": "15m"}},
		{name: "unknown option", body: `{"targetDedicatedNodes": 1, "nodeDeallocationOption": "drain"}`, status: 400, code: api.CodeInvalidPropertyValue,
			values: map[string]string{"PropertyName": "nodeDeallocationOption", "PropertyValue": "drain"}},
		{name: "empty option", body: `{"nodeDeallocationOption": ""}`, status: 400, code: api.CodeInvalidPropertyValue,
			values: map[string]string{"PropertyName": "nodeDeallocationOption"}},
	}
	runBodyCases(t, "/pools/p1/resize", tests, func(c *call) (service.ResizePool, *api.Error) { return c.resizeRequest("p1") })
}

// valueOf returns the detail key of e, or "".
func valueOf(e *api.Error, key string) string {
	for _, v := range e.Values {
		if v.Key == key {
			return v.Value
		}
	}
	return ""
}
