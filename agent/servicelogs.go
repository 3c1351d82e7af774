package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"

	"corral/agent/protocol"
)

// The agent's own log, which Compute Node - Upload Batch Service Logs uploads: Corral's
// counterpart of the logs of Azure's node agent.
const (
	// LogDirName is the directory of the agent's log files in the node's root directory.
	LogDirName = "logs"
	// LogFileName is the name of the log file being written; the files before it are
	// LogFileName.1 (the latest), LogFileName.2, ...
	LogFileName = "agent.log"
	// DefaultLogFileSize and DefaultLogFiles bound the log: a file is set aside when a write
	// would take it past DefaultLogFileSize, and DefaultLogFiles are kept, the one being
	// written included (at most 3 MiB in all, give or take a line).
	DefaultLogFileSize = 1 << 20
	DefaultLogFiles    = 3
)

// LogDir returns the directory of the agent's log files of the node rooted at root.
func LogDir(root string) string { return filepath.Join(root, LogDirName) }

// LogFile is a log that rotates: it appends to dir/LogFileName, and when a write would take that
// file past its size limit, renames it LogFileName.1 (and .1 to .2, and so on, dropping the
// oldest) and starts a new one. Each Write goes whole into one file, so a log line is never split
// (a line longer than the limit gets a file of its own). It is safe for concurrent use.
type LogFile struct {
	dir     string
	maxSize int64
	keep    int

	mu   sync.Mutex
	f    *os.File
	size int64
}

// OpenLogFile opens the log in dir (made if missing, 0700; a missing parent is made 0755, as the
// Runner makes a node's root), appending to the file being written.
// maxSize and keep are the size limit of a file and how many files to keep, the one being
// written included; 0 means DefaultLogFileSize and DefaultLogFiles.
func OpenLogFile(dir string, maxSize int64, keep int) (*LogFile, error) {
	if maxSize <= 0 {
		maxSize = DefaultLogFileSize
	}
	if keep <= 0 {
		keep = DefaultLogFiles
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("agent: log directory: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("agent: log directory: %w", err)
	}
	l := &LogFile{dir: dir, maxSize: maxSize, keep: keep}
	if err := l.open(); err != nil {
		return nil, err
	}
	return l, nil
}

func (l *LogFile) open() error {
	f, err := os.OpenFile(filepath.Join(l.dir, LogFileName), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("agent: log file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("agent: log file: %w", err)
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// Write appends p to the log, rotating first if p would take the file past its limit.
func (l *LogFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, os.ErrClosed
	}
	if l.size > 0 && l.size+int64(len(p)) > l.maxSize {
		if err := l.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := l.f.Write(p)
	l.size += int64(n)
	return n, err
}

// rotate sets the current file aside and opens a new one. l.mu must be held.
func (l *LogFile) rotate() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("agent: log file: %w", err)
	}
	l.f = nil
	name := func(i int) string {
		if i == 0 {
			return filepath.Join(l.dir, LogFileName)
		}
		return filepath.Join(l.dir, LogFileName+"."+strconv.Itoa(i))
	}
	if err := os.Remove(name(l.keep - 1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("agent: log file: %w", err)
	}
	for i := l.keep - 2; i >= 0; i-- {
		if err := os.Rename(name(i), name(i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("agent: log file: %w", err)
		}
	}
	return l.open()
}

// Close closes the file being written; later writes fail.
func (l *LogFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// logFile is one of the agent's log files, as the upload sees it.
type logFile struct {
	name    string
	modTime time.Time
}

// logFilesIn lists the log files of a LogFile in dir, the one being written first, then the
// older ones from the latest. A missing directory has none.
func logFilesIn(dir string) ([]logFile, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("agent: log files: %w", err)
	}
	type numbered struct {
		logFile
		n int
	}
	var files []numbered
	for _, e := range entries {
		n := 0
		if e.Name() != LogFileName {
			suffix, ok := strings.CutPrefix(e.Name(), LogFileName+".")
			if !ok {
				continue
			}
			if n, err = strconv.Atoi(suffix); err != nil || n <= 0 || strconv.Itoa(n) != suffix {
				continue
			}
		}
		if !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // rotated away meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("agent: log files: %w", err)
		}
		files = append(files, numbered{logFile{e.Name(), fi.ModTime()}, n})
	}
	slices.SortFunc(files, func(a, b numbered) int { return a.n - b.n })
	out := make([]logFile, len(files))
	for i, f := range files {
		out[i] = f.logFile
	}
	return out, nil
}

// selectLogFiles picks, from files as logFilesIn lists them (newest first), those that may hold
// a message written between start and end (end zero: no end), as Azure's Upload Batch Service
// Logs does ("any log file containing a log message in the time range"): a file's messages were
// written after the file before it was last modified (a file follows its predecessor at once)
// and up to its own modification time, so a file is picked when its modification time is at or
// after start, and the one before it was last modified at or before end. The oldest file's
// first message has no bound.
func selectLogFiles(files []logFile, start, end time.Time) []logFile {
	var out []logFile
	for i, f := range files {
		if f.modTime.Before(start) {
			continue
		}
		if !end.IsZero() && i+1 < len(files) && files[i+1].modTime.After(end) {
			continue
		}
		out = append(out, f)
	}
	return out
}

// uploadLogsTimeout bounds an upload of the log files.
const uploadLogsTimeout = 2 * time.Minute

// uploadLogs carries out an UploadLogsRequest: it uploads the log files in dir that
// selectLogFiles picks to the container, as block blobs named req.Directory + the file's name,
// each as it is when it is read. It returns how many it uploaded. A failure's message never
// holds the container URL's query string.
func uploadLogs(ctx context.Context, dir string, req protocol.UploadLogsRequest) protocol.NodeAnswer {
	a := protocol.NodeAnswer{RequestID: req.RequestID}
	fail := func(code string, status int, msg string) protocol.NodeAnswer {
		a.Error, a.Status, a.Message = code, status, redactURLs(msg)
		return a
	}
	if !strings.HasSuffix(req.Directory, "/") || strings.HasPrefix(req.Directory, "/") || strings.Contains(req.Directory, "..") {
		return fail(protocol.AnswerErrInvalidRequest, 0, fmt.Sprintf("virtual directory %q", req.Directory))
	}
	cc, err := containerClient(req.ContainerURL)
	if err != nil {
		return fail(protocol.AnswerErrInvalid, 0, err.Error())
	}
	files, err := logFilesIn(dir)
	if err != nil {
		return fail(protocol.AnswerErrFailed, 0, err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, uploadLogsTimeout)
	defer cancel()
	opts := &blockblob.UploadBufferOptions{HTTPHeaders: &blob.HTTPHeaders{BlobContentType: to.Ptr("text/plain; charset=utf-8")}}
	for _, f := range selectLogFiles(files, req.StartTime, req.EndTime) {
		data, err := os.ReadFile(filepath.Join(dir, f.name))
		if errors.Is(err, fs.ErrNotExist) {
			// Rotated away since it was listed: its content is in the next file's name now,
			// uploaded or not by its own time.
			continue
		}
		if err != nil {
			return fail(protocol.AnswerErrFailed, 0, err.Error())
		}
		if _, err := cc.NewBlockBlobClient(req.Directory+f.name).UploadBuffer(ctx, data, opts); err != nil {
			status, detail := storageStatus(err)
			return fail(protocol.AnswerErrStorage, status, fmt.Sprintf("upload of %s: %s", f.name, detail))
		}
		a.FilesUploaded++
	}
	return a
}
