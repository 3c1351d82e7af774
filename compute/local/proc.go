package local

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

// pidFileName is the file in a node's directory that records the node's agent process, so that a
// provider started later (after a server restart) can find the node again.
const pidFileName = "node.pid"

// procRoot is where the proc file system is mounted.
const procRoot = "/proc"

// procStat is what the provider needs from /proc/<pid>/stat.
type procStat struct {
	state   byte   // field 3: R, S, D, Z, X, ...
	pgrp    int    // field 5
	session int    // field 6
	start   uint64 // field 22: start time in clock ticks after boot
}

// dead reports whether the process has exited (a zombie waits only to be reaped).
func (s procStat) dead() bool { return s.state == 'Z' || s.state == 'X' || s.state == 'x' }

// readStat reads /proc/<pid>/stat. The command name (field 2) may hold spaces and parentheses,
// so the fields are counted from the last ')'.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(string(b))
}

func parseStat(s string) (procStat, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, errors.New("malformed stat: no command name")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, errors.New("malformed stat: too few fields")
	}
	var st procStat
	var err error
	st.state = f[0][0]
	if st.pgrp, err = strconv.Atoi(f[2]); err != nil {
		return procStat{}, fmt.Errorf("malformed stat: pgrp: %w", err)
	}
	if st.session, err = strconv.Atoi(f[3]); err != nil {
		return procStat{}, fmt.Errorf("malformed stat: session: %w", err)
	}
	if st.start, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return procStat{}, fmt.Errorf("malformed stat: starttime: %w", err)
	}
	return st, nil
}

// sessionMembers lists the live (not zombie) processes of session sid.
func sessionMembers(sid int) []int {
	ents, err := os.ReadDir(procRoot)
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.session != sid || st.dead() {
			continue
		}
		out = append(out, pid)
	}
	return out
}

// bootID identifies the running kernel boot, so that a pid file from before a reboot is never
// trusted; empty if the kernel does not say.
func bootID() string {
	b, err := os.ReadFile(filepath.Join(procRoot, "sys/kernel/random/boot_id"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// pidRecord is the content of a node's pid file.
type pidRecord struct {
	pid       int
	start     uint64 // the process's start time (/proc/<pid>/stat field 22)
	boot      string // the boot id at the time, if known
	dedicated bool
}

func (r pidRecord) String() string {
	return fmt.Sprintf("pid %d\nstart %d\nboot %s\ndedicated %t\n", r.pid, r.start, r.boot, r.dedicated)
}

func parsePidRecord(s string) (pidRecord, error) {
	var r pidRecord
	var havePid, haveStart bool
	for line := range strings.Lines(s) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		var err error
		switch k {
		case "pid":
			r.pid, err = strconv.Atoi(v)
			havePid = err == nil && r.pid > 0
		case "start":
			r.start, err = strconv.ParseUint(v, 10, 64)
			haveStart = err == nil
		case "boot":
			r.boot = v
		case "dedicated":
			r.dedicated, err = strconv.ParseBool(v)
		}
		if err != nil {
			return pidRecord{}, fmt.Errorf("bad %s line: %w", k, err)
		}
	}
	if !havePid || !haveStart {
		return pidRecord{}, errors.New("pid or start missing")
	}
	return r, nil
}

// writePidFile records r in dir, atomically (a reader sees the old file or the new one).
func writePidFile(dir string, r pidRecord) error {
	tmp := filepath.Join(dir, pidFileName+".tmp")
	if err := os.WriteFile(tmp, []byte(r.String()), 0o600); err != nil {
		return fmt.Errorf("write pid file: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, pidFileName)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write pid file: %w", err)
	}
	return nil
}

func readPidFile(dir string) (pidRecord, error) {
	b, err := os.ReadFile(filepath.Join(dir, pidFileName))
	if err != nil {
		return pidRecord{}, err
	}
	r, err := parsePidRecord(string(b))
	if err != nil {
		return pidRecord{}, fmt.Errorf("pid file %s: %w", filepath.Join(dir, pidFileName), err)
	}
	return r, nil
}

// removePidFile removes dir's pid file if it still records the process pid started at start
// (another provider may have started a new process for the node since).
func removePidFile(dir string, pid int, start uint64) {
	if r, err := readPidFile(dir); err == nil && r.pid == pid && r.start == start {
		os.Remove(filepath.Join(dir, pidFileName))
	}
}

// alive reports whether the process the record names still runs: pid exists, is not a zombie,
// and started when the record says (otherwise the pid was recycled), in the same boot.
func (r pidRecord) alive(boot string) bool {
	if r.boot != "" && boot != "" && r.boot != boot {
		return false
	}
	st, err := readStat(r.pid)
	return err == nil && !st.dead() && st.start == r.start
}

// killSession kills every process of the session that the node's agent leads (sid = pid): the
// agent's process group and any process group it made for its tasks. It repeats until none is
// left, and returns true then, or false if stop is closed first. If pid now names a process that
// started at another time, the pid was recycled, which the kernel does only once no process of
// the old session is left: there is nothing to kill.
func killSession(pid int, start uint64, stop <-chan struct{}, slow func()) bool {
	wait := 5 * time.Millisecond
	began := time.Now()
	warned := false
	for {
		if st, err := readStat(pid); err == nil && st.start != start {
			return true
		}
		members := sessionMembers(pid)
		if len(members) == 0 {
			return true
		}
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		for _, m := range members {
			_ = syscall.Kill(m, syscall.SIGKILL)
		}
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
}
