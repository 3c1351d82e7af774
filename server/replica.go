package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"corral/actor"
	"corral/api"
	"corral/service"
	"corral/store"
	"corral/store/postgres"
	"corral/store/sqlite"
)

// DefaultLeaseTTL is the leader lease's lifetime unless Config.LeaseTTL says otherwise. A
// standby takes over a leader that died after between one and one and a third of it, then
// boots the service from the store.
const DefaultLeaseTTL = 10 * time.Second

// forwardedHeader marks a request that a standby forwarded to the leader, so that a replica
// that does not lead (the lease moved meanwhile) answers it busy instead of forwarding it on.
const forwardedHeader = "X-Corral-Forwarded"

// openStore opens the store cfg names. shared reports whether other servers may share it, which
// makes this server a replica.
func openStore(cfg Config) (st store.Store, shared bool, err error) {
	switch {
	case cfg.Store == "":
		st, err := sqlite.Open(filepath.Join(cfg.DataDir, dbFile))
		return st, false, err
	case strings.HasPrefix(cfg.Store, "sqlite:"):
		path := strings.TrimPrefix(cfg.Store, "sqlite:")
		if path == "" {
			return nil, false, errors.New("store sqlite: needs a file path (sqlite:PATH)")
		}
		st, err := sqlite.Open(path)
		return st, true, err
	case strings.HasPrefix(cfg.Store, "postgres://"), strings.HasPrefix(cfg.Store, "postgresql://"):
		st, err := openPostgres(cfg.Store)
		return st, true, err
	default:
		return nil, false, errors.New("unknown store: want postgres://…, postgresql://… or sqlite:PATH")
	}
}

// replica runs a server as one replica among those sharing a store. A leadership actor
// (service.BootReplica) on an engine of its own watches and renews the lease; while this
// replica leads, a service of that term runs (a *Server booted on the store fenced by the
// term), and requests are served by it. Otherwise requests are forwarded to the leader the
// lease names, or answered ServerBusy while there is none (Azure's answer, which clients retry).
//
// A deposed leader halts its service as a crash would: the service's actors and what they held
// in memory are dropped, and the next leader rebuilds everything from the store.
type replica struct {
	srv       *Server
	log       *slog.Logger
	advertise string
	engine    *actor.Engine
	proxy     *httputil.ReverseProxy

	mu      sync.Mutex
	want    int64       // the term this replica leads, 0 if none
	wantSt  store.Store // the store fenced by want
	cur     *Server     // the service of term curTerm, nil while it does not lead
	curTerm int64

	wake chan struct{}
	stop chan struct{}
	done chan struct{}

	leaseMu sync.Mutex
	lease   service.Lease
	leaseOK bool
	leaseAt time.Time
}

// startReplica starts s's leadership and returns the handler of its requests.
func (s *Server) startReplica(log *slog.Logger) (http.Handler, error) {
	r := &replica{srv: s, log: log, advertise: s.cfg.AdvertiseURL, wake: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{})}
	if r.advertise == "" {
		r.advertise = s.URL
		if loopback(s.URL) && !loopbackListen(s.cfg.Listen) {
			log.Warn("replica: the other replicas are told to reach this one at a loopback address; set --advertise-url to the URL they can reach", "url", s.URL)
		}
	}
	name := s.cfg.ReplicaName
	if name == "" {
		name = r.advertise
	}
	r.proxy = &httputil.ReverseProxy{
		Rewrite:       r.rewrite,
		FlushInterval: -1, // the agents' long polls and file streams pass as they come
		ErrorHandler: func(w http.ResponseWriter, req *http.Request, err error) {
			log.Info("replica: request not forwarded to the leader", "path", req.URL.Path, "err", err)
			busy(w, req)
		},
	}
	if s.transport != nil {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if s.transport.caPEM != "" {
			pool.AppendCertsFromPEM([]byte(s.transport.caPEM))
		}
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		r.proxy.Transport = t
	}
	s.replica = r
	r.engine = actor.NewEngine(actor.Options{Logger: log})
	if err := r.engine.AddHost("replica", func(h actor.Host) error {
		return service.BootReplica(h, service.ReplicaConfig{
			Store: s.store, Name: name, URL: r.advertise, TTL: s.cfg.LeaseTTL,
			OnLead: r.lead, OnDepose: r.depose,
		})
	}); err != nil {
		return nil, err
	}
	log.Info("replica: standing by for the leader lease", "name", name, "url", r.advertise, "ttl", s.cfg.LeaseTTL)
	go r.run()
	return http.HandlerFunc(r.serveHTTP), nil
}

// lead and depose are the leadership actor's callbacks: they must not block.
func (r *replica) lead(term int64, st store.Store) {
	r.mu.Lock()
	r.want, r.wantSt = term, st
	r.mu.Unlock()
	r.notify()
}

func (r *replica) depose(term int64, why string) {
	r.mu.Lock()
	if r.want == term {
		r.want, r.wantSt = 0, nil
	}
	r.mu.Unlock()
	r.notify()
}

func (r *replica) notify() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run starts and stops the service as the leadership changes, one change at a time.
func (r *replica) run() {
	defer close(r.done)
	retry := time.NewTimer(0)
	<-retry.C
	for {
		select {
		case <-r.stop:
			r.settle(0, nil)
			return
		case <-r.wake:
		case <-retry.C:
		}
		r.mu.Lock()
		want, st := r.want, r.wantSt
		r.mu.Unlock()
		if !r.settle(want, st) {
			retry.Reset(time.Second)
		}
	}
}

// settle makes the running service that of term want (none for 0). It reports false if the
// service could not be booted (the store failing): run tries again while the term lasts.
func (r *replica) settle(want int64, st store.Store) bool {
	r.mu.Lock()
	cur, term := r.cur, r.curTerm
	r.mu.Unlock()
	if term == want {
		return true
	}
	if cur != nil {
		r.mu.Lock()
		r.cur, r.curTerm = nil, 0
		r.mu.Unlock()
		if err := cur.halt(); err != nil {
			r.log.Warn("replica: service of the last term halted with an error", "term", term, "err", err)
		}
		r.log.Info("replica: service stopped", "term", term)
	}
	if want == 0 {
		return true
	}
	c := &Server{URL: r.srv.URL, cfg: r.srv.cfg, transport: r.srv.transport}
	if err := c.boot(st, r.log); err != nil {
		r.log.Error("replica: service not started; trying again", "term", want, "err", err)
		return false
	}
	r.mu.Lock()
	r.cur, r.curTerm = c, want
	r.mu.Unlock()
	r.log.Info("replica: leading; service started", "term", want)
	return true
}

// current returns the running service, nil while this replica does not lead.
func (r *replica) current() *Server {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cur
}

// close stops the leadership and the service.
func (r *replica) close() error {
	err := r.engine.CrashHost("replica")
	close(r.stop)
	<-r.done
	return err
}

// serveHTTP serves a request with the running service, or forwards it to the leader.
func (r *replica) serveHTTP(w http.ResponseWriter, req *http.Request) {
	if c := r.current(); c != nil {
		c.handler.ServeHTTP(w, req)
		return
	}
	l, ok := r.leader(req.Context())
	if !ok || l.URL == "" || l.URL == r.advertise || req.Header.Get(forwardedHeader) != "" {
		busy(w, req)
		return
	}
	r.proxy.ServeHTTP(w, req)
}

// rewrite points a forwarded request at the leader the lease names.
func (r *replica) rewrite(pr *httputil.ProxyRequest) {
	l, _ := r.leader(pr.In.Context())
	u, err := url.Parse(l.URL)
	if err != nil {
		u = &url.URL{}
	}
	pr.SetURL(u)
	pr.SetXForwarded()
	pr.Out.Header.Set(forwardedHeader, r.advertise)
}

// leader returns the lease as read at most half a second ago.
func (r *replica) leader(ctx context.Context) (service.Lease, bool) {
	r.leaseMu.Lock()
	defer r.leaseMu.Unlock()
	if time.Since(r.leaseAt) < 500*time.Millisecond {
		return r.lease, r.leaseOK
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	l, ok, err := service.ReadLease(ctx, r.srv.store)
	if err != nil {
		r.log.Info("replica: cannot read the lease", "err", err)
		return service.Lease{}, false
	}
	r.lease, r.leaseOK, r.leaseAt = l, ok, time.Now()
	return l, ok
}

// busy answers a request that no service can take now with Azure's ServerBusy (503) and a
// Retry-After, which Azure's clients retry.
func busy(w http.ResponseWriter, req *http.Request) {
	api.WriteThrottled(w, req, api.NewRequestID(), time.Now(), time.Second)
}

// StoreName is how logs and messages name a store given as Config.Store: without a password.
func StoreName(s string) string {
	if strings.HasPrefix(s, "sqlite:") {
		return s
	}
	return postgres.Redact(s)
}

// openPostgres opens a PostgreSQL store; the error names the URL without its password (the
// package's errors do already).
func openPostgres(u string) (store.Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return postgres.Open(ctx, u)
}
