// Package autoscale is Azure Batch's autoscale formula language: [Parse] reads a pool's
// autoScaleFormula, [Formula.Evaluate] runs it against the pool's state and metrics and returns
// the new target node counts and Azure's autoScaleRun.results string.
//
// The package is pure, like the rest of corral/batch: no I/O, no goroutines, no clock and no
// random numbers of its own. The evaluation time, the pool's counts, the metric samples and a
// random source all come in an [Env]. It imports only the standard library.
//
// The reference is Azure's "Create a formula to automatically scale compute nodes in a Batch pool"
// (learn.microsoft.com/azure/batch/batch-automatic-scaling) and the REST reference of Pool -
// Evaluate Auto Scale and AutoScaleRun. Where Corral differs, or where Azure's documentation is
// silent and Corral had to choose, the sections below say so.
//
// # The language
//
// A formula is at most [MaxFormulaLength] (8192) characters and [MaxStatements] (100) statements,
// separated by ";". A trailing ";" and empty statements are allowed, and "//" starts a comment
// that runs to the end of the line. A statement assigns a variable (name = expr) or is an
// expression evaluated for its effect.
//
// Variables are user-defined (startingNumberOfVMs, $totalDedicatedNodes: the "$" is optional and
// part of the name) or system variables:
//
//   - Settable: $TargetDedicatedNodes, $TargetLowPriorityNodes (aliases $TargetDedicated and
//     $TargetLowPriority; when both a name and its alias are assigned the full name wins, as
//     Azure documents) and $NodeDeallocationOption (requeue, terminate, taskcompletion or
//     retaineddata, written as bare words or strings). Read before the formula assigns them,
//     the targets are the pool's current targets and the option is requeue.
//   - Read-only values: $CurrentDedicatedNodes (alias $CurrentDedicated, which Azure's REST
//     example uses), $CurrentLowPriorityNodes, $UsableNodeCount, $TaskSlotsPerNode.
//   - Sampled metrics, listed in [Metrics]: $CPUPercent, $WallClockSeconds, $MemoryBytes,
//     $DiskBytes, $DiskReadBytes, $DiskWriteBytes, $DiskReadOps, $DiskWriteOps, $NetworkInBytes,
//     $NetworkOutBytes, $SampleNodeCount, $ActiveTasks, $RunningTasks, $PendingTasks,
//     $SucceededTasks, $FailedTasks, $PreemptedNodeCount, and Corral's extensions below. A
//     metric is an object, not a value: a formula calls its methods.
//
// The types are double, doubleVec, string, timestamp and timeinterval; doubleVecList is the
// argument list of the list functions, any mix of doubles and doubleVecs flattened into one
// doubleVec (avg(v, 7) is avg of v's elements and 7). Numbers are decimal ("3", "0.5", ".5",
// "1e6"), strings are in double quotes with \" and \\ as the only escapes. The time interval
// units are TimeInterval_Zero, _100ns, _Microsecond, _Millisecond, _Second, _Minute, _Hour,
// _Day, _Week and _Year (365 days). A timestamp has the fields year, month (1-12), day (1-31),
// weekday (0 for Sunday, 1 for Monday, ... 6), hour (0-23), minute and second, all in UTC.
//
// Operators, from loosest to tightest (Azure documents no precedence; these are C's): ?:, ||,
// &&, == !=, < <= > >=, + -, * /, unary - and !, then "." for a method or a field. Comparisons,
// && and || give 1 or 0; ?:, && and || take a double, nonzero being true, and evaluate only the
// operand they need. The operand types are Azure's "Operations" table:
//
//	double + - * / double                 double (IEEE: 1/0 is inf, 0/0 nan)
//	doubleVec + - * / double              doubleVec, element-wise
//	double + - * / doubleVec              doubleVec (a Corral addition, see below)
//	doubleVec + - * / doubleVec           doubleVec, element-wise; the lengths must match
//	double * timeinterval                 timeinterval
//	timeinterval * / double               timeinterval
//	timeinterval + - timeinterval         timeinterval
//	timestamp + timeinterval, and back    timestamp
//	timestamp - timestamp                 timeinterval
//	- double, ! double, - timeinterval
//	< <= == >= > != on two doubles, two strings, two timestamps or two timeintervals
//	&& || on doubles
//
// Anything else, such as timestamp - timeinterval (write time() + (-6 * TimeInterval_Hour), as
// Azure's doc does), is an evaluation error naming the operator and the types.
//
// Functions: avg, len, max, min, norm (two-norm), range (max - min), std (sample standard
// deviation) and sum of a doubleVecList; lg, ln and log (base 2, e and 10) of a double, or
// component-wise of anything else; percentile(v, p) with p from 0 to 100; rand(); stop(), which
// ends the evaluation with the statements before it in effect; time(), the evaluation time, and
// time(s) for a W3C-DTF or RFC 1123 string; val(v, i), element i of v counted from 0.
//
// Methods of a metric:
//
//	GetSample(count)                      the last count samples
//	GetSample(start [, samplePercent])    the samples from start to Now
//	GetSample(start, end [, samplePercent])
//	GetSamplePercent(start [, end])       the percentage of the expected samples present
//	GetSamplePeriod()                     the sample period, a timeinterval
//	Count()                               the number of samples in the history
//	HistoryBeginTime()                    the timestamp of the oldest sample
//
// start and end are timeintervals counted back from Now ($CPUPercent.GetSample(TimeInterval_Minute
// * 10) is the last ten minutes; GetSample(1 * TimeInterval_Minute, 6 * TimeInterval_Minute) runs
// from six to one minutes ago, in either order) or timestamps. A window holds the samples recorded
// after its start and no later than its end, so ten minutes of a full 30-second history are
// exactly the 20 samples Azure's doc counts. One sample is expected per [Env.SamplePeriod]
// (default 30 seconds, Azure's), at least one per window; the percentage present is capped at
// 100. If it is below samplePercent, the evaluation fails as Azure's does: code
// [CodeInsufficientSampleData], "Insufficient data from data set: $CPUPercent wanted 95%,
// received 90%". Vectors are in time order, oldest first.
//
// # Results and errors
//
// [Result.Results] is Azure's autoScaleRun.results: $TargetDedicatedNodes,
// $TargetLowPriorityNodes and $NodeDeallocationOption, then each user variable in byte order of
// its name, "name=value" joined by ";", for example
//
//	$TargetDedicatedNodes=1;$TargetLowPriorityNodes=0;$NodeDeallocationOption=taskcompletion;$samples=96.6667;$targetVMs=0.5;$tasks=0;cappedPoolSize=3
//
// which is, character for character, what Azure returned for the same formula and data in 2025
// (testdata/golden/azure_run_2025.txt). Doubles have six significant digits (C's %g: 96.6667,
// 1e+06, nan, inf), vectors are written [1,2,3] as in Azure's doc, timestamps
// 2016-10-14T18:36:43.282Z as in Azure's doc, strings bare.
//
// The targets are the final values of the two variables truncated toward zero: Azure's targets
// are whole numbers, and its examples round up by adding 0.99 or n-1 before a division, which
// only works if it truncates (Azure/Batch issue 151 says so too). A target the formula does not
// assign keeps its value from the [Env].
//
// Every error is an *[Error] with Azure's code, a 1-based line and column and a message; its
// Error method reads "line 3, column 12: unknown function \"foo\"", and [Error.Summary] and
// [Error.Detail] give the message and the "Line 3, Col 12: ..." value that Azure puts in
// autoScaleRun.error. [Parse] finds syntax errors, unknown functions, methods, constants and
// fields, wrong argument counts, assignments to read-only variables, metrics used as values and
// the two limits. [Formula.Evaluate] finds the rest — types, variables read before they are
// assigned, empty lists, bad arguments, missing samples — and like Azure returns beside the error
// a Result that keeps the pool's targets.
//
// # Corral extensions
//
// Azure users have asked for autoscale metrics that know about task slots and dependencies
// (Azure/Batch issues 117, 118 and 151); Corral has them, sampled like Azure's task metrics:
//
//   - $ActiveTaskSlots, $RunningTaskSlots, $PendingTaskSlots: $ActiveTasks, $RunningTasks and
//     $PendingTasks weighted by each task's requiredSlots, so that a pool of 2 slots per node
//     with tasks needing 1, 1, 2 and 2 slots can ask for (6 + 1) / 2 = 3 nodes.
//   - $BlockedTasks: active tasks still waiting on dependencies, which $ActiveTasks leaves out.
//
// [Result.Warnings] carries notes that are not errors (a target that was negative or infinite,
// an alias that lost to its full name), for the service to show.
//
// # Departures from Azure, and choices where Azure's doc is silent
//
//   - Samples: Azure records a sample every 30 seconds and makes it available to formulas about
//     a minute later; Corral does not model the delay. The caller hands in each metric's samples
//     as they are at Now; samples stamped after Now are ignored, as if not yet recorded.
//   - double op doubleVec (2 * v, 10 - v) is accepted; Azure's table lists only doubleVec op
//     double.
//   - The names of system variables, functions, methods, constants, fields and deallocation
//     options are matched without regard to case ($targetDedicatedNodes appears in Azure's own
//     REST example); user variable names are case-sensitive. requeue, terminate, taskcompletion,
//     retaineddata and the TimeInterval_ names cannot be assigned.
//   - Sampled metrics cannot be used as plain values ($PendingTasks + 1 is a syntax error that
//     suggests GetSample); Azure's doc calls them objects with methods. $PreemptedNodeCount is
//     sampled, as Azure's preempted-nodes example uses it. $CurrentDedicatedNodes,
//     $CurrentLowPriorityNodes, $UsableNodeCount and $TaskSlotsPerNode are plain doubles and
//     have no methods.
//   - Not supported because Azure's doc does not list them: the operators %, ^, unary + and
//     single & or |, list literals ({1, 2} or [1, 2]), single-quoted strings, /* */ comments.
//     Each is a syntax error that says so.
//   - weekday: Azure's doc says only "1 for Monday"; Sunday is 0, as in .NET and C.
//   - Functions of an empty list: avg, max, min, range and percentile fail; len, norm and sum
//     give 0; std of fewer than two values is 0. percentile uses the nearest-rank method; val
//     truncates its index. A list longer than [MaxListLength] values after flattening fails.
//   - GetSample(count) returns what there is when the history is shorter than count. An empty
//     window (GetSamplePercent(TimeInterval_Zero)) expects one sample, so it is 0 percent.
//     GetSample(count, samplePercent) is an error: a count has no expected number of samples.
//   - time(s) also accepts W3C-DTF without a zone (taken as UTC); a zone abbreviation other than
//     GMT or UTC counts as UTC.
//   - Results writes time intervals in ISO 8601 (PT5M), as the rest of Azure Batch's REST API
//     does; Azure's doc shows none. On an evaluation error, Results holds only the three system
//     variables (Azure's SDK tests show this for an undefined variable).
//   - Targets: a negative target is 0 and +inf or anything above 2147483647 is 2147483647, each
//     with a warning; a NaN target is an evaluation error. The results write the value the
//     formula computed, before truncation.
//   - Error positions: an error in an operation points at the operator, in a call at the
//     function's or method's name (for InsufficientSampleData, the GetSample), in an assignment
//     to a target at the assigned name. Azure's columns may differ.
//   - Limits: 8192 characters, counted as Unicode code points like corral/batch's validation
//     (Azure says "8 KB"); 100 statements, not counting empty ones.
package autoscale
