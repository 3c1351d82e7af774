package agentlink_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"corral/actor"
	"corral/agent/protocol"
	"corral/agentlink"
	"corral/internal/testlog"
)

// deadline bounds every wait in these tests; it only keeps a broken test from hanging.
const deadline = 10 * time.Second

// testCred is the credential of a node that the test Hub accepts.
func testCred(pool, node string) string { return "secret-" + pool + "-" + node }

// testCreds accepts testCred's credentials.
type testCreds struct{}

func (testCreds) Check(pool, node, cred string) bool { return cred == testCred(pool, node) }

func sessionID(poolID, nodeID string) actor.ID { return actor.ID("node/" + poolID + "/" + nodeID) }

func agentID(nodeID string) actor.ID { return actor.ID("agent/" + nodeID) }

// stubSession stands for a node session: it records every report in events (a channel of the
// test), runs onHello on each Hello, and acknowledges the TaskResults that ack accepts (all of
// them if ack is nil; n counts the TaskResults received, from 1).
type stubSession struct {
	events  chan any
	onHello func(ctx *actor.Context, h protocol.Hello)
	ack     func(n int) bool
	agent   actor.ID
	results int
}

func (s *stubSession) Define(m *actor.Machine) {
	m.State("Stub",
		actor.On(func(ctx *actor.Context, h protocol.Hello) {
			s.events <- h
			if s.onHello != nil {
				s.onHello(ctx, h)
			}
		}),
		actor.On(func(_ *actor.Context, h protocol.Heartbeat) { s.events <- h }),
		actor.On(func(_ *actor.Context, e protocol.TaskStarted) { s.events <- e }),
		actor.On(func(ctx *actor.Context, r protocol.TaskResult) {
			s.events <- r
			s.results++
			if s.ack == nil || s.ack(s.results) {
				ctx.Send(s.agent, protocol.ResultAck{AttemptID: r.AttemptID})
			}
		}),
	)
}

// server is a Hub with its engine, stub session for node n1 of pool p1, and HTTP server.
type server struct {
	engine *actor.Engine
	hub    *agentlink.Hub
	stub   *stubSession
	srv    *httptest.Server
}

func newServer(t *testing.T, opts agentlink.HubOptions) *server {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testlog.New(t)
	}
	s := &server{engine: actor.NewEngine(actor.Options{Logger: opts.Logger})}
	s.hub = agentlink.NewHub(s.engine, testCreds{}, sessionID, opts)
	s.stub = &stubSession{events: make(chan any, 10000), agent: agentID("n1")}
	if _, err := s.engine.Create(string(agentID("n1")), s.hub.Proxy("n1")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.engine.Create(string(sessionID("p1", "n1")), s.stub); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(protocol.SyncPath, s.hub)
	mux.Handle(protocol.FilesPath, s.hub.FilesHandler())
	mux.Handle(protocol.AnswerPath, s.hub.AnswersHandler())
	s.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		s.hub.Close()
		s.srv.Close()
	})
	return s
}

// post sends a sync request as node/pool with credential cred ("": none) and returns the status and decoded answer.
func (s *server) post(t *testing.T, ctx context.Context, key string, pool, node string, body any) (int, protocol.SyncResponse, string) {
	t.Helper()
	code, sr, raw, err := s.tryPost(ctx, key, pool, node, body)
	if err != nil {
		t.Fatal(err)
	}
	return code, sr, raw
}

// tryPost is post for goroutines other than the test's.
func (s *server) tryPost(ctx context.Context, key string, pool, node string, body any) (int, protocol.SyncResponse, string, error) {
	var data []byte
	switch b := body.(type) {
	case string:
		data = []byte(b)
	default:
		var err error
		if data, err = json.Marshal(b); err != nil {
			return 0, protocol.SyncResponse{}, "", err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.srv.URL+protocol.SyncPath, bytes.NewReader(data))
	if err != nil {
		return 0, protocol.SyncResponse{}, "", err
	}
	if key != "" {
		req.Header.Set("Authorization", protocol.AuthorizationHeader(pool, node, key))
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		return 0, protocol.SyncResponse{}, "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var sr protocol.SyncResponse
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &sr); err != nil {
			return 0, sr, "", fmt.Errorf("decoding %s: %w", raw, err)
		}
	}
	return resp.StatusCode, sr, string(raw), nil
}

// waitFor polls cond until it holds, failing the test when ctx ends.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: not within the deadline", what)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// quiet waits until the engine has handled everything and checks that the stub received
// nothing.
func (s *server) quiet(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	if err := s.engine.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-s.stub.events:
		t.Errorf("%s: the session received %#v", what, ev)
	default:
	}
}

func hello(node string) protocol.SyncRequest {
	return protocol.SyncRequest{NodeID: node, PoolID: "p1",
		Reports: []protocol.Message{{Body: protocol.Hello{NodeID: node, Incarnation: "i1"}}}}
}

func TestHubRefusesBadRequests(t *testing.T) {
	s := newServer(t, agentlink.HubOptions{MaxBody: 4096})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()

	tests := []struct {
		name       string
		cred       string
		pool, node string
		body       any
		want       int
	}{
		{"wrong credential", "not-the-credential", "p1", "n1", hello("n1"), http.StatusUnauthorized},
		{"no credential", "", "p1", "n1", hello("n1"), http.StatusUnauthorized},
		{"credential of another pool", testCred("p2", "n1"), "p2", "n1", hello("n1"), http.StatusBadRequest},
		{"body over the limit", testCred("p1", "n1"), "p1", "n1", `{"reports":[],"pad":"` + strings.Repeat("x", 5000) + `"}`, http.StatusRequestEntityTooLarge},
		{"not JSON", testCred("p1", "n1"), "p1", "n1", `{"reports":`, http.StatusBadRequest},
		{"report of another node", testCred("p1", "n1"), "p1", "n1",
			protocol.SyncRequest{Reports: []protocol.Message{{Body: protocol.Heartbeat{NodeID: "n2"}}}}, http.StatusBadRequest},
		{"a command as a report", testCred("p1", "n1"), "p1", "n1",
			protocol.SyncRequest{Reports: []protocol.Message{{Body: protocol.Hello{}}, {Body: protocol.KillTask{AttemptID: "a"}}}}, http.StatusBadRequest},
		{"node without a session", testCred("p1", "n9"), "p1", "n9", hello("n9"), http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := s.post(t, ctx, tt.cred, tt.pool, tt.node, tt.body)
			if code != tt.want {
				t.Errorf("status %d (%s), want %d", code, strings.TrimSpace(body), tt.want)
			}
			s.quiet(t, ctx, tt.name)
		})
	}

	// A credential made for pool p1 presented for pool p2.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.srv.URL+protocol.SyncPath, strings.NewReader(`{"reports":[]}`))
	req.Header.Set("Authorization", "CorralNode p2/n1:"+testCred("p1", "n1"))
	if resp, err := s.srv.Client().Do(req); err != nil {
		t.Fatal(err)
	} else if resp.Body.Close(); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("credential of p1 used for p2: status %d, want 401", resp.StatusCode)
	}

	for _, method := range []string{http.MethodGet, http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequestWithContext(ctx, method, s.srv.URL+protocol.SyncPath, nil)
		req.Header.Set("Authorization", protocol.AuthorizationHeader("p1", "n1", testCred("p1", "n1")))
		resp, err := s.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
			t.Errorf("%s: status %d, Allow %q; want 405 and POST", method, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
	s.quiet(t, ctx, "other methods")

	// The control: the same Hello with the right credential reaches the session, node id
	// filled in.
	req2 := hello("n1")
	req2.Reports = append(req2.Reports, protocol.Message{Body: protocol.Heartbeat{Running: []string{"a"}}})
	if code, _, body := s.post(t, ctx, testCred("p1", "n1"), "p1", "n1", req2); code != http.StatusOK {
		t.Fatalf("right credential: status %d (%s)", code, body)
	}
	if ev := <-s.stub.events; ev.(protocol.Hello).Incarnation != "i1" {
		t.Errorf("first report = %#v, want the Hello", ev)
	}
	if ev := <-s.stub.events; ev.(protocol.Heartbeat).NodeID != "n1" {
		t.Errorf("second report = %#v, want the heartbeat with its node id filled in", ev)
	}
}

func TestHubWithoutCredentialsRefusesEverything(t *testing.T) {
	engine := actor.NewEngine(actor.Options{Logger: testlog.New(t)})
	hub := agentlink.NewHub(engine, nil, sessionID, agentlink.HubOptions{Logger: testlog.New(t)})
	srv := httptest.NewServer(hub)
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"reports":[]}`))
	req.Header.Set("Authorization", protocol.AuthorizationHeader("p1", "n1", testCred("p1", "n1")))
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status %d, want 401", resp.StatusCode)
	}
}

func commandIDs(t *testing.T, sr protocol.SyncResponse) []string {
	t.Helper()
	var ids []string
	for _, m := range sr.Commands {
		switch v := m.Body.(type) {
		case protocol.StartTask:
			ids = append(ids, "start:"+v.AttemptID)
		case protocol.KillTask:
			ids = append(ids, "kill:"+v.AttemptID)
		case protocol.ResultAck:
			ids = append(ids, "ack:"+v.AttemptID)
		default:
			t.Errorf("unexpected command %#v", m)
		}
	}
	return ids
}

type answer struct {
	code int
	sr   protocol.SyncResponse
	err  error
}

func TestHubOutbox(t *testing.T) {
	s := newServer(t, agentlink.HubOptions{PollTimeout: time.Hour, MaxPending: 3})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	send := func(ev any) {
		t.Helper()
		if err := s.engine.Send(agentID("n1"), ev); err != nil {
			t.Fatal(err)
		}
		if err := s.engine.WaitIdle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	request := func(epoch string, ack uint64, wait time.Duration) protocol.SyncRequest {
		return protocol.SyncRequest{Epoch: epoch, Ack: ack, WaitMillis: wait.Milliseconds(), Reports: []protocol.Message{}}
	}
	poll := func(epoch string, ack uint64, wait time.Duration) protocol.SyncResponse {
		t.Helper()
		code, sr, body := s.post(t, ctx, testCred("p1", "n1"), "p1", "n1", request(epoch, ack, wait))
		if code != http.StatusOK {
			t.Fatalf("status %d (%s)", code, body)
		}
		return sr
	}
	// longPoll starts a poll that waits, and returns once it waits in the Hub.
	longPoll := func(epoch string, ack uint64) chan answer {
		t.Helper()
		c := make(chan answer, 1)
		go func() {
			code, sr, _, err := s.tryPost(ctx, testCred("p1", "n1"), "p1", "n1", request(epoch, ack, time.Hour))
			c <- answer{code, sr, err}
		}()
		waitFor(t, ctx, "the long poll waits", func() bool { return s.hub.Waiting("n1") })
		return c
	}
	receive := func(c chan answer, what string) protocol.SyncResponse {
		t.Helper()
		select {
		case a := <-c:
			if a.err != nil || a.code != http.StatusOK {
				t.Fatalf("%s: status %d, %v", what, a.code, a.err)
			}
			return a.sr
		case <-ctx.Done():
			t.Fatalf("%s: no answer", what)
		}
		panic("unreachable")
	}

	// Nothing waiting: an answer at once, with the epoch.
	sr := poll("", 0, 0)
	if sr.Epoch != s.hub.Epoch() || sr.Seq != 0 || len(sr.Commands) != 0 {
		t.Fatalf("empty outbox: %+v", sr)
	}
	epoch := sr.Epoch

	// A long poll answers as soon as a command arrives.
	c := longPoll(epoch, 0)
	send(protocol.StartTask{AttemptID: "a1", JobID: "j", TaskID: "t", CommandLine: "true"})
	sr = receive(c, "long poll woken by a command")
	if ids := commandIDs(t, sr); len(ids) != 1 || ids[0] != "start:a1" || sr.Seq != 1 {
		t.Fatalf("long poll answered %v seq %d, want [start:a1] seq 1", ids, sr.Seq)
	}

	// Unacknowledged commands come again; acknowledged ones do not; the outbox holds
	// MaxPending at most and drops the newest.
	send(protocol.KillTask{AttemptID: "a1"})
	send(protocol.ResultAck{AttemptID: "a0"})
	send(protocol.ResultAck{AttemptID: "dropped"})
	if n := s.hub.Pending("n1"); n != 3 {
		t.Errorf("Pending = %d, want 3 (the cap)", n)
	}
	sr = poll(epoch, 0, time.Hour) // answered at once: commands wait
	if ids := commandIDs(t, sr); strings.Join(ids, " ") != "start:a1 kill:a1 ack:a0" || sr.Seq != 3 {
		t.Errorf("unacknowledged: %v seq %d, want [start:a1 kill:a1 ack:a0] seq 3", ids, sr.Seq)
	}
	sr = poll(epoch, 1, 0)
	if ids := commandIDs(t, sr); strings.Join(ids, " ") != "kill:a1 ack:a0" || sr.Seq != 3 {
		t.Errorf("after ack 1: %v seq %d, want [kill:a1 ack:a0] seq 3", ids, sr.Seq)
	}
	// An acknowledgement of another epoch changes nothing.
	sr = poll("another-epoch", 3, 0)
	if ids := commandIDs(t, sr); len(ids) != 2 {
		t.Errorf("ack of another epoch: %v, want the 2 commands still", ids)
	}
	sr = poll(epoch, 3, 0)
	if len(sr.Commands) != 0 || sr.Seq != 3 || s.hub.Pending("n1") != 0 {
		t.Errorf("after ack 3: %+v, pending %d; want nothing, seq 3", sr, s.hub.Pending("n1"))
	}
	// A late, smaller acknowledgement is harmless.
	send(protocol.KillTask{AttemptID: "a2"})
	sr = poll(epoch, 2, 0)
	if ids := commandIDs(t, sr); len(ids) != 1 || ids[0] != "kill:a2" || sr.Seq != 4 {
		t.Errorf("after a late ack: %v seq %d, want [kill:a2] seq 4", ids, sr.Seq)
	}

	// An agent that last talked to another life of the server gets an answer at once, even
	// to a long poll: it must learn the new epoch to say Hello.
	sr = poll("old-epoch", 0, time.Hour)
	if sr.Epoch != epoch || len(sr.Commands) != 1 {
		t.Errorf("poll from an old epoch: %+v", sr)
	}

	// A newer long poll supersedes a waiting one, which answers at once, empty.
	first := longPoll(epoch, 4)
	second := make(chan answer, 1)
	go func() {
		code, sr, _, err := s.tryPost(ctx, testCred("p1", "n1"), "p1", "n1", request(epoch, 4, time.Hour))
		second <- answer{code, sr, err}
	}()
	if sr := receive(first, "superseded poll"); len(sr.Commands) != 0 {
		t.Errorf("superseded poll answered %v", commandIDs(t, sr))
	}
	waitFor(t, ctx, "the second poll waits", func() bool { return s.hub.Waiting("n1") })
	send(protocol.KillTask{AttemptID: "a3"})
	if ids := commandIDs(t, receive(second, "second poll")); len(ids) != 1 || ids[0] != "kill:a3" {
		t.Errorf("second poll answered %v, want [kill:a3]", ids)
	}

	// Close answers waiting polls and refuses new ones.
	c = longPoll(epoch, 5)
	s.hub.Close()
	if sr := receive(c, "poll waiting at Close"); len(sr.Commands) != 0 {
		t.Errorf("poll waiting at Close answered %v", commandIDs(t, sr))
	}
	if code, _, _ := s.post(t, ctx, testCred("p1", "n1"), "p1", "n1", request(epoch, 5, 0)); code != http.StatusServiceUnavailable {
		t.Errorf("after Close: status %d, want 503", code)
	}
}

func TestHubResponseSizeLimit(t *testing.T) {
	s := newServer(t, agentlink.HubOptions{MaxResponse: 10})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	for _, id := range []string{"a1", "a2"} {
		if err := s.engine.Send(agentID("n1"), protocol.KillTask{AttemptID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.engine.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	var all []string
	var epoch string
	var ack uint64
	for range 3 {
		code, sr, body := s.post(t, ctx, testCred("p1", "n1"), "p1", "n1", protocol.SyncRequest{Epoch: epoch, Ack: ack})
		if code != http.StatusOK {
			t.Fatalf("status %d (%s)", code, body)
		}
		if len(sr.Commands) > 1 {
			t.Errorf("a response of %d commands, over the limit", len(sr.Commands))
		}
		all = append(all, commandIDs(t, sr)...)
		epoch, ack = sr.Epoch, sr.Seq
	}
	if strings.Join(all, " ") != "kill:a1 kill:a2" {
		t.Errorf("commands = %v, want one a response, each once", all)
	}
}

func TestHubRemove(t *testing.T) {
	s := newServer(t, agentlink.HubOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	send := func(id string) {
		t.Helper()
		if err := s.engine.Send(agentID("n1"), protocol.KillTask{AttemptID: id}); err != nil {
			t.Fatal(err)
		}
		if err := s.engine.WaitIdle(ctx); err != nil {
			t.Fatal(err)
		}
	}
	send("a1")
	send("a2")
	_, sr, _ := s.post(t, ctx, testCred("p1", "n1"), "p1", "n1", protocol.SyncRequest{})
	epoch, ack := sr.Epoch, sr.Seq
	s.hub.Remove("n1")
	if n := s.hub.Pending("n1"); n != 0 {
		t.Errorf("Pending after Remove = %d", n)
	}
	// The node comes back: its agent's acknowledgement, of commands numbered before Remove,
	// does not cover the new ones.
	send("a3")
	_, sr, _ = s.post(t, ctx, testCred("p1", "n1"), "p1", "n1", protocol.SyncRequest{Epoch: epoch, Ack: ack})
	if ids := commandIDs(t, sr); len(ids) != 1 || ids[0] != "kill:a3" {
		t.Errorf("after Remove: %v, want [kill:a3]", ids)
	}
}
