package raft

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/actor"
	"corral/actor/actorvet"
	"corral/actor/systest"
)

// program adapts Setup to the tester.
func program(bug bool) func(*systest.Sim) {
	return systest.Program(func(rt actor.Runtime) error { return Setup(rt, bug) })
}

func TestActorvet(t *testing.T) {
	actorvet.Test(t, ".")
}

func TestFixedPasses(t *testing.T) {
	for _, servers := range []int{3, 5} {
		t.Run(fmt.Sprintf("%d servers", servers), func(t *testing.T) {
			cfg := TesterConfig()
			cfg.Iterations, cfg.Strategy, cfg.Seed = 300, "portfolio", 1
			systest.Test(t, cfg, systest.Program(func(rt actor.Runtime) error { return setup(rt, servers, false) }))
		})
	}
}

func TestTesterFindsBug(t *testing.T) {
	// With seeds 1 to 20, no strategy needed more than about 2,300 iterations; the bound leaves
	// room for changes in the tester's scheduling, and costs nothing while the bug is found.
	const seed, iterations = 1, 10_000
	for _, strategy := range []string{"random", "pct:3", "fair", "portfolio"} {
		t.Run(strategy, func(t *testing.T) {
			cfg := TesterConfig()
			cfg.Iterations, cfg.Strategy, cfg.Seed = iterations, strategy, seed
			cfg.TraceDir = t.TempDir()
			rep, err := systest.Run(cfg, program(true))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Bug == nil {
				t.Fatalf("no bug found in %d iterations (%v)", rep.Iterations, rep.Elapsed)
			}
			b := rep.Bug
			t.Logf("found in %d iterations, %v (%s, iteration seed %d): %s", rep.Iterations, rep.Elapsed.Round(time.Millisecond), b.Strategy, b.Seed, b.Summary())
			if b.Kind != actor.FailAssert || b.Type != "OneLeaderPerTerm" || !strings.Contains(b.Message, "two leaders in term") {
				t.Fatalf("found the wrong bug:\n%s", b.Text())
			}
			if b.Replay != "" {
				t.Fatalf("the trace does not replay: %s\n%s", b.Replay, b.Text())
			}
		})
	}
}

// leaders counts BecameLeader announcements. It is the test's own monitor, not part of the
// program: under the engine, monitors run on the actors' goroutines, so it locks.
type leaders struct {
	mu sync.Mutex
	n  int
}

func (l *leaders) Define(m *actor.Machine) {
	m.State("Counting", actor.On(func(_ *actor.Context, _ BecameLeader) {
		l.mu.Lock()
		l.n++
		l.mu.Unlock()
	}))
}

func (l *leaders) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// TestEngine runs the program under the production engine for a short real time, crashing a
// random server now and then and restarting it at once (the fault the tester injects), and checks
// that no monitor or actor failed. With EXAMPLES_BUGGY=1 it runs the buggy servers, to measure how often
// production runs expose the bug:
//
//	EXAMPLES_BUGGY=1 go test -race -count=200 -run TestEngine ./examples/raft
func TestEngine(t *testing.T) {
	const (
		runFor     = 200 * time.Millisecond
		crashEvery = 20 * time.Millisecond
	)
	buggy := os.Getenv("EXAMPLES_BUGGY") == "1"
	goroutines := runtime.NumGoroutine()

	var mu sync.Mutex
	var failures []string
	e := actor.NewEngine(actor.Options{
		Logger: slog.New(slog.DiscardHandler),
		OnFailure: func(f *actor.Failure) {
			mu.Lock()
			failures = append(failures, f.Error())
			mu.Unlock()
		},
	})
	var elected leaders
	if err := e.Monitor(&elected); err != nil {
		t.Fatal(err)
	}
	if err := Setup(e, buggy); err != nil {
		t.Fatal(err)
	}
	hosts := []string{"s1", "s2", "s3"}
	// If the test stops early, still stop every server. A host that is already down returns an
	// error, which does not matter here.
	t.Cleanup(func() {
		for _, h := range hosts {
			e.CrashHost(h)
		}
	})

	// waitIdle waits until no handler is running. After CrashHost, the crashed actor's current
	// handler may still be running; restarting its host before that handler returns would let two
	// incarnations of one server use its disk at once.
	waitIdle := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.WaitIdle(ctx); err != nil {
			t.Fatalf("engine not idle: %v", err)
		}
	}
	for end := time.Now().Add(runFor); time.Now().Before(end); {
		time.Sleep(crashEvery)
		h := hosts[rand.IntN(len(hosts))]
		if err := e.CrashHost(h); err != nil {
			t.Fatal(err)
		}
		waitIdle()
		if err := e.RestartHost(h); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range hosts {
		if err := e.CrashHost(h); err != nil {
			t.Fatal(err)
		}
	}
	waitIdle()

	mu.Lock()
	defer mu.Unlock()
	for _, f := range failures {
		t.Errorf("failure: %s", f)
	}
	if !buggy && elected.count() == 0 {
		t.Errorf("no leader was elected in %v", runFor)
	}
	t.Logf("buggy=%v: %d leaders elected", buggy, elected.count())

	// Every actor's goroutine must be gone: wait for the last ones to return.
	for deadline := time.Now().Add(time.Second); runtime.NumGoroutine() > goroutines; {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left running, %d before the test", runtime.NumGoroutine(), goroutines)
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkHunt measures the tester on this program: b.N runs of the fixed servers, 200 steps
// each, with the random strategy.
func BenchmarkHunt(b *testing.B) {
	cfg := TesterConfig()
	cfg.Iterations, cfg.Strategy, cfg.Seed = b.N, "random", 1
	cfg.NoShrink, cfg.NoCoverage = true, true
	b.ResetTimer()
	rep, err := systest.Run(cfg, program(false))
	if err != nil {
		b.Fatal(err)
	}
	if rep.Bug != nil {
		b.Fatal(rep.Bug.Text())
	}
	secs := rep.Elapsed.Seconds()
	b.ReportMetric(float64(rep.Iterations)/secs, "iters/s")
	b.ReportMetric(float64(rep.Steps)/secs, "steps/s")
}
