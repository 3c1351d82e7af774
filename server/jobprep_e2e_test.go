package server

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corral/batch"
)

// TestJobPreparationOnLocalNodes runs a job with preparation and release tasks on two node
// agents: the preparation task waits for the test's go-ahead, and meanwhile the job's tasks show
// preparing; then it writes a file that the tasks read through AZ_BATCH_JOB_PREP_WORKING_DIR; once the job is terminated, each node that prepared runs the
// release task, and Job - List Preparation And Release Task Status shows both tasks, succeeded,
// per node.
func TestJobPreparationOnLocalNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	n := e2eNodes{t, newE2E(t)}
	two, one := int32(2), int32(1)
	if code := n.call("POST", "/pools", batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two, TaskSlotsPerNode: &one}, nil); code != http.StatusCreated {
		t.Fatalf("add pool: %d", code)
	}
	job := batch.Job{ID: "j", PoolInfo: batch.PoolInformation{PoolID: "p1"},
		JobPreparationTask: &batch.JobPreparationTask{ID: "prep",
			CommandLine: `/bin/sh -c "while [ ! -f $AZ_BATCH_NODE_SHARED_DIR/go ]; do sleep 0.1; done; echo prepared > ready.txt"`},
		JobReleaseTask: &batch.JobReleaseTask{CommandLine: `/bin/sh -c "echo released > $AZ_BATCH_NODE_SHARED_DIR/released-$AZ_BATCH_JOB_ID"`}}
	if code := n.call("POST", "/jobs", job, nil); code != http.StatusCreated {
		t.Fatalf("add job: %d", code)
	}
	// A task may not take the preparation task's id.
	if code := n.call("POST", "/jobs/j/tasks", batch.Task{ID: "prep", CommandLine: "true"}, nil); code != http.StatusConflict {
		t.Errorf("a task with the preparation task's id: %d, want 409", code)
	}
	for _, id := range []string{"a", "b", "c", "d"} {
		n.addTask(id, `/bin/sh -c "cat $AZ_BATCH_JOB_PREP_WORKING_DIR/ready.txt; sleep 0.3"`)
	}
	prep := n.task("j", "a", "preparing", func(tk batch.Task) bool { return tk.State == batch.TaskPreparing })
	if prep.NodeInfo == nil || !prep.ExecutionInfo.StartTime.IsZero() {
		t.Errorf("a preparing task: nodeInfo %+v, startTime %v (want a node, and no start yet)", prep.NodeInfo, prep.ExecutionInfo.StartTime)
	}
	for _, node := range []string{"p1-0", "p1-1"} {
		shared := filepath.Join(n.e.data, "nodes", "p1", node, "shared")
		waitUntil(t, 60*time.Second, "node "+node+"'s shared directory", func() bool { _, err := os.Stat(shared); return err == nil })
		if err := os.WriteFile(filepath.Join(shared, "go"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nodes := map[string]bool{}
	for _, id := range []string{"a", "b", "c", "d"} {
		tk := n.task("j", id, "completed", completed)
		if tk.ExecutionInfo == nil || tk.ExecutionInfo.ExitCode == nil || *tk.ExecutionInfo.ExitCode != 0 {
			t.Fatalf("task %s: %+v (it cannot read what the preparation task wrote)", id, tk.ExecutionInfo)
		}
		nodes[tk.NodeInfo.NodeID] = true
	}

	if code := n.call("POST", "/jobs/j/terminate", nil, nil); code != http.StatusAccepted {
		t.Fatalf("terminate job: %d", code)
	}
	var list struct {
		Value []batch.JobPrepReleaseStatus `json:"value"`
	}
	waitUntil(t, 60*time.Second, "every preparing node released", func() bool {
		list.Value = nil
		if code := n.call("GET", "/jobs/j/jobpreparationandreleasetaskstatus", nil, &list); code != http.StatusOK {
			return false
		}
		for _, e := range list.Value {
			if e.Release == nil || e.Release.State != batch.JobPrepTaskCompleted {
				return false
			}
		}
		return len(list.Value) == len(nodes)
	})
	for _, e := range list.Value {
		if !nodes[e.NodeID] || !e.Preparation.Succeeded() || e.Release.Result != batch.ResultSuccess || e.Preparation.RetryCount != 0 {
			t.Errorf("status of node %s: preparation %+v, release %+v", e.NodeID, e.Preparation, e.Release)
		}
		if !strings.HasSuffix(e.Preparation.TaskRootDirectoryURL, "/pools/p1/nodes/"+e.NodeID+"/files/workitems/j/job-1/prep") {
			t.Errorf("taskRootDirectoryUrl %q", e.Preparation.TaskRootDirectoryURL)
		}
		marker := filepath.Join(n.e.data, "nodes", "p1", e.NodeID, "shared", "released-j")
		if b, err := os.ReadFile(marker); err != nil || strings.TrimSpace(string(b)) != "released" {
			t.Errorf("node %s: release task's file: %q, %v", e.NodeID, b, err)
		}
	}
	// Deleted, the job's records go.
	if code := n.call("DELETE", "/jobs/j", nil, nil); code != http.StatusAccepted {
		t.Fatalf("delete job: %d", code)
	}
}
