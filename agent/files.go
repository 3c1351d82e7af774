package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Errors returned by the file operations (ListFiles, OpenFile, DeleteFile and their node forms), for the API layer to map to HTTP statuses. They are
// wrapped; test with errors.Is. A file or task directory that does not exist gives an error
// wrapping fs.ErrNotExist.
var (
	// ErrInvalidPath: the file path is empty, absolute, or has a ".." element.
	ErrInvalidPath = errors.New("invalid file path")
	// ErrPathEscapes: the file path leads, through a symbolic link, outside the task directory.
	ErrPathEscapes = errors.New("file path escapes the task directory")
	// ErrIsDir: OpenFile was asked for a directory.
	ErrIsDir = errors.New("file is a directory")
	// ErrNotEmpty: a delete of a directory that is not empty, without recursive.
	ErrNotEmpty = errors.New("directory is not empty")
	// ErrProtected: a delete of one of the directories of the node's layout (shared, startup,
	// workitems).
	ErrProtected = errors.New("directory of the node's layout cannot be deleted")
)

// FileInfo describes one entry of a task directory, as Azure Batch's File - List From Task
// reports it.
type FileInfo struct {
	// Path is relative to the task directory, with '/' separators: "stdout.txt", "wd",
	// "wd/out/result.csv".
	Path    string
	IsDir   bool
	Size    int64 // bytes; 0 for directories
	ModTime time.Time
	// Mode holds the permission bits and type bits; a symbolic link is listed as itself
	// (fs.ModeSymlink) and never followed by ListFiles.
	Mode fs.FileMode
}

func fileInfo(p string, fi fs.FileInfo) FileInfo {
	info := FileInfo{Path: p, IsDir: fi.IsDir(), ModTime: fi.ModTime(), Mode: fi.Mode()}
	if !info.IsDir {
		info.Size = fi.Size()
	}
	return info
}

// ListFiles lists a task's directory: its direct entries (stdout.txt, stderr.txt, wd), or with
// recursive every file and directory below it, sorted by path. Corral's own bookkeeping files
// are left out. Symbolic links are listed but not followed, so the listing never leaves the task
// directory. A task that never ran on this node gives an error wrapping fs.ErrNotExist.
func (l Layout) ListFiles(jobID, taskID string, recursive bool) ([]FileInfo, error) {
	s, err := l.taskScope(jobID, taskID)
	if err != nil {
		return nil, err
	}
	return s.list(recursive)
}

// OpenFile opens a file of a task for reading. name is relative to the task directory
// ("stdout.txt", "wd/out/result.csv"; '/' or the OS separator). It must be a local path (not
// empty, not absolute, no ".." element: ErrInvalidPath), may follow symbolic links only as long
// as they stay inside the task directory (ErrPathEscapes), must not name a directory (ErrIsDir)
// and must not name Corral's bookkeeping files (fs.ErrNotExist). The check and the open are one
// operation (os.Root), so a task cannot race a symbolic link in between.
func (l Layout) OpenFile(jobID, taskID, name string) (*os.File, FileInfo, error) {
	s, err := l.taskScope(jobID, taskID)
	if err != nil {
		return nil, FileInfo{}, err
	}
	return s.open(name)
}

// StatFile describes a file or directory of a task, under OpenFile's rules for name except
// that a directory is described, not refused. Like OpenFile, it follows symbolic links only
// inside the task directory.
func (l Layout) StatFile(jobID, taskID, name string) (FileInfo, error) {
	s, err := l.taskScope(jobID, taskID)
	if err != nil {
		return FileInfo{}, err
	}
	return s.stat(name)
}

// DeleteFile deletes a file or directory of a task, under OpenFile's rules for name (symbolic
// links in the path are followed only inside the task directory; one named is deleted itself,
// not followed). A directory that is not empty is deleted only with recursive (ErrNotEmpty
// otherwise); the task directory itself cannot be named.
func (l Layout) DeleteFile(jobID, taskID, name string, recursive bool) error {
	s, err := l.taskScope(jobID, taskID)
	if err != nil {
		return err
	}
	return s.remove(name, recursive)
}

// ListNodeFiles lists the node's root directory as Azure lays a node out: the directories
// shared, startup and workitems, and with recursive every file and directory below them
// (workitems/<jobId>/job-1/<taskId>/stdout.txt…), sorted by path. Nothing else of the root (the
// node's credential, the agent's log and records) and none of Corral's bookkeeping files is
// listed; symbolic links are listed, not followed.
func (l Layout) ListNodeFiles(recursive bool) ([]FileInfo, error) {
	return l.nodeScope().list(recursive)
}

// OpenNodeFile opens a file of the node for reading: name is relative to the node's root and
// lies in one of the directories ListNodeFiles lists, which symbolic links may not leave
// (ErrPathEscapes); otherwise as OpenFile.
func (l Layout) OpenNodeFile(name string) (*os.File, FileInfo, error) {
	return l.nodeScope().open(name)
}

// StatNodeFile describes a file or directory of the node, as OpenNodeFile finds it.
func (l Layout) StatNodeFile(name string) (FileInfo, error) { return l.nodeScope().stat(name) }

// DeleteNodeFile deletes a file or directory of the node, as DeleteFile does in a task
// directory. The directories shared, startup and workitems themselves cannot be deleted
// (ErrProtected).
func (l Layout) DeleteNodeFile(name string, recursive bool) error {
	return l.nodeScope().remove(name, recursive)
}

// fileScope is a directory whose files the file operations serve: a task directory, or the
// node's root directory, of which only nodeDirs are served, each as a directory that symbolic
// links may not leave.
type fileScope struct {
	dir  string
	node bool
	what string // for errors: "task j/t", "node"
}

// nodeDirs are the directories of the node's root that the file operations serve: those of
// Azure's layout that a Corral node has.
var nodeDirs = []string{sharedDir, startupDir, workitemsDir}

func (l Layout) taskScope(jobID, taskID string) (fileScope, error) {
	dir, err := l.TaskDir(jobID, taskID)
	if err != nil {
		return fileScope{}, err
	}
	return fileScope{dir: dir, what: "task " + jobID + "/" + taskID}, nil
}

func (l Layout) nodeScope() fileScope { return fileScope{dir: l.root, node: true, what: "node"} }

// hidden reports whether a cleaned path relative to the scope is not served: Corral's
// bookkeeping anywhere, and in the node's root anything outside nodeDirs.
func (s fileScope) hidden(rel string) bool {
	if isBookkeeping(rel) {
		return true
	}
	if !s.node {
		return false
	}
	first, _, _ := strings.Cut(filepath.ToSlash(rel), "/")
	return !slices.Contains(nodeDirs, first)
}

func (s fileScope) list(recursive bool) ([]FileInfo, error) {
	root, err := os.OpenRoot(s.dir)
	if err != nil {
		return nil, fmt.Errorf("agent: listing files of %s: %w", s.what, err)
	}
	defer root.Close()
	var out []FileInfo
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			// An entry that vanished or cannot be read while walking (a task may be running) is
			// skipped rather than failing the whole listing.
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if p == "." {
			return nil
		}
		if s.hidden(p) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil // vanished since ReadDir
		}
		out = append(out, fileInfo(p, fi))
		if d.IsDir() && !recursive {
			return fs.SkipDir
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("agent: listing files of %s: %w", s.what, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func (s fileScope) open(name string) (*os.File, FileInfo, error) {
	root, rel, err := s.resolve(name)
	if err != nil {
		return nil, FileInfo{}, err
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		return nil, FileInfo{}, s.fileError(name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, FileInfo{}, s.fileError(name, err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, FileInfo{}, s.fileError(name, ErrIsDir)
	}
	return f, fileInfo(cleanName(name), fi), nil
}

func (s fileScope) stat(name string) (FileInfo, error) {
	root, rel, err := s.resolve(name)
	if err != nil {
		return FileInfo{}, err
	}
	defer root.Close()
	fi, err := root.Stat(rel)
	if err != nil {
		return FileInfo{}, s.fileError(name, err)
	}
	return fileInfo(cleanName(name), fi), nil
}

func (s fileScope) remove(name string, recursive bool) error {
	root, rel, err := s.resolve(name)
	if err != nil {
		return err
	}
	defer root.Close()
	if rel == "." {
		// The task directory, or one of nodeDirs: structure, not files.
		if s.node {
			return s.fileError(name, ErrProtected)
		}
		return s.fileError(name, ErrInvalidPath)
	}
	fi, err := root.Lstat(rel)
	if err != nil {
		return s.fileError(name, err)
	}
	if fi.IsDir() && recursive {
		err = root.RemoveAll(rel)
	} else {
		err = root.Remove(rel)
		if fi.IsDir() && errors.Is(err, syscall.ENOTEMPTY) {
			err = ErrNotEmpty
		}
	}
	if err != nil {
		return s.fileError(name, err)
	}
	return nil
}

// resolve checks name (see OpenFile) and returns the directory that confines it, as an
// os.Root, and the path inside it: the task directory, or the one of nodeDirs that name starts
// with ("." for the directory itself).
func (s fileScope) resolve(name string) (*os.Root, string, error) {
	rel := filepath.FromSlash(name)
	if !filepath.IsLocal(rel) {
		return nil, "", s.fileError(name, ErrInvalidPath)
	}
	rel = filepath.Clean(rel)
	if s.hidden(rel) {
		return nil, "", s.fileError(name, fs.ErrNotExist)
	}
	dir := s.dir
	if s.node {
		first, rest, _ := strings.Cut(rel, string(filepath.Separator))
		dir, rel = filepath.Join(s.dir, first), rest
		if rel == "" {
			rel = "."
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, "", s.fileError(name, err)
	}
	return root, rel, nil
}

// cleanName is a checked name as file listings spell it: cleaned, with '/' separators.
func cleanName(name string) string { return filepath.ToSlash(filepath.Clean(filepath.FromSlash(name))) }

// fileError wraps an error about a file of the scope; os.Root's refusal of a path that escapes
// its directory becomes ErrPathEscapes.
func (s fileScope) fileError(name string, err error) error {
	if isRootEscape(err) {
		err = ErrPathEscapes
	}
	return fmt.Errorf("agent: file %q of %s: %w", name, s.what, err)
}

// isRootEscape reports whether err is os.Root's refusal of a path that escapes the root. The
// os package does not export that error, so it is recognised by its text; a test pins it.
func isRootEscape(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && pe.Err != nil && pe.Err.Error() == "path escapes from parent"
}
