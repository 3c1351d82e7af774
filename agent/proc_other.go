//go:build !linux

package agent

import (
	"errors"
	"io/fs"
	"os"
	"syscall"

	"corral/agent/protocol"
)

// platformErr makes NewRunner fail: running tasks needs Linux (process groups, parent-death
// signal, waitid). Layout, SplitCommandLine and the file access work everywhere.
var platformErr = errors.New("agent: running tasks is supported on Linux only")

func sysProcAttr(taskUser) *syscall.SysProcAttr { return nil }

func killGroup(pgid int) error { return platformErr }

func openFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(name, flag, perm)
}

func waitExited(pid int) error { return platformErr }

func usageOf(*os.ProcessState) protocol.Usage { return protocol.Usage{} }
