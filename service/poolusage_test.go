package service

import (
	"context"
	"time"

	"testing"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/service/model"
	"corral/store"
	"corral/store/memstore"
)

// poolUsageCountsNodes is the specification of pool usage (Pool - List Usage Metrics, Pool -
// Get All Lifetime Statistics): a node counts its cores for exactly the time between the pool
// manager recording it up and recording it down, once. The monitor keeps its own account from
// the NodeUsage announcements (a node up stays up from when it first came up; cores times
// time, not split over hours), and at every announcement the usage in the store, read at that
// moment, must equal it: the sum of the hourly records (nodes still up counted to now), and
// the lifetime total, in all and of dedicated nodes; and the total never goes down. (A store
// that fails may commit a write it reports failed, which the pool manager then does not
// announce: the monitor is for programs whose store does not fail.)
type poolUsageCountsNodes struct {
	st   store.Store
	up   map[string]NodeUsage // by pool/node: nodes up, as announced when they came up
	done batch.CoreTime       // the core time of nodes that went down
	last time.Duration
}

func (m *poolUsageCountsNodes) Define(d *actor.Machine) {
	d.State("Watching", actor.On(func(ctx *actor.Context, e NodeUsage) {
		if m.up == nil {
			m.up = map[string]NodeUsage{}
		}
		key := e.PoolID + "/" + e.NodeID
		u, isUp := m.up[key]
		switch {
		case e.Up && !isUp:
			m.up[key] = e
		case !e.Up && isUp:
			m.done = m.done.Add(coreTime(u, e.At))
			delete(m.up, key)
		}
		now := ctx.Now()
		want := m.done
		for _, u := range m.up {
			want = want.Add(coreTime(u, now))
		}
		var v poolUsageView
		err := m.st.View(context.Background(), func(tx store.Tx) error {
			var err error
			v, err = readUsage(tx, time.Time{}, time.Time{}, now)
			return err
		})
		ctx.Assert(err == nil, "read pool usage: %v", err)
		var hours batch.CoreTime
		for _, h := range v.hours {
			hours = hours.Add(h.CoreTime)
		}
		ctx.Assert(hours == want, "after %+v: the hourly usage records hold %+v core time, the nodes were up for %+v", e, hours, want)
		ctx.Assert(v.life.CoreTime == want, "after %+v: the lifetime usage is %+v core time, the nodes were up for %+v", e, v.life.CoreTime, want)
		ctx.Assert(want.Total >= m.last, "after %+v: the core time went down from %v to %v", e, m.last, want.Total)
		m.last = want.Total
	}))
}

// coreTime is the core time of a node up as u said from u.At to end.
func coreTime(u NodeUsage, end time.Time) batch.CoreTime {
	d := end.Sub(u.At) * time.Duration(max(u.Cores, 1))
	if d < 0 {
		d = 0
	}
	if u.Dedicated {
		return batch.CoreTime{Total: d, Dedicated: d}
	}
	return batch.CoreTime{Total: d}
}

// A pool's dedicated and low-priority nodes come up, are preempted and come back, are removed
// by a resize and go with the pool's deletion, while the service crashes: each counts for the
// time it was up, once.
func TestPoolUsageCountsNodes(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.1,
		Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}}}, func(s *systest.Sim) {
		s.Monitor(&noLeak{})
		st := memstore.New()
		s.Monitor(&poolUsageCountsNodes{st: st})
		runService(s, Config{Store: st, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}},
			model.Provider{Failures: true, Slow: true, Preemptions: 2})
		two, one := int32(2), int32(1)
		s.Create("client", newClient(
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &one, TargetLowPriorityNodes: &two}},
			ResizePool{PoolID: "p1", TargetDedicatedNodes: 1, TargetLowPriorityNodes: 1},
			DeletePool{PoolID: "p1"},
		))
	})
}
