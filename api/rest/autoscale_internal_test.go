package rest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"corral/api"
	"corral/batch"
)

// bodyCase is one row of the body tables below: a body, and what it reads as or Azure's error.
type bodyCase[T any] struct {
	name        string
	body        string
	contentType string // "" sends none
	want        *T
	status      int
	code        string
	values      map[string]string
}

// runBodyCases reads each case's body with read, on a request that has not been near a service.
func runBodyCases[T any](t *testing.T, path string, tests []bodyCase[T], read func(c *call) (T, *api.Error)) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, path, bytes.NewReader([]byte(tt.body)))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			got, e := read(&call{r: r})
			if tt.want != nil {
				if e != nil {
					t.Fatalf("error %v, want %+v", e, *tt.want)
				}
				if !reflect.DeepEqual(got, *tt.want) {
					t.Fatalf("got  %+v\nwant %+v", got, *tt.want)
				}
				return
			}
			if e == nil {
				t.Fatalf("got %+v, want %d %s", got, tt.status, tt.code)
			}
			if e.Status != tt.status || e.Code != tt.code {
				t.Fatalf("error %v, want %d %s", e, tt.status, tt.code)
			}
			for k, v := range tt.values {
				if got := valueOf(e, k); got != v {
					t.Errorf("value %s = %q, want %q (error %v)", k, got, v, e)
				}
			}
			var zero T
			if !reflect.DeepEqual(got, zero) {
				t.Errorf("request %+v returned with the error", got)
			}
		})
	}
}

// malformedBodies are bodies every operation here refuses the same way.
func malformedBodies[T any]() []bodyCase[T] {
	return []bodyCase[T]{
		{name: "empty body", body: "", status: 400, code: api.CodeInvalidRequestBody},
		{name: "null body", body: "null", status: 400, code: api.CodeInvalidRequestBody},
		{name: "array body", body: `[{}]`, status: 400, code: api.CodeInvalidRequestBody},
		{name: "string body", body: `"x"`, status: 400, code: api.CodeInvalidRequestBody},
		{name: "bad JSON", body: `{"autoScaleFormula": `, status: 400, code: api.CodeInvalidRequestBody},
		{name: "trailing data", body: `{} {}`, status: 400, code: api.CodeInvalidRequestBody},
		{name: "wrong Content-Type", body: `{}`, contentType: "text/plain",
			status: 400, code: api.CodeInvalidHeaderValue, values: map[string]string{"HeaderName": "Content-Type"}},
		{name: "oversized body", body: `{}` + strings.Repeat(" ", api.DefaultMaxBodyBytes), status: 413, code: api.CodeRequestBodyTooLarge},
	}
}

// TestEnableAutoScaleRequest checks how the body of Pool - Enable AutoScale is read and checked,
// without a service.
func TestEnableAutoScaleRequest(t *testing.T) {
	type req = struct {
		Formula  string
		Interval time.Duration
	}
	ok := func(f string, iv time.Duration) *req { return &req{f, iv} }
	long := "$TargetDedicatedNodes=1;" + strings.Repeat(" ", batch.MaxAutoScaleFormulaLength)
	atLimit := "$TargetDedicatedNodes=1;" + strings.Repeat("é", batch.MaxAutoScaleFormulaLength-len("$TargetDedicatedNodes=1;"))
	tests := []bodyCase[req]{
		// What is read.
		{name: "formula only", body: `{"autoScaleFormula": "$TargetDedicatedNodes=1;"}`, want: ok("$TargetDedicatedNodes=1;", 0)},
		{name: "formula and interval", body: `{"autoScaleFormula": "$TargetDedicatedNodes=1;", "autoScaleEvaluationInterval": "PT8M"}`,
			contentType: api.ContentTypeRequest, want: ok("$TargetDedicatedNodes=1;", 8*time.Minute)},
		{name: "interval only", body: `{"autoScaleEvaluationInterval": "PT1H"}`, want: ok("", time.Hour)},
		{name: "nothing: keep both", body: `{}`, want: ok("", 0)},
		{name: "nulls are left out", body: `{"autoScaleFormula": null, "autoScaleEvaluationInterval": null}`, want: ok("", 0)},
		// The service checks the bounds: REST passes what Azure would refuse for the service to say so.
		{name: "short interval is the service's to refuse", body: `{"autoScaleEvaluationInterval": "PT30S"}`, want: ok("", 30*time.Second)},
		{name: "long interval is the service's to refuse", body: `{"autoScaleEvaluationInterval": "P30D"}`, want: ok("", 30*24*time.Hour)},
		{name: "formula of 8192 characters", body: `{"autoScaleFormula": "` + atLimit + `"}`, want: ok(atLimit, 0)},

		// Wrong types and unknown properties.
		{name: "formula as a number", body: `{"autoScaleFormula": 1}`,
			status: 400, code: api.CodeInvalidRequestBody, values: map[string]string{"PropertyName": "autoScaleFormula"}},
		{name: "interval as a number", body: `{"autoScaleEvaluationInterval": 300}`,
			status: 400, code: api.CodeInvalidRequestBody, values: map[string]string{"PropertyName": "autoScaleEvaluationInterval"}},
		{name: "misspelt interval", body: `{"autoScaleFormula": "$TargetDedicatedNodes=1;", "autoScaleEvaluationIntervall": "PT5M"}`,
			status: 400, code: api.CodeInvalidRequestBody, values: map[string]string{"PropertyName": "autoScaleEvaluationIntervall"}},
		{name: "enableAutoScale is not a property here", body: `{"enableAutoScale": true, "autoScaleFormula": "$TargetDedicatedNodes=1;"}`,
			status: 400, code: api.CodeInvalidRequestBody, values: map[string]string{"PropertyName": "enableAutoScale"}},

		// Values.
		{name: "empty formula", body: `{"autoScaleFormula": ""}`, status: 400, code: api.CodeInvalidPropertyValue,
			values: map[string]string{"PropertyName": "autoScaleFormula"}},
		{name: "blank formula", body: `{"autoScaleFormula": " \n "}`, status: 400, code: api.CodeInvalidPropertyValue,
			values: map[string]string{"PropertyName": "autoScaleFormula"}},
		{name: "formula too long", body: `{"autoScaleFormula": "` + long + `"}`, status: 400, code: batch.CodeAutoScaleFormulaTooLong,
			values: map[string]string{"PropertyName": "autoScaleFormula"}},
		{name: "interval not ISO 8601", body: `{"autoScaleEvaluationInterval": "5m"}`, status: 400, code: api.CodeInvalidPropertyValue,
			values: map[string]string{"PropertyName": "autoScaleEvaluationInterval", "PropertyValue": "5m"}},
		{name: "zero interval", body: `{"autoScaleEvaluationInterval": "PT0S"}`, status: 400, code: api.CodeInvalidPropertyValue,
			values: map[string]string{"PropertyName": "autoScaleEvaluationInterval", "PropertyValue": "PT0S"}},
		{name: "negative interval", body: `{"autoScaleEvaluationInterval": "-PT10M"}`, status: 400, code: api.CodeInvalidPropertyValue,
			values: map[string]string{"PropertyName": "autoScaleEvaluationInterval"}},
	}
	tests = append(tests, malformedBodies[req]()...)
	runBodyCases(t, "/pools/p1/enableautoscale", tests, func(c *call) (req, *api.Error) {
		r, e := c.enableAutoScaleRequest("p1")
		if e == nil && r.PoolID != "p1" {
			t.Errorf("PoolID = %q", r.PoolID)
		}
		return req{r.Formula, r.EvaluationInterval}, e
	})
}

// TestEvaluateAutoScaleFormula checks the body of Pool - Evaluate AutoScale.
func TestEvaluateAutoScaleFormula(t *testing.T) {
	ok := func(f string) *string { return &f }
	tests := []bodyCase[string]{
		{name: "formula", body: `{"autoScaleFormula": "$TargetDedicatedNodes=2;"}`, want: ok("$TargetDedicatedNodes=2;")},
		{name: "multi-line formula", body: `{"autoScaleFormula": "n = 2;\n$TargetDedicatedNodes = n;"}`, want: ok("n = 2;\n$TargetDedicatedNodes = n;")},
		{name: "no formula", body: `{}`, status: 400, code: api.CodeMissingRequiredProperty,
			values: map[string]string{"PropertyName": "autoScaleFormula"}},
		{name: "null formula", body: `{"autoScaleFormula": null}`, status: 400, code: api.CodeMissingRequiredProperty,
			values: map[string]string{"PropertyName": "autoScaleFormula"}},
		{name: "empty formula", body: `{"autoScaleFormula": ""}`, status: 400, code: api.CodeInvalidPropertyValue,
			values: map[string]string{"PropertyName": "autoScaleFormula"}},
		{name: "formula too long", body: fmt.Sprintf(`{"autoScaleFormula": %q}`, strings.Repeat("x", batch.MaxAutoScaleFormulaLength+1)),
			status: 400, code: batch.CodeAutoScaleFormulaTooLong},
		{name: "interval is not a property here", body: `{"autoScaleFormula": "$TargetDedicatedNodes=2;", "autoScaleEvaluationInterval": "PT5M"}`,
			status: 400, code: api.CodeInvalidRequestBody, values: map[string]string{"PropertyName": "autoScaleEvaluationInterval"}},
		{name: "formula as an array", body: `{"autoScaleFormula": ["$TargetDedicatedNodes=2;"]}`,
			status: 400, code: api.CodeInvalidRequestBody, values: map[string]string{"PropertyName": "autoScaleFormula"}},
	}
	tests = append(tests, malformedBodies[string]()...)
	runBodyCases(t, "/pools/p1/evaluateautoscale", tests, func(c *call) (string, *api.Error) {
		return c.evaluateAutoScaleFormula()
	})
}

// TestRemoveNodesRequest checks the body of Pool - Remove Nodes.
func TestRemoveNodesRequest(t *testing.T) {
	type req = struct {
		Nodes   []string
		Timeout time.Duration
		Option  batch.NodeDeallocationOption
	}
	ok := func(nodes []string, timeout time.Duration, opt batch.NodeDeallocationOption) *req {
		return &req{nodes, timeout, opt}
	}
	list := func(n int) string {
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("p1-%d", i)
		}
		b, _ := json.Marshal(ids)
		return string(b)
	}
	hundred := make([]string, 100)
	for i := range hundred {
		hundred[i] = fmt.Sprintf("p1-%d", i)
	}
	tests := []bodyCase[req]{
		// What is read.
		{name: "one node", body: `{"nodeList": ["p1-1"]}`, want: ok([]string{"p1-1"}, 0, "")},
		{name: "everything", body: `{"nodeList": ["p1-1", "p1-2"], "resizeTimeout": "PT10M", "nodeDeallocationOption": "TaskCompletion"}`,
			contentType: api.ContentTypeRequest, want: ok([]string{"p1-1", "p1-2"}, 10*time.Minute, batch.DeallocateTaskCompletion)},
		{name: "a node named twice is removed once", body: `{"nodeList": ["p1-1", "P1-1", "p1-2"]}`, want: ok([]string{"p1-1", "p1-2"}, 0, "")},
		{name: "100 nodes", body: `{"nodeList": ` + list(100) + `}`, want: ok(hundred, 0, "")},
		{name: "nulls are left out", body: `{"nodeList": ["p1-1"], "resizeTimeout": null, "nodeDeallocationOption": null}`,
			want: ok([]string{"p1-1"}, 0, "")},
		{name: "timeout of exactly 5 minutes", body: `{"nodeList": ["p1-1"], "resizeTimeout": "PT5M"}`, want: ok([]string{"p1-1"}, 5*time.Minute, "")},
		{name: "retaineddata", body: `{"nodeList": ["p1-1"], "nodeDeallocationOption": "retaineddata"}`,
			want: ok([]string{"p1-1"}, 0, batch.DeallocateRetainedData)},

		// nodeList.
		{name: "no nodeList", body: `{"resizeTimeout": "PT10M"}`, status: 400, code: api.CodeMissingRequiredProperty,
			values: map[string]string{"PropertyName": "nodeList"}},
		{name: "null nodeList", body: `{"nodeList": null}`, status: 400, code: api.CodeMissingRequiredProperty,
			values: map[string]string{"PropertyName": "nodeList"}},
		{name: "empty nodeList", body: `{"nodeList": []}`, status: 400, code: api.CodeInvalidPropertyValue,
			values: map[string]string{"PropertyName": "nodeList", "PropertyValue": "0"}},
		{name: "101 nodes", body: `{"nodeList": ` + list(101) + `}`, status: 400, code: api.CodeInvalidPropertyValue,
			values: map[string]string{"PropertyName": "nodeList", "PropertyValue": "101"}},
		{name: "empty node id", body: `{"nodeList": ["p1-1", ""]}`, status: 400, code: api.CodeInvalidPropertyValue,
			values: map[string]string{"PropertyName": "nodeList", "PropertyValue": ""}},
		{name: "not a node id", body: `{"nodeList": ["../p2/x"]}`, status: 400, code: api.CodeInvalidPropertyValue,
			values: map[string]string{"PropertyName": "nodeList", "PropertyValue": "../p2/x"}},
		{name: "nodeList as a string", body: `{"nodeList": "p1-1"}`, status: 400, code: api.CodeInvalidRequestBody,
			values: map[string]string{"PropertyName": "nodeList"}},
		{name: "node id as a number", body: `{"nodeList": [1]}`, status: 400, code: api.CodeInvalidRequestBody},
		{name: "misspelt property", body: `{"nodeList": ["p1-1"], "resizeTimout": "PT5M"}`, status: 400, code: api.CodeInvalidRequestBody,
			values: map[string]string{"PropertyName": "resizeTimout"}},

		// resizeTimeout and nodeDeallocationOption, as Pool - Resize.
		{name: "timeout under 5 minutes", body: `{"nodeList": ["p1-1"], "resizeTimeout": "PT4M"}`, status: 400, code: api.CodeInvalidPropertyValue,
			values: map[string]string{"PropertyName": "resizeTimeout", "PropertyValue": "PT4M"}},
		{name: "timeout not ISO 8601", body: `{"nodeList": ["p1-1"], "resizeTimeout": "10m"}`, status: 400, code: api.CodeInvalidPropertyValue,
			values: map[string]string{"PropertyName": "resizeTimeout"}},
		{name: "unknown option", body: `{"nodeList": ["p1-1"], "nodeDeallocationOption": "drain"}`, status: 400, code: api.CodeInvalidPropertyValue,
			values: map[string]string{"PropertyName": "nodeDeallocationOption", "PropertyValue": "drain"}},
	}
	tests = append(tests, malformedBodies[req]()...)
	runBodyCases(t, "/pools/p1/removenodes", tests, func(c *call) (req, *api.Error) {
		r, e := c.removeNodesRequest("p1")
		if e == nil && r.PoolID != "p1" {
			t.Errorf("PoolID = %q", r.PoolID)
		}
		return req{r.NodeIDs, r.ResizeTimeout, r.NodeDeallocationOption}, e
	})
}
