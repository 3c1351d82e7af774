package main

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"corral/server"
	"corral/service"
)

// corralResult is what one run through the whole server measured.
type corralResult struct {
	submit, wall time.Duration
	tm           timings
	cpuSelf      time.Duration // this process (the server) during the run
	cpuChildren  time.Duration // agents and their tasks, counted once the agents are reaped
	closedConns  int           // TCP connections to the server port in TIME-WAIT after the run
	store        string        // the server's store: SQLite or PostgreSQL
}

// benchKey is the account key of the servers the benchmark starts.
const benchKey = "bench-key-0123456789abcdef"

// printCorral prints what a run through the whole server measured, each line starting with
// label; setup says how the server and its nodes ran.
func printCorral(label, setup string, r corralResult, p int, sh shape) {
	fmt.Printf("%s: wall %.2fs, %.0f tasks/s (submitting took %.2fs of it); %s\n",
		label, r.wall.Seconds(), rate(sh.Total, r.wall), r.submit.Seconds(), setup)
	fmt.Printf("%s latency, task end -> dependent start (service-recorded executionInfo): %s\n", label, latencyLine(r.tm.dep))
	fmt.Printf("%s attempt, startTime -> endTime (attempt recorded -> StartTask to agent -> process -> result recorded): %s\n", label, latencyLine(r.tm.attempt))
	fmt.Printf("%s slot time per task: %s (P x first start..last end / tasks), of which attempt %s and slot turnaround %s\n",
		label, ms(slotTime(p, r.tm.span, sh.Total)), ms(mean(r.tm.attempt)), ms(slotTime(p, r.tm.span, sh.Total)-mean(r.tm.attempt)))
	conns := ""
	if r.closedConns >= 0 {
		conns = fmt.Sprintf("; %d connections to the server closed (TIME-WAIT) during the run", r.closedConns)
	}
	fmt.Printf("%s CPU: server process %.1fs (%.0f%% of one core), agents+tasks %.1fs%s\n",
		label, r.cpuSelf.Seconds(), 100*r.cpuSelf.Seconds()/r.wall.Seconds(), r.cpuChildren.Seconds(), conns)
}

// buildCorral builds the corral binary (for the agents) into dir.
func buildCorral(dir string) (string, error) {
	bin := filepath.Join(dir, "corral")
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == os.DevNull {
		return "", fmt.Errorf("go env GOMOD: not inside the corral module (run from /work/main, or pass -corral-bin): %v", err)
	}
	cmd := exec.Command("go", "build", "-o", bin, "corral/cmd/corral")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(out)))
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// runCorral runs the DAG through the real server (server.Start, in this process: its store,
// SQLite or with -store PostgreSQL, actor engine, REST API and agent endpoint) with nodes nodes of
// slots slots each, every node a local `corral agent` process; requests go in-process to the
// service's account actor.
func runCorral(o options, sh shape, bin string, cl *cleanup) (corralResult, error) {
	var res corralResult
	dir, err := tempDir(o.dir, "corral-bench-dag-", cl)
	if err != nil {
		return res, err
	}
	key := []byte(benchKey)
	srv, kind, err := startServer(o, "corral", server.Config{
		Listen:  "127.0.0.1:0",
		DataDir: filepath.Join(dir, "data"),
		Account: server.Account{Name: "corral", Key: key},
		Timing:  service.NodeTiming{CheckEvery: time.Second, LostAfter: 60 * time.Second},
		Logger:  slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		AgentCommand: func(poolID, nodeID, nodeDir string, dedicated bool) *exec.Cmd {
			cmd := exec.Command(bin, "agent", "--root", nodeDir, "--heartbeat", "5s", "--give-up", "30s")
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
			return cmd
		},
	}, cl)
	if err != nil {
		return res, err
	}
	stop := cl.add(func() {
		if p := srv.Provider(); p != nil { // nil on a replica that no longer leads
			p.KillAll()
		}
		srv.Close()
	})
	defer stop()
	sys, err := newSystem(srv.Runtime(), srv.Store())
	if err != nil {
		return res, err
	}
	fmt.Fprintf(os.Stderr, "corral: server at %s, data in %s; starting %d node(s) of %d slots\n", srv.URL, dir, o.nodes, o.slots)
	if err := sys.addPool("bench", o.nodes, o.slots); err != nil {
		return res, err
	}
	if err := sys.warmUp("bench", o.p, o.command); err != nil {
		return res, err
	}
	fmt.Fprintln(os.Stderr, "corral: nodes up; running the DAG")
	res, err = measureRun(o, sh, sys, "corral", o.cpuprofile, srv.URL, stop)
	res.store = kind
	return res, err
}

// measureRun runs the DAG as job "dag" on pool "bench" of sys, whose nodes are up, and returns
// what it measured. profile, if not "", receives a CPU profile of this process during the run;
// connsOf, if not "", is the server URL whose closed connections are counted (else closedConns
// is -1). stop ends the nodes and reaps their processes, so that their CPU time is counted.
func measureRun(o options, sh shape, sys *system, label, profile, connsOf string, stop func()) (corralResult, error) {
	var res corralResult
	stopProfile, err := startCPUProfile(profile)
	if err != nil {
		return res, err
	}
	defer stopProfile()
	selfBefore, childBefore := cpuTimes()
	res.submit, res.wall, err = sys.run("dag", "bench", sh, o.command, o.timeout, label)
	stopProfile()
	if err != nil {
		return res, err
	}
	selfAfter, _ := cpuTimes()
	res.cpuSelf = selfAfter - selfBefore
	res.closedConns = -1
	if connsOf != "" {
		res.closedConns = timeWaitTo(connsOf)
	}
	fmt.Fprintf(os.Stderr, "%s: reading executionInfo\n", label)
	res.tm, err = sys.timings("dag", sh)
	if err != nil {
		return res, err
	}
	stop() // reaps the agents, so their CPU time (and their tasks') is counted
	_, childAfter := cpuTimes()
	res.cpuChildren = childAfter - childBefore
	return res, nil
}

// timeWaitTo counts the TCP connections to the port of url (http://host:port) that are in
// TIME-WAIT: connections closed in the last minute or so (Linux keeps TIME-WAIT 60s). The agent
// gives up a long poll, over HTTP/1.1 by closing its connection, whenever it has a report to send.
func timeWaitTo(url string) int {
	i := strings.LastIndex(url, ":")
	port, err := strconv.Atoi(url[i+1:])
	if err != nil {
		return -1
	}
	n := 0
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) < 4 || fs[3] != "06" { // 06: TIME_WAIT
				continue
			}
			for _, addr := range fs[1:3] {
				if j := strings.LastIndex(addr, ":"); j >= 0 {
					if p, err := strconv.ParseInt(addr[j+1:], 16, 32); err == nil && int(p) == port {
						n++
						break
					}
				}
			}
		}
		fh.Close()
	}
	return n
}
