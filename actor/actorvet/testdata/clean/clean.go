// Package clean follows every rule: it uses package time only for durations and values, and
// declares channel types without operating on them.
package clean

import (
	"fmt"
	"time"
)

// Timeout is a plain duration, which is deterministic.
const Timeout = 5 * time.Second

type state struct {
	deadline time.Time
	inbox    chan string // declaring a channel is fine; only operations on one are flagged
}

// expired calls the time.Time method After, not the function time.After.
func (s *state) expired(now time.Time) bool {
	return now.After(s.deadline)
}

func (s *state) describe() string {
	later := s.deadline.Add(time.Duration(3) * time.Millisecond)
	return fmt.Sprintf("deadline %s, %d queued", later.Format(time.RFC3339), len(s.inbox))
}
