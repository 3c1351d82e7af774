package server

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"corral/batch"
)

// machine is a `corral agent` process joined to a static pool, as an operator starts one.
type machine struct {
	cmd    *exec.Cmd
	root   string
	stderr *bytes.Buffer
	done   chan error
}

// startMachine starts an agent with a join token; the test's cleanup kills it.
func startMachine(t *testing.T, e *e2eEnv, token string) *machine {
	t.Helper()
	return startAgentOn(t, e, token, exec.Command)
}

// startAgentOn starts an agent with a join token through command (exec.Command, or a
// namespace host's Command); the test's cleanup kills it.
func startAgentOn(t *testing.T, e *e2eEnv, token string, command func(string, ...string) *exec.Cmd) *machine {
	t.Helper()
	return startAgentVia(t, e, e.srv.base, token, command)
}

// startAgentVia is startAgentOn with the agent reaching the server at url (through a proxy,
// say).
func startAgentVia(t *testing.T, e *e2eEnv, url, token string, command func(string, ...string) *exec.Cmd, extra ...string) *machine {
	t.Helper()
	m := &machine{root: t.TempDir(), stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	m.cmd = command(e.bin, append([]string{"agent", "--server", url, "--root", m.root, "--heartbeat", "200ms", "--give-up", "30s"}, extra...)...)
	m.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "CORRAL_JOIN_TOKEN=" + token}
	m.cmd.Stderr = m.stderr
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { m.done <- m.cmd.Wait() }()
	t.Cleanup(func() {
		syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		<-m.done
	})
	return m
}

// joinToken is a pool's join token as Pool - Add Join Token answers it.
type joinToken struct{ ID, Token string }

// addStaticPool adds a pool of machines, with no node yet and one slot a node, and a join
// token for it.
func addStaticPool(t *testing.T, e *e2eEnv, poolID string) joinToken {
	t.Helper()
	zero, one := int32(0), int32(1)
	if code := call(t, e.srv.base, e.key, "POST", "/pools", batch.Pool{ID: poolID, VMSize: "static", TargetDedicatedNodes: &zero, TaskSlotsPerNode: &one}, nil); code != http.StatusCreated {
		t.Fatalf("add pool: %d", code)
	}
	var tok joinToken
	if code := call(t, e.srv.base, e.key, "POST", "/pools/"+poolID+"/jointokens", map[string]string{"lifetime": "PT10M"}, &tok); code != http.StatusCreated || tok.Token == "" {
		t.Fatalf("join token: %d %+v", code, tok)
	}
	return tok
}

// TestStaticPool runs a pool of machines that joined by themselves: two agents join with a
// token, the pool is lent both and runs a job on them, a third node is refused with a reason,
// a node given back goes back to waiting, and a forgotten machine's agent is refused and exits.
func TestStaticPool(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	e := newE2E(t, "--provider", "static")
	base, key := e.srv.base, e.key
	one := int32(1)
	tok := addStaticPool(t, e, "p1")
	// Refusals first: a token of a pool that does not exist, a malformed one.
	if code := call(t, base, key, "POST", "/pools/nope/jointokens", nil, nil); code != http.StatusNotFound {
		t.Errorf("token of a missing pool: %d, want 404", code)
	}
	bad := startMachine(t, e, strings.Replace(tok.Token, tok.ID, tok.ID+"x", 1))
	select {
	case err := <-bad.done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || !strings.Contains(bad.stderr.String(), "401") {
			t.Errorf("agent with a wrong token: %v, stderr %q", err, bad.stderr.String())
		}
		bad.done <- err
	case <-time.After(30 * time.Second):
		t.Fatal("an agent with a wrong token did not exit")
	}

	m1 := startMachine(t, e, tok.Token)
	m2 := startMachine(t, e, tok.Token)
	type machineList struct {
		Value []struct{ ID, Hostname, NodeID string }
	}
	var ms machineList
	waitUntil(t, 30*time.Second, "two machines joined", func() bool {
		call(t, base, key, "GET", "/pools/p1/machines", nil, &ms)
		return len(ms.Value) == 2
	})
	// Each machine keeps its credential in a file only its agent's user reads.
	for _, m := range []*machine{m1, m2} {
		waitUntil(t, 10*time.Second, "the machine's credential file", func() bool {
			fi, err := os.Stat(filepath.Join(m.root, "credential"))
			return err == nil && fi.Mode().Perm() == 0o600
		})
	}

	two := int32(2)
	if code := call(t, base, key, "POST", "/pools/p1/resize", map[string]any{"targetDedicatedNodes": two}, nil); code != http.StatusAccepted {
		t.Fatalf("resize to 2: %d", code)
	}
	waitIdle := func(n int) {
		t.Helper()
		waitUntil(t, 60*time.Second, fmt.Sprintf("%d idle nodes", n), func() bool {
			var nodes struct{ Value []batch.Node }
			call(t, base, key, "GET", "/pools/p1/nodes", nil, &nodes)
			idle := 0
			for _, n := range nodes.Value {
				if n.State == "idle" {
					idle++
				}
			}
			return idle == n && len(nodes.Value) == n
		})
	}
	waitIdle(2)

	// A job runs on the machines.
	yes := true
	if code := call(t, base, key, "POST", "/jobs", batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes}, nil); code != http.StatusCreated {
		t.Fatalf("add job: %d", code)
	}
	out := filepath.Join(t.TempDir(), "ran.log")
	var tasks []batch.Task
	for i := 0; i < 6; i++ {
		tasks = append(tasks, batch.Task{ID: fmt.Sprintf("t%d", i), CommandLine: fmt.Sprintf(`/bin/sh -c "echo $AZ_BATCH_TASK_ID $AZ_BATCH_NODE_ID >> %s"`, out)})
	}
	if code := call(t, base, key, "POST", "/jobs/j1/addtaskcollection", map[string]any{"value": tasks}, nil); code != http.StatusOK {
		t.Fatalf("add tasks: %d", code)
	}
	waitUntil(t, 60*time.Second, "every task succeeded", func() bool {
		var counts batch.TaskCountsResult
		call(t, base, key, "GET", "/jobs/j1/taskcounts", nil, &counts)
		return counts.TaskCounts.Succeeded == int32(len(tasks))
	})
	b, _ := os.ReadFile(out)
	if lines := strings.Count(string(b), "\n"); lines != len(tasks) {
		t.Errorf("%d task runs, want %d:\n%s", lines, len(tasks), b)
	}

	// A third node: no machine is free, so it waits until a third machine joins.
	three := int32(3)
	if code := call(t, base, key, "POST", "/pools/p1/resize", map[string]any{"targetDedicatedNodes": three}, nil); code != http.StatusAccepted {
		t.Fatalf("resize to 3: %d", code)
	}
	time.Sleep(500 * time.Millisecond)
	var p batch.Pool
	if call(t, base, key, "GET", "/pools/p1", nil, &p); p.AllocationState != "resizing" || p.CurrentDedicatedNodes == nil || *p.CurrentDedicatedNodes != 2 {
		t.Errorf("with two machines, asked for three: %s with %v nodes, want resizing with 2", p.AllocationState, p.CurrentDedicatedNodes)
	}
	m3 := startMachine(t, e, tok.Token)
	waitIdle(3)

	// Back to one node: two machines are given back, and their agents wait again.
	if code := call(t, base, key, "POST", "/pools/p1/resize", map[string]any{"targetDedicatedNodes": one}, nil); code != http.StatusAccepted {
		t.Fatalf("resize to 1: %d", code)
	}
	waitIdle(1)
	var free string
	waitUntil(t, 30*time.Second, "one machine free", func() bool {
		call(t, base, key, "GET", "/pools/p1/machines", nil, &ms)
		free = ""
		for _, m := range ms.Value {
			if m.NodeID == "" {
				free = m.ID
			}
		}
		return free != ""
	})
	for _, m := range []*machine{m1, m2, m3} {
		select {
		case err := <-m.done:
			t.Fatalf("an agent exited: %v\n%s", err, m.stderr)
		default:
		}
	}

	// Forget the free machine: its agent is refused and exits with status 4.
	if code := call(t, base, key, "DELETE", "/pools/p1/machines/"+free, nil, nil); code != http.StatusOK {
		t.Fatalf("forget machine: %d", code)
	}
	exited := 0
	deadline := time.After(60 * time.Second)
	for exited == 0 {
		for _, m := range []*machine{m1, m2, m3} {
			select {
			case err := <-m.done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 4 {
					t.Errorf("the forgotten machine's agent: %v, want exit status 4\n%s", err, m.stderr)
				}
				m.done <- err
				exited++
			case <-deadline:
				t.Fatal("the forgotten machine's agent did not exit")
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	// A revoked token joins nothing.
	if code := call(t, base, key, "DELETE", "/pools/p1/jointokens/"+tok.ID, nil, nil); code != http.StatusOK {
		t.Fatalf("revoke token: %d", code)
	}
	late := startMachine(t, e, tok.Token)
	select {
	case err := <-late.done:
		if err == nil || !strings.Contains(late.stderr.String(), "401") {
			t.Errorf("agent with a revoked token: %v, stderr %q", err, late.stderr.String())
		}
		late.done <- err
	case <-time.After(30 * time.Second):
		t.Fatal("an agent with a revoked token did not exit")
	}
}
