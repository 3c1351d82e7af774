package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"corral/actor"
	"corral/agent"
	"corral/agent/protocol"
	"corral/agentlink"
	"corral/api/bearer"
	"corral/api/rest"
	execprov "corral/compute/exec"
	"corral/compute/local"
	"corral/compute/static"
	"corral/nodeauth"
	"corral/service"
	"corral/store"
)

// DefaultListen is where the server listens unless told otherwise: loopback only, so a server
// started without thought is not reachable from the network.
const DefaultListen = "127.0.0.1:8765"

// Config configures a server. Zero values get defaults.
type Config struct {
	// Listen is the address of the HTTP server (REST API and agent endpoint). Whether it serves
	// TLS follows from it and the fields below (see ServesTLS): on a loopback address, plain
	// HTTP unless TLS is asked for; anywhere else, TLS.
	Listen string
	// TLS asks for TLS on a loopback address too (elsewhere it is the default).
	TLS bool
	// TLSCert and TLSKey are the operator's PEM files: the server's certificate, optionally
	// followed by the rest of its chain, and its private key. Without them a TLS server uses a
	// CA of its own and a certificate it issues, both kept in the data directory's tls/
	// directory (see package pki). Giving them asks for TLS.
	TLSCert, TLSKey string
	// TLSNames are DNS names or IP addresses that the server's own certificate covers besides
	// localhost, the loopback addresses, the host name and the interfaces' addresses (a name
	// that reaches it through a proxy or NAT). Giving them asks for TLS.
	TLSNames []string
	// PlainHTTP asks for plain HTTP, which is the default on a loopback address; on any other
	// address it is refused unless AllowInsecure is set too.
	PlainHTTP bool
	// AllowInsecure allows PlainHTTP on an address that is not a loopback address, where
	// requests and their signatures cross the network unencrypted.
	AllowInsecure bool
	// DataDir holds the store (corral.db), the account key (unless in the environment) and
	// the nodes' directories (nodes/). Start makes it readable by its owner only (see
	// secureDataDir), tightening the modes of an existing directory and its files.
	DataDir string
	// Store names a shared store: a PostgreSQL URL (postgres://…), or sqlite:PATH for a SQLite
	// file that servers on one machine share. Empty means the SQLite file in DataDir, which
	// this server alone uses. On a shared store the server is one replica among several (see
	// replica.go): it runs the service only while it holds the leader lease.
	Store string
	// ReplicaName names this replica among those sharing the store; it must be unique and stay
	// the same across restarts. Empty means AdvertiseURL.
	ReplicaName string
	// AdvertiseURL is where the other replicas reach this one to forward requests while it
	// leads. Empty means the server's own URL (Server.URL).
	AdvertiseURL string
	// LeaseTTL is the lifetime of the leader lease on a shared store (DefaultLeaseTTL if zero):
	// a leader that stops renewing it is replaced after about this long.
	LeaseTTL time.Duration
	// Account signs and checks requests; LoadAccount finds it.
	Account Account
	// TokenFile names a file of static bearer tokens, one a line, that requests may carry as
	// "Authorization: Bearer <token>" instead of a Shared Key signature (see LoadTokenFile; it
	// must be its owner's only). Empty means none.
	TokenFile string
	// Tokens are static bearer tokens besides TokenFile's (`corral server` takes them from
	// CORRAL_TOKENS).
	Tokens []string
	// JWTIssuer, when set, makes the server accept JWTs that this issuer signed (RS256 or
	// ES256), its exact iss claim: Microsoft Entra ID's https://sts.windows.net/<tenant>/, for
	// example. See package api/bearer.
	JWTIssuer string
	// JWTAudiences are the aud claims a JWT may carry (one of them); empty means Azure Batch's,
	// https://batch.core.windows.net/ (the Azure SDKs' scope).
	JWTAudiences []string
	// JWTSubjects, when not empty, are the only principals whose JWTs are accepted: the oid
	// claim (Entra ID's object id of a user or service principal) or, without one, sub.
	JWTSubjects []string
	// JWKSURL is where JWTIssuer publishes its keys; empty means OpenID Connect discovery
	// (JWTIssuer + "/.well-known/openid-configuration").
	JWKSURL string
	// bearer is the verifier Start builds from TokenFile, Tokens and the JWT fields, nil when
	// they configure none; boot hands it to the REST API (a replica's service gets it with its
	// copy of the Config, and so keeps the JWT key cache across terms).
	bearer *bearer.Verifier
	// AgentCommand starts a node's agent process; nil runs this executable's `agent` verb. The
	// node's identity (server URL and credential) is in its directory when it is called, for
	// `corral agent --root DIR` to read.
	AgentCommand func(poolID, nodeID, dir string, dedicated bool) *exec.Cmd
	// Provider names where nodes come from: ProviderLocal (the default: agent processes on this
	// machine), ProviderStatic (machines that join pools with join tokens) or ProviderExec
	// (machines that the operator's programs in Exec create and delete; see provider.go).
	Provider string
	// Exec configures the exec provider.
	Exec ExecConfig
	// JoinTokens issues the join tokens of the exec provider's machines; nil means the
	// server's own, each bound to its node.
	JoinTokens JoinTokenIssuer
	// Timing sets how node sessions judge their agents; default: check every 5s, lost after 60s.
	Timing service.NodeTiming
	// AutoScaleMinInterval is the shortest autoscale evaluation interval a pool may have; 0 means
	// Azure's minimum, 5 minutes. Shorter values are for development.
	AutoScaleMinInterval time.Duration
	// ProvisionDelay is how long a new node takes to be ready after its agent started, to imitate
	// a VM's boot; 0 means at once.
	ProvisionDelay time.Duration
	// FailureRate is the probability, 0 to 1, that a node's creation fails, to imitate allocation
	// failures in development.
	FailureRate float64
	// Logger receives the server's logs; nil means slog.Default().
	Logger *slog.Logger
	// ReadLimit is how many read requests of the REST API (GET and HEAD but the file
	// operations) are served at once;
	// a read beyond them waits briefly, then is answered 503 ServerBusy with Retry-After, which
	// Azure's clients retry (see ReadThrottle). Writes and the agents' endpoints are never
	// throttled. 0 means DefaultReadLimit; a negative limit means none.
	ReadLimit int
	// HeaderTimeout bounds how long a request's headers may take to arrive, and BodyTimeout how
	// long its body may take after them (see withBodyDeadline); zero means DefaultHeaderTimeout
	// and DefaultBodyTimeout.
	HeaderTimeout, BodyTimeout time.Duration
}

// Server is a running Corral server.
type Server struct {
	// URL is the server's base URL as this machine reaches it: https:// when it serves TLS, and
	// 127.0.0.1 when it listens on every address (":8765", "0.0.0.0:8765"). The local nodes'
	// agents use it.
	URL string

	cfg       Config
	transport *transport // nil for plain HTTP
	engine    *actor.Engine
	store     store.Store
	handler   http.Handler // the service's, once booted
	api       *rest.Server
	creds     *nodeauth.Registry
	hub       *agentlink.Hub
	provider  *local.Provider    // nil unless the provider is local
	static    *static.Provider   // nil unless the provider is static
	exec      *execprov.Provider // nil unless the provider is exec
	http      *http.Server
	done      chan error
	replica   *replica // nil unless the store is shared
	recovery  *recovery
}

// Start opens the store, boots the service, and serves HTTP until Close. With a store of its own
// (the default SQLite file in the data directory) the server runs the service at once. With a
// shared store (Config.Store) it is one replica among several: it runs the service only while it
// holds the leader lease, and until then forwards every request to the leader (see replica.go).
func Start(cfg Config) (*Server, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.DataDir == "" {
		return nil, errors.New("server: no data directory")
	}
	if len(cfg.Account.Key) == 0 {
		return nil, errors.New("server: no account key")
	}
	if cfg.Timing.CheckEvery == 0 {
		cfg.Timing = service.NodeTiming{CheckEvery: 5 * time.Second, LostAfter: 60 * time.Second}
	}
	if cfg.HeaderTimeout <= 0 {
		cfg.HeaderTimeout = DefaultHeaderTimeout
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = DefaultBodyTimeout
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	useTLS, err := cfg.ServesTLS()
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if err := secureDataDir(cfg.DataDir, log); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	if cfg.bearer, err = newBearer(cfg, log); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	var tr *transport
	if useTLS {
		if tr, err = newTransport(cfg, log); err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
	}
	st, shared, err := openStore(cfg)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("server: listen: %w", err)
	}
	s := &Server{URL: baseURL(ln.Addr(), tr != nil), cfg: cfg, transport: tr, store: st, done: make(chan error, 1)}
	var handler http.Handler
	if shared {
		if handler, err = s.startReplica(log); err != nil {
			ln.Close()
			st.Close()
			return nil, fmt.Errorf("server: %w", err)
		}
	} else {
		if err := s.boot(st, log); err != nil {
			ln.Close()
			st.Close()
			return nil, fmt.Errorf("server: %w", err)
		}
		handler = s.handler
	}
	s.http = newHTTPServer(handler, cfg.HeaderTimeout, cfg.BodyTimeout)
	// Failed TLS handshakes (a client that does not trust the CA, a scanner) and the like.
	s.http.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelInfo)
	if tr == nil {
		log.Info("server: serving plain HTTP", "url", s.URL)
		go func() { s.done <- s.http.Serve(ln) }()
		return s, nil
	}
	s.http.TLSConfig = tr.config
	log.Info("server: serving TLS", "url", s.URL, "ca", tr.caFile, "fingerprint", tr.fingerprint)
	go func() { s.done <- s.http.ServeTLS(ln, "", "") }()
	return s, nil
}

// boot builds the running service on st, in s: the node credentials, the actor engine with the
// provider and the service's actors, the agents' hub, and the HTTP handler of the REST API and
// the agents' endpoints. On failure it closes what it made (not st).
func (s *Server) boot(st store.Store, log *slog.Logger) error {
	cfg := s.cfg
	s.store = st
	creds, err := nodeauth.Open(context.Background(), st, nil, log)
	if err != nil {
		return err
	}
	s.creds = creds
	s.recovery = newRecovery(log)
	s.engine = actor.NewEngine(actor.Options{Logger: log, OnFailure: s.recovery.onFailure})
	s.recovery.engine = s.engine
	s.hub = agentlink.NewHub(s.engine, creds, service.NodeSessionID, agentlink.HubOptions{Logger: log, ProxyID: service.AgentID})
	var impl actor.Actor
	var evict func(poolID, nodeID string) error
	switch cfg.Provider {
	case "", ProviderLocal:
		command := cfg.AgentCommand
		if command == nil {
			command = s.agentCommand
		}
		s.provider, err = local.New(local.Config{
			Runtime:        s.engine,
			Root:           filepath.Join(cfg.DataDir, nodesDir),
			Command:        s.withIdentity(command),
			ProvisionDelay: cfg.ProvisionDelay,
			FailureRate:    cfg.FailureRate,
			// Preemptions and losses of nodes adopted after a restart go to their pool's manager.
			NotifyTo: service.PoolNoticesID,
			Logger:   log,
		})
		if err == nil {
			impl, evict = s.provider.Actor(), s.provider.Evict
		}
	case ProviderStatic:
		s.static, err = static.New(static.Config{Runtime: s.engine, Store: st, Credentials: creds, NotifyTo: service.AccountID, Logger: log})
		if err == nil {
			impl = s.static.Actor()
		}
	case ProviderExec:
		s.exec, err = s.newExecProvider(cfg, log)
		if err == nil {
			impl, evict = s.exec.Actor(), s.exec.Evict
		}
	default:
		err = fmt.Errorf("unknown provider %q: want %s, %s or %s", cfg.Provider, ProviderLocal, ProviderStatic, ProviderExec)
	}
	if err != nil {
		s.abort()
		return err
	}
	if err := s.createProvider(impl); err != nil {
		s.abort()
		return err
	}
	if err := s.engine.AddHost(serviceHost, func(h actor.Host) error {
		return service.Boot(h, service.Config{Store: st, Timing: cfg.Timing, AutoScaleMinInterval: cfg.AutoScaleMinInterval})
	}); err != nil {
		s.abort()
		return err
	}
	api, err := rest.New(rest.Config{
		Runtime: s.engine,
		Store:   st,
		Account: cfg.Account.Name,
		Keys:    [][]byte{cfg.Account.Key},
		Bearer:  cfg.bearer,
		Logger:  log,
		Files:   newNodeFiles(filepath.Join(cfg.DataDir, nodesDir), s.hub),
		Users:   newNodeUsers(filepath.Join(cfg.DataDir, nodesDir), s.hub),
		Logs:    nodeLogs{link: s.hub},
		Evict:   evict,
		Joins:   s.joins(),
		Reads:   ReadThrottle(cfg.ReadLimit),
	})
	if err != nil {
		s.abort()
		return err
	}
	mux := http.NewServeMux()
	mux.Handle(protocol.SyncPath, s.hub)
	mux.Handle(protocol.FilesPath, s.hub.FilesHandler())
	mux.Handle(protocol.AnswerPath, s.hub.AnswersHandler())
	var machines nodeauth.Machines
	if s.static != nil {
		machines = s.static
		mux.Handle(protocol.AssignPath, s.static.Handler())
	}
	mux.Handle(protocol.JoinPath, nodeauth.JoinHandler(creds, machines, s.caPEM, log))
	mux.Handle("/", api)
	s.api = api
	s.handler = mux
	return nil
}

// DefaultReadLimit is how many read requests the REST API serves at once unless
// Config.ReadLimit says otherwise. Reads beyond it wait or are throttled, so that clients
// polling lists cannot take the machine from the running work; see docs/performance.md
// (Under read load) for how it was measured.
const DefaultReadLimit = 1

// ReadSpacing is how long each place among the reads served at once rests after a read, in
// multiples of the read's time (rest.Throttle.Spacing): with 1, reads take at most half of each
// place's time, and so at most half a core with the default limit.
const ReadSpacing = 1.0

// ReadThrottle is the REST API's bound on reads for Config.ReadLimit limit: limit reads served
// at once (DefaultReadLimit for 0, none for a negative limit), each place resting ReadSpacing
// times as long as its read took, twice as many waiting at most 100 ms each, and a throttled
// read told to retry after one second.
func ReadThrottle(limit int) rest.Throttle {
	switch {
	case limit < 0:
		return rest.Throttle{}
	case limit == 0:
		limit = DefaultReadLimit
	}
	return rest.Throttle{Limit: limit, Queue: 2 * limit, Wait: 100 * time.Millisecond, RetryAfter: time.Second, Spacing: ReadSpacing}
}

// baseURL is the URL of a server listening at addr. A listener on every address (0.0.0.0 or ::,
// which Go's "tcp" listeners make dual-stack) is reached at 127.0.0.1.
func baseURL(addr net.Addr, useTLS bool) string {
	scheme := "http://"
	if useTLS {
		scheme = "https://"
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return scheme + net.JoinHostPort(host, port)
}

// CAFingerprint is the fingerprint (pki.Fingerprint) of the CA of the certificate the server
// serves: its own CA's, or with an operator's certificate (TLSCert) the last certificate of the
// operator's chain file. It is "" for plain HTTP. Join tokens carry it.
func (s *Server) CAFingerprint() string {
	if s.transport == nil {
		return ""
	}
	return s.transport.fingerprint
}

// CACertFile is the PEM file that clients trust to reach the server: its own CA's certificate
// (tls/ca.crt in the data directory), or with an operator's certificate the operator's chain
// file when that chain ends with its self-signed CA. It is "" for plain HTTP, and for an
// operator's chain without its root (clients trust that root already, as with a public CA).
func (s *Server) CACertFile() string {
	if s.transport == nil {
		return ""
	}
	return s.transport.caFile
}

// caPEM is the PEM of the CA certificate that agents trust (in their credential file, and in
// the answer to a join): "" when CACertFile is.
func (s *Server) caPEM() string {
	if s.transport == nil {
		return ""
	}
	return s.transport.caPEM
}

// abort closes the providers that boot made.
func (s *Server) abort() {
	if s.provider != nil {
		s.provider.Close()
	}
	if s.exec != nil {
		s.exec.Close()
	}
}

// halt stops the service that boot started, leaving the store open: the agents' hub, the
// service's actors (CrashHost waits for running handlers), and the provider's actors and
// processes.
func (s *Server) halt() error {
	s.recovery.close()
	s.api.Stop()
	s.hub.Close()
	err := s.engine.CrashHost(serviceHost)
	if perr := s.engine.CrashHost(providerHost); err == nil {
		err = perr
	}
	s.abort()
	return err
}

// withIdentity wraps a node's agent command: before the command is made, it issues the node's
// credential and writes it, with the server's URL, to the node's CredentialFile, where the
// agent reads it (`corral agent --root DIR`). Neither the credential nor the account key is on
// an agent's command line or in its environment. If the credential cannot be made, the
// command is nil (and the log says why), so the node is not created.
func (s *Server) withIdentity(command func(poolID, nodeID, dir string, dedicated bool) *exec.Cmd) func(poolID, nodeID, dir string, dedicated bool) *exec.Cmd {
	return func(poolID, nodeID, dir string, dedicated bool) *exec.Cmd {
		cred, err := s.creds.IssueNode(context.Background(), poolID, nodeID)
		if err == nil {
			err = agent.SaveIdentity(dir, agent.Identity{ServerURL: s.URL, PoolID: poolID, NodeID: nodeID, Credential: cred, CACert: s.caPEM()})
		}
		if err != nil {
			s.log().Error("node agent not started", "pool", poolID, "node", nodeID, "err", err)
			return nil
		}
		return command(poolID, nodeID, dir, dedicated)
	}
}

// agentCommand runs this executable's `agent` verb for a node, in the node's directory. Over
// TLS, the agent trusts the CA in its credential file (see withIdentity), and checks the
// server's certificate against the name agentServerName chooses when the certificate does not
// cover the host of the server's URL.
func (s *Server) agentCommand(poolID, nodeID, dir string, dedicated bool) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		s.log().Error("node agent not started", "pool", poolID, "node", nodeID, "err", err)
		return nil
	}
	args := []string{"agent", "--root", dir}
	if u, err := url.Parse(s.URL); err == nil && s.transport != nil {
		if name := agentServerName(s.transport.leaf, u.Hostname()); name != "" {
			args = append(args, "--tls-server-name", name)
		}
	}
	cmd := exec.Command(exe, args...)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"CORRAL_ACCOUNT_NAME=" + s.cfg.Account.Name,
	}
	return cmd
}

func (s *Server) log() *slog.Logger {
	if s.cfg.Logger != nil {
		return s.cfg.Logger
	}
	return slog.Default()
}

// Store returns the store of the running service: with a shared store, fenced by the leader's
// term while this replica leads, and nil while it does not.
func (s *Server) Store() store.Store {
	if s.replica != nil {
		if c := s.replica.current(); c != nil {
			return c.store
		}
		return nil
	}
	return s.store
}

// Runtime returns the actor engine of the running service (nil on a replica that does not lead).
func (s *Server) Runtime() *actor.Engine {
	if s.replica != nil {
		if c := s.replica.current(); c != nil {
			return c.engine
		}
		return nil
	}
	return s.engine
}

// Provider returns the local VM provider (for `corral run` to remove its nodes at the end, and
// for evictions); nil when the server's provider is another, or on a replica that does not lead.
func (s *Server) Provider() *local.Provider {
	if s.replica != nil {
		if c := s.replica.current(); c != nil {
			return c.provider
		}
		return nil
	}
	return s.provider
}

// Close stops serving and closes the store. Node agents keep running: they outlive the server
// and reconnect when it comes back (or give up after their own timeout).
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	if s.replica != nil {
		err = s.replica.close()
	} else {
		s.hub.Close()
	}
	if herr := s.http.Shutdown(ctx); err == nil {
		err = herr
	}
	if s.replica == nil {
		// Stop the service's actors (CrashHost waits for running handlers) before the store goes.
		s.recovery.close()
		if cerr := s.engine.CrashHost(serviceHost); err == nil {
			err = cerr
		}
		s.abort()
	}
	if cerr := s.store.Close(); err == nil {
		err = cerr
	}
	return err
}
