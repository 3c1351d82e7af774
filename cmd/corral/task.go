package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"corral/api"
	"corral/batch"
)

var taskGroup = group{
	name:    "task",
	summary: "A task is one command of a job, run on one node of the job's pool.",
	verbs: []groupVerb{
		verb(taskListSpec, parseTaskList, taskListRun),
		verb(taskShowSpec, parseTaskShow, taskShowRun),
		verb(taskOutputSpec, parseTaskOutput, taskOutputRun),
		verb(taskExplainSpec, parseTaskExplain, taskExplainRun),
	},
}

var taskListSpec = verbSpec{
	name:     "task list",
	synopsis: "JOB [--json]",
	summary:  "List a job's tasks: state, result, exit code, node, retries.",
}

// taskListOptions are the options of `corral task list`.
type taskListOptions struct {
	Conn  connOptions
	JobID string
	JSON  bool
}

func parseTaskList(fs *flag.FlagSet, args []string, getenv func(string) string) (*taskListOptions, error) {
	o := &taskListOptions{}
	o.Conn.register(fs)
	fs.BoolVar(&o.JSON, "json", false, "print the tasks as JSON (Azure's CloudTask shape)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if o.JobID, err = oneArg(pos, "the job id"); err != nil {
		return nil, err
	}
	return o, o.Conn.resolve(getenv)
}

func taskListRun(ctx context.Context, o *taskListOptions, s *streams) error {
	c, err := newClient(o.Conn)
	if err != nil {
		return err
	}
	tasks, err := list[batch.Task](ctx, c, "/jobs/"+o.JobID+"/tasks")
	if err != nil {
		return err
	}
	if o.JSON {
		return writeJSON(s.Out, tasks)
	}
	if len(tasks) == 0 {
		fmt.Fprintf(s.Err, "job %s has no tasks\n", o.JobID)
		return nil
	}
	writeTaskTable(s.Out, tasks)
	return nil
}

// writeTaskTable writes tasks as a table.
func writeTaskTable(w io.Writer, tasks []batch.Task) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tRESULT\tEXIT\tNODE\tRETRIES")
	for _, t := range tasks {
		result, exit, retries := "-", "-", "0"
		if ei := t.ExecutionInfo; ei != nil {
			if ei.Result != "" {
				result = string(ei.Result)
			}
			if ei.ExitCode != nil {
				exit = fmt.Sprint(*ei.ExitCode)
			}
			retries = fmt.Sprint(ei.RetryCount)
			if ei.RequeueCount > 0 {
				retries += fmt.Sprintf(" (+%d requeued)", ei.RequeueCount)
			}
		}
		node := "-"
		if t.NodeInfo != nil && t.NodeInfo.NodeID != "" {
			node = t.NodeInfo.NodeID
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.State, result, exit, node, retries)
	}
	tw.Flush()
}

var taskShowSpec = verbSpec{
	name:     "task show",
	synopsis: "JOB TASK [--json]",
	summary:  "Show a task: its command, dependencies, state, node, times and result.",
}

// taskShowOptions are the options of `corral task show`.
type taskShowOptions struct {
	Conn   connOptions
	JobID  string
	TaskID string
	JSON   bool
}

func parseTaskShow(fs *flag.FlagSet, args []string, getenv func(string) string) (*taskShowOptions, error) {
	o := &taskShowOptions{}
	o.Conn.register(fs)
	fs.BoolVar(&o.JSON, "json", false, "print the task as JSON (Azure's CloudTask shape)")
	var err error
	if o.JobID, o.TaskID, err = parseTaskRef(fs, args, getenv, &o.Conn); err != nil {
		return nil, err
	}
	return o, nil
}

func taskShowRun(ctx context.Context, o *taskShowOptions, s *streams) error {
	c, err := newClient(o.Conn)
	if err != nil {
		return err
	}
	var t batch.Task
	if err := c.get(ctx, "/jobs/"+o.JobID+"/tasks/"+o.TaskID, &t); err != nil {
		return err
	}
	if o.JSON {
		return writeJSON(s.Out, t)
	}
	writeTask(s.Out, o.JobID, t, time.Now())
	return nil
}

// writeTask writes a task for people.
func writeTask(w io.Writer, jobID string, t batch.Task, now time.Time) {
	fmt.Fprintf(w, "task %s of job %s: %s", t.ID, jobID, t.State)
	if ei := t.ExecutionInfo; ei != nil && t.State == batch.TaskCompleted && ei.Result != "" {
		fmt.Fprintf(w, " (%s)", ei.Result)
	}
	fmt.Fprintln(w)
	row := func(k, format string, args ...any) {
		fmt.Fprintf(w, "  %-13s %s\n", k+":", fmt.Sprintf(format, args...))
	}
	if t.DisplayName != "" {
		row("name", "%s", t.DisplayName)
	}
	row("command", "%s", t.CommandLine)
	if d := t.DependsOn; !d.Empty() {
		deps := append([]string(nil), d.TaskIDs...)
		for _, r := range d.TaskIDRanges {
			deps = append(deps, fmt.Sprintf("%d..%d", r.Start, r.End))
		}
		row("depends on", "%s", strings.Join(deps, ", "))
	}
	for _, e := range t.EnvironmentSettings {
		row("env", "%s=%s", e.Name, e.Value)
	}
	if t.RequiredSlots != nil {
		row("slots", "%d", *t.RequiredSlots)
	}
	if c := t.Constraints; c != nil {
		if c.MaxTaskRetryCount != nil {
			row("max retries", "%d", *c.MaxTaskRetryCount)
		}
		if c.MaxWallClockTime != nil && c.MaxWallClockTime.Std() != batch.Infinite {
			row("max wall", "%s", c.MaxWallClockTime.Std())
		}
	}
	if n := t.NodeInfo; n != nil && n.NodeID != "" {
		row("node", "%s (pool %s)", n.NodeID, n.PoolID)
	}
	if !t.CreationTime.IsZero() {
		row("created", "%s", t.CreationTime.Local().Format("2006-01-02 15:04:05"))
	}
	if ei := t.ExecutionInfo; ei != nil {
		if !ei.StartTime.IsZero() {
			row("started", "%s", ei.StartTime.Local().Format("2006-01-02 15:04:05"))
		}
		switch {
		case !ei.EndTime.IsZero():
			row("ended", "%s (ran %s)", ei.EndTime.Local().Format("2006-01-02 15:04:05"), ei.EndTime.Sub(ei.StartTime).Round(time.Millisecond))
		case !ei.StartTime.IsZero() && t.State == batch.TaskRunning:
			row("running for", "%s", now.Sub(ei.StartTime).Round(time.Second))
		}
		if ei.ExitCode != nil {
			row("exit code", "%d", *ei.ExitCode)
		}
		if fi := ei.FailureInfo; fi != nil {
			row("failure", "%s %s: %s", fi.Category, fi.Code, fi.Message)
		}
		if ei.RetryCount > 0 || ei.RequeueCount > 0 {
			row("retries", "%d (requeued %d)", ei.RetryCount, ei.RequeueCount)
		}
	}
	switch t.State {
	case batch.TaskActive:
		fmt.Fprintf(w, "why it has not run yet: corral task explain %s %s\n", jobID, t.ID)
	case batch.TaskCompleted, batch.TaskRunning:
		fmt.Fprintf(w, "its output: corral task output %s %s [--stderr]\n", jobID, t.ID)
	}
}

var taskOutputSpec = verbSpec{
	name:     "task output",
	synopsis: "JOB TASK [--stderr]",
	summary:  "Print a task's standard output (stdout.txt), or with --stderr its standard error.",
	help: `The file comes from the node that runs or ran the task (Azure Batch's File - Get From
Task, GET /jobs/{job}/tasks/{task}/files/stdout.txt): a running task's output so far.`,
}

// taskOutputOptions are the options of `corral task output`.
type taskOutputOptions struct {
	Conn   connOptions
	JobID  string
	TaskID string
	Stderr bool
}

func parseTaskOutput(fs *flag.FlagSet, args []string, getenv func(string) string) (*taskOutputOptions, error) {
	o := &taskOutputOptions{}
	o.Conn.register(fs)
	fs.BoolVar(&o.Stderr, "stderr", false, "print stderr.txt instead of stdout.txt")
	var err error
	if o.JobID, o.TaskID, err = parseTaskRef(fs, args, getenv, &o.Conn); err != nil {
		return nil, err
	}
	return o, nil
}

func taskOutputRun(ctx context.Context, o *taskOutputOptions, s *streams) error {
	c, err := newClient(o.Conn)
	if err != nil {
		return err
	}
	name := "stdout.txt"
	if o.Stderr {
		name = "stderr.txt"
	}
	return copyTaskFile(ctx, c, o.JobID, o.TaskID, name, s.Out, o.Conn.URL)
}

// copyTaskFile writes one of a task's files to w. A server without the files route (501) gets a
// clear message saying where the file is on the server's machine.
func copyTaskFile(ctx context.Context, c *client, jobID, taskID, name string, w io.Writer, url string) error {
	resp, err := c.send(ctx, http.MethodGet, "/jobs/"+jobID+"/tasks/"+taskID+"/files/"+name, nil, nil)
	if err == nil {
		defer resp.Body.Close()
		if _, err := io.Copy(w, resp.Body); err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		return nil
	}
	switch code := errCode(err); {
	case errStatus(err) == http.StatusNotImplemented:
		var t batch.Task
		where := "in the task's directory on its node"
		if c.get(ctx, "/jobs/"+jobID+"/tasks/"+taskID, &t) == nil && t.NodeInfo != nil && t.NodeInfo.NodeID != "" {
			where = "on the server's machine, in " + filepath.Join("<data dir>", "nodes", t.NodeInfo.PoolID, t.NodeInfo.NodeID,
				"workitems", jobID, "job-1", taskID, name)
		}
		return fmt.Errorf("the server at %s does not serve task files yet (Task - Get File answered 501 Not Implemented); the file is %s", url, where)
	case code == api.CodeOperationInvalidForCurrentState:
		return fmt.Errorf("task %s has not started yet, so it has no %s (see why: corral task explain %s %s)", taskID, name, jobID, taskID)
	case code == api.CodeTaskFilesUnavailable:
		return fmt.Errorf("the node that ran task %s no longer has its files, or cannot be reached now (the node was deleted or lost, or its agent is not connected): %w", taskID, err)
	case code == api.CodeFileNotFound:
		return fmt.Errorf("task %s has no %s (yet)", taskID, name)
	}
	return err
}
