package proc

import (
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Stat
		bad  bool
	}{
		{in: "42 (sleep) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 12345 0 0", want: Stat{State: 'S', Pgrp: 42, Session: 42, Start: 12345}},
		{in: "7 (a) b) (c) Z 1 5 6 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 99 0", want: Stat{State: 'Z', Pgrp: 5, Session: 6, Start: 99}},
		{in: "7 (x) S 1 2", bad: true},
		{in: "no parens", bad: true},
	} {
		got, err := ParseStat(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("ParseStat(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

// startSession starts script under sh as the leader of a new session and returns its pid and
// start time; the process is reaped in the background.
func startSession(t *testing.T, script string) (int, uint64) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	st, err := ReadStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	go cmd.Wait()
	t.Cleanup(func() { KillSession(pid, st.Start, nil, nil) })
	return pid, st.Start
}

// waitMembers waits until the session has n live members.
func waitMembers(t *testing.T, sid, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(SessionMembers(sid)) != n; {
		if time.Now().After(deadline) {
			t.Fatalf("session %d has members %v, want %d", sid, SessionMembers(sid), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTerminateSession(t *testing.T) {
	for _, tc := range []struct {
		name   string
		script string // runs as the session leader and leaves one child: two members
	}{
		// A leader and child that end at SIGTERM.
		{name: "polite", script: "sleep 1000 & exec sleep 1000"},
		// A leader that ignores SIGTERM, and a child in a process group of its own (set -m) that
		// ignores it too (an ignored signal stays ignored across exec): only SIGKILL, sent to
		// each member, ends them.
		{name: "stubborn", script: "trap '' TERM; set -m; sleep 1000 & exec sleep 1000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pid, start := startSession(t, tc.script)
			waitMembers(t, pid, 2)
			if !TerminateSession(pid, start, 200*time.Millisecond, nil, nil) {
				t.Fatal("TerminateSession returned false without a stop")
			}
			if got := SessionMembers(pid); len(got) != 0 {
				t.Errorf("left %v", got)
			}
		})
	}
}

func TestSignalSessionRecycledPid(t *testing.T) {
	pid, start := startSession(t, "exec sleep 1000")
	waitMembers(t, pid, 1)
	// A record whose start time differs names another process: nothing is signalled.
	if n := SignalSession(pid, start+1, syscall.SIGKILL); n != 0 {
		t.Errorf("SignalSession with another start time found %d processes", n)
	}
	if got := SessionMembers(pid); !slices.Equal(got, []int{pid}) {
		t.Errorf("members after a mismatched signal = %v, want [%d]", got, pid)
	}
}
