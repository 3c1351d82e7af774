package server

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corral/batch"
)

// TestAutoscaleOnLocalNodes runs the whole server (the real binary, local node processes) with an
// autoscale pool driven by $PendingTasks: the pool starts at zero nodes, grows when a 200-task
// job arrives, runs it on dedicated and low-priority nodes while two low-priority nodes are
// evicted (as spot evictions), and shrinks back to zero when the work is done. Every task
// completes exactly once as recorded (succeeded), none counts an eviction as a retry, and the
// pool's history shows why it had the size it had.
func TestAutoscaleOnLocalNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	e := newE2E(t, "--autoscale-min-interval", "1s", "--provision-delay", "500ms")
	srv, key := e.srv, e.key

	// One dedicated node while there is work, and a low-priority node per 20 pending tasks, at most 3.
	formula := `$pending = max($PendingTasks.GetSample(1));
$TargetDedicatedNodes = $pending > 0 ? 1 : 0;
$TargetLowPriorityNodes = min(3, $pending / 20);
$NodeDeallocationOption = requeue;`
	yes, slots := true, int32(2)
	every := batch.Duration(time.Second)
	if code := call(t, srv.base, key, "POST", "/pools", batch.Pool{ID: "auto", VMSize: "local", EnableAutoScale: &yes,
		AutoScaleFormula: formula, AutoScaleEvaluationInterval: &every, TaskSlotsPerNode: &slots}, nil); code != http.StatusCreated {
		t.Fatalf("add pool: %d", code)
	}
	// The first evaluation, at zero tasks, leaves the pool empty.
	pool := waitPool(t, srv.base, key, "auto", 30*time.Second, "a first autoscale run", func(p batch.Pool) bool {
		return p.AutoScaleRun != nil && p.AutoScaleRun.Error == nil
	})
	if *pool.CurrentDedicatedNodes != 0 || *pool.CurrentLowPriorityNodes != 0 {
		t.Fatalf("pool before any task: %+v", pool)
	}

	if code := call(t, srv.base, key, "POST", "/jobs", batch.Job{ID: "burst", PoolInfo: batch.PoolInformation{PoolID: "auto"}}, nil); code != http.StatusCreated {
		t.Fatalf("add job: %d", code)
	}
	log := filepath.Join(t.TempDir(), "ran.log")
	const n = 200
	for from := 0; from < n; from += 100 {
		var tasks []batch.Task
		for i := from; i < from+100; i++ {
			tasks = append(tasks, batch.Task{ID: fmt.Sprintf("t%03d", i), CommandLine: fmt.Sprintf(`/bin/sh -c "echo $AZ_BATCH_TASK_ID >> %s; sleep 0.5"`, log)})
		}
		if code := call(t, srv.base, key, "POST", "/jobs/burst/addtaskcollection", map[string]any{"value": tasks}, nil); code != http.StatusOK {
			t.Fatalf("add tasks: %d", code)
		}
	}

	// The pool grows to one dedicated and three low-priority nodes.
	waitPool(t, srv.base, key, "auto", 60*time.Second, "grown to 1 dedicated and 3 low-priority nodes", func(p batch.Pool) bool {
		return *p.CurrentDedicatedNodes == 1 && *p.CurrentLowPriorityNodes == 3
	})
	// Evict two low-priority nodes while tasks run.
	var nodes struct{ Value []batch.Node }
	if code := call(t, srv.base, key, "GET", "/pools/auto/nodes", nil, &nodes); code != http.StatusOK {
		t.Fatalf("list nodes: %d", code)
	}
	evicted := 0
	for _, nd := range nodes.Value {
		if !nd.IsDedicated && nd.State.AcceptsTasks() && evicted < 2 {
			if code := call(t, srv.base, key, "POST", "/pools/auto/nodes/"+nd.ID+"/evict", nil, nil); code != http.StatusAccepted {
				t.Fatalf("evict %s: %d", nd.ID, code)
			}
			evicted++
		}
	}
	if evicted != 2 {
		t.Fatalf("found %d low-priority nodes up to evict: %+v", evicted, nodes.Value)
	}
	// An evicted node stays listed, preempted, until it is back (the provision delay is 500ms).
	sawPreempted := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !sawPreempted; time.Sleep(20 * time.Millisecond) {
		call(t, srv.base, key, "GET", "/pools/auto/nodes", nil, &nodes)
		for _, nd := range nodes.Value {
			sawPreempted = sawPreempted || nd.State == batch.NodePreempted
		}
	}
	if !sawPreempted {
		t.Error("no node was listed as preempted after the evictions")
	}

	// Every task completes, succeeded, without an eviction counted as a retry.
	deadline := time.Now().Add(120 * time.Second)
	for {
		var counts batch.TaskCountsResult
		if code := call(t, srv.base, key, "GET", "/jobs/burst/taskcounts", nil, &counts); code == http.StatusOK && counts.TaskCounts.Completed == n {
			if counts.TaskCounts.Succeeded != n {
				t.Fatalf("counts: %+v", counts.TaskCounts)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the tasks did not all complete")
		}
		time.Sleep(200 * time.Millisecond)
	}
	var list struct{ Value []batch.Task }
	if code := call(t, srv.base, key, "GET", "/jobs/burst/tasks", nil, &list); code != http.StatusOK || len(list.Value) != n {
		t.Fatalf("list tasks: %d, %d tasks", code, len(list.Value))
	}
	requeued := 0
	for _, tk := range list.Value {
		if tk.ExecutionInfo == nil || tk.ExecutionInfo.RetryCount != 0 {
			t.Errorf("task %s: executionInfo %+v: an eviction counted as a retry", tk.ID, tk.ExecutionInfo)
			continue
		}
		requeued += int(tk.ExecutionInfo.RequeueCount)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	ran := map[string]int{}
	for _, id := range strings.Fields(string(b)) {
		ran[id]++
	}
	for _, tk := range list.Value {
		if ran[tk.ID] < 1 {
			t.Errorf("task %s never ran", tk.ID)
		}
	}
	t.Logf("%d task runs for %d tasks; %d requeues", len(strings.Fields(string(b))), n, requeued)
	if requeued == 0 {
		t.Error("no task was requeued, although two busy nodes were evicted")
	}

	// With nothing pending, the pool goes back to zero nodes.
	waitPool(t, srv.base, key, "auto", 60*time.Second, "back to zero nodes", func(p batch.Pool) bool {
		return p.AllocationState == batch.AllocationSteady && *p.CurrentDedicatedNodes == 0 && *p.CurrentLowPriorityNodes == 0 &&
			*p.TargetDedicatedNodes == 0 && *p.TargetLowPriorityNodes == 0
	})

	// The history says why.
	var history struct{ Value []batch.PoolEvent }
	if code := call(t, srv.base, key, "GET", "/pools/auto/history", nil, &history); code != http.StatusOK {
		t.Fatalf("history: %d", code)
	}
	kinds := map[batch.PoolEventKind]int{}
	for _, e := range history.Value {
		kinds[e.Kind]++
	}
	if kinds[batch.PoolEventPreempted] != 2 || kinds[batch.PoolEventAutoScale] < 2 || kinds[batch.PoolEventResize] < 2 || kinds[batch.PoolEventSteady] < 2 {
		t.Errorf("history: %v; want 2 preemptions and autoscale runs, resizes and steady states", kinds)
	}
}

// waitPool polls a pool until ok holds, and returns it.
func waitPool(t *testing.T, base string, key []byte, id string, within time.Duration, what string, ok func(batch.Pool) bool) batch.Pool {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var p batch.Pool
		if code := call(t, base, key, "GET", "/pools/"+id, nil, &p); code == http.StatusOK && p.CurrentDedicatedNodes != nil && ok(p) {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool %s: not %s within %v: %+v", id, what, within, p)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
