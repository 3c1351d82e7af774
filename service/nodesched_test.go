package service

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/service/model"
	"corral/store"
	"corral/store/memstore"
)

// The specifications of Compute Node - Disable Scheduling and Enable Scheduling.

// disabledStartsNothingNew asserts that once a node's session has applied its node's scheduling
// disabled, the node's agent starts no attempt but those the session knew on the node then, until
// the node's scheduling is recorded enabled again. A restart of the service must find the node
// disabled in the store: a session that did not would offer the node, and a new attempt would
// run on it.
type disabledStartsNothingNew struct {
	recorded map[string]bool            // node -> disabled, as recorded
	allowed  map[string]map[string]bool // node -> attempts it may run; nil until applied
}

func (d *disabledStartsNothingNew) Define(m *actor.Machine) {
	init := func() {
		if d.recorded == nil {
			d.recorded, d.allowed = map[string]bool{}, map[string]map[string]bool{}
		}
	}
	m.State("Watching",
		actor.On(func(ctx *actor.Context, e NodeSchedulingRecorded) {
			init()
			d.recorded[e.NodeID] = e.Disabled
			if !e.Disabled {
				delete(d.allowed, e.NodeID)
			}
		}),
		actor.On(func(ctx *actor.Context, e NodeSchedulingApplied) {
			init()
			if !e.Disabled || !d.recorded[e.NodeID] {
				return // enabled since
			}
			if d.allowed[e.NodeID] == nil {
				d.allowed[e.NodeID] = map[string]bool{}
			}
			for _, id := range e.Known {
				d.allowed[e.NodeID][id] = true
			}
		}),
		actor.On(func(ctx *actor.Context, e model.AttemptRan) {
			init()
			if a := d.allowed[e.NodeID]; a != nil {
				ctx.Assert(a[e.AttemptID], "attempt %s of task %s/%s started on node %s, whose scheduling is disabled", e.AttemptID, e.JobID, e.TaskID, e.NodeID)
			}
		}))
}

// disabledStopsWork is hot while a node whose scheduling is recorded disabled with requeue or
// terminate still runs an attempt: its session must have the agent kill it. And no attempt the
// node ran when its session applied the disable may have a result recorded: it is requeued or
// terminated instead.
type disabledStopsWork struct {
	kill    map[string]bool
	running map[string]map[string]bool // node -> attempts its agent runs
	stopped map[string]bool            // attempts that must not have a result recorded
}

func (d *disabledStopsWork) Define(m *actor.Machine) {
	init := func() {
		if d.kill == nil {
			d.kill, d.running, d.stopped = map[string]bool{}, map[string]map[string]bool{}, map[string]bool{}
		}
	}
	update := func(ctx *actor.Context) {
		for _, node := range sortedKeys(d.kill) {
			if d.kill[node] && len(d.running[node]) > 0 {
				ctx.Goto("Stopping")
				return
			}
		}
		ctx.Goto("Calm")
	}
	handlers := []actor.StateOption{
		actor.On(func(ctx *actor.Context, e NodeSchedulingRecorded) {
			init()
			d.kill[e.NodeID] = e.Option == batch.DeallocateRequeue || e.Option == batch.DeallocateTerminate
			update(ctx)
		}),
		actor.On(func(ctx *actor.Context, e model.AttemptRan) {
			init()
			if d.running[e.NodeID] == nil {
				d.running[e.NodeID] = map[string]bool{}
			}
			d.running[e.NodeID][e.AttemptID] = true
			update(ctx)
		}),
		actor.On(func(ctx *actor.Context, e model.AttemptStopped) {
			init()
			delete(d.running[e.NodeID], e.AttemptID)
			update(ctx)
		}),
		actor.On(func(ctx *actor.Context, e NodeSchedulingApplied) {
			init()
			if e.Disabled && e.Ready && d.kill[e.NodeID] {
				for _, id := range e.Known {
					d.stopped[id] = true
				}
			}
		}),
		actor.On(func(ctx *actor.Context, e AttemptRecorded) {
			init()
			ctx.Assert(!d.stopped[e.ResultAttempt], "attempt %s of task %s/%s had its result recorded, although node %s ran it when its scheduling was disabled", e.ResultAttempt, e.JobID, e.TaskID, e.NodeID)
		}),
	}
	m.State("Calm", append(handlers, actor.Temp(actor.Cold), actor.Targets("Stopping"))...)
	m.State("Stopping", append(handlers, actor.Temp(actor.Hot), actor.Targets("Calm"))...)
}

// schedulingProgram runs the diamond DAG on a pool of two one-slot nodes and, once the tasks are
// under way, disables scheduling on p1-0 with opt, then (with enable) enables it again.
func schedulingProgram(opt batch.NodeDeallocationOption, enable bool) func(*systest.Sim) {
	ops := []actor.Event{DisableNodeScheduling{PoolID: "p1", NodeID: "p1-0", Option: opt}}
	if enable {
		ops = append(ops, pause{Max: 3 * time.Second}, EnableNodeScheduling{PoolID: "p1", NodeID: "P1-0"})
	}
	return nodeOpsProgram(opt, func() []actor.Actor { return []actor.Actor{&disabledStartsNothingNew{}, &disabledStopsWork{}} }, ops...)
}

// nodeOpsProgram runs the diamond DAG on a pool of two one-slot nodes (p1-0, p1-1) without
// retries and, once the tasks are under way, sends the requests ops, watched by the monitors
// made by monitors (new ones for every run) and those of every DAG program. With opt terminate,
// tasks may fail.
func nodeOpsProgram(opt batch.NodeDeallocationOption, monitors func() []actor.Actor, ops ...actor.Event) func(*systest.Sim) {
	return func(s *systest.Sim) {
		s.Monitor(&depsFirst{})
		s.Monitor(&completedOnce{})
		s.Monitor(&eventuallyDone{})
		s.Monitor(&noStartAfterCompleted{})
		for _, m := range monitors() {
			s.Monitor(m)
		}
		if opt != batch.DeallocateTerminate {
			s.Monitor(noTaskFails{})
		}
		cfg := Config{Store: memstore.New(), Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}}
		runService(s, cfg, model.Provider{})
		two, one, none, yes := int32(2), int32(1), int32(0), true
		s.Create("client", newClient(append([]actor.Event{
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two, TaskSlotsPerNode: &one}},
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes,
				Constraints: &batch.JobConstraints{MaxTaskRetryCount: &none}}},
			AddTasks{JobID: "j1", Tasks: diamond()},
			pause{Max: 2 * time.Second},
		}, ops...)...))
	}
}

func schedulingConfig(faults systest.Faults) systest.Config {
	return systest.Config{Iterations: 200, MaxSteps: 4000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05, Faults: faults}
}

// TestDisableScheduling disables scheduling on a node of a pool running a DAG, with each option,
// and enables it again. With crashes, the node stays disabled across restarts of the service, and
// what it ran is still requeued or terminated when the restart came between the answer and the
// session acting on it.
func TestDisableScheduling(t *testing.T) {
	crashes := systest.Faults{Crashes: 2, CrashHosts: []string{"service"}}
	for _, tc := range []struct {
		name   string
		opt    batch.NodeDeallocationOption
		enable bool
		faults systest.Faults
	}{
		{"requeue", batch.DeallocateRequeue, false, systest.Faults{}},
		{"terminate", batch.DeallocateTerminate, false, systest.Faults{}},
		{"taskcompletion", batch.DeallocateTaskCompletion, false, systest.Faults{}},
		{"then enable", batch.DeallocateRequeue, true, systest.Faults{}},
		{"requeue with crashes", batch.DeallocateRequeue, false, crashes},
		{"terminate with crashes", batch.DeallocateTerminate, false, crashes},
		{"taskcompletion with crashes", batch.DeallocateTaskCompletion, false, crashes},
		{"under link faults", batch.DeallocateRequeue, true,
			systest.Faults{Crashes: 1, CrashHosts: []string{"service"}, Drops: 2, Duplicates: 2, Delays: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			systest.Test(t, schedulingConfig(tc.faults), schedulingProgram(tc.opt, tc.enable))
		})
	}
}

// TestSchedulingRequests checks the answers to Disable and Enable Scheduling, and what the store
// shows: schedulingState, state offline while the node runs nothing, and the option kept.
func TestSchedulingRequests(t *testing.T) {
	var st *memstore.Store
	two := int32(2)
	var replies []Reply
	// A store of its own in each iteration: SYSTEST_ITERATIONS may ask for more than one.
	systest.Test(t, systest.Config{Iterations: 1, MaxSteps: 2000, Seed: 1}, func(s *systest.Sim) {
		replies, st = nil, memstore.New()
		runService(s, Config{Store: st, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: time.Hour}}, model.Provider{})
		s.Create("client", &recordingClient{out: &replies, reqs: []actor.Event{
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two}},
			pause{Max: 5 * time.Second},
			DisableNodeScheduling{PoolID: "p1", NodeID: "p1-0", Option: batch.DeallocateRetainedData},
			DisableNodeScheduling{PoolID: "p1", NodeID: "p1-9"},
			DisableNodeScheduling{PoolID: "p9", NodeID: "p1-0"},
			DisableNodeScheduling{PoolID: "p1", NodeID: "P1-0", Option: batch.DeallocateTaskCompletion},
			DisableNodeScheduling{PoolID: "p1", NodeID: "p1-0"},
			EnableNodeScheduling{PoolID: "p1", NodeID: "p1-1"},
		}})
	})
	codes := make([]string, len(replies))
	for i, r := range replies {
		if r.Err != nil {
			codes[i] = r.Err.Code
		}
	}
	want := []string{"", "", "InvalidPropertyValue", "NodeNotFound", "PoolNotFound", "", "", ""}
	if !slices.Equal(codes, want) {
		t.Fatalf("codes: got %q, want %q", codes, want)
	}
	nodes, err := ListNodes(context.Background(), st, "p1")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, n := range nodes {
		got[n.ID] = fmt.Sprintf("%s/%s", n.SchedulingState, n.State)
	}
	if got["p1-0"] != "disabled/offline" || got["p1-1"] != "enabled/idle" {
		t.Fatalf("nodes: %v", got)
	}
	ops := map[string]nodeOps{}
	if err := st.View(context.Background(), func(tx store.Tx) error {
		var err error
		ops, err = readNodeOps(tx, "p1")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if ops["p1-0"].Disable != batch.DeallocateTaskCompletion || len(ops) != 1 {
		t.Fatalf("node operations: %v", ops)
	}
}

// recordingClient sends its requests one after the other, each once, and keeps the replies.
type recordingClient struct {
	reqs []actor.Event
	out  *[]Reply
	next int
}

func (c *recordingClient) Define(m *actor.Machine) {
	send := func(ctx *actor.Context) {
		for c.next < len(c.reqs) {
			if p, ok := c.reqs[c.next].(pause); ok {
				c.next++
				*c.out = append(*c.out, Reply{})
				ctx.StartTimer(p.Max, pauseOver{})
				return
			}
			ev := withRequest(c.reqs[c.next], Request{ID: fmt.Sprint(c.next), ReplyTo: "client"})
			ctx.Send(AccountID, ev)
			return
		}
	}
	m.State("Asking",
		actor.OnEntry(send),
		actor.On(func(ctx *actor.Context, _ pauseOver) { send(ctx) }),
		actor.On(func(ctx *actor.Context, r Reply) {
			*c.out = append(*c.out, r)
			c.next++
			send(ctx)
		}))
}
