package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"corral/agent"
	"corral/api"
	"corral/batch"
	"corral/internal/netns"
	"corral/pki"
	"corral/server"
	"corral/service"
)

// netnsResult is what the run with nodes on namespace hosts measured: the DAG, as a local run
// measures it, and the resize repetitions.
type netnsResult struct {
	corralResult
	resize []resizeSample
}

// resizeSample is one pool resize from 0 to the hosts' count, with ready tasks waiting: each
// figure runs from just before the resize request was sent to the first of its kind.
type resizeSample struct {
	answered time.Duration // the resize request answered (202)
	lent     time.Duration // an agent told which node it is (its "lent to a node" log line, ms)
	recorded time.Duration // an attempt recorded: the earliest executionInfo.startTime
	running  time.Duration // a task's process started: the earliest StartTime in the agents' results
}

// runNetns runs the DAG through the real server listening on the gateway of a netns.Net, so
// that it serves TLS with a CA of its own, and o.hosts namespace hosts, each running a `corral
// agent` that joined the static pool "bench" (o.p/o.hosts slots per node) with a join token,
// through a netns.Proxy when o.latency > 0. Before the DAG, it measures o.resizeReps times how
// long a resize of the pool from 0 to o.hosts nodes takes to get a waiting task running on a
// host. Tasks are submitted in-process, as in the local run; pools, join tokens and resizes go
// through the REST API over TLS.
func runNetns(o options, sh shape, bin string, cl *cleanup) (netnsResult, error) {
	var res netnsResult
	dir, err := tempDir(o.dir, "corral-bench-netns-", cl)
	if err != nil {
		return res, err
	}
	n, err := netns.New()
	if err != nil {
		return res, err
	}
	closeNet := cl.add(n.Close)
	defer closeNet()
	key := []byte(benchKey)
	srv, kind, err := startServer(o, "corral-netns", server.Config{
		Listen:   n.Gateway + ":0",
		DataDir:  filepath.Join(dir, "data"),
		Account:  server.Account{Name: "corral", Key: key},
		Provider: server.ProviderStatic,
		Timing:   service.NodeTiming{CheckEvery: time.Second, LostAfter: 60 * time.Second},
		Logger:   slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}, cl)
	if err != nil {
		return res, err
	}
	closeServer := cl.add(func() { srv.Close() })
	defer closeServer()
	if !strings.HasPrefix(srv.URL, "https://") {
		return res, fmt.Errorf("the server on %s serves %s, not TLS", n.Gateway, srv.URL)
	}
	tlsConf, err := pki.ClientConfigFromFile(srv.CACertFile())
	if err != nil {
		return res, fmt.Errorf("the server's CA: %w", err)
	}
	rc := &restClient{base: srv.URL, key: key, hc: &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf}, Timeout: time.Minute}}
	agentURL := srv.URL
	if o.latency > 0 {
		px, err := netns.NewProxy(n.Gateway+":0", strings.TrimPrefix(srv.URL, "https://"), o.latency)
		if err != nil {
			return res, fmt.Errorf("proxy: %w", err)
		}
		cl.add(func() { px.Close() })
		agentURL = "https://" + px.Addr
	}
	sys, err := newSystem(srv.Runtime(), srv.Store())
	if err != nil {
		return res, err
	}
	slots := o.p / o.hosts
	zero, sl := int32(0), int32(slots)
	if err := rc.do("POST", "/pools", batch.Pool{ID: "bench", VMSize: "static", TargetDedicatedNodes: &zero, TaskSlotsPerNode: &sl}, nil, http.StatusCreated); err != nil {
		return res, err
	}
	var tok struct{ Token string }
	if err := rc.do("POST", "/pools/bench/jointokens", nil, &tok, http.StatusCreated); err != nil {
		return res, err
	}
	fmt.Fprintf(os.Stderr, "corral-netns: server at %s (agents reach it at %s), data in %s; starting %d host(s)\n", srv.URL, agentURL, dir, o.hosts)

	agents := make([]*hostAgent, o.hosts)
	for i := range agents {
		h, err := n.AddHost()
		if err != nil {
			return res, err
		}
		if agents[i], err = startHostAgent(h, bin, agentURL, tok.Token, filepath.Join(dir, "hosts", strconv.Itoa(i)), cl); err != nil {
			return res, err
		}
	}
	// Every process of the hosts goes with them; the agents are reaped, so that their CPU time
	// is counted. The server goes after (closeServer, deferred earlier, runs later).
	stop := cl.add(func() {
		for _, a := range agents {
			if a != nil {
				a.kill()
			}
		}
		n.Close()
	})
	defer stop()
	if err := waitFor(30*time.Second, fmt.Sprintf("%d machines joined pool bench", o.hosts), func() (bool, error) {
		var list struct{ Value []struct{ ID string } }
		err := rc.do("GET", "/pools/bench/machines", nil, &list, http.StatusOK)
		return len(list.Value) == o.hosts, err
	}); err != nil {
		return res, err
	}

	for r := 0; r < o.resizeReps; r++ {
		s, err := resizeOnce(o, sys, rc, agents, r)
		if err != nil {
			return res, fmt.Errorf("resize %d: %w", r+1, err)
		}
		res.resize = append(res.resize, s)
		fmt.Fprintf(os.Stderr, "corral-netns: resize %d: first task running %s after the request; back to 0 nodes (the server logs its refusals of their revoked credentials)\n", r+1, ms(s.running))
		// The nodes are deleted, their machines given back, and each agent, refused, forgets
		// its node and waits to be lent again (waited for at the next repetition).
		if err := resizeTo(rc, 0); err != nil {
			return res, err
		}
	}

	if err := resizeTo(rc, o.hosts); err != nil {
		return res, err
	}
	if err := sys.warmUp("bench", o.p, o.command); err != nil {
		return res, err
	}
	fmt.Fprintln(os.Stderr, "corral-netns: nodes up; running the DAG")
	before, err := agentsCPU(agents)
	if err != nil {
		return res, err
	}
	profile := "" // -cpuprofile is the local run's, unless there is none
	if !o.local {
		profile = o.cpuprofile
	}
	var after time.Duration
	res.corralResult, err = measureRun(o, sh, sys, "corral-netns", profile, "", func() {
		after, _ = agentsCPU(agents)
		stop()
	})
	if err != nil {
		return res, err
	}
	// The agents' own CPU and their tasks' during the run, not since they joined.
	res.cpuChildren = after - before
	res.store = kind
	return res, nil
}

// resizeOnce measures one resize: with the pool at 0 nodes and every agent waiting to be lent
// to a node (for the (r+1)th time), it adds job "resize-<r>" of o.p ready tasks, resizes the
// pool to as many nodes as there are agents, waits for the tasks to complete, and reads the
// times of the steps to the first task's start: the agents' logs, the service's executionInfo,
// the agents' results.
func resizeOnce(o options, sys *system, rc *restClient, agents []*hostAgent, r int) (resizeSample, error) {
	var s resizeSample
	for _, a := range agents {
		if err := a.waitWaiting(r+1, time.Minute); err != nil {
			return s, err
		}
	}
	jobID := fmt.Sprintf("resize-%d", r)
	if err := sys.addJob(jobID, "bench", false); err != nil {
		return s, err
	}
	done := sys.watch.expect(jobID, o.p)
	tasks := make([]batch.Task, o.p)
	for i := range tasks {
		tasks[i] = batch.Task{ID: fmt.Sprintf("r%d", i), CommandLine: o.command}
	}
	req := sys.request()
	if _, err := sys.ask(req, service.AddTasks{Request: req, JobID: jobID, Tasks: tasks}); err != nil {
		return s, err
	}
	// Let the tasks reach the scheduler's queue, and the agents' assignment requests the server.
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	if err := rc.do("POST", "/pools/bench/resize", map[string]any{"targetDedicatedNodes": len(agents)}, nil, http.StatusAccepted); err != nil {
		return s, err
	}
	s.answered = time.Since(start)
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		return s, fmt.Errorf("the %d tasks of %s did not complete in 2 minutes after the resize", o.p, jobID)
	}
	list, err := service.ListTasks(context.Background(), sys.st, jobID, "", 0)
	if err != nil {
		return s, err
	}
	var recorded, running time.Time
	for _, t := range list {
		if t.ExecutionInfo == nil || t.ExecutionInfo.Result != batch.ResultSuccess {
			return s, fmt.Errorf("task %s/%s: %s, %+v", jobID, t.ID, t.State, t.ExecutionInfo)
		}
		recorded = earliest(recorded, t.ExecutionInfo.StartTime)
		for _, a := range agents {
			res, ok, err := a.layout.ReadResult(jobID, t.ID)
			if err != nil {
				return s, err
			}
			if ok {
				running = earliest(running, res.StartTime)
			}
		}
	}
	var lent time.Time
	for _, a := range agents {
		lent = earliest(lent, a.lentAfter(start))
	}
	if recorded.IsZero() || running.IsZero() || lent.IsZero() {
		return s, fmt.Errorf("no start found: attempt recorded %v, process started %v, agent lent %v", recorded, running, lent)
	}
	s.lent, s.recorded, s.running = lent.Sub(start), recorded.Sub(start), running.Sub(start)
	return s, nil
}

// resizeTo resizes pool bench to n dedicated nodes and waits until it is steady with n nodes,
// all idle.
func resizeTo(rc *restClient, n int) error {
	if err := rc.do("POST", "/pools/bench/resize", map[string]any{"targetDedicatedNodes": n}, nil, http.StatusAccepted); err != nil {
		return err
	}
	return waitFor(2*time.Minute, fmt.Sprintf("pool bench steady at %d idle nodes", n), func() (bool, error) {
		var p batch.Pool
		if err := rc.do("GET", "/pools/bench", nil, &p, http.StatusOK); err != nil {
			return false, err
		}
		if p.AllocationState != batch.AllocationSteady || p.CurrentDedicatedNodes == nil || int(*p.CurrentDedicatedNodes) != n {
			return false, nil
		}
		var nodes struct{ Value []batch.Node }
		if err := rc.do("GET", "/pools/bench/nodes", nil, &nodes, http.StatusOK); err != nil {
			return false, err
		}
		idle := 0
		for _, nd := range nodes.Value {
			if nd.State == batch.NodeIdle {
				idle++
			}
		}
		return idle == n && len(nodes.Value) == n, nil
	})
}

// earliest returns the earlier of a and b, a zero time counting as none.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// waitFor polls cond every 50ms until it holds, fails, or limit passes.
func waitFor(limit time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not after %v", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// restClient sends Shared-Key-signed requests to the server's REST API.
type restClient struct {
	base string
	key  []byte
	hc   *http.Client
}

// do sends a request and decodes the answer into out (if not nil); a status other than want is
// an error that quotes the answer.
func (c *restClient) do(method, path string, body, out any, want int) error {
	req, err := api.NewRequest(method, c.base, path, nil, body, "corral", c.key, time.Now())
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decoding %q: %w", method, path, b, err)
		}
	}
	return nil
}

// hostAgent is a `corral agent` process on a namespace host, joined to a static pool.
type hostAgent struct {
	host   *netns.Host
	cmd    *exec.Cmd
	layout agent.Layout
	log    *agentLog
	done   chan struct{} // closed once the process is reaped
}

// startHostAgent starts `corral agent` in h with root as its node root directory, reaching the
// server at url and joining with token; its standard error goes to root's agent.log beside it.
func startHostAgent(h *netns.Host, bin, url, token, root string, cl *cleanup) (*hostAgent, error) {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, err
	}
	layout, err := agent.NewLayout(root)
	if err != nil {
		return nil, err
	}
	f, err := os.Create(root + ".log")
	if err != nil {
		return nil, err
	}
	a := &hostAgent{host: h, layout: layout, log: &agentLog{f: f, changed: make(chan struct{})}, done: make(chan struct{})}
	a.cmd = h.Command(bin, "agent", "--server", url, "--root", root, "--heartbeat", "5s", "--give-up", "30s")
	a.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "CORRAL_JOIN_TOKEN=" + token}
	a.cmd.Stderr = a.log
	// Its own process group, so that kill reaches its tasks too; and it dies with this process.
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := a.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("agent on %s: %w", h.Addr, err)
	}
	go func() {
		a.cmd.Wait()
		f.Close()
		close(a.done)
	}()
	cl.add(a.kill)
	return a, nil
}

// kill kills the agent's process group and reaps it.
func (a *hostAgent) kill() {
	syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
	}
}

// waitWaiting waits until the agent has logged, n times in all, that it waits to be lent to a
// node: after joining, and after each node it was lent was given back.
func (a *hostAgent) waitWaiting(n int, limit time.Duration) error {
	deadline := time.After(limit)
	for {
		got, changed := a.log.waitingCount()
		if got >= n {
			return nil
		}
		select {
		case <-changed:
		case <-a.done:
			return fmt.Errorf("the agent on %s exited (%v); see %s", a.host.Addr, a.cmd.ProcessState, a.log.f.Name())
		case <-deadline:
			return fmt.Errorf("the agent on %s did not wait to be lent a node (%d of %d times) in %v; see %s", a.host.Addr, got, n, limit, a.log.f.Name())
		}
	}
}

// lentAfter returns the time of the agent's first "lent to a node" log line at or after t
// (to the millisecond, the log's precision), or the zero time.
func (a *hostAgent) lentAfter(t time.Time) time.Time {
	a.log.mu.Lock()
	defer a.log.mu.Unlock()
	t = t.Truncate(time.Millisecond)
	for _, l := range a.log.lent {
		if !l.Before(t) {
			return l
		}
	}
	return time.Time{}
}

// agentsCPU returns the CPU time (user and system) of the agents and of their reaped children,
// their tasks, from /proc/<pid>/stat.
func agentsCPU(agents []*hostAgent) (time.Duration, error) {
	var sum time.Duration
	for _, a := range agents {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", a.cmd.Process.Pid))
		if err != nil {
			return 0, fmt.Errorf("agent CPU: %w", err)
		}
		// Fields after the command name, which is in parentheses: state is the first, utime,
		// stime, cutime and cstime the 12th to 15th, in clock ticks (USER_HZ, 100 on Linux).
		i := bytes.LastIndexByte(b, ')')
		fs := strings.Fields(string(b[i+1:]))
		if i < 0 || len(fs) < 15 {
			return 0, fmt.Errorf("agent CPU: /proc/%d/stat: %q", a.cmd.Process.Pid, b)
		}
		for _, f := range fs[11:15] {
			ticks, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return 0, fmt.Errorf("agent CPU: /proc/%d/stat: %w", a.cmd.Process.Pid, err)
			}
			sum += time.Duration(ticks) * 10 * time.Millisecond
		}
	}
	return sum, nil
}

// agentLog keeps an agent's standard error in a file and notes the log lines the benchmark
// waits for: "waiting to be lent to a node" and "lent to a node" (slog's text format).
type agentLog struct {
	f       *os.File
	mu      sync.Mutex
	partial []byte
	waiting int
	lent    []time.Time
	changed chan struct{} // closed and replaced whenever waiting grows
}

// Write writes p to the file and reads its complete lines.
func (l *agentLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.line(string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
	return l.f.Write(p)
}

func (l *agentLog) line(s string) {
	switch {
	case strings.Contains(s, `msg="waiting to be lent to a node"`):
		l.waiting++
		close(l.changed)
		l.changed = make(chan struct{})
	case strings.Contains(s, `msg="lent to a node"`):
		ts, _, _ := strings.Cut(strings.TrimPrefix(s, "time="), " ")
		if t, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			l.lent = append(l.lent, t)
		}
	}
}

// waitingCount returns how many times the agent logged that it waits to be lent a node, and a
// channel closed when that changes.
func (l *agentLog) waitingCount() (int, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waiting, l.changed
}

// resizeLine summarises the resize samples: medians, and the range of the main figure.
func resizeLine(ss []resizeSample) string {
	if len(ss) == 0 {
		return "not measured"
	}
	med := func(f func(resizeSample) time.Duration) time.Duration {
		ds := make([]time.Duration, len(ss))
		for i, s := range ss {
			ds[i] = f(s)
		}
		slices.Sort(ds)
		return ds[(len(ds)-1)/2]
	}
	run := make([]time.Duration, len(ss))
	for i, s := range ss {
		run[i] = s.running
	}
	slices.Sort(run)
	return fmt.Sprintf("median %s (min %s, max %s; %d resizes); medians of the steps from the same start: request answered %s, an agent lent its node (its log, ms) %s, first attempt recorded (executionInfo.startTime) %s",
		ms(med(func(s resizeSample) time.Duration { return s.running })), ms(run[0]), ms(run[len(run)-1]), len(ss),
		ms(med(func(s resizeSample) time.Duration { return s.answered })), ms(med(func(s resizeSample) time.Duration { return s.lent })),
		ms(med(func(s resizeSample) time.Duration { return s.recorded })))
}
