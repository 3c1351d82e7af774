package service

import (
	"testing"
	"time"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/service/model"
)

// The specifications of Compute Node - Reboot and Reimage.

// restartsRight watches the reboots of nodes:
//   - a reboot recorded is eventually over (hot until NodeRestartDone);
//   - an agent restarts only when each attempt it runs has been given up by the service (with
//     taskcompletion or retaineddata, what runs finishes first; with requeue or terminate it is
//     requeued or terminated first);
//   - while a node reboots, until its agent has restarted, the agent starts no attempt but those
//     its session knew on it;
//   - with requeue or terminate, no attempt the node ran when the reboot applied has a result
//     recorded, unless the service restarted meanwhile (its loss may not have been recorded:
//     then the attempt may end as it would have without the reboot).
type restartsRight struct {
	pending  map[string]string          // node -> reboot recorded and not over
	running  map[string]map[string]bool // node -> attempts its agent runs
	givenUp  map[string]bool            // attempts reported lost
	allowed  map[string]map[string]bool // node -> attempts it may run while it reboots
	noResult map[string]bool
	done     map[string]bool // reboots whose agent has restarted
}

func (r *restartsRight) init() {
	if r.pending == nil {
		r.pending, r.running, r.givenUp = map[string]string{}, map[string]map[string]bool{}, map[string]bool{}
		r.allowed, r.noResult, r.done = map[string]map[string]bool{}, map[string]bool{}, map[string]bool{}
	}
}

func (r *restartsRight) update(ctx *actor.Context) {
	if len(r.pending) > 0 {
		ctx.Goto("Rebooting")
	} else {
		ctx.Goto("Calm")
	}
}

func (r *restartsRight) Define(m *actor.Machine) {
	handlers := []actor.StateOption{
		actor.On(func(ctx *actor.Context, e NodeRestartRecorded) {
			r.init()
			r.pending[e.NodeID] = e.ID
			r.update(ctx)
		}),
		actor.On(func(ctx *actor.Context, e NodeRestartDone) {
			r.init()
			if r.pending[e.NodeID] == e.ID {
				delete(r.pending, e.NodeID)
				delete(r.allowed, e.NodeID)
			}
			r.update(ctx)
		}),
		actor.On(func(ctx *actor.Context, e NodeRestartApplied) {
			r.init()
			if r.pending[e.NodeID] != e.ID || r.done[e.ID] {
				return
			}
			if r.allowed[e.NodeID] == nil {
				r.allowed[e.NodeID] = map[string]bool{}
			}
			for _, id := range e.Known {
				r.allowed[e.NodeID][id] = true
				if e.Option == batch.DeallocateRequeue || e.Option == batch.DeallocateTerminate {
					r.noResult[id] = true
				}
			}
		}),
		actor.On(func(ctx *actor.Context, e AttemptGivenUp) { r.init(); r.givenUp[e.AttemptID] = true }),
		actor.On(func(ctx *actor.Context, e SchedulerStarted) { r.init(); r.noResult = map[string]bool{} }),
		actor.On(func(ctx *actor.Context, e model.AttemptRan) {
			r.init()
			if a := r.allowed[e.NodeID]; a != nil {
				ctx.Assert(a[e.AttemptID], "attempt %s of task %s/%s started on node %s while it reboots", e.AttemptID, e.JobID, e.TaskID, e.NodeID)
			}
			if r.running[e.NodeID] == nil {
				r.running[e.NodeID] = map[string]bool{}
			}
			r.running[e.NodeID][e.AttemptID] = true
		}),
		actor.On(func(ctx *actor.Context, e model.AttemptStopped) { r.init(); delete(r.running[e.NodeID], e.AttemptID) }),
		actor.On(func(ctx *actor.Context, e model.AgentRestarted) {
			r.init()
			for _, id := range sortedKeys(r.running[e.NodeID]) {
				ctx.Assert(r.givenUp[id], "the agent of node %s restarted (%s) while it ran attempt %s, which the service has not given up", e.NodeID, e.RequestID, id)
			}
			r.done[e.RequestID] = true
			delete(r.allowed, e.NodeID) // restarted: it may take work again
		}),
		actor.On(func(ctx *actor.Context, e AttemptRecorded) {
			r.init()
			ctx.Assert(!r.noResult[e.ResultAttempt], "attempt %s of task %s/%s had its result recorded, although node %s ran it when it was rebooted", e.ResultAttempt, e.JobID, e.TaskID, e.NodeID)
		}),
	}
	m.State("Calm", append(handlers, actor.Temp(actor.Cold), actor.Targets("Rebooting"))...)
	m.State("Rebooting", append(handlers, actor.Temp(actor.Hot), actor.Targets("Calm"))...)
}

// restartProgram runs the diamond DAG on a pool of two one-slot nodes and, once the tasks are
// under way, reboots (or reimages) p1-0 with opt, and later p1-1.
func restartProgram(opt batch.NodeDeallocationOption, reimage bool) func(*systest.Sim) {
	return nodeOpsProgram(opt, func() []actor.Actor { return []actor.Actor{&restartsRight{}} },
		RestartComputeNode{PoolID: "p1", NodeID: "p1-0", Option: opt, Reimage: reimage},
		pause{Max: 2 * time.Second},
		RestartComputeNode{PoolID: "p1", NodeID: "p1-1", Option: opt, Reimage: reimage})
}

// TestReboot reboots (or reimages) both nodes of a pool running a DAG, with each option; with
// faults, the reboots go on across restarts of the service and lost, repeated and late messages.
func TestReboot(t *testing.T) {
	faults := systest.Faults{Crashes: 2, CrashHosts: []string{"service"}, Drops: 2, Duplicates: 2, Delays: 2}
	for _, tc := range []struct {
		name    string
		opt     batch.NodeDeallocationOption
		reimage bool
		faults  systest.Faults
	}{
		{"requeue", batch.DeallocateRequeue, false, systest.Faults{}},
		{"terminate", batch.DeallocateTerminate, false, systest.Faults{}},
		{"taskcompletion", batch.DeallocateTaskCompletion, false, systest.Faults{}},
		{"reimage retaineddata", batch.DeallocateRetainedData, true, systest.Faults{}},
		{"requeue with faults", batch.DeallocateRequeue, false, faults},
		{"terminate with faults", batch.DeallocateTerminate, false, faults},
		{"reimage taskcompletion with faults", batch.DeallocateTaskCompletion, true, faults},
	} {
		t.Run(tc.name, func(t *testing.T) {
			systest.Test(t, schedulingConfig(tc.faults), restartProgram(tc.opt, tc.reimage))
		})
	}
}

// TestCanRestart: Azure reboots and reimages only idle or running nodes, and says why not.
func TestCanRestart(t *testing.T) {
	tests := []struct {
		state  batch.NodeState
		silent bool
		code   string
	}{
		{batch.NodeIdle, false, ""},
		{batch.NodeIdle, true, "OperationInvalidForCurrentState"},
		{batch.NodeRebooting, false, "NodeBeingRebooted"},
		{batch.NodeReimaging, false, "NodeBeingReimaged"},
		{batch.NodeCreating, false, "NodeBeingCreated"},
		{batch.NodeUnusable, false, "NodeStateUnusable"},
		{batch.NodeUnknown, false, "OperationInvalidForCurrentState"},
		{batch.NodePreempted, false, "OperationInvalidForCurrentState"},
		{batch.NodeLeavingPool, false, "OperationInvalidForCurrentState"},
	}
	for _, tc := range tests {
		err := canRestart(batch.Node{ID: "n", State: tc.state}, tc.silent)
		got := ""
		if err != nil {
			got = err.Code
		}
		if got != tc.code {
			t.Errorf("%s (silent %v): %q, want %q", tc.state, tc.silent, got, tc.code)
		}
	}
}
