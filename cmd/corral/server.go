package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"corral/server"
)

// defaultDataDir is where the server keeps its state unless told otherwise: $CORRAL_DATA, else
// $XDG_DATA_HOME/corral, else ~/.local/share/corral.
func defaultDataDir() string { return defaultDataDirFrom(os.Getenv) }

// defaultDataDirFrom is defaultDataDir with the environment read through getenv.
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

// runServer is `corral server`: the whole service in one process, with the embedded defaults
// (SQLite in the data directory, nodes as local agent processes).
func runServer(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", server.DefaultListen, "address to serve the REST API and the agent endpoint on")
	data := fs.String("data", defaultDataDir(), "data directory (store, account key, nodes)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	acct, err := server.LoadAccount(*data, os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "corral server: %v\n", err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	srv, err := server.Start(server.Config{Listen: *listen, DataDir: *data, Account: acct, Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "corral server: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "corral server: serving %s (account %q), data in %s\n", srv.URL, acct.Name, *data)
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
