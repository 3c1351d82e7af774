package main

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"corral/internal/testlog"
	"corral/server"
	"corral/store/postgres/pgtest"
)

func TestShape(t *testing.T) {
	for _, tc := range []struct {
		name     string
		sh       shape
		total    int
		lastDeps []string // deps of the last task
	}{
		{name: "full layers", sh: newShape(3, 4, 2), total: 12, lastDeps: []string{"t1-3", "t1-0"}},
		{name: "deps capped at width", sh: newShape(2, 2, 5), total: 4, lastDeps: []string{"t0-1", "t0-0"}},
		{name: "one layer", sh: newShape(1, 3, 2), total: 3, lastDeps: nil},
		{name: "partial last layer", sh: shapeOfTotal(10, 4, 1), total: 10, lastDeps: []string{"t1-1"}},
		{name: "total below width", sh: shapeOfTotal(3, 100, 2), total: 3, lastDeps: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.sh.Total != tc.total {
				t.Fatalf("Total %d, want %d", tc.sh.Total, tc.total)
			}
			tasks := tc.sh.tasks(0, tc.sh.Total, "true")
			if len(tasks) != tc.total {
				t.Fatalf("%d tasks, want %d", len(tasks), tc.total)
			}
			seen := map[string]bool{}
			for _, tk := range tasks {
				if seen[tk.ID] {
					t.Fatalf("task %s twice", tk.ID)
				}
				if tk.DependsOn != nil {
					for _, d := range tk.DependsOn.TaskIDs {
						if !seen[d] {
							t.Fatalf("task %s depends on %s, which comes later or does not exist", tk.ID, d)
						}
					}
				}
				seen[tk.ID] = true
			}
			var got []string
			if last := tasks[len(tasks)-1]; last.DependsOn != nil {
				got = last.DependsOn.TaskIDs
			}
			if !slices.Equal(got, tc.lastDeps) {
				t.Fatalf("last task depends on %v, want %v", got, tc.lastDeps)
			}
		})
	}
}

func TestMakefile(t *testing.T) {
	var b strings.Builder
	if err := newShape(2, 2, 2).writeMakefile(&b, "true"); err != nil {
		t.Fatal(err)
	}
	want := ".PHONY: all t0-0 t0-1 t1-0 t1-1\n\nall: t0-0 t0-1 t1-0 t1-1\n\n" +
		"t0-0:\n\ttrue\nt0-1:\n\ttrue\nt1-0: t0-0 t0-1\n\ttrue\nt1-1: t0-1 t0-0\n\ttrue\n"
	if b.String() != want {
		t.Fatalf("Makefile:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestMakeRuns runs a small DAG through make, if make is installed.
func TestMakeRuns(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	cl := &cleanup{}
	defer cl.run()
	if _, err := runMake(newShape(3, 3, 2), 2, "true", t.TempDir(), cl); err != nil {
		t.Fatal(err)
	}
}

func TestPercentile(t *testing.T) {
	ds := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 5}, {99, 10}, {100, 10}, {10, 1}, {1, 1}} {
		if got := percentile(ds, tc.p); got != tc.want {
			t.Errorf("percentile(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("percentile of nothing = %v", got)
	}
}

// TestSchedAlone runs a small DAG through the service alone (memstore, SQLite and, with
// pgtest.Env set, PostgreSQL; in-process agents) and checks what the run reports about it.
func TestSchedAlone(t *testing.T) {
	for _, kind := range schedStoreKinds {
		t.Run(kind, func(t *testing.T) {
			if kind == "pg" {
				pgtest.Require(t)
			}
			cl := &cleanup{}
			defer cl.run()
			sh := newShape(4, 5, 2)
			o := options{p: 2, nodes: 1, slots: 2, command: "true", timeout: time.Minute, dir: t.TempDir(), pg: os.Getenv(pgtest.Env)}
			r, err := runSched(o, sh, kind, "", true, nil, cl)
			if err != nil {
				t.Fatal(err)
			}
			if len(r.tm.dep) != sh.Total-sh.Width || len(r.tm.attempt) != sh.Total {
				t.Fatalf("%d dependency latencies and %d attempts, want %d and %d", len(r.tm.dep), len(r.tm.attempt), sh.Total-sh.Width, sh.Total)
			}
			if r.tm.dep[0] < 0 {
				t.Fatalf("a task started before its dependency ended: %v", r.tm.dep[0])
			}
		})
	}
}

func TestTimeWaitToBadURL(t *testing.T) {
	if n := timeWaitTo("http://127.0.0.1:notaport"); n != -1 {
		t.Fatalf("timeWaitTo of a bad URL = %d, want -1", n)
	}
}

func TestProbeDisk(t *testing.T) {
	p, err := probeDisk(t.TempDir(), 3, &cleanup{})
	if err != nil {
		t.Fatal(err)
	}
	if p.n != 3 || p.mkdir <= 0 || p.create <= 0 || p.syncPair <= 0 {
		t.Fatalf("probe: %+v", p)
	}
}

func TestParseSchedStores(t *testing.T) {
	for _, tc := range []struct {
		list, pg string
		want     []string
		err      string
	}{
		{list: "mem,sqlite", want: []string{"mem", "sqlite"}},
		{list: " mem , ,pg", pg: "postgres://h/db", want: []string{"mem", "pg"}},
		{list: "", want: nil},
		{list: "mem,pg", err: "no PostgreSQL server: pass -pg URL"},
		{list: "mem,redis", err: "-sched-store redis: unknown store"},
	} {
		got, err := parseSchedStores(tc.list, tc.pg)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseSchedStores(%q, %q): error %v, want one saying %q", tc.list, tc.pg, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseSchedStores(%q, %q) = %q, %v; want %q", tc.list, tc.pg, got, err, tc.want)
		}
	}
	for _, u := range []string{"", "postgres://h/db", "postgresql://u@h/db"} {
		if err := checkStoreURL(u); err != nil {
			t.Errorf("checkStoreURL(%q): %v", u, err)
		}
	}
	if err := checkStoreURL("host=h password=secret"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("checkStoreURL of keyword/value pairs: %v, want an error without the password", err)
	}
}

// TestStartServerPostgres starts the real server on a fresh PostgreSQL database, as -store does,
// and checks that it runs the service once startServer returns.
func TestStartServerPostgres(t *testing.T) {
	pgtest.Require(t)
	cl := &cleanup{}
	defer cl.run()
	o := options{store: os.Getenv(pgtest.Env)}
	srv, kind, err := startServer(o, "test", server.Config{
		Listen:  "127.0.0.1:0",
		DataDir: t.TempDir(),
		Account: server.Account{Name: "corral", Key: []byte(benchKey)},
		Logger:  testlog.New(t),
	}, cl)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if kind != "PostgreSQL" || srv.Runtime() == nil || srv.Store() == nil {
		t.Fatalf("store %q, runtime %v, store %v: want PostgreSQL and a running service", kind, srv.Runtime(), srv.Store())
	}
}
