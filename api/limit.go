package api

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Limiter bounds how many requests of one kind are served at once: at most its limit run, at
// most its queue length wait for one of them to finish, in the order they came, and a request
// beyond both is refused at once. A server answers a refused request as Azure answers one it is
// too busy for: [WriteThrottled]. A Limiter is safe for concurrent use; its zero value is not
// usable (see [NewLimiter]).
//
// It reads no clock: how long a request may wait is its context's business.
type Limiter struct {
	mu      sync.Mutex
	limit   int
	queue   int
	running int
	waiting []chan struct{} // oldest first; a waiter's channel is closed when it is admitted
}

// NewLimiter returns a Limiter that lets limit requests run at once and queue more wait. A
// limit below 1 is taken as 1, a queue below 0 as 0.
func NewLimiter(limit, queue int) *Limiter {
	return &Limiter{limit: max(limit, 1), queue: max(queue, 0)}
}

// Acquire admits a request: at once when fewer than the limit run, else after waiting in the
// queue for one of them to call its release, unless ctx ends first. It returns ok false, and
// no release, when the queue is full or ctx ended before the request was admitted. An admitted
// request must call release once, when it is done.
func (l *Limiter) Acquire(ctx context.Context) (release func(), ok bool) {
	l.mu.Lock()
	if l.running < l.limit && len(l.waiting) == 0 {
		l.running++
		l.mu.Unlock()
		return l.releaseOnce(), true
	}
	if len(l.waiting) >= l.queue {
		l.mu.Unlock()
		return nil, false
	}
	admitted := make(chan struct{})
	l.waiting = append(l.waiting, admitted)
	l.mu.Unlock()

	select {
	case <-admitted:
		return l.releaseOnce(), true
	case <-ctx.Done():
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, ch := range l.waiting {
		if ch == admitted {
			l.waiting = append(l.waiting[:i], l.waiting[i+1:]...)
			return nil, false
		}
	}
	// Admitted as ctx ended: the place is taken, so give it on.
	l.releaseLocked()
	return nil, false
}

// releaseOnce returns a release function that frees the request's place the first time it is
// called.
func (l *Limiter) releaseOnce() func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			l.releaseLocked()
		})
	}
}

// releaseLocked frees one running place: the oldest waiter takes it, or it is free.
func (l *Limiter) releaseLocked() {
	if len(l.waiting) > 0 && l.running <= l.limit {
		next := l.waiting[0]
		l.waiting = l.waiting[1:]
		close(next) // it runs in the place just freed
		return
	}
	l.running--
}

// SetLimit changes how many requests may run at once (below 1 is taken as 1). Requests running
// beyond a lowered limit finish; no new one starts until fewer than the new limit run. Waiting
// requests start at once in the places a raised limit frees.
func (l *Limiter) SetLimit(limit int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limit = max(limit, 1)
	for l.running < l.limit && len(l.waiting) > 0 {
		close(l.waiting[0])
		l.waiting = l.waiting[1:]
		l.running++
	}
}

// Load reports how many requests run and how many wait.
func (l *Limiter) Load() (running, waiting int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.running, len(l.waiting)
}

// HeaderRetryAfter is the response header that tells a throttled client how many seconds to
// wait before it tries again.
const HeaderRetryAfter = "Retry-After"

// WriteThrottled answers a request that the server is too busy to serve as Azure Batch does:
// 503 ServerBusy in Azure's error shape, with a Retry-After header of retryAfter in whole
// seconds (at least 1). Azure documents 429 or 503 with Retry-After as its throttling answers
// (learn.microsoft.com, "Error handling and detection in Azure Batch"); 503 ServerBusy is the
// one its error codes name for a busy server ("The server is currently unable to receive
// requests. Please retry your request."), and the Azure SDKs' retry policies retry both,
// waiting as Retry-After says.
func WriteThrottled(w http.ResponseWriter, r *http.Request, requestID string, now time.Time, retryAfter time.Duration) {
	secs := max(1, int((retryAfter+time.Second-1)/time.Second))
	w.Header().Set(HeaderRetryAfter, strconv.Itoa(secs))
	WriteError(w, r, NewError(CodeServerBusy), requestID, now)
}
