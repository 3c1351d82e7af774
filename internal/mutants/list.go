package main

// Test selections that mutants share.
const (
	graphTests   = "^TestGraph"
	serviceTests = "^TestService"
)

// Mutants is the list of planted bugs: each a slip a developer could make, in one file, with the
// tests expected to catch it (in the file's own package, or the service's systematic tests).
var Mutants = []Mutant{
	// Dependency readiness, task id ranges, exit conditions and dependency actions (batch).
	{
		Name:        "graph-ready-one-early",
		File:        "batch/graph.go",
		Original:    "if dn.unsat == 0 && dn.flags&(flagAdded|flagCompleted) == flagAdded {",
		Replacement: "if dn.unsat <= 1 && dn.flags&(flagAdded|flagCompleted) == flagAdded {",
		Description: "a task is reported ready when its second-to-last dependency completes",
		Packages:    []string{"./batch"},
		Run:         graphTests,
	},
	{
		Name:        "graph-block-satisfies-late-dependent",
		File:        "batch/graph.go",
		Original:    "\tif !nn.satisfied() {\n\t\tdn.unsat++",
		Replacement: "\tif nn.flags&flagCompleted == 0 {\n\t\tdn.unsat++",
		Description: "a dependency that completed with dependencyAction block counts as satisfied for a task added after it",
		Packages:    []string{"./batch"},
		Run:         graphTests,
	},
	{
		Name:        "graph-range-end-exclusive",
		File:        "batch/graph.go",
		Original:    "for v := int64(r.Start); v <= int64(r.End); v++ {",
		Replacement: "for v := int64(r.Start); v < int64(r.End); v++ {",
		Description: "a taskIdRange leaves out its end when it covers the tasks that exist",
		Packages:    []string{"./batch"},
		Run:         graphTests,
	},
	{
		Name:        "graph-late-member-range-end-exclusive",
		File:        "batch/graph.go",
		Original:    "if v >= r.start && v <= r.end {",
		Replacement: "if v >= r.start && v < r.end {",
		Description: "a task added later whose id is a waiting range's end does not join the range",
		Packages:    []string{"./batch"},
		Run:         graphTests,
	},
	{
		Name:        "exit-code-range-start-exclusive",
		File:        "batch/exit.go",
		Original:    "if code >= r.Start && code <= r.End {",
		Replacement: "if code > r.Start && code <= r.End {",
		Description: "exitCodeRanges do not match their start code",
		Packages:    []string{"./batch"},
		Run:         "^TestEffectiveExitOptions$|^TestExitCodeRanges",
	},
	{
		Name:        "exit-zero-mapped-gets-failure-defaults",
		File:        "batch/exit.go",
		Original:    "\t\tif code == 0 {\n\t\t\treturn successDefaults\n\t\t}\n\t\treturn failureDefaults\n",
		Replacement: "\t\treturn failureDefaults\n",
		Description: "exit code 0 listed in exitCodes with only a jobAction gets dependencyAction block",
		Packages:    []string{"./batch"},
		Run:         "^TestEffectiveExitOptions$",
	},
	{
		Name:        "service-dependency-action-ignored",
		File:        "service/job.go",
		Original:    "change, err := j.graph.Complete(taskID, opts.DependencyAction)",
		Replacement: "change, err := j.graph.Complete(taskID, batch.DependencySatisfy)",
		Description: "the job manager completes every task in the graph with satisfy, whatever its exit options say",
		Packages:    []string{"./service"},
		Run:         serviceTests,
	},

	// Retry limits, requeues, wall-clock limits.
	{
		Name:        "retry-limit-off-by-one",
		File:        "batch/task_state.go",
		Original:    "return limit == -1 || retryCount < limit",
		Replacement: "return limit == -1 || retryCount <= limit",
		Description: "a task with maxTaskRetryCount N runs N+2 times",
		Packages:    []string{"./batch", "./service"},
		Run:         "^TestRetries$|^TestServiceFailuresAndRetries$|^TestServiceAttempts",
	},
	{
		Name:        "requeue-counts-as-retry",
		File:        "batch/task_state.go",
		Original:    "t.ExecutionInfo.RequeueCount++",
		Replacement: "t.ExecutionInfo.RetryCount++",
		Description: "a requeue (node lost, preempted or removed) uses up one of the task's retries",
		Packages:    []string{"./batch"},
		Run:         "^TestRequeueIsNotARetry$",
	},
	{
		Name:        "wallclock-from-first-attempt",
		File:        "batch/task_state.go",
		Original:    "\tt.NodeInfo = &node\n\tt.ExecutionInfo.StartTime = now\n",
		Replacement: "\tt.NodeInfo = &node\n\tif t.ExecutionInfo.StartTime.IsZero() {\n\t\tt.ExecutionInfo.StartTime = now\n\t}\n",
		Description: "a retry keeps the first attempt's start time, so its maxWallClockTime runs from the first attempt",
		Packages:    []string{"./batch"},
		Run:         "^TestWallClock",
	},
	{
		Name:        "agent-timeout-not-reported",
		File:        "agent/runner.go",
		Original:    "\ta.timedOut = true\n\tif err := killGroup(a.pid); err != nil {",
		Replacement: "\tif err := killGroup(a.pid); err != nil {",
		Description: "an attempt killed for its maxWallClockTime is reported as killed, not timed out",
		Packages:    []string{"./agent"},
		Run:         "^TestTimeout",
	},

	// Stale and duplicate reports and commands.
	{
		Name:        "service-stale-attempt-id-unchecked",
		File:        "service/job.go",
		Original:    "stale := r == nil || r.Attempt.AttemptID != e.Ref.AttemptID || r.NodeID != e.NodeID ||",
		Replacement: "stale := r == nil || r.NodeID != e.NodeID ||",
		Description: "the job manager takes a report about an earlier attempt of the task on the same node as the current attempt's",
		Packages:    []string{"./service"},
		Run:         serviceTests,
	},
	{
		Name:        "session-result-keeps-attempt-running",
		File:        "service/node.go",
		Original:    "\tdelete(n.running, r.AttemptID)\n\tdelete(n.starts, r.AttemptID)\n\tdelete(n.expected, r.AttemptID)\n",
		Replacement: "\tdelete(n.starts, r.AttemptID)\n\tdelete(n.expected, r.AttemptID)\n",
		Description: "a node session hands a result on but still counts its attempt as running",
		Packages:    []string{"./service"},
		Run:         "^TestNodeSession|^TestService",
	},
	{
		Name:        "agent-restarts-ended-attempt",
		File:        "agent/runner.go",
		Original:    "seen, err := attemptSeen(dir, spec.AttemptID)",
		Replacement: "seen, err := attemptSeen(wd, spec.AttemptID)",
		Description: "the runner looks for the attempts a task has run in the wrong directory, so a repeated StartTask runs an ended attempt again",
		Packages:    []string{"./agent"},
		Run:         "^TestStartIsIdempotent$",
	},
	{
		Name:        "agent-two-attempts-of-a-task",
		File:        "agent/runner.go",
		Original:    "\tif other, ok := r.byTask[key]; ok {\n\t\treturn fmt.Errorf(\"agent: start %s: task %s is running attempt %s: %w\", spec.AttemptID, key, other, ErrTaskBusy)\n\t}\n",
		Replacement: "",
		Description: "a new attempt of a task starts while its previous attempt still runs on the node",
		Packages:    []string{"./agent"},
		Run:         "^TestStartIsIdempotent$",
	},
	{
		Name:        "provider-repeated-create-recreates",
		File:        "compute/local/local.go",
		Original:    "\tif outs, ok := p.repeatedLocked(c.RequestID, c.ReplyTo); ok {\n\t\treturn outs\n\t}\n\tfail :=",
		Replacement: "\tfail :=",
		Description: "a late repeat of a CreateVM whose VM was deleted since creates the VM again",
		Packages:    []string{"./compute/local"},
		Run:         "^TestRepeatedRequestID$",
	},

	// Acknowledgement before commit.
	{
		Name:        "result-acked-before-recorded",
		File:        "service/node.go",
		Original:    "\tn.reported[r.AttemptID] = r\n",
		Replacement: "\tn.reported[r.AttemptID] = r\n\tctx.Send(n.agent, protocol.ResultAck{AttemptID: r.AttemptID})\n",
		Description: "a node session tells the agent to forget a result before the job manager has recorded it",
		Packages:    []string{"./service"},
		Run:         "^TestServiceStoreFailures$",
	},
	{
		Name:        "add-tasks-acked-when-write-failed",
		File:        "service/job.go",
		Original:    "\t\t\t\tif results[i].Err == nil {\n\t\t\t\t\tresults[i].Err = busy",
		Replacement: "\t\t\t\tif results[i].Err != nil {\n\t\t\t\t\tresults[i].Err = busy",
		Description: "Add Task Collection answers success for tasks whose write the store refused",
		Packages:    []string{"./service"},
		Run:         "^TestServiceStoreFailures$|^TestServiceAckedAdds",
	},
	{
		Name:        "send-before-batch-written",
		File:        "service/job.go",
		Original:    "\tb.sends = append(b.sends, sends)\n",
		Replacement: "\tsends(ctx)\n",
		Description: "the job manager starts an attempt (and acknowledges a result) before its pending batch is in the store",
		Packages:    []string{"./service"},
		Run:         "^TestServiceStoreFailures$|^TestServiceSurvivesCrashes$",
	},

	// Recovery after a crash.
	{
		Name:        "restart-forgets-running-attempts",
		File:        "service/pool.go",
		Original:    "SchedulerID(p.poolID), p.timing, expected))",
		Replacement: "SchedulerID(p.poolID), p.timing, nil))",
		Description: "after a restart, node sessions do not expect the attempts the store records running on their nodes",
		Packages:    []string{"./service"},
		Run:         "^TestServiceSurvivesCrashes$",
	},
	{
		Name:        "restart-forgets-blocking-completions",
		File:        "service/job.go",
		Original:    "opts := batch.EffectiveExitOptions(r.Task.ExitConditions, exitOf(r.Task))\n\t\t\tif _, err := j.graph.Complete(",
		Replacement: "opts := batch.EffectiveExitOptions(r.Task.ExitConditions, batch.Exit{Condition: batch.ExitProcess, Code: new(int32)})\n\t\t\tif _, err := j.graph.Complete(",
		Description: "a job manager rebuilding its graph after a restart takes every completed task as exited 0, so failed ones satisfy their dependents",
		Packages:    []string{"./service"},
		Run:         "^TestServiceSurvivesCrashes$",
	},
	{
		Name:        "restart-creations-not-asked-again",
		File:        "service/pool.go",
		Original:    "\t\tcase batch.NodeCreating:\n\t\t\tp.request(ctx, id)\n",
		Replacement: "\t\tcase batch.NodeCreating:\n",
		Description: "after a restart, the pool manager does not ask the provider again for the nodes it was creating",
		Packages:    []string{"./service"},
		Run:         "^TestPoolResize$|^TestServiceSurvivesCrashes$",
	},

	// Slot accounting with requiredSlots > 1.
	{
		Name:        "place-ignores-required-slots",
		File:        "batch/placement.go",
		Original:    "if rest := f - r; rest > 0 {",
		Replacement: "if rest := f - 1; rest > 0 {",
		Description: "placement takes one slot of the node for a task whatever its requiredSlots",
		Packages:    []string{"./batch"},
		Run:         "^TestPlace",
	},
	{
		Name:        "slots-freed-one",
		File:        "service/node.go",
		Original:    "ctx.Send(n.sched, slotsFreed{NodeID: n.nodeID, Slots: r.Slots})",
		Replacement: "ctx.Send(n.sched, slotsFreed{NodeID: n.nodeID, Slots: 1})",
		Description: "an attempt that ends frees one slot of its node whatever its requiredSlots",
		Packages:    []string{"./service"},
		Run:         "^TestServiceRequiredSlots",
	},

	// Preemption, resize, orphans.
	{
		Name:        "preempted-tasks-terminated",
		File:        "service/node.go",
		Original:    "NodeID: n.nodeID, Lost: true})\n\t}\n\tctx.Log(\"node lost\"",
		Replacement: "NodeID: n.nodeID, Lost: true, Terminate: true})\n\t}\n\tctx.Log(\"node lost\"",
		Description: "the tasks of a lost or preempted node complete as terminated instead of being requeued",
		Packages:    []string{"./service"},
		Run:         "^TestAutoscaleWithPreemption$",
	},
	{
		Name:        "late-vm-not-deleted",
		File:        "service/pool.go",
		Original:    "\t\tif _, ours := p.nodes[c.NodeID]; !ours && !p.draining[c.NodeID] {\n\t\t\tp.release(ctx, c.NodeID)\n\t\t}\n",
		Replacement: "",
		Description: "a VM whose creation finishes after its resize was stopped is left to the next listing",
		Packages:    []string{"./service"},
		Run:         "^TestPoolResize|^TestOrphan",
	},
	{
		Name:        "listing-spares-orphans",
		File:        "service/pool.go",
		Original:    "if vm.PoolID != p.poolID || ours || p.draining[vm.NodeID] {",
		Replacement: "if vm.PoolID != p.poolID || ours || p.draining[vm.NodeID] || p.leaving[vm.NodeID] == \"\" {",
		Description: "the pool manager's listing deletes again the VMs it is deleting, but never an orphan",
		Packages:    []string{"./service"},
		Run:         "^TestOrphan",
	},

	// Node deallocation options, under autoscale.
	{
		Name:        "autoscale-deallocation-option-ignored",
		File:        "service/autoscale.go",
		Original:    "\t\tdealloc = batch.NodeDeallocationOption(res.NodeDeallocationOption)\n",
		Replacement: "\t\t_ = res.NodeDeallocationOption\n",
		Description: "the formula's $NodeDeallocationOption is not applied: nodes it removes leave with requeue",
		Packages:    []string{"./service"},
		Run:         "^TestAutoscaleShrink",
	},
	{
		Name:        "requeue-terminates",
		File:        "service/pool.go",
		Original:    "stop{Terminate: p.dealloc == batch.DeallocateTerminate}",
		Replacement: "stop{Terminate: p.dealloc != batch.DeallocateTaskCompletion}",
		Description: "nodes removed with requeue end their running tasks as terminated",
		Packages:    []string{"./service"},
		Run:         "^TestAutoscaleWithPreemption$|^TestAutoscaleShrink",
	},
	{
		Name:        "terminate-requeues",
		File:        "service/job.go",
		Original:    "requeue := e.Lost && !e.Terminate",
		Replacement: "requeue := e.Lost",
		Description: "the running tasks of nodes removed with terminate are requeued instead of completed",
		Packages:    []string{"./service"},
		Run:         "^TestAutoscaleShrink",
	},
	{
		Name:        "retaineddata-does-not-drain",
		File:        "service/pool.go",
		Original:    "wait := (p.dealloc == batch.DeallocateTaskCompletion || p.dealloc == batch.DeallocateRetainedData) &&",
		Replacement: "wait := p.dealloc == batch.DeallocateTaskCompletion &&",
		Description: "nodes removed with retaineddata leave at once, requeueing their running tasks",
		Packages:    []string{"./service"},
		Run:         "^TestAutoscaleShrink",
	},

	{
		Name:        "drain-ignores-running-attempts",
		File:        "service/node.go",
		Original:    "if len(n.running) == 0 && len(n.expected) == 0 && len(n.reported) == 0 {",
		Replacement: "if len(n.expected) == 0 && len(n.reported) == 0 {",
		Description: "a draining node (taskcompletion, retaineddata) says drained while attempts still run on it, so its VM goes under them",
		Packages:    []string{"./service"},
		Run:         "^TestAutoscaleShrinkTaskCompletion$|^TestDeallocateTaskCompletion",
	},
	{
		Name:        "provider-lists-only-ready-vms",
		File:        "compute/local/local.go",
		Original:    "\t\tif n.phase == ending {",
		Replacement: "\t\tif n.phase != ready {",
		Description: "the local provider leaves VMs still being created out of ListVMs, so a pool manager that restarts cannot find them as orphans",
		Packages:    []string{"./compute/local"},
		Run:         ".",
	},
	{
		Name:        "agent-ack-not-recorded",
		File:        "agent/client.go",
		Original:    "\tif !p.local {",
		Replacement: "\tif p.local {",
		Description: "the agent forgets an acknowledged result in memory but keeps its outcome file, so a restarted agent reports it again",
		Packages:    []string{"./agent"},
		Run:         "^TestClient",
	},

	// Incarnations: attempt ids, attempt records, agent commands, results and timers carry the
	// job's, task's, pool's and node's incarnation, so that a report about an attempt of a
	// deleted job (or pool, task, node) with the same id changes nothing. Their mutants go here
	// once the service carries incarnations: a report of another incarnation taken as the
	// current one's, an attempt id without the job's incarnation, a timer of a deleted task
	// acting on its successor.
}
