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

	"corral/server"
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
	synopsis: "[--listen ADDR] [--data DIR] [--autoscale-min-interval DUR] [--provision-delay DUR] [--failure-rate F]",
	summary:  "Run Corral: the REST API, the service, and nodes as local agent processes.",
	help: `The server keeps its store, account key and nodes' directories in the data directory
($CORRAL_DATA, else $XDG_DATA_HOME/corral, else ~/.local/share/corral) and serves until
Ctrl-C or SIGTERM. Node agents outlive it and are adopted again when it comes back.

For development, --autoscale-min-interval lets pools evaluate their autoscale formulas more
often than Azure's 5 minutes, and --provision-delay and --failure-rate make nodes behave more
like VMs: slow to boot, and sometimes not allocated at all.`,
}

// serverOptions are the options of `corral server`.
type serverOptions struct {
	Listen               string
	Data                 string
	AutoScaleMinInterval time.Duration
	ProvisionDelay       time.Duration
	FailureRate          float64
	Provider             string
}

// parseServer fills serverOptions from the command line; getenv finds the default data directory.
func parseServer(fs *flag.FlagSet, args []string, getenv func(string) string) (*serverOptions, error) {
	o := &serverOptions{}
	fs.StringVar(&o.Listen, "listen", server.DefaultListen, "address to serve the REST API and the agent endpoint on")
	fs.StringVar(&o.Data, "data", defaultDataDirFrom(getenv), "data directory (store, account key, nodes)")
	fs.DurationVar(&o.AutoScaleMinInterval, "autoscale-min-interval", 0,
		"shortest autoscale evaluation interval a pool may have; 0 means Azure's 5m (e.g. 2s for development)")
	fs.DurationVar(&o.ProvisionDelay, "provision-delay", 0,
		"how long a new node takes to be ready after its agent starts, to imitate a VM's boot (e.g. 5s)")
	fs.Float64Var(&o.FailureRate, "failure-rate", 0,
		"probability, 0 to 1, that creating a node fails, to imitate allocation failures (e.g. 0.1)")
	fs.StringVar(&o.Provider, "provider", server.ProviderLocal,
		"where nodes come from: local (agent processes on this machine) or static (machines that join pools with join tokens)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if o.Provider != server.ProviderLocal && o.Provider != server.ProviderStatic {
		return nil, usagef("--provider %q: want local or static", o.Provider)
	}
	if o.AutoScaleMinInterval < 0 {
		return nil, usagef("--autoscale-min-interval %v: want 0 (Azure's 5m) or a positive duration", o.AutoScaleMinInterval)
	}
	if o.ProvisionDelay < 0 {
		return nil, usagef("--provision-delay %v: want 0 or a positive duration", o.ProvisionDelay)
	}
	if !(o.FailureRate >= 0 && o.FailureRate <= 1) { // also rejects NaN
		return nil, usagef("--failure-rate %v: want a probability from 0 to 1", o.FailureRate)
	}
	return o, nil
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
	srv, err := server.Start(server.Config{
		Listen:               o.Listen,
		DataDir:              o.Data,
		Account:              acct,
		AutoScaleMinInterval: o.AutoScaleMinInterval,
		ProvisionDelay:       o.ProvisionDelay,
		FailureRate:          o.FailureRate,
		Provider:             o.Provider,
		Logger:               log,
	})
	if err != nil {
		fmt.Fprintf(stderr, "corral server: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "corral server: serving %s (account %q), data in %s\n", srv.URL, acct.Name, o.Data)
	switch {
	case acct.KeyPath == "":
		fmt.Fprintln(stdout, "corral server: account key from CORRAL_ACCOUNT_KEY")
	case acct.Created:
		fmt.Fprintf(stdout, "corral server: generated an account key; read it with: cat %s\n", acct.KeyPath)
	default:
		fmt.Fprintf(stdout, "corral server: account key in %s\n", acct.KeyPath)
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
