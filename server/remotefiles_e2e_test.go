package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"corral/agent"
	"corral/api"
	"corral/api/rest"
	"corral/api/sharedkey"
	"corral/batch"
)

// TestTaskFilesOfRemoteNode: the REST API's task file operations for a node whose files are
// not on the server's disk: a machine of a static pool, a `corral agent` that joined with a
// token and keeps its files in a directory of its own. The server reads them through the
// agent link.
func TestTaskFilesOfRemoteNode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	e := newE2E(t, "--provider", "static")
	base, key := e.srv.base, e.key
	m := startMachine(t, e, addStaticPool(t, e, "p1").Token)
	waitUntil(t, 30*time.Second, "the machine joined", func() bool {
		var ms struct{ Value []struct{ ID string } }
		call(t, base, key, "GET", "/pools/p1/machines", nil, &ms)
		return len(ms.Value) == 1
	})
	if code := call(t, base, key, "POST", "/pools/p1/resize", map[string]any{"targetDedicatedNodes": 1}, nil); code != http.StatusAccepted {
		t.Fatalf("resize: %d", code)
	}
	if code := call(t, base, key, "POST", "/jobs", batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}}, nil); code != http.StatusCreated {
		t.Fatalf("add job: %d", code)
	}
	// Over 4 MiB, so that it is read in more than one chunk.
	if code := call(t, base, key, "POST", "/jobs/j1/tasks", batch.Task{ID: "t1", CommandLine: `/bin/sh -c "seq 1 1000000 > out.txt; echo hello"`}, nil); code != http.StatusCreated {
		t.Fatalf("add task: %d", code)
	}
	var task batch.Task
	waitUntil(t, 60*time.Second, "the task completes", func() bool {
		return call(t, base, key, "GET", "/jobs/j1/tasks/t1", nil, &task) == http.StatusOK && task.State == batch.TaskCompleted
	})
	if task.NodeInfo == nil {
		t.Fatalf("task without a node: %+v", task)
	}
	if newLocalFiles(filepath.Join(e.data, nodesDir)).hasDir("p1", task.NodeInfo.NodeID, "j1", "t1") {
		t.Fatal("the task's files are in the server's data directory")
	}
	l, err := agent.NewLayout(m.root)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := l.TaskDir("j1", "t1")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(dir, agent.WorkingDirName, "out.txt"))
	if err != nil || len(want) < 5<<20 {
		t.Fatalf("the task's out.txt: %d bytes, %v", len(want), err)
	}

	// do sends a signed request, signed again after header is added.
	do := func(method, path string, query url.Values, header http.Header) (*http.Response, []byte) {
		t.Helper()
		req, err := api.NewRequest(method, base, path, query, nil, "corral", key, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if header != nil {
			for k, vs := range header {
				req.Header[http.CanonicalHeaderKey(k)] = vs
			}
			req.Header.Del("Authorization")
			if err := sharedkey.Sign(req, "corral", key); err != nil {
				t.Fatal(err)
			}
		}
		resp, err := httpClient(base).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}

	resp, body := do("GET", "/jobs/j1/tasks/t1/files", url.Values{"recursive": {"true"}}, nil)
	var list struct{ Value []rest.NodeFile }
	if err := json.Unmarshal(body, &list); resp.StatusCode != http.StatusOK || err != nil {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	sizes := map[string]int64{}
	for _, f := range list.Value {
		if f.Properties != nil {
			sizes[f.Name] = f.Properties.ContentLength
		} else {
			sizes[f.Name] = -1
		}
	}
	if sizes["stdout.txt"] != 6 || sizes["wd"] != -1 || sizes["wd/out.txt"] != int64(len(want)) {
		t.Errorf("listed %v", sizes)
	}

	const file = "/jobs/j1/tasks/t1/files/wd/out.txt"
	tests := []struct {
		name   string
		method string
		path   string
		header http.Header
		status int
		body   []byte
		check  func(t *testing.T, h http.Header)
	}{
		{"whole file", "GET", file, nil, http.StatusOK, want, nil},
		{"Range", "GET", file, http.Header{"Range": {"bytes=5000000-5000099"}}, http.StatusPartialContent, want[5000000:5000100],
			func(t *testing.T, h http.Header) {
				if got := h.Get("Content-Range"); got != "bytes 5000000-5000099/"+strconv.Itoa(len(want)) {
					t.Errorf("Content-Range %q", got)
				}
			}},
		{"ocp-range", "GET", file, http.Header{"ocp-range": {"bytes=0-9"}}, http.StatusOK, want[:10], nil},
		{"properties", "HEAD", file, nil, http.StatusOK, []byte{}, func(t *testing.T, h http.Header) {
			if h.Get("Content-Length") != strconv.Itoa(len(want)) || h.Get(rest.HeaderOCPBatchFileIsDir) != "false" {
				t.Errorf("headers %v", h)
			}
		}},
		{"stdout", "GET", "/jobs/j1/tasks/t1/files/stdout.txt", nil, http.StatusOK, []byte("hello\n"), nil},
		{"directory", "GET", "/jobs/j1/tasks/t1/files/wd", nil, http.StatusOK, []byte{}, func(t *testing.T, h http.Header) {
			if h.Get(rest.HeaderOCPBatchFileIsDir) != "true" {
				t.Errorf("headers %v", h)
			}
		}},
		{"missing file", "GET", "/jobs/j1/tasks/t1/files/nope.txt", nil, http.StatusNotFound, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(tt.method, tt.path, nil, tt.header)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d (%.200s), want %d", resp.StatusCode, body, tt.status)
			}
			if tt.body != nil && !bytes.Equal(body, tt.body) {
				t.Errorf("body of %d bytes (%.40q), want %d (%.40q)", len(body), body, len(tt.body), tt.body)
			}
			if tt.check != nil {
				tt.check(t, resp.Header)
			}
		})
	}
}
