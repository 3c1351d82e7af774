package rest_test

import (
	"fmt"
	"net/http"
	"testing"

	"corral/api"
	"corral/batch"
)

// getNode reads a node through the API.
func (e *env) getNode(poolID, nodeID string) batch.Node {
	e.t.Helper()
	r := e.do("GET", "/pools/"+poolID+"/nodes/"+nodeID, nil, nil)
	want(e.t, r, http.StatusOK, "")
	var n batch.Node
	r.decode(e.t, &n)
	return n
}

// TestNodeSchedulingRejected: Disable and Enable Scheduling requests that Corral refuses get
// Azure's status and code, and change nothing.
func TestNodeSchedulingRejected(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("p1", 1)), http.StatusCreated, e.base+"/pools/p1")
	node := e.idleNodes("p1", 1)[0].ID
	disable := func(body any) *http.Request {
		return e.newRequest("POST", "/pools/p1/nodes/"+node+"/disablescheduling", nil, body, nil)
	}
	tests := []struct {
		name   string
		req    *http.Request
		status int
		code   string
	}{
		{"unknown option", disable(map[string]string{"nodeDisableSchedulingOption": "retaineddata"}), 400, api.CodeInvalidPropertyValue},
		{"unknown property", disable(map[string]string{"nodeRebootOption": "requeue"}), 400, api.CodeInvalidRequestBody},
		{"bad JSON", disable(`{"nodeDisableSchedulingOption": `), 400, api.CodeInvalidRequestBody},
		{"option of the wrong type", disable(`{"nodeDisableSchedulingOption": 1}`), 400, api.CodeInvalidRequestBody},
		{"no such pool", e.newRequest("POST", "/pools/nope/nodes/"+node+"/disablescheduling", nil, nil, nil), 404, api.CodePoolNotFound},
		{"no such node", e.newRequest("POST", "/pools/p1/nodes/p1-99/disablescheduling", nil, nil, nil), 404, api.CodeNodeNotFound},
		{"not a node id", e.newRequest("POST", "/pools/p1/nodes/a%20b/disablescheduling", nil, nil, nil), 404, api.CodeNodeNotFound},
		{"enable with a body", e.newRequest("POST", "/pools/p1/nodes/"+node+"/enablescheduling", nil, map[string]string{"x": "y"}, nil), 400, api.CodeInvalidRequestBody},
		{"enable on no node", e.newRequest("POST", "/pools/p1/nodes/p1-99/enablescheduling", nil, nil, nil), 404, api.CodeNodeNotFound},
		{"GET", e.newRequest("GET", "/pools/p1/nodes/"+node+"/disablescheduling", nil, nil, nil), 405, api.CodeUnsupportedHTTPVerb},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want(t, e.send(tc.req), tc.status, tc.code)
		})
	}
	if n := e.getNode("p1", node); n.SchedulingState != batch.SchedulingEnabled || n.State != batch.NodeIdle {
		t.Errorf("node after refused requests: %s/%s", n.SchedulingState, n.State)
	}
}

// TestNodeScheduling: a node whose scheduling is disabled shows schedulingState disabled and
// state offline, takes no task while the other node runs them all, and takes tasks again once
// enabled.
func TestNodeScheduling(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("p1", 2)), http.StatusCreated, e.base+"/pools/p1")
	nodes := e.idleNodes("p1", 2)
	off, on := nodes[0].ID, nodes[1].ID

	r := e.do("POST", "/pools/p1/nodes/"+off+"/disablescheduling", nil, map[string]string{"nodeDisableSchedulingOption": "TaskCompletion"})
	want(t, r, http.StatusOK, "")
	if got := r.header.Get("DataServiceId"); got != e.base+"/pools/p1/nodes/"+off {
		t.Errorf("DataServiceId = %q", got)
	}
	// Again, without a body: it is disabled already, and stays so.
	want(t, e.do("POST", "/pools/p1/nodes/"+off+"/disablescheduling", nil, nil), http.StatusOK, "")
	if n := e.getNode("p1", off); n.SchedulingState != batch.SchedulingDisabled || n.State != batch.NodeOffline {
		t.Fatalf("disabled node: %s/%s", n.SchedulingState, n.State)
	}

	created(t, e.do("POST", "/jobs", nil, job("j", "p1", false)), http.StatusCreated, e.base+"/jobs/j")
	var tasks []batch.Task
	for i := range 6 {
		tasks = append(tasks, task(fmt.Sprintf("t%d", i)))
	}
	want(t, e.do("POST", "/jobs/j/addtaskcollection", nil, map[string]any{"value": tasks}), http.StatusOK, "")
	e.waitCompleted("j", 6)
	for _, tk := range e.listTasks("j") {
		if tk.NodeInfo == nil || tk.NodeInfo.NodeID != on {
			t.Errorf("task %s ran on %+v, want %s", tk.ID, tk.NodeInfo, on)
		}
	}

	want(t, e.do("POST", "/pools/p1/nodes/"+off+"/enablescheduling", nil, nil), http.StatusOK, "")
	if n := e.getNode("p1", off); n.SchedulingState != batch.SchedulingEnabled || n.State != batch.NodeIdle {
		t.Fatalf("enabled node: %s/%s", n.SchedulingState, n.State)
	}
	// The other node disabled: the next tasks run on the one enabled again.
	want(t, e.do("POST", "/pools/p1/nodes/"+on+"/disablescheduling", nil, nil), http.StatusOK, "")
	created(t, e.do("POST", "/jobs", nil, job("k", "p1", false)), http.StatusCreated, e.base+"/jobs/k")
	want(t, e.do("POST", "/jobs/k/addtaskcollection", nil, map[string]any{"value": tasks}), http.StatusOK, "")
	e.waitCompleted("k", 6)
	for _, tk := range e.listTasks("k") {
		if tk.NodeInfo == nil || tk.NodeInfo.NodeID != off {
			t.Errorf("task %s ran on %+v, want %s", tk.ID, tk.NodeInfo, off)
		}
	}
}

// waitCompleted waits until job id has n tasks completed.
func (e *env) waitCompleted(jobID string, n int) {
	e.t.Helper()
	eventually(e.t, fmt.Sprintf("%d tasks of %s completed", n, jobID), func() string {
		var c batch.TaskCountsResult
		e.do("GET", "/jobs/"+jobID+"/taskcounts", nil, nil).decode(e.t, &c)
		if int(c.TaskCounts.Completed) != n {
			return fmt.Sprintf("%+v", c.TaskCounts)
		}
		return ""
	})
}

// listTasks lists a job's tasks.
func (e *env) listTasks(jobID string) []batch.Task {
	e.t.Helper()
	var page api.Page[batch.Task]
	r := e.do("GET", "/jobs/"+jobID+"/tasks", nil, nil)
	want(e.t, r, http.StatusOK, "")
	r.decode(e.t, &page)
	return page.Value
}

// TestNodeRebootRejected: Reboot and Reimage requests that Corral refuses.
func TestNodeRebootRejected(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("p1", 1)), http.StatusCreated, e.base+"/pools/p1")
	node := e.idleNodes("p1", 1)[0].ID
	tests := []struct {
		name, op string
		body     any
		status   int
		code     string
	}{
		{"unknown reboot option", "reboot", map[string]string{"nodeRebootOption": "later"}, 400, api.CodeInvalidPropertyValue},
		{"reimage option to reboot", "reboot", map[string]string{"nodeReimageOption": "requeue"}, 400, api.CodeInvalidRequestBody},
		{"reboot option to reimage", "reimage", map[string]string{"nodeRebootOption": "requeue"}, 400, api.CodeInvalidRequestBody},
		{"unknown reimage option", "reimage", map[string]string{"nodeReimageOption": "now"}, 400, api.CodeInvalidPropertyValue},
		{"option of the wrong type", "reboot", `{"nodeRebootOption": true}`, 400, api.CodeInvalidRequestBody},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want(t, e.do("POST", "/pools/p1/nodes/"+node+"/"+tc.op, nil, tc.body), tc.status, tc.code)
		})
	}
	want(t, e.do("POST", "/pools/p1/nodes/p1-99/reboot", nil, nil), http.StatusNotFound, api.CodeNodeNotFound)
	want(t, e.do("POST", "/pools/nope/nodes/"+node+"/reimage", nil, nil), http.StatusNotFound, api.CodePoolNotFound)
	want(t, e.do("GET", "/pools/p1/nodes/"+node+"/reboot", nil, nil), http.StatusMethodNotAllowed, api.CodeUnsupportedHTTPVerb)
	if n := e.getNode("p1", node); n.State != batch.NodeIdle {
		t.Errorf("node after refused requests: %s", n.State)
	}
}

// TestNodeReboot: a reboot and a reimage of an idle node (agent models) are answered 202, and the
// node comes back idle, booted again.
func TestNodeReboot(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("p1", 1)), http.StatusCreated, e.base+"/pools/p1")
	before := e.idleNodes("p1", 1)[0]
	for _, op := range []string{"reboot", "reimage"} {
		r := e.do("POST", "/pools/p1/nodes/"+before.ID+"/"+op, nil, nil)
		want(t, r, http.StatusAccepted, "")
		if got := r.header.Get("DataServiceId"); got != e.base+"/pools/p1/nodes/"+before.ID {
			t.Errorf("%s: DataServiceId = %q", op, got)
		}
		e.idleNodes("p1", 1)
	}
	after := e.getNode("p1", before.ID)
	if !after.LastBootTime.After(before.LastBootTime) {
		t.Errorf("lastBootTime %v after the reboots, was %v", after.LastBootTime, before.LastBootTime)
	}
	// It runs tasks again.
	created(t, e.do("POST", "/jobs", nil, job("j", "p1", false)), http.StatusCreated, e.base+"/jobs/j")
	created(t, e.do("POST", "/jobs/j/tasks", nil, task("t")), http.StatusCreated, e.base+"/jobs/j/tasks/t")
	e.waitCompleted("j", 1)
}
