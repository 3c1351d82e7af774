package exec

import (
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"corral/actor"
	"corral/compute"
	"corral/compute/computetest"
	"corral/compute/internal/proc"
	"corral/internal/testlog"
)

// The test's programs are shell scripts that record each call in $EXECTEST_DIR/calls (one line:
// operation, pool, node) and their environment in $EXECTEST_DIR/env.<op>.<node>, then run a
// body that the test writes.
const prologue = `#!/bin/sh
set -eu
d="$EXECTEST_DIR"
echo "$CORRAL_OPERATION ${CORRAL_POOL_ID:-} ${CORRAL_NODE_ID:-}" >> "$d/calls"
env > "$d/env.$CORRAL_OPERATION.${CORRAL_NODE_ID:-all}"
`

const clientID actor.ID = "test.client"

// fixture is a test's programs and the directory they report to.
type fixture struct {
	t   *testing.T
	ctl string // EXECTEST_DIR
	cfg Config
}

// programs are the bodies of a test's scripts; an empty body succeeds at once, and an empty list
// body means no list program.
type programs struct{ create, delete, list string }

func newFixture(t *testing.T, progs programs) *fixture {
	t.Helper()
	f := &fixture{t: t, ctl: t.TempDir()}
	t.Setenv("EXECTEST_DIR", f.ctl)
	bin := t.TempDir()
	write := func(name, body string) string {
		path := filepath.Join(bin, name)
		if err := os.WriteFile(path, []byte(prologue+body+"\n"), 0o700); err != nil {
			t.Fatal(err)
		}
		return path
	}
	f.cfg = Config{
		CreateProgram: write("create", progs.create),
		DeleteProgram: write("delete", progs.delete),
		Dir:           filepath.Join(t.TempDir(), "exec"),
		PassEnv:       []string{"EXECTEST_DIR"},
		ServerURL:     "https://corral.example:8765",
		CAFingerprint: "sha256:abcd",
		CACertFile:    "/etc/corral/ca.pem",
		RetryDelay:    20 * time.Millisecond,
		MaxRetryDelay: 50 * time.Millisecond,
		KillGrace:     2 * time.Second,
		JoinToken:     (&tokens{}).issue,
	}
	if progs.list != "" {
		f.cfg.ListProgram = write("list", progs.list)
	}
	return f
}

// tokens issues join tokens that name their node and are told apart.
type tokens struct {
	mu sync.Mutex
	n  int
}

func (tk *tokens) issue(pool, node string, dedicated bool) (string, error) {
	tk.mu.Lock()
	defer tk.mu.Unlock()
	tk.n++
	return fmt.Sprintf("jt-%s-%s-%d-Zq8Rk2Lm", pool, node, tk.n), nil
}

// harness is a running provider and a client of it.
type harness struct {
	*computetest.Client
	p   *Provider
	cfg Config
}

// start starts a provider on the fixture's configuration as edit changes it.
func (f *fixture) start(edit func(*Config)) *harness {
	f.t.Helper()
	eng := actor.NewEngine(actor.Options{Logger: testlog.New(f.t), OnFailure: func(fl *actor.Failure) { f.t.Errorf("actor failure: %v", fl) }})
	cfg := f.cfg
	cfg.Runtime, cfg.Logger = eng, testlog.New(f.t)
	if edit != nil {
		edit(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		f.t.Fatalf("New: %v", err)
	}
	f.t.Cleanup(p.Close)
	if _, err := eng.Create(string(compute.ProviderID), p.Actor()); err != nil {
		f.t.Fatalf("create provider actor: %v", err)
	}
	return &harness{Client: computetest.NewClient(f.t, eng, clientID), p: p, cfg: cfg}
}

// calls returns the calls the programs recorded, in order.
func (f *fixture) calls() []string {
	b, err := os.ReadFile(filepath.Join(f.ctl, "calls"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// count returns how many recorded calls are call.
func (f *fixture) count(call string) int {
	n := 0
	for _, c := range f.calls() {
		if c == call {
			n++
		}
	}
	return n
}

func (f *fixture) touch(name string) {
	f.t.Helper()
	if err := os.WriteFile(filepath.Join(f.ctl, name), nil, 0o600); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) read(name string) string {
	b, _ := os.ReadFile(filepath.Join(f.ctl, name))
	return strings.TrimSpace(string(b))
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(computetest.Deadline); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// pidIn waits for the control file name to hold a pid, and returns it.
func (f *fixture) pidIn(name string) int {
	f.t.Helper()
	var pid int
	waitFor(f.t, name, func() bool {
		var err error
		pid, err = strconv.Atoi(f.read(name))
		return err == nil
	})
	return pid
}

func TestCreateListDelete(t *testing.T) {
	f := newFixture(t, programs{
		create: `echo "making a machine"; echo "handle-$CORRAL_NODE_ID"`,
		delete: `echo "$CORRAL_NODE_HANDLE" > "$d/deleted.$CORRAL_NODE_ID"`,
	})
	h := f.start(nil)
	c := computetest.Await[compute.VMCreated](h.Client, h.Create("p", "n1"))
	if c.Address != "handle-n1" || c.PoolID != "p" || c.NodeID != "n1" {
		t.Errorf("VMCreated = %+v", c)
	}
	for _, tc := range []struct {
		pool string
		want []string
	}{{"", []string{"p/n1"}}, {"p", []string{"p/n1"}}, {"q", []string{}}} {
		if got := computetest.Names(h.List(tc.pool)); !slices.Equal(got, tc.want) {
			t.Errorf("list %q = %v, want %v", tc.pool, got, tc.want)
		}
	}
	if _, err := os.Stat(h.p.recordPath("p", "n1")); err != nil {
		t.Errorf("no record of the created node: %v", err)
	}
	computetest.Await[compute.VMDeleted](h.Client, h.Delete("p", "n1"))
	if got := f.read("deleted.n1"); got != "handle-n1" {
		t.Errorf("delete program got CORRAL_NODE_HANDLE %q, want handle-n1", got)
	}
	if got := h.List(""); len(got) != 0 {
		t.Errorf("list after delete = %v", computetest.Names(got))
	}
	if _, err := os.Stat(h.p.recordPath("p", "n1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("record of the deleted node: %v, want it removed", err)
	}
	log, err := os.ReadFile(h.p.logPath("p", "n1"))
	if err != nil || !strings.Contains(string(log), "create stdout: making a machine") {
		t.Errorf("node log = %q, %v; want the create program's output", log, err)
	}
	if want := []string{"create p n1", "delete p n1"}; !slices.Equal(f.calls(), want) {
		t.Errorf("calls = %q, want %q", f.calls(), want)
	}
}

func TestCreateFails(t *testing.T) {
	noToken := func(string, string, bool) (string, error) { return "", errors.New("no key to sign with") }
	for _, tc := range []struct {
		name      string
		create    string
		edit      func(*Config)
		node      string
		vmSize    string
		want      []string // in the reason
		notWant   []string // not in the reason
		maxReason int
		ran       bool // the create program ran, so the delete program runs after it
	}{
		{name: "exit status", create: `i=1; while [ $i -le 30 ]; do echo "err line $i" >&2; i=$((i+1)); done; exit 3`,
			want: []string{"exit status 3", "err line 26 | err line 27", "err line 30"}, notWant: []string{"err line 25"}, ran: true},
		{name: "stdout when stderr is empty", create: `echo "quota exceeded"; exit 1`,
			want: []string{"exit status 1", "quota exceeded"}, ran: true},
		{name: "a long line", create: `head -c 20000 /dev/zero | tr '\0' x >&2; exit 1`, maxReason: 700, ran: true},
		{name: "control characters", create: `printf 'bad\033[31m red\r\n' >&2; exit 1`, want: []string{"bad?[31m red"}, ran: true},
		{name: "timeout", create: `echo $$ > "$d/create.pid"; sleep 1000`, edit: func(c *Config) { c.CreateTimeout = 300 * time.Millisecond },
			want: []string{"timed out after 300ms"}, ran: true},
		{name: "join token", edit: func(c *Config) { c.JoinToken = noToken }, want: []string{"cannot issue a join token: no key to sign with"}},
		{name: "invalid node id", node: "a/b", want: []string{"invalid pool or node id"}},
		{name: "invalid vm size", vmSize: "big; rm -rf /", want: []string{"invalid vmSize"}},
		{name: "unstartable program", edit: func(c *Config) { c.CreateProgram = notAProgram(t) }, want: []string{"could not be started", "exec format error"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, programs{create: tc.create})
			h := f.start(tc.edit)
			node, vmSize := tc.node, tc.vmSize
			if node == "" {
				node = "n"
			}
			if vmSize == "" {
				vmSize = "standard_d2s_v3"
			}
			h.Send(compute.CreateVM{RequestID: "c1", ReplyTo: clientID, PoolID: "p", NodeID: node, VMSize: vmSize, Dedicated: true})
			fl := computetest.Await[compute.VMFailed](h.Client, "c1")
			for _, s := range tc.want {
				if !strings.Contains(fl.Reason, s) {
					t.Errorf("reason %q does not say %q", fl.Reason, s)
				}
			}
			for _, s := range tc.notWant {
				if strings.Contains(fl.Reason, s) {
					t.Errorf("reason %q says %q", fl.Reason, s)
				}
			}
			if tc.maxReason > 0 && len(fl.Reason) > tc.maxReason {
				t.Errorf("reason is %d bytes long, want at most %d", len(fl.Reason), tc.maxReason)
			}
			// What a create program that ran may have made is deleted; then the node is gone.
			waitFor(t, "the node to be gone", func() bool { return len(h.List("")) == 0 })
			want := []string(nil)
			if tc.ran {
				want = []string{"create p n", "delete p n"}
			}
			if got := f.calls(); !slices.Equal(got, want) {
				t.Errorf("calls = %q, want %q", got, want)
			}
			if tc.name == "timeout" {
				pid := f.pidIn("create.pid")
				if got := proc.SessionMembers(pid); len(got) != 0 {
					t.Errorf("processes of the timed-out create program left: %v", got)
				}
			}
		})
	}
}

// notAProgram returns an executable file that is not a program.
func notAProgram(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "junk")
	if err := os.WriteFile(path, []byte{0, 1, 2, 3}, 0o700); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCancelCreation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		create string
	}{
		// The program stops at SIGTERM, saying so.
		{name: "polite", create: `trap 'echo TERM >> "$d/signals"; exit 143' TERM; echo $$ > "$d/create.pid"; sleep 1000 & wait`},
		// The program and its child ignore SIGTERM: SIGKILL after the grace period ends them.
		{name: "stubborn", create: `trap '' TERM; echo $$ > "$d/create.pid"; sleep 1000 & wait`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, programs{create: tc.create})
			h := f.start(func(c *Config) { c.KillGrace = 200 * time.Millisecond })
			create := h.Create("p", "n")
			pid := f.pidIn("create.pid")
			st, err := proc.ReadStat(pid)
			if err != nil {
				t.Fatal(err)
			}
			if got := h.List(""); !slices.Equal(computetest.Names(got), []string{"p/n"}) {
				t.Errorf("list while creating = %v", computetest.Names(got))
			}
			del := h.Delete("p", "n")
			fl := computetest.Await[compute.VMFailed](h.Client, create)
			if !strings.Contains(fl.Reason, "deleted while it was being created") {
				t.Errorf("reason %q does not say the creation was cancelled", fl.Reason)
			}
			computetest.Await[compute.VMDeleted](h.Client, del)
			if got := proc.SessionMembers(pid); len(got) != 0 {
				t.Errorf("processes of the cancelled create program left: %v", got)
			}
			if now, err := proc.ReadStat(pid); err == nil && now.Start == st.Start && !now.Dead() {
				t.Errorf("create program %d still runs", pid)
			}
			if want := []string{"create p n", "delete p n"}; !slices.Equal(f.calls(), want) {
				t.Errorf("calls = %q, want %q", f.calls(), want)
			}
			// (The trap may run twice: SIGTERM goes to the process group and to each process.)
			if tc.name == "polite" && !strings.HasPrefix(f.read("signals"), "TERM") {
				t.Errorf("the create program was not given SIGTERM first")
			}
			if got := h.List(""); len(got) != 0 {
				t.Errorf("list after delete = %v", computetest.Names(got))
			}
		})
	}
}

func TestDeleteRetries(t *testing.T) {
	f := newFixture(t, programs{delete: `
n=$(cat "$d/delete.count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$d/delete.count"
[ -e "$d/allow" ] || { echo "the cloud says no ($n)" >&2; exit 1; }`})
	h := f.start(nil)
	computetest.Await[compute.VMCreated](h.Client, h.Create("p", "n"))
	del := h.Delete("p", "n")
	waitFor(t, "three delete runs", func() bool { n, _ := strconv.Atoi(f.read("delete.count")); return n >= 3 })
	if h.Pending(del) {
		t.Fatal("DeleteVM answered while the delete program fails")
	}
	if got := computetest.Names(h.List("")); !slices.Equal(got, []string{"p/n"}) {
		t.Errorf("list while the delete program fails = %v, want the node", got)
	}
	// A CreateVM for the node meanwhile fails: it is being deleted.
	computetest.Await[compute.VMFailed](h.Client, h.Create("p", "n"))
	f.touch("allow")
	computetest.Await[compute.VMDeleted](h.Client, del)
	if got := h.List(""); len(got) != 0 {
		t.Errorf("list after delete = %v", computetest.Names(got))
	}
}

func TestListProgram(t *testing.T) {
	f := newFixture(t, programs{
		create: `if [ "$CORRAL_NODE_ID" = slow ]; then while [ ! -e "$d/go" ]; do sleep 0.02; done; fi`,
		list:   `[ ! -e "$d/list.fail" ] || { echo "not logged in" >&2; exit 1; }; cat "$d/listing" 2>/dev/null || true`,
	})
	setListing := func(s string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(f.ctl, "listing"), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	h := f.start(nil)
	made := map[string]string{}
	for _, n := range []struct {
		id        string
		dedicated bool
	}{{"a", true}, {"b", false}, {"c", true}, {"d", true}} {
		made[n.id] = h.NextID()
		h.CreateWith(made[n.id], "p", n.id, n.dedicated)
		computetest.Await[compute.VMCreated](h.Client, made[n.id])
	}
	slow := h.Create("p", "slow")
	waitFor(t, "the slow creation to start", func() bool { return f.count("create p slow") == 1 })

	all := "p a dedicated\np b lowpriority\np c dedicated\np d dedicated\n"
	setListing(all + "# a comment\n\nq orphan lowpriority\n")
	// The records (the slow node being created) and the program's machines (an orphan).
	want := []string{"p/a", "p/b", "p/c", "p/d", "p/slow", "q/orphan"}
	if got := computetest.Names(h.List("")); !slices.Equal(got, want) {
		t.Errorf("list = %v, want %v", got, want)
	}
	if got := h.List("q"); len(got) != 1 || got[0] != (compute.VM{PoolID: "q", NodeID: "orphan"}) {
		t.Errorf("list q = %+v", got)
	}
	// An orphan the provider has no record of is deleted with the delete program.
	computetest.Await[compute.VMDeleted](h.Client, h.Delete("q", "orphan"))
	if f.count("delete q orphan") != 1 {
		t.Errorf("the delete program did not run for the orphan: calls %q", f.calls())
	}
	// A failing list program, or one whose output does not parse, judges nothing and answers
	// from the records.
	setListing("p a dedicated\n")
	for _, fail := range []func(){func() { f.touch("list.fail") }, func() { os.Remove(filepath.Join(f.ctl, "list.fail")); setListing("p a dedicated\nnonsense\n") }} {
		fail()
		for range 3 {
			if got := computetest.Names(h.List("")); !slices.Equal(got, want[:5]) {
				t.Errorf("list from the records = %v, want %v", got, want[:5])
			}
		}
	}
	if got := h.Unsolicited(); len(got) != 0 {
		t.Fatalf("failed list runs reported %v", got)
	}
	// Marks and absences: b preempted, c lost, d left out once (nothing yet), then twice.
	setListing("p a dedicated\np b lowpriority preempted\np c dedicated lost\n")
	h.List("")
	computetest.Await[compute.VMPreempted](h.Client, computetest.Preempted(made["b"]))
	lost := computetest.Await[compute.VMLost](h.Client, computetest.Lost(made["c"]))
	if !strings.Contains(lost.Reason, "lost") {
		t.Errorf("VMLost reason %q", lost.Reason)
	}
	if h.Pending(computetest.Lost(made["d"])) {
		t.Error("d reported lost after one absence")
	}
	h.List("")
	lost = computetest.Await[compute.VMLost](h.Client, computetest.Lost(made["d"]))
	if !strings.Contains(lost.Reason, "2 times") {
		t.Errorf("VMLost reason %q", lost.Reason)
	}
	// The machines gone are deleted; a node being created is never judged.
	waitFor(t, "the gone nodes to be deleted", func() bool {
		return f.count("delete p b") == 1 && f.count("delete p c") == 1 && f.count("delete p d") == 1
	})
	setListing("p a dedicated\n")
	waitFor(t, "the gone nodes to leave the list", func() bool {
		return slices.Equal(computetest.Names(h.List("p")), []string{"p/a", "p/slow"})
	})
	f.touch("go")
	computetest.Await[compute.VMCreated](h.Client, slow)
	if got := h.Unsolicited(); len(got) != 0 {
		t.Errorf("unexpected events %v", got)
	}
}

func TestRestart(t *testing.T) {
	f := newFixture(t, programs{
		create: `if [ "$CORRAL_NODE_ID" = hang ]; then echo $$ > "$d/create.pid"; sleep 1000; fi; echo "h-$CORRAL_NODE_ID"`,
		delete: `echo "$CORRAL_NODE_HANDLE" > "$d/deleted.$CORRAL_NODE_ID"`,
	})
	h1 := f.start(nil)
	computetest.Await[compute.VMCreated](h1.Client, h1.Create("p", "a"))
	h1.CreateWith("spot-1", "p", "spot", false)
	computetest.Await[compute.VMCreated](h1.Client, "spot-1")
	h1.Create("p", "hang")
	pid := f.pidIn("create.pid")
	h1.p.Close() // stops the hanging create program; its record says it was creating
	if got := proc.SessionMembers(pid); len(got) != 0 {
		t.Errorf("Close left the create program's processes: %v", got)
	}

	// A creation interrupted by a crash, whose program still runs: the next provider stops it.
	crashed := osexec.Command("sleep", "1000")
	crashed.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := crashed.Start(); err != nil {
		t.Fatal(err)
	}
	go crashed.Wait()
	st, err := proc.ReadStat(crashed.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := h1.p.save(record{Pool: "p", Node: "crashed", Dedicated: true, Phase: phaseCreating, PID: crashed.Process.Pid, Start: st.Start, Boot: proc.BootID()}); err != nil {
		t.Fatal(err)
	}

	h2 := f.start(func(c *Config) { c.NotifyTo = func(string) actor.ID { return clientID } })
	waitFor(t, "the interrupted creations to be reversed", func() bool {
		return f.count("delete p hang") == 1 && f.count("delete p crashed") == 1 &&
			slices.Equal(computetest.Names(h2.List("")), []string{"p/a", "p/spot"})
	})
	if got := proc.SessionMembers(crashed.Process.Pid); len(got) != 0 {
		t.Errorf("the crashed creation's program still runs: %v", got)
	}
	// A known node: a CreateVM runs nothing, and its delete gets its handle.
	c := computetest.Await[compute.VMCreated](h2.Client, h2.Create("p", "a"))
	if c.Address != "h-a" || f.count("create p a") != 1 {
		t.Errorf("VMCreated %+v after %d create runs; want the handle h-a and no new run", c, f.count("create p a"))
	}
	computetest.Await[compute.VMDeleted](h2.Client, h2.Delete("p", "a"))
	if got := f.read("deleted.a"); got != "h-a" {
		t.Errorf("delete after restart got handle %q, want h-a", got)
	}
	// A node whose creator the provider no longer knows: its preemption goes to NotifyTo.
	if err := h2.p.Evict("p", "spot"); err != nil {
		t.Fatalf("Evict: %v", err)
	}
	computetest.Await[compute.VMPreempted](h2.Client, computetest.Preempted(""))
	waitFor(t, "the evicted node to be deleted", func() bool { return len(h2.List("")) == 0 })
}

func TestEvict(t *testing.T) {
	f := newFixture(t, programs{})
	h := f.start(nil)
	h.CreateWith("spot-1", "p", "spot", false)
	computetest.Await[compute.VMCreated](h.Client, "spot-1")
	computetest.Await[compute.VMCreated](h.Client, h.Create("p", "ded"))
	for _, tc := range []struct {
		node string
		want error
	}{{"ded", ErrDedicated}, {"nope", ErrUnknownNode}, {"spot", nil}, {"spot", ErrUnknownNode}} {
		if err := h.p.Evict("p", tc.node); !errors.Is(err, tc.want) {
			t.Errorf("Evict(%s) = %v, want %v", tc.node, err, tc.want)
		}
	}
	computetest.Await[compute.VMPreempted](h.Client, computetest.Preempted("spot-1"))
	waitFor(t, "the evicted node to be deleted", func() bool { return f.count("delete p spot") == 1 })
}

func TestEnvironment(t *testing.T) {
	t.Setenv("CORRAL_ACCOUNT_KEY", "c2VjcmV0LWtleQ==")
	t.Setenv("EXECTEST_PASSED", "yes")
	t.Setenv("EXECTEST_NOT_PASSED", "no")
	f := newFixture(t, programs{
		create: `echo "my token is $CORRAL_JOIN_TOKEN" >&2; [ "$CORRAL_NODE_ID" != bad ] || exit 1; echo "vm-$CORRAL_NODE_ID"`,
		list:   `true`,
	})
	h := f.start(func(c *Config) { c.PassEnv = append(c.PassEnv, "EXECTEST_PASSED", "EXECTEST_UNSET") })
	h.CreateWith("c1", "p", "n", false)
	computetest.Await[compute.VMCreated](h.Client, "c1")
	computetest.Await[compute.VMDeleted](h.Client, h.Delete("p", "n"))
	h.List("")
	fl := computetest.Await[compute.VMFailed](h.Client, h.Create("p", "bad"))

	token := "jt-p-n-1-Zq8Rk2Lm"
	common := map[string]string{
		"PATH": os.Getenv("PATH"), "EXECTEST_DIR": f.ctl, "EXECTEST_PASSED": "yes", "PWD": h.p.dir,
		"CORRAL_SERVER_URL": "https://corral.example:8765", "CORRAL_CA_FILE": "/etc/corral/ca.pem",
		"CORRAL_CA_FINGERPRINT": "sha256:abcd",
	}
	if home, ok := os.LookupEnv("HOME"); ok {
		common["HOME"] = home
	}
	node := map[string]string{"CORRAL_POOL_ID": "p", "CORRAL_NODE_ID": "n", "CORRAL_VM_SIZE": "standard_d2s_v3", "CORRAL_PRIORITY": "lowpriority"}
	for _, tc := range []struct {
		file string
		want []map[string]string
	}{
		{"env.create.n", []map[string]string{common, node, {"CORRAL_OPERATION": "create", "CORRAL_REQUEST_ID": "c1", "CORRAL_JOIN_TOKEN": token}}},
		{"env.delete.n", []map[string]string{common, node, {"CORRAL_OPERATION": "delete", "CORRAL_REQUEST_ID": "req-1", "CORRAL_NODE_HANDLE": "vm-n"}}},
		{"env.list.all", []map[string]string{common, {"CORRAL_OPERATION": "list"}}},
	} {
		want := map[string]string{}
		for _, m := range tc.want {
			for k, v := range m {
				want[k] = v
			}
		}
		got := map[string]string{}
		for _, line := range strings.Split(f.read(tc.file), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				got[k] = v
			}
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s=%q, want %q", tc.file, k, got[k], v)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				t.Errorf("%s: unexpected variable %s", tc.file, k)
			}
		}
	}
	// The token is in no log and no reason.
	if !strings.Contains(fl.Reason, "my token is "+redacted) || strings.Contains(fl.Reason, "jt-") {
		t.Errorf("reason %q: want the token replaced", fl.Reason)
	}
	for _, node := range []string{"n", "bad"} {
		log, err := os.ReadFile(h.p.logPath("p", node))
		if err != nil || strings.Contains(string(log), "jt-") || !strings.Contains(string(log), "my token is "+redacted) {
			t.Errorf("log of %s = %q, %v; want the token replaced", node, log, err)
		}
	}
}

func TestRepeatedRequests(t *testing.T) {
	f := newFixture(t, programs{create: `
[ "$CORRAL_NODE_ID" != bad ] || exit 1
if [ "$CORRAL_NODE_ID" = slow ]; then while [ ! -e "$d/go" ]; do sleep 0.02; done; fi`})
	h := f.start(nil)
	h.CreateWith("c1", "p", "n", true)
	first := computetest.Await[compute.VMCreated](h.Client, "c1")
	h.CreateWith("c1", "p", "n", true) // a repeat: the same answer
	if got := computetest.Await[compute.VMCreated](h.Client, "c1"); got != first {
		t.Errorf("repeated CreateVM answered %+v, want %+v", got, first)
	}
	computetest.Await[compute.VMCreated](h.Client, h.Create("p", "n")) // a new request, an existing node
	// Two CreateVMs for a node being created share one run.
	h.CreateWith("s1", "p", "slow", true)
	h.CreateWith("s2", "p", "slow", true)
	waitFor(t, "the slow creation to start", func() bool { return f.count("create p slow") == 1 })
	f.touch("go")
	computetest.Await[compute.VMCreated](h.Client, "s1")
	computetest.Await[compute.VMCreated](h.Client, "s2")
	// A repeated DeleteVM, and a late repeat of the CreateVM after it, act no more.
	h.Send(compute.DeleteVM{RequestID: "d1", ReplyTo: clientID, PoolID: "p", NodeID: "n"})
	computetest.Await[compute.VMDeleted](h.Client, "d1")
	h.Send(compute.DeleteVM{RequestID: "d1", ReplyTo: clientID, PoolID: "p", NodeID: "n"})
	computetest.Await[compute.VMDeleted](h.Client, "d1")
	h.CreateWith("c1", "p", "n", true)
	computetest.Await[compute.VMCreated](h.Client, "c1")
	// A repeated failed CreateVM gets its VMFailed again.
	h.CreateWith("b1", "p", "bad", true)
	fl := computetest.Await[compute.VMFailed](h.Client, "b1")
	waitFor(t, "the failed node to be deleted", func() bool { return f.count("delete p bad") == 1 })
	h.CreateWith("b1", "p", "bad", true)
	if got := computetest.Await[compute.VMFailed](h.Client, "b1"); got != fl {
		t.Errorf("repeated failed CreateVM answered %+v, want %+v", got, fl)
	}
	want := []string{"create p n", "create p slow", "delete p n", "create p bad", "delete p bad"}
	if got := f.calls(); !slices.Equal(got, want) {
		t.Errorf("calls = %q, want %q", got, want)
	}
	waitFor(t, "the list to hold only p/slow", func() bool { return slices.Equal(computetest.Names(h.List("")), []string{"p/slow"}) })
}

func TestNewRefuses(t *testing.T) {
	f := newFixture(t, programs{})
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no runtime", func(c *Config) { c.Runtime = nil }, "Runtime"},
		{"no dir", func(c *Config) { c.Dir = "" }, "Dir"},
		{"no join tokens", func(c *Config) { c.JoinToken = nil }, "JoinToken"},
		{"no create program", func(c *Config) { c.CreateProgram = "" }, "CreateProgram"},
		{"no delete program", func(c *Config) { c.DeleteProgram = "" }, "DeleteProgram"},
		{"missing list program", func(c *Config) { c.ListProgram = filepath.Join(f.ctl, "nope") }, "ListProgram"},
		{"the account key", func(c *Config) { c.PassEnv = []string{"CORRAL_ACCOUNT_KEY"} }, "never"},
		{"a variable of the provider's", func(c *Config) { c.PassEnv = []string{"CORRAL_JOIN_TOKEN"} }, "set by the provider"},
		{"not a name", func(c *Config) { c.PassEnv = []string{"A=B"} }, "not a variable name"},
		{"negative timeout", func(c *Config) { c.CreateTimeout = -time.Second }, "negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.cfg
			cfg.Runtime = actor.NewEngine(actor.Options{Logger: testlog.New(t)})
			tc.edit(&cfg)
			p, err := New(cfg)
			if err == nil {
				p.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}
