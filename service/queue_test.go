package service

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/service/model"
	"corral/store/memstore"
)

// The specifications of nodes' queues (queue.go).

// oneRunAtATime asserts that no two attempts of a task run at once unless the service gave one
// up (its node was lost or left: a start delayed on its way may then reach the node after the
// task was placed again, and the session kills it when the agent reports it), and that a result recorded is of an attempt that ran: an
// attempt taken back from a node's queue never ran, and is never counted as if it had.
type oneRunAtATime struct {
	running  map[string]string // task -> the attempt whose process runs
	ran      map[string]bool   // attempts whose process started
	givenUp  map[string]bool   // attempts the service gave up
	wasQueue map[string]bool   // attempts placed on a node's queue
}

func (o *oneRunAtATime) Define(m *actor.Machine) {
	m.State("Init", actor.OnEntry(func(ctx *actor.Context) {
		o.running, o.ran, o.givenUp, o.wasQueue = map[string]string{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
		ctx.Goto("Watching")
	}), actor.Targets("Watching"))
	m.State("Watching",
		actor.On(func(ctx *actor.Context, e model.AttemptRan) {
			k := e.JobID + "/" + e.TaskID
			o.ran[e.AttemptID] = true
			if other, ok := o.running[k]; ok && other != e.AttemptID && !o.givenUp[other] && !o.givenUp[e.AttemptID] {
				ctx.Assert(false, "task %s runs attempt %s on node %s while its attempt %s runs too", k, e.AttemptID, e.NodeID, other)
			}
			o.running[k] = e.AttemptID
		}),
		actor.On(func(ctx *actor.Context, e model.AttemptStopped) {
			for k, id := range o.running {
				if id == e.AttemptID {
					delete(o.running, k)
				}
			}
		}),
		actor.On(func(ctx *actor.Context, e AttemptGivenUp) { o.givenUp[e.AttemptID] = true }),
		actor.On(func(ctx *actor.Context, e TaskQueued) {
			o.wasQueue[e.AttemptID] = true
			queuedSeen.Add(1)
		}),
		actor.On(func(ctx *actor.Context, e AttemptRecorded) {
			ctx.Assert(o.ran[e.AttemptID], "task %s: the result of attempt %s is recorded, but its process never ran", e.TaskID, e.AttemptID)
			if o.wasQueue[e.AttemptID] {
				queuedRan.Add(1)
			}
		}),
	)
}

// queuedSeen and queuedRan count, over a test's iterations, the attempts placed on nodes' queues
// and the results of such attempts recorded: the tests check that queues were used at all.
var queuedSeen, queuedRan atomic.Int64

// notStranded is hot while an attempt waits on one node's queue and another node is up with
// slots free and nothing queued: such a node must get the attempt (taken back from the queue) or
// the attempt must start where it is.
type notStranded struct {
	queued map[string]string    // attempt -> node, while it waits on a queue
	nodes  map[string]NodeSlots // node -> the scheduler's latest count
}

func (n *notStranded) Define(m *actor.Machine) {
	on := func() []actor.StateOption {
		return []actor.StateOption{
			actor.On(func(ctx *actor.Context, e TaskQueued) {
				n.queued[e.AttemptID] = e.NodeID
				n.update(ctx)
			}),
			actor.On(func(ctx *actor.Context, e TaskStarted) { n.done(ctx, e.AttemptID) }),
			actor.On(func(ctx *actor.Context, e AttemptGivenUp) { n.done(ctx, e.AttemptID) }),
			actor.On(func(ctx *actor.Context, e AttemptRecorded) { n.done(ctx, e.AttemptID) }),
			actor.On(func(ctx *actor.Context, e model.AttemptRan) { n.done(ctx, e.AttemptID) }),
			actor.On(func(ctx *actor.Context, e NodeSlots) {
				n.nodes[e.NodeID] = e
				n.update(ctx)
			}),
			actor.On(func(ctx *actor.Context, e SchedulerStarted) {
				// A new life of the service: what it places comes anew.
				n.queued, n.nodes = map[string]string{}, map[string]NodeSlots{}
				n.update(ctx)
			}),
		}
	}
	m.State("Init", actor.OnEntry(func(ctx *actor.Context) {
		n.queued, n.nodes = map[string]string{}, map[string]NodeSlots{}
		ctx.Goto("Fine")
	}), actor.Targets("Fine"))
	m.State("Fine", append(on(), actor.Temp(actor.Cold), actor.Targets("Stranded"))...)
	m.State("Stranded", append(on(), actor.Temp(actor.Hot), actor.Targets("Fine"))...)
}

func (n *notStranded) done(ctx *actor.Context, attempt string) {
	delete(n.queued, attempt)
	n.update(ctx)
}

func (n *notStranded) update(ctx *actor.Context) {
	for _, node := range n.queued {
		for id, s := range n.nodes {
			if id != node && s.Up && s.Free > 0 && s.Queued == 0 {
				ctx.Goto("Stranded")
				return
			}
		}
	}
	ctx.Goto("Fine")
}

// shortTasks is a DAG of short tasks: the diamond and n independent ones.
func shortTasks(n int) []batch.Task {
	tasks := diamond()
	for i := range n {
		tasks = append(tasks, batch.Task{ID: fmt.Sprintf("s%d", i), CommandLine: "/bin/true"})
	}
	return tasks
}

// Short tasks on two nodes of two slots: once the scheduler has seen how short they are, it
// places attempts on the nodes' queues. With the service crashing and messages to and from the
// agents dropped and delayed, every task still runs in dependency order and completes once, no
// task runs on two nodes at once unless one was given up, no node runs more than its slots, and
// no queued attempt waits while another node idles.
func TestNodeQueues(t *testing.T) {
	queuedSeen.Store(0)
	queuedRan.Store(0)
	systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 4000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05, LivenessThreshold: 1500,
		Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}, Drops: 1, Delays: 2}}, func(s *systest.Sim) {
		s.Monitor(&slotsHeld{nodeSlots: 2})
		s.Monitor(&oneRunAtATime{})
		s.Monitor(&notStranded{})
		dagService(s, model.Provider{})
		two, yes := int32(2), true
		s.Create("client", newClient(
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two, TaskSlotsPerNode: &two}},
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes}},
			AddTasks{JobID: "j1", Tasks: shortTasks(10)},
		))
	})
	if queuedSeen.Load() == 0 || queuedRan.Load() == 0 {
		t.Errorf("over the iterations %d attempts were queued and %d of them ran: the test did not exercise nodes' queues", queuedSeen.Load(), queuedRan.Load())
	}
	t.Logf("%d attempts queued, %d of them ran", queuedSeen.Load(), queuedRan.Load())
}

// One slot per node, and one task far longer than the others: an attempt queued behind it is
// taken back and run on the other node as soon as that node is idle, rather than after the long
// task (which would keep notStranded hot past its threshold).
func TestQueuedTaskTakenBack(t *testing.T) {
	queuedSeen.Store(0)
	queuedRan.Store(0)
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 6000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05, LivenessThreshold: 400,
		Faults: systest.Faults{Drops: 1, Delays: 1}}, func(s *systest.Sim) {
		s.Monitor(&slotsHeld{nodeSlots: 1})
		s.Monitor(&oneRunAtATime{})
		s.Monitor(&notStranded{})
		// Not eventuallyDone: the slow task keeps the job open longer than the threshold that
		// judges a queued attempt left behind it.
		s.Monitor(&depsFirst{})
		s.Monitor(&completedOnce{})
		runService(s, Config{Store: memstore.New(), Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}},
			model.Provider{SlowTasks: []string{"slow"}, SlowFor: 400})
		s.Create("client", slowTaskClient(4, 6))
	})
	if queuedSeen.Load() == 0 {
		t.Errorf("no attempt was queued over the iterations: the test did not exercise nodes' queues")
	}
	t.Logf("%d attempts queued, %d of them ran", queuedSeen.Load(), queuedRan.Load())
}

// slowTaskClient adds, on two nodes of one slot, short tasks (shortTasks(short)), a task "slow"
// (the tests' providers make it run long) and after more independent ones.
func slowTaskClient(short, after int) actor.Actor {
	two, one, yes := int32(2), int32(1), true
	tasks := shortTasks(short)
	tasks = append(tasks, batch.Task{ID: "slow", CommandLine: "/bin/true"})
	for i := range after {
		tasks = append(tasks, batch.Task{ID: fmt.Sprintf("after%d", i), CommandLine: "/bin/true"})
	}
	return newClient(
		AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two, TaskSlotsPerNode: &one}},
		AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes}},
		AddTasks{JobID: "j1", Tasks: tasks},
	)
}

// queueDepth checks that no scheduler ever has more than maxQueueDepth times a node's slots queued
// on it, and records in deepestQueue the deepest queue seen, in times the node's slots.
type queueDepth struct{}

// deepestQueue is queueDepth's record: the tests check that deep queues were used at all.
var deepestQueue atomic.Int64

func (q *queueDepth) Define(m *actor.Machine) {
	m.State("Watching", actor.On(func(ctx *actor.Context, e NodeSlots) {
		if e.Total <= 0 {
			return
		}
		ctx.Assert(e.Queued <= maxQueueDepth*e.Total, "node %s: %d slots' worth of attempts queued, more than %d times its %d slots", e.NodeID, e.Queued, maxQueueDepth, e.Total)
		// The tester runs one monitor step at a time: a plain compare and store is enough.
		if depth := int64((e.Queued + e.Total - 1) / e.Total); depth > deepestQueue.Load() {
			deepestQueue.Store(depth)
		}
	}))
}

// Very short tasks (5 ms ticks of virtual time) make nodes' queues twice as deep as their slots
// (queueRoom). On two nodes of one slot, with a slow task that holds one node, and messages
// dropped and delayed: no node runs more than its slots, no queue passes twice its slots, no task
// runs twice at once, no attempt stays queued behind the slow task while the other node idles
// (notStranded), and no task starts before its dependencies or completes twice. The runs end at
// MaxSteps (the agents' 20 ms heartbeats never let them go quiet), so that the job finishes is
// not checked here.
func TestDeepNodeQueues(t *testing.T) {
	queuedSeen.Store(0)
	queuedRan.Store(0)
	deepestQueue.Store(0)
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 8000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05, LivenessThreshold: 1500,
		Faults: systest.Faults{Drops: 1, Delays: 1}}, func(s *systest.Sim) {
		s.Monitor(&slotsHeld{nodeSlots: 1})
		s.Monitor(&oneRunAtATime{})
		s.Monitor(&notStranded{})
		s.Monitor(&queueDepth{})
		s.Monitor(&depsFirst{})
		s.Monitor(&completedOnce{})
		runService(s, Config{Store: memstore.New(), Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}},
			model.Provider{Heartbeat: 20 * time.Millisecond, RunFor: 2, SlowTasks: []string{"slow"}, SlowFor: 200})
		s.Create("client", slowTaskClient(6, 8))
	})
	if deepestQueue.Load() < maxQueueDepth {
		t.Errorf("the deepest node queue over the iterations held %d times its slots, never %d: the test did not exercise deep queues", deepestQueue.Load(), maxQueueDepth)
	}
	t.Logf("%d attempts queued, %d of them ran; deepest queue %d times the slots", queuedSeen.Load(), queuedRan.Load(), deepestQueue.Load())
}
