//go:build linux

package agent

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// deadline bounds every wait in these tests; it only keeps a broken test from hanging.
const deadline = 10 * time.Second

type harness struct {
	t       *testing.T
	r       *Runner
	results chan Result
}

// nodeRoot returns a fresh node root that other users can reach, so that a Runner running as
// root runs tasks as users of their own (t.TempDir makes its directories 0700).
func nodeRoot(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "node")
}

// newHarness starts a Runner on root, or on a fresh nodeRoot if root is empty; the Runner is
// closed when the test ends, which kills and reaps every task the test started.
func newHarness(t *testing.T, root string) *harness {
	t.Helper()
	if root == "" {
		root = nodeRoot(t)
	}
	h := &harness{t: t, results: make(chan Result, 100)}
	r, err := NewRunner(Config{
		Root: root, NodeID: "node-1", PoolID: "pool-1", AccountName: "acct",
		AccountURL: "http://127.0.0.1:1", OnDone: func(res Result) { h.results <- res },
	})
	if err != nil {
		t.Fatal(err)
	}
	h.r = r
	t.Cleanup(r.Close)
	return h
}

func (h *harness) start(spec TaskSpec) {
	h.t.Helper()
	if spec.JobID == "" {
		spec.JobID = "job1"
	}
	if spec.TaskID == "" {
		spec.TaskID = "task1"
	}
	if err := h.r.Start(spec); err != nil {
		h.t.Fatalf("Start(%+v): %v", spec, err)
	}
}

// result waits for the result of one attempt (results of other attempts are kept for later).
func (h *harness) result(attemptID string) Result {
	h.t.Helper()
	timeout := time.After(deadline)
	var others []Result
	defer func() {
		for _, r := range others {
			h.results <- r
		}
	}()
	for {
		select {
		case r := <-h.results:
			if r.AttemptID == attemptID {
				return r
			}
			others = append(others, r)
		case <-timeout:
			h.t.Fatalf("no result for attempt %s within %v", attemptID, deadline)
		}
	}
}

// run starts an attempt of job1/task<n> and waits for its result.
func (h *harness) run(taskID, commandLine string) Result {
	h.t.Helper()
	id := "attempt-" + taskID
	h.start(TaskSpec{TaskID: taskID, AttemptID: id, CommandLine: commandLine})
	return h.result(id)
}

func (h *harness) taskFile(taskID, name string) string {
	h.t.Helper()
	dir, err := h.r.TaskDir("job1", taskID)
	if err != nil {
		h.t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		h.t.Fatal(err)
	}
	return string(data)
}

// pid returns the process id (and so the process group id) of a running attempt.
func (h *harness) pid(attemptID string) int {
	h.t.Helper()
	h.r.mu.Lock()
	defer h.r.mu.Unlock()
	a, ok := h.r.running[attemptID]
	if !ok {
		h.t.Fatalf("attempt %s is not running", attemptID)
	}
	return a.pid
}

// procState returns the state letter and process group of a process from /proc, or ok false if
// there is no such process.
func procState(pid int) (state byte, pgrp int, ok bool) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, false
	}
	// pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 3 {
		return 0, 0, false
	}
	pgrp, _ = strconv.Atoi(f[2])
	return f[0][0], pgrp, true
}

// alive reports whether a process exists and is not a zombie (a zombie has been killed; it
// waits only for its parent, possibly init, to reap it).
func alive(pid int) bool {
	state, _, ok := procState(pid)
	return ok && state != 'Z' && state != 'X'
}

// groupMembers lists the live (non-zombie) processes of a process group.
func groupMembers(pgid int) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if state, pg, ok := procState(pid); ok && pg == pgid && state != 'Z' && state != 'X' {
			pids = append(pids, pid)
		}
	}
	return pids
}

// eventually polls cond until it holds, failing the test after the deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("%s: not within %v", what, deadline)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitForPidFile waits for a task to write a pid into a file of its working directory.
func (h *harness) waitForPidFile(taskID, name string) int {
	h.t.Helper()
	wd, _ := h.r.WorkingDir("job1", taskID)
	var pid int
	eventually(h.t, "pid file "+name, func() bool {
		data, err := os.ReadFile(filepath.Join(wd, name))
		if err != nil || !strings.HasSuffix(string(data), "\n") {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(data)))
		return err == nil
	})
	return pid
}

func TestTrueAndFalse(t *testing.T) {
	h := newHarness(t, "")
	r := h.run("t-true", "/bin/true")
	if !r.Started || r.ExitCode != 0 || r.Failure != nil || r.Killed || r.TimedOut || r.Signal != 0 {
		t.Errorf("/bin/true: %+v", r)
	}
	if r.JobID != "job1" || r.TaskID != "t-true" || r.StartTime.IsZero() || r.EndTime.Before(r.StartTime) {
		t.Errorf("/bin/true: ids or times wrong: %+v", r)
	}
	r = h.run("t-false", "/bin/false")
	if !r.Started || r.ExitCode != 1 || r.Failure != nil {
		t.Errorf("/bin/false: %+v", r)
	}
	if got := h.r.Running(); len(got) != 0 {
		t.Errorf("Running() = %q after both ended", got)
	}
}

// An attempt's result carries what its process used, children included: a shell that waits
// for a busy child reports the child's CPU time.
func TestResultUsage(t *testing.T) {
	h := newHarness(t, "")
	r := h.run("t-busy", `/bin/sh -c "(i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done); exit 0"`)
	if !r.Started || r.ExitCode != 0 {
		t.Fatalf("result %+v", r)
	}
	if r.Usage.UserCPU+r.Usage.KernelCPU < 10*time.Millisecond {
		t.Errorf("usage %+v, want at least 10ms of CPU for 300,000 loops of the shell", r.Usage)
	}
	if tr := TaskResultOf("n1", r); tr.Usage != r.Usage {
		t.Errorf("the report's usage %+v, want %+v", tr.Usage, r.Usage)
	}
	if r := h.run("t-true", "/bin/true"); r.Usage.UserCPU+r.Usage.KernelCPU > time.Second {
		t.Errorf("/bin/true used %+v", r.Usage)
	}
}

func TestOutputAndExitCode(t *testing.T) {
	h := newHarness(t, "")
	r := h.run("t1", `/bin/sh -c "echo out; echo err >&2; exit 3"`)
	if !r.Started || r.ExitCode != 3 {
		t.Errorf("result %+v, want exit code 3", r)
	}
	if got := h.taskFile("t1", "stdout.txt"); got != "out\n" {
		t.Errorf("stdout.txt = %q", got)
	}
	if got := h.taskFile("t1", "stderr.txt"); got != "err\n" {
		t.Errorf("stderr.txt = %q", got)
	}
	// The same files through the API's file access.
	f, info, err := h.r.OpenFile("job1", "t1", "stdout.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, _ := io.ReadAll(f)
	if string(data) != "out\n" || info.Size != 4 {
		t.Errorf("OpenFile(stdout.txt) = %q, %+v", data, info)
	}
}

func TestEnvironment(t *testing.T) {
	t.Setenv("CORRAL_AGENT_TEST_LEAK", "must not reach tasks")
	h := newHarness(t, "")
	h.start(TaskSpec{
		TaskID: "t-env", AttemptID: "a-env", CommandLine: "env", JobPrepTaskID: "prep",
		Env: []EnvSetting{
			{Name: "FOO", Value: "bar"},
			{Name: "WITH_SPACE", Value: "a b  c"},
			{Name: "FOO", Value: "baz"},                 // a later setting wins
			{Name: "AZ_BATCH_TASK_ID", Value: "forged"}, // Corral's variables win
			{Name: "EMPTY", Value: ""},
		},
	})
	if r := h.result("a-env"); r.ExitCode != 0 || !r.Started {
		t.Fatalf("env: %+v", r)
	}
	got := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(h.taskFile("t-env", "stdout.txt")))
	for sc.Scan() {
		name, value, _ := strings.Cut(sc.Text(), "=")
		got[name] = value
	}
	root := h.r.Root()
	taskDir := filepath.Join(root, "workitems", "job1", "job-1", "t-env")
	want := map[string]string{
		"PATH":                              os.Getenv("PATH"),
		"FOO":                               "baz",
		"WITH_SPACE":                        "a b  c",
		"EMPTY":                             "",
		"AZ_BATCH_ACCOUNT_NAME":             "acct",
		"AZ_BATCH_ACCOUNT_URL":              "http://127.0.0.1:1",
		"AZ_BATCH_JOB_ID":                   "job1",
		"AZ_BATCH_TASK_ID":                  "t-env",
		"AZ_BATCH_POOL_ID":                  "pool-1",
		"AZ_BATCH_NODE_ID":                  "node-1",
		"AZ_BATCH_NODE_IS_DEDICATED":        "true",
		"AZ_BATCH_NODE_ROOT_DIR":            root,
		"AZ_BATCH_NODE_SHARED_DIR":          filepath.Join(root, "shared"),
		"AZ_BATCH_NODE_STARTUP_DIR":         filepath.Join(root, "startup"),
		"AZ_BATCH_TASK_DIR":                 taskDir,
		"AZ_BATCH_NODE_STARTUP_WORKING_DIR": filepath.Join(root, "startup", "wd"),
		"AZ_BATCH_TASK_WORKING_DIR":         filepath.Join(taskDir, "wd"),
		"AZ_BATCH_JOB_PREP_DIR":             filepath.Join(root, "workitems", "job1", "job-1", "prep"),
		"AZ_BATCH_JOB_PREP_WORKING_DIR":     filepath.Join(root, "workitems", "job1", "job-1", "prep", "wd"),
	}
	if h.r.isolate {
		want["HOME"] = want["AZ_BATCH_TASK_WORKING_DIR"]
	} else if home := os.Getenv("HOME"); home != "" {
		want["HOME"] = home
	}
	if want["PATH"] == "" {
		want["PATH"] = defaultPath
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("task environment:\n got %q\nwant %q", got, want)
	}
	for _, d := range []string{"AZ_BATCH_NODE_SHARED_DIR", "AZ_BATCH_NODE_STARTUP_DIR", "AZ_BATCH_TASK_WORKING_DIR"} {
		if fi, err := os.Stat(want[d]); err != nil || !fi.IsDir() {
			t.Errorf("%s = %s is not a directory: %v", d, want[d], err)
		}
	}

	// A per-task pool id and a low-priority node.
	h2, err := NewRunner(Config{Root: nodeRoot(t), NodeID: "n2", PoolID: "p2", LowPriority: true,
		OnDone: func(res Result) { h.results <- res }})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if err := h2.Start(TaskSpec{JobID: "j", TaskID: "t", AttemptID: "a-env2", PoolID: "other-pool",
		CommandLine: `/bin/sh -c 'echo "$AZ_BATCH_POOL_ID $AZ_BATCH_NODE_IS_DEDICATED ${AZ_BATCH_ACCOUNT_NAME-unset}"'`}); err != nil {
		t.Fatal(err)
	}
	h.result("a-env2")
	f, _, err := h2.OpenFile("j", "t", "stdout.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, _ := io.ReadAll(f)
	if string(data) != "other-pool false unset\n" {
		t.Errorf("pool id, dedicated, account = %q", data)
	}
}

func TestWorkingDirectory(t *testing.T) {
	h := newHarness(t, "")
	r := h.run("t-pwd", "/bin/pwd")
	if r.ExitCode != 0 {
		t.Fatalf("pwd: %+v", r)
	}
	wd, _ := h.r.WorkingDir("job1", "t-pwd")
	want, err := filepath.EvalSymlinks(wd)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(h.taskFile("t-pwd", "stdout.txt")); got != want {
		t.Errorf("pwd = %q, want %q", got, want)
	}

	// A relative program path is relative to the working directory, and files the task
	// writes there are listed and readable.
	wd, _ = h.r.WorkingDir("job1", "t-rel")
	if err := os.MkdirAll(wd, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\nmkdir -p out && echo \"ran $1\" > out/result.csv\n"
	if err := os.WriteFile(filepath.Join(wd, "run.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if r := h.run("t-rel", "./run.sh x"); r.ExitCode != 0 || !r.Started {
		t.Fatalf("./run.sh: %+v", r)
	}
	files, err := h.r.ListFiles("job1", "t-rel", true)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := paths(files), []string{"stderr.txt", "stdout.txt", "wd", "wd/out", "wd/out/result.csv", "wd/run.sh"}; !slices.Equal(got, want) {
		t.Errorf("ListFiles = %q, want %q", got, want)
	}
	f, _, err := h.r.OpenFile("job1", "t-rel", "wd/out/result.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if data, _ := io.ReadAll(f); string(data) != "ran x\n" {
		t.Errorf("wd/out/result.csv = %q", data)
	}
	if _, _, err := h.r.OpenFile("job1", "t-rel", "../t-pwd/stdout.txt"); !errors.Is(err, ErrInvalidPath) {
		t.Errorf("OpenFile escaping the task directory: %v, want ErrInvalidPath", err)
	}

	// A program name without a slash is searched in the task's own PATH, whose relative
	// entries are relative to the working directory.
	wd, _ = h.r.WorkingDir("job1", "t-path")
	if err := os.MkdirAll(filepath.Join(wd, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wd, "bin", "hello"), []byte("#!/bin/sh\necho hello from PATH\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.start(TaskSpec{TaskID: "t-path", AttemptID: "a-path", CommandLine: "hello",
		Env: []EnvSetting{{Name: "PATH", Value: "/nonexistent:bin:/usr/bin:/bin"}}})
	if r := h.result("a-path"); r.ExitCode != 0 || !r.Started {
		t.Fatalf("hello: %+v", r)
	}
	if got := h.taskFile("t-path", "stdout.txt"); got != "hello from PATH\n" {
		t.Errorf("stdout.txt = %q", got)
	}
}

func TestQuotingReachesTheProgram(t *testing.T) {
	h := newHarness(t, "")
	r := h.run("t-q", `/bin/sh -c 'printf "[%s]" "$@"' sh a "b c" 'd "e"' "f\"g\\h" i\ j '' "$HOME" \$x`)
	if r.ExitCode != 0 {
		t.Fatalf("%+v", r)
	}
	want := `[a][b c][d "e"][f"g\h][i j][][$HOME][$x]`
	if got := h.taskFile("t-q", "stdout.txt"); got != want {
		t.Errorf("arguments seen by the program = %s, want %s", got, want)
	}
}

func TestLaunchFailures(t *testing.T) {
	h := newHarness(t, "")
	wd, _ := h.r.WorkingDir("job1", "t-noexec")
	if err := os.MkdirAll(wd, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wd, "data.txt"), []byte("not a program"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		task, commandLine, code string
	}{
		{"t-path", "no-such-program-for-corral-tests arg", CodeCommandProgramNotFound},
		{"t-abs", "/nonexistent/program", CodeCommandProgramNotFound},
		{"t-relmissing", "./missing.sh", CodeCommandProgramNotFound},
		{"t-noexec", "./data.txt", CodeCommandLaunchFailed},
		{"t-dir", "/tmp", CodeCommandLaunchFailed},
		{"t-quote", `/bin/echo "unterminated`, CodeCommandLaunchFailed},
		{"t-empty", "   ", CodeCommandLaunchFailed},
	}
	for _, tt := range tests {
		r := h.run(tt.task, tt.commandLine)
		if r.Started || r.Failure == nil || r.Failure.Code != tt.code || r.Failure.Category != CategoryUserError || r.Failure.Message == "" {
			t.Errorf("%q: result %+v (failure %+v), want code %s", tt.commandLine, r, r.Failure, tt.code)
		}
		saved, ok, err := h.r.ReadResult("job1", tt.task)
		if err != nil || !ok || !reflect.DeepEqual(saved, r) {
			t.Errorf("%q: outcome file %+v, %v, %v; want %+v", tt.commandLine, saved, ok, err, r)
		}
	}
	if got := h.r.Running(); len(got) != 0 {
		t.Errorf("Running() = %q", got)
	}
}

func TestTimeoutKillsTheGroup(t *testing.T) {
	h := newHarness(t, "")
	h.start(TaskSpec{TaskID: "t-to", AttemptID: "a-to", MaxWallClock: 2 * time.Second,
		CommandLine: `/bin/sh -c "sleep 100 & echo $! > bg.pid; sleep 100"`})
	pgid := h.pid("a-to")
	r := h.result("a-to")
	if !r.Started || !r.TimedOut || r.Killed || r.Signal != int(syscall.SIGKILL) || r.ExitCode != 137 {
		t.Errorf("result %+v, want timed out by SIGKILL", r)
	}
	eventually(t, "every process of the task's group gone", func() bool { return len(groupMembers(pgid)) == 0 })
	if wd, _ := h.r.WorkingDir("job1", "t-to"); fileExists(filepath.Join(wd, "bg.pid")) {
		bg := h.waitForPidFile("t-to", "bg.pid")
		eventually(t, "background sleep gone", func() bool { return !alive(bg) })
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func TestKillKillsTheGroup(t *testing.T) {
	h := newHarness(t, "")
	h.start(TaskSpec{TaskID: "t-kill", AttemptID: "a-kill",
		CommandLine: `/bin/sh -c "sleep 100 & echo $! > bg.pid; sleep 100 & echo $! > bg2.pid; wait"`})
	pgid := h.pid("a-kill")
	bg := h.waitForPidFile("t-kill", "bg.pid")
	bg2 := h.waitForPidFile("t-kill", "bg2.pid")
	if members := groupMembers(pgid); len(members) < 3 {
		t.Fatalf("group %d has members %v, want the shell and two sleeps", pgid, members)
	}
	if got := h.r.Running(); !slices.Equal(got, []string{"a-kill"}) {
		t.Errorf("Running() = %q", got)
	}
	if _, ok := h.r.StartTime("a-kill"); !ok {
		t.Error("StartTime of a running attempt not known")
	}
	if err := h.r.Kill("a-kill"); err != nil {
		t.Fatal(err)
	}
	if err := h.r.Kill("a-kill"); err != nil { // repeated request
		t.Fatal(err)
	}
	r := h.result("a-kill")
	if !r.Started || !r.Killed || r.TimedOut || r.ExitCode != 137 {
		t.Errorf("result %+v, want killed", r)
	}
	eventually(t, "every process of the task's group gone", func() bool { return len(groupMembers(pgid)) == 0 })
	if alive(bg) || alive(bg2) {
		t.Errorf("background sleeps %d, %d survived", bg, bg2)
	}
	if err := h.r.Kill("a-kill"); err != nil { // after the end
		t.Errorf("Kill after the end: %v", err)
	}
	if err := h.r.Kill("never-started"); err != nil {
		t.Errorf("Kill of an unknown attempt: %v", err)
	}
	if _, ok := h.r.StartTime("a-kill"); ok {
		t.Error("StartTime of an ended attempt known")
	}
}

func TestLeftoversKilledWhenTaskExits(t *testing.T) {
	h := newHarness(t, "")
	h.start(TaskSpec{TaskID: "t-bg", AttemptID: "a-bg", CommandLine: `/bin/sh -c "sleep 100 & echo $! > bg.pid"`})
	pgid := h.pid("a-bg")
	r := h.result("a-bg")
	if r.ExitCode != 0 || r.Killed || r.TimedOut {
		t.Errorf("result %+v, want a clean exit", r)
	}
	bg := h.waitForPidFile("t-bg", "bg.pid")
	eventually(t, "background sleep left by the task gone", func() bool { return !alive(bg) && len(groupMembers(pgid)) == 0 })
}

func TestStartIsIdempotent(t *testing.T) {
	root := nodeRoot(t)
	h := newHarness(t, root)
	spec := TaskSpec{JobID: "job1", TaskID: "t-idem", AttemptID: "a1",
		CommandLine: `/bin/sh -c "echo run >> count; echo started; exec sleep 100"`}
	h.start(spec)
	h.start(spec) // a retried request
	if got := h.r.Running(); !slices.Equal(got, []string{"a1"}) {
		t.Fatalf("Running() = %q, want [a1]", got)
	}
	other := spec
	other.AttemptID = "a2"
	if err := h.r.Start(other); !errors.Is(err, ErrTaskBusy) {
		t.Errorf("Start of another attempt of a running task: %v, want ErrTaskBusy", err)
	}
	clash := spec
	clash.TaskID = "other-task"
	if err := h.r.Start(clash); err == nil {
		t.Error("Start reusing a running attempt id for another task succeeded")
	}
	taskDir, _ := h.r.TaskDir("job1", "t-idem")
	eventually(t, "the task has run", func() bool {
		data, _ := os.ReadFile(filepath.Join(taskDir, "stdout.txt"))
		return string(data) == "started\n"
	})
	if err := h.r.Kill("a1"); err != nil {
		t.Fatal(err)
	}
	h.result("a1")

	// The attempt ended: starting it again does nothing.
	h.start(spec)
	if got := h.r.Running(); len(got) != 0 {
		t.Fatalf("Running() = %q after re-starting an ended attempt", got)
	}
	if got := h.taskFile("t-idem", "wd/count"); got != "run\n" {
		t.Errorf("the task ran %d times, want once", strings.Count(got, "run"))
	}

	// Nor after an agent restart on the same root.
	h.r.Close()
	h2 := newHarness(t, root)
	h2.start(spec)
	if got := h2.r.Running(); len(got) != 0 {
		t.Fatalf("Running() = %q after re-starting an ended attempt in a new Runner", got)
	}

	// A new attempt runs: output files are truncated, the working directory is kept.
	h2.start(TaskSpec{JobID: "job1", TaskID: "t-idem", AttemptID: "a3",
		CommandLine: `/bin/sh -c "echo run >> count; echo second"`})
	if r := h2.result("a3"); r.ExitCode != 0 {
		t.Fatalf("a3: %+v", r)
	}
	if got := h2.taskFile("t-idem", "wd/count"); got != "run\nrun\n" {
		t.Errorf("count = %q after the second attempt", got)
	}
	if got := h2.taskFile("t-idem", "stdout.txt"); got != "second\n" {
		t.Errorf("stdout.txt = %q after the second attempt", got)
	}
	if res, ok, err := h2.r.ReadResult("job1", "t-idem"); err != nil || !ok || res.AttemptID != "a3" {
		t.Errorf("ReadResult = %+v, %v, %v; want attempt a3", res, ok, err)
	}
}

func TestOutcomeWrittenBeforeOnDone(t *testing.T) {
	root := nodeRoot(t)
	var (
		r        *Runner
		ready    = make(chan struct{})
		mu       sync.Mutex
		problems []string
		results  = make(chan Result, 10)
	)
	r, err := NewRunner(Config{Root: root, NodeID: "n", PoolID: "p", OnDone: func(res Result) {
		<-ready
		saved, ok, err := r.ReadResult(res.JobID, res.TaskID)
		mu.Lock()
		defer mu.Unlock()
		if err != nil || !ok || !reflect.DeepEqual(saved, res) {
			problems = append(problems, fmt.Sprintf("in OnDone, outcome file = %+v, %v, %v; want %+v", saved, ok, err, res))
		}
		if slices.Contains(r.Running(), res.AttemptID) {
			problems = append(problems, "in OnDone, the attempt is still in Running()")
		}
		results <- res
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	close(ready)
	for i, cl := range []string{"/bin/true", `/bin/sh -c "exit 7"`, "/no/such/program"} {
		id := fmt.Sprintf("a%d", i)
		if err := r.Start(TaskSpec{JobID: "j", TaskID: fmt.Sprintf("t%d", i), AttemptID: id, CommandLine: cl}); err != nil {
			t.Fatal(err)
		}
	}
	var got []Result
	for range 3 {
		select {
		case res := <-results:
			got = append(got, res)
		case <-time.After(deadline):
			t.Fatal("results missing")
		}
	}
	mu.Lock()
	for _, p := range problems {
		t.Error(p)
	}
	mu.Unlock()

	// A restarted agent finds the results on disk.
	r.Close()
	r2, err := NewRunner(Config{Root: root, OnDone: func(Result) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	pending, err := r2.PendingResults()
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b Result) int { return strings.Compare(a.TaskID, b.TaskID) })
	if !reflect.DeepEqual(pending, got) {
		t.Errorf("after restart, PendingResults = %+v\nwant %+v", pending, got)
	}
}

func TestCloseKillsEverything(t *testing.T) {
	h := newHarness(t, "")
	var pgids []int
	for _, id := range []string{"c1", "c2"} {
		h.start(TaskSpec{TaskID: "t-" + id, AttemptID: id, CommandLine: `/bin/sh -c "sleep 100 & sleep 100"`})
		pgids = append(pgids, h.pid(id))
	}
	h.r.Close()
	for _, id := range []string{"c1", "c2"} {
		if r := h.result(id); !r.Killed {
			t.Errorf("%s: %+v, want killed", id, r)
		}
	}
	for _, pgid := range pgids {
		eventually(t, "task group gone after Close", func() bool { return len(groupMembers(pgid)) == 0 })
	}
	if err := h.r.Start(TaskSpec{JobID: "j", TaskID: "t", AttemptID: "late", CommandLine: "/bin/true"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v, want ErrClosed", err)
	}
	h.r.Close() // again
}

func TestStartRejectsInvalidRequests(t *testing.T) {
	h := newHarness(t, "")
	bad := []TaskSpec{
		{JobID: "..", TaskID: "t", AttemptID: "a", CommandLine: "/bin/true"},
		{JobID: "j", TaskID: "../../x", AttemptID: "a", CommandLine: "/bin/true"},
		{JobID: "j/k", TaskID: "t", AttemptID: "a", CommandLine: "/bin/true"},
		{JobID: "", TaskID: "t", AttemptID: "a", CommandLine: "/bin/true"},
		{JobID: "j", TaskID: "t", AttemptID: "", CommandLine: "/bin/true"},
		{JobID: "j", TaskID: "t", AttemptID: "a b", CommandLine: "/bin/true"},
		{JobID: "j", TaskID: "t", AttemptID: "a", CommandLine: "/bin/true", Env: []EnvSetting{{Name: "A=B", Value: "x"}}},
		{JobID: "j", TaskID: "t", AttemptID: "a", CommandLine: "/bin/true", Env: []EnvSetting{{Name: "", Value: "x"}}},
		{JobID: "j", TaskID: "t", AttemptID: "a", CommandLine: "/bin/true", Env: []EnvSetting{{Name: "A", Value: "x\x00y"}}},
		{JobID: "j", TaskID: "t", AttemptID: "a", CommandLine: "/bin/true", MaxWallClock: -time.Second},
	}
	for _, spec := range bad {
		if err := h.r.Start(spec); err == nil {
			t.Errorf("Start(%+v) succeeded", spec)
		}
	}
	if err := h.r.Start(bad[0]); !errors.Is(err, ErrInvalidID) {
		t.Errorf("Start with job id \"..\": %v, want ErrInvalidID", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(h.r.Root(), "workitems")); len(ents) != 0 {
		t.Errorf("invalid requests created directories: %v", ents)
	}
	if _, err := NewRunner(Config{Root: t.TempDir()}); err == nil {
		t.Error("NewRunner without OnDone succeeded")
	}
}

// TestAgentDeathKillsTasks runs a Runner in a child process (this test binary, see
// TestHelperAgent), kills that process with SIGKILL, and checks that the task it started dies
// too.
func TestAgentDeathKillsTasks(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperAgent$", "-test.v=false")
	cmd.Env = append(os.Environ(), "CORRAL_AGENT_HELPER_ROOT="+nodeRoot(t))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if pid, ok := strings.CutPrefix(sc.Text(), "TASKPID "); ok {
				lines <- pid
				return
			}
		}
		close(lines)
	}()
	var pid int
	select {
	case s, ok := <-lines:
		if !ok {
			t.Fatal("helper agent exited without starting its task")
		}
		pid, _ = strconv.Atoi(s)
	case <-time.After(deadline):
		t.Fatal("helper agent did not start its task")
	}
	t.Cleanup(func() {
		if alive(pid) {
			syscall.Kill(-pid, syscall.SIGKILL)
		}
	})
	if !alive(pid) {
		t.Fatalf("task process %d not running", pid)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	eventually(t, "task of a dead agent gone", func() bool { return !alive(pid) })
}

// TestHelperAgent is the child process of TestAgentDeathKillsTasks; on its own it is skipped.
func TestHelperAgent(t *testing.T) {
	root := os.Getenv("CORRAL_AGENT_HELPER_ROOT")
	if root == "" {
		t.Skip("helper process for TestAgentDeathKillsTasks")
	}
	r, err := NewRunner(Config{Root: root, OnDone: func(Result) {}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(TaskSpec{JobID: "j", TaskID: "t", AttemptID: "a", CommandLine: "/bin/sleep 100"}); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	pid := r.running["a"].pid
	r.mu.Unlock()
	fmt.Printf("TASKPID %d\n", pid)
	time.Sleep(time.Hour) // until the parent test kills this process

}
