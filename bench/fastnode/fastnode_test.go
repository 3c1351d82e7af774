package fastnode_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"corral/actor"
	"corral/batch"
	"corral/bench/fastnode"
	"corral/compute"
	"corral/service"
	"corral/store/memstore"
)

// replies collects the service's replies.
type replies struct{ ch chan service.Reply }

func (r *replies) Define(m *actor.Machine) {
	m.State("Waiting", actor.On(func(_ *actor.Context, rep service.Reply) { r.ch <- rep }))
}

// TestServiceRunsDAG runs small DAGs through the real service with fastnode's provider and
// agents, and checks that every task completes with success, in dependency order, for pools of
// several shapes.
func TestServiceRunsDAG(t *testing.T) {
	for _, tc := range []struct {
		name                string
		nodes, slots        int
		layers, width, deps int
	}{
		{name: "one node one slot", nodes: 1, slots: 1, layers: 3, width: 2, deps: 1},
		{name: "one node four slots", nodes: 1, slots: 4, layers: 5, width: 4, deps: 2},
		{name: "three nodes two slots", nodes: 3, slots: 2, layers: 4, width: 5, deps: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eng := actor.NewEngine(actor.Options{})
			st := memstore.New()
			if _, err := eng.Create(string(compute.ProviderID), &fastnode.Provider{AgentID: service.AgentID, SessionID: service.NodeSessionID}); err != nil {
				t.Fatal(err)
			}
			if err := eng.AddHost("service", func(h actor.Host) error {
				return service.Boot(h, service.Config{Store: st, Timing: service.NodeTiming{CheckEvery: time.Hour, LostAfter: 24 * time.Hour}})
			}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { eng.CrashHost("service") })
			ch := make(chan service.Reply, 1)
			if _, err := eng.Create("test.replies", &replies{ch: ch}); err != nil {
				t.Fatal(err)
			}
			n := 0
			ask := func(ev func(service.Request) actor.Event) service.Reply {
				t.Helper()
				n++
				req := service.Request{ID: fmt.Sprint(n), ReplyTo: "test.replies"}
				if err := eng.Send(service.AccountID, ev(req)); err != nil {
					t.Fatal(err)
				}
				r := <-ch
				if r.Err != nil {
					t.Fatalf("request %d: %+v", n, r.Err)
				}
				for _, tr := range r.Tasks {
					if tr.Err != nil {
						t.Fatalf("task %s: %+v", tr.TaskID, tr.Err)
					}
				}
				return r
			}
			nodes, slots, yes := int32(tc.nodes), int32(tc.slots), true
			ask(func(r service.Request) actor.Event {
				return service.AddPool{Request: r, Pool: batch.Pool{ID: "p", VMSize: "local", TargetDedicatedNodes: &nodes, TaskSlotsPerNode: &slots}}
			})
			ask(func(r service.Request) actor.Event {
				return service.AddJob{Request: r, Job: batch.Job{ID: "j", PoolInfo: batch.PoolInformation{PoolID: "p"}, UsesTaskDependencies: &yes}}
			})
			var tasks []batch.Task
			for l := range tc.layers {
				for i := range tc.width {
					tk := batch.Task{ID: fmt.Sprintf("t%d-%d", l, i), CommandLine: "true"}
					if l > 0 {
						tk.DependsOn = &batch.TaskDependencies{}
						for k := range tc.deps {
							tk.DependsOn.TaskIDs = append(tk.DependsOn.TaskIDs, fmt.Sprintf("t%d-%d", l-1, (i+k)%tc.width))
						}
					}
					tasks = append(tasks, tk)
				}
			}
			ask(func(r service.Request) actor.Event { return service.AddTasks{Request: r, JobID: "j", Tasks: tasks} })

			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := eng.WaitIdle(ctx); err != nil {
				t.Fatalf("service not idle: %v", err)
			}
			if f := eng.Failures(); len(f) > 0 {
				t.Fatalf("actor failure: %v", f[0])
			}
			got, err := service.ListTasks(context.Background(), st, "j", "", 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tasks) {
				t.Fatalf("%d tasks, want %d", len(got), len(tasks))
			}
			end := map[string]time.Time{}
			for _, tk := range got {
				if tk.State != batch.TaskCompleted || tk.ExecutionInfo == nil || tk.ExecutionInfo.Result != batch.ResultSuccess {
					t.Fatalf("task %s: %s %+v", tk.ID, tk.State, tk.ExecutionInfo)
				}
				end[tk.ID] = tk.ExecutionInfo.EndTime
			}
			for _, tk := range got {
				if tk.DependsOn == nil {
					continue
				}
				for _, d := range tk.DependsOn.TaskIDs {
					if tk.ExecutionInfo.StartTime.Before(end[d]) {
						t.Errorf("task %s started at %v, before its dependency %s ended at %v", tk.ID, tk.ExecutionInfo.StartTime, d, end[d])
					}
				}
			}
		})
	}
}
