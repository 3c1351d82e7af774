package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"corral/agent"
	"corral/api/rest"
	"corral/compute"
)

// localFiles is the rest.FileSource of the local provider's nodes: node n of pool p keeps its
// files under root/p/n (root is <DataDir>/nodes) in the agent's layout, which it reads directly
// from disk. Pool and node ids are checked before they become path components, and the agent's
// Layout keeps every access inside the task directory (or the node directories it serves).
type localFiles struct {
	root string
}

var _ rest.FileSource = localFiles{}

// newLocalFiles returns the FileSource of the nodes under root.
func newLocalFiles(root string) localFiles { return localFiles{root: root} }

// validNodeDirID reports whether id may name a pool or node directory: 1 to 255 of
// [A-Za-z0-9_-] (the local provider's rule), so that it can never be empty, ".", "..", or hold a
// separator.
func validNodeDirID(id string) bool { return compute.ValidID(id) }

// layout returns the layout of node nodeID of pool poolID. An id that cannot name a node
// directory names no node: the error wraps fs.ErrNotExist.
func (f localFiles) layout(poolID, nodeID string) (agent.Layout, error) {
	if !validNodeDirID(poolID) || !validNodeDirID(nodeID) {
		return agent.Layout{}, fmt.Errorf("server: task files: no node %q of pool %q: %w", nodeID, poolID, fs.ErrNotExist)
	}
	return agent.NewLayout(filepath.Join(f.root, poolID, nodeID))
}

// hasDir reports whether the directory of task jobID/taskID of node nodeID of pool poolID (the
// node's root directory, with jobID and taskID empty) is under root.
func (f localFiles) hasDir(poolID, nodeID, jobID, taskID string) bool {
	l, err := f.layout(poolID, nodeID)
	if err != nil {
		return false
	}
	dir := l.Root()
	if jobID != "" || taskID != "" {
		if dir, err = l.TaskDir(jobID, taskID); err != nil {
			return false
		}
	}
	fi, err := os.Stat(dir)
	return err == nil && fi.IsDir()
}

// fileError maps the agent's errors to the FileSource contract: an invalid job or task id names
// no task directory (fs.ErrNotExist), an invalid path is rest.ErrInvalidFilePath, a path that
// leads outside the task directory rest.ErrFileOutsideTask.
func fileError(err error) error {
	switch {
	case errors.Is(err, agent.ErrInvalidID):
		return fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	case errors.Is(err, agent.ErrInvalidPath):
		return fmt.Errorf("%w: %w", rest.ErrInvalidFilePath, err)
	case errors.Is(err, agent.ErrPathEscapes):
		return fmt.Errorf("%w: %w", rest.ErrFileOutsideTask, err)
	case errors.Is(err, agent.ErrNotEmpty):
		return fmt.Errorf("%w: %w", rest.ErrDirectoryNotEmpty, err)
	case errors.Is(err, agent.ErrProtected):
		return fmt.Errorf("%w: %w", rest.ErrFileProtected, err)
	}
	return err
}

// nodeScope reports whether a FileSource call is about the node's root directory.
func nodeScope(jobID, taskID string) bool { return jobID == "" && taskID == "" }

// fileInfo converts the agent's description of a file. The node does not know creation times
// (Azure does not report them for Linux nodes either).
func fileInfo(fi agent.FileInfo) rest.FileInfo {
	return rest.FileInfo{Path: fi.Path, IsDirectory: fi.IsDir, Size: fi.Size, LastModified: fi.ModTime, Mode: fi.Mode}
}

// ListFiles implements rest.FileSource.
func (f localFiles) ListFiles(ctx context.Context, poolID, nodeID, jobID, taskID string, recursive bool) ([]rest.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l, err := f.layout(poolID, nodeID)
	if err != nil {
		return nil, err
	}
	var list []agent.FileInfo
	if nodeScope(jobID, taskID) {
		list, err = l.ListNodeFiles(recursive)
	} else {
		list, err = l.ListFiles(jobID, taskID, recursive)
	}
	if err != nil {
		return nil, fileError(err)
	}
	out := make([]rest.FileInfo, len(list))
	for i, fi := range list {
		out[i] = fileInfo(fi)
	}
	return out, nil
}

// OpenFile implements rest.FileSource. A directory is described (through os.Root, so that it
// too is found only inside the task directory) and not opened.
func (f localFiles) OpenFile(ctx context.Context, poolID, nodeID, jobID, taskID, name string) (io.ReadSeekCloser, rest.FileInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, rest.FileInfo{}, err
	}
	l, err := f.layout(poolID, nodeID)
	if err != nil {
		return nil, rest.FileInfo{}, err
	}
	open, stat := l.OpenFile, l.StatFile
	if nodeScope(jobID, taskID) {
		open = func(_, _, name string) (*os.File, agent.FileInfo, error) { return l.OpenNodeFile(name) }
		stat = func(_, _, name string) (agent.FileInfo, error) { return l.StatNodeFile(name) }
	}
	file, fi, err := open(jobID, taskID, name)
	if errors.Is(err, agent.ErrIsDir) {
		fi, err = stat(jobID, taskID, name)
		if err == nil && !fi.IsDir { // replaced since OpenFile looked
			err = fmt.Errorf("server: task file %q of %s/%s changed while opened: %w", name, jobID, taskID, fs.ErrNotExist)
		}
		if err != nil {
			return nil, rest.FileInfo{}, fileError(err)
		}
		return nil, fileInfo(fi), nil
	}
	if err != nil {
		return nil, rest.FileInfo{}, fileError(err)
	}
	return file, fileInfo(fi), nil
}

// DeleteFile implements rest.FileSource.
func (f localFiles) DeleteFile(ctx context.Context, poolID, nodeID, jobID, taskID, name string, recursive bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l, err := f.layout(poolID, nodeID)
	if err != nil {
		return err
	}
	if nodeScope(jobID, taskID) {
		err = l.DeleteNodeFile(name, recursive)
	} else {
		err = l.DeleteFile(jobID, taskID, name, recursive)
	}
	return fileError(err)
}
