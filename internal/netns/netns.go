// Package netns gives tests and benchmarks hosts of their own on this machine: Linux network
// namespaces, each with its own address on a bridge, reached from the root namespace (where
// the server runs) across veth pairs, as machines on a LAN are. It needs root and iproute2's
// `ip`; Available says why it cannot run.
//
// A partition is a host's link taken down (Partition, Heal); a host destroyed is its
// processes killed and its namespace deleted (Destroy). The kernel here may lack netem, so
// latency comes from a proxy (Proxy) between the hosts and the server.
//
// Every name made is unique to the Net (a random tag), so that tests running at once, or a
// test that died without cleaning up, do not collide; Close removes everything the Net made.
package netns

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Available returns nil if this process can make namespaces, else an error saying why not.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("network namespaces need root (run the tests as root, as CI does)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return errors.New("network namespaces need iproute2's ip command (apt-get install iproute2)")
	}
	if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil {
		return fmt.Errorf("ip netns does not work here: %v: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// Net is a bridge in the root namespace and the hosts attached to it, on a /24 of its own.
type Net struct {
	// Tag is the random part of every name the Net makes.
	Tag string
	// Bridge is the bridge's interface name.
	Bridge string
	// Subnet is the first three octets of the Net's addresses ("10.77.12").
	Subnet string
	// Gateway is the root namespace's address on the bridge: where hosts reach the server.
	Gateway string

	mu    sync.Mutex
	hosts []*Host
	next  int
}

// Host is a network namespace with an address on the Net.
type Host struct {
	Name string // the namespace's name
	Addr string // its address on the Net
	veth string // the root namespace's end of its veth pair
	net  *Net
}

// run runs a command and returns an error with its output when it fails.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// New makes a bridge with an address of its own, on a /24 picked at random in 10.77-10.79.x,
// among those no interface of this machine uses.
func New() (*Net, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	tag := hex.EncodeToString(b)
	n := &Net{Tag: tag, Bridge: "cb" + tag, next: 10}
	for i := 0; ; i++ {
		c := make([]byte, 2)
		if _, err := rand.Read(c); err != nil {
			return nil, err
		}
		n.Subnet = fmt.Sprintf("10.%d.%d", 77+int(c[0])%3, c[1])
		out, _ := exec.Command("ip", "-4", "addr").Output()
		if !bytes.Contains(out, []byte(" "+n.Subnet+".")) {
			break
		}
		if i > 20 {
			return nil, errors.New("netns: no free /24 in 10.77.0.0-10.79.255.0")
		}
	}
	n.Gateway = n.Subnet + ".1"
	for _, args := range [][]string{
		{"link", "add", n.Bridge, "type", "bridge"},
		{"addr", "add", n.Gateway + "/24", "dev", n.Bridge},
		{"link", "set", n.Bridge, "up"},
	} {
		if err := run("ip", args...); err != nil {
			n.Close()
			return nil, fmt.Errorf("netns: make bridge: %w", err)
		}
	}
	return n, nil
}

// AddHost makes a namespace attached to the bridge, with the next address of the Net, its
// loopback up and a default route through the gateway.
func (n *Net) AddHost() (*Host, error) {
	n.mu.Lock()
	i := n.next
	n.next++
	n.mu.Unlock()
	if i > 250 {
		return nil, errors.New("netns: no address left on the Net")
	}
	h := &Host{Name: fmt.Sprintf("c%s-%d", n.Tag, i), Addr: fmt.Sprintf("%s.%d", n.Subnet, i), veth: fmt.Sprintf("v%s%d", n.Tag, i), net: n}
	inner := fmt.Sprintf("i%s%d", n.Tag, i)
	steps := [][]string{
		{"netns", "add", h.Name},
		{"link", "add", h.veth, "type", "veth", "peer", "name", inner},
		{"link", "set", inner, "netns", h.Name},
		{"link", "set", h.veth, "master", n.Bridge},
		{"link", "set", h.veth, "up"},
		{"-n", h.Name, "addr", "add", h.Addr + "/24", "dev", inner},
		{"-n", h.Name, "link", "set", inner, "up"},
		{"-n", h.Name, "link", "set", "lo", "up"},
		{"-n", h.Name, "route", "add", "default", "via", n.Gateway},
	}
	n.mu.Lock()
	n.hosts = append(n.hosts, h)
	n.mu.Unlock()
	for _, args := range steps {
		if err := run("ip", args...); err != nil {
			h.Destroy()
			return nil, fmt.Errorf("netns: add host: %w", err)
		}
	}
	return h, nil
}

// Command returns a command that runs in the host's namespace.
func (h *Host) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", h.Name, name}, args...)...)
}

// Partition cuts the host off the Net: its link, on the bridge's side, goes down. Connections
// stay open but nothing crosses until Heal.
func (h *Host) Partition() error { return run("ip", "link", "set", h.veth, "down") }

// Heal brings the host's link up again.
func (h *Host) Heal() error { return run("ip", "link", "set", h.veth, "up") }

// PIDs returns the processes running in the host's namespace.
func (h *Host) PIDs() []int {
	out, err := exec.Command("ip", "netns", "pids", h.Name).Output()
	if err != nil {
		return nil
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Destroy kills every process in the host's namespace, waits (briefly) for them to go, and
// deletes the namespace and its link, as a machine that is switched off. Destroying a host
// twice does nothing more.
func (h *Host) Destroy() {
	for i := 0; i < 50; i++ {
		pids := h.PIDs()
		if len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = run("ip", "netns", "delete", h.Name)
	_ = run("ip", "link", "delete", h.veth)
}

// Close destroys every host and the bridge.
func (n *Net) Close() {
	n.mu.Lock()
	hosts := n.hosts
	n.hosts = nil
	n.mu.Unlock()
	for _, h := range hosts {
		h.Destroy()
	}
	_ = run("ip", "link", "delete", n.Bridge)
}
