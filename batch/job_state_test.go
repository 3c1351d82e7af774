package batch

import (
	"testing"
	"time"
)

func TestTransitionJobTable(t *testing.T) {
	all := []JobState{JobActive, JobDisabling, JobDisabled, JobEnabling, JobTerminating, JobCompleted, JobDeleting}
	allowed := map[[2]JobState]bool{}
	for from, tos := range map[JobState][]JobState{
		JobActive:      {JobDisabling, JobTerminating, JobDeleting},
		JobDisabling:   {JobDisabled, JobTerminating, JobDeleting},
		JobDisabled:    {JobEnabling, JobTerminating, JobDeleting},
		JobEnabling:    {JobActive, JobTerminating, JobDeleting},
		JobTerminating: {JobCompleted, JobDeleting},
		JobCompleted:   {JobDeleting},
	} {
		for _, to := range tos {
			allowed[[2]JobState{from, to}] = true
		}
	}
	for _, from := range all {
		for _, to := range all {
			j := Job{ID: "j", State: from, StateTransitionTime: at(0)}
			got, err := TransitionJob(j, to, at(1))
			if want := allowed[[2]JobState{from, to}]; (err == nil) != want {
				t.Errorf("%s -> %s: err %v, want allowed=%v", from, to, err, want)
				continue
			}
			if err == nil && (got.State != to || got.PreviousState != from ||
				!got.StateTransitionTime.Equal(at(1)) || !got.PreviousStateTransitionTime.Equal(at(0))) {
				t.Errorf("%s -> %s: got %+v", from, to, got)
			}
		}
	}
	codes := []struct {
		from JobState
		to   JobState
		code string
	}{
		{JobCompleted, JobActive, CodeJobCompleted},
		{JobTerminating, JobDisabling, CodeJobBeingTerminated},
		{JobDeleting, JobActive, CodeJobBeingDeleted},
		{JobDisabled, JobDisabling, CodeJobNotActive},
		{JobActive, JobCompleted, CodeOperationInvalidForCurrentState},
	}
	for _, c := range codes {
		_, err := TransitionJob(Job{State: c.from}, c.to, at(0))
		if CodeOf(err) != c.code {
			t.Errorf("%s -> %s: %v, want %s", c.from, c.to, err, c.code)
		}
	}
}

func TestTerminateAndCompleteJob(t *testing.T) {
	j := NewJob(Job{ID: "j", PoolInfo: PoolInformation{PoolID: "p"}}, at(0))
	term, err := TerminateJob(j, "", at(1))
	if err != nil || term.State != JobTerminating || term.ExecutionInfo.TerminateReason != TerminateReasonUserTerminate {
		t.Fatalf("terminate: %v %+v", err, term.ExecutionInfo)
	}
	if j.ExecutionInfo.TerminateReason != "" {
		t.Fatal("TerminateJob changed the caller's job")
	}
	done, err := CompleteJob(term, at(2))
	if err != nil || done.State != JobCompleted || !done.ExecutionInfo.EndTime.Equal(at(2)) ||
		!done.ExecutionInfo.StartTime.Equal(at(0)) || done.ExecutionInfo.PoolID != "p" {
		t.Fatalf("complete: %v %+v", err, done.ExecutionInfo)
	}
	if _, err := CompleteJob(j, at(2)); err == nil {
		t.Fatal("an active job completed without terminating")
	}
	own, _ := TerminateJob(j, "done by hand", at(1))
	if own.ExecutionInfo.TerminateReason != "done by hand" {
		t.Fatal("user reason lost")
	}
	if _, err := TerminateJob(done, "", at(3)); CodeOf(err) != CodeJobCompleted {
		t.Fatalf("terminating a completed job: %v", err)
	}
}

func TestNewJobDefaults(t *testing.T) {
	j := NewJob(Job{ID: "j", PoolInfo: PoolInformation{PoolID: "p"}}, at(0))
	if j.State != JobActive || *j.Priority != 0 || j.MaxParallel() != -1 || j.UsesDependencies() ||
		j.OnAllTasksComplete != AllCompleteNoAction || j.OnTaskFailure != TaskFailureNoAction ||
		j.Constraints.MaxWallClockTime.Std() != Infinite || j.TaskRetryLimit() != 0 ||
		!j.ExecutionInfo.StartTime.Equal(at(0)) {
		t.Fatalf("defaults: %+v", j)
	}
}

func TestReactToTaskCompletion(t *testing.T) {
	perform := Job{OnTaskFailure: TaskFailurePerformExitOptionsJobAction, State: JobActive}
	tests := []struct {
		name string
		job  Job
		opts ExitOptions
		want JobReaction
	}{
		{"noaction ignores terminate", Job{State: JobActive}, ExitOptions{JobAction: JobActionTerminate},
			JobReaction{Action: JobActionNone}},
		{"terminate", perform, ExitOptions{JobAction: JobActionTerminate},
			JobReaction{Action: JobActionTerminate, TerminateReason: TerminateReasonTaskFailed}},
		{"disable", perform, ExitOptions{JobAction: JobActionDisable},
			JobReaction{Action: JobActionDisable, DisableTasks: DisableRequeue}},
		{"none", perform, ExitOptions{JobAction: JobActionNone}, JobReaction{Action: JobActionNone}},
		{"default failure options terminate", perform, EffectiveExitOptions(nil, Exit{Condition: ExitProcess, Code: Ptr(int32(1))}),
			JobReaction{Action: JobActionTerminate, TerminateReason: TerminateReasonTaskFailed}},
		{"default success options do nothing", perform, EffectiveExitOptions(nil, Exit{Condition: ExitProcess, Code: Ptr(int32(0))}),
			JobReaction{Action: JobActionNone}},
		{"already terminating", Job{OnTaskFailure: TaskFailurePerformExitOptionsJobAction, State: JobTerminating},
			ExitOptions{JobAction: JobActionTerminate}, JobReaction{Action: JobActionNone}},
		{"disable a disabled job", Job{OnTaskFailure: TaskFailurePerformExitOptionsJobAction, State: JobDisabled},
			ExitOptions{JobAction: JobActionDisable}, JobReaction{Action: JobActionNone}},
		{"terminate a disabled job", Job{OnTaskFailure: TaskFailurePerformExitOptionsJobAction, State: JobDisabled},
			ExitOptions{JobAction: JobActionTerminate},
			JobReaction{Action: JobActionTerminate, TerminateReason: TerminateReasonTaskFailed}},
	}
	for _, tt := range tests {
		if got := ReactToTaskCompletion(tt.job, tt.opts); got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestAllTasksComplete(t *testing.T) {
	term := Job{OnAllTasksComplete: AllCompleteTerminateJob, State: JobActive}
	tests := []struct {
		name   string
		job    Job
		counts TaskCounts
		want   bool
	}{
		{"no tasks at all", term, TaskCounts{}, true},
		{"all completed", term, TaskCounts{Completed: 5, Succeeded: 4, Failed: 1}, true},
		{"one active", term, TaskCounts{Active: 1, Completed: 5}, false},
		{"one running", term, TaskCounts{Running: 1, Completed: 5}, false},
		{"noaction", Job{State: JobActive}, TaskCounts{Completed: 5}, false},
		{"disabled job", Job{OnAllTasksComplete: AllCompleteTerminateJob, State: JobDisabled}, TaskCounts{}, false},
	}
	for _, tt := range tests {
		if got := AllTasksComplete(tt.job, tt.counts); got != tt.want {
			t.Errorf("%s: got %v", tt.name, got)
		}
	}
}

func TestJobWallClock(t *testing.T) {
	j := NewJob(Job{ID: "j", PoolInfo: PoolInformation{PoolID: "p"}}, at(0))
	if JobWallClockExpired(j, at(1<<30)) {
		t.Fatal("unlimited job expired")
	}
	j.Constraints.MaxWallClockTime = Ptr(Duration(time.Hour))
	if JobWallClockExpired(j, at(3599)) || !JobWallClockExpired(j, at(3600)) {
		t.Fatal("wrong expiry")
	}
	j.State = JobTerminating
	if JobWallClockExpired(j, at(7200)) {
		t.Fatal("a terminating job expired again")
	}
}

func TestCanAddTask(t *testing.T) {
	for s, code := range map[JobState]string{
		JobActive: "", JobDisabled: "", JobCompleted: CodeJobCompleted,
		JobTerminating: CodeJobBeingTerminated, JobDeleting: CodeJobBeingDeleted,
	} {
		if got := CodeOf(CanAddTask(Job{State: s})); got != code {
			t.Errorf("%s: %q, want %q", s, got, code)
		}
	}
}

func TestPoolAllocation(t *testing.T) {
	p := NewPool(Pool{ID: "p", VMSize: "s", TargetDedicatedNodes: Ptr(int32(3))}, at(0))
	if p.AllocationState != AllocationResizing || *p.TaskSlotsPerNode != 1 || p.FillType() != FillSpread ||
		p.ResizeTimeout.Std() != 15*time.Minute || *p.TargetLowPriorityNodes != 0 || *p.CurrentDedicatedNodes != 0 {
		t.Fatalf("defaults: %+v", p)
	}
	if CodeOf(CanResize(p)) != CodePoolBeingResized {
		t.Fatal("resize during a resize")
	}
	if _, err := TransitionAllocation(p, AllocationResizing, at(1)); CodeOf(err) != CodePoolBeingResized {
		t.Fatalf("resizing twice: %v", err)
	}
	p, err := TransitionAllocation(p, AllocationStopping, at(1))
	if err != nil {
		t.Fatal(err)
	}
	p, err = TransitionAllocation(p, AllocationSteady, at(2))
	if err != nil || !p.AllocationStateTransitionTime.Equal(at(2)) || CanResize(p) != nil {
		t.Fatal(err, p.AllocationState)
	}
	if _, err := TransitionAllocation(p, AllocationStopping, at(3)); CodeOf(err) != CodeOperationInvalidForCurrentState {
		t.Fatalf("stopping a steady pool: %v", err)
	}
	empty := NewPool(Pool{ID: "q", VMSize: "s", TargetDedicatedNodes: Ptr(int32(0))}, at(0))
	if empty.AllocationState != AllocationSteady {
		t.Fatal("an empty pool is resizing")
	}
	auto := NewPool(Pool{ID: "a", VMSize: "s", EnableAutoScale: Ptr(true), AutoScaleFormula: "$x=1;"}, at(0))
	if auto.AutoScaleEvaluationInterval.Std() != 15*time.Minute || auto.TargetDedicatedNodes != nil ||
		CodeOf(CanResize(auto)) != CodeOperationInvalidForCurrentState {
		t.Fatalf("autoscale pool: %+v", auto)
	}
	del, err := DeletePool(p, at(4))
	if err != nil || del.State != PoolDeleting {
		t.Fatal(err)
	}
	if _, err := TransitionAllocation(del, AllocationResizing, at(5)); CodeOf(err) != CodePoolBeingDeleted {
		t.Fatalf("resizing a deleted pool: %v", err)
	}
	if _, err := DeletePool(del, at(5)); CodeOf(err) != CodePoolBeingDeleted {
		t.Fatal("deleted twice")
	}
	n := SetNodeState(Node{State: NodeIdle, StateTransitionTime: at(0)}, NodeRunning, at(7))
	if !n.StateTransitionTime.Equal(at(7)) || !n.Schedulable() {
		t.Fatal("node state")
	}
	n.SchedulingState = SchedulingDisabled
	if n.Schedulable() {
		t.Fatal("a node with scheduling disabled is schedulable")
	}
}
