package skiptest

import (
	"testing"
	"time"
)

// Tests are not actor code, so they may use goroutines and the clock.
func TestAdd(t *testing.T) {
	done := make(chan bool)
	go func() {
		time.Sleep(time.Millisecond)
		done <- add(1, 2) == 3
	}()
	if !<-done {
		t.Fatal("add(1, 2) != 3")
	}
}
