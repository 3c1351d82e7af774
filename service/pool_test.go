package service

import (
	"testing"
	"time"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/service/model"
	"corral/store/memstore"
)

// The specifications of resizing, as monitors over what the pool managers and the provider model
// announce.

// noLeak is hot while a VM is up that its pool does not want (a node removed, a creation that
// finished after its cancel, a deleted pool's node): every such VM is eventually deleted.
type noLeak struct {
	up     map[vmKey]bool             // VMs up
	wanted map[string]map[string]bool // pool -> nodes
}

type vmKey struct{ pool, node string }

func (l *noLeak) init() {
	if l.up == nil {
		l.up, l.wanted = map[vmKey]bool{}, map[string]map[string]bool{}
	}
}

func (l *noLeak) check(ctx *actor.Context) {
	for k := range l.up {
		if !l.wanted[k.pool][k.node] {
			ctx.Goto("Leaking")
			return
		}
	}
	ctx.Goto("Clean")
}

func (l *noLeak) Define(m *actor.Machine) {
	on := []actor.StateOption{
		actor.On(func(ctx *actor.Context, e model.VMUp) { l.init(); l.up[vmKey{e.PoolID, e.NodeID}] = true; l.check(ctx) }),
		actor.On(func(ctx *actor.Context, e model.VMDown) {
			l.init()
			delete(l.up, vmKey{e.PoolID, e.NodeID})
			l.check(ctx)
		}),
		actor.On(func(ctx *actor.Context, e PoolNodes) {
			l.init()
			l.wanted[e.PoolID] = map[string]bool{}
			for _, n := range e.Nodes {
				l.wanted[e.PoolID][n] = true
			}
			l.check(ctx)
		}),
		actor.Ignore[PoolAllocation](),
	}
	m.State("Clean", append(on, actor.Temp(actor.Cold), actor.Targets("Leaking"))...)
	m.State("Leaking", append(on, actor.Temp(actor.Hot), actor.Targets("Clean"))...)
}

// resizeEnds is hot while a pool is resizing or stopping: every resize ends (steady).
type resizeEnds struct{ busy map[string]bool }

func (r *resizeEnds) Define(m *actor.Machine) {
	on := actor.On(func(ctx *actor.Context, e PoolAllocation) {
		if r.busy == nil {
			r.busy = map[string]bool{}
		}
		r.busy[e.PoolID] = !e.Deleted && (e.State == batch.AllocationResizing || e.State == batch.AllocationStopping)
		for _, b := range r.busy {
			if b {
				ctx.Goto("Resizing")
				return
			}
		}
		ctx.Goto("Steady")
	})
	m.State("Steady", on, actor.Ignore[PoolNodes](), actor.Temp(actor.Cold), actor.Targets("Resizing"))
	m.State("Resizing", on, actor.Ignore[PoolNodes](), actor.Temp(actor.Hot), actor.Targets("Steady"))
}

// targetsRespected asserts that a steady pool never has more nodes of a kind than its target.
type targetsRespected struct{}

func (targetsRespected) Define(m *actor.Machine) {
	m.State("Watching", actor.On(func(ctx *actor.Context, e PoolAllocation) {
		if e.State == batch.AllocationSteady && !e.Deleted {
			ctx.Assert(e.Dedicated <= e.TargetDedicated && e.LowPriority <= e.TargetLowPriority,
				"pool %s steady with %d dedicated and %d low-priority nodes, targets %d and %d",
				e.PoolID, e.Dedicated, e.LowPriority, e.TargetDedicated, e.TargetLowPriority)
		}
	}), actor.Ignore[PoolNodes]())
}

// resizeProgram adds a pool, resizes it up, stops the resize, resizes it down, and deletes it,
// against a provider that is slow, fails, and finishes creations after their cancel.
func resizeProgram(s *systest.Sim) { resizeThen(s, DeletePool{PoolID: "p1"}) }

// resizeThen is resizeProgram, with more requests after the resizes in place of the delete.
func resizeThen(s *systest.Sim, more ...actor.Event) {
	s.Monitor(&noLeak{})
	s.Monitor(&resizeEnds{})
	s.Monitor(targetsRespected{})
	st := memstore.New()
	cfg := Config{Store: st, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}}
	runService(s, cfg, model.Provider{Failures: true, Slow: true, Stubborn: true})
	two, one, timeout := int32(2), int32(1), batch.Duration(10*time.Minute)
	s.Create("client", newClient(append([]actor.Event{
		AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two, TargetLowPriorityNodes: &one, ResizeTimeout: &timeout}},
		ResizePool{PoolID: "p1", TargetDedicatedNodes: 4},
		StopResizePool{PoolID: "p1"},
		ResizePool{PoolID: "p1", TargetDedicatedNodes: 1, TargetLowPriorityNodes: 1},
	}, more...)...))
}

func TestPoolResize(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}}}, resizeProgram)
}
