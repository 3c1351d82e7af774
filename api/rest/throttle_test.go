package rest_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"corral/api"
	"corral/api/rest"
	"corral/store"
)

// heldViews is a store that holds read transactions in flight: the next hold of them announce
// themselves on entered and wait for a value on release; the others go through.
type heldViews struct {
	store.Store
	mu      sync.Mutex
	holds   int
	entered chan struct{}
	release chan struct{}
}

func (h *heldViews) hold(n int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.holds += n
}

func (h *heldViews) View(ctx context.Context, fn func(store.Tx) error) error {
	h.mu.Lock()
	held := h.holds > 0
	if held {
		h.holds--
	}
	h.mu.Unlock()
	if held {
		h.entered <- struct{}{}
		<-h.release
	}
	return h.Store.View(ctx, fn)
}

// Reads beyond the bound (one served, one waiting) are answered 503 ServerBusy with
// Retry-After in Azure's error shape; writes are not bounded; a read waiting for a place is
// served once the read before it is done.
func TestReadsThrottled(t *testing.T) {
	hv := &heldViews{entered: make(chan struct{}), release: make(chan struct{})}
	e := newEnv(t, envOptions{
		// The waiting read waits as long as the test holds the first: time out the test, not it.
		reads:    rest.Throttle{Limit: 1, Queue: 1, Wait: time.Hour, RetryAfter: 2 * time.Second},
		apiStore: func(st store.Store) store.Store { hv.Store = st; return hv },
	})
	created(t, e.do("POST", "/pools", nil, pool("p1", 0)), http.StatusCreated, e.base+"/pools/p1")
	hv.hold(1)

	first, second := make(chan response, 1), make(chan response, 1)
	go func() { first <- e.do("GET", "/pools/p1", nil, nil) }()
	<-hv.entered // the first read is served, and held
	go func() { second <- e.do("GET", "/pools", nil, nil) }()
	waitQueued(t, e.rest, 1)

	for _, method := range []string{"GET", "HEAD"} {
		r := e.do(method, "/pools/p1", nil, nil)
		if method == "GET" {
			want(t, r, http.StatusServiceUnavailable, api.CodeServerBusy)
		} else if r.status != http.StatusServiceUnavailable {
			t.Fatalf("HEAD: status %d, want 503", r.status)
		}
		if got := r.header.Get("Retry-After"); got != "2" {
			t.Errorf("%s: Retry-After %q, want \"2\"", method, got)
		}
		if r.header.Get("request-id") == "" {
			t.Errorf("%s: no request-id", method)
		}
	}
	// A write goes through while reads are held and throttled.
	created(t, e.do("POST", "/pools", nil, pool("p2", 0)), http.StatusCreated, e.base+"/pools/p2")

	hv.release <- struct{}{} // the first read ends; the waiting one takes its place
	want(t, <-first, http.StatusOK, "")
	want(t, <-second, http.StatusOK, "")
	want(t, e.do("GET", "/pools/p2", nil, nil), http.StatusOK, "")
}

// waitQueued waits until n reads wait for a place at s.
func waitQueued(t *testing.T, s *rest.Server, n int) {
	t.Helper()
	for start := time.Now(); ; time.Sleep(time.Millisecond) {
		if _, waiting := s.ReadLoad(); waiting == n {
			return
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("no %d reads waiting", n)
		}
	}
}
