//go:build linux

package agent

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// isolatedHarness is a harness whose Runner runs tasks as users of their own; the test is
// skipped where that cannot be.
func isolatedHarness(t *testing.T, root string) *harness {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: only an agent running as root runs tasks as users of their own")
	}
	h := newHarness(t, root)
	if !h.r.isolate {
		t.Skipf("tasks do not run as users of their own: a directory above %s is closed to other users", h.r.Root())
	}
	return h
}

// ids runs a task that prints its user id, group id, groups and HOME, and returns them.
func (h *harness) ids(spec TaskSpec) (uid, gid int, groups []int, home string) {
	h.t.Helper()
	spec.CommandLine = `/bin/sh -c 'id -u; id -g; id -G; echo "$HOME"'`
	h.start(spec)
	if r := h.result(spec.AttemptID); r.ExitCode != 0 {
		h.t.Fatalf("id: %+v, stderr %q", r, h.taskFile(spec.TaskID, StderrFile))
	}
	lines := strings.Split(h.taskFile(spec.TaskID, StdoutFile), "\n")
	if len(lines) < 4 {
		h.t.Fatalf("id printed %q", lines)
	}
	uid, _ = strconv.Atoi(lines[0])
	gid, _ = strconv.Atoi(lines[1])
	for _, f := range strings.Fields(lines[2]) {
		g, _ := strconv.Atoi(f)
		groups = append(groups, g)
	}
	return uid, gid, groups, lines[3]
}

func owner(t *testing.T, p string) (uid int, mode os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid), fi.Mode()
}

// TestTaskUsers checks whom tasks run as under a root agent, and who owns their files.
func TestTaskUsers(t *testing.T) {
	h := isolatedHarness(t, "")
	seen := map[int]bool{}
	tests := []struct {
		name  string
		admin bool
	}{
		{"own user", false},
		{"another task, another user", false},
		{"admin", true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := fmt.Sprintf("t-user%d", i)
			uid, gid, groups, home := h.ids(TaskSpec{TaskID: task, AttemptID: "a-" + task, ElevationAdmin: tt.admin})
			dir, _ := h.r.TaskDir("job1", task)
			wd := filepath.Join(dir, WorkingDirName)
			if home != wd {
				t.Errorf("HOME = %q, want the working directory %q", home, wd)
			}
			want := 0
			if !tt.admin {
				if uid < int(DefaultTaskUIDs.First) || uid > int(DefaultTaskUIDs.Last) || seen[uid] {
					t.Errorf("uid %d: want a fresh one in %v (had %v)", uid, DefaultTaskUIDs, seen)
				}
				if gid != uid || !slices.Equal(groups, []int{uid}) {
					t.Errorf("gid %d, groups %v; want %d and no other group", gid, groups, uid)
				}
				seen[uid] = true
				want = uid
			} else if uid != 0 {
				t.Errorf("admin task's uid = %d, want 0", uid)
			}
			for _, f := range []struct {
				path  string
				owner int
				mode  os.FileMode
			}{
				{dir, 0, os.ModeDir | modeTaskDir},
				{wd, want, os.ModeDir | modeWorkDir},
				{filepath.Join(dir, StdoutFile), want, modeFile},
				{filepath.Join(dir, StderrFile), want, modeFile},
				{filepath.Join(dir, journalFile), 0, modeFile},
				{filepath.Dir(dir), 0, os.ModeDir | modeTraverse},
				{filepath.Dir(filepath.Dir(dir)), 0, os.ModeDir | modeTraverse},
			} {
				if o, m := owner(t, f.path); o != f.owner || m != f.mode {
					t.Errorf("%s: owner %d, mode %v; want %d, %v", f.path, o, m, f.owner, f.mode)
				}
			}
		})
	}
	root := h.r.Root()
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{
		{root, os.ModeDir | modeTraverse},
		{filepath.Join(root, workitemsDir), os.ModeDir | modeTraverse},
		{h.r.SharedDir(), os.ModeDir | modeShared},
		{h.r.StartupDir(), os.ModeDir | modeStartup},
		{filepath.Join(root, uidsFile), modeFile},
	} {
		if o, m := owner(t, d.path); o != 0 || m != d.mode {
			t.Errorf("%s: owner %d, mode %v; want root, %v", d.path, o, m, d.mode)
		}
	}
}

// TestTaskCannotReach runs, under a root agent, tasks that try to reach what is not theirs: each
// must fail, and (where harmless) the same command as an admin task must succeed, which shows
// that the path is right.
func TestTaskCannotReach(t *testing.T) {
	h := isolatedHarness(t, "")
	root := h.r.Root()
	credential := filepath.Join(root, "credential")
	if err := os.WriteFile(credential, []byte("node-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A finished task and a running one, each with a file in its working directory (made with
	// the default umask, so readable by all if the directory let them in) and one in the shared
	// directory.
	victim := `/bin/sh -c 'echo secret > secret.txt; echo mine > "$AZ_BATCH_NODE_SHARED_DIR/$AZ_BATCH_TASK_ID"; echo $$ > pid; echo out; exec sleep %s'`
	h.start(TaskSpec{TaskID: "done", AttemptID: "a-done", CommandLine: fmt.Sprintf(victim, "0")})
	if r := h.result("a-done"); r.ExitCode != 0 {
		t.Fatalf("finished task: %+v", r)
	}
	h.start(TaskSpec{TaskID: "running", AttemptID: "a-running", CommandLine: fmt.Sprintf(victim, "100")})
	runningPid := h.waitForPidFile("running", "pid")
	doneDir, _ := h.r.TaskDir("job1", "done")
	runningDir, _ := h.r.TaskDir("job1", "running")

	tests := []struct {
		name    string
		command string
		control bool // an admin task may run it too, and succeeds
	}{
		{"node credential", "cat " + credential, true},
		{"agent's environment", fmt.Sprintf("cat /proc/%d/environ", os.Getpid()), true},
		{"task uid record", "cat " + filepath.Join(root, uidsFile), true},
		{"list of jobs", "ls " + filepath.Join(root, workitemsDir), true},
		{"finished task's file", "cat " + filepath.Join(doneDir, WorkingDirName, "secret.txt"), true},
		{"running task's file", "cat " + filepath.Join(runningDir, WorkingDirName, "secret.txt"), true},
		{"finished task's output", "cat " + filepath.Join(doneDir, StdoutFile), true},
		{"another task's bookkeeping", "cat " + filepath.Join(doneDir, journalFile), true},
		{"writing into a running task's directory", "touch " + filepath.Join(runningDir, WorkingDirName, "planted"), false},
		{"its own bookkeeping", `/bin/sh -c 'echo forged >> "$AZ_BATCH_TASK_DIR/` + journalFile + `"'`, false},
		{"a file in its task directory", `/bin/sh -c 'echo x > "$AZ_BATCH_TASK_DIR/x"'`, false},
		{"another task's shared file", `/bin/sh -c 'rm -f "$AZ_BATCH_NODE_SHARED_DIR/done"'`, false},
		{"signalling a running task", fmt.Sprintf("/bin/sh -c 'kill -KILL %d'", runningPid), false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, admin := range []bool{false, true} {
				if admin && !tt.control {
					continue
				}
				task := fmt.Sprintf("probe%d-%v", i, admin)
				h.start(TaskSpec{TaskID: task, AttemptID: "a-" + task, CommandLine: tt.command, ElevationAdmin: admin})
				r := h.result("a-" + task)
				if !r.Started {
					t.Fatalf("admin %v: not started: %+v", admin, r)
				}
				if got := r.ExitCode == 0; got != admin {
					t.Errorf("admin %v: exit code %d, stderr %q", admin, r.ExitCode, h.taskFile(task, StderrFile))
				}
			}
		})
	}
	// The shared directory is for everyone: a task adds to it.
	if r := h.run("t-shared", `/bin/sh -c 'echo hi > "$AZ_BATCH_NODE_SHARED_DIR/new"'`); r.ExitCode != 0 {
		t.Errorf("writing into the shared directory: %+v", r)
	}
	if !alive(runningPid) {
		t.Error("the running task was killed by another task")
	}
	data, _ := os.ReadFile(filepath.Join(doneDir, journalFile))
	if j := parseJournal(data, "a-done"); !j.seen || j.latest != "a-done" || j.result == nil || strings.Count(string(data), "\n") != 2 {
		t.Errorf("finished task's journal = %q, want its start and result lines", data)
	}
}

// TestIsolatedTaskLifecycle checks, under a root agent, that a task of its own user is killed
// with its whole group, times out, and leaves outputs and a result that the agent reads, however
// the task set their modes.
func TestIsolatedTaskLifecycle(t *testing.T) {
	h := isolatedHarness(t, "")

	// Killed: the main process and a child in its group, both of the task's user.
	h.start(TaskSpec{TaskID: "t-kill", AttemptID: "a-kill",
		CommandLine: `/bin/sh -c 'sleep 100 & echo $! > child.pid; exec sleep 100'`})
	child := h.waitForPidFile("t-kill", "child.pid")
	pid := h.pid("a-kill")
	for _, p := range []int{pid, child} {
		if uid := procUID(t, p); uid == 0 {
			t.Errorf("process %d runs as root", p)
		}
	}
	if err := h.r.Kill("a-kill"); err != nil {
		t.Fatal(err)
	}
	if r := h.result("a-kill"); !r.Killed || r.ExitCode != 137 {
		t.Errorf("killed task: %+v", r)
	}
	eventually(t, "killed task's group gone", func() bool { return len(groupMembers(pid)) == 0 })

	// Timed out.
	h.start(TaskSpec{TaskID: "t-timeout", AttemptID: "a-timeout", CommandLine: "/bin/sleep 100", MaxWallClock: 100 * time.Millisecond})
	if r := h.result("a-timeout"); !r.TimedOut || r.ExitCode != 137 {
		t.Errorf("timed-out task: %+v", r)
	}

	// Outputs that only their owner may read are still the agent's to serve.
	r := h.run("t-out", `/bin/sh -c 'umask 077; mkdir out; echo result > out/r.txt; chmod 000 out/r.txt out; echo done'`)
	if r.ExitCode != 0 {
		t.Fatalf("t-out: %+v, stderr %q", r, h.taskFile("t-out", StderrFile))
	}
	files, err := h.r.ListFiles("job1", "t-out", true)
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(files); !slices.Equal(got, []string{"stderr.txt", "stdout.txt", "wd", "wd/out", "wd/out/r.txt"}) {
		t.Errorf("ListFiles = %q", got)
	}
	for name, want := range map[string]string{"wd/out/r.txt": "result\n", StdoutFile: "done\n"} {
		f, _, err := h.r.OpenFile("job1", "t-out", name)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(f)
		f.Close()
		if string(data) != want {
			t.Errorf("%s = %q, want %q", name, data, want)
		}
	}
	if res, ok, err := h.r.ReadResult("job1", "t-out"); err != nil || !ok || res.AttemptID != "attempt-t-out" {
		t.Errorf("ReadResult = %+v, %v, %v", res, ok, err)
	}
}

// procUID returns the real user id of a running process.
func procUID(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			uid, _ := strconv.Atoi(strings.Fields(rest)[0])
			return uid
		}
	}
	t.Fatalf("no Uid line in /proc/%d/status", pid)
	return -1
}

// TestTaskUIDsAcrossRestart checks that a new Runner on the same root gives fresh ids, and that
// a new attempt of a task, under its new id, still has the files of the earlier one.
func TestTaskUIDsAcrossRestart(t *testing.T) {
	root := nodeRoot(t)
	h1 := isolatedHarness(t, root)
	write := TaskSpec{TaskID: "t-keep", AttemptID: "a1", CommandLine: `/bin/sh -c 'umask 077; mkdir -p d; echo one > d/data; id -u'`}
	h1.start(write)
	if r := h1.result("a1"); r.ExitCode != 0 {
		t.Fatalf("first attempt: %+v", r)
	}
	uid1, _ := strconv.Atoi(strings.TrimSpace(h1.taskFile("t-keep", StdoutFile)))
	h1.r.Close()

	h2 := isolatedHarness(t, root)
	again := TaskSpec{TaskID: "t-keep", AttemptID: "a2", CommandLine: `/bin/sh -c 'echo two >> d/data && cat d/data && id -u'`}
	h2.start(again)
	if r := h2.result("a2"); r.ExitCode != 0 {
		t.Fatalf("second attempt: %+v, stderr %q", r, h2.taskFile("t-keep", StderrFile))
	}
	out := strings.Fields(h2.taskFile("t-keep", StdoutFile))
	if len(out) != 3 || out[0] != "one" || out[1] != "two" {
		t.Fatalf("second attempt printed %q", out)
	}
	uid2, _ := strconv.Atoi(out[2])
	if uid2 < uid1+uidBlock {
		t.Errorf("uid after a restart = %d, want one beyond the block of %d", uid2, uid1)
	}
	wd, _ := h2.r.WorkingDir("job1", "t-keep")
	if o, _ := owner(t, filepath.Join(wd, "d", "data")); o != uid2 {
		t.Errorf("the earlier attempt's file belongs to %d, want %d", o, uid2)
	}
}

// TestUnreachableRootRunsTasksAsRoot checks what a root agent does when a directory above its
// root is closed to other users: it says so, and runs tasks as root.
func TestUnreachableRootRunsTasksAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	closed := t.TempDir()
	if err := os.Chmod(closed, 0o700); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	results := make(chan Result, 1)
	r, err := NewRunner(Config{Root: filepath.Join(closed, "node"), OnDone: func(res Result) { results <- res },
		Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.isolate || !strings.Contains(logged.String(), "tasks run as root") || !strings.Contains(logged.String(), closed) {
		t.Errorf("isolate %v, log %q; want a warning naming %s", r.isolate, logged.String(), closed)
	}
	if err := r.Start(TaskSpec{JobID: "j", TaskID: "t", AttemptID: "a", CommandLine: "id -u"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-results:
	case <-time.After(deadline):
		t.Fatal("no result")
	}
	f, _, err := r.OpenFile("j", "t", StdoutFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if data, _ := io.ReadAll(f); string(data) != "0\n" {
		t.Errorf("id -u = %q, want 0", data)
	}
}

// TestAgentEnvironmentDoesNotReachTasks runs a Runner in a child process (this test binary, see
// TestHelperEnvAgent) whose environment holds CORRAL_ACCOUNT_KEY, and a task that prints its
// own environment and tries to read the agent's from /proc. Neither may show the key; when the
// agent is not root, /proc shows it (as the package documentation says), and only the task's
// own environment is checked.
func TestAgentEnvironmentDoesNotReachTasks(t *testing.T) {
	const key = "c2VjcmV0LWFjY291bnQta2V5"
	root := nodeRoot(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperEnvAgent$", "-test.v=false")
	cmd.Env = append(os.Environ(), "CORRAL_AGENT_ENV_HELPER_ROOT="+root, "CORRAL_ACCOUNT_KEY="+key)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helper agent: %v", err)
	}
	if !strings.Contains(string(out), "TASKDONE") {
		t.Fatalf("helper agent did not run its task: %q", out)
	}
	l, err := NewLayout(root)
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := l.OpenFile("j", "t", StdoutFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, _ := io.ReadAll(f)
	own, proc, ok := strings.Cut(string(data), "---\n")
	if !ok || !strings.Contains(own, "AZ_BATCH_TASK_ID=t") {
		t.Fatalf("task printed %q", data)
	}
	if strings.Contains(own, key) {
		t.Errorf("the account key is in the task's environment:\n%s", own)
	}
	if os.Geteuid() == 0 {
		if strings.Contains(proc, key) {
			t.Errorf("the task read the account key from /proc/<agent>/environ")
		}
	} else {
		t.Logf("not root: the task can read /proc/<agent>/environ (%d bytes)", len(proc))
	}
}

// TestHelperEnvAgent is the child process of TestAgentEnvironmentDoesNotReachTasks; on its own
// it is skipped.
func TestHelperEnvAgent(t *testing.T) {
	root := os.Getenv("CORRAL_AGENT_ENV_HELPER_ROOT")
	if root == "" {
		t.Skip("helper process for TestAgentEnvironmentDoesNotReachTasks")
	}
	done := make(chan Result, 1)
	r, err := NewRunner(Config{Root: root, OnDone: func(res Result) { done <- res }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Start(TaskSpec{JobID: "j", TaskID: "t", AttemptID: "a",
		CommandLine: `/bin/sh -c 'env; echo ---; tr "\0" "\n" < /proc/$PPID/environ'`}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
		fmt.Println("TASKDONE")
	case <-time.After(deadline):
		t.Fatal("task did not end")
	}
}

// TestElevationNeedsRoot checks that an agent that is not root (or a root agent made to behave
// as one) fails an elevated task without starting it.
func TestElevationNeedsRoot(t *testing.T) {
	h := newHarness(t, "")
	h.r.superuser, h.r.isolate = false, false
	h.start(TaskSpec{TaskID: "t-admin", AttemptID: "a-admin", CommandLine: "/bin/true", ElevationAdmin: true})
	r := h.result("a-admin")
	if r.Started || r.Failure == nil || r.Failure.Code != codeInvalidTaskRequest {
		t.Errorf("elevated task on an agent that is not root: %+v", r)
	}
	if res, ok, err := h.r.ReadResult("job1", "t-admin"); err != nil || !ok || res.Failure == nil {
		t.Errorf("ReadResult = %+v, %v, %v; want the failure", res, ok, err)
	}
}
