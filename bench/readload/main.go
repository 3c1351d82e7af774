// Command readload measures how much a read load slows the work a server runs, and how the
// server answers reads beyond what it can serve.
//
//	go run ./bench/readload                 # 3,000 tasks, 20 readers, one quiet and one loaded run
//	go run ./bench/readload -reps 3         # three pairs, alternating quiet and loaded
//	go run ./bench/readload -cpuprofile cpu.out && go tool pprof -top cpu.out
//
// The server is the real one (server.Start in this process, listening on loopback, its store
// SQLite in a temporary data directory) with one pool of one node of -slots task slots (default
// 2), the node a local `corral agent` process built from this module. Each run adds a job of
// -tasks independent tasks (no dependencies; each runs `true`) through Task - Add Collection,
// 100 a request, signed with Shared Key, and waits until the service has recorded every task
// completed; its wall time runs from the first Add Collection request to the last completion.
//
// A quiet run has nothing else to do. A loaded run has -readers clients (default 20), in a child
// process of their own (this program again, so that their CPU is not the server's), each polling
// List Tasks of the job in a closed loop: GET /jobs/{jobId}/tasks?maxresults=100 signed with
// Shared Key, following odata.nextLink to the end of the list and starting again from the first
// page. A client answered 503 or 429 counts the answer as throttled, notes whether it carried
// Retry-After, and, as the Azure SDKs' retry policies do, waits as long as Retry-After says (with
// -obey-retry-after=false it asks again at once) before asking for the same page again.
//
// Runs alternate quiet and loaded, -reps pairs, on the same server and node, after a warm-up job
// of -slots tasks. Each run prints its wall time, the CPU time of the server process, of the node
// (its agent and tasks) and of the readers, and for a loaded run the reads served per second,
// how many were throttled and whether every throttled answer carried Retry-After. The last lines
// are "slowdown: R" per pair (loaded wall time over quiet) and the median of them.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"corral/batch"
	"corral/server"
)

// Account and key of the server the benchmark starts, and the ids it uses.
const (
	account = "corral"
	poolID  = "readload"
)

var key = []byte("bench-readload-key-0123456789abcdef")

// options are the command's flags.
type options struct {
	tasks, slots, readers, maxResults, reps int
	readLimit                               int
	obeyRetryAfter                          bool
	corralBin, dir, cpuprofile              string
	timeout                                 time.Duration

	// reader is set in the readers' child process: the URL of the server's job to poll.
	reader string
}

func main() {
	var o options
	flag.IntVar(&o.tasks, "tasks", 3000, "tasks of each run's job (independent, each `true`)")
	flag.IntVar(&o.slots, "slots", 2, "task slots of the pool's one node")
	flag.IntVar(&o.readers, "readers", 20, "clients polling List Tasks in a loaded run")
	flag.IntVar(&o.maxResults, "maxresults", 100, "maxresults of each List Tasks request")
	flag.IntVar(&o.reps, "reps", 1, "pairs of runs, quiet then loaded")
	flag.IntVar(&o.readLimit, "read-limit", 0, "the server's read limit (server.Config.ReadLimit): 0 for its default, -1 for none")
	flag.BoolVar(&o.obeyRetryAfter, "obey-retry-after", true, "readers wait as long as a throttled answer's Retry-After says before asking again")
	flag.StringVar(&o.corralBin, "corral-bin", "", "a corral binary for the node's agent (default: go build corral/cmd/corral)")
	flag.StringVar(&o.dir, "dir", "", "where the data directory goes (default: the system's temporary directory)")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of this process (the server) during the loaded runs to this file")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "how long one run may take")
	flag.StringVar(&o.reader, "reader", "", "internal: be the readers' child process, polling the tasks of this job URL")
	flag.Parse()
	if o.reader != "" {
		os.Exit(readerChild(o))
	}
	if o.tasks < 1 || o.slots < 1 || o.readers < 1 || o.reps < 1 || o.maxResults < 1 || o.maxResults > 1000 {
		fmt.Fprintln(os.Stderr, "readload: -tasks, -slots, -readers and -reps must be positive, -maxresults 1 to 1000")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "readload:", err)
		os.Exit(1)
	}
}

// runResult is what one run measured.
type runResult struct {
	wall      time.Duration
	serverCPU time.Duration // this process
	nodeCPU   time.Duration // the agent and its tasks
	load      *readStats    // nil for a quiet run
}

// run runs the benchmark. An interrupt (SIGINT, SIGTERM) ends the run waited for with an
// error, so that the deferred calls stop the node and remove the data.
func run(o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp(o.dir, "corral-bench-readload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := o.corralBin
	if bin == "" {
		fmt.Fprintln(os.Stderr, "building corral")
		if bin, err = buildCorral(dir); err != nil {
			return err
		}
	}
	srv, err := server.Start(server.Config{
		Listen:    "127.0.0.1:0",
		DataDir:   filepath.Join(dir, "data"),
		Account:   server.Account{Name: account, Key: key},
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		ReadLimit: o.readLimit,
		AgentCommand: func(_, _, nodeDir string, _ bool) *exec.Cmd {
			cmd := exec.Command(bin, "agent", "--root", nodeDir)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
			return cmd
		},
	})
	if err != nil {
		return fmt.Errorf("start server: %w", err)
	}
	defer func() {
		if p := srv.Provider(); p != nil {
			p.KillAll()
		}
		srv.Close()
	}()
	done, err := watchCompletions(srv.Runtime())
	if err != nil {
		return err
	}
	c := newClient(srv.URL, 4)
	one, slots := int32(1), int32(o.slots)
	if err := c.create("/pools", batch.Pool{ID: poolID, VMSize: "local", TargetDedicatedNodes: &one, TaskSlotsPerNode: &slots}); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "server at %s, data in %s; warming up the node (%d slots)\n", srv.URL, dir, o.slots)
	if _, err := runJob(ctx, c, done, "warmup", o.slots, 3*time.Minute); err != nil {
		return fmt.Errorf("warm-up (did the agent start? see the node's agent.log): %w", err)
	}

	limit := "none"
	if t := server.ReadThrottle(o.readLimit); t.Limit > 0 {
		limit = fmt.Sprintf("%d at once, resting %.1fx a read's time after it, %d waiting up to %v, Retry-After %v", t.Limit, t.Spacing, t.Queue, t.Wait, t.RetryAfter)
	}
	fmt.Printf("job: %d independent tasks (`true`) on 1 node x %d slots; real server in-process, SQLite, a local agent process; read limit: %s\n", o.tasks, o.slots, limit)
	fmt.Printf("load: %d readers in a child process, List Tasks maxresults=%d following odata.nextLink, closed loop, Shared Key; obey Retry-After: %v\n",
		o.readers, o.maxResults, o.obeyRetryAfter)
	var prof *os.File
	if o.cpuprofile != "" {
		if prof, err = os.Create(o.cpuprofile); err != nil {
			return err
		}
		defer prof.Close()
	}
	var slowdowns []float64
	for rep := 1; rep <= o.reps; rep++ {
		quiet, err := measure(ctx, o, c, done, fmt.Sprintf("quiet-%d", rep), srv.URL, false, nil)
		if err != nil {
			return err
		}
		printRun(fmt.Sprintf("quiet %d", rep), o, quiet)
		loaded, err := measure(ctx, o, c, done, fmt.Sprintf("loaded-%d", rep), srv.URL, true, prof)
		if err != nil {
			return err
		}
		printRun(fmt.Sprintf("loaded %d", rep), o, loaded)
		prof = nil // the first loaded run only
		s := loaded.wall.Seconds() / quiet.wall.Seconds()
		slowdowns = append(slowdowns, s)
		fmt.Printf("slowdown %d: %.2f\n", rep, s)
	}
	slices.Sort(slowdowns)
	fmt.Printf("slowdown: %.2f (median of %d)\n", slowdowns[len(slowdowns)/2], len(slowdowns))
	return nil
}

// measure runs one job of o.tasks tasks, with the readers polling its task list when loaded.
// prof, if not nil, receives a CPU profile of this process during the run.
func measure(ctx context.Context, o options, c *client, done *completions, jobID, base string, loaded bool, prof *os.File) (runResult, error) {
	var res runResult
	if err := c.create("/jobs", batch.Job{ID: jobID, PoolInfo: batch.PoolInformation{PoolID: poolID}}); err != nil {
		return res, err
	}
	var rd *readers
	if loaded {
		var err error
		if rd, err = startReaders(o, base+"/jobs/"+jobID+"/tasks"); err != nil {
			return res, err
		}
		defer rd.kill()
	}
	if prof != nil {
		if err := pprof.StartCPUProfile(prof); err != nil {
			return res, err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(os.Stderr, "%s: %d tasks\n", jobID, o.tasks)
	readersPid := -1
	if rd != nil {
		readersPid = rd.pid()
	}
	selfBefore := selfCPU()
	nodeBefore := childrenCPU(readersPid)
	wall, err := runJob(ctx, c, done, jobID, o.tasks, o.timeout)
	if err != nil {
		return res, fmt.Errorf("%s: %w", jobID, err)
	}
	res.wall = wall
	res.serverCPU = selfCPU() - selfBefore
	res.nodeCPU = childrenCPU(readersPid) - nodeBefore
	if rd != nil {
		st, err := rd.stop()
		if err != nil {
			return res, fmt.Errorf("%s: readers: %w", jobID, err)
		}
		res.load = &st
	}
	return res, nil
}

// runJob adds n tasks to job jobID (which must exist, or be created here when it is the
// warm-up) and waits until every one is completed; it returns the time from the first Add
// Collection request to the last completion. It gives up when ctx ends.
func runJob(ctx context.Context, c *client, done *completions, jobID string, n int, timeout time.Duration) (time.Duration, error) {
	if jobID == "warmup" {
		if err := c.create("/jobs", batch.Job{ID: jobID, PoolInfo: batch.PoolInformation{PoolID: poolID}}); err != nil {
			return 0, err
		}
	}
	finished := done.expect(jobID, n)
	start := time.Now()
	for from := 0; from < n; from += 100 {
		tasks := make([]batch.Task, 0, 100)
		for i := from; i < min(from+100, n); i++ {
			tasks = append(tasks, batch.Task{ID: fmt.Sprintf("t%05d", i), CommandLine: "true"})
		}
		if err := c.addTasks(jobID, tasks); err != nil {
			return 0, err
		}
	}
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	give := time.After(timeout)
	for {
		select {
		case <-finished:
			return time.Since(start), nil
		case <-tick.C:
			fmt.Fprintf(os.Stderr, "  %s: %d/%d tasks completed, %.0fs\n", jobID, done.count(jobID), n, time.Since(start).Seconds())
			continue
		case <-give:
			return 0, fmt.Errorf("%d of %d tasks completed after %v", done.count(jobID), n, timeout)
		case <-ctx.Done():
			return 0, fmt.Errorf("%d of %d tasks completed when interrupted", done.count(jobID), n)
		}
	}
}

func printRun(label string, o options, r runResult) {
	fmt.Printf("%s: wall %.2fs, %.0f tasks/s; CPU: server %.1fs, node (agent and tasks) %.1fs",
		label, r.wall.Seconds(), float64(o.tasks)/r.wall.Seconds(), r.serverCPU.Seconds(), r.nodeCPU.Seconds())
	if r.load == nil {
		fmt.Println()
		return
	}
	l := r.load
	fmt.Printf(", readers %.1fs\n", l.cpu().Seconds())
	asked := l.Served + l.Throttled + l.Failed
	throttled := 0.0
	if asked > 0 {
		throttled = 100 * float64(l.Throttled) / float64(asked)
	}
	fmt.Printf("%s reads: %d served (%.0f/s, %.0f tasks listed/s), %d throttled (%.1f%% of %d answers; 503: %d, 429: %d), %d without Retry-After, %d failed%s\n",
		label, l.Served, float64(l.Served)/r.wall.Seconds(), float64(l.Tasks)/r.wall.Seconds(), l.Throttled, throttled, asked,
		l.Status503, l.Status429, l.NoRetryAfter, l.Failed, firstError(l.FirstError))
	fmt.Printf("%s read latency of served pages: p50 %.1fms, p99 %.1fms; full listings: %d\n", label, l.P50Ms, l.P99Ms, l.Listings)
}

func firstError(s string) string {
	if s == "" {
		return ""
	}
	return " (first: " + s + ")"
}

// buildCorral builds corral/cmd/corral into dir, from the module this command runs in.
func buildCorral(dir string) (string, error) {
	mod, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m (run from inside the corral module, or pass -corral-bin): %w", err)
	}
	bin := filepath.Join(dir, "corral")
	build := exec.Command("go", "build", "-o", bin, "./cmd/corral")
	build.Dir = strings.TrimSpace(string(mod))
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/corral: %w\n%s", err, out)
	}
	return bin, nil
}

// readStats is what the readers' child process reports, as JSON on its standard output.
type readStats struct {
	Served       int     `json:"served"`    // 200 answers
	Tasks        int     `json:"tasks"`     // tasks listed in them
	Listings     int     `json:"listings"`  // lists read to their last page
	Throttled    int     `json:"throttled"` // 503 and 429 answers
	Status503    int     `json:"status503"`
	Status429    int     `json:"status429"`
	NoRetryAfter int     `json:"noRetryAfter"` // throttled answers without a usable Retry-After
	Failed       int     `json:"failed"`       // any other answer or error
	FirstError   string  `json:"firstError,omitempty"`
	P50Ms        float64 `json:"p50ms"`
	P99Ms        float64 `json:"p99ms"`
	CPUNs        int64   `json:"cpuNs"` // the child's own CPU time
}

func (s readStats) cpu() time.Duration { return time.Duration(s.CPUNs) }
