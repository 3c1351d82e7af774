package rest_test

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"corral/agent"
	"corral/api"
	"corral/api/rest"
)

// TestNodeFiles: the File operations of a compute node serve the node's root directory as Azure
// lays it out (shared, startup, workitems), never the node's own files, Corral's bookkeeping or
// what a symbolic link reaches outside those directories.
func TestNodeFiles(t *testing.T) {
	root := t.TempDir()
	e := newEnv(t, envOptions{files: nodeFiles{root: root}})
	n := runTasks(t, e, "t1")["t1"].NodeInfo
	l, err := agent.NewLayout(filepath.Join(root, n.PoolID, n.NodeID))
	if err != nil {
		t.Fatal(err)
	}
	taskDir, _ := l.TaskDir("j", "t1")
	writeFile(t, filepath.Join(l.Root(), agent.CredentialFile), "top secret")
	writeFile(t, filepath.Join(l.SharedDir(), "data.txt"), "0123456789")
	writeFile(t, filepath.Join(l.StartupDir(), "stdout.txt"), "")
	writeFile(t, filepath.Join(taskDir, "stdout.txt"), "hello\n")
	writeFile(t, filepath.Join(taskDir, ".corral-result.json"), "{}")
	if err := os.Symlink("../"+agent.CredentialFile, filepath.Join(l.SharedDir(), "cred")); err != nil {
		t.Fatal(err)
	}
	base := "/pools/p/nodes/" + n.NodeID + "/files"
	nodeURL := e.base + "/pools/p/nodes/" + n.NodeID

	r := e.do("GET", base, nil, nil)
	want(t, r, http.StatusOK, "")
	var p listPage
	r.decode(t, &p)
	if got := names(p.Value); !slices.Equal(got, []string{"shared", "startup", "workitems"}) || !p.Value[0].IsDirectory ||
		p.Value[0].URL != nodeURL+"/files/shared" {
		t.Fatalf("top of the node: %s", r.body)
	}
	e.do("GET", base, url.Values{"recursive": {"true"}}, nil).decode(t, &p)
	got := names(p.Value)
	for _, want := range []string{"shared/data.txt", "shared/cred", "startup/stdout.txt", "workitems/j/job-1/t1/stdout.txt"} {
		if !slices.Contains(got, want) {
			t.Errorf("recursive listing lacks %s: %q", want, got)
		}
	}
	for _, name := range got {
		if strings.Contains(name, ".corral-") || strings.Contains(name, agent.CredentialFile) {
			t.Errorf("recursive listing has %s", name)
		}
	}

	r = e.withHeader("GET", base+"/shared/data.txt", http.Header{rest.HeaderOCPRange: {"bytes=2-4"}})
	want(t, r, http.StatusOK, "")
	if string(r.body) != "234" || r.header.Get(rest.HeaderOCPBatchFileURL) != nodeURL+"/files/shared/data.txt" {
		t.Errorf("range of shared/data.txt: %q, headers %v", r.body, r.header)
	}
	r = e.do("HEAD", base+"/workitems/j/job-1/t1/stdout.txt", nil, nil)
	want(t, r, http.StatusOK, "")
	if r.header.Get("Content-Length") != "6" || r.header.Get(rest.HeaderOCPBatchFileIsDir) != "false" {
		t.Errorf("HEAD of the task's stdout: %v", r.header)
	}

	for _, tt := range []struct {
		name, method, path string
		query              url.Values
		status             int
		code               string
	}{
		{"the node's credential", "GET", base + "/" + agent.CredentialFile, nil, 404, api.CodeFileNotFound},
		{"a link to it", "GET", base + "/shared/cred", nil, 404, api.CodeFileNotFound},
		{"bookkeeping", "GET", base + "/workitems/j/job-1/t1/.corral-result.json", nil, 404, api.CodeFileNotFound},
		{"delete of the credential", "DELETE", base + "/" + agent.CredentialFile, nil, 404, api.CodeFileNotFound},
		{"delete of a layout directory", "DELETE", base + "/shared", url.Values{"recursive": {"true"}}, 409, api.CodeOperationInvalidForCurrentState},
		{"delete of a directory not empty", "DELETE", base + "/workitems/j", nil, 409, api.CodeOperationInvalidForCurrentState},
		{"missing node", "GET", "/pools/p/nodes/p-99/files", nil, 404, api.CodeNodeNotFound},
		{"missing pool", "GET", "/pools/nope/nodes/" + n.NodeID + "/files/shared/data.txt", nil, 404, api.CodePoolNotFound},
		{"bad recursive", "GET", base, url.Values{"recursive": {"deep"}}, 400, api.CodeInvalidQueryParameterValue},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(tt.method, tt.path, tt.query, nil)
			want(t, r, tt.status, tt.code)
			if strings.Contains(string(r.body), "top secret") {
				t.Errorf("served the node's credential: %q", r.body)
			}
		})
	}

	want(t, e.do("DELETE", base+"/shared/cred", nil, nil), http.StatusOK, "")
	want(t, e.do("DELETE", base+"/workitems/j", url.Values{"recursive": {"true"}}, nil), http.StatusOK, "")
	if _, err := os.Stat(filepath.Join(l.Root(), agent.CredentialFile)); err != nil {
		t.Errorf("the credential is gone: %v", err)
	}
	if _, err := os.Stat(taskDir); !os.IsNotExist(err) {
		t.Errorf("the task directory is still there: %v", err)
	}
}
