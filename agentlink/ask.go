package agentlink

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"corral/agent/protocol"
)

// Ask sends the agent of node nodeID of pool poolID a node operation, req (a
// protocol.UserRequest or a protocol.UploadLogsRequest, whose RequestID Ask chooses), and waits
// for its answer, or for ctx's end. The request travels and ends as a Files call does (see
// Files): a command in the node's outbox, answered by an upload to protocol.AnswerPath
// (AnswersHandler), taken once and only from the node asked.
//
// Errors: as Files's (ErrNotConnected, ErrOutboxFull, ErrClosed, ctx's), or the agent's error
// as a *protocol.NodeAnswerError, returned with the answer. An error never holds req's secrets.
func (h *Hub) Ask(ctx context.Context, poolID, nodeID string, req any) (protocol.NodeAnswer, error) {
	id, err := newRequestID()
	if err != nil {
		return protocol.NodeAnswer{}, fmt.Errorf("agentlink: request of node %s: %w", nodeID, err)
	}
	var what, typ string
	switch r := req.(type) {
	case protocol.UserRequest:
		what, typ = fmt.Sprintf("agentlink: %s of user %s on node %s", r.Op, r.Name, nodeID), protocol.TypeUserRequest
		r.RequestID = id
		req = r
	case protocol.UploadLogsRequest:
		what, typ = fmt.Sprintf("agentlink: upload of the logs of node %s", nodeID), protocol.TypeUploadLogs
		r.RequestID = id
		req = r
	default:
		return protocol.NodeAnswer{}, fmt.Errorf("agentlink: request of node %s: %T is not a node operation", nodeID, req)
	}
	call := &pendingCall{poolID: poolID, nodeID: nodeID, ask: true, done: make(chan struct{})}
	if err := h.call(ctx, id, typ, req, call); err != nil {
		return protocol.NodeAnswer{}, fmt.Errorf("%s: %w", what, err)
	}
	if err := call.nodeAnswer.Err(); err != nil {
		return call.nodeAnswer, fmt.Errorf("%s: %w", what, err)
	}
	return call.nodeAnswer, nil
}

// AnswersHandler returns the handler of the endpoint to which agents upload their answers to
// Ask's requests; mount it at protocol.AnswerPath. It checks the credential as ServeHTTP does
// and accepts an answer as FilesHandler does: 204 when the answer is taken; 405, 401, 404, 403,
// 409 and 503 as there; 413 for a body over protocol.MaxNodeAnswer, 400 for a body that is not
// a protocol.NodeAnswer to the request.
func (h *Hub) AnswersHandler() http.Handler { return http.HandlerFunc(h.serveAnswers) }

func (h *Hub) serveAnswers(w http.ResponseWriter, r *http.Request) {
	poolID, nodeID, ok := h.acceptPost(w, r)
	if !ok {
		return
	}
	id := r.URL.Query().Get(protocol.RequestIDParam)
	call, ok := h.waitingCall(w, r, poolID, nodeID, id, true)
	if !ok {
		return
	}
	answer, err := protocol.ReadNodeAnswer(http.MaxBytesReader(w, r.Body, protocol.MaxNodeAnswer))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpError(w, http.StatusRequestEntityTooLarge, "answer over the limit")
			return
		}
		h.log.Warn("agentlink: answer refused", "pool", poolID, "node", nodeID, "err", err)
		httpError(w, http.StatusBadRequest, "bad answer: "+err.Error())
		return
	}
	if answer.RequestID != id {
		httpError(w, http.StatusBadRequest, "the answer names another request than the query")
		return
	}
	h.complete(w, id, call, func() { call.nodeAnswer = answer })
}
