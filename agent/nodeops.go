package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"corral/agent/protocol"
)

// answerUser carries out a UserRequest with the Client's NodeUsers. Only the user's name and
// the operation reach the log; a failure's message is NodeUsers' error, which never holds the
// password or the key.
func (c *Client) answerUser(ctx context.Context, req protocol.UserRequest) protocol.NodeAnswer {
	a := protocol.NodeAnswer{RequestID: req.RequestID}
	ctx, cancel := context.WithTimeout(ctx, nodeOpTimeout)
	defer cancel()
	u := NodeUser{Name: req.Name, IsAdmin: req.IsAdmin, Expiry: req.Expiry, Password: req.Password, SSHPublicKey: req.SSHPublicKey}
	var err error
	switch req.Op {
	case protocol.UserOpAdd:
		err = c.users.Add(ctx, u)
	case protocol.UserOpUpdate:
		err = c.users.Update(ctx, u)
	case protocol.UserOpDelete:
		err = c.users.Delete(ctx, req.Name)
	default:
		a.Error, a.Message = protocol.AnswerErrInvalidRequest, fmt.Sprintf("unknown user operation %q", req.Op)
		return a
	}
	if err != nil {
		a.Error, a.Message = userErrorCode(err), err.Error()
		c.log.Warn("agent: node user not changed", "op", req.Op, "user", req.Name, "err", err)
		return a
	}
	c.log.Info("agent: node user changed", "op", req.Op, "user", req.Name, "admin", req.IsAdmin)
	return a
}

// userErrorCode maps NodeUsers' errors to the protocol's codes.
func userErrorCode(err error) string {
	switch {
	case errors.Is(err, ErrNodeUserExists):
		return protocol.AnswerErrUserExists
	case errors.Is(err, ErrNodeUserNotFound):
		return protocol.AnswerErrUserNotFound
	case errors.Is(err, ErrInvalidNodeUser):
		return protocol.AnswerErrInvalid
	case errors.Is(err, ErrNodeUsersUnsupported):
		return protocol.AnswerErrUnsupported
	}
	return protocol.AnswerErrFailed
}

// answerUploadLogs carries out an UploadLogsRequest: it uploads the agent's log files.
func (c *Client) answerUploadLogs(ctx context.Context, req protocol.UploadLogsRequest) protocol.NodeAnswer {
	a := uploadLogs(ctx, c.logDir, req)
	if a.Error != "" {
		c.log.Warn("agent: service logs not uploaded", "request", req, "error", a.Error, "status", a.Status, "msg", a.Message)
	} else {
		c.log.Info("agent: service logs uploaded", "request", req, "files", a.FilesUploaded)
	}
	return a
}

// uploadNodeAnswer POSTs an answer to the server's protocol.AnswerPath, once: if it is lost,
// the server's caller gives up.
func (c *Client) uploadNodeAnswer(ctx context.Context, a protocol.NodeAnswer) {
	body, err := json.Marshal(a)
	if err != nil {
		c.log.Error("agent: answer not encoded", "err", err)
		return
	}
	u := c.answersURL + "?" + protocol.RequestIDParam + "=" + url.QueryEscape(a.RequestID)
	c.postAnswer(ctx, "answer", u, "application/json", bytes.NewReader(body))
}
