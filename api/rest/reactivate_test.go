package rest_test

import (
	"net/http"
	"testing"

	"corral/api"
	"corral/batch"
)

// Task - Reactivate: a task that failed (here: terminated) is active again with its retry count
// reset and its failure forgotten; a task that has not completed, one that succeeded, a stale
// condition and a completed job are refused.
func TestTaskReactivate(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("idle", 0)), http.StatusCreated, e.base+"/pools/idle")
	created(t, e.do("POST", "/pools", nil, pool("run", 1)), http.StatusCreated, e.base+"/pools/run")
	created(t, e.do("POST", "/jobs", nil, job("j0", "idle", true)), http.StatusCreated, e.base+"/jobs/j0")
	created(t, e.do("POST", "/jobs/j0/tasks", nil, task("a")), http.StatusCreated, e.base+"/jobs/j0/tasks/a")
	created(t, e.do("POST", "/jobs/j0/tasks", nil, task("b", "a")), http.StatusCreated, e.base+"/jobs/j0/tasks/b")
	get := func(job, id string) batch.Task {
		var tk batch.Task
		e.do("GET", "/jobs/"+job+"/tasks/"+id, nil, nil).decode(t, &tk)
		return tk
	}

	want(t, e.do("POST", "/jobs/j0/tasks/a/reactivate", nil, nil), http.StatusConflict, api.CodeTaskNotCompleted)
	want(t, e.do("POST", "/jobs/j0/tasks/a/terminate", nil, nil), http.StatusNoContent, "")
	failed := get("j0", "a")
	if failed.State != batch.TaskCompleted || must(failed.ExecutionInfo).Result != batch.ResultFailure {
		t.Fatalf("terminated task: %+v", failed)
	}
	want(t, e.send(e.newRequest("POST", "/jobs/j0/tasks/a/reactivate", nil, nil, http.Header{"If-Match": {"0x1"}})), http.StatusPreconditionFailed, api.CodeConditionNotMet)
	want(t, e.do("POST", "/jobs/j0/tasks/nope/reactivate", nil, nil), http.StatusNotFound, api.CodeTaskNotFound)
	if get("j0", "a").ETag != failed.ETag {
		t.Fatal("a refused reactivation changed the task")
	}

	resp := e.send(e.newRequest("POST", "/jobs/j0/tasks/a/reactivate", nil, nil, http.Header{"If-Match": {failed.ETag}}))
	want(t, resp, http.StatusNoContent, "")
	if resp.header.Get("ETag") == failed.ETag {
		t.Errorf("ETag unchanged by the reactivation")
	}
	a := get("j0", "a")
	x := must(a.ExecutionInfo)
	if a.State != batch.TaskActive || a.PreviousState != batch.TaskCompleted || x.RetryCount != 0 || x.FailureInfo != nil || x.Result != "" || x.ExitCode != nil {
		t.Errorf("reactivated task: state %s (previous %s), executionInfo %+v", a.State, a.PreviousState, x)
	}
	if b := get("j0", "b"); b.State != batch.TaskActive {
		t.Errorf("dependent: %s", b.State)
	}

	created(t, e.do("POST", "/jobs", nil, job("j1", "run", false)), http.StatusCreated, e.base+"/jobs/j1")
	created(t, e.do("POST", "/jobs/j1/tasks", nil, task("s")), http.StatusCreated, e.base+"/jobs/j1/tasks/s")
	eventually(t, "the task succeeds", func() string {
		if s := get("j1", "s"); s.State != batch.TaskCompleted {
			return string(s.State)
		}
		return ""
	})
	want(t, e.do("POST", "/jobs/j1/tasks/s/reactivate", nil, nil), http.StatusConflict, api.CodeTaskSucceeded)

	want(t, e.do("POST", "/jobs/j0/terminate", nil, nil), http.StatusAccepted, "")
	want(t, e.do("POST", "/jobs/j0/tasks/a/reactivate", nil, nil), http.StatusConflict, api.CodeJobCompleted)
}
