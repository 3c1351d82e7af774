package rest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"corral/agent"
	"corral/api"
	"corral/api/rest"
	"corral/api/sharedkey"
	"corral/batch"
)

// nodeFiles is a FileSource over node directories in the agent's layout under root: node n of
// pool p in root/p/n, as the local provider keeps them. It reports created as every file's
// creation time (the agent does not know it), to show the ocp-creation-time header.
type nodeFiles struct {
	root    string
	created time.Time
}

func (f nodeFiles) layout(poolID, nodeID string) agent.Layout {
	l, err := agent.NewLayout(filepath.Join(f.root, poolID, nodeID))
	if err != nil {
		panic(err)
	}
	return l
}

func (f nodeFiles) info(fi agent.FileInfo) rest.FileInfo {
	return rest.FileInfo{Path: fi.Path, IsDirectory: fi.IsDir, Size: fi.Size, CreationTime: f.created, LastModified: fi.ModTime, Mode: fi.Mode}
}

func (f nodeFiles) ListFiles(ctx context.Context, poolID, nodeID, jobID, taskID string, recursive bool) ([]rest.FileInfo, error) {
	l := f.layout(poolID, nodeID)
	list, err := l.ListFiles(jobID, taskID, recursive)
	if jobID == "" && taskID == "" {
		list, err = l.ListNodeFiles(recursive)
	}
	if err != nil {
		return nil, err
	}
	out := make([]rest.FileInfo, len(list))
	for i, fi := range list {
		out[i] = f.info(fi)
	}
	slices.Reverse(out) // the handler must not rely on the order
	return out, nil
}

func (f nodeFiles) OpenFile(ctx context.Context, poolID, nodeID, jobID, taskID, name string) (io.ReadSeekCloser, rest.FileInfo, error) {
	l := f.layout(poolID, nodeID)
	node := jobID == "" && taskID == ""
	var file *os.File
	var fi agent.FileInfo
	var err error
	if node {
		file, fi, err = l.OpenNodeFile(name)
	} else {
		file, fi, err = l.OpenFile(jobID, taskID, name)
	}
	if errors.Is(err, agent.ErrIsDir) {
		if node {
			fi, err = l.StatNodeFile(name)
		} else {
			fi, err = l.StatFile(jobID, taskID, name)
		}
		if err != nil {
			return nil, rest.FileInfo{}, sourceError(err)
		}
		return nil, rest.FileInfo{Path: name, IsDirectory: true, LastModified: fi.ModTime, Mode: fi.Mode}, nil
	}
	if err != nil {
		return nil, rest.FileInfo{}, sourceError(err)
	}
	return file, f.info(fi), nil
}

func (f nodeFiles) DeleteFile(ctx context.Context, poolID, nodeID, jobID, taskID, name string, recursive bool) error {
	l := f.layout(poolID, nodeID)
	if jobID == "" && taskID == "" {
		return sourceError(l.DeleteNodeFile(name, recursive))
	}
	return sourceError(l.DeleteFile(jobID, taskID, name, recursive))
}

// sourceError maps the agent's errors to the FileSource's.
func sourceError(err error) error {
	for _, m := range []struct{ from, to error }{
		{agent.ErrInvalidPath, rest.ErrInvalidFilePath},
		{agent.ErrPathEscapes, rest.ErrFileOutsideTask},
		{agent.ErrNotEmpty, rest.ErrDirectoryNotEmpty},
		{agent.ErrProtected, rest.ErrFileProtected},
	} {
		if errors.Is(err, m.from) {
			return fmt.Errorf("%w: %w", m.to, err)
		}
	}
	return err
}

// runTasks adds pool p (one node), job j and the given tasks, waits until they have completed
// (on agent models) and returns them.
func runTasks(t *testing.T, e *env, ids ...string) map[string]batch.Task {
	t.Helper()
	created(t, e.do("POST", "/pools", nil, pool("p", 1)), http.StatusCreated, e.base+"/pools/p")
	created(t, e.do("POST", "/jobs", nil, job("j", "p", false)), http.StatusCreated, e.base+"/jobs/j")
	var tasks []batch.Task
	for _, id := range ids {
		tasks = append(tasks, task(id))
	}
	want(t, e.do("POST", "/jobs/j/addtaskcollection", nil, map[string]any{"value": tasks}), http.StatusOK, "")
	out := map[string]batch.Task{}
	eventually(t, "tasks completed", func() string {
		var page api.Page[batch.Task]
		e.do("GET", "/jobs/j/tasks", nil, nil).decode(t, &page)
		for _, tk := range page.Value {
			if tk.State != batch.TaskCompleted || tk.NodeInfo == nil {
				return fmt.Sprintf("task %s %s", tk.ID, tk.State)
			}
			out[tk.ID] = tk
		}
		if len(out) != len(ids) {
			return fmt.Sprintf("%d of %d tasks", len(out), len(ids))
		}
		return ""
	})
	return out
}

// writeFile writes a file of the test task directory with mode 0644 (whatever the umask).
func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(name, 0o644); err != nil {
		t.Fatal(err)
	}
}

// listPage is the body of File - List From Task.
type listPage struct {
	Metadata string          `json:"odata.metadata"`
	Value    []rest.NodeFile `json:"value"`
	NextLink string          `json:"odata.nextLink"`
}

func names(files []rest.NodeFile) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Name)
	}
	return out
}

// withHeader returns a signed request with header added.
func (e *env) withHeader(method, path string, header http.Header) response {
	e.t.Helper()
	return e.send(e.newRequest(method, path, nil, nil, header))
}

// rawPath sends a signed request whose path is sent escaped exactly as rawPath.
func (e *env) rawPath(method, rawPath string) response {
	e.t.Helper()
	req := e.newRequest(method, "/", nil, nil, nil)
	p, err := url.PathUnescape(rawPath)
	if err != nil {
		e.t.Fatal(err)
	}
	req.URL.Path, req.URL.RawPath = p, rawPath
	if req.URL.EscapedPath() != rawPath {
		e.t.Fatalf("escaped path %q, want %q", req.URL.EscapedPath(), rawPath)
	}
	req.Header.Del("Authorization")
	if err := sharedkey.Sign(req, account, primaryKey); err != nil {
		e.t.Fatal(err)
	}
	return e.send(req)
}

func TestTaskFiles(t *testing.T) {
	root := t.TempDir()
	created0 := time.Date(2024, 5, 1, 12, 30, 0, 0, time.UTC)
	e := newEnv(t, envOptions{files: nodeFiles{root: root, created: created0}})
	tasks := runTasks(t, e, "t1", "t2")
	n := tasks["t1"].NodeInfo
	dir, err := agent.NewLayout(filepath.Join(root, n.PoolID, n.NodeID))
	if err != nil {
		t.Fatal(err)
	}
	taskDir, err := dir.TaskDir("j", "t1")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(taskDir, "stdout.txt"), "hello\n")
	writeFile(t, filepath.Join(taskDir, "stderr.txt"), "")
	writeFile(t, filepath.Join(taskDir, "wd", "out.txt"), "0123456789")
	writeFile(t, filepath.Join(taskDir, "wd", "sub dir", "deep.txt"), "deep")
	writeFile(t, filepath.Join(taskDir, ".corral-result.json"), `{"exitCode":0}`)
	secret := filepath.Join(root, "secret.txt")
	writeFile(t, secret, "top secret")
	if err := os.Symlink(secret, filepath.Join(taskDir, "wd", "link")); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2024, 6, 1, 8, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(taskDir, "wd", "out.txt"), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	taskURL := e.base + "/jobs/j/tasks/t1"

	t.Run("list", func(t *testing.T) {
		r := e.do("GET", "/jobs/j/tasks/t1/files", nil, nil)
		want(t, r, http.StatusOK, "")
		var p listPage
		r.decode(t, &p)
		if got, want := names(p.Value), []string{"stderr.txt", "stdout.txt", "wd"}; !slices.Equal(got, want) {
			t.Fatalf("names = %q, want %q", got, want)
		}
		if p.Metadata != e.base+"/$metadata#files" || p.NextLink != "" {
			t.Errorf("page = %s", r.body)
		}
		out, wd := p.Value[1], p.Value[2]
		if out.URL != taskURL+"/files/stdout.txt" || out.IsDirectory || out.Properties == nil {
			t.Fatalf("stdout.txt = %+v", out)
		}
		if pr := out.Properties; pr.ContentLength != 6 || pr.ContentType != "application/octet-stream" || pr.FileMode != "0644" ||
			pr.LastModified.IsZero() || !pr.CreationTime.Equal(created0) {
			t.Errorf("stdout.txt properties = %+v", pr)
		}
		if !wd.IsDirectory || wd.Properties != nil || wd.URL != taskURL+"/files/wd" {
			t.Errorf("wd = %+v", wd)
		}
		// The JSON as Azure writes it.
		if !strings.Contains(string(r.body), `"name":"stdout.txt","url":"`+taskURL+`/files/stdout.txt","isDirectory":false,"properties":{"creationTime":"2024-05-01T12:30:00Z","lastModified":"`) {
			t.Errorf("body = %s", r.body)
		}

		r = e.do("GET", "/jobs/j/tasks/t1/files", url.Values{"recursive": {"true"}}, nil)
		want(t, r, http.StatusOK, "")
		p = listPage{}
		r.decode(t, &p)
		all := []string{"stderr.txt", "stdout.txt", "wd", "wd/link", "wd/out.txt", "wd/sub dir", "wd/sub dir/deep.txt"}
		if got := names(p.Value); !slices.Equal(got, all) {
			t.Fatalf("recursive names = %q, want %q", got, all)
		}
		for _, f := range p.Value {
			switch f.Name {
			case "wd/sub dir/deep.txt":
				if f.URL != taskURL+"/files/wd/sub%20dir/deep.txt" || f.Properties.ContentLength != 4 {
					t.Errorf("deep.txt = %+v", f)
				}
			case "wd/out.txt":
				if !f.Properties.LastModified.Equal(mtime) {
					t.Errorf("out.txt lastModified = %v", f.Properties.LastModified)
				}
			}
		}

		// Pages of two, in order, with nothing lost or repeated.
		var paged []string
		r = e.do("GET", "/jobs/j/tasks/t1/files", url.Values{"recursive": {"True"}, "maxresults": {"2"}}, nil)
		for pages := 0; ; pages++ {
			want(t, r, http.StatusOK, "")
			p = listPage{}
			r.decode(t, &p)
			paged = append(paged, names(p.Value)...)
			if p.NextLink == "" {
				break
			}
			if pages > 10 || len(p.Value) != 2 {
				t.Fatalf("page %d = %s", pages, r.body)
			}
			r = e.follow(p.NextLink)
		}
		if !slices.Equal(paged, all) {
			t.Errorf("paged names = %q, want %q", paged, all)
		}

		// The ids of the path are matched without regard to case, as everywhere in Azure.
		r = e.do("GET", "/jobs/J/tasks/T1/files", nil, nil)
		want(t, r, http.StatusOK, "")
		p = listPage{}
		r.decode(t, &p)
		if len(p.Value) != 3 || p.Value[0].URL != taskURL+"/files/stderr.txt" {
			t.Errorf("list by other case = %s", r.body)
		}
	})

	t.Run("get", func(t *testing.T) {
		for _, path := range []string{"/jobs/j/tasks/t1/files/wd/out.txt", "/jobs/j/tasks/t1/files/wd%2Fout.txt", "/jobs/j/tasks/t1/files/wd%2F.%2Fout.txt"} {
			r := e.rawPath("GET", path)
			want(t, r, http.StatusOK, "")
			if string(r.body) != "0123456789" {
				t.Errorf("GET %s: body %q", path, r.body)
			}
			h := r.header
			for k, v := range map[string]string{
				"Content-Type":               "application/octet-stream",
				"Content-Length":             "10",
				"Last-Modified":              "Sat, 01 Jun 2024 08:00:00 GMT",
				"ocp-creation-time":          "Wed, 01 May 2024 12:30:00 GMT",
				"ocp-batch-file-isdirectory": "false",
				"ocp-batch-file-url":         taskURL + "/files/wd/out.txt",
				"ocp-batch-file-mode":        "0644",
				"DataServiceVersion":         "3.0",
			} {
				if got := h.Get(k); got != v {
					t.Errorf("GET %s: %s = %q, want %q", path, k, got, v)
				}
			}
			if !uuidRE.MatchString(h.Get("request-id")) {
				t.Errorf("request-id = %q", h.Get("request-id"))
			}
		}
		r := e.do("GET", "/jobs/j/tasks/t1/files/stderr.txt", nil, nil)
		if r.status != http.StatusOK || len(r.body) != 0 || r.header.Get("Content-Length") != "0" {
			t.Errorf("empty file: %d %q %v", r.status, r.body, r.header)
		}
	})

	t.Run("ranges", func(t *testing.T) {
		const path = "/jobs/j/tasks/t1/files/wd/out.txt"
		for _, tt := range []struct {
			header       string
			value        string
			status       int
			code         string
			body         string
			contentRange string
		}{
			{"ocp-range", "bytes=2-5", 200, "", "2345", ""},
			{"ocp-range", "2-5", 200, "", "2345", ""},
			{"ocp-range", "bytes=3-", 200, "", "3456789", ""},
			{"ocp-range", "bytes=7-100", 200, "", "789", ""},
			{"ocp-range", "bytes=-3", 200, "", "789", ""},
			{"ocp-range", "bytes=10-12", 416, api.CodeInvalidRange, "", ""},
			{"ocp-range", "bytes=5-2", 400, api.CodeInvalidHeaderValue, "", ""},
			{"ocp-range", "bytes=a-b", 400, api.CodeInvalidHeaderValue, "", ""},
			{"ocp-range", "bytes=0-1,4-5", 400, api.CodeInvalidHeaderValue, "", ""},
			{"Range", "bytes=2-5", 206, "", "2345", "bytes 2-5/10"},
			{"Range", "bytes=8-", 206, "", "89", "bytes 8-9/10"},
			{"Range", "bytes=-4", 206, "", "6789", "bytes 6-9/10"},
			{"Range", "bytes=50-", 416, api.CodeInvalidRange, "", "bytes */10"},
			{"Range", "bytes=0-1,4-5", 200, "", "0123456789", ""}, // several ranges: the whole file
			{"Range", "lines=1-2", 200, "", "0123456789", ""},
		} {
			r := e.withHeader("GET", path, http.Header{http.CanonicalHeaderKey(tt.header): {tt.value}})
			want(t, r, tt.status, tt.code)
			if tt.code == "" && string(r.body) != tt.body {
				t.Errorf("%s: %s: body %q, want %q", tt.header, tt.value, r.body, tt.body)
			}
			if tt.code == "" && r.header.Get("Content-Length") != fmt.Sprint(len(tt.body)) {
				t.Errorf("%s: %s: Content-Length %q", tt.header, tt.value, r.header.Get("Content-Length"))
			}
			if got := r.header.Get("Content-Range"); got != tt.contentRange {
				t.Errorf("%s: %s: Content-Range %q, want %q", tt.header, tt.value, got, tt.contentRange)
			}
		}
		// ocp-range wins over Range.
		r := e.withHeader("GET", path, http.Header{"Ocp-Range": {"bytes=0-0"}, "Range": {"bytes=9-9"}})
		if r.status != http.StatusOK || string(r.body) != "0" {
			t.Errorf("both ranges: %d %q", r.status, r.body)
		}
		// Any range of an empty file is unsatisfiable.
		want(t, e.withHeader("GET", "/jobs/j/tasks/t1/files/stderr.txt", http.Header{"Ocp-Range": {"bytes=0-"}}), 416, api.CodeInvalidRange)
	})

	t.Run("properties", func(t *testing.T) {
		r := e.do("HEAD", "/jobs/j/tasks/t1/files/wd/out.txt", nil, nil)
		if r.status != http.StatusOK || len(r.body) != 0 {
			t.Fatalf("HEAD: %d %q", r.status, r.body)
		}
		for k, v := range map[string]string{
			"Content-Length":             "10",
			"Last-Modified":              "Sat, 01 Jun 2024 08:00:00 GMT",
			"ocp-creation-time":          "Wed, 01 May 2024 12:30:00 GMT",
			"ocp-batch-file-isdirectory": "false",
			"ocp-batch-file-url":         taskURL + "/files/wd/out.txt",
			"ocp-batch-file-mode":        "0644",
		} {
			if got := r.header.Get(k); got != v {
				t.Errorf("HEAD: %s = %q, want %q", k, got, v)
			}
		}
		// A directory.
		for _, method := range []string{"HEAD", "GET"} {
			r = e.do(method, "/jobs/j/tasks/t1/files/wd", nil, nil)
			if r.status != http.StatusOK || len(r.body) != 0 || r.header.Get("ocp-batch-file-isdirectory") != "true" ||
				r.header.Get("Content-Length") != "0" || r.header.Get("ocp-batch-file-url") != taskURL+"/files/wd" {
				t.Errorf("%s of a directory: %d %q %v", method, r.status, r.body, r.header)
			}
		}
		// Conditions on the file's last-modified time.
		for _, tt := range []struct {
			name, value string
			status      int
		}{
			{"If-Modified-Since", "Sat, 01 Jun 2024 08:00:00 GMT", http.StatusNotModified},
			{"If-Modified-Since", "Fri, 31 May 2024 08:00:00 GMT", http.StatusOK},
			{"If-Unmodified-Since", "Sat, 01 Jun 2024 08:00:00 GMT", http.StatusOK},
			{"If-Unmodified-Since", "Fri, 31 May 2024 08:00:00 GMT", http.StatusPreconditionFailed},
			{"If-Modified-Since", "yesterday", http.StatusBadRequest},
		} {
			for _, method := range []string{"GET", "HEAD"} {
				r := e.withHeader(method, "/jobs/j/tasks/t1/files/wd/out.txt", http.Header{tt.name: {tt.value}})
				if r.status != tt.status {
					t.Errorf("%s with %s: %s = %d, want %d", method, tt.name, tt.value, r.status, tt.status)
				}
				if r.status == http.StatusNotModified && (len(r.body) != 0 || r.header.Get("Last-Modified") == "") {
					t.Errorf("304: body %q, Last-Modified %q", r.body, r.header.Get("Last-Modified"))
				}
			}
		}
		want(t, e.withHeader("GET", "/jobs/j/tasks/t1/files/wd/out.txt", http.Header{"If-Unmodified-Since": {"Fri, 31 May 2024 08:00:00 GMT"}}),
			http.StatusPreconditionFailed, api.CodeConditionNotMet)
	})

	t.Run("errors", func(t *testing.T) {
		unsigned := func(method, path string) func() response {
			return func() response {
				req := e.newRequest(method, path, nil, nil, nil)
				req.Header.Del("Authorization")
				return e.send(req)
			}
		}
		get := func(method, path string) func() response {
			return func() response { return e.do(method, path, nil, nil) }
		}
		raw := func(method, path string) func() response { return func() response { return e.rawPath(method, path) } }
		for _, tt := range []struct {
			name   string
			send   func() response
			status int
			code   string
		}{
			{"missing file", get("GET", "/jobs/j/tasks/t1/files/nope.txt"), 404, api.CodeFileNotFound},
			{"missing file in a missing directory", get("GET", "/jobs/j/tasks/t1/files/nope/x.txt"), 404, api.CodeFileNotFound},
			{"HEAD of a missing file", get("HEAD", "/jobs/j/tasks/t1/files/nope.txt"), 404, ""},
			{"bookkeeping file", get("GET", "/jobs/j/tasks/t1/files/.corral-result.json"), 404, api.CodeFileNotFound},
			{"encoded ..", raw("GET", "/jobs/j/tasks/t1/files/%2E%2E/t2/stdout.txt"), 404, api.CodeFileNotFound},
			{"encoded .. and slashes", raw("GET", "/jobs/j/tasks/t1/files/wd%2F..%2F..%2F..%2F..%2F..%2F..%2Fsecret.txt"), 404, api.CodeFileNotFound},
			{"encoded absolute path", raw("GET", "/jobs/j/tasks/t1/files/%2F"+strings.TrimPrefix(secret, "/")), 404, api.CodeFileNotFound},
			{"symbolic link out of the task directory", get("GET", "/jobs/j/tasks/t1/files/wd/link"), 404, api.CodeFileNotFound},
			{"empty path", get("GET", "/jobs/j/tasks/t1/files/"), 404, api.CodeFileNotFound},
			{"unsigned list", unsigned("GET", "/jobs/j/tasks/t1/files"), 403, api.CodeAuthenticationFailed},
			{"unsigned get", unsigned("GET", "/jobs/j/tasks/t1/files/stdout.txt"), 403, api.CodeAuthenticationFailed},
			{"list of a missing task", get("GET", "/jobs/j/tasks/nope/files"), 404, api.CodeTaskNotFound},
			{"get of a missing task", get("GET", "/jobs/j/tasks/nope/files/stdout.txt"), 404, api.CodeTaskNotFound},
			{"escaping path of a missing task", raw("GET", "/jobs/j/tasks/nope/files/%2E%2E"), 404, api.CodeTaskNotFound},
			{"list of a missing job", get("GET", "/jobs/nope/tasks/t1/files"), 404, api.CodeJobNotFound},
			{"get of a missing job", get("GET", "/jobs/nope/tasks/t1/files/stdout.txt"), 404, api.CodeJobNotFound},
			{"bad recursive", func() response {
				return e.do("GET", "/jobs/j/tasks/t1/files", url.Values{"recursive": {"maybe"}}, nil)
			}, 400, api.CodeInvalidQueryParameterValue},
			{"bad maxresults", func() response {
				return e.do("GET", "/jobs/j/tasks/t1/files", url.Values{"maxresults": {"0"}}, nil)
			}, 400, api.CodeOutOfRangeQueryParameterValue},
			{"bad skiptoken", func() response {
				return e.do("GET", "/jobs/j/tasks/t1/files", url.Values{"$skiptoken": {"!!"}}, nil)
			}, 400, api.CodeInvalidQueryParameterValue},
			// t2 ran, but its node has no directory for it.
			{"list of a task without files", get("GET", "/jobs/j/tasks/t2/files"), 409, api.CodeTaskFilesUnavailable},
			{"get of a task without files", get("GET", "/jobs/j/tasks/t2/files/stdout.txt"), 404, api.CodeFileNotFound},
			{"delete of a bookkeeping file", get("DELETE", "/jobs/j/tasks/t1/files/.corral-result.json"), 404, api.CodeFileNotFound},
			{"delete of a missing file", get("DELETE", "/jobs/j/tasks/t1/files/nope.txt"), 404, api.CodeFileNotFound},
			{"delete through encoded ..", raw("DELETE", "/jobs/j/tasks/t1/files/wd%2F..%2F..%2Ft2"), 404, api.CodeFileNotFound},
			{"delete of a directory not empty", get("DELETE", "/jobs/j/tasks/t1/files/wd"), 409, api.CodeOperationInvalidForCurrentState},
			{"delete of a missing task's file", get("DELETE", "/jobs/j/tasks/nope/files/stdout.txt"), 404, api.CodeTaskNotFound},
			{"delete with a bad recursive", func() response {
				return e.do("DELETE", "/jobs/j/tasks/t1/files/wd", url.Values{"recursive": {"maybe"}}, nil)
			}, 400, api.CodeInvalidQueryParameterValue},
			{"POST", get("POST", "/jobs/j/tasks/t1/files"), 405, api.CodeUnsupportedHTTPVerb},
		} {
			t.Run(tt.name, func(t *testing.T) {
				r := tt.send()
				want(t, r, tt.status, tt.code)
				if strings.Contains(string(r.body), "top secret") {
					t.Errorf("served a file outside the task directory: %q", r.body)
				}
			})
		}
		// Literal dot segments are cleaned by the router: it redirects (307) to the clean path,
		// which a client must sign anew; the file is never served.
		req := e.newRequest("GET", "/", nil, nil, nil)
		req.URL.Path = "/jobs/j/tasks/t1/files/../../../../../../.." + secret
		req.Header.Del("Authorization")
		if err := sharedkey.Sign(req, account, primaryKey); err != nil {
			t.Fatal(err)
		}
		client := *e.srv.Client()
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if loc, _ := resp.Location(); resp.StatusCode != http.StatusTemporaryRedirect || loc == nil || loc.Path != secret ||
			strings.Contains(string(body), "top secret") {
			t.Errorf("literal ..: %d, Location %v, body %q", resp.StatusCode, loc, body)
		}
	})

	// File - Delete From Task: a symbolic link is deleted, not what it points to; a directory
	// with recursive=true.
	t.Run("delete", func(t *testing.T) {
		want(t, e.do("DELETE", "/jobs/j/tasks/t1/files/wd/link", nil, nil), http.StatusOK, "")
		if _, err := os.Stat(secret); err != nil {
			t.Errorf("the link's target is gone: %v", err)
		}
		want(t, e.do("DELETE", "/jobs/j/tasks/t1/files/stdout.txt", nil, nil), http.StatusOK, "")
		want(t, e.do("GET", "/jobs/j/tasks/t1/files/stdout.txt", nil, nil), http.StatusNotFound, api.CodeFileNotFound)
		want(t, e.do("DELETE", "/jobs/j/tasks/t1/files/wd", url.Values{"recursive": {"true"}}, nil), http.StatusOK, "")
		var p listPage
		e.do("GET", "/jobs/j/tasks/t1/files", url.Values{"recursive": {"true"}}, nil).decode(t, &p)
		if got := names(p.Value); !slices.Equal(got, []string{"stderr.txt"}) {
			t.Errorf("files after the deletes: %q", got)
		}
		if _, err := os.Stat(filepath.Join(taskDir, ".corral-result.json")); err != nil {
			t.Errorf("the bookkeeping is gone: %v", err)
		}
	})
}

// TestTaskFilesBeforeRun: a task that has never been on a node has no files: Azure answers
// OperationInvalidForCurrentState.
func TestTaskFilesBeforeRun(t *testing.T) {
	e := newEnv(t, envOptions{files: nodeFiles{root: t.TempDir()}})
	created(t, e.do("POST", "/pools", nil, pool("idle", 0)), http.StatusCreated, e.base+"/pools/idle")
	created(t, e.do("POST", "/jobs", nil, job("j", "idle", false)), http.StatusCreated, e.base+"/jobs/j")
	created(t, e.do("POST", "/jobs/j/tasks", nil, task("t")), http.StatusCreated, e.base+"/jobs/j/tasks/t")
	want(t, e.do("GET", "/jobs/j/tasks/t/files", nil, nil), http.StatusConflict, api.CodeOperationInvalidForCurrentState)
	want(t, e.do("GET", "/jobs/j/tasks/t/files/stdout.txt", nil, nil), http.StatusConflict, api.CodeOperationInvalidForCurrentState)
	if r := e.do("HEAD", "/jobs/j/tasks/t/files/stdout.txt", nil, nil); r.status != http.StatusConflict || len(r.body) != 0 {
		t.Errorf("HEAD: %d %q", r.status, r.body)
	}
	// Terminated without ever running: still no files.
	created(t, e.do("POST", "/jobs/j/tasks/t/terminate", nil, nil), http.StatusNoContent, e.base+"/jobs/j/tasks/t")
	want(t, e.do("GET", "/jobs/j/tasks/t/files", nil, nil), http.StatusConflict, api.CodeOperationInvalidForCurrentState)
}

// failingFiles is a FileSource that fails.
type failingFiles struct{ err error }

func (f failingFiles) ListFiles(context.Context, string, string, string, string, bool) ([]rest.FileInfo, error) {
	return nil, f.err
}

func (f failingFiles) OpenFile(context.Context, string, string, string, string, string) (io.ReadSeekCloser, rest.FileInfo, error) {
	return nil, rest.FileInfo{}, f.err
}

func (f failingFiles) DeleteFile(context.Context, string, string, string, string, string, bool) error {
	return f.err
}

// TestTaskFilesSourceFails: a FileSource failure is an InternalError, whose details the client
// does not see; a node that cannot be reached makes the files unavailable.
func TestTaskFilesSourceFails(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"failure", errors.New("disk on fire"), http.StatusInternalServerError, api.CodeInternalError},
		{"node unreachable", fmt.Errorf("%w: disk on fire", rest.ErrFilesUnavailable), http.StatusConflict, api.CodeTaskFilesUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{files: failingFiles{tt.err}})
			runTasks(t, e, "t")
			for _, path := range []string{"/jobs/j/tasks/t/files", "/jobs/j/tasks/t/files/stdout.txt"} {
				r := e.do("GET", path, nil, nil)
				want(t, r, tt.status, tt.code)
				if strings.Contains(string(r.body), "fire") {
					t.Errorf("%s: the client sees the failure: %s", path, r.body)
				}
			}
		})
	}
}
