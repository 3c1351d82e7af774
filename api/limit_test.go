package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"corral/api"
)

// acquired is the outcome of one Acquire, delivered on a channel so that a test can hold
// requests in flight and see when one is admitted.
type acquired struct {
	release func()
	ok      bool
}

func acquire(l *api.Limiter, ctx context.Context) <-chan acquired {
	ch := make(chan acquired, 1)
	go func() {
		release, ok := l.Acquire(ctx)
		ch <- acquired{release, ok}
	}()
	return ch
}

// waitLoad waits until l has the given load: a request that waits has joined the queue.
func waitLoad(t *testing.T, l *api.Limiter, running, waiting int) {
	t.Helper()
	for start := time.Now(); ; {
		r, w := l.Load()
		if r == running && w == waiting {
			return
		}
		if time.Since(start) > 10*time.Second { // a goroutine that never reached Acquire
			t.Fatalf("load %d running, %d waiting; want %d, %d", r, w, running, waiting)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

func TestLimiter(t *testing.T) {
	bg := context.Background()
	for _, tc := range []struct {
		name         string
		limit, queue int
		// steps, in order: "a" acquires (admitted at once, or refused, as want says), "w"
		// starts an acquire that must wait, "r" releases the oldest admitted request, "c"
		// cancels the oldest waiting one; after each, the load must be as given.
		steps []step
	}{
		{name: "up to the limit at once, then refused without a queue", limit: 2, queue: 0, steps: []step{
			{op: "a", ok: true, running: 1}, {op: "a", ok: true, running: 2}, {op: "a", ok: false, running: 2},
			{op: "r", running: 1}, {op: "a", ok: true, running: 2},
		}},
		{name: "a queue waits in order and refuses beyond", limit: 1, queue: 2, steps: []step{
			{op: "a", ok: true, running: 1}, {op: "w", running: 1, waiting: 1}, {op: "w", running: 1, waiting: 2},
			{op: "a", ok: false, running: 1, waiting: 2},
			{op: "r", running: 1, waiting: 1}, {op: "r", running: 1}, {op: "r", running: 0},
		}},
		{name: "a waiter whose context ends leaves the queue", limit: 1, queue: 1, steps: []step{
			{op: "a", ok: true, running: 1}, {op: "w", running: 1, waiting: 1}, {op: "c", running: 1},
			{op: "w", running: 1, waiting: 1}, {op: "r", running: 1}, {op: "r"},
		}},
		{name: "limits below one are one", limit: 0, queue: -1, steps: []step{
			{op: "a", ok: true, running: 1}, {op: "a", ok: false, running: 1},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := api.NewLimiter(tc.limit, tc.queue)
			var admitted []func()
			type waiter struct {
				ch     <-chan acquired
				cancel context.CancelFunc
			}
			var waiting []waiter
			for i, st := range tc.steps {
				switch st.op {
				case "a":
					release, ok := l.Acquire(bg)
					if ok != st.ok {
						t.Fatalf("step %d: Acquire ok %v, want %v", i, ok, st.ok)
					}
					if ok {
						admitted = append(admitted, release)
					}
				case "w":
					ctx, cancel := context.WithCancel(bg)
					defer cancel()
					waiting = append(waiting, waiter{acquire(l, ctx), cancel})
				case "r":
					admitted[0]()
					admitted[0]() // a second call changes nothing
					admitted = admitted[1:]
					if len(waiting) > 0 { // the oldest waiter takes the place
						a := <-waiting[0].ch
						if !a.ok {
							t.Fatalf("step %d: the oldest waiter was refused", i)
						}
						admitted = append(admitted, a.release)
						waiting = waiting[1:]
					}
				case "c":
					waiting[0].cancel()
					if a := <-waiting[0].ch; a.ok {
						t.Fatalf("step %d: a cancelled waiter was admitted", i)
					}
					waiting = waiting[1:]
				}
				waitLoad(t, l, st.running, st.waiting)
			}
		})
	}
}

type step struct {
	op               string
	ok               bool
	running, waiting int
}

func TestLimiterSetLimit(t *testing.T) {
	bg := context.Background()
	l := api.NewLimiter(1, 2)
	first, _ := l.Acquire(bg)
	w1 := acquire(l, bg)
	waitLoad(t, l, 1, 1) // w1 waits first
	w2 := acquire(l, bg)
	waitLoad(t, l, 1, 2)

	l.SetLimit(2) // one waiter starts at once
	a := <-w1
	if !a.ok {
		t.Fatal("the oldest waiter was refused when the limit was raised")
	}
	waitLoad(t, l, 2, 1)

	l.SetLimit(1) // both running go on; the waiter waits until fewer than one run
	first()
	waitLoad(t, l, 1, 1)
	a.release()
	b := <-w2
	if !b.ok {
		t.Fatal("the waiter was refused")
	}
	waitLoad(t, l, 1, 0)
	b.release()
	waitLoad(t, l, 0, 0)
}

func TestWriteThrottled(t *testing.T) {
	for _, tc := range []struct {
		after time.Duration
		want  string
	}{{0, "1"}, {time.Second, "1"}, {1500 * time.Millisecond, "2"}, {5 * time.Second, "5"}} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodGet, "http://acct.example/jobs/j/tasks", nil)
		api.WriteThrottled(w, r, "rid", time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC), tc.after)
		if w.Code != http.StatusServiceUnavailable {
			t.Errorf("status %d, want 503", w.Code)
		}
		if got := w.Header().Get("Retry-After"); got != tc.want {
			t.Errorf("Retry-After %q for %v, want %q", got, tc.after, tc.want)
		}
		var body struct {
			Code    string `json:"code"`
			Message struct {
				Value string `json:"value"`
			} `json:"message"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Code != api.CodeServerBusy || body.Message.Value == "" {
			t.Errorf("body %s (%v): want Azure's error with code ServerBusy", w.Body, err)
		}
	}
}
