package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"corral/actor"
	"corral/batch"
	"corral/compute/local"
	"corral/server"
)

// The tests in this file build the corral binary (once per test run) and start servers and node
// agents; -short skips them. Every process they start is killed before they end.

var (
	binOnce sync.Once
	binDir  string
	binPath string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// corralBin builds the corral binary, once.
func corralBin(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the corral binary and starts processes")
	}
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "corral-cli-test-"); binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "corral")
		if out, err := exec.Command("go", "build", "-o", binPath, "corral/cmd/corral").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// baseEnv is the environment of the corral processes the tests start: this process's, less
// anything that would point them at another server or data directory.
func baseEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "CORRAL_") || k == "TMPDIR" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// runCorral runs the binary to its end (two minutes at most) and returns its exit code and output.
func runCorral(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, corralBin(t), args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee) && ctx.Err() == nil:
		return ee.ExitCode(), stdout.String(), stderr.String()
	default:
		t.Fatalf("corral %v: %v\nstdout:\n%s\nstderr:\n%s", args, err, stdout.String(), stderr.String())
		return 0, "", ""
	}
}

// killNodes kills the node agents left under a data directory (a corral run that failed to
// clean up), by adopting them as a new server would and killing them all.
func killNodes(t *testing.T, data string) {
	if _, err := os.Stat(filepath.Join(data, "nodes")); err != nil {
		return
	}
	p, err := local.New(local.Config{Runtime: actor.NewEngine(actor.Options{}), Root: filepath.Join(data, "nodes"),
		Command: func(string, string, string, bool) *exec.Cmd { return nil }})
	if err != nil {
		t.Errorf("adopt nodes to kill them: %v", err)
		return
	}
	p.KillAll()
}

// nodeDirs lists the node directories left under a data directory.
func nodeDirs(t *testing.T, data string) []string {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(data, "nodes", "*", "*"))
	return dirs
}

// TestRunWordcount is the newcomer's first command: corral run on the bundled example, with a
// server of its own.
func TestRunWordcount(t *testing.T) {
	corralBin(t)
	data := filepath.Join(t.TempDir(), "data")
	out := filepath.Join(t.TempDir(), "out")
	t.Cleanup(func() { killNodes(t, data) })

	code, stdout, stderr := runCorral(t, baseEnv("TMPDIR="+t.TempDir()), "run", "../../examples/jobs/wordcount.yaml", "--data", data, "--out", out)
	if code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"job wordcount: 6 tasks, 6 succeeded, 0 failed",
		"--- merge: stdout ---",
		"   13 that\n   11 the\n   10 we\n    8 here\n    8 to\n    7 a\n    6 and\n",
		"outputs in " + out,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout does not contain %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "6/6 completed, 0 running, 0 failed") {
		t.Errorf("stderr has no final progress line:\n%s", stderr)
	}
	for _, f := range []string{"tasks/merge/stdout.txt", "tasks/count-3/stdout.txt", "tasks/split/stderr.txt", "work/total.txt", "server.log"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("output: %v", err)
		}
	}
	// The nodes were killed and their directories removed; the data directory (--data) stays.
	if dirs := nodeDirs(t, data); len(dirs) > 0 {
		t.Errorf("node directories left: %v", dirs)
	}
	if _, err := os.Stat(filepath.Join(data, "corral.db")); err != nil {
		t.Errorf("data directory: %v", err)
	}
}

// TestRunFailure runs a job with a failing task on a temporary server: exit code 1, a summary that
// names the failure and shows its stderr, and nothing left behind but the output directory.
func TestRunFailure(t *testing.T) {
	corralBin(t)
	tmp := t.TempDir()
	t.Cleanup(func() {
		leftovers, _ := filepath.Glob(filepath.Join(tmp, "corral-data-*"))
		for _, d := range leftovers {
			killNodes(t, d)
		}
	})
	job := filepath.Join(t.TempDir(), "failing.yaml")
	if err := os.WriteFile(job, []byte(`
id: failing
tasks:
  - id: bad
    shell: echo boom >&2; exit 3
  - id: after
    dependsOn: bad
    command: "true"
  - id: fine
    command: [echo, fine]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCorral(t, baseEnv("TMPDIR="+tmp), "run", job, "--embedded", "--interval", "50ms")
	if code != 1 {
		t.Fatalf("exit code %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"job failing: 3 tasks, 1 succeeded, 1 failed, 1 blocked by a failed dependency",
		"--- fine: stdout ---\nfine\n",
		"failed: bad (exit code 3)",
		"--- bad: stderr, last lines ---\nboom\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout does not contain %q:\n%s", want, stdout)
		}
	}
	// The temporary data directory is gone; the output directory stays.
	if left, _ := filepath.Glob(filepath.Join(tmp, "corral-data-*")); len(left) > 0 {
		t.Errorf("data directories left: %v", left)
	}
	if outs, _ := filepath.Glob(filepath.Join(tmp, "corral-failing-*", "tasks", "bad", "stderr.txt")); len(outs) != 1 {
		t.Errorf("output directory: %v", outs)
	}
}

// freeAddr returns a free loopback address.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// testServer is a server in this process whose nodes are agent processes of the built binary.
type testServer struct {
	srv *server.Server
	env map[string]string // the CLI's environment for it
}

func startTestServer(t *testing.T) *testServer {
	t.Helper()
	bin := corralBin(t)
	key := []byte("cli-test-key-0123456789")
	b64 := base64.StdEncoding.EncodeToString(key)
	addr := freeAddr(t)
	srv, err := server.Start(server.Config{
		Listen:  addr,
		DataDir: t.TempDir(),
		Account: server.Account{Name: "corral", Key: key},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
		AgentCommand: func(pool, node, dir string, _ bool) *exec.Cmd {
			cmd := exec.Command(bin, "agent", "--root", dir)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "CORRAL_ACCOUNT_NAME=corral"}
			return cmd
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close the server: %v", err)
		}
		srv.Provider().KillAll()
	})
	return &testServer{srv: srv, env: map[string]string{
		"CORRAL_URL": srv.URL, "CORRAL_ACCOUNT_KEY": b64, "CORRAL_ACCOUNT_NAME": "corral", "CORRAL_DATA": t.TempDir()}}
}

// cli runs a CLI verb in this process against the server.
func (ts *testServer) cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := dispatch(args, &streams{Out: &out, Err: &errOut, Getenv: func(k string) string { return ts.env[k] }})
	return code, out.String(), errOut.String()
}

// mustCLI runs a CLI verb and fails the test unless it exits 0 and its stdout has every want.
func (ts *testServer) mustCLI(t *testing.T, args []string, wants ...string) string {
	t.Helper()
	code, out, errOut := ts.cli(t, args...)
	if code != 0 {
		t.Fatalf("corral %s: exit code %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("corral %s: stdout does not contain %q:\n%s", strings.Join(args, " "), w, out)
		}
	}
	return out
}

// until runs a CLI verb until its stdout has every want, for at most 30 seconds, and returns
// that stdout.
func (ts *testServer) until(t *testing.T, args []string, wants ...string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, out, _ := ts.cli(t, args...)
		missing := ""
		for _, w := range wants {
			if !strings.Contains(out, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("corral %s never had %q:\n%s", strings.Join(args, " "), missing, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// processEnv is the environment of a corral process that talks to the server.
func (ts *testServer) processEnv() []string {
	var extra []string
	for k, v := range ts.env {
		extra = append(extra, k+"="+v)
	}
	return baseEnv(extra...)
}

func writeJob(t *testing.T, name, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCLIAgainstServer drives the CLI verbs against a real server: pools, job submission, watch
// exit codes (success, failure, Ctrl-C), task listing, output and explanations.
func TestCLIAgainstServer(t *testing.T) {
	ts := startTestServer(t)

	ts.mustCLI(t, []string{"pool", "create", "p1", "--nodes", "2", "--slots", "2"}, "created pool p1: 2 nodes of 2 slots (spread)")
	if code, _, errOut := ts.cli(t, "pool", "create", "p1"); code != 1 || !strings.Contains(errOut, "pool p1 exists already") {
		t.Errorf("second pool create: exit %d, stderr %q", code, errOut)
	}
	ts.mustCLI(t, []string{"pool", "list"}, "ID", "p1", "spread")

	// A job that succeeds: watch exits 0.
	ok := writeJob(t, "ok.yaml", "id: ok\ntasks:\n  - id: a\n    command: echo hello\n  - id: b\n    dependsOn: [a]\n    shell: echo world >&2\n")
	if out := ts.mustCLI(t, []string{"job", "submit", ok, "--pool", "p1"}); out != "ok\n" {
		t.Errorf("job submit printed %q, want the job id", out)
	}
	if code, _, errOut := ts.cli(t, "job", "submit", ok, "--pool", "p1"); code != 1 || !strings.Contains(errOut, "a job ok exists already: give another id with --id") {
		t.Errorf("second submit: exit %d, stderr %q", code, errOut)
	}
	code, out, errOut := runCorral(t, ts.processEnv(), "job", "watch", "ok", "--interval", "50ms")
	if code != 0 || !strings.Contains(out, "job ok: all 2 tasks succeeded") || !strings.Contains(errOut, "2/2 completed, 0 running, 0 failed") {
		t.Errorf("job watch ok: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	ts.mustCLI(t, []string{"task", "list", "ok"}, "ID", "RETRIES", "a ", "completed  success  0")
	ts.mustCLI(t, []string{"task", "show", "ok", "b"}, "task b of job ok: completed (success)", "depends on:", "exit code:    0", "node:")
	ts.mustCLI(t, []string{"task", "explain", "ok", "a"}, "task a of job ok has completed: success (exit code 0)")
	ts.mustCLI(t, []string{"pool", "show", "p1"}, "pool p1: active", "NODE", "SLOTS BUSY")
	if out := ts.mustCLI(t, []string{"task", "output", "ok", "a"}); out != "hello\n" {
		t.Errorf("task output ok a = %q", out)
	}
	if out := ts.mustCLI(t, []string{"task", "output", "ok", "b", "--stderr"}); out != "world\n" {
		t.Errorf("task output ok b --stderr = %q", out)
	}

	// A job with a failed task and a task it blocks: watch exits 1 once nothing else can run.
	fail := writeJob(t, "fail.json", `{"id": "fail", "pool": "p1", "tasks": [
		{"id": "bad", "shell": "exit 3"},
		{"id": "after", "dependsOn": ["bad"], "command": "true"}]}`)
	ts.mustCLI(t, []string{"job", "submit", fail})
	code, out, errOut = runCorral(t, ts.processEnv(), "job", "watch", "fail", "--interval", "50ms")
	if code != 1 || !strings.Contains(out, "job fail: 0 of 2 tasks succeeded, 1 failed, 1 blocked by a failed dependency") ||
		!strings.Contains(out, "failed: bad (exit code 3)") || !strings.Contains(out, "corral task output fail bad --stderr") {
		t.Errorf("job watch fail: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	ts.mustCLI(t, []string{"task", "explain", "fail", "after"}, "has not started, and never will: its dependency bad failed")

	// A job on a pool that does not exist.
	ts.mustCLI(t, []string{"job", "submit", ok, "--pool", "nowhere", "--id", "lost"})
	ts.mustCLI(t, []string{"task", "explain", "lost", "a"}, "the job's pool nowhere does not exist")
	if code, _, errOut := ts.cli(t, "task", "output", "lost", "a"); code != 1 || !strings.Contains(errOut, "task a has not started yet, so it has no stdout.txt") {
		t.Errorf("task output of a task that never ran: exit %d, stderr %q", code, errOut)
	}

	// More tasks than one Add Collection takes: they go in chunks of 100. (On a pool without
	// nodes, so that they stay put.)
	ts.mustCLI(t, []string{"pool", "create", "empty", "--nodes", "0"}, "created pool empty: 0 nodes of 1 slot")
	var many strings.Builder
	many.WriteString(`{"id": "many", "pool": "empty", "tasks": [`)
	for i := range 250 {
		if i > 0 {
			many.WriteString(",")
		}
		fmt.Fprintf(&many, "\n{\"id\": \"t%03d\", \"command\": \"true\"}", i)
	}
	many.WriteString("]}")
	ts.mustCLI(t, []string{"job", "submit", writeJob(t, "many.json", many.String())})
	if out := ts.mustCLI(t, []string{"task", "list", "many"}, "t000", "t249"); strings.Count(out, "\n") != 251 {
		t.Errorf("task list many: %d lines, want 251", strings.Count(out, "\n"))
	}
	ts.mustCLI(t, []string{"task", "explain", "many", "t007"}, "pool empty has no nodes and wants none")

	// Tasks the server refuses are reported, each with its reason. (A job file cannot hold two
	// tasks with one id; the parsed job is made by hand.)
	c := &client{base: ts.srv.URL, account: "corral", key: []byte("cli-test-key-0123456789"), http: http.DefaultClient}
	dup := &parsedJob{Job: batch.Job{ID: "dup", PoolInfo: batch.PoolInformation{PoolID: "empty"}},
		Tasks: []batch.Task{{ID: "a", CommandLine: "true"}, {ID: "b", CommandLine: "true"}, {ID: "b", CommandLine: "false"}}}
	if err := submitJob(context.Background(), c, dup, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "job dup was created, but 1 of its 3 tasks could not be added:\n  task b: TaskExists") {
		t.Errorf("submit with a duplicate task: %v", err)
	}

	// Ctrl-C stops a watch: exit code 130.
	slow := writeJob(t, "slow.yaml", "id: slow\npool: p1\ntasks:\n  - id: nap\n    command: sleep 60\n")
	ts.mustCLI(t, []string{"job", "submit", slow})
	ts.mustCLI(t, []string{"job", "list"}, "ok", "fail", "slow", "lost")
	watch := exec.Command(corralBin(t), "job", "watch", "slow", "--interval", "50ms")
	watch.Env = ts.processEnv()
	stderr, err := watch.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { watch.Process.Kill(); watch.Wait() })
	time.AfterFunc(time.Minute, func() { watch.Process.Kill() }) // never hang the test
	lines := bufio.NewScanner(stderr)
	for lines.Scan() && !strings.Contains(lines.Text(), "0/1 completed, 1 running") {
	}
	if err := watch.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, stderr)
	err = watch.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Errorf("job watch after SIGINT: %v, want exit code %d", err, exitInterrupted)
	}
	ts.mustCLI(t, []string{"task", "explain", "slow", "nap"}, "task nap of job slow is running on node")
	// The nodes show it: one runs nap; together they have run a, b and bad, two of them
	// successfully.
	_, out, _ = ts.cli(t, "pool", "show", "p1", "--json")
	var shown struct {
		Nodes []batch.Node `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil {
		t.Fatalf("pool show p1 --json: %v\n%s", err, out)
	}
	var running, run, succeeded int32
	for _, n := range shown.Nodes {
		if n.State == batch.NodeRunning && n.RunningTasksCount == 1 && n.RunningTaskSlotsCount == 1 &&
			len(n.RecentTasks) == 1 && n.RecentTasks[0].TaskID == "nap" && strings.HasSuffix(n.RecentTasks[0].TaskURL, "/jobs/slow/tasks/nap") {
			running++
		}
		run += n.TotalTasksRun
		succeeded += n.TotalTasksSucceeded
	}
	if running != 1 || run != 3 || succeeded != 2 {
		t.Errorf("nodes show %d running nap, %d tasks run, %d succeeded; want 1, 3, 2:\n%s", running, run, succeeded, out)
	}
	ts.mustCLI(t, []string{"job", "terminate", "slow"}, "terminating job slow")
}

// TestRunOnServer runs a job file on a running server: corral run creates the pool it names,
// and takes a fresh job id when the file's is taken.
func TestRunOnServer(t *testing.T) {
	ts := startTestServer(t)
	job := writeJob(t, "hello.yaml", "id: hello\npool: mine\ntasks:\n  - id: a\n    command: echo hi\n")
	for i, wantID := range []string{"job hello:", "job hello-"} {
		code, out, errOut := runCorral(t, ts.processEnv(), "run", job, "--slots", "2", "--interval", "50ms")
		if code != 0 || !strings.Contains(out, wantID) || !strings.Contains(out, "corral task output hello") {
			t.Fatalf("run %d: exit %d\nstdout:\n%s\nstderr:\n%s", i, code, out, errOut)
		}
		if i == 0 && !strings.Contains(errOut, "created pool mine: 1 node of 2 slots") {
			t.Errorf("run 0 did not create the pool:\n%s", errOut)
		}
		if i == 1 && !strings.Contains(errOut, "job hello exists already: submitting as hello-") {
			t.Errorf("run 1 did not take a new id:\n%s", errOut)
		}
	}
}

// TestRunInterrupted stops corral run with Ctrl-C while a task runs: exit code 130, and the
// server it started, its nodes and the task's processes are all gone.
func TestRunInterrupted(t *testing.T) {
	bin := corralBin(t)
	tmp := t.TempDir()
	t.Cleanup(func() {
		leftovers, _ := filepath.Glob(filepath.Join(tmp, "corral-data-*"))
		for _, d := range leftovers {
			killNodes(t, d)
		}
	})
	out := t.TempDir()
	job := writeJob(t, "slow.yaml", "id: slow\ntasks:\n  - id: nap\n    shell: echo $$ > \"$CORRAL_JOB_DIR/pid\"; exec sleep 60\n")
	cmd := exec.Command(bin, "run", job, "--embedded", "--out", out, "--interval", "50ms")
	cmd.Env = baseEnv("TMPDIR=" + tmp)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	time.AfterFunc(time.Minute, func() { cmd.Process.Kill() }) // never hang the test
	lines := bufio.NewScanner(stderr)
	for lines.Scan() && !strings.Contains(lines.Text(), "0/1 completed, 1 running") {
	}
	var pid int
	for deadline := time.Now().Add(30 * time.Second); pid == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		b, _ := os.ReadFile(filepath.Join(out, "work", "pid"))
		fmt.Sscan(string(b), &pid)
	}
	if pid == 0 {
		t.Fatal("the task did not write its pid")
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, stderr)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitInterrupted {
		t.Errorf("corral run after SIGINT: %v, want exit code %d", err, exitInterrupted)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "corral-data-*")); len(left) > 0 {
		t.Errorf("data directories left: %v", left)
	}
	if _, err := os.Stat(filepath.Join(out, "tasks", "nap", "stdout.txt")); err != nil {
		t.Errorf("the output so far was not kept: %v", err)
	}
	// The task's process (a child of its node's agent) is gone, or a zombie waiting for an init
	// that does not reap.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if gone(pid) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the task's process %d still exists", pid)
			break
		}
	}
}

// gone reports whether process pid no longer runs: it does not exist, or it is a zombie.
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	// pid (comm) state …: comm may hold spaces and parentheses, so look after the last ')'.
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] == 'Z' || b[i+2] == 'X'
	}
	return false
}
