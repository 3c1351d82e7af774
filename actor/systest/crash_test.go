package systest

import (
	"strings"
	"testing"

	"corral/actor"
)

type depose struct{}
type bye struct{ n int }
type memo struct{}
type noted struct{}
type greeting struct{}
type greeted struct{}

// deposed is the account actor of process a's first life. Told it is deposed, it moves the lease
// to b and, in that one step, says goodbye to the client, leaves a note for its helper, crashes
// a host and says goodbye again.
type deposed struct {
	s     *Sim
	l     *lease
	crash string // the host it crashes
	now   bool   // whether that host is down at once
	again string // in the error of a second CrashHost in the same step
}

func (d *deposed) Define(m *actor.Machine) {
	m.State("Lead", actor.On(func(ctx *actor.Context, _ depose) {
		d.l.leader = "b"
		ctx.Send("client", bye{1})
		ctx.Send("helper", memo{})
		err := d.s.CrashHost(d.crash)
		ctx.Assert(err == nil, "CrashHost(%s): %v", d.crash, err)
		ctx.Assert(d.s.hosts[d.crash].down == d.now, "host %s down at once: %v, want %v", d.crash, !d.now, d.now)
		err = d.s.CrashHost(d.crash)
		ctx.Assert(err != nil && strings.Contains(err.Error(), d.again), "second CrashHost(%s): %v, want an error with %q", d.crash, err, d.again)
		ctx.Send("client", bye{2})
	}))
}

// helper announces the notes it gets. In a standby's life it greets the account, which it has
// not: the router sends the greeting to the leader's.
type helper struct{ standby bool }

func (h helper) Define(m *actor.Machine) {
	m.State("Help",
		actor.OnEntry(func(ctx *actor.Context) {
			if h.standby {
				ctx.Send("account", greeting{})
			}
		}),
		actor.On(func(ctx *actor.Context, _ memo) { ctx.Announce(noted{}) }))
}

// leaderB is process b's account: it announces the greetings it gets.
type leaderB struct{}

func (leaderB) Define(m *actor.Machine) {
	m.State("Lead", actor.On(func(ctx *actor.Context, _ greeting) { ctx.Announce(greeted{}) }))
}

// deposer deposes the account (a's, through the router) and announces the goodbyes it gets.
type deposer struct{}

func (deposer) Define(m *actor.Machine) {
	m.State("Run",
		actor.OnEntry(func(ctx *actor.Context) { ctx.Send("account", depose{}) }),
		actor.On(func(ctx *actor.Context, b bye) { ctx.Announce(b) }))
}

// deposeWatch checks that both goodbyes arrive, in order, and that the helper's note is handled
// or greets come as expected; it is hot until all that is expected has happened. With fail set it
// fails once it has, so that the test can read the run's trace.
type deposeWatch struct {
	noted, greeted bool // expected
	byes           int
	sawNote, sawHi bool
	fail           bool
}

func (w *deposeWatch) Define(m *actor.Machine) {
	done := func(ctx *actor.Context) {
		if w.byes == 2 && w.sawNote == w.noted && w.sawHi == w.greeted {
			ctx.Assert(!w.fail, "all done")
			ctx.Goto("Done")
		}
	}
	m.State("Waiting", actor.Temp(actor.Hot),
		actor.On(func(ctx *actor.Context, b bye) {
			w.byes++
			ctx.Assert(b.n == w.byes, "goodbye %d arrived as number %d", b.n, w.byes)
			done(ctx)
		}),
		actor.On(func(ctx *actor.Context, _ noted) {
			ctx.Assert(w.noted, "the helper handled the note, though its host went down with the step that sent it")
			w.sawNote = true
			done(ctx)
		}),
		actor.On(func(ctx *actor.Context, _ greeted) {
			ctx.Assert(w.greeted, "greeted by a standby that should not be")
			w.sawHi = true
			done(ctx)
		}), actor.Targets("Done"))
	m.State("Done", actor.Temp(actor.Cold))
}

// A handler that crashes its own host does so when its step ends: the step's sends leave, then
// the host's actors are killed, and the strategy restarts the host later (here as a standby,
// whose helper reaches the new leader through the router). Crashing another host from a handler
// takes effect at once.
func TestCrashFromHandler(t *testing.T) {
	for _, tt := range []struct {
		name    string
		crash   string
		now     bool
		again   string
		noted   bool // the helper of a's first life handles the note
		greeted bool // a restarts as a standby, whose helper greets b's account
		account []string
	}{
		{name: "own host, at the step's end", crash: "a", again: "already going down at the end of this step", greeted: true,
			account: []string{
				"crash: host a goes down, as its actor's handler asked (CrashHost), after the step's sends",
				"host a restarts",
				"helper@a (helper) in Help starts",
				"account@b (leaderB) in Lead handles systest.greeting from helper@a",
			}},
		{name: "another host, at once", crash: "b", now: true, again: "already down", noted: true,
			account: []string{"helper@a (helper) in Help handles systest.memo from account@a"}},
	} {
		program := func(fail bool) func(*Sim) {
			return func(s *Sim) {
				l := &lease{leader: "a"}
				s.Monitor(&deposeWatch{noted: tt.noted, greeted: tt.greeted, fail: fail})
				s.Route(func(actor.ID) string { return l.leader })
				s.AddProcess("b", func(h actor.Host) error { _, err := h.Create("account", leaderB{}); return err })
				boots := 0
				s.AddProcess("a", func(h actor.Host) error {
					boots++
					if boots > 1 {
						_, err := h.Create("helper", helper{standby: true})
						return err
					}
					if _, err := h.Create("account", &deposed{s: s, l: l, crash: tt.crash, now: tt.now, again: tt.again}); err != nil {
						return err
					}
					_, err := h.Create("helper", helper{})
					return err
				})
				s.Create("client", deposer{})
			}
		}
		t.Run(tt.name, func(t *testing.T) {
			for _, strat := range []string{"random", "pct:3", "fair"} {
				if rep, err := Run(Config{Iterations: 100, MaxSteps: 200, Strategy: strat, Seed: 1}, program(false)); err != nil || rep.Bug != nil {
					t.Fatalf("%s: err=%v bug=%v", strat, err, rep.Bug)
				}
			}
			b := mustFind(t, Config{Iterations: 1, MaxSteps: 200, Seed: 1, NoShrink: true}, program(true))
			if !strings.Contains(b.Message, "all done") {
				t.Fatal(b.Text())
			}
			acc, at := account(b), 0
			for _, want := range tt.account {
				i := strings.Index(acc[at:], want)
				if i < 0 {
					t.Fatalf("trace lacks %q after what came before:\n%s", want, b.Text())
				}
				at += i + len(want)
			}
		})
	}
}
