package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"time"
)

// Errors returned by ListFiles and OpenFile, for the API layer to map to HTTP statuses. They are
// wrapped; test with errors.Is. A file or task directory that does not exist gives an error
// wrapping fs.ErrNotExist.
var (
	// ErrInvalidPath: the file path is empty, absolute, or has a ".." element.
	ErrInvalidPath = errors.New("invalid file path")
	// ErrPathEscapes: the file path leads, through a symbolic link, outside the task directory.
	ErrPathEscapes = errors.New("file path escapes the task directory")
	// ErrIsDir: OpenFile was asked for a directory.
	ErrIsDir = errors.New("file is a directory")
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
	dir, err := l.TaskDir(jobID, taskID)
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("agent: listing files of task %s/%s: %w", jobID, taskID, err)
	}
	defer root.Close()
	fsys := root.FS()
	var out []FileInfo
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == "." {
				return err
			}
			// An entry that vanished or cannot be read while walking (the task may still be
			// running) is skipped rather than failing the whole listing.
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if p == "." {
			return nil
		}
		if path.Dir(p) == "." && isBookkeeping(p) {
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
		return nil, fmt.Errorf("agent: listing files of task %s/%s: %w", jobID, taskID, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// OpenFile opens a file of a task for reading. name is relative to the task directory
// ("stdout.txt", "wd/out/result.csv"; '/' or the OS separator). It must be a local path (not
// empty, not absolute, no ".." element: ErrInvalidPath), may follow symbolic links only as long
// as they stay inside the task directory (ErrPathEscapes), must not name a directory (ErrIsDir)
// and must not name Corral's bookkeeping files (fs.ErrNotExist). The check and the open are one
// operation (os.Root), so a task cannot race a symbolic link in between.
func (l Layout) OpenFile(jobID, taskID, name string) (*os.File, FileInfo, error) {
	root, rel, err := l.openTaskRoot(jobID, taskID, name)
	if err != nil {
		return nil, FileInfo{}, err
	}
	defer root.Close()
	f, err := root.Open(rel)
	if err != nil {
		return nil, FileInfo{}, taskFileError(jobID, taskID, name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, FileInfo{}, taskFileError(jobID, taskID, name, err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, FileInfo{}, taskFileError(jobID, taskID, name, ErrIsDir)
	}
	return f, fileInfo(filepath.ToSlash(rel), fi), nil
}

// StatFile describes a file or directory of a task, under OpenFile's rules for name except
// that a directory is described, not refused. Like OpenFile, it follows symbolic links only
// inside the task directory.
func (l Layout) StatFile(jobID, taskID, name string) (FileInfo, error) {
	root, rel, err := l.openTaskRoot(jobID, taskID, name)
	if err != nil {
		return FileInfo{}, err
	}
	defer root.Close()
	fi, err := root.Stat(rel)
	if err != nil {
		return FileInfo{}, taskFileError(jobID, taskID, name, err)
	}
	return fileInfo(filepath.ToSlash(rel), fi), nil
}

// openTaskRoot checks name as OpenFile does and returns the task directory as an os.Root,
// with name cleaned and in the OS's form.
func (l Layout) openTaskRoot(jobID, taskID, name string) (*os.Root, string, error) {
	dir, err := l.TaskDir(jobID, taskID)
	if err != nil {
		return nil, "", err
	}
	rel := filepath.FromSlash(name)
	if !filepath.IsLocal(rel) {
		return nil, "", taskFileError(jobID, taskID, name, ErrInvalidPath)
	}
	rel = filepath.Clean(rel)
	if isBookkeeping(rel) {
		return nil, "", taskFileError(jobID, taskID, name, fs.ErrNotExist)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, "", taskFileError(jobID, taskID, name, err)
	}
	return root, rel, nil
}

// taskFileError wraps an error about a task's file; os.Root's refusal of a path that escapes
// the task directory becomes ErrPathEscapes.
func taskFileError(jobID, taskID, name string, err error) error {
	if isRootEscape(err) {
		err = ErrPathEscapes
	}
	return fmt.Errorf("agent: file %q of task %s/%s: %w", name, jobID, taskID, err)
}

// isRootEscape reports whether err is os.Root's refusal of a path that escapes the root. The
// os package does not export that error, so it is recognised by its text; a test pins it.
func isRootEscape(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) && pe.Err != nil && pe.Err.Error() == "path escapes from parent"
}
