package service

import (
	"context"
	"slices"
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

// slowProvider stands for a provider whose VMs take longer to come up than Azure's default resize
// timeout: it holds each CreateVM for takes (virtual time) before handing it to the provider model
// at modelID, and a DeleteVM for a node whose creation it holds cancels that creation. Every other
// request goes to the model at once.
type slowProvider struct {
	modelID actor.ID
	takes   time.Duration
	held    map[string]actor.TimerID // pool + "/" + node -> the timer of its held CreateVM
}

// createHeld is slowProvider's timer: the creation may now reach the model.
type createHeld struct{ Create compute.CreateVM }

func (p *slowProvider) Define(m *actor.Machine) {
	m.State("Serving",
		actor.On(func(ctx *actor.Context, c compute.CreateVM) {
			if p.held == nil {
				p.held = map[string]actor.TimerID{}
			}
			key := c.PoolID + "/" + c.NodeID
			if _, ok := p.held[key]; ok {
				return // a repeat: the held creation answers it
			}
			p.held[key] = ctx.StartTimer(p.takes, createHeld{c})
		}),
		actor.On(func(ctx *actor.Context, h createHeld) {
			delete(p.held, h.Create.PoolID+"/"+h.Create.NodeID)
			ctx.Send(p.modelID, h.Create)
		}),
		actor.On(func(ctx *actor.Context, d compute.DeleteVM) {
			key := d.PoolID + "/" + d.NodeID
			if id, ok := p.held[key]; ok {
				ctx.CancelTimer(id)
				delete(p.held, key)
			}
			ctx.Send(p.modelID, d)
		}),
		actor.OnAny(func(ctx *actor.Context, ev actor.Event) { ctx.Send(p.modelID, ev) }),
	)
}

// resizeTimesOut is hot until pool p1 is steady with the resize error AllocationTimedOut, read from
// the store, and asserts that the resize ran for at least Azure's default resize timeout (15
// minutes), from the allocation state transition that began it, before it timed out.
type resizeTimesOut struct {
	st    store.Store
	since time.Time // when the resize began, as the pool's record says
}

func (r *resizeTimesOut) Define(m *actor.Machine) {
	m.State("Waiting", actor.Temp(actor.Hot),
		actor.On(func(ctx *actor.Context, e PoolAllocation) {
			if e.PoolID != "p1" || e.Deleted {
				return
			}
			pool, err := GetPool(context.Background(), r.st, "p1")
			ctx.Assert(err == nil, "pool p1 announced, not readable: %v", err)
			if e.State == batch.AllocationResizing && r.since.IsZero() {
				r.since = pool.AllocationStateTransitionTime
			}
			if e.State != batch.AllocationSteady {
				return
			}
			timedOut := slices.ContainsFunc(pool.ResizeErrors, func(e batch.ResizeError) bool { return e.Code == "AllocationTimedOut" })
			ctx.Assert(timedOut, "pool p1 steady with %d of %d dedicated nodes and resize errors %+v, want AllocationTimedOut",
				e.Dedicated, e.TargetDedicated, pool.ResizeErrors)
			took := ctx.Now().Sub(r.since)
			ctx.Assert(took >= 15*time.Minute, "the resize timed out after %v, before the default resize timeout of 15m", took)
			ctx.Goto("TimedOut")
		}),
		actor.Ignore[PoolNodes](), actor.Targets("TimedOut"))
	m.State("TimedOut", actor.Temp(actor.Cold), actor.Ignore[PoolAllocation](), actor.Ignore[PoolNodes]())
}

// A pool with Azure's default resize timeout (15 minutes) whose provider takes 20 minutes to bring
// up a VM: the resize times out, the pool is steady with the resize error AllocationTimedOut, and
// no VM it does not want outlives the resize. The service may crash and restart meanwhile: the
// timeout is kept from when the resize began.
func TestResizeTimesOutOnSlowProvider(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 100, MaxSteps: 4000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}}}, func(s *systest.Sim) {
		st := memstore.New()
		s.Monitor(&resizeTimesOut{st: st})
		s.Monitor(&noLeak{})
		// The production server's node timing: its checks every 5 seconds pace virtual time.
		cfg := Config{Store: st, Timing: NodeTiming{CheckEvery: 5 * time.Second, LostAfter: time.Minute}}
		const modelID = "compute.provider.model"
		s.AddHost("cloud", func(h actor.Host) error {
			if _, err := h.Create(modelID, &model.Provider{AgentID: AgentID, SessionID: NodeSessionID}); err != nil {
				return err
			}
			_, err := h.Create(string(compute.ProviderID), &slowProvider{modelID: modelID, takes: 20 * time.Minute})
			return err
		})
		s.AddHost("service", func(h actor.Host) error { return Boot(h, cfg) })
		two := int32(2)
		s.Create("client", newClient(AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two}}))
	})
}
