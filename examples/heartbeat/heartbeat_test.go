package heartbeat

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
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
	cfg := TesterConfig()
	cfg.Iterations = 300
	cfg.Strategy = "portfolio"
	cfg.Seed = 1
	systest.Test(t, cfg, program(false))
}

// isLivenessBug reports whether b is the planted bug: the liveness monitor left hot.
func isLivenessBug(b *systest.Bug) bool {
	return b != nil && b.Kind == actor.FailLiveness && b.Type == "liveness" && b.State == "Waiting"
}

func TestPCTFindsBug(t *testing.T) {
	for _, tc := range []struct {
		strategy string
		seed     uint64
	}{
		{"pct:10", 1},
		{"pct:3", 1},
	} {
		t.Run(tc.strategy, func(t *testing.T) {
			cfg := TesterConfig()
			cfg.Iterations, cfg.Strategy, cfg.Seed = 1000, tc.strategy, tc.seed
			cfg.TraceDir = t.TempDir()
			rep, err := systest.Run(cfg, program(true))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Bug == nil {
				t.Fatalf("no bug found in %d iterations (%v)", rep.Iterations, rep.Elapsed)
			}
			b := rep.Bug
			t.Logf("found in %d iterations, %v (iteration seed %d, shrunk to %d steps): %s",
				rep.Iterations, rep.Elapsed.Round(time.Millisecond), b.Seed, b.Step, b.Summary())
			if !isLivenessBug(b) {
				t.Fatalf("found the wrong bug:\n%s", b.Text())
			}
			if b.Replay != "" {
				t.Fatalf("the trace does not replay: %s\n%s", b.Replay, b.Text())
			}
		})
	}
}

// TestRandomMissesBugIn1000 documents the contrast with TestPCTFindsBug: uniformly random
// scheduling, with the same budget, usually does not find the bug. It asserts nothing either way.
func TestRandomMissesBugIn1000(t *testing.T) {
	cfg := TesterConfig()
	cfg.Iterations, cfg.Strategy, cfg.Seed = 1000, "random", 1
	cfg.TraceDir = t.TempDir()
	rep, err := systest.Run(cfg, program(true))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Bug == nil {
		t.Logf("random: no bug in %d iterations of up to %d steps (%v)", rep.Iterations, cfg.MaxSteps, rep.Elapsed.Round(time.Millisecond))
		return
	}
	t.Logf("random: found a bug in %d iterations (%v): %s", rep.Iterations, rep.Elapsed.Round(time.Millisecond), rep.Bug.Summary())
}

// crashes records what the monitor sees, for TestEngine: how many nodes the driver crashed and
// how many the detector declared failed. It is the test's own monitor, not part of the program:
// under the engine, monitors run on the actors' goroutines, so it locks.
type crashes struct {
	mu               sync.Mutex
	halted, declared int
}

func (c *crashes) Define(m *actor.Machine) {
	m.State("Counting",
		actor.On(func(_ *actor.Context, _ nodeHalted) {
			c.mu.Lock()
			c.halted++
			c.mu.Unlock()
		}),
		actor.On(func(_ *actor.Context, _ failureDeclared) {
			c.mu.Lock()
			c.declared++
			c.mu.Unlock()
		}),
	)
}

func (c *crashes) counts() (halted, declared int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.halted, c.declared
}

// TestEngine runs the program under the production engine, with its real 1ms timer ticks, until
// the driver has crashed its victims and the liveness monitor is satisfied again, and checks that
// no actor or monitor failed. With EXAMPLES_BUGGY=1 it runs the buggy detector, to measure how
// often production runs expose the bug:
//
//	EXAMPLES_BUGGY=1 go test -race -count=200 -run TestEngine ./examples/heartbeat
func TestEngine(t *testing.T) {
	const deadline = 5 * time.Second
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
	var seen crashes
	if err := e.Monitor(&seen); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := Setup(e, buggy); err != nil {
		t.Fatal(err)
	}

	// The monitor is cold before the driver crashes anything: wait for the crashes first, then
	// for the monitor to be satisfied.
	var hot []string
	cold := false
	for end := start.Add(deadline); time.Now().Before(end); time.Sleep(time.Millisecond) {
		halted, _ := seen.counts()
		hot = e.HotMonitors()
		if halted == defaults.victims && len(hot) == 0 {
			cold = true
			break
		}
	}
	elapsed := time.Since(start)
	halted, declared := seen.counts()

	// Stop every actor, so that no timer keeps ticking after the test. The crashed nodes have
	// halted already.
	ids := []actor.ID{"driver", "detector", "timer"}
	for i := range defaults.nodes {
		ids = append(ids, actor.ID(fmt.Sprintf("node-%d", i+1)))
	}
	for _, id := range ids {
		if err := e.Halt(id); err != nil {
			if f, ok := actor.AsFailure(err); !ok || f.Kind != actor.FailDoubleHalt {
				t.Errorf("halt %s: %v", id, err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.WaitIdle(ctx); err != nil {
		t.Fatalf("engine not idle: %v", err)
	}

	mu.Lock()
	for _, f := range failures {
		t.Errorf("failure: %s", f)
	}
	mu.Unlock()
	if !cold {
		t.Errorf("buggy=%v: after %v, %d nodes crashed, %d declared failed, hot monitors %v", buggy, elapsed.Round(time.Millisecond), halted, declared, hot)
	} else {
		t.Logf("buggy=%v: %d nodes crashed and %d declared failed in %v", buggy, halted, declared, elapsed.Round(time.Millisecond))
	}

	// Every actor's goroutine must be gone: wait for the last ones to return.
	for end := time.Now().Add(time.Second); runtime.NumGoroutine() > goroutines; {
		if time.Now().After(end) {
			t.Fatalf("%d goroutines left running, %d before the test", runtime.NumGoroutine(), goroutines)
		}
		time.Sleep(time.Millisecond)
	}
}
