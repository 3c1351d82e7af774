package server

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"corral/actor"
	"corral/batch"
	"corral/service"
)

// buildCorral builds the corral binary for tests that run real agents.
func buildCorral(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "corral")
	out, err := exec.Command("go", "build", "-o", bin, "corral/cmd/corral").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// requester sends requests to the service and hands the replies to the test.
type requester struct{ replies chan service.Reply }

func (r *requester) Define(m *actor.Machine) {
	m.State("Waiting", actor.On(func(ctx *actor.Context, rep service.Reply) { r.replies <- rep }))
}

// ask sends a request and waits for its reply.
func ask(t *testing.T, rt actor.Runtime, replies chan service.Reply, ev actor.Event) service.Reply {
	t.Helper()
	if err := rt.Send(service.AccountID, ev); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-replies:
		return r
	case <-time.After(30 * time.Second):
		t.Fatalf("no reply to %T", ev)
	}
	return service.Reply{}
}

// TestRealAgentsRunDAG runs the whole server with real node-agent processes: a pool of two
// nodes, a job whose tasks append their ids to a file, in dependency order.
func TestRealAgentsRunDAG(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	bin := buildCorral(t)
	dir := t.TempDir()
	key := []byte("test-key-0123456789")
	acct := Account{Name: "corral", Key: key}
	srv, err := Start(Config{
		Listen:  "127.0.0.1:0",
		DataDir: dir,
		Account: acct,
		Timing:  service.NodeTiming{CheckEvery: 200 * time.Millisecond, LostAfter: 10 * time.Second},
		AgentCommand: func(poolID, nodeID, nodeDir string, dedicated bool) *exec.Cmd {
			cmd := exec.Command(bin, "agent", "--root", nodeDir, "--heartbeat", "200ms", "--give-up", "30s")
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
			return cmd
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Provider().KillAll()
		srv.Close()
	})
	replies := make(chan service.Reply, 1)
	if _, err := srv.Runtime().Create("test.requester", &requester{replies: replies}); err != nil {
		t.Fatal(err)
	}
	req := func(id string) service.Request { return service.Request{ID: id, ReplyTo: "test.requester"} }

	two, slots, yes := int32(2), int32(2), true
	if r := ask(t, srv.Runtime(), replies, service.AddPool{Request: req("1"), Pool: batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two, TaskSlotsPerNode: &slots}}); r.Err != nil {
		t.Fatalf("add pool: %+v", r.Err)
	}
	// onAllTasksComplete stays noaction: as Azure documents, a job with no tasks yet has all its
	// tasks complete, so terminatejob on a job added before its tasks ends it at once.
	// The job's common environment reaches every task; a task's own setting of a name wins.
	if r := ask(t, srv.Runtime(), replies, service.AddJob{Request: req("2"), Job: batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"},
		UsesTaskDependencies: &yes, CommonEnvironmentSettings: []batch.EnvironmentSetting{{Name: "SHAPE", Value: "circle"}, {Name: "COLOUR", Value: "red"}}}}); r.Err != nil {
		t.Fatalf("add job: %+v", r.Err)
	}
	log := filepath.Join(t.TempDir(), "order.log")
	envLog := filepath.Join(t.TempDir(), "env.log")
	deps := map[string][]string{"b": {"a"}, "c": {"a"}, "d": {"b", "c"}}
	var tasks []batch.Task
	for _, id := range []string{"a", "b", "c", "d"} {
		tk := batch.Task{ID: id, CommandLine: fmt.Sprintf(`/bin/sh -c "echo $AZ_BATCH_TASK_ID >> %s; echo $AZ_BATCH_TASK_ID=$SHAPE/$COLOUR >> %s"`, log, envLog)}
		if d := deps[id]; d != nil {
			tk.DependsOn = &batch.TaskDependencies{TaskIDs: d}
		}
		if id == "d" {
			tk.EnvironmentSettings = []batch.EnvironmentSetting{{Name: "COLOUR", Value: "blue"}}
		}
		tasks = append(tasks, tk)
	}
	// A task over its maxWallClockTime is killed and records the exit code Azure documents for
	// it, on Linux too.
	tasks = append(tasks, batch.Task{ID: "slow", CommandLine: "sleep 60",
		Constraints: &batch.TaskConstraints{MaxWallClockTime: batch.Ptr(batch.Duration(time.Second))}})
	r := ask(t, srv.Runtime(), replies, service.AddTasks{Request: req("3"), JobID: "j1", Tasks: tasks})
	if r.Err != nil || len(r.Tasks) != len(tasks) {
		t.Fatalf("add tasks: %+v", r)
	}
	for _, tr := range r.Tasks {
		if tr.Err != nil {
			t.Fatalf("add task %s: %+v", tr.TaskID, tr.Err)
		}
	}

	deadline := time.Now().Add(60 * time.Second)
	for {
		counts, err := service.TaskCounts(context.Background(), srv.Store(), "j1")
		if err != nil {
			t.Fatal(err)
		}
		if counts.TaskCounts.Completed == int32(len(tasks)) {
			break
		}
		if time.Now().After(deadline) {
			ts, _ := service.ListTasks(context.Background(), srv.Store(), "j1", "", 0)
			t.Fatalf("tasks not completed: %+v", ts)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ts, err := service.ListTasks(context.Background(), srv.Store(), "j1", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range ts {
		x := tk.ExecutionInfo
		if tk.ID == "slow" {
			if x == nil || x.Result != batch.ResultFailure || x.ExitCode == nil || *x.ExitCode != -1073741510 ||
				x.FailureInfo == nil || x.FailureInfo.Code != "TaskEnded" || x.FailureInfo.Category != batch.ServerError ||
				x.EndTime.Sub(x.StartTime) > 20*time.Second {
				t.Errorf("task slow, killed for its maxWallClockTime: %s %+v", tk.State, x)
			}
			continue
		}
		if tk.State != batch.TaskCompleted || x == nil || x.Result != batch.ResultSuccess {
			t.Fatalf("task %s: %s %+v", tk.ID, tk.State, x)
		}
	}
	b, err := os.ReadFile(log)
	if err != nil {
		out, _ := exec.Command("sh", "-c", "find "+dir+" -name '*.txt' -o -name 'agent.log' | xargs tail -n 20").CombinedOutput()
		t.Fatalf("%v\ntasks: %+v\n%s", err, ts, out)
	}
	order := strings.Fields(string(b))
	pos := map[string]int{}
	for i, id := range order {
		if _, dup := pos[id]; dup {
			t.Fatalf("task %s ran twice: %v", id, order)
		}
		pos[id] = i
	}
	if len(order) != 4 || pos["a"] > pos["b"] || pos["a"] > pos["c"] || pos["b"] > pos["d"] || pos["c"] > pos["d"] {
		t.Fatalf("tasks ran out of dependency order: %v", order)
	}
	b, err = os.ReadFile(envLog)
	if err != nil {
		t.Fatal(err)
	}
	envs := strings.Fields(string(b))
	slices.Sort(envs)
	if want := []string{"a=circle/red", "b=circle/red", "c=circle/red", "d=circle/blue"}; !slices.Equal(envs, want) {
		t.Errorf("task environments = %v, want %v", envs, want)
	}
}
