package rest

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"corral/api"
)

// LogUpload is what Compute Node - Upload Batch Service Logs asks of a node: to upload its
// agent's log files that may hold a message written between StartTime and EndTime (zero: no
// end) to the container at ContainerURL (a secret: its query string is a shared access
// signature), as blobs under the virtual directory Directory.
type LogUpload struct {
	ContainerURL string
	Directory    string
	StartTime    time.Time
	EndTime      time.Time
}

// NodeLogs uploads the logs of nodes' agents. UploadLogs returns how many files it uploaded.
// Its errors wrap ErrLogsUnavailable, ErrLogsRefused or ErrLogsStorage, or are internal; none
// holds the container URL's query string.
type NodeLogs interface {
	UploadLogs(ctx context.Context, poolID, nodeID string, u LogUpload) (int, error)
}

// Errors of NodeLogs.
var (
	// ErrLogsUnavailable: the node's agent is not connected, so it cannot upload: 409
	// OperationInvalidForCurrentState; the error's text says why.
	ErrLogsUnavailable = errors.New("the node's agent cannot be reached")
	// ErrLogsRefused: Azure Storage refused the upload (a 4xx status: a SAS that does not
	// allow writing, or has expired; a container that does not exist): 400
	// InvalidPropertyValue naming containerUrl, with the storage service's status and code.
	ErrLogsRefused = errors.New("Azure Storage refused the upload")
	// ErrLogsStorage: the upload failed otherwise (no answer from Azure Storage, or a 5xx):
	// 500 InternalError, with the reason.
	ErrLogsStorage = errors.New("the upload to Azure Storage failed")
)

// uploadLogsParameter is Azure's UploadBatchServiceLogsConfiguration, the body of Compute Node -
// Upload Batch Service Logs.
type uploadLogsParameter struct {
	ContainerURL      *string         `json:"containerUrl"`
	StartTime         *time.Time      `json:"startTime"`
	EndTime           *time.Time      `json:"endTime"`
	IdentityReference json.RawMessage `json:"identityReference"`
}

// uploadLogsResult is Azure's UploadBatchServiceLogsResult.
type uploadLogsResult struct {
	VirtualDirectoryName  string `json:"virtualDirectoryName"`
	NumberOfFilesUploaded int    `json:"numberOfFilesUploaded"`
}

const uploadLogsResultMetadata = "Microsoft.Azure.Batch.Protocol.Entities.UploadBatchServiceLogsResult"

// uploadNodeLogs is Compute Node - Upload Batch Service Logs: POST
// /pools/{poolId}/nodes/{nodeId}/uploadbatchservicelogs → 200 with virtualDirectoryName and
// numberOfFilesUploaded. Azure's node agent uploads its own logs; Corral's node agent uploads
// its own: the rotating log it keeps in its root directory (see package agent), every file of
// it that may hold a message of the time range. The virtual directory is
// "{poolId}/{nodeId}/{a new GUID}/", a fresh one per request.
//
// Where Corral differs from Azure, which answers at once and uploads afterwards: Corral answers
// once the files are uploaded, so numberOfFilesUploaded counts what is in the container, and a
// failed upload is the answer's error (Azure Storage's refusal is 400 InvalidPropertyValue
// naming containerUrl; no answer from the node's agent, 409 OperationInvalidForCurrentState).
// identityReference (a user-assigned managed identity of Azure's) is refused with 400
// UnsupportedProperty: Corral's nodes have no Azure identities, so the URL must carry a SAS
// (or name a public container). The container URL is never logged nor echoed in an answer.
func (s *Server) uploadNodeLogs(c *call) *api.Error {
	poolID, n, e := s.pathNode(c)
	if e != nil {
		return e
	}
	var p uploadLogsParameter
	if e := c.decode(&p, api.RequestModel{}); e != nil {
		return e
	}
	if given(p.IdentityReference) {
		return unsupportedProperty("identityReference", "Corral's nodes have no Azure managed identities: give containerUrl a shared access signature that allows writing")
	}
	if p.ContainerURL == nil || *p.ContainerURL == "" {
		return api.MissingProperty("containerUrl")
	}
	if reason := checkContainerURL(*p.ContainerURL); reason != "" {
		return api.InvalidProperty("containerUrl", redactedURL(*p.ContainerURL), reason)
	}
	if p.StartTime == nil || p.StartTime.IsZero() {
		return api.MissingProperty("startTime")
	}
	u := LogUpload{ContainerURL: *p.ContainerURL, StartTime: *p.StartTime}
	if p.EndTime != nil {
		if p.EndTime.Before(*p.StartTime) {
			return api.InvalidProperty("endTime", p.EndTime.Format(time.RFC3339Nano), "endTime is before startTime")
		}
		u.EndTime = *p.EndTime
	}
	u.Directory = poolID + "/" + n.ID + "/" + api.NewRequestID() + "/"
	count, err := s.logs.UploadLogs(c.ctx, poolID, n.ID, u)
	switch {
	case err == nil:
	case errors.Is(err, ErrLogsUnavailable):
		return api.NewError(api.CodeOperationInvalidForCurrentState, api.ErrorValue{Key: "Reason", Value: err.Error()})
	case errors.Is(err, ErrLogsRefused):
		return api.InvalidProperty("containerUrl", redactedURL(u.ContainerURL), err.Error())
	case errors.Is(err, ErrLogsStorage):
		return api.NewError(api.CodeInternalError, api.ErrorValue{Key: "Reason", Value: err.Error()})
	case c.r.Context().Err() != nil:
		return errGone
	case errors.Is(err, context.DeadlineExceeded):
		return api.NewError(api.CodeOperationTimedOut)
	default:
		return c.internal("upload batch service logs", err)
	}
	b, err := withMetadata(c.base+"/$metadata#"+uploadLogsResultMetadata, uploadLogsResult{VirtualDirectoryName: u.Directory, NumberOfFilesUploaded: count})
	if err != nil {
		return c.internal("encode UploadBatchServiceLogsResult", err)
	}
	if err := api.WriteJSON(c.w, c.r, http.StatusOK, json.RawMessage(b), c.id); err != nil {
		c.s.log.Debug("rest: write UploadBatchServiceLogsResult", "request-id", c.id, "err", err)
	}
	return nil
}

// checkContainerURL returns why u cannot be a container's URL, or "".
func checkContainerURL(u string) string {
	p, err := url.Parse(u)
	switch {
	case err != nil:
		return "not a URL"
	case p.Scheme != "http" && p.Scheme != "https":
		return "not an http or https URL"
	case p.Host == "":
		return "the URL has no host"
	case strings.Trim(p.Path, "/") == "":
		return "the URL names no container"
	case p.User != nil:
		return "the URL has user information"
	}
	return ""
}

// redactedURL is u without its query string (a shared access signature), for answers.
func redactedURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "<not a URL>"
	}
	p.RawQuery, p.Fragment, p.RawFragment, p.User = "", "", "", nil
	return p.String()
}

// logsRoutes is the path of Upload Batch Service Logs: 501 NotImplemented without NodeLogs.
func (s *Server) logsRoutes() []route {
	const path = "/pools/{poolId}/nodes/{nodeId}/uploadbatchservicelogs"
	if s.logs == nil {
		return []route{{path, nil, []string{http.MethodPost}}}
	}
	return []route{{path, map[string]handlerFunc{http.MethodPost: s.uploadNodeLogs}, nil}}
}
