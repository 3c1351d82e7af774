//go:build linux

package agent

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corral/agent/protocol"
	"corral/internal/testlog"
)

func TestClientGivesUpWithoutServer(t *testing.T) {
	// A loopback port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	c, err := NewClient(ClientConfig{
		ServerURL: "http://" + addr, NodeID: "n1", PoolID: "p1", Credential: "k",
		Runner:   Config{Root: t.TempDir()},
		RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond,
		GiveUpAfter: 300 * time.Millisecond, Logger: testlog.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	err = c.Run(ctx)
	if !errors.Is(err, ErrNoServer) {
		t.Fatalf("Run = %v, want an error wrapping ErrNoServer (within %v)", err, deadline)
	}
	if ctx.Err() != nil {
		t.Fatalf("Run returned only when its context ended")
	}
	if err := c.Runner().Start(TaskSpec{JobID: "j", TaskID: "t", AttemptID: "a", CommandLine: "true"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Run returned: %v, want ErrClosed", err)
	}
	if err := c.Run(context.Background()); err == nil {
		t.Error("second Run: no error")
	}
}

// fakeServer is a scripted server: it hands every request to the test and answers with the
// bodies the test queues, or with no command.
type fakeServer struct {
	t       *testing.T
	reqs    chan fakeRequest
	answers chan string
	uploads chan fakeUpload // answers to FileRequests
}

type fakeUpload struct {
	auth, id string
	answer   protocol.FileAnswer
	data     []byte
}

type fakeRequest struct {
	auth string
	body protocol.SyncRequest
}

func newFakeServer(t *testing.T) (*fakeServer, *httptest.Server) {
	f := &fakeServer{t: t, reqs: make(chan fakeRequest, 1000), answers: make(chan string, 100), uploads: make(chan fakeUpload, 100)}
	srv := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	var req protocol.SyncRequest
	if r.URL.Path == protocol.FilesPath && r.Method == http.MethodPost {
		a, data, err := protocol.ReadFileAnswer(r.Body, protocol.MaxFileChunk)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.uploads <- fakeUpload{auth: r.Header.Get("Authorization"), id: r.URL.Query().Get(protocol.FileRequestIDParam), answer: a, data: data}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if r.URL.Path != protocol.SyncPath || r.Method != http.MethodPost {
		http.Error(w, "wrong endpoint", http.StatusNotFound)
		return
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.reqs <- fakeRequest{auth: r.Header.Get("Authorization"), body: req}
	answer := `{"epoch":"e1","seq":0,"commands":[]}`
	if req.Epoch == "e1" {
		answer = `{"epoch":"e1","seq":` + jsonNumber(req.Ack) + `,"commands":[]}`
	}
	var wait <-chan time.Time
	if req.WaitMillis > 0 {
		wait = time.After(time.Duration(req.WaitMillis) * time.Millisecond)
	}
	select {
	case a := <-f.answers:
		answer = a
	default:
		if wait != nil {
			select {
			case a := <-f.answers:
				answer = a
			case <-wait:
			case <-r.Context().Done():
				// The client gave the poll up; keep nothing of it.
				return
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(answer))
}

func jsonNumber(n uint64) string { b, _ := json.Marshal(n); return string(b) }

// next returns the next request whose reports include one the match function accepts.
func (f *fakeServer) next(ctx context.Context, match func(fakeRequest) bool) fakeRequest {
	f.t.Helper()
	for {
		select {
		case r := <-f.reqs:
			if match(r) {
				return r
			}
		case <-ctx.Done():
			f.t.Fatalf("expected request not received within %v", deadline)
		}
	}
}

func hasReport[T any](match func(T) bool) func(fakeRequest) bool {
	return func(r fakeRequest) bool {
		for _, m := range r.body.Reports {
			if v, ok := m.Body.(T); ok && (match == nil || match(v)) {
				return true
			}
		}
		return false
	}
}

func reportOf[T any](r fakeRequest) T {
	return reportWhere[T](r, nil)
}

// reportWhere returns the first report of type T in r that match accepts (nil: any), or T's zero
// value: a request may carry several reports of a type, the results of two attempts for one.
func reportWhere[T any](r fakeRequest, match func(T) bool) T {
	for _, m := range r.body.Reports {
		if v, ok := m.Body.(T); ok && (match == nil || match(v)) {
			return v
		}
	}
	var zero T
	return zero
}

// runScripted runs a Client of node n1 of pool p1 with credential cred and root against the
// scripted server at url; Run must return nil when the test ends. It returns the Client and a
// context that ends with the test's deadline.
func runScripted(t *testing.T, url, cred, root string) (*Client, context.Context) {
	t.Helper()
	c, err := NewClient(ClientConfig{
		ServerURL: url, NodeID: "n1", PoolID: "p1", Credential: cred,
		Runner:         Config{Root: root},
		HeartbeatEvery: time.Hour, PollWait: 5 * time.Second,
		RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, Logger: testlog.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	runCtx, stop := context.WithCancel(ctx)
	runErr := make(chan error, 1)
	go func() { runErr <- c.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-runErr; err != nil {
			t.Errorf("Run = %v, want nil after its context ended", err)
		}
		cancel()
	})
	return c, ctx
}

// TestClientAgainstScriptedServer checks the Client's side of the wire on its own: the
// credential, the Hello, long polls, acknowledgements of commands, a StartTask that can never
// run, and commands it cannot decode.
func TestClientAgainstScriptedServer(t *testing.T) {
	f, srv := newFakeServer(t)
	const cred = "node-secret"
	c, ctx := runScripted(t, srv.URL+"/", cred, t.TempDir())

	first := f.next(ctx, func(fakeRequest) bool { return true })
	if want := protocol.AuthorizationHeader("p1", "n1", cred); first.auth != want {
		t.Errorf("Authorization = %q, want %q", first.auth, want)
	}
	if len(first.body.Reports) != 1 {
		t.Fatalf("first request has %d reports, want a Hello", len(first.body.Reports))
	}
	hello, ok := first.body.Reports[0].Body.(protocol.Hello)
	if !ok || hello.NodeID != "n1" || hello.Incarnation != c.Incarnation() || len(hello.Running) != 0 || len(hello.Finished) != 0 {
		t.Errorf("first report = %#v, want an empty Hello of n1", first.body.Reports[0].Body)
	}
	if first.body.NodeID != "n1" || first.body.PoolID != "p1" || first.body.WaitMillis != 0 || first.body.Epoch != "" {
		t.Errorf("first request = %+v", first.body)
	}
	// Then it long polls.
	poll := f.next(ctx, func(r fakeRequest) bool { return len(r.body.Reports) == 0 })
	if poll.body.WaitMillis != 5000 || poll.body.Epoch != "e1" {
		t.Errorf("long poll = %+v, want waitMs 5000 and epoch e1", poll.body)
	}

	// A StartTask with an invalid task id, a command of a known type it cannot decode, and one
	// of a type it does not know.
	f.answers <- `{"epoch":"e1","seq":3,"commands":[
		{"type":"startTask","attemptId":"x1","jobId":"j1","taskId":"bad/id","commandLine":"true"},
		{"type":"killTask","attemptId":5},
		{"type":"frobnicate","x":1}]}`
	isX1 := func(tr protocol.TaskResult) bool { return tr.AttemptID == "x1" }
	r := f.next(ctx, hasReport(isX1))
	res := reportWhere(r, isX1)
	if !strings.Contains(res.Error, codeInvalidTaskRequest) || !strings.Contains(res.Error, "bad/id") {
		t.Errorf("result of the invalid StartTask = %+v, want an %s error", res, codeInvalidTaskRequest)
	}
	if r.body.Epoch != "e1" || r.body.Ack != 3 {
		t.Errorf("request after commands 1-3 acknowledges %q/%d, want e1/3", r.body.Epoch, r.body.Ack)
	}
	// Acknowledged, it is forgotten: the next heartbeat would not repeat it.
	f.answers <- `{"epoch":"e1","seq":4,"commands":[{"type":"resultAck","attemptId":"x1"}]}`
	f.next(ctx, func(r fakeRequest) bool { return r.body.Ack == 4 })
	c.mu.Lock()
	n := len(c.unacked)
	c.mu.Unlock()
	if n != 0 {
		t.Errorf("%d results unacknowledged after the ResultAck, want 0", n)
	}

	// An answer from another epoch (the server restarted): the client says Hello again.
	f.answers <- `{"epoch":"e2","seq":0,"commands":[]}`
	r = f.next(ctx, hasReport[protocol.Hello](nil))
	if r.body.Epoch != "e2" || r.body.Ack != 0 {
		t.Errorf("Hello after the restart acknowledges %q/%d, want e2/0", r.body.Epoch, r.body.Ack)
	}
}

// TestClientAnswersFileRequests: the Client carries out FileRequests off its loop and uploads
// each answer once, with its credential, even when the command comes twice.
func TestClientAnswersFileRequests(t *testing.T) {
	f, srv := newFakeServer(t)
	const cred = "node-secret"
	c, ctx := runScripted(t, srv.URL, cred, t.TempDir())
	dir, err := c.Runner().TaskDir("j1", "t1")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, StdoutFile), []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.next(ctx, hasReport[protocol.Hello](nil))
	f.answers <- `{"epoch":"e1","seq":3,"commands":[
		{"type":"fileRequest","requestId":"r1","jobId":"j1","taskId":"t1","op":"read","path":"stdout.txt","offset":2,"length":5},
		{"type":"fileRequest","requestId":"r1","jobId":"j1","taskId":"t1","op":"read","path":"stdout.txt","offset":2,"length":5},
		{"type":"fileRequest","requestId":"r2","jobId":"j1","taskId":"t1","op":"stat","path":"../t2"}]}`
	got := map[string][]fakeUpload{}
	for len(got) < 2 {
		select {
		case u := <-f.uploads:
			got[u.id] = append(got[u.id], u)
		case <-ctx.Done():
			t.Fatalf("uploads: %+v, want answers to r1 and r2", got)
		}
	}
	select {
	case u := <-f.uploads:
		t.Errorf("another upload: %+v", u)
	case <-time.After(200 * time.Millisecond):
	}
	if us := got["r1"]; len(us) != 1 || string(us[0].data) != "23456" || us[0].answer.RequestID != "r1" ||
		us[0].answer.File == nil || us[0].answer.File.Size != 10 || us[0].auth != protocol.AuthorizationHeader("p1", "n1", cred) {
		t.Errorf("answers to r1: %+v, want one with \"23456\"", us)
	}
	if us := got["r2"]; len(us) != 1 || us[0].answer.Error != protocol.FileErrInvalidPath || len(us[0].data) != 0 {
		t.Errorf("answers to r2: %+v, want one invalidPath", us)
	}
}
