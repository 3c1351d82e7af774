package rest_test

import (
	"fmt"
	"net/http"
	"testing"

	"corral/api"
	"corral/batch"
)

// Job - Patch: Azure's pattern of setting onAllTasksComplete after the tasks are added
// completes the job once they have; metadata changes; what Corral does not change is refused;
// conditional headers are honoured; a completed job cannot be patched.
func TestJobPatch(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("p1", 1)), http.StatusCreated, e.base+"/pools/p1")
	created(t, e.do("POST", "/jobs", nil, job("j1", "p1", true)), http.StatusCreated, e.base+"/jobs/j1")
	for _, id := range []string{"a", "b"} {
		created(t, e.do("POST", "/jobs/j1/tasks", nil, task(id)), http.StatusCreated, e.base+"/jobs/j1/tasks/"+id)
	}

	// Refusals change nothing.
	refused := []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{"priority", map[string]any{"priority": 5}, http.StatusBadRequest, api.CodeUnsupportedProperty},
		{"constraints", map[string]any{"constraints": map[string]any{"maxTaskRetryCount": 3}}, http.StatusBadRequest, api.CodeUnsupportedProperty},
		{"another pool while active", map[string]any{"poolInfo": map[string]any{"poolId": "p2"}}, http.StatusConflict, api.CodeOperationInvalidForCurrentState},
		{"an auto pool", map[string]any{"poolInfo": map[string]any{"autoPoolSpecification": map[string]any{"poolLifetimeOption": "job"}}}, http.StatusBadRequest, api.CodeUnsupportedProperty},
		{"bad onAllTasksComplete", map[string]any{"onAllTasksComplete": "sometimes"}, http.StatusBadRequest, api.CodeInvalidPropertyValue},
		{"unknown property", map[string]any{"color": "red"}, http.StatusBadRequest, ""},
	}
	before := e.do("GET", "/jobs/j1", nil, nil)
	for _, r := range refused {
		resp := e.do("PATCH", "/jobs/j1", nil, r.body)
		if resp.status != r.status || (r.code != "" && resp.errorBody(t).Code != r.code) {
			t.Errorf("%s: %d %s; want %d %s", r.name, resp.status, resp.body, r.status, r.code)
		}
	}
	if after := e.do("GET", "/jobs/j1", nil, nil); after.header.Get("ETag") != before.header.Get("ETag") {
		t.Errorf("a refused patch changed the job: ETag %s, then %s", before.header.Get("ETag"), after.header.Get("ETag"))
	}

	// A stale If-Match is 412 and changes nothing.
	stale := e.newRequest("PATCH", "/jobs/j1", nil, map[string]any{"metadata": []batch.MetadataItem{{Name: "k", Value: "v"}}}, http.Header{"If-Match": {"0x1"}})
	want(t, e.send(stale), http.StatusPreconditionFailed, api.CodeConditionNotMet)

	// The same pool, priority 0 and metadata, with the current ETag: accepted.
	etag := before.header.Get("ETag")
	ok := e.newRequest("PATCH", "/jobs/j1", nil, map[string]any{"priority": 0, "poolInfo": map[string]any{"poolId": "P1"},
		"metadata": []batch.MetadataItem{{Name: "owner", Value: "team-a"}}}, http.Header{"If-Match": {etag}})
	resp := e.send(ok)
	want(t, resp, http.StatusOK, "")
	if resp.header.Get("ETag") == etag || resp.header.Get("ETag") == "" {
		t.Errorf("ETag after the patch %q, before %q", resp.header.Get("ETag"), etag)
	}
	var j batch.Job
	e.do("GET", "/jobs/j1", nil, nil).decode(t, &j)
	if len(j.Metadata) != 1 || j.Metadata[0].Value != "team-a" || j.OnAllTasksComplete != batch.AllCompleteNoAction {
		t.Errorf("job after the metadata patch: %+v", j)
	}

	// Terminate when all tasks complete: the job completes once both tasks have.
	want(t, e.do("PATCH", "/jobs/j1", nil, map[string]any{"onAllTasksComplete": "terminatejob"}), http.StatusOK, "")
	eventually(t, "the job completes", func() string {
		var j batch.Job
		e.do("GET", "/jobs/j1", nil, nil).decode(t, &j)
		if j.State != batch.JobCompleted {
			return string(j.State)
		}
		if j.ExecutionInfo == nil || j.ExecutionInfo.TerminateReason != batch.TerminateReasonAllTasksComplete {
			return "terminate reason " + string(must(j.ExecutionInfo).TerminateReason)
		}
		return ""
	})
	want(t, e.do("PATCH", "/jobs/j1", nil, map[string]any{"metadata": []batch.MetadataItem{}}), http.StatusConflict, api.CodeJobCompleted)
	want(t, e.do("PATCH", "/jobs/nope", nil, map[string]any{}), http.StatusNotFound, api.CodeJobNotFound)
}

// Once a job terminates when all its tasks complete, it cannot be set back to noaction.
func TestJobPatchKeepsTermination(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("p1", 0)), http.StatusCreated, e.base+"/pools/p1")
	created(t, e.do("POST", "/jobs", nil, job("j1", "p1", false)), http.StatusCreated, e.base+"/jobs/j1")
	created(t, e.do("POST", "/jobs/j1/tasks", nil, task("a")), http.StatusCreated, e.base+"/jobs/j1/tasks/a")
	want(t, e.do("PATCH", "/jobs/j1", nil, map[string]any{"onAllTasksComplete": "terminatejob"}), http.StatusOK, "")
	want(t, e.do("PATCH", "/jobs/j1", nil, map[string]any{"onAllTasksComplete": "noaction"}), http.StatusBadRequest, api.CodeInvalidPropertyValue)
	var j batch.Job
	e.do("GET", "/jobs/j1", nil, nil).decode(t, &j)
	if j.OnAllTasksComplete != batch.AllCompleteTerminateJob || j.State != batch.JobActive {
		t.Errorf("job: onAllTasksComplete %s, state %s; want terminatejob, active (its task waits: no nodes)", j.OnAllTasksComplete, j.State)
	}
}

func must[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

// Job - Update replaces: poolInfo is required, metadata left out is cleared, and
// onAllTasksComplete left out is noaction.
func TestJobUpdate(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("p1", 0)), http.StatusCreated, e.base+"/pools/p1")
	created(t, e.do("POST", "/jobs", nil, job("j1", "p1", false)), http.StatusCreated, e.base+"/jobs/j1")
	want(t, e.do("PATCH", "/jobs/j1", nil, map[string]any{"metadata": []batch.MetadataItem{{Name: "k", Value: "v"}}}), http.StatusOK, "")
	want(t, e.do("PUT", "/jobs/j1", nil, map[string]any{"metadata": []batch.MetadataItem{}}), http.StatusBadRequest, api.CodeMissingRequiredProperty)
	want(t, e.do("PUT", "/jobs/j1", nil, map[string]any{"poolInfo": map[string]any{"poolId": "p1"}}), http.StatusOK, "")
	var j batch.Job
	e.do("GET", "/jobs/j1", nil, nil).decode(t, &j)
	if len(j.Metadata) != 0 || j.OnAllTasksComplete != batch.AllCompleteNoAction {
		t.Errorf("job after an update without metadata: %+v", j)
	}
	created(t, e.do("POST", "/jobs/j1/tasks", nil, task("a")), http.StatusCreated, e.base+"/jobs/j1/tasks/a")
	want(t, e.do("PUT", "/jobs/j1", nil, map[string]any{"poolInfo": map[string]any{"poolId": "p1"}, "onAllTasksComplete": "terminatejob"}), http.StatusOK, "")
	// Left out, onAllTasksComplete would go back to noaction: refused once it is terminatejob.
	want(t, e.do("PUT", "/jobs/j1", nil, map[string]any{"poolInfo": map[string]any{"poolId": "p1"}}), http.StatusBadRequest, api.CodeInvalidPropertyValue)
}

// A disabled job moves to another pool with Job - Patch (as on Azure, only while disabled), and
// runs its tasks there once enabled.
func TestJobPatchMovesDisabledJob(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("p1", 0)), http.StatusCreated, e.base+"/pools/p1")
	created(t, e.do("POST", "/pools", nil, pool("p2", 1)), http.StatusCreated, e.base+"/pools/p2")
	created(t, e.do("POST", "/jobs", nil, job("j1", "p1", false)), http.StatusCreated, e.base+"/jobs/j1")
	created(t, e.do("POST", "/jobs/j1/tasks", nil, task("a")), http.StatusCreated, e.base+"/jobs/j1/tasks/a")
	want(t, e.do("POST", "/jobs/j1/disable", nil, map[string]any{"disableTasks": "requeue"}), http.StatusAccepted, "")
	eventually(t, "the job disabled", func() string {
		var j batch.Job
		e.do("GET", "/jobs/j1", nil, nil).decode(t, &j)
		if j.State != batch.JobDisabled {
			return string(j.State)
		}
		return ""
	})
	want(t, e.do("PATCH", "/jobs/j1", nil, map[string]any{"poolInfo": map[string]any{"poolId": "bad id!"}}), http.StatusBadRequest, api.CodeInvalidPropertyValue)
	want(t, e.do("PATCH", "/jobs/j1", nil, map[string]any{"poolInfo": map[string]any{"poolId": "p2"}}), http.StatusOK, "")
	var j batch.Job
	e.do("GET", "/jobs/j1", nil, nil).decode(t, &j)
	if j.PoolInfo.PoolID != "p2" || must(j.ExecutionInfo).PoolID != "p2" {
		t.Fatalf("job after the move: poolInfo %+v, executionInfo %+v", j.PoolInfo, j.ExecutionInfo)
	}
	want(t, e.do("POST", "/jobs/j1/enable", nil, nil), http.StatusAccepted, "")
	eventually(t, "the task runs on p2", func() string {
		var tk batch.Task
		e.do("GET", "/jobs/j1/tasks/a", nil, nil).decode(t, &tk)
		if tk.State != batch.TaskCompleted || tk.NodeInfo == nil || tk.NodeInfo.PoolID != "p2" {
			return fmt.Sprintf("%s on %+v", tk.State, tk.NodeInfo)
		}
		return ""
	})
}
