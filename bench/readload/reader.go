package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// readers is the readers' child process, seen from the benchmark.
type readers struct {
	cmd   *exec.Cmd
	stdin io.Closer
	out   bytes.Buffer
	once  sync.Once
}

// startReaders starts this program again as the readers' child process, polling the task list
// at tasksURL.
func startReaders(o options, tasksURL string) (*readers, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("readers: %w", err)
	}
	rd := &readers{cmd: exec.Command(exe, "-reader", tasksURL, fmt.Sprint("-readers=", o.readers),
		fmt.Sprint("-maxresults=", o.maxResults), fmt.Sprint("-obey-retry-after=", o.obeyRetryAfter))}
	rd.cmd.Stdout = &rd.out
	rd.cmd.Stderr = os.Stderr
	rd.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // dies with the benchmark
	if rd.stdin, err = rd.cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("readers: %w", err)
	}
	if err := rd.cmd.Start(); err != nil {
		return nil, fmt.Errorf("readers: %w", err)
	}
	return rd, nil
}

func (rd *readers) pid() int { return rd.cmd.Process.Pid }

// stop tells the readers to stop (by closing their standard input) and returns what they
// counted.
func (rd *readers) stop() (readStats, error) {
	var st readStats
	var err error
	rd.once.Do(func() {
		rd.stdin.Close()
		if err = rd.cmd.Wait(); err == nil {
			err = json.Unmarshal(rd.out.Bytes(), &st)
		}
	})
	return st, err
}

// kill ends the readers if stop has not.
func (rd *readers) kill() {
	rd.once.Do(func() {
		rd.cmd.Process.Kill()
		rd.cmd.Wait()
	})
}

// readerChild is the readers' child process: o.readers clients poll the task list at o.reader
// until standard input closes, then it prints their readStats as JSON.
func readerChild(o options) int {
	u, err := url.Parse(o.reader)
	if err != nil {
		fmt.Fprintln(os.Stderr, "readload readers:", err)
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	c := newClient(u.Scheme+"://"+u.Host, o.readers)
	first := u.Path + "?maxresults=" + strconv.Itoa(o.maxResults)
	stats := make([]readerStats, o.readers)
	var wg sync.WaitGroup
	for i := range stats {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stats[i].poll(ctx, c, first, o.obeyRetryAfter)
		}()
	}
	wg.Wait()
	var all readStats
	var lat []time.Duration
	for _, s := range stats {
		all.add(s.readStats)
		lat = append(lat, s.latency...)
	}
	slices.Sort(lat)
	all.P50Ms, all.P99Ms = percentileMs(lat, 0.50), percentileMs(lat, 0.99)
	all.CPUNs = int64(selfCPU())
	b, err := json.Marshal(all)
	if err != nil {
		fmt.Fprintln(os.Stderr, "readload readers:", err)
		return 1
	}
	fmt.Println(string(b))
	return 0
}

// readerStats is what one reader counted.
type readerStats struct {
	readStats
	latency []time.Duration // of each served page
}

// poll lists the tasks from first, following odata.nextLink, again and again until ctx ends.
func (s *readerStats) poll(ctx context.Context, c *client, first string, obeyRetryAfter bool) {
	next := first
	for ctx.Err() == nil {
		start := time.Now()
		status, h, body, err := c.do(http.MethodGet, next, nil)
		if ctx.Err() != nil {
			return // stopped while asking: not counted
		}
		switch {
		case err != nil:
			s.fail(err.Error())
		case status == http.StatusOK:
			var page struct {
				Value    []json.RawMessage `json:"value"`
				NextLink string            `json:"odata.nextLink"`
			}
			if err := json.Unmarshal(body, &page); err != nil {
				s.fail("a page that is not JSON: " + err.Error())
				continue
			}
			s.latency = append(s.latency, time.Since(start))
			s.Served++
			s.Tasks += len(page.Value)
			if page.NextLink == "" {
				s.Listings++
				next = first
				continue
			}
			nl, err := url.Parse(page.NextLink)
			if err != nil {
				s.fail("odata.nextLink: " + err.Error())
				next = first
				continue
			}
			next = nl.Path + "?" + nl.RawQuery
		case status == http.StatusServiceUnavailable || status == http.StatusTooManyRequests:
			s.Throttled++
			if status == http.StatusTooManyRequests {
				s.Status429++
			} else {
				s.Status503++
			}
			wait, ok := retryAfter(h.Get("Retry-After"), time.Now())
			if !ok {
				s.NoRetryAfter++
				wait = time.Second // what a client without advice might do
			}
			if obeyRetryAfter {
				select {
				case <-ctx.Done():
				case <-time.After(wait):
				}
			}
		default:
			s.fail(fmt.Sprintf("%d %s", status, bytes.TrimSpace(body)))
		}
	}
}

func (s *readerStats) fail(msg string) {
	s.Failed++
	if s.FirstError == "" {
		s.FirstError = msg
	}
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now)), true
	}
	return 0, false
}

// add adds o's counts to s.
func (s *readStats) add(o readStats) {
	s.Served += o.Served
	s.Tasks += o.Tasks
	s.Listings += o.Listings
	s.Throttled += o.Throttled
	s.Status503 += o.Status503
	s.Status429 += o.Status429
	s.NoRetryAfter += o.NoRetryAfter
	s.Failed += o.Failed
	if s.FirstError == "" {
		s.FirstError = o.FirstError
	}
}

// percentileMs is the q-quantile (nearest rank) of sorted, in milliseconds.
func percentileMs(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := min(len(sorted)-1, max(0, int(q*float64(len(sorted))+0.5)-1))
	return float64(sorted[i]) / float64(time.Millisecond)
}
