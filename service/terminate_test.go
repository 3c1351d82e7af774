package service

import (
	"context"
	"testing"
	"time"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/service/model"
	"corral/store"
	"corral/store/memstore"
)

// killAcked is announced by the client when a request that kills running tasks is acknowledged:
// Task - Terminate (TaskID set), Job - Terminate or Job - Delete (TaskID empty: every task).
type killAcked struct{ JobID, TaskID string }

// killedOnAck is hot from the acknowledgement of a request that kills running tasks until every
// process those tasks had running at that moment has stopped: the kill reaches the node, through
// a restart of the service too.
type killedOnAck struct {
	task    map[string]model.AttemptRan // attempt id -> its start, while its process runs
	waiting map[string]bool             // attempt ids whose processes must stop
}

func (m *killedOnAck) Define(d *actor.Machine) {
	init := func() {
		if m.task == nil {
			m.task, m.waiting = map[string]model.AttemptRan{}, map[string]bool{}
		}
	}
	update := func(ctx *actor.Context) {
		if len(m.waiting) == 0 {
			ctx.Goto("Idle")
		} else {
			ctx.Goto("Waiting")
		}
	}
	ran := actor.On(func(ctx *actor.Context, e model.AttemptRan) { init(); m.task[e.AttemptID] = e })
	stopped := actor.On(func(ctx *actor.Context, e model.AttemptStopped) {
		init()
		delete(m.task, e.AttemptID)
		delete(m.waiting, e.AttemptID)
		update(ctx)
	})
	acked := actor.On(func(ctx *actor.Context, e killAcked) {
		init()
		for id, r := range m.task {
			if r.JobID == e.JobID && (e.TaskID == "" || r.TaskID == e.TaskID) {
				m.waiting[id] = true
			}
		}
		update(ctx)
	})
	d.State("Idle", actor.Temp(actor.Cold), ran, stopped, acked, actor.Targets("Waiting"))
	d.State("Waiting", actor.Temp(actor.Hot), ran, stopped, acked, actor.Targets("Idle"))
}

// A task runs (for minutes) when the service crashes; once it is back, a request kills the task:
// Task - Terminate, Job - Terminate or Job - Delete, sent as soon as the service answers, while
// its pool manager may still be loading. The request is acknowledged and the process is killed,
// whichever of the job manager and the node's session comes back first.
func TestKillRightAfterRestart(t *testing.T) {
	for _, tc := range []struct {
		name string
		kill actor.Event
	}{
		{"terminate task", TerminateTask{JobID: "j1", TaskID: "long"}},
		{"terminate job", TerminateJob{JobID: "j1"}},
		{"delete job", DeleteJob{JobID: "j1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 3000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
				Faults: systest.Faults{Drops: 1, Delays: 1}}, func(s *systest.Sim) {
				s.Monitor(&killedOnAck{})
				s.Monitor(&completedOnce{})
				s.Monitor(&eventuallyDone{})
				st := memstore.New()
				runService(s, Config{Store: st, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}},
					model.Provider{RunFor: 100000}) // hours of virtual time: the task ends only if killed
				one := int32(1)
				running := func() bool {
					var r taskRecord
					err := st.View(context.Background(), func(tx store.Tx) error {
						return getJSON(tx, tableTasks, batch.IDKey("j1")+"/"+batch.IDKey("long"), &r)
					})
					return err == nil && r.Task.State == batch.TaskRunning
				}
				s.Create("client", newClient(
					AddPool{Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &one}},
					AddJob{Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}}},
					AddTasks{JobID: "j1", Tasks: []batch.Task{{ID: "long", CommandLine: "sleep 3600"}}},
					await{Cond: running},
					crashHost{Sim: s, Host: "service", Restart: true},
					tc.kill,
				))
			})
		})
	}
}

// fakeSession stands for a node's session: it announces each kill it is asked for.
type fakeSession struct{}

// killReceived is announced by a fakeSession.
type killReceived struct{ AttemptID string }

func (f *fakeSession) Define(m *actor.Machine) {
	m.State("Up", actor.On(func(ctx *actor.Context, k killAttempt) { ctx.Announce(killReceived(k)) }))
}

// killArrives is hot until the kill of attempt a1 has reached its node's session.
type killArrives struct{}

func (k *killArrives) Define(m *actor.Machine) {
	m.State("Waiting", actor.Temp(actor.Hot), actor.On(func(ctx *actor.Context, e killReceived) {
		ctx.Assert(e.AttemptID == "a1", "kill of %s delivered to a node whose session never started", e.AttemptID)
		ctx.Goto("Done")
	}), actor.Targets("Done"))
	m.State("Done", actor.On(func(ctx *actor.Context, e killReceived) {
		ctx.Assert(false, "kill of %s delivered again, or to a node whose session never started", e.AttemptID)
	}))
}

// A pool's scheduler gets kills for two nodes before any session has started, as after a restart
// of the service when a job manager loads first: the kill for the node whose session then starts
// reaches it; the one for a node the pool loads without a session (a leaving node) is dropped
// once the pool has loaded, and is sent nowhere.
func TestSchedulerHoldsKillsUntilSessionStarts(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 200, MaxSteps: 200, Strategy: "portfolio", Seed: 1}, func(s *systest.Sim) {
		s.Monitor(&killArrives{})
		s.Create(string(SchedulerID("p1")), newScheduler("p1", batch.FillSpread))
		s.Send(SchedulerID("p1"), nodeMsg{NodeID: "n1", Msg: killAttempt{AttemptID: "a1"}})
		s.Send(SchedulerID("p1"), nodeMsg{NodeID: "n2", Msg: killAttempt{AttemptID: "a2"}})
		s.Create(string(nodeActor("p1", "n1")), &fakeSession{})
		s.Send(SchedulerID("p1"), sessionStarted{NodeID: "n1"})
		s.Send(SchedulerID("p1"), sessionsLoaded{})
	})
}
