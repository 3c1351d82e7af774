package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"time"

	execprov "corral/compute/exec"
	"corral/service"
)

// ProviderExec runs an operator's programs to create, delete and list machines that join the
// server by themselves with join tokens (compute/exec; examples/exec/README.md).
const ProviderExec = "exec"

// execDir is the exec provider's directory in the data directory.
const execDir = "exec"

// joinTokenSlack is how long a join token the exec provider issues outlives the create
// program's timeout: the time a machine may take to boot and start its agent after the program
// has returned.
const joinTokenSlack = 30 * time.Minute

// ExecConfig configures the exec provider (Config.Provider ProviderExec). Zero durations get
// compute/exec's defaults.
type ExecConfig struct {
	// Create, Delete and List are the operator's programs; Create and Delete are required.
	Create, Delete, List string
	// ServerURL is the URL at which machines reach this server; empty means the server's own
	// URL, which machines elsewhere cannot reach when the server listens on loopback.
	ServerURL string
	// CACertFile is the CA certificate that machines trust to reach the server, passed to the
	// programs (CORRAL_CA_FILE); empty means the server's own (Server.CACertFile).
	CACertFile string
	// PassEnv names variables of the server's environment that the programs get too.
	PassEnv []string
	// CreateTimeout, DeleteTimeout and ListTimeout bound one run of each program.
	CreateTimeout, DeleteTimeout, ListTimeout time.Duration
}

// JoinTokenIssuer issues the token with which the machine of a node joins its pool: the exec
// provider gives it to the create program, which hands it to `corral agent` on the machine.
type JoinTokenIssuer interface {
	Issue(poolID, nodeID string, dedicated bool) (string, error)
}

// nodeJoinTokens issues join tokens from the server's registry, each bound to its node and
// good for ttl.
type nodeJoinTokens struct {
	s   *Server
	ttl time.Duration
}

// Issue makes a join token for node nodeID of pool poolID.
func (t nodeJoinTokens) Issue(poolID, nodeID string, _ bool) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	text, _, err := t.s.creds.CreateJoinToken(ctx, poolID, nodeID, t.ttl, t.s.CAFingerprint())
	return text, err
}

// newExecProvider makes the exec provider of cfg.Exec. Its join tokens come from
// cfg.JoinTokens, or else from the server's registry of node credentials.
func (s *Server) newExecProvider(cfg Config, log *slog.Logger) (*execprov.Provider, error) {
	if cfg.ProvisionDelay != 0 || cfg.FailureRate != 0 || cfg.AgentCommand != nil {
		return nil, errors.New("ProvisionDelay, FailureRate and AgentCommand are the local provider's; the exec provider takes none of them")
	}
	e := cfg.Exec
	if e.ServerURL == "" {
		e.ServerURL = s.URL
		if loopback(s.URL) {
			log.Warn("exec provider: machines are told to reach the server at a loopback address; set the URL they can reach", "url", s.URL)
		}
	}
	if e.CACertFile == "" {
		e.CACertFile = s.CACertFile()
	}
	tokens := cfg.JoinTokens
	if tokens == nil {
		createTimeout := e.CreateTimeout
		if createTimeout == 0 {
			createTimeout = execprov.DefaultCreateTimeout
		}
		tokens = nodeJoinTokens{s: s, ttl: createTimeout + joinTokenSlack}
	}
	return execprov.New(execprov.Config{
		Runtime:       s.engine,
		CreateProgram: e.Create,
		DeleteProgram: e.Delete,
		ListProgram:   e.List,
		Dir:           filepath.Join(cfg.DataDir, execDir),
		CreateTimeout: e.CreateTimeout,
		DeleteTimeout: e.DeleteTimeout,
		ListTimeout:   e.ListTimeout,
		JoinToken:     tokens.Issue,
		ServerURL:     e.ServerURL,
		CACertFile:    e.CACertFile,
		CAFingerprint: s.CAFingerprint(),
		PassEnv:       e.PassEnv,
		// Preemptions and losses of nodes the provider knows from its records go to their
		// pool's manager.
		NotifyTo: service.PoolNoticesID,
		Logger:   log,
	})
}

// loopback reports whether rawURL names a loopback host.
func loopback(rawURL string) bool {
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}
