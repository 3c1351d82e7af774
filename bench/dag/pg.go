package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"corral/server"
	"corral/store/postgres"
	"corral/store/postgres/pgtest"
)

// schedStoreKinds are the stores of the service-alone runs: -sched-store names some of them.
var schedStoreKinds = []string{"mem", "sqlite", "pg"}

// benchLeaseTTL is the leader lease's lifetime of a server on PostgreSQL: short, so that the
// lone replica leads soon after it starts (after its first tick, a third of it).
const benchLeaseTTL = time.Second

// leadTimeout bounds how long a server on PostgreSQL may take to lead.
const leadTimeout = 30 * time.Second

// noPostgres says what to do when a run on PostgreSQL has no server to run on.
const noPostgres = "no PostgreSQL server: pass -pg URL or set " + pgtest.Env +
	" (a role that may CREATE DATABASE, e.g. postgres://corral:corral@127.0.0.1:5432/postgres?sslmode=disable)"

// parseSchedStores returns the stores that list (comma-separated) names, in its order, checking
// each is known and, for pg, that pgURL names a server.
func parseSchedStores(list, pgURL string) ([]string, error) {
	var kinds []string
	for _, kind := range strings.Split(list, ",") {
		kind = strings.TrimSpace(kind)
		if kind == "" {
			continue
		}
		if err := checkSchedStore(kind, pgURL); err != nil {
			return nil, fmt.Errorf("-sched-store %s: %w", kind, err)
		}
		kinds = append(kinds, kind)
	}
	return kinds, nil
}

// checkSchedStore checks that kind is a store of the service-alone runs and, for pg, that pgURL
// names a server.
func checkSchedStore(kind, pgURL string) error {
	if !slices.Contains(schedStoreKinds, kind) {
		return fmt.Errorf("unknown store (want %s)", strings.Join(schedStoreKinds, ", "))
	}
	if kind == "pg" && pgURL == "" {
		return errors.New(noPostgres)
	}
	return nil
}

// checkStoreURL checks the value of -store: empty (the server's own SQLite file) or the URL of a
// PostgreSQL server, the only form server.Config.Store takes.
func checkStoreURL(u string) error {
	if u == "" || strings.HasPrefix(u, "postgres://") || strings.HasPrefix(u, "postgresql://") {
		return nil
	}
	return fmt.Errorf("-store %s: want the URL of a PostgreSQL server (postgres://… or postgresql://…)", postgres.Redact(u))
}

// freshDatabase creates a new, empty database on the PostgreSQL server that admin names (a
// role that may CREATE DATABASE) and returns its connection string. cl drops it, closing any
// connection still open to it, at the end of the command, like every run's data.
func freshDatabase(admin string, cl *cleanup) (string, error) {
	u, drop, err := pgtest.NewDatabase(admin)
	if err != nil {
		return "", fmt.Errorf("a fresh database on %s: %w", postgres.Redact(admin), err)
	}
	cl.add(func() {
		if err := drop(); err != nil {
			fmt.Fprintf(os.Stderr, "bench/dag: %v\n", err)
		}
	})
	return u, nil
}

// startServer starts the real server with cfg. With -store, its store is a fresh database on
// that PostgreSQL server and its lease lives benchLeaseTTL; the server, a replica, serves once
// it leads, so startServer waits for that (at most leadTimeout). It returns the server, running
// the service, and the store's name for the output: "SQLite" (the file in its data directory) or
// "PostgreSQL". On PostgreSQL it prints which database, its line starting with label. On an
// error, the server is closed.
func startServer(o options, label string, cfg server.Config, cl *cleanup) (*server.Server, string, error) {
	kind := "SQLite"
	if o.store != "" {
		u, err := freshDatabase(o.store, cl)
		if err != nil {
			return nil, "", err
		}
		cfg.Store, cfg.LeaseTTL = u, benchLeaseTTL
		kind = "PostgreSQL"
	}
	start := time.Now()
	srv, err := server.Start(cfg)
	if err != nil {
		return nil, "", err
	}
	if o.store == "" {
		return srv, kind, nil
	}
	for srv.Runtime() == nil || srv.Store() == nil {
		if time.Since(start) > leadTimeout {
			srv.Close()
			return nil, "", fmt.Errorf("the server on %s did not lead within %v", postgres.Redact(cfg.Store), leadTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Printf("%s store: PostgreSQL, a fresh database, %s; the server led %.2fs after its start (lease %v)\n",
		label, postgres.Redact(cfg.Store), time.Since(start).Seconds(), cfg.LeaseTTL)
	watchLeadership(srv, label, cl)
	return srv, kind, nil
}

// watchLeadership says on stderr if srv, a replica, loses the lease it leads with now and leads
// again: its service is then halted and a new one boots from the store, so a run on the first
// does not finish (it ends at -timeout). The replica logs the loss itself, but below the level
// the benchmark shows. The watch ends with cl.
func watchLeadership(srv *server.Server, label string, cl *cleanup) {
	first := srv.Runtime()
	done := make(chan struct{})
	cl.add(func() { close(done) })
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			if rt := srv.Runtime(); rt != nil && rt != first {
				fmt.Fprintf(os.Stderr, "%s: the server lost the leader lease and leads again with a new service; this run will not finish\n", label)
				return
			}
		}
	}()
}
