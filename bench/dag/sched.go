package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"corral/actor"
	"corral/bench/fastnode"
	"corral/compute"
	"corral/service"
	"corral/store"
	"corral/store/memstore"
	"corral/store/postgres"
	"corral/store/sqlite"
)

// schedResult is what one run through the service alone measured.
type schedResult struct {
	store        string
	submit, wall time.Duration
	tm           timings // empty when not read
	cpu          time.Duration
}

// runSched runs the DAG through the service alone: service.Boot on an actor.Engine with the given
// store ("mem", "sqlite", or "pg": a fresh database on o.pg's PostgreSQL server, dropped by cl),
// and fastnode's in-process provider and agents, which complete every attempt the moment it is
// started. No process, no HTTP. withLatency reads the tasks' executionInfo afterwards (skipped when
// measuring peak memory, since reading adds to it). afterRun, if not nil, is called once every task
// has completed, before anything is torn down.
func runSched(o options, sh shape, storeKind, profile string, withLatency bool, afterRun func(*system) error, cl *cleanup) (schedResult, error) {
	res := schedResult{store: storeKind}
	var st store.Store
	switch storeKind {
	case "mem":
		st = memstore.New()
	case "sqlite":
		dir, err := tempDir(o.dir, "corral-bench-sched-", cl)
		if err != nil {
			return res, err
		}
		s, err := sqlite.Open(filepath.Join(dir, "corral.db"))
		if err != nil {
			return res, err
		}
		st = s
	case "pg":
		if o.pg == "" {
			return res, errors.New(noPostgres)
		}
		u, err := freshDatabase(o.pg, cl)
		if err != nil {
			return res, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		s, err := postgres.Open(ctx, u)
		cancel()
		if err != nil {
			return res, err
		}
		st = s
	default:
		return res, fmt.Errorf("unknown store %q (%s)", storeKind, strings.Join(schedStoreKinds, ", "))
	}
	eng := actor.NewEngine(actor.Options{Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if _, err := eng.Create(string(compute.ProviderID), &fastnode.Provider{AgentID: service.AgentID, SessionID: service.NodeSessionID}); err != nil {
		st.Close()
		return res, err
	}
	if err := eng.AddHost("service", func(h actor.Host) error {
		return service.Boot(h, service.Config{Store: st, Timing: service.NodeTiming{CheckEvery: time.Hour, LostAfter: 24 * time.Hour}})
	}); err != nil {
		st.Close()
		return res, err
	}
	defer cl.add(func() {
		eng.CrashHost("service") // waits for running handlers, so the store is not in use
		st.Close()
	})()
	if f := eng.Failures(); len(f) > 0 {
		return res, fmt.Errorf("actor failure: %v", f[0])
	}
	sys, err := newSystem(eng, st)
	if err != nil {
		return res, err
	}
	if err := sys.addPool("bench", o.nodes, o.slots); err != nil {
		return res, err
	}
	if err := sys.warmUp("bench", o.p, o.command); err != nil {
		return res, err
	}
	stopProfile, err := startCPUProfile(profile)
	if err != nil {
		return res, err
	}
	defer stopProfile()
	before, _ := cpuTimes()
	res.submit, res.wall, err = sys.run("dag", "bench", sh, o.command, o.timeout, "scheduler alone ("+storeKind+")")
	stopProfile()
	after, _ := cpuTimes()
	res.cpu = after - before
	if err != nil {
		return res, err
	}
	if f := eng.Failures(); len(f) > 0 {
		return res, fmt.Errorf("actor failure: %v", f[0])
	}
	if afterRun != nil {
		if err := afterRun(sys); err != nil {
			return res, err
		}
	}
	if withLatency {
		res.tm, err = sys.timings("dag", sh)
	}
	return res, err
}
