package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"corral/api"
	"corral/batch"
	"corral/service"
	"corral/store"
	"corral/store/postgres"
	"corral/store/postgres/pgtest"
	"corral/store/sqlite"
)

// replicaSet is several `corral server` processes on one shared store.
type replicaSet struct {
	e     *e2eEnv // the binary, the key and the first replica (e.srv)
	store string  // the --store they share
	open  func(t *testing.T) store.Store
	reps  []*e2eServer
	addrs []string
	datas []string
}

// startReplicas starts n replicas of one service on the shared store storeArg, with a static
// provider (machines outlive a replica) and a short lease.
func startReplicas(t *testing.T, n int, storeArg string, open func(t *testing.T) store.Store, ttl time.Duration) *replicaSet {
	t.Helper()
	skipUnderRace(t)
	rs := &replicaSet{store: storeArg, open: open}
	rs.e = &e2eEnv{bin: buildCorral(t), key: []byte("e2e-key-0123456789abcdef")}
	for i := 0; i < n; i++ {
		rs.addrs = append(rs.addrs, freeAddr(t))
		rs.datas = append(rs.datas, t.TempDir())
		rs.reps = append(rs.reps, nil)
		rs.start(t, i, ttl)
	}
	rs.e.srv = rs.reps[0]
	t.Cleanup(func() {
		for i, r := range rs.reps {
			if r != nil && t.Failed() {
				b, _ := os.ReadFile(r.log)
				lines := strings.Split(string(b), "\n")
				t.Logf("r%d's log, last lines:\n%s", i, strings.Join(lines[max(0, len(lines)-40):], "\n"))
			}
			if r != nil {
				r.cmd.Process.Signal(syscall.SIGCONT)
				r.kill()
			}
		}
	})
	return rs
}

func (rs *replicaSet) start(t *testing.T, i int, ttl time.Duration) {
	t.Helper()
	rs.reps[i] = startServer(t, rs.e.bin, rs.addrs[i], rs.datas[i], rs.e.key, "--store", rs.store, "--provider", "static",
		"--lease-ttl", ttl.String(), "--node-lost-after", "30s", "--replica-name", fmt.Sprintf("r%d", i))
}

// urls is the comma-separated list of the replicas' URLs, as agents and clients are given it.
func (rs *replicaSet) urls() string {
	var us []string
	for _, a := range rs.addrs {
		us = append(us, "http://"+a)
	}
	return strings.Join(us, ",")
}

// leader returns the index of the replica that holds the lease, read from the store.
func (rs *replicaSet) leader(t *testing.T) (int, service.Lease) {
	t.Helper()
	st := rs.open(t)
	defer st.Close()
	l, ok, err := service.ReadLease(context.Background(), st)
	if err != nil || !ok {
		return -1, l
	}
	for i := range rs.addrs {
		if l.Holder == fmt.Sprintf("r%d", i) {
			return i, l
		}
	}
	return -1, l
}

// waitLeader waits for a replica other than not (-1: any) to lead, and returns it.
func (rs *replicaSet) waitLeader(t *testing.T, not int, within time.Duration) (int, service.Lease) {
	t.Helper()
	var i int
	var l service.Lease
	waitUntil(t, within, "a leader", func() bool {
		i, l = rs.leader(t)
		return i >= 0 && i != not
	})
	return i, l
}

// callAny sends a signed request to the replicas in turn until one answers other than 503
// (which a replica gives while no leader is known); it returns the last status, or 0 if none
// could be reached.
func (rs *replicaSet) callAny(t *testing.T, method, path string, body, out any) int {
	t.Helper()
	status := 0
	for try := 0; try < 20; try++ {
		for _, a := range rs.addrs {
			req, err := api.NewRequest(method, "http://"+a, path, nil, body, "corral", rs.e.key, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			c := &http.Client{Timeout: 10 * time.Second}
			resp, err := c.Do(req)
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			status = resp.StatusCode
			if status == http.StatusServiceUnavailable {
				continue
			}
			if out != nil && status < 300 {
				if err := json.Unmarshal(b, out); err != nil {
					t.Fatalf("%s %s: %v", method, path, err)
				}
			}
			return status
		}
		time.Sleep(250 * time.Millisecond)
	}
	return status
}

// runLog reads the lines tasks appended to path: "<task> <unix nanoseconds at start>".
func runLog(t *testing.T, path string) (counts map[string]int, starts []time.Time) {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]int{}, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	counts = map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		id, ns, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		counts[id]++
		if n, err := strconv.ParseInt(ns, 10, 64); err == nil {
			starts = append(starts, time.Unix(0, n))
		}
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i].Before(starts[j]) })
	return counts, starts
}

// firstStartAfter is how long after t0 (a leader's death) the first task started that the next
// leader placed: the first start after t0 that follows a pause of at least gap in the starts.
// (Tasks the dead leader had sent just before t0 may start just after it.)
func firstStartAfter(t *testing.T, path string, t0 time.Time, within time.Duration) time.Duration {
	t.Helper()
	const gap = 300 * time.Millisecond
	var first time.Time
	waitUntil(t, within, "a task started after the kill", func() bool {
		_, starts := runLog(t, path)
		for i, s := range starts {
			if s.After(t0) && i > 0 && s.Sub(starts[i-1]) >= gap {
				first = s
				return true
			}
		}
		return false
	})
	return first.Sub(t0)
}

// layeredTasks is a DAG of layers×width tasks, each task of a layer after three of the layer
// before; each appends "<id> <start ns>" to log, then sleeps a little.
func layeredTasks(layers, width int, log string) []batch.Task {
	var tasks []batch.Task
	for l := 0; l < layers; l++ {
		for w := 0; w < width; w++ {
			id := fmt.Sprintf("l%02dw%02d", l, w)
			tk := batch.Task{ID: id, CommandLine: fmt.Sprintf(`/bin/sh -c "echo %s $(date +%%s%%N) >> %s; sleep 0.2"`, id, log)}
			if l > 0 {
				var deps []string
				for k := 0; k < 3; k++ {
					deps = append(deps, fmt.Sprintf("l%02dw%02d", l-1, (w+k*7)%width))
				}
				tk.DependsOn = &batch.TaskDependencies{TaskIDs: deps}
			}
			tasks = append(tasks, tk)
		}
	}
	return tasks
}

// sharedStore is a store that replicas share: its --store argument, and how the test opens it.
type sharedStore struct {
	name string
	arg  string
	open func(t *testing.T) store.Store
}

// sharedStores are the stores the replica tests run on: a SQLite file on this machine always,
// and PostgreSQL when the tests have one.
func sharedStores(t *testing.T) []sharedStore {
	arg, open := sqliteShared(t)
	stores := []sharedStore{{name: "sqlite", arg: arg, open: open}}
	if os.Getenv(pgtest.Env) == "" {
		t.Log("the PostgreSQL runs are left out: " + pgtest.SkipMessage)
		return stores
	}
	url := pgtest.URL(t)
	return append(stores, sharedStore{name: "postgres", arg: url, open: func(t *testing.T) store.Store { return openTestPostgres(t, url) }})
}

// openTestPostgres opens the PostgreSQL store at url for a test to read.
func openTestPostgres(t *testing.T, url string) store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// postgresSkip says how to run the tests that need PostgreSQL.
const postgresSkip = pgtest.SkipMessage

// sqliteShared is a SQLite file for replicas on one machine.
func sqliteShared(t *testing.T) (string, func(t *testing.T) store.Store) {
	path := filepath.Join(t.TempDir(), "shared.db")
	return "sqlite:" + path, func(t *testing.T) store.Store {
		st, err := sqlite.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
}

// TestReplicasTakeOver runs a DAG job on three replicas sharing a store, with machines whose
// agents know all three. The leader is killed with SIGKILL mid-run, then the next one; each
// time a standby takes over, and the time from the kill to the next task started is logged.
// Every task runs exactly once, and a client polling through the replicas sees only answers
// Azure gives (200, or 503 while no leader is known, which clients retry).
func TestReplicasTakeOver(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	stores := sharedStores(t)
	for i, sh := range stores {
		t.Run(sh.name, func(t *testing.T) {
			// The SDK client polls in the last run (PostgreSQL where there is one): it waits
			// out its own retries as it stops, which makes a run longer.
			testReplicasTakeOver(t, sh.arg, sh.open, i == len(stores)-1)
		})
	}
}

func testReplicasTakeOver(t *testing.T, storeArg string, open func(t *testing.T) store.Store, withSDK bool) {
	// CORRAL_TEST_LEASE_TTL measures the takeover with another lease (the server's default is
	// 10s); the test's is short to keep it quick.
	ttl := 2 * time.Second
	if v := os.Getenv("CORRAL_TEST_LEASE_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("CORRAL_TEST_LEASE_TTL: %v", err)
		}
		ttl = d
	}
	rs := startReplicas(t, 3, storeArg, open, ttl)
	first, _ := rs.waitLeader(t, -1, 30*time.Second)
	t.Logf("r%d leads", first)

	// A static pool of three machines, two slots each, whose agents know every replica.
	rs.staticPool(t, 3, 2)
	waitUntil(t, 60*time.Second, "three idle nodes", func() bool {
		var nodes struct{ Value []batch.Node }
		rs.callAny(t, "GET", "/pools/p1/nodes", nil, &nodes)
		idle := 0
		for _, n := range nodes.Value {
			if n.State == "idle" {
				idle++
			}
		}
		return idle == 3
	})

	yes := true
	if code := rs.callAny(t, "POST", "/jobs", batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}, UsesTaskDependencies: &yes}, nil); code != http.StatusCreated {
		t.Fatalf("add job: %d", code)
	}
	// A client polls the job through the replicas all along.
	stopPoll := make(chan struct{})
	var pollMu sync.Mutex
	polls := map[int]int{}
	var pollWG sync.WaitGroup
	pollWG.Add(1)
	go func() {
		defer pollWG.Done()
		for {
			select {
			case <-stopPoll:
				return
			case <-time.After(100 * time.Millisecond):
			}
			code := pollOnce(rs, "/jobs/j1/taskcounts")
			pollMu.Lock()
			polls[code]++
			pollMu.Unlock()
		}
	}()

	var sdk *sdkPoll
	if withSDK {
		sdk = startSDKPoll(t, startFrontDoor(t, rs.addrs), "j1", rs.e.key)
	}
	log := filepath.Join(t.TempDir(), "runs.log")
	tasks := layeredTasks(10, 30, log)
	for i := 0; i < len(tasks); i += 100 {
		if code := rs.callAny(t, "POST", "/jobs/j1/addtaskcollection", map[string]any{"value": tasks[i:min(i+100, len(tasks))]}, nil); code != http.StatusOK {
			t.Fatalf("add tasks: %d", code)
		}
	}

	// Kill the leader once a third of the tasks ran, then the next one at two thirds.
	leader := first
	for round, at := range []int{len(tasks) / 3, 2 * len(tasks) / 3} {
		waitUntil(t, 120*time.Second, fmt.Sprintf("%d tasks started", at), func() bool {
			c, _ := runLog(t, log)
			return len(c) >= at
		})
		killed := time.Now()
		rs.reps[leader].kill()
		rs.reps[leader] = nil
		next, _ := rs.waitLeader(t, leader, 60*time.Second)
		gap := firstStartAfter(t, log, killed, 60*time.Second)
		t.Logf("kill %d: r%d killed; r%d leads; the next task started %v after the kill (lease %v)", round+1, leader, next, gap.Round(time.Millisecond), ttl)
		leader = next
	}

	rs.waitSucceeded(t, len(tasks), 180*time.Second)
	close(stopPoll)
	pollWG.Wait()
	sdk.finish(t)
	ranOnce(t, log, tasks)
	pollMu.Lock()
	defer pollMu.Unlock()
	t.Logf("the polling client's answers: %v", polls)
	for code, n := range polls {
		if code != http.StatusOK && code != http.StatusServiceUnavailable && code != 0 {
			t.Errorf("the polling client got %d %d times: Azure would not answer that", code, n)
		}
	}
}

// pollOnce is one poll by a client that knows every replica and moves on when one cannot be
// reached: the status of the first answer, 0 if none answered.
func pollOnce(rs *replicaSet, path string) int {
	for _, a := range rs.addrs {
		req, err := api.NewRequest("GET", "http://"+a, path, nil, nil, "corral", rs.e.key, time.Now())
		if err != nil {
			return -1
		}
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	return 0
}

// TestReplicaFrozenLeader freezes the leader with SIGSTOP for longer than its lease: the other
// replica takes over and the job goes on. Resumed with SIGCONT, the old leader steps down and
// changes nothing: a request it takes at once is either refused (503, nothing written) or
// served by the new leader (written), never acknowledged and lost, and the lease stays with
// the new leader. Every task still runs once.
//
// It runs on PostgreSQL only: a replica frozen inside a SQLite transaction holds the file's
// write lock until it resumes, and nothing can take it from it (PostgreSQL ends a frozen
// client's transaction after its idle_in_transaction_session_timeout).
func TestReplicaFrozenLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	ran := false
	for _, sh := range sharedStores(t) {
		if sh.name == "sqlite" {
			continue
		}
		ran = true
		t.Run(sh.name, func(t *testing.T) { testReplicaFrozenLeader(t, sh.arg, sh.open) })
	}
	if !ran {
		t.Skip(postgresSkip)
	}
}

func testReplicaFrozenLeader(t *testing.T, storeArg string, open func(t *testing.T) store.Store) {
	const ttl = 2 * time.Second
	rs := startReplicas(t, 2, storeArg, open, ttl)
	old, _ := rs.waitLeader(t, -1, 30*time.Second)

	rs.staticPool(t, 2, 2)
	log, tasks := rs.flatJob(t, 60)
	waitUntil(t, 60*time.Second, "ten tasks started", func() bool {
		c, _ := runLog(t, log)
		return len(c) >= 10
	})

	frozen := time.Now()
	if err := rs.reps[old].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	next, lease := rs.waitLeader(t, old, 30*time.Second)
	gap := firstStartAfter(t, log, frozen, 30*time.Second)
	t.Logf("r%d frozen; r%d leads in term %d; the next task started %v after the freeze", old, next, lease.Term, gap.Round(time.Millisecond))
	if rest := 3*ttl - time.Since(frozen); rest > 0 {
		time.Sleep(rest)
	}

	// Resume the old leader and send it a request at once.
	if err := rs.reps[old].cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	req, err := api.NewRequest("POST", rs.reps[old].base, "/jobs", nil, batch.Job{ID: "j2", PoolInfo: batch.PoolInformation{PoolID: "p1"}}, "corral", rs.e.key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("the resumed replica: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	waitUntil(t, 20*time.Second, "the resumed replica steps down", func() bool {
		b, _ := os.ReadFile(rs.reps[old].log)
		return strings.Contains(string(b), "replica: no longer leading")
	})
	var j batch.Job
	got := rs.callAny(t, "GET", "/jobs/j2", nil, &j)
	switch resp.StatusCode {
	case http.StatusCreated:
		if got != http.StatusOK {
			t.Errorf("the resumed replica acknowledged job j2 (201), but it is not there (%d)", got)
		}
	case http.StatusServiceUnavailable:
		if got != http.StatusNotFound {
			t.Errorf("the resumed replica refused job j2 (503), but it is there (%d)", got)
		}
	default:
		t.Errorf("the resumed replica answered %d to a new job; want 201 or 503", resp.StatusCode)
	}
	t.Logf("the resumed replica answered %d to a new job", resp.StatusCode)
	// A freeze inside a write transaction holds PostgreSQL's lock until the server ends the
	// frozen session (idle_in_transaction_session_timeout): the new leader's first term may then
	// have run out before its write committed, and it leads again in a later one.
	if i, l := rs.leader(t); i == old || l.Term < lease.Term {
		t.Errorf("after the resume the lease is r%d's in term %d; want another replica's than r%d, in term %d or later", i, l.Term, old, lease.Term)
	}

	rs.waitSucceeded(t, len(tasks), 120*time.Second)
	ranOnce(t, log, tasks)
}

// startFrontDoor is a TCP load balancer in front of the replicas, as an operator puts one (or
// a DNS name) before them for clients that take one URL: each connection goes to the first
// replica that accepts it. It returns its URL.
func startFrontDoor(t *testing.T, addrs []string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer in.Close()
				for _, a := range addrs {
					out, err := net.DialTimeout("tcp", a, time.Second)
					if err != nil {
						continue
					}
					done := make(chan struct{}, 2)
					go func() { io.Copy(out, in); out.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
					go func() { io.Copy(in, out); in.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
					<-done
					<-done
					out.Close()
					return
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// sdkPoll is the Azure Batch JavaScript SDK polling a job's task counts (compat/js/poll.mjs).
type sdkPoll struct {
	cmd  *exec.Cmd
	stop string
	out  bytes.Buffer
	errb bytes.Buffer
}

// jsSDK is the directory of compat/js, or "" (and the test says why) when Node.js or the
// Azure Batch JavaScript SDK is not installed; with CORRAL_TEST_REQUIRE_SDK set (CI sets it),
// that fails the test instead.
func jsSDK(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "compat", "js"))
	if err != nil {
		t.Fatal(err)
	}
	_, nodeErr := exec.LookPath("node")
	_, sdkErr := os.Stat(filepath.Join(dir, "node_modules", "@azure", "batch"))
	if nodeErr != nil || sdkErr != nil {
		msg := "the Azure SDK client does not run: it needs Node.js and `npm ci` in compat/js (bash .ci/run does both)"
		if os.Getenv("CORRAL_TEST_REQUIRE_SDK") != "" {
			t.Fatal(msg)
		}
		t.Log(msg)
		return ""
	}
	return dir
}

// startSDKPoll starts compat/js/poll.mjs against url, or returns nil when the SDK does not run
// here (jsSDK).
func startSDKPoll(t *testing.T, url, jobID string, key []byte) *sdkPoll {
	t.Helper()
	dir := jsSDK(t)
	if dir == "" {
		return nil
	}
	p := &sdkPoll{stop: filepath.Join(t.TempDir(), "stop")}
	p.cmd = exec.Command("node", filepath.Join(dir, "poll.mjs"), url, jobID, p.stop)
	p.cmd.Env = append(os.Environ(), "CORRAL_ACCOUNT_NAME=corral", "CORRAL_ACCOUNT_KEY="+base64.StdEncoding.EncodeToString(key))
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.errb
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	return p
}

// finish stops the poller and checks what it saw: polls that succeeded, and no error surfaced
// to the program (the SDK retries 5xx answers and lost connections by itself).
func (p *sdkPoll) finish(t *testing.T) {
	t.Helper()
	if p == nil {
		return
	}
	if err := os.WriteFile(p.stop, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the SDK poller: %v\n%s", err, p.errb.String())
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("the SDK poller did not stop")
	}
	var seen struct {
		OK     int `json:"ok"`
		Errors []struct {
			Status  *int    `json:"status"`
			Code    *string `json:"code"`
			Message string  `json:"message"`
		} `json:"errors"`
		LastSucceeded int `json:"lastSucceeded"`
	}
	if err := json.Unmarshal(p.out.Bytes(), &seen); err != nil {
		t.Fatalf("the SDK poller's report %q: %v", p.out.String(), err)
	}
	t.Logf("the Azure SDK client polled %d times without an error surfacing; it saw %d tasks succeeded last", seen.OK, seen.LastSucceeded)
	if seen.OK == 0 {
		t.Error("the SDK poller never got an answer")
	}
	for _, e := range seen.Errors {
		t.Errorf("the SDK surfaced an error to the program: %+v %s", e, e.Message)
	}
}

// staticPool adds pool p1 of the static provider, with slots slots a node, and machines
// machines whose agents know every replica (and leave a silent one after 2s), and resizes it
// to them.
func (rs *replicaSet) staticPool(t *testing.T, machines, slots int32) {
	t.Helper()
	zero := int32(0)
	if code := rs.callAny(t, "POST", "/pools", batch.Pool{ID: "p1", VMSize: "static", TargetDedicatedNodes: &zero, TaskSlotsPerNode: &slots}, nil); code != http.StatusCreated {
		t.Fatalf("add pool: %d", code)
	}
	var tok joinToken
	if code := rs.callAny(t, "POST", "/pools/p1/jointokens", map[string]string{"lifetime": "PT10M"}, &tok); code != http.StatusCreated {
		t.Fatalf("join token: %d", code)
	}
	for i := int32(0); i < machines; i++ {
		startAgentVia(t, rs.e, rs.urls(), tok.Token, exec.Command, "--request-timeout", "2s")
	}
	if code := rs.callAny(t, "POST", "/pools/p1/resize", map[string]any{"targetDedicatedNodes": machines}, nil); code != http.StatusAccepted {
		t.Fatalf("resize: %d", code)
	}
}

// flatJob adds job j1 on p1 with n independent tasks, each appending "<id> <start ns>" to the
// log it returns and sleeping 0.3s.
func (rs *replicaSet) flatJob(t *testing.T, n int) (string, []batch.Task) {
	t.Helper()
	if code := rs.callAny(t, "POST", "/jobs", batch.Job{ID: "j1", PoolInfo: batch.PoolInformation{PoolID: "p1"}}, nil); code != http.StatusCreated {
		t.Fatalf("add job: %d", code)
	}
	log := filepath.Join(t.TempDir(), "runs.log")
	var tasks []batch.Task
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("t%02d", i)
		tasks = append(tasks, batch.Task{ID: id, CommandLine: fmt.Sprintf(`/bin/sh -c "echo %s $(date +%%s%%N) >> %s; sleep 0.3"`, id, log)})
	}
	if code := rs.callAny(t, "POST", "/jobs/j1/addtaskcollection", map[string]any{"value": tasks}, nil); code != http.StatusOK {
		t.Fatalf("add tasks: %d", code)
	}
	return log, tasks
}

// waitSucceeded waits until job j1 has n tasks succeeded.
func (rs *replicaSet) waitSucceeded(t *testing.T, n int, within time.Duration) {
	t.Helper()
	waitUntil(t, within, "every task succeeded", func() bool {
		var counts batch.TaskCountsResult
		rs.callAny(t, "GET", "/jobs/j1/taskcounts", nil, &counts)
		return counts.TaskCounts.Succeeded == int32(n)
	})
}

// ranOnce checks in the run log that every task's process started exactly once.
func ranOnce(t *testing.T, log string, tasks []batch.Task) {
	t.Helper()
	counts, _ := runLog(t, log)
	for _, tk := range tasks {
		if counts[tk.ID] != 1 {
			t.Errorf("task %s ran %d times, want once", tk.ID, counts[tk.ID])
		}
	}
}
