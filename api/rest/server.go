package rest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"corral/actor"
	"corral/api"
	"corral/api/bearer"
	"corral/store"
)

// Config is what a Server needs.
type Config struct {
	// Runtime runs the service; the Server creates its bridge actor ([BridgeID]) in it and sends
	// requests to service.AccountID through it.
	Runtime actor.Runtime
	// Store is the service's store, read directly by GET and list requests.
	Store store.Store
	// Account is the Batch account name that requests must be signed for.
	Account string
	// Keys are the account's keys (Azure accounts have a primary and a secondary key); a request
	// signed with any of them is authentic. At least one non-empty key is required.
	Keys [][]byte
	// Bearer verifies bearer tokens ("Authorization: Bearer …", the Azure SDK for Go's only way
	// to authenticate): static tokens and JWTs of a configured issuer. Nil means the server
	// accepts none and answers such a request 401 AuthenticationFailed, saying so; Shared Key
	// works either way.
	Bearer *bearer.Verifier
	// BaseURL is the account URL as clients see it ("https://corral.example:8443", no trailing
	// slash), the base of the url property of entities, of DataServiceId, odata.metadata and
	// odata.nextLink. Empty means the scheme and Host of each request.
	BaseURL string
	// Logger receives failures the client is not told the details of. Nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock (request dates, error bodies). Nil means time.Now.
	Now func() time.Time
	// RequestTimeout bounds how long a request may take, in addition to the request's own
	// timeout parameter (at most 30 seconds, Azure's rule). Zero means api.DefaultTimeout.
	RequestTimeout time.Duration
	// Files reads tasks' files on their nodes, for the task file operations (see files.go). Nil
	// means those operations answer 501 NotImplemented.
	Files FileSource
	// Users manages nodes' user accounts (Compute Node - Add, Update and Delete User). Nil means
	// those operations answer 501 NotImplemented.
	Users NodeUsers
	// Logs uploads nodes' agent logs (Compute Node - Upload Batch Service Logs). Nil means
	// the operation answers 501 NotImplemented.
	Logs NodeLogs
	// Evict takes a node away as a spot eviction would (POST
	// /pools/{poolId}/nodes/{nodeId}/evict, a Corral extension for development and tests). Nil
	// means the operation answers 501 NotImplemented.
	Evict func(poolID, nodeID string) error
	// Joins serves join tokens and the machines that joined pools (Corral's extensions, for
	// the static provider). Nil means those operations answer 501 NotImplemented.
	Joins Joins
	// Reads bounds the read requests (GET and HEAD: the gets and lists; not the file
	// operations, which wait on nodes) served at once, so that a flood of reads cannot take the machine from the work the service runs:
	// a read beyond it is answered 503 ServerBusy with Retry-After (see [Throttle]). Writes are
	// never throttled. The zero value means no bound.
	Reads Throttle
}

// Throttle bounds the read requests a Server serves at once.
type Throttle struct {
	// Limit is how many reads are served at once; 0 means no bound.
	Limit int
	// Queue is how many more may wait for one of them to finish, each at most Wait; a read
	// beyond them, or one that waits longer, is answered 503 ServerBusy with a Retry-After of
	// RetryAfter (0 means one second).
	Queue      int
	Wait       time.Duration
	RetryAfter time.Duration
	// Spacing keeps a place taken after the read it served, for Spacing times as long as that
	// read took (at most half of Wait): each place then serves reads at most 1/(1+Spacing) of
	// the time, however cheap or dear they are, and the rest of the machine's time is the
	// work's. A read's time includes its wait for the CPU, so on a busy machine the pauses grow
	// by themselves. 0 means none.
	Spacing float64
}

// BridgeID is the actor through which a Server receives the service's answers.
const BridgeID actor.ID = "api.bridge"

// Server serves Azure Batch's data-plane REST API. It is an http.Handler, safe for concurrent
// use. See the package documentation for what it serves and where it departs from Azure.
type Server struct {
	rt      actor.Runtime
	st      store.Store
	auth    api.Authenticator
	base    string
	log     *slog.Logger
	now     func() time.Time
	timeout time.Duration
	files   FileSource
	users   NodeUsers
	logs    NodeLogs
	evict   func(poolID, nodeID string) error // nil: not supported
	joins   Joins                             // nil: not supported
	reads   *api.Limiter                      // nil: reads are not bounded
	// readWait is how long a read may wait for a place, retryAfter what a throttled read is told,
	// spacing how long a place rests after a read, in multiples of the read's time.
	readWait, retryAfter time.Duration
	spacing              float64

	// waiting maps the id of each request sent to the service to the buffered channel (capacity
	// 1) its handler waits on.
	waiting sync.Map
	// stopped is closed by Stop: requests waiting for the service answer busy.
	stopped  chan struct{}
	stopOnce sync.Once

	mux *http.ServeMux
}

// Stop tells the Server that the service behind it has stopped (a replica that no longer leads
// halts its service, dropping the requests in its actors' mailboxes): requests waiting for an
// answer, and those sent after, are answered 503 ServerBusy at once, which clients retry, rather
// than 500 OperationTimedOut when their time runs out. A request answered busy may or may not
// have been carried out, as with any 503.
func (s *Server) Stop() {
	s.stopOnce.Do(func() { close(s.stopped) })
}

// New returns a Server for cfg and creates its bridge actor in cfg.Runtime. One runtime holds at
// most one Server's bridge.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Runtime == nil:
		return nil, errors.New("rest: new server: no runtime")
	case cfg.Store == nil:
		return nil, errors.New("rest: new server: no store")
	case cfg.Account == "":
		return nil, errors.New("rest: new server: no account name")
	}
	var keys [][]byte
	for _, k := range cfg.Keys {
		if len(k) > 0 {
			keys = append(keys, append([]byte(nil), k...))
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("rest: new server: no account key")
	}
	s := &Server{
		stopped: make(chan struct{}),
		rt:      cfg.Runtime,
		st:      cfg.Store,
		auth:    api.Authenticator{Account: cfg.Account, Keys: keys, Bearer: cfg.Bearer},
		base:    strings.TrimSuffix(cfg.BaseURL, "/"),
		log:     cfg.Logger,
		now:     cfg.Now,
		timeout: cfg.RequestTimeout,
		files:   cfg.Files,
		users:   cfg.Users,
		logs:    cfg.Logs,
		evict:   cfg.Evict,
		joins:   cfg.Joins,
	}
	if t := cfg.Reads; t.Limit > 0 {
		s.reads = api.NewLimiter(t.Limit, t.Queue)
		s.readWait, s.retryAfter, s.spacing = t.Wait, t.RetryAfter, max(t.Spacing, 0)
		if s.retryAfter <= 0 {
			s.retryAfter = time.Second
		}
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.timeout <= 0 {
		s.timeout = api.DefaultTimeout
	}
	s.routes()
	if _, err := s.rt.Create(string(BridgeID), &bridge{waiting: &s.waiting}); err != nil {
		return nil, fmt.Errorf("rest: new server: create %s: %w", BridgeID, err)
	}
	return s, nil
}

// call is one request being served: what every handler needs besides the request.
type call struct {
	s    *Server
	w    http.ResponseWriter
	r    *http.Request
	id   string          // request-id, also the id of the request sent to the service
	now  time.Time       // when the request arrived
	base string          // account URL
	ctx  context.Context // the request's context, bounded by its time limit
	q    query           // the request's $filter and $select, where the operation takes them
}

type callKey struct{}

// errGone marks a request whose client went away: nothing is written.
var errGone = &api.Error{Status: 499, Code: "ClientClosedRequest"}

// ServeHTTP implements http.Handler: it authenticates the request, checks its api-version, its
// OData options ($filter and $select where the operation takes them, see query.go; 400 for
// the others) and its timeout, and
// hands it to the route's handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &call{s: s, w: w, r: r, id: api.NewRequestID(), now: s.now(), base: s.base}
	if c.base == "" {
		c.base = api.BaseURL(r)
	}
	if s.reads != nil && throttled(r) {
		release, ok := s.admitRead(r.Context())
		if !ok {
			api.WriteThrottled(w, r, c.id, c.now, s.retryAfter)
			return
		}
		defer s.leaveRead(release, time.Now())
	}
	if e, challenge := s.auth.Authenticate(r.Context(), r, c.now); e != nil {
		if challenge != "" {
			w.Header().Set(api.HeaderWWWAuthenticate, challenge)
		}
		c.fail(e)
		return
	}
	if _, e := api.APIVersion(r); e != nil {
		c.fail(e)
		return
	}
	_, pattern := s.mux.Handler(r)
	q, e := parseQuery(r, pattern)
	if e != nil {
		c.fail(e)
		return
	}
	c.q = q
	limit, e := api.Timeout(r)
	if e != nil {
		c.fail(e)
		return
	}
	limit = min(limit, s.timeout)
	ctx, cancel := context.WithTimeout(r.Context(), limit)
	defer cancel()
	c.ctx = ctx
	s.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callKey{}, c)))
}

// throttled reports whether r is a read that Config.Reads bounds: a GET or HEAD served from
// the store. The file operations are not: they wait on a node's agent, not on this machine's
// CPU, and one can take a round trip to a remote node.
func throttled(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	p := r.URL.Path
	return !strings.HasSuffix(p, "/files") && !strings.Contains(p, "/files/")
}

// ReadLoad reports how many read requests are being served and how many wait for a place
// (both 0 when reads are not bounded).
func (s *Server) ReadLoad() (served, waiting int) {
	if s.reads == nil {
		return 0, 0
	}
	return s.reads.Load()
}

// admitRead waits, at most s.readWait, for a place among the reads served at once.
func (s *Server) admitRead(ctx context.Context) (release func(), ok bool) {
	ctx, cancel := context.WithTimeout(ctx, s.readWait)
	defer cancel()
	return s.reads.Acquire(ctx)
}

// leaveRead frees the place of a read that started at start, after the rest that s.spacing
// asks for.
func (s *Server) leaveRead(release func(), start time.Time) {
	// At most half the wait, so that a read that comes after another is done (one client's
	// next page) finds the place free within its wait.
	rest := min(time.Duration(s.spacing*float64(time.Since(start))), s.readWait/2)
	if rest <= 0 {
		release()
		return
	}
	time.AfterFunc(rest, release)
}

// handler adapts a route's function: it finds the request's call, runs fn, and writes the error
// fn returns, if any.
func (s *Server) handler(fn func(c *call) *api.Error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, ok := r.Context().Value(callKey{}).(*call)
		if !ok { // served without ServeHTTP (cannot happen: the mux is private)
			c = &call{s: s, id: api.NewRequestID(), now: s.now(), base: s.base, ctx: r.Context()}
			if c.base == "" {
				c.base = api.BaseURL(r)
			}
		}
		c.w, c.r = w, r
		if e := fn(c); e != nil {
			c.fail(e)
		}
	}
}

// fail writes e as Azure's error response, unless the client has gone.
func (c *call) fail(e *api.Error) {
	if e == errGone {
		return
	}
	api.WriteError(c.w, c.r, e, c.id, c.now)
}

// internal logs err and returns Azure's InternalError: the client learns the request id, the log
// has the details.
func (c *call) internal(what string, err error) *api.Error {
	c.s.log.Error("rest: "+what, "request-id", c.id, "method", c.r.Method, "path", c.r.URL.Path, "err", err)
	return api.NewError(api.CodeInternalError)
}

// readError turns an error from a store read into Azure's error: the service's *batch.Error
// (not found…), a timeout, a client that went away, or a store that is busy.
func (c *call) readError(what string, err error) *api.Error {
	if be := asBatchError(err); be != nil {
		return fromBatch(be)
	}
	switch {
	case c.r.Context().Err() != nil:
		return errGone
	case errors.Is(err, context.DeadlineExceeded) || c.ctx.Err() != nil:
		return api.NewError(api.CodeOperationTimedOut)
	case errors.Is(err, store.ErrUnavailable):
		return api.NewError(api.CodeServerBusy)
	}
	return c.internal(what, err)
}

// decode reads the request's JSON body into dst, refusing (400 InvalidRequestBody) a property
// dst does not declare, at any depth, and at the top a property outside model when it has
// properties: Corral does not accept a property and then ignore it. A body over the limit is
// drained (up to a bound) before the 413 is written, so that the client, still sending, reads
// the answer.
func (c *call) decode(dst any, model api.RequestModel) *api.Error {
	return c.decodeWith(dst, api.DecodeOptions{RejectUnknownFields: true, Model: model})
}

// decodeWith is decode with opts.
func (c *call) decodeWith(dst any, opts api.DecodeOptions) *api.Error {
	e := api.DecodeJSON(c.r, dst, opts)
	if e != nil && e.Code == api.CodeRequestBodyTooLarge && c.r.Body != nil {
		drain(c.r)
	}
	return e
}

// maxDrain is how much of an oversized body is read and dropped before answering.
const maxDrain = 4 * api.DefaultMaxBodyBytes

func drain(r *http.Request) {
	buf := make([]byte, 32<<10)
	for n := 0; n < maxDrain; {
		k, err := r.Body.Read(buf)
		n += k
		if err != nil {
			return
		}
	}
}

// writeHeaders answers a write with no body: status, the common headers, and DataServiceId,
// ETag and Last-Modified of the entity at location (etag "" when it could not be read).
func (c *call) writeHeaders(status int, location, etag string, lastModified time.Time) {
	api.SetResponseHeaders(c.w, c.r, c.id)
	c.w.Header().Set(api.HeaderDataServiceID, location)
	api.SetEntityHeaders(c.w, etag, lastModified)
	c.w.Header().Set("Content-Length", "0")
	c.w.WriteHeader(status)
}
