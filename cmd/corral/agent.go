package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"corral/agent"
)

// runAgent is `corral agent`: a node agent. The local VM provider starts one per node; on other
// machines an operator starts it. The account key comes from CORRAL_ACCOUNT_KEY (base64), never
// from the command line, where other users could read it.
func runAgent(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "", "the server's base URL")
	node := fs.String("node", "", "this node's id")
	pool := fs.String("pool", "", "the pool this node belongs to")
	root := fs.String("root", ".", "the node's root directory (tasks' files live under it)")
	giveUp := fs.Duration("give-up", 10*time.Minute, "exit when no server has answered for this long (0: never)")
	heartbeat := fs.Duration("heartbeat", 5*time.Second, "how often to report to the server")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *server == "" || *node == "" || *pool == "" {
		fmt.Fprintln(stderr, "corral agent: --server, --node and --pool are required")
		return 2
	}
	key, err := base64.StdEncoding.DecodeString(os.Getenv("CORRAL_ACCOUNT_KEY"))
	if err != nil || len(key) == 0 {
		fmt.Fprintln(stderr, "corral agent: CORRAL_ACCOUNT_KEY must hold the account key (base64)")
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("node", *node)
	c, err := agent.NewClient(agent.ClientConfig{
		ServerURL:      *server,
		NodeID:         *node,
		PoolID:         *pool,
		Key:            key,
		Runner:         agent.Config{Root: *root, AccountName: os.Getenv("CORRAL_ACCOUNT_NAME"), Logger: log},
		HeartbeatEvery: *heartbeat,
		GiveUpAfter:    *giveUp,
		Logger:         log,
	})
	if err != nil {
		fmt.Fprintf(stderr, "corral agent: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := c.Run(ctx); err != nil {
		if errors.Is(err, agent.ErrNoServer) {
			fmt.Fprintf(stderr, "corral agent: %v\n", err)
			return 3
		}
		fmt.Fprintf(stderr, "corral agent: %v\n", err)
		return 1
	}
	return 0
}
