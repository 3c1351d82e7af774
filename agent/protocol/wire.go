package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// The wire format between a real agent and the server.
//
// The agent always opens the connection (so it works from behind NAT, with one TCP direction):
// it POSTs a SyncRequest as JSON to SyncPath on the server, carrying its reports, and the
// server answers with a SyncResponse carrying the commands waiting for the node. A request
// with WaitMillis > 0 is a long poll: the server holds it until it has a command for the node,
// WaitMillis pass (capped by the server), or the agent goes away.
//
// Commands are delivered at least once while the server runs: the server numbers them and
// keeps each one until the agent acknowledges it, by sending back in a later request the Epoch
// and Seq of the last response it acted on. Every response carries all the unacknowledged
// commands (up to a size limit), so one lost in a dropped or cancelled response comes again in
// the next; the protocol's idempotence makes the repeats harmless. The epoch names one life of
// the server's outbox: acknowledgements for another epoch are ignored, and a response from a
// new epoch tells the agent the server restarted, so it says Hello again.
//
// Every request is authenticated by its Authorization header (see AuthorizationHeader).

// SyncPath is the path of the sync endpoint on the server.
const SyncPath = "/corral/agent/v1/sync"

// AuthScheme is the scheme of the Authorization header of agent requests.
const AuthScheme = "CorralNode"

// SyncRequest is the body of a sync request from an agent.
type SyncRequest struct {
	// NodeID and PoolID name the node; if set, they must be those of the Authorization header.
	NodeID string `json:"nodeId"`
	PoolID string `json:"poolId"`
	// Epoch and Ack acknowledge every command up to sequence number Ack of the server epoch
	// Epoch: those of the last response the agent received and acted on. Empty and 0 at first.
	Epoch string `json:"epoch,omitempty"`
	Ack   uint64 `json:"ack,omitempty"`
	// WaitMillis is how long, in milliseconds, the server may hold the request when it has no
	// command for the node (capped by the server's own limit); 0 asks for an answer at once.
	WaitMillis int64 `json:"waitMs,omitempty"`
	// Reports are Hello, Heartbeat, TaskStarted and TaskResult values, in the order they
	// happened; the server hands them on in this order.
	Reports []Message `json:"reports"`
}

// SyncResponse is the body of the server's answer to a sync request.
type SyncResponse struct {
	// Epoch names the life of the server's outbox that numbered the commands.
	Epoch string `json:"epoch"`
	// Seq is the sequence number of the last command in Commands or, when there is none, of
	// the last command the server knows to be acknowledged. The agent sends Epoch and Seq back
	// as its acknowledgement.
	Seq uint64 `json:"seq"`
	// Commands are StartTask, KillTask, ResultAck, FileRequest, RestartNode, UserRequest and
	// UploadLogsRequest values, oldest first.
	Commands []Message `json:"commands"`
}

// Message type names, the "type" member of a Message's JSON object.
const (
	TypeHello       = "hello"
	TypeHeartbeat   = "heartbeat"
	TypeTaskStarted = "taskStarted"
	TypeTaskResult  = "taskResult"
	TypeStartTask   = "startTask"
	TypeKillTask    = "killTask"
	TypeResultAck   = "resultAck"
	TypeFileRequest = "fileRequest"
	TypeRestartNode = "restartNode"
	TypeUserRequest = "userRequest"
	TypeUploadLogs  = "uploadLogs"
)

// Message is one report or command on the wire: a JSON object with the members of the
// protocol value plus "type", e.g. {"type":"killTask","attemptId":"a1"}.
//
// Body is a value (not a pointer) of one of the protocol's message types. Decoding a message
// of a type this version does not know is not an error: Body is nil and Type holds the name,
// so that a newer peer can add messages.
type Message struct {
	Type string // set by decoding; encoding takes the type from Body
	Body any
}

// MessageType returns the wire type name of a protocol message value, or false if v is not
// one.
func MessageType(v any) (string, bool) {
	switch v.(type) {
	case Hello:
		return TypeHello, true
	case Heartbeat:
		return TypeHeartbeat, true
	case TaskStarted:
		return TypeTaskStarted, true
	case TaskResult:
		return TypeTaskResult, true
	case StartTask:
		return TypeStartTask, true
	case KillTask:
		return TypeKillTask, true
	case ResultAck:
		return TypeResultAck, true
	case FileRequest:
		return TypeFileRequest, true
	case RestartNode:
		return TypeRestartNode, true
	case UserRequest:
		return TypeUserRequest, true
	case UploadLogsRequest:
		return TypeUploadLogs, true
	}
	return "", false
}

// IsReport reports whether v is a message that agents send (Hello, Heartbeat, TaskStarted,
// TaskResult).
func IsReport(v any) bool {
	switch v.(type) {
	case Hello, Heartbeat, TaskStarted, TaskResult:
		return true
	}
	return false
}

// IsCommand reports whether v is a message that the server sends (StartTask, KillTask,
// ResultAck, FileRequest, RestartNode, UserRequest, UploadLogsRequest).
func IsCommand(v any) bool {
	switch v.(type) {
	case StartTask, KillTask, ResultAck, FileRequest, RestartNode, UserRequest, UploadLogsRequest:
		return true
	}
	return false
}

// MarshalJSON encodes the message as its body's JSON object with a "type" member first.
func (m Message) MarshalJSON() ([]byte, error) {
	typ, ok := MessageType(m.Body)
	if !ok {
		return nil, fmt.Errorf("protocol: %T is not a protocol message", m.Body)
	}
	body, err := json.Marshal(m.Body)
	if err != nil {
		return nil, fmt.Errorf("protocol: encoding %s: %w", typ, err)
	}
	if len(body) < 2 || body[0] != '{' {
		return nil, fmt.Errorf("protocol: %s does not encode as a JSON object", typ)
	}
	var b bytes.Buffer
	b.Grow(len(body) + len(typ) + 10)
	b.WriteString(`{"type":`)
	tb, _ := json.Marshal(typ)
	b.Write(tb)
	if rest := bytes.TrimSpace(body[1:]); len(rest) > 0 && rest[0] != '}' {
		b.WriteByte(',')
	}
	b.Write(body[1:])
	return b.Bytes(), nil
}

// UnmarshalJSON decodes a message; see Message for unknown types.
func (m *Message) UnmarshalJSON(data []byte) error {
	var head struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return fmt.Errorf("protocol: decoding message: %w", err)
	}
	if head.Type == nil || *head.Type == "" {
		return errors.New(`protocol: decoding message: no "type"`)
	}
	m.Type, m.Body = *head.Type, nil
	var err error
	switch m.Type {
	case TypeHello:
		m.Body, err = decodeAs[Hello](data)
	case TypeHeartbeat:
		m.Body, err = decodeAs[Heartbeat](data)
	case TypeTaskStarted:
		m.Body, err = decodeAs[TaskStarted](data)
	case TypeTaskResult:
		m.Body, err = decodeAs[TaskResult](data)
	case TypeStartTask:
		m.Body, err = decodeAs[StartTask](data)
	case TypeKillTask:
		m.Body, err = decodeAs[KillTask](data)
	case TypeResultAck:
		m.Body, err = decodeAs[ResultAck](data)
	case TypeFileRequest:
		m.Body, err = decodeAs[FileRequest](data)
	case TypeRestartNode:
		m.Body, err = decodeAs[RestartNode](data)
	case TypeUserRequest:
		m.Body, err = decodeAs[UserRequest](data)
	case TypeUploadLogs:
		m.Body, err = decodeAs[UploadLogsRequest](data)
	}
	if err != nil {
		m.Body = nil
		return fmt.Errorf("protocol: decoding %s: %w", m.Type, err)
	}
	return nil
}

func decodeAs[T any](data []byte) (T, error) {
	var v T
	err := json.Unmarshal(data, &v)
	return v, err
}

// AuthorizationHeader returns the Authorization header of an agent's requests:
//
//	CorralNode <poolId>/<nodeId>:<credential>
//
// where credential is the node's own secret, issued by the server (package nodeauth) when the
// node was created or joined. The pool id comes first so that the server can check the
// credential before it reads the request body; pool ids cannot contain '/' (Azure Batch's id
// rule), and credentials, in base64url, cannot contain ':'.
func AuthorizationHeader(poolID, nodeID, credential string) string {
	return AuthScheme + " " + poolID + "/" + nodeID + ":" + credential
}

// ParseAuthorization splits an Authorization header made by AuthorizationHeader. It checks
// the form only, not the token.
func ParseAuthorization(header string) (poolID, nodeID, token string, err error) {
	rest, ok := strings.CutPrefix(header, AuthScheme+" ")
	if !ok {
		return "", "", "", fmt.Errorf("protocol: authorization scheme is not %s", AuthScheme)
	}
	return splitCredential(rest)
}

// splitCredential splits "<poolId>/<id>:<credential>": the credential is after the last ':',
// the pool before the first '/'.
func splitCredential(rest string) (poolID, id, credential string, err error) {
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return "", "", "", errors.New("protocol: authorization has no token")
	}
	ids, credential := rest[:i], rest[i+1:]
	poolID, id, ok := strings.Cut(ids, "/")
	if !ok || poolID == "" || id == "" || credential == "" {
		return "", "", "", errors.New("protocol: authorization is not <poolId>/<id>:<token>")
	}
	return poolID, id, credential, nil
}
