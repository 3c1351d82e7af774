package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"corral/batch"
)

var taskExplainSpec = verbSpec{
	name:     "task explain",
	synopsis: "JOB TASK",
	summary:  "Say why a task has not run yet (in the spirit of HTCondor's condor_q -better-analyze).",
	help: `It reads the job, the task, the job's other tasks, the pool and its nodes, and checks in
turn: the job's state, the task's dependencies (and whether one failed, which blocks the task
for ever), the pool (does it exist, is it resizing, does a node have the task's requiredSlots),
the nodes' free slots, and the job's maxParallelTasks. The first line is the verdict.`,
}

// taskExplainOptions are the options of `corral task explain`.
type taskExplainOptions struct {
	Conn   connOptions
	JobID  string
	TaskID string
}

func parseTaskExplain(fs *flag.FlagSet, args []string, getenv func(string) string) (*taskExplainOptions, error) {
	o := &taskExplainOptions{}
	o.Conn.register(fs)
	var err error
	if o.JobID, o.TaskID, err = parseTaskRef(fs, args, getenv, &o.Conn); err != nil {
		return nil, err
	}
	return o, nil
}

func taskExplainRun(ctx context.Context, o *taskExplainOptions, s *streams) error {
	c, err := newClient(o.Conn)
	if err != nil {
		return err
	}
	in := explainInput{Now: time.Now()}
	if err := c.get(ctx, "/jobs/"+o.JobID, &in.Job); err != nil {
		return err
	}
	if err := c.get(ctx, "/jobs/"+o.JobID+"/tasks/"+o.TaskID, &in.Task); err != nil {
		return err
	}
	if in.Task.State == batch.TaskActive {
		if in.Tasks, err = list[batch.Task](ctx, c, "/jobs/"+o.JobID+"/tasks"); err != nil {
			return err
		}
		var p batch.Pool
		switch err := c.get(ctx, "/pools/"+in.Job.PoolInfo.PoolID, &p); {
		case err == nil:
			in.Pool = &p
			if in.Nodes, err = list[batch.Node](ctx, c, "/pools/"+p.ID+"/nodes"); err != nil {
				return err
			}
		case errCode(err) == "PoolNotFound":
		default:
			return err
		}
	}
	explain(s.Out, in)
	return nil
}

// explainInput is what explain reads: the job, the task, and for an active task the job's tasks,
// its pool (nil when it does not exist) and the pool's nodes.
type explainInput struct {
	Job   batch.Job
	Task  batch.Task
	Tasks []batch.Task
	Pool  *batch.Pool
	Nodes []batch.Node
	Now   time.Time
}

// explanation is explain's finding: a verdict, and the details that support it.
type explanation struct {
	verdict string
	details []string
}

func (e *explanation) add(format string, args ...any) {
	e.details = append(e.details, fmt.Sprintf(format, args...))
}

// explain writes why in.Task is not running: the verdict on the first line, then the details.
func explain(w io.Writer, in explainInput) {
	e := analyze(in)
	fmt.Fprintln(w, e.verdict)
	if len(e.details) > 0 {
		fmt.Fprintln(w)
		for _, d := range e.details {
			fmt.Fprintf(w, "  %s\n", d)
		}
	}
}

func analyze(in explainInput) explanation {
	t, j := in.Task, in.Job
	var e explanation
	name := fmt.Sprintf("task %s of job %s", t.ID, j.ID)
	switch t.State {
	case batch.TaskCompleted:
		e.verdict = fmt.Sprintf("%s has completed: %s", name, completedHow(t))
		if failedTask(t) {
			e.add("its standard error: corral task output %s %s --stderr", j.ID, t.ID)
		} else {
			e.add("its output: corral task output %s %s", j.ID, t.ID)
		}
		return e
	case batch.TaskRunning, batch.TaskPreparing:
		e.verdict = fmt.Sprintf("%s is %s", name, t.State)
		if n := t.NodeInfo; n != nil && n.NodeID != "" {
			e.verdict += " on node " + n.NodeID
		}
		if ei := t.ExecutionInfo; ei != nil && !ei.StartTime.IsZero() {
			e.verdict += fmt.Sprintf(", since %s ago", in.Now.Sub(ei.StartTime).Round(time.Second))
			if ei.RetryCount > 0 {
				e.add("this is retry %d; the earlier attempts failed", ei.RetryCount)
			}
		}
		e.add("its output so far: corral task output %s %s", j.ID, t.ID)
		return e
	}
	if ei := t.ExecutionInfo; ei != nil && (ei.RetryCount > 0 || ei.RequeueCount > 0) {
		e.add("it ran before: %d %s after failures, requeued %d %s (a node was lost or the job was disabled)",
			ei.RetryCount, plural(int(ei.RetryCount), "retry", "retries"), ei.RequeueCount, plural(int(ei.RequeueCount), "time", "times"))
	}
	notRun := name + " has not started"
	if t.State == batch.TaskActive && t.QueuedOn != "" {
		e.verdict = fmt.Sprintf("%s is queued on node %s: it starts there the moment one of the node's slots frees", name, t.QueuedOn)
		e.add("a queued task is taken back and placed elsewhere if another node has a slot free first, or if its node leaves")
		return e
	}

	// The job.
	switch j.State {
	case batch.JobActive:
	case batch.JobDisabled, batch.JobDisabling:
		e.verdict = fmt.Sprintf("%s: the job is %s, and no task of a disabled job starts until it is enabled again", notRun, j.State)
		return e
	case batch.JobTerminating, batch.JobCompleted, batch.JobDeleting:
		e.verdict = fmt.Sprintf("%s, and never will: the job is %s", notRun, j.State)
		if ei := j.ExecutionInfo; ei != nil && ei.TerminateReason != "" {
			e.add("the job's terminateReason: %s", ei.TerminateReason)
		}
		return e
	default:
		e.add("the job is %s", j.State)
	}

	// Its dependencies.
	byID := map[string]batch.Task{}
	for _, x := range in.Tasks {
		byID[batch.IDKey(x.ID)] = x
	}
	g := dependencyGraph(in.Tasks)
	if !t.DependsOn.Empty() {
		waits := g.Waits(t.ID)
		var failed, pending []string
		for _, w := range waits {
			d, known := byID[batch.IDKey(w.ID)]
			switch w.Reason {
			case batch.WaitBlockedBy:
				failed = append(failed, w.ID)
				e.add("dependency %s completed with a failure (%s): that blocks %s for ever", w.ID, describeEnd(d), t.ID)
			case batch.WaitBlocked:
				failed = append(failed, w.ID)
				e.add("dependency %s will never run: a dependency of its own failed", w.ID)
			case batch.WaitNotAdded:
				pending = append(pending, w.ID)
				e.add("dependency %s is not a task of the job (yet): it waits until one is added and succeeds", w.ID)
			default:
				pending = append(pending, w.ID)
				switch {
				case !known:
					e.add("dependency %s has not completed", w.ID)
				case d.State == batch.TaskActive:
					e.add("dependency %s has not started either (corral task explain %s %s)", w.ID, j.ID, w.ID)
				default:
					e.add("dependency %s is %s", w.ID, d.State)
				}
			}
		}
		n := dependencyCount(t.DependsOn)
		if len(waits) == 0 {
			e.add("all %d %s succeeded", n, plural(n, "dependency", "dependencies"))
		}
		switch {
		case len(failed) > 0:
			e.verdict = fmt.Sprintf("%s, and never will: its %s %s failed", notRun, plural(len(failed), "dependency", "dependencies"), strings.Join(failed, ", "))
			e.add("Azure Batch leaves such tasks active (dependencyAction block); fix the cause and submit the job again, or terminate it: corral job terminate %s", j.ID)
			return e
		case len(pending) > 0:
			if cycle := g.Cycle(t.ID); cycle != nil {
				e.verdict = fmt.Sprintf("%s, and never will: its dependencies form a cycle: %s", notRun, strings.Join(cycle, " -> "))
				return e
			}
			e.verdict = fmt.Sprintf("%s: it waits for %s %s", notRun, plural(len(pending), "dependency", "dependencies"), strings.Join(pending, ", "))
			return e
		}
	}

	// The pool and its nodes.
	poolID := j.PoolInfo.PoolID
	if in.Pool == nil {
		e.verdict = fmt.Sprintf("%s: the job's pool %s does not exist (create it: corral pool create %s --nodes N --slots S)", notRun, poolID, poolID)
		return e
	}
	p := in.Pool
	need, per := t.Slots(), p.SlotsPerNode()
	e.add("pool %s: %s, %s nodes (current/target), %d %s per node, fill %s; the task needs %d %s",
		p.ID, p.AllocationState, nodeCount(*p), per, plural(per, "slot", "slots"), p.FillType(), need, plural(need, "slot", "slots"))
	if need > per {
		e.verdict = fmt.Sprintf("%s, and never will on this pool: it needs %d slots and the pool's nodes have %d", notRun, need, per)
		return e
	}
	if p.State == batch.PoolDeleting {
		e.verdict = fmt.Sprintf("%s: the job's pool %s is being deleted", notRun, p.ID)
		return e
	}
	var schedulable, room int
	free := 0
	for _, n := range in.Nodes {
		busy := int(n.RunningTaskSlotsCount)
		line := fmt.Sprintf("node %s: %s, %d/%d slots busy", n.ID, n.State, busy, per)
		switch {
		case n.SchedulingState == batch.SchedulingDisabled:
			line += ", scheduling disabled"
		case !n.State.AcceptsTasks():
			line += ", does not take tasks in this state"
		default:
			schedulable++
			free += max(0, per-busy)
			if per-busy >= need {
				room++
				line += " (room for this task)"
			}
		}
		e.add("%s", line)
	}
	if schedulable == 0 {
		switch {
		case len(in.Nodes) == 0 && deref(p.TargetDedicatedNodes)+deref(p.TargetLowPriorityNodes) == 0 && !p.AutoScale():
			e.verdict = fmt.Sprintf("%s: pool %s has no nodes and wants none (give it some: its target is 0)", notRun, p.ID)
		case p.AllocationState == batch.AllocationResizing || len(in.Nodes) < int(deref(p.TargetDedicatedNodes)):
			e.verdict = fmt.Sprintf("%s: pool %s is still getting its nodes (%s ready), and none takes tasks yet", notRun, p.ID, nodeCount(*p))
		default:
			e.verdict = fmt.Sprintf("%s: no node of pool %s takes tasks now", notRun, p.ID)
		}
		for _, re := range p.ResizeErrors {
			e.add("resize error: %s: %s", re.Code, re.Message)
		}
		return e
	}
	if limit := j.MaxParallel(); limit >= 0 {
		running := 0
		for _, x := range in.Tasks {
			if x.State == batch.TaskRunning || x.State == batch.TaskPreparing {
				running++
			}
		}
		if running >= limit {
			e.verdict = fmt.Sprintf("%s: the job already runs %d %s, its maxParallelTasks", notRun, running, plural(running, "task", "tasks"))
			return e
		}
	}
	ahead := 0
	for _, x := range in.Tasks {
		if x.State == batch.TaskActive && batch.IDKey(x.ID) != batch.IDKey(t.ID) && g.Ready(x.ID) {
			ahead++
		}
	}
	if ahead > 0 {
		e.add("%d other ready %s of this job %s for slots too", ahead, plural(ahead, "task", "tasks"), plural(ahead, "waits", "wait"))
	}
	if room == 0 {
		e.verdict = fmt.Sprintf("%s: it is ready, and waits for %d free %s on one node (%d %s free across the pool's nodes)",
			notRun, need, plural(need, "slot", "slots"), free, plural(free, "slot is", "slots are"))
		return e
	}
	e.verdict = fmt.Sprintf("%s, but it is ready and %d %s room for it: it should start within moments", notRun, room, plural(room, "node has", "nodes have"))
	e.add("if it stays active, the scheduler or the node's agent may be stuck: see the server's log")
	return e
}

// completedHow says how a completed task ended.
func completedHow(t batch.Task) string {
	ei := t.ExecutionInfo
	if ei == nil {
		return "no execution information"
	}
	s := string(ei.Result)
	if s == "" {
		s = "completed"
	}
	s += " (" + describeEnd(t) + ")"
	if !ei.EndTime.IsZero() && !ei.StartTime.IsZero() {
		s += fmt.Sprintf(" after running %s", ei.EndTime.Sub(ei.StartTime).Round(time.Millisecond))
	}
	return s
}

func dependencyCount(d *batch.TaskDependencies) int {
	n := len(d.TaskIDs)
	for _, r := range d.TaskIDRanges {
		n += int(r.End-r.Start) + 1
	}
	return n
}
