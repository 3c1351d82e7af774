package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"corral/batch"
)

// e2eNodes is the REST API of an e2eEnv, for tests of node operations.
type e2eNodes struct {
	t *testing.T
	e *e2eEnv
}

func (n e2eNodes) call(method, path string, body, out any) int {
	n.t.Helper()
	return call(n.t, n.e.srv.base, n.e.key, method, path, body, out)
}

// task waits until task job/id satisfies ok, and returns it.
func (n e2eNodes) task(job, id, what string, ok func(batch.Task) bool) batch.Task {
	n.t.Helper()
	var tk batch.Task
	deadline := time.Now().Add(60 * time.Second)
	for {
		tk = batch.Task{}
		if n.call("GET", "/jobs/"+job+"/tasks/"+id, nil, &tk) == http.StatusOK && ok(tk) {
			return tk
		}
		if time.Now().After(deadline) {
			b, _ := json.Marshal(tk)
			var nodes struct{ Value []batch.Node }
			n.call("GET", "/pools/p1/nodes", nil, &nodes)
			nb, _ := json.Marshal(nodes.Value)
			n.t.Fatalf("timed out waiting: task %s/%s %s; last seen %s; nodes %s", job, id, what, b, nb)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// node waits until node id of pool p1 satisfies ok, and returns it.
func (n e2eNodes) node(id, what string, ok func(batch.Node) bool) batch.Node {
	n.t.Helper()
	var nd batch.Node
	waitUntil(n.t, 60*time.Second, "node "+id+" "+what, func() bool {
		nd = batch.Node{}
		return n.call("GET", "/pools/p1/nodes/"+id, nil, &nd) == http.StatusOK && ok(nd)
	})
	return nd
}

func runningOn(node string) func(batch.Task) bool {
	return func(tk batch.Task) bool {
		return tk.State == batch.TaskRunning && tk.NodeInfo != nil && (node == "" || tk.NodeInfo.NodeID == node)
	}
}

func completed(tk batch.Task) bool { return tk.State == batch.TaskCompleted }

// addTask adds a task to job j.
func (n e2eNodes) addTask(id, cmd string) {
	n.t.Helper()
	if code := n.call("POST", "/jobs/j/tasks", batch.Task{ID: id, CommandLine: cmd}, nil); code != http.StatusCreated {
		n.t.Fatalf("add task %s: %d", id, code)
	}
}

// longTask adds a pool p1 of two one-slot nodes and a job j on it with a task "long" that runs
// cmd, and waits until it runs: first is its node, other the other node. It then runs a task
// "probe" to completion, which only other can take: so other's agent is connected (a node shows
// idle as soon as its agent process starts, before it has reached the server), and a task the
// test moves off first can go there.
func (n e2eNodes) longTask(cmd string) (first, other string) {
	n.t.Helper()
	two, one := int32(2), int32(1)
	if code := n.call("POST", "/pools", batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two, TaskSlotsPerNode: &one}, nil); code != http.StatusCreated {
		n.t.Fatalf("add pool: %d", code)
	}
	if code := n.call("POST", "/jobs", batch.Job{ID: "j", PoolInfo: batch.PoolInformation{PoolID: "p1"}}, nil); code != http.StatusCreated {
		n.t.Fatalf("add job: %d", code)
	}
	n.addTask("long", cmd)
	first = n.task("j", "long", "running", runningOn("")).NodeInfo.NodeID
	other = "p1-0"
	if first == other {
		other = "p1-1"
	}
	n.addTask("probe", "true")
	if tk := n.task("j", "probe", "completed", completed); tk.NodeInfo == nil || tk.NodeInfo.NodeID != other {
		n.t.Fatalf("task probe ran on %+v, not on %s", tk.NodeInfo, other)
	}
	return first, other
}

// TestDisableSchedulingOnLocalNodes disables scheduling on the node (an agent process) that runs a
// task: the task is killed and requeued onto the other node, the node shows offline, stays
// disabled across a restart of the server (new tasks run on the other node only), and takes
// tasks again once enabled.
func TestDisableSchedulingOnLocalNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	n := e2eNodes{t, newE2E(t)}
	first, other := n.longTask("sleep 120")
	if code := n.call("POST", "/pools/p1/nodes/"+first+"/disablescheduling", map[string]string{"nodeDisableSchedulingOption": "requeue"}, nil); code != http.StatusOK {
		t.Fatalf("disable scheduling: %d", code)
	}
	tk := n.task("j", "long", "requeued onto "+other, runningOn(other))
	if tk.ExecutionInfo == nil || tk.ExecutionInfo.RetryCount != 0 || tk.ExecutionInfo.RequeueCount < 1 {
		t.Errorf("requeued task: executionInfo %+v", tk.ExecutionInfo)
	}
	n.node(first, "offline and disabled", func(nd batch.Node) bool {
		return nd.State == batch.NodeOffline && nd.SchedulingState == batch.SchedulingDisabled
	})

	n.e.restart(t)
	n.node(first, "disabled after a restart", func(nd batch.Node) bool {
		return nd.State == batch.NodeOffline && nd.SchedulingState == batch.SchedulingDisabled
	})
	// Right after the restart, before the pool has started its nodes' sessions perhaps: the
	// terminate's kill waits for the session (it once killed the job manager instead).
	if code := n.call("POST", "/jobs/j/tasks/long/terminate", nil, nil); code != http.StatusNoContent {
		t.Fatalf("terminate task: %d", code)
	}
	for i := range 3 {
		n.addTask(fmt.Sprintf("after-restart-%d", i), "true")
	}
	for i := range 3 {
		tk := n.task("j", fmt.Sprintf("after-restart-%d", i), "completed", completed)
		if tk.NodeInfo == nil || tk.NodeInfo.NodeID != other {
			t.Errorf("task %s ran on %+v, not on %s", tk.ID, tk.NodeInfo, other)
		}
	}

	if code := n.call("POST", "/pools/p1/nodes/"+first+"/enablescheduling", nil, nil); code != http.StatusOK {
		t.Fatalf("enable scheduling: %d", code)
	}
	n.node(first, "enabled and idle", func(nd batch.Node) bool {
		return nd.State == batch.NodeIdle && nd.SchedulingState == batch.SchedulingEnabled
	})
	// One node busy, the next task runs on the other: both take tasks again.
	n.addTask("busy", "sleep 120")
	busy := n.task("j", "busy", "running", runningOn("")).NodeInfo.NodeID
	n.addTask("back", "true")
	if tk := n.task("j", "back", "completed", completed); tk.NodeInfo == nil || tk.NodeInfo.NodeID == busy {
		t.Errorf("task back ran on %+v, the node busy with another task", tk.NodeInfo)
	}
}

// TestRebootOnLocalNodes reboots the node (an agent process) that runs a task: the task is killed
// and requeued onto the other node, the node shows rebooting and comes back idle with a later
// lastBootTime, its task directories kept; a reimage then deletes them.
func TestRebootOnLocalNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	n := e2eNodes{t, newE2E(t)}
	first, other := n.longTask(`/bin/sh -c "echo here > marker; sleep 120"`)
	marker := filepath.Join(n.e.data, "nodes", "p1", first, "workitems", "j", "job-1", "long", "wd", "marker")
	waitUntil(t, 30*time.Second, "the task's marker file", func() bool { _, err := os.Stat(marker); return err == nil })
	before := n.node(first, "running", func(nd batch.Node) bool { return nd.State == batch.NodeRunning })

	if code := n.call("POST", "/pools/p1/nodes/"+first+"/reboot", map[string]string{"nodeRebootOption": "requeue"}, nil); code != http.StatusAccepted {
		t.Fatalf("reboot: %d", code)
	}
	tk := n.task("j", "long", "requeued onto "+other, runningOn(other))
	if tk.ExecutionInfo == nil || tk.ExecutionInfo.RetryCount != 0 || tk.ExecutionInfo.RequeueCount < 1 {
		t.Errorf("requeued task: executionInfo %+v", tk.ExecutionInfo)
	}
	after := n.node(first, "idle again", func(nd batch.Node) bool { return nd.State == batch.NodeIdle })
	if !after.LastBootTime.After(before.LastBootTime) {
		t.Errorf("lastBootTime %v after the reboot, was %v", after.LastBootTime, before.LastBootTime)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the reboot did not keep the task directory: %v", err)
	}
	// Idle again, it can be reimaged.
	if code := n.call("POST", "/pools/p1/nodes/"+first+"/reimage", nil, nil); code != http.StatusAccepted {
		t.Fatalf("reimage: %d", code)
	}
	n.node(first, "idle after the reimage", func(nd batch.Node) bool { return nd.State == batch.NodeIdle })
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("the reimage kept the task's files: %v", err)
	}
	// The rebooted node runs tasks again: the other one is busy.
	n.addTask("next", "true")
	if tk := n.task("j", "next", "completed", completed); tk.NodeInfo == nil || tk.NodeInfo.NodeID != first {
		t.Errorf("task next ran on %+v, not on %s", tk.NodeInfo, first)
	}
}
