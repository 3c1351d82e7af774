//go:build linux

package agentlink_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"corral/agent/protocol"
	"corral/agentlink"
)

// answer POSTs body to path as an answer to request id with the credential of pool/node and
// returns the status.
func (s *server) answer(t *testing.T, ctx context.Context, path, pool, node, id string, body []byte) int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.srv.URL+path+"?"+protocol.RequestIDParam+"="+id, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", protocol.AuthorizationHeader(pool, node, testCred(pool, node)))
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestAskAnswerChecks: a request of Ask goes to the node's outbox as a command with a request id
// of Ask's; the Hub takes its answer only at AnswerPath, from the node asked, of the right
// shape, and only the first; the agent's error comes back as a *protocol.NodeAnswerError.
func TestAskAnswerChecks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	s := newServer(t, agentlink.HubOptions{})
	s.connect(t, ctx, "p1", "n1")

	type result struct {
		a   protocol.NodeAnswer
		err error
	}
	done := make(chan result, 1)
	go func() {
		a, err := s.hub.Ask(ctx, "p1", "n1", protocol.UserRequest{RequestID: "mine", Op: protocol.UserOpAdd, Name: "alice", Password: "pw"})
		done <- result{a, err}
	}()
	waitFor(t, ctx, "the command", func() bool { return s.hub.Pending("n1") == 1 })
	_, sr, _ := s.post(t, ctx, testCred("p1", "n1"), "p1", "n1", protocol.SyncRequest{Reports: []protocol.Message{}})
	if len(sr.Commands) != 1 {
		t.Fatalf("commands %+v", sr.Commands)
	}
	req, ok := sr.Commands[0].Body.(protocol.UserRequest)
	if !ok || req.Name != "alice" || req.Password != "pw" || len(req.RequestID) < 32 {
		t.Fatalf("the agent is asked %#v", sr.Commands[0].Body)
	}
	id := req.RequestID
	refused := `{"requestId":"` + id + `","error":"userExists","message":"alice"}`
	tests := []struct {
		name       string
		path       string
		pool, node string
		id         string
		body       string
		want       int
	}{
		{"at the files endpoint", protocol.FilesPath, "p1", "n1", id, refused, http.StatusNotFound},
		{"another node", protocol.AnswerPath, "p1", "n2", id, refused, http.StatusForbidden},
		{"unknown request", protocol.AnswerPath, "p1", "n1", strings.Repeat("0", 32), refused, http.StatusNotFound},
		{"another request id in the body", protocol.AnswerPath, "p1", "n1", id, `{"requestId":"x"}`, http.StatusBadRequest},
		{"not an answer", protocol.AnswerPath, "p1", "n1", id, `nope`, http.StatusBadRequest},
		{"body over the limit", protocol.AnswerPath, "p1", "n1", id, `{"message":"` + strings.Repeat("x", protocol.MaxNodeAnswer) + `"}`, http.StatusRequestEntityTooLarge},
		{"the answer", protocol.AnswerPath, "p1", "n1", id, refused, http.StatusNoContent},
		{"a repeated answer", protocol.AnswerPath, "p1", "n1", id, `{"requestId":"` + id + `"}`, http.StatusNotFound},
	}
	for _, tt := range tests {
		if got := s.answer(t, ctx, tt.path, tt.pool, tt.node, tt.id, []byte(tt.body)); got != tt.want {
			t.Errorf("%s: status %d, want %d", tt.name, got, tt.want)
		}
	}
	r := <-done
	var ae *protocol.NodeAnswerError
	if !errors.As(r.err, &ae) || ae.Code != protocol.AnswerErrUserExists || r.a.Error != protocol.AnswerErrUserExists {
		t.Errorf("Ask = %+v, %v; want the first answer, userExists", r.a, r.err)
	}
	if strings.Contains(r.err.Error(), "pw") {
		t.Errorf("the error holds the password: %v", r.err)
	}
	if n := s.hub.Pending("n1"); n != 0 {
		t.Errorf("the answered command is still in the outbox (%d pending)", n)
	}

	// What is not a node operation is refused without asking; an agent that is not connected
	// fails at once; a call given up leaves nothing behind.
	if _, err := s.hub.Ask(ctx, "p1", "n1", protocol.KillTask{AttemptID: "a"}); err == nil {
		t.Error("Ask(KillTask): no error")
	}
	if _, err := s.hub.Ask(ctx, "p1", "n9", protocol.UploadLogsRequest{}); !errors.Is(err, agentlink.ErrNotConnected) {
		t.Errorf("a node never heard of: %v, want ErrNotConnected", err)
	}
	tctx, tcancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer tcancel()
	if _, err := s.hub.Ask(tctx, "p1", "n1", protocol.UploadLogsRequest{ContainerURL: "http://x/c?sig=s"}); !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "sig") {
		t.Errorf("an unanswered call: %v, want the context's deadline", err)
	}
	if n, p := s.hub.FileCalls(), s.hub.Pending("n1"); n != 0 || p != 0 {
		t.Errorf("after the timeout: %d calls, %d commands pending; want none", n, p)
	}
}
