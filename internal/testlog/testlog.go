// Package testlog gives tests a logger whose lines are printed only if the test fails.
package testlog

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
)

// New returns a logger that collects t's log lines (debug level and up) and prints them with
// t.Logf when the test ends failed. It may be written to after the test ends (it never calls
// t.Log then).
func New(t testing.TB) *slog.Logger {
	w := &writer{}
	t.Cleanup(func() {
		if t.Failed() {
			w.mu.Lock()
			defer w.mu.Unlock()
			t.Logf("log:\n%s", w.buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// writer is a bytes.Buffer safe for concurrent writes.
type writer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}
