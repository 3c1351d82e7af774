package service

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/compute"
	"corral/service/model"
	"corral/store"
	"corral/store/memstore"
)

// Specifications that planted bugs (internal/mutants) showed missing: acknowledged adds are
// durable, attempts are bounded by retries and requeues, slots of tasks that need several are
// given back whole, orphan VMs go promptly, and autoscale shrinks honour each node deallocation
// option.

// AddAcked is announced by ackRelay when the API answers an add with success: the pool, the job,
// or the tasks (TaskIDs, of JobID) are acknowledged.
type AddAcked struct {
	PoolID, JobID string
	TaskIDs       []string
}

// ackRelay stands between the client and the service: it takes the answers addressed to "client",
// announces the adds they acknowledge, and hands them on to the client (created as to).
type ackRelay struct {
	to   actor.ID
	reqs []actor.Event // the client's requests, by request id
}

func (a *ackRelay) Define(m *actor.Machine) {
	m.State("Relaying", actor.On(func(ctx *actor.Context, r Reply) {
		var i int
		if _, err := fmt.Sscan(r.RequestID, &i); err == nil && i >= 0 && i < len(a.reqs) {
			switch req := a.reqs[i].(type) {
			case AddPool:
				if r.Err == nil {
					ctx.Announce(AddAcked{PoolID: req.Pool.ID})
				}
			case AddJob:
				if r.Err == nil {
					ctx.Announce(AddAcked{JobID: req.Job.ID})
				}
			case AddTasks:
				ack := AddAcked{JobID: req.JobID}
				for _, t := range r.Tasks {
					if t.Err == nil {
						ack.TaskIDs = append(ack.TaskIDs, t.TaskID)
					}
				}
				if r.Err == nil && len(ack.TaskIDs) > 0 {
					ctx.Announce(ack)
				}
			}
		}
		ctx.Send(a.to, r)
	}))
}

// ackedAddsStored asserts that every add the API acknowledged is in the store, when it is
// acknowledged and at every later step the monitor sees (the program deletes nothing), whatever
// the store failures and crashes in between.
type ackedAddsStored struct {
	st    store.Store
	pools []string
	jobs  []string
	tasks [][2]string // job, task
}

func (a *ackedAddsStored) check(ctx *actor.Context) {
	bg := context.Background()
	for _, p := range a.pools {
		_, err := GetPool(bg, a.st, p)
		ctx.Assert(err == nil, "pool %s was acknowledged but is not in the store: %v", p, err)
	}
	for _, j := range a.jobs {
		_, err := GetJob(bg, a.st, j)
		ctx.Assert(err == nil, "job %s was acknowledged but is not in the store: %v", j, err)
	}
	for _, t := range a.tasks {
		_, err := GetTask(bg, a.st, t[0], t[1])
		ctx.Assert(err == nil, "task %s/%s was acknowledged but is not in the store: %v", t[0], t[1], err)
	}
}

func (a *ackedAddsStored) Define(m *actor.Machine) {
	m.State("Watching",
		actor.On(func(ctx *actor.Context, e AddAcked) {
			switch {
			case e.PoolID != "":
				a.pools = append(a.pools, e.PoolID)
			case len(e.TaskIDs) > 0:
				for _, t := range e.TaskIDs {
					a.tasks = append(a.tasks, [2]string{e.JobID, t})
				}
			default:
				a.jobs = append(a.jobs, e.JobID)
			}
			a.check(ctx)
		}),
		actor.On(func(ctx *actor.Context, _ TaskStarted) { a.check(ctx) }),
		actor.On(func(ctx *actor.Context, _ TaskCompleted) { a.check(ctx) }),
		actor.On(func(ctx *actor.Context, _ TaskRecovered) { a.check(ctx) }),
		actor.On(func(ctx *actor.Context, _ PoolAllocation) { a.check(ctx) }),
	)
}

// The store refuses writes (or commits them and reports a failure) and the service crashes:
// every pool, job and task the API acknowledged is in the store all the same.
func TestServiceAckedAddsAreStored(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{ModelFailures: 3, Crashes: 1, CrashHosts: []string{"service"}}}, func(s *systest.Sim) {
		st := memstore.New()
		s.Monitor(&ackedAddsStored{st: st})
		s.Monitor(&completedOnce{})
		s.Monitor(&eventuallyDone{})
		st.Fail = func(op string) bool { return op != memstore.OpView && s.Fail(op) }
		cfg := Config{Store: st, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}}
		runService(s, cfg, model.Provider{})
		two, yes := int32(2), true
		more := []batch.Task{{ID: "t7", CommandLine: "/bin/true"}, {ID: "t8", CommandLine: "/bin/true"}}
		c := newClient(
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two}},
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes}},
			AddTasks{JobID: "j1", Tasks: diamond()},
			AddTasks{JobID: "j1", Tasks: more},
		)
		s.Create("client", &ackRelay{to: "client-requests", reqs: c.reqs})
		s.Create("client-requests", c)
	})
}

// attemptsBounded asserts that a task never has more attempts than its retries, its requeues and
// its first attempt allow, and never more retries than its maxTaskRetryCount: at each start, the
// task as recorded with it counts retryCount <= maxTaskRetryCount, and the starts of the task so
// far are at most retryCount + requeueCount + 1. (Only in programs whose store does not fail: a
// write reported failed that committed would count a start not announced.)
type attemptsBounded struct {
	st     store.Store
	starts map[string]int32
}

func (b *attemptsBounded) Define(m *actor.Machine) {
	m.State("Watching",
		actor.On(func(ctx *actor.Context, e TaskStarted) {
			if b.starts == nil {
				b.starts = map[string]int32{}
			}
			k := e.JobID + "/" + e.TaskID
			b.starts[k]++
			t, err := GetTask(context.Background(), b.st, e.JobID, e.TaskID)
			if errors.Is(err, store.ErrNotFound) {
				return // deleted since
			}
			ctx.Assert(err == nil, "task %s: %v", k, err)
			ei := t.ExecutionInfo
			ctx.Assert(ei != nil, "task %s started (attempt %s) without execution info", k, e.AttemptID)
			limit := batch.RetryLimit(t)
			ctx.Assert(limit < 0 || ei.RetryCount <= limit, "task %s: retried %d times, maxTaskRetryCount %d", k, ei.RetryCount, limit)
			ctx.Assert(b.starts[k] <= ei.RetryCount+ei.RequeueCount+1,
				"task %s: attempt %s is start %d, with %d retries and %d requeues", k, e.AttemptID, b.starts[k], ei.RetryCount, ei.RequeueCount)
		}),
		actor.Ignore[TaskAdded](), actor.Ignore[TaskCompleted](), actor.Ignore[TaskRecovered](),
	)
}

// Attempts fail (exit 1) and are retried, nodes go silent and their attempts are requeued, the
// service crashes: no task runs more often than its retries and requeues allow.
func TestServiceAttemptsWithinRetries(t *testing.T) {
	for _, retries := range []int32{0, 2} {
		t.Run(fmt.Sprintf("retries=%d", retries), func(t *testing.T) {
			systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
				Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}, Drops: 1, Delays: 2}}, func(s *systest.Sim) {
				st := memstore.New()
				s.Monitor(&attemptsBounded{st: st})
				s.Monitor(&completedOnce{})
				s.Monitor(&eventuallyDone{})
				cfg := Config{Store: st, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}}
				runService(s, cfg, model.Provider{ExitCodes: []int{1, 1, 0}})
				two, yes := int32(2), true
				s.Create("client", newClient(
					AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two}},
					AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes,
						Constraints: &batch.JobConstraints{MaxTaskRetryCount: &retries}}},
					AddTasks{JobID: "j1", Tasks: diamond()},
				))
			})
		})
	}
}

// Tasks that need several slots of a node (requiredSlots 2 and 3, nodes of 3 slots) all run: an
// attempt that ends gives its node back every slot it took.
func TestServiceRequiredSlots(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}}}, func(s *systest.Sim) {
		dagService(s, model.Provider{})
		two, three, yes := int32(2), int32(3), true
		tasks := diamond()
		for i := range tasks {
			tasks[i].RequiredSlots = batch.Ptr(int32(2 + i%2))
		}
		s.Create("client", newClient(
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two, TaskSlotsPerNode: &three}},
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes}},
			AddTasks{JobID: "j1", Tasks: tasks},
		))
	})
}

// orphanBound is how long a VM its pool does not want may stay up in a program where the service
// does not crash: far less than askAgainEvery, the period of the pool manager's listing of the
// provider's VMs, so that deleting an unwanted VM must not wait for the listing.
const orphanBound = 10 * time.Second

// orphansGoPromptly asserts that a VM that is up while its pool does not want it (a creation that
// finished after its resize was stopped, a removed node, a deleted pool's node) is deleted within
// orphanBound of virtual time. It holds where no crash loses the provider's answers; then only the
// listing finds such a VM, and noLeak holds the service to deleting it eventually.
type orphansGoPromptly struct {
	up     map[vmKey]bool
	wanted map[string]map[string]bool
	since  map[vmKey]time.Time // unwanted VMs up: since when
}

func (o *orphansGoPromptly) update(ctx *actor.Context) {
	now := ctx.Now()
	for k := range o.up {
		if o.wanted[k.pool][k.node] {
			delete(o.since, k)
			continue
		}
		if _, ok := o.since[k]; !ok {
			o.since[k] = now
		}
	}
	for k, t := range o.since {
		if !o.up[k] {
			delete(o.since, k)
			continue
		}
		ctx.Assert(now.Sub(t) <= orphanBound, "VM %s/%s has been up unwanted for %v (since %v), more than %v",
			k.pool, k.node, now.Sub(t), t, orphanBound)
	}
}

func (o *orphansGoPromptly) Define(m *actor.Machine) {
	init := func() {
		if o.up == nil {
			o.up, o.wanted, o.since = map[vmKey]bool{}, map[string]map[string]bool{}, map[vmKey]time.Time{}
		}
	}
	m.State("Watching",
		actor.On(func(ctx *actor.Context, e model.VMUp) { init(); o.up[vmKey{e.PoolID, e.NodeID}] = true; o.update(ctx) }),
		actor.On(func(ctx *actor.Context, e model.VMDown) {
			init()
			o.update(ctx) // how long it was up unwanted, then it is gone
			delete(o.up, vmKey{e.PoolID, e.NodeID})
			o.update(ctx)
		}),
		actor.On(func(ctx *actor.Context, e PoolNodes) {
			init()
			o.wanted[e.PoolID] = map[string]bool{}
			for _, n := range e.Nodes {
				o.wanted[e.PoolID][n] = true
			}
			o.update(ctx)
		}),
		actor.On(func(ctx *actor.Context, _ PoolAllocation) { init(); o.update(ctx) }),
	)
}

// A pool resized up and stopped, then resized down, against a provider that is slow, fails, and
// finishes creations after their cancel, without crashes: every VM the pool does not want (a
// creation that finished after the stop, a node removed) goes within orphanBound. Random
// scheduling with a rare clock makes message delays short next to timers, as they are (a
// strategy that starves the pool manager while time passes would break any bound).
func TestOrphanVMsDeletedPromptly(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 3000, Strategy: "random", Seed: 1, ClockProbability: 0.002},
		func(s *systest.Sim) {
			s.Monitor(&orphansGoPromptly{})
			resizeThen(s)
		})
}

// autoscaleShrinkProgram runs the diamond DAG on an autoscale pool whose formula removes nodes
// with the given $NodeDeallocationOption, against a provider that is slow, fails, and finishes
// creations after their cancel, with nodes that are never lost (no preemption, no crash, no
// silence long enough): a shrink that removes a node running a task is what it tests.
//   - requeue: no task fails (a requeue is not a retry), though a task may run again;
//   - terminate: a task whose node is removed completes (as terminated) and never runs again;
//   - taskcompletion and retaineddata: a running task is never ended: none fails and none runs
//     twice.
func autoscaleShrinkProgram(opt batch.NodeDeallocationOption) func(*systest.Sim) {
	// Low-priority nodes follow the tasks waiting for a slot, which drop as soon as they are
	// placed: the formula shrinks the pool while those tasks run on the nodes it removes.
	formula := `$tasks = max($PendingTasks.GetSample(1));
$waiting = max($ActiveTasks.GetSample(1));
$TargetDedicatedNodes = min(1, $tasks);
$TargetLowPriorityNodes = min(2, $waiting);
$NodeDeallocationOption = ` + string(opt) + ";"
	return func(s *systest.Sim) {
		s.Monitor(&depsFirst{})
		s.Monitor(&completedOnce{})
		s.Monitor(&eventuallyDone{})
		s.Monitor(&shrinksWhenDone{})
		s.Monitor(&noLeak{})
		s.Monitor(targetsRespected{})
		s.Monitor(&noStartAfterCompleted{})
		if opt != batch.DeallocateTerminate {
			s.Monitor(noTaskFails{})
		}
		if opt != batch.DeallocateRequeue {
			s.Monitor(&runsOnce{})
		}
		st := memstore.New()
		cfg := Config{Store: st, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 1000 * time.Hour}, AutoScaleMinInterval: time.Second}
		runService(s, cfg, model.Provider{Failures: true, Slow: true, Stubborn: true})
		yes, none, every := true, int32(0), batch.Duration(time.Second)
		s.Create("client", newClient(
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", EnableAutoScale: &yes, AutoScaleFormula: formula, AutoScaleEvaluationInterval: &every}},
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes,
				Constraints: &batch.JobConstraints{MaxTaskRetryCount: &none}}},
			AddTasks{JobID: "j1", Tasks: diamond()},
		))
	}
}

func autoscaleShrinkConfig() systest.Config {
	return systest.Config{Iterations: 60, MaxSteps: 6000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05}
}

func TestAutoscaleShrinkRequeue(t *testing.T) {
	systest.Test(t, autoscaleShrinkConfig(), autoscaleShrinkProgram(batch.DeallocateRequeue))
}

func TestAutoscaleShrinkTerminate(t *testing.T) {
	systest.Test(t, autoscaleShrinkConfig(), autoscaleShrinkProgram(batch.DeallocateTerminate))
}

func TestAutoscaleShrinkTaskCompletion(t *testing.T) {
	systest.Test(t, autoscaleShrinkConfig(), autoscaleShrinkProgram(batch.DeallocateTaskCompletion))
}

func TestAutoscaleShrinkRetainedData(t *testing.T) {
	systest.Test(t, autoscaleShrinkConfig(), autoscaleShrinkProgram(batch.DeallocateRetainedData))
}

// strayCreator asks the provider, once, for a VM of pool p1 that the pool has no record of, as
// a service of an earlier life might have (its answers and the VM's agent go unheard).
type strayCreator struct{ nodeID string }

func (c strayCreator) Define(m *actor.Machine) {
	m.State("Asking",
		actor.OnEntry(func(ctx *actor.Context) {
			ctx.Send(compute.ProviderID, compute.CreateVM{RequestID: "stray", ReplyTo: ctx.Self(), PoolID: "p1", NodeID: c.nodeID, VMSize: "local", Dedicated: true})
		}),
		actor.OnAny(func(*actor.Context, actor.Event) {}))
}

// deaf stands for an actor that hears nothing: the session of a node of an earlier life.
type deaf struct{}

func (deaf) Define(m *actor.Machine) {
	m.State("Deaf", actor.OnAny(func(*actor.Context, actor.Event) {}))
}

// A VM of the pool that the pool has no record of (left by an earlier life of the service) is
// found by the pool manager's listing of the provider's VMs and deleted (noLeak), crash or not.
func TestOrphanVMFromAnEarlierLifeDeleted(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}}}, func(s *systest.Sim) {
		s.Monitor(&noLeak{})
		s.Monitor(&resizeEnds{})
		st := memstore.New()
		cfg := Config{Store: st, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}}
		s.AddHost("cloud", func(h actor.Host) error {
			_, err := h.Create(string(compute.ProviderID), &model.Provider{AgentID: AgentID, SessionID: NodeSessionID, Slow: true})
			return err
		})
		s.Create(string(NodeSessionID("p1", "p1-old")), deaf{})
		s.Create("stray", strayCreator{nodeID: "p1-old"})
		s.AddHost("service", func(h actor.Host) error { return Boot(h, cfg) })
		one := int32(1)
		s.Create("client", newClient(
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &one}},
		))
	})
}
