package service

import (
	"context"
	"slices"
	"testing"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/service/model"
	"corral/store"
	"corral/store/memstore"
)

// poolPatched is announced by the client when a Pool - Patch that sets metadata is acknowledged.
type poolPatched struct {
	PoolID   string
	Metadata []batch.MetadataItem
}

// metadataKept asserts that acknowledged pool metadata is in the store and stays there while
// the pool manager keeps writing the pool (node counts, resizes, restarts): once the patch is
// acknowledged, every later look at the pool's record (at each PoolAllocation the manager
// announces) finds it.
type metadataKept struct {
	st   store.Store
	want map[string][]batch.MetadataItem
}

func (m *metadataKept) Define(d *actor.Machine) {
	check := func(ctx *actor.Context, poolID string) {
		want, ok := m.want[batch.IDKey(poolID)]
		if !ok {
			return
		}
		p, err := GetPool(context.Background(), m.st, poolID)
		if err != nil {
			return // deleted, or the store failed this read
		}
		ctx.Assert(slices.Equal(p.Metadata, want), "pool %s: metadata %v after the patch setting %v was acknowledged", poolID, p.Metadata, want)
	}
	d.State("Watching",
		actor.On(func(ctx *actor.Context, e poolPatched) {
			if m.want == nil {
				m.want = map[string][]batch.MetadataItem{}
			}
			m.want[batch.IDKey(e.PoolID)] = e.Metadata
			check(ctx, e.PoolID)
		}),
		actor.On(func(ctx *actor.Context, e PoolAllocation) { check(ctx, e.PoolID) }))
}

// A pool patched with metadata while it grows and runs a job keeps it through the pool
// manager's own writes and crashes of the service.
func TestPoolPatchKeepsMetadata(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}, Drops: 1}}, func(s *systest.Sim) {
		st := memstore.New()
		s.Monitor(&depsFirst{})
		s.Monitor(&completedOnce{})
		s.Monitor(&eventuallyDone{})
		s.Monitor(&metadataKept{st: st})
		runService(s, Config{Store: st, Timing: NodeTiming{CheckEvery: 1e9, LostAfter: 5e9}}, model.Provider{})
		two, yes := int32(2), true
		meta := []batch.MetadataItem{{Name: "team", Value: "a"}}
		s.Create("client", newClient(
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two}},
			PatchPool{PoolID: "p1", Metadata: &meta},
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes}},
			AddTasks{JobID: "j1", Tasks: diamond()},
		))
	})
}
