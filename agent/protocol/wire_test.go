package protocol

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestMessageRoundTrip(t *testing.T) {
	t0 := time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		body any
		typ  string
	}{
		{Hello{NodeID: "n1", Incarnation: "i1", Running: []string{"a1"}, Finished: []TaskResult{{NodeID: "n1", AttemptID: "a0", ExitCode: 3, StartTime: t0, EndTime: t0}}}, TypeHello},
		{Heartbeat{NodeID: "n1", Running: []string{}}, TypeHeartbeat},
		{TaskStarted{NodeID: "n1", AttemptID: "a1", StartTime: t0}, TypeTaskStarted},
		{TaskResult{NodeID: "n1", AttemptID: "a1", ExitCode: 137, Killed: true, Error: "x"}, TypeTaskResult},
		{StartTask{AttemptID: "a1", JobID: "j", TaskID: "t", PoolID: "p", CommandLine: `/bin/sh -c "echo hi"`,
			Env: []EnvSetting{{Name: "A", Value: "1"}}, MaxWallClock: time.Minute, Labels: map[string]string{"k": "v"}, ElevationAdmin: true}, TypeStartTask},
		{KillTask{AttemptID: "a1"}, TypeKillTask},
		{ResultAck{AttemptID: "a1"}, TypeResultAck},
		{ResultAck{}, TypeResultAck},
		{FileRequest{RequestID: "r1", JobID: "j", TaskID: "t", Op: FileOpRead, Path: "wd/out.txt", Offset: 5, Length: 10}, TypeFileRequest},
		{FileRequest{RequestID: "r2", JobID: "j", TaskID: "t", Op: FileOpList, Recursive: true}, TypeFileRequest},
		{RestartNode{RequestID: "boot/1", Reimage: true}, TypeRestartNode},
		{UserRequest{RequestID: "r3", Op: UserOpAdd, Name: "u", IsAdmin: true, Expiry: t0, Password: "pw", SSHPublicKey: "ssh-ed25519 AAAA"}, TypeUserRequest},
		{UserRequest{RequestID: "r4", Op: UserOpDelete, Name: "u"}, TypeUserRequest},
		{UploadLogsRequest{RequestID: "r5", ContainerURL: "https://a.blob.core.windows.net/c?sig=x", Directory: "p/n/g/", StartTime: t0, EndTime: t0.Add(time.Hour)}, TypeUploadLogs},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			data, err := json.Marshal(Message{Body: tt.body})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(data), `{"type":"`+tt.typ+`"`) {
				t.Errorf("encoded %s, want it to start with its type", data)
			}
			var m Message
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatalf("decoding %s: %v", data, err)
			}
			if m.Type != tt.typ || !reflect.DeepEqual(m.Body, tt.body) {
				t.Errorf("round trip of %s = %q %#v, want %#v", data, m.Type, m.Body, tt.body)
			}
			if IsReport(tt.body) == IsCommand(tt.body) {
				t.Errorf("%T: IsReport %v, IsCommand %v", tt.body, IsReport(tt.body), IsCommand(tt.body))
			}
		})
	}
}

func TestMessageDecodeErrors(t *testing.T) {
	var m Message
	if err := json.Unmarshal([]byte(`{"type":"fancyNewThing","x":1}`), &m); err != nil || m.Type != "fancyNewThing" || m.Body != nil {
		t.Errorf("unknown type: %v, %+v; want no error, nil body", err, m)
	}
	for _, bad := range []string{`{"attemptId":"a"}`, `{"type":""}`, `[1]`, `{"type":"killTask","attemptId":5}`} {
		if err := json.Unmarshal([]byte(bad), &m); err == nil {
			t.Errorf("decoding %s: no error", bad)
		}
	}
	if _, err := json.Marshal(Message{Body: 42}); err == nil {
		t.Error("encoding a non-message: no error")
	}
	if _, err := json.Marshal(Message{Body: &KillTask{}}); err == nil {
		t.Error("encoding a pointer: no error")
	}
}

func TestAuthorization(t *testing.T) {
	const want = "c2VjcmV0"
	h := AuthorizationHeader("pool-1", "node-1", want)
	if h != "CorralNode pool-1/node-1:"+want {
		t.Errorf("AuthorizationHeader = %q", h)
	}
	pool, node, token, err := ParseAuthorization(h)
	if err != nil || pool != "pool-1" || node != "node-1" || token != want {
		t.Errorf("ParseAuthorization(%q) = %q, %q, %q, %v", h, pool, node, token, err)
	}
	// A node id may hold ':' and '/': the token is after the last ':', the pool before the
	// first '/'.
	pool, node, _, err = ParseAuthorization(AuthorizationHeader("p", "n:1/x", want))
	if err != nil || pool != "p" || node != "n:1/x" {
		t.Errorf("odd node id: %q, %q, %v", pool, node, err)
	}
	for _, bad := range []string{"", "Basic abc", "CorralNode p/n", "CorralNode p/n:", "CorralNode /n:x", "CorralNode p/:x", "CorralNode pn:x", "corralnode p/n:x"} {
		if _, _, _, err := ParseAuthorization(bad); err == nil {
			t.Errorf("ParseAuthorization(%q): no error", bad)
		}
	}
}

func TestJoinToken(t *testing.T) {
	fp := "sha256:" + strings.Repeat("ab", 32)
	tests := []struct {
		text             string
		id, secret, want string
		ok               bool
	}{
		{FormatJoinToken("id1", "s3cret", fp), "id1", "s3cret", fp, true},
		{FormatJoinToken("id1", "s3cret", ""), "id1", "s3cret", "", true},
		{" " + FormatJoinToken("id1", "s", fp) + "\n", "id1", "s", fp, true},
		{"corral2.id1.s", "", "", "", false},
		{"corral1.id1", "", "", "", false},
		{"corral1..s", "", "", "", false},
		{"corral1.id1.", "", "", "", false},
		{"corral1.id1.s.md5:abc", "", "", "", false},
		{"corral1.id1.s.sha256:abc", "", "", "", false},
		{"corral1.id1.s." + fp + ".x", "", "", "", false},
	}
	for _, tt := range tests {
		id, secret, got, err := ParseJoinToken(tt.text)
		if (err == nil) != tt.ok || id != tt.id || secret != tt.secret || got != tt.want {
			t.Errorf("ParseJoinToken(%q) = %q, %q, %q, %v", tt.text, id, secret, got, err)
		}
	}
}
