package failover

import (
	"context"
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

func TestActorvet(t *testing.T) {
	actorvet.Test(t, ".")
}

// setup adapts Setup to the tester.
func setup(bug bool) func(*systest.Sim) {
	return systest.Program(func(rt actor.Runtime) error { return Setup(rt, bug) })
}

// TestFixedPasses hunts the correct program with crashes and delays enabled: no double
// application, no lost acknowledgement, and every request eventually acknowledged. Raise the
// budget for a long hunt with SYSTEST_ITERATIONS, SYSTEST_STRATEGY and SYSTEST_SEED.
func TestFixedPasses(t *testing.T) {
	cfg := TesterConfig()
	cfg.Iterations = 300
	cfg.Strategy = "portfolio"
	cfg.Seed = 20300101
	systest.Test(t, cfg, setup(false))
}

// TestTesterFindsBug checks that every strategy finds the planted bug with a pinned seed, that it
// is the ExactlyOnce assertion (a request applied twice), and that the shrunk trace replays.
func TestTesterFindsBug(t *testing.T) {
	for _, strat := range []string{"random", "pct:3", "fair", "portfolio"} {
		t.Run(strat, func(t *testing.T) {
			cfg := TesterConfig()
			cfg.Iterations = 1000
			cfg.Strategy = strat
			cfg.Seed = 7
			cfg.TraceDir = t.TempDir()
			rep, err := systest.Run(cfg, setup(true))
			if err != nil {
				t.Fatal(err)
			}
			b := rep.Bug
			if b == nil {
				t.Fatalf("no bug found in %d iterations (%v)", rep.Iterations, rep.Elapsed)
			}
			if b.Kind != actor.FailAssert || b.Type != "ExactlyOnce" || !strings.Contains(b.Message, "applied twice") {
				t.Fatalf("found a different bug than the planted one:\n%s", b.Text())
			}
			if b.Replay != "" {
				t.Fatalf("the trace does not replay: %s\n%s", b.Replay, b.Text())
			}
			// The bug needs one crash at the right moment and nothing else: shrinking should drop
			// every other fault the hunt injected.
			t.Logf("%s: found in %d iterations, %v; shrunk from %d to %d steps, %d fault(s) left\n%s",
				strat, rep.Iterations, rep.Elapsed.Round(time.Millisecond), b.ShrunkFrom, b.Step, b.Trace.Faults(), b.Text())
			var tr strings.Builder
			if _, err := b.Trace.WriteTo(&tr); err != nil {
				t.Fatal(err)
			}
			if b.Trace.Faults() != 1 || !strings.Contains(tr.String(), "fault: crash host server") {
				t.Fatalf("the shrunk trace should keep exactly one fault, a crash of the server:\n%s", tr.String())
			}
		})
	}
}

// TestEngine runs the program under the production engine, crashes the server's host at a random
// moment and restarts it, and checks that every request is acknowledged and no monitor failed.
// With EXAMPLES_BUGGY=1 it runs the buggy server instead, so that
//
//	EXAMPLES_BUGGY=1 go test -race -count=200 -run TestEngine ./examples/failover
//
// counts how often real crashes at random moments expose the bug.
func TestEngine(t *testing.T) {
	buggy := os.Getenv("EXAMPLES_BUGGY") == "1"
	goroutines := runtime.NumGoroutine()

	var mu sync.Mutex
	var failures []*actor.Failure
	e := actor.NewEngine(actor.Options{
		Logger: slog.New(slog.DiscardHandler),
		OnFailure: func(f *actor.Failure) {
			mu.Lock()
			failures = append(failures, f)
			mu.Unlock()
		},
	})
	start := time.Now()
	if err := Setup(e, buggy); err != nil {
		t.Fatal(err)
	}
	// Crash at a uniformly random moment of crashWindow, about as long as the program takes
	// without a crash: the crash hits the server in any of its steps, or after it is done.
	crashAt := time.Duration(rand.Int64N(int64(crashWindow)))
	spinUntil(start.Add(crashAt))
	if err := e.CrashHost(serverHost); err != nil {
		t.Fatal(err)
	}
	// Stay down for up to two retry ticks, so that retries hit a dead server and some land
	// after the restart.
	time.Sleep(time.Duration(rand.Int64N(int64(2 * retryAfter))))
	if err := e.RestartHost(serverHost); err != nil {
		t.Fatal(err)
	}

	deadline := time.Now().Add(5 * time.Second)
	hot := e.HotMonitors()
	for len(hot) > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
		hot = e.HotMonitors()
	}
	elapsed := time.Since(start)
	shutdown(t, e, goroutines)

	mu.Lock()
	defer mu.Unlock()
	for _, f := range failures {
		t.Errorf("failure (crash at %v): %v", crashAt, f)
	}
	if len(hot) > 0 {
		t.Errorf("monitors still hot after %v (crash at %v): %v", elapsed, crashAt, hot)
	}
	t.Logf("buggy=%v: crash at %v, all acknowledged after %v, %d failure(s)", buggy, crashAt, elapsed.Round(time.Microsecond), len(failures))
}

// spinUntil waits until t. time.Sleep is too coarse for a window of microseconds.
func spinUntil(t time.Time) {
	for time.Now().Before(t) {
		runtime.Gosched()
	}
}

// shutdown stops every actor of the program and waits until no actor goroutine is left working:
// clients and store are halted (which cancels their timers), the server's host is crashed.
func shutdown(t *testing.T, e *actor.Engine, goroutines int) {
	t.Helper()
	for _, id := range []actor.ID{"client1", "client2", storeID} {
		e.Halt(id) // an error means it has halted already
	}
	e.CrashHost(serverHost) // an error means it is down already
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.WaitIdle(ctx); err != nil {
		t.Fatalf("actors still working after shutdown: %v", err)
	}
	// Goroutines of actors that have just gone idle, and of timers that have just been stopped,
	// may take a moment to exit.
	for deadline := time.Now().Add(2 * time.Second); runtime.NumGoroutine() > goroutines; {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines left, %d before the test:\n%s", runtime.NumGoroutine(), goroutines, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
}
