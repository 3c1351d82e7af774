package postgres

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"corral/store"
	"corral/store/postgres/pgtest"
	"corral/store/storetest"
)

func openURL(t testing.TB, url string, opts Options) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := OpenOptions(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	pgtest.Require(t)
	storetest.Run(t, func(t *testing.T) store.Store { return openURL(t, pgtest.URL(t), Options{}) })
}

// connect returns a connection of the test's own to the database at url.
func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sql runs statements on a connection of its own to the database at url.
func sql(t *testing.T, url string, stmts ...string) {
	t.Helper()
	c := connect(t, url)
	defer c.Close(context.Background())
	for _, q := range stmts {
		if _, err := c.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestConcurrentOpen: servers that start together on an empty database create the schema once
// and share one revision counter.
func TestConcurrentOpen(t *testing.T) {
	url := pgtest.URL(t)
	const n = 8
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(context.Background(), url) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	seen := map[int64]int{}
	for i, s := range stores {
		for j, s2 := range stores {
			v := storetest.MustPut(t, s, "t", fmt.Sprint(i, "-", j), "x")
			if k, dup := seen[v]; dup {
				t.Fatalf("version %d handed out twice (writes %d and %d)", v, k, i*n+j)
			}
			seen[v] = i*n + j
			if _, err := storetest.Get(t, s2, "t", fmt.Sprint(i, "-", j)); err != nil {
				t.Fatalf("a write through store %d, read through store %d: %v", i, j, err)
			}
		}
	}
	var versions, revisions int
	var version int
	c := connect(t, url)
	defer c.Close(context.Background())
	if err := c.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM corral.schema_version), (SELECT max(version) FROM corral.schema_version),
		(SELECT count(*) FROM corral.meta WHERE name = 'revision')`).Scan(&versions, &version, &revisions); err != nil {
		t.Fatal(err)
	}
	if versions != 1 || version != len(migrations) || revisions != 1 {
		t.Fatalf("after %d concurrent Opens: %d schema_version rows (version %d), %d revision rows; want 1 (version %d), 1",
			n, versions, version, revisions, len(migrations))
	}
}

// TestOpenSchema: Open migrates an old schema and refuses a newer one, someone else's and a
// database that is not UTF8.
func TestOpenSchema(t *testing.T) {
	pgtest.Require(t)
	utf8 := pgtest.URL
	ascii := func(t testing.TB) string { return pgtest.URLWith(t, "ENCODING 'SQL_ASCII' LOCALE 'C'") }
	for _, c := range []struct {
		name      string
		url       func(t testing.TB) string
		openFirst bool     // Open once before setup
		setup     []string // statements
		want      string   // in Open's error; "" if Open must succeed
	}{
		{"newer", utf8, true, []string{"UPDATE corral.schema_version SET version = 99"},
			fmt.Sprintf("schema version 99 is newer than this Corral's (%d)", len(migrations))},
		{"version 0 is migrated", utf8, false, []string{"CREATE SCHEMA corral",
			"CREATE TABLE corral.schema_version (version integer NOT NULL)", "INSERT INTO corral.schema_version VALUES (0)"}, ""},
		{"an empty schema corral", utf8, false, []string{"CREATE SCHEMA corral"}, ""},
		{"someone else's", utf8, false, []string{"CREATE SCHEMA corral", "CREATE TABLE corral.users (name text)"},
			"not a Corral store"},
		{"SQL_ASCII", ascii, false, nil, "encoding is SQL_ASCII; Corral needs UTF8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			url := c.url(t)
			if c.openFirst {
				openURL(t, url, Options{}).Close()
			}
			sql(t, url, c.setup...)
			s, err := Open(context.Background(), url)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				storetest.MustPut(t, s, "t", "k", "v")
				return
			}
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), c.want) || errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("Open: %v; want an error saying %q, not ErrUnavailable", err, c.want)
			}
		})
	}
}

// TestOpenUnreachable: the error names the server with the password masked, and says the
// store is unavailable (a server starting later would answer).
func TestOpenUnreachable(t *testing.T) {
	const password = "s3cret-Pw"
	for _, url := range []string{
		"postgres://corral:" + password + "@127.0.0.1:1/corral?sslmode=disable",
		"postgresql://corral:" + password + "@127.0.0.1:1,127.0.0.1:2/corral?sslmode=disable&connect_timeout=5",
		"host=127.0.0.1 port=1 user=corral password=" + password + " dbname=corral sslmode=disable",
		"host=127.0.0.1 port=1 user=corral password='" + password + "' dbname=corral sslmode=disable",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		s, err := Open(ctx, url)
		cancel()
		if err == nil {
			s.Close()
			t.Fatalf("Open(%s) succeeded", Redact(url))
		}
		msg := err.Error()
		if strings.Contains(msg, password) || !strings.Contains(msg, Redact(url)) || !strings.Contains(msg, "127.0.0.1") {
			t.Errorf("Open error %q: want it to name %q, without the password", msg, Redact(url))
		}
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("Open error %q does not wrap ErrUnavailable", msg)
		}
	}
	// Nor does a string that cannot be parsed show it.
	for _, url := range []string{
		"postgres://corral:" + password + "@127.0.0.1:port/corral",
		"postgres://corral:" + password + "@127.0.0.1/corral?sslmode=nonsense",
		"host=127.0.0.1 port=x password=" + password,
		"host=127.0.0.1 password='" + password,
	} {
		s, err := Open(context.Background(), url)
		if err == nil {
			s.Close()
			t.Fatalf("Open(%s) succeeded", Redact(url))
		}
		if msg := err.Error(); strings.Contains(msg, password) || !strings.Contains(msg, "cannot parse") {
			t.Errorf("Open error %q: want it to say it cannot parse, without the password", msg)
		}
	}
}

// killSessions ends the store's sessions on the database at url (application_name corral), as a
// server restart does, and waits for them to end.
func killSessions(t *testing.T, url string) {
	t.Helper()
	c := connect(t, url)
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(context.Background(), `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000))
		FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
		AND application_name = 'corral'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no session to kill")
	}
}

// TestSessionsKilled: sessions ended under the store (a server restart, an administrator) fail
// the transactions that were using them with ErrUnavailable, and the store goes on working.
func TestSessionsKilled(t *testing.T) {
	url := pgtest.URL(t)
	s := openURL(t, url, Options{})
	storetest.MustPut(t, s, "t", "a", "1")
	if _, err := storetest.Get(t, s, "t", "a"); err != nil {
		t.Fatal(err)
	}

	// Idle connections: the next transactions find them broken and use new ones.
	killSessions(t, url)
	storetest.MustPut(t, s, "t", "b", "1")
	if _, err := storetest.Get(t, s, "t", "a"); err != nil {
		t.Fatalf("View after the sessions were killed: %v", err)
	}

	update := func(fn func(store.Tx) error) error { return s.Update(context.Background(), fn) }
	view := func(fn func(store.Tx) error) error { return s.View(context.Background(), fn) }
	put := func(tx store.Tx) error { _, err := tx.Put("t", "during", []byte("x"), store.AnyVersion); return err }
	get := func(tx store.Tx) error { _, err := tx.Get("t", "a"); return err }
	for _, c := range []struct {
		name   string
		run    func(fn func(store.Tx) error) error
		op     func(tx store.Tx) error
		ignore bool // fn returns nil whatever the operation's error
	}{
		{"Update", update, put, false},
		{"Update ignoring the error", update, put, true},
		{"View", view, get, false},
	} {
		var opErr error
		err := c.run(func(tx store.Tx) error {
			if err := c.op(tx); err != nil {
				return err
			}
			killSessions(t, url)
			if opErr = c.op(tx); c.ignore {
				return nil
			}
			return opErr
		})
		if !errors.Is(opErr, store.ErrUnavailable) {
			t.Errorf("%s: an operation after the session was killed: %v, want ErrUnavailable", c.name, opErr)
		}
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("%s = %v, want ErrUnavailable", c.name, err)
		}
		if _, err := storetest.Get(t, s, "t", "during"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("after a %s whose session was killed: %v, want ErrNotFound", c.name, err)
		}
		storetest.MustPut(t, s, "t", "after", c.name)
	}
}

// hold runs an Update on s that writes table t, key held and waits, holding the lock, until
// release is called; release returns the Update's error.
func hold(t *testing.T, s store.Store) (release func() error) {
	t.Helper()
	holding := make(chan struct{})
	unblock := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Update(context.Background(), func(tx store.Tx) error {
			if _, err := tx.Put("t", "held", []byte("x"), store.AnyVersion); err != nil {
				return err
			}
			close(holding)
			<-unblock
			return nil
		})
	}()
	select {
	case <-holding:
	case err := <-done:
		t.Fatalf("holding Update: %v", err)
	}
	var once sync.Once
	release = func() error {
		once.Do(func() { close(unblock) })
		return <-done
	}
	t.Cleanup(func() { once.Do(func() { close(unblock) }) })
	return release
}

// TestWaitForOtherProcess: an Update that waits for another process's Update gives up when its
// context ends or after LockTimeout, without running fn, and works once the lock is free.
func TestWaitForOtherProcess(t *testing.T) {
	url := pgtest.URL(t)
	holder := openURL(t, url, Options{})
	for _, c := range []struct {
		name    string
		opts    Options
		ctx     func() (context.Context, context.CancelFunc)
		want    error
		atLeast time.Duration
	}{
		{"lock timeout", Options{LockTimeout: 300 * time.Millisecond},
			func() (context.Context, context.CancelFunc) { return context.Background(), func() {} },
			store.ErrUnavailable, 300 * time.Millisecond},
		{"context deadline", Options{},
			func() (context.Context, context.CancelFunc) {
				return context.WithTimeout(context.Background(), 300*time.Millisecond)
			},
			context.DeadlineExceeded, 300 * time.Millisecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			waiter := openURL(t, url, c.opts)
			storetest.MustPut(t, waiter, "t", "connected", "x")
			release := hold(t, holder)
			ctx, cancel := c.ctx()
			defer cancel()
			ran := false
			start := time.Now()
			err := waiter.Update(ctx, func(tx store.Tx) error { ran = true; return nil })
			elapsed := time.Since(start)
			if !errors.Is(err, c.want) || ran || elapsed < c.atLeast || elapsed > 10*time.Second {
				t.Errorf("Update while another process holds the lock = %v after %v (fn ran: %v); want %v after %v",
					err, elapsed, ran, c.want, c.atLeast)
			}
			if err := release(); err != nil {
				t.Fatalf("holding Update: %v", err)
			}
			storetest.MustPut(t, waiter, "t", "after", c.name)
		})
	}
}

const frozenEnv = "CORRAL_POSTGRES_FROZEN_CHILD"

// TestFrozenChild is the process TestFrozenHolder freezes: it opens the store at the URL in
// frozenEnv with a short idle-in-transaction timeout, starts an Update that writes t/frozen,
// prints "holding" and waits inside the transaction for its standard input to close.
func TestFrozenChild(t *testing.T) {
	url := os.Getenv(frozenEnv)
	if url == "" {
		t.Skip("helper process for TestFrozenHolder")
	}
	s, err := OpenOptions(context.Background(), url, Options{IdleInTransactionTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(context.Background(), func(tx store.Tx) error {
		if _, err := tx.Put("t", "frozen", []byte("x"), store.AnyVersion); err != nil {
			return err
		}
		fmt.Println("holding")
		io.Copy(io.Discard, os.Stdin)
		return nil
	})
	fmt.Println("update:", err)
}

// TestFrozenHolder: a process frozen (SIGSTOP) inside an Update, holding the lock, is cut off by
// PostgreSQL after the idle-in-transaction timeout, its transaction rolled back, and another
// process's Update proceeds.
func TestFrozenHolder(t *testing.T) {
	if os.Getenv(frozenEnv) != "" {
		t.Skip("in the child")
	}
	url := pgtest.URL(t)
	s := openURL(t, url, Options{})
	storetest.MustPut(t, s, "t", "before", "x")

	cmd := exec.Command(os.Args[0], "-test.run=^TestFrozenChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), frozenEnv+"="+url)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var reap sync.Once
	wait := func() { reap.Do(func() { cmd.Process.Kill(); cmd.Wait(); stdin.Close() }) }
	t.Cleanup(wait)
	sc := bufio.NewScanner(stdout)
	var out []string
	for sc.Scan() && sc.Text() != "holding" {
		out = append(out, sc.Text())
	}
	if sc.Err() != nil || sc.Text() != "holding" {
		wait()
		t.Fatalf("child did not start its Update: %q %s", out, stderr.String())
	}
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Put("t", "after", []byte("x"), 0)
		return err
	})
	if err != nil {
		t.Fatalf("Update while another process is frozen holding the lock: %v", err)
	}
	t.Logf("the frozen process's lock was released after %v", time.Since(start).Round(time.Millisecond))
	if _, err := storetest.Get(t, s, "t", "frozen"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the frozen process's write: %v, want ErrNotFound (rolled back)", err)
	}

	// Thawed, the child finds its transaction gone.
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	var rest []string
	for sc.Scan() {
		rest = append(rest, sc.Text())
	}
	cmd.Wait()
	if !strings.Contains(strings.Join(rest, "\n"), "update: postgres: update not committed: store: unavailable") {
		t.Errorf("the thawed child's Update: %q, want not committed, ErrUnavailable", rest)
	}
	if _, err := storetest.Get(t, s, "t", "frozen"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the thawed process's write: %v, want ErrNotFound", err)
	}
}

// cutter dials connections whose answers it can cut: once armed, the next answer to arrive on
// any of them is thrown away and the connection closed, as if the network failed just then.
type cutter struct {
	armed atomic.Bool
	mu    sync.Mutex
	conns []net.Conn
}

func (c *cutter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conns = append(c.conns, conn)
	return &cutConn{Conn: conn, c: c}, nil
}

// closeAll closes every connection, as a network that fails before the next request does.
func (c *cutter) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		conn.Close()
	}
}

type cutConn struct {
	net.Conn
	c *cutter
}

func (c *cutConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.c.armed.CompareAndSwap(true, false) {
		c.Conn.Close()
		return 0, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	}
	return n, err
}

// TestLostCommit: when the connection fails at COMMIT, Update says whether the outcome is
// known. An answer lost after the server committed is ErrUnavailable with the outcome unknown
// (and the write is there); a connection lost before COMMIT was sent is ErrUnavailable, not
// committed.
func TestLostCommit(t *testing.T) {
	url := pgtest.URL(t)
	for _, c := range []struct {
		name      string
		cut       func(*cutter)
		want      string
		committed bool
	}{
		{"answer lost", func(c *cutter) { c.armed.Store(true) }, "the outcome is unknown", true},
		{"request lost", (*cutter).closeAll, "not committed", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cut := &cutter{}
			s := openURL(t, url, Options{dial: cut.dial})
			storetest.MustPut(t, s, "t", "before", c.name)
			err := s.Update(context.Background(), func(tx store.Tx) error {
				if _, err := tx.Put("t", c.name, []byte("x"), 0); err != nil {
					return err
				}
				c.cut(cut)
				return nil
			})
			if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Update = %v, want ErrUnavailable saying %q", err, c.want)
			}
			_, err = storetest.Get(t, s, "t", c.name)
			if committed := err == nil; committed != c.committed || err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Errorf("after the Update: %v; want committed %v", err, c.committed)
			}
			storetest.MustPut(t, s, "t", "after", c.name)
		})
	}
}

// TestSessionSettings checks that the settings the package documentation promises are in
// effect on the connections of Updates and of Views.
func TestSessionSettings(t *testing.T) {
	url := pgtest.URL(t)
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	for _, c := range []struct {
		name string
		url  string
		opts Options
		want map[string]string
	}{
		{"defaults", url, Options{}, map[string]string{
			"idle_in_transaction_session_timeout": "10s", "lock_timeout": "15s",
			"synchronous_commit": "on", "application_name": "corral", "server_encoding": "UTF8"}},
		{"options", url, Options{IdleInTransactionTimeout: 3 * time.Second, LockTimeout: 1500 * time.Millisecond},
			map[string]string{"idle_in_transaction_session_timeout": "3s", "lock_timeout": "1500ms"}},
		{"URL", url + sep + "lock_timeout=7000&application_name=corral-a&synchronous_commit=remote_apply",
			Options{IdleInTransactionTimeout: 2 * time.Second}, map[string]string{
				"idle_in_transaction_session_timeout": "2s", "lock_timeout": "7s",
				"synchronous_commit": "remote_apply", "application_name": "corral-a"}},
	} {
		s := openURL(t, c.url, c.opts)
		for name, want := range c.want {
			for _, pool := range []struct {
				name string
				q    func(string) pgx.Row
			}{
				{"writer", func(q string) pgx.Row { return s.writer.QueryRow(context.Background(), q) }},
				{"reader", func(q string) pgx.Row { return s.reader.QueryRow(context.Background(), q) }},
			} {
				var got string
				if err := pool.q("SHOW " + name).Scan(&got); err != nil || got != want {
					t.Errorf("%s: %s: %s = %q, %v; want %q", c.name, pool.name, name, got, err, want)
				}
			}
		}
		s.Close()
	}
}

// TestLargeValue: a value over MaxValueSize is refused before it is sent, and the transaction
// goes on.
func TestLargeValue(t *testing.T) {
	s := openURL(t, pgtest.URL(t), Options{})
	err := s.Update(context.Background(), func(tx store.Tx) error {
		if _, err := tx.Put("t", "big", make([]byte, MaxValueSize+1), store.AnyVersion); !errors.Is(err, store.ErrInvalid) {
			return fmt.Errorf("Put of %d bytes: %v, want ErrInvalid", MaxValueSize+1, err)
		}
		_, err := tx.Put("t", "small", []byte("x"), 0)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := storetest.Get(t, s, "t", "small"); err != nil {
		t.Fatal(err)
	}
}
