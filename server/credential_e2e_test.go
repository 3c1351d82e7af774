package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"corral/agent"
	"corral/agent/protocol"
	"corral/batch"
)

// TestNodeCredentials checks, against the real binary, that local nodes' agents hold a
// credential of their own and never the account key, that one node's credential does not
// speak for another, and that removing a node makes its credential worthless at once.
func TestNodeCredentials(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	e := newE2E(t)
	two, one := int32(2), int32(1)
	if code := call(t, e.srv.base, e.key, "POST", "/pools", batch.Pool{ID: "p1", VMSize: "local", TargetDedicatedNodes: &two, TaskSlotsPerNode: &one}, nil); code != http.StatusCreated {
		t.Fatalf("add pool: %d", code)
	}
	ids := map[string]agent.Identity{}
	waitUntil(t, 30*time.Second, "both nodes' credentials written", func() bool {
		for _, n := range []string{"p1-0", "p1-1"} {
			id, err := agent.LoadIdentity(filepath.Join(e.data, nodesDir, "p1", n))
			if err != nil {
				return false
			}
			ids[n] = id
		}
		return true
	})
	for n, id := range ids {
		dir := filepath.Join(e.data, nodesDir, "p1", n)
		fi, err := os.Stat(filepath.Join(dir, agent.CredentialFile))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: credential file %v, %v; want mode 0600", n, fi, err)
		}
		if id.PoolID != "p1" || id.NodeID != n || id.ServerURL != e.srv.base {
			t.Errorf("%s: identity %+v", n, id)
		}
		// The agent's environment and command line hold neither the key nor the credential.
		// (node.pid is written once the agent's process has started, after its credential.)
		waitUntil(t, 30*time.Second, n+"'s node.pid", func() bool {
			b, err := os.ReadFile(filepath.Join(dir, "node.pid"))
			return err == nil && len(strings.Fields(string(b))) > 1
		})
		pid := nodePID(t, dir)
		for _, f := range []string{"environ", "cmdline"} {
			b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), f))
			if err != nil {
				t.Fatalf("%s: %v", n, err)
			}
			if bytes.Contains(b, []byte("CORRAL_ACCOUNT_KEY")) || bytes.Contains(b, []byte(id.Credential)) {
				t.Errorf("%s: the agent's %s holds a secret: %q", n, f, b)
			}
		}
	}
	if ids["p1-0"].Credential == ids["p1-1"].Credential {
		t.Fatal("two nodes share a credential")
	}

	sync := func(pool, node, cred string) int {
		t.Helper()
		body, _ := json.Marshal(protocol.SyncRequest{Reports: []protocol.Message{}})
		req, _ := http.NewRequest(http.MethodPost, e.srv.base+protocol.SyncPath, bytes.NewReader(body))
		req.Header.Set("Authorization", protocol.AuthorizationHeader(pool, node, cred))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	c0 := ids["p1-0"].Credential
	tests := []struct {
		name       string
		pool, node string
		cred       string
		want       int
	}{
		{"own credential", "p1", "p1-0", c0, http.StatusOK},
		{"used for another node", "p1", "p1-1", c0, http.StatusUnauthorized},
		{"used for another pool", "p2", "p1-0", c0, http.StatusUnauthorized},
		{"the account key as a credential", "p1", "p1-0", string(e.key), http.StatusUnauthorized},
	}
	for _, tt := range tests {
		if got := sync(tt.pool, tt.node, tt.cred); got != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, got, tt.want)
		}
	}

	// Remove p1-0: its credential is refused from then on.
	if code := call(t, e.srv.base, e.key, "POST", "/pools/p1/removenodes", map[string]any{"nodeList": []string{"p1-0"}}, nil); code != http.StatusAccepted {
		t.Fatalf("remove node: %d", code)
	}
	waitUntil(t, 30*time.Second, "the removed node's credential refused", func() bool {
		return sync("p1", "p1-0", c0) == http.StatusUnauthorized
	})
	if got := sync("p1", "p1-1", ids["p1-1"].Credential); got != http.StatusOK {
		t.Errorf("the other node's credential after the removal: %d, want 200", got)
	}
}

// nodePID reads the agent's pid from a local node's node.pid file.
func nodePID(t *testing.T, dir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "node.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.Fields(string(b))[1]) // "pid N\n..."
	if err != nil {
		t.Fatalf("node.pid %q: %v", b, err)
	}
	return pid
}

// waitUntil polls cond until it holds, failing the test after limit.
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
