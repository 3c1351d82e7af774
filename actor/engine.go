package actor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures an [Engine]. The zero value works.
type Options struct {
	// Logger receives actors' Log calls and the engine's own reports. Nil means slog.Default().
	Logger *slog.Logger
	// OnFailure is called, on the failing actor's goroutine, for every actor or monitor that
	// fails. Nil means the failure is logged at error level. Failures are also kept; see
	// [Engine.Failures].
	OnFailure func(*Failure)
	// Clock is the time the engine gives its actors: Context.Now and the timers. Nil means the
	// real clock; a test that must not wait for real minutes gives a [ManualClock] and moves
	// it itself.
	Clock Clock
}

// Engine is the production runtime: each actor runs on a goroutine of its own while it has work,
// with an unbounded mailbox and the real clock. A panic in a handler fails that actor (it halts and
// the failure is reported) and the process goes on.
type Engine struct {
	opts Options
	log  *slog.Logger

	cells  sync.Map // ID -> *cell; halted actors stay as dead cells
	nextID atomic.Uint64

	busy   atomic.Int64 // events in flight + actors not started - events left deferred
	idleMu sync.Mutex
	idleCh chan struct{}

	monMu    sync.Mutex
	monitors []*Instance

	hostMu sync.Mutex
	hosts  map[string]*engineHost

	failMu   sync.Mutex
	failures []*Failure

	// idle hands a cell to a goroutine that ran another actor and is waiting for more work (see
	// worker); unbuffered, so a send succeeds only when one is waiting.
	idle chan *cell
}

// workerIdle is how long a goroutine that ran an actor waits for another before it exits. Reusing
// one keeps the stack it grew: a fresh goroutine's small stack is grown again, copy by copy, by
// every deep handler (a store transaction, a JSON encoding), which cost about 8% of the server's
// CPU when each burst of an actor's work had a goroutine of its own.
const workerIdle = 100 * time.Millisecond

type engineHost struct {
	name    string
	boot    func(Host) error
	ids     []ID
	crashed bool
}

// cell is an actor's place in the engine: its instance, its shared inbox, and its timers.
type cell struct {
	e  *Engine
	in *Instance

	mu      sync.Mutex
	inbox   []Envelope
	spare   []Envelope
	running bool
	dead    bool

	gone      chan struct{} // set by kill while a goroutine runs the actor; closed when it stops
	haltAsked atomic.Bool
	deadFlag  atomic.Bool // mirrors dead, for a cheap check between steps
	stuck     int64       // events left deferred at the end of the last run, not counted in busy

	timers map[TimerID]*engineTimer // touched only by the goroutine running the actor
}

type engineTimer struct {
	t       ClockTimer
	stopped atomic.Bool
	pending atomic.Bool // a periodic tick is in the mailbox, not handled yet
}

// NewEngine returns a production runtime.
func NewEngine(opts Options) *Engine {
	e := &Engine{opts: opts, log: opts.Logger, idleCh: make(chan struct{}), idle: make(chan *cell), hosts: map[string]*engineHost{}}
	if e.log == nil {
		e.log = slog.Default()
	}
	if e.opts.Clock == nil {
		e.opts.Clock = realClock{}
	}
	return e
}

var _ Runtime = (*Engine)(nil)
var _ Env = engineEnv{}

// Create implements [Runtime].
func (e *Engine) Create(name string, a Actor) (ID, error) { return e.create("", name, a) }

func (e *Engine) create(host, name string, a Actor) (ID, error) {
	id := ID(name)
	if id == "" {
		id = ID(fmt.Sprintf("%s-%d", TypeOf(a), e.nextID.Add(1)))
	}
	c := &cell{e: e, running: true}
	in, err := NewInstance(engineEnv{e, c}, id, host, a)
	if err != nil {
		return "", &Failure{Kind: FailDefinition, Message: err.Error()}
	}
	c.in = in
	if old, loaded := e.cells.LoadOrStore(id, c); loaded {
		oc := old.(*cell)
		oc.mu.Lock()
		dead := oc.dead
		oc.mu.Unlock()
		if !dead || !e.cells.CompareAndSwap(id, old, c) {
			return "", &Failure{Kind: FailDuplicate, Message: fmt.Sprintf("actor %s already exists", id)}
		}
	}
	e.busy.Add(1) // the start step
	e.spawn(c)
	return id, nil
}

// Send implements [Runtime].
func (e *Engine) Send(to ID, ev Event) error {
	v, ok := e.cells.Load(to)
	if !ok {
		return &Failure{Kind: FailUnknownID, Message: fmt.Sprintf("send %s to unknown actor %s", EventName(ev), to)}
	}
	v.(*cell).deliver(Envelope{Event: ev})
	return nil
}

// Halt implements [Runtime].
func (e *Engine) Halt(id ID) error {
	v, ok := e.cells.Load(id)
	if !ok {
		return &Failure{Kind: FailUnknownID, Message: fmt.Sprintf("halt unknown actor %s", id)}
	}
	c := v.(*cell)
	c.mu.Lock()
	dead := c.dead
	c.mu.Unlock()
	if dead || c.haltAsked.Swap(true) {
		return &Failure{Kind: FailDoubleHalt, Actor: id, Message: fmt.Sprintf("actor %s was already halted", id)}
	}
	c.deliver(Envelope{Event: haltRequest{}})
	return nil
}

// Monitor implements [Runtime].
func (e *Engine) Monitor(m Actor) error {
	in, err := NewInstance(monitorEnv{e}, ID(TypeOf(m)), "", m)
	if err != nil {
		return &Failure{Kind: FailDefinition, Message: err.Error()}
	}
	in.SetMonitor()
	e.monMu.Lock()
	defer e.monMu.Unlock()
	if _, f := in.Observe(nil); f != nil { // nil only runs the start state's entry action
		e.fail(f)
	}
	e.monitors = append(e.monitors, in)
	return nil
}

// AddHost implements [Runtime].
func (e *Engine) AddHost(name string, boot func(Host) error) error {
	if name == "" {
		return errors.New("actor: host name must not be empty")
	}
	e.hostMu.Lock()
	defer e.hostMu.Unlock()
	if _, ok := e.hosts[name]; ok {
		return fmt.Errorf("actor: host %s already exists", name)
	}
	h := &engineHost{name: name, boot: boot}
	e.hosts[name] = h
	return e.bootLocked(h)
}

func (e *Engine) bootLocked(h *engineHost) error {
	h.ids = nil
	h.crashed = false
	if err := h.boot(engineHostView{e, h}); err != nil {
		return fmt.Errorf("actor: boot host %s: %w", h.name, err)
	}
	return nil
}

type engineHostView struct {
	e *Engine
	h *engineHost
}

func (v engineHostView) Name() string { return v.h.name }

func (v engineHostView) Create(name string, a Actor) (ID, error) {
	id, err := v.e.create(v.h.name, name, a)
	if err == nil {
		v.h.ids = append(v.h.ids, id)
	}
	return id, err
}

// CrashHost implements [Runtime]. It returns once no handler of the host is running: a handler
// that was running at the crash finishes first (whatever it does after the crash has no effect,
// but it may still touch memory it shares with the program), so that a restart never overlaps the
// old incarnation. It must not be called from a handler of an actor on the host it crashes.
func (e *Engine) CrashHost(name string) error {
	e.hostMu.Lock()
	h, ok := e.hosts[name]
	if !ok {
		e.hostMu.Unlock()
		return fmt.Errorf("actor: no host %s", name)
	}
	if h.crashed {
		e.hostMu.Unlock()
		return fmt.Errorf("actor: host %s is already down", name)
	}
	h.crashed = true
	var running []<-chan struct{}
	for _, id := range h.ids {
		if v, ok := e.cells.Load(id); ok {
			if gone := v.(*cell).kill(); gone != nil {
				running = append(running, gone)
			}
		}
	}
	e.hostMu.Unlock()
	for _, gone := range running {
		<-gone
	}
	return nil
}

// RestartHost implements [Runtime].
func (e *Engine) RestartHost(name string) error {
	e.hostMu.Lock()
	defer e.hostMu.Unlock()
	h, ok := e.hosts[name]
	if !ok {
		return fmt.Errorf("actor: no host %s", name)
	}
	if !h.crashed {
		return fmt.Errorf("actor: host %s is running", name)
	}
	return e.bootLocked(h)
}

// WaitIdle blocks until no actor has work: every mailbox is empty (or holds only events the
// actor's state defers) and no handler is running. Pending timers do not count. It returns
// ctx.Err() if ctx ends first.
func (e *Engine) WaitIdle(ctx context.Context) error {
	for {
		e.idleMu.Lock()
		ch := e.idleCh
		e.idleMu.Unlock()
		if e.busy.Load() == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (e *Engine) addBusy(n int64) {
	if e.busy.Add(n) == 0 {
		e.idleMu.Lock()
		close(e.idleCh)
		e.idleCh = make(chan struct{})
		e.idleMu.Unlock()
	}
}

// Failures returns the failures reported so far.
func (e *Engine) Failures() []*Failure {
	e.failMu.Lock()
	defer e.failMu.Unlock()
	return append([]*Failure(nil), e.failures...)
}

// HotMonitors names the monitors that are in a hot state now, as "Monitor.State", sorted. A test
// that runs a program to completion under the engine asserts that this is empty.
func (e *Engine) HotMonitors() []string {
	e.monMu.Lock()
	defer e.monMu.Unlock()
	var out []string
	for _, m := range e.monitors {
		if !m.Halted() && m.CurrentState().Temperature() == Hot {
			out = append(out, m.Type()+"."+m.State())
		}
	}
	sort.Strings(out)
	return out
}

func (e *Engine) fail(f *Failure) {
	e.failMu.Lock()
	e.failures = append(e.failures, f)
	e.failMu.Unlock()
	if e.opts.OnFailure != nil {
		e.opts.OnFailure(f)
		return
	}
	e.log.Error("actor failed", "actor", f.Actor, "type", f.Type, "state", f.State, "event", f.Event, "kind", f.Kind, "message", f.Message)
}

// deliver puts an envelope in the cell's inbox and makes sure a goroutine will run the actor.
func (c *cell) deliver(env Envelope) {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		c.e.log.Debug("event for halted actor dropped", "actor", c.in.id, "event", EventName(env.Event))
		return
	}
	c.inbox = append(c.inbox, env)
	start := !c.running
	c.running = true
	c.e.busy.Add(1)
	c.mu.Unlock()
	if start {
		c.e.spawn(c)
	}
}

// spawn runs c on a goroutine: an idle worker if one is waiting, else a new one.
func (e *Engine) spawn(c *cell) {
	select {
	case e.idle <- c:
	default:
		go e.worker(c)
	}
}

// worker runs c, then every cell handed to it, until none comes for workerIdle.
func (e *Engine) worker(c *cell) {
	var t *time.Timer
	for {
		c.run()
		if t == nil {
			t = time.NewTimer(workerIdle)
		} else {
			t.Reset(workerIdle)
		}
		select {
		case c = <-e.idle:
		case <-t.C:
			return
		}
	}
}

// run handles the actor's work until it has none, then returns. At most one run is active per
// cell: the running flag is taken under mu. busy counts, per cell, the inbox, the mailbox events
// the instance has not set aside as stuck (deferred with nothing else to do), and an unstarted
// actor's start step.
func (c *cell) run() {
	in := c.in
	e := c.e
	if c.stuck != 0 {
		e.busy.Add(c.stuck)
		c.stuck = 0
	}
	for {
		c.mu.Lock()
		if c.dead {
			c.running = false
			gone := c.gone
			c.mu.Unlock()
			c.abandon()
			if gone != nil {
				close(gone)
			}
			return
		}
		batch := c.inbox
		c.inbox = c.spare[:0]
		c.spare = nil
		if len(batch) == 0 && !in.Runnable() {
			c.running = false
			c.inbox = batch
			left := int64(in.Pending())
			c.stuck = left
			c.mu.Unlock()
			if left != 0 {
				e.addBusy(-left)
			}
			return
		}
		c.mu.Unlock()
		for i := range batch {
			in.Enqueue(batch[i])
		}
		clear(batch)
		c.spare = batch[:0]
		for in.Runnable() {
			if c.deadFlag.Load() {
				break
			}
			before := c.work()
			res, f := in.Step()
			if f != nil {
				f.Host = in.Host()
				e.fail(f)
			}
			if id := res.Envelope.Timer; id != 0 {
				if t, ok := c.timers[id]; ok {
					t.pending.Store(false)
				}
			}
			if d := int64(c.work() - before); d != 0 {
				e.addBusy(d)
			}
			if in.Halted() {
				gone := c.markDead()
				c.stopTimers()
				if gone != nil {
					close(gone)
				}
				return
			}
		}
	}
}

// work is what busy counts for the instance while it runs.
func (c *cell) work() int {
	n := c.in.Pending()
	if !c.in.Started() {
		n++
	}
	return n
}

// abandon discards the instance's remaining work after a crash noticed by run.
func (c *cell) abandon() {
	if n := int64(c.work()); n != 0 {
		c.e.addBusy(-n)
	}
	c.in.Kill()
	c.stopTimers()
}

// markDead stops deliveries to the cell and discards what is waiting in its inbox. It returns
// the channel a concurrent kill waits on, if any, for the caller to close once it is done.
func (c *cell) markDead() chan struct{} {
	c.mu.Lock()
	c.dead = true
	c.deadFlag.Store(true)
	n := len(c.inbox)
	c.inbox = nil
	c.running = false
	gone := c.gone
	c.mu.Unlock()
	if n != 0 {
		c.e.addBusy(-int64(n))
	}
	return gone
}

// kill crashes the actor from outside. If a goroutine is running it, that goroutine notices after
// the current step and abandons the rest, and kill returns a channel closed when it has; otherwise
// kill takes the running flag, does it here, and returns nil.
func (c *cell) kill() <-chan struct{} {
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		return nil
	}
	c.dead = true
	c.deadFlag.Store(true)
	n := int64(len(c.inbox))
	c.inbox = nil
	running := c.running
	var gone chan struct{}
	if running {
		gone = make(chan struct{})
		c.gone = gone
	}
	c.running = true
	c.mu.Unlock()
	if n != 0 {
		c.e.addBusy(-n)
	}
	if running {
		return gone
	}
	// Not running: every mailbox event left is stuck, so not counted in busy.
	c.stuck = 0
	c.in.Kill()
	c.stopTimers()
	c.mu.Lock()
	c.running = false
	c.mu.Unlock()
	return nil
}

func (c *cell) stopTimers() {
	for id, t := range c.timers {
		t.stopped.Store(true)
		t.t.Stop()
		delete(c.timers, id)
	}
}

// engineEnv is the Env the engine gives one actor (it is a separate type because Env's methods
// share names with Runtime's). It knows the actor's cell, so that what a crashed actor's handler
// still does after the crash (it runs to its end on its goroutine) has no effect, as if the process
// had died: its sends, creations, timers and announcements are dropped.
type engineEnv struct {
	e *Engine
	c *cell
}

func (v engineEnv) crashed() bool { return v.c.deadFlag.Load() }

// Send implements [Env].
func (v engineEnv) Send(from *Instance, to ID, ev Event) {
	c, ok := v.e.cells.Load(to)
	if !ok {
		Abort(FailUnknownID, "send %s to unknown actor %s", EventName(ev), to)
	}
	if v.crashed() {
		return
	}
	c.(*cell).deliver(Envelope{From: from.id, Event: ev})
}

// Create implements [Env].
func (v engineEnv) Create(parent *Instance, name string, a Actor) ID {
	if v.crashed() {
		return ID(name)
	}
	e := v.e
	e.hostMu.Lock()
	var id ID
	var err error
	if h := e.hosts[parent.host]; h != nil {
		id, err = engineHostView{e, h}.Create(name, a)
	} else {
		id, err = e.create(parent.host, name, a)
	}
	e.hostMu.Unlock()
	if err != nil {
		f, _ := AsFailure(err)
		Abort(f.Kind, "%s", f.Message)
	}
	return id
}

// StartTimer implements [Env].
func (v engineEnv) StartTimer(_ *Instance, id TimerID, after, period time.Duration, ev Event) {
	c := v.c
	if v.crashed() {
		return
	}
	t := &engineTimer{}
	env := Envelope{Event: ev, Timer: id}
	t.t = v.e.opts.Clock.AfterFunc(after, func() {
		if t.stopped.Load() {
			return
		}
		if period <= 0 {
			c.deliver(env)
			return
		}
		// As with time.Ticker, a tick the actor has not handled yet makes this one redundant.
		if !t.pending.Swap(true) {
			c.deliver(env)
		}
		t.t.Reset(period)
	})
	if c.timers == nil {
		c.timers = make(map[TimerID]*engineTimer)
	}
	c.timers[id] = t
}

// StopTimer implements [Env].
func (v engineEnv) StopTimer(_ *Instance, id TimerID) {
	c := v.c
	if t, ok := c.timers[id]; ok {
		t.stopped.Store(true)
		t.t.Stop()
		delete(c.timers, id)
	}
}

// RandomBool implements [Env].
func (v engineEnv) RandomBool(*Instance) bool { return rand.N(2) == 1 }

// RandomInt implements [Env].
func (v engineEnv) RandomInt(_ *Instance, n int) int { return rand.N(n) }

// Now implements [Env].
func (v engineEnv) Now() time.Time { return v.e.opts.Clock.Now() }

// Announce implements [Env].
func (v engineEnv) Announce(_ *Instance, ev Event) {
	if v.crashed() {
		return
	}
	e := v.e
	e.monMu.Lock()
	defer e.monMu.Unlock()
	for _, m := range e.monitors {
		if _, f := m.Observe(ev); f != nil {
			e.fail(f)
		}
	}
}

// Log implements [Env].
func (v engineEnv) Log(in *Instance, msg string, args ...any) {
	v.e.log.Info(msg, append([]any{"actor", in.id, "state", in.state.name}, args...)...)
}

// Transition implements [Env].
func (v engineEnv) Transition(*Instance, string, string) {}

// monitorEnv is the Env of monitors: they may only observe, assert, change state and log.
type monitorEnv struct{ e *Engine }

func (m monitorEnv) Send(*Instance, ID, Event) { Abort(FailMisuse, "a monitor may not send") }
func (m monitorEnv) Create(*Instance, string, Actor) ID {
	Abort(FailMisuse, "a monitor may not create actors")
	return ""
}
func (m monitorEnv) StartTimer(*Instance, TimerID, time.Duration, time.Duration, Event) {
	Abort(FailMisuse, "a monitor may not start timers")
}
func (m monitorEnv) StopTimer(*Instance, TimerID)     {}
func (m monitorEnv) RandomBool(*Instance) bool        { return rand.N(2) == 1 }
func (m monitorEnv) RandomInt(_ *Instance, n int) int { return rand.N(n) }
func (m monitorEnv) Now() time.Time                   { return m.e.opts.Clock.Now() }
func (m monitorEnv) Announce(*Instance, Event) {
	Abort(FailMisuse, "a monitor may not announce")
}
func (m monitorEnv) Log(in *Instance, msg string, args ...any) {
	engineEnv{e: m.e}.Log(in, msg, args...)
}
func (m monitorEnv) Transition(*Instance, string, string) {}
