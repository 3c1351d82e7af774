package systest

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Config sets the budget and the faults of a hunt. The zero value works: defaults are small enough
// for CI. Flags and environment variables (see [Flags]) override it, so that a long hunt can be run
// locally without editing the test.
type Config struct {
	// Iterations is how many runs of the program to try (default 100).
	Iterations int
	// MaxSteps bounds one run (default 2,000 steps). A run also ends when nothing is enabled.
	MaxSteps int
	// UnfairSteps is the length of PCT's priority-driven prefix; after it PCT schedules fairly
	// (at random), so liveness can be checked (default MaxSteps/10).
	UnfairSteps int
	// LivenessThreshold is how many fair steps a monitor may stay in a hot state before that is
	// reported as a liveness bug (default MaxSteps/2, so it moves with MaxSteps: a test that
	// lowers MaxSteps for speed also shortens the time its properties have to hold, and a slow
	// but correct retry loop can then look like a liveness bug; set it explicitly). Reports state
	// the threshold they judged by (Report.LivenessThreshold, Bug.LivenessThreshold).
	LivenessThreshold int
	// Strategy is "random" (default), "pct" or "pct:D" (depth D, default 3), "fair", "dfs", or
	// "portfolio" (iterations cycle through random, pct:3, pct:10 and fair).
	Strategy string
	// Seed determines the whole hunt. Zero means a seed derived from the clock; the report and the
	// trace always state the seed used.
	Seed uint64
	// Timeout bounds the hunt in wall-clock time (0: none). The hunt stops between iterations.
	Timeout time.Duration
	// ClockProbability weighs virtual time against everything else: it is the probability that a
	// strategy (random, fair, and PCT both in its priority-driven prefix and after it) advances
	// virtual time at a step where other operations are enabled too. Under PCT a weighed clock has
	// no priority of its own: when it does not run, the highest-priority other operation does. A
	// timer that is already due (several fall due at one instant) fires without moving time and
	// is not weighed. Zero, the default, makes the clock one more enabled operation, chosen as
	// often as any actor and, under PCT, an owner with a priority: timeouts then race freely with
	// message deliveries, which finds timing bugs, but an always-enabled periodic timer lets time
	// run far ahead of the messages. A small value (0.02 to 0.05) models timeouts that are long
	// next to message delays, which liveness properties of timing-based protocols (a leader is
	// eventually elected) and realistic timeouts (Azure's 15-minute resize timeout) need. The
	// weight is per clock step, and a clock step goes to the next timer: a program whose only
	// timer is far ahead moves there in one step.
	ClockProbability float64
	// Faults lists the failures the tester may inject. None by default.
	Faults Faults
	// Watchdog is how long one handler may run before it is reported as blocked (default 10s).
	Watchdog time.Duration
	// TraceDir is where failing traces are written (default $TMPDIR/corral-systest).
	TraceDir string
	// NoShrink turns off shrinking of failing traces.
	NoShrink bool
	// ShrinkBudget bounds the replays spent shrinking one failure (default 500).
	ShrinkBudget int
	// NoCoverage turns off coverage collection (it costs a map update per step).
	NoCoverage bool
}

// Faults lists the faults the tester may inject in each run, with a budget for each. A fault is a
// choice like any other: recorded in the trace, replayed, and removed when shrinking if the bug
// does not need it.
type Faults struct {
	// Crashes is how many host crashes one run may have. After each step of an actor on a host the
	// tester may crash the host, either after the step's sends reached the network or before (the
	// handler's store writes happened; its messages are lost). A crashed host is restarted later,
	// when the strategy chooses.
	Crashes int
	// Pauses is how many host pauses one run may have. After each step of an actor on a host the
	// tester may pause the host, after the step's sends reached the network: its actors take no
	// steps, though events, delayed messages and timers still reach their mailboxes and virtual
	// time goes on, until the strategy resumes it (the operation "resume:<host>"), as a process
	// stopped by SIGSTOP or a long garbage-collection pause comes back late with all its state.
	// See Sim.PauseHost.
	Pauses int
	// CrashHosts names the hosts that may crash or pause; empty means every named host.
	CrashHosts []string
	// Drops, Duplicates and Delays bound the events between hosts that may be lost, delivered
	// twice, or held back in the network and delivered later, out of order.
	Drops, Duplicates, Delays int
	// Partitions bounds how many times a link between two hosts may be cut: every event on it, in
	// both directions, is lost until the strategy heals it.
	Partitions int
	// ModelFailures bounds how many calls to [Sim.Fail] may return true.
	ModelFailures int
	// Rate is the probability that a random strategy injects a fault at a point where one is
	// allowed. Zero means a rate drawn per run between 0.001 and 0.1, so that runs differ in how
	// early and how often faults strike.
	Rate float64
}

func (f Faults) any() bool {
	return f.Crashes+f.Pauses+f.Drops+f.Duplicates+f.Delays+f.Partitions+f.ModelFailures > 0
}

// Flags are the command-line overrides of a [Config]. Every flag also reads an environment
// variable, which is handier with `go test ./...` (flags unknown to a package fail it):
//
//	-systest.iterations N   SYSTEST_ITERATIONS
//	-systest.steps N        SYSTEST_STEPS
//	-systest.strategy S     SYSTEST_STRATEGY
//	-systest.seed N         SYSTEST_SEED
//	-systest.timeout D      SYSTEST_TIMEOUT
//	-systest.replay FILE    SYSTEST_REPLAY
//	-systest.tracedir DIR   SYSTEST_TRACEDIR
//	-systest.coverage       SYSTEST_COVERAGE=1  (print every unreached handler and transition)
//	-systest.v              SYSTEST_V=1         (log every iteration's outcome)
var Flags = struct {
	Iterations *int
	Steps      *int
	Strategy   *string
	Seed       *uint64
	Timeout    *time.Duration
	Replay     *string
	TraceDir   *string
	Coverage   *bool
	Verbose    *bool
}{
	Iterations: flag.Int("systest.iterations", 0, "systest: iterations per hunt (overrides the test's Config)"),
	Steps:      flag.Int("systest.steps", 0, "systest: max steps per iteration"),
	Strategy:   flag.String("systest.strategy", "", "systest: random, pct[:D], fair, dfs or portfolio"),
	Seed:       flag.Uint64("systest.seed", 0, "systest: seed of the hunt"),
	Timeout:    flag.Duration("systest.timeout", 0, "systest: wall-clock budget per hunt"),
	Replay:     flag.String("systest.replay", "", "systest: replay this trace file instead of hunting"),
	TraceDir:   flag.String("systest.tracedir", "", "systest: directory for failing traces"),
	Coverage:   flag.Bool("systest.coverage", false, "systest: list unreached handlers and transitions"),
	Verbose:    flag.Bool("systest.v", false, "systest: log every iteration"),
}

// withOverrides returns cfg with flags and environment variables applied, then defaults filled in.
func (cfg Config) withOverrides() (Config, error) {
	var err error
	geti := func(flagv int, env string, dst *int) {
		if flagv != 0 {
			*dst = flagv
		} else if v := os.Getenv(env); v != "" && err == nil {
			var n int
			n, err = strconv.Atoi(v)
			if err != nil {
				err = fmt.Errorf("systest: %s=%q: %w", env, v, err)
			}
			*dst = n
		}
	}
	geti(*Flags.Iterations, "SYSTEST_ITERATIONS", &cfg.Iterations)
	geti(*Flags.Steps, "SYSTEST_STEPS", &cfg.MaxSteps)
	if *Flags.Strategy != "" {
		cfg.Strategy = *Flags.Strategy
	} else if v := os.Getenv("SYSTEST_STRATEGY"); v != "" {
		cfg.Strategy = v
	}
	if *Flags.Seed != 0 {
		cfg.Seed = *Flags.Seed
	} else if v := os.Getenv("SYSTEST_SEED"); v != "" && err == nil {
		cfg.Seed, err = strconv.ParseUint(v, 10, 64)
	}
	if *Flags.Timeout != 0 {
		cfg.Timeout = *Flags.Timeout
	} else if v := os.Getenv("SYSTEST_TIMEOUT"); v != "" && err == nil {
		cfg.Timeout, err = time.ParseDuration(v)
	}
	if *Flags.TraceDir != "" {
		cfg.TraceDir = *Flags.TraceDir
	} else if v := os.Getenv("SYSTEST_TRACEDIR"); v != "" {
		cfg.TraceDir = v
	}
	if err != nil {
		return cfg, err
	}
	return cfg.withDefaults()
}

func (cfg Config) withDefaults() (Config, error) {
	if cfg.Iterations <= 0 {
		cfg.Iterations = 100
	}
	if cfg.MaxSteps <= 0 {
		cfg.MaxSteps = 2000
	}
	if cfg.UnfairSteps <= 0 {
		cfg.UnfairSteps = max(cfg.MaxSteps/10, 1)
	}
	if cfg.LivenessThreshold <= 0 {
		cfg.LivenessThreshold = max(cfg.MaxSteps/2, 1)
	}
	if cfg.Strategy == "" {
		cfg.Strategy = "random"
	}
	if cfg.ClockProbability < 0 || cfg.ClockProbability > 1 {
		return cfg, fmt.Errorf("systest: ClockProbability %v is not in [0, 1]", cfg.ClockProbability)
	}
	if _, err := newStrategy(cfg.Strategy, cfg); err != nil {
		return cfg, err
	}
	if cfg.Seed == 0 {
		cfg.Seed = uint64(time.Now().UnixNano())
	}
	if cfg.Watchdog <= 0 {
		cfg.Watchdog = 10 * time.Second
	}
	if cfg.TraceDir == "" {
		cfg.TraceDir = filepath.Join(os.TempDir(), "corral-systest")
	}
	if cfg.ShrinkBudget <= 0 {
		cfg.ShrinkBudget = 500
	}
	return cfg, nil
}

func envBool(name string) bool {
	v, _ := strconv.ParseBool(os.Getenv(name))
	return v
}
