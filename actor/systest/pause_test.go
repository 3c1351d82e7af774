package systest

import (
	"strings"
	"testing"
	"time"

	"corral/actor"
)

type worked struct{ n int }
type rang struct{}

// worker announces that it started, and every ping it handles.
type worker struct{}

func (worker) Define(m *actor.Machine) {
	m.State("Work",
		actor.OnEntry(func(ctx *actor.Context) { ctx.Announce(worked{0}) }),
		actor.On(func(ctx *actor.Context, p ping) { ctx.Announce(worked{p.n}) }))
}

// bell pauses process p and sends two pings to its worker, all in one step, then rings after
// five seconds and resumes p.
type bell struct{ s *Sim }

func (b bell) Define(m *actor.Machine) {
	m.State("Wait",
		actor.OnEntry(func(ctx *actor.Context) {
			err := b.s.PauseHost("p")
			ctx.Assert(err == nil, "pause: %v", err)
			ctx.Send("w", ping{1})
			ctx.Send("w", ping{2})
			ctx.StartTimer(5*time.Second, wake{"bell"})
		}),
		actor.On(func(ctx *actor.Context, _ wake) {
			ctx.Announce(rang{})
			err := b.s.ResumeHost("p")
			ctx.Assert(err == nil, "resume: %v", err)
		}))
}

// pauseWatch asserts that the worker of process p never works while p is paused, and notes what
// it finds when the bell rings while p is paused. It is hot until both pings are handled.
type pauseWatch struct {
	s       *Sim
	pings   int
	rang    bool
	pending int // events in the worker's mailbox when the bell rang while p was paused; -1: it did not
}

func (w *pauseWatch) Define(m *actor.Machine) {
	work := actor.On(func(ctx *actor.Context, e worked) {
		ctx.Assert(!w.s.hosts["p"].paused, "the worker handled ping %d while p was paused", e.n)
		if e.n > 0 {
			w.pings++
		}
		if w.pings == 2 && w.rang {
			ctx.Goto("Done")
		}
	})
	ring := actor.On(func(ctx *actor.Context, _ rang) {
		w.rang = true
		if p := w.s.hosts["p"]; p.paused {
			w.pending = p.ns["w"].Pending()
		}
		if w.pings == 2 {
			ctx.Goto("Done")
		}
	})
	m.State("Waiting", actor.Temp(actor.Hot), work, ring, actor.Targets("Done"))
	m.State("Done", actor.Temp(actor.Cold), work)
}

// A paused host takes no steps; events reach its actors' mailboxes meanwhile, and virtual time
// moves on with other hosts' timers. Once resumed, its actors handle what waited.
func TestPausedHostTakesNoSteps(t *testing.T) {
	for _, strat := range []string{"random", "pct:3", "fair"} {
		t.Run(strat, func(t *testing.T) {
			seen := 0 // runs in which the bell rang while both pings waited on the paused host
			for seed := uint64(1); seed <= 40; seed++ {
				watch := &pauseWatch{pending: -1}
				rep, err := Run(Config{Iterations: 1, MaxSteps: 200, Strategy: strat, Seed: seed, TraceDir: t.TempDir()}, Program(func(rt actor.Runtime) error {
					s := rt.(*Sim)
					watch.s = s
					s.Route(func(actor.ID) string { return "p" })
					if err := s.Monitor(watch); err != nil {
						return err
					}
					if err := s.AddProcess("p", func(h actor.Host) error { _, err := h.Create("w", worker{}); return err }); err != nil {
						return err
					}
					_, err := s.Create("bell", bell{s})
					return err
				}))
				if err != nil {
					t.Fatal(err)
				}
				if rep.Bug != nil {
					t.Fatalf("seed %d: %s", seed, rep.Bug.Text())
				}
				if watch.pending == 2 {
					seen++
				}
			}
			if seen == 0 {
				t.Fatal("in no run did the bell ring while both pings waited on the paused host")
			}
		})
	}
}

// failAt fails on the n-th number received: a bug at the end of a run, whose trace the test reads.
type failAt struct{ n, got int }

func (f *failAt) Define(m *actor.Machine) {
	m.State("Count", actor.On(func(ctx *actor.Context, _ received) {
		f.got++
		ctx.Assert(f.got < f.n, "received %d", f.got)
	}))
}

// A pause the tester chooses is a fault in the trace, which replays step for step; shrinking
// removes it when the bug does not need it. Pauses are not liveness bugs: the strategy resumes
// paused hosts.
func TestPauseFault(t *testing.T) {
	program := func(monitor func() actor.Actor) func(*Sim) {
		return func(s *Sim) {
			s.Monitor(monitor())
			s.AddProcess("p", func(h actor.Host) error { _, err := h.Create("receiver", receiver{}); return err })
			s.Route(func(actor.ID) string { return "p" })
			s.Create("sender", &sequencer{count: 4})
		}
	}
	t.Run("no liveness bug", func(t *testing.T) {
		for _, strat := range []string{"random", "pct:3", "fair", "portfolio"} {
			rep, err := Run(Config{Iterations: 200, MaxSteps: 300, LivenessThreshold: 100, Strategy: strat, Seed: 1,
				Faults: Faults{Pauses: 3, Rate: 0.5}}, program(func() actor.Actor { return &inOrder{} }))
			if err != nil || rep.Bug != nil {
				t.Fatalf("%s: err=%v bug=%v", strat, err, rep.Bug)
			}
		}
	})
	for _, tt := range []struct {
		name     string
		noShrink bool
		faults   int // in the reported trace
	}{
		{"recorded and replayed", true, 1},
		{"shrunk away", false, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			prog := program(func() actor.Actor { return &failAt{n: 4} })
			cfg := Config{Iterations: 1, MaxSteps: 100, Seed: 1, NoShrink: tt.noShrink, Faults: Faults{Pauses: 1, Rate: 1, CrashHosts: []string{"p"}}}
			b := mustFind(t, cfg, prog)
			if b.Trace.Faults() != tt.faults {
				t.Fatalf("trace has %d faults, want %d:\n%s", b.Trace.Faults(), tt.faults, b.Text())
			}
			acc := b.Trace.Account()
			pause, resume := -1, -1
			for i, line := range acc {
				if strings.Contains(line, "fault: pause host p after the step's sends") {
					pause = i
				}
				if strings.Contains(line, "host p resumes") {
					resume = i
				}
				if pause >= 0 && resume < 0 && i > pause && strings.Contains(line, "receiver@p (receiver)") {
					t.Fatalf("receiver@p took step %d while p was paused:\n%s", i, b.Text())
				}
			}
			if (tt.faults > 0) != (pause >= 0 && resume > pause) {
				t.Fatalf("pause at step %d, resume at step %d:\n%s", pause, resume, b.Text())
			}
			tr, err := ReadTraceFile(b.TracePath)
			if err != nil {
				t.Fatal(err)
			}
			again := Replay(cfg, tr, prog)
			if again.Bug == nil || again.Bug.signature() != b.signature() || again.Bug.Step != b.Step {
				t.Fatalf("replay gave %v, want the same bug at step %d", again.Bug, b.Step)
			}
		})
	}
}

// script makes calls on the Sim from its start step, all in that one step, and keeps their errors.
type script struct {
	s     *Sim
	calls []string // "PauseHost p", "ResumeHost p", "CrashHost p", "RestartHost p"
	errs  []string // "" for no error
}

func (c *script) Define(m *actor.Machine) {
	m.State("Run", actor.OnEntry(func(ctx *actor.Context) {
		for _, call := range c.calls {
			verb, host, _ := strings.Cut(call, " ")
			f := map[string]func(string) error{"PauseHost": c.s.PauseHost, "ResumeHost": c.s.ResumeHost, "CrashHost": c.s.CrashHost, "RestartHost": c.s.RestartHost}[verb]
			msg := ""
			if err := f(host); err != nil {
				msg = err.Error()
			}
			c.errs = append(c.errs, msg)
		}
	}))
}

func TestPauseAndResumeHost(t *testing.T) {
	for _, tt := range []struct {
		calls []string
		want  []string // in each call's error, "" for none
	}{
		{[]string{"PauseHost nowhere", "ResumeHost nowhere"}, []string{"no host nowhere", "no host nowhere"}},
		{[]string{"PauseHost p", "PauseHost p", "ResumeHost p", "ResumeHost p"}, []string{"", "already paused", "", "not paused"}},
		{[]string{"PauseHost p", "CrashHost p", "ResumeHost p", "PauseHost p", "RestartHost p", "PauseHost p"}, []string{"", "", "not paused", "is down", "", ""}},
		{[]string{"PauseHost h", "ResumeHost h"}, []string{"", ""}},
	} {
		t.Run(strings.Join(tt.calls, ", "), func(t *testing.T) {
			var c *script
			rep, err := Run(Config{Iterations: 1, Seed: 1}, func(s *Sim) {
				s.AddProcess("p", func(actor.Host) error { return nil })
				s.AddHost("h", func(actor.Host) error { return nil })
				c = &script{s: s, calls: tt.calls}
				s.Create("script", c)
			})
			if err != nil || rep.Bug != nil {
				t.Fatalf("err=%v bug=%v", err, rep.Bug)
			}
			if len(c.errs) != len(tt.want) {
				t.Fatalf("%d calls made, want %d", len(c.errs), len(tt.want))
			}
			for i, want := range tt.want {
				if got := c.errs[i]; (want == "") != (got == "") || !strings.Contains(got, want) {
					t.Errorf("%s: error %q, want %q", tt.calls[i], got, want)
				}
			}
		})
	}
}
