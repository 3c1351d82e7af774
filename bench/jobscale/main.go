// Command jobscale measures the requests about one large job whose cost should not grow with its
// tasks: Job - Get Task Counts, Job - Delete and Job - Terminate.
//
//	go run ./bench/jobscale                 # 100,000 tasks, 200 calls
//	go run ./bench/jobscale -tasks 20000
//
// It starts a real server (server.Start in this process, on loopback, its store SQLite in a
// temporary directory), adds -tasks tasks to one job on a pool without nodes (so nothing runs)
// with Task - Add Collection requests of 100 from 4 clients, then measures over HTTP, with Shared
// Key signatures:
//
//   - Get Task Counts of the job, -calls times one after the other: median and p99, beside the
//     same-run reference of Get Job of the same job (one record read, the same signature and
//     HTTP round trip);
//   - Job - Delete of the job: the time to its answer (202), and from the request until Get Job
//     answers 404 (polled every 10 ms; the job shows state deleting until then), with the time an
//     Add Task to another job takes meanwhile (the deletion goes in chunks, so other requests
//     interleave);
//   - Job - Terminate of a second job of -tasks tasks, added then: the time to its answer (202),
//     and from the request until Get Job shows the job completed.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"corral/api"
	"corral/batch"
	"corral/server"
)

const (
	perRequest = 100
	clients    = 4
	account    = "corral"
)

var key = []byte("bench-jobscale-key-0123456789abcdef")

func main() {
	tasks := flag.Int("tasks", 100000, "tasks in the job")
	calls := flag.Int("calls", 200, "Get Task Counts (and Get Job) calls to time")
	flag.Parse()
	if *tasks < perRequest || *calls < 1 {
		fmt.Fprintln(os.Stderr, "jobscale: -tasks must be at least 100, -calls at least 1")
		os.Exit(2)
	}
	if err := run(*tasks, *calls, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "jobscale:", err)
		os.Exit(1)
	}
}

// client signs requests to one server.
type client struct {
	base string
	hc   *http.Client
}

// do sends a signed request with a JSON body (nil: none) and returns the status and the body.
func (c *client) do(method, path string, body any) (int, []byte, error) {
	var b any
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		b = json.RawMessage(raw)
	}
	req, err := api.NewRequest(method, c.base, path, nil, b, account, key, time.Now())
	if err != nil {
		return 0, nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}

// must sends a request and fails unless it is answered with status.
func (c *client) must(method, path string, body any, status int) ([]byte, error) {
	got, out, err := c.do(method, path, body)
	if err == nil && got != status {
		err = fmt.Errorf("%s %s: status %d, want %d: %s", method, path, got, status, bytes.TrimSpace(out))
	}
	return out, err
}

func run(tasks, calls int, w io.Writer) error {
	dir, err := os.MkdirTemp("", "corral-bench-jobscale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := server.Start(server.Config{Listen: "127.0.0.1:0", DataDir: dir, Account: server.Account{Name: account, Key: key},
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		return err
	}
	defer srv.Close()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = clients
	c := &client{base: srv.URL, hc: &http.Client{Transport: tr, Timeout: 5 * time.Minute}}

	zero := int32(0)
	if _, err := c.must("POST", "/pools", batch.Pool{ID: "scale", VMSize: "local", TargetDedicatedNodes: &zero}, http.StatusCreated); err != nil {
		return err
	}
	for _, id := range []string{"big", "other", "ended"} {
		if _, err := c.must("POST", "/jobs", batch.Job{ID: id, PoolInfo: batch.PoolInformation{PoolID: "scale"}}, http.StatusCreated); err != nil {
			return err
		}
	}
	start := time.Now()
	if err := c.addTasks("big", tasks); err != nil {
		return err
	}
	fmt.Fprintf(w, "tasks: %d added to job big in %v (%d clients, %d per request)\n", tasks, time.Since(start).Round(time.Millisecond), clients, perRequest)

	var counts batch.TaskCountsResult
	countsTimes, err := c.time(calls, "/jobs/big/taskcounts", &counts)
	if err != nil {
		return err
	}
	if int(counts.TaskCounts.Active) != tasks || int(counts.TaskSlotCounts.Active) != tasks {
		return fmt.Errorf("task counts %+v, want %d active", counts, tasks)
	}
	var job batch.Job
	jobTimes, err := c.time(calls, "/jobs/big", &job)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Get Task Counts (%d calls): median %s, p99 %s\n", calls, ms(quantile(countsTimes, 0.5)), ms(quantile(countsTimes, 0.99)))
	fmt.Fprintf(w, "reference, Get Job (%d calls): median %s, p99 %s\n", calls, ms(quantile(jobTimes, 0.5)), ms(quantile(jobTimes, 0.99)))
	fmt.Fprintf(w, "ratio of medians: %.2f\n", float64(quantile(countsTimes, 0.5))/float64(quantile(jobTimes, 0.5)))

	if err := c.deleteJob(w); err != nil {
		return err
	}
	if err := c.addTasks("ended", tasks); err != nil {
		return err
	}
	return c.terminateJob(w)
}

// terminateJob terminates job ended and times the answer and the job's completion.
func (c *client) terminateJob(w io.Writer) error {
	start := time.Now()
	if _, err := c.must("POST", "/jobs/ended/terminate", nil, http.StatusAccepted); err != nil {
		return err
	}
	answered := time.Since(start)
	for {
		var j batch.Job
		out, err := c.must("GET", "/jobs/ended", nil, http.StatusOK)
		if err != nil {
			return err
		}
		if err := json.Unmarshal(out, &j); err != nil {
			return err
		}
		if j.State == batch.JobCompleted {
			break
		}
		if time.Since(start) > 10*time.Minute {
			return fmt.Errorf("job ended still %s after %v", j.State, time.Since(start))
		}
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Fprintf(w, "Job - Terminate of a job of as many active tasks: answered 202 in %s; completed after %s\n", ms(answered), ms(time.Since(start)))
	return nil
}

// deleteJob deletes job big and times the answer, the job's disappearance, and an Add Task to
// job other meanwhile.
func (c *client) deleteJob(w io.Writer) error {
	start := time.Now()
	if _, err := c.must("DELETE", "/jobs/big", nil, http.StatusAccepted); err != nil {
		return err
	}
	answered := time.Since(start)
	var deleting bool
	var addTime time.Duration
	for i := 0; ; i++ {
		status, out, err := c.do("GET", "/jobs/big", nil)
		if err != nil {
			return err
		}
		if status == http.StatusNotFound {
			break
		}
		var j batch.Job
		if err := json.Unmarshal(out, &j); status != http.StatusOK || err != nil {
			return fmt.Errorf("get job big while deleting: %d %v: %s", status, err, out)
		}
		deleting = deleting || j.State == batch.JobDeleting
		if i == 1 {
			t := time.Now()
			if _, err := c.must("POST", "/jobs/other/tasks", batch.Task{ID: "meanwhile", CommandLine: "/bin/true"}, http.StatusCreated); err != nil {
				return err
			}
			addTime = time.Since(t)
		}
		if time.Since(start) > 10*time.Minute {
			return fmt.Errorf("job big still there after %v", time.Since(start))
		}
		time.Sleep(10 * time.Millisecond)
	}
	gone := time.Since(start)
	fmt.Fprintf(w, "Job - Delete: answered 202 in %s; Get Job 404 after %s (shown deleting meanwhile: %v)\n", ms(answered), ms(gone), deleting)
	if addTime > 0 {
		fmt.Fprintf(w, "Add Task to another job during the deletion: %s\n", ms(addTime))
	}
	return nil
}

// addTasks adds n tasks to job with Add Task Collection requests of perRequest tasks from
// clients goroutines.
func (c *client) addTasks(job string, n int) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i*perRequest >= n {
					return
				}
				ts := make([]batch.Task, 0, perRequest)
				for k := i * perRequest; k < min(n, (i+1)*perRequest); k++ {
					ts = append(ts, batch.Task{ID: fmt.Sprintf("t%07d", k), CommandLine: "/bin/true"})
				}
				out, err := c.must("POST", "/jobs/"+job+"/addtaskcollection", map[string]any{"value": ts}, http.StatusOK)
				if err == nil && (bytes.Contains(out, []byte(`"status":"clienterror"`)) || bytes.Contains(out, []byte(`"status":"servererror"`))) {
					err = fmt.Errorf("a task was not added: %s", out)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// time GETs path calls times, one after the other, decodes the last answer into v, and returns
// each call's time.
func (c *client) time(calls int, path string, v any) ([]time.Duration, error) {
	times := make([]time.Duration, 0, calls)
	var out []byte
	for range calls {
		t := time.Now()
		var err error
		if out, err = c.must("GET", path, nil, http.StatusOK); err != nil {
			return nil, err
		}
		times = append(times, time.Since(t))
	}
	return times, json.Unmarshal(out, v)
}

// quantile returns the q-quantile of ds (nearest rank).
func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
