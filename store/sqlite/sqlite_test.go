package sqlite

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"corral/store"
	"corral/store/storetest"
)

func openTemp(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "corral.db"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
}

// TestReopen checks that committed records and the revision counter are in the file.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "corral.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	va := storetest.MustPut(t, s, "t", "a", "alpha")
	storetest.MustPut(t, s, "t", "b", "beta")
	newest := storetest.MustPut(t, s, "t", "c", "gamma")
	// Delete the record with the newest version: the counter must not be derived from the
	// versions left in the table.
	if err := s.Update(context.Background(), func(tx store.Tx) error { return tx.Delete("t", "c", newest) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if r, err := storetest.Get(t, s, "t", "a"); err != nil || string(r.Value) != "alpha" || r.Version != va {
		t.Errorf("after reopen, t/a = %+v, %v", r, err)
	}
	if _, err := storetest.Get(t, s, "t", "c"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after reopen, deleted t/c: %v, want ErrNotFound", err)
	}
	if v := storetest.MustPut(t, s, "t", "c", "again"); v <= newest {
		t.Errorf("version after reopen %d, want > %d (the revision counter is persisted)", v, newest)
	}
}

// TestOpenPath checks that a path with URI metacharacters names exactly that file.
func TestOpenPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data dir #1 %20 ?x=y")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "corral?mode=ro#.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	storetest.MustPut(t, s, "t", "k", "v")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != "corral?mode=ro#.db" {
		t.Fatalf("files in the data directory after Close: %q, want just the database", names)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if r, err := storetest.Get(t, s, "t", "k"); err != nil || string(r.Value) != "v" {
		t.Fatalf("after reopen: %+v, %v", r, err)
	}
}

func rawExec(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "foreign.db")
	rawExec(t, foreign, "CREATE TABLE users (name TEXT)")
	newer := filepath.Join(dir, "newer.db")
	s, err := Open(newer)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	rawExec(t, newer, "PRAGMA user_version = 99")
	other := filepath.Join(dir, "other.db")
	rawExec(t, other, "PRAGMA application_id = 42")
	notDB := filepath.Join(dir, "text.db")
	if err := os.WriteFile(notDB, bytes.Repeat([]byte("not a database\n"), 100), 0o644); err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct{ path, want string }{
		{foreign, "not a Corral store"},
		{newer, "newer"},
		{other, "application_id"},
		{notDB, "not a database"},
	} {
		s, err := Open(c.path)
		if err == nil {
			s.Close()
			t.Errorf("Open(%s) succeeded", filepath.Base(c.path))
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Open(%s) = %v, want an error mentioning %q", filepath.Base(c.path), err, c.want)
		}
	}
}

// TestLockedIsUnavailable: when another process holds the write lock past the busy timeout,
// Update fails with ErrUnavailable and nothing else breaks.
func TestLockedIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "corral.db")
	s, err := open(path, options{synchronous: "FULL", busyTimeoutMS: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	other, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	ran := false
	err = s.Update(context.Background(), func(tx store.Tx) error { ran = true; return nil })
	if !errors.Is(err, store.ErrUnavailable) || ran {
		t.Errorf("Update while another process holds the lock = %v (fn ran: %v), want ErrUnavailable", err, ran)
	}
	// Readers are not blocked by a writer.
	if _, err := storetest.Get(t, s, "t", "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("View while another process holds the lock: %v", err)
	}
	if _, err := conn.ExecContext(context.Background(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	storetest.MustPut(t, s, "t", "k", "v")
}

const crashEnv = "CORRAL_SQLITE_CRASH_CHILD"

func crashKey(i int) string { return fmt.Sprintf("k%08d", i) }

func crashValue(i int) []byte {
	return bytes.Repeat([]byte(strconv.Itoa(i)+";"), 1+(i*37)%500) // 2 B to several KiB
}

// crashWindow is how many of the newest keys the child keeps; older ones it deletes.
const crashWindow = 50

// TestCrashChild is the process TestCrash kills: it appends records in a loop, each Update
// writing a key, advancing a counter conditionally and deleting an old key, and prints
// "committed N" after Update N returns.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process for TestCrash")
	}
	die := func(err error) {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	s, err := Open(path)
	if err != nil {
		die(err)
	}
	ctx := context.Background()
	n := 0
	if r, err := storetest.Get(t, s, "crash", "counter"); err == nil {
		n, _ = strconv.Atoi(string(r.Value))
	}
	for i := n + 1; ; i++ {
		err := s.Update(ctx, func(tx store.Tx) error {
			if _, err := tx.Put("crash", crashKey(i), crashValue(i), 0); err != nil {
				return err
			}
			ifVersion := int64(0)
			if r, err := tx.Get("crash", "counter"); err == nil {
				ifVersion = r.Version
			}
			if _, err := tx.Put("crash", "counter", []byte(strconv.Itoa(i)), ifVersion); err != nil {
				return err
			}
			if i > crashWindow {
				return tx.Delete("crash", crashKey(i-crashWindow), store.AnyVersion)
			}
			return nil
		})
		if err != nil {
			die(err)
		}
		if _, err := fmt.Fprintf(os.Stdout, "committed %d\n", i); err != nil {
			die(err)
		}
	}
}

// TestCrash kills a writing process with SIGKILL at an arbitrary point, several times over the
// same file, and checks after each kill that the database opens, passes SQLite's integrity check,
// holds every write the child reported as committed, and holds each transaction entirely or
// not at all. (A process crash leaves the OS page cache intact; surviving power loss rests on
// synchronous=FULL, which this test cannot observe.)
func TestCrash(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("in the child")
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	const rounds, killAfter = 4, 60
	reported := 0
	for round := range rounds {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+path)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var reap sync.Once
		wait := func() { reap.Do(func() { cmd.Process.Kill(); cmd.Wait() }) }
		t.Cleanup(wait)

		// Read every line the child printed, including those printed between the kill and
		// its death: each was printed after its Update returned.
		sc := bufio.NewScanner(stdout)
		lines := 0
		for sc.Scan() {
			line := sc.Text()
			s, ok := strings.CutPrefix(line, "committed ")
			if !ok {
				continue // the test framework's own output
			}
			i, err := strconv.Atoi(s)
			if err != nil || i != reported+1 {
				wait()
				t.Fatalf("round %d: child printed %q after committed %d", round, line, reported)
			}
			reported = i
			if lines++; lines == killAfter {
				if err := cmd.Process.Kill(); err != nil { // SIGKILL
					t.Fatal(err)
				}
			}
		}
		wait()
		if lines < killAfter {
			t.Fatalf("round %d: child exited after %d commits, before it was killed: %s", round, lines, stderr.String())
		}

		checkIntegrity(t, path)
		s, err := Open(path)
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		r, err := storetest.Get(t, s, "crash", "counter")
		if err != nil {
			t.Fatalf("round %d: counter: %v", round, err)
		}
		n, _ := strconv.Atoi(string(r.Value))
		// The child may have committed one more Update than it reported.
		if n != reported && n != reported+1 {
			t.Fatalf("round %d: counter %d after the child reported %d commits", round, n, reported)
		}
		var got []store.Record
		if err := s.View(context.Background(), func(tx store.Tx) error {
			got, err = tx.List("crash", "k", "", 0)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		first := max(1, n-crashWindow+1)
		if len(got) != n-first+1 {
			t.Fatalf("round %d: %d keys after %d commits, want %d (a transaction was torn)", round, len(got), n, n-first+1)
		}
		for j, rec := range got {
			if i := first + j; rec.Key != crashKey(i) || !bytes.Equal(rec.Value, crashValue(i)) {
				t.Fatalf("round %d: record %s (%d bytes), want %s", round, rec.Key, len(rec.Value), crashKey(i))
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		reported = n
		t.Logf("round %d: killed after %d commits in all; %d keys kept", round, n, len(got))
	}
}

func checkIntegrity(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity check: %q, %v", res, err)
	}
}

// TestPragmas checks that the durability settings the package documents are in effect on the
// connections that use them.
func TestPragmas(t *testing.T) {
	s := openTemp(t)
	defer s.Close()
	ctx := context.Background()
	for _, c := range []struct {
		db    *sql.DB
		name  string
		query string
		want  string
	}{
		{s.writer, "writer", "PRAGMA journal_mode", "wal"},
		{s.writer, "writer", "PRAGMA synchronous", "2"}, // FULL
		{s.writer, "writer", "PRAGMA busy_timeout", strconv.Itoa(busyTimeoutMS)},
		{s.writer, "writer", "PRAGMA query_only", "0"},
		{s.reader, "reader", "PRAGMA journal_mode", "wal"},
		{s.reader, "reader", "PRAGMA query_only", "1"},
		{s.reader, "reader", "PRAGMA busy_timeout", strconv.Itoa(busyTimeoutMS)},
	} {
		var got string
		if err := c.db.QueryRowContext(ctx, c.query).Scan(&got); err != nil || got != c.want {
			t.Errorf("%s: %s = %q, %v; want %q", c.name, c.query, got, err, c.want)
		}
	}
}
