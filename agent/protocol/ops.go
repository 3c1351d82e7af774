package protocol

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"time"
)

// Node operations on the wire: Compute Node - Add, Update and Delete User (UserRequest) and
// Upload Batch Service Logs (UploadLogsRequest), for nodes whose agent is not on the server's
// machine. They travel as FileRequests do: the server sends the request as a command (in a
// sync response, at least once), and the agent carries it out and POSTs its answer, a
// NodeAnswer as JSON, to AnswerPath, with the node's credential (AuthorizationHeader) and the
// request's id in the query parameter RequestIDParam. The server takes an answer only from the
// node it asked, and only the first one; an agent carries out a repeated request (the same
// RequestID) once.
//
// The requests carry secrets: a user's password and SSH key, a container URL whose query
// string is a shared access signature. Their LogValue methods leave them out, and neither end
// writes them to a log or into an answer.

// AnswerPath is the path of the endpoint to which agents upload their answers to UserRequests
// and UploadLogsRequests.
const AnswerPath = "/corral/agent/v1/answers"

// RequestIDParam is the query parameter of an upload to AnswerPath that names the request it
// answers.
const RequestIDParam = "requestId"

// MaxNodeAnswer bounds the body of an upload to AnswerPath.
const MaxNodeAnswer = 64 << 10

// User operations, the Op of a UserRequest.
const (
	UserOpAdd    = "add"
	UserOpUpdate = "update"
	UserOpDelete = "delete"
)

// UserRequest asks an agent to add, change or delete an account of its machine (the agent's
// NodeUsers): Compute Node - Add User, Update User and Delete User.
type UserRequest struct {
	// RequestID names the request in the answer's upload: random, chosen by the server.
	RequestID string `json:"requestId"`
	// Op is UserOpAdd, UserOpUpdate or UserOpDelete.
	Op   string `json:"op"`
	Name string `json:"name"`
	// IsAdmin (add only) makes the user a member of the machine's sudo group.
	IsAdmin bool `json:"isAdmin,omitempty"`
	// Expiry (add and update) is when the account stops working.
	Expiry time.Time `json:"expiry,omitzero"`
	// Password and SSHPublicKey (add and update): "" for none. Secrets: never logged.
	Password     string `json:"password,omitempty"`
	SSHPublicKey string `json:"sshPublicKey,omitempty"`
}

// LogValue describes the request for a log without its password and SSH key.
func (r UserRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("requestId", r.RequestID), slog.String("op", r.Op), slog.String("name", r.Name),
		slog.Bool("password", r.Password != ""), slog.Bool("sshPublicKey", r.SSHPublicKey != ""))
}

// UploadLogsRequest asks an agent to upload its own log files to a blob container: Compute Node
// - Upload Batch Service Logs. The agent uploads each of its log files that may hold a message
// written between StartTime and EndTime (see the agent's package documentation) as the block
// blob Directory + the file's name.
type UploadLogsRequest struct {
	RequestID string `json:"requestId"`
	// ContainerURL is the container's URL with a shared access signature that lets the agent
	// write: a secret, never logged.
	ContainerURL string `json:"containerUrl"`
	// Directory is the virtual directory of the blobs, ending in '/'.
	Directory string    `json:"directory"`
	StartTime time.Time `json:"startTime"`
	// EndTime is the end of the range; zero for none (every file written since StartTime).
	EndTime time.Time `json:"endTime,omitzero"`
}

// LogValue describes the request for a log without the container URL's query string.
func (r UploadLogsRequest) LogValue() slog.Value {
	return slog.GroupValue(slog.String("requestId", r.RequestID), slog.String("container", RedactURL(r.ContainerURL)),
		slog.String("directory", r.Directory), slog.Time("startTime", r.StartTime), slog.Time("endTime", r.EndTime))
}

// RedactURL returns u without its query string and fragment (a shared access signature is a
// secret), or "<invalid URL>" if u does not parse.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "<invalid URL>"
	}
	if p.RawQuery != "" || p.ForceQuery {
		p.RawQuery, p.ForceQuery = "<redacted>", false
	}
	p.Fragment, p.RawFragment = "", ""
	p.User = nil
	return p.String()
}

// Error codes of a NodeAnswer.
const (
	// AnswerErrUserExists: the machine has a user of that name already.
	AnswerErrUserExists = "userExists"
	// AnswerErrUserNotFound: the agent added no user of that name.
	AnswerErrUserNotFound = "userNotFound"
	// AnswerErrInvalid: a value the agent cannot act on (a user name, password or key a Linux
	// account cannot have; a container URL that is no URL); Message says which.
	AnswerErrInvalid = "invalid"
	// AnswerErrUnsupported: the agent cannot do this on its machine (it does not run as root,
	// say); Message says why.
	AnswerErrUnsupported = "unsupported"
	// AnswerErrStorage: Azure Storage refused an upload; Status is its HTTP status.
	AnswerErrStorage = "storage"
	// AnswerErrInvalidRequest: the request is malformed (an unknown op).
	AnswerErrInvalidRequest = "invalidRequest"
	// AnswerErrFailed: anything else; Message says what.
	AnswerErrFailed = "failed"
)

// NodeAnswer is an agent's answer to a UserRequest or an UploadLogsRequest: the JSON body of its
// upload to AnswerPath.
type NodeAnswer struct {
	RequestID string `json:"requestId"`
	// Error is empty on success, else one of the AnswerErr codes; Message says more, and never
	// holds a secret of the request.
	Error   string `json:"error,omitempty"`
	Message string `json:"message,omitempty"`
	// Status is the HTTP status of Azure Storage's refusal (AnswerErrStorage).
	Status int `json:"status,omitempty"`
	// FilesUploaded is how many log files an UploadLogsRequest uploaded.
	FilesUploaded int `json:"filesUploaded,omitempty"`
}

// NodeAnswerError is the error of a NodeAnswer whose Error is set.
type NodeAnswerError struct {
	Code    string
	Message string
	Status  int // AnswerErrStorage: the storage service's HTTP status
}

func (e *NodeAnswerError) Error() string {
	if e.Message == "" {
		return "agent answered " + e.Code
	}
	return "agent answered " + e.Code + ": " + e.Message
}

// Err returns the answer's error as a *NodeAnswerError, or nil if it has none.
func (a NodeAnswer) Err() error {
	if a.Error == "" {
		return nil
	}
	return &NodeAnswerError{Code: a.Error, Message: a.Message, Status: a.Status}
}

// ReadNodeAnswer decodes an upload's body, of at most MaxNodeAnswer bytes.
func ReadNodeAnswer(r io.Reader) (NodeAnswer, error) {
	var a NodeAnswer
	dec := json.NewDecoder(io.LimitReader(r, MaxNodeAnswer+1))
	if err := dec.Decode(&a); err != nil {
		return NodeAnswer{}, fmt.Errorf("protocol: decoding node answer: %w", err)
	}
	if dec.More() {
		return NodeAnswer{}, fmt.Errorf("protocol: node answer has data after its JSON object")
	}
	return a, nil
}
