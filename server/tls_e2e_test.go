package server

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corral/agent"
	"corral/batch"
	"corral/pki"
)

// TestTLSAgentsRunJob runs `corral server --tls` with a local node: the node's agent reaches the
// server over TLS (trusting the server's CA), a job of two dependent tasks runs, and after a
// SIGKILL and restart on the same data directory the server keeps its CA and the same agent
// runs the next task.
func TestTLSAgentsRunJob(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	e := newE2E(t, "--tls")
	srv, key := e.srv, e.key
	if !strings.HasPrefix(srv.base, "https://127.0.0.1:") {
		t.Fatalf("server URL %s, want https://127.0.0.1:...", srv.base)
	}
	ca, err := pki.EnsureCA(filepath.Join(e.data, tlsDir))
	if err != nil {
		t.Fatal(err)
	}
	fingerprint := ca.Fingerprint()
	caPEM, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}

	addPoolAndDAGJob(t, srv.base, key, "p1", "j", 1, 2)
	tasks := []batch.Task{
		{ID: "a", CommandLine: "echo first"},
		{ID: "b", CommandLine: "echo second", DependsOn: &batch.TaskDependencies{TaskIDs: []string{"a"}}},
	}
	if code := call(t, srv.base, key, "POST", "/jobs/j/addtaskcollection", map[string]any{"value": tasks}, nil); code != http.StatusOK {
		t.Fatalf("add tasks: %d", code)
	}
	waitDone := func(id string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			var tk batch.Task
			if code := call(t, e.srv.base, key, "GET", "/jobs/j/tasks/"+id, nil, &tk); code == http.StatusOK && tk.State == batch.TaskCompleted {
				if x := tk.ExecutionInfo; x == nil || x.Result != batch.ResultSuccess {
					t.Fatalf("task %s: %+v", id, x)
				}
				return
			}
			if time.Now().After(deadline) {
				logs, _ := filepath.Glob(filepath.Join(e.data, "nodes", "*", "*", "agent.log"))
				var b []byte
				for _, l := range logs {
					lb, _ := os.ReadFile(l)
					b = append(b, lb...)
				}
				t.Fatalf("task %s did not complete over TLS; agent logs:\n%s", id, b)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitDone("a")
	waitDone("b")
	// The node's credential file names the CA its agent trusts.
	if id, err := agent.LoadIdentity(filepath.Join(e.data, nodesDir, "p1", "p1-0")); err != nil || id.CACert != string(caPEM) || id.ServerURL != srv.base {
		t.Errorf("node identity: %v; CA %q, server %s", err, id.CACert, id.ServerURL)
	}
	if out := fileText(t, srv.base, key, "/jobs/j/tasks/b/files/stdout.txt"); strings.TrimSpace(out) != "second" {
		t.Errorf("stdout of b = %q", out)
	}

	e.restart(t)
	if again, err := pki.EnsureCA(filepath.Join(e.data, tlsDir)); err != nil || again.Fingerprint() != fingerprint {
		t.Fatalf("CA after the restart: %v, fingerprint changed: %v", err, again != nil && again.Fingerprint() != fingerprint)
	}
	if code := call(t, e.srv.base, key, "POST", "/jobs/j/tasks", batch.Task{ID: "c", CommandLine: "echo third"}, nil); code != http.StatusCreated {
		t.Fatalf("add task c: %d", code)
	}
	waitDone("c")
}
