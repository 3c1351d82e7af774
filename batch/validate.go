package batch

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits Azure Batch documents for the properties validated here.
const (
	// MaxTaskSlotsPerNode is the largest taskSlotsPerNode (Azure: the smaller of 256 and four
	// times the VM size's cores; Corral checks 256 only).
	MaxTaskSlotsPerNode = 256
	// MaxAutoScaleFormulaLength is the longest autoscale formula, in characters.
	MaxAutoScaleFormulaLength = 8192
	// MinAutoScaleEvaluationInterval and MaxAutoScaleEvaluationInterval bound
	// autoScaleEvaluationInterval; the default is DefaultAutoScaleEvaluationInterval.
	MinAutoScaleEvaluationInterval     = 5 * time.Minute
	MaxAutoScaleEvaluationInterval     = 168 * time.Hour
	DefaultAutoScaleEvaluationInterval = 15 * time.Minute
	// MinResizeTimeout bounds resizeTimeout from below; the default is DefaultResizeTimeout.
	MinResizeTimeout     = 5 * time.Minute
	DefaultResizeTimeout = 15 * time.Minute
	// MinPriority and MaxPriority bound a job's priority.
	MinPriority = -1000
	MaxPriority = 1000
	// MaxDependencyIDsLength is the most characters dependsOn.taskIds may hold in total.
	MaxDependencyIDsLength = 64000
	// DefaultRetentionTime is how long a task's directory is kept after it completes.
	DefaultRetentionTime = 7 * 24 * time.Hour
)

// checkDisplayName checks the length of a display name (any Unicode, up to 1024 characters).
func checkDisplayName(name string) *Error {
	if utf8.RuneCountInString(name) > MaxDisplayNameLength {
		return invalid("displayName", name, "a display name has at most 1024 characters")
	}
	return nil
}

// checkMetadata checks that every metadata item has a name.
func checkMetadata(items []MetadataItem) *Error {
	for i, m := range items {
		if m.Name == "" {
			return &Error{
				Code:    CodeEmptyMetadataKey,
				Message: "A metadata item has an empty name.",
				Values:  []KV{{KeyPropertyName, "metadata[" + strconv.Itoa(i) + "].name"}},
			}
		}
	}
	return nil
}

// checkEnvironment checks that every environment setting can be set in a process's
// environment: a name that is not empty and holds no '=' or NUL (the name ends at the first '='
// of NAME=value, and the environment block at a NUL), and a value without NUL. Such a setting
// would otherwise be accepted and then fail every attempt on the node.
func checkEnvironment(property string, env []EnvironmentSetting) *Error {
	for i, e := range env {
		p := property + "[" + strconv.Itoa(i) + "]"
		switch {
		case e.Name == "":
			return missing(p + ".name")
		case strings.ContainsRune(e.Name, '='):
			return invalid(p+".name", e.Name, "an environment variable name cannot contain '='")
		case strings.ContainsRune(e.Name, 0):
			return invalid(p+".name", strconv.Quote(e.Name), "an environment variable name cannot contain a NUL character")
		case strings.ContainsRune(e.Value, 0):
			return invalid(p+".value", strconv.Quote(e.Value), "an environment variable value cannot contain a NUL character")
		}
	}
	return nil
}

// TaskEnvironment returns the environment settings a task of job j runs with: the job's
// commonEnvironmentSettings, then the task's environmentSettings. A name set in both takes the
// task's value, as Azure documents ("Individual Tasks can override an environment setting
// specified here by specifying the same setting name with a different value"); the node agent
// applies the list in order, a later setting of a name replacing an earlier one.
func TaskEnvironment(j Job, t Task) []EnvironmentSetting {
	if len(j.CommonEnvironmentSettings) == 0 {
		return t.EnvironmentSettings
	}
	out := make([]EnvironmentSetting, 0, len(j.CommonEnvironmentSettings)+len(t.EnvironmentSettings))
	out = append(out, j.CommonEnvironmentSettings...)
	return append(out, t.EnvironmentSettings...)
}

// minutes writes a duration for people: "5 minutes", or "2s" if it is not whole minutes.
func minutes(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + " minutes"
	}
	return d.String()
}

// itoa formats an int32 for error details.
func itoa(v int32) string { return strconv.FormatInt(int64(v), 10) }

// ValidatePool checks a pool as given to Pool - Add, by Azure's rules, and returns the first
// problem as an *Error (nil error when the pool is valid):
//
//   - id is a valid ID; vmSize is given; displayName has at most 1024 characters;
//   - taskSlotsPerNode is 1..256; nodeFillType is spread or pack; target node counts are >= 0;
//   - with enableAutoScale, autoScaleFormula is required (at most 8192 characters), the target
//     node counts must not be given, and autoScaleEvaluationInterval is 5 minutes..168 hours;
//   - without it, at least one target node count is required and autoScaleFormula and
//     autoScaleEvaluationInterval must not be given;
//   - resizeTimeout is at least 5 minutes; metadata items have names;
//   - nothing Corral does not implement is asked for (UnsupportedProperty, see
//     [UnsupportedPoolProperties]).
func ValidatePool(p Pool) error { return ValidatePoolWith(p, MinAutoScaleEvaluationInterval) }

// ValidatePoolWith is ValidatePool with another lower bound for autoScaleEvaluationInterval
// (Corral allows shorter intervals for development; see corral server --autoscale-min-interval).
func ValidatePoolWith(p Pool, minEvaluationInterval time.Duration) error {
	if err := validateID("id", p.ID); err != nil {
		return err
	}
	if err := checkDisplayName(p.DisplayName); err != nil {
		return err
	}
	if p.VMSize == "" {
		return missing("vmSize")
	}
	if err := checkPoolSupported(p); err != nil {
		return err
	}
	if err := ValidateStartTask(p.StartTask); err != nil {
		return err
	}
	if s := p.TaskSlotsPerNode; s != nil && (*s < 1 || *s > MaxTaskSlotsPerNode) {
		return invalid("taskSlotsPerNode", itoa(*s), "taskSlotsPerNode must be between 1 and 256")
	}
	if tp := p.TaskSchedulingPolicy; tp != nil {
		if tp.NodeFillType == "" {
			return missing("taskSchedulingPolicy.nodeFillType")
		}
		if !tp.NodeFillType.Valid() {
			return invalid("taskSchedulingPolicy.nodeFillType", string(tp.NodeFillType),
				"nodeFillType is spread or pack")
		}
	}
	if n := p.TargetDedicatedNodes; n != nil && *n < 0 {
		return invalid("targetDedicatedNodes", itoa(*n), "a node count cannot be negative")
	}
	if n := p.TargetLowPriorityNodes; n != nil && *n < 0 {
		return invalid("targetLowPriorityNodes", itoa(*n), "a node count cannot be negative")
	}
	autoscaleConflict := func(property, value, reason string) error {
		return invalidCode(CodeInvalidAutoScalingSettings, property, value, reason)
	}
	if p.AutoScale() {
		if p.TargetDedicatedNodes != nil {
			return autoscaleConflict("targetDedicatedNodes", itoa(*p.TargetDedicatedNodes),
				"targetDedicatedNodes must not be specified when enableAutoScale is true")
		}
		if p.TargetLowPriorityNodes != nil {
			return autoscaleConflict("targetLowPriorityNodes", itoa(*p.TargetLowPriorityNodes),
				"targetLowPriorityNodes must not be specified when enableAutoScale is true")
		}
		if p.AutoScaleFormula == "" {
			return missing("autoScaleFormula")
		}
		if utf8.RuneCountInString(p.AutoScaleFormula) > MaxAutoScaleFormulaLength {
			return &Error{
				Code:    CodeAutoScaleFormulaTooLong,
				Message: "The autoscale formula is longer than 8192 characters.",
				Values:  []KV{{KeyPropertyName, "autoScaleFormula"}},
			}
		}
		if iv := p.AutoScaleEvaluationInterval; iv != nil &&
			(iv.Std() < minEvaluationInterval || iv.Std() > MaxAutoScaleEvaluationInterval) {
			return invalid("autoScaleEvaluationInterval", iv.String(),
				"autoScaleEvaluationInterval must be between "+minutes(minEvaluationInterval)+" and 168 hours")
		}
	} else {
		if p.AutoScaleFormula != "" {
			return autoscaleConflict("autoScaleFormula", p.AutoScaleFormula,
				"autoScaleFormula must not be specified when enableAutoScale is false")
		}
		if p.AutoScaleEvaluationInterval != nil {
			return autoscaleConflict("autoScaleEvaluationInterval",
				p.AutoScaleEvaluationInterval.String(),
				"autoScaleEvaluationInterval must not be specified when enableAutoScale is false")
		}
		if p.TargetDedicatedNodes == nil && p.TargetLowPriorityNodes == nil {
			return missing("targetDedicatedNodes")
		}
	}
	if rt := p.ResizeTimeout; rt != nil && rt.Std() < MinResizeTimeout {
		return invalid("resizeTimeout", rt.String(), "resizeTimeout must be at least 5 minutes")
	}
	if err := checkMetadata(p.Metadata); err != nil {
		return err
	}
	return nil
}

// ValidateJob checks a job as given to Job - Add, by Azure's rules, and returns the first problem
// as an *Error: a valid id; displayName length; priority -1000..1000 (OutOfRangePriority);
// maxParallelTasks -1 or > 0; constraints (maxTaskRetryCount >= -1, maxWallClockTime > 0:
// InvalidConstraintValue); poolInfo.poolId required and valid; onAllTasksComplete and
// onTaskFailure known values; metadata and environment settings. What Corral does not implement
// (an autoPoolSpecification, a jobManagerTask, a priority…: see [UnsupportedJobProperties]) is
// refused with UnsupportedProperty.
func ValidateJob(j Job) error {
	if err := validateID("id", j.ID); err != nil {
		return err
	}
	if err := checkDisplayName(j.DisplayName); err != nil {
		return err
	}
	if p := j.Priority; p != nil && (*p < MinPriority || *p > MaxPriority) {
		return invalidCode(CodeOutOfRangePriority, "priority", itoa(*p),
			"priority must be between -1000 and 1000")
	}
	if m := j.MaxParallelTasks; m != nil && *m != -1 && *m < 1 {
		return invalid("maxParallelTasks", itoa(*m), "maxParallelTasks must be -1 or greater than 0")
	}
	if c := j.Constraints; c != nil {
		if r := c.MaxTaskRetryCount; r != nil && *r < -1 {
			return invalidCode(CodeInvalidConstraintValue, "constraints.maxTaskRetryCount", itoa(*r),
				"maxTaskRetryCount must be -1 (no limit) or greater")
		}
		if w := c.MaxWallClockTime; w != nil && w.Std() <= 0 {
			return invalidCode(CodeInvalidConstraintValue, "constraints.maxWallClockTime", w.String(),
				"maxWallClockTime must be positive")
		}
	}
	if err := checkJobSupported(j); err != nil {
		return err
	}
	if err := validateJobPrep(j.JobPreparationTask, j.JobReleaseTask); err != nil {
		return err
	}
	if err := validateID("poolInfo.poolId", j.PoolInfo.PoolID); err != nil {
		return err
	}
	if v := j.OnAllTasksComplete; v != "" && !v.Valid() {
		return invalid("onAllTasksComplete", string(v),
			"onAllTasksComplete is noaction or terminatejob")
	}
	if v := j.OnTaskFailure; v != "" && !v.Valid() {
		return invalid("onTaskFailure", string(v),
			"onTaskFailure is noaction or performexitoptionsjobaction")
	}
	if err := checkEnvironment("commonEnvironmentSettings", j.CommonEnvironmentSettings); err != nil {
		return err
	}
	if err := checkMetadata(j.Metadata); err != nil {
		return err
	}
	return nil
}

// ValidateTask checks a task as given to Task - Add (or Add Task Collection) to job j, whose pool
// is pool (nil when it is not known: then requiredSlots is only checked to be >= 1). It returns
// the first problem as an *Error:
//
//   - a valid id; commandLine given; displayName length; environment setting names;
//   - what Corral does not implement (multiInstanceSettings, a resource file's
//     autoStorageContainerName…: see [UnsupportedTaskProperties]) is refused with
//     UnsupportedProperty;
//   - resourceFiles: one of httpUrl and storageContainerUrl, an absolute http(s) URL; filePath
//     (required with httpUrl) relative and inside the working directory; fileMode octal;
//   - outputFiles: filePattern inside the task directory, destination.container.containerUrl an
//     http(s) URL, upload headers Corral can set, uploadOptions.uploadCondition;
//   - requiredSlots >= 1 and at most the pool's taskSlotsPerNode;
//   - constraints: maxTaskRetryCount >= -1, maxWallClockTime > 0, retentionTime >= 0
//     (InvalidConstraintValue);
//   - exitConditions: known enum values, exit code ranges with start <= end; a jobAction requires
//     the job's onTaskFailure to be performexitoptionsjobaction (Azure rejects it otherwise), a
//     dependencyAction requires the job to use task dependencies;
//   - dependsOn: requires usesTaskDependencies on the job (TaskDependenciesNotSpecifiedOnJob);
//     task IDs are valid and at most 64000 characters together (TaskDependencyListTooLong); ranges
//     have 0 <= start <= end; a task may not depend on itself, by ID or by a range that covers its
//     own ID (InvalidPropertyValue; Azure documents no code for this, see the package doc).
//
// Whether a task with the same ID exists is for the caller (or [Graph.Add]) to check.
func ValidateTask(t Task, j Job, pool *Pool) error {
	if err := validateID("id", t.ID); err != nil {
		return err
	}
	if err := checkDisplayName(t.DisplayName); err != nil {
		return err
	}
	if t.CommandLine == "" {
		return missing("commandLine")
	}
	if err := checkTaskSupported(t); err != nil {
		return err
	}
	if s := t.RequiredSlots; s != nil {
		if *s < 1 {
			return invalid("requiredSlots", itoa(*s), "requiredSlots must be at least 1")
		}
		if pool != nil && int(*s) > pool.SlotsPerNode() {
			return invalid("requiredSlots", itoa(*s),
				"requiredSlots must not exceed the pool's taskSlotsPerNode ("+
					strconv.Itoa(pool.SlotsPerNode())+")")
		}
	}
	if err := ValidateTaskConstraints(t.Constraints); err != nil {
		return err
	}
	if err := checkEnvironment("environmentSettings", t.EnvironmentSettings); err != nil {
		return err
	}
	if err := validateTaskFiles(t); err != nil {
		return err
	}
	if err := validateExitConditions(t.ExitConditions, j); err != nil {
		return err
	}
	if err := validateDependencies(t, j); err != nil {
		return err
	}
	return nil
}

// validateExitConditions checks a task's exitConditions against its job.
func validateExitConditions(ec *ExitConditions, j Job) *Error {
	if ec == nil {
		return nil
	}
	check := func(property string, o *ExitOptions) *Error {
		if o == nil {
			return nil
		}
		if o.JobAction != "" {
			if !o.JobAction.Valid() {
				return invalid(property+".jobAction", string(o.JobAction),
					"jobAction is none, disable or terminate")
			}
			if j.OnTaskFailure != TaskFailurePerformExitOptionsJobAction {
				return invalid(property+".jobAction", string(o.JobAction),
					"a jobAction needs the job's onTaskFailure to be performexitoptionsjobaction")
			}
		}
		if o.DependencyAction != "" {
			if !o.DependencyAction.Valid() {
				return invalid(property+".dependencyAction", string(o.DependencyAction),
					"dependencyAction is satisfy or block")
			}
			if !j.UsesDependencies() {
				return invalid(property+".dependencyAction", string(o.DependencyAction),
					"a dependencyAction needs the job's usesTaskDependencies to be true")
			}
		}
		return nil
	}
	for i := range ec.ExitCodes {
		p := "exitConditions.exitCodes[" + strconv.Itoa(i) + "].exitOptions"
		if err := check(p, &ec.ExitCodes[i].ExitOptions); err != nil {
			return err
		}
	}
	for i := range ec.ExitCodeRanges {
		r := &ec.ExitCodeRanges[i]
		p := "exitConditions.exitCodeRanges[" + strconv.Itoa(i) + "]"
		if r.Start > r.End {
			return invalid(p, itoa(r.Start)+".."+itoa(r.End),
				"the start of an exit code range must not be greater than its end")
		}
		if err := check(p+".exitOptions", &r.ExitOptions); err != nil {
			return err
		}
	}
	if err := check("exitConditions.preProcessingError", ec.PreProcessingError); err != nil {
		return err
	}
	if err := check("exitConditions.fileUploadError", ec.FileUploadError); err != nil {
		return err
	}
	return check("exitConditions.default", ec.Default)
}

// validateDependencies checks a task's dependsOn against its job.
func validateDependencies(t Task, j Job) *Error {
	d := t.DependsOn
	if d.Empty() {
		return nil
	}
	if !j.UsesDependencies() {
		return &Error{
			Code: CodeTaskDependenciesNotSpecifiedOnJob,
			Message: "Task " + t.ID + " has dependencies but job " + j.ID +
				" does not set usesTaskDependencies.",
			Values: []KV{{KeyPropertyName, "dependsOn"}},
		}
	}
	key := IDKey(t.ID)
	total := 0
	for i, id := range d.TaskIDs {
		p := "dependsOn.taskIds[" + strconv.Itoa(i) + "]"
		if err := validateID(p, id); err != nil {
			return err
		}
		if IDKey(id) == key {
			return invalid(p, id, "a task cannot depend on itself")
		}
		total += len(id)
	}
	if total > MaxDependencyIDsLength {
		return &Error{
			Code:    CodeTaskDependencyListTooLong,
			Message: "The task IDs in dependsOn.taskIds exceed 64000 characters; use taskIdRanges.",
			Values:  []KV{{KeyPropertyName, "dependsOn.taskIds"}},
		}
	}
	for i, r := range d.TaskIDRanges {
		p := "dependsOn.taskIdRanges[" + strconv.Itoa(i) + "]"
		v := itoa(r.Start) + ".." + itoa(r.End)
		if r.Start < 0 {
			return invalid(p, v, "a task ID range cannot start below 0")
		}
		if r.Start > r.End {
			return invalid(p, v, "the start of a task ID range must not be greater than its end")
		}
		if r.Contains(t.ID) {
			return invalid(p, v, "the range covers the task's own ID: a task cannot depend on itself")
		}
	}
	return nil
}

// ValidateTaskConstraints checks a task's constraints (nil: none given), as Task - Add and Task -
// Update do: maxTaskRetryCount >= -1, maxWallClockTime > 0, retentionTime >= 0, each else
// InvalidConstraintValue naming it.
func ValidateTaskConstraints(c *TaskConstraints) error {
	if c == nil {
		return nil
	}
	if r := c.MaxTaskRetryCount; r != nil && *r < -1 {
		return invalidCode(CodeInvalidConstraintValue, "constraints.maxTaskRetryCount", itoa(*r),
			"maxTaskRetryCount must be -1 (no limit) or greater")
	}
	if w := c.MaxWallClockTime; w != nil && w.Std() <= 0 {
		return invalidCode(CodeInvalidConstraintValue, "constraints.maxWallClockTime", w.String(),
			"maxWallClockTime must be positive")
	}
	if r := c.RetentionTime; r != nil && r.Std() < 0 {
		return invalidCode(CodeInvalidConstraintValue, "constraints.retentionTime", r.String(),
			"retentionTime cannot be negative")
	}
	return nil
}
