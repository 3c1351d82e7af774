//go:build linux

package agentlink_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"corral/agent"
	"corral/agent/protocol"
	"corral/agentlink"
)

// writeTaskFiles gives task j1/t1 of the node rooted at root a few files, a bookkeeping file
// and a symbolic link to a secret outside the task directory, and returns wd/data.bin's
// content.
func writeTaskFiles(t *testing.T, root string) []byte {
	t.Helper()
	l, err := agent.NewLayout(root)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := l.TaskDir("j1", "t1")
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 300<<10)
	for i := range data {
		data[i] = byte(i*7 + i/251)
	}
	secret := filepath.Join(root, "secret.txt")
	for name, content := range map[string][]byte{
		filepath.Join(dir, agent.StdoutFile):          []byte("hello\n"),
		filepath.Join(dir, "wd", "data.bin"):          data,
		filepath.Join(dir, ".corral-result.json"):     []byte("{}"),
		filepath.Join(dir, "wd", "sub", "nested.txt"): []byte("n"),
		secret: []byte("top secret"),
	} {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, content, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(secret, filepath.Join(dir, "wd", "esc")); err != nil {
		t.Fatal(err)
	}
	return data
}

// fileCode returns the code of the agent's error in err, or "".
func fileCode(err error) string {
	var fe *protocol.FileError
	if errors.As(err, &fe) {
		return fe.Code
	}
	return ""
}

func entryPaths(es []protocol.FileEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Path)
	}
	slices.Sort(out)
	return out
}

// connect makes node's agent look connected to the Hub: it makes one sync request.
func (s *server) connect(t *testing.T, ctx context.Context, pool, node string) {
	t.Helper()
	if code, _, body := s.post(t, ctx, testCred(pool, node), pool, node, protocol.SyncRequest{Reports: []protocol.Message{}}); code != http.StatusOK {
		t.Fatalf("sync of %s/%s: %d %s", pool, node, code, body)
	}
}

// TestFilesThroughAgent: list, stat and read a task's files through the Hub and a real agent,
// which keeps every request inside the task directory, while a call to another node waits
// unanswered.
func TestFilesThroughAgent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	s := newServer(t, agentlink.HubOptions{PollTimeout: 5 * time.Second})
	root := t.TempDir()
	data := writeTaskFiles(t, root)
	runClient(t, s.srv.URL, root, nil)
	next[protocol.Hello](t, ctx, s.stub.events)

	// A call to a node that never answers does not hold up the others.
	s.connect(t, ctx, "p1", "n3")
	silent := make(chan error, 1)
	sctx, scancel := context.WithCancel(ctx)
	go func() {
		_, _, err := s.hub.Files(sctx, "p1", "n3", protocol.FileRequest{JobID: "j1", TaskID: "t1", Op: protocol.FileOpList})
		silent <- err
	}()
	waitFor(t, ctx, "the call to n3 waits", func() bool { return s.hub.FileCalls() == 1 })

	read := func(path string, off, n int64) protocol.FileRequest {
		return protocol.FileRequest{JobID: "j1", TaskID: "t1", Op: protocol.FileOpRead, Path: path, Offset: off, Length: n}
	}
	stat := func(path string) protocol.FileRequest {
		return protocol.FileRequest{JobID: "j1", TaskID: "t1", Op: protocol.FileOpStat, Path: path}
	}
	tests := []struct {
		name  string
		req   protocol.FileRequest
		code  string // of the agent's error; "" for none
		check func(t *testing.T, a protocol.FileAnswer, got []byte)
	}{
		{"list", protocol.FileRequest{JobID: "j1", TaskID: "t1", Op: protocol.FileOpList}, "", func(t *testing.T, a protocol.FileAnswer, _ []byte) {
			if got := entryPaths(a.Files); !slices.Equal(got, []string{"stdout.txt", "wd"}) {
				t.Errorf("listed %v", got)
			}
		}},
		{"list recursive", protocol.FileRequest{JobID: "j1", TaskID: "t1", Op: protocol.FileOpList, Recursive: true}, "", func(t *testing.T, a protocol.FileAnswer, _ []byte) {
			want := []string{"stdout.txt", "wd", "wd/data.bin", "wd/esc", "wd/sub", "wd/sub/nested.txt"}
			if got := entryPaths(a.Files); !slices.Equal(got, want) {
				t.Errorf("listed %v, want %v", got, want)
			}
		}},
		{"list of a task without files", protocol.FileRequest{JobID: "j1", TaskID: "nope", Op: protocol.FileOpList}, protocol.FileErrNotFound, nil},
		{"list of an invalid job id", protocol.FileRequest{JobID: "..", TaskID: "t1", Op: protocol.FileOpList}, protocol.FileErrNotFound, nil},
		{"stat of a file", stat("wd/data.bin"), "", func(t *testing.T, a protocol.FileAnswer, _ []byte) {
			if f := a.File; f == nil || f.Path != "wd/data.bin" || f.IsDir || f.Size != int64(len(data)) || f.Mode.Perm() != 0o640 || f.ModTime.IsZero() {
				t.Errorf("stat = %+v", f)
			}
		}},
		{"stat of a directory", stat("wd/sub"), "", func(t *testing.T, a protocol.FileAnswer, _ []byte) {
			if f := a.File; f == nil || !f.IsDir || f.Size != 0 {
				t.Errorf("stat = %+v", f)
			}
		}},
		{"read of a whole file", read("stdout.txt", 0, 100), "", func(t *testing.T, a protocol.FileAnswer, got []byte) {
			if string(got) != "hello\n" || a.Length != 6 || a.File == nil || a.File.Size != 6 {
				t.Errorf("read %q, answer %+v", got, a)
			}
		}},
		{"read at an offset", read("wd/data.bin", 1000, 70000), "", func(t *testing.T, _ protocol.FileAnswer, got []byte) {
			if !bytes.Equal(got, data[1000:71000]) {
				t.Errorf("read %d bytes, not data[1000:71000]", len(got))
			}
		}},
		{"read over the end", read("wd/data.bin", int64(len(data))-10, 100), "", func(t *testing.T, _ protocol.FileAnswer, got []byte) {
			if !bytes.Equal(got, data[len(data)-10:]) {
				t.Errorf("read %q, want the last 10 bytes", got)
			}
		}},
		{"read past the end", read("wd/data.bin", int64(len(data))+1, 100), "", func(t *testing.T, a protocol.FileAnswer, got []byte) {
			if len(got) != 0 || a.Length != 0 {
				t.Errorf("read %d bytes past the end", len(got))
			}
		}},
		{"read of ../x", read("../t2/stdout.txt", 0, 10), protocol.FileErrInvalidPath, nil},
		{"read of an absolute path", read("/etc/passwd", 0, 10), protocol.FileErrInvalidPath, nil},
		{"stat of ..", stat(".."), protocol.FileErrInvalidPath, nil},
		{"read through a link out of the task directory", read("wd/esc", 0, 10), protocol.FileErrOutsideTask, nil},
		{"stat through a link out of the task directory", stat("wd/esc"), protocol.FileErrOutsideTask, nil},
		{"read of a directory", read("wd", 0, 10), protocol.FileErrIsDirectory, nil},
		{"read of a missing file", read("nope.txt", 0, 10), protocol.FileErrNotFound, nil},
		{"read of a bookkeeping file", read(".corral-result.json", 0, 10), protocol.FileErrNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, got, err := s.hub.Files(ctx, "p1", "n1", tt.req)
			if code := fileCode(err); code != tt.code || (tt.code == "") != (err == nil) {
				t.Fatalf("Files = %+v, %v; want code %q", a, err, tt.code)
			}
			if tt.code == protocol.FileErrNotFound && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error %v is not fs.ErrNotExist", err)
			}
			if strings.Contains(string(got), "top secret") {
				t.Errorf("read outside the task directory: %q", got)
			}
			if tt.check != nil {
				tt.check(t, a, got)
			}
		})
	}

	scancel()
	if err := <-silent; !errors.Is(err, context.Canceled) {
		t.Errorf("the call to n3 ended with %v, want context.Canceled", err)
	}
	if n := s.hub.FileCalls(); n != 0 {
		t.Errorf("%d calls left waiting", n)
	}
	waitFor(t, ctx, "the answered commands leave the outbox", func() bool { return s.hub.Pending("n1") == 0 && s.hub.Pending("n3") == 0 })
}

// TestFilesRefusesBadRequests: Files refuses what an agent must not be asked, without asking.
func TestFilesRefusesBadRequests(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	s := newServer(t, agentlink.HubOptions{})
	s.connect(t, ctx, "p1", "n1")
	for _, req := range []protocol.FileRequest{
		{JobID: "j", TaskID: "t", Op: "delete", Path: "x"},
		{JobID: "j", TaskID: "t", Op: protocol.FileOpRead, Path: "x", Length: 0},
		{JobID: "j", TaskID: "t", Op: protocol.FileOpRead, Path: "x", Offset: -1, Length: 1},
		{JobID: "j", TaskID: "t", Op: protocol.FileOpRead, Path: "x", Length: protocol.MaxFileChunk + 1},
	} {
		if _, _, err := s.hub.Files(ctx, "p1", "n1", req); err == nil {
			t.Errorf("Files(%+v): no error", req)
		}
	}
	if n := s.hub.Pending("n1"); n != 0 {
		t.Errorf("%d commands sent", n)
	}
}

// fileRequestOf returns the FileRequest waiting in node's outbox.
func (s *server) fileRequestOf(t *testing.T, ctx context.Context, pool, node string) protocol.FileRequest {
	t.Helper()
	var req protocol.FileRequest
	waitFor(t, ctx, "a file request in the outbox", func() bool { return s.hub.Pending(node) > 0 })
	_, sr, _ := s.post(t, ctx, testCred(pool, node), pool, node, protocol.SyncRequest{Reports: []protocol.Message{}})
	for _, m := range sr.Commands {
		if r, ok := m.Body.(protocol.FileRequest); ok {
			req = r
		}
	}
	if req.RequestID == "" {
		t.Fatalf("no FileRequest in %+v", sr)
	}
	return req
}

// upload POSTs body as an answer to request id with the credential of pool/node (no
// credential if pool is "") and returns the status.
func (s *server) upload(t *testing.T, ctx context.Context, method, pool, node, id string, body []byte) int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, s.srv.URL+protocol.FilesPath+"?"+protocol.FileRequestIDParam+"="+id, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if pool != "" {
		req.Header.Set("Authorization", protocol.AuthorizationHeader(pool, node, testCred(pool, node)))
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func answerBody(t *testing.T, a protocol.FileAnswer, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := protocol.WriteFileAnswer(&b, a, data); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type filesResult struct {
	a    protocol.FileAnswer
	data []byte
	err  error
}

// TestFilesAnswerChecks: the Hub takes an answer only from the node asked, with its
// credential, of the right shape, and only the first.
func TestFilesAnswerChecks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	s := newServer(t, agentlink.HubOptions{})
	s.connect(t, ctx, "p1", "n1")
	done := make(chan filesResult, 1)
	go func() {
		a, data, err := s.hub.Files(ctx, "p1", "n1", protocol.FileRequest{JobID: "j", TaskID: "t", Op: protocol.FileOpRead, Path: "x", Length: 4})
		done <- filesResult{a, data, err}
	}()
	req := s.fileRequestOf(t, ctx, "p1", "n1")
	if req.Op != protocol.FileOpRead || req.Path != "x" || req.Length != 4 || len(req.RequestID) < 32 {
		t.Fatalf("the agent is asked %+v", req)
	}
	id := req.RequestID
	good := answerBody(t, protocol.FileAnswer{RequestID: id, Length: 4}, []byte("good"))
	other := answerBody(t, protocol.FileAnswer{RequestID: id, Length: 4}, []byte("evil"))
	tests := []struct {
		name       string
		method     string
		pool, node string
		id         string
		body       []byte
		want       int
	}{
		{"no credential", http.MethodPost, "", "", id, other, http.StatusUnauthorized},
		{"another node", http.MethodPost, "p1", "n2", id, other, http.StatusForbidden},
		{"the node's id in another pool", http.MethodPost, "p2", "n1", id, other, http.StatusForbidden},
		{"GET", http.MethodGet, "p1", "n1", id, nil, http.StatusMethodNotAllowed},
		{"unknown request", http.MethodPost, "p1", "n1", "0123456789abcdef0123456789abcdef", other, http.StatusNotFound},
		{"no request id", http.MethodPost, "p1", "n1", "", other, http.StatusNotFound},
		{"more bytes than asked for", http.MethodPost, "p1", "n1", id,
			answerBody(t, protocol.FileAnswer{RequestID: id, Length: 5}, []byte("evil!")), http.StatusBadRequest},
		{"another request id in the body", http.MethodPost, "p1", "n1", id,
			answerBody(t, protocol.FileAnswer{RequestID: "x", Length: 4}, []byte("evil")), http.StatusBadRequest},
		{"not an answer", http.MethodPost, "p1", "n1", id, []byte("evil"), http.StatusBadRequest},
		{"body over the limit", http.MethodPost, "p1", "n1", id,
			[]byte(`{"message":"` + strings.Repeat("x", protocol.MaxFileAnswerJSON) + "\"}\n"), http.StatusRequestEntityTooLarge},
		{"the answer", http.MethodPost, "p1", "n1", id, good, http.StatusNoContent},
		{"a repeated answer", http.MethodPost, "p1", "n1", id, other, http.StatusNotFound},
	}
	for _, tt := range tests {
		if got := s.upload(t, ctx, tt.method, tt.pool, tt.node, tt.id, tt.body); got != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, got, tt.want)
		}
	}
	r := <-done
	if r.err != nil || string(r.data) != "good" {
		t.Errorf("Files = %q, %v; want the first answer from n1, \"good\"", r.data, r.err)
	}
	if n := s.hub.Pending("n1"); n != 0 {
		t.Errorf("the answered command is still in the outbox (%d pending)", n)
	}
}

// TestFilesNodeGone: a call to an agent that went away ends with its context and leaves
// nothing behind; once the node is offline, calls fail at once; Remove and Close end waiting
// calls.
func TestFilesNodeGone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	const offline = 500 * time.Millisecond
	s := newServer(t, agentlink.HubOptions{PollTimeout: 5 * time.Second, OfflineAfter: offline})
	list := protocol.FileRequest{JobID: "j1", TaskID: "t1", Op: protocol.FileOpList}

	if _, _, err := s.hub.Files(ctx, "p1", "n9", list); !errors.Is(err, agentlink.ErrNotConnected) {
		t.Errorf("a node never heard of: %v, want ErrNotConnected", err)
	}

	_, stop := runClient(t, s.srv.URL, t.TempDir(), nil)
	next[protocol.Hello](t, ctx, s.stub.events)
	if _, _, err := s.hub.Files(ctx, "p1", "n1", list); fileCode(err) != protocol.FileErrNotFound {
		t.Fatalf("the agent running: %v, want its notFound", err)
	}
	stop()
	start := time.Now() // the agent's last request came before
	tctx, tcancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, _, err := s.hub.Files(tctx, "p1", "n1", list)
	tcancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the agent gone: %v, want the context's deadline", err)
	}
	if n, p := s.hub.FileCalls(), s.hub.Pending("n1"); n != 0 || p != 0 {
		t.Errorf("after the timeout: %d calls, %d commands pending; want none", n, p)
	}
	time.Sleep(time.Until(start.Add(offline)))
	// Its last poll may still wait in the Hub until the server notices the connection closed.
	waitFor(t, ctx, "Files fails at once for the agent offline", func() bool {
		tctx, tcancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer tcancel()
		_, _, err := s.hub.Files(tctx, "p1", "n1", list)
		return errors.Is(err, agentlink.ErrNotConnected)
	})

	for _, tt := range []struct {
		name string
		end  func()
		want error
	}{
		{"Remove", func() { s.hub.Remove("n2") }, agentlink.ErrNotConnected},
		{"Close", s.hub.Close, agentlink.ErrClosed},
	} {
		s.connect(t, ctx, "p1", "n2")
		done := make(chan error, 1)
		go func() {
			_, _, err := s.hub.Files(ctx, "p1", "n2", list)
			done <- err
		}()
		waitFor(t, ctx, tt.name+": the call waits", func() bool { return s.hub.FileCalls() == 1 })
		tt.end()
		if err := <-done; !errors.Is(err, tt.want) {
			t.Errorf("%s: the waiting call ended with %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, _, err := s.hub.Files(ctx, "p1", "n2", list); !errors.Is(err, agentlink.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}

// TestFilesCommandOnTheWire pins the wire form of a FileRequest command.
func TestFilesCommandOnTheWire(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	s := newServer(t, agentlink.HubOptions{})
	s.connect(t, ctx, "p1", "n1")
	go s.hub.Files(ctx, "p1", "n1", protocol.FileRequest{JobID: "j", TaskID: "t", Op: protocol.FileOpStat, Path: "wd/x"})
	waitFor(t, ctx, "the command", func() bool { return s.hub.Pending("n1") == 1 })
	_, _, raw := s.post(t, ctx, testCred("p1", "n1"), "p1", "n1", protocol.SyncRequest{})
	var resp struct{ Commands []map[string]any }
	if err := json.Unmarshal([]byte(raw), &resp); err != nil || len(resp.Commands) != 1 {
		t.Fatalf("response %s: %v", raw, err)
	}
	c := resp.Commands[0]
	if c["type"] != "fileRequest" || c["op"] != "stat" || c["path"] != "wd/x" || c["jobId"] != "j" || c["taskId"] != "t" || c["requestId"] == "" {
		t.Errorf("command on the wire: %s", raw)
	}
}
