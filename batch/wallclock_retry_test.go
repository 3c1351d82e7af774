package batch

import (
	"testing"
	"time"
)

// maxWallClockTime is measured from the start of each attempt: a retry, or a task requeued, has
// the whole limit again.
func TestWallClockOfARetry(t *testing.T) {
	tests := []struct {
		name string
		end  func(Task, time.Time) (Task, error)
	}{
		{"retry after a failure", func(task Task, now time.Time) (Task, error) {
			next, out, err := FinishTask(task, Exit{Condition: ExitProcess, Code: Ptr(int32(1))}, now)
			if err == nil && !out.Retry {
				t.Fatalf("the failed attempt was not retried: %+v", out)
			}
			return next, err
		}},
		{"requeue", RequeueTask},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := newTask(3)
			task.Constraints.MaxWallClockTime = Ptr(Duration(time.Minute))
			task, err := RunTask(task, NodeInfo{NodeID: "n1"}, at(100))
			if err != nil {
				t.Fatal(err)
			}
			if task, err = tt.end(task, at(130)); err != nil {
				t.Fatal(err)
			}
			if task, err = RunTask(task, NodeInfo{NodeID: "n2"}, at(200)); err != nil {
				t.Fatal(err)
			}
			if d, ok := WallClockDeadline(task); !ok || !d.Equal(at(260)) {
				t.Fatalf("deadline of the second attempt %v %v, want %v", d, ok, at(260))
			}
			if WallClockExceeded(task, at(230)) {
				t.Error("the second attempt timed out 30 s after it started, with a limit of a minute")
			}
		})
	}
}
