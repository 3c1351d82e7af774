package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		stderrIn string
	}{
		{name: "version", args: []string{"version"}, code: 0, stdout: "corral "},
		{name: "help", args: []string{"help"}, code: 0, stdout: "usage: corral"},
		{name: "no args", args: nil, code: 2, stderrIn: "usage: corral"},
		{name: "unknown", args: []string{"frobnicate"}, code: 2, stderrIn: `unknown command "frobnicate"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tt.args, &out, &errOut)
			if code != tt.code {
				t.Errorf("exit code = %d, want %d", code, tt.code)
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
