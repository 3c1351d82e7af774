package service

import (
	"testing"

	"corral/agent/protocol"
	"corral/batch"
)

func TestExitFromResult(t *testing.T) {
	tests := []struct {
		name string
		res  protocol.TaskResult
		cond batch.ExitCondition
		code string
	}{
		{"exit code", protocol.TaskResult{ExitCode: 3}, batch.ExitProcess, ""},
		{"timeout", protocol.TaskResult{TimedOut: true, ExitCode: 137}, batch.ExitWallClockTimeout, ""},
		{"not found", protocol.TaskResult{Error: "CommandProgramNotFound: The specified program was not found."}, batch.ExitPreProcessingError, "CommandProgramNotFound"},
		{"bare error", protocol.TaskResult{Error: "boom"}, batch.ExitPreProcessingError, "CommandLaunchFailed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := exitFromResult(tt.res)
			if e.Condition != tt.cond {
				t.Fatalf("condition %v, want %v", e.Condition, tt.cond)
			}
			if tt.code != "" && (e.FailureInfo == nil || e.FailureInfo.Code != tt.code || e.Code != nil) {
				t.Fatalf("exit %+v, want failure code %s and no exit code", e, tt.code)
			}
			if tt.cond == batch.ExitProcess && (e.Code == nil || *e.Code != int32(tt.res.ExitCode)) {
				t.Fatalf("exit code %v", e.Code)
			}
		})
	}
}
