package server

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"corral/actor"
	"corral/api"
	"corral/batch"
	"corral/compute/local"
	"corral/pki"
)

// e2eServer is a `corral server` process.
type e2eServer struct {
	cmd  *exec.Cmd
	base string
	log  string // the file that holds the server's stderr (its log)
}

// freeAddr finds a free loopback port.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// e2eEnv is a `corral server` process (the real binary) on a data directory of its own, killed
// with the node agents it leaves behind when the test ends.
type e2eEnv struct {
	bin, data, addr string
	key             []byte
	flags           []string
	srv             *e2eServer
}

// newE2E builds corral and starts a server on a free loopback port with the given flags.
func newE2E(t *testing.T, flags ...string) *e2eEnv {
	t.Helper()
	return newE2EAt(t, freeAddr(t), flags...)
}

// newE2EAt builds corral and starts a server listening on addr with the given flags.
func newE2EAt(t *testing.T, addr string, flags ...string) *e2eEnv {
	t.Helper()
	skipUnderRace(t)
	e := &e2eEnv{bin: buildCorral(t), data: t.TempDir(), addr: addr, key: []byte("e2e-key-0123456789abcdef"), flags: flags}
	e.srv = startServer(t, e.bin, e.addr, e.data, e.key, flags...)
	t.Cleanup(func() {
		e.srv.kill()
		killNodes(t, e.data)
	})
	return e
}

// skipUnderRace skips a test whose server runs as a process of its own: that binary is built
// without the race detector, and the test's own code only sends requests, so a run with -race
// finds nothing the run without it has not (bash .ci/run does both).
func skipUnderRace(t *testing.T) {
	t.Helper()
	if raceDetector {
		t.Skip("the server runs as a process built without the race detector; the run without -race covers this test")
	}
}

// restart kills the server with SIGKILL and starts it again on the same address and data.
func (e *e2eEnv) restart(t *testing.T) {
	t.Helper()
	e.srv.kill()
	e.srv = startServer(t, e.bin, e.addr, e.data, e.key, e.flags...)
}

func startServer(t *testing.T, bin, addr, data string, key []byte, flags ...string) *e2eServer {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"server", "--listen", addr, "--data", data}, flags...)...)
	cmd.Env = append(os.Environ(), "CORRAL_ACCOUNT_NAME=corral", "CORRAL_ACCOUNT_KEY="+base64.StdEncoding.EncodeToString(key))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close() // the child has its own copy
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &e2eServer{cmd: cmd, log: logPath}
	t.Cleanup(func() {
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				t.Logf("server log %s:\n%s", logPath, tail(b, 200))
			}
		}
	})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		base := ""
		for sc.Scan() {
			// corral server: serving URL (account ...), ...
			if _, rest, ok := strings.Cut(sc.Text(), "serving "); ok && base == "" {
				base, _, _ = strings.Cut(rest, " ")
				ready <- base
			}
		}
		if base == "" {
			ready <- ""
		}
	}()
	select {
	case s.base = <-ready:
		if s.base == "" {
			t.Fatal("corral server exited before serving")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("corral server did not start")
	}
	if strings.HasPrefix(s.base, "https://") {
		trustCA(t, s.base, filepath.Join(data, tlsDir, pki.CACertFile))
	}
	return s
}

// e2eClients are the clients that call uses for https:// servers, by base URL: each trusts its
// server's CA.
var e2eClients sync.Map

// trustCA has call reach the server at base with a client that trusts the CA in caFile.
func trustCA(t *testing.T, base, caFile string) {
	t.Helper()
	cfg, err := pki.ClientConfigFromFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	e2eClients.Store(base, &http.Client{Transport: tr})
	t.Cleanup(func() { e2eClients.Delete(base); tr.CloseIdleConnections() })
}

// httpClient is the client for a server's base URL.
func httpClient(base string) *http.Client {
	if c, ok := e2eClients.Load(base); ok {
		return c.(*http.Client)
	}
	return http.DefaultClient
}

func (s *e2eServer) kill() {
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
}

// call sends a signed request and decodes the JSON answer into out (if not nil).
func call(t *testing.T, base string, key []byte, method, path string, body, out any) int {
	t.Helper()
	req, err := api.NewRequest(method, base, path, nil, body, "corral", key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := httpClient(base).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	if resp.StatusCode >= 300 {
		t.Logf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	return resp.StatusCode
}

// TestKillServerMidRun submits a DAG job over the REST API, kills the server with SIGKILL while
// tasks run, restarts it on the same data directory, and checks that every task completes and
// ran exactly once: agents outlive the server, their results are recorded once, nothing the API
// acknowledged is lost.
func TestKillServerMidRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	e := newE2E(t)
	srv, key := e.srv, e.key

	addPoolAndDAGJob(t, srv.base, key, "p1", "j1", 2, 2)
	// Three layers of four tasks; each task of a layer depends on two of the layer before. Each
	// appends its id to a log and sleeps a little, so that the kill lands while tasks run.
	log := filepath.Join(t.TempDir(), "ran.log")
	var tasks []batch.Task
	for layer := 0; layer < 3; layer++ {
		for i := 0; i < 4; i++ {
			id := fmt.Sprintf("t%d-%d", layer, i)
			tk := batch.Task{ID: id, CommandLine: fmt.Sprintf(`/bin/sh -c "echo $AZ_BATCH_TASK_ID >> %s; sleep 0.3"`, log)}
			if layer > 0 {
				tk.DependsOn = &batch.TaskDependencies{TaskIDs: []string{fmt.Sprintf("t%d-%d", layer-1, i), fmt.Sprintf("t%d-%d", layer-1, (i+1)%4)}}
			}
			tasks = append(tasks, tk)
		}
	}
	var added struct {
		Value []struct {
			Status string `json:"status"`
			TaskID string `json:"taskId"`
		} `json:"value"`
	}
	if code := call(t, srv.base, key, "POST", "/jobs/j1/addtaskcollection", map[string]any{"value": tasks}, &added); code != http.StatusOK {
		t.Fatalf("add tasks: %d", code)
	}
	for _, a := range added.Value {
		if a.Status != "success" {
			t.Fatalf("task %s: %s", a.TaskID, a.Status)
		}
	}

	// Kill the server once the first task has run, while others run.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if b, _ := os.ReadFile(log); len(b) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no task ran")
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.restart(t)
	srv = e.srv

	deadline = time.Now().Add(90 * time.Second)
	for {
		var counts batch.TaskCountsResult
		if code := call(t, srv.base, key, "GET", "/jobs/j1/taskcounts", nil, &counts); code == http.StatusOK && counts.TaskCounts.Completed == int32(len(tasks)) {
			if counts.TaskCounts.Succeeded != int32(len(tasks)) {
				t.Fatalf("counts: %+v", counts.TaskCounts)
			}
			break
		}
		if time.Now().After(deadline) {
			var list struct{ Value []batch.Task }
			call(t, srv.base, key, "GET", "/jobs/j1/tasks", nil, &list)
			t.Fatalf("tasks did not all complete after the restart: %+v", list.Value)
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	ran := map[string]int{}
	for _, id := range strings.Fields(string(b)) {
		ran[id]++
	}
	for _, tk := range tasks {
		if ran[tk.ID] != 1 {
			t.Errorf("task %s ran %d times", tk.ID, ran[tk.ID])
		}
	}
}

// addPoolAndDAGJob adds a pool of local nodes and a job on it that uses task dependencies.
func addPoolAndDAGJob(t *testing.T, base string, key []byte, poolID, jobID string, nodes, slots int32) {
	t.Helper()
	if code := call(t, base, key, "POST", "/pools", batch.Pool{ID: poolID, VMSize: "local", TargetDedicatedNodes: &nodes, TaskSlotsPerNode: &slots}, nil); code != http.StatusCreated {
		t.Fatalf("add pool: %d", code)
	}
	yes := true
	if code := call(t, base, key, "POST", "/jobs", batch.Job{ID: jobID, PoolInfo: batch.PoolInformation{PoolID: poolID}, UsesTaskDependencies: &yes}, nil); code != http.StatusCreated {
		t.Fatalf("add job: %d", code)
	}
}

// killNodes kills the node agents a server left behind (they outlive it by design), by adopting
// them as a new server would and killing them all.
func killNodes(t *testing.T, data string) {
	p, err := local.New(local.Config{Runtime: actor.NewEngine(actor.Options{}), Root: filepath.Join(data, "nodes"),
		Command: func(string, string, string, bool) *exec.Cmd { return nil }})
	if err != nil {
		t.Errorf("adopt nodes to kill them: %v", err)
		return
	}
	p.KillAll()
}

// tail is the last n lines of b.
func tail(b []byte, n int) []byte {
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return bytes.Join(lines, []byte("\n"))
}
