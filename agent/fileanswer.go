package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"corral/agent/protocol"
)

// Limits of the Client's answers to FileRequests, UserRequests and UploadLogsRequests.
const (
	// fileWorkers is how many of those requests a Client carries out at once.
	fileWorkers = 4
	// fileQueueLen is how many requests wait for a worker; more are dropped (the server gives
	// up on them, and its client may ask again).
	fileQueueLen = 64
	// recentFileRequests is how many request ids a Client remembers, to carry out a repeated
	// request (commands come at least once) only once.
	recentFileRequests = 256
	// nodeOpTimeout bounds a UserRequest: the server's caller gives up sooner.
	nodeOpTimeout = time.Minute
)

// fileRequests is the Client's queue of the requests its workers carry out off the sync loop
// (FileRequest, UserRequest, UploadLogsRequest), and the ids of those it took lately.
type fileRequests struct {
	queue chan any

	mu     sync.Mutex
	seen   map[string]bool
	recent []string // the ids in seen, oldest first
}

func newFileRequests() *fileRequests {
	return &fileRequests{queue: make(chan any, fileQueueLen), seen: make(map[string]bool)}
}

// add queues the request named id unless it was taken lately; it never blocks. It returns false
// if the request is dropped because the queue is full.
func (q *fileRequests) add(id string, req any) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.seen[id] {
		return true
	}
	select {
	case q.queue <- req:
	default:
		return false
	}
	q.seen[id] = true
	q.recent = append(q.recent, id)
	if len(q.recent) > recentFileRequests {
		delete(q.seen, q.recent[0])
		q.recent = q.recent[1:]
	}
	return true
}

// queueFileRequest carries out a FileRequest command: later, off the sync loop.
func (c *Client) queueFileRequest(req protocol.FileRequest) {
	if !c.files.add(req.RequestID, req) {
		c.log.Warn("agent: too many file requests waiting; one dropped", "job", req.JobID, "task", req.TaskID, "op", req.Op)
	}
}

// queueNodeOp carries out a UserRequest or UploadLogsRequest command: later, off the sync loop.
func (c *Client) queueNodeOp(id string, req any) {
	if !c.files.add(id, req) {
		c.log.Warn("agent: too many requests waiting; one dropped", "request", req)
	}
}

// runFileWorkers carries out queued requests, fileWorkers at a time, until ctx is done.
func (c *Client) runFileWorkers(ctx context.Context) {
	var wg sync.WaitGroup
	for range fileWorkers {
		wg.Go(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case req := <-c.files.queue:
					switch req := req.(type) {
					case protocol.FileRequest:
						answer, data := c.answerFile(req)
						c.uploadFileAnswer(ctx, answer, data)
					case protocol.UserRequest:
						c.uploadNodeAnswer(ctx, c.answerUser(ctx, req))
					case protocol.UploadLogsRequest:
						c.uploadNodeAnswer(ctx, c.answerUploadLogs(ctx, req))
					}
				}
			}
		})
	}
	wg.Wait()
}

// fileScope is the directory a FileRequest is about.
func (c *Client) fileScope(req protocol.FileRequest) (fileScope, error) {
	if req.Node {
		return c.runner.nodeScope(), nil
	}
	return c.runner.taskScope(req.JobID, req.TaskID)
}

// answerFile carries out a FileRequest with the Runner's Layout, which keeps every access
// inside the task directory (or the node's directories that it serves).
func (c *Client) answerFile(req protocol.FileRequest) (protocol.FileAnswer, []byte) {
	a := protocol.FileAnswer{RequestID: req.RequestID}
	fail := func(err error) (protocol.FileAnswer, []byte) {
		a.Error, a.Message = fileErrorCode(err), err.Error()
		return a, nil
	}
	s, err := c.fileScope(req)
	if err != nil {
		return fail(err)
	}
	switch req.Op {
	case protocol.FileOpList:
		list, err := s.list(req.Recursive)
		if err != nil {
			return fail(err)
		}
		a.Files = make([]protocol.FileEntry, len(list))
		for i, fi := range list {
			a.Files[i] = fileEntry(fi)
		}
		return a, nil
	case protocol.FileOpStat:
		fi, err := s.stat(req.Path)
		if err != nil {
			return fail(err)
		}
		e := fileEntry(fi)
		a.File = &e
		return a, nil
	case protocol.FileOpRead:
		if req.Offset < 0 || req.Length <= 0 {
			a.Error, a.Message = protocol.FileErrInvalidRequest, fmt.Sprintf("read of %d bytes at offset %d", req.Length, req.Offset)
			return a, nil
		}
		f, fi, err := s.open(req.Path)
		if err != nil {
			return fail(err)
		}
		defer f.Close()
		n := min(req.Length, protocol.MaxFileChunk, max(fi.Size-req.Offset, 0))
		data := make([]byte, n)
		k, err := f.ReadAt(data, req.Offset)
		if err != nil && !errors.Is(err, io.EOF) {
			return fail(err)
		}
		e := fileEntry(fi)
		a.File, a.Length = &e, int64(k)
		return a, data[:k]
	case protocol.FileOpDelete:
		if err := s.remove(req.Path, req.Recursive); err != nil {
			return fail(err)
		}
		return a, nil
	}
	a.Error, a.Message = protocol.FileErrInvalidRequest, fmt.Sprintf("unknown file operation %q", req.Op)
	return a, nil
}

// fileErrorCode maps the Layout's errors to the protocol's codes.
func fileErrorCode(err error) string {
	switch {
	case errors.Is(err, ErrInvalidID), errors.Is(err, fs.ErrNotExist):
		return protocol.FileErrNotFound // an id that cannot name a directory names none
	case errors.Is(err, ErrInvalidPath):
		return protocol.FileErrInvalidPath
	case errors.Is(err, ErrPathEscapes):
		return protocol.FileErrOutsideTask
	case errors.Is(err, ErrIsDir):
		return protocol.FileErrIsDirectory
	case errors.Is(err, ErrNotEmpty):
		return protocol.FileErrNotEmpty
	case errors.Is(err, ErrProtected):
		return protocol.FileErrProtected
	}
	return protocol.FileErrFailed
}

func fileEntry(fi FileInfo) protocol.FileEntry {
	return protocol.FileEntry{Path: fi.Path, IsDir: fi.IsDir, Size: fi.Size, ModTime: fi.ModTime, Mode: fi.Mode}
}

// uploadFileAnswer POSTs an answer to the server's protocol.FilesPath, once: if it is lost,
// the server's caller gives up and may ask again.
func (c *Client) uploadFileAnswer(ctx context.Context, a protocol.FileAnswer, data []byte) {
	var body bytes.Buffer
	if err := protocol.WriteFileAnswer(&body, a, data); errors.Is(err, protocol.ErrFileAnswerTooLarge) {
		body.Reset()
		a = protocol.FileAnswer{RequestID: a.RequestID, Error: protocol.FileErrTooLarge,
			Message: fmt.Sprintf("a listing of %d entries is over what one answer carries", len(a.Files))}
		err = protocol.WriteFileAnswer(&body, a, nil)
	} else if err != nil {
		c.log.Error("agent: file answer not encoded", "err", err)
		return
	}
	u := c.filesURL + "?" + protocol.FileRequestIDParam + "=" + url.QueryEscape(a.RequestID)
	c.postAnswer(ctx, "file answer", u, "application/octet-stream", &body)
}

// postAnswer posts an answer to a request of the server (what names it in the log) to u. An
// answer the server no longer wants (given already, or the server gave up waiting: 404, 409) is
// only logged at debug level.
func (c *Client) postAnswer(ctx context.Context, what, u, contentType string, body io.Reader) {
	rctx, cancel := context.WithTimeout(ctx, c.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, u, body)
	if err != nil {
		c.log.Error("agent: "+what+" not sent", "err", err)
		return
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", c.auth)
	resp, err := c.http.Do(req)
	if err != nil {
		c.log.Warn("agent: "+what+" not delivered", "err", err)
		return
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode == http.StatusNoContent:
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusConflict:
		c.log.Debug("agent: "+what+" not wanted", "status", resp.StatusCode, "msg", strings.TrimSpace(string(msg)))
	default:
		c.log.Warn("agent: "+what+" refused", "status", resp.StatusCode, "msg", strings.TrimSpace(string(msg)))
	}
}
