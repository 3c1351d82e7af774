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

// pendingCall is a Files or Ask call waiting for its answer. It is in Hub.calls exactly as
// long as done is open; whoever removes it (under Hub.mu) sets its answer or err and closes
// done, or, if the caller gave up, leaves done open.
type pendingCall struct {
	poolID, nodeID string
	seq            uint64 // of the command in the node's outbox
	ask            bool   // an Ask, answered at protocol.AnswerPath; else a Files call
	maxData        int64  // Files: the most bytes the answer may carry
	done           chan struct{}

	answer     protocol.FileAnswer // Files
	data       []byte              // Files
	nodeAnswer protocol.NodeAnswer // Ask
	err        error
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
	call := &pendingCall{poolID: poolID, nodeID: nodeID, maxData: maxData, done: make(chan struct{})}
	if err := h.call(ctx, id, protocol.TypeFileRequest, req, call); err != nil {
		return protocol.FileAnswer{}, nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := call.answer.Err(); err != nil {
		return call.answer, nil, fmt.Errorf("%s: %w", what, err)
	}
	return call.answer, call.data, nil
}

// call puts cmd, a command whose request id is id, into the outbox of call's node, and waits
// for its answer (call.done) or for ctx's end. It returns nil once call holds the answer, else
// the error that ended it: ErrClosed, ErrNotConnected, ErrOutboxFull, the one a Remove or
// Close gave the call, or ctx's. Whatever ends it, the command leaves the outbox and a later
// answer finds no call.
func (h *Hub) call(ctx context.Context, id, typ string, cmd any, call *pendingCall) error {
	raw, err := json.Marshal(protocol.Message{Body: cmd})
	if err != nil {
		return err
	}
	h.mu.Lock()
	switch {
	case h.closed:
		err = ErrClosed
	case !h.connectedLocked(call.nodeID):
		err = ErrNotConnected
	default:
		var ok bool
		if call.seq, ok = h.pushLocked(call.nodeID, typ, raw); ok {
			h.calls[id] = call
		} else {
			err = ErrOutboxFull
		}
	}
	h.mu.Unlock()
	if err != nil {
		return err
	}

	select {
	case <-call.done:
	case <-ctx.Done():
	}
	h.mu.Lock()
	if h.calls[id] == call {
		delete(h.calls, id) // given up: a late answer finds no call
	}
	if o, ok := h.nodes[call.nodeID]; ok {
		o.removeLocked(call.seq)
	}
	h.mu.Unlock()
	select {
	case <-call.done: // answered, perhaps just as ctx ended: the answer is as good
	default:
		return ctx.Err()
	}
	return call.err
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

// failCallsLocked ends the waiting Files and Ask calls of nodeID (of every node if nodeID is "") with
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
	call, ok := h.waitingCall(w, r, poolID, nodeID, id, false)
	if !ok {
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
	h.complete(w, id, call, func() { call.answer, call.data = answer, data })
}

// waitingCall finds the call that an upload from node nodeID of pool poolID answers, request
// id id, at the endpoint of Ask calls (ask) or of Files calls. When there is none, or it was
// not sent to that node, or the Hub is closed, it answers the upload (404, 403, 503) and
// returns false.
func (h *Hub) waitingCall(w http.ResponseWriter, r *http.Request, poolID, nodeID, id string, ask bool) (*pendingCall, bool) {
	h.mu.Lock()
	call, closed := h.calls[id], h.closed
	h.mu.Unlock()
	switch {
	case closed:
		httpError(w, http.StatusServiceUnavailable, "server shutting down")
		return nil, false
	case call == nil || call.ask != ask:
		httpError(w, http.StatusNotFound, "no request waits for this answer")
		return nil, false
	case call.poolID != poolID || call.nodeID != nodeID:
		h.log.Warn("agentlink: answer refused: the request was sent to another node", "pool", poolID, "node", nodeID, "remote", r.RemoteAddr)
		httpError(w, http.StatusForbidden, "the request was sent to another node")
		return nil, false
	}
	return call, true
}

// complete hands the answer to call with set, if call still waits for it (204), or answers 409.
func (h *Hub) complete(w http.ResponseWriter, id string, call *pendingCall, set func()) {
	h.mu.Lock()
	first := h.calls[id] == call
	if first {
		set()
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
