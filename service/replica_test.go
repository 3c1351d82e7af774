package service

import (
	"context"
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

// The replicated service under the tester: several server processes share one store (the lease
// store: the lease record lives in it, and each replica judges its expiry by its own virtual
// clock). Each process boots a replica; the one that takes the lease boots the service on the
// store fenced by its term, and a deposed one crashes its process (the production server halts
// the service of that term the same way) and comes back a standby. Events to the service from
// the outside world (the client, the agents, the provider) reach the process the lease names,
// as standbys forward requests to the leader. The tester crashes, pauses and restarts the
// processes.

// writerHoldsLease is the lease store's check that at most one leader's writes are accepted at
// any time: every transaction of a replica's service that commits a write does so while the
// lease names that replica and the term it was elected in. Without the fence, a replica paused
// past its lease and resumed would commit beside the new leader, and this check fails.
type writerHoldsLease struct {
	st      store.Store
	replica string
	term    int64 // the term its service was booted for; 0 while it does not lead
}

func (w *writerHoldsLease) Update(ctx context.Context, fn func(store.Tx) error) error {
	return w.st.Update(ctx, func(tx store.Tx) error {
		wt := &writeWatch{Tx: tx}
		if err := fn(wt); err != nil {
			return err
		}
		if wt.service {
			l, ok, err := getLease(tx)
			if err != nil {
				return err
			}
			if !ok || l.Holder != w.replica || l.Term != w.term {
				panic(fmt.Sprintf("writerHoldsLease: %s's service (term %d) committed a write while the lease is %s's in term %d",
					w.replica, w.term, l.Holder, l.Term))
			}
		}
		return nil
	})
}

func (w *writerHoldsLease) View(ctx context.Context, fn func(store.Tx) error) error {
	return w.st.View(ctx, fn)
}

func (w *writerHoldsLease) Close() error { return nil }

// writeWatch notes whether a transaction wrote anything but the lease.
type writeWatch struct {
	store.Tx
	service bool
}

func (w *writeWatch) Put(table, key string, value []byte, ifVersion int64) (int64, error) {
	if table != tableLeader {
		w.service = true
	}
	return w.Tx.Put(table, key, value, ifVersion)
}

func (w *writeWatch) Delete(table, key string, ifVersion int64) error {
	if table != tableLeader {
		w.service = true
	}
	return w.Tx.Delete(table, key, ifVersion)
}

// termsGrow asserts that each term has one leader: every election is of a term above all
// before it.
type termsGrow struct{ top int64 }

func (m *termsGrow) Define(d *actor.Machine) {
	d.State("Watching", actor.On(func(ctx *actor.Context, e LeaderElected) {
		ctx.Assert(e.Term > m.top, "%s elected in term %d, after term %d", e.Replica, e.Term, m.top)
		m.top = e.Term
	}), actor.Ignore[LeaderDeposed]())
}

// tasksAcked is announced by the client when an add of tasks is acknowledged.
type tasksAcked struct {
	JobID   string
	TaskIDs []string
}

// ackedComplete is hot while a task whose add the service acknowledged has not completed: no
// acknowledged add is lost, whatever leader took it.
type ackedComplete struct{ pending, done map[string]bool }

func (m *ackedComplete) Define(d *actor.Machine) {
	init := func() {
		if m.pending == nil {
			m.pending, m.done = map[string]bool{}, map[string]bool{}
		}
	}
	finish := func(ctx *actor.Context, jobID, taskID string) {
		init()
		k := jobID + "/" + taskID
		m.done[k] = true
		delete(m.pending, k)
		if len(m.pending) == 0 {
			ctx.Goto("Idle")
		}
	}
	acked := func(ctx *actor.Context, e tasksAcked) {
		init()
		for _, id := range e.TaskIDs {
			if k := e.JobID + "/" + id; !m.done[k] {
				m.pending[k] = true
			}
		}
		if len(m.pending) > 0 {
			ctx.Goto("Pending")
		}
	}
	completed := func(ctx *actor.Context, e TaskCompleted) { finish(ctx, e.JobID, e.TaskID) }
	recovered := func(ctx *actor.Context, e TaskRecovered) {
		if e.Completed {
			finish(ctx, e.JobID, e.TaskID)
		}
	}
	d.State("Idle", actor.Temp(actor.Cold), actor.On(acked), actor.On(completed), actor.On(recovered), actor.Targets("Pending"))
	d.State("Pending", actor.Temp(actor.Hot), actor.On(acked), actor.On(completed), actor.On(recovered), actor.Targets("Idle"))
}

// saboteur pauses the leader once, at a random time, and resumes it a random while later,
// often after another replica took the lease: the resumed leader's service then acts on what
// it held in memory, and only the fence stands between it and the store.
type saboteur struct {
	s      *systest.Sim
	st     store.Store
	paused string
}

type pauseLeader struct{}

type resumeLeader struct{}

func (b *saboteur) Define(m *actor.Machine) {
	m.State("Waiting",
		actor.OnEntry(func(ctx *actor.Context) {
			ctx.StartTimer(time.Duration(1+ctx.RandomInt(20))*500*time.Millisecond, pauseLeader{})
		}),
		actor.On(func(ctx *actor.Context, _ pauseLeader) {
			l, ok, err := ReadLease(context.Background(), b.st)
			if err != nil || !ok || b.s.PauseHost(l.Holder) != nil {
				ctx.StartTimer(500*time.Millisecond, pauseLeader{})
				return
			}
			b.paused = l.Holder
			ctx.StartTimer(time.Duration(1+ctx.RandomInt(10))*time.Second, resumeLeader{})
			ctx.Goto("Paused")
		}),
		actor.Targets("Paused"))
	m.State("Paused",
		actor.On(func(ctx *actor.Context, _ resumeLeader) {
			b.s.ResumeHost(b.paused) // an error: it crashed meanwhile
			ctx.Goto("Done")
		}),
		actor.Targets("Done"))
	m.State("Done")
}

// replicatedProgram runs n replica processes on one in-memory store, a provider model on host
// "cloud" whose allocations may fail, and a client that adds a pool of two nodes, a job and a
// small DAG of tasks.
func replicatedProgram(n int, sabotage bool) func(*systest.Sim) {
	return func(s *systest.Sim) {
		s.Monitor(&depsFirst{})
		s.Monitor(&completedOnce{})
		s.Monitor(&eventuallyDone{})
		s.Monitor(&termsGrow{})
		s.Monitor(&ackedComplete{})
		st := memstore.New()
		// Every attempt succeeds, so that every acknowledged task must complete (a failed
		// dependency would block its dependents; retries are tested without replicas).
		p := model.Provider{Failures: true, AgentID: AgentID, SessionID: NodeSessionID}
		s.AddHost("cloud", func(h actor.Host) error {
			prov := p
			_, err := h.Create(string(compute.ProviderID), &prov)
			return err
		})
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("replica-%c", 'a'+i)
			s.AddProcess(name, func(h actor.Host) error {
				w := &writerHoldsLease{st: st, replica: name}
				return BootReplica(h, ReplicaConfig{
					Store: w, Name: name, URL: name, TTL: 3 * time.Second,
					OnLead: func(term int64, fenced store.Store) {
						w.term = term
						if err := Boot(h, Config{Store: fenced, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}}); err != nil {
							panic(err)
						}
					},
					OnDepose: func(int64, string) {
						w.term = 0
						if err := s.CrashHost(name); err != nil {
							panic(err)
						}
					},
				})
			})
		}
		s.Route(func(to actor.ID) string {
			l, ok, err := ReadLease(context.Background(), st)
			if err != nil || !ok {
				return ""
			}
			return l.Holder
		})
		two, slots, yes, retries := int32(2), int32(2), true, int32(1)
		c := newClient(
			AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two, TaskSlotsPerNode: &slots}},
			AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes,
				Constraints: &batch.JobConstraints{MaxTaskRetryCount: &retries}}},
			AddTasks{JobID: "j1", Tasks: diamond()},
		)
		s.Create("client", c)
		if sabotage {
			s.Create("saboteur", &saboteur{s: s, st: st})
		}
	}
}

var replicaHosts = []string{"replica-a", "replica-b", "replica-c"}

// Two replicas; the leader may crash or pause (and be resumed) twice each.
func TestReplicasFailOver(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 4000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 2, Pauses: 2, CrashHosts: replicaHosts}}, replicatedProgram(2, false))
}

// Three replicas, with the links between hosts faulty too.
func TestReplicasUnderLinkFaults(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 150, MaxSteps: 4000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 1, Pauses: 2, CrashHosts: replicaHosts, Drops: 2, Delays: 2}}, replicatedProgram(3, false))
}

// The leader is paused on purpose at a random time for a random while, often past its lease,
// and the tester may crash a replica too.
func TestReplicaPausedLeader(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 4000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 1, CrashHosts: replicaHosts}}, replicatedProgram(2, true))
}
