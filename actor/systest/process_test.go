package systest

import (
	"fmt"
	"strings"
	"testing"

	"corral/actor"
)

// lease is the record that says which process leads, as the replicas' shared store keeps it.
type lease struct{ leader string }

type ping struct{ n int }
type pong struct {
	n    int
	from string
}
type served struct {
	n    int
	proc string
}

// xServer answers pings for its process, announcing which process served each.
type xServer struct{ proc string }

func (x xServer) Define(m *actor.Machine) {
	m.State("Serve", actor.On(func(ctx *actor.Context, p ping) {
		ctx.Assert(ctx.Host() == x.proc, "x of %s runs on %s", x.proc, ctx.Host())
		ctx.Announce(served{p.n, x.proc})
		ctx.Send("client", pong{p.n, x.proc})
	}))
}

// switcher pings x twice; after the first pong it moves the lease to process b.
type switcher struct{ l *lease }

func (c *switcher) Define(m *actor.Machine) {
	m.State("Ask",
		actor.OnEntry(func(ctx *actor.Context) { ctx.Send("x", ping{1}) }),
		actor.On(func(ctx *actor.Context, p pong) {
			if p.n == 1 {
				c.l.leader = "b"
				ctx.Send("x", ping{2})
			}
		}))
}

// servedBy is hot until every ping is served, and checks who served each.
type servedBy struct {
	want []string
	got  int
}

func (w *servedBy) Define(m *actor.Machine) {
	m.State("Waiting", actor.Temp(actor.Hot), actor.On(func(ctx *actor.Context, s served) {
		ctx.Assert(s.n == w.got+1 && s.proc == w.want[w.got], "ping %d served by %s; want ping %d served by %s", s.n, s.proc, w.got+1, w.want[w.got])
		w.got++
		if w.got == len(w.want) {
			ctx.Goto("Done")
		}
	}), actor.Targets("Done"))
	m.State("Done", actor.Temp(actor.Cold), actor.On(func(ctx *actor.Context, s served) {
		ctx.Assert(false, "ping %d served by %s after all were", s.n, s.proc)
	}))
}

func bootX(proc string) func(actor.Host) error {
	return func(h actor.Host) error {
		_, err := h.Create("x", xServer{proc: proc})
		return err
	}
}

// Two processes each have an actor x; the client in the default namespace reaches the one the
// lease names, through the router.
func TestRouterFollowsLease(t *testing.T) {
	for _, tt := range []struct {
		name    string
		route   func(l *lease) func(actor.ID) string // nil: no router
		want    []string                             // processes that serve ping 1 and 2
		bug     string                               // kind of the bug expected, "" for none
		account string                               // in the bug's trace
	}{
		{name: "lease moves from a to b", want: []string{"a", "b"},
			route: func(l *lease) func(actor.ID) string { return func(actor.ID) string { return l.leader } }},
		{name: "lease moves, bug shows which x ran", want: []string{"a", "a"}, bug: actor.FailAssert,
			route:   func(l *lease) func(actor.ID) string { return func(actor.ID) string { return l.leader } },
			account: "x@b (xServer) in Serve handles systest.ping from client"},
		{name: "no router", want: []string{"a"}, bug: actor.FailUnknownID, account: "unknown actor x"},
		{name: "router names nobody", want: []string{"a"}, bug: actor.FailLiveness,
			route:   func(*lease) func(actor.ID) string { return func(actor.ID) string { return "" } },
			account: "drop: systest.ping to x dropped: the router names no process"},
		{name: "router names a host", want: []string{"a"}, bug: actor.FailLiveness,
			route:   func(*lease) func(actor.ID) string { return func(actor.ID) string { return "plain" } },
			account: "the router names plain, which is not a process"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			program := func(s *Sim) {
				l := &lease{leader: "a"}
				s.Monitor(&servedBy{want: tt.want})
				s.AddHost("plain", func(actor.Host) error { return nil })
				s.AddProcess("a", bootX("a"))
				s.AddProcess("b", bootX("b"))
				if tt.route != nil {
					s.Route(tt.route(l))
				}
				s.Create("client", &switcher{l: l})
			}
			for _, strat := range []string{"random", "pct:3", "fair", "dfs"} {
				cfg := Config{Iterations: 100, MaxSteps: 100, Strategy: strat, Seed: 1}
				if tt.bug == "" {
					if rep, err := Run(cfg, program); err != nil || rep.Bug != nil {
						t.Fatalf("%s: err=%v bug=%v", strat, err, rep.Bug)
					}
					continue
				}
				b := mustFind(t, cfg, program)
				if b.Kind != tt.bug {
					t.Fatalf("%s: want a bug of kind %s, got %s", strat, tt.bug, b.Text())
				}
				if !strings.Contains(account(b), tt.account) && !strings.Contains(b.Message, tt.account) {
					t.Fatalf("%s: neither trace nor message has %q:\n%s", strat, tt.account, b.Text())
				}
			}
		})
	}
}

type whoami struct{ proc, id string }

// named announces, for every ping, which process's actor of which ID got it.
type named struct{ proc, id string }

func (n named) Define(m *actor.Machine) {
	m.State("Serve", actor.On(func(ctx *actor.Context, _ ping) { ctx.Announce(whoami(n)) }))
}

// caller sends one ping to each of its targets.
type caller struct{ to []actor.ID }

func (c caller) Define(m *actor.Machine) {
	m.State("Call", actor.OnEntry(func(ctx *actor.Context) {
		for _, to := range c.to {
			ctx.Send(to, ping{})
		}
	}))
}

// reached records which actors got pings; it is hot until it has as many as it wants.
type reached struct {
	want []whoami
	got  []whoami
}

func (r *reached) Define(m *actor.Machine) {
	m.State("Waiting", actor.Temp(actor.Hot), actor.On(func(ctx *actor.Context, w whoami) {
		r.got = append(r.got, w)
		ok := false
		for _, want := range r.want {
			ok = ok || want == w
		}
		ctx.Assert(ok, "%s of %s got a ping; want only %v", w.id, w.proc, r.want)
		if len(r.got) == len(r.want) {
			ctx.Goto("Done")
		}
	}), actor.Targets("Done"))
	m.State("Done", actor.Temp(actor.Cold), actor.On(func(ctx *actor.Context, w whoami) {
		ctx.Assert(false, "%s of %s got a ping after all had", w.id, w.proc)
	}))
}

// A process's actor reaches its own process's actor of an ID before the default namespace's and
// the router's.
func TestProcessResolvesOwnIDsFirst(t *testing.T) {
	for _, tt := range []struct {
		to   actor.ID
		want whoami
	}{
		{"x", whoami{"a", "x"}},      // a has x: its own, not b's
		{"z", whoami{"b", "z"}},      // a lacks z, the default namespace too: the router's b
		{"d", whoami{"", "d"}},       // a lacks d, the default namespace has it
		{"caller", whoami{"?", "?"}}, // itself: it has no handler for ping, an unhandled event
	} {
		t.Run(string(tt.to), func(t *testing.T) {
			program := func(s *Sim) {
				s.Monitor(&reached{want: []whoami{tt.want}})
				s.Create("d", named{"", "d"})
				s.AddProcess("b", func(h actor.Host) error {
					for _, id := range []string{"x", "z"} {
						if _, err := h.Create(id, named{"b", id}); err != nil {
							return err
						}
					}
					return nil
				})
				s.Route(func(actor.ID) string { return "b" })
				s.AddProcess("a", func(h actor.Host) error {
					if _, err := h.Create("x", named{"a", "x"}); err != nil {
						return err
					}
					_, err := h.Create("caller", caller{to: []actor.ID{tt.to}})
					return err
				})
			}
			rep, err := Run(Config{Iterations: 50, MaxSteps: 100, Seed: 1, TraceDir: t.TempDir()}, program)
			if err != nil {
				t.Fatal(err)
			}
			if tt.to == "caller" {
				if b := rep.Bug; b == nil || b.Kind != actor.FailUnhandled || b.Actor != "caller@a" {
					t.Fatalf("want caller@a failing on its own ping, got %v", b)
				}
				return
			}
			if rep.Bug != nil {
				t.Fatal(rep.Bug.Text())
			}
		})
	}
}

// An ID names actors of the default namespace or of processes, never both; processes' names
// cannot hold the @ that qualifies their actors' IDs.
func TestProcessNamespaceRules(t *testing.T) {
	// Each call is "default ID...", "host NAME ID..." or "process NAME ID...": actors of type
	// late created with those IDs, in that order.
	run := func(s *Sim, calls []string) error {
		for _, c := range calls {
			f := strings.Fields(c)
			boot := func(ids []string) func(actor.Host) error {
				return func(h actor.Host) error {
					for _, id := range ids {
						if _, err := h.Create(id, late{}); err != nil {
							return err
						}
					}
					return nil
				}
			}
			var err error
			switch f[0] {
			case "default":
				for _, id := range f[1:] {
					if _, err = s.Create(id, late{}); err != nil {
						break
					}
				}
			case "host":
				err = s.AddHost(f[1], boot(f[2:]))
			case "process":
				err = s.AddProcess(f[1], boot(f[2:]))
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	for _, tt := range []struct {
		name  string
		calls []string
		want  string // in the error; "" for none
	}{
		{"same ID in two processes", []string{"process a x", "process b x"}, ""},
		{"twice in one process", []string{"process a x x"}, "actor x@a already exists"},
		{"default, then process", []string{"default x", "process a x"}, "the ID x names an actor of the default namespace"},
		{"host of the default namespace, then process", []string{"host h x", "process a x"}, "the ID x names an actor of the default namespace"},
		{"process, then default", []string{"process a x", "default x"}, "the ID names actors of processes"},
		{"process, then host", []string{"process a x", "host h x"}, "the ID names actors of processes"},
		{"qualified name taken in the default namespace", []string{"default x@a", "process a x"}, "the ID x@a names an actor of the default namespace"},
		{"qualified name taken by a process", []string{"process a x", "default x@a"}, "the ID names actors of processes"},
		{"@ in a process name", []string{"process a@b x"}, "must not contain @"},
		{"process and host share a name", []string{"host a y", "process a x"}, "host a already exists"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got error
			Run(Config{Iterations: 1, Seed: 1}, func(s *Sim) { got = run(s, tt.calls) })
			switch {
			case tt.want == "" && got != nil:
				t.Fatalf("unexpected error %v", got)
			case tt.want != "" && (got == nil || !strings.Contains(got.Error(), tt.want)):
				t.Fatalf("error %v, want one with %q", got, tt.want)
			}
		})
	}
}

// mustFind hunts for a bug that the test expects, and checks that its trace replays.
func mustFind(t *testing.T, cfg Config, program func(*Sim)) *Bug {
	t.Helper()
	cfg.TraceDir = t.TempDir()
	rep, err := Run(cfg, program)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Bug == nil {
		t.Fatalf("no bug found in %d iterations", rep.Iterations)
	}
	if rep.Bug.Replay != "" {
		t.Fatalf("%s\n%s", rep.Bug.Replay, rep.Bug.Text())
	}
	return rep.Bug
}

// account is a bug's trace, as one text.
func account(b *Bug) string { return strings.Join(b.Trace.Account(), "\n") }

// Faults between hosts apply between processes too, by the host of the actor an event reaches;
// the trace names both ends qualified.
func TestProcessLinkFaults(t *testing.T) {
	program := func(s *Sim) {
		s.Monitor(&inOrder{})
		s.AddProcess("far", func(h actor.Host) error { _, err := h.Create("receiver", receiver{}); return err })
		s.Route(func(actor.ID) string { return "far" })
		s.AddProcess("near", func(h actor.Host) error { _, err := h.Create("sender", &sequencer{count: 4}); return err })
	}
	if rep, err := Run(Config{Iterations: 100, MaxSteps: 50, Seed: 2}, program); err != nil || rep.Bug != nil {
		t.Fatalf("without faults: err=%v bug=%v", err, rep.Bug)
	}
	for _, tt := range []struct {
		name   string
		faults Faults
		note   string // in the trace
	}{
		{"drop", Faults{Drops: 1}, "fault: drop systest.numbered from sender@near to receiver@far"},
		{"duplicate", Faults{Duplicates: 1}, "fault: duplicate systest.numbered from sender@near to receiver@far"},
		{"delay", Faults{Delays: 1}, "fault: delay systest.numbered from sender@near to receiver@far as net:1"},
		{"partition", Faults{Partitions: 1}, "fault: partition far|near (losing systest.numbered to receiver@far)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.faults.Rate = 0.3
			b := mustFind(t, Config{Iterations: 300, MaxSteps: 50, Seed: 2, Faults: tt.faults}, program)
			if !strings.Contains(account(b), tt.note) || b.Trace.Faults() != 1 {
				t.Fatalf("want one fault, %q:\n%s", tt.note, b.Text())
			}
		})
	}
}

// tally keeps the whoami announcements it sees.
type tally struct{ got []whoami }

func (t *tally) Define(m *actor.Machine) {
	m.State("Count", actor.On(func(_ *actor.Context, w whoami) { t.got = append(t.got, w) }))
}

// Send and Halt from setup resolve an ID as an actor of the default namespace does.
func TestSetupSendAndHaltResolve(t *testing.T) {
	for _, tt := range []struct {
		name   string
		route  string // the process the router names; "-" for no router
		call   string // "send" or "halt"
		to     actor.ID
		err    string   // in the error; "" for none
		note   string   // in a note of the run; "" for none
		got    []whoami // the actors that handle the ping sent
		halted string   // the process whose x halts, "" for none
	}{
		{name: "send through the router", route: "b", call: "send", to: "x", got: []whoami{{"b", "x"}}},
		{name: "send to the default namespace", route: "b", call: "send", to: "d", got: []whoami{{"", "d"}}},
		{name: "send without a router", route: "-", call: "send", to: "x", err: "send systest.ping to unknown actor x"},
		{name: "send the router drops", call: "send", to: "x", note: "systest.ping to x dropped: the router names no process"},
		{name: "send to a process without it", route: "b", call: "send", to: "z", note: "systest.ping to z dropped: the router names b, which has no live z"},
		{name: "halt through the router", route: "b", call: "halt", to: "x", halted: "b"},
		{name: "halt the router drops", route: "nowhere", call: "halt", to: "x", err: "halt x: the router names nowhere, which is not a process"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var sim *Sim
			var err error
			mon := &tally{}
			rep, _ := Run(Config{Iterations: 1, Seed: 1}, func(s *Sim) {
				sim = s
				s.Monitor(mon)
				s.Create("d", named{"", "d"})
				for _, p := range []string{"a", "b"} {
					s.AddProcess(p, func(h actor.Host) error { _, err := h.Create("x", named{p, "x"}); return err })
				}
				if tt.route != "-" {
					s.Route(func(actor.ID) string { return tt.route })
				}
				if tt.call == "send" {
					err = s.Send(tt.to, ping{})
				} else {
					err = s.Halt(tt.to)
				}
			})
			if rep.Bug != nil {
				t.Fatalf("bug: %s", rep.Bug.Text())
			}
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("error %v, want one with %q", err, tt.err)
			}
			noted := tt.note == ""
			for _, n := range sim.notes {
				noted = noted || strings.Contains(n.text, tt.note)
			}
			if !noted {
				t.Errorf("no note has %q", tt.note)
			}
			if fmt.Sprint(mon.got) != fmt.Sprint(tt.got) {
				t.Errorf("pings handled by %v, want %v", mon.got, tt.got)
			}
			for _, p := range []string{"a", "b"} {
				if got := sim.hosts[p].ns["x"].Halted(); got != (tt.halted == p) {
					t.Errorf("x@%s halted: %v", p, got)
				}
			}
		})
	}
}
