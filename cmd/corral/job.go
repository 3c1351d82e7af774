package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"corral/api"
	"corral/api/rest"
	"corral/batch"
)

var jobGroup = group{
	name:    "job",
	summary: "A job is a set of tasks, with the dependencies between them, that run on one pool.",
	verbs: []groupVerb{
		verb(jobSubmitSpec, parseJobSubmit, jobSubmitRun),
		verb(jobWatchSpec, parseJobWatch, jobWatchRun),
		verb(jobListSpec, parseJobList, jobListRun),
		verb(jobTerminateSpec, parseJobTerminate, jobTerminateRun),
	},
}

var jobSubmitSpec = verbSpec{
	name:     "job submit",
	synopsis: "FILE [--pool ID] [--id ID] [--env NAME=VALUE]...",
	summary:  "Submit the job a job file describes; print its id.",
	help:     jobFileHelp + "\n\nFollow the job with: corral job watch ID",
}

// jobSubmitOptions are the options of `corral job submit`.
type jobSubmitOptions struct {
	Conn connOptions
	File string
	Pool string // overrides the file's
	ID   string // overrides the file's
	Env  envFlag
}

func parseJobSubmit(fs *flag.FlagSet, args []string, getenv func(string) string) (*jobSubmitOptions, error) {
	o := &jobSubmitOptions{}
	o.Conn.register(fs)
	fs.StringVar(&o.Pool, "pool", "", "the pool to run on (overrides the file's pool)")
	fs.StringVar(&o.ID, "id", "", "the job's id (overrides the file's id)")
	fs.Var(&o.Env, "env", "NAME=VALUE: an environment variable for every task (repeatable; overrides the file's)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if o.File, err = oneArg(pos, "the job file"); err != nil {
		return nil, err
	}
	if err := checkIDFlags(o.ID, o.Pool); err != nil {
		return nil, err
	}
	return o, o.Conn.resolve(getenv)
}

// checkIDFlags checks --id and --pool.
func checkIDFlags(id, pool string) error {
	if id != "" && !batch.ValidID(id) {
		return usagef("--id %q: use 1 to 64 letters, digits, '-' and '_'", id)
	}
	if pool != "" && !batch.ValidID(pool) {
		return usagef("--pool %q: use 1 to 64 letters, digits, '-' and '_'", pool)
	}
	return nil
}

// applyOverrides sets the job's id and pool from the flags, and adds env to every task.
func applyOverrides(pj *parsedJob, id, pool string, env []envPair) {
	if id != "" {
		pj.Job.ID, pj.IDFromFile = id, true
	}
	if pool != "" {
		pj.Pool = pool
	}
	pj.Job.PoolInfo.PoolID = pj.Pool
	for _, e := range env {
		for i := range pj.Tasks {
			pj.Tasks[i].EnvironmentSettings = setEnv(pj.Tasks[i].EnvironmentSettings, e.Name, e.Value)
		}
	}
}

// setEnv sets name in env, replacing an earlier value.
func setEnv(env []batch.EnvironmentSetting, name, value string) []batch.EnvironmentSetting {
	for i := range env {
		if env[i].Name == name {
			out := append([]batch.EnvironmentSetting(nil), env...)
			out[i].Value = value
			return out
		}
	}
	return append(append([]batch.EnvironmentSetting(nil), env...), batch.EnvironmentSetting{Name: name, Value: value})
}

func jobSubmitRun(ctx context.Context, o *jobSubmitOptions, s *streams) error {
	pj, err := readJobFile(o.File, time.Now())
	if err != nil {
		return err
	}
	applyOverrides(pj, o.ID, o.Pool, o.Env)
	if pj.Pool == "" {
		return fmt.Errorf("no pool: give --pool ID, or pool: in %s (list pools with: corral pool list)", o.File)
	}
	c, err := newClient(o.Conn)
	if err != nil {
		return err
	}
	if err := submitJob(ctx, c, pj, s.Err); err != nil {
		return err
	}
	fmt.Fprintln(s.Out, pj.Job.ID)
	return nil
}

// submitRetryDelay is the pause before the first retry of tasks the server could not add; the
// n-th retry waits n times as long.
var submitRetryDelay = 500 * time.Millisecond

// errJobExists is returned by submitJob when the job's id is taken.
var errJobExists = errors.New("job exists")

// submitJob adds the job and then its tasks, in collections of at most 100 (Azure's limit),
// retrying tasks the server failed to add (servererror) a few times. Tasks it could not add are
// reported together; the job then exists with the others.
func submitJob(ctx context.Context, c *client, pj *parsedJob, log io.Writer) error {
	if err := c.do(ctx, http.MethodPost, "/jobs", pj.Job, nil); err != nil {
		if errCode(err) == "JobExists" {
			return fmt.Errorf("%w: a job %s exists already: give another id with --id", errJobExists, pj.Job.ID)
		}
		return fmt.Errorf("add job %s: %w", pj.Job.ID, err)
	}
	var failed []string
	added := 0
	pending := pj.Tasks
	size := api.MaxTasksPerCollection
	for attempt := 1; len(pending) > 0; attempt++ {
		var retry []batch.Task
		for len(pending) > 0 {
			n := min(size, len(pending))
			chunk := pending[:n]
			var res struct {
				Value []rest.TaskAddResult `json:"value"`
			}
			err := c.do(ctx, http.MethodPost, "/jobs/"+pj.Job.ID+"/addtaskcollection", map[string]any{"value": chunk}, &res)
			if errCode(err) == api.CodeRequestBodyTooLarge && n > 1 {
				size = max(1, n/2)
				continue
			}
			if err != nil {
				return fmt.Errorf("add tasks to job %s (%d of %d added): %w", pj.Job.ID, added, len(pj.Tasks), err)
			}
			results := matchResults(chunk, res.Value)
			for i, t := range chunk {
				r, ok := results[i]
				switch {
				case !ok:
					retry = append(retry, t)
				case r.Status == rest.TaskAddSuccess:
					added++
				case r.Status == rest.TaskAddServerError && attempt < 3:
					retry = append(retry, t)
				default:
					failed = append(failed, fmt.Sprintf("task %s: %s", t.ID, describeAddError(r)))
				}
			}
			pending = pending[n:]
		}
		if len(retry) > 0 {
			fmt.Fprintf(log, "retrying %d %s the server could not add\n", len(retry), plural(len(retry), "task", "tasks"))
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * submitRetryDelay):
			}
		}
		pending = retry
	}
	if len(failed) > 0 {
		shown := failed
		if len(shown) > 10 {
			shown = append(shown[:10:10], fmt.Sprintf("… and %d more", len(failed)-10))
		}
		return fmt.Errorf("job %s was created, but %d of its %d tasks could not be added:\n  %s\n(terminate it with: corral job terminate %s)",
			pj.Job.ID, len(failed), len(pj.Tasks), strings.Join(shown, "\n  "), pj.Job.ID)
	}
	return nil
}

// matchResults pairs each task of an Add Collection with its result: by position when the
// results are in the order of the tasks (as Corral answers), else by task id (Azure does not
// promise the order).
func matchResults(tasks []batch.Task, results []rest.TaskAddResult) map[int]rest.TaskAddResult {
	out := make(map[int]rest.TaskAddResult, len(tasks))
	inOrder := len(results) == len(tasks)
	for i := 0; inOrder && i < len(tasks); i++ {
		inOrder = batch.IDKey(results[i].TaskID) == batch.IDKey(tasks[i].ID)
	}
	if inOrder {
		for i, r := range results {
			out[i] = r
		}
		return out
	}
	byID := map[string][]rest.TaskAddResult{}
	for _, r := range results {
		k := batch.IDKey(r.TaskID)
		byID[k] = append(byID[k], r)
	}
	for i, t := range tasks {
		k := batch.IDKey(t.ID)
		if rs := byID[k]; len(rs) > 0 {
			out[i], byID[k] = rs[0], rs[1:]
		}
	}
	return out
}

func describeAddError(r rest.TaskAddResult) string {
	if r.Error == nil {
		return r.Status
	}
	msg, _, _ := strings.Cut(r.Error.Message.Value, "\n")
	s := r.Error.Code + ": " + msg
	for _, v := range r.Error.Values {
		s += fmt.Sprintf(" (%s: %s)", v.Key, v.Value)
	}
	return s
}

var jobWatchSpec = verbSpec{
	name:     "job watch",
	synopsis: "ID [--interval D]",
	summary:  "Follow a job's progress until every task has completed.",
	help: `Progress goes to standard error: a bar on a terminal, else a line each time it changes
("12/40 completed, 3 running, 0 failed"). The exit code is 0 when every task succeeded, 1 when
a task failed (once the others have completed or are blocked for ever by a failed dependency),
and 130 on Ctrl-C.`,
}

// jobWatchOptions are the options of `corral job watch`.
type jobWatchOptions struct {
	Conn     connOptions
	JobID    string
	Interval time.Duration
}

func parseJobWatch(fs *flag.FlagSet, args []string, getenv func(string) string) (*jobWatchOptions, error) {
	o := &jobWatchOptions{}
	o.Conn.register(fs)
	fs.DurationVar(&o.Interval, "interval", time.Second, "how often to ask the server")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if o.JobID, err = oneArg(pos, "the job id"); err != nil {
		return nil, err
	}
	if o.Interval < 10*time.Millisecond {
		return nil, usagef("--interval %v: want at least 10ms", o.Interval)
	}
	return o, o.Conn.resolve(getenv)
}

func jobWatchRun(ctx context.Context, o *jobWatchOptions, s *streams) error {
	c, err := newClient(o.Conn)
	if err != nil {
		return err
	}
	res, err := watchJob(ctx, c, o.JobID, o.Interval, newProgress(s.Err, s.ErrTTY))
	if err != nil {
		return err
	}
	writeOutcome(s.Out, o.JobID, res)
	if !res.succeeded() {
		return &exitError{code: 1}
	}
	return nil
}

// watchResult is how a watched job ended.
type watchResult struct {
	Counts batch.TaskCounts
	// Blocked counts the active tasks that will never run: a dependency failed.
	Blocked int
	// Failed are the tasks that completed with a failure (read only when some did).
	Failed []batch.Task
}

func (r watchResult) total() int32 { return r.Counts.Active + r.Counts.Running + r.Counts.Completed }

func (r watchResult) succeeded() bool { return r.Counts.Failed == 0 && r.Blocked == 0 }

// watchJob polls the job's task counts every interval, reporting them to p, until every task has
// completed, or every task that has not is blocked for ever by a failed dependency.
func watchJob(ctx context.Context, c *client, jobID string, interval time.Duration, p *progress) (watchResult, error) {
	var res watchResult
	var checked batch.TaskCounts // the counts at the last look for blocked tasks
	var last batch.TaskCounts
	lastChange, hinted := time.Now(), false
	defer p.finish()
	for {
		var tc batch.TaskCountsResult
		if err := c.get(ctx, "/jobs/"+jobID+"/taskcounts", &tc); err != nil {
			if errCode(err) == "JobNotFound" {
				return res, fmt.Errorf("job %s does not exist (list jobs with: corral job list)", jobID)
			}
			return res, err
		}
		res.Counts = tc.TaskCounts
		k := res.Counts
		switch {
		case res.total() == 0:
			p.update(k, 0)
			return res, nil
		case k.Completed == res.total():
			p.update(k, 0)
			return res, finishResult(ctx, c, jobID, &res)
		case k.Failed > 0 && k.Running == 0 && k != checked:
			// Failed tasks block their dependents for ever (Azure leaves them active): stop once
			// nothing else can run.
			checked = k
			tasks, err := list[batch.Task](ctx, c, "/jobs/"+jobID+"/tasks")
			if err != nil {
				return res, err
			}
			blocked, active := blockedTasks(tasks)
			res.Blocked = len(blocked)
			if active > 0 && len(blocked) == active {
				p.update(k, res.Blocked)
				return res, finishResult(ctx, c, jobID, &res)
			}
		}
		p.update(k, res.Blocked)
		if k != last {
			last, lastChange = k, time.Now()
		} else if !hinted && k.Running == 0 && k.Active > 0 && time.Since(lastChange) >= stallHint {
			// Nothing runs and nothing changes: say how to find out why.
			hinted = true
			if tasks, err := list[batch.Task](ctx, c, "/jobs/"+jobID+"/tasks"); err == nil {
				for _, t := range tasks {
					if t.State == batch.TaskActive {
						p.note(fmt.Sprintf("no task has run for %s; ask why with: corral task explain %s %s", stallHint, jobID, t.ID))
						break
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-time.After(interval):
		}
	}
}

// stallHint is how long watchJob waits, with nothing running and nothing changing, before it
// says how to find out why.
const stallHint = 30 * time.Second

// finishResult reads the failed tasks of a job that ended with failures.
func finishResult(ctx context.Context, c *client, jobID string, res *watchResult) error {
	if res.Counts.Failed == 0 {
		return nil
	}
	tasks, err := list[batch.Task](ctx, c, "/jobs/"+jobID+"/tasks")
	if err != nil {
		return err
	}
	for _, t := range tasks {
		if failedTask(t) {
			res.Failed = append(res.Failed, t)
		}
	}
	return nil
}

func failedTask(t batch.Task) bool {
	return t.State == batch.TaskCompleted && t.ExecutionInfo != nil && t.ExecutionInfo.Result == batch.ResultFailure
}

// blockedTasks returns the active tasks that will never run because a dependency failed, and
// the number of active tasks.
func blockedTasks(tasks []batch.Task) (blocked []string, active int) {
	g := dependencyGraph(tasks)
	for _, t := range tasks {
		if t.State != batch.TaskActive {
			continue
		}
		active++
		if g.Blocked(t.ID) {
			blocked = append(blocked, t.ID)
		}
	}
	return blocked, active
}

// dependencyGraph rebuilds a job's dependency graph from its tasks, as the service keeps it.
func dependencyGraph(tasks []batch.Task) *batch.Graph {
	g := batch.NewGraph()
	if _, err := g.Add(tasks...); err != nil {
		// The service accepted these tasks; add them one by one to keep the ones that fit.
		for _, t := range tasks {
			g.Add(t)
		}
	}
	for _, t := range tasks {
		if t.State == batch.TaskCompleted {
			g.Complete(t.ID, batch.EffectiveExitOptions(t.ExitConditions, exitOf(t)).DependencyAction)
		}
	}
	return g
}

// exitOf rebuilds how a completed task's last attempt ended, as the service does (service/job.go).
func exitOf(t batch.Task) batch.Exit {
	if t.ExecutionInfo == nil || t.ExecutionInfo.ExitCode == nil {
		return batch.Exit{Condition: batch.ExitProcess}
	}
	return batch.Exit{Condition: batch.ExitProcess, Code: t.ExecutionInfo.ExitCode}
}

// writeOutcome writes how a watched job ended, for people.
func writeOutcome(w io.Writer, jobID string, r watchResult) {
	k := r.Counts
	switch {
	case r.total() == 0:
		fmt.Fprintf(w, "job %s has no tasks\n", jobID)
		return
	case r.succeeded():
		fmt.Fprintf(w, "job %s: all %d %s succeeded\n", jobID, r.total(), plural(int(r.total()), "task", "tasks"))
		return
	}
	fmt.Fprintf(w, "job %s: %d of %d tasks succeeded, %d failed", jobID, k.Succeeded, r.total(), k.Failed)
	if r.Blocked > 0 {
		fmt.Fprintf(w, ", %d blocked by a failed dependency", r.Blocked)
	}
	fmt.Fprintln(w)
	for i, t := range r.Failed {
		if i == 10 {
			fmt.Fprintf(w, "  … and %d more\n", len(r.Failed)-10)
			break
		}
		fmt.Fprintf(w, "  failed: %s (%s)\n", t.ID, describeEnd(t))
	}
	if len(r.Failed) > 0 {
		fmt.Fprintf(w, "see why with: corral task output %s %s --stderr\n", jobID, r.Failed[0].ID)
	}
}

// describeEnd says how a completed task ended: "exit code 1", or its failure's message.
func describeEnd(t batch.Task) string {
	ei := t.ExecutionInfo
	if ei == nil {
		return "no execution information"
	}
	var parts []string
	if ei.ExitCode != nil {
		parts = append(parts, fmt.Sprintf("exit code %d", *ei.ExitCode))
	}
	if fi := ei.FailureInfo; fi != nil && (ei.ExitCode == nil || fi.Code != batch.FailureCodeExitCode) {
		msg := fi.Code
		if fi.Message != "" {
			msg += ": " + fi.Message
		}
		parts = append(parts, msg)
	}
	if ei.RetryCount > 0 {
		parts = append(parts, fmt.Sprintf("after %d %s", ei.RetryCount, plural(int(ei.RetryCount), "retry", "retries")))
	}
	if len(parts) == 0 {
		return string(ei.Result)
	}
	return strings.Join(parts, ", ")
}

// progress shows a job's task counts: a bar redrawn in place on a terminal, else a line each
// time the counts change (and every 30 seconds, so that a log shows the job is alive).
type progress struct {
	w      io.Writer
	tty    bool
	now    func() time.Time
	start  time.Time
	last   string
	lastAt time.Time
	drawn  bool
}

func newProgress(w io.Writer, tty bool) *progress {
	return &progress{w: w, tty: tty, now: time.Now, start: time.Now()}
}

// countsLine is "12/40 completed, 3 running, 0 failed".
func countsLine(k batch.TaskCounts, blocked int) string {
	total := k.Active + k.Running + k.Completed
	s := fmt.Sprintf("%d/%d completed, %d running, %d failed", k.Completed, total, k.Running, k.Failed)
	if blocked > 0 {
		s += fmt.Sprintf(", %d blocked", blocked)
	}
	return s
}

func (p *progress) update(k batch.TaskCounts, blocked int) {
	if p == nil {
		return
	}
	line := countsLine(k, blocked)
	now := p.now()
	if !p.tty {
		if line != p.last || now.Sub(p.lastAt) >= 30*time.Second {
			fmt.Fprintln(p.w, line)
			p.last, p.lastAt = line, now
		}
		return
	}
	const width = 30
	total := k.Active + k.Running + k.Completed
	done, running := 0, 0
	if total > 0 {
		done = int(int64(k.Completed) * width / int64(total))
		running = int(int64(k.Completed+k.Running)*width/int64(total)) - done
	}
	bar := strings.Repeat("#", done) + strings.Repeat(">", running) + strings.Repeat(".", width-done-running)
	el := now.Sub(p.start).Round(time.Second)
	fmt.Fprintf(p.w, "\r[%s] %s  %s\x1b[K", bar, line, el)
	p.drawn = true
}

// note prints a message between progress reports.
func (p *progress) note(msg string) {
	if p == nil {
		return
	}
	if p.tty && p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
	fmt.Fprintln(p.w, msg)
}

// finish ends the bar's line.
func (p *progress) finish() {
	if p != nil && p.tty && p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

var jobListSpec = verbSpec{
	name:     "job list",
	synopsis: "[--json]",
	summary:  "List the jobs.",
}

// jobListOptions are the options of a listing verb (see listOptions).
type jobListOptions = listOptions

var parseJobList = parseList("print the jobs as JSON (Azure's CloudJob shape)")

func jobListRun(ctx context.Context, o *jobListOptions, s *streams) error {
	c, err := newClient(o.Conn)
	if err != nil {
		return err
	}
	jobs, err := list[batch.Job](ctx, c, "/jobs")
	if err != nil {
		return err
	}
	if o.JSON {
		return writeJSON(s.Out, jobs)
	}
	if len(jobs) == 0 {
		fmt.Fprintln(s.Err, "no jobs (submit one with: corral job submit FILE)")
		return nil
	}
	tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tPOOL\tCREATED")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", j.ID, j.State, j.PoolInfo.PoolID, j.CreationTime.Local().Format("2006-01-02 15:04:05"))
	}
	return tw.Flush()
}

var jobTerminateSpec = verbSpec{
	name:     "job terminate",
	synopsis: "ID [--reason TEXT]",
	summary:  "Terminate a job: its running tasks are killed, its other tasks never run.",
}

// jobTerminateOptions are the options of `corral job terminate`.
type jobTerminateOptions struct {
	Conn   connOptions
	JobID  string
	Reason string
}

func parseJobTerminate(fs *flag.FlagSet, args []string, getenv func(string) string) (*jobTerminateOptions, error) {
	o := &jobTerminateOptions{}
	o.Conn.register(fs)
	fs.StringVar(&o.Reason, "reason", "", "the job's terminateReason (default UserTerminate)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if o.JobID, err = oneArg(pos, "the job id"); err != nil {
		return nil, err
	}
	return o, o.Conn.resolve(getenv)
}

func jobTerminateRun(ctx context.Context, o *jobTerminateOptions, s *streams) error {
	c, err := newClient(o.Conn)
	if err != nil {
		return err
	}
	var body any
	if o.Reason != "" {
		body = map[string]string{"terminateReason": o.Reason}
	}
	if err := c.do(ctx, http.MethodPost, "/jobs/"+o.JobID+"/terminate", body, nil); err != nil {
		return err
	}
	fmt.Fprintf(s.Out, "terminating job %s\n", o.JobID)
	return nil
}
