package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"corral/agent"
	"corral/agent/protocol"
	"corral/pki"
)

// runAgent is `corral agent`: a node agent. The local VM provider starts one per node, having
// written the node's identity (server URL, pool, node, credential) to the node's root
// directory. On another machine an operator, or a provider's create program, starts it with a
// join token (CORRAL_JOIN_TOKEN, or --join), which it exchanges for the node's identity once
// and keeps in the root directory. The account key is never needed.
func runAgent(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "", "the server's base URL, or a comma-separated list of the URLs of its replicas (needed to join; else those the node's credential file names)")
	join := fs.String("join", "", "join token (prefer CORRAL_JOIN_TOKEN: a command line is visible to other users)")
	root := fs.String("root", ".", "the node's root directory (its credential and tasks' files live under it)")
	giveUp := fs.Duration("give-up", 10*time.Minute, "exit when no server has answered for this long (0: never)")
	heartbeat := fs.Duration("heartbeat", 5*time.Second, "how often to report to the server")
	requestTimeout := fs.Duration("request-timeout", 10*time.Second, "how long one exchange with the server may take beyond its long poll; a server silent that long is left for the next of --server's replicas")
	caFile := fs.String("ca", "", "PEM file of the CA the server's TLS certificate chains to (default: the CA in the node's credential file, else the system's roots)")
	tlsName := fs.String("tls-server-name", "", "the name the server's TLS certificate must cover, when not the server URL's host")
	taskUIDs := agent.DefaultTaskUIDs
	fs.Var(&taskUIDs, "task-uids", "when the agent runs as root: the user ids `first-last` that tasks run as, a fresh one per attempt; nothing else may use them")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "corral agent: unexpected arguments: %s\n", strings.Join(fs.Args(), " "))
		return 2
	}
	token := *join
	if token == "" {
		token = os.Getenv("CORRAL_JOIN_TOKEN")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logOut := stderr
	if lf, err := agent.OpenLogFile(agent.LogDir(*root), 0, 0); err != nil {
		fmt.Fprintf(stderr, "corral agent: %v; logging to standard error only\n", err)
	} else {
		defer lf.Close()
		logOut = teeLog{stderr: stderr, file: lf}
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))
	id, err := agentIdentity(ctx, *root, *server, token, log)
	if err != nil {
		fmt.Fprintf(stderr, "corral agent: %v\n", err)
		return 2
	}
	if *server != "" {
		id.ServerURL = *server
	}
	servers := agent.Servers(id.ServerURL)
	hc, err := agentHTTPClient(id.CACert, *caFile, *tlsName, servers)
	if err != nil {
		fmt.Fprintf(stderr, "corral agent: %v\n", err)
		return 2
	}
	base := log
	for {
		if id.IsMachine() && id.NodeID == "" {
			if id, err = awaitNode(ctx, hc, *root, id, *giveUp, base); err != nil {
				if ctx.Err() != nil {
					return 0
				}
				fmt.Fprintf(stderr, "corral agent: %v\n", err)
				if errors.Is(err, agent.ErrMachineRefused) {
					return 4
				}
				return 3
			}
		}
		log := base.With("node", id.NodeID)
		c, err := agent.NewClient(agent.ClientConfig{
			ServerURL:      servers[0],
			NodeID:         id.NodeID,
			PoolID:         id.PoolID,
			Credential:     id.Credential,
			Runner:         agent.Config{Root: *root, AccountName: os.Getenv("CORRAL_ACCOUNT_NAME"), TaskUIDs: taskUIDs, Logger: log},
			HeartbeatEvery: *heartbeat,
			RequestTimeout: *requestTimeout,
			GiveUpAfter:    *giveUp,
			HTTPClient:     hc,
			Logger:         log,
		})
		if err != nil {
			fmt.Fprintf(stderr, "corral agent: %v\n", err)
			return 1
		}
		err = c.Run(ctx)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, agent.ErrRevoked) && id.IsMachine():
			// The node was given back: the machine forgets it, as a new VM has a new disk,
			// and waits to be lent again.
			log.Info("node given back; waiting for the next one", "err", err)
			if id, err = forgetNode(*root, id); err != nil {
				fmt.Fprintf(stderr, "corral agent: %v\n", err)
				return 1
			}
			continue
		case errors.Is(err, agent.ErrNoServer):
			fmt.Fprintf(stderr, "corral agent: %v\n", err)
			return 3
		case errors.Is(err, agent.ErrRevoked):
			fmt.Fprintf(stderr, "corral agent: %v\n", err)
			return 4
		default:
			fmt.Fprintf(stderr, "corral agent: %v\n", err)
			return 1
		}
	}
}

// teeLog writes the agent's log to its standard error and to its log file in the node's root
// (agent.LogFile: a few MiB at most, which Compute Node - Upload Batch Service Logs uploads). A
// write to the file that fails does not stop the log on standard error.
type teeLog struct {
	stderr io.Writer
	file   *agent.LogFile
}

func (t teeLog) Write(p []byte) (int, error) {
	_, _ = t.file.Write(p)
	return t.stderr.Write(p)
}

// awaitNode waits until the server lends the machine to a node, and keeps the node's identity
// in root. It gives up when no server has answered for giveUp (0: never).
func awaitNode(ctx context.Context, hc *http.Client, root string, id agent.Identity, giveUp time.Duration, log *slog.Logger) (agent.Identity, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	log.Info("waiting to be lent to a node", "pool", id.PoolID, "machine", id.MachineID)
	lastOK, pause := time.Now(), 500*time.Millisecond
	for {
		got, err := agent.Await(ctx, hc, id, 20*time.Second)
		switch {
		case err == nil && got.NodeID != "":
			if err := agent.SaveIdentity(root, got); err != nil {
				return id, err
			}
			log.Info("lent to a node", "pool", got.PoolID, "machine", got.MachineID, "node", got.NodeID)
			return got, nil
		case err == nil:
			lastOK, pause = time.Now(), 500*time.Millisecond
			continue
		case errors.Is(err, agent.ErrMachineRefused) || ctx.Err() != nil:
			return id, err
		}
		if giveUp > 0 && time.Since(lastOK) > giveUp {
			return id, fmt.Errorf("%w: %v", agent.ErrNoServer, err)
		}
		log.Warn("waiting for a node: the server did not answer; retrying", "err", err)
		select {
		case <-ctx.Done():
			return id, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 15*time.Second)
	}
}

// forgetNode drops the node a machine was lent to: its credential, and its tasks' files and
// shared directories (a node that comes next starts empty, as a new VM does).
func forgetNode(root string, id agent.Identity) (agent.Identity, error) {
	id.NodeID, id.Credential = "", ""
	if err := agent.SaveIdentity(root, id); err != nil {
		return id, err
	}
	if err := agent.ClearNodeFiles(root); err != nil {
		return id, err
	}
	return id, nil
}

// joinPatience is how long an agent keeps trying to reach the server to join.
const joinPatience = 2 * time.Minute

// agentIdentity returns the node's identity: the one kept in root, or, if there is none, the
// one a join with token gives (then kept in root).
func agentIdentity(ctx context.Context, root, server, token string, log *slog.Logger) (agent.Identity, error) {
	id, err := agent.LoadIdentity(root)
	if err == nil {
		if token != "" {
			log.Info("already joined: using the node's credential file, not the join token", "pool", id.PoolID, "node", id.NodeID)
		}
		return id, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return agent.Identity{}, err
	}
	if token == "" || server == "" {
		return agent.Identity{}, fmt.Errorf("no credential in %s: to join a pool, give --server and a join token (CORRAL_JOIN_TOKEN or --join)", root)
	}
	_, _, fingerprint, err := protocol.ParseJoinToken(token)
	if err != nil {
		return agent.Identity{}, err
	}
	servers := agent.Servers(server)
	hc, err := joinHTTPClient(servers, fingerprint)
	if err != nil {
		return agent.Identity{}, err
	}
	host, _ := os.Hostname()
	// A machine's agent may start before its network is up, or before the server is: it tries
	// again, for up to joinPatience, unless the server refused the token or is not the server
	// the token's fingerprint names.
	deadline := time.Now().Add(joinPatience)
	for pause := 500 * time.Millisecond; ; pause = min(2*pause, 5*time.Second) {
		jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		id, err = agent.Join(jctx, hc, servers[0], token, host)
		cancel()
		if err == nil {
			break
		}
		var unverified *tls.CertificateVerificationError
		if errors.Is(err, agent.ErrJoinRefused) || errors.Is(err, pki.ErrNotTrusted) || errors.As(err, &unverified) ||
			time.Now().Add(pause).After(deadline) || ctx.Err() != nil {
			return agent.Identity{}, err
		}
		log.Warn("join: the server could not be reached; trying again", "err", err, "in", pause)
		select {
		case <-ctx.Done():
			return agent.Identity{}, ctx.Err()
		case <-time.After(pause):
		}
	}
	id.ServerURL = strings.Join(servers, ",")
	if err := agent.SaveIdentity(root, id); err != nil {
		return agent.Identity{}, err
	}
	log.Info("joined", "pool", id.PoolID, "node", id.NodeID, "server", server)
	return id, nil
}

// joinHTTPClient is the client of the first contact, with the servers given (the replicas of
// one service; see agent.Failover): over https it trusts only the CA whose fingerprint the token
// carries. Plain http is accepted only to a loopback address.
func joinHTTPClient(servers []string, fingerprint string) (*http.Client, error) {
	if len(servers) == 0 {
		return nil, errors.New("no server URL")
	}
	tr := map[string]http.RoundTripper{}
	for _, server := range servers {
		switch {
		case strings.HasPrefix(server, "https://"):
			if fingerprint == "" {
				return nil, errors.New("the join token carries no CA fingerprint, so the server cannot be trusted on first contact")
			}
			u, err := url.Parse(server)
			if err != nil {
				return nil, fmt.Errorf("server URL %q: %w", server, err)
			}
			cfg, err := pki.PinnedClientConfig(fingerprint, u.Hostname())
			if err != nil {
				return nil, err
			}
			t := http.DefaultTransport.(*http.Transport).Clone()
			t.TLSClientConfig = cfg
			tr[server] = t
		case strings.HasPrefix(server, "http://"):
			if !isLoopbackURL(server) {
				return nil, fmt.Errorf("refusing to send a join token over plain http to %s: use https", server)
			}
		default:
			return nil, fmt.Errorf("server URL %q is not an http or https URL", server)
		}
	}
	rt, err := agent.Failover(servers, func(u *url.URL) http.RoundTripper { return tr[u.String()] })
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: rt, Timeout: time.Minute}, nil
}

// agentHTTPClient is the agent's client once joined, with the servers given (the replicas of
// one service; see agent.Failover) and agentTransport's TLS settings.
func agentHTTPClient(caPEM, caFile, serverName string, servers []string) (*http.Client, error) {
	tr, err := agentTransport(caPEM, caFile, serverName)
	if err != nil {
		return nil, err
	}
	var base http.RoundTripper
	if tr != nil {
		base = tr
	} else {
		base = http.DefaultTransport.(*http.Transport).Clone()
	}
	rt, err := agent.Failover(servers, func(*url.URL) http.RoundTripper { return base })
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: rt}, nil
}

// agentTransport is the transport of the agent's client: it trusts caFile (--ca) if given,
// else caPEM (the CA in the node's credential file) if given, else the system's roots, and
// checks the server's certificate against serverName (--tls-server-name) when given; nil means
// the default transport's settings.
func agentTransport(caPEM, caFile, serverName string) (*http.Transport, error) {
	var pem []byte
	switch {
	case caFile != "":
		b, err := os.ReadFile(caFile)
		if err == nil && len(b) == 0 {
			err = errors.New("an empty file")
		}
		if err != nil {
			return nil, fmt.Errorf("read the CA certificate %s: %w", caFile, err)
		}
		pem = b
	case caPEM != "":
		pem = []byte(caPEM)
	}
	return tlsTransport(pem, serverName)
}

// isLoopbackURL reports whether a URL's host is a loopback address or "localhost".
func isLoopbackURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
