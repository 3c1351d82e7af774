package batch

import (
	"testing"
	"time"
)

func TestEffectiveExitOptions(t *testing.T) {
	code := func(c int32) *int32 { return &c }
	proc := func(c int32) Exit { return Exit{Condition: ExitProcess, Code: code(c)} }
	success := ExitOptions{JobActionNone, DependencySatisfy}
	failure := ExitOptions{JobActionTerminate, DependencyBlock}
	full := &ExitConditions{
		ExitCodes: []ExitCodeMapping{
			{Code: 0, ExitOptions: ExitOptions{JobAction: JobActionTerminate}},
			{Code: 3, ExitOptions: ExitOptions{DependencyAction: DependencySatisfy}},
			{Code: 4, ExitOptions: ExitOptions{JobAction: JobActionDisable, DependencyAction: DependencyBlock}},
		},
		ExitCodeRanges: []ExitCodeRangeMapping{
			{Start: 3, End: 10, ExitOptions: ExitOptions{JobAction: JobActionNone}},
			{Start: 8, End: 20, ExitOptions: ExitOptions{JobAction: JobActionDisable}},
			{Start: -5, End: -1, ExitOptions: ExitOptions{DependencyAction: DependencySatisfy}},
		},
		PreProcessingError: &ExitOptions{JobAction: JobActionNone},
		FileUploadError:    &ExitOptions{DependencyAction: DependencySatisfy},
		Default:            &ExitOptions{JobAction: JobActionDisable, DependencyAction: DependencySatisfy},
	}
	onlyDefault := &ExitConditions{Default: &ExitOptions{DependencyAction: DependencySatisfy}}
	tests := []struct {
		name string
		ec   *ExitConditions
		exit Exit
		want ExitOptions
	}{
		{"no conditions, exit 0", nil, proc(0), success},
		{"no conditions, exit 1", nil, proc(1), failure},
		{"no conditions, exit -1", nil, proc(-1), failure},
		{"no conditions, pre-processing", nil, Exit{Condition: ExitPreProcessingError}, failure},
		{"no conditions, upload after 0", nil, Exit{Condition: ExitFileUploadError, Code: code(0)}, failure},
		{"no conditions, timeout", nil, WallClockExit(), failure},
		{"no conditions, terminated", nil, Exit{Condition: ExitTerminated}, failure},
		{"empty conditions, exit 0", &ExitConditions{}, proc(0), success},
		{"empty conditions, exit 2", &ExitConditions{}, proc(2), failure},
		{"exit 0 listed: missing field takes the exit-0 default", full, proc(0),
			ExitOptions{JobActionTerminate, DependencySatisfy}},
		{"exit 3 listed in exitCodes wins over ranges", full, proc(3),
			ExitOptions{JobActionTerminate, DependencySatisfy}},
		{"exit 4 listed", full, proc(4), ExitOptions{JobActionDisable, DependencyBlock}},
		{"exit 9: first matching range", full, proc(9), ExitOptions{JobActionNone, DependencyBlock}},
		{"exit 15: second range", full, proc(15), ExitOptions{JobActionDisable, DependencyBlock}},
		{"exit -3: negative range", full, proc(-3), ExitOptions{JobActionTerminate, DependencySatisfy}},
		{"exit 99: default", full, proc(99), ExitOptions{JobActionDisable, DependencySatisfy}},
		{"only default, exit 0 is not covered", onlyDefault, proc(0), success},
		{"only default, exit 1 fills job action", onlyDefault, proc(1),
			ExitOptions{JobActionTerminate, DependencySatisfy}},
		{"pre-processing error listed", full, Exit{Condition: ExitPreProcessingError},
			ExitOptions{JobActionNone, DependencyBlock}},
		{"pre-processing error falls to default", onlyDefault, Exit{Condition: ExitPreProcessingError},
			ExitOptions{JobActionTerminate, DependencySatisfy}},
		{"upload error after listed code: code wins", full,
			Exit{Condition: ExitFileUploadError, Code: code(4)}, ExitOptions{JobActionDisable, DependencyBlock}},
		{"upload error after listed 0: code wins with failure defaults", full,
			Exit{Condition: ExitFileUploadError, Code: code(0)}, ExitOptions{JobActionTerminate, DependencyBlock}},
		{"upload error after unlisted code", full, Exit{Condition: ExitFileUploadError, Code: code(99)},
			ExitOptions{JobActionTerminate, DependencySatisfy}},
		{"upload error falls to default", onlyDefault,
			Exit{Condition: ExitFileUploadError, Code: code(0)}, ExitOptions{JobActionTerminate, DependencySatisfy}},
		{"timeout matched by its exit code", &ExitConditions{ExitCodes: []ExitCodeMapping{
			{Code: WallClockExitCode, ExitOptions: ExitOptions{DependencyAction: DependencySatisfy}}}},
			WallClockExit(), ExitOptions{JobActionTerminate, DependencySatisfy}},
		{"timeout falls to default", full, WallClockExit(), ExitOptions{JobActionDisable, DependencySatisfy}},
		{"terminated before running uses default", full, Exit{Condition: ExitTerminated},
			ExitOptions{JobActionDisable, DependencySatisfy}},
		{"terminated process with exit 0 is a failure", nil,
			Exit{Condition: ExitTerminated, Code: code(0)}, failure},
	}
	for _, tt := range tests {
		if got := EffectiveExitOptions(tt.ec, tt.exit); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestRecordedExit(t *testing.T) {
	ec := &ExitConditions{
		PreProcessingError: &ExitOptions{DependencyAction: DependencySatisfy},
		FileUploadError:    &ExitOptions{DependencyAction: DependencySatisfy},
	}
	finish := func(exit Exit) Task {
		t.Helper()
		task, _, err := FinishTask(Task{ID: "t", State: TaskRunning, ExitConditions: ec, ExecutionInfo: &TaskExecutionInfo{}}, exit, time.Unix(1, 0))
		if err != nil {
			t.Fatal(err)
		}
		return task
	}
	zero, one := int32(0), int32(1)
	for _, exit := range []Exit{
		{Condition: ExitProcess, Code: &zero},
		{Condition: ExitProcess, Code: &one},
		{Condition: ExitPreProcessingError, FailureInfo: &FailureInfo{Code: "BlobNotFound"}},
		{Condition: ExitFileUploadError, Code: &zero, FailureInfo: &FailureInfo{Code: FailureCodeFileUploadContainerNotFound}},
		{Condition: ExitFileUploadError, Code: &one},
		WallClockExit(),
	} {
		task := finish(exit)
		want := EffectiveExitOptions(ec, exit)
		if got := EffectiveExitOptions(ec, RecordedExit(task)); got != want {
			t.Errorf("%v: options from the record %+v, at completion %+v", exit.Condition, got, want)
		}
	}
}
