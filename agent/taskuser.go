package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// UIDRange is the range of user ids, first to last inclusive, that a root agent gives to tasks
// (see "Task users" in the package documentation). Each id is used as a user id and as a group
// id. The ids need not exist in /etc/passwd, and nothing else on the machine may use them.
// UIDRange implements flag.Value, in the form "first-last".
type UIDRange struct {
	First, Last uint32
}

// DefaultTaskUIDs is the range used when Config.TaskUIDs is zero: 100 million ids in the part
// of the 32-bit id space that systemd's "Users, Groups, UIDs and GIDs" convention leaves
// unused (1879048192 to 2147352575: above the container ranges, below the foreign range and
// the ids that some programs take for negative).
var DefaultTaskUIDs = UIDRange{First: 2_000_000_000, Last: 2_099_999_999}

// minTaskUID is the lowest id a UIDRange may start at: below it, in the 16-bit range,
// distributions allocate their system and regular users, and nobody (65534).
const minTaskUID = 65536

// maxTaskUID is the highest id a UIDRange may end at: 4294967295 is (uid_t)-1, which chown
// and setuid take for "unchanged".
const maxTaskUID = 4294967294

// ParseUIDRange parses "first-last" (decimal, inclusive) and checks it with Validate.
func ParseUIDRange(s string) (UIDRange, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return UIDRange{}, fmt.Errorf("agent: uid range %q: want first-last", s)
	}
	first, err := strconv.ParseUint(strings.TrimSpace(a), 10, 32)
	if err != nil {
		return UIDRange{}, fmt.Errorf("agent: uid range %q: %w", s, err)
	}
	last, err := strconv.ParseUint(strings.TrimSpace(b), 10, 32)
	if err != nil {
		return UIDRange{}, fmt.Errorf("agent: uid range %q: %w", s, err)
	}
	r := UIDRange{First: uint32(first), Last: uint32(last)}
	if err := r.Validate(); err != nil {
		return UIDRange{}, err
	}
	return r, nil
}

// Validate checks that the range is not empty and lies within 65536 to 4294967294.
func (r UIDRange) Validate() error {
	switch {
	case r.First > r.Last:
		return fmt.Errorf("agent: uid range %s is empty", r)
	case r.First < minTaskUID:
		return fmt.Errorf("agent: uid range %s starts below %d, where system and regular users live", r, minTaskUID)
	case r.Last > maxTaskUID:
		return fmt.Errorf("agent: uid range %s ends above %d", r, maxTaskUID)
	}
	return nil
}

// String returns "first-last".
func (r UIDRange) String() string { return fmt.Sprintf("%d-%d", r.First, r.Last) }

// Set parses s as ParseUIDRange does (for flag.Var).
func (r *UIDRange) Set(s string) error {
	v, err := ParseUIDRange(s)
	if err != nil {
		return err
	}
	*r = v
	return nil
}

func (r UIDRange) size() uint64 { return uint64(r.Last) - uint64(r.First) + 1 }

// uidsFile is the node root's record of the next task user id to hand out after a restart.
const uidsFile = bookkeepingPrefix + "task-uids"

// uidBlock is how many ids the allocator reserves with one write of uidsFile: the file is
// synced once per block rather than once per attempt, and a restart skips what is left of the
// block it was in.
const uidBlock = 1024

// uidAllocator hands out a fresh task user id for every attempt, in order through the range,
// starting again at its beginning only when the whole range has been used.
//
// It never hands out an id twice between two wrap-arounds, across agent restarts and machine
// crashes too: before it hands out the ids of a block it records, synced, the first id after
// the block, and a new allocator on the same root starts there.
type uidAllocator struct {
	path string
	r    UIDRange

	mu    sync.Mutex
	next  uint64 // offset in r of the next id to hand out
	limit uint64 // offsets from next up to limit are reserved in the file
}

// openUIDAllocator reads the node's record, if any. An id recorded there that is outside r
// (the range was changed) makes it start at the beginning of r.
func openUIDAllocator(path string, r UIDRange) (*uidAllocator, error) {
	a := &uidAllocator{path: path, r: r}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("agent: reading task uids: %w", err)
	default:
		uid, err := strconv.ParseUint(strings.TrimSpace(string(data)), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("agent: %s is damaged (%w); remove it only once no file of a task remains", path, err)
		}
		if uint32(uid) >= r.First && uint32(uid) <= r.Last {
			a.next = uint64(uid) - uint64(r.First)
		}
	}
	a.limit = a.next
	return a, nil
}

// allocate returns the next id.
func (a *uidAllocator) allocate() (uint32, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next == a.limit {
		if a.next == a.r.size() {
			a.next = 0 // the whole range has been used: start again
		}
		limit := min(a.next+uidBlock, a.r.size())
		resume := limit
		if resume == a.r.size() {
			resume = 0
		}
		if err := writeSynced(a.path, []byte(strconv.FormatUint(uint64(a.r.First)+resume, 10)+"\n")); err != nil {
			return 0, fmt.Errorf("agent: recording task uids: %w", err)
		}
		a.limit = limit
	}
	uid := uint32(uint64(a.r.First) + a.next)
	a.next++
	return uid, nil
}

// writeSynced replaces the file at path with data (mode 0600) atomically and durably: a
// temporary file is written and synced, renamed over path, and the directory is synced.
func writeSynced(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+"-*.tmp")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// chownTree gives dir and everything below it to uid and gid. Symbolic links are changed
// themselves, never followed, and every path is resolved inside dir (os.Root), so a process
// that still runs with the earlier owner's rights and swaps a directory for a link meanwhile
// cannot make it change anything outside dir. Entries that vanish during the walk are skipped.
func chownTree(dir string, uid, gid int) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p != "." && errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := root.Lchown(p, uid, gid); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
}

// unsearchableAncestor returns the first directory above dir, following dir's path as given
// and as resolved through symbolic links, that users other than its owner and group may not
// search (no o+x), or "" if every one may. A user of a task's own cannot reach dir through
// such a directory. Access control lists are not consulted.
func unsearchableAncestor(dir string) (string, error) {
	paths := []string{dir}
	if real, err := filepath.EvalSymlinks(dir); err != nil {
		return "", err
	} else if real != dir {
		paths = append(paths, real)
	}
	for _, p := range paths {
		for {
			parent := filepath.Dir(p)
			if parent == p {
				break
			}
			p = parent
			fi, err := os.Stat(p)
			if err != nil {
				return "", err
			}
			if fi.Mode().Perm()&0o001 == 0 {
				return p, nil
			}
		}
	}
	return "", nil
}

// Modes of the node's directories and files when tasks run as users of their own (see "Task
// users" in the package documentation).
const (
	modeTraverse = 0o711 // the root, workitems and a job's directories: tasks pass, list nothing
	modeTaskDir  = 0o755 // a task directory: root's, so that a task cannot touch the bookkeeping
	modeStartup  = 0o755
	modeShared   = 0o777 | fs.ModeSticky // like /tmp
	modeWorkDir  = 0o700                 // the working directory: the task's own
	modeFile     = 0o600                 // stdout.txt, stderr.txt and the bookkeeping files
)

// taskUser is whom an attempt runs as.
type taskUser struct {
	uid uint32 // when the Runner isolates tasks: the owner (user and group) of the attempt's files
	own bool   // the attempt runs under uid, not as the agent
}

// userFor chooses whom an attempt runs as: a fresh user of its own if the Runner isolates tasks
// and the task is not elevated, the agent otherwise. An elevated task on an agent that is not
// root gets a failure: it cannot have what it asks for.
func (r *Runner) userFor(spec TaskSpec) (taskUser, *Failure, error) {
	switch {
	case spec.ElevationAdmin && !r.superuser:
		return taskUser{}, &Failure{Category: CategoryServerError, Code: codeInvalidTaskRequest,
			Message: "The node agent cannot run this task: elevation to admin needs an agent that runs as root"}, nil
	case spec.ElevationAdmin || !r.isolate:
		return taskUser{}, nil, nil
	}
	uid, err := r.uids.allocate()
	if err != nil {
		return taskUser{}, nil, err
	}
	return taskUser{uid: uid, own: true}, nil, nil
}

// prepareNode creates the node's directories and decides whether tasks run as users of their
// own. If they do, it gives the node's directories, and the task directories that already
// exist, the modes of "Task users", and opens the uid allocator.
func (r *Runner) prepareNode() error {
	root := r.Root()
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("agent: creating node directory: %w", err)
	}
	r.superuser = os.Geteuid() == 0
	if r.superuser {
		closed, err := unsearchableAncestor(root)
		if err != nil {
			return fmt.Errorf("agent: checking the directories above the node root: %w", err)
		}
		r.isolate = closed == ""
		if !r.isolate {
			r.log.Warn("agent: tasks run as root, not as users of their own: a directory above the node root is closed to other users; make it searchable (chmod o+x) or choose another root",
				"dir", closed, "root", root)
		}
	}
	dirs := []struct {
		path string
		mode fs.FileMode
	}{
		{root, modeTraverse},
		{filepath.Join(root, workitemsDir), modeTraverse},
		{r.SharedDir(), modeShared},
		{r.StartupDir(), modeStartup},
	}
	for _, d := range dirs {
		var err error
		if r.isolate {
			_, err = mkdirOwned(d.path, d.mode, true)
		} else if d.path != root {
			err = os.MkdirAll(d.path, 0o755)
		}
		if err != nil {
			return fmt.Errorf("agent: creating node directory: %w", err)
		}
	}
	if !r.isolate {
		return nil
	}
	// Task directories made before tasks ran as users of their own.
	taskDirs, err := filepath.Glob(filepath.Join(root, workitemsDir, "*", jobDirGlob, "*"))
	if err != nil {
		return fmt.Errorf("agent: listing task directories: %w", err)
	}
	for _, dir := range taskDirs {
		if _, err := r.makeTaskDirs(dir); err != nil {
			return fmt.Errorf("agent: securing task directory: %w", err)
		}
		for _, f := range []string{StdoutFile, StderrFile, journalFile} {
			if err := os.Chmod(filepath.Join(dir, f), modeFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("agent: securing task directory: %w", err)
			}
		}
	}
	r.uids, err = openUIDAllocator(filepath.Join(root, uidsFile), r.cfg.TaskUIDs)
	return err
}

// makeTaskDirs creates a task directory and its working directory; fresh reports that the task
// directory did not exist before (so it holds nothing yet, no journal in particular). When tasks
// run as users of their own, it also gives the job's directories and the task directory to root
// with their modes, and the working directory its mode (its owner is set by Start).
func (r *Runner) makeTaskDirs(dir string) (fresh bool, err error) {
	wd := filepath.Join(dir, WorkingDirName)
	if !r.isolate {
		fresh, err = mkdirNew(dir, 0o755)
		switch {
		case err != nil:
			return false, err
		case !fresh: // an earlier attempt's: its working directory is kept
			return false, os.MkdirAll(wd, 0o755)
		}
		return true, os.Mkdir(wd, 0o755)
	}
	if dir == r.StartupDir() {
		// The start task's: the startup directory is made with the node's.
		_, err := mkdirOwned(wd, modeWorkDir, false)
		return false, err
	}
	jobDir := filepath.Dir(dir)
	dirs := []struct {
		path      string
		mode      fs.FileMode
		rootOwned bool
	}{
		{filepath.Dir(jobDir), modeTraverse, true},
		{jobDir, modeTraverse, true},
		{dir, modeTaskDir, true},
		{wd, modeWorkDir, false},
	}
	for _, d := range dirs {
		made, err := mkdirOwned(d.path, d.mode, d.rootOwned)
		if err != nil {
			return false, err
		}
		if d.path == dir {
			fresh = made
		}
	}
	return fresh, nil
}

// mkdirNew creates a directory and any missing parents (all with mode perm, less the umask);
// made reports that the directory did not exist. It costs one mkdir where the parent exists,
// where os.MkdirAll would stat the directory and its parent first.
func mkdirNew(path string, perm fs.FileMode) (made bool, err error) {
	err = os.Mkdir(path, perm)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(path), perm); err != nil {
			return false, err
		}
		err = os.Mkdir(path, perm)
	}
	if errors.Is(err, fs.ErrExist) {
		return false, nil // a directory, or whatever the working directory's mkdir says it is
	}
	return err == nil, err
}

// mkdirOwned creates a directory if it does not exist (made reports whether it did not), and
// gives it mode (whatever the umask) and, if rootOwned, root as its owner.
func mkdirOwned(path string, mode fs.FileMode, rootOwned bool) (made bool, err error) {
	err = os.Mkdir(path, mode.Perm())
	if err != nil && !errors.Is(err, fs.ErrExist) {
		return false, err
	}
	made = err == nil
	if rootOwned {
		if err := os.Lchown(path, 0, 0); err != nil {
			return false, err
		}
	}
	return made, os.Chmod(path, mode)
}

// openOutput opens (creating or truncating) one of a task's output files, stdout.txt or
// stderr.txt, for the agent to hand to the task. When tasks run as users of their own, the
// file is the attempt's, mode 0600.
func (r *Runner) openOutput(path string, u taskUser) (*os.File, error) {
	f, err := openFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, modeFile)
	if err != nil {
		return nil, err
	}
	if r.isolate {
		err = f.Chown(int(u.uid), int(u.uid))
		if err == nil {
			err = f.Chmod(modeFile)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("giving %s to the task's user: %w", filepath.Base(path), err)
		}
	}
	return f, nil
}
