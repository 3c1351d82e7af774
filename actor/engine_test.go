package actor_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/actor"
)

type ping struct{ n int }
type pong struct{ n int }
type tick struct{}
type stop struct{}
type boom struct{}

// recorder collects what actors saw, safely across goroutines.
type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.got = append(r.got, s)
	r.mu.Unlock()
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newEngine(t *testing.T) *actor.Engine {
	t.Helper()
	return actor.NewEngine(actor.Options{Logger: quiet(), OnFailure: func(*actor.Failure) {}})
}

func waitIdle(t *testing.T, e *actor.Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle: %v", err)
	}
}

// ponger answers pings; it defers pings while Paused and ignores ticks.
type ponger struct{ rec *recorder }

func (p *ponger) Define(m *actor.Machine) {
	m.State("Ready",
		actor.On(func(ctx *actor.Context, ev ping) {
			p.rec.add("ping")
			ctx.Send(ID("pinger"), pong(ev))
		}),
		actor.Goto[stop]("Paused"),
		actor.Ignore[tick](),
	)
	m.State("Paused",
		actor.OnEntry(func(*actor.Context) { p.rec.add("paused") }),
		actor.Defer[ping](),
		actor.OnGoto[tick]("Ready", func(*actor.Context, tick) { p.rec.add("resume") }),
	)
}

type pinger struct {
	rec  *recorder
	want int
}

func (p *pinger) Define(m *actor.Machine) {
	m.State("Run",
		actor.On(func(ctx *actor.Context, ev pong) {
			p.rec.add("pong")
			if ev.n+1 == p.want {
				ctx.Halt()
				return
			}
			ctx.Send(ID("ponger"), ping{ev.n + 1})
		}),
	)
}

// ID is a shorthand in tests.
func ID(s string) actor.ID { return actor.ID(s) }

func TestEnginePingPongDeferAndIgnore(t *testing.T) {
	e := newEngine(t)
	rec := &recorder{}
	if _, err := e.Create("ponger", &ponger{rec: rec}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Create("pinger", &pinger{rec: rec, want: 3}); err != nil {
		t.Fatal(err)
	}
	// Pause the ponger, then ping: the ping waits until a tick resumes it.
	must(t, e.Send("ponger", stop{}))
	must(t, e.Send("ponger", ping{0}))
	waitIdle(t, e)
	if got := strings.Join(rec.all(), ","); got != "paused" {
		t.Fatalf("before resume got %q, want only paused (ping deferred)", got)
	}
	must(t, e.Send("ponger", tick{}))
	waitIdle(t, e)
	want := "paused,resume,ping,pong,ping,pong,ping,pong"
	if got := strings.Join(rec.all(), ","); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// The pinger halted after three pongs: further events are dropped, not errors.
	must(t, e.Send("pinger", pong{7}))
	waitIdle(t, e)
	if n := len(rec.all()); n != 8 {
		t.Fatalf("halted actor handled an event: %v", rec.all())
	}
	if f := e.Failures(); len(f) != 0 {
		t.Fatalf("unexpected failures: %v", f)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// failing is an actor whose handlers misbehave on purpose.
type failing struct{}

func (failing) Define(m *actor.Machine) {
	m.State("Only",
		actor.On(func(ctx *actor.Context, _ boom) { panic("kaboom") }),
		actor.On(func(ctx *actor.Context, _ stop) { ctx.Halt(); ctx.Halt() }),
		actor.On(func(ctx *actor.Context, _ ping) { ctx.Send("nobody", pong{}) }),
		actor.On(func(ctx *actor.Context, _ pong) { ctx.Goto("Nowhere") }),
	)
}

func TestEngineFailures(t *testing.T) {
	tests := []struct {
		name string
		ev   actor.Event
		kind string
		msg  string
	}{
		{"panic", boom{}, actor.FailPanic, "kaboom"},
		{"unhandled", tick{}, actor.FailUnhandled, "state Only does not handle actor_test.tick"},
		{"double halt", stop{}, actor.FailDoubleHalt, "Halt called twice"},
		{"unknown target", ping{}, actor.FailUnknownID, "unknown actor nobody"},
		{"bad goto", pong{}, actor.FailGoto, `Goto("Nowhere")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var fails []*actor.Failure
			e := actor.NewEngine(actor.Options{Logger: quiet(), OnFailure: func(f *actor.Failure) {
				mu.Lock()
				fails = append(fails, f)
				mu.Unlock()
			}})
			if _, err := e.Create("f", failing{}); err != nil {
				t.Fatal(err)
			}
			must(t, e.Send("f", tt.ev))
			waitIdle(t, e)
			mu.Lock()
			defer mu.Unlock()
			if len(fails) != 1 {
				t.Fatalf("got %d failures, want 1: %v", len(fails), fails)
			}
			f := fails[0]
			if f.Kind != tt.kind || !strings.Contains(f.Message, tt.msg) {
				t.Fatalf("failure = %v, want kind %s containing %q", f, tt.kind, tt.msg)
			}
			if f.Actor != "f" || f.State != "Only" || f.Type != "failing" {
				t.Fatalf("failure does not name actor and state: %+v", f)
			}
			if !strings.Contains(f.Error(), "actor f (failing) in state Only handling") {
				t.Fatalf("Error() = %q", f.Error())
			}
			// The failed actor is halted: the process goes on, and a later send is dropped.
			must(t, e.Send("f", boom{}))
			waitIdle(t, e)
			if len(fails) != 1 {
				t.Fatalf("failed actor handled another event")
			}
		})
	}
}

func TestEngineRuntimeErrors(t *testing.T) {
	e := newEngine(t)
	if err := e.Send("ghost", ping{}); err == nil || !strings.Contains(err.Error(), "unknown actor ghost") {
		t.Fatalf("send to unknown: %v", err)
	}
	if _, err := e.Create("a", failing{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Create("a", failing{}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate create: %v", err)
	}
	must(t, e.Halt("a"))
	if err := e.Halt("a"); err == nil || !strings.Contains(err.Error(), "already halted") {
		t.Fatalf("second halt: %v", err)
	}
	waitIdle(t, e)
	// A halted actor's ID may be used again.
	if _, err := e.Create("a", failing{}); err != nil {
		t.Fatalf("re-create after halt: %v", err)
	}
	if _, err := e.Create("bad", badMachine{}); err == nil || !strings.Contains(err.Error(), "declared twice") {
		t.Fatalf("bad definition: %v", err)
	}
}

type badMachine struct{}

func (badMachine) Define(m *actor.Machine) {
	m.State("A", actor.On(func(*actor.Context, ping) {}), actor.Ignore[ping]())
}

// timed starts a periodic timer and a one-shot it cancels before it fires.
type timed struct {
	rec    *recorder
	ticks  int
	period actor.TimerID
}

func (x *timed) Define(m *actor.Machine) {
	m.State("On",
		actor.OnEntry(func(ctx *actor.Context) {
			x.period = ctx.StartPeriodicTimer(time.Millisecond, time.Millisecond, tick{})
			late := ctx.StartTimer(time.Hour, boom{})
			if !ctx.CancelTimer(late) || ctx.CancelTimer(late) {
				x.rec.add("cancel result wrong")
			}
		}),
		actor.On(func(ctx *actor.Context, _ tick) {
			x.ticks++
			if x.ticks == 3 {
				ctx.CancelTimer(x.period)
				x.rec.add("done")
			}
			if x.ticks > 3 {
				x.rec.add("tick after cancel")
			}
		}),
	)
}

func TestEngineTimers(t *testing.T) {
	e := newEngine(t)
	rec := &recorder{}
	if _, err := e.Create("timed", &timed{rec: rec}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(rec.all()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // a tick after the cancel would show up here
	waitIdle(t, e)
	if got := strings.Join(rec.all(), ","); got != "done" {
		t.Fatalf("got %q, want done", got)
	}
}

// counterMonitor asserts that pongs arrive in order and is hot until it has seen three.
type counterMonitor struct{ next int }

func (c *counterMonitor) Define(m *actor.Machine) {
	m.State("Waiting", actor.Temp(actor.Hot),
		actor.On(func(ctx *actor.Context, ev pong) {
			ctx.Assert(ev.n == c.next, "pong %d out of order, want %d", ev.n, c.next)
			c.next++
			if c.next == 3 {
				ctx.Goto("Done")
			}
		}))
	m.State("Done", actor.Temp(actor.Cold), actor.Ignore[pong]())
}

type announcer struct{}

func (announcer) Define(m *actor.Machine) {
	m.State("A", actor.On(func(ctx *actor.Context, ev pong) { ctx.Announce(ev) }),
		actor.On(func(ctx *actor.Context, ev ping) { ctx.Announce(ev) })) // monitors ignore undeclared types
}

func TestEngineMonitors(t *testing.T) {
	e := newEngine(t)
	must(t, e.Monitor(&counterMonitor{}))
	if _, err := e.Create("a", announcer{}); err != nil {
		t.Fatal(err)
	}
	must(t, e.Send("a", pong{0}))
	must(t, e.Send("a", ping{}))
	waitIdle(t, e)
	if hot := e.HotMonitors(); len(hot) != 1 || hot[0] != "counterMonitor.Waiting" {
		t.Fatalf("HotMonitors = %v", hot)
	}
	must(t, e.Send("a", pong{1}))
	must(t, e.Send("a", pong{2}))
	waitIdle(t, e)
	if hot := e.HotMonitors(); len(hot) != 0 {
		t.Fatalf("HotMonitors = %v after three pongs", hot)
	}
	if f := e.Failures(); len(f) != 0 {
		t.Fatalf("failures: %v", f)
	}

	e2 := newEngine(t)
	must(t, e2.Monitor(&counterMonitor{}))
	if _, err := e2.Create("a", announcer{}); err != nil {
		t.Fatal(err)
	}
	must(t, e2.Send("a", pong{5}))
	waitIdle(t, e2)
	f := e2.Failures()
	if len(f) != 1 || f[0].Kind != actor.FailAssert || !strings.Contains(f[0].Message, "pong 5 out of order") {
		t.Fatalf("failures = %v, want one assertion", f)
	}
}

// store is persisted state outside a host.
type store struct {
	mu    sync.Mutex
	count int
}

// counter keeps a volatile count and persists every increment.
type counter struct {
	st       *store
	volatile int
}

func (c *counter) Define(m *actor.Machine) {
	m.State("Up",
		actor.OnEntry(func(*actor.Context) {
			c.st.mu.Lock()
			c.volatile = c.st.count
			c.st.mu.Unlock()
		}),
		actor.On(func(ctx *actor.Context, _ ping) {
			c.volatile++
			c.st.mu.Lock()
			c.st.count = c.volatile
			c.st.mu.Unlock()
		}),
	)
}

func TestEngineHostCrashRestart(t *testing.T) {
	e := newEngine(t)
	st := &store{}
	var boots int
	must(t, e.AddHost("h1", func(h actor.Host) error {
		boots++
		_, err := h.Create("counter", &counter{st: st})
		return err
	}))
	for range 5 {
		must(t, e.Send("counter", ping{}))
	}
	waitIdle(t, e)
	must(t, e.CrashHost("h1"))
	if err := e.CrashHost("h1"); err == nil {
		t.Fatal("second crash of a down host succeeded")
	}
	must(t, e.Send("counter", ping{})) // dropped: the host is down
	waitIdle(t, e)
	must(t, e.RestartHost("h1"))
	must(t, e.Send("counter", ping{}))
	waitIdle(t, e)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.count != 6 || boots != 2 {
		t.Fatalf("count=%d boots=%d, want 6 and 2", st.count, boots)
	}
}

type hold struct{}

// holder blocks in a handler until released, then reports to the observer.
type holder struct {
	entered, release chan struct{}
	rec              *recorder
	gen              int
}

func (h *holder) Define(m *actor.Machine) {
	m.State("Up",
		actor.OnEntry(func(ctx *actor.Context) { h.rec.add("boot") }),
		actor.On(func(ctx *actor.Context, _ hold) {
			close(h.entered)
			<-h.release
			ctx.Send("observer", pong{h.gen})
			ctx.StartTimer(time.Millisecond, tick{})
		}),
		actor.On(func(ctx *actor.Context, _ tick) { h.rec.add("tick after crash") }))
}

type observer struct{ rec *recorder }

func (o *observer) Define(m *actor.Machine) {
	m.State("Watch", actor.On(func(ctx *actor.Context, p pong) { o.rec.add("pong from generation " + string(rune('0'+p.n))) }))
}

// A crash takes effect at once: what the crashed actor's running handler does afterwards (it runs
// to its end on its goroutine) has no effect, and CrashHost returns only once it has ended, so the
// restarted incarnation never overlaps the old one.
func TestEngineCrashIsImmediate(t *testing.T) {
	e := newEngine(t)
	rec := &recorder{}
	entered, release := make(chan struct{}), make(chan struct{})
	gen := 0
	must(t, e.AddHost("h", func(h actor.Host) error {
		gen++
		_, err := h.Create("holder", &holder{entered: entered, release: release, rec: rec, gen: gen})
		return err
	}))
	if _, err := e.Create("observer", &observer{rec: rec}); err != nil {
		t.Fatal(err)
	}
	must(t, e.Send("holder", hold{}))
	<-entered
	released := make(chan struct{})
	go func() {
		time.Sleep(20 * time.Millisecond)
		close(released)
		close(release)
	}()
	must(t, e.CrashHost("h"))
	select {
	case <-released:
	default:
		t.Fatal("CrashHost returned while the crashed handler was still running")
	}
	must(t, e.RestartHost("h"))
	time.Sleep(20 * time.Millisecond) // a late pong or tick would arrive here
	waitIdle(t, e)
	if got := strings.Join(rec.all(), ","); got != "boot,boot" {
		t.Fatalf("got %q, want only the two boots", got)
	}
}
