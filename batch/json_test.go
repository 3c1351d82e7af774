package batch

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// roundTrip decodes the sample file into a value of type T, encodes it again and checks that the
// JSON means the same as the sample (same properties and values, order aside). It returns the
// decoded value.
func roundTrip[T any](t *testing.T, file string) T {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var v T
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields() // every property of the samples has a home in the type
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: decode: %v", file, err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%s: encode: %v", file, err)
	}
	var want, got any
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(want, got) {
		pretty, _ := json.MarshalIndent(got, "", "  ")
		t.Errorf("%s: round trip differs; got\n%s", file, pretty)
	}
	return v
}

func TestJSONRoundTrip(t *testing.T) {
	// The add samples hold properties Corral refuses (see support.go); without them they are valid.
	refused := func(file string, err error, property string) {
		t.Helper()
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeUnsupportedProperty || e.Value(KeyPropertyName) != property {
			t.Errorf("%s: %v, want UnsupportedProperty %s", file, err, property)
		}
	}
	pool := roundTrip[Pool](t, "pool_add.json")
	if err := ValidatePool(pool); err != nil {
		t.Errorf("pool_add.json: %v", err)
	}
	if st := pool.StartTask; st == nil || !st.Waits() || st.MaxRetries() != 1 || st.CommandLine != "/bin/sh -c 'echo ready'" {
		t.Errorf("pool_add.json: start task decoded wrong: %+v", st)
	}
	if pool.FillType() != FillPack || pool.SlotsPerNode() != 4 || pool.ResizeTimeout.Std() != 15*time.Minute {
		t.Errorf("pool_add.json decoded wrong: %+v", pool)
	}
	got := roundTrip[Pool](t, "pool_get.json")
	if !got.AutoScale() || got.AutoScaleEvaluationInterval.Std() != 5*time.Minute ||
		got.AllocationStateTransitionTime.Nanosecond() != 250000000 {
		t.Errorf("pool_get.json decoded wrong: %+v", got)
	}

	job := roundTrip[Job](t, "job_add.json")
	refused("job_add.json", ValidateJob(job), "priority")
	vj := job
	vj.Priority, vj.MaxParallelTasks = nil, nil
	refused("job_add.json", ValidateJob(vj), "constraints.maxWallClockTime")
	vj.Constraints = &JobConstraints{MaxTaskRetryCount: job.Constraints.MaxTaskRetryCount}
	if err := ValidateJob(vj); err != nil {
		t.Errorf("job_add.json: %v", err)
	}
	jg := roundTrip[Job](t, "job_get.json")
	if jg.Constraints.MaxWallClockTime.Std() != Infinite || jg.ExecutionInfo.TerminateReason != TerminateReasonAllTasksComplete {
		t.Errorf("job_get.json decoded wrong: %+v", jg)
	}

	task := roundTrip[Task](t, "task_add.json")
	if err := ValidateTask(task, job, &pool); err != nil {
		t.Errorf("task_add.json: %v", err)
	}
	if len(task.ResourceFiles) != 1 || task.ResourceFiles[0].FilePath != "merge.sh" ||
		len(task.OutputFiles) != 1 || task.OutputFiles[0].UploadOptions.UploadCondition != UploadOnSuccess {
		t.Errorf("task_add.json decoded wrong: %+v %+v", task.ResourceFiles, task.OutputFiles)
	}
	tg := roundTrip[Task](t, "task_get.json")
	if *tg.ExecutionInfo.ExitCode != 3 || tg.ExecutionInfo.FailureInfo.Category != UserError {
		t.Errorf("task_get.json decoded wrong: %+v", tg.ExecutionInfo)
	}
	n := roundTrip[Node](t, "node_get.json")
	if !n.Schedulable() || n.RecentTasks[0].TaskState != TaskRunning {
		t.Errorf("node_get.json decoded wrong: %+v", n)
	}
	c := roundTrip[TaskCountsResult](t, "task_counts.json")
	if c.TaskCounts.Completed != 93 || c.TaskSlotCounts.Failed != 6 {
		t.Errorf("task_counts.json decoded wrong: %+v", c)
	}
}

// golden compares v, encoded as indented JSON, with testdata/file, or rewrites the file with
// -update.
func golden(t *testing.T, file string, v any) {
	t.Helper()
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, '\n')
	path := filepath.Join("testdata", file)
	if *update {
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(out, want) {
		t.Errorf("%s differs (run go test -update after checking); got\n%s", file, out)
	}
}

// load decodes a sample file.
func load[T any](t *testing.T, file string) T {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestGoldenCreated checks the resources that the add parameters become, Azure's defaults filled
// in, against golden files.
func TestGoldenCreated(t *testing.T) {
	now := time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)
	pool := NewPool(load[Pool](t, "pool_add.json"), now)
	golden(t, "pool_created.golden.json", pool)
	job := NewJob(load[Job](t, "job_add.json"), now)
	golden(t, "job_created.golden.json", job)
	task := NewTask(load[Task](t, "task_add.json"), job, now)
	golden(t, "task_created.golden.json", task)
	plain := NewTask(Task{ID: "plain", CommandLine: "/bin/true"}, NewJob(Job{ID: "j",
		PoolInfo: PoolInformation{PoolID: "p"}}, now), now)
	golden(t, "task_plain_created.golden.json", plain)
}

func TestEnumsAreCaseInsensitive(t *testing.T) {
	var j Job
	body := `{"id":"j","poolInfo":{"poolId":"p"},"onTaskFailure":"performExitOptionsJobAction",
		"onAllTasksComplete":"terminateJob","state":"Active"}`
	if err := json.Unmarshal([]byte(body), &j); err != nil {
		t.Fatal(err)
	}
	if j.OnTaskFailure != TaskFailurePerformExitOptionsJobAction || j.OnAllTasksComplete != AllCompleteTerminateJob ||
		j.State != JobActive {
		t.Fatalf("not normalized: %+v", j)
	}
	if err := ValidateJob(j); err != nil {
		t.Fatal(err)
	}
	var p Pool
	if err := json.Unmarshal([]byte(`{"taskSchedulingPolicy":{"nodeFillType":"Pack"},"state":"Active",
		"allocationState":"Steady"}`), &p); err != nil {
		t.Fatal(err)
	}
	if p.FillType() != FillPack || p.State != PoolActive || p.AllocationState != AllocationSteady {
		t.Fatalf("not normalized: %+v", p)
	}
	var task Task
	if err := json.Unmarshal([]byte(`{"state":"Completed","exitConditions":{"default":
		{"jobAction":"Terminate","dependencyAction":"Satisfy"}},"executionInfo":{"result":"Failure",
		"failureInfo":{"category":"UserError"}}}`), &task); err != nil {
		t.Fatal(err)
	}
	if task.State != TaskCompleted || task.ExitConditions.Default.JobAction != JobActionTerminate ||
		task.ExitConditions.Default.DependencyAction != DependencySatisfy ||
		task.ExecutionInfo.Result != ResultFailure || task.ExecutionInfo.FailureInfo.Category != UserError {
		t.Fatalf("not normalized: %+v", task)
	}
	var n Node
	if err := json.Unmarshal([]byte(`{"state":"WaitingForStartTask","schedulingState":"Disabled"}`), &n); err != nil {
		t.Fatal(err)
	}
	if n.State != NodeWaitingForStartTask || n.SchedulingState != SchedulingDisabled {
		t.Fatalf("not normalized: %+v", n)
	}
	var d DisableTasks
	if err := json.Unmarshal([]byte(`"Requeue"`), &d); err != nil || d != DisableRequeue || !d.Valid() {
		t.Fatalf("disableTasks: %v %q", err, d)
	}
	out, _ := json.Marshal(j)
	if !bytes.Contains(out, []byte(`"onTaskFailure":"performexitoptionsjobaction"`)) {
		t.Fatalf("not written in lower case: %s", out)
	}
}

func TestEnumValid(t *testing.T) {
	valid := []interface{ Valid() bool }{
		PoolActive, PoolDeleting, AllocationSteady, AllocationStopping, FillSpread, FillPack,
		NodeIdle, NodeUpgradingOS, NodePreempted, SchedulingEnabled, JobActive, JobDeleting,
		AllCompleteNoAction, TaskFailureNoAction, DisableWait, TaskActive, TaskCompleted,
		JobActionNone, DependencyBlock, ServerError, ResultSuccess,
	}
	for _, v := range valid {
		if !v.Valid() {
			t.Errorf("%v is not valid", v)
		}
	}
	invalid := []interface{ Valid() bool }{
		PoolState("x"), AllocationState("x"), NodeFillType("x"), NodeState("x"), SchedulingState("x"),
		JobState("x"), OnAllTasksComplete("x"), OnTaskFailure("x"), DisableTasks("x"), TaskState("x"),
		JobAction("x"), DependencyAction("x"), ErrorCategory("x"), TaskResult("x"),
	}
	for _, v := range invalid {
		if v.Valid() {
			t.Errorf("%v is valid", v)
		}
	}
}
