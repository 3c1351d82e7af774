package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"corral/agent/protocol"
	"corral/agentlink"
	"corral/api/rest"
)

// fileLink is what remoteFiles needs of the agent link: agentlink.Hub's Files.
type fileLink interface {
	Files(ctx context.Context, poolID, nodeID string, req protocol.FileRequest) (protocol.FileAnswer, []byte, error)
}

// Defaults of remoteFiles.
const (
	// remoteFirstChunk is how many bytes of a file the first read over the link asks for, and
	// remoteChunk the most that one asks for: a file read from start to end is asked for in
	// chunks that double from the first to the last size, so that a short range costs little
	// and a long file few round trips.
	remoteFirstChunk = 64 << 10
	remoteChunk      = protocol.MaxFileChunk
	// remoteChunkTimeout bounds one read over the link made while a file is copied out, after
	// the REST request's own time limit may have passed (the copy is not bound by it).
	remoteChunkTimeout = 30 * time.Second
)

// remoteFiles is the rest.FileSource of nodes whose files are not on this machine: it asks
// the node's agent over the agent link (agentlink.Hub.Files), which keeps every read inside
// the task directory. A file is opened with a stat and then read lazily, in ranges of first
// to chunk bytes, so that a large file is never held whole in memory, and a Range request
// reads little more than it asks for.
type remoteFiles struct {
	link         fileLink
	first, chunk int64
	timeout      time.Duration // of one read of a chunk
}

var _ rest.FileSource = remoteFiles{}

func newRemoteFiles(link fileLink) remoteFiles {
	return remoteFiles{link: link, first: remoteFirstChunk, chunk: remoteChunk, timeout: remoteChunkTimeout}
}

// remoteError maps the link's errors to the FileSource contract: the agent's invalid path and
// path outside the task, and a node that is not connected (rest.ErrFilesUnavailable). The
// agent's not found is fs.ErrNotExist already, and the context's errors stay as they are.
func remoteError(err error) error {
	var fe *protocol.FileError
	switch {
	case errors.As(err, &fe) && fe.Code == protocol.FileErrInvalidPath:
		return fmt.Errorf("%w: %w", rest.ErrInvalidFilePath, err)
	case errors.As(err, &fe) && fe.Code == protocol.FileErrOutsideTask:
		return fmt.Errorf("%w: %w", rest.ErrFileOutsideTask, err)
	case errors.As(err, &fe) && fe.Code == protocol.FileErrNotEmpty:
		return fmt.Errorf("%w: %w", rest.ErrDirectoryNotEmpty, err)
	case errors.As(err, &fe) && fe.Code == protocol.FileErrProtected:
		return fmt.Errorf("%w: %w", rest.ErrFileProtected, err)
	case errors.Is(err, agentlink.ErrNotConnected), errors.Is(err, agentlink.ErrClosed):
		return fmt.Errorf("%w: %w", rest.ErrFilesUnavailable, err)
	}
	return err
}

func entryInfo(e protocol.FileEntry) rest.FileInfo {
	return rest.FileInfo{Path: e.Path, IsDirectory: e.IsDir, Size: e.Size, LastModified: e.ModTime, Mode: e.Mode}
}

// ListFiles implements rest.FileSource.
func (f remoteFiles) ListFiles(ctx context.Context, poolID, nodeID, jobID, taskID string, recursive bool) ([]rest.FileInfo, error) {
	a, _, err := f.link.Files(ctx, poolID, nodeID, fileRequest(jobID, taskID, protocol.FileOpList, "", recursive))
	if err != nil {
		return nil, remoteError(err)
	}
	out := make([]rest.FileInfo, len(a.Files))
	for i, e := range a.Files {
		out[i] = entryInfo(e)
	}
	return out, nil
}

// OpenFile implements rest.FileSource: it describes the file (a directory is not opened) and
// returns a reader that reads it over the link when read.
func (f remoteFiles) OpenFile(ctx context.Context, poolID, nodeID, jobID, taskID, name string) (io.ReadSeekCloser, rest.FileInfo, error) {
	a, _, err := f.link.Files(ctx, poolID, nodeID, fileRequest(jobID, taskID, protocol.FileOpStat, name, false))
	if err != nil {
		return nil, rest.FileInfo{}, remoteError(err)
	}
	if a.File == nil {
		return nil, rest.FileInfo{}, fmt.Errorf("server: task file %q of %s/%s: node %s answered without the file", name, jobID, taskID, nodeID)
	}
	info := entryInfo(*a.File)
	if info.IsDirectory {
		return nil, info, nil
	}
	return &remoteFile{
		f:      f,
		ctx:    context.WithoutCancel(ctx),
		req:    fileRequest(jobID, taskID, protocol.FileOpRead, name, false),
		poolID: poolID,
		nodeID: nodeID,
		size:   info.Size,
	}, info, nil
}

// DeleteFile implements rest.FileSource.
func (f remoteFiles) DeleteFile(ctx context.Context, poolID, nodeID, jobID, taskID, name string, recursive bool) error {
	_, _, err := f.link.Files(ctx, poolID, nodeID, fileRequest(jobID, taskID, protocol.FileOpDelete, name, recursive))
	return remoteError(err)
}

// fileRequest is the FileRequest of an operation on a task directory, or the node's root
// directory when jobID and taskID are empty.
func fileRequest(jobID, taskID, op, name string, recursive bool) protocol.FileRequest {
	return protocol.FileRequest{JobID: jobID, TaskID: taskID, Node: nodeScope(jobID, taskID), Op: op, Path: name, Recursive: recursive}
}

// remoteFile reads a file of a task over the link, a chunk at a time, up to the size its stat
// gave (a file that grows meanwhile is read as it was; one that shrinks ends early).
type remoteFile struct {
	f              remoteFiles
	ctx            context.Context // values only: the copy outlives the REST request's limit
	req            protocol.FileRequest
	poolID, nodeID string
	size           int64

	pos    int64
	buf    []byte // the file's bytes from bufOff
	bufOff int64
	next   int64 // how many bytes the next read over the link asks for, if it follows buf
	closed bool
}

// Read implements io.Reader.
func (r *remoteFile) Read(p []byte) (int, error) {
	if r.closed {
		return 0, os.ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.pos >= r.size {
		return 0, io.EOF
	}
	if r.pos < r.bufOff || r.pos >= r.bufOff+int64(len(r.buf)) {
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.buf[r.pos-r.bufOff:])
	r.pos += int64(n)
	return n, nil
}

// fill reads the chunk at pos: twice as long as the last one if it follows it, else a first
// chunk.
func (r *remoteFile) fill() error {
	if r.next == 0 || r.pos != r.bufOff+int64(len(r.buf)) {
		r.next = r.f.first
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.f.timeout)
	defer cancel()
	req := r.req
	req.Offset, req.Length = r.pos, min(r.next, r.size-r.pos)
	_, data, err := r.f.link.Files(ctx, r.poolID, r.nodeID, req)
	if err != nil {
		return remoteError(err)
	}
	if len(data) == 0 {
		return io.EOF // the file shrank
	}
	r.buf, r.bufOff = data, r.pos
	r.next = min(2*r.next, r.f.chunk)
	return nil
}

// Seek implements io.Seeker. Seeking past the end is allowed; reading there gives io.EOF.
func (r *remoteFile) Seek(offset int64, whence int) (int64, error) {
	if r.closed {
		return 0, os.ErrClosed
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.pos
	case io.SeekEnd:
		offset += r.size
	default:
		return 0, fmt.Errorf("server: seek of task file %q: whence %d", r.req.Path, whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("server: seek of task file %q to %d: negative offset", r.req.Path, offset)
	}
	r.pos = offset
	return offset, nil
}

// Close implements io.Closer.
func (r *remoteFile) Close() error {
	r.closed, r.buf = true, nil
	return nil
}

// nodeFiles is the server's rest.FileSource. A task directory that is on this machine's disk
// (a node of the local provider keeps its agent's root at <DataDir>/nodes/<pool>/<node>) is
// read there, as localFiles does; any other task directory is asked of the node's agent over
// the agent link, as remoteFiles does.
//
// Local reads are kept, rather than every read going over the link, for two reasons. They are
// an order of magnitude faster: BenchmarkTaskFileRead reads the same file both ways, and over
// loopback, on two shared cores, a 1 KiB file took about 25µs from disk and 300µs over the
// link (a stat and a read, each a round trip to the agent), a 16 MiB file about 4ms (4 GB/s)
// and 40-60ms (300-400 MB/s). And a local node's files stay readable while its agent is down
// (crashed, or not yet reconnected after a server restart), as they were before the link.
type nodeFiles struct {
	local  localFiles
	remote remoteFiles
}

var _ rest.FileSource = nodeFiles{}

// newNodeFiles returns the FileSource of the nodes under root (local) and of the nodes that
// link reaches.
func newNodeFiles(root string, link fileLink) nodeFiles {
	return nodeFiles{local: newLocalFiles(root), remote: newRemoteFiles(link)}
}

// source chooses where a task's files are read.
func (f nodeFiles) source(poolID, nodeID, jobID, taskID string) rest.FileSource {
	if f.local.hasDir(poolID, nodeID, jobID, taskID) {
		return f.local
	}
	return f.remote
}

// ListFiles implements rest.FileSource.
func (f nodeFiles) ListFiles(ctx context.Context, poolID, nodeID, jobID, taskID string, recursive bool) ([]rest.FileInfo, error) {
	return f.source(poolID, nodeID, jobID, taskID).ListFiles(ctx, poolID, nodeID, jobID, taskID, recursive)
}

// OpenFile implements rest.FileSource.
func (f nodeFiles) OpenFile(ctx context.Context, poolID, nodeID, jobID, taskID, name string) (io.ReadSeekCloser, rest.FileInfo, error) {
	return f.source(poolID, nodeID, jobID, taskID).OpenFile(ctx, poolID, nodeID, jobID, taskID, name)
}

// DeleteFile implements rest.FileSource.
func (f nodeFiles) DeleteFile(ctx context.Context, poolID, nodeID, jobID, taskID, name string, recursive bool) error {
	return f.source(poolID, nodeID, jobID, taskID).DeleteFile(ctx, poolID, nodeID, jobID, taskID, name, recursive)
}
