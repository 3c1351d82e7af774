package rest_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"corral/api"
	"corral/batch"
)

// getPool reads a pool through the API.
func (e *env) getPool(id string) batch.Pool {
	e.t.Helper()
	r := e.do("GET", "/pools/"+id, nil, nil)
	want(e.t, r, http.StatusOK, "")
	var p batch.Pool
	r.decode(e.t, &p)
	return p
}

// TestResizeRejected: requests to resize or stop resizing that Corral refuses before they reach
// the service (bad bodies, missing pools, unmet conditions, wrong methods) get Azure's status and
// error code, and change nothing.
func TestResizeRejected(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("p1", 0)), http.StatusCreated, e.base+"/pools/p1")
	e.idle()
	before := e.getPool("p1")

	resize := func(body any) func() *http.Request {
		return func() *http.Request { return e.newRequest("POST", "/pools/p1/resize", nil, body, nil) }
	}
	tests := []struct {
		name   string
		req    func() *http.Request
		status int
		code   string
		values map[string]string
	}{
		{"empty body", resize(""), 400, api.CodeInvalidRequestBody, nil},
		{"null body", resize("null"), 400, api.CodeInvalidRequestBody, nil},
		{"bad JSON", resize(`{"targetDedicatedNodes": `), 400, api.CodeInvalidRequestBody, nil},
		{"not an object", resize(`[1]`), 400, api.CodeInvalidRequestBody, nil},
		{"target of the wrong type", resize(`{"targetDedicatedNodes": "three"}`), 400, api.CodeInvalidRequestBody,
			map[string]string{"PropertyName": "targetDedicatedNodes"}},
		{"timeout of the wrong type", resize(`{"targetDedicatedNodes": 1, "resizeTimeout": 600}`), 400, api.CodeInvalidRequestBody,
			map[string]string{"PropertyName": "resizeTimeout"}},
		{"unknown property", resize(`{"targetDedicated": 3}`), 400, api.CodeInvalidRequestBody,
			map[string]string{"PropertyName": "targetDedicated"}},
		{"negative dedicated", resize(map[string]int{"targetDedicatedNodes": -1}), 400, api.CodeInvalidPropertyValue,
			map[string]string{"PropertyName": "targetDedicatedNodes", "PropertyValue": "-1"}},
		{"negative low-priority", resize(map[string]int{"targetLowPriorityNodes": -3}), 400, api.CodeInvalidPropertyValue,
			map[string]string{"PropertyName": "targetLowPriorityNodes", "PropertyValue": "-3"}},
		{"timeout under 5 minutes", resize(map[string]any{"targetDedicatedNodes": 1, "resizeTimeout": "PT4M"}), 400, api.CodeInvalidPropertyValue,
			map[string]string{"PropertyName": "resizeTimeout", "PropertyValue": "PT4M"}},
		{"timeout not a duration", resize(map[string]any{"targetDedicatedNodes": 1, "resizeTimeout": "soon"}), 400, api.CodeInvalidPropertyValue,
			map[string]string{"PropertyName": "resizeTimeout"}},
		{"unknown deallocation option", resize(map[string]any{"targetDedicatedNodes": 1, "nodeDeallocationOption": "evict"}), 400, api.CodeInvalidPropertyValue,
			map[string]string{"PropertyName": "nodeDeallocationOption", "PropertyValue": "evict"}},
		{"wrong Content-Type", func() *http.Request {
			return e.newRequest("POST", "/pools/p1/resize", nil, `{"targetDedicatedNodes": 1}`, http.Header{"Content-Type": {"text/plain"}})
		}, 400, api.CodeInvalidHeaderValue, nil},
		{"oversized body", resize(strings.Repeat(" ", api.DefaultMaxBodyBytes+1)), 413, api.CodeRequestBodyTooLarge, nil},
		{"missing pool", func() *http.Request {
			return e.newRequest("POST", "/pools/nope/resize", nil, map[string]int{"targetDedicatedNodes": 1}, nil)
		}, 404, api.CodePoolNotFound, nil},
		{"pool id that cannot exist", func() *http.Request {
			return e.newRequest("POST", "/pools/no pool/resize", nil, map[string]int{"targetDedicatedNodes": 1}, nil)
		}, 404, api.CodePoolNotFound, nil},
		{"resize unmet If-Match", func() *http.Request {
			return e.newRequest("POST", "/pools/p1/resize", nil, map[string]int{"targetDedicatedNodes": 1}, http.Header{"If-Match": {"0x7777"}})
		}, 412, api.CodeConditionNotMet, nil},
		{"resize unmet If-Unmodified-Since", func() *http.Request {
			since := before.LastModified.Add(-2 * time.Minute).UTC().Format(http.TimeFormat)
			return e.newRequest("POST", "/pools/p1/resize", nil, map[string]int{"targetDedicatedNodes": 1}, http.Header{"If-Unmodified-Since": {since}})
		}, 412, api.CodeConditionNotMet, nil},
		{"stop resize of a missing pool", func() *http.Request { return e.newRequest("POST", "/pools/nope/stopresize", nil, nil, nil) },
			404, api.CodePoolNotFound, nil},
		{"stop resize unmet If-Match", func() *http.Request {
			return e.newRequest("POST", "/pools/p1/stopresize", nil, nil, http.Header{"If-Match": {"0x7777"}})
		}, 412, api.CodeConditionNotMet, nil},
		{"GET resize", func() *http.Request { return e.newRequest("GET", "/pools/p1/resize", nil, nil, nil) },
			405, api.CodeUnsupportedHTTPVerb, nil},
		{"DELETE stopresize", func() *http.Request { return e.newRequest("DELETE", "/pools/p1/stopresize", nil, nil, nil) },
			405, api.CodeUnsupportedHTTPVerb, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.send(tt.req())
			eb := want(t, r, tt.status, tt.code)
			for k, v := range tt.values {
				if got := value(eb, k); got != v {
					t.Errorf("value %s = %q, want %q (values %+v)", k, got, v, eb.Values)
				}
			}
			if tt.status == http.StatusMethodNotAllowed && r.header.Get("Allow") != "POST" {
				t.Errorf("Allow = %q, want POST", r.header.Get("Allow"))
			}
		})
	}

	// Nothing changed: same version, same targets, still steady.
	e.idle()
	after := e.getPool("p1")
	if after.ETag != before.ETag || deref(after.TargetDedicatedNodes) != 0 || deref(after.TargetLowPriorityNodes) != 0 ||
		after.AllocationState != batch.AllocationSteady {
		t.Errorf("pool after rejected requests = %+v, before %+v", after, before)
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// TestResizeAndStop: Pool - Resize answers 202 with the pool's new version, and the pool takes
// the new target (allocation state resizing until it has the nodes, then steady); Pool - Stop
// Resize answers 202; an autoscale pool cannot be resized (409). This goes through the service:
// it needs the account actor to handle ResizePool and StopResizePool.
func TestResizeAndStop(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("p1", 0)), http.StatusCreated, e.base+"/pools/p1")
	e.idle()
	before := e.getPool("p1")

	r := e.send(e.newRequest("POST", "/pools/p1/resize", nil,
		map[string]any{"targetDedicatedNodes": 2, "resizeTimeout": "PT10M", "nodeDeallocationOption": "taskcompletion"},
		http.Header{"If-Match": {before.ETag}}))
	etag := created(t, r, http.StatusAccepted, e.base+"/pools/p1")
	if etag == before.ETag {
		t.Errorf("ETag after resize = %q, unchanged", etag)
	}
	p := e.getPool("p1")
	if deref(p.TargetDedicatedNodes) != 2 || deref(p.TargetLowPriorityNodes) != 0 ||
		(p.AllocationState != batch.AllocationResizing && p.AllocationState != batch.AllocationSteady) {
		t.Fatalf("pool after resize: target %d/%d, allocation %q", deref(p.TargetDedicatedNodes), deref(p.TargetLowPriorityNodes), p.AllocationState)
	}
	eventually(t, "two dedicated nodes, steady", func() string {
		p := e.getPool("p1")
		if p.AllocationState != batch.AllocationSteady || deref(p.CurrentDedicatedNodes) != 2 {
			return fmt.Sprintf("allocation %s, %d/%d nodes", p.AllocationState, deref(p.CurrentDedicatedNodes), deref(p.TargetDedicatedNodes))
		}
		return ""
	})

	// Stop Resize answers 202 whether or not a resize is under way.
	created(t, e.do("POST", "/pools/p1/stopresize", nil, nil), http.StatusAccepted, e.base+"/pools/p1")
	eventually(t, "steady after stop", func() string {
		if p := e.getPool("p1"); p.AllocationState != batch.AllocationSteady {
			return string(p.AllocationState)
		}
		return ""
	})

	// Back down to nothing: a body with no targets means 0.
	created(t, e.do("POST", "/pools/p1/resize", nil, map[string]any{}), http.StatusAccepted, e.base+"/pools/p1")
	if p := e.getPool("p1"); deref(p.TargetDedicatedNodes) != 0 {
		t.Errorf("target after resize to {} = %d, want 0", deref(p.TargetDedicatedNodes))
	}

	// An autoscale pool sizes itself: Azure answers 409.
	auto := batch.Pool{ID: "auto", VMSize: "local", EnableAutoScale: batch.Ptr(true), AutoScaleFormula: "$TargetDedicatedNodes = 0;"}
	created(t, e.do("POST", "/pools", nil, auto), http.StatusCreated, e.base+"/pools/auto")
	e.idle()
	want(t, e.do("POST", "/pools/auto/resize", nil, map[string]int{"targetDedicatedNodes": 1}), http.StatusConflict, api.CodeOperationInvalidForCurrentState)
}
