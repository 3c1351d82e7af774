//go:build linux

package agent

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"corral/agent/protocol"
)

// The start task runs in the startup directory with the start task's environment; its result
// is pending until acknowledged, and the latest start attempt is what the agent reports.
func TestStartTaskRunsInStartupDir(t *testing.T) {
	h := newHarness(t, "")
	if id, err := h.r.LatestStartTaskAttempt(); err != nil || id != "" {
		t.Fatalf("LatestStartTaskAttempt before any = %q, %v", id, err)
	}
	script := `env > env.txt; echo prepared > "$AZ_BATCH_NODE_SHARED_DIR/ready"; echo out; exit 0`
	if err := h.r.Start(TaskSpec{AttemptID: "@start/n/1.0", StartTask: true, CommandLine: "/bin/sh -c '" + script + "'",
		Env: []EnvSetting{{Name: "STAGE", Value: "one"}}}); err != nil {
		t.Fatal(err)
	}
	res := h.result("@start/n/1.0")
	if !res.StartTask || !res.Started || res.ExitCode != 0 || res.JobID != "" || res.TaskID != "" {
		t.Fatalf("result = %+v", res)
	}
	startup := h.r.StartupDir()
	env, err := os.ReadFile(filepath.Join(startup, WorkingDirName, "env.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"STAGE=one",
		"AZ_BATCH_TASK_DIR=" + startup,
		"AZ_BATCH_TASK_WORKING_DIR=" + filepath.Join(startup, WorkingDirName),
		"AZ_BATCH_NODE_STARTUP_DIR=" + startup,
		"AZ_BATCH_NODE_STARTUP_WORKING_DIR=" + filepath.Join(startup, WorkingDirName),
	}
	lines := strings.Split(string(env), "\n")
	for _, w := range want {
		if !slices.Contains(lines, w) {
			t.Errorf("the start task's environment lacks %s:\n%s", w, env)
		}
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "AZ_BATCH_JOB_ID=") || strings.HasPrefix(l, "AZ_BATCH_TASK_ID=") {
			t.Errorf("the start task's environment has %s", l)
		}
	}
	if out, err := os.ReadFile(filepath.Join(startup, StdoutFile)); err != nil || string(out) != "out\n" {
		t.Errorf("stdout.txt = %q, %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(h.r.SharedDir(), "ready")); err != nil {
		t.Errorf("the start task's file in the shared directory: %v", err)
	}

	pending, err := h.r.PendingResults()
	if err != nil || len(pending) != 1 || pending[0].AttemptID != "@start/n/1.0" || !pending[0].StartTask {
		t.Fatalf("PendingResults = %+v, %v", pending, err)
	}
	if err := h.r.AckStartTaskResult("@start/n/1.0"); err != nil {
		t.Fatal(err)
	}
	if pending, err := h.r.PendingResults(); err != nil || len(pending) != 0 {
		t.Errorf("PendingResults after the acknowledgement = %+v, %v", pending, err)
	}
	if id, err := h.r.LatestStartTaskAttempt(); err != nil || id != "@start/n/1.0" {
		t.Errorf("LatestStartTaskAttempt = %q, %v", id, err)
	}

	// A retry: a new attempt id runs; the same one again does nothing.
	if err := h.r.Start(TaskSpec{AttemptID: "@start/n/1.1", StartTask: true, CommandLine: "/bin/sh -c 'exit 3'"}); err != nil {
		t.Fatal(err)
	}
	if res := h.result("@start/n/1.1"); res.ExitCode != 3 || !res.StartTask {
		t.Errorf("retry result = %+v", res)
	}
	if err := h.r.Start(TaskSpec{AttemptID: "@start/n/1.1", StartTask: true, CommandLine: "/bin/sh -c 'exit 0'"}); err != nil {
		t.Fatal(err)
	}
	if res, ok, err := h.r.ReadStartTaskResult(); err != nil || !ok || res.AttemptID != "@start/n/1.1" || res.ExitCode != 3 {
		t.Errorf("ReadStartTaskResult after a repeated start = %+v %v %v", res, ok, err)
	}
	if id, _ := h.r.LatestStartTaskAttempt(); id != "@start/n/1.1" {
		t.Errorf("LatestStartTaskAttempt = %q, want the retry", id)
	}
	// Clearing the node's files (a reimage) forgets the start task.
	if err := ClearNodeFiles(h.r.Root()); err != nil {
		t.Fatal(err)
	}
	if id, err := h.r.LatestStartTaskAttempt(); err != nil || id != "" {
		t.Errorf("LatestStartTaskAttempt after ClearNodeFiles = %q, %v", id, err)
	}
}

// TestClientRunsStartTask: the Client runs a start task from its command, reports its result
// until acknowledged and its attempt with every Hello, and runs a task that requires the start
// task only once that attempt has succeeded on the node.
func TestClientRunsStartTask(t *testing.T) {
	f, srv := newFakeServer(t)
	c, ctx := runScripted(t, srv.URL, "cred", t.TempDir())
	first := f.next(ctx, hasReport[protocol.Hello](nil))
	if h := reportOf[protocol.Hello](first); h.StartTask != "" {
		t.Errorf("Hello of a fresh node reports start task %q", h.StartTask)
	}
	// A task that requires the start task, before it ran: not run.
	f.answers <- `{"epoch":"e1","seq":1,"commands":[
		{"type":"startTask","attemptId":"j1/t1/1","jobId":"j1","taskId":"t1","commandLine":"true","requiresStartTask":"@start/n1/1.0"}]}`
	f.next(ctx, func(r fakeRequest) bool { return r.body.Ack == 1 })
	if running := c.Runner().Running(); len(running) != 0 {
		t.Fatalf("running %v before the start task", running)
	}
	f.answers <- `{"epoch":"e1","seq":2,"commands":[
		{"type":"startTask","attemptId":"@start/n1/1.0","poolId":"p1","commandLine":"/bin/sh -c 'touch \"$AZ_BATCH_NODE_SHARED_DIR/ready\"'","nodeStartTask":true}]}`
	isStart := func(tr protocol.TaskResult) bool { return tr.AttemptID == "@start/n1/1.0" }
	r := f.next(ctx, hasReport(isStart))
	if res := reportWhere(r, isStart); res.ExitCode != 0 || res.Error != "" {
		t.Fatalf("start task result = %+v", res)
	}
	if _, err := os.Stat(filepath.Join(c.Runner().SharedDir(), "ready")); err != nil {
		t.Errorf("the start task did not run: %v", err)
	}
	// Acknowledged, and asked for the task again: it runs now.
	f.answers <- `{"epoch":"e1","seq":4,"commands":[{"type":"resultAck","attemptId":"@start/n1/1.0"},
		{"type":"startTask","attemptId":"j1/t1/1","jobId":"j1","taskId":"t1","commandLine":"true","requiresStartTask":"@start/n1/1.0"}]}`
	f.next(ctx, hasReport(func(tr protocol.TaskResult) bool { return tr.AttemptID == "j1/t1/1" }))
	if pending, err := c.Runner().PendingResults(); err != nil || slices.ContainsFunc(pending, func(r Result) bool { return r.StartTask }) {
		t.Errorf("the acknowledged start task result is still pending: %+v %v", pending, err)
	}
	// A Hello (the server restarted) reports the start task attempt and no result of it.
	f.answers <- `{"epoch":"e2","seq":0,"commands":[]}`
	h := reportOf[protocol.Hello](f.next(ctx, hasReport[protocol.Hello](nil)))
	if h.StartTask != "@start/n1/1.0" || slices.ContainsFunc(h.Finished, func(r protocol.TaskResult) bool { return r.AttemptID == "@start/n1/1.0" }) {
		t.Errorf("Hello after the start task = %+v", h)
	}
}
