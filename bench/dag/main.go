// Command dag benchmarks Corral against make on a layered DAG of trivial tasks.
//
//	go run ./bench/dag                   # 100 layers x 100 tasks, 2 deps each, P = NumCPU
//	go run ./bench/dag -dir /dev/shm     # the same with every data directory on tmpfs
//	go run ./bench/dag -width 2 -layers 1000   # width P: the latency of the critical path
//	go run ./bench/dag -sched-only       # only the service alone, with in-process agents
//	go run ./bench/dag -sched-only -sched-store=   # only peak memory of 100,000 tasks
//	go run ./bench/dag -sched-only -sched-store mem,sqlite,pg -peak=false   # pg: -pg URL
//	go run ./bench/dag -store postgres://corral:corral@127.0.0.1/postgres   # server on PostgreSQL
//	go run ./bench/dag -cpuprofile cpu.out && go tool pprof -top cpu.out
//	go run ./bench/dag -runner-only -runner-cpuprofile runner.out   # only the node agent's Runner
//	go run ./bench/dag -chain 0          # without the chain of 300 dependent tasks (time per hop)
//	go run ./bench/dag -netns            # also with nodes on network namespace hosts, over TLS
//	go run ./bench/dag -netns -local=false -hosts 2 -latency 1ms   # only that, 2 hosts, slower links
//
// The same DAG (task i of layer l runs `true` and depends on tasks i..i+deps-1 mod width of layer
// l-1) runs:
//
//   - through Corral: the real server (server.Start in this process, with a SQLite store in a
//     temporary data directory), its nodes local `corral agent` processes built from this module,
//     P task slots in all (-nodes nodes of P/nodes slots each; default one node of P slots). With
//     -store URL (a PostgreSQL server and a role that may CREATE DATABASE), the server's store is
//     a fresh database there instead: the server is then a replica, which serves once it holds
//     the leader lease (its lifetime set to 1s, so that it leads about a third of a second after
//     it starts; the run waits for that) and whose every write checks the lease in the same
//     transaction, as any server on PostgreSQL does. Tasks are submitted in-process to the
//     service's account actor, 100 per request, after a warm-up job of P tasks has run (so the
//     agents are up and connected). Wall time runs from the first AddTasks request to the last
//     task's completion being in the store;
//   - with -netns (as root, with iproute2's ip), through Corral again with its nodes on hosts of
//     their own: the real server in this process listens on the gateway of a bridge
//     (internal/netns), so it serves TLS with a CA of its own, and -hosts network namespaces
//     (default -nodes) each run a `corral agent` that joined the server's static pool with a
//     join token (which carries the CA's fingerprint), P/hosts slots each. With -latency D,
//     the agents reach the server through a proxy that delays every byte by D each way. The
//     pool, its join token and its resizes go through the REST API over TLS; tasks are
//     submitted in-process, as above, and the DAG is measured the same way (-store too). Its
//     lines start with "corral-netns". Without root or ip, the mode is skipped with a message,
//     or, with -local=false (the netns mode alone), the command exits with status 2;
//   - with -netns, before its DAG: -resize-reps times, with the pool at 0 nodes, every agent
//     waiting to be lent a node and a job of P ready tasks waiting, the pool is resized to
//     -hosts nodes. The figure runs from just before the resize request is sent to the first
//     task's process start, as its agent recorded it (the result's StartTime: same
//     machine, same clock). It includes the signed REST request over TLS, the pool manager
//     and the static provider lending machines, the answer to the agent's assignment long
//     poll (held open while it waits, so no new connection), the agent's node credential and
//     its Hello on its sync link, the node shown idle and its slots to the scheduler, the
//     attempt recorded in SQLite, the StartTask on the agent's long poll, and the spawn. The
//     median and range are printed, with the medians of three steps from the same start: the
//     request answered, an agent's "lent to a node" log line (to the millisecond), and the
//     earliest executionInfo.startTime (stamped when the attempt is recorded). Between
//     repetitions the pool goes back to 0, and each agent, its node's credential revoked,
//     forgets the node and waits again;
//   - through `make -s -r -j P` on a generated Makefile, one phony target per task, recipe `true`;
//   - through the node agent's Runner alone (agent.NewRunner in this process, P at a time, each
//     result acknowledged): the node's own cost per task, with no service and no network;
//   - through the service alone (scheduler, job manager, node sessions, the store: -sched-store
//     names them, among mem (the memstore), sqlite and pg, a fresh database on the PostgreSQL
//     server of -pg, by default $CORRAL_TEST_POSTGRES; not fenced by a lease), on an
//     actor.Engine, with bench/fastnode's in-process agents that complete every attempt at once:
//     the service's own ceiling, in tasks/s;
//   - with -peak (on by default), 100,000 tasks (-tasks-peak) through the service alone, in a
//     child process so that its high-water mark is its own: peak memory is reported as VmHWM (max
//     RSS, from /proc/self/status) and runtime.MemStats.Sys, with the heap still reachable once
//     the job is done (after a GC), and how much the reachable heap grows when the same tasks are
//     added to a second job, on a pool without nodes, where they all wait. The store is SQLite
//     (-peak-store sqlite, the default, as in `corral server`), so the heap is the service's own;
//     -peak-store mem counts the memstore's copy of every record too.
//
// Before the Corral run, a probe times the file-system operations a node agent makes per task
// (mkdir, file creation) and one durable write (fsync of a file and its directory) where the runs
// keep their data: on a file system where these are slow, they dominate (-dir /dev/shm takes the
// disk out, though not PostgreSQL's). Every run's data is deleted at the end of the command, not
// between runs, and so is every PostgreSQL database it created: on ext4, creating files within
// minutes of deleting many nearby costs several times more (the inode allocator skips recently
// deleted inodes), so a second invocation soon after the first measures less than the first.
//
// Latency is from the tasks' executionInfo as the service recorded it: for each task with
// dependencies, its startTime minus the latest endTime of its dependencies. Corral stamps both on
// the service's side (startTime when the attempt is recorded, before the agent hears of it;
// endTime when the result is recorded), so the figure is the service's dispatch path plus any
// wait for a free slot; it does not include the agent's round trip or the process spawn.
//
// The last line of the output is "ratio: R", Corral's throughput over make's (tasks/s Corral ÷
// tasks/s make, the same as make's wall time over Corral's), with local nodes. With -netns, the
// line before it is "ratio-netns: R", the same with the nodes on namespace hosts (the last line
// with -local=false). Progress goes to stderr. Every process and namespace started is ended, and
// every database created dropped, at the end, on an error, and on SIGINT or SIGTERM.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"corral/internal/netns"
	"corral/service"
	"corral/store/postgres/pgtest"
)

// options are the command's flags.
type options struct {
	chain               int // tasks of the chain run (0: none)
	layers, width, deps int
	p, nodes, slots     int
	command             string
	schedOnly           bool
	schedStores         string
	pg                  string
	store               string
	peak                bool
	tasksPeak           int
	peakStore           string
	peakChild           bool
	peakHeapProfile     string
	cpuprofile          string
	schedProfile        string
	corralBin           string
	skipMake            bool
	runner              bool
	runnerOnly          bool
	runnerProfile       string
	dir                 string
	timeout             time.Duration
	local               bool
	netns               bool
	hosts               int
	latency             time.Duration
	resizeReps          int
}

func main() {
	var o options
	flag.IntVar(&o.layers, "layers", 100, "layers of the DAG")
	flag.IntVar(&o.width, "width", 100, "tasks per layer")
	flag.IntVar(&o.deps, "deps", 2, "dependencies of each task on the layer before")
	flag.IntVar(&o.chain, "chain", 300, "then a chain of this many dependent tasks through Corral and make, for the time per hop (0: none)")
	flag.IntVar(&o.p, "p", runtime.NumCPU(), "parallelism: task slots in Corral in all, make -j")
	flag.IntVar(&o.nodes, "nodes", 1, "Corral nodes (agent processes); each has p/nodes slots")
	flag.StringVar(&o.command, "command", "true", "every task's command line")
	flag.BoolVar(&o.schedOnly, "sched-only", false, "run only the service alone, with in-process agents")
	flag.StringVar(&o.schedStores, "sched-store", "mem,sqlite", "stores for the service-alone runs, comma-separated: mem, sqlite, pg (a fresh database on -pg's server)")
	flag.StringVar(&o.pg, "pg", os.Getenv(pgtest.Env), "the PostgreSQL server of -sched-store pg: the URL of a role that may CREATE DATABASE (default $"+pgtest.Env+")")
	flag.StringVar(&o.store, "store", "", "run the real server on a fresh database of this PostgreSQL server (the URL of a role that may CREATE DATABASE) instead of SQLite")
	flag.BoolVar(&o.peak, "peak", true, "measure peak memory of -tasks-peak tasks through the service alone")
	flag.IntVar(&o.tasksPeak, "tasks-peak", 100000, "tasks of the peak-memory job (layers of -width)")
	flag.StringVar(&o.peakStore, "peak-store", "sqlite", "store of the peak-memory run: sqlite, mem (its records count in the heap) or pg")
	flag.BoolVar(&o.peakChild, "peak-child", false, "internal: be the peak-memory child process")
	flag.StringVar(&o.peakHeapProfile, "peak-heapprofile", "", "write heap profiles of the peak-memory run (what stays reachable) to this file, suffixed .run (once the job is done) and .waiting (once the same tasks wait in a second job)")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the Corral run (the in-process server; with -local=false, of the -netns run) to this file")
	flag.StringVar(&o.schedProfile, "sched-cpuprofile", "", "write CPU profiles of the service-alone runs to this file, suffixed .<store>")
	flag.StringVar(&o.corralBin, "corral-bin", "", "a corral binary for the agents (default: go build corral/cmd/corral)")
	flag.BoolVar(&o.skipMake, "skip-make", false, "do not run make (no ratio)")
	flag.BoolVar(&o.runner, "runner", true, "also run the tasks through the node agent's Runner alone (no service, no network)")
	flag.BoolVar(&o.runnerOnly, "runner-only", false, "run only the tasks through the node agent's Runner alone (no disk probe, make, Corral, service-alone or peak run)")
	flag.StringVar(&o.runnerProfile, "runner-cpuprofile", "", "write a CPU profile of the Runner-alone run to this file")
	flag.StringVar(&o.dir, "dir", "", "where the runs' data directories go (default: the system's temporary directory); e.g. /dev/shm to take the disk out")
	flag.DurationVar(&o.timeout, "timeout", 15*time.Minute, "how long one run may take")
	flag.BoolVar(&o.local, "local", true, "run the DAG through Corral with local agent processes as nodes")
	flag.BoolVar(&o.netns, "netns", false, "also run the DAG through Corral with nodes on network namespace hosts, over TLS (needs root and ip)")
	flag.IntVar(&o.hosts, "hosts", 0, "with -netns: namespace hosts, each a node of p/hosts slots (default: -nodes)")
	flag.DurationVar(&o.latency, "latency", 0, "with -netns: delay added to every byte between the hosts and the server, each way, by a proxy")
	flag.IntVar(&o.resizeReps, "resize-reps", 5, "with -netns: pool resizes from 0 to -hosts nodes, each timed to its first task running")
	flag.Parse()
	if o.p < 1 || o.nodes < 1 || o.p%o.nodes != 0 {
		fatalf("-p (%d) must be a positive multiple of -nodes (%d)", o.p, o.nodes)
	}
	if o.layers < 1 || o.width < 1 || o.deps < 0 || o.tasksPeak < 1 {
		fatalf("-layers, -width and -tasks-peak must be positive, -deps not negative")
	}
	o.slots = o.p / o.nodes
	if o.hosts == 0 {
		o.hosts = o.nodes
	}
	if o.netns && (o.hosts < 1 || o.p%o.hosts != 0 || o.resizeReps < 0 || o.latency < 0) {
		fatalf("-p (%d) must be a positive multiple of -hosts (%d), -resize-reps and -latency not negative", o.p, o.hosts)
	}
	if o.netns && o.schedOnly {
		fatalf("-netns and -sched-only exclude each other")
	}
	if o.runnerOnly && (o.schedOnly || o.netns || !o.runner) {
		fatalf("-runner-only excludes -sched-only, -netns and -runner=false")
	}
	if _, err := parseSchedStores(o.schedStores, o.pg); err != nil {
		fatalf("%v", err)
	}
	if o.peak || o.peakChild {
		if err := checkSchedStore(o.peakStore, o.pg); err != nil {
			fatalf("-peak-store %s: %v", o.peakStore, err)
		}
	}
	if err := checkStoreURL(o.store); err != nil {
		fatalf("%v", err)
	}

	cl := &cleanup{}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "%v: cleaning up\n", s)
		cl.run()
		os.Exit(130)
	}()
	err := run(o, cl)
	cl.run()
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(os.Stderr, "bench/dag: %v\n", err)
		os.Exit(2)
	}
	if err != nil {
		fatalf("%v", err)
	}
}

// usageError is an error of what was asked (exit status 2), not of a run.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench/dag: "+format+"\n", args...)
	os.Exit(1)
}

func run(o options, cl *cleanup) error {
	if o.peakChild {
		return peakChild(o, cl)
	}
	sh := newShape(o.layers, o.width, o.deps)
	if o.runnerOnly {
		fmt.Printf("shape: %s; P = %d; %d CPUs\n", sh, o.p, runtime.NumCPU())
		return runRunnerAlone(o, sh, cl)
	}
	var skipped error
	if o.netns {
		if skipped = netns.Available(); skipped != nil {
			if !o.local {
				return usageError{fmt.Errorf("-netns: %w", skipped)}
			}
			o.netns = false
		}
	}
	hosts := ""
	if o.netns {
		hosts = fmt.Sprintf("; Corral on namespace hosts: %d host(s) x %d slots", o.hosts, o.p/o.hosts)
	}
	fmt.Printf("shape: %s; P = %d (Corral: %d node(s) x %d slots%s; make -j %d); %d CPUs\n", sh, o.p, o.nodes, o.slots, hosts, o.p, runtime.NumCPU())

	if skipped != nil {
		fmt.Printf("corral-netns: skipped: %v\n", skipped)
	}
	var corral corralResult
	var nr netnsResult
	var mk makeResult
	if !o.schedOnly {
		where := o.dir
		if where == "" {
			where = os.TempDir()
		}
		probe, err := probeDisk(o.dir, 1000, cl)
		if err != nil {
			return fmt.Errorf("disk probe: %w", err)
		}
		fmt.Printf("disk (%s): %s\n", where, probe)
		bin := o.corralBin
		if bin == "" && (o.local || o.netns) {
			dir, err := tempDir("", "corral-bench-bin-", cl)
			if err != nil {
				return err
			}
			fmt.Fprintln(os.Stderr, "building corral")
			if bin, err = buildCorral(dir); err != nil {
				return err
			}
		}
		if o.local {
			corral, err = runCorral(o, sh, bin, cl)
			if err != nil {
				return fmt.Errorf("corral: %w", err)
			}
			printCorral("corral", fmt.Sprintf("real server in-process, %s, %d agent process(es) x %d slots", corral.store, o.nodes, o.slots), corral, o.p, sh)
		}
		if o.netns {
			fmt.Fprintf(os.Stderr, "corral-netns: %d namespace host(s) x %d slots, over TLS\n", o.hosts, o.p/o.hosts)
			nr, err = runNetns(o, sh, bin, cl)
			if err != nil {
				return fmt.Errorf("corral-netns: %w", err)
			}
			setup := fmt.Sprintf("real server in-process on the bridge's gateway, TLS with its own CA, %s, static pool: %d agent process(es) on namespace hosts x %d slots, joined with a join token", nr.store, o.hosts, o.p/o.hosts)
			if o.latency > 0 {
				setup += fmt.Sprintf(", through a proxy adding %v each way", o.latency)
			}
			printCorral("corral-netns", setup, nr.corralResult, o.p, sh)
			fmt.Printf("corral-netns resize 0 -> %d node(s), %d ready tasks waiting, request -> first task's process started (agent-recorded): %s\n",
				o.hosts, o.p, resizeLine(nr.resize))
		}
		if !o.skipMake {
			fmt.Fprintf(os.Stderr, "make -j %d\n", o.p)
			mk, err = runMake(sh, o.p, o.command, o.dir, cl)
			if err != nil {
				return err
			}
			fmt.Printf("make -j %d: wall %.2fs, %.0f tasks/s, CPU (make and recipes) %.1fs\n", o.p, mk.wall.Seconds(), rate(sh.Total, mk.wall), mk.cpu.Seconds())
		}
		if o.chain > 0 && o.local {
			if err := runChain(o, bin, cl); err != nil {
				return err
			}
		}
		if o.runner {
			if err := runRunnerAlone(o, sh, cl); err != nil {
				return err
			}
		}
	}

	kinds, err := parseSchedStores(o.schedStores, o.pg)
	if err != nil {
		return usageError{err}
	}
	for _, kind := range kinds {
		profile := ""
		if o.schedProfile != "" {
			profile = o.schedProfile + "." + kind
		}
		if o.schedOnly && o.cpuprofile != "" && profile == "" {
			profile = o.cpuprofile + "." + kind
		}
		fmt.Fprintf(os.Stderr, "scheduler alone, %s store\n", kind)
		r, err := runSched(o, sh, kind, profile, true, nil, cl)
		if err != nil {
			return fmt.Errorf("scheduler alone (%s): %w", kind, err)
		}
		fmt.Printf("scheduler alone (%s store, in-process agents, %d node(s) x %d slots): %d tasks in %.2fs, %.0f tasks/s, CPU %.1fs; latency %s\n",
			kind, o.nodes, o.slots, sh.Total, r.wall.Seconds(), rate(sh.Total, r.wall), r.cpu.Seconds(), latencyLine(r.tm.dep))
	}

	if o.peak {
		pr, err := runPeakChild(o, cl)
		if err != nil {
			return fmt.Errorf("peak: %w", err)
		}
		fmt.Printf("peak memory, %d tasks (%s) through the scheduler alone (%s store, in a child process): max RSS (VmHWM) %s, MemStats.Sys %s, peak heap objects (live and not yet collected) %s, heap still reachable after the run %s (%.0f bytes per task); ran at %.0f tasks/s (%.1fs)\n",
			pr.Tasks, pr.Shape, pr.Store, mib(pr.VmHWM), mib(pr.Sys), mib(pr.HeapPeak), mib(pr.Retained), float64(pr.Retained)/float64(pr.Tasks), rate(pr.Tasks, time.Duration(pr.WallNs)), time.Duration(pr.WallNs).Seconds())
		fmt.Printf("peak memory, the same %d tasks added to a job on a pool without nodes (all waiting): the heap grew by %s, %.0f bytes per task\n",
			pr.Tasks, mib(pr.Waiting), float64(pr.Waiting)/float64(pr.Tasks))
	}

	if !o.schedOnly && !o.skipMake {
		if o.netns {
			fmt.Printf("ratio-netns: %.3f\n", rate(sh.Total, nr.wall)/rate(sh.Total, mk.wall))
		}
		if o.local {
			fmt.Printf("ratio: %.3f\n", rate(sh.Total, corral.wall)/rate(sh.Total, mk.wall))
		}
	}
	return nil
}

// runRunnerAlone runs the DAG's tasks through the node agent's Runner alone and prints what it
// measured.
func runRunnerAlone(o options, sh shape, cl *cleanup) error {
	fmt.Fprintf(os.Stderr, "node agent Runner alone, %d at a time\n", o.p)
	rr, err := runRunner(sh.Total, o.p, o.command, o.dir, o.runnerProfile, cl)
	if err != nil {
		return fmt.Errorf("runner alone: %w", err)
	}
	fmt.Printf("node agent Runner alone (agent.Runner in-process, %d at a time, each result acknowledged; no service, no network): %d tasks in %.2fs, %.0f tasks/s, CPU %.1fs (the Runner's process %.1fs, %s per task)\n",
		o.p, sh.Total, rr.wall.Seconds(), rate(sh.Total, rr.wall), rr.cpu.Seconds(), rr.self.Seconds(), us(rr.self/time.Duration(sh.Total)))
	return nil
}

// peakResult is what the peak-memory child reports, as JSON on its standard output.
type peakResult struct {
	Tasks    int    `json:"tasks"`
	Shape    string `json:"shape"`
	Store    string `json:"store"`
	WallNs   int64  `json:"wallNs"`
	VmHWM    int64  `json:"vmhwm"`
	Sys      int64  `json:"sys"`
	HeapPeak int64  `json:"heapPeak"`
	Retained int64  `json:"retained"`
	Waiting  int64  `json:"waiting"`
}

// runPeakChild runs this program again as the peak-memory child, so that the high-water mark of
// its memory is that of the peak run alone.
func runPeakChild(o options, cl *cleanup) (peakResult, error) {
	var pr peakResult
	exe, err := os.Executable()
	if err != nil {
		return pr, err
	}
	fmt.Fprintf(os.Stderr, "peak memory: %d tasks through the scheduler alone, in a child process\n", o.tasksPeak)
	cmd := exec.Command(exe, "-peak-child", fmt.Sprint("-tasks-peak=", o.tasksPeak), fmt.Sprint("-width=", o.width),
		fmt.Sprint("-deps=", o.deps), fmt.Sprint("-p=", o.p), fmt.Sprint("-nodes=", o.nodes), "-peak-store="+o.peakStore,
		"-command="+o.command, fmt.Sprint("-timeout=", o.timeout), "-dir="+o.dir, "-pg="+o.pg, "-peak-heapprofile="+o.peakHeapProfile)
	cmd.Stderr = os.Stderr
	var out bytes.Buffer
	cmd.Stdout = &out
	// The child dies with this process (an interrupted parent leaves nothing behind).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return pr, fmt.Errorf("child: %w", err)
	}
	cl.add(func() { cmd.Process.Kill() }) // after Wait, this does nothing
	if err := cmd.Wait(); err != nil {
		return pr, fmt.Errorf("child: %w", err)
	}
	if err := json.Unmarshal(out.Bytes(), &pr); err != nil {
		return pr, fmt.Errorf("child's answer %q: %w", out.String(), err)
	}
	return pr, nil
}

// peakChild is the peak-memory child: it runs -tasks-peak tasks through the service alone while
// sampling the live heap, and prints a peakResult.
func peakChild(o options, cl *cleanup) error {
	sh := shapeOfTotal(o.tasksPeak, o.width, o.deps)
	var heapPeak int64
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			heapPeak = max(heapPeak, int64(s[0].Value.Uint64()))
			select {
			case <-quit:
				return
			case <-t.C:
			}
		}
	}()
	var hwm int64
	var sys, retained uint64
	var hwmErr, profErr error
	var waiting uint64
	r, err := runSched(o, sh, o.peakStore, "", false, func(s *system) error {
		hwm, hwmErr = procStatusKB("VmHWM")
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		sys = ms.Sys
		runtime.GC() // what stays reachable once the job is done: the store and the service's state
		runtime.ReadMemStats(&ms)
		retained = ms.HeapAlloc
		if o.peakHeapProfile != "" {
			profErr = writeHeapProfile(o.peakHeapProfile + ".run")
		}
		var err error
		if waiting, err = waitingHeap(s, sh, o.command); err == nil && o.peakHeapProfile != "" {
			profErr = errors.Join(profErr, writeHeapProfile(o.peakHeapProfile+".waiting"))
		}
		return err
	}, cl)
	close(quit)
	wg.Wait()
	if err != nil {
		return err
	}
	if hwmErr != nil {
		return hwmErr
	}
	if profErr != nil {
		return profErr
	}
	out, err := json.Marshal(peakResult{Tasks: sh.Total, Shape: sh.String(), Store: o.peakStore, WallNs: int64(r.wall),
		VmHWM: hwm, Sys: int64(sys), HeapPeak: heapPeak, Retained: int64(retained), Waiting: int64(waiting)})
	if err != nil {
		return err
	}
	fmt.Println(string(out))
	return nil
}

// runChain runs a chain of o.chain tasks, each depending on the one before, through Corral and
// make, and prints the time per hop: from a task's end to its dependent's start as Corral
// records them (executionInfo: the end as the agent reports it, the start when the job manager
// takes the dependent's attempt, before the one commit that records both), and each run's wall
// time per task, which is the hop end to end.
func runChain(o options, bin string, cl *cleanup) error {
	ch := newShape(o.chain, 1, 1)
	fmt.Fprintf(os.Stderr, "chain of %d tasks\n", o.chain)
	r, err := runCorral(o, ch, bin, cl)
	if err != nil {
		return fmt.Errorf("corral chain: %w", err)
	}
	line := fmt.Sprintf("chain of %d tasks: corral hop (task end -> dependent start, service-recorded, before their commit) %s; corral wall per task %s, of which the attempt (recorded start -> recorded end: the start to the agent, the process, its result back) %s",
		o.chain, latencyLine(r.tm.dep), ms(r.wall/time.Duration(ch.Total)), ms(mean(r.tm.attempt)))
	if r.closedConns >= 0 {
		line += fmt.Sprintf("; %d connections to the server closed", r.closedConns)
	}
	if !o.skipMake {
		mk, err := runMake(ch, o.p, o.command, o.dir, cl)
		if err != nil {
			return fmt.Errorf("make chain: %w", err)
		}
		line += fmt.Sprintf("; make wall per task %s", ms(mk.wall/time.Duration(ch.Total)))
	}
	fmt.Println(line)
	return nil
}

// writeHeapProfile writes the heap profile of what the last garbage collection left reachable.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}

// waitingHeap adds the shape's tasks to a job on a new pool without nodes, where none can run, and
// returns how much the reachable heap grew: what the service holds for a job whose tasks all wait.
func waitingHeap(sys *system, sh shape, command string) (uint64, error) {
	if err := sys.addPool("idle", 0, 1); err != nil {
		return 0, err
	}
	if err := sys.addJob("waiting", "idle", true); err != nil {
		return 0, err
	}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	for from := 0; from < sh.Total; from += 100 {
		req := sys.request()
		tasks := sh.tasks(from, min(from+100, sh.Total), command)
		if _, err := sys.ask(req, service.AddTasks{Request: req, JobID: "waiting", Tasks: tasks}); err != nil {
			return 0, err
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	if ms.HeapAlloc < before {
		return 0, nil
	}
	return ms.HeapAlloc - before, nil
}
