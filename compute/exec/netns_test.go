package exec

import (
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"corral/compute"
	"corral/compute/computetest"
)

// TestNetnsExamples runs examples/exec's netns programs for real through the provider: each node
// is a network namespace with an address on a bridge, and a stand-in for `corral agent` (it
// records its arguments and sleeps) runs in it. It needs root and ip(8).
func TestNetnsExamples(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the netns examples run as root")
	}
	for _, tool := range []string{"ip", "flock", "setsid", "sha1sum"} {
		if _, err := osexec.LookPath(tool); err != nil {
			t.Skipf("the netns examples need %s: %v", tool, err)
		}
	}
	if out, err := osexec.Command("ip", "netns", "add", "corral-probe-"+fmt.Sprint(os.Getpid())).CombinedOutput(); err != nil {
		t.Skipf("cannot make network namespaces here: %v: %s", err, out)
	}
	osexec.Command("ip", "netns", "del", "corral-probe-"+fmt.Sprint(os.Getpid())).Run()

	examples, err := filepath.Abs("../../examples/exec")
	if err != nil {
		t.Fatal(err)
	}
	ctl := t.TempDir()
	agent := filepath.Join(t.TempDir(), "corral")
	fake := "#!/bin/sh\nprintf '%s\\n' \"$@\" \"token=$CORRAL_JOIN_TOKEN\" > \"$EXECTEST_DIR/agent.$CORRAL_NODE_ID\"\nexec sleep 1000\n"
	if err := os.WriteFile(agent, []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	// Names and a subnet of this test's own, so that it clashes with nothing on the machine.
	pid := os.Getpid()
	bridge := fmt.Sprintf("cbt%d", pid%1000000)
	pool := fmt.Sprintf("nt%d", pid)
	for k, v := range map[string]string{
		"EXECTEST_DIR":        ctl,
		"CORRAL_BIN":          agent,
		"CORRAL_NETNS_BRIDGE": bridge,
		"CORRAL_NETNS_SUBNET": fmt.Sprintf("10.254.%d.0/24", pid%250),
		"CORRAL_NETNS_STATE":  filepath.Join(t.TempDir(), "state"),
		"CORRAL_NETNS_ROOT":   filepath.Join(t.TempDir(), "nodes"),
	} {
		t.Setenv(k, v)
	}
	t.Cleanup(func() {
		for _, n := range []string{"n1", "n2"} {
			ns := "corral-" + pool + "." + n
			if out, _ := osexec.Command("ip", "netns", "pids", ns).Output(); len(out) > 0 {
				for _, p := range strings.Fields(string(out)) {
					var pid int
					fmt.Sscan(p, &pid)
					syscall.Kill(pid, syscall.SIGKILL)
				}
			}
			osexec.Command("ip", "netns", "del", ns).Run()
		}
		osexec.Command("ip", "link", "del", bridge).Run()
	})

	f := &fixture{t: t, ctl: ctl}
	h := f.start(func(c *Config) {
		c.Dir = filepath.Join(t.TempDir(), "exec")
		c.CreateProgram = filepath.Join(examples, "netns-create.sh")
		c.DeleteProgram = filepath.Join(examples, "netns-delete.sh")
		c.ListProgram = filepath.Join(examples, "netns-list.sh")
		c.PassEnv = []string{"EXECTEST_DIR", "CORRAL_BIN", "CORRAL_NETNS_BRIDGE", "CORRAL_NETNS_SUBNET", "CORRAL_NETNS_STATE", "CORRAL_NETNS_ROOT"}
		c.JoinToken = (&tokens{}).issue
		c.ServerURL = "http://10.254.0.1:8765"
		c.LostAfterMisses = 2
	})
	subnet := os.Getenv("CORRAL_NETNS_SUBNET")
	prefix := strings.TrimSuffix(subnet, "0/24")

	ids := map[string]string{}
	for i, n := range []string{"n1", "n2"} {
		ids[n] = h.NextID()
		h.CreateWith(ids[n], pool, n, false)
		c := computetest.Await[compute.VMCreated](h.Client, ids[n])
		ns := "corral-" + pool + "." + n
		if c.Address != ns {
			t.Fatalf("VMCreated.Address = %q, want the namespace %s", c.Address, ns)
		}
		out, err := osexec.Command("ip", "-n", ns, "-4", "-o", "addr", "show", "dev", "eth0").CombinedOutput()
		if want := fmt.Sprintf(" %s%d/24 ", prefix, i+2); err != nil || !strings.Contains(string(out), want) {
			t.Errorf("address of %s: %q, %v; want %s", ns, out, err, want)
		}
		if out, err := osexec.Command("ip", "netns", "pids", ns).Output(); err != nil || len(strings.Fields(string(out))) == 0 {
			t.Errorf("no process in %s: %q, %v", ns, out, err)
		}
		args := strings.Fields(f.read("agent." + n))
		if !slices.Contains(args, "agent") || !slices.Contains(args, "http://10.254.0.1:8765") ||
			!strings.HasPrefix(args[len(args)-1], "token=jt-"+pool+"-"+n) || slices.Contains(args, "--join") {
			t.Errorf("agent of %s started with %q; want the join token in its environment only", n, args)
		}
	}
	want := []string{pool + "/n1", pool + "/n2"}
	if got := computetest.Names(h.List(pool)); !slices.Equal(got, want) {
		t.Errorf("list = %v, want %v", got, want)
	}
	// n2's agent dies: the list program says so, the provider reports it lost and deletes it.
	ns2 := "corral-" + pool + ".n2"
	out, _ := osexec.Command("ip", "netns", "pids", ns2).Output()
	for _, p := range strings.Fields(string(out)) {
		var pid int
		fmt.Sscan(p, &pid)
		syscall.Kill(pid, syscall.SIGKILL)
	}
	h.List(pool)
	computetest.Await[compute.VMLost](h.Client, computetest.Lost(ids["n2"]))
	waitFor(t, "n2's namespace to be deleted", func() bool { return !netnsExists(ns2) })
	// n1 is deleted: its namespace, processes, veth and directory go; the bridge stays.
	computetest.Await[compute.VMDeleted](h.Client, h.Delete(pool, "n1"))
	if netnsExists("corral-" + pool + ".n1") {
		t.Error("n1's namespace is still there")
	}
	if entries, err := os.ReadDir(os.Getenv("CORRAL_NETNS_ROOT")); err != nil || len(entries) != 0 {
		t.Errorf("node directories left: %v, %v", entries, err)
	}
	if out, err := osexec.Command("ip", "-o", "link", "show", "master", bridge).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("interfaces left on the bridge: %q, %v", out, err)
	}
	if got := h.List(pool); len(got) != 0 {
		t.Errorf("list after deleting = %v", computetest.Names(got))
	}
}

func netnsExists(ns string) bool {
	out, _ := osexec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == ns {
			return true
		}
	}
	return false
}
