package actor_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"corral/actor"
)

// alarm sets a one-minute timer and a periodic 20-second one when it starts, and records the
// time each fires at.
type alarm struct{ rec *recorder }

type ring struct{ name string }

func (a *alarm) Define(m *actor.Machine) {
	m.State("Set",
		actor.OnEntry(func(ctx *actor.Context) {
			ctx.StartTimer(time.Minute, ring{"once"})
			ctx.StartPeriodicTimer(20*time.Second, 20*time.Second, ring{"every"})
		}),
		actor.On(func(ctx *actor.Context, r ring) {
			a.rec.add(fmt.Sprintf("%s@%v", r.name, ctx.Now().Format("15:04:05")))
		}))
}

// A ManualClock runs an engine's timers only as it is advanced, each at the time it is due.
func TestEngineManualClock(t *testing.T) {
	start := time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)
	clock := actor.NewManualClock(start)
	e := actor.NewEngine(actor.Options{Logger: quiet(), Clock: clock})
	rec := &recorder{}
	if _, err := e.Create("alarm", &alarm{rec: rec}); err != nil {
		t.Fatal(err)
	}
	waitIdle(t, e)
	// Actors handle what a timer delivers on their own goroutines: advance in steps, and wait
	// for the engine to be idle between them, to see each event handled at its time.
	for range 5 {
		clock.Advance(10 * time.Second)
		waitIdle(t, e)
	}
	clock.Advance(9 * time.Second)
	waitIdle(t, e)
	if got := rec.all(); !slices.Equal(got, []string{"every@12:00:20", "every@12:00:40"}) {
		t.Fatalf("after 59s: %v", got)
	}
	clock.Advance(time.Second)
	waitIdle(t, e)
	got := rec.all()
	// At 12:01:00 both fall due; the one-shot was set first.
	if want := []string{"every@12:00:20", "every@12:00:40", "once@12:01:00", "every@12:01:00"}; !slices.Equal(got, want) {
		t.Fatalf("after 60s: %v, want %v", got, want)
	}
	if now := clock.Now(); !now.Equal(start.Add(time.Minute)) {
		t.Errorf("Now = %v", now)
	}
}

// Stop and Reset of a ManualClock's timers.
func TestManualClockTimers(t *testing.T) {
	clock := actor.NewManualClock(time.Unix(0, 0))
	var fired []string
	a := clock.AfterFunc(time.Second, func() { fired = append(fired, "a") })
	b := clock.AfterFunc(2*time.Second, func() { fired = append(fired, "b") })
	if !b.Stop() || b.Stop() {
		t.Error("Stop of a pending timer, then of a stopped one")
	}
	if !a.Reset(3 * time.Second) {
		t.Error("Reset of a pending timer")
	}
	clock.Advance(2 * time.Second)
	if len(fired) != 0 {
		t.Fatalf("fired %v before their time", fired)
	}
	clock.Advance(time.Second)
	if !slices.Equal(fired, []string{"a"}) {
		t.Fatalf("fired %v", fired)
	}
	if b.Reset(0) {
		t.Error("Reset of a stopped timer reported it pending")
	}
	clock.Advance(0)
	if !slices.Equal(fired, []string{"a", "b"}) {
		t.Fatalf("fired %v", fired)
	}
}
