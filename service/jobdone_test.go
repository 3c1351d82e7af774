package service

import (
	"reflect"
	"testing"
	"time"

	"corral/actor/systest"
	"corral/batch"
)

// A job manager keeps its completed tasks small and reads a record back when a request needs it
// (jobdone.go). Tasks fail now and then (a failure blocks their dependents); once the first ones
// have completed, tasks are added that depend on them, and completed tasks are updated,
// terminated, deleted (t6, which nothing depends on: eventuallyDone would wait for the dependents
// of a task deleted before it completed) and reactivated, through a crash of the service, a store that fails, and
// lost and late messages. The dependents of a completed task run exactly when it satisfied them
// (depsFirst, eventuallyDone), a reactivated task runs again, and the counts stay right.
func TestCompletedTasksKeptSmall(t *testing.T) {
	three := int32(3)
	dep := func(id string, on ...string) batch.Task {
		return batch.Task{ID: id, CommandLine: "/bin/true", DependsOn: &batch.TaskDependencies{TaskIDs: on}}
	}
	program := countsProgram(true, 0, []int{0, 1},
		pause{Max: 3 * time.Second},
		AddTasks{JobID: "j1", Tasks: []batch.Task{dep("t7", "t1"), dep("t8", "t4", "t5"), dep("t9", "t2", "t3")}},
		UpdateTask{JobID: "j1", TaskID: "t2", Constraints: &batch.TaskConstraints{MaxTaskRetryCount: &three}},
		TerminateTask{JobID: "j1", TaskID: "t3"},
		DeleteTask{JobID: "j1", TaskID: "t6"},
		ReactivateTask{JobID: "j1", TaskID: "t1"},
		pause{Max: 2 * time.Second},
		AddTasks{JobID: "j1", Tasks: []batch.Task{dep("t10", "t1", "t7")}},
	)
	systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 4000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{ModelFailures: 2, Crashes: 1, CrashHosts: []string{"service"}, Drops: 1, Delays: 1}}, func(s *systest.Sim) {
		s.Monitor(&reactivatedRunsAgain{})
		program(s)
	})
}

// A task that has not run is held, and may be written, without its empty executionInfo
// (neverRan); the API shows one all the same, and a task that ran keeps its own.
func TestNeverRanKeepsExecutionInfoInView(t *testing.T) {
	code := int32(3)
	ran := &batch.TaskExecutionInfo{ExitCode: &code, Result: batch.ResultFailure}
	for _, tc := range []struct {
		name    string
		task    batch.Task
		dropped bool
	}{
		{"added", batch.Task{ID: "a", State: batch.TaskActive, ExecutionInfo: &batch.TaskExecutionInfo{}}, true},
		{"retried", batch.Task{ID: "b", State: batch.TaskActive, ExecutionInfo: &batch.TaskExecutionInfo{RetryCount: 1}}, false},
		{"completed", batch.Task{ID: "c", State: batch.TaskCompleted, ExecutionInfo: ran}, false},
		{"none", batch.Task{ID: "d", State: batch.TaskActive}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task := tc.task
			neverRan(&task)
			if got := task.ExecutionInfo == nil; got != tc.dropped {
				t.Fatalf("executionInfo dropped: %v, want %v", got, tc.dropped)
			}
			v := taskRecord{Task: task}.view(7)
			if v.ExecutionInfo == nil {
				t.Fatal("the view has no executionInfo")
			}
			if tc.task.ExecutionInfo != nil && !reflect.DeepEqual(*v.ExecutionInfo, *tc.task.ExecutionInfo) {
				t.Fatalf("the view's executionInfo is %+v, want %+v", *v.ExecutionInfo, *tc.task.ExecutionInfo)
			}
		})
	}
}
