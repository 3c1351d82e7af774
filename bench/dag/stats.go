package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// cpuTimes returns the user+system CPU time of this process and of its reaped children.
func cpuTimes() (self, children time.Duration) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru) == nil {
		children = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	return self, children
}

// startCPUProfile starts a CPU profile of this process into the file path; stop ends it and
// closes the file, and may be called more than once. An empty path profiles nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			pprof.StopCPUProfile()
			f.Close()
		})
	}, nil
}

// procStatusKB reads a "Name:   123 kB" line of /proc/self/status, in bytes.
func procStatusKB(name string) (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+":"); ok {
			fs := strings.Fields(v)
			if len(fs) == 0 {
				break
			}
			kb, err := strconv.ParseInt(fs[0], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/self/status has no %s", name)
}

// percentile returns the p-th percentile (0 < p <= 100, nearest rank) of sorted durations.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

// latencyLine summarises sorted latencies.
func latencyLine(lat []time.Duration) string {
	if len(lat) == 0 {
		return "no task with dependencies"
	}
	return fmt.Sprintf("p50 %s, p99 %s, mean %s, max %s (%d tasks)", ms(percentile(lat, 50)), ms(percentile(lat, 99)),
		ms(mean(lat)), ms(lat[len(lat)-1]), len(lat))
}

// mean returns the mean of durations.
func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

// slotTime is the slot time per task: p slots busy or idle over span, shared by n tasks.
func slotTime(p int, span time.Duration, n int) time.Duration {
	return time.Duration(p) * span / time.Duration(n)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond)) }

func us(d time.Duration) string { return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond)) }

func rate(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// tempDir makes a directory in root (the system's temporary directory if "") that cl removes
// at the end of the command, not before: deleting many files now would slow the next runs'
// creating files (see main).
func tempDir(root, prefix string, cl *cleanup) (string, error) {
	dir, err := os.MkdirTemp(root, prefix)
	if err != nil {
		return "", err
	}
	cl.add(func() { os.RemoveAll(dir) })
	return dir, nil
}

// cleanup runs registered functions once, last first: at the end of main, on a fatal error, or
// on SIGINT/SIGTERM.
type cleanup struct {
	mu  sync.Mutex
	fns []func()
}

// add registers f and returns a function that runs it now; either way f runs once.
func (c *cleanup) add(f func()) (now func()) {
	var once sync.Once
	g := func() { once.Do(f) }
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fns = append(c.fns, g)
	return g
}

func (c *cleanup) run() {
	c.mu.Lock()
	fns := c.fns
	c.fns = nil
	c.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}
