// Command autoscale measures the service's own turnaround when it sizes pools, with a VM provider
// that answers at once (provider delay zero), on an actor.Engine with a SQLite store in a
// temporary directory:
//
//		go run ./bench/autoscale                       # 10 nodes, formula every 200ms, 5 runs
//		go run ./bench/autoscale -nodes 50 -interval 1s
//
//	  - burst: an autoscale pool at zero nodes, sized by the formula
//	    $TargetDedicatedNodes = min(N, max($PendingTasks.GetSample(TimeInterval_Minute))), gets a
//	    burst of -tasks tasks; measured from the answer to the Add Task Collection to the pool
//	    steady with N nodes. It includes the wait for the job manager's task counts (at most half
//	    the interval) and for the next evaluation (at most one interval: the evaluation timer is not
//	    aligned with the burst). Reference, in the same run: Pool - Resize of a pool of the same
//	    size to N, from the answer to the resize to steady.
//	  - stop: a resize to N nodes whose creations the provider holds (they never finish); measured
//	    from sending Pool - Stop Resize to the pool steady (every creation cancelled, every node
//	    released). Reference: Pool - Stop Resize of a steady pool, which changes nothing, from
//	    sending to the answer.
//
// Each measure runs -runs times; the output gives the median and the maximum, and the ratio of
// medians to the reference. Nodes are fastnode agents (in process, no processes, no disk).
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"corral/actor"
	"corral/batch"
	"corral/bench/fastnode"
	"corral/compute"
	"corral/service"
	"corral/store/sqlite"
)

func main() {
	nodes := flag.Int("nodes", 10, "the pool's target size")
	tasks := flag.Int("tasks", 100, "tasks in the burst (at most 100: one Add Task Collection)")
	interval := flag.Duration("interval", 200*time.Millisecond, "autoScaleEvaluationInterval (and the service's minimum)")
	runs := flag.Int("runs", 5, "runs of each measure")
	flag.Parse()
	if *tasks < 1 || *tasks > 100 || *nodes < 1 || *runs < 1 {
		fmt.Fprintln(os.Stderr, "autoscale: -tasks must be 1..100, -nodes and -runs at least 1")
		os.Exit(2)
	}
	if err := run(*nodes, *tasks, *interval, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "autoscale:", err)
		os.Exit(1)
	}
}

// bench is a running service with a provider, a requester and a watch on pool allocations.
type bench struct {
	eng     *actor.Engine
	replies chan service.Reply
	allocs  chan stamped
	held    chan string // node ids whose creation the hold provider holds
	next    int
}

// stamped is a PoolAllocation with the time it was announced.
type stamped struct {
	service.PoolAllocation
	at time.Time
}

const requesterID actor.ID = "bench.requester"

type requester struct{ replies chan service.Reply }

func (r *requester) Define(m *actor.Machine) {
	m.State("Waiting", actor.On(func(_ *actor.Context, rep service.Reply) { r.replies <- rep }))
}

// allocWatch is a monitor that stamps every PoolAllocation with the time it was announced.
type allocWatch struct{ out chan stamped }

func (w *allocWatch) Define(m *actor.Machine) {
	m.State("Watching",
		actor.On(func(_ *actor.Context, e service.PoolAllocation) { w.out <- stamped{e, time.Now()} }),
		actor.OnAny(func(*actor.Context, actor.Event) {}))
}

func run(nodes, tasks int, interval time.Duration, runs int) error {
	dir, err := os.MkdirTemp("", "corral-bench-autoscale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := sqlite.Open(filepath.Join(dir, "corral.db"))
	if err != nil {
		return err
	}
	eng := actor.NewEngine(actor.Options{Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	b := &bench{eng: eng, replies: make(chan service.Reply, 16), allocs: make(chan stamped, 1<<16), held: make(chan string, 1<<16)}
	if err := eng.Monitor(&allocWatch{out: b.allocs}); err != nil {
		return err
	}
	if _, err := eng.Create(string(requesterID), &requester{replies: b.replies}); err != nil {
		return err
	}
	// Creations for the stop measure's pools ("stop-") are held for ever; the others answered at once.
	prov := &fastnode.Provider{AgentID: service.AgentID, SessionID: service.NodeSessionID, Hold: func(c compute.CreateVM) bool {
		if strings.HasPrefix(c.PoolID, "stop-") {
			b.held <- c.NodeID
			return true
		}
		return false
	}}
	if _, err := eng.Create(string(compute.ProviderID), prov); err != nil {
		return err
	}
	cfg := service.Config{Store: st, Timing: service.NodeTiming{CheckEvery: time.Hour, LostAfter: 24 * time.Hour}, AutoScaleMinInterval: interval}
	if err := eng.AddHost("service", func(h actor.Host) error { return service.Boot(h, cfg) }); err != nil {
		return err
	}
	defer func() {
		eng.CrashHost("service")
		st.Close()
	}()

	var burst, afterEval, resize, stop, noop []time.Duration
	for i := range runs {
		d, e, err := b.burst(i, nodes, tasks, interval)
		if err != nil {
			return fmt.Errorf("burst %d: %w", i, err)
		}
		burst, afterEval = append(burst, d), append(afterEval, e)
		d, err = b.resize(i, nodes)
		if err != nil {
			return fmt.Errorf("resize %d: %w", i, err)
		}
		resize = append(resize, d)
		d, n, err := b.stop(i, nodes)
		if err != nil {
			return fmt.Errorf("stop %d: %w", i, err)
		}
		stop, noop = append(stop, d), append(noop, n)
	}
	if f := eng.Failures(); len(f) > 0 {
		return fmt.Errorf("actor failure: %v", f[0])
	}
	fmt.Printf("pool of %d dedicated nodes, provider delay 0, SQLite store, %d runs, autoScaleEvaluationInterval %v\n", nodes, runs, interval)
	report := func(name string, ds, ref []time.Duration, refName string) {
		fmt.Printf("%-34s median %8.1f ms  max %8.1f ms   (reference %s: median %.1f ms; ratio %.1f)\n",
			name, ms(median(ds)), ms(slices.Max(ds)), refName, ms(median(ref)), float64(median(ds))/float64(median(ref)))
	}
	report("burst -> target (autoscale)", burst, resize, "Pool - Resize -> steady")
	report("evaluation -> target (autoscale)", afterEval, resize, "Pool - Resize -> steady")
	report("Pool - Resize -> steady", resize, resize, "itself")
	report("stopresize -> steady", stop, noop, "stopresize of a steady pool")
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// ask sends a request and waits for its answer.
func (b *bench) ask(build func(service.Request) actor.Event) (service.Reply, error) {
	b.next++
	req := service.Request{ID: strconv.Itoa(b.next), ReplyTo: requesterID}
	ev := build(req)
	if err := b.eng.Send(service.AccountID, ev); err != nil {
		return service.Reply{}, err
	}
	for {
		select {
		case r := <-b.replies:
			if r.RequestID != req.ID {
				continue
			}
			if r.Err != nil {
				return r, fmt.Errorf("%T: %s: %s", ev, r.Err.Code, r.Err.Message)
			}
			return r, nil
		case <-time.After(time.Minute):
			return service.Reply{}, fmt.Errorf("no answer to %T in a minute", ev)
		}
	}
}

// until waits for a PoolAllocation of pool, announced after since, that satisfies ok and returns
// when it was announced.
func (b *bench) until(pool string, since time.Time, ok func(service.PoolAllocation) bool) (time.Time, error) {
	timeout := time.After(time.Minute)
	for {
		select {
		case a := <-b.allocs:
			if a.PoolID == pool && !a.at.Before(since) && ok(a.PoolAllocation) {
				return a.at, nil
			}
		case <-timeout:
			return time.Time{}, fmt.Errorf("pool %s: no such allocation in a minute", pool)
		}
	}
}

func steadyWith(n int) func(service.PoolAllocation) bool {
	return func(a service.PoolAllocation) bool {
		return a.State == batch.AllocationSteady && a.Dedicated == n && a.TargetDedicated == n
	}
}

// burst measures one burst of tasks on a new autoscale pool: from the request to the pool at its
// target, and from the evaluation that set the target to the pool at it.
func (b *bench) burst(i, nodes, tasks int, interval time.Duration) (total, afterEval time.Duration, err error) {
	pool, job := fmt.Sprintf("burst-%d", i), fmt.Sprintf("job-%d", i)
	yes, iv := true, batch.Duration(interval)
	formula := fmt.Sprintf("$TargetDedicatedNodes = min(%d, max($PendingTasks.GetSample(TimeInterval_Minute)));", nodes)
	if _, err := b.ask(func(r service.Request) actor.Event {
		return service.AddPool{Request: r, Pool: batch.Pool{ID: pool, VMSize: "local", EnableAutoScale: &yes, AutoScaleFormula: formula, AutoScaleEvaluationInterval: &iv}}
	}); err != nil {
		return 0, 0, err
	}
	if _, err := b.ask(func(r service.Request) actor.Event {
		return service.AddJob{Request: r, Job: batch.Job{ID: job, PoolInfo: batch.PoolInformation{PoolID: pool}}}
	}); err != nil {
		return 0, 0, err
	}
	time.Sleep(3 * interval) // the first evaluations (at zero tasks) are done
	ts := make([]batch.Task, tasks)
	for k := range ts {
		ts[k] = batch.Task{ID: fmt.Sprintf("t%d", k), CommandLine: "true"}
	}
	start := time.Now()
	if _, err := b.ask(func(r service.Request) actor.Event { return service.AddTasks{Request: r, JobID: job, Tasks: ts} }); err != nil {
		return 0, 0, err
	}
	decided, err := b.until(pool, start, func(a service.PoolAllocation) bool { return a.TargetDedicated == nodes })
	if err != nil {
		return 0, 0, err
	}
	at, err := b.until(pool, decided, steadyWith(nodes))
	return at.Sub(start), at.Sub(decided), err
}

// resize measures Pool - Resize of a new pool from zero to nodes.
func (b *bench) resize(i, nodes int) (time.Duration, error) {
	pool := fmt.Sprintf("ref-%d", i)
	zero := int32(0)
	if _, err := b.ask(func(r service.Request) actor.Event {
		return service.AddPool{Request: r, Pool: batch.Pool{ID: pool, VMSize: "local", TargetDedicatedNodes: &zero}}
	}); err != nil {
		return 0, err
	}
	start := time.Now()
	if _, err := b.ask(func(r service.Request) actor.Event {
		return service.ResizePool{Request: r, PoolID: pool, TargetDedicatedNodes: int32(nodes)}
	}); err != nil {
		return 0, err
	}
	at, err := b.until(pool, start, steadyWith(nodes))
	return at.Sub(start), err
}

// stop measures Pool - Stop Resize of a resize whose creations are held, and the reference stop
// of the then steady pool.
func (b *bench) stop(i, nodes int) (stop, noop time.Duration, err error) {
	pool := fmt.Sprintf("stop-%d", i)
	zero := int32(0)
	if _, err := b.ask(func(r service.Request) actor.Event {
		return service.AddPool{Request: r, Pool: batch.Pool{ID: pool, VMSize: "local", TargetDedicatedNodes: &zero}}
	}); err != nil {
		return 0, 0, err
	}
	if _, err := b.ask(func(r service.Request) actor.Event {
		return service.ResizePool{Request: r, PoolID: pool, TargetDedicatedNodes: int32(nodes)}
	}); err != nil {
		return 0, 0, err
	}
	for range nodes {
		select {
		case <-b.held:
		case <-time.After(time.Minute):
			return 0, 0, fmt.Errorf("pool %s: the creations were not all asked for", pool)
		}
	}
	start := time.Now()
	if _, err := b.ask(func(r service.Request) actor.Event { return service.StopResizePool{Request: r, PoolID: pool} }); err != nil {
		return 0, 0, err
	}
	at, err := b.until(pool, start, func(a service.PoolAllocation) bool { return a.State == batch.AllocationSteady && a.Dedicated == 0 })
	if err != nil {
		return 0, 0, err
	}
	stop = at.Sub(start)
	start = time.Now()
	if _, err := b.ask(func(r service.Request) actor.Event { return service.StopResizePool{Request: r, PoolID: pool} }); err != nil {
		return 0, 0, err
	}
	return stop, time.Since(start), nil
}
