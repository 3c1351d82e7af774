//go:build linux

package agent

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/actor"
	"corral/agent/protocol"
	"corral/agentlink"
	"corral/internal/azurite"
)

// anyCreds takes the one credential of the test's node.
type anyCreds struct{}

func (anyCreds) Check(pool, node, cred string) bool {
	return pool == "p1" && node == "n1" && cred == "cred-n1"
}

// quietSession stands for a node's session: it takes the agent's reports and does nothing.
type quietSession struct{}

func (quietSession) Define(m *actor.Machine) {
	m.State("Quiet", actor.Ignore[protocol.Hello](), actor.Ignore[protocol.Heartbeat](),
		actor.Ignore[protocol.TaskStarted](), actor.Ignore[protocol.TaskResult]())
}

// syncBuffer is a log that tests read while the agent writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// linkedClient runs a Client for node n1 of pool p1 against an agentlink Hub, with a fake
// machine's users and its own log directory; it returns the Hub, the Client's log and the
// fake machine.
func linkedClient(t *testing.T, logDir string) (*agentlink.Hub, *syncBuffer, *fakeMachine) {
	t.Helper()
	engine := actor.NewEngine(actor.Options{})
	hub := agentlink.NewHub(engine, anyCreds{}, func(p, n string) actor.ID { return actor.ID("node/" + n) }, agentlink.HubOptions{})
	if _, err := engine.Create("node/n1", quietSession{}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(protocol.SyncPath, hub)
	mux.Handle(protocol.AnswerPath, hub.AnswersHandler())
	srv := httptest.NewServer(mux)
	logs := &syncBuffer{}
	c, err := NewClient(ClientConfig{
		ServerURL: srv.URL, NodeID: "n1", PoolID: "p1", Credential: "cred-n1",
		Runner:         Config{Root: t.TempDir()},
		HeartbeatEvery: time.Hour, PollWait: 5 * time.Second, RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		LogDir: logDir,
	})
	if err != nil {
		t.Fatal(err)
	}
	users, machine := newFakeUsers(t)
	c.users = users
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	t.Cleanup(func() {
		hub.Close()
		cancel()
		<-done
		srv.Close()
	})
	return hub, logs, machine
}

// askCode returns the agent's error code in err, or "".
func askCode(err error) string {
	var ae *protocol.NodeAnswerError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// ask calls Hub.Ask, retrying while the agent has not connected yet.
func ask(t *testing.T, hub *agentlink.Hub, req any) (protocol.NodeAnswer, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		a, err := hub.Ask(ctx, "p1", "n1", req)
		if !errors.Is(err, agentlink.ErrNotConnected) {
			return a, err
		}
		select {
		case <-ctx.Done():
			t.Fatal("the agent did not connect")
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// User requests reach the agent over the link and are carried out by its NodeUsers; the
// answers come back with NodeUsers' errors as the protocol's codes; the password and key never
// reach the agent's log.
func TestUserRequestsThroughLink(t *testing.T) {
	hub, logs, m := linkedClient(t, "")
	expiry := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		req  protocol.UserRequest
		code string
	}{
		{"add", protocol.UserRequest{Op: protocol.UserOpAdd, Name: "alice", Expiry: expiry, Password: "pw-Secret1", SSHPublicKey: "ssh-ed25519 AAAAsecretkey"}, ""},
		{"add again", protocol.UserRequest{Op: protocol.UserOpAdd, Name: "alice", Expiry: expiry}, protocol.AnswerErrUserExists},
		{"update", protocol.UserRequest{Op: protocol.UserOpUpdate, Name: "alice", Expiry: expiry, Password: "pw-Secret2"}, ""},
		{"update one never added", protocol.UserRequest{Op: protocol.UserOpUpdate, Name: "root", Expiry: expiry}, protocol.AnswerErrUserNotFound},
		{"invalid name", protocol.UserRequest{Op: protocol.UserOpAdd, Name: "Not Valid", Expiry: expiry}, protocol.AnswerErrInvalid},
		{"unknown op", protocol.UserRequest{Op: "rename", Name: "alice"}, protocol.AnswerErrInvalidRequest},
		{"delete", protocol.UserRequest{Op: protocol.UserOpDelete, Name: "alice"}, ""},
		{"delete again", protocol.UserRequest{Op: protocol.UserOpDelete, Name: "alice"}, protocol.AnswerErrUserNotFound},
	}
	for _, tt := range tests {
		_, err := ask(t, hub, tt.req)
		if err != nil && askCode(err) == "" {
			t.Fatalf("%s: %v\n%s", tt.name, err, logs)
		}
		if got := askCode(err); got != tt.code || (tt.code == "" && err != nil) {
			t.Errorf("%s: %v (code %q), want code %q", tt.name, err, got, tt.code)
		}
	}
	want := []string{
		"useradd --create-home --shell /bin/bash --expiredate 2030-01-03 -- alice", "chpasswd",
		"usermod --expiredate 2030-01-03 -- alice", "chpasswd",
		"userdel --remove -- alice",
	}
	if !slices.Equal(m.ran, want) {
		t.Errorf("ran %q, want %q", m.ran, want)
	}
	if m.stdin[1] != "alice:pw-Secret1\n" || m.stdin[3] != "alice:pw-Secret2\n" {
		t.Errorf("chpasswd's input: %q", m.stdin)
	}
	if !strings.Contains(logs.String(), "user=alice") {
		t.Errorf("the agent's log does not tell of the user: %s", logs)
	}
	for _, secret := range []string{"pw-Secret", "AAAAsecretkey"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the agent's log holds %q:\n%s", secret, logs)
		}
	}
}

// Upload Batch Service Logs through the link: the agent uploads the log files that may hold a
// message of the time range, under the virtual directory, to Azurite; a SAS that does not let
// it write is Azure Storage's refusal; the SAS never reaches the agent's log.
func TestUploadLogsThroughLink(t *testing.T) {
	az := azurite.Shared(t)
	dir := t.TempDir()
	lf, err := OpenLogFile(dir, 64, 3)
	if err != nil {
		t.Fatal(err)
	}
	// Three files of 40 bytes each (over 64 bytes rotates): agent.log.2, .1, agent.log.
	for _, s := range []string{"first", "second", "third"} {
		if _, err := lf.Write([]byte(strings.Repeat(s[:1], 39) + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	lf.Close()
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	for name, mtime := range map[string]time.Time{"agent.log.2": t0, "agent.log.1": t0.Add(20 * time.Minute), "agent.log": t0.Add(40 * time.Minute)} {
		if err := os.Chtimes(filepath.Join(dir, name), mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	hub, logs, _ := linkedClient(t, dir)
	cont := az.NewContainer(t)
	sas := az.ContainerSAS(t, cont, "cw")
	tests := []struct {
		name       string
		start, end time.Time
		want       []string
	}{
		{"all", t0.Add(-time.Minute), time.Time{}, []string{"agent.log", "agent.log.1", "agent.log.2"}},
		{"since the second", t0.Add(10 * time.Minute), time.Time{}, []string{"agent.log", "agent.log.1"}},
		// agent.log holds messages from when agent.log.1 was last written: 20 minutes on.
		{"a range within the second", t0.Add(5 * time.Minute), t0.Add(15 * time.Minute), []string{"agent.log.1"}},
		{"a range over the second's end", t0.Add(15 * time.Minute), t0.Add(25 * time.Minute), []string{"agent.log", "agent.log.1"}},
		{"after them all", t0.Add(41 * time.Minute), time.Time{}, nil},
	}
	for i, tt := range tests {
		vdir := "p1/n1/run" + string(rune('a'+i)) + "/"
		a, err := ask(t, hub, protocol.UploadLogsRequest{ContainerURL: sas, Directory: vdir, StartTime: tt.start, EndTime: tt.end})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		var got []string
		for _, b := range az.List(t, cont) {
			if name, ok := strings.CutPrefix(b, vdir); ok {
				got = append(got, name)
			}
		}
		if !slices.Equal(got, tt.want) || a.FilesUploaded != len(tt.want) {
			t.Errorf("%s: uploaded %v (%d), want %v", tt.name, got, a.FilesUploaded, tt.want)
		}
	}
	if data, _, ok := az.Get(t, cont, "p1/n1/runa/agent.log.2"); !ok || string(data) != strings.Repeat("f", 39)+"\n" {
		t.Errorf("agent.log.2 uploaded as %q, %v", data, ok)
	}

	readOnly := az.ContainerSAS(t, cont, "rl")
	_, err = ask(t, hub, protocol.UploadLogsRequest{ContainerURL: readOnly, Directory: "p1/n1/ro/", StartTime: t0.Add(-time.Minute)})
	var ae *protocol.NodeAnswerError
	if !errors.As(err, &ae) || ae.Code != protocol.AnswerErrStorage || ae.Status != http.StatusForbidden {
		t.Errorf("a read-only SAS: %v, want Azure Storage's 403", err)
	}
	if strings.Contains(err.Error(), "sig=") || strings.Contains(logs.String(), "sig=") {
		t.Errorf("the SAS is in the error or the agent's log: %v\n%s", err, logs)
	}
	if !strings.Contains(logs.String(), "service logs uploaded") {
		t.Errorf("the agent's log does not tell of the uploads:\n%s", logs)
	}
}
