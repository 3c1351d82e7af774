package server

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"corral/agent/protocol"
	"corral/agentlink"
	"corral/api/rest"
)

// fakeAsk answers every Ask with answer and err, and records the requests.
type fakeAsk struct {
	reqs   []any
	answer protocol.NodeAnswer
	err    error
}

func (f *fakeAsk) Ask(_ context.Context, poolID, nodeID string, req any) (protocol.NodeAnswer, error) {
	f.reqs = append(f.reqs, req)
	return f.answer, f.err
}

func answerErr(code string, status int) error {
	return fmt.Errorf("agentlink: x: %w", &protocol.NodeAnswerError{Code: code, Message: "m", Status: status})
}

// The user operations of a node that is not on this machine go to its agent, whose answers
// become rest's errors; so do the log uploads of every node.
func TestNodeOpsOverLink(t *testing.T) {
	ctx := context.Background()
	expiry := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	userTests := []struct {
		name string
		err  error
		want error
	}{
		{"done", nil, nil},
		{"exists", answerErr(protocol.AnswerErrUserExists, 0), rest.ErrNodeUserExists},
		{"not found", answerErr(protocol.AnswerErrUserNotFound, 0), rest.ErrNodeUserNotFound},
		{"invalid", answerErr(protocol.AnswerErrInvalid, 0), rest.ErrNodeUserInvalid},
		{"not root", answerErr(protocol.AnswerErrUnsupported, 0), rest.ErrNodeUsersUnsupported},
		{"agent offline", fmt.Errorf("x: %w", agentlink.ErrNotConnected), rest.ErrNodeUsersUnsupported},
	}
	for _, tt := range userTests {
		t.Run("user "+tt.name, func(t *testing.T) {
			link := &fakeAsk{err: tt.err}
			u := newNodeUsers(t.TempDir(), link)
			err := u.AddUser(ctx, "p1", "n1", rest.NodeUser{Name: "alice", Password: "pw", Expiry: expiry})
			if (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("AddUser = %v, want %v", err, tt.want)
			}
			want := protocol.UserRequest{Op: protocol.UserOpAdd, Name: "alice", Password: "pw", Expiry: expiry}
			if len(link.reqs) != 1 || link.reqs[0] != want {
				t.Errorf("asked %+v, want %+v", link.reqs, want)
			}
		})
	}
	logTests := []struct {
		name  string
		err   error
		files int
		want  error
	}{
		{"uploaded", nil, 2, nil},
		{"refused by storage", answerErr(protocol.AnswerErrStorage, 403), 0, rest.ErrLogsRefused},
		{"not a container URL", answerErr(protocol.AnswerErrInvalid, 0), 0, rest.ErrLogsRefused},
		{"storage unreachable", answerErr(protocol.AnswerErrStorage, 0), 0, rest.ErrLogsStorage},
		{"agent offline", fmt.Errorf("x: %w", agentlink.ErrNotConnected), 0, rest.ErrLogsUnavailable},
	}
	for _, tt := range logTests {
		t.Run("logs "+tt.name, func(t *testing.T) {
			link := &fakeAsk{err: tt.err, answer: protocol.NodeAnswer{FilesUploaded: tt.files}}
			n, err := nodeLogs{link: link}.UploadLogs(ctx, "p1", "n1", rest.LogUpload{ContainerURL: "https://a/c?sig=s", Directory: "p1/n1/g/", StartTime: expiry})
			if n != tt.files || (tt.want == nil) != (err == nil) || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Errorf("UploadLogs = %d, %v; want %d, %v", n, err, tt.files, tt.want)
			}
		})
	}
}
