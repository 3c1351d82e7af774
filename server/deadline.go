package server

import (
	"errors"
	"io"
	"net/http"
	"sync"
	"time"
)

// Default time limits of the HTTP server.
const (
	// DefaultHeaderTimeout bounds the time from a connection's first byte of a request to the end
	// of its headers.
	DefaultHeaderTimeout = 10 * time.Second
	// DefaultBodyTimeout bounds the time from the end of a request's headers to the end of its
	// body. Bodies are at most 1 MiB (Azure's limit, which the REST API and the agent endpoint
	// apply): 30 seconds is 35 KiB a second.
	DefaultBodyTimeout = 30 * time.Second
	// DefaultIdleTimeout is how long a kept-alive connection may wait for its next request.
	DefaultIdleTimeout = 2 * time.Minute
)

// newHTTPServer returns the server's http.Server for handler: headers must arrive within
// headerTimeout, and a body within bodyTimeout of its headers (see withBodyDeadline).
//
// A body deadline is set per request rather than with http.Server.ReadTimeout, which would
// also end the wait of every request that outlives it after its body is read: a REST write
// waits up to 30 seconds for the service, an agent's long poll up to 20, and when the read
// deadline of a connection passes while its handler runs, net/http cancels the request's
// context.
func newHTTPServer(handler http.Handler, headerTimeout, bodyTimeout time.Duration) *http.Server {
	return &http.Server{
		Handler:           withBodyDeadline(handler, bodyTimeout),
		ReadHeaderTimeout: headerTimeout,
		IdleTimeout:       DefaultIdleTimeout,
	}
}

// withBodyDeadline gives the body of each request limit to arrive whole, counted from the end of
// its headers: the connection's read deadline is set when the handler starts and lifted when
// the body has been read to its end. A body that trickles in past the deadline fails to read
// (a timeout error, which the REST API answers 400 InvalidRequestBody) and the connection is
// closed, instead of being held open for as long as the client cares to send a byte now and
// then. A request without a body has no deadline.
func withBodyDeadline(next http.Handler, limit time.Duration) http.Handler {
	if limit <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(limit)); err != nil {
			next.ServeHTTP(w, r) // not a connection that has deadlines (a test recorder)
			return
		}
		r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the connection's read deadline once the body has been read to its end, so
// that net/http's wait for the client going away, which starts then, does not time out while
// the handler still works.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	once sync.Once
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) {
		b.once.Do(func() { _ = b.rc.SetReadDeadline(time.Time{}) })
	}
	return n, err
}
