package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"corral/agent/protocol"
)

// ErrNoServer is wrapped by the error Client.Run returns when no server answered for
// ClientConfig.GiveUpAfter.
var ErrNoServer = errors.New("no server answered")

// ErrRevoked is wrapped by the error Client.Run returns when the server refused the node's
// credential revokedAfter times in a row: the node was deleted (removed from its pool, or its
// pool deleted), or its credential revoked. The agent's tasks are killed, as when Run gives up.
var ErrRevoked = errors.New("the server refused the node's credential")

// revokedAfter is how many refusals in a row (401) end Run: more than one, so that a single
// refusal by a server that is still starting does not end a node.
const revokedAfter = 3

// codeInvalidTaskRequest is the failure code of the result an agent reports for a StartTask it
// can never run (an invalid job, task or attempt id, environment setting or wall-clock limit).
// Azure Batch has no such code: its API rejects such tasks before they reach a node.
const codeInvalidTaskRequest = "InvalidTaskRequest"

// Limits of what a Client sends and accepts in one exchange.
const (
	maxReportsPerRequest = 500
	maxRequestBytes      = 512 << 10 // half of the server's default body limit
	maxHelloFinished     = 100       // more finished results follow the Hello as TaskResults
	maxResponseBytes     = 64 << 20

	// resultWait is how long a request that carries results lets the server hold it for the
	// acknowledgements (and the commands that come with them), which follow as soon as the
	// service has recorded the results; not given up for new reports.
	resultWait = 200 * time.Millisecond
)

// ClientConfig configures a Client.
type ClientConfig struct {
	// ServerURL is the base URL of the server, such as "https://corral.example.com:8443";
	// requests go to ServerURL + protocol.SyncPath. The node's credential travels in every
	// request: use https unless the network between agent and server is trusted.
	ServerURL string
	// NodeID and PoolID name the node; Credential is the node's own secret, issued by the
	// server (protocol.AuthorizationHeader). All required; a pool id may not contain '/'.
	NodeID     string
	PoolID     string
	Credential string
	// Runner configures the Runner the Client creates. Its OnDone must be nil (the Client sets
	// it); NodeID and PoolID default to the Client's and, if set, must equal them.
	Runner Config
	// HeartbeatEvery is the period of heartbeats, each of which also repeats every result the
	// service has not acknowledged yet. Default 5s; the service's node sessions must allow
	// several periods of silence before they give a node up.
	HeartbeatEvery time.Duration
	// PollWait is how long the server may hold a long poll (the server caps it too). Default
	// 20s.
	PollWait time.Duration
	// RequestTimeout bounds one exchange beyond PollWait: connecting, sending, and the server's
	// handling. Default 10s. It is also how long a server that stopped answering without closing
	// the connection (a frozen process) holds the agent before it tries the next replica.
	RequestTimeout time.Duration
	// RetryMin and RetryMax bound the pause after a failed exchange, which doubles from RetryMin
	// up to RetryMax with each failure in a row (with jitter). Defaults 500ms and 15s.
	RetryMin, RetryMax time.Duration
	// GiveUpAfter is how long the Client goes on without a successful exchange before Run gives
	// up and returns; 0 means never. A refusal by the server (401, 404, 503...) is not a
	// successful exchange.
	GiveUpAfter time.Duration
	// HTTPClient sends the requests. Nil means a client of its own with the default transport's
	// settings. Its Timeout, if set, must exceed PollWait.
	HTTPClient *http.Client
	// Logger receives the Client's reports; nil means Runner.Logger, or slog.Default(). It never
	// receives the credential.
	Logger *slog.Logger
	// LogDir is the directory of the agent's own log files (a LogFile's), which an
	// UploadLogsRequest uploads. Empty means LogDir(Runner.Root); a directory without log
	// files uploads none.
	LogDir string
}

// Client is a node agent's link to the server: it runs the tasks the service asks for, with a
// Runner, and reports on them, over HTTP (see package protocol for the wire format).
//
// The agent opens every connection. Run loops: it POSTs the reports it has to
// protocol.SyncPath and executes the commands of the answer, in order, before the next request
// acknowledges them. With nothing urgent to report it long polls: the server holds the request
// until it has a command (PollWait at most); a new report gives the long poll up (the server
// keeps unacknowledged commands, so none is lost) and goes out at once. A request that carries
// results lets the server hold it briefly (resultWait) for their acknowledgements, which come
// with the commands the service sends next, so that one exchange per result usually suffices;
// it is not given up. Requests never overlap, so reports reach the server in the order they
// happened and commands run in the order sent.
//
// A long poll lasts until the next heartbeat is due at most, so heartbeats never cut one
// short; a result does. Over https Go's client speaks HTTP/2 to Go's server, and giving a poll
// up resets one stream; over plain HTTP/1.1 it costs a new connection.
//
// What it reports:
//   - Hello when Run starts, after every failed exchange (the next request starts with one),
//     and when an answer comes from a new life of the server: the attempts running, then every
//     result not yet acknowledged (read from the task directories after the running attempts,
//     so an attempt that ends meanwhile is in one list or both, never in neither);
//   - TaskStarted when an attempt's process has started, with the next request (it is not
//     urgent: it only tells the service the node is alive, and one in a long poll that is given
//     up may be lost);
//   - TaskResult when an attempt ends (the Runner's OnDone), and again with every heartbeat until
//     the service acknowledges it with ResultAck, which marks it in the task's journal;
//   - Heartbeat every HeartbeatEvery.
//
// Hello and Heartbeat also name the latest start task attempt started on the node since its
// files were cleared (protocol.Hello.StartTask), which the service compares with its record to
// tell a node that restarted afresh.
//
// What it does: StartTask starts an attempt (idempotent per attempt id, even across agent
// restarts, because the Runner records every attempt it started), or with NodeStartTask an
// attempt of the pool's start task, in the startup directory; one that requires a start task
// attempt (RequiresStartTask) that is not the node's latest or did not succeed is logged and
// left. The protocol's Labels are not used yet. A StartTask that can never run (an invalid id, environment setting or wall-clock
// limit) is answered with a TaskResult whose Error says why. One that cannot run now (another
// attempt of the task is still running, or the node cannot create the task's files) is logged
// and left: the service asks again when a heartbeat does not list the attempt. KillTask kills an
// attempt; ResultAck marks its result acknowledged. A FileRequest is carried out off the loop,
// by one of a few workers, which read the task's directory through the Runner's Layout (never
// outside it) and POST the answer to protocol.FilesPath with the node's credential; a repeated
// FileRequest is carried out once. RestartNode kills every running attempt and forgets
// its result, deletes the node's task files with Reimage, and goes on as a new incarnation that
// says Hello (see restart.go).
//
// A Client outlives the server: while no server answers, its tasks go on running and it retries
// with back-off; it gives up after GiveUpAfter. When Run returns (its context is done, or it
// gave up), the Client closes its Runner, which kills every running attempt, and forgets those
// attempts' results (it marks them acknowledged): like the attempts of an agent that died, they
// are in neither list of the next Hello, so the service requeues them as lost without counting
// a retry, as Azure Batch requeues the tasks of a node that goes away.
type Client struct {
	cfg         ClientConfig
	url         string
	auth        string // never logged
	http        *http.Client
	log         *slog.Logger
	runner      *Runner
	incarnation string
	started     atomic.Bool
	closeOnce   sync.Once

	wake chan struct{} // a report is waiting; buffered, 1

	filesURL   string        // where answers to FileRequests go
	answersURL string        // where answers to UserRequests and UploadLogsRequests go
	files      *fileRequests // requests waiting for a worker
	users      *NodeUsers    // the machine's accounts of Compute Node - Add User
	logDir     string        // the agent's log files

	mu             sync.Mutex
	slots          nodeSlots                // see slots.go
	queue          []protocol.Message       // reports not sent yet
	restarting     bool                     // a RestartNode is killing every attempt
	lazy           []protocol.Message       // reports that wait for the next request (TaskStarted)
	unacked        map[string]pendingResult // by attempt id
	closing        bool
	shutdownKilled []Result

	// Used by Run's goroutine only.
	needHello bool
	restarted string // the RequestID of the last RestartNode carried out (restartFile)
	epoch     string
	ack       uint64
}

// pendingResult is a result the service has not acknowledged. local marks one the Client made
// up for a StartTask it refused, which has no result in a journal.
type pendingResult struct {
	res   Result
	local bool
}

// NewClient checks the configuration and creates the Client and its Runner (and so the node's
// directories). Call Run, or Close if Run is never called.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.NodeID == "" || cfg.PoolID == "" {
		return nil, errors.New("agent: ClientConfig.NodeID and PoolID are required")
	}
	if strings.Contains(cfg.PoolID, "/") {
		return nil, fmt.Errorf("agent: pool id %q contains '/'", cfg.PoolID)
	}
	if cfg.Credential == "" || strings.ContainsAny(cfg.Credential, ": \t\r\n") {
		return nil, errors.New("agent: ClientConfig.Credential is required, without ':' or spaces")
	}
	u, err := url.Parse(cfg.ServerURL)
	if err != nil {
		return nil, fmt.Errorf("agent: server URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("agent: server URL %q is not an http or https URL", cfg.ServerURL)
	}
	if cfg.Runner.OnDone != nil {
		return nil, errors.New("agent: ClientConfig.Runner.OnDone must be nil: the Client sets it")
	}
	if cfg.Runner.NodeID == "" {
		cfg.Runner.NodeID = cfg.NodeID
	}
	if cfg.Runner.PoolID == "" {
		cfg.Runner.PoolID = cfg.PoolID
	}
	if cfg.Runner.NodeID != cfg.NodeID || cfg.Runner.PoolID != cfg.PoolID {
		return nil, errors.New("agent: ClientConfig.Runner names another node or pool than the Client")
	}
	if cfg.HeartbeatEvery <= 0 {
		cfg.HeartbeatEvery = 5 * time.Second
	}
	if cfg.PollWait <= 0 {
		cfg.PollWait = 20 * time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = 500 * time.Millisecond
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = max(15*time.Second, cfg.RetryMin)
	}
	if cfg.GiveUpAfter < 0 {
		return nil, fmt.Errorf("agent: negative GiveUpAfter %v", cfg.GiveUpAfter)
	}
	c := &Client{
		cfg:         cfg,
		url:         strings.TrimRight(cfg.ServerURL, "/") + protocol.SyncPath,
		filesURL:    strings.TrimRight(cfg.ServerURL, "/") + protocol.FilesPath,
		answersURL:  strings.TrimRight(cfg.ServerURL, "/") + protocol.AnswerPath,
		files:       newFileRequests(),
		auth:        protocol.AuthorizationHeader(cfg.PoolID, cfg.NodeID, cfg.Credential),
		http:        cfg.HTTPClient,
		log:         cfg.Logger,
		incarnation: newIncarnation(),
		wake:        make(chan struct{}, 1),
		unacked:     make(map[string]pendingResult),
		needHello:   true,
	}
	if c.log == nil {
		c.log = cfg.Runner.Logger
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.http == nil {
		c.http = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	rcfg := cfg.Runner
	rcfg.OnDone = c.onDone
	rcfg.OnStarted = func(attemptID string, start time.Time) {
		c.enqueueLazy(protocol.Message{Body: protocol.TaskStarted{NodeID: c.cfg.NodeID, AttemptID: attemptID, StartTime: start}})
	}
	if rcfg.Logger == nil {
		rcfg.Logger = c.log
	}
	c.runner, err = NewRunner(rcfg)
	if err != nil {
		return nil, err
	}
	c.restarted, err = readRestarted(c.runner.Root())
	if err != nil {
		c.runner.Close()
		return nil, err
	}
	c.users = NewNodeUsers(c.runner.Root())
	c.logDir = cfg.LogDir
	if c.logDir == "" {
		c.logDir = LogDir(c.runner.Root())
	}
	return c, nil
}

func newIncarnation() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return fmt.Sprintf("t%x", time.Now().UnixNano())
	}
	return hex.EncodeToString(b[:])
}

// Runner returns the Client's Runner, for access to the node's files.
func (c *Client) Runner() *Runner { return c.runner }

// Incarnation returns the id that this Client's Hello reports carry; it differs for every
// Client, and changes with every RestartNode.
func (c *Client) Incarnation() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.incarnation
}

// Close closes the Client's Runner, killing every running attempt, as Run does when it
// returns. It is for a Client whose Run was never called; calling it more than once, or after
// Run returned, does nothing.
func (c *Client) Close() { c.shutdown() }

// Run talks to the server until ctx is done, when it returns nil, until no exchange has
// succeeded for GiveUpAfter, when it returns an error wrapping ErrNoServer, or until the server
// has refused the node's credential a few times in a row, when it returns an error wrapping
// ErrRevoked. Either way it
// closes the Runner before it returns (see Client). Run may be called once.
func (c *Client) Run(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return errors.New("agent: Client.Run called twice")
	}
	defer c.shutdown()
	fctx, stopFiles := context.WithCancel(ctx)
	filesDone := make(chan struct{})
	go func() {
		defer close(filesDone)
		c.runFileWorkers(fctx)
	}()
	defer func() {
		stopFiles()
		<-filesDone
	}()
	err := c.loop(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (c *Client) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *Client) loop(ctx context.Context) error {
	lastOK := time.Now()
	failures := 0
	refused := 0 // 401s in a row
	pause := c.cfg.RetryMin
	nextBeat := time.Now().Add(c.cfg.HeartbeatEvery)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		beat := !time.Now().Before(nextBeat)
		if beat {
			nextBeat = time.Now().Add(c.cfg.HeartbeatEvery)
		}
		reports, kind := c.take(beat)
		hello := kind == takeHello
		var wait time.Duration
		giveUp := false
		switch kind {
		case takeLazy:
			// A long poll ends by the time the next heartbeat is due, so that heartbeats never
			// cut one short. A new report gives it up.
			wait, giveUp = min(c.cfg.PollWait, time.Until(nextBeat)), true
		case takeResults:
			wait = min(c.cfg.PollWait, resultWait)
		}
		resp, woken, err := c.exchange(ctx, reports, wait, giveUp)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if woken {
				// A long poll given up for new reports: nothing was lost but, perhaps, the
				// TaskStarted reports it carried (see Client).
				continue
			}
			c.needHello = true
			failures++
			if failures == 1 {
				c.log.Warn("agent: exchange with the server failed; retrying", "err", err)
			} else {
				c.log.Debug("agent: exchange with the server failed", "failures", failures, "err", err)
			}
			var se *statusError
			if errors.As(err, &se) && se.code == http.StatusUnauthorized {
				refused++
				if refused >= revokedAfter {
					return fmt.Errorf("agent: %w (%s, node %s of pool %s): it was deleted or revoked",
						ErrRevoked, c.url, c.cfg.NodeID, c.cfg.PoolID)
				}
			} else {
				refused = 0
			}
			since := time.Since(lastOK)
			if c.cfg.GiveUpAfter > 0 && since >= c.cfg.GiveUpAfter {
				return fmt.Errorf("agent: %w at %s for %v (%d attempts; last error: %v)",
					ErrNoServer, c.url, since.Round(time.Millisecond), failures, err)
			}
			d := pause/2 + time.Duration(mrand.Int64N(int64(pause/2)+1))
			pause = min(2*pause, c.cfg.RetryMax)
			if errors.As(err, &se) && se.code == http.StatusServiceUnavailable {
				// A server that answers busy is up: a replica while no leader is known, or a
				// leader waiting for its store. It is asked again soon, not ever later.
				pause = c.cfg.RetryMin
			}
			if c.cfg.GiveUpAfter > 0 {
				d = min(d, c.cfg.GiveUpAfter-since)
			}
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
			continue
		}
		if failures > 0 {
			c.log.Info("agent: connected to the server again", "failedExchanges", failures)
		}
		failures, refused, pause, lastOK = 0, 0, c.cfg.RetryMin, time.Now()
		if resp.Epoch != c.epoch {
			if !hello {
				c.needHello = true // the server restarted since the last Hello
			}
			c.epoch, c.ack = resp.Epoch, 0
		}
		c.execute(resp.Commands)
		c.ack = resp.Seq
	}
}

// What a request carries, which decides how long the server may hold it.
const (
	takeLazy    = iota // nothing, or only reports that need no answer: a long poll
	takeResults        // results (and maybe other reports): wait briefly for their acknowledgements
	takeUrgent         // other reports: answered at once
	takeHello          // a Hello first: answered at once
)

// take returns the next reports to send, encoded, and what they are (takeLazy...); beat asks
// for a heartbeat.
func (c *Client) take(beat bool) (reports []json.RawMessage, kind int) {
	select { // what is queued now is taken now
	case <-c.wake:
	default:
	}
	var front []protocol.Message
	hello := false
	if c.needHello {
		// A Hello says all that the queued reports say.
		c.mu.Lock()
		c.queue, c.lazy = nil, nil
		c.mu.Unlock()
		front, hello, c.needHello = c.hello(), true, false
	}
	var back []protocol.Message
	if beat && !hello {
		back = c.heartbeat()
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if front != nil {
		c.queue = append(front, c.queue...)
	}
	c.queue = append(c.queue, back...)
	kind = takeLazy
	for _, m := range c.queue {
		if _, ok := m.Body.(protocol.TaskResult); ok {
			kind = takeResults
		} else {
			kind = takeUrgent
			break
		}
	}
	if hello {
		kind = takeHello
	}
	// Lazy reports ride along, after the others (a TaskStarted never follows its attempt's
	// TaskResult in a request: the result is reported only once the start was taken).
	c.queue = append(c.queue, c.lazy...)
	c.lazy = nil
	size, n := 0, 0
	for n < len(c.queue) && len(reports) < maxReportsPerRequest {
		raw, err := json.Marshal(c.queue[n])
		if err != nil {
			c.log.Error("agent: report not encoded", "err", err)
			n++
			continue
		}
		if len(reports) > 0 && size+len(raw) > maxRequestBytes {
			break
		}
		reports = append(reports, raw)
		size += len(raw)
		n++
	}
	c.queue = slices.Delete(c.queue, 0, n)
	if len(c.queue) == 0 {
		c.queue = nil
	}
	return reports, kind
}

// enqueue adds a report for the next request and gives up a waiting long poll.
func (c *Client) enqueue(msgs ...protocol.Message) {
	c.mu.Lock()
	c.queue = append(c.queue, msgs...)
	c.mu.Unlock()
	c.signal()
}

// enqueueLazy adds a report that needs no answer and is not urgent: it goes with the next
// request, which may be a long poll.
func (c *Client) enqueueLazy(msg protocol.Message) {
	c.mu.Lock()
	c.lazy = append(c.lazy, msg)
	c.mu.Unlock()
}

// hello builds a Hello, and TaskResults for the finished attempts that do not fit in it.
func (c *Client) hello() []protocol.Message {
	// Running first, then the results: the Runner writes an attempt's result to its task's
	// journal before it leaves Running, so an attempt that ends in between is in both lists,
	// never in neither (which would tell the service it was lost).
	running := c.running()
	pending, err := c.runner.PendingResults()
	if err != nil {
		c.log.Warn("agent: some results could not be read", "err", err)
	}
	c.mu.Lock()
	for _, r := range pending {
		if _, ok := c.unacked[r.AttemptID]; !ok {
			c.unacked[r.AttemptID] = pendingResult{res: r}
		}
	}
	finished := c.unackedLocked()
	inc := c.incarnation
	c.mu.Unlock()
	h := protocol.Hello{NodeID: c.cfg.NodeID, Incarnation: inc, Running: running, Finished: []protocol.TaskResult{},
		StartTask: c.latestStartTask(), Restarted: c.restarted}
	msgs := []protocol.Message{{}}
	for i, r := range finished {
		if i < maxHelloFinished {
			h.Finished = append(h.Finished, r)
		} else {
			msgs = append(msgs, protocol.Message{Body: r})
		}
	}
	msgs[0].Body = h
	return msgs
}

// heartbeat builds a Heartbeat and the TaskResults it repeats.
func (c *Client) heartbeat() []protocol.Message {
	msgs := []protocol.Message{{Body: protocol.Heartbeat{NodeID: c.cfg.NodeID, Running: c.running(),
		Incarnation: c.incarnation, StartTask: c.latestStartTask()}}}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range c.unackedLocked() {
		msgs = append(msgs, protocol.Message{Body: r})
	}
	return msgs
}

// unackedLocked returns the unacknowledged results as the protocol reports them, by attempt
// id. c.mu must be held.
func (c *Client) unackedLocked() []protocol.TaskResult {
	ids := make([]string, 0, len(c.unacked))
	for id := range c.unacked {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]protocol.TaskResult, len(ids))
	for i, id := range ids {
		out[i] = TaskResultOf(c.cfg.NodeID, c.unacked[id].res)
	}
	return out
}

// onDone is the Runner's OnDone.
func (c *Client) onDone(res Result) {
	c.mu.Lock()
	if (c.closing || c.restarting) && res.Killed {
		c.shutdownKilled = append(c.shutdownKilled, res)
		c.mu.Unlock()
		return
	}
	c.unacked[res.AttemptID] = pendingResult{res: res}
	c.mu.Unlock()
	c.enqueue(protocol.Message{Body: TaskResultOf(c.cfg.NodeID, res)})
	c.slotFreed(res.AttemptID)
}

// shutdown closes the Runner and forgets the results of the attempts that closing killed.
func (c *Client) shutdown() {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closing = true
		c.dropHeldLocked()
		c.mu.Unlock()
		c.runner.Close()
		c.forgetKilled()
	})
}

// forgetKilled marks acknowledged the results of the attempts that a shutdown or a restart
// killed (shutdownKilled): like those of an agent that died, they are reported in neither list
// of the next Hello.
func (c *Client) forgetKilled() {
	c.mu.Lock()
	killed := c.shutdownKilled
	c.shutdownKilled = nil
	c.mu.Unlock()
	for _, r := range killed {
		ack := func() error { return c.runner.AckResult(r.JobID, r.TaskID, r.AttemptID) }
		if r.StartTask {
			ack = func() error { return c.runner.AckStartTaskResult(r.AttemptID) }
		}
		if err := ack(); err != nil {
			c.log.Error("agent: result of an attempt killed by a shutdown or restart not forgotten", "attempt", r.AttemptID, "err", err)
		}
	}
}

// syncRequest is protocol.SyncRequest with its reports already encoded.
type syncRequest struct {
	NodeID     string            `json:"nodeId"`
	PoolID     string            `json:"poolId"`
	Epoch      string            `json:"epoch,omitempty"`
	Ack        uint64            `json:"ack,omitempty"`
	WaitMillis int64             `json:"waitMs,omitempty"`
	Reports    []json.RawMessage `json:"reports"`
}

// syncResponse is protocol.SyncResponse with its commands left encoded, so that one the
// Client cannot decode is skipped alone.
type syncResponse struct {
	Epoch    string            `json:"epoch"`
	Seq      uint64            `json:"seq"`
	Commands []json.RawMessage `json:"commands"`
}

// statusError is an answer of the server other than 200.
type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("server answered %d %s: %s", e.code, http.StatusText(e.code), e.body)
}

// exchange sends one sync request, which the server may hold for wait. With giveUp, the request
// is given up, with woken set, when a report is queued.
func (c *Client) exchange(ctx context.Context, reports []json.RawMessage, wait time.Duration, giveUp bool) (_ *syncResponse, woken bool, _ error) {
	if reports == nil {
		reports = []json.RawMessage{}
	}
	body, err := json.Marshal(syncRequest{
		NodeID: c.cfg.NodeID, PoolID: c.cfg.PoolID, Epoch: c.epoch, Ack: c.ack,
		WaitMillis: wait.Milliseconds(), Reports: reports,
	})
	if err != nil {
		return nil, false, fmt.Errorf("agent: encoding sync request: %w", err)
	}
	rctx, cancel := context.WithTimeout(ctx, wait+c.cfg.RequestTimeout)
	defer cancel()
	var wakeUsed atomic.Bool
	if wait > 0 && giveUp {
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			select {
			case <-c.wake:
				wakeUsed.Store(true)
				cancel()
			case <-stop:
			}
		}()
	}
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, false, fmt.Errorf("agent: sync request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", c.auth)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, wakeUsed.Load(), fmt.Errorf("agent: sync with %s: %w", c.url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, wakeUsed.Load(), fmt.Errorf("agent: sync with %s: %w", c.url,
			&statusError{code: resp.StatusCode, body: strings.TrimSpace(string(msg))})
	}
	var sr syncResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(&sr); err != nil {
		return nil, wakeUsed.Load(), fmt.Errorf("agent: sync with %s: decoding the answer: %w", c.url, err)
	}
	if sr.Epoch == "" {
		return nil, wakeUsed.Load(), fmt.Errorf("agent: sync with %s: the answer has no epoch", c.url)
	}
	return &sr, wakeUsed.Load(), nil
}

// execute carries out the commands of an answer, in order.
func (c *Client) execute(cmds []json.RawMessage) {
	for _, raw := range cmds {
		var m protocol.Message
		if err := json.Unmarshal(raw, &m); err != nil {
			c.log.Error("agent: command not decoded; skipped", "err", err)
			continue
		}
		switch v := m.Body.(type) {
		case protocol.StartTask:
			c.start(v)
		case protocol.KillTask:
			c.kill(v)
		case protocol.ResultAck:
			c.ackResult(v.AttemptID)
		case protocol.FileRequest:
			c.queueFileRequest(v)
		case protocol.RestartNode:
			c.restart(v)
		case protocol.UserRequest:
			c.queueNodeOp(v.RequestID, v)
		case protocol.UploadLogsRequest:
			c.queueNodeOp(v.RequestID, v)
		case nil:
			c.log.Warn("agent: command of an unknown type skipped", "type", m.Type)
		default:
			c.log.Warn("agent: a report where a command was expected; skipped", "type", m.Type)
		}
	}
}

// start carries out a StartTask: now, or once the node has slots for it (see nodeSlots).
func (c *Client) start(s protocol.StartTask) {
	if c.admit(s) {
		c.run(s)
	}
}

// run starts an attempt admitted to the node's slots. One that does not run after all (refused,
// already ended, or not startable now) gives its slots back at once.
func (c *Client) run(s protocol.StartTask) {
	if s.NodeSlots > 0 {
		defer func() {
			if !c.runner.Has(s.AttemptID) {
				c.slotFreed(s.AttemptID)
			}
		}()
	}
	spec := TaskSpec{
		JobID: s.JobID, TaskID: s.TaskID, PoolID: s.PoolID, AttemptID: s.AttemptID,
		CommandLine: s.CommandLine, MaxWallClock: s.MaxWallClock, ElevationAdmin: s.ElevationAdmin,
		ResourceFiles: s.ResourceFiles, OutputFiles: s.OutputFiles,
		StartTask: s.NodeStartTask, JobPrepTaskID: s.JobPrepTaskID,
	}
	for _, e := range s.Env {
		spec.Env = append(spec.Env, EnvSetting{Name: e.Name, Value: e.Value})
	}
	if err := checkSpec(spec); err != nil {
		t := now()
		res := Result{JobID: s.JobID, TaskID: s.TaskID, AttemptID: s.AttemptID, StartTask: s.NodeStartTask, StartTime: t, EndTime: t,
			Failure: &Failure{Category: CategoryServerError, Code: codeInvalidTaskRequest,
				Message: "The node agent cannot run this task: " + err.Error()}}
		c.log.Warn("agent: StartTask refused", "attempt", s.AttemptID, "err", err)
		c.mu.Lock()
		c.unacked[s.AttemptID] = pendingResult{res: res, local: true}
		c.mu.Unlock()
		c.enqueue(protocol.Message{Body: TaskResultOf(c.cfg.NodeID, res)})
		return
	}
	if s.RequiresStartTask != "" && !c.startTaskSucceeded(s.RequiresStartTask) {
		// Placed before the service knew that this node restarted afresh: its next report
		// tells, and the service requeues the attempt.
		c.log.Warn("agent: task not started: the start task it requires has not succeeded here",
			"attempt", s.AttemptID, "startTask", s.RequiresStartTask)
		return
	}
	_, wasRunning := c.runner.StartTime(s.AttemptID)
	if err := c.runner.Start(spec); err != nil {
		if errors.Is(err, ErrClosed) {
			return
		}
		// Another attempt of the task still runs, or the node cannot set the task up: the
		// service asks again when a heartbeat does not list the attempt.
		c.log.Error("agent: task not started", "attempt", s.AttemptID, "err", err)
		return
	}
	if wasRunning {
		return
	}
	if t, ok := c.runner.StartTime(s.AttemptID); ok {
		c.enqueueLazy(protocol.Message{Body: protocol.TaskStarted{NodeID: c.cfg.NodeID, AttemptID: s.AttemptID, StartTime: t}})
	}
}

// startTaskSucceeded reports whether the node's latest start task attempt is attemptID and
// succeeded.
func (c *Client) startTaskSucceeded(attemptID string) bool {
	res, ok, err := c.runner.ReadStartTaskResult()
	if err != nil {
		c.log.Error("agent: reading the start task's result", "err", err)
		return false
	}
	return ok && res.AttemptID == attemptID && res.Started && res.ExitCode == 0 && res.Failure == nil && !res.Killed && !res.TimedOut
}

// latestStartTask is the start task attempt a Hello or Heartbeat reports.
func (c *Client) latestStartTask() string {
	id, err := c.runner.LatestStartTaskAttempt()
	if err != nil {
		c.log.Error("agent: reading the start task's attempts", "err", err)
	}
	return id
}

// checkSpec finds what makes a StartTask impossible to run, whatever the node's state.
func checkSpec(spec TaskSpec) error {
	if spec.StartTask {
		if spec.JobID != "" || spec.TaskID != "" {
			return errors.New("a start task names a job or task")
		}
	} else if err := ValidateJobID(spec.JobID); err != nil {
		return err
	} else if err := ValidateID("task", spec.TaskID); err != nil {
		return err
	}
	if err := validateAttemptID(spec.AttemptID); err != nil {
		return err
	}
	if err := validateEnv(spec.Env); err != nil {
		return err
	}
	if spec.MaxWallClock < 0 {
		return fmt.Errorf("negative MaxWallClock %v", spec.MaxWallClock)
	}
	return nil
}

// ackResult carries out a ResultAck.
func (c *Client) ackResult(attemptID string) {
	c.mu.Lock()
	p, ok := c.unacked[attemptID]
	c.mu.Unlock()
	if !ok {
		return // acknowledged already, or never ours
	}
	if !p.local {
		ack := func() error { return c.runner.AckResult(p.res.JobID, p.res.TaskID, attemptID) }
		if p.res.StartTask {
			ack = func() error { return c.runner.AckStartTaskResult(attemptID) }
		}
		if err := ack(); err != nil {
			// Kept: the result is repeated, and the service acknowledges it again.
			c.log.Error("agent: acknowledgement not recorded", "attempt", attemptID, "err", err)
			return
		}
	}
	c.mu.Lock()
	delete(c.unacked, attemptID)
	c.mu.Unlock()
}

// TaskResultOf turns a Runner's Result into the protocol's report of it. A process that could
// not be started has Error set to the failure's code and message ("CommandProgramNotFound: The
// specified command program is not found: ..."), and its exit code means nothing.
func TaskResultOf(nodeID string, r Result) protocol.TaskResult {
	tr := protocol.TaskResult{
		NodeID: nodeID, AttemptID: r.AttemptID, ExitCode: r.ExitCode,
		StartTime: r.StartTime, EndTime: r.EndTime, Killed: r.Killed, TimedOut: r.TimedOut, Usage: r.Usage,
	}
	switch {
	case r.NotStarted:
		tr.NotStarted = true
	case r.Failure != nil:
		tr.Error = r.Failure.Code + ": " + r.Failure.Message
	case !r.Started && !r.Killed:
		tr.Error = "the task's process was not started"
	case r.UploadFailure != nil:
		tr.UploadError = r.UploadFailure.Code + ": " + r.UploadFailure.Message
	}
	return tr
}
