package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// serveForTest serves handler with newHTTPServer's limits on a free loopback port and returns
// its address; the server is shut down when the test ends.
func serveForTest(t *testing.T, handler http.Handler, headerTimeout, bodyTimeout time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(handler, headerTimeout, bodyTimeout)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ln.Addr().String()
}

// trickle dials addr, sends head at once, then one byte of body every interval until the
// connection fails or the test ends, and returns the connection.
func trickle(t *testing.T, addr, head string, interval time.Duration) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	sent := make(chan struct{})
	t.Cleanup(func() {
		close(stop)
		conn.Close()
		<-sent
	})
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(sent)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte("x")); err != nil {
					return
				}
			}
		}
	}()
	return conn
}

// gaveUpWithin waits for the server to answer or close conn and fails the test unless it did
// within limit. It returns the status line, "" when the connection closed without one.
func gaveUpWithin(t *testing.T, conn net.Conn, limit time.Duration) string {
	t.Helper()
	start := time.Now()
	conn.SetReadDeadline(start.Add(limit))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the server still held the connection after %v", limit)
	}
	return strings.TrimSpace(line)
}

func TestBodyDeadline(t *testing.T) {
	const bodyTimeout = 300 * time.Millisecond
	readErr := make(chan error, 1)
	addr := serveForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
		if err != nil {
			http.Error(w, "body not read", http.StatusBadRequest)
			return
		}
		// A handler that waits long after reading its body (a REST write waiting for the
		// service, an agent's long poll) keeps its request.
		select {
		case <-time.After(3 * bodyTimeout):
			io.WriteString(w, "waited")
		case <-r.Context().Done():
			t.Errorf("request context ended while the handler waited: %v", context.Cause(r.Context()))
		}
	}), DefaultHeaderTimeout, bodyTimeout)

	t.Run("trickled body", func(t *testing.T) {
		// 1,000 bytes at one byte each 50 ms would take 50 s.
		conn := trickle(t, addr, "POST /x HTTP/1.1\r\nHost: corral\r\nContent-Length: 1000\r\n\r\n", 50*time.Millisecond)
		start := time.Now()
		status := gaveUpWithin(t, conn, 10*time.Second)
		if took := time.Since(start); took > bodyTimeout+5*time.Second {
			t.Errorf("the server gave up after %v (deadline %v)", took, bodyTimeout)
		}
		if status != "" && !strings.Contains(status, " 400 ") {
			t.Errorf("answer = %q", status)
		}
		select {
		case err := <-readErr:
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				t.Errorf("the handler's body read ended with %v, want a timeout", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("the handler's body read did not end")
		}
	})

	// A body read in time lets the handler take as long as it needs, whether its length is known
	// or it comes in chunks.
	for _, tc := range []struct {
		name string
		body func() io.Reader
	}{
		{"whole body, long handler", func() io.Reader { return strings.NewReader(strings.Repeat("y", 1000)) }},
		{"chunked body, long handler", func() io.Reader {
			pr, pw := io.Pipe()
			go func() {
				io.WriteString(pw, "chunk one,")
				io.WriteString(pw, "chunk two")
				pw.Close()
			}()
			return pr // unknown length: chunked
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post("http://"+addr+"/x", "text/plain", tc.body())
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || string(b) != "waited" {
				t.Errorf("answer = %d %q", resp.StatusCode, b)
			}
			if err := <-readErr; err != nil {
				t.Errorf("body read: %v", err)
			}
		})
	}
}

func TestHeaderDeadline(t *testing.T) {
	const headerTimeout = 300 * time.Millisecond
	addr := serveForTest(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a request whose headers never ended was served")
	}), headerTimeout, DefaultBodyTimeout)
	// Headers that never end: one byte of a header line every 50 ms.
	conn := trickle(t, addr, "GET /x HTTP/1.1\r\nHost: corral\r\nX-Slow: ", 50*time.Millisecond)
	start := time.Now()
	gaveUpWithin(t, conn, 10*time.Second)
	if took := time.Since(start); took > headerTimeout+5*time.Second {
		t.Errorf("the server gave up after %v (deadline %v)", took, headerTimeout)
	}
}
