// Package batch is the pure domain of Corral's batch service: the Azure Batch resource types,
// their validation, their state machines, and the decisions the service makes about them — which
// tasks are ready, what a task's exit means for its dependents and its job, whether it is retried,
// and on which node it runs.
//
// Nothing here does I/O, starts a goroutine or reads the clock: time comes in as time.Time
// arguments, state and input go in, new state and decisions come out. The package imports no other
// Corral package. It is tested with tables, golden JSON and property tests, like a parser.
//
// Azure Batch's documented behaviour is the reference (data-plane REST API, api-versions
// 2022-10-01.16.0 to 2024-07-01.20.0). Where Corral differs, the doc comment of the function says
// so; the departures are also listed below.
//
// # Types
//
// [Pool], [Node], [Job], [Task] and [JobSchedule] have Azure's JSON shapes (PoolAddParameter and
// CloudPool, ComputeNode, JobAddParameter and CloudJob, TaskAddParameter and CloudTask,
// JobScheduleAddParameter and CloudJobSchedule), so the API layer marshals them directly; [TaskCountsResult] is the body of Job - Get Task Counts. Enumerations
// are read case-insensitively and written in lower case, as Azure writes them. Durations are ISO
// 8601 strings ([ParseDuration], [FormatDuration], [Duration]); Azure's "unlimited" value
// "P10675199DT2H48M5.4775807S" is [Infinite]. IDs are case-preserving and case-insensitive:
// compare them with [IDKey].
//
// # Validation
//
// [ValidatePool], [ValidateJob] and [ValidateTask] check add parameters by Azure's rules and
// return an *[Error] carrying Azure's error code (InvalidPropertyValue, MissingRequiredProperty,
// TaskDependenciesNotSpecifiedOnJob, …) and the "values" details of Azure's error body.
// [NewPool], [NewJob] and [NewTask] then fill in Azure's defaults.
//
// # State machines and decisions
//
//   - Tasks: [TransitionTask] and the operations built on it — [PrepareTask], [RunTask],
//     [RequeueTask], [FinishTask] (retry or complete, with the effective exit options),
//     [ReactivateTask]; [WallClockExceeded] for maxWallClockTime.
//   - Exit conditions: [EffectiveExitOptions] with Azure's defaults.
//   - Jobs: [TransitionJob], [TerminateJob], [CompleteJob], [ReactToTaskCompletion]
//     (onTaskFailure), [AllTasksComplete] (onAllTasksComplete), [JobWallClockExpired].
//   - Job schedules: [TransitionJobSchedule]; [Occurrences], when a schedule is due to create a
//     job and until when it may; [ValidateJobSchedule] and [JobFromSpecification].
//   - Pools and nodes: [TransitionAllocation], [CanResize], [DeletePool], [SetNodeState].
//   - Dependencies: [Graph], incremental readiness for jobs of 100,000 tasks.
//   - Placement: [Place], spread or pack over task slots, with maxParallelTasks.
//
// # Azure defaults this package follows
//
// From "Task - Add" (ExitOptions, ExitConditions, TaskConstraints, TaskDependencies), "Job - Add",
// "Pool - Add", "Create task dependencies to run tasks that depend on other tasks" and "Error
// handling and detection in Azure Batch":
//
//   - dependencyAction defaults to satisfy for exit code 0 and block for every other exit
//     condition; jobAction to none for exit code 0 and terminate otherwise. An unlisted non-zero
//     exit code, or a pre-processing or file upload error without its own options, uses
//     exitConditions.default; exit code 0 is never covered by default. A file upload error after
//     an exit code listed in exitCodes or exitCodeRanges takes that code's options.
//   - jobAction is applied only when the job's onTaskFailure is performexitoptionsjobaction (and
//     Azure rejects a task that sets one otherwise); terminate sets terminateReason TaskFailed,
//     disable is Job - Disable with disableTasks requeue.
//   - maxTaskRetryCount: 0 by default (a task's default is its job's), -1 without limit; only non-
//     zero exit codes are retried, never pre-processing or file upload errors. Requeues do not
//     count as retries.
//   - maxWallClockTime is measured from the start of the attempt (a job's from its creation); a
//     task over it completes with exit code 0xC000013A (-1073741510) and failureInfo
//     {servererror, TaskEnded}, and is not retried; a job over it terminates with
//     MaxWallClockTimeExpiry.
//   - A task failure from a non-zero exit code records failureInfo {usererror, FailureExitCode}.
//   - onAllTasksComplete terminatejob ends the job (AllTasksComplete) when no task is active or
//     running — at once for a job without tasks, as Azure documents.
//   - requiredSlots 1, taskSlotsPerNode 1 (at most 256), nodeFillType spread, priority 0
//     (-1000..1000), maxParallelTasks -1, retentionTime 7 days, resizeTimeout 15 minutes (at
//     least 5), autoScaleEvaluationInterval 15 minutes (5 minutes to 168 hours), autoscale formula
//     at most 8192 characters.
//   - A task ID range covers only IDs that are integers, leading zeros not significant.
//
// # Departures from Azure
//
//   - What Corral does not implement is refused with UnsupportedProperty, naming the property
//     (support.go: [UnsupportedPoolProperties], [UnsupportedJobProperties],
//     [UnsupportedTaskProperties]): start tasks, auto-storage and managed identities for
//     resource and output files, job priorities and
//     maxParallelTasks, a job's maxWallClockTime, multi-instance tasks, auto pools, job manager,
//     preparation and release tasks, containers, certificates, packages, mounts, networks…
//     Kept and returned because they only matter on Azure itself: vmSize, a pool's VM
//     configuration (but for containers), and the like. docs/compatibility.md has the table.
//   - Environment variable names with '=' or NUL, and values with NUL, are refused
//     (InvalidPropertyValue): no process could be given them.
//   - A job's commonEnvironmentSettings reach its tasks through [TaskEnvironment].
//   - A task that would close a dependency cycle is refused ([Graph.NewCycleCheck],
//     [CycleError]); Azure accepts it and its tasks wait for ever.
//   - requeueCount counts every requeue, including after a node was lost or preempted (Azure
//     counts only requeues a user asked for); see [RequeueTask].
//   - In a task ID range, "4" and "04" are separate dependencies (Azure: the first to complete
//     satisfies both). How ranges meet tasks added later is documented on [Graph].
//   - Tasks blocked by a dependency stay active, as in Azure, but the [Graph] marks and explains
//     them.
//   - Azure documents no error code for a task that depends on itself; Corral returns
//     InvalidPropertyValue. Autoscale conflicts (targets with enableAutoScale, a formula without)
//     return InvalidAutoScalingSettings.
//   - requiredSlots above the pool's taskSlotsPerNode is rejected when the pool is known.
package batch
