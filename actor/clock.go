package actor

import (
	"sort"
	"sync"
	"time"
)

// Clock is the time an [Engine] gives its actors: what [Context.Now] reports and what runs their
// timers. The real clock is the default (Options.Clock nil); a test gives a [ManualClock] to run
// minutes of an actor's timers without waiting for them.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// AfterFunc calls f, on a goroutine of its own, once d has passed.
	AfterFunc(d time.Duration, f func()) ClockTimer
}

// ClockTimer is a timer a [Clock] made, with the methods of *time.Timer the engine uses.
type ClockTimer interface {
	// Stop prevents the timer from firing; it reports whether it stopped a pending timer.
	Stop() bool
	// Reset makes the timer fire once more, after d.
	Reset(d time.Duration) bool
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) ClockTimer { return time.AfterFunc(d, f) }

// ManualClock is a [Clock] that moves only when told to ([ManualClock.Advance]), for tests of
// actors whose timers are minutes long. It is safe for concurrent use. Actors handle what their
// timers deliver on goroutines of their own, after the timer fired: a test that needs each
// event handled at the time it was due advances in steps and waits for the engine to be idle
// ([Engine.WaitIdle]) between them.
type ManualClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	timers map[*manualTimer]bool
}

// NewManualClock returns a clock that reads start until it is advanced.
func NewManualClock(start time.Time) *ManualClock {
	return &ManualClock{now: start, timers: map[*manualTimer]bool{}}
}

// Now implements [Clock].
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc implements [Clock]: f runs when Advance passes now+d (at once, in Advance's
// goroutine, for a d of 0 or less at the next Advance).
func (c *ManualClock) AfterFunc(d time.Duration, f func()) ClockTimer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &manualTimer{c: c, f: f}
	c.arm(t, d)
	return t
}

// arm (re)schedules t after d; c.mu is held.
func (c *ManualClock) arm(t *manualTimer, d time.Duration) {
	c.seq++
	t.at, t.seq = c.now.Add(max(d, 0)), c.seq
	c.timers[t] = true
}

// Advance moves the clock forward by d, running the function of every timer that falls due on
// the way, in the order they fall due (timers due at the same time in the order they were set),
// each with Now reporting the time it was due. A function runs outside the clock's lock: it may
// set and reset timers, and one it sets that falls due within d runs too.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		var due []*manualTimer
		for t := range c.timers {
			if !t.at.After(end) {
				due = append(due, t)
			}
		}
		if len(due) == 0 {
			c.now = end
			c.mu.Unlock()
			return
		}
		sort.Slice(due, func(i, j int) bool {
			if !due[i].at.Equal(due[j].at) {
				return due[i].at.Before(due[j].at)
			}
			return due[i].seq < due[j].seq
		})
		t := due[0]
		delete(c.timers, t)
		if t.at.After(c.now) {
			c.now = t.at
		}
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
}

// manualTimer is a timer of a ManualClock.
type manualTimer struct {
	c   *ManualClock
	f   func()
	at  time.Time
	seq uint64
}

// Stop implements [ClockTimer].
func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	pending := t.c.timers[t]
	delete(t.c.timers, t)
	return pending
}

// Reset implements [ClockTimer].
func (t *manualTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	pending := t.c.timers[t]
	t.c.arm(t, d)
	return pending
}
