//go:build linux

package agent

import (
	"os"
	"path/filepath"
	"testing"

	"corral/agent/protocol"
)

// TestClientRestarts: a RestartNode kills what runs and forgets it, keeps the task directories
// (a reboot) or deletes them (a reimage), and brings a Hello of a new incarnation that says
// Restarted; a repeat brings a Hello and changes nothing.
func TestClientRestarts(t *testing.T) {
	f, srv := newFakeServer(t)
	root := t.TempDir()
	c, ctx := runScripted(t, srv.URL, "cred", root)
	first := reportOf[protocol.Hello](f.next(ctx, hasReport[protocol.Hello](nil)))
	if first.Restarted != "" {
		t.Errorf("first Hello says Restarted %q", first.Restarted)
	}

	f.answers <- `{"epoch":"e1","seq":1,"commands":[{"type":"startTask","attemptId":"a1","jobId":"j1","taskId":"t1","commandLine":"sleep 60"}]}`
	f.next(ctx, hasReport(func(s protocol.TaskStarted) bool { return s.AttemptID == "a1" }))
	dir, err := c.Runner().TaskDir("j1", "t1")
	if err != nil {
		t.Fatal(err)
	}

	f.answers <- `{"epoch":"e1","seq":2,"commands":[{"type":"restartNode","requestId":"boot-1"}]}`
	h := reportOf[protocol.Hello](f.next(ctx, hasReport(func(h protocol.Hello) bool { return h.Restarted == "boot-1" })))
	if h.Incarnation == first.Incarnation || h.Incarnation != c.Incarnation() || len(h.Running) != 0 || len(h.Finished) != 0 {
		t.Errorf("Hello after the reboot = %+v, want a new incarnation running and reporting nothing (first was %q)", h, first.Incarnation)
	}
	if _, err := os.Stat(filepath.Join(dir, StdoutFile)); err != nil {
		t.Errorf("the reboot did not keep the task directory: %v", err)
	}
	if got, err := readRestarted(root); err != nil || got != "boot-1" {
		t.Errorf("recorded restart = %q, %v", got, err)
	}
	// The attempt ran: a late StartTask of it does not run it again, even after the reboot.
	f.answers <- `{"epoch":"e1","seq":4,"commands":[
		{"type":"startTask","attemptId":"a1","jobId":"j1","taskId":"t1","commandLine":"sleep 60"},
		{"type":"restartNode","requestId":"boot-1"}]}`
	again := reportOf[protocol.Hello](f.next(ctx, func(r fakeRequest) bool { return r.body.Ack == 4 && hasReport[protocol.Hello](nil)(r) }))
	if again.Incarnation != h.Incarnation || again.Restarted != "boot-1" || len(again.Running) != 0 {
		t.Errorf("Hello after a repeated RestartNode = %+v, want the same incarnation %q running nothing", again, h.Incarnation)
	}

	if err := os.WriteFile(filepath.Join(c.Runner().SharedDir(), "x"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.answers <- `{"epoch":"e1","seq":5,"commands":[{"type":"restartNode","requestId":"boot-2","reimage":true}]}`
	h2 := reportOf[protocol.Hello](f.next(ctx, hasReport(func(h protocol.Hello) bool { return h.Restarted == "boot-2" })))
	if h2.Incarnation == h.Incarnation {
		t.Errorf("the reimage kept incarnation %q", h2.Incarnation)
	}
	for _, p := range []string{dir, filepath.Join(c.Runner().SharedDir(), "x")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s after the reimage: %v, want it gone", p, err)
		}
	}
	if fi, err := os.Stat(c.Runner().SharedDir()); err != nil || !fi.IsDir() {
		t.Errorf("shared directory after the reimage: %v", err)
	}
	// Tasks run after it.
	f.answers <- `{"epoch":"e1","seq":6,"commands":[{"type":"startTask","attemptId":"a2","jobId":"j1","taskId":"t1","commandLine":"true"}]}`
	f.next(ctx, hasReport(func(r protocol.TaskResult) bool { return r.AttemptID == "a2" && r.ExitCode == 0 && r.Error == "" }))
}
