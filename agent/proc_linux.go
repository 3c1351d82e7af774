//go:build linux

package agent

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
	"time"
	"unsafe"

	"corral/agent/protocol"
)

// platformErr is nil: the Runner is supported on Linux.
var platformErr error

// sysProcAttr puts the task in a process group of its own (so that the whole group can be
// killed) and asks the kernel to SIGKILL the task's main process if the thread that started it
// dies (the Runner starts processes from one locked OS thread that lives as long as the Runner,
// so in effect: if the agent dies). A task with a user of its own (u.own) runs under u's user and
// group ids with no supplementary groups; the kernel would clear the parent-death signal on that
// change of ids, but the child sets it after the change.
func sysProcAttr(u taskUser) *syscall.SysProcAttr {
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if u.own {
		attr.Credential = &syscall.Credential{Uid: u.uid, Gid: u.uid, Groups: []uint32{}}
	}
	return attr
}

// killGroup sends SIGKILL to every process of the process group pgid. A group that no longer
// exists is not an error.
func killGroup(pgid int) error {
	if pgid <= 1 {
		return errors.New("agent: refusing to signal process group <= 1")
	}
	err := syscall.Kill(-pgid, syscall.SIGKILL)
	if err == syscall.ESRCH {
		return nil
	}
	return err
}

// openFile is os.OpenFile (close-on-exec too) for the regular files the Runner opens per
// attempt: its task's outputs and journal. os.OpenFile offers every descriptor to the runtime's
// poller, which refuses a regular file: it costs two fcntl calls to make the file non-blocking,
// an epoll_ctl that fails, and two more to make it blocking again. os.NewFile only asks
// whether the descriptor is non-blocking.
func openFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	for {
		fd, err := syscall.Open(name, flag|syscall.O_CLOEXEC, uint32(perm.Perm()))
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return os.NewFile(uintptr(fd), name), nil
	}
}

// waitExited blocks until the child pid has exited, without reaping it (waitid with WNOWAIT):
// while the zombie exists its pid, and so the process group id, cannot be reused, so the
// group can still be signalled safely.
func waitExited(pid int) error {
	const pPID = 1 // P_PID
	var siginfo [128]byte
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&siginfo[0])), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		switch errno {
		case 0:
			return nil
		case syscall.EINTR:
			continue
		default:
			return errno
		}
	}
}

// usageOf is the kernel's accounting of a reaped process: its rusage, which covers the children
// it waited for. Linux counts block I/O in units of 512 bytes.
func usageOf(ps *os.ProcessState) protocol.Usage {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return protocol.Usage{}
	}
	return protocol.Usage{
		UserCPU:    time.Duration(ru.Utime.Nano()),
		KernelCPU:  time.Duration(ru.Stime.Nano()),
		ReadBytes:  ru.Inblock * 512,
		WriteBytes: ru.Oublock * 512,
	}
}
