package server

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"corral/actor"
)

type explode struct{}

// bomb fails on explode.
type bomb struct{}

func (bomb) Define(m *actor.Machine) {
	m.State("Armed", actor.On(func(ctx *actor.Context, _ explode) { ctx.Assert(false, "boom") }))
}

// A service actor's failure restarts the service host from its boot function, backing off when
// failures keep coming; once the server stops, a failure restarts nothing.
func TestRecoveryRestartsTheService(t *testing.T) {
	r := newRecovery(slog.New(slog.NewTextHandler(io.Discard, nil)))
	r.first = 10 * time.Millisecond
	e := actor.NewEngine(actor.Options{OnFailure: r.onFailure})
	r.engine = e
	var boots atomic.Int32
	if err := e.AddHost(serviceHost, func(h actor.Host) error {
		boots.Add(1)
		_, err := h.Create("bomb", bomb{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.close(); e.CrashHost(serviceHost) })

	for want := int32(2); want <= 3; want++ {
		if err := e.Send("bomb", explode{}); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, 10*time.Second, "the service host booted again", func() bool { return boots.Load() == want })
	}
	if got := r.restarts(); got != 2 {
		t.Errorf("restarts: %d, want 2", got)
	}
	r.mu.Lock()
	delay := r.delay
	r.mu.Unlock()
	if delay != 2*r.first {
		t.Errorf("the second restart within a minute waited %v, want %v", delay, 2*r.first)
	}

	r.close()
	if err := e.Send("bomb", explode{}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.WaitIdle(ctx); err != nil { // the failure has been handled
		t.Fatal(err)
	}
	r.mu.Lock()
	pending := r.pending
	r.mu.Unlock()
	if n := len(e.Failures()); pending || n != 3 {
		t.Errorf("after close: %d failures (want 3), a restart scheduled: %v", n, pending)
	}
}
