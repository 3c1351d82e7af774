package agent

import (
	"strings"
	"testing"
	"time"

	"corral/agent/protocol"
)

func TestTaskResultOf(t *testing.T) {
	t0 := time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Minute)
	tests := []struct {
		name string
		in   Result
		want protocol.TaskResult
	}{
		{"exit", Result{JobID: "j", TaskID: "t", AttemptID: "a", Started: true, ExitCode: 3, StartTime: t0, EndTime: t1},
			protocol.TaskResult{NodeID: "n", AttemptID: "a", ExitCode: 3, StartTime: t0, EndTime: t1}},
		{"killed", Result{AttemptID: "a", Started: true, ExitCode: 137, Signal: 9, Killed: true, StartTime: t0, EndTime: t1},
			protocol.TaskResult{NodeID: "n", AttemptID: "a", ExitCode: 137, StartTime: t0, EndTime: t1, Killed: true}},
		{"timed out", Result{AttemptID: "a", Started: true, ExitCode: 137, Signal: 9, TimedOut: true, StartTime: t0, EndTime: t1},
			protocol.TaskResult{NodeID: "n", AttemptID: "a", ExitCode: 137, StartTime: t0, EndTime: t1, TimedOut: true}},
		{"not started", Result{AttemptID: "a", StartTime: t0, EndTime: t0,
			Failure: &Failure{Category: CategoryUserError, Code: CodeCommandProgramNotFound, Message: "The specified command program is not found: \"nope\""}},
			protocol.TaskResult{NodeID: "n", AttemptID: "a", StartTime: t0, EndTime: t0,
				Error: "CommandProgramNotFound: The specified command program is not found: \"nope\""}},
		{"not started, no failure", Result{AttemptID: "a"},
			protocol.TaskResult{NodeID: "n", AttemptID: "a", Error: "the task's process was not started"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := TaskResultOf("n", tt.in); got != tt.want {
				t.Errorf("TaskResultOf = %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestNewClientRejectsBadConfig(t *testing.T) {
	good := func() ClientConfig {
		return ClientConfig{ServerURL: "http://127.0.0.1:1", NodeID: "n1", PoolID: "p1", Credential: "k",
			Runner: Config{Root: t.TempDir()}}
	}
	tests := []struct {
		name   string
		change func(*ClientConfig)
		want   string
	}{
		{"no node", func(c *ClientConfig) { c.NodeID = "" }, "required"},
		{"no pool", func(c *ClientConfig) { c.PoolID = "" }, "required"},
		{"slash in pool", func(c *ClientConfig) { c.PoolID = "a/b" }, "contains '/'"},
		{"no credential", func(c *ClientConfig) { c.Credential = "" }, "Credential is required"},
		{"credential with a colon", func(c *ClientConfig) { c.Credential = "a:b" }, "Credential is required"},
		{"bad URL", func(c *ClientConfig) { c.ServerURL = "ftp://x" }, "not an http"},
		{"no host", func(c *ClientConfig) { c.ServerURL = "http://" }, "not an http"},
		{"OnDone set", func(c *ClientConfig) { c.Runner.OnDone = func(Result) {} }, "OnDone must be nil"},
		{"other node", func(c *ClientConfig) { c.Runner.NodeID = "n2" }, "another node"},
		{"negative give-up", func(c *ClientConfig) { c.GiveUpAfter = -time.Second }, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good()
			tt.change(&cfg)
			c, err := NewClient(cfg)
			if err == nil {
				c.Close()
				t.Fatal("NewClient: no error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewClient: %v, want an error about %q", err, tt.want)
			}
		})
	}
}
