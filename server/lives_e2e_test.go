package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"corral/api"
	"corral/batch"
)

// TestJobAddedAgainRunsItsOwnTask is a job deleted while its task runs and added again at once
// under the same id, with a task of the same id: the new task runs and reports its own output and
// exit code (not the old attempt's kill), and the node's only slot comes back, so a task of
// another job runs after it.
func TestJobAddedAgainRunsItsOwnTask(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	e := newE2E(t)
	srv, key := e.srv, e.key

	one := int32(1)
	if code := call(t, srv.base, key, "POST", "/pools", batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &one, TaskSlotsPerNode: &one}, nil); code != http.StatusCreated {
		t.Fatalf("add pool: %d", code)
	}
	addJob := func(id string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			var answer struct {
				Code string `json:"code"`
			}
			code := call(t, srv.base, key, "POST", "/jobs", batch.Job{ID: id, PoolInfo: batch.PoolInformation{PoolID: "p1"}}, &answer)
			if code == http.StatusCreated {
				return
			}
			// 409 JobBeingDeleted until the old job is gone, never JobExists.
			if code != http.StatusConflict || answer.Code != "JobBeingDeleted" || time.Now().After(deadline) {
				t.Fatalf("add job %s: %d %s", id, code, answer.Code)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	addTask := func(job, id, cmd string) {
		t.Helper()
		if code := call(t, srv.base, key, "POST", "/jobs/"+job+"/tasks", batch.Task{ID: id, CommandLine: cmd}, nil); code != http.StatusCreated {
			t.Fatalf("add task %s/%s: %d", job, id, code)
		}
	}
	waitTask := func(job, id string, want batch.TaskState, within time.Duration) batch.Task {
		t.Helper()
		deadline := time.Now().Add(within)
		for {
			var tk batch.Task
			if code := call(t, srv.base, key, "GET", "/jobs/"+job+"/tasks/"+id, nil, &tk); code == http.StatusOK && tk.State == want {
				return tk
			}
			if time.Now().After(deadline) {
				t.Fatalf("task %s/%s not %s within %v: %+v", job, id, want, within, tk)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	addJob("j")
	addTask("j", "t", "sleep 2")
	waitTask("j", "t", batch.TaskRunning, 60*time.Second)
	time.Sleep(300 * time.Millisecond)
	if code := call(t, srv.base, key, "DELETE", "/jobs/j", nil, nil); code != http.StatusAccepted {
		t.Fatalf("delete job: %d", code)
	}
	addJob("j")
	addTask("j", "t", "echo NEW")
	tk := waitTask("j", "t", batch.TaskCompleted, 60*time.Second)
	if ei := tk.ExecutionInfo; ei == nil || ei.ExitCode == nil || *ei.ExitCode != 0 || ei.Result != batch.ResultSuccess {
		t.Fatalf("the new task t did not run as itself: %+v", tk.ExecutionInfo)
	}
	out := fileText(t, srv.base, key, "/jobs/j/tasks/t/files/stdout.txt")
	if strings.TrimSpace(out) != "NEW" {
		t.Fatalf("stdout of the new task t = %q, want NEW", out)
	}

	// The node's one slot is free again: a task of another job runs.
	addJob("other")
	addTask("other", "u", "true")
	waitTask("other", "u", batch.TaskCompleted, 30*time.Second)
}

// fileText reads a task file through the REST API.
func fileText(t *testing.T, base string, key []byte, path string) string {
	t.Helper()
	req, err := api.NewRequest("GET", base, path, nil, nil, "corral", key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpClient(base).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s %v", path, resp.StatusCode, b, err)
	}
	return string(b)
}
