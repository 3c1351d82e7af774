package local

import (
	"errors"
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

	"corral/actor"
	"corral/compute"
	"corral/compute/computetest"
	procfs "corral/compute/internal/proc"
)

// helperEnv makes the test binary act as a node agent (see TestMain).
const helperEnv = "CORRAL_LOCAL_TEST_AGENT"

// TestMain lets the test binary stand in for a node agent: with helperEnv=tree it starts a child
// in a process group of its own (as an agent does for a task), writes the child's pid to
// child.pid in its working directory, and sleeps.
func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "tree":
		child := exec.Command("sleep", "1000")
		child.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := child.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if err := os.WriteFile("child.pid.tmp", []byte(strconv.Itoa(child.Process.Pid)), 0o600); err != nil {
			os.Exit(2)
		}
		if err := os.Rename("child.pid.tmp", "child.pid"); err != nil {
			os.Exit(2)
		}
		for {
			time.Sleep(time.Hour)
		}
	default:
		os.Exit(2)
	}
}

// deadline bounds every wait; tests never assert on time.
const deadline = computetest.Deadline

const requesterID actor.ID = "test.requester"

type harness struct {
	*computetest.Client
	t    *testing.T
	eng  *actor.Engine
	p    *Provider
	root string
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newHarness starts an engine with a provider on root and a requester. cfg's Runtime, Root and
// Logger are filled in; Command defaults to sleepAgent.
func newHarness(t *testing.T, root string, cfg Config) *harness {
	t.Helper()
	eng := actor.NewEngine(actor.Options{Logger: quiet(), OnFailure: func(f *actor.Failure) { t.Errorf("actor failure: %v", f) }})
	cfg.Runtime, cfg.Root, cfg.Logger = eng, root, quiet()
	if cfg.Command == nil {
		cfg.Command = sleepAgent
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(p.KillAll)
	if _, err := eng.Create(string(compute.ProviderID), p.Actor()); err != nil {
		t.Fatalf("create provider actor: %v", err)
	}
	return &harness{Client: computetest.NewClient(t, eng, requesterID), t: t, eng: eng, p: p, root: root}
}

func sleepAgent(_, _, _ string, _ bool) *exec.Cmd { return exec.Command("sleep", "1000") }

func treeAgent(_, _, _ string, _ bool) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=tree")
	return cmd
}

func awaitAs[E any](h *harness, id string) E {
	h.t.Helper()
	return computetest.Await[E](h.Client, id)
}

// proc is a process as the test reads it from /proc (independently of the package's reader).
type proc struct {
	state         string
	pgrp, session int
}

func readProc(pid int) (proc, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return proc{}, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndex(s, ")")+1:])
	pg, _ := strconv.Atoi(f[2])
	sid, _ := strconv.Atoi(f[3])
	return proc{state: f[0], pgrp: pg, session: sid}, true
}

// running reports whether pid is a live process (not a zombie).
func running(pid int) bool {
	p, ok := readProc(pid)
	return ok && p.state != "Z" && p.state != "X"
}

// inSession lists the live processes whose session is sid.
func inSession(sid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, ok := readProc(pid); ok && p.session == sid && p.state != "Z" && p.state != "X" {
			out = append(out, pid)
		}
	}
	return out
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// nodePid reads the pid the provider recorded for a node.
func nodePid(t *testing.T, root, pool, node string) int {
	t.Helper()
	r, err := readPidFile(filepath.Join(root, pool, node))
	if err != nil {
		t.Fatalf("pid file of %s/%s: %v", pool, node, err)
	}
	return r.pid
}

// killOnCleanup makes sure a process group the test started itself is gone at the end.
func killOnCleanup(t *testing.T, pid int) {
	t.Cleanup(func() {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = syscall.Kill(pid, syscall.SIGKILL)
	})
}

func TestCreateListDelete(t *testing.T) {
	root := t.TempDir()
	h := newHarness(t, root, Config{})

	c := awaitAs[compute.VMCreated](h, h.Create("p1", "n1"))
	if c.PoolID != "p1" || c.NodeID != "n1" {
		t.Errorf("VMCreated = %+v", c)
	}
	dir := filepath.Join(root, "p1", "n1")
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("node directory: %v, %v; want mode 0700", fi, err)
	}
	pid := nodePid(t, root, "p1", "n1")
	if !running(pid) {
		t.Fatalf("node process %d does not run", pid)
	}
	if pr, _ := readProc(pid); pr.pgrp != pid || pr.session != pid {
		t.Errorf("node process: pgrp %d session %d, want both %d (own group and session)", pr.pgrp, pr.session, pid)
	}

	// A repeated create (new request id) is answered at once, and starts nothing.
	awaitAs[compute.VMCreated](h, h.Create("p1", "n1"))
	if got := nodePid(t, root, "p1", "n1"); got != pid {
		t.Errorf("pid after second create = %d, want %d", got, pid)
	}
	if got := inSession(pid); !slices.Equal(got, []int{pid}) {
		t.Errorf("processes of the node = %v, want only %d", got, pid)
	}

	awaitAs[compute.VMCreated](h, h.Create("p1", "n2"))
	awaitAs[compute.VMCreated](h, h.Create("p2", "n1"))
	for _, tc := range []struct {
		pool string
		want []string
	}{
		{"", []string{"p1/n1", "p1/n2", "p2/n1"}},
		{"p1", []string{"p1/n1", "p1/n2"}},
		{"p3", []string{}},
	} {
		if got := computetest.Names(h.List(tc.pool)); !slices.Equal(got, tc.want) {
			t.Errorf("list(%q) = %v, want %v", tc.pool, got, tc.want)
		}
	}

	d := awaitAs[compute.VMDeleted](h, h.Delete("p1", "n1"))
	if d.PoolID != "p1" || d.NodeID != "n1" {
		t.Errorf("VMDeleted = %+v", d)
	}
	if got := inSession(pid); len(got) != 0 {
		t.Errorf("processes left after VMDeleted: %v", got)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("node directory after delete: %v, want it gone", err)
	}
	if got := computetest.Names(h.List("p1")); !slices.Equal(got, []string{"p1/n2"}) {
		t.Errorf("list after delete = %v", got)
	}
	// Deleting a node that is gone succeeds.
	awaitAs[compute.VMDeleted](h, h.Delete("p1", "n1"))
	awaitAs[compute.VMDeleted](h, h.Delete("p9", "never"))
	if got := h.Unsolicited(); len(got) != 0 {
		t.Errorf("unsolicited events = %+v, want none for a deleted node", got)
	}
}

func TestDeleteKillsTasksInOtherProcessGroups(t *testing.T) {
	root := t.TempDir()
	h := newHarness(t, root, Config{Command: treeAgent})
	awaitAs[compute.VMCreated](h, h.Create("p", "n"))
	pid := nodePid(t, root, "p", "n")
	killOnCleanup(t, pid)
	childFile := filepath.Join(root, "p", "n", "child.pid")
	eventually(t, "the agent's child", func() bool { _, err := os.Stat(childFile); return err == nil })
	b, err := os.ReadFile(childFile)
	if err != nil {
		t.Fatal(err)
	}
	child, _ := strconv.Atoi(string(b))
	killOnCleanup(t, child)
	cp, ok := readProc(child)
	if !ok || cp.pgrp == pid || cp.session != pid {
		t.Fatalf("child %d: %+v, want its own group in the agent's session %d", child, cp, pid)
	}

	awaitAs[compute.VMDeleted](h, h.Delete("p", "n"))
	if running(pid) || running(child) {
		t.Errorf("after VMDeleted: agent running %t, child running %t", running(pid), running(child))
	}
	if got := inSession(pid); len(got) != 0 {
		t.Errorf("processes left: %v", got)
	}
}

func TestCreateFails(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"command does not start", Config{Command: func(_, _, _ string, _ bool) *exec.Cmd { return exec.Command("/nonexistent/corral-agent") }}},
		{"no command", Config{Command: func(_, _, _ string, _ bool) *exec.Cmd { return nil }}},
		{"failure rate 1", Config{FailureRate: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			h := newHarness(t, root, tc.cfg)
			f := awaitAs[compute.VMFailed](h, h.Create("p", "n"))
			if f.Reason == "" || f.PoolID != "p" || f.NodeID != "n" {
				t.Errorf("VMFailed = %+v", f)
			}
			if got := h.List(""); len(got) != 0 {
				t.Errorf("list = %v, want empty", computetest.Names(got))
			}
			if _, err := os.Stat(filepath.Join(root, "p", "n", pidFileName)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("pid file after failure: %v", err)
			}
		})
	}
}

func TestInvalidIDs(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	h := newHarness(t, root, Config{})
	for _, tc := range []struct{ pool, node string }{
		{"../x", "n"},
		{"p", "../x"},
		{"p", "../../x"},
		{"..", "n"},
		{"p", ".."},
		{"a/b", "n"},
		{"p", "a/b"},
		{"", "n"},
		{"p", ""},
		{"p q", "n"},
		{"p", "é"},
		{"p", strings.Repeat("a", 256)},
	} {
		f := awaitAs[compute.VMFailed](h, h.Create(tc.pool, tc.node))
		if !strings.Contains(f.Reason, "invalid") {
			t.Errorf("create %q/%q: reason %q", tc.pool, tc.node, f.Reason)
		}
		awaitAs[compute.VMDeleted](h, h.Delete(tc.pool, tc.node))
	}
	ents, err := os.ReadDir(parent)
	if err != nil || len(ents) != 1 || ents[0].Name() != "root" {
		t.Errorf("entries beside root: %v, %v", ents, err)
	}
	if ents, err := os.ReadDir(root); err != nil || len(ents) != 0 {
		t.Errorf("entries in root: %v, %v", ents, err)
	}
}

func TestReadoption(t *testing.T) {
	root := t.TempDir()
	h1 := newHarness(t, root, Config{})
	awaitAs[compute.VMCreated](h1, h1.Create("p", "spot"))
	id := h1.NextID()
	h1.CreateWith(id, "p", "low", false)
	awaitAs[compute.VMCreated](h1, id)
	spot := nodePid(t, root, "p", "spot")
	low := nodePid(t, root, "p", "low")
	h1.p.Close() // the server stops; its nodes run on
	if !running(spot) || !running(low) {
		t.Fatal("Close killed nodes")
	}

	h2 := newHarness(t, root, Config{})
	got := h2.List("")
	want := []compute.VM{{PoolID: "p", NodeID: "low", Dedicated: false}, {PoolID: "p", NodeID: "spot", Dedicated: true}}
	if !slices.Equal(got, want) {
		t.Errorf("list after restart = %+v, want %+v", got, want)
	}
	// A create for an adopted node starts nothing.
	awaitAs[compute.VMCreated](h2, h2.Create("p", "spot"))
	if got := inSession(spot); !slices.Equal(got, []int{spot}) {
		t.Errorf("processes of the adopted node = %v, want only %d", got, spot)
	}
	awaitAs[compute.VMDeleted](h2, h2.Delete("p", "spot"))
	if got := inSession(spot); len(got) != 0 {
		t.Errorf("processes left after deleting an adopted node: %v", got)
	}
	if got := computetest.Names(h2.List("")); !slices.Equal(got, []string{"p/low"}) {
		t.Errorf("list after delete = %v", got)
	}
	// KillAll (in cleanup) takes care of the other adopted node; check it.
	h2.p.KillAll()
	if running(low) {
		t.Errorf("KillAll left adopted node %d running", low)
	}
}

func TestStalePidFilesNotAdopted(t *testing.T) {
	root := t.TempDir()
	boot := procfs.BootID()

	// A process that has exited.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	// A live process whose start time differs from the record (a recycled pid, as far as the
	// provider can tell). It must be neither adopted nor killed.
	live := exec.Command("sleep", "1000")
	live.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	killOnCleanup(t, live.Process.Pid)
	t.Cleanup(func() { live.Process.Kill(); live.Wait() })
	st, err := procfs.ReadStat(live.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}

	files := map[string]string{
		"gone":      pidRecord{pid: gone.Process.Pid, start: 1, boot: boot}.String(),
		"recycled":  pidRecord{pid: live.Process.Pid, start: st.Start + 1, boot: boot}.String(),
		"otherboot": pidRecord{pid: live.Process.Pid, start: st.Start, boot: "another-boot"}.String(),
		"garbage":   "not a pid file\n",
	}
	for node, content := range files {
		dir := filepath.Join(root, "p", node)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, pidFileName), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	h := newHarness(t, root, Config{})
	if got := h.List(""); len(got) != 0 {
		t.Errorf("adopted %v", computetest.Names(got))
	}
	h.p.KillAll()
	if !running(live.Process.Pid) {
		t.Error("a process that was not the node's was killed")
	}
	for _, node := range []string{"gone", "recycled", "otherboot"} {
		if _, err := os.Stat(filepath.Join(root, "p", node, pidFileName)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale pid file of %s: %v, want it removed", node, err)
		}
	}
}

func TestAgentExitForgetsNode(t *testing.T) {
	root := t.TempDir()
	h := newHarness(t, root, Config{})
	c := h.Create("p", "n")
	awaitAs[compute.VMCreated](h, c)
	pid := nodePid(t, root, "p", "n")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	l := awaitAs[compute.VMLost](h, computetest.Lost(c))
	if l.CreateRequestID != c || l.PoolID != "p" || l.NodeID != "n" || !strings.Contains(l.Reason, "signal: killed") {
		t.Errorf("VMLost = %+v, want the creator's request %s and the exit in the reason", l, c)
	}
	// VMLost comes once the node is forgotten.
	if got := h.List(""); len(got) != 0 {
		t.Errorf("list after VMLost = %v, want empty", computetest.Names(got))
	}
	if _, err := os.Stat(filepath.Join(root, "p", "n", pidFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file after VMLost: %v, want it removed", err)
	}
	if _, err := os.Stat(filepath.Join(root, "p", "n")); err != nil {
		t.Errorf("the directory of an exited node should stay: %v", err)
	}
	// The node can be created again, once the provider has finished forgetting it.
	eventually(t, "a new create to succeed", func() bool {
		_, ok := h.Await(h.Create("p", "n")).(compute.VMCreated)
		return ok
	})
	if got := nodePid(t, root, "p", "n"); got == pid || !running(got) {
		t.Errorf("new node process %d (old %d)", got, pid)
	}
}

func TestAgentExitDuringProvisioning(t *testing.T) {
	h := newHarness(t, t.TempDir(), Config{
		ProvisionDelay: time.Hour,
		NotifyTo:       func(string) actor.ID { return requesterID }, // so that a wrong VMLost would reach the test
		Command:        func(_, _, _ string, _ bool) *exec.Cmd { return exec.Command("sh", "-c", "exit 3") },
	})
	f := awaitAs[compute.VMFailed](h, h.Create("p", "n"))
	if !strings.Contains(f.Reason, "exit status 3") {
		t.Errorf("reason %q, want the exit status", f.Reason)
	}
	if got := h.Unsolicited(); len(got) != 0 {
		t.Errorf("a node that never was ready: %+v, want no VMLost", got)
	}
}

func TestDeleteDuringProvisioning(t *testing.T) {
	root := t.TempDir()
	h := newHarness(t, root, Config{ProvisionDelay: time.Hour, NotifyTo: func(string) actor.ID { return requesterID }})
	c1 := h.Create("p", "n")
	c2 := h.Create("p", "n") // joins the first
	eventually(t, "the node process", func() bool {
		_, err := readPidFile(filepath.Join(root, "p", "n"))
		return err == nil
	})
	pid := nodePid(t, root, "p", "n")
	if got := computetest.Names(h.List("")); !slices.Equal(got, []string{"p/n"}) {
		t.Errorf("list while provisioning = %v", got)
	}
	d := h.Delete("p", "n")
	awaitAs[compute.VMFailed](h, c1)
	awaitAs[compute.VMFailed](h, c2)
	awaitAs[compute.VMDeleted](h, d)
	if got := inSession(pid); len(got) != 0 {
		t.Errorf("processes left: %v", got)
	}
	if got := h.Unsolicited(); len(got) != 0 {
		t.Errorf("a deleted node: %+v, want no VMLost", got)
	}
}

func TestRepeatedRequestID(t *testing.T) {
	root := t.TempDir()
	h := newHarness(t, root, Config{})
	h.CreateWith("c1", "p", "n", true)
	awaitAs[compute.VMCreated](h, "c1")
	awaitAs[compute.VMDeleted](h, h.Delete("p", "n"))
	// A late duplicate of c1 is the same request: it is answered again and creates nothing.
	h.CreateWith("c1", "p", "n", true)
	awaitAs[compute.VMCreated](h, "c1")
	if got := h.List(""); len(got) != 0 {
		t.Errorf("a repeated request created %v", computetest.Names(got))
	}
	// The same for a request that failed.
	h.CreateWith("bad", "p", "../n", true)
	awaitAs[compute.VMFailed](h, "bad")
	h.CreateWith("bad", "p", "../n", true)
	awaitAs[compute.VMFailed](h, "bad")
}

func TestEvict(t *testing.T) {
	root := t.TempDir()
	h := newHarness(t, root, Config{})
	c1, c2 := h.NextID(), h.NextID()
	h.CreateWith(c1, "p", "n", false)
	awaitAs[compute.VMCreated](h, c1)
	h.CreateWith(c2, "p", "n", false) // the creator is the latest CreateVM answered VMCreated
	awaitAs[compute.VMCreated](h, c2)
	awaitAs[compute.VMCreated](h, h.Create("p", "other"))
	pid := nodePid(t, root, "p", "n")

	if err := h.p.Evict("p", "n"); err != nil {
		t.Fatalf("Evict: %v", err)
	}
	// A second eviction finds the node going away, or gone.
	if err := h.p.Evict("p", "n"); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("second Evict: %v, want ErrUnknownNode", err)
	}
	d := h.Delete("p", "n") // waits for the eviction, or finds the node gone
	e := awaitAs[compute.VMPreempted](h, computetest.Preempted(c2))
	if want := (compute.VMPreempted{CreateRequestID: c2, PoolID: "p", NodeID: "n"}); e != want {
		t.Errorf("VMPreempted = %+v, want %+v", e, want)
	}
	// VMPreempted comes once the node is gone.
	if got := computetest.Names(h.List("")); !slices.Equal(got, []string{"p/other"}) {
		t.Errorf("list after VMPreempted = %v, want only p/other", got)
	}
	if got := inSession(pid); len(got) != 0 {
		t.Errorf("processes left after VMPreempted: %v", got)
	}
	if _, err := os.Stat(filepath.Join(root, "p", "n")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("node directory after eviction: %v, want it gone", err)
	}
	awaitAs[compute.VMDeleted](h, d)
	if got := h.Unsolicited(); len(got) != 0 {
		t.Errorf("unsolicited events after the VMPreempted = %+v, want none", got)
	}
	if err := h.p.Evict("p", "n"); !errors.Is(err, ErrUnknownNode) {
		t.Errorf("Evict of a gone node: %v, want ErrUnknownNode", err)
	}
	// The node can be created again.
	awaitAs[compute.VMCreated](h, h.Create("p", "n"))
}

func TestEvictDedicated(t *testing.T) {
	root := t.TempDir()
	h := newHarness(t, root, Config{})
	awaitAs[compute.VMCreated](h, h.Create("p", "n")) // dedicated
	pid := nodePid(t, root, "p", "n")
	err := h.p.Evict("p", "n")
	if !errors.Is(err, ErrDedicated) || !strings.Contains(err.Error(), "dedicated") {
		t.Errorf("Evict of a dedicated node: %v, want ErrDedicated", err)
	}
	if got := computetest.Names(h.List("")); !slices.Equal(got, []string{"p/n"}) {
		t.Errorf("list = %v, want p/n still", got)
	}
	if !running(pid) {
		t.Error("the dedicated node's agent was killed")
	}
	if _, err := readPidFile(filepath.Join(root, "p", "n")); err != nil {
		t.Errorf("pid file: %v", err)
	}
	if got := h.Unsolicited(); len(got) != 0 {
		t.Errorf("unsolicited events = %+v, want none", got)
	}
}

func TestEvictDuringProvisioning(t *testing.T) {
	root := t.TempDir()
	// NotifyTo too, so that a VMPreempted, wrongly sent, would reach the test.
	h := newHarness(t, root, Config{ProvisionDelay: time.Hour, NotifyTo: func(string) actor.ID { return requesterID }})
	c1, c2 := h.NextID(), h.NextID()
	h.CreateWith(c1, "p", "n", false)
	h.CreateWith(c2, "p", "n", false) // joins the first
	// The list answer also shows that the provider has taken both requests.
	eventually(t, "the node process", func() bool {
		_, err := os.Stat(filepath.Join(root, "p", "n", pidFileName))
		return slices.Equal(computetest.Names(h.List("")), []string{"p/n"}) && err == nil
	})
	pid := nodePid(t, root, "p", "n")
	if err := h.p.Evict("p", "n"); err != nil {
		t.Fatalf("Evict: %v", err)
	}
	for _, c := range []string{c1, c2} {
		f := awaitAs[compute.VMFailed](h, c)
		if !strings.Contains(f.Reason, "preempted") || f.PoolID != "p" || f.NodeID != "n" {
			t.Errorf("VMFailed = %+v, want a preemption", f)
		}
	}
	if got := inSession(pid); len(got) != 0 {
		t.Errorf("processes left: %v", got)
	}
	if got := h.List(""); len(got) != 0 {
		t.Errorf("list = %v, want empty", computetest.Names(got))
	}
	// A VMPreempted would have been sent before the VMFailed answers.
	if got := h.Unsolicited(); len(got) != 0 {
		t.Errorf("unsolicited events = %+v, want no VMPreempted for a node that never was ready", got)
	}
}

// TestUnsolicitedForAdoptedNodes: for a node adopted after a restart the provider does not know
// the creator, and tells Config.NotifyTo, until a CreateVM for the node is answered.
func TestUnsolicitedForAdoptedNodes(t *testing.T) {
	root := t.TempDir()
	h1 := newHarness(t, root, Config{})
	for _, n := range []string{"a", "b", "c"} {
		id := h1.NextID()
		h1.CreateWith(id, "p", n, false)
		awaitAs[compute.VMCreated](h1, id)
	}
	pids := map[string]int{}
	for _, n := range []string{"a", "b", "c"} {
		pids[n] = nodePid(t, root, "p", n)
	}
	h1.p.Close() // the server stops; its nodes run on

	h2 := newHarness(t, root, Config{NotifyTo: func(pool string) actor.ID { return actor.ID("test.pool/" + pool) }})
	notified := computetest.NewClient(t, h2.eng, "test.pool/p")

	// a: evicted; nobody has asked for it since the restart.
	if err := h2.p.Evict("p", "a"); err != nil {
		t.Fatalf("Evict: %v", err)
	}
	if ev, want := notified.Await(computetest.Preempted("")), (compute.VMPreempted{PoolID: "p", NodeID: "a"}); ev != want {
		t.Errorf("to NotifyTo: %#v, want %#v", ev, want)
	}
	if got := inSession(pids["a"]); len(got) != 0 {
		t.Errorf("processes of the evicted adopted node left: %v", got)
	}

	// b: its agent exits by itself.
	if err := syscall.Kill(pids["b"], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ev := notified.Await(computetest.Lost(""))
	if l, ok := ev.(compute.VMLost); !ok || l.CreateRequestID != "" || l.PoolID != "p" || l.NodeID != "b" || !strings.Contains(l.Reason, "adopted") {
		t.Errorf("to NotifyTo: %#v, want a VMLost for p/b saying its status is unknown", ev)
	}

	// c: asked for again, so its creator is known.
	c := h2.NextID()
	h2.CreateWith(c, "p", "c", false)
	awaitAs[compute.VMCreated](h2, c)
	if err := h2.p.Evict("p", "c"); err != nil {
		t.Fatalf("Evict: %v", err)
	}
	awaitAs[compute.VMPreempted](h2, computetest.Preempted(c))
	if evs := notified.Unsolicited(); len(evs) != 0 {
		t.Errorf("to NotifyTo: %#v, want nothing more", evs)
	}
	if got := h2.List(""); len(got) != 0 {
		t.Errorf("list = %v, want empty", computetest.Names(got))
	}
}

func TestEvictAdoptedWithoutNotifyTo(t *testing.T) {
	root := t.TempDir()
	h1 := newHarness(t, root, Config{})
	id := h1.NextID()
	h1.CreateWith(id, "p", "n", false)
	awaitAs[compute.VMCreated](h1, id)
	pid := nodePid(t, root, "p", "n")
	h1.p.Close()

	h2 := newHarness(t, root, Config{})
	if err := h2.p.Evict("p", "n"); err != nil {
		t.Fatalf("Evict: %v", err)
	}
	eventually(t, "the evicted node to go", func() bool { return len(h2.List("")) == 0 && len(inSession(pid)) == 0 })
	if got := h2.Unsolicited(); len(got) != 0 {
		t.Errorf("unsolicited events = %+v, want none (no NotifyTo)", got)
	}
}

func TestKillAll(t *testing.T) {
	root := t.TempDir()
	h := newHarness(t, root, Config{})
	var pids []int
	for _, n := range []string{"a", "b", "c"} {
		awaitAs[compute.VMCreated](h, h.Create("p", n))
		pids = append(pids, nodePid(t, root, "p", n))
	}
	h.p.Close()
	h.p.KillAll() // after Close, too
	for _, pid := range pids {
		if len(inSession(pid)) != 0 {
			t.Errorf("node %d survived KillAll", pid)
		}
	}
}

func TestNewValidates(t *testing.T) {
	eng := actor.NewEngine(actor.Options{Logger: quiet()})
	ok := Config{Runtime: eng, Root: t.TempDir(), Command: sleepAgent}
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"no runtime", func(c *Config) { c.Runtime = nil }},
		{"no command", func(c *Config) { c.Command = nil }},
		{"no root", func(c *Config) { c.Root = "" }},
		{"negative delay", func(c *Config) { c.ProvisionDelay = -1 }},
		{"failure rate above 1", func(c *Config) { c.FailureRate = 1.5 }},
		{"failure rate below 0", func(c *Config) { c.FailureRate = -0.1 }},
	} {
		c := ok
		tc.edit(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: New succeeded", tc.name)
		}
	}
}

func TestPidRecordRoundTrip(t *testing.T) {
	r := pidRecord{pid: 12, start: 34, boot: "b", dedicated: true}
	got, err := parsePidRecord(r.String())
	if err != nil || got != r {
		t.Errorf("round trip = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "pid 1\n", "start 1\n", "pid x\nstart 1\n", "pid 1\nstart 1\ndedicated maybe\n"} {
		if _, err := parsePidRecord(bad); err == nil {
			t.Errorf("parsePidRecord(%q) succeeded", bad)
		}
	}
}
