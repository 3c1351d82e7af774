package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"corral/actor"
	"corral/api"
	"corral/batch"
	"corral/service"
)

// client sends signed requests to the server.
type client struct {
	base string
	hc   *http.Client
}

func newClient(base string, conns int) *client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conns
	return &client{base: base, hc: &http.Client{Transport: tr, Timeout: time.Minute}}
}

// do sends a signed request (path may carry a query) and returns the answer's status, headers
// and body.
func (c *client) do(method, path string, body any) (int, http.Header, []byte, error) {
	var query url.Values
	if p, q, ok := strings.Cut(path, "?"); ok {
		v, err := url.ParseQuery(q)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("query of %s: %w", path, err)
		}
		path, query = p, v
	}
	req, err := api.NewRequest(method, c.base, path, query, body, account, key, time.Now())
	if err != nil {
		return 0, nil, nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return resp.StatusCode, resp.Header, b, nil
}

// create POSTs entity to path and expects 201 Created.
func (c *client) create(path string, entity any) error {
	status, _, b, err := c.do(http.MethodPost, path, entity)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	if status != http.StatusCreated {
		return fmt.Errorf("POST %s: %d %s", path, status, bytes.TrimSpace(b))
	}
	return nil
}

// addTasks adds tasks with Task - Add Collection and expects every one added.
func (c *client) addTasks(jobID string, tasks []batch.Task) error {
	path := "/jobs/" + jobID + "/addtaskcollection"
	status, _, b, err := c.do(http.MethodPost, path, map[string]any{"value": tasks})
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	var answer struct {
		Value []struct {
			Status string `json:"status"`
			TaskID string `json:"taskId"`
		} `json:"value"`
	}
	if status != http.StatusOK || json.Unmarshal(b, &answer) != nil || len(answer.Value) != len(tasks) {
		return fmt.Errorf("POST %s: %d %s", path, status, bytes.TrimSpace(b))
	}
	for _, r := range answer.Value {
		if r.Status != "success" {
			return fmt.Errorf("POST %s: task %s not added: %s", path, r.TaskID, bytes.TrimSpace(b))
		}
	}
	return nil
}

// completions is a monitor of the service that counts each job's TaskCompleted announcements
// (made once a completion is in the store).
type completions struct {
	mu    sync.Mutex
	got   map[string]int
	await map[string]waiter
}

type waiter struct {
	n    int
	done chan struct{}
}

// watchCompletions adds a completions monitor to rt.
func watchCompletions(rt actor.Runtime) (*completions, error) {
	c := &completions{got: map[string]int{}, await: map[string]waiter{}}
	if err := rt.Monitor(c); err != nil {
		return nil, fmt.Errorf("completions monitor: %w", err)
	}
	return c, nil
}

// Define declares the monitor's one state.
func (c *completions) Define(m *actor.Machine) {
	m.State("Counting", actor.On(func(_ *actor.Context, e service.TaskCompleted) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.got[e.JobID]++
		if w, ok := c.await[e.JobID]; ok && c.got[e.JobID] >= w.n {
			close(w.done)
			delete(c.await, e.JobID)
		}
	}))
}

// expect returns a channel that is closed once job jobID has n completions. Call it before the
// job's tasks are added.
func (c *completions) expect(jobID string, n int) <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := waiter{n: n, done: make(chan struct{})}
	if c.got[jobID] >= n {
		close(w.done)
	} else {
		c.await[jobID] = w
	}
	return w.done
}

func (c *completions) count(jobID string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got[jobID]
}

// selfCPU is the user and system CPU time of this process.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// childrenCPU is the CPU time of this process's children but the one numbered except: those
// running (with their reaped children: the agent's tasks), from /proc, and those reaped.
func childrenCPU(except int) time.Duration {
	var ru syscall.Rusage
	var total time.Duration
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru) == nil {
		total = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	self := os.Getpid()
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ... utime stime cutime cstime are fields 14-17; comm may hold
		// spaces, so count from its closing parenthesis.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		pid, _ := strconv.Atoi(strings.Fields(string(b[:i]))[0])
		fs := strings.Fields(string(b[i+1:]))
		if len(fs) < 15 || pid == except {
			continue
		}
		if ppid, _ := strconv.Atoi(fs[1]); ppid != self {
			continue
		}
		for _, v := range fs[11:15] {
			ticks, _ := strconv.ParseInt(v, 10, 64)
			total += time.Duration(ticks) * (time.Second / clockTicks)
		}
	}
	return total
}

// clockTicks is the kernel's USER_HZ, the unit of /proc's CPU times: 100 on Linux's
// architectures that Go supports.
const clockTicks = 100
