package rest_test

import (
	"net/http"
	"testing"

	"corral/api"
	"corral/batch"
)

// Job - Disable and Job - Enable: the job goes disabling, then disabled (it runs no task here:
// its pool has no node), takes tasks meanwhile, and is active again after the enable; bad bodies,
// stale conditions and a completed job are refused and change nothing.
func TestJobDisableEnable(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("p1", 0)), http.StatusCreated, e.base+"/pools/p1")
	created(t, e.do("POST", "/jobs", nil, job("j1", "p1", false)), http.StatusCreated, e.base+"/jobs/j1")
	created(t, e.do("POST", "/jobs/j1/tasks", nil, task("a")), http.StatusCreated, e.base+"/jobs/j1/tasks/a")
	state := func() batch.JobState {
		var j batch.Job
		e.do("GET", "/jobs/j1", nil, nil).decode(t, &j)
		return j.State
	}

	before := e.do("GET", "/jobs/j1", nil, nil).header.Get("ETag")
	refused := []struct {
		name   string
		path   string
		body   any
		header http.Header
		status int
		code   string
	}{
		{"no disableTasks", "/jobs/j1/disable", map[string]any{}, nil, http.StatusBadRequest, api.CodeMissingRequiredProperty},
		{"unknown disableTasks", "/jobs/j1/disable", map[string]any{"disableTasks": "pause"}, nil, http.StatusBadRequest, api.CodeInvalidPropertyValue},
		{"unknown property", "/jobs/j1/disable", map[string]any{"disableTasks": "wait", "force": true}, nil, http.StatusBadRequest, api.CodeInvalidRequestBody},
		{"stale If-Match", "/jobs/j1/disable", map[string]any{"disableTasks": "wait"}, http.Header{"If-Match": {"0x1"}}, http.StatusPreconditionFailed, api.CodeConditionNotMet},
		{"no such job", "/jobs/nope/disable", map[string]any{"disableTasks": "wait"}, nil, http.StatusNotFound, api.CodeJobNotFound},
		{"enable no such job", "/jobs/nope/enable", nil, nil, http.StatusNotFound, api.CodeJobNotFound},
	}
	for _, r := range refused {
		t.Run(r.name, func(t *testing.T) {
			want(t, e.send(e.newRequest("POST", r.path, nil, r.body, r.header)), r.status, r.code)
		})
	}
	if after := e.do("GET", "/jobs/j1", nil, nil).header.Get("ETag"); after != before {
		t.Fatalf("a refused disable changed the job: ETag %s, then %s", before, after)
	}

	resp := e.send(e.newRequest("POST", "/jobs/j1/disable", nil, map[string]any{"disableTasks": "requeue"}, http.Header{"If-Match": {before}}))
	want(t, resp, http.StatusAccepted, "")
	if resp.header.Get("ETag") == before {
		t.Errorf("ETag unchanged by the disable: %s", before)
	}
	eventually(t, "the job disabled", func() string {
		if s := state(); s != batch.JobDisabled {
			return string(s)
		}
		return ""
	})
	// Again: nothing to do, as Azure accepts a disable of a disabled job.
	want(t, e.do("POST", "/jobs/j1/disable", nil, map[string]any{"disableTasks": "wait"}), http.StatusAccepted, "")
	// A disabled job takes tasks; they wait for the enable.
	created(t, e.do("POST", "/jobs/j1/tasks", nil, task("b")), http.StatusCreated, e.base+"/jobs/j1/tasks/b")

	want(t, e.do("POST", "/jobs/j1/enable", nil, nil), http.StatusAccepted, "")
	eventually(t, "the job active", func() string {
		if s := state(); s != batch.JobActive {
			return string(s)
		}
		return ""
	})
	var j batch.Job
	e.do("GET", "/jobs/j1", nil, nil).decode(t, &j)
	if j.PreviousState != batch.JobEnabling {
		t.Errorf("previous state %s, want enabling", j.PreviousState)
	}
	want(t, e.do("POST", "/jobs/j1/enable", nil, nil), http.StatusAccepted, "") // active: nothing to do

	want(t, e.do("POST", "/jobs/j1/terminate", nil, nil), http.StatusAccepted, "")
	want(t, e.do("POST", "/jobs/j1/disable", nil, map[string]any{"disableTasks": "wait"}), http.StatusConflict, api.CodeJobCompleted)
	want(t, e.do("POST", "/jobs/j1/enable", nil, nil), http.StatusConflict, api.CodeJobCompleted)
}

// An exit condition whose jobAction is disable (the job's onTaskFailure being
// performexitoptionsjobaction) disables the job when it applies, as Job - Disable with requeue
// does: here on exit code 0, so the task's dependent does not start.
func TestJobActionDisable(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("p1", 1)), http.StatusCreated, e.base+"/pools/p1")
	j := job("j1", "p1", true)
	j.OnTaskFailure = batch.TaskFailurePerformExitOptionsJobAction
	created(t, e.do("POST", "/jobs", nil, j), http.StatusCreated, e.base+"/jobs/j1")
	a := task("a")
	a.ExitConditions = &batch.ExitConditions{ExitCodes: []batch.ExitCodeMapping{{Code: 0, ExitOptions: batch.ExitOptions{JobAction: batch.JobActionDisable}}}}
	created(t, e.do("POST", "/jobs/j1/tasks", nil, a), http.StatusCreated, e.base+"/jobs/j1/tasks/a")
	created(t, e.do("POST", "/jobs/j1/tasks", nil, task("b", "a")), http.StatusCreated, e.base+"/jobs/j1/tasks/b")
	eventually(t, "the job disabled by its task's exit", func() string {
		var j batch.Job
		e.do("GET", "/jobs/j1", nil, nil).decode(t, &j)
		if j.State != batch.JobDisabled {
			return string(j.State)
		}
		return ""
	})
	e.idle()
	var b batch.Task
	e.do("GET", "/jobs/j1/tasks/b", nil, nil).decode(t, &b)
	if b.State != batch.TaskActive {
		t.Errorf("dependent of the task that disabled the job: %s", b.State)
	}
}
