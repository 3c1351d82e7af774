package server

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corral/batch"
)

// TestStartTaskPreparesNodes runs real agents: the start task of one pool, with a resource file
// and an environment setting, writes a file into each node's shared directory, which the job's
// tasks then read (so every task ran after its node's start task); the start task of another pool always fails, and its node ends
// starttaskfailed after maxTaskRetryCount+1 attempts and runs none of its job's tasks; one whose
// program does not exist fails at once, without retries.
func TestStartTaskPreparesNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	e := newE2E(t)
	base, key := e.srv.base, e.key

	// The start task's resource file, served over plain HTTP on loopback.
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/word.txt" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "prepared")
	}))
	t.Cleanup(files.Close)

	two, one, retries := int32(2), int32(1), int32(1)
	prepare := &batch.StartTask{
		CommandLine:         `/bin/sh -c 'sleep 1; echo "$GREETING $(cat setup/word.txt) $AZ_BATCH_NODE_ID" > "$AZ_BATCH_NODE_SHARED_DIR/ready.txt"; echo started in "$PWD"'`,
		EnvironmentSettings: []batch.EnvironmentSetting{{Name: "GREETING", Value: "hello"}},
		ResourceFiles:       []batch.ResourceFile{{HTTPURL: files.URL + "/word.txt", FilePath: "setup/word.txt"}},
	}
	if code := call(t, base, key, "POST", "/pools", batch.Pool{ID: "good", VMSize: "local", TargetDedicatedNodes: &two,
		TaskSlotsPerNode: &one, StartTask: prepare}, nil); code != http.StatusCreated {
		t.Fatalf("add pool good: %d", code)
	}
	failing := &batch.StartTask{CommandLine: `/bin/sh -c 'echo broken >&2; exit 3'`, MaxTaskRetryCount: &retries}
	if code := call(t, base, key, "POST", "/pools", batch.Pool{ID: "bad", VMSize: "local", TargetDedicatedNodes: &one,
		StartTask: failing}, nil); code != http.StatusCreated {
		t.Fatalf("add pool bad: %d", code)
	}
	missing := &batch.StartTask{CommandLine: "no-such-program-here", MaxTaskRetryCount: &retries}
	if code := call(t, base, key, "POST", "/pools", batch.Pool{ID: "missing", VMSize: "local", TargetDedicatedNodes: &one,
		StartTask: missing}, nil); code != http.StatusCreated {
		t.Fatalf("add pool missing: %d", code)
	}
	for _, j := range []string{"good", "bad"} {
		if code := call(t, base, key, "POST", "/jobs", batch.Job{ID: "j-" + j, PoolInfo: batch.PoolInformation{PoolID: j}}, nil); code != http.StatusCreated {
			t.Fatalf("add job j-%s: %d", j, code)
		}
	}
	read := `/bin/sh -c 'cat "$AZ_BATCH_NODE_SHARED_DIR/ready.txt"'`
	for i := range 4 {
		if code := call(t, base, key, "POST", "/jobs/j-good/tasks", batch.Task{ID: fmt.Sprintf("t%d", i), CommandLine: read}, nil); code != http.StatusCreated {
			t.Fatalf("add task: %d", code)
		}
	}
	if code := call(t, base, key, "POST", "/jobs/j-bad/tasks", batch.Task{ID: "never", CommandLine: "true"}, nil); code != http.StatusCreated {
		t.Fatalf("add task: %d", code)
	}

	// Every task of the good pool read what its node's start task wrote.
	for i := range 4 {
		id := fmt.Sprintf("t%d", i)
		var tk batch.Task
		waitUntil(t, 90*time.Second, "task "+id+" completed", func() bool {
			return call(t, base, key, "GET", "/jobs/j-good/tasks/"+id, nil, &tk) == http.StatusOK && tk.State == batch.TaskCompleted
		})
		if ei := tk.ExecutionInfo; ei == nil || ei.ExitCode == nil || *ei.ExitCode != 0 || tk.NodeInfo == nil {
			t.Fatalf("task %s: %+v", id, tk.ExecutionInfo)
		}
		out := fileText(t, base, key, "/jobs/j-good/tasks/"+id+"/files/stdout.txt")
		if want := "hello prepared " + tk.NodeInfo.NodeID; strings.TrimSpace(out) != want {
			t.Errorf("task %s printed %q, want %q", id, out, want)
		}
	}
	// Both nodes complete their start task (the tasks may all have run on the first one ready).
	var nodes struct{ Value []batch.Node }
	waitUntil(t, 60*time.Second, "both nodes of pool good completed their start task", func() bool {
		if call(t, base, key, "GET", "/pools/good/nodes", nil, &nodes) != http.StatusOK || len(nodes.Value) != 2 {
			return false
		}
		for _, n := range nodes.Value {
			if n.StartTaskInfo == nil || n.StartTaskInfo.State != batch.StartTaskCompleted {
				return false
			}
		}
		return true
	})
	for _, n := range nodes.Value {
		info := n.StartTaskInfo
		if n.StartTask == nil || n.StartTask.CommandLine != prepare.CommandLine || info == nil ||
			info.State != batch.StartTaskCompleted || info.Result != batch.ResultSuccess || info.ExitCode == nil || *info.ExitCode != 0 ||
			info.RetryCount != 0 || info.StartTime.IsZero() || info.EndTime.IsZero() || !n.State.AcceptsTasks() {
			t.Errorf("node %s: state %s, startTask %+v, startTaskInfo %+v", n.ID, n.State, n.StartTask, info)
		}
		// The start task's output is in the node's startup directory.
		out := startupFile(t, e.data, "good", n.ID, "stdout.txt")
		if !strings.Contains(out, "started in") || !strings.HasSuffix(strings.TrimSpace(out), filepath.Join("startup", "wd")) {
			t.Errorf("node %s: the start task's stdout.txt = %q", n.ID, out)
		}
	}

	// The bad pool's node fails its start task twice, then takes no task.
	var n batch.Node
	waitUntil(t, 60*time.Second, "node of pool bad starttaskfailed", func() bool {
		var list struct{ Value []batch.Node }
		if call(t, base, key, "GET", "/pools/bad/nodes", nil, &list) != http.StatusOK || len(list.Value) != 1 {
			return false
		}
		n = list.Value[0]
		return n.State == batch.NodeStartTaskFailed
	})
	info := n.StartTaskInfo
	if info == nil || info.State != batch.StartTaskCompleted || info.Result != batch.ResultFailure || info.ExitCode == nil ||
		*info.ExitCode != 3 || info.RetryCount != 1 || info.LastRetryTime.IsZero() || info.FailureInfo == nil ||
		info.FailureInfo.Code != batch.FailureCodeExitCode {
		t.Errorf("failed node %s: startTaskInfo %+v", n.ID, info)
	}
	if out := startupFile(t, e.data, "bad", n.ID, "stderr.txt"); strings.TrimSpace(out) != "broken" {
		t.Errorf("the failed start task's stderr.txt = %q", out)
	}
	// A start task whose program does not exist is not retried.
	var m batch.Node
	waitUntil(t, 60*time.Second, "node of pool missing starttaskfailed", func() bool {
		var list struct{ Value []batch.Node }
		if call(t, base, key, "GET", "/pools/missing/nodes", nil, &list) != http.StatusOK || len(list.Value) != 1 {
			return false
		}
		m = list.Value[0]
		return m.State == batch.NodeStartTaskFailed
	})
	if info := m.StartTaskInfo; info == nil || info.RetryCount != 0 || info.ExitCode != nil || info.FailureInfo == nil ||
		info.FailureInfo.Code != "CommandProgramNotFound" || info.Result != batch.ResultFailure {
		t.Errorf("node %s, whose start task's program is missing: startTaskInfo %+v", m.ID, info)
	}
	var counts struct {
		Value []struct {
			PoolID    string `json:"poolId"`
			Dedicated struct {
				StartTaskFailed int `json:"startTaskFailed"`
			} `json:"dedicated"`
		} `json:"value"`
	}
	if code := call(t, base, key, "GET", "/nodecounts", nil, &counts); code != http.StatusOK {
		t.Errorf("node counts: %d", code)
	}
	found := false
	for _, c := range counts.Value {
		if c.PoolID == "bad" {
			found = true
			if c.Dedicated.StartTaskFailed != 1 {
				t.Errorf("node counts of pool bad: %+v", c)
			}
		}
	}
	if !found {
		t.Errorf("node counts have no pool bad: %+v", counts.Value)
	}
	time.Sleep(time.Second)
	var never batch.Task
	if call(t, base, key, "GET", "/jobs/j-bad/tasks/never", nil, &never); never.State != batch.TaskActive {
		t.Errorf("a task ran on a node whose start task failed: %+v", never)
	}
}

// startupFile reads a file of a local node's startup directory (the node file API is not
// there yet).
func startupFile(t *testing.T, data, poolID, nodeID, name string) string {
	t.Helper()
	for _, pattern := range []string{
		filepath.Join(data, "nodes", poolID, nodeID, "startup", name),
		filepath.Join(data, "nodes", poolID, nodeID, "*", "startup", name),
	} {
		paths, _ := filepath.Glob(pattern)
		if len(paths) == 1 {
			b, err := os.ReadFile(paths[0])
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
	t.Fatalf("no startup/%s for node %s of pool %s under %s", name, nodeID, poolID, data)
	return ""
}
