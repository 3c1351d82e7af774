package server

import (
	"context"
	"errors"
	"fmt"

	"corral/agent/protocol"
	"corral/agentlink"
	"corral/api/rest"
)

// nodeLogs is the server's rest.NodeLogs: every node's agent, on this machine (the local
// provider's) or another, uploads its own log files when asked over the agent link
// (agentlink.Hub.Ask with a protocol.UploadLogsRequest). The container URL travels in the
// request only and is never logged.
type nodeLogs struct {
	link askLink
}

var _ rest.NodeLogs = nodeLogs{}

// UploadLogs implements rest.NodeLogs.
func (l nodeLogs) UploadLogs(ctx context.Context, poolID, nodeID string, u rest.LogUpload) (int, error) {
	a, err := l.link.Ask(ctx, poolID, nodeID, protocol.UploadLogsRequest{
		ContainerURL: u.ContainerURL, Directory: u.Directory, StartTime: u.StartTime, EndTime: u.EndTime,
	})
	var ae *protocol.NodeAnswerError
	switch {
	case err == nil:
		return a.FilesUploaded, nil
	case errors.As(err, &ae) && (ae.Code == protocol.AnswerErrInvalid || (ae.Code == protocol.AnswerErrStorage && ae.Status >= 400 && ae.Status < 500)):
		return 0, fmt.Errorf("%w: %s", rest.ErrLogsRefused, ae.Message)
	case errors.As(err, &ae) && ae.Code == protocol.AnswerErrStorage:
		return 0, fmt.Errorf("%w: %s", rest.ErrLogsStorage, ae.Message)
	case errors.Is(err, agentlink.ErrNotConnected), errors.Is(err, agentlink.ErrClosed), errors.Is(err, agentlink.ErrOutboxFull):
		return 0, fmt.Errorf("%w: %w", rest.ErrLogsUnavailable, err)
	}
	return 0, err
}
