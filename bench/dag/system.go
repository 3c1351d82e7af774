package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"corral/actor"
	"corral/batch"
	"corral/service"
	"corral/store"
)

// system is a running Corral service, however it runs (the whole server with agent processes, or
// the service alone with in-process agents): the runtime that takes requests, the store the
// service writes, and a watch on task completions.
type system struct {
	rt      actor.Runtime
	st      store.Store
	replies chan service.Reply
	watch   *doneWatch
	nextReq int
}

// requesterID is the actor that receives the service's replies for the benchmark.
const requesterID actor.ID = "bench.requester"

// requester hands the service's replies to the benchmark.
type requester struct{ replies chan service.Reply }

// Define declares the requester's single state.
func (r *requester) Define(m *actor.Machine) {
	m.State("Waiting", actor.On(func(_ *actor.Context, rep service.Reply) { r.replies <- rep }))
}

// doneWatch is a monitor that counts each job's TaskCompleted announcements (made once a
// completion is in the store) and signals when a job has as many as it waits for.
type doneWatch struct {
	mu      sync.Mutex
	count   map[string]int
	want    map[string]int
	signal  map[string]chan struct{}
	current atomic.Int64 // completions of the job waited for last, for progress reports
	job     atomic.Value // string: that job
}

func newDoneWatch() *doneWatch {
	return &doneWatch{count: map[string]int{}, want: map[string]int{}, signal: map[string]chan struct{}{}}
}

// Define declares the monitor's single state.
func (w *doneWatch) Define(m *actor.Machine) {
	m.State("Watching", actor.On(func(_ *actor.Context, e service.TaskCompleted) { w.completed(e.JobID) }))
}

func (w *doneWatch) completed(jobID string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.count[jobID]++
	if j, _ := w.job.Load().(string); j == jobID {
		w.current.Store(int64(w.count[jobID]))
	}
	if ch := w.signal[jobID]; ch != nil && w.count[jobID] >= w.want[jobID] {
		close(ch)
		delete(w.signal, jobID)
	}
}

// expect returns a channel closed once jobID has n completions; call it before adding tasks.
func (w *doneWatch) expect(jobID string, n int) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch := make(chan struct{})
	if w.count[jobID] >= n {
		close(ch)
		return ch
	}
	w.want[jobID], w.signal[jobID] = n, ch
	w.job.Store(jobID)
	w.current.Store(int64(w.count[jobID]))
	return ch
}

// newSystem creates the requester and the completion monitor on rt.
func newSystem(rt actor.Runtime, st store.Store) (*system, error) {
	s := &system{rt: rt, st: st, replies: make(chan service.Reply, 16), watch: newDoneWatch()}
	if err := rt.Monitor(s.watch); err != nil {
		return nil, fmt.Errorf("completion monitor: %w", err)
	}
	if _, err := rt.Create(string(requesterID), &requester{replies: s.replies}); err != nil {
		return nil, fmt.Errorf("requester: %w", err)
	}
	return s, nil
}

func (s *system) request() service.Request {
	s.nextReq++
	return service.Request{ID: strconv.Itoa(s.nextReq), ReplyTo: requesterID}
}

// ask sends a request to the service and waits for its reply.
func (s *system) ask(req service.Request, ev actor.Event) (service.Reply, error) {
	if err := s.rt.Send(service.AccountID, ev); err != nil {
		return service.Reply{}, err
	}
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case r := <-s.replies:
			if r.RequestID != req.ID {
				continue // the late reply to a request given up on
			}
			if r.Err != nil {
				return r, fmt.Errorf("%T: %s: %s", ev, r.Err.Code, r.Err.Message)
			}
			for _, t := range r.Tasks {
				if t.Err != nil {
					return r, fmt.Errorf("add task %s: %s: %s", t.TaskID, t.Err.Code, t.Err.Message)
				}
			}
			return r, nil
		case <-timeout:
			return service.Reply{}, fmt.Errorf("no reply to %T in 2 minutes", ev)
		}
	}
}

// addPool adds the benchmark's pool: nodes nodes of slots slots each.
func (s *system) addPool(poolID string, nodes, slots int) error {
	n, sl := int32(nodes), int32(slots)
	req := s.request()
	_, err := s.ask(req, service.AddPool{Request: req, Pool: batch.Pool{ID: poolID, VMSize: "local", TargetDedicatedNodes: &n, TaskSlotsPerNode: &sl}})
	return err
}

// addJob adds a job on the pool.
func (s *system) addJob(jobID, poolID string, deps bool) error {
	req := s.request()
	_, err := s.ask(req, service.AddJob{Request: req, Job: batch.Job{ID: jobID, PoolInfo: batch.PoolInformation{PoolID: poolID}, UsesTaskDependencies: &deps}})
	return err
}

// run adds a job with the DAG's tasks (100 per request, as Task - Add Collection allows) and waits
// until every task is completed. It reports how long submitting took and how long the whole run
// took, both from the first request.
func (s *system) run(jobID, poolID string, sh shape, command string, timeout time.Duration, label string) (submit, wall time.Duration, err error) {
	if err := s.addJob(jobID, poolID, true); err != nil {
		return 0, 0, err
	}
	done := s.watch.expect(jobID, sh.Total)
	stop := progress(label, sh.Total, &s.watch.current)
	defer stop()
	start := time.Now()
	for from := 0; from < sh.Total; from += 100 {
		req := s.request()
		tasks := sh.tasks(from, min(from+100, sh.Total), command)
		if _, err := s.ask(req, service.AddTasks{Request: req, JobID: jobID, Tasks: tasks}); err != nil {
			return 0, 0, err
		}
	}
	submit = time.Since(start)
	select {
	case <-done:
		return submit, time.Since(start), nil
	case <-time.After(timeout):
		counts, cerr := service.TaskCounts(context.Background(), s.st, jobID)
		return submit, 0, fmt.Errorf("%s: not all %d tasks completed after %v: counts %+v %v", label, sh.Total, timeout, counts.TaskCounts, cerr)
	}
}

// warmUp runs n independent tasks as a job of their own and waits for them: every node's agent
// has connected and run something before the measured run.
func (s *system) warmUp(poolID string, n int, command string) error {
	if err := s.addJob("warmup", poolID, false); err != nil {
		return err
	}
	done := s.watch.expect("warmup", n)
	tasks := make([]batch.Task, n)
	for i := range tasks {
		tasks[i] = batch.Task{ID: fmt.Sprintf("w%d", i), CommandLine: command}
	}
	req := s.request()
	if _, err := s.ask(req, service.AddTasks{Request: req, JobID: "warmup", Tasks: tasks}); err != nil {
		return err
	}
	select {
	case <-done:
		return nil
	case <-time.After(3 * time.Minute):
		return errors.New("warm-up tasks did not complete in 3 minutes (did the agents start? see the nodes' agent.log)")
	}
}

// timings is what the tasks' executionInfo says about a run.
type timings struct {
	// dep holds, for each task with dependencies, its startTime minus the latest endTime of its
	// dependencies; sorted.
	dep []time.Duration
	// attempt holds each task's endTime minus its startTime: on Corral's clock, from recording
	// the attempt (before the node hears of it) to recording its result; sorted.
	attempt []time.Duration
	// span is the latest endTime minus the earliest startTime.
	span time.Duration
}

// timings reads the job's tasks from the store, checks that each completed with success, and
// returns what their executionInfo says.
func (s *system) timings(jobID string, sh shape) (timings, error) {
	var tm timings
	tasks, err := service.ListTasks(context.Background(), s.st, jobID, "", 0)
	if err != nil {
		return tm, err
	}
	type span struct{ start, end time.Time }
	spans := make(map[string]span, len(tasks))
	var first, last time.Time
	for _, t := range tasks {
		if t.State != batch.TaskCompleted || t.ExecutionInfo == nil || t.ExecutionInfo.Result != batch.ResultSuccess {
			return tm, fmt.Errorf("task %s: %s, %+v", t.ID, t.State, t.ExecutionInfo)
		}
		sp := span{t.ExecutionInfo.StartTime, t.ExecutionInfo.EndTime}
		spans[t.ID] = sp
		tm.attempt = append(tm.attempt, sp.end.Sub(sp.start))
		if first.IsZero() || sp.start.Before(first) {
			first = sp.start
		}
		if sp.end.After(last) {
			last = sp.end
		}
	}
	if len(spans) != sh.Total {
		return tm, fmt.Errorf("job %s has %d tasks, want %d", jobID, len(spans), sh.Total)
	}
	tm.span = last.Sub(first)
	var bad error
	sh.each(func(_, l, i int) {
		deps := sh.deps(l, i)
		if len(deps) == 0 {
			return
		}
		var latest time.Time
		for _, d := range deps {
			if e := spans[d].end; e.After(latest) {
				latest = e
			}
		}
		lat := spans[taskID(l, i)].start.Sub(latest)
		if lat < 0 && bad == nil {
			bad = fmt.Errorf("task %s started %v before its last dependency ended", taskID(l, i), -lat)
		}
		tm.dep = append(tm.dep, lat)
	})
	slices.Sort(tm.dep)
	slices.Sort(tm.attempt)
	return tm, bad
}

// progress prints the number of completions to stderr every two seconds until stopped.
func progress(label string, total int, done *atomic.Int64) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		start := time.Now()
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				n := done.Load()
				el := time.Since(start)
				fmt.Fprintf(os.Stderr, "  %s: %d/%d tasks completed, %.1fs, %.0f tasks/s\n", label, n, total, el.Seconds(), float64(n)/el.Seconds())
			}
		}
	}()
	return func() { close(quit); wg.Wait() }
}
