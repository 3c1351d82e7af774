// Package proc holds what Corral's VM providers need to know about processes on this machine:
// their state, session and start time from /proc, and how to end a whole session of them. A
// provider starts what it runs (a node agent, an operator's program) as the leader of a new
// session, so that every process it leads to, whatever process groups those make, can be found
// and killed together.
package proc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// root is where the proc file system is mounted.
const root = "/proc"

// Stat is what the providers need from /proc/<pid>/stat.
type Stat struct {
	State   byte   // field 3: R, S, D, Z, X, ...
	Pgrp    int    // field 5
	Session int    // field 6
	Start   uint64 // field 22: start time in clock ticks after boot
}

// Dead reports whether the process has exited (a zombie waits only to be reaped).
func (s Stat) Dead() bool { return s.State == 'Z' || s.State == 'X' || s.State == 'x' }

// ReadStat reads /proc/<pid>/stat. The command name (field 2) may hold spaces and parentheses,
// so the fields are counted from the last ')'.
func ReadStat(pid int) (Stat, error) {
	b, err := os.ReadFile(filepath.Join(root, strconv.Itoa(pid), "stat"))
	if err != nil {
		return Stat{}, err
	}
	return ParseStat(string(b))
}

// ParseStat parses the content of /proc/<pid>/stat.
func ParseStat(s string) (Stat, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return Stat{}, errors.New("malformed stat: no command name")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return Stat{}, errors.New("malformed stat: too few fields")
	}
	var st Stat
	var err error
	st.State = f[0][0]
	if st.Pgrp, err = strconv.Atoi(f[2]); err != nil {
		return Stat{}, fmt.Errorf("malformed stat: pgrp: %w", err)
	}
	if st.Session, err = strconv.Atoi(f[3]); err != nil {
		return Stat{}, fmt.Errorf("malformed stat: session: %w", err)
	}
	if st.Start, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return Stat{}, fmt.Errorf("malformed stat: starttime: %w", err)
	}
	return st, nil
}

// SessionMembers lists the live (not zombie) processes of session sid.
func SessionMembers(sid int) []int {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		st, err := ReadStat(pid)
		if err != nil || st.Session != sid || st.Dead() {
			continue
		}
		out = append(out, pid)
	}
	return out
}

// BootID identifies the running kernel boot, so that a record of a process from before a
// reboot is never trusted; empty if the kernel does not say.
func BootID() string {
	b, err := os.ReadFile(filepath.Join(root, "sys/kernel/random/boot_id"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// recycled reports whether pid now names a process that started at another time than start: the
// kernel recycles a session leader's pid only once no process of its session is left.
func recycled(pid int, start uint64) bool {
	st, err := ReadStat(pid)
	return err == nil && st.Start != start
}

// SignalSession sends sig to every live process of the session that pid (started at start)
// leads: its process group and any process group made in the session. It returns how many
// processes it found (0: the session is gone).
func SignalSession(pid int, start uint64, sig syscall.Signal) int {
	if recycled(pid, start) {
		return 0
	}
	members := SessionMembers(pid)
	if len(members) == 0 {
		return 0
	}
	_ = syscall.Kill(-pid, sig)
	for _, m := range members {
		_ = syscall.Kill(m, sig)
	}
	return len(members)
}

// KillSession kills every process of the session that pid (started at start) leads, with
// SIGKILL. It repeats until none is left, and returns true then, or false if stop is closed
// first. slow, if not nil, is called once if processes are still alive 30 seconds on.
func KillSession(pid int, start uint64, stop <-chan struct{}, slow func()) bool {
	wait := 5 * time.Millisecond
	began := time.Now()
	warned := false
	for SignalSession(pid, start, syscall.SIGKILL) > 0 {
		t := time.NewTimer(wait)
		select {
		case <-stop:
			t.Stop()
			return false
		case <-t.C:
		}
		wait = min(2*wait, 200*time.Millisecond)
		if !warned && time.Since(began) > 30*time.Second {
			warned = true
			if slow != nil {
				slow()
			}
		}
	}
	return true
}

// TerminateSession ends the session that pid (started at start) leads: SIGTERM to every process
// of it, then, for those still alive after grace, SIGKILL until none is left. It returns true
// once the session is gone, or false if stop is closed first.
func TerminateSession(pid int, start uint64, grace time.Duration, stop <-chan struct{}, slow func()) bool {
	if SignalSession(pid, start, syscall.SIGTERM) > 0 {
		deadline := time.Now().Add(grace)
		wait := 5 * time.Millisecond
		for time.Now().Before(deadline) && len(liveMembers(pid, start)) > 0 {
			t := time.NewTimer(min(wait, time.Until(deadline)))
			select {
			case <-stop:
				t.Stop()
				return false
			case <-t.C:
			}
			wait = min(2*wait, 100*time.Millisecond)
		}
	}
	return KillSession(pid, start, stop, slow)
}

func liveMembers(pid int, start uint64) []int {
	if recycled(pid, start) {
		return nil
	}
	return SessionMembers(pid)
}
