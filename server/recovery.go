package server

import (
	"log/slog"
	"sync"
	"time"

	"corral/actor"
)

// serviceHost is the engine host of the service's actors.
const serviceHost = "service"

// recovery restarts the service's actors from the store when one of them fails. A failure is a
// bug, and it would otherwise leave its part of the service dead while the rest runs on (every
// request to a failed job manager waiting out its timeout). The store holds everything that was
// acknowledged, so the service comes back as after a crash of the process, which the systematic
// tests check; the agents, the provider and the API stay up meanwhile. Restarts back off, from
// first to a minute, doubling while failures keep coming within a minute of the last restart.
type recovery struct {
	engine *actor.Engine
	log    *slog.Logger
	first  time.Duration // the delay before the first restart

	op sync.Mutex // held while a restart runs (not mu: a handler that fails meanwhile takes mu)

	mu      sync.Mutex
	closed  bool          // the server is stopping: no more restarts
	pending bool          // a restart is scheduled
	delay   time.Duration // the delay of the last restart
	last    time.Time     // when the last restart happened
	count   int           // restarts so far
}

func newRecovery(log *slog.Logger) *recovery { return &recovery{log: log, first: time.Second} }

// onFailure is the engine's OnFailure: it logs the failure and schedules a restart of the
// service host if the actor was one of its.
func (r *recovery) onFailure(f *actor.Failure) {
	r.log.Error("actor failed", "actor", f.Actor, "host", f.Host, "type", f.Type, "state", f.State, "event", f.Event, "kind", f.Kind, "message", f.Message)
	if f.Stack != "" {
		r.log.Error("actor failed: stack", "actor", f.Actor, "stack", f.Stack)
	}
	if f.Host != serviceHost {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.pending {
		return
	}
	r.pending = true
	d := r.first
	if r.count > 0 && time.Since(r.last) < time.Minute {
		d = min(2*r.delay, time.Minute)
	}
	r.delay = d
	r.log.Warn("server: restarting the service's actors from the store", "after", d, "failed", f.Actor)
	time.AfterFunc(d, r.restart)
}

// restart crashes the service host and boots it again.
func (r *recovery) restart() {
	r.op.Lock()
	defer r.op.Unlock()
	r.mu.Lock()
	r.pending = false
	closed := r.closed
	if !closed {
		r.count++
		r.last = time.Now()
	}
	r.mu.Unlock()
	if closed {
		return
	}
	if err := r.engine.CrashHost(serviceHost); err != nil {
		r.log.Error("server: restarting the service: stopping its actors", "err", err)
		return
	}
	if err := r.engine.RestartHost(serviceHost); err != nil {
		r.log.Error("server: restarting the service: booting it", "err", err)
		return
	}
	r.log.Info("server: the service's actors restarted from the store")
}

// close stops restarts; one under way finishes first.
func (r *recovery) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.op.Lock()
	r.op.Unlock() // (taken only to wait for a restart under way)
}

// restarts is how many restarts have happened.
func (r *recovery) restarts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count
}
