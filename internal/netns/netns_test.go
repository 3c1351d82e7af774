package netns

import (
	"bufio"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// listen accepts connections on addr and hands each one's first line to the returned channel.
func listen(t *testing.T, addr string) (net.Listener, chan string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				got <- strings.TrimSpace(line)
				c.Write([]byte("ok\n"))
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln, got
}

func TestHostsPartitionsAndProxy(t *testing.T) {
	if err := Available(); err != nil {
		t.Skip(err)
	}
	n, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	h1, err := n.AddHost()
	if err != nil {
		t.Fatal(err)
	}
	h2, err := n.AddHost()
	if err != nil {
		t.Fatal(err)
	}
	if h1.Addr == h2.Addr || !strings.HasPrefix(h1.Addr, n.Subnet+".") {
		t.Fatalf("addresses %s and %s on %s", h1.Addr, h2.Addr, n.Subnet)
	}
	ln, got := listen(t, n.Gateway+":0")
	send := func(h *Host, addr, msg string) error {
		host, port, _ := net.SplitHostPort(addr)
		return h.Command("timeout", "2", "bash", "-c", "echo "+msg+" > /dev/tcp/"+host+"/"+port).Run()
	}
	if err := send(h1, ln.Addr().String(), "from-h1"); err != nil {
		t.Fatalf("host to server: %v", err)
	}
	if m := <-got; m != "from-h1" {
		t.Fatalf("got %q", m)
	}
	// Inside a host, only its own addresses: the root namespace's loopback is not reachable.
	out, err := h1.Command("ip", "-4", "-o", "addr").Output()
	if err != nil || !strings.Contains(string(out), h1.Addr+"/") || strings.Contains(string(out), n.Gateway+"/") {
		t.Errorf("the host's addresses: %s, %v", out, err)
	}

	if err := h1.Partition(); err != nil {
		t.Fatal(err)
	}
	if err := send(h1, ln.Addr().String(), "cut"); err == nil {
		t.Error("a partitioned host reached the server")
	}
	if err := send(h2, ln.Addr().String(), "from-h2"); err != nil {
		t.Errorf("the other host during the partition: %v", err)
	} else if m := <-got; m != "from-h2" {
		t.Errorf("got %q", m)
	}
	if err := h1.Heal(); err != nil {
		t.Fatal(err)
	}
	// The link takes a moment to carry traffic again after it comes up.
	healed := time.Now().Add(10 * time.Second)
	for err = send(h1, ln.Addr().String(), "healed"); err != nil && time.Now().Before(healed); err = send(h1, ln.Addr().String(), "healed") {
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Errorf("after healing: %v", err)
	} else if m := <-got; m != "healed" {
		t.Errorf("got %q", m)
	}

	// The proxy adds its latency each way.
	p, err := NewProxy(n.Gateway+":0", ln.Addr().String(), 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	start := time.Now()
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("via-proxy\n"))
	reply, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if err != nil || reply != "ok\n" || <-got != "via-proxy" {
		t.Fatalf("through the proxy: %q, %v", reply, err)
	}
	if rtt := time.Since(start); rtt < 100*time.Millisecond {
		t.Errorf("round trip through a 50ms proxy took %v, want at least 100ms", rtt)
	}
	p.Cut()
	if c, err := net.Dial("tcp", p.Addr); err == nil {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
			t.Error("a cut proxy carried a connection")
		}
		c.Close()
	}

	// A destroyed host is gone, with its processes.
	sleeper := h2.Command("sleep", "1000")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sleeper.Wait() }()
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Contains(h2.PIDs(), sleeper.Process.Pid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // until ip netns exec has entered the namespace
	}
	h2.Destroy()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("a destroyed host's process still runs")
	}
	if _, err := os.Stat("/run/netns/" + h2.Name); err == nil {
		t.Error("the destroyed host's namespace is still there")
	}
}
