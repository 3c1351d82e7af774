package autoscale

import (
	"strings"
	"time"
)

// Metric names a sampled system variable: a time series of [Sample] values that a formula reads
// through methods such as $CPUPercent.GetSample(TimeInterval_Minute * 5). A Metric's value is the
// variable's name as a formula writes it, "$" included.
type Metric string

// The sampled system variables of Azure Batch ("Read-only service-defined variables" in "Create a
// formula to automatically scale compute nodes in a Batch pool"), then Corral's extensions.
const (
	CPUPercent       Metric = "$CPUPercent"       // average CPU usage, percent
	WallClockSeconds Metric = "$WallClockSeconds" // seconds consumed
	MemoryBytes      Metric = "$MemoryBytes"      // average megabytes used (sic, Azure's doc)
	DiskBytes        Metric = "$DiskBytes"        // average gigabytes used on local disks (sic)
	DiskReadBytes    Metric = "$DiskReadBytes"    // bytes read
	DiskWriteBytes   Metric = "$DiskWriteBytes"   // bytes written
	DiskReadOps      Metric = "$DiskReadOps"      // disk read operations
	DiskWriteOps     Metric = "$DiskWriteOps"     // disk write operations
	NetworkInBytes   Metric = "$NetworkInBytes"   // inbound bytes
	NetworkOutBytes  Metric = "$NetworkOutBytes"  // outbound bytes
	SampleNodeCount  Metric = "$SampleNodeCount"  // compute nodes
	// ActiveTasks counts tasks that are ready to run but not running: active tasks whose
	// dependencies are satisfied. Tasks still waiting on dependencies are not counted (they are
	// [BlockedTasks]).
	ActiveTasks  Metric = "$ActiveTasks"
	RunningTasks Metric = "$RunningTasks" // tasks in the running state
	// PendingTasks is ActiveTasks + RunningTasks; the caller supplies it like the others.
	PendingTasks       Metric = "$PendingTasks"
	SucceededTasks     Metric = "$SucceededTasks"     // tasks that finished successfully
	FailedTasks        Metric = "$FailedTasks"        // tasks that failed
	PreemptedNodeCount Metric = "$PreemptedNodeCount" // nodes in the preempted state

	// ActiveTaskSlots is a Corral extension: $ActiveTasks weighted by each task's requiredSlots.
	ActiveTaskSlots Metric = "$ActiveTaskSlots"
	// RunningTaskSlots is a Corral extension: $RunningTasks weighted by requiredSlots.
	RunningTaskSlots Metric = "$RunningTaskSlots"
	// PendingTaskSlots is a Corral extension: $PendingTasks weighted by requiredSlots, that is
	// $ActiveTaskSlots + $RunningTaskSlots.
	PendingTaskSlots Metric = "$PendingTaskSlots"
	// BlockedTasks is a Corral extension: active tasks still waiting on their dependencies, the
	// tasks that $ActiveTasks leaves out.
	BlockedTasks Metric = "$BlockedTasks"
)

// Metrics lists every sampled system variable, Azure's first and Corral's extensions last.
var Metrics = []Metric{
	CPUPercent, WallClockSeconds, MemoryBytes, DiskBytes, DiskReadBytes, DiskWriteBytes,
	DiskReadOps, DiskWriteOps, NetworkInBytes, NetworkOutBytes, SampleNodeCount,
	ActiveTasks, RunningTasks, PendingTasks, SucceededTasks, FailedTasks, PreemptedNodeCount,
	ActiveTaskSlots, RunningTaskSlots, PendingTaskSlots, BlockedTasks,
}

// Node deallocation options, the values of $NodeDeallocationOption.
const (
	Requeue        = "requeue"
	Terminate      = "terminate"
	TaskCompletion = "taskcompletion"
	RetainedData   = "retaineddata"
)

// sysKind says what a system variable is.
type sysKind uint8

const (
	sysTargetDedicated   sysKind = iota // settable double
	sysTargetLowPriority                // settable double
	sysDeallocation                     // settable string
	sysCurrentDedicated                 // read-only double
	sysCurrentLowPriority
	sysUsableNodeCount
	sysTaskSlotsPerNode
	sysMetric // sampled: only methods may be called on it
)

// sysVar is one system variable name. Aliases ($TargetDedicated, ...) are separate entries that
// share a kind with their full name.
type sysVar struct {
	name   string // canonical spelling, "$" included
	kind   sysKind
	alias  bool
	metric Metric
}

func (v *sysVar) settable() bool {
	return v.kind == sysTargetDedicated || v.kind == sysTargetLowPriority || v.kind == sysDeallocation
}

// sysVars maps lower-cased names to system variables: Azure matches them without regard to case
// (its own REST example writes $targetDedicatedNodes).
var sysVars = func() map[string]*sysVar {
	m := map[string]*sysVar{}
	add := func(v *sysVar) { m[strings.ToLower(v.name)] = v }
	add(&sysVar{name: "$TargetDedicatedNodes", kind: sysTargetDedicated})
	add(&sysVar{name: "$TargetDedicated", kind: sysTargetDedicated, alias: true})
	add(&sysVar{name: "$TargetLowPriorityNodes", kind: sysTargetLowPriority})
	add(&sysVar{name: "$TargetLowPriority", kind: sysTargetLowPriority, alias: true})
	add(&sysVar{name: "$NodeDeallocationOption", kind: sysDeallocation})
	add(&sysVar{name: "$CurrentDedicatedNodes", kind: sysCurrentDedicated})
	// $CurrentDedicated appears in Azure's REST reference example for Pool - Evaluate Auto Scale.
	add(&sysVar{name: "$CurrentDedicated", kind: sysCurrentDedicated, alias: true})
	add(&sysVar{name: "$CurrentLowPriorityNodes", kind: sysCurrentLowPriority})
	add(&sysVar{name: "$UsableNodeCount", kind: sysUsableNodeCount})
	add(&sysVar{name: "$TaskSlotsPerNode", kind: sysTaskSlotsPerNode})
	for _, mt := range Metrics {
		add(&sysVar{name: string(mt), kind: sysMetric, metric: mt})
	}
	return m
}()

func lookupSysVar(name string) *sysVar { return sysVars[strings.ToLower(name)] }

// Time interval units. TimeInterval_Year is 365 days.
var timeIntervals = map[string]time.Duration{
	"timeinterval_zero":        0,
	"timeinterval_100ns":       100 * time.Nanosecond,
	"timeinterval_microsecond": time.Microsecond,
	"timeinterval_millisecond": time.Millisecond,
	"timeinterval_second":      time.Second,
	"timeinterval_minute":      time.Minute,
	"timeinterval_hour":        time.Hour,
	"timeinterval_day":         24 * time.Hour,
	"timeinterval_week":        7 * 24 * time.Hour,
	"timeinterval_year":        365 * 24 * time.Hour,
}

// deallocationOptions are the bare words a formula may assign to $NodeDeallocationOption
// ("$NodeDeallocationOption = taskcompletion;"). Outside that they read as strings.
var deallocationOptions = map[string]string{
	Requeue: Requeue, Terminate: Terminate, TaskCompletion: TaskCompletion, RetainedData: RetainedData,
}

// constant returns the value of a predefined name (a TimeInterval_ unit or a deallocation option),
// matched without regard to case.
func constant(name string) (value, bool) {
	l := strings.ToLower(name)
	if d, ok := timeIntervals[l]; ok {
		return intervalVal(d), true
	}
	if s, ok := deallocationOptions[l]; ok {
		return stringVal(s), true
	}
	return value{}, false
}

// timestampFields are the members of a timestamp, in the doc's order.
var timestampFields = []string{"year", "month", "day", "weekday", "hour", "minute", "second"}

func lookupField(name string) (string, bool) {
	l := strings.ToLower(name)
	for _, f := range timestampFields {
		if f == l {
			return f, true
		}
	}
	return "", false
}
