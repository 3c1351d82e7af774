package batch

import "testing"

// An exitCodeRanges entry covers both its ends: Azure's ranges are inclusive.
func TestExitCodeRangesAreInclusive(t *testing.T) {
	ec := &ExitConditions{ExitCodeRanges: []ExitCodeRangeMapping{
		{Start: 5, End: 7, ExitOptions: ExitOptions{JobAction: JobActionNone, DependencyAction: DependencySatisfy}},
		{Start: -9, End: -9, ExitOptions: ExitOptions{JobAction: JobActionNone, DependencyAction: DependencySatisfy}},
	}}
	mapped := ExitOptions{JobAction: JobActionNone, DependencyAction: DependencySatisfy}
	tests := []struct {
		code int32
		want ExitOptions
	}{
		{4, failureDefaults},
		{5, mapped},
		{6, mapped},
		{7, mapped},
		{8, failureDefaults},
		{-9, mapped},
		{-8, failureDefaults},
	}
	for _, tt := range tests {
		code := tt.code
		if got := EffectiveExitOptions(ec, Exit{Condition: ExitProcess, Code: &code}); got != tt.want {
			t.Errorf("exit code %d: %+v, want %+v", tt.code, got, tt.want)
		}
	}
}
