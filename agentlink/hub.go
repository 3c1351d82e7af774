// Package agentlink is the server's end of the network link to real node agents: an HTTP
// endpoint that agents poll (Hub) and, inside the actor runtime, one actor per node (Proxy)
// that stands where the agent model stands under the tester, at the id "agent/<node>".
//
// The wire format is package protocol's (SyncRequest, SyncResponse, SyncPath): an agent POSTs
// its reports and receives the commands the service sent to its Proxy, long polling so that
// commands reach it at once and only the agent opens connections. The client is
// agent.Client.
//
// Reports go to the node's session actor with Runtime.Send as the protocol values themselves
// (protocol.Hello, protocol.TaskResult, ...), in the order the agent sent them. Commands wait
// in a per-node outbox until the agent acknowledges them (see package protocol), so a command
// lost with a dropped connection comes again; commands are lost only when the server stops,
// which the agent notices and answers with a Hello the service reconciles.
//
// The package imports only the actor runtime and the protocol, so the program that wires the
// server (cmd/corral) hands the Hub the mapping from a node to its session's actor id:
//
//	hub := agentlink.NewHub(engine, credentials, service.NodeSessionID, agentlink.HubOptions{})
//	mux.Handle(protocol.SyncPath, hub)
//	// for every node, next to its session (in the service host's boot):
//	h.Create(string(service.AgentID(nodeID)), hub.Proxy(nodeID))
//
// # Task files
//
// The server reads the files of a task on a node with Hub.Files: the Hub puts a
// protocol.FileRequest into the node's outbox and waits for the agent to upload the answer to
// protocol.FilesPath, which Hub.FilesHandler serves (mount it there, next to the Hub):
//
//	mux.Handle(protocol.FilesPath, hub.FilesHandler())
//
// The agent reads only inside the task's directory, whatever the path asks. The command is
// delivered at least once, like the others, and its answer is taken once: the first upload
// from the node asked wins, and whatever ends the call (the answer, the caller's context, the
// node's removal) takes the command out of the outbox. Files does not wait for an agent that
// has not been heard from lately (HubOptions.OfflineAfter).
//
// # Node operations
//
// Compute Node - Add, Update and Delete User and Upload Batch Service Logs reach a node's agent
// the same way, with Hub.Ask: a protocol.UserRequest or protocol.UploadLogsRequest goes into the
// outbox, and the agent uploads its protocol.NodeAnswer to protocol.AnswerPath, which
// Hub.AnswersHandler serves:
//
//	mux.Handle(protocol.AnswerPath, hub.AnswersHandler())
//
// These requests carry secrets (a user's password and SSH key, a container's shared access
// signature): they sit in the outbox in memory only, travel in the agent's sync response (TLS
// off loopback), and are never logged, by the Hub or the agent.
//
// # Authentication
//
// Every request carries the node's credential (protocol.AuthorizationHeader), which the Hub
// checks with its Credentials (package nodeauth keeps them as hashes) before it reads the
// body. A credential is good for one node of one pool, and the Hub hands on only reports about
// that node, to that node's session; the session acts only on attempts it placed on the node.
// A file answer is taken only from the node the request went to, under a request id of 128
// random bits.
// Revoking a node's credential refuses its next request. The account key is not involved, and
// neither credentials nor keys are ever logged. Across a network that is not trusted, serve
// the Hub over TLS: a credential read off the network acts as its node until revoked.
package agentlink

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"corral/actor"
	"corral/agent/protocol"
)

// HubOptions configures a Hub. The zero value gives the defaults.
type HubOptions struct {
	// PollTimeout is the longest the Hub holds a long poll that has no command to answer
	// with (an agent may ask for less). Default 20s.
	PollTimeout time.Duration
	// MaxBody is the largest request body accepted; a larger one gets 413. Default 1 MiB.
	MaxBody int64
	// MaxPending is how many unacknowledged commands a node's outbox holds; further commands
	// are dropped (and logged) until the agent catches up. The protocol repeats what matters:
	// a session asks again for an attempt its agent does not run, and acknowledges a result
	// again when the agent repeats it. Default 10,000.
	MaxPending int
	// MaxResponse bounds the encoded commands of one response, in bytes; the rest follow in
	// the next response, which the agent asks for at once. A response holds at least one
	// command if any is waiting. Default 1 MiB.
	MaxResponse int
	// Logger receives the Hub's reports. It never receives keys or tokens. Nil means
	// slog.Default().
	Logger *slog.Logger
	// OfflineAfter is how long after a node's last sync request, when it has no long poll
	// waiting, Files takes the node to be unreachable and fails at once (ErrNotConnected)
	// rather than wait for an answer that cannot come. A connected agent polls again moments
	// after each answer; one silent for longer is gone, or pausing between failed exchanges.
	// Default 20s.
	OfflineAfter time.Duration
	// ProxyID, if set, names the actor that stands for a node's agent: the Hub creates that
	// node's Proxy under it when it first hears from the node, before it passes the node's
	// reports on, so a session that answers a report always has a proxy to answer to (after a
	// server restart too). Nil: whoever wires the Hub creates the proxies.
	ProxyID func(nodeID string) actor.ID
}

func (o HubOptions) withDefaults() HubOptions {
	if o.PollTimeout <= 0 {
		o.PollTimeout = 20 * time.Second
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 1 << 20
	}
	if o.MaxPending <= 0 {
		o.MaxPending = 10000
	}
	if o.MaxResponse <= 0 {
		o.MaxResponse = 1 << 20
	}
	if o.OfflineAfter <= 0 {
		o.OfflineAfter = 20 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Hub is the sync endpoint agents poll, and the outboxes of commands waiting for them. It is
// an http.Handler, meant to be mounted at protocol.SyncPath; it is safe for concurrent use.
type Hub struct {
	rt      actor.Runtime
	creds   Credentials
	session func(poolID, nodeID string) actor.ID
	opts    HubOptions
	log     *slog.Logger
	epoch   string

	mu      sync.Mutex
	closed  bool
	seq     uint64                  // the last sequence number given to a command, of any node
	nodes   map[string]*outbox      // by node id
	proxies map[string]bool         // nodes whose proxy the Hub has created (HubOptions.ProxyID)
	calls   map[string]*pendingCall // Files and Ask calls waiting for their answers, by request id
}

// outbox holds a node's unacknowledged commands and its waiting long poll. Guarded by Hub.mu.
//
// Sequence numbers are the Hub's, not the outbox's, so that a node's outbox made again after
// Remove never numbers a command below what its agent has acknowledged already.
type outbox struct {
	acked   uint64 // every command of the node up to this number is acknowledged
	cmds    []pendingCmd
	waiter  chan struct{} // closed to wake the waiting poll; nil if none waits
	dropped int           // commands dropped since the outbox was last below its cap
	// lastSeen is when the node's last sync request arrived; zero if none did since the
	// outbox was made.
	lastSeen time.Time
}

type pendingCmd struct {
	seq uint64
	raw json.RawMessage
}

// Credentials checks agents' credentials; nodeauth.Registry is one. Check must be safe for
// concurrent use, fast (it runs on every request), and compare in constant time.
type Credentials interface {
	Check(poolID, nodeID, credential string) bool
}

// NewHub returns a Hub that delivers reports through rt, which must be safe for use from any
// goroutine (actor.Engine is), to the actor session(poolID, nodeID) names. creds checks the
// agents' credentials; nil makes the Hub refuse every request.
func NewHub(rt actor.Runtime, creds Credentials, session func(poolID, nodeID string) actor.ID, opts HubOptions) *Hub {
	opts = opts.withDefaults()
	h := &Hub{
		rt:      rt,
		creds:   creds,
		session: session,
		opts:    opts,
		log:     opts.Logger,
		epoch:   newEpoch(),
		nodes:   make(map[string]*outbox),
		calls:   make(map[string]*pendingCall),
	}
	if creds == nil {
		h.log.Error("agentlink: no credentials: every agent request will be refused")
	}
	return h
}

func newEpoch() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported platforms; a clock-based epoch still differs
		// from the previous life's.
		return fmt.Sprintf("t%x", time.Now().UnixNano())
	}
	return hex.EncodeToString(b[:])
}

// Epoch returns the name of this Hub's outbox life, as sent to agents.
func (h *Hub) Epoch() string { return h.epoch }

// Close wakes every waiting long poll, which answers at once, and makes the Hub answer later
// requests with 503, so that an http.Server's Shutdown does not wait for long polls. Agents
// that get 503 retry, and say Hello to whichever server answers next.
func (h *Hub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, o := range h.nodes {
		o.wake()
	}
	h.failCallsLocked("", ErrClosed)
}

// Remove forgets a node: its waiting commands are dropped, its waiting poll answers at once,
// and its waiting Files calls fail with ErrNotConnected. A later command or request for the
// node starts a new outbox.
func (h *Hub) Remove(nodeID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if o, ok := h.nodes[nodeID]; ok {
		o.wake()
		delete(h.nodes, nodeID)
	}
	h.failCallsLocked(nodeID, ErrNotConnected)
}

// Pending returns how many commands wait for a node's agent to acknowledge them.
func (h *Hub) Pending(nodeID string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	if o, ok := h.nodes[nodeID]; ok {
		return len(o.cmds)
	}
	return 0
}

func (o *outbox) wake() {
	if o.waiter != nil {
		close(o.waiter)
		o.waiter = nil
	}
}

// outboxLocked returns the node's outbox, creating it. h.mu must be held.
func (h *Hub) outboxLocked(nodeID string) *outbox {
	o, ok := h.nodes[nodeID]
	if !ok {
		o = &outbox{}
		h.nodes[nodeID] = o
	}
	return o
}

// push adds a command to a node's outbox and wakes its waiting poll. It never blocks for long.
func (h *Hub) push(nodeID string, cmd any) {
	raw, err := json.Marshal(protocol.Message{Body: cmd})
	if err != nil {
		h.log.Error("agentlink: command not encoded", "node", nodeID, "err", err)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pushLocked(nodeID, actor.EventName(cmd), raw)
}

// pushLocked adds an encoded command, named name for the log, to a node's outbox and wakes
// its waiting poll. It returns the command's sequence number, or false if the outbox is full
// and the command was dropped. h.mu must be held.
func (h *Hub) pushLocked(nodeID, name string, raw json.RawMessage) (uint64, bool) {
	o := h.outboxLocked(nodeID)
	if len(o.cmds) >= h.opts.MaxPending {
		o.dropped++
		if o.dropped == 1 || o.dropped%1000 == 0 {
			h.log.Warn("agentlink: outbox full, command dropped", "node", nodeID,
				"pending", len(o.cmds), "dropped", o.dropped, "command", name)
		}
		return 0, false
	}
	h.seq++
	o.cmds = append(o.cmds, pendingCmd{seq: h.seq, raw: raw})
	o.wake()
	return h.seq, true
}

// ackLocked drops the commands up to seq; last is the Hub's last sequence number. h.mu must
// be held.
func (o *outbox) ackLocked(seq, last uint64) {
	seq = min(seq, last)
	if seq <= o.acked {
		return
	}
	o.acked = seq
	i := 0
	for i < len(o.cmds) && o.cmds[i].seq <= seq {
		i++
	}
	o.cmds = append(o.cmds[:0:0], o.cmds[i:]...)
	if len(o.cmds) == 0 {
		o.dropped = 0
	}
}

// httpError writes a short plain-text error.
func httpError(w http.ResponseWriter, code int, msg string) {
	http.Error(w, msg, code)
}

// ServeHTTP handles a sync request: it checks the credential, hands the reports to the node's
// session, waits for commands if asked to, and answers with the commands waiting.
//
// Errors: 405 for a method other than POST, 401 for a missing or wrong credential, 413 for a
// body over MaxBody, 400 for a body that is not a SyncRequest (or names another node, or
// carries a command), 404 if the node has no session, 503 once the Hub is closed. Reports are
// handed on only when the whole request is valid.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	poolID, nodeID, ok := h.acceptPost(w, r)
	if !ok {
		return
	}
	var req protocol.SyncRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, h.opts.MaxBody))
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", h.opts.MaxBody))
			return
		}
		httpError(w, http.StatusBadRequest, "bad sync request: "+err.Error())
		return
	}
	if (req.NodeID != "" && req.NodeID != nodeID) || (req.PoolID != "" && req.PoolID != poolID) {
		h.log.Warn("agentlink: request refused: the body names another node than the credential", "pool", poolID, "node", nodeID, "remote", r.RemoteAddr)
		httpError(w, http.StatusBadRequest, "the body names another node than the credential")
		return
	}
	reports, err := checkReports(nodeID, req.Reports)
	if err != nil {
		h.log.Warn("agentlink: reports refused", "pool", poolID, "node", nodeID, "remote", r.RemoteAddr, "err", err)
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}

	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		httpError(w, http.StatusServiceUnavailable, "server shutting down")
		return
	}
	o := h.outboxLocked(nodeID)
	o.lastSeen = time.Now()
	if req.Epoch == h.epoch {
		o.ackLocked(req.Ack, h.seq)
	}
	newProxy := h.opts.ProxyID != nil && !h.proxies[nodeID]
	if newProxy {
		if h.proxies == nil {
			h.proxies = map[string]bool{}
		}
		h.proxies[nodeID] = true
	}
	h.mu.Unlock()

	if newProxy {
		// An error means the proxy exists already (someone else created it): nothing to do.
		_, _ = h.rt.Create(string(h.opts.ProxyID(nodeID)), h.Proxy(nodeID))
	}
	if len(reports) > 0 {
		to := h.session(poolID, nodeID)
		for _, ev := range reports {
			if err := h.rt.Send(to, ev); err != nil {
				h.log.Warn("agentlink: report not delivered", "pool", poolID, "node", nodeID, "err", err)
				httpError(w, http.StatusNotFound, "no session for this node")
				return
			}
		}
	}

	wait := time.Duration(req.WaitMillis) * time.Millisecond
	if wait > h.opts.PollTimeout {
		wait = h.opts.PollTimeout
	}
	if req.Epoch != "" && req.Epoch != h.epoch {
		wait = 0 // the agent last talked to another life of the server: tell it at once
	}
	resp := h.await(r, nodeID, wait)

	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err := json.NewEncoder(w).Encode(resp); err != nil {
		h.log.Debug("agentlink: response not written", "node", nodeID, "err", err)
	}
}

// acceptPost checks that the request is a POST with a node's credential, and answers it 405
// or 401 if not.
func (h *Hub) acceptPost(w http.ResponseWriter, r *http.Request) (poolID, nodeID string, ok bool) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		httpError(w, http.StatusMethodNotAllowed, "method not allowed: use POST")
		return "", "", false
	}
	poolID, nodeID, ok = h.authenticate(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", protocol.AuthScheme)
		httpError(w, http.StatusUnauthorized, "missing or invalid node credential")
	}
	return poolID, nodeID, ok
}

// authenticate checks the request's credential.
func (h *Hub) authenticate(r *http.Request) (poolID, nodeID string, ok bool) {
	if h.creds == nil {
		return "", "", false
	}
	poolID, nodeID, token, err := protocol.ParseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return "", "", false
	}
	if !h.creds.Check(poolID, nodeID, token) {
		h.log.Warn("agentlink: wrong node credential", "pool", poolID, "node", nodeID, "remote", r.RemoteAddr)
		return "", "", false
	}
	return poolID, nodeID, true
}

// checkReports returns the reports' values, with their node ids filled in, or an error if one
// is not a report or names another node. Messages of unknown types are skipped.
func checkReports(nodeID string, msgs []protocol.Message) ([]any, error) {
	out := make([]any, 0, len(msgs))
	for i, m := range msgs {
		var err error
		own := func(claimed *string) {
			if *claimed == "" {
				*claimed = nodeID
			} else if *claimed != nodeID {
				err = fmt.Errorf("report %d (%s) is about node %q, not %q", i, m.Type, *claimed, nodeID)
			}
		}
		var ev any
		switch v := m.Body.(type) {
		case nil:
			continue // a type this server does not know, from a newer agent
		case protocol.Hello:
			own(&v.NodeID)
			ev = v
		case protocol.Heartbeat:
			own(&v.NodeID)
			ev = v
		case protocol.TaskStarted:
			own(&v.NodeID)
			ev = v
		case protocol.TaskResult:
			own(&v.NodeID)
			ev = v
		default:
			return nil, fmt.Errorf("report %d is a %s, which agents do not send", i, m.Type)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

// syncResponse is protocol.SyncResponse with its commands already encoded.
type syncResponse struct {
	Epoch    string            `json:"epoch"`
	Seq      uint64            `json:"seq"`
	Commands []json.RawMessage `json:"commands"`
}

// await waits up to wait for the node to have a command, the poll to be superseded, the Hub to
// close or the client to go away, and returns what is waiting.
func (h *Hub) await(r *http.Request, nodeID string, wait time.Duration) syncResponse {
	h.mu.Lock()
	o := h.outboxLocked(nodeID)
	if len(o.cmds) == 0 && wait > 0 && !h.closed {
		// At most one poll waits per node: a newer one (the agent gave the old one up)
		// supersedes it, and the old one answers at once.
		o.wake()
		mine := make(chan struct{})
		o.waiter = mine
		h.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-mine:
		case <-t.C:
		case <-r.Context().Done():
		}
		t.Stop()
		h.mu.Lock()
		if o.waiter == mine {
			o.waiter = nil
		}
		// The node may have been removed meanwhile: answer from its current outbox.
		o = h.outboxLocked(nodeID)
	}
	defer h.mu.Unlock()
	resp := syncResponse{Epoch: h.epoch, Seq: o.acked, Commands: []json.RawMessage{}}
	size := 0
	for _, c := range o.cmds {
		if len(resp.Commands) > 0 && size+len(c.raw) > h.opts.MaxResponse {
			break
		}
		resp.Commands = append(resp.Commands, c.raw)
		size += len(c.raw)
		resp.Seq = c.seq
	}
	return resp
}
