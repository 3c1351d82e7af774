package server

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corral/batch"
	"corral/internal/netns"
)

// netWorld is a server on the bridge of a netns.Net, serving TLS (its address is not loopback),
// with a static pool p1 and a join token for it.
type netWorld struct {
	net   *netns.Net
	e     *e2eEnv
	token string
	// agentURL is where agents reach the server: the server itself, or a proxy (latency).
	agentURL string
}

// latency puts a proxy that delays every byte by d, each way, between the agents started from
// now on and the server.
func (w *netWorld) latency(t *testing.T, d time.Duration) {
	t.Helper()
	target := strings.TrimPrefix(w.e.srv.base, "https://")
	p, err := netns.NewProxy(w.net.Gateway+":0", target, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	w.agentURL = "https://" + p.Addr
}

// newGatewayNet makes a netns.Net for the test (skipping it with the reason when it cannot, or
// with -short) and returns it with a free address on its gateway for a server to listen on.
func newGatewayNet(t *testing.T) (*netns.Net, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts processes")
	}
	if err := netns.Available(); err != nil {
		t.Skipf("needs network namespaces: %v", err)
	}
	n, err := netns.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	ln, err := net.Listen("tcp", n.Gateway+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return n, ln.Addr().String()
}

// newNetWorld starts the server on the Net's gateway with the given extra flags, and adds pool
// p1 (no nodes yet, slots task slots per node) and its join token.
func newNetWorld(t *testing.T, slots int32, flags ...string) *netWorld {
	t.Helper()
	n, addr := newGatewayNet(t)
	e := newE2EAt(t, addr, append([]string{"--provider", "static"}, flags...)...)
	if !strings.HasPrefix(e.srv.base, "https://"+n.Gateway) {
		t.Fatalf("a server on %s serves %s; want TLS", addr, e.srv.base)
	}
	zero := int32(0)
	if code := call(t, e.srv.base, e.key, "POST", "/pools", batch.Pool{ID: "p1", VMSize: "static", TargetDedicatedNodes: &zero, TaskSlotsPerNode: &slots}, nil); code != http.StatusCreated {
		t.Fatalf("add pool: %d", code)
	}
	var tok struct{ Token string }
	if code := call(t, e.srv.base, e.key, "POST", "/pools/p1/jointokens", nil, &tok); code != http.StatusCreated {
		t.Fatalf("join token: %d", code)
	}
	if !strings.Contains(tok.Token, ".sha256:") {
		t.Fatalf("join token %q carries no CA fingerprint", tok.Token)
	}
	return &netWorld{net: n, e: e, token: tok.Token, agentURL: e.srv.base}
}

// hosts adds k namespace hosts, starts an agent joined to p1 on each, and grows p1 to k idle
// nodes.
func (w *netWorld) hosts(t *testing.T, k int) ([]*netns.Host, []*machine) {
	t.Helper()
	var hosts []*netns.Host
	var ms []*machine
	for i := 0; i < k; i++ {
		h, err := w.net.AddHost()
		if err != nil {
			t.Fatal(err)
		}
		hosts = append(hosts, h)
		ms = append(ms, startAgentVia(t, w.e, w.agentURL, w.token, h.Command))
	}
	target := int32(k)
	waitUntil(t, 30*time.Second, "the machines joined", func() bool {
		var list struct{ Value []struct{ ID string } }
		call(t, w.e.srv.base, w.e.key, "GET", "/pools/p1/machines", nil, &list)
		return len(list.Value) == k
	})
	if code := call(t, w.e.srv.base, w.e.key, "POST", "/pools/p1/resize", map[string]any{"targetDedicatedNodes": target}, nil); code != http.StatusAccepted {
		t.Fatalf("resize: %d", code)
	}
	w.waitNodes(t, k)
	return hosts, ms
}

// waitNodes waits until p1 has k nodes, all idle.
func (w *netWorld) waitNodes(t *testing.T, k int) {
	t.Helper()
	waitUntil(t, 60*time.Second, fmt.Sprintf("%d idle nodes", k), func() bool {
		var nodes struct{ Value []batch.Node }
		call(t, w.e.srv.base, w.e.key, "GET", "/pools/p1/nodes", nil, &nodes)
		idle := 0
		for _, n := range nodes.Value {
			if n.State == "idle" {
				idle++
			}
		}
		return idle == k && len(nodes.Value) == k
	})
}

// job adds job j with the tasks, on p1.
func (w *netWorld) job(t *testing.T, id string, tasks []batch.Task) {
	t.Helper()
	yes := true
	if code := call(t, w.e.srv.base, w.e.key, "POST", "/jobs", batch.Job{ID: id, PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes}, nil); code != http.StatusCreated {
		t.Fatalf("add job: %d", code)
	}
	if code := call(t, w.e.srv.base, w.e.key, "POST", "/jobs/"+id+"/addtaskcollection", map[string]any{"value": tasks}, nil); code != http.StatusOK {
		t.Fatalf("add tasks: %d", code)
	}
}

// tasksOf returns job id's tasks once all have completed.
func (w *netWorld) tasksOf(t *testing.T, id string, n int, limit time.Duration) []batch.Task {
	t.Helper()
	var list struct{ Value []batch.Task }
	waitUntil(t, limit, "every task completed", func() bool {
		call(t, w.e.srv.base, w.e.key, "GET", "/jobs/"+id+"/tasks", nil, &list)
		done := 0
		for _, tk := range list.Value {
			if tk.State == batch.TaskCompleted {
				done++
			}
		}
		return done == n
	})
	return list.Value
}

// succeededOnce waits until every task of job id has completed, and checks each succeeded and
// ran once (its id is once in log).
func (w *netWorld) succeededOnce(t *testing.T, id string, tasks []batch.Task, log string) {
	t.Helper()
	for _, tk := range w.tasksOf(t, id, len(tasks), 120*time.Second) {
		if x := tk.ExecutionInfo; x == nil || x.Result != batch.ResultSuccess {
			t.Errorf("task %s: %+v", tk.ID, x)
		}
	}
	ran := runs(t, log)
	for _, tk := range tasks {
		if ran[tk.ID] != 1 {
			t.Errorf("task %s ran %d times", tk.ID, ran[tk.ID])
		}
	}
}

// runs counts the lines of a log by their first word.
func runs(t *testing.T, log string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			out[f[0]]++
		}
	}
	return out
}

// TestNetnsDAGOverTLS runs a DAG job on a pool of three hosts of their own (network
// namespaces), whose agents joined over TLS with a join token and reach the server through a
// proxy that adds 5ms each way: every task runs once, in
// dependency order, tasks ran on every host, and their outputs are readable through the task
// file API.
func TestNetnsDAGOverTLS(t *testing.T) {
	w := newNetWorld(t, 2)
	w.latency(t, 5*time.Millisecond)
	hosts, _ := w.hosts(t, 3)
	log := filepath.Join(t.TempDir(), "ran.log")
	if err := os.Chmod(filepath.Dir(log), 0o777); err != nil {
		t.Fatal(err)
	}
	var tasks []batch.Task
	for layer := 0; layer < 3; layer++ {
		for i := 0; i < 6; i++ {
			tk := batch.Task{ID: fmt.Sprintf("t%d-%d", layer, i),
				CommandLine: fmt.Sprintf(`/bin/sh -c "echo $AZ_BATCH_TASK_ID $(hostname -I) >> %s; echo out-$AZ_BATCH_TASK_ID; sleep 0.2"`, log)}
			if layer > 0 {
				tk.DependsOn = &batch.TaskDependencies{TaskIDs: []string{fmt.Sprintf("t%d-%d", layer-1, i), fmt.Sprintf("t%d-%d", layer-1, (i+1)%6)}}
			}
			tasks = append(tasks, tk)
		}
	}
	w.job(t, "dag", tasks)
	w.succeededOnce(t, "dag", tasks, log)
	b, _ := os.ReadFile(log)
	for _, h := range hosts {
		if !strings.Contains(string(b), h.Addr+" ") && !strings.Contains(string(b), h.Addr+"\n") {
			t.Errorf("no task ran on host %s:\n%s", h.Addr, b)
		}
	}
	// Every task's output is readable through the task file API: the server asks the task's
	// node's agent, across the network, for it.
	for _, tk := range tasks {
		if out := fileText(t, w.e.srv.base, w.e.key, "/jobs/dag/tasks/"+tk.ID+"/files/stdout.txt"); out != "out-"+tk.ID+"\n" {
			t.Errorf("task %s: stdout.txt through the API = %q", tk.ID, out)
		}
	}
}

// TestNetnsPartition cuts one host off while its tasks run: after the heartbeat timeout its
// tasks are requeued (not counted as retries) and run elsewhere; when the partition heals, what
// the cut-off agent finished meanwhile is not recorded, and every task completes once.
func TestNetnsPartition(t *testing.T) {
	w := newNetWorld(t, 1, "--node-lost-after", "3s")
	hosts, _ := w.hosts(t, 3)
	log := filepath.Join(t.TempDir(), "ran.log")
	if err := os.Chmod(filepath.Dir(log), 0o777); err != nil {
		t.Fatal(err)
	}
	var tasks []batch.Task
	for i := 0; i < 6; i++ {
		tasks = append(tasks, batch.Task{ID: fmt.Sprintf("t%d", i),
			CommandLine: fmt.Sprintf(`/bin/sh -c "echo $AZ_BATCH_TASK_ID $(hostname -I) >> %s; sleep 4"`, log)})
	}
	w.job(t, "j", tasks)
	cut := hosts[0]
	waitUntil(t, 30*time.Second, "a task running on the host to cut off", func() bool {
		b, _ := os.ReadFile(log)
		return strings.Contains(string(b), cut.Addr)
	})
	if err := cut.Partition(); err != nil {
		t.Fatal(err)
	}
	// Let the heartbeat timeout pass and the cut-off task finish on its host, then heal.
	time.Sleep(6 * time.Second)
	if err := cut.Heal(); err != nil {
		t.Fatal(err)
	}
	got := w.tasksOf(t, "j", len(tasks), 90*time.Second)
	requeued := 0
	for _, tk := range got {
		x := tk.ExecutionInfo
		if x == nil || x.Result != batch.ResultSuccess || x.RetryCount != 0 {
			t.Errorf("task %s: %+v", tk.ID, x)
			continue
		}
		requeued += int(x.RequeueCount)
	}
	if requeued == 0 {
		t.Error("no task was requeued after its host was cut off")
	}
	ran := runs(t, log)
	twice := 0
	for _, tk := range tasks {
		switch ran[tk.ID] {
		case 1:
		case 2:
			twice++ // ran on the cut-off host, then again elsewhere
		default:
			t.Errorf("task %s ran %d times", tk.ID, ran[tk.ID])
		}
	}
	if twice == 0 {
		t.Error("no task ran again elsewhere")
	}
	// The healed host is a node again and takes work.
	w.waitNodes(t, 3)
}

// TestNetnsHostDestroyed destroys a host mid-task (its processes killed, its namespace
// deleted): its task is requeued after the heartbeat timeout and runs elsewhere, and its node is
// shown unknown; removed from the pool's inventory, the machine's node is unusable until a new
// machine joins and takes it.
func TestNetnsHostDestroyed(t *testing.T) {
	w := newNetWorld(t, 1, "--node-lost-after", "3s")
	hosts, ms := w.hosts(t, 2)
	log := filepath.Join(t.TempDir(), "ran.log")
	if err := os.Chmod(filepath.Dir(log), 0o777); err != nil {
		t.Fatal(err)
	}
	tasks := []batch.Task{
		{ID: "a", CommandLine: fmt.Sprintf(`/bin/sh -c "echo a $(hostname -I) >> %s; sleep 3"`, log)},
		{ID: "b", CommandLine: fmt.Sprintf(`/bin/sh -c "echo b $(hostname -I) >> %s; sleep 3"`, log)},
	}
	w.job(t, "j", tasks)
	waitUntil(t, 30*time.Second, "both tasks running", func() bool {
		b, _ := os.ReadFile(log)
		return strings.Count(string(b), "\n") >= 2
	})
	gone := hosts[1]
	gone.Destroy()
	<-ms[1].done
	ms[1].done <- nil
	got := w.tasksOf(t, "j", len(tasks), 60*time.Second)
	for _, tk := range got {
		if x := tk.ExecutionInfo; x == nil || x.Result != batch.ResultSuccess || x.RetryCount != 0 {
			t.Errorf("task %s: %+v", tk.ID, x)
		}
	}
	// The node whose agent went silent is shown unknown, as Azure shows a node it lost.
	var nodes struct{ Value []batch.Node }
	lost := ""
	waitUntil(t, 30*time.Second, "the destroyed host's node shown unknown", func() bool {
		call(t, w.e.srv.base, w.e.key, "GET", "/pools/p1/nodes", nil, &nodes)
		for _, n := range nodes.Value {
			if n.State == batch.NodeUnknown {
				lost = n.ID
			}
		}
		return lost != ""
	})
	// The operator removes the dead machine from the pool's inventory: its node is lost for
	// good (unusable), and is made again on the next machine that joins.
	var machines struct {
		Value []struct{ ID, NodeID, Hostname string }
	}
	call(t, w.e.srv.base, w.e.key, "GET", "/pools/p1/machines", nil, &machines)
	dead := ""
	for _, m := range machines.Value {
		if m.NodeID == lost {
			dead = m.ID
		}
	}
	if dead == "" {
		t.Fatalf("no machine lent to the lost node %s: %+v", lost, machines.Value)
	}
	if code := call(t, w.e.srv.base, w.e.key, "DELETE", "/pools/p1/machines/"+dead, nil, nil); code != http.StatusOK {
		t.Fatalf("forget machine: %d", code)
	}
	waitUntil(t, 30*time.Second, "the lost node unusable", func() bool {
		call(t, w.e.srv.base, w.e.key, "GET", "/pools/p1/nodes", nil, &nodes)
		for _, n := range nodes.Value {
			if n.ID == lost {
				return n.State == batch.NodeUnusable
			}
		}
		return false
	})
	// A new machine joins and the pool is whole again.
	h, err := w.net.AddHost()
	if err != nil {
		t.Fatal(err)
	}
	startAgentOn(t, w.e, w.token, h.Command)
	w.waitNodes(t, 2)
}

// TestNetnsRefusals: an agent given a token whose CA fingerprint is not the server's refuses
// the server; a stale token and a revoked token are refused by the server.
func TestNetnsRefusals(t *testing.T) {
	w := newNetWorld(t, 1)
	h, err := w.net.AddHost()
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(w.token, ".sha256:") + len(".sha256:")
	wrongCA := w.token[:i] + strings.Repeat("0", 64)
	var short, revoked struct{ ID, Token string }
	call(t, w.e.srv.base, w.e.key, "POST", "/pools/p1/jointokens", map[string]string{"lifetime": "PT1S"}, &short)
	call(t, w.e.srv.base, w.e.key, "POST", "/pools/p1/jointokens", nil, &revoked)
	call(t, w.e.srv.base, w.e.key, "DELETE", "/pools/p1/jointokens/"+revoked.ID, nil, nil)
	time.Sleep(1500 * time.Millisecond) // the short token expires
	for _, tt := range []struct{ name, token, want string }{
		{"wrong CA fingerprint", wrongCA, "fingerprint"},
		{"expired token", short.Token, "401"},
		{"revoked token", revoked.Token, "401"},
	} {
		m := startAgentOn(t, w.e, tt.token, h.Command)
		select {
		case err := <-m.done:
			if err == nil || !strings.Contains(m.stderr.String(), tt.want) {
				t.Errorf("%s: agent exited %v; stderr %q, want it to mention %q", tt.name, err, m.stderr.String(), tt.want)
			}
			m.done <- err
		case <-time.After(30 * time.Second):
			t.Errorf("%s: the agent did not give up", tt.name)
		}
	}
	var list struct{ Value []struct{ ID string } }
	call(t, w.e.srv.base, w.e.key, "GET", "/pools/p1/machines", nil, &list)
	if len(list.Value) != 0 {
		t.Errorf("refused agents joined: %+v", list.Value)
	}
}

// newExecWorld starts a server with the exec provider and the namespace example programs, on
// the gateway of a netns.Net (TLS), with the given extra flags. It returns the Net, the server
// and a pool id unique to the test (the programs name hosts corral-<pool>.<node>), whose hosts
// the test's cleanup destroys if the test leaves any.
func newExecWorld(t *testing.T, flags ...string) (*netns.Net, *e2eEnv, string) {
	t.Helper()
	n, addr := newGatewayNet(t)
	pool := "x" + n.Tag
	t.Cleanup(func() { destroyNamespaces(t, "corral-"+pool+".") })
	scripts, err := filepath.Abs("../examples/exec")
	if err != nil {
		t.Fatal(err)
	}
	bin := buildCorral(t)
	t.Setenv("CORRAL_NETNS_BRIDGE", n.Bridge)
	t.Setenv("CORRAL_NETNS_SUBNET", n.Subnet+".0/24")
	t.Setenv("CORRAL_NETNS_STATE", t.TempDir())
	t.Setenv("CORRAL_NETNS_ROOT", t.TempDir())
	t.Setenv("CORRAL_BIN", bin)
	t.Setenv("CORRAL_HEARTBEAT", "500ms") // well under the tests' --node-lost-after
	e := newE2EAt(t, addr, append([]string{"--provider", "exec",
		"--exec-create", filepath.Join(scripts, "netns-create.sh"),
		"--exec-delete", filepath.Join(scripts, "netns-delete.sh"),
		"--exec-list", filepath.Join(scripts, "netns-list.sh"),
		"--exec-pass-env", "CORRAL_NETNS_BRIDGE,CORRAL_NETNS_SUBNET,CORRAL_NETNS_STATE,CORRAL_NETNS_ROOT,CORRAL_BIN,CORRAL_HEARTBEAT"}, flags...)...)
	return n, e, pool
}

// TestNetnsExecAutoscale runs the exec provider with the example programs that make every node a
// network namespace host (examples/exec/netns-*.sh) and a real agent in it, joined with the
// node's join token over TLS: an autoscale formula grows the pool on new hosts for a burst of
// tasks, every task runs once on them, and the pool shrinks back to nothing, the hosts deleted.
func TestNetnsExecAutoscale(t *testing.T) {
	// No node is meant to be lost here, and every task must run once: the heartbeat timeout is
	// long enough that a host starved of CPU on a loaded machine (a test run beside others) is not
	// declared lost, which would run its task a second time elsewhere.
	n, e, pool := newExecWorld(t, "--autoscale-min-interval", "1s", "--node-lost-after", "20s")
	base, key := e.srv.base, e.key

	formula := `$pending = max($PendingTasks.GetSample(1));
$TargetDedicatedNodes = min(3, $pending);
$NodeDeallocationOption = taskcompletion;`
	yes, one := true, int32(1)
	every := batch.Duration(time.Second)
	if code := call(t, base, key, "POST", "/pools", batch.Pool{ID: pool, VMSize: "netns", EnableAutoScale: &yes,
		AutoScaleFormula: formula, AutoScaleEvaluationInterval: &every, TaskSlotsPerNode: &one}, nil); code != http.StatusCreated {
		t.Fatalf("add pool: %d", code)
	}
	if code := call(t, base, key, "POST", "/jobs", batch.Job{ID: "burst", PoolInfo: batch.PoolInformation{PoolID: pool}}, nil); code != http.StatusCreated {
		t.Fatalf("add job: %d", code)
	}
	log := filepath.Join(t.TempDir(), "ran.log")
	if err := os.Chmod(filepath.Dir(log), 0o777); err != nil {
		t.Fatal(err)
	}
	var tasks []batch.Task
	for i := 0; i < 9; i++ {
		tasks = append(tasks, batch.Task{ID: fmt.Sprintf("t%d", i), CommandLine: fmt.Sprintf(`/bin/sh -c "echo $AZ_BATCH_TASK_ID $(hostname -I) >> %s; sleep 1"`, log)})
	}
	if code := call(t, base, key, "POST", "/jobs/burst/addtaskcollection", map[string]any{"value": tasks}, nil); code != http.StatusOK {
		t.Fatalf("add tasks: %d", code)
	}
	waitPool(t, base, key, pool, 90*time.Second, "grown to 3 nodes", func(p batch.Pool) bool {
		return p.CurrentDedicatedNodes != nil && *p.CurrentDedicatedNodes == 3
	})
	w := &netWorld{net: n, e: e}
	w.succeededOnce(t, "burst", tasks, log)
	b, _ := os.ReadFile(log)
	hosts := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], n.Subnet+".") {
			hosts[f[1]] = true
		}
	}
	if len(hosts) < 2 {
		t.Errorf("tasks ran on %d namespace hosts, want several:\n%s", len(hosts), b)
	}
	waitPool(t, base, key, pool, 90*time.Second, "shrunk to 0 nodes", func(p batch.Pool) bool {
		return p.CurrentDedicatedNodes != nil && *p.CurrentDedicatedNodes == 0 && p.AllocationState == batch.AllocationSteady
	})
	waitUntil(t, 30*time.Second, "the hosts deleted", func() bool {
		return len(namespaces("corral-"+pool+".")) == 0
	})
}

// namespaces lists the network namespaces whose names start with prefix.
func namespaces(prefix string) []string {
	out, _ := exec.Command("ip", "netns", "list").Output()
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], prefix) {
			names = append(names, f[0])
		}
	}
	return names
}

// destroyNamespaces kills the processes of, and deletes, the namespaces whose names start with
// prefix (what a failed test leaves).
func destroyNamespaces(t *testing.T, prefix string) {
	for _, ns := range namespaces(prefix) {
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		for _, f := range strings.Fields(string(out)) {
			exec.Command("kill", "-9", f).Run()
		}
		if err := exec.Command("ip", "netns", "delete", ns).Run(); err != nil {
			t.Logf("delete namespace %s: %v", ns, err)
		}
	}
}

// TestNetnsExecHostDestroyed destroys a host the exec provider made while its task runs: the
// task is requeued (not counted as a retry) after the heartbeat timeout and completes on the
// other host, the node is shown unknown, and when the pool shrinks the provider's delete program
// removes what is left of the host (its link and records).
func TestNetnsExecHostDestroyed(t *testing.T) {
	n, e, pool := newExecWorld(t, "--node-lost-after", "3s")
	base, key := e.srv.base, e.key
	two, one := int32(2), int32(1)
	if code := call(t, base, key, "POST", "/pools", batch.Pool{ID: pool, VMSize: "netns", TargetDedicatedNodes: &two, TaskSlotsPerNode: &one}, nil); code != http.StatusCreated {
		t.Fatalf("add pool: %d", code)
	}
	w := &netWorld{net: n, e: e}
	waitPool(t, base, key, pool, 60*time.Second, "two nodes", func(p batch.Pool) bool {
		return p.CurrentDedicatedNodes != nil && *p.CurrentDedicatedNodes == 2 && p.AllocationState == batch.AllocationSteady
	})
	log := filepath.Join(t.TempDir(), "ran.log")
	if err := os.Chmod(filepath.Dir(log), 0o777); err != nil {
		t.Fatal(err)
	}
	if code := call(t, base, key, "POST", "/jobs", batch.Job{ID: "j", PoolInfo: batch.PoolInformation{PoolID: pool}}, nil); code != http.StatusCreated {
		t.Fatalf("add job: %d", code)
	}
	tasks := []batch.Task{
		{ID: "a", CommandLine: fmt.Sprintf(`/bin/sh -c "echo a $(hostname -I) >> %s; sleep 3"`, log)},
		{ID: "b", CommandLine: fmt.Sprintf(`/bin/sh -c "echo b $(hostname -I) >> %s; sleep 3"`, log)},
	}
	if code := call(t, base, key, "POST", "/jobs/j/addtaskcollection", map[string]any{"value": tasks}, nil); code != http.StatusOK {
		t.Fatalf("add tasks: %d", code)
	}
	waitUntil(t, 30*time.Second, "both tasks running", func() bool {
		b, _ := os.ReadFile(log)
		return strings.Count(string(b), "\n") >= 2
	})
	hosts := namespaces("corral-" + pool + ".")
	if len(hosts) != 2 {
		t.Fatalf("hosts %v, want 2", hosts)
	}
	gone := hosts[0]
	destroyNamespaces(t, gone)
	for _, tk := range w.tasksOf(t, "j", len(tasks), 60*time.Second) {
		if x := tk.ExecutionInfo; x == nil || x.Result != batch.ResultSuccess || x.RetryCount != 0 {
			t.Errorf("task %s: %+v", tk.ID, x)
		}
	}
	var nodes struct{ Value []batch.Node }
	waitUntil(t, 30*time.Second, "the destroyed host's node shown unknown", func() bool {
		call(t, base, key, "GET", "/pools/"+pool+"/nodes", nil, &nodes)
		for _, nd := range nodes.Value {
			if nd.State == batch.NodeUnknown || nd.State == batch.NodeUnusable {
				return true
			}
		}
		return false
	})
	// Shrink to one node: the lost node goes first, and the delete program removes what is left
	// of its host.
	if code := call(t, base, key, "POST", "/pools/"+pool+"/resize", map[string]any{"targetDedicatedNodes": one}, nil); code != http.StatusAccepted {
		t.Fatalf("resize: %d", code)
	}
	waitPool(t, base, key, pool, 60*time.Second, "one node", func(p batch.Pool) bool {
		return p.CurrentDedicatedNodes != nil && *p.CurrentDedicatedNodes == 1 && p.AllocationState == batch.AllocationSteady
	})
	// The removed node is listed leavingpool until its machine is deleted.
	waitUntil(t, 30*time.Second, "the live node alone, idle", func() bool {
		call(t, base, key, "GET", "/pools/"+pool+"/nodes", nil, &nodes)
		return len(nodes.Value) == 1 && nodes.Value[0].State == batch.NodeIdle
	})
	state := os.Getenv("CORRAL_NETNS_STATE")
	waitUntil(t, 30*time.Second, "the destroyed host's records removed", func() bool {
		_, err := os.Stat(filepath.Join(state, "nodes", gone))
		return os.IsNotExist(err)
	})
	if left := namespaces("corral-" + pool + "."); len(left) != 1 || left[0] == gone {
		t.Errorf("hosts left: %v, want the live one", left)
	}
}
