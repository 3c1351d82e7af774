package batch

import (
	"slices"
	"time"
)

// NewPool returns the pool that Pool - Add creates from the (validated) parameter p at time now,
// with Azure's defaults filled in: state active; allocation state resizing when it asks for nodes,
// else steady (an autoscale pool starts steady: the first evaluation of its formula starts the
// resize); current node counts 0; taskSlotsPerNode 1; nodeFillType spread; enableAutoScale
// false with resizeTimeout 15 minutes and target counts 0 when not given, or an evaluation interval
// of 15 minutes with autoscale. url and eTag are left to the caller.
func NewPool(p Pool, now time.Time) Pool {
	p.State = PoolActive
	p.CreationTime = now
	p.LastModified = now
	p.StateTransitionTime = now
	p.AllocationStateTransitionTime = now
	p.CurrentDedicatedNodes = Ptr(int32(0))
	p.CurrentLowPriorityNodes = Ptr(int32(0))
	p.ResizeErrors = nil
	p.AutoScaleRun = nil
	p.Metadata = slices.Clone(p.Metadata)
	if p.TaskSlotsPerNode == nil {
		p.TaskSlotsPerNode = Ptr(int32(1))
	}
	if p.TaskSchedulingPolicy == nil {
		p.TaskSchedulingPolicy = &TaskSchedulingPolicy{NodeFillType: FillSpread}
	}
	if p.EnableAutoScale == nil {
		p.EnableAutoScale = Ptr(false)
	}
	if p.AutoScale() {
		if p.AutoScaleEvaluationInterval == nil {
			p.AutoScaleEvaluationInterval = Ptr(Duration(DefaultAutoScaleEvaluationInterval))
		}
		// The first evaluation of the formula (the pool manager's) decides the targets and
		// starts the resize.
		p.AllocationState = AllocationSteady
		return p
	}
	if p.ResizeTimeout == nil {
		p.ResizeTimeout = Ptr(Duration(DefaultResizeTimeout))
	}
	if p.TargetDedicatedNodes == nil {
		p.TargetDedicatedNodes = Ptr(int32(0))
	}
	if p.TargetLowPriorityNodes == nil {
		p.TargetLowPriorityNodes = Ptr(int32(0))
	}
	p.AllocationState = AllocationSteady
	if *p.TargetDedicatedNodes > 0 || *p.TargetLowPriorityNodes > 0 {
		p.AllocationState = AllocationResizing
	}
	return p
}

// NewJob returns the job that Job - Add creates from the (validated) parameter j at time now, with
// Azure's defaults: state active; priority 0; maxParallelTasks -1; usesTaskDependencies false;
// onAllTasksComplete and onTaskFailure noaction; constraints with an unlimited maxWallClockTime and
// maxTaskRetryCount 0; executionInfo with startTime now (Azure: the job's creation) and the pool.
func NewJob(j Job, now time.Time) Job {
	j.State = JobActive
	j.PreviousState = ""
	j.PreviousStateTransitionTime = time.Time{}
	j.CreationTime = now
	j.LastModified = now
	j.StateTransitionTime = now
	if j.Priority == nil {
		j.Priority = Ptr(int32(0))
	}
	if j.MaxParallelTasks == nil {
		j.MaxParallelTasks = Ptr(int32(-1))
	}
	if j.UsesTaskDependencies == nil {
		j.UsesTaskDependencies = Ptr(false)
	}
	if j.OnAllTasksComplete == "" {
		j.OnAllTasksComplete = AllCompleteNoAction
	}
	if j.OnTaskFailure == "" {
		j.OnTaskFailure = TaskFailureNoAction
	}
	c := JobConstraints{}
	if j.Constraints != nil {
		c = *j.Constraints
	}
	if c.MaxWallClockTime == nil {
		c.MaxWallClockTime = Ptr(Duration(Infinite))
	}
	if c.MaxTaskRetryCount == nil {
		c.MaxTaskRetryCount = Ptr(int32(0))
	}
	j.Constraints = &c
	j.ExecutionInfo = &JobExecutionInfo{StartTime: now, PoolID: j.PoolInfo.PoolID}
	return j
}

// NewTask returns the task that Task - Add creates in job j from the (validated) parameter t at
// time now, with Azure's defaults: state active; requiredSlots 1; constraints with the job's
// maxTaskRetryCount, an unlimited maxWallClockTime and a retentionTime of 7 days (the defaults
// Azure documents for a task added without constraints); executionInfo with retryCount and
// requeueCount 0.
func NewTask(t Task, j Job, now time.Time) Task {
	t.State = TaskActive
	t.PreviousState = ""
	t.PreviousStateTransitionTime = time.Time{}
	t.CreationTime = now
	t.LastModified = now
	t.StateTransitionTime = now
	t.NodeInfo = nil
	if t.RequiredSlots == nil {
		t.RequiredSlots = Ptr(int32(1))
	}
	c := TaskConstraintsWithDefaults(t.Constraints, j)
	t.Constraints = &c
	t.ExecutionInfo = &TaskExecutionInfo{}
	return t
}

// TaskConstraintsWithDefaults returns c (nil: none given) with the defaults Azure documents for
// what it leaves out: an unlimited maxWallClockTime, a retentionTime of 7 days, and the
// maxTaskRetryCount of job j. Task - Add and Task - Update both apply them.
func TaskConstraintsWithDefaults(c *TaskConstraints, j Job) TaskConstraints {
	out := TaskConstraints{}
	if c != nil {
		out = *c
	}
	if out.MaxWallClockTime == nil {
		out.MaxWallClockTime = Ptr(Duration(Infinite))
	}
	if out.RetentionTime == nil {
		out.RetentionTime = Ptr(Duration(DefaultRetentionTime))
	}
	if out.MaxTaskRetryCount == nil {
		out.MaxTaskRetryCount = Ptr(j.TaskRetryLimit())
	}
	return out
}
