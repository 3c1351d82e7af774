package server

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"corral/api"
	"corral/batch"
	"corral/store"
)

// privatePostgres is a PostgreSQL server of the test's own, on a free loopback port, that the
// test may stop and restart without disturbing any other test. It needs Debian's postgresql
// package and root (initdb and the server run as the postgres user).
type privatePostgres struct {
	bin, dir, port string
}

// startPrivatePostgres starts one, or skips the test saying what it needs.
func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	pgUser, err := user.Lookup("postgres")
	if len(bins) == 0 || err != nil || os.Getuid() != 0 {
		t.Skip("needs root and Debian's postgresql package (bash .ci/run installs it): the test runs a PostgreSQL server of its own")
	}
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)
	base, err := os.MkdirTemp("", "corral-pg-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &privatePostgres{bin: filepath.Dir(bins[len(bins)-1]), dir: filepath.Join(base, "data")}
	if err := os.Mkdir(p.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p.dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	_, port, _ := splitHostPort(freeAddr(t))
	p.port = port
	t.Cleanup(func() {
		p.pgctl("stop", "-m", "immediate").Run()
		os.RemoveAll(base)
	})
	if out, err := p.as(filepath.Join(p.bin, "initdb"), "-D", p.dir, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	if out, err := p.pgctl("start", "-w", "-o", p.options()).CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl start: %v\n%s", err, out)
	}
	return p
}

func (p *privatePostgres) as(name string, args ...string) *exec.Cmd {
	return exec.Command("runuser", append([]string{"-u", "postgres", "--", name}, args...)...)
}

func (p *privatePostgres) pgctl(args ...string) *exec.Cmd {
	return p.as(filepath.Join(p.bin, "pg_ctl"), append([]string{"-D", p.dir, "-l", filepath.Join(p.dir, "server.log")}, args...)...)
}

// options are the server's: its port, its socket in its data directory, loopback only.
func (p *privatePostgres) options() string {
	return "-p " + p.port + " -k " + p.dir + " -c listen_addresses=127.0.0.1 -c fsync=off"
}

// url is the URL of its postgres database.
func (p *privatePostgres) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%s/postgres?sslmode=disable", p.port)
}

func splitHostPort(addr string) (string, string, error) {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[:i], addr[i+1:], nil
		}
	}
	return addr, "", fmt.Errorf("no port in %q", addr)
}

// TestReplicasPostgresRestart restarts PostgreSQL under two replicas running a job: the leader
// waits and goes on, every task runs once, clients meanwhile get answers they can retry (503 or
// no connection) and never an acknowledgement of something that was not written.
func TestReplicasPostgresRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	pg := startPrivatePostgres(t)
	open := func(t *testing.T) store.Store { return openTestPostgres(t, pg.url()) }
	rs := startReplicas(t, 2, pg.url(), open, 2*time.Second)
	rs.waitLeader(t, -1, 30*time.Second)

	rs.staticPool(t, 2, 2)
	log, tasks := rs.flatJob(t, 60)
	waitUntil(t, 60*time.Second, "ten tasks started", func() bool {
		c, _ := runLog(t, log)
		return len(c) >= 10
	})

	// Restart PostgreSQL; meanwhile, add jobs through the first replica and note the answers.
	restarted := make(chan error, 1)
	go func() {
		out, err := pg.pgctl("restart", "-w", "-m", "fast", "-o", pg.options()).CombinedOutput()
		if err != nil {
			err = fmt.Errorf("%v: %s", err, out)
		}
		restarted <- err
	}()
	answers := map[string]int{}
	for i := 0; ; i++ {
		id := fmt.Sprintf("during%d", i)
		answers[id] = postOnce(rs, "/jobs", batch.Job{ID: id, PoolInfo: batch.PoolInformation{PoolID: "p1"}})
		select {
		case err := <-restarted:
			if err != nil {
				t.Fatalf("restart PostgreSQL: %v", err)
			}
			goto done
		case <-time.After(100 * time.Millisecond):
		}
	}
done:
	t.Logf("answers to adds during the restart: %v", answers)
	for id, code := range answers {
		switch code {
		case http.StatusCreated:
			var j batch.Job
			if got := rs.callAny(t, "GET", "/jobs/"+id, nil, &j); got != http.StatusOK {
				t.Errorf("job %s was acknowledged (201) during the restart but is not there (%d)", id, got)
			}
		case http.StatusServiceUnavailable, 0, http.StatusInternalServerError:
			// Retryable: the add may or may not have been written.
			if code == http.StatusInternalServerError {
				t.Errorf("job %s: 500 during the restart; want 503 or a lost connection, which clients retry", id)
			}
		default:
			t.Errorf("job %s: %d during the restart", id, code)
		}
	}

	rs.waitSucceeded(t, len(tasks), 120*time.Second)
	ranOnce(t, log, tasks)
}

// postOnce sends one signed POST to the first replica, without retrying: its status, or 0 if
// the connection failed.
func postOnce(rs *replicaSet, path string, body any) int {
	req, err := api.NewRequest("POST", "http://"+rs.addrs[0], path, nil, body, "corral", rs.e.key, time.Now())
	if err != nil {
		return -1
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
