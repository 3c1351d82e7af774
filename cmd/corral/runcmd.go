package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"corral/agent"
	"corral/batch"
	"corral/server"
)

var runSpec = verbSpec{
	name:     "run",
	synopsis: "FILE [--pool ID] [--id ID] [--env NAME=VALUE]... [--url URL | --embedded] [--data DIR] [--out DIR] [--nodes N] [--slots S]",
	summary:  "Run a job file to the end, starting a Corral server for it if none is running.",
	help: `corral run submits the job, shows its progress, waits until every task has completed
(or is blocked for ever by a failed dependency), prints a summary, and exits 0 if every task
succeeded, 1 otherwise, 130 on Ctrl-C.

Without a server: when nothing answers at --url (default: $CORRAL_URL, else
` + defaultURL + `; an address given with --url or $CORRAL_URL must answer), or with --embedded,
it starts one inside this process on a free loopback port, with a fresh account key and a data
directory (--data; default a temporary one, removed at exit). It creates the job's pool there:
--nodes nodes (default 1) of --slots slots (default: this machine's CPUs, at least 2), each node
a node-agent process on this machine. At the end it copies every task's stdout.txt and
stderr.txt into the output directory, shuts the server down and kills its nodes.

With a server: it uses it, with the pool from --pool or the file (default "local"), creating
that pool, sized as above, if it does not exist; the job then keeps running on the server if
corral run is interrupted.

The output directory (--out; with its own server, default a new directory under the system's
temporary directory, kept) holds work/, which every task finds in $CORRAL_JOB_DIR (a directory
tasks share: every node is on this machine), tasks/<id>/ with each task's output, and the
server's log.

` + jobFileHelp,
}

// runOptions are the options of `corral run`.
type runOptions struct {
	Conn     connOptions
	File     string
	Pool     string
	ID       string
	Env      envFlag
	Embedded bool
	Data     string
	Out      string
	Nodes    int
	Slots    int
	Interval time.Duration
}

// defaultSlots is the task slots of the node `corral run` creates: one per CPU, as many as
// the machine can run at once for CPU-bound tasks, and at least 2 so that a job's parallel
// branches overlap on a one-CPU machine too.
func defaultSlots() int { return max(2, runtime.NumCPU()) }

func parseRun(fs *flag.FlagSet, args []string, getenv func(string) string) (*runOptions, error) {
	o := &runOptions{}
	o.Conn.register(fs)
	fs.StringVar(&o.Pool, "pool", "", `the pool to run on (overrides the file's; default "local")`)
	fs.StringVar(&o.ID, "id", "", "the job's id (overrides the file's)")
	fs.Var(&o.Env, "env", "NAME=VALUE: an environment variable for every task (repeatable)")
	fs.BoolVar(&o.Embedded, "embedded", false, "start a server in this process even if one answers at --url")
	fs.StringVar(&o.Data, "data", "", "the started server's data directory (implies --embedded; default: a temporary one, removed at exit)")
	fs.StringVar(&o.Out, "out", "", "the output directory (default: a new temporary directory, kept)")
	fs.IntVar(&o.Nodes, "nodes", 1, "nodes of a pool corral run creates")
	fs.IntVar(&o.Slots, "slots", defaultSlots(), "task slots per node of a pool corral run creates")
	fs.DurationVar(&o.Interval, "interval", 500*time.Millisecond, "how often to ask the server for progress")
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
	if o.Nodes < 1 || o.Nodes > 64 {
		return nil, usagef("--nodes %d: want 1 to 64 (each node is a process on this machine)", o.Nodes)
	}
	if o.Slots < 1 || o.Slots > batch.MaxTaskSlotsPerNode {
		return nil, usagef("--slots %d: want 1 to %d", o.Slots, batch.MaxTaskSlotsPerNode)
	}
	if o.Interval < 10*time.Millisecond {
		return nil, usagef("--interval %v: want at least 10ms", o.Interval)
	}
	urlFlag := o.Conn.URL
	if err := o.Conn.resolve(getenv); err != nil {
		return nil, err
	}
	if (o.Embedded || o.Data != "") && urlFlag != "" {
		return nil, usagef("--url is a running server's; --embedded and --data are for the server corral run starts")
	}
	if o.Data != "" {
		o.Embedded = true
	}
	return o, nil
}

// answers reports whether something accepts connections at the URL's address.
func answers(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	conn, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

func runRun(ctx context.Context, o *runOptions, s *streams) (err error) {
	start := time.Now()
	pj, err := readJobFile(o.File, start)
	if err != nil {
		return err
	}
	embedded := o.Embedded
	if !embedded && !answers(o.Conn.URL) {
		if o.Conn.URLGiven {
			return fmt.Errorf("nothing answers at %s (start a server there, or use --embedded to run the job on a server of its own)", o.Conn.URL)
		}
		embedded = true
	}
	poolID := o.Pool
	if poolID == "" {
		poolID = pj.Pool
	}
	if poolID == "" {
		poolID = "local"
	}
	applyOverrides(pj, o.ID, poolID, nil)

	outDir := o.Out
	if outDir == "" && embedded {
		if outDir, err = os.MkdirTemp("", "corral-"+pj.Job.ID+"-"); err != nil {
			return fmt.Errorf("output directory: %w", err)
		}
	}
	var env []envPair
	if outDir != "" {
		if outDir, err = filepath.Abs(outDir); err != nil {
			return fmt.Errorf("output directory: %w", err)
		}
		if err := os.MkdirAll(filepath.Join(outDir, "work"), 0o755); err != nil {
			return fmt.Errorf("output directory: %w", err)
		}
		env = append(env, envPair{"CORRAL_JOB_DIR", filepath.Join(outDir, "work")})
	}
	applyOverrides(pj, "", "", append(env, o.Env...))

	var (
		c   *client
		emb *embeddedServer
	)
	if embedded {
		emb, err = startEmbedded(o, outDir, s)
		if err != nil {
			return err
		}
		defer func() {
			if cerr := emb.stop(); err == nil && cerr != nil {
				err = cerr
			}
		}()
		c = emb.client
		if err := c.do(ctx, http.MethodPost, "/pools", newPool(poolID, o.Nodes, o.Slots, ""), nil); err != nil {
			return fmt.Errorf("create pool %s: %w", poolID, err)
		}
	} else {
		if c, err = newClient(o.Conn); err != nil {
			return err
		}
		if err := ensurePool(ctx, c, poolID, o, s); err != nil {
			return err
		}
	}

	err = submitJob(ctx, c, pj, s.Err)
	if errors.Is(err, errJobExists) && o.ID == "" {
		// Running the same file twice on one server is the common case: take a fresh id.
		old := pj.Job.ID
		pj.Job.ID = defaultJobID(old, time.Now())
		fmt.Fprintf(s.Err, "corral run: job %s exists already: submitting as %s\n", old, pj.Job.ID)
		err = submitJob(ctx, c, pj, s.Err)
	}
	if err != nil {
		return err
	}
	where := "on a server started for it"
	if !embedded {
		where = "on " + c.base
	}
	fmt.Fprintf(s.Err, "corral run: job %s: %d %s on pool %s %s\n", pj.Job.ID, len(pj.Tasks), plural(len(pj.Tasks), "task", "tasks"), poolID, where)

	res, err := watchJob(ctx, c, pj.Job.ID, o.Interval, newProgress(s.Err, s.ErrTTY))
	if err != nil {
		switch {
		case ctx.Err() != nil && emb != nil:
			// Keep what the tasks wrote so far: the nodes and their directories are about to go.
			if tasks, lerr := list[batch.Task](context.WithoutCancel(ctx), c, "/jobs/"+pj.Job.ID+"/tasks"); lerr == nil {
				emb.copyOutputs(pj.Job.ID, tasks, outDir)
				fmt.Fprintf(s.Err, "corral run: the tasks' output so far is in %s\n", filepath.Join(outDir, "tasks"))
			}
		case ctx.Err() != nil:
			fmt.Fprintf(s.Err, "corral run: the job goes on on the server; follow it with: corral job watch %s\n", pj.Job.ID)
		}
		return err
	}
	// The output (copied from the nodes before they go, when they are ours) and the summary.
	tasks, err := list[batch.Task](context.WithoutCancel(ctx), c, "/jobs/"+pj.Job.ID+"/tasks")
	if err != nil {
		return err
	}
	var out taskOutputs = &apiOutputs{c: c, jobID: pj.Job.ID}
	if emb != nil {
		out, err = emb.copyOutputs(pj.Job.ID, tasks, outDir)
		if err != nil {
			fmt.Fprintf(s.Err, "corral run: %v\n", err)
		}
	}
	writeRunSummary(s.Out, pj, tasks, res, time.Since(start), out, outDir, embedded)
	if !res.succeeded() {
		return &exitError{code: 1}
	}
	return nil
}

// ensurePool creates the pool on a running server if it does not exist.
func ensurePool(ctx context.Context, c *client, poolID string, o *runOptions, s *streams) error {
	var p batch.Pool
	err := c.get(ctx, "/pools/"+poolID, &p)
	if errCode(err) != "PoolNotFound" {
		return err
	}
	if err := c.do(ctx, http.MethodPost, "/pools", newPool(poolID, o.Nodes, o.Slots, ""), nil); err != nil && errCode(err) != "PoolExists" {
		return fmt.Errorf("create pool %s: %w", poolID, err)
	}
	fmt.Fprintf(s.Err, "corral run: created pool %s: %d %s of %d slots\n", poolID, o.Nodes, plural(o.Nodes, "node", "nodes"), o.Slots)
	return nil
}

// embeddedServer is the server `corral run` starts in its own process.
type embeddedServer struct {
	srv     *server.Server
	client  *client
	data    string
	temp    bool // remove data at the end
	logFile *os.File
}

func startEmbedded(o *runOptions, outDir string, s *streams) (*embeddedServer, error) {
	e := &embeddedServer{data: o.Data}
	if e.data == "" {
		d, err := os.MkdirTemp("", "corral-data-")
		if err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		e.data, e.temp = d, true
	}
	fail := func(err error) (*embeddedServer, error) {
		if e.logFile != nil {
			e.logFile.Close()
		}
		if e.temp {
			os.RemoveAll(e.data)
		}
		return nil, err
	}
	// The account: CORRAL_ACCOUNT_NAME if set; the key of --data if it has one, else a new one.
	acct, err := server.LoadAccount(e.data, func(k string) string {
		if k == "CORRAL_ACCOUNT_NAME" {
			return s.Getenv(k)
		}
		return ""
	})
	if err != nil {
		return fail(fmt.Errorf("account key: %w", err))
	}
	logPath := filepath.Join(outDir, "server.log")
	if e.logFile, err = os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err != nil {
		return fail(fmt.Errorf("server log: %w", err))
	}
	e.srv, err = server.Start(server.Config{
		Listen:  "127.0.0.1:0",
		DataDir: e.data,
		Account: acct,
		Logger:  slog.New(slog.NewTextHandler(e.logFile, nil)),
	})
	if err != nil {
		return fail(err)
	}
	e.client = &client{base: e.srv.URL, account: acct.Name, key: acct.Key, http: &http.Client{Timeout: 60 * time.Second}}
	what := "a temporary data directory"
	if !e.temp {
		what = e.data
	}
	fmt.Fprintf(s.Err, "corral run: started a server at %s (data in %s, log in %s)\n", e.srv.URL, what, logPath)
	return e, nil
}

// stop shuts the server down, kills its nodes (their agents would outlive it, as VMs outlive the
// service, and reconnect to a later server on the same data), and removes a temporary data
// directory.
func (e *embeddedServer) stop() error {
	err := e.srv.Close()
	e.srv.Provider().KillAll()
	e.logFile.Close()
	if e.temp {
		if rerr := os.RemoveAll(e.data); err == nil && rerr != nil {
			err = fmt.Errorf("remove the data directory: %w", rerr)
		}
	}
	return err
}

// taskOutputs reads a task's stdout.txt or stderr.txt for the summary.
type taskOutputs interface {
	read(taskID, name string) ([]byte, error)
}

// apiOutputs reads task files through the REST API.
type apiOutputs struct {
	c     *client
	jobID string
}

func (a *apiOutputs) read(taskID, name string) ([]byte, error) {
	var buf bytes.Buffer
	err := copyTaskFile(context.Background(), a.c, a.jobID, taskID, name, &buf, a.c.base)
	return buf.Bytes(), err
}

// dirOutputs reads the copies in the output directory.
type dirOutputs string

func (d dirOutputs) read(taskID, name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(string(d), taskID, name))
}

// copyOutputs copies every task's stdout.txt and stderr.txt from the nodes' directories into
// outDir/tasks/<task>/, before the nodes (and their directories) are deleted. The nodes are local
// processes of the server's local provider: node n of pool p works in <data>/nodes/p/n.
func (e *embeddedServer) copyOutputs(jobID string, tasks []batch.Task, outDir string) (taskOutputs, error) {
	dst := filepath.Join(outDir, "tasks")
	var errs []error
	for _, t := range tasks {
		n := t.NodeInfo
		if n == nil || n.NodeID == "" {
			continue
		}
		layout, err := agent.NewLayout(filepath.Join(e.data, "nodes", n.PoolID, n.NodeID))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.MkdirAll(filepath.Join(dst, t.ID), 0o755); err != nil {
			return dirOutputs(dst), fmt.Errorf("copy task outputs: %w", err)
		}
		for _, name := range []string{agent.StdoutFile, agent.StderrFile} {
			if err := copyOut(layout, jobID, t.ID, name, filepath.Join(dst, t.ID, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return dirOutputs(dst), fmt.Errorf("copy task outputs: %w", err)
	}
	return dirOutputs(dst), nil
}

func copyOut(l agent.Layout, jobID, taskID, name, to string) error {
	f, _, err := l.OpenFile(jobID, taskID, name)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, f); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// writeRunSummary writes what `corral run` did: the counts, the output of the job's last tasks
// (those no other task depends on, when there are few), the end of failed tasks' stderr, and
// where the outputs are.
func writeRunSummary(w io.Writer, pj *parsedJob, tasks []batch.Task, res watchResult, wall time.Duration, out taskOutputs, outDir string, embedded bool) {
	k := res.Counts
	fmt.Fprintf(w, "\njob %s: %d %s, %d succeeded, %d failed", pj.Job.ID, res.total(), plural(int(res.total()), "task", "tasks"), k.Succeeded, k.Failed)
	if res.Blocked > 0 {
		fmt.Fprintf(w, ", %d blocked by a failed dependency", res.Blocked)
	}
	fmt.Fprintf(w, ", wall time %s\n", wall.Round(10*time.Millisecond))

	depended := map[string]bool{}
	for _, t := range tasks {
		if t.DependsOn != nil {
			for _, d := range t.DependsOn.TaskIDs {
				depended[batch.IDKey(d)] = true
			}
		}
	}
	var leaves []batch.Task
	for _, t := range tasks {
		if !depended[batch.IDKey(t.ID)] && t.State == batch.TaskCompleted && !failedTask(t) {
			leaves = append(leaves, t)
		}
	}
	if len(leaves) <= 3 {
		for _, t := range leaves {
			b, err := out.read(t.ID, agent.StdoutFile)
			if err != nil {
				fmt.Fprintf(w, "\n(%s's output: %v)\n", t.ID, err)
				continue
			}
			writeExcerpt(w, fmt.Sprintf("%s: stdout", t.ID), b, 40, false)
		}
	}
	for i, t := range res.Failed {
		if i == 3 {
			fmt.Fprintf(w, "\n… and %d more failed tasks\n", len(res.Failed)-3)
			break
		}
		fmt.Fprintf(w, "\nfailed: %s (%s)\n", t.ID, describeEnd(t))
		if b, err := out.read(t.ID, agent.StderrFile); err == nil && len(bytes.TrimSpace(b)) > 0 {
			writeExcerpt(w, fmt.Sprintf("%s: stderr, last lines", t.ID), b, 10, true)
		}
	}
	fmt.Fprintln(w)
	switch {
	case embedded:
		fmt.Fprintf(w, "outputs in %s:\n", outDir)
		fmt.Fprintf(w, "  work/                   the files the tasks wrote to $CORRAL_JOB_DIR\n")
		fmt.Fprintf(w, "  tasks/<id>/stdout.txt   each task's output (and stderr.txt)\n")
		fmt.Fprintf(w, "  server.log              the server's log\n")
	default:
		if outDir != "" {
			fmt.Fprintf(w, "files the tasks wrote to $CORRAL_JOB_DIR: %s\n", filepath.Join(outDir, "work"))
		}
		fmt.Fprintf(w, "a task's output: corral task output %s TASK [--stderr]; all tasks: corral task list %s\n", pj.Job.ID, pj.Job.ID)
	}
}

// writeExcerpt writes the first (or last) max lines of b under a title.
func writeExcerpt(w io.Writer, title string, b []byte, maxLines int, tail bool) {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	fmt.Fprintf(w, "\n--- %s ---\n", title)
	switch {
	case len(lines) <= maxLines:
	case tail:
		fmt.Fprintf(w, "[… %d lines before]\n", len(lines)-maxLines)
		lines = lines[len(lines)-maxLines:]
	default:
		defer fmt.Fprintf(w, "[… %d more lines]\n", len(lines)-maxLines)
		lines = lines[:maxLines]
	}
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}
