package local

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	procfs "corral/compute/internal/proc"
)

// pidFileName is the file in a node's directory that records the node's agent process, so that a
// provider started later (after a server restart) can find the node again.
const pidFileName = "node.pid"

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
	st, err := procfs.ReadStat(r.pid)
	return err == nil && !st.Dead() && st.Start == r.start
}
