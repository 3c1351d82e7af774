package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/user"
	"strings"
	"testing"
	"time"

	"corral/api"
	"corral/internal/azurite"
)

// doJSON sends a signed request and returns the status and the body.
func doJSON(t *testing.T, e *e2eEnv, method, path string, body any) (int, []byte) {
	t.Helper()
	req, err := api.NewRequest(method, e.srv.base, path, nil, body, "corral", e.key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpClient(e.srv.base).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestNodeOpsOfRemoteNode: Compute Node - Add, Update and Delete User and Upload Batch Service
// Logs on a node whose agent runs on another machine (a `corral agent` that joined a static
// pool, with a root directory of its own): the server carries them over the agent link, the
// agent carries them out. Users: as root with CORRAL_TEST_NODE_USERS=1, a real account is added,
// changed and deleted; otherwise what the agent refuses shows that the request reached it.
// Logs: the agent uploads its own log file to Azurite.
func TestNodeOpsOfRemoteNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	e := newE2E(t, "--provider", "static")
	m := startMachine(t, e, addStaticPool(t, e, "p1").Token)
	if code := call(t, e.srv.base, e.key, "POST", "/pools/p1/resize", map[string]any{"targetDedicatedNodes": 1}, nil); code != http.StatusAccepted {
		t.Fatalf("resize: %d", code)
	}
	var node string
	waitUntil(t, 30*time.Second, "the node is idle", func() bool {
		var nodes struct{ Value []struct{ ID, State string } }
		call(t, e.srv.base, e.key, "GET", "/pools/p1/nodes", nil, &nodes)
		if len(nodes.Value) == 1 && nodes.Value[0].State == "idle" {
			node = nodes.Value[0].ID
		}
		return node != ""
	})
	users := "/pools/p1/nodes/" + node + "/users"

	t.Run("users", func(t *testing.T) {
		realUsers := os.Geteuid() == 0 && os.Getenv("CORRAL_TEST_NODE_USERS") == "1"
		// The node may be idle a moment before its agent's first sync reaches the agent link.
		var code int
		var body []byte
		waitUntil(t, 10*time.Second, "the node's agent is connected", func() bool {
			code, body = doJSON(t, e, "POST", users, map[string]any{"name": "Not Valid", "password": "Pw-NotLogged1"})
			return !strings.Contains(string(body), "is not connected")
		})
		switch {
		case os.Geteuid() == 0 && (code != http.StatusBadRequest || !strings.Contains(string(body), api.CodeInvalidPropertyValue)):
			t.Errorf("an invalid name, the agent as root: %d %s; want 400 InvalidPropertyValue", code, body)
		case os.Geteuid() != 0 && (code != http.StatusConflict || !strings.Contains(string(body), "root")):
			t.Errorf("an agent not root: %d %s; want 409 saying it must run as root", code, body)
		}
		if realUsers {
			name := "crlremote" + strings.ReplaceAll(time.Now().Format("150405.000"), ".", "")
			t.Cleanup(func() { doJSON(t, e, "DELETE", users+"/"+name, nil) })
			if code, body := doJSON(t, e, "POST", users, map[string]any{"name": name, "password": "Pw-NotLogged1", "sshPublicKey": "ssh-ed25519 AAAAremote test"}); code != http.StatusCreated {
				t.Fatalf("add: %d %s", code, body)
			}
			u, err := user.Lookup(name)
			if err != nil {
				t.Fatalf("the user was not added to the machine: %v", err)
			}
			if b, err := os.ReadFile(u.HomeDir + "/.ssh/authorized_keys"); err != nil || !strings.Contains(string(b), "AAAAremote") {
				t.Errorf("authorized_keys: %q, %v", b, err)
			}
			if code, body := doJSON(t, e, "POST", users, map[string]any{"name": name}); code != http.StatusConflict || !strings.Contains(string(body), api.CodeNodeUserExists) {
				t.Errorf("add again: %d %s", code, body)
			}
			if code, body := doJSON(t, e, "PUT", users+"/"+name, map[string]any{"password": "Pw-NotLogged2"}); code != http.StatusOK {
				t.Errorf("update: %d %s", code, body)
			}
			if code, body := doJSON(t, e, "DELETE", users+"/"+name, nil); code != http.StatusOK {
				t.Errorf("delete: %d %s", code, body)
			}
			if _, err := user.Lookup(name); err == nil {
				t.Error("the user is still on the machine")
			}
		} else {
			t.Log("adding a real user needs root and CORRAL_TEST_NODE_USERS=1 (bash .ci/run sets it)")
		}
		if code, body := doJSON(t, e, "DELETE", users+"/nobodyhere", nil); code != http.StatusNotFound && code != http.StatusConflict {
			t.Errorf("delete a user never added: %d %s", code, body)
		}
		logs, _ := os.ReadFile(e.srv.log)
		if strings.Contains(m.stderr.String(), "Pw-NotLogged") || bytes.Contains(logs, []byte("Pw-NotLogged")) {
			t.Error("a password is in the agent's or the server's log")
		}
	})

	t.Run("upload batch service logs", func(t *testing.T) {
		az := azurite.Shared(t)
		cont := az.NewContainer(t)
		sas := az.ContainerSAS(t, cont, "cw")
		code, body := doJSON(t, e, "POST", "/pools/p1/nodes/"+node+"/uploadbatchservicelogs",
			map[string]any{"containerUrl": sas, "startTime": time.Now().Add(-time.Hour)})
		var res struct {
			Directory string `json:"virtualDirectoryName"`
			Files     int    `json:"numberOfFilesUploaded"`
		}
		if err := json.Unmarshal(body, &res); code != http.StatusOK || err != nil {
			t.Fatalf("upload: %d %s", code, body)
		}
		if !strings.HasPrefix(res.Directory, "p1/"+node+"/") || res.Files != 1 {
			t.Errorf("answer %s", body)
		}
		blobs := az.List(t, cont)
		if len(blobs) != 1 || blobs[0] != res.Directory+"agent.log" {
			t.Fatalf("blobs %v, want %sagent.log", blobs, res.Directory)
		}
		data, _, _ := az.Get(t, cont, blobs[0])
		if !bytes.Contains(data, []byte("joined")) {
			t.Errorf("the uploaded log does not tell of the join:\n%s", data)
		}
		// A time range after the log's last write uploads nothing.
		code, body = doJSON(t, e, "POST", "/pools/p1/nodes/"+node+"/uploadbatchservicelogs",
			map[string]any{"containerUrl": sas, "startTime": time.Now().Add(time.Hour)})
		if code != http.StatusOK || !strings.Contains(string(body), `"numberOfFilesUploaded":0`) {
			t.Errorf("a range in the future: %d %s", code, body)
		}
		// A SAS that does not allow writing is Azure Storage's refusal, naming containerUrl.
		code, body = doJSON(t, e, "POST", "/pools/p1/nodes/"+node+"/uploadbatchservicelogs",
			map[string]any{"containerUrl": az.ContainerSAS(t, cont, "rl"), "startTime": time.Now().Add(-time.Hour)})
		if code != http.StatusBadRequest || !strings.Contains(string(body), "containerUrl") || strings.Contains(string(body), "sig=") {
			t.Errorf("a read-only SAS: %d %s", code, body)
		}
		logs, _ := os.ReadFile(e.srv.log)
		if strings.Contains(m.stderr.String(), "sig=") || bytes.Contains(logs, []byte("sig=")) {
			t.Error("a SAS is in the agent's or the server's log")
		}
	})
}
