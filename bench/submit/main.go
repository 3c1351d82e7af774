// Command submit measures how fast tasks can be submitted: -clients parallel clients send Task -
// Add Collection requests of 100 tasks each (Azure's maximum per request) over HTTP, with Shared
// Key signatures, to a real server (server.Start in this process, listening on loopback, its
// store SQLite in a temporary directory, or a fresh database of the PostgreSQL server whose
// admin URL -pg gives), until -tasks tasks are added to one job on a pool without nodes (so nothing runs). It
// reports tasks per second, from the first request to the last answer.
//
// The reference, in the same run: the same requests, signed the same way, to an HTTP server on
// loopback that checks the signature, reads the body, decodes it as JSON and answers 200 —
// everything but the service and its store. The ratio is Corral's rate over the reference's.
//
//	go run ./bench/submit                         # 20,000 tasks, 4 clients
//	go run ./bench/submit -tasks 100000 -clients 8
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"corral/api"
	"corral/batch"
	"corral/server"
	"corral/store/postgres/pgtest"
)

const (
	perRequest = 100
	account    = "corral"
)

var key = []byte("bench-submit-key-0123456789abcdef")

func main() { os.Exit(mainCode()) }

// mainCode is main, returning the exit status so that deferred calls (dropping the database)
// run.
func mainCode() int {
	tasks := flag.Int("tasks", 20000, "tasks to add")
	clients := flag.Int("clients", 4, "parallel clients")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the submissions to the real server to this file")
	pg := flag.String("pg", "", "run the server on PostgreSQL: the URL of a role that may create databases (a fresh one is made and dropped); default SQLite in a temporary directory")
	flag.Parse()
	if *tasks < perRequest || *clients < 1 {
		fmt.Fprintln(os.Stderr, "submit: -tasks must be at least 100, -clients at least 1")
		return 2
	}
	storeURL := ""
	if *pg != "" {
		url, drop, err := pgtest.NewDatabase(*pg)
		if err != nil {
			fmt.Fprintln(os.Stderr, "submit:", err)
			return 1
		}
		defer drop()
		storeURL = url
	}
	if err := run(*tasks, *clients, storeURL, *profile); err != nil {
		fmt.Fprintln(os.Stderr, "submit:", err)
		return 1
	}
	return 0
}

func run(tasks, clients int, storeURL, profile string) error {
	bodies := make([][]byte, tasks/perRequest)
	for i := range bodies {
		var ts []batch.Task
		for j := 0; j < perRequest; j++ {
			ts = append(ts, batch.Task{ID: fmt.Sprintf("t%07d", i*perRequest+j), CommandLine: "/bin/true"})
		}
		b, err := json.Marshal(map[string]any{"value": ts})
		if err != nil {
			return err
		}
		bodies[i] = b
	}
	n := len(bodies) * perRequest

	// The reference: signature, body, JSON, 200.
	ref, err := startReference()
	if err != nil {
		return err
	}
	defer ref.Close()
	refWall, err := submit("http://"+ref.Addr().String(), bodies, clients)
	if err != nil {
		return fmt.Errorf("reference: %w", err)
	}

	dir, err := os.MkdirTemp("", "corral-bench-submit-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := server.Config{Listen: "127.0.0.1:0", DataDir: dir, Account: server.Account{Name: account, Key: key},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), Store: storeURL, LeaseTTL: time.Second}
	srv, err := server.Start(cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	kind := "SQLite"
	if storeURL != "" {
		kind = "PostgreSQL (" + server.StoreName(storeURL) + ")"
	}
	zero := int32(0)
	yes := false
	setup := []struct {
		path string
		body any
	}{
		{"/pools", batch.Pool{ID: "submit", VMSize: "local", TargetDedicatedNodes: &zero}},
		{"/jobs", batch.Job{ID: "submit", PoolInfo: batch.PoolInformation{PoolID: "submit"}, UsesTaskDependencies: &yes}},
	}
	for _, s := range setup {
		deadline := time.Now().Add(30 * time.Second) // a replica leads after its first lease tick
		for {
			b, _ := json.Marshal(s.body)
			status, err := post(http.DefaultClient, srv.URL, s.path, b)
			if err == nil && status == http.StatusCreated {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("POST %s: %d %v", s.path, status, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	wall, err := submit(srv.URL, bodies, clients)
	if profile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return fmt.Errorf("corral: %w", err)
	}
	rate := float64(n) / wall.Seconds()
	refRate := float64(n) / refWall.Seconds()
	fmt.Printf("tasks: %d in requests of %d, %d clients\n", n, perRequest, clients)
	fmt.Printf("corral (%s): %v, %.0f tasks/s\n", kind, wall.Round(time.Millisecond), rate)
	fmt.Printf("reference (signature, body and JSON only): %v, %.0f tasks/s\n", refWall.Round(time.Millisecond), refRate)
	fmt.Printf("ratio: %.3f\n", rate/refRate)
	return nil
}

// submit sends every body as Task - Add Collection to job "submit" at base, from clients
// goroutines, and returns the wall time. Every answer must be 200 with every task added.
func submit(base string, bodies [][]byte, clients int) (time.Duration, error) {
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = clients
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	start := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bodies) {
					return
				}
				status, err := post(hc, base, "/jobs/submit/addtaskcollection", bodies[i])
				if err == nil && status != http.StatusOK {
					err = fmt.Errorf("add task collection: status %d", status)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return time.Since(start), firstErr
}

// post sends a signed POST and returns its status; a 200 to Add Task Collection must report
// every task added.
func post(hc *http.Client, base, path string, body []byte) (int, error) {
	req, err := api.NewRequest(http.MethodPost, base, path, nil, json.RawMessage(body), account, key, time.Now())
	if err != nil {
		return 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode == http.StatusOK && bytes.Contains(b, []byte(`"value"`)) {
		var r struct {
			Value []struct {
				Status string `json:"status"`
			} `json:"value"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			return 0, err
		}
		for _, t := range r.Value {
			if t.Status != "success" {
				return 0, fmt.Errorf("a task was not added: %s", b)
			}
		}
	}
	return resp.StatusCode, nil
}

// startReference serves the reference: it checks the Shared Key signature, reads and decodes
// the body, and answers 200.
func startReference() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if e := api.Authenticate(r, account, [][]byte{key}, time.Now()); e != nil {
			http.Error(w, e.Message, http.StatusForbidden)
			return
		}
		var v struct {
			Value []batch.Task `json:"value"`
		}
		if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return ln, nil
}
