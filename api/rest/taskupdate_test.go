package rest_test

import (
	"net/http"
	"testing"
	"time"

	"corral/api"
	"corral/batch"
)

// Task - Update replaces a task's constraints: what the body leaves out gets Azure's defaults,
// invalid values and stale conditions are refused and change nothing, and a completed job's
// tasks cannot be updated.
func TestTaskUpdate(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("p1", 0)), http.StatusCreated, e.base+"/pools/p1")
	j := job("j1", "p1", false)
	j.Constraints = &batch.JobConstraints{MaxTaskRetryCount: batch.Ptr(int32(2))}
	created(t, e.do("POST", "/jobs", nil, j), http.StatusCreated, e.base+"/jobs/j1")
	etag := created(t, e.do("POST", "/jobs/j1/tasks", nil, task("a")), http.StatusCreated, e.base+"/jobs/j1/tasks/a")

	refused := []struct {
		name   string
		body   any
		header http.Header
		status int
		code   string
	}{
		{"negative retry count", map[string]any{"constraints": map[string]any{"maxTaskRetryCount": -2}}, nil, http.StatusBadRequest, batch.CodeInvalidConstraintValue},
		{"zero wall clock", map[string]any{"constraints": map[string]any{"maxWallClockTime": "PT0S"}}, nil, http.StatusBadRequest, batch.CodeInvalidConstraintValue},
		{"unknown property", map[string]any{"commandLine": "x"}, nil, http.StatusBadRequest, api.CodeInvalidRequestBody},
		{"unknown constraint", map[string]any{"constraints": map[string]any{"maxRetries": 1}}, nil, http.StatusBadRequest, api.CodeInvalidRequestBody},
		{"stale If-Match", map[string]any{"constraints": map[string]any{"maxTaskRetryCount": 5}}, http.Header{"If-Match": {"0x1"}}, http.StatusPreconditionFailed, api.CodeConditionNotMet},
		{"If-None-Match *", map[string]any{}, http.Header{"If-None-Match": {"*"}}, http.StatusPreconditionFailed, api.CodeConditionNotMet},
	}
	for _, r := range refused {
		t.Run(r.name, func(t *testing.T) {
			want(t, e.send(e.newRequest("PUT", "/jobs/j1/tasks/a", nil, r.body, r.header)), r.status, r.code)
		})
	}
	if after := e.do("GET", "/jobs/j1/tasks/a", nil, nil); after.header.Get("ETag") != etag {
		t.Fatalf("a refused update changed the task: ETag %s, then %s", etag, after.header.Get("ETag"))
	}

	// With the current ETag: accepted; left out, retentionTime is 7 days and maxTaskRetryCount
	// the job's.
	resp := e.send(e.newRequest("PUT", "/jobs/j1/tasks/a", nil, map[string]any{"constraints": map[string]any{"maxWallClockTime": "PT1M"}}, http.Header{"If-Match": {etag}}))
	want(t, resp, http.StatusOK, "")
	if got := resp.header.Get("ETag"); got == "" || got == etag {
		t.Errorf("ETag after the update %q, before %q", got, etag)
	}
	var tk batch.Task
	e.do("GET", "/jobs/j1/tasks/a", nil, nil).decode(t, &tk)
	c := must(tk.Constraints)
	if c.MaxWallClockTime.Std() != time.Minute || c.RetentionTime.Std() != batch.DefaultRetentionTime || *c.MaxTaskRetryCount != 2 {
		t.Errorf("constraints after the update: %+v", c)
	}
	want(t, e.do("PUT", "/jobs/j1/tasks/a", nil, map[string]any{}), http.StatusOK, "")
	e.do("GET", "/jobs/j1/tasks/a", nil, nil).decode(t, &tk)
	if c := must(tk.Constraints); c.MaxWallClockTime.Std() != batch.Infinite {
		t.Errorf("constraints after an update without them: %+v", c)
	}

	want(t, e.do("PUT", "/jobs/nope/tasks/a", nil, map[string]any{}), http.StatusNotFound, api.CodeJobNotFound)
	want(t, e.do("POST", "/jobs/j1/terminate", nil, nil), http.StatusAccepted, "")
	want(t, e.do("PUT", "/jobs/j1/tasks/a", nil, map[string]any{}), http.StatusConflict, api.CodeJobCompleted)
}
