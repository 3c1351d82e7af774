package batch

import (
	"testing"
	"time"
)

var t0 = time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)

// at returns t0 plus n seconds.
func at(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }

func TestTransitionTaskTable(t *testing.T) {
	all := []TaskState{TaskActive, TaskPreparing, TaskRunning, TaskCompleted}
	allowed := map[[2]TaskState]bool{
		{TaskActive, TaskPreparing}:    true,
		{TaskActive, TaskRunning}:      true,
		{TaskActive, TaskCompleted}:    true,
		{TaskPreparing, TaskRunning}:   true,
		{TaskPreparing, TaskActive}:    true,
		{TaskPreparing, TaskCompleted}: true,
		{TaskRunning, TaskActive}:      true,
		{TaskRunning, TaskCompleted}:   true,
		{TaskCompleted, TaskActive}:    true,
	}
	for _, from := range all {
		for _, to := range all {
			task := Task{ID: "t", State: from, StateTransitionTime: at(0)}
			got, err := TransitionTask(task, to, at(5))
			want := allowed[[2]TaskState{from, to}]
			if (err == nil) != want {
				t.Errorf("%s -> %s: err %v, want allowed=%v", from, to, err, want)
				continue
			}
			if err != nil {
				wantCode := CodeOperationInvalidForCurrentState
				if from == TaskCompleted {
					wantCode = CodeTaskCompleted
				}
				if CodeOf(err) != wantCode {
					t.Errorf("%s -> %s: code %s, want %s", from, to, CodeOf(err), wantCode)
				}
				continue
			}
			if got.State != to || got.PreviousState != from || !got.StateTransitionTime.Equal(at(5)) ||
				!got.PreviousStateTransitionTime.Equal(at(0)) || !got.LastModified.Equal(at(5)) {
				t.Errorf("%s -> %s: got %+v", from, to, got)
			}
			if task.State != from {
				t.Errorf("%s -> %s changed the caller's task", from, to)
			}
		}
	}
}

// newTask returns an active task as NewTask creates it, with the given retry limit.
func newTask(retries int32) Task {
	j := NewJob(Job{ID: "j", PoolInfo: PoolInformation{PoolID: "p"},
		Constraints: &JobConstraints{MaxTaskRetryCount: Ptr(retries)}}, t0)
	return NewTask(Task{ID: "t", CommandLine: "x"}, j, t0)
}

func TestNewTaskDefaults(t *testing.T) {
	task := newTask(3)
	if task.State != TaskActive || task.Slots() != 1 || RetryLimit(task) != 3 {
		t.Fatalf("defaults: %+v", task)
	}
	if task.Constraints.MaxWallClockTime.Std() != Infinite ||
		task.Constraints.RetentionTime.Std() != 7*24*time.Hour {
		t.Fatalf("constraint defaults: %+v", task.Constraints)
	}
	own := NewTask(Task{ID: "t", CommandLine: "x", Constraints: &TaskConstraints{
		MaxTaskRetryCount: Ptr(int32(1))}}, Job{}, t0)
	if RetryLimit(own) != 1 {
		t.Fatal("a task's own maxTaskRetryCount must win over the job's")
	}
}

func TestRetries(t *testing.T) {
	code := func(c int32) Exit { return Exit{Condition: ExitProcess, Code: &c} }
	tests := []struct {
		name      string
		limit     int32
		exits     []Exit
		wantRuns  int // attempts until completion
		wantRetry int32
		wantOK    bool
	}{
		{"success first time", 0, []Exit{code(0)}, 1, 0, true},
		{"no retries", 0, []Exit{code(1)}, 1, 0, false},
		{"three retries, all fail", 3, []Exit{code(1), code(2), code(3), code(4)}, 4, 3, false},
		{"three retries, second succeeds", 3, []Exit{code(1), code(0)}, 2, 1, true},
		{"unlimited", -1, []Exit{code(1), code(1), code(1), code(1), code(1), code(1), code(0)}, 7, 6, true},
		{"pre-processing error is not retried", 3, []Exit{{Condition: ExitPreProcessingError}}, 1, 0, false},
		{"upload error is not retried", 3, []Exit{{Condition: ExitFileUploadError, Code: Ptr(int32(0))}}, 1, 0, false},
		{"timeout is not retried", 3, []Exit{WallClockExit()}, 1, 0, false},
		{"termination is not retried", 3, []Exit{{Condition: ExitTerminated, Code: Ptr(int32(137))}}, 1, 0, false},
	}
	for _, tt := range tests {
		task := newTask(tt.limit)
		runs := 0
		var out Outcome
		for i, exit := range tt.exits {
			var err error
			task, err = RunTask(task, NodeInfo{NodeID: "n1"}, at(10*i))
			if err != nil {
				t.Fatalf("%s: run: %v", tt.name, err)
			}
			runs++
			task, out, err = FinishTask(task, exit, at(10*i+5))
			if err != nil {
				t.Fatalf("%s: finish: %v", tt.name, err)
			}
			if out.Completed {
				break
			}
			if !out.Retry || task.State != TaskActive {
				t.Fatalf("%s: attempt %d neither completed nor retried: %+v", tt.name, i, out)
			}
		}
		if !out.Completed || runs != tt.wantRuns || task.ExecutionInfo.RetryCount != tt.wantRetry ||
			out.Succeeded != tt.wantOK {
			t.Errorf("%s: runs %d retries %d outcome %+v; want runs %d retries %d ok %v",
				tt.name, runs, task.ExecutionInfo.RetryCount, out, tt.wantRuns, tt.wantRetry, tt.wantOK)
		}
		if task.State != TaskCompleted || !task.ExecutionInfo.EndTime.Equal(at(10*(runs-1)+5)) {
			t.Errorf("%s: not completed properly: %+v", tt.name, task.ExecutionInfo)
		}
		wantResult := ResultFailure
		if tt.wantOK {
			wantResult = ResultSuccess
		}
		if task.ExecutionInfo.Result != wantResult || (task.ExecutionInfo.FailureInfo == nil) == !tt.wantOK {
			t.Errorf("%s: result %s failureInfo %+v", tt.name, task.ExecutionInfo.Result, task.ExecutionInfo.FailureInfo)
		}
	}
}

func TestFailureInfo(t *testing.T) {
	tests := []struct {
		name     string
		exit     Exit
		category ErrorCategory
		code     string
		exitCode *int32
	}{
		{"exit code", Exit{Condition: ExitProcess, Code: Ptr(int32(2))}, UserError, FailureCodeExitCode, Ptr(int32(2))},
		{"timeout", WallClockExit(), ServerError, FailureCodeTaskEnded, Ptr(WallClockExitCode)},
		{"terminated", Exit{Condition: ExitTerminated}, UserError, FailureCodeTaskEnded, nil},
		{"pre-processing, default info", Exit{Condition: ExitPreProcessingError}, UserError, FailureCodePreProcessing, nil},
		{"pre-processing, agent's info", Exit{Condition: ExitPreProcessingError, FailureInfo: &FailureInfo{
			Code: "BlobDownloadMiscError", Message: "could not download"}}, UserError, "BlobDownloadMiscError", nil},
		{"upload error", Exit{Condition: ExitFileUploadError, Code: Ptr(int32(0))}, UserError, FailureCodeFileUpload, Ptr(int32(0))},
	}
	for _, tt := range tests {
		task, _ := RunTask(newTask(0), NodeInfo{}, at(0))
		task, out, err := FinishTask(task, tt.exit, at(1))
		if err != nil || !out.Completed || out.Succeeded {
			t.Fatalf("%s: %v %+v", tt.name, err, out)
		}
		fi := task.ExecutionInfo.FailureInfo
		if fi == nil || fi.Category != tt.category || fi.Code != tt.code {
			t.Errorf("%s: failureInfo %+v, want %s/%s", tt.name, fi, tt.category, tt.code)
		}
		got := task.ExecutionInfo.ExitCode
		if (got == nil) != (tt.exitCode == nil) || (got != nil && *got != *tt.exitCode) {
			t.Errorf("%s: exit code %v, want %v", tt.name, got, tt.exitCode)
		}
	}
}

func TestFinishTaskStates(t *testing.T) {
	zero := Ptr(int32(0))
	tests := []struct {
		state TaskState
		exit  Exit
		ok    bool
	}{
		{TaskRunning, Exit{Condition: ExitProcess, Code: zero}, true},
		{TaskActive, Exit{Condition: ExitProcess, Code: zero}, false},
		{TaskPreparing, Exit{Condition: ExitProcess, Code: zero}, false},
		{TaskCompleted, Exit{Condition: ExitProcess, Code: zero}, false},
		{TaskPreparing, Exit{Condition: ExitPreProcessingError}, true},
		{TaskActive, Exit{Condition: ExitPreProcessingError}, false},
		{TaskActive, Exit{Condition: ExitTerminated}, true},
		{TaskPreparing, Exit{Condition: ExitTerminated}, true},
		{TaskCompleted, Exit{Condition: ExitTerminated}, false},
		{TaskActive, WallClockExit(), false},
		{TaskRunning, Exit{Condition: ExitProcess}, false}, // no exit code
	}
	for _, tt := range tests {
		task := newTask(0)
		task.State = tt.state
		_, _, err := FinishTask(task, tt.exit, at(1))
		if (err == nil) != tt.ok {
			t.Errorf("%s with %s: err %v, want ok=%v", tt.state, tt.exit.Condition, err, tt.ok)
		}
	}
}

func TestRequeueIsNotARetry(t *testing.T) {
	task := newTask(1)
	task, _ = RunTask(task, NodeInfo{NodeID: "n1"}, at(0))
	task, err := RequeueTask(task, at(5))
	if err != nil {
		t.Fatal(err)
	}
	ei := task.ExecutionInfo
	if task.State != TaskActive || ei.RequeueCount != 1 || ei.RetryCount != 0 || !ei.LastRequeueTime.Equal(at(5)) {
		t.Fatalf("after requeue: %s %+v", task.State, ei)
	}
	// The requeued attempt restarts; it is not a retry.
	task, _ = RunTask(task, NodeInfo{NodeID: "n2"}, at(10))
	if !task.ExecutionInfo.LastRetryTime.IsZero() || task.NodeInfo.NodeID != "n2" {
		t.Fatalf("restart after requeue: %+v", task.ExecutionInfo)
	}
	// It fails: one retry is left.
	task, out, _ := FinishTask(task, Exit{Condition: ExitProcess, Code: Ptr(int32(1))}, at(15))
	if !out.Retry || task.ExecutionInfo.RetryCount != 1 {
		t.Fatalf("first failure: %+v %+v", out, task.ExecutionInfo)
	}
	// The retry goes through preparing: lastRetryTime is when it left the queue.
	task, _ = PrepareTask(task, NodeInfo{NodeID: "n3"}, at(20))
	task, _ = RunTask(task, NodeInfo{NodeID: "n3"}, at(25))
	if !task.ExecutionInfo.LastRetryTime.Equal(at(20)) || !task.ExecutionInfo.StartTime.Equal(at(25)) {
		t.Fatalf("retry start: %+v", task.ExecutionInfo)
	}
	// Requeued during the retry, then restarted: lastRetryTime stays.
	task, _ = RequeueTask(task, at(30))
	task, _ = RunTask(task, NodeInfo{NodeID: "n4"}, at(35))
	if !task.ExecutionInfo.LastRetryTime.Equal(at(20)) || task.ExecutionInfo.RequeueCount != 2 {
		t.Fatalf("restart of a retry: %+v", task.ExecutionInfo)
	}
	// It fails again: no retry left, even though it ran four times.
	task, out, _ = FinishTask(task, Exit{Condition: ExitProcess, Code: Ptr(int32(1))}, at(40))
	if !out.Completed || out.Succeeded || task.ExecutionInfo.RetryCount != 1 {
		t.Fatalf("final failure: %+v %+v", out, task.ExecutionInfo)
	}
	if _, err := RequeueTask(newTask(0), at(0)); CodeOf(err) != CodeOperationInvalidForCurrentState {
		t.Fatalf("requeue of an active task: %v", err)
	}
}

func TestPreparationFailureGoesBackToActive(t *testing.T) {
	task, err := PrepareTask(newTask(0), NodeInfo{NodeID: "n1"}, at(0))
	if err != nil || task.State != TaskPreparing {
		t.Fatal(err, task.State)
	}
	task, err = TransitionTask(task, TaskActive, at(1))
	if err != nil || task.State != TaskActive || task.PreviousState != TaskPreparing {
		t.Fatal(err, task.State)
	}
	if _, err := PrepareTask(Task{State: TaskRunning}, NodeInfo{}, at(2)); err == nil {
		t.Fatal("a running task was prepared")
	}
	if _, err := RunTask(Task{State: TaskCompleted}, NodeInfo{}, at(2)); err == nil {
		t.Fatal("a completed task was run")
	}
}

func TestReactivateTask(t *testing.T) {
	task, _ := RunTask(newTask(0), NodeInfo{}, at(0))
	failed, _, _ := FinishTask(task, Exit{Condition: ExitProcess, Code: Ptr(int32(3))}, at(1))
	re, err := ReactivateTask(failed, at(2))
	if err != nil {
		t.Fatal(err)
	}
	ei := re.ExecutionInfo
	if re.State != TaskActive || ei.ExitCode != nil || ei.FailureInfo != nil || ei.Result != "" ||
		!ei.EndTime.IsZero() || ei.RetryCount != 0 {
		t.Fatalf("reactivated: %s %+v", re.State, ei)
	}
	if failed.ExecutionInfo.ExitCode == nil {
		t.Fatal("ReactivateTask changed the caller's task")
	}
	ok, _, _ := FinishTask(task, Exit{Condition: ExitProcess, Code: Ptr(int32(0))}, at(1))
	if _, err := ReactivateTask(ok, at(2)); CodeOf(err) != CodeOperationInvalidForCurrentState {
		t.Fatalf("reactivating a succeeded task: %v", err)
	}
	if _, err := ReactivateTask(task, at(2)); CodeOf(err) != CodeOperationInvalidForCurrentState {
		t.Fatalf("reactivating a running task: %v", err)
	}
}

func TestWallClock(t *testing.T) {
	task := newTask(0)
	task.Constraints.MaxWallClockTime = Ptr(Duration(time.Minute))
	if _, ok := WallClockDeadline(task); ok {
		t.Fatal("an active task has a deadline")
	}
	task, _ = RunTask(task, NodeInfo{}, at(100))
	d, ok := WallClockDeadline(task)
	if !ok || !d.Equal(at(160)) {
		t.Fatalf("deadline %v %v", d, ok)
	}
	tests := []struct {
		now  time.Time
		want bool
	}{{at(100), false}, {at(159), false}, {at(160), true}, {at(1000), true}}
	for _, tt := range tests {
		if got := WallClockExceeded(task, tt.now); got != tt.want {
			t.Errorf("WallClockExceeded at %v = %v, want %v", tt.now, got, tt.want)
		}
	}
	unlimited, _ := RunTask(newTask(0), NodeInfo{}, at(0))
	if WallClockExceeded(unlimited, at(1<<30)) {
		t.Error("an unlimited task timed out")
	}
}

func TestTaskCounts(t *testing.T) {
	mk := func(s TaskState, r TaskResult, slots int32) Task {
		return Task{State: s, RequiredSlots: Ptr(slots), ExecutionInfo: &TaskExecutionInfo{Result: r}}
	}
	tasks := []Task{
		mk(TaskActive, "", 1), mk(TaskActive, "", 2), mk(TaskPreparing, "", 1), mk(TaskRunning, "", 4),
		mk(TaskCompleted, ResultSuccess, 1), mk(TaskCompleted, ResultFailure, 3),
	}
	c := Tally(tasks)
	want := TaskCountsResult{
		TaskCounts:     TaskCounts{Active: 2, Running: 2, Completed: 2, Succeeded: 1, Failed: 1},
		TaskSlotCounts: TaskCounts{Active: 3, Running: 5, Completed: 4, Succeeded: 1, Failed: 3},
	}
	if c != want {
		t.Fatalf("got %+v, want %+v", c, want)
	}
	c.Remove(tasks[0])
	c.Add(mk(TaskRunning, "", 1))
	if c.TaskCounts.Active != 1 || c.TaskCounts.Running != 3 || c.TaskSlotCounts.Running != 6 {
		t.Fatalf("after a change: %+v", c)
	}
}

// A change kept as a delta (Remove and Add on zero counts) and merged gives the counts of the
// tasks after it, as counting them again does.
func TestTaskCountsMerge(t *testing.T) {
	mk := func(s TaskState, r TaskResult, slots int32) Task {
		return Task{State: s, RequiredSlots: Ptr(slots), ExecutionInfo: &TaskExecutionInfo{Result: r}}
	}
	before := []Task{mk(TaskActive, "", 1), mk(TaskRunning, "", 2), mk(TaskCompleted, ResultFailure, 3)}
	tests := []struct {
		name string
		i    int  // the task changed, -1 for one added
		to   Task // its new value; a zero Task with State "gone" deletes it
	}{
		{"start", 0, mk(TaskRunning, "", 1)},
		{"succeed", 1, mk(TaskCompleted, ResultSuccess, 2)},
		{"requeue", 1, mk(TaskActive, "", 2)},
		{"reactivate", 2, mk(TaskActive, "", 3)},
		{"delete", 2, Task{State: "gone"}},
		{"add", -1, mk(TaskActive, "", 5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d TaskCountsResult
			after := append([]Task(nil), before...)
			if tt.i >= 0 {
				d.Remove(before[tt.i])
				after = append(after[:tt.i], after[tt.i+1:]...)
			}
			if tt.to.State != "gone" {
				d.Add(tt.to)
				after = append(after, tt.to)
			}
			c := Tally(before)
			c.Merge(d)
			if want := Tally(after); c != want {
				t.Fatalf("merged %+v, counted %+v", c, want)
			}
		})
	}
}
