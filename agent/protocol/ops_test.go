package protocol

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// The node operations' requests leave their secrets out of logs.
func TestNodeRequestsLogNoSecrets(t *testing.T) {
	t0 := time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		req     any
		secrets []string
		want    []string
	}{
		{"user", UserRequest{RequestID: "r1", Op: UserOpAdd, Name: "alice", Password: "hunter2-pw", SSHPublicKey: "ssh-ed25519 AAAAkey"},
			[]string{"hunter2-pw", "AAAAkey"}, []string{"r1", "alice", "password=true"}},
		{"logs", UploadLogsRequest{RequestID: "r2", ContainerURL: "https://acct.blob.core.windows.net/logs?sv=2020&sig=SECRETSIG", Directory: "p/n/g/", StartTime: t0},
			[]string{"SECRETSIG", "sv=2020"}, []string{"r2", "https://acct.blob.core.windows.net/logs?", "p/n/g/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, nil)).Info("request", "req", tt.req)
			for _, s := range tt.secrets {
				if strings.Contains(buf.String(), s) {
					t.Errorf("the log has %q: %s", s, buf.String())
				}
			}
			for _, s := range tt.want {
				if !strings.Contains(buf.String(), s) {
					t.Errorf("the log lacks %q: %s", s, buf.String())
				}
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://a.blob.core.windows.net/c?sv=1&sig=abc", "https://a.blob.core.windows.net/c?<redacted>"},
		{"http://127.0.0.1:10000/devstoreaccount1/c", "http://127.0.0.1:10000/devstoreaccount1/c"},
		{"https://user:pw@host/c#frag", "https://host/c"},
		{"://bad", "<invalid URL>"},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestReadNodeAnswer(t *testing.T) {
	a, err := ReadNodeAnswer(strings.NewReader(`{"requestId":"r1","error":"storage","message":"HTTP 403","status":403}`))
	var ae *NodeAnswerError
	if err != nil || !errors.As(a.Err(), &ae) || ae.Code != AnswerErrStorage || ae.Status != 403 {
		t.Errorf("ReadNodeAnswer = %+v, %v; Err %v", a, err, a.Err())
	}
	if a, err := ReadNodeAnswer(strings.NewReader(`{"requestId":"r1","filesUploaded":2}`)); err != nil || a.Err() != nil || a.FilesUploaded != 2 {
		t.Errorf("ReadNodeAnswer = %+v, %v", a, err)
	}
	for _, bad := range []string{``, `{"requestId":`, `{"requestId":"r"} {"requestId":"s"}`, `[1]`} {
		if _, err := ReadNodeAnswer(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadNodeAnswer(%q): no error", bad)
		}
	}
}
