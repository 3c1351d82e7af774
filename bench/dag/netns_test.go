package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"corral/internal/netns"
)

// TestAgentLog reads the lines of an agent's log that the netns run waits for, split across
// writes as a pipe may split them.
func TestAgentLog(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "agent.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l := &agentLog{f: f, changed: make(chan struct{})}
	lines := `time=2026-01-02T03:04:05.006Z level=INFO msg="waiting to be lent to a node" pool=bench machine=m1
time=2026-01-02T03:04:06.007Z level=INFO msg="lent to a node" pool=bench machine=m1 node=bench-0
time=2026-01-02T03:04:07.008Z level=INFO msg="node given back; waiting for the next one" node=bench-0
time=2026-01-02T03:04:07.009Z level=INFO msg="waiting to be lent to a node" pool=bench machine=m1
`
	_, changed := l.waitingCount()
	for _, chunk := range []string{lines[:30], lines[30:150], lines[150:]} {
		if _, err := l.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-changed:
	default:
		t.Error("no change signalled")
	}
	if n, _ := l.waitingCount(); n != 2 {
		t.Errorf("waiting %d times, want 2", n)
	}
	a := &hostAgent{log: l}
	want := time.Date(2026, 1, 2, 3, 4, 6, 7e6, time.UTC)
	if got := a.lentAfter(time.Date(2026, 1, 2, 3, 4, 6, 7_400_000, time.UTC)); !got.Equal(want) {
		t.Errorf("lent after a time within its millisecond: %v, want %v", got, want)
	}
	if got := a.lentAfter(want.Add(time.Millisecond)); !got.IsZero() {
		t.Errorf("lent after the line: %v, want none", got)
	}
}

// TestNetnsRun runs a small DAG with nodes on two namespace hosts over TLS, through a proxy
// adding latency, with two timed resizes: what the run reports is consistent, and the steps of
// a resize come in their order.
func TestNetnsRun(t *testing.T) {
	if testing.Short() {
		t.Skip("builds corral and starts processes")
	}
	if err := netns.Available(); err != nil {
		t.Skipf("needs network namespaces: %v", err)
	}
	cl := &cleanup{}
	defer cl.run()
	bin, err := buildCorral(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sh := newShape(3, 4, 2)
	o := options{p: 2, nodes: 1, slots: 2, hosts: 2, resizeReps: 2, latency: 2 * time.Millisecond, command: "true",
		timeout: 2 * time.Minute, dir: t.TempDir(), local: true}
	r, err := runNetns(o, sh, bin, cl)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.tm.dep) != sh.Total-sh.Width || len(r.tm.attempt) != sh.Total || r.wall <= 0 {
		t.Fatalf("wall %v, %d dependency latencies and %d attempts, want %d and %d", r.wall, len(r.tm.dep), len(r.tm.attempt), sh.Total-sh.Width, sh.Total)
	}
	if r.cpuChildren <= 0 || r.closedConns != -1 {
		t.Errorf("agents' CPU %v, closed connections %d", r.cpuChildren, r.closedConns)
	}
	if len(r.resize) != 2 {
		t.Fatalf("%d resizes, want 2", len(r.resize))
	}
	for i, s := range r.resize {
		if s.answered <= 0 || s.lent <= 0 || s.lent > s.recorded || s.recorded > s.running {
			t.Errorf("resize %d: %+v: want 0 < answered, 0 < lent <= recorded <= running", i+1, s)
		}
	}
	if line := resizeLine(r.resize); !strings.Contains(line, "2 resizes") {
		t.Errorf("resize line %q", line)
	}
}
