package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"corral/agent"
)

// runnerResult is what the node agent's Runner alone measured.
type runnerResult struct {
	wall time.Duration
	cpu  time.Duration // this process and its reaped children (the tasks)
	self time.Duration // this process alone: the Runner's own cost
}

// runRunner runs n tasks through the node agent's Runner (agent.NewRunner) in this process, p at
// a time, the way an agent's Client drives it: one loop starts an attempt whenever a slot is
// free and acknowledges each result (AckResult) as the service's ResultAck would. No service, no
// network: this is the node's own cost per task (task directory, journal, output files, spawn,
// result, acknowledgement), which bounds what one node can run. Dependencies do not
// matter to a node, so the tasks are independent. profile, if not "", receives a CPU profile of
// this process during the run.
func runRunner(n, p int, command, root, profile string, cl *cleanup) (runnerResult, error) {
	var res runnerResult
	dir, err := tempDir(root, "corral-bench-runner-", cl)
	if err != nil {
		return res, err
	}
	done := make(chan agent.Result, p)
	r, err := agent.NewRunner(agent.Config{
		Root: filepath.Join(dir, "node"), NodeID: "bench-0", PoolID: "bench",
		OnDone: func(res agent.Result) { done <- res },
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return res, err
	}
	defer r.Close()
	stopProfile, err := startCPUProfile(profile)
	if err != nil {
		return res, err
	}
	defer stopProfile()
	selfBefore, childBefore := cpuTimes()
	start := time.Now()
	next, finished := 0, 0
	startOne := func() error {
		id := fmt.Sprintf("t%d", next)
		next++
		return r.Start(agent.TaskSpec{JobID: "dag", TaskID: id, AttemptID: "dag/" + id + "/1", CommandLine: command})
	}
	for next < min(p, n) {
		if err := startOne(); err != nil {
			return res, err
		}
	}
	for finished < n {
		d := <-done
		finished++
		if d.Failure != nil || d.ExitCode != 0 {
			return res, fmt.Errorf("task %s: exit %d, %+v", d.TaskID, d.ExitCode, d.Failure)
		}
		if err := r.AckResult(d.JobID, d.TaskID, d.AttemptID); err != nil {
			return res, err
		}
		if next < n {
			if err := startOne(); err != nil {
				return res, err
			}
		}
	}
	res.wall = time.Since(start)
	stopProfile()
	selfAfter, childAfter := cpuTimes()
	res.self = selfAfter - selfBefore
	res.cpu = res.self + childAfter - childBefore
	return res, nil
}
