package clock

import "time"

// now is a function value, which reads the clock as surely as a call does.
var now = time.Now

func readsTheClock(deadline time.Time) time.Duration {
	start := time.Now()
	_ = time.Since(start)
	_ = time.Until(deadline)
	time.Sleep(time.Second)
	<-time.After(time.Second)
	time.AfterFunc(time.Second, func() {})
	_ = time.Tick(time.Second)
	_ = time.NewTimer(time.Second)
	_ = time.NewTicker(time.Second)
	// Durations, constants and time.Time methods are fine.
	return time.Duration(deadline.Sub(start).Seconds()) * time.Millisecond
}
