//go:build linux

package agentlink_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"corral/actor"
	"corral/agent"
	"corral/agent/protocol"
	"corral/agentlink"
	"corral/internal/testlog"
)

// runClient starts an agent Client for node n1 of pool p1 against url; stop cancels it and
// returns Run's error. The test's cleanup stops it too.
func runClient(t *testing.T, url, root string, change func(*agent.ClientConfig)) (c *agent.Client, stop func() error) {
	t.Helper()
	cfg := agent.ClientConfig{
		ServerURL: url, NodeID: "n1", PoolID: "p1", Credential: testCred("p1", "n1"),
		Runner:         agent.Config{Root: root},
		HeartbeatEvery: time.Hour, PollWait: 5 * time.Second,
		RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond,
		Logger: testlog.New(t),
	}
	if change != nil {
		change(&cfg)
	}
	c, err := agent.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var (
		stopped bool
		runErr  error
	)
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(deadline):
				t.Fatalf("Client.Run did not return within %v of its context's end", deadline)
			}
		}
		return runErr
	}
	t.Cleanup(func() { stop() })
	return c, stop
}

// next returns the next report of type T the stub session received, skipping others (which
// it returns too, in order).
func next[T any](t *testing.T, ctx context.Context, events chan any) (T, []any) {
	t.Helper()
	var skipped []any
	for {
		select {
		case ev := <-events:
			if v, ok := ev.(T); ok {
				return v, skipped
			}
			skipped = append(skipped, ev)
		case <-ctx.Done():
			var zero T
			t.Fatalf("no %T within %v (got %#v)", zero, deadline, skipped)
			return zero, nil
		}
	}
}

// drain returns what the stub session received so far, once the engine is idle.
func drain(t *testing.T, ctx context.Context, s *server) []any {
	t.Helper()
	if err := s.engine.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	var out []any
	for {
		select {
		case ev := <-s.stub.events:
			out = append(out, ev)
		default:
			return out
		}
	}
}

func countResults(evs []any, attemptID string) int {
	n := 0
	for _, ev := range evs {
		if r, ok := ev.(protocol.TaskResult); ok && r.AttemptID == attemptID {
			n++
		}
	}
	return n
}

// startOnFirstHello makes the stub session ask for st when it gets its first Hello.
func startOnFirstHello(s *server, st protocol.StartTask) {
	asked := false
	s.stub.onHello = func(ctx *actor.Context, _ protocol.Hello) {
		if !asked {
			asked = true
			ctx.Send(s.stub.agent, st)
		}
	}
}

func pendingResults(t *testing.T, c *agent.Client) []agent.Result {
	t.Helper()
	rs, err := c.Runner().PendingResults()
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// TestTaskRoundTrip: a session asks for a task on Hello; the agent runs it and reports its
// result once; the session acknowledges it and the agent forgets it, which a second agent on
// the same node root shows by an empty Hello.
func TestTaskRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	s := newServer(t, agentlink.HubOptions{PollTimeout: 5 * time.Second})
	startOnFirstHello(s, protocol.StartTask{AttemptID: "a1", JobID: "j1", TaskID: "t1", PoolID: "p1",
		CommandLine: `/bin/sh -c "echo hi; exit 3"`})
	root := t.TempDir()
	c, stop := runClient(t, s.srv.URL, root, nil)

	h, _ := next[protocol.Hello](t, ctx, s.stub.events)
	if h.NodeID != "n1" || h.Incarnation != c.Incarnation() || len(h.Running) != 0 || len(h.Finished) != 0 {
		t.Errorf("Hello = %+v, want an empty Hello of n1", h)
	}
	res, _ := next[protocol.TaskResult](t, ctx, s.stub.events)
	if res.AttemptID != "a1" || res.NodeID != "n1" || res.ExitCode != 3 || res.Killed || res.TimedOut || res.Error != "" {
		t.Errorf("TaskResult = %+v, want a1 with exit code 3", res)
	}
	if res.StartTime.IsZero() || res.EndTime.Before(res.StartTime) {
		t.Errorf("TaskResult times %v .. %v", res.StartTime, res.EndTime)
	}
	out, err := os.ReadFile(filepath.Join(root, "workitems", "j1", "job-1", "t1", agent.StdoutFile))
	if err != nil || string(out) != "hi\n" {
		t.Errorf("stdout.txt = %q, %v; want \"hi\\n\"", out, err)
	}
	// The acknowledgement reaches the agent, which marks the result on disk.
	waitFor(t, ctx, "the agent records the acknowledgement", func() bool { return len(pendingResults(t, c)) == 0 })
	waitFor(t, ctx, "the agent acknowledges the ResultAck command", func() bool { return s.hub.Pending("n1") == 0 })
	if err := stop(); err != nil {
		t.Errorf("Run = %v, want nil after its context ended", err)
	}

	// Another agent process on the same root: it has nothing to report.
	c2, _ := runClient(t, s.srv.URL, root, nil)
	h, skipped := next[protocol.Hello](t, ctx, s.stub.events)
	if h.Incarnation != c2.Incarnation() || h.Incarnation == c.Incarnation() || len(h.Running) != 0 || len(h.Finished) != 0 {
		t.Errorf("second agent's Hello = %+v, want an empty Hello of a new incarnation", h)
	}
	all := append(skipped, drain(t, ctx, s)...)
	if n := countResults(all, "a1"); n != 0 {
		t.Errorf("a1's result arrived %d more times, want exactly once in all", n)
	}
}

// TestResultRepeatedUntilAcknowledged: the session ignores the first report of a result; the
// agent's heartbeats repeat it until the session acknowledges it.
func TestResultRepeatedUntilAcknowledged(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	s := newServer(t, agentlink.HubOptions{PollTimeout: 5 * time.Second})
	s.stub.ack = func(n int) bool { return n >= 2 }
	startOnFirstHello(s, protocol.StartTask{AttemptID: "a1", JobID: "j1", TaskID: "t1", CommandLine: "/bin/true"})
	c, _ := runClient(t, s.srv.URL, t.TempDir(), func(cfg *agent.ClientConfig) { cfg.HeartbeatEvery = 20 * time.Millisecond })

	next[protocol.TaskResult](t, ctx, s.stub.events)
	res, skipped := next[protocol.TaskResult](t, ctx, s.stub.events)
	if res.AttemptID != "a1" || res.ExitCode != 0 {
		t.Errorf("repeated result = %+v", res)
	}
	if !slices.ContainsFunc(skipped, func(ev any) bool { _, ok := ev.(protocol.Heartbeat); return ok }) {
		t.Errorf("the result was repeated without a heartbeat: %#v", skipped)
	}
	waitFor(t, ctx, "the agent records the acknowledgement", func() bool { return len(pendingResults(t, c)) == 0 })
}

// listen serves handler on addr ("127.0.0.1:0" for a free port); the server is closed, with
// every connection, by the returned function and at the end of the test.
func listen(t *testing.T, addr string, handler http.Handler) (string, func()) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	}()
	stop := func() {
		srv.Close()
		<-done
	}
	t.Cleanup(stop)
	return l.Addr().String(), stop
}

func newServerOn(t *testing.T, addr string) (*server, string, func()) {
	t.Helper()
	s := newServer(t, agentlink.HubOptions{PollTimeout: 5 * time.Second})
	s.srv.Close() // the httptest server is not used: this one listens on addr
	mux := http.NewServeMux()
	mux.Handle(protocol.SyncPath, s.hub)
	addr, stop := listen(t, addr, mux)
	return s, addr, func() {
		s.hub.Close()
		stop()
	}
}

// TestServerRestart: the server stops while a task runs; a new server (new engine, new Hub)
// comes up on the same address; the agent, whose task went on running, says Hello to it with
// the running attempt, then reports the result.
func TestServerRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	gate := filepath.Join(t.TempDir(), "go")
	s1, addr, stop1 := newServerOn(t, "127.0.0.1:0")
	startOnFirstHello(s1, protocol.StartTask{AttemptID: "a1", JobID: "j1", TaskID: "t1",
		CommandLine: `/bin/sh -c "while [ ! -e '` + gate + `' ]; do sleep 0.01; done; exit 5"`})
	c, _ := runClient(t, "http://"+addr, t.TempDir(), func(cfg *agent.ClientConfig) { cfg.GiveUpAfter = time.Minute })

	if st, _ := next[protocol.TaskStarted](t, ctx, s1.stub.events); st.AttemptID != "a1" {
		t.Fatalf("TaskStarted = %+v", st)
	}
	stop1() // the server goes away, connections and all

	s2, _, _ := newServerOn(t, addr)
	h, _ := next[protocol.Hello](t, ctx, s2.stub.events)
	if !slices.Equal(h.Running, []string{"a1"}) || len(h.Finished) != 0 || h.Incarnation != c.Incarnation() {
		t.Errorf("Hello to the new server = %+v, want a1 running, nothing finished, the same incarnation", h)
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	res, _ := next[protocol.TaskResult](t, ctx, s2.stub.events)
	if res.AttemptID != "a1" || res.ExitCode != 5 {
		t.Errorf("TaskResult = %+v, want a1 with exit code 5", res)
	}
	waitFor(t, ctx, "the agent records the acknowledgement", func() bool { return len(pendingResults(t, c)) == 0 })
	if evs := drain(t, ctx, s1); countResults(evs, "a1") != 0 {
		t.Errorf("the stopped server got a result: %#v", evs)
	}
}

// TestStoppedAgentForgetsKilledAttempts: an agent that stops kills its running attempts and
// does not report them as finished, so the service sees them as lost.
func TestStoppedAgentForgetsKilledAttempts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	s := newServer(t, agentlink.HubOptions{PollTimeout: 5 * time.Second})
	startOnFirstHello(s, protocol.StartTask{AttemptID: "a1", JobID: "j1", TaskID: "t1", CommandLine: "/bin/sleep 1000"})
	root := t.TempDir()
	c, stop := runClient(t, s.srv.URL, root, nil)
	next[protocol.TaskStarted](t, ctx, s.stub.events)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if r := c.Runner().Running(); len(r) != 0 {
		t.Errorf("Running after Run returned = %v", r)
	}
	if rs := pendingResults(t, c); len(rs) != 0 {
		t.Errorf("PendingResults after Run returned = %+v, want none", rs)
	}
	runClient(t, s.srv.URL, root, nil)
	h, skipped := next[protocol.Hello](t, ctx, s.stub.events)
	if len(h.Running) != 0 || len(h.Finished) != 0 {
		t.Errorf("Hello after a restart = %+v, want nothing running or finished", h)
	}
	if n := countResults(append(skipped, drain(t, ctx, s)...), "a1"); n != 0 {
		t.Errorf("the killed attempt was reported %d times", n)
	}
}

// TestWrongCredentialAgent: an agent whose credential the server refuses (deleted or revoked)
// stops after a few refusals, whatever its GiveUpAfter.
func TestWrongCredentialAgent(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	s := newServer(t, agentlink.HubOptions{})
	c, err := agent.NewClient(agent.ClientConfig{
		ServerURL: s.srv.URL, NodeID: "n1", PoolID: "p1", Credential: "wrong",
		Runner:   agent.Config{Root: t.TempDir()},
		RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, GiveUpAfter: time.Hour,
		Logger: testlog.New(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Run(ctx)
	if !errors.Is(err, agent.ErrRevoked) {
		t.Errorf("Run = %v, want ErrRevoked", err)
	}
	s.quiet(t, ctx, "agent with the wrong credential")
}
