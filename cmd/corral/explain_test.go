package main

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"

	"corral/batch"
)

var exNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func task(id string, state batch.TaskState, deps ...string) batch.Task {
	t := batch.Task{ID: id, State: state, CommandLine: "true"}
	if len(deps) > 0 {
		t.DependsOn = &batch.TaskDependencies{TaskIDs: deps}
	}
	return t
}

func completed(t batch.Task, code int32) batch.Task {
	t.State = batch.TaskCompleted
	t.ExecutionInfo = &batch.TaskExecutionInfo{ExitCode: batch.Ptr(code), Result: batch.ResultSuccess,
		StartTime: exNow.Add(-time.Minute), EndTime: exNow.Add(-30 * time.Second)}
	if code != 0 {
		t.ExecutionInfo.Result = batch.ResultFailure
		t.ExecutionInfo.FailureInfo = &batch.FailureInfo{Category: batch.UserError, Code: batch.FailureCodeExitCode}
	}
	return t
}

func pool(nodes, slots int, alloc batch.AllocationState) *batch.Pool {
	return &batch.Pool{ID: "p", State: batch.PoolActive, AllocationState: alloc,
		TargetDedicatedNodes: batch.Ptr(int32(nodes)), CurrentDedicatedNodes: batch.Ptr(int32(nodes)), TaskSlotsPerNode: batch.Ptr(int32(slots))}
}

func node(id string, state batch.NodeState, busy int32) batch.Node {
	return batch.Node{ID: id, State: state, SchedulingState: batch.SchedulingEnabled, RunningTaskSlotsCount: busy}
}

func TestExplain(t *testing.T) {
	job := batch.Job{ID: "j", State: batch.JobActive, PoolInfo: batch.PoolInformation{PoolID: "p"}, UsesTaskDependencies: batch.Ptr(true)}
	running := task("r", batch.TaskRunning)
	running.NodeInfo = &batch.NodeInfo{PoolID: "p", NodeID: "n1"}
	running.ExecutionInfo = &batch.TaskExecutionInfo{StartTime: exNow.Add(-90 * time.Second)}
	with := func(j batch.Job, f func(*batch.Job)) batch.Job { f(&j); return j }
	slots := func(t batch.Task, n int32) batch.Task { t.RequiredSlots = &n; return t }

	tests := []struct {
		name    string
		in      explainInput
		verdict string   // a substring of the first line
		details []string // substrings of the rest
	}{
		{name: "succeeded",
			in:      explainInput{Job: job, Task: completed(task("a", ""), 0)},
			verdict: "task a of job j has completed: success (exit code 0) after running 30s",
			details: []string{"corral task output j a"}},
		{name: "failed",
			in:      explainInput{Job: job, Task: completed(task("a", ""), 3)},
			verdict: "has completed: failure (exit code 3)",
			details: []string{"corral task output j a --stderr"}},
		{name: "running",
			in:      explainInput{Job: job, Task: running, Now: exNow},
			verdict: "task r of job j is running on node n1, since 1m30s ago"},
		{name: "job disabled",
			in:      explainInput{Job: with(job, func(j *batch.Job) { j.State = batch.JobDisabled }), Task: task("a", batch.TaskActive)},
			verdict: "the job is disabled"},
		{name: "job terminating",
			in:      explainInput{Job: with(job, func(j *batch.Job) { j.State = batch.JobTerminating }), Task: task("a", batch.TaskActive)},
			verdict: "and never will: the job is terminating"},
		{name: "dependency failed",
			in: explainInput{Job: job, Task: task("b", batch.TaskActive, "a"),
				Tasks: []batch.Task{completed(task("a", ""), 2), task("b", batch.TaskActive, "a")}, Pool: pool(1, 1, batch.AllocationSteady)},
			verdict: "has not started, and never will: its dependency a failed",
			details: []string{"dependency a completed with a failure (exit code 2): that blocks b for ever", "corral job terminate j"}},
		{name: "dependency of a dependency failed",
			in: explainInput{Job: job, Task: task("c", batch.TaskActive, "b"),
				Tasks: []batch.Task{completed(task("a", ""), 1), task("b", batch.TaskActive, "a"), task("c", batch.TaskActive, "b")}},
			verdict: "never will: its dependency b failed",
			details: []string{"dependency b will never run: a dependency of its own failed"}},
		{name: "dependencies pending",
			in: explainInput{Job: job, Task: task("c", batch.TaskActive, "a", "b"),
				Tasks: []batch.Task{running, task("a", batch.TaskRunning), task("b", batch.TaskActive), task("c", batch.TaskActive, "a", "b")}},
			verdict: "it waits for dependencies a, b",
			details: []string{"dependency a is running", "dependency b has not started either (corral task explain j b)"}},
		{name: "dependency cycle",
			in: explainInput{Job: job, Task: task("a", batch.TaskActive, "b"),
				Tasks: []batch.Task{task("a", batch.TaskActive, "b"), task("b", batch.TaskActive, "a")}},
			verdict: "never will: its dependencies form a cycle: a -> b -> a"},
		{name: "no pool",
			in:      explainInput{Job: job, Task: task("a", batch.TaskActive), Tasks: []batch.Task{task("a", batch.TaskActive)}},
			verdict: "the job's pool p does not exist (create it: corral pool create p"},
		{name: "too many slots",
			in:      explainInput{Job: job, Task: slots(task("a", batch.TaskActive), 4), Pool: pool(1, 2, batch.AllocationSteady), Nodes: []batch.Node{node("n1", batch.NodeIdle, 0)}},
			verdict: "never will on this pool: it needs 4 slots and the pool's nodes have 2"},
		{name: "pool resizing",
			in:      explainInput{Job: job, Task: task("a", batch.TaskActive), Pool: pool(2, 1, batch.AllocationResizing), Nodes: []batch.Node{node("n1", batch.NodeStarting, 0)}},
			verdict: "pool p is still getting its nodes",
			details: []string{"node n1: starting, 0/1 slots busy, does not take tasks in this state"}},
		{name: "pool wants no nodes",
			in:      explainInput{Job: job, Task: task("a", batch.TaskActive), Pool: pool(0, 1, batch.AllocationSteady)},
			verdict: "pool p has no nodes and wants none"},
		{name: "nodes busy",
			in: explainInput{Job: job, Task: slots(task("a", batch.TaskActive), 2),
				Tasks: []batch.Task{task("a", batch.TaskActive), task("x", batch.TaskActive)},
				Pool:  pool(2, 2, batch.AllocationSteady), Nodes: []batch.Node{node("n1", batch.NodeRunning, 2), node("n2", batch.NodeRunning, 1)}},
			verdict: "it is ready, and waits for 2 free slots on one node (1 slot is free across the pool's nodes)",
			details: []string{"node n1: running, 2/2 slots busy", "1 other ready task of this job waits for slots too"}},
		{name: "scheduling disabled",
			in: explainInput{Job: job, Task: task("a", batch.TaskActive), Pool: pool(1, 1, batch.AllocationSteady),
				Nodes: []batch.Node{{ID: "n1", State: batch.NodeIdle, SchedulingState: batch.SchedulingDisabled}}},
			verdict: "no node of pool p takes tasks now",
			details: []string{"scheduling disabled"}},
		{name: "max parallel tasks",
			in: explainInput{Job: with(job, func(j *batch.Job) { j.MaxParallelTasks = batch.Ptr(int32(1)) }), Task: task("a", batch.TaskActive),
				Tasks: []batch.Task{task("a", batch.TaskActive), task("b", batch.TaskRunning)},
				Pool:  pool(1, 4, batch.AllocationSteady), Nodes: []batch.Node{node("n1", batch.NodeRunning, 1)}},
			verdict: "the job already runs 1 task, its maxParallelTasks"},
		{name: "room",
			in: explainInput{Job: job, Task: task("b", batch.TaskActive, "a"),
				Tasks: []batch.Task{completed(task("a", ""), 0), task("b", batch.TaskActive, "a")},
				Pool:  pool(1, 4, batch.AllocationSteady), Nodes: []batch.Node{node("n1", batch.NodeIdle, 0)}},
			verdict: "but it is ready and 1 node has room for it",
			details: []string{"all 1 dependency succeeded", "node n1: idle, 0/4 slots busy (room for this task)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			explain(&b, tt.in)
			first, rest, _ := strings.Cut(b.String(), "\n")
			if !strings.Contains(first, tt.verdict) {
				t.Errorf("verdict = %q\nwant it to contain %q", first, tt.verdict)
			}
			for _, d := range tt.details {
				if !strings.Contains(rest, d) {
					t.Errorf("details:\n%s\nwant them to contain %q", rest, d)
				}
			}
		})
	}
}

func TestBlockedTasks(t *testing.T) {
	tasks := []batch.Task{
		completed(task("a", ""), 1),
		task("b", batch.TaskActive, "a"),
		task("c", batch.TaskActive, "b"),
		completed(task("d", ""), 0),
		task("e", batch.TaskActive, "d"),
	}
	blocked, active := blockedTasks(tasks)
	if !reflect.DeepEqual(blocked, []string{"b", "c"}) || active != 3 {
		t.Errorf("blockedTasks = %v, %d; want [b c], 3", blocked, active)
	}
	// An exit condition that satisfies dependents on failure does not block them.
	a := completed(task("a", ""), 1)
	a.ExitConditions = &batch.ExitConditions{Default: &batch.ExitOptions{DependencyAction: batch.DependencySatisfy}}
	if blocked, _ := blockedTasks([]batch.Task{a, task("b", batch.TaskActive, "a")}); len(blocked) != 0 {
		t.Errorf("blocked = %v with dependencyAction satisfy", blocked)
	}
}

func TestProgress(t *testing.T) {
	k := batch.TaskCounts{Active: 25, Running: 3, Completed: 12, Succeeded: 12}
	if got, want := countsLine(k, 0), "12/40 completed, 3 running, 0 failed"; got != want {
		t.Errorf("countsLine = %q, want %q", got, want)
	}
	clock := exNow
	var lines bytes.Buffer
	p := &progress{w: &lines, now: func() time.Time { return clock }, start: exNow}
	p.update(k, 0)
	p.update(k, 0) // unchanged: no new line
	clock = clock.Add(31 * time.Second)
	p.update(k, 0) // unchanged for 30s: a line again
	k.Completed, k.Active, k.Failed = 13, 24, 1
	p.update(k, 2)
	want := "12/40 completed, 3 running, 0 failed\n12/40 completed, 3 running, 0 failed\n13/40 completed, 3 running, 1 failed, 2 blocked\n"
	if lines.String() != want {
		t.Errorf("lines:\n%s\nwant:\n%s", lines.String(), want)
	}

	var bar bytes.Buffer
	p = &progress{w: &bar, tty: true, now: func() time.Time { return exNow.Add(12 * time.Second) }, start: exNow}
	p.update(batch.TaskCounts{Active: 2, Running: 1, Completed: 1}, 0)
	p.note("a note")
	p.finish()
	want = "\r[#######>>>>>>>>...............] 1/4 completed, 1 running, 0 failed  12s\x1b[K\r\x1b[Ka note\n"
	if bar.String() != want {
		t.Errorf("bar = %q\nwant  %q", bar.String(), want)
	}
}
