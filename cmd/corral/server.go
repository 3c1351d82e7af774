package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"corral/pki"
	"corral/server"
	"corral/service"
)

// defaultDataDirFrom is where the server keeps its state unless told otherwise: $CORRAL_DATA,
// else $XDG_DATA_HOME/corral, else ~/.local/share/corral; getenv reads the environment.
func defaultDataDirFrom(getenv func(string) string) string {
	if d := getenv("CORRAL_DATA"); d != "" {
		return d
	}
	if d := getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "corral")
	}
	if home := getenv("HOME"); home != "" {
		return filepath.Join(home, ".local", "share", "corral")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "corral")
	}
	return "corral-data"
}

// serverSpec describes `corral server` for its help text.
var serverSpec = verbSpec{
	name:     "server",
	synopsis: "[--listen ADDR] [--data DIR] [--provider local|static|exec] [--exec-create PROG --exec-delete PROG [--exec-list PROG] ...] [--node-lost-after DUR] [--tls | --tls-cert FILE --tls-key FILE | --plain-http] [--tls-name NAME]... [--token-file FILE] [--jwt-issuer URL [--jwks-url URL] [--jwt-audience AUD]... [--jwt-subject ID]...] [--autoscale-min-interval DUR] [--provision-delay DUR] [--failure-rate F] [--read-limit N]",
	summary:  "Run Corral: the REST API, the service, and nodes as local agent processes or machines of your own.",
	help: `The server keeps its store, account key and nodes' directories in the data directory
($CORRAL_DATA, else $XDG_DATA_HOME/corral, else ~/.local/share/corral) and serves until
Ctrl-C or SIGTERM. Node agents outlive it and are adopted again when it comes back.

Transport: on a loopback address (127.0.0.1, ::1, localhost; the default) the server serves
plain HTTP unless --tls, --tls-cert or --tls-name asks for TLS. On any other address, including
":8765" and "0.0.0.0:8765" (every interface), it serves TLS, and --plain-http there is refused
unless --insecure-allow-plain-http is given too. For TLS without --tls-cert, the server makes a
CA of its own and a certificate for localhost, the loopback and interface addresses, the host
name and every --tls-name, in DIR/tls/ (ca.crt is the file clients trust), and prints the CA's
fingerprint. See docs/security.md for how clients trust it.

Authentication: requests are signed with the account key (Shared Key). Clients that send bearer
tokens instead (the Azure SDK for Go knows nothing else) are accepted with --token-file, a file
of static tokens, one a line, readable by its owner only (and $CORRAL_TOKENS, comma-separated
tokens), and with --jwt-issuer, JWTs that the issuer signed for the audience
https://batch.core.windows.net/ (--jwt-audience to accept others; --jwt-subject to accept only
some principals). See docs/security.md.

For development, --autoscale-min-interval lets pools evaluate their autoscale formulas more
often than Azure's 5 minutes, and --provision-delay and --failure-rate make nodes behave more
like VMs: slow to boot, and sometimes not allocated at all.

With --provider exec, nodes are machines that your programs create, delete and list (a cloud's
command-line tool, for example); each machine runs ` + "`corral agent`" + ` with a join token and joins
by itself. examples/exec/README.md describes what the programs get and must do.`,
}

// serverOptions are the options of `corral server`.
type serverOptions struct {
	Listen string
	Data   string
	// TLS, TLSCert, TLSKey, TLSNames, PlainHTTP and InsecurePlainHTTP are the transport's flags
	// (server.Config's TLS, TLSCert, TLSKey, TLSNames, PlainHTTP and AllowInsecure); ServesTLS is
	// what they and Listen decide.
	TLS               bool
	TLSCert, TLSKey   string
	TLSNames          namesFlag
	PlainHTTP         bool
	InsecurePlainHTTP bool
	ServesTLS         bool

	// TokenFile, Tokens, JWTIssuer, JWKSURL, JWTAudiences and JWTSubjects configure bearer
	// tokens (server.Config's fields of those names); Tokens come from $CORRAL_TOKENS.
	TokenFile    string
	Tokens       []string
	JWTIssuer    string
	JWKSURL      string
	JWTAudiences []string
	JWTSubjects  []string

	AutoScaleMinInterval time.Duration
	NodeLostAfter        time.Duration
	ProvisionDelay       time.Duration
	FailureRate          float64
	ReadLimit            int
	Provider             string
	Exec                 server.ExecConfig

	// Store, ReplicaName, AdvertiseURL and LeaseTTL are server.Config's.
	Store        string
	ReplicaName  string
	AdvertiseURL string
	LeaseTTL     time.Duration
}

// parseServer fills serverOptions from the command line; getenv finds the default data directory.
func parseServer(fs *flag.FlagSet, args []string, getenv func(string) string) (*serverOptions, error) {
	o := &serverOptions{}
	fs.StringVar(&o.Listen, "listen", server.DefaultListen, "address to serve the REST API and the agent endpoint on")
	fs.StringVar(&o.Store, "store", getenv("CORRAL_STORE"), "a store that several servers share: postgres://… (or sqlite:PATH on one machine); default $CORRAL_STORE, else the SQLite file in --data, this server's alone")
	fs.StringVar(&o.ReplicaName, "replica-name", "", "with --store: this server's name among the replicas, unique and the same across restarts (default: --advertise-url)")
	fs.StringVar(&o.AdvertiseURL, "advertise-url", "", "with --store: the URL at which the other replicas reach this one (default: the listen address's)")
	fs.DurationVar(&o.LeaseTTL, "lease-ttl", 0, fmt.Sprintf("with --store: the leader lease's lifetime, 0 for %v; a standby takes over a dead leader after about this long", server.DefaultLeaseTTL))
	fs.StringVar(&o.Data, "data", defaultDataDirFrom(getenv), "data directory (store, account key, nodes)")
	fs.BoolVar(&o.TLS, "tls", false, "serve TLS on a loopback address too (elsewhere TLS is the default)")
	fs.StringVar(&o.TLSCert, "tls-cert", "", "PEM file of the server's certificate (and its chain), instead of one from a CA of the server's own; needs --tls-key")
	fs.StringVar(&o.TLSKey, "tls-key", "", "PEM file of the --tls-cert certificate's private key")
	fs.Var(&o.TLSNames, "tls-name", "a DNS name or IP address for the server's own certificate to cover besides the machine's (repeatable, or a comma-separated list)")
	fs.BoolVar(&o.PlainHTTP, "plain-http", false, "serve plain HTTP: the default on a loopback address, refused on any other without --insecure-allow-plain-http")
	fs.BoolVar(&o.InsecurePlainHTTP, "insecure-allow-plain-http", false,
		"with --plain-http, serve plain HTTP on an address that is not loopback: requests and their signatures cross the network unencrypted")
	fs.StringVar(&o.TokenFile, "token-file", getenv("CORRAL_TOKEN_FILE"),
		"a file of static bearer tokens, one a line, mode 0600: requests may carry one as \"Authorization: Bearer TOKEN\" instead of a Shared Key signature (default $CORRAL_TOKEN_FILE; $CORRAL_TOKENS adds comma-separated tokens)")
	fs.StringVar(&o.JWTIssuer, "jwt-issuer", "",
		"accept bearer JWTs (RS256, ES256) that this issuer signed: the exact iss claim, an https URL (Entra ID: https://sts.windows.net/TENANT/ or https://login.microsoftonline.com/TENANT/v2.0)")
	fs.StringVar(&o.JWKSURL, "jwks-url", "", "with --jwt-issuer: the URL of the issuer's keys (default: discovered at ISSUER/.well-known/openid-configuration)")
	fs.Func("jwt-audience", "with --jwt-issuer: an aud claim to accept instead of Azure Batch's https://batch.core.windows.net/ (repeatable, or a comma-separated list)", func(v string) error {
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				o.JWTAudiences = append(o.JWTAudiences, a)
			}
		}
		return nil
	})
	fs.Func("jwt-subject", "with --jwt-issuer: accept only this principal's JWTs, its oid claim (Entra ID's object id) or else sub (repeatable, or a comma-separated list; default: any)", func(v string) error {
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				o.JWTSubjects = append(o.JWTSubjects, a)
			}
		}
		return nil
	})
	fs.DurationVar(&o.NodeLostAfter, "node-lost-after", 60*time.Second,
		"how long a node's agent may be silent before the node is marked unusable and its tasks requeued (agents report every 5s)")
	fs.DurationVar(&o.AutoScaleMinInterval, "autoscale-min-interval", 0,
		"shortest autoscale evaluation interval a pool may have; 0 means Azure's 5m (e.g. 2s for development)")
	fs.DurationVar(&o.ProvisionDelay, "provision-delay", 0,
		"how long a new node takes to be ready after its agent starts, to imitate a VM's boot (e.g. 5s)")
	fs.Float64Var(&o.FailureRate, "failure-rate", 0,
		"probability, 0 to 1, that creating a node fails, to imitate allocation failures (e.g. 0.1)")
	fs.IntVar(&o.ReadLimit, "read-limit", server.DefaultReadLimit,
		"read requests (GET, HEAD) the REST API serves at once; beyond them a read waits up to 100ms, then is answered 503 ServerBusy with Retry-After, which Azure's clients retry; writes and agents are never throttled; -1 for no limit")
	fs.StringVar(&o.Provider, "provider", server.ProviderLocal,
		"where nodes come from: local (agent processes on this machine), static (machines that join pools with join tokens) or exec (machines your programs make)")
	fs.StringVar(&o.Exec.Create, "exec-create", "", "with --provider exec: the program that creates a node's machine")
	fs.StringVar(&o.Exec.Delete, "exec-delete", "", "with --provider exec: the program that deletes a node's machine")
	fs.StringVar(&o.Exec.List, "exec-list", "", "with --provider exec: the program that lists the machines (optional)")
	fs.StringVar(&o.Exec.ServerURL, "exec-server-url", "", "with --provider exec: the URL at which machines reach this server (default: the listen address)")
	fs.DurationVar(&o.Exec.CreateTimeout, "exec-create-timeout", 0, "with --provider exec: how long the create program may run (0: 10m)")
	fs.Func("exec-pass-env", "with --provider exec: comma-separated variables of this environment that the programs get too", func(v string) error {
		for _, name := range strings.Split(v, ",") {
			if name = strings.TrimSpace(name); name != "" {
				o.Exec.PassEnv = append(o.Exec.PassEnv, name)
			}
		}
		return nil
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if err := checkProviderFlags(fs, o); err != nil {
		return nil, err
	}
	if o.NodeLostAfter < time.Second {
		return nil, usagef("--node-lost-after %v: want at least 1s", o.NodeLostAfter)
	}
	if o.AutoScaleMinInterval < 0 {
		return nil, usagef("--autoscale-min-interval %v: want 0 (Azure's 5m) or a positive duration", o.AutoScaleMinInterval)
	}
	if o.ReadLimit == 0 || o.ReadLimit < -1 {
		return nil, usagef("--read-limit %d: want a positive number, or -1 for no limit", o.ReadLimit)
	}
	if o.ProvisionDelay < 0 {
		return nil, usagef("--provision-delay %v: want 0 or a positive duration", o.ProvisionDelay)
	}
	if !(o.FailureRate >= 0 && o.FailureRate <= 1) { // also rejects NaN
		return nil, usagef("--failure-rate %v: want a probability from 0 to 1", o.FailureRate)
	}
	if err := o.checkTransport(); err != nil {
		return nil, err
	}
	if err := checkReplicaFlags(fs, o); err != nil {
		return nil, err
	}
	if o.JWTIssuer == "" && (o.JWKSURL != "" || len(o.JWTAudiences) > 0 || len(o.JWTSubjects) > 0) {
		return nil, usagef("--jwks-url, --jwt-audience and --jwt-subject: only with --jwt-issuer")
	}
	if t := getenv("CORRAL_TOKENS"); t != "" {
		o.Tokens = server.SplitTokens(t)
	}
	return o, nil
}

// checkTransport checks the transport's flags and sets o.ServesTLS, by server.Config.ServesTLS
// (its rule) after checks that name the flags.
func (o *serverOptions) checkTransport() error {
	switch {
	case (o.TLSCert == "") != (o.TLSKey == ""):
		return usagef("--tls-cert and --tls-key go together")
	case o.PlainHTTP && (o.TLS || o.TLSCert != "" || len(o.TLSNames) > 0):
		return usagef("--plain-http and TLS (--tls, --tls-cert, --tls-name): choose one")
	case o.TLSCert != "" && len(o.TLSNames) > 0:
		return usagef("--tls-name names the certificate the server makes for itself; with --tls-cert, the certificate's names are its own")
	case o.InsecurePlainHTTP && !o.PlainHTTP:
		return usagef("--insecure-allow-plain-http only qualifies --plain-http")
	}
	var err error
	o.ServesTLS, err = o.config().ServesTLS()
	switch {
	case errors.Is(err, server.ErrPlainHTTPNotLoopback):
		return usagef("--plain-http on %s: Corral serves plain HTTP only on a loopback address (127.0.0.1, ::1, localhost), "+
			"since requests and the account's signatures would cross the network unencrypted; serve TLS, "+
			"or add --insecure-allow-plain-http to serve plain HTTP there anyway", o.Listen)
	case err != nil:
		return &usageError{err.Error()}
	}
	return nil
}

// config is the server's configuration for o, but for the account and logger.
func (o *serverOptions) config() server.Config {
	return server.Config{
		Listen:               o.Listen,
		DataDir:              o.Data,
		TLS:                  o.TLS,
		TLSCert:              o.TLSCert,
		TLSKey:               o.TLSKey,
		TLSNames:             o.TLSNames,
		PlainHTTP:            o.PlainHTTP,
		AllowInsecure:        o.InsecurePlainHTTP,
		AutoScaleMinInterval: o.AutoScaleMinInterval,
		Timing:               service.NodeTiming{CheckEvery: max(o.NodeLostAfter/12, 100*time.Millisecond), LostAfter: o.NodeLostAfter},
		ProvisionDelay:       o.ProvisionDelay,
		FailureRate:          o.FailureRate,
		ReadLimit:            o.ReadLimit,
		Provider:             o.Provider,
		Exec:                 o.Exec,
		Store:                o.Store,
		ReplicaName:          o.ReplicaName,
		AdvertiseURL:         o.AdvertiseURL,
		LeaseTTL:             o.LeaseTTL,
		TokenFile:            o.TokenFile,
		Tokens:               o.Tokens,
		JWTIssuer:            o.JWTIssuer,
		JWKSURL:              o.JWKSURL,
		JWTAudiences:         o.JWTAudiences,
		JWTSubjects:          o.JWTSubjects,
	}
}

// checkReplicaFlags checks the flags of a replica (they need --store).
func checkReplicaFlags(fs *flag.FlagSet, o *serverOptions) error {
	var flags []string
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "replica-name" || f.Name == "advertise-url" || f.Name == "lease-ttl" {
			flags = append(flags, "--"+f.Name)
		}
	})
	if o.Store == "" && len(flags) > 0 {
		return usagef("%s: only with --store (or $CORRAL_STORE)", strings.Join(flags, ", "))
	}
	if o.LeaseTTL != 0 && o.LeaseTTL < time.Second {
		return usagef("--lease-ttl %v: want 0 (%v) or at least 1s", o.LeaseTTL, server.DefaultLeaseTTL)
	}
	return nil
}

// namesFlag is a repeatable flag of names, each occurrence a name or a comma-separated list.
type namesFlag []string

func (n *namesFlag) String() string { return strings.Join(*n, ",") }

func (n *namesFlag) Set(s string) error {
	for _, name := range strings.Split(s, ",") {
		if name = strings.TrimSpace(name); !pki.ValidName(name) {
			return fmt.Errorf("%q is neither a DNS name nor an IP address", name)
		}
		*n = append(*n, name)
	}
	return nil
}

// checkProviderFlags checks that the flags given are those of the provider chosen.
func checkProviderFlags(fs *flag.FlagSet, o *serverOptions) error {
	var execFlags, localFlags []string
	fs.Visit(func(f *flag.Flag) {
		switch {
		case strings.HasPrefix(f.Name, "exec-"):
			execFlags = append(execFlags, "--"+f.Name)
		case f.Name == "provision-delay" || f.Name == "failure-rate":
			localFlags = append(localFlags, "--"+f.Name)
		}
	})
	switch o.Provider {
	case server.ProviderLocal, server.ProviderStatic:
		if len(execFlags) > 0 {
			return usagef("%s: only with --provider exec", strings.Join(execFlags, ", "))
		}
	case server.ProviderExec:
		if len(localFlags) > 0 {
			return usagef("%s: only with --provider local", strings.Join(localFlags, ", "))
		}
		if o.Exec.Create == "" || o.Exec.Delete == "" {
			return usagef("--provider exec needs --exec-create and --exec-delete")
		}
		if o.Exec.CreateTimeout < 0 {
			return usagef("--exec-create-timeout %v: want 0 (10m) or a positive duration", o.Exec.CreateTimeout)
		}
	default:
		return usagef("--provider %q: want local, static or exec", o.Provider)
	}
	return nil
}

// runServer is `corral server`: the whole service in one process, with the embedded defaults
// (SQLite in the data directory, nodes as local agent processes).
func runServer(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet(serverSpec.name)
	o, err := parseServer(fs, args, os.Getenv)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout, serverSpec, fs)
			return 0
		}
		fmt.Fprintf(stderr, "corral server: %v\n", err)
		fmt.Fprintf(stderr, "usage: corral server %s\n(corral server --help for more)\n", serverSpec.synopsis)
		return 2
	}
	acct, err := server.LoadAccount(o.Data, os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "corral server: %v\n", err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	cfg := o.config()
	cfg.Account, cfg.Logger = acct, log
	srv, err := server.Start(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "corral server: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "corral server: serving %s (account %q), data in %s\n", srv.URL, acct.Name, o.Data)
	if o.Store != "" {
		fmt.Fprintf(stdout, "corral server: a replica on %s: it runs the service while it holds the leader lease, and forwards to the leader otherwise\n", server.StoreName(o.Store))
	}
	switch {
	case !o.ServesTLS:
	case srv.CACertFile() != "":
		fmt.Fprintf(stdout, "corral server: TLS; clients trust the CA in %s (--ca or CORRAL_CA_CERT), fingerprint %s\n", srv.CACertFile(), srv.CAFingerprint())
	default:
		fmt.Fprintf(stdout, "corral server: TLS with the certificate of %s (its chain's last certificate has fingerprint %s)\n", o.TLSCert, srv.CAFingerprint())
	}
	switch {
	case acct.KeyPath == "":
		fmt.Fprintln(stdout, "corral server: account key from CORRAL_ACCOUNT_KEY")
	case acct.Created:
		fmt.Fprintf(stdout, "corral server: generated an account key; read it with: cat %s\n", acct.KeyPath)
	default:
		fmt.Fprintf(stdout, "corral server: account key in %s\n", acct.KeyPath)
	}
	if n := len(o.Tokens); o.TokenFile != "" || n > 0 || o.JWTIssuer != "" {
		var what []string
		if o.TokenFile != "" {
			what = append(what, "static tokens from "+o.TokenFile)
		}
		if n > 0 {
			what = append(what, fmt.Sprintf("%d static token(s) from CORRAL_TOKENS", n))
		}
		if o.JWTIssuer != "" {
			what = append(what, "JWTs of "+o.JWTIssuer)
		}
		fmt.Fprintf(stdout, "corral server: bearer tokens accepted: %s\n", strings.Join(what, "; "))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	if err := srv.Close(); err != nil {
		fmt.Fprintf(stderr, "corral server: %v\n", err)
		return 1
	}
	return 0
}
