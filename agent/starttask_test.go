//go:build linux

package agent

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
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
