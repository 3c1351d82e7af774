package agentlink

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"corral/agent/protocol"
)

// Errors of Files, besides the context's and the agent's (*protocol.FileError).
var (
	// ErrNotConnected: the node's agent is not connected to this server (it has made no sync
	// request for HubOptions.OfflineAfter, or none since the Hub started, or the node was
	// removed), so it cannot answer.
	ErrNotConnected = errors.New("the node's agent is not connected")
	// ErrOutboxFull: the node's outbox holds HubOptions.MaxPending commands already.
	ErrOutboxFull = errors.New("the node's outbox is full")
	// ErrClosed: the Hub is closed.
	ErrClosed = errors.New("agent link closed")
)

// fileCall is a Files call waiting for its answer. It is in Hub.calls exactly as long as done
// is open; whoever removes it (under Hub.mu) sets answer, data or err and closes done, or, if
// the caller gave up, leaves done open.
type fileCall struct {
	poolID, nodeID string
	seq            uint64 // of the command in the node's outbox
	maxData        int64  // the most bytes the answer may carry
	done           chan struct{}

	answer protocol.FileAnswer
	data   []byte
	err    error
}

// Files asks the agent of node nodeID of pool poolID for a file operation (req, whose
// RequestID Files chooses) and waits for its answer, or for ctx's end. It returns the answer
// and, for a read, the bytes read. A FileOpRead must ask for 1 to protocol.MaxFileChunk bytes
// from an offset of 0 or more.
//
// The request goes into the node's outbox as a command, which the agent's next sync response
// carries (its waiting long poll answers at once); the agent uploads its answer to
// protocol.FilesPath (FilesHandler). Whatever ends the call, the command leaves the outbox and
// a later answer is refused, so a call that timed out leaves nothing behind. Files waits for
// one node's agent only: other nodes, and other calls, go on meanwhile.
//
// Errors: one wrapping ErrNotConnected at once when the agent is not connected (and when the
// node is removed meanwhile), ErrOutboxFull, ErrClosed (also when the Hub closes meanwhile),
// ctx's error, or the agent's error as a *protocol.FileError (one of code
// protocol.FileErrNotFound matches fs.ErrNotExist), returned with the answer.
func (h *Hub) Files(ctx context.Context, poolID, nodeID string, req protocol.FileRequest) (protocol.FileAnswer, []byte, error) {
	what := fmt.Sprintf("agentlink: %s of task %s/%s on node %s", req.Op, req.JobID, req.TaskID, nodeID)
	if req.Node {
		what = fmt.Sprintf("agentlink: %s of the files of node %s", req.Op, nodeID)
	}
	var maxData int64
	switch req.Op {
	case protocol.FileOpList, protocol.FileOpStat, protocol.FileOpDelete:
	case protocol.FileOpRead:
		if req.Offset < 0 || req.Length <= 0 || req.Length > protocol.MaxFileChunk {
			return protocol.FileAnswer{}, nil, fmt.Errorf("%s: offset %d and length %d: a read is of 1 to %d bytes from an offset of 0 or more",
				what, req.Offset, req.Length, protocol.MaxFileChunk)
		}
		maxData = req.Length
	default:
		return protocol.FileAnswer{}, nil, fmt.Errorf("%s: unknown file operation", what)
	}
	id, err := newRequestID()
	if err != nil {
		return protocol.FileAnswer{}, nil, fmt.Errorf("%s: %w", what, err)
	}
	req.RequestID = id
	raw, err := json.Marshal(protocol.Message{Body: req})
	if err != nil {
		return protocol.FileAnswer{}, nil, fmt.Errorf("%s: %w", what, err)
	}
	call := &fileCall{poolID: poolID, nodeID: nodeID, maxData: maxData, done: make(chan struct{})}

	h.mu.Lock()
	switch {
	case h.closed:
		err = ErrClosed
	case !h.connectedLocked(nodeID):
		err = ErrNotConnected
	default:
		var ok bool
		if call.seq, ok = h.pushLocked(nodeID, protocol.TypeFileRequest, raw); ok {
			h.calls[id] = call
		} else {
			err = ErrOutboxFull
		}
	}
	h.mu.Unlock()
	if err != nil {
		return protocol.FileAnswer{}, nil, fmt.Errorf("%s: %w", what, err)
	}

	select {
	case <-call.done:
	case <-ctx.Done():
	}
	h.mu.Lock()
	if h.calls[id] == call {
		delete(h.calls, id) // given up: a late answer finds no call
	}
	if o, ok := h.nodes[nodeID]; ok {
		o.removeLocked(call.seq)
	}
	h.mu.Unlock()
	select {
	case <-call.done: // answered, perhaps just as ctx ended: the answer is as good
	default:
		return protocol.FileAnswer{}, nil, fmt.Errorf("%s: %w", what, ctx.Err())
	}
	if call.err != nil {
		return protocol.FileAnswer{}, nil, fmt.Errorf("%s: %w", what, call.err)
	}
	if err := call.answer.Err(); err != nil {
		return call.answer, nil, fmt.Errorf("%s: %w", what, err)
	}
	return call.answer, call.data, nil
}

// newRequestID returns a random request id of 128 bits: unguessable, so that only the agent
// that received the request can answer it.
func newRequestID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("request id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// connectedLocked reports whether the node's agent can be expected to receive a command soon:
// it has a long poll waiting, or made a sync request within OfflineAfter. h.mu must be held.
func (h *Hub) connectedLocked(nodeID string) bool {
	o, ok := h.nodes[nodeID]
	if !ok {
		return false
	}
	return o.waiter != nil || (!o.lastSeen.IsZero() && time.Since(o.lastSeen) < h.opts.OfflineAfter)
}

// removeLocked drops the command numbered seq, if it still waits. h.mu must be held.
func (o *outbox) removeLocked(seq uint64) {
	for i, c := range o.cmds {
		if c.seq == seq {
			o.cmds = append(o.cmds[:i:i], o.cmds[i+1:]...)
			return
		}
	}
}

// failCallsLocked ends the waiting Files calls of nodeID (of every node if nodeID is "") with
// err. h.mu must be held.
func (h *Hub) failCallsLocked(nodeID string, err error) {
	for id, c := range h.calls {
		if nodeID == "" || c.nodeID == nodeID {
			c.err = err
			delete(h.calls, id)
			close(c.done)
		}
	}
}

// FilesHandler returns the handler of the endpoint to which agents upload their answers to
// FileRequests; mount it at protocol.FilesPath. It checks the credential as ServeHTTP does, and
// accepts an answer only from the node the request was sent to, only while Files waits for
// it, and only the first: 204 when the answer is taken; 405 for a method other than POST, 401
// for a missing or wrong credential, 404 for a request id that names no waiting call (never
// made, answered already, or given up), 403 for an answer from another node than the one
// asked, 413 for a body over the limit (protocol.MaxFileAnswerJSON and the bytes asked for),
// 400 for a body that is not an answer to the request, 409 for an answer that lost the race to
// another, 503 once the Hub is closed.
func (h *Hub) FilesHandler() http.Handler { return http.HandlerFunc(h.serveFiles) }

func (h *Hub) serveFiles(w http.ResponseWriter, r *http.Request) {
	poolID, nodeID, ok := h.acceptPost(w, r)
	if !ok {
		return
	}
	id := r.URL.Query().Get(protocol.FileRequestIDParam)
	h.mu.Lock()
	call, closed := h.calls[id], h.closed
	h.mu.Unlock()
	switch {
	case closed:
		httpError(w, http.StatusServiceUnavailable, "server shutting down")
		return
	case call == nil:
		httpError(w, http.StatusNotFound, "no file request waits for this answer")
		return
	case call.poolID != poolID || call.nodeID != nodeID:
		h.log.Warn("agentlink: file answer refused: the request was sent to another node", "pool", poolID, "node", nodeID, "remote", r.RemoteAddr)
		httpError(w, http.StatusForbidden, "the request was sent to another node")
		return
	}
	body := http.MaxBytesReader(w, r.Body, protocol.MaxFileAnswerJSON+call.maxData)
	answer, data, err := protocol.ReadFileAnswer(body, call.maxData)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) || errors.Is(err, protocol.ErrFileAnswerTooLarge) {
			httpError(w, http.StatusRequestEntityTooLarge, "file answer over the limit")
			return
		}
		h.log.Warn("agentlink: file answer refused", "pool", poolID, "node", nodeID, "err", err)
		httpError(w, http.StatusBadRequest, "bad file answer: "+err.Error())
		return
	}
	if answer.RequestID != id {
		httpError(w, http.StatusBadRequest, "the answer names another request than the query")
		return
	}
	h.mu.Lock()
	first := h.calls[id] == call
	if first {
		call.answer, call.data = answer, data
		delete(h.calls, id)
		close(call.done)
	}
	h.mu.Unlock()
	if !first {
		httpError(w, http.StatusConflict, "the request was answered already, or given up")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
