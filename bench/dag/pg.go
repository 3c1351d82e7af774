package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"corral/store/postgres"
	"corral/store/postgres/pgtest"
)

// schedStoreKinds are the stores of the service-alone runs: -sched-store names some of them.
var schedStoreKinds = []string{"mem", "sqlite", "pg"}

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
