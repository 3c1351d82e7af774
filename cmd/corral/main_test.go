package main

import (
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	tests := []runCase{
		{args: []string{"version"}, code: 0, stdout: "corral "},
		{args: []string{"help"}, code: 0, stdout: "usage: corral"},
		{args: nil, code: 2, stderrIn: "usage: corral"},
		{args: []string{"frobnicate"}, code: 2, stderrIn: `unknown command "frobnicate"`},
	}
	checkRuns(t, tests)
}

// runCase is a run of the CLI and what it must give: its exit code, and text that its stdout
// and its stderr must contain.
type runCase struct {
	args     []string
	code     int
	stdout   string
	stderrIn string
}

// checkRuns runs each case in a subtest named after its arguments.
func checkRuns(t *testing.T, tests []runCase) {
	t.Helper()
	for _, tt := range tests {
		name := strings.Join(tt.args, " ")
		if name == "" {
			name = "no args"
		}
		t.Run(name, func(t *testing.T) {
			var out, errOut strings.Builder
			code := run(tt.args, &out, &errOut)
			if code != tt.code {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.code, errOut.String())
			}
			if !strings.Contains(out.String(), tt.stdout) {
				t.Errorf("stdout = %q, want it to contain %q", out.String(), tt.stdout)
			}
			if !strings.Contains(errOut.String(), tt.stderrIn) {
				t.Errorf("stderr = %q, want it to contain %q", errOut.String(), tt.stderrIn)
			}
		})
	}
}
