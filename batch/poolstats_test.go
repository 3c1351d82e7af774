package batch

import (
	"testing"
	"time"
)

func TestNodeUpUntil(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2030, 1, 1, h, m, 0, 0, time.UTC) }
	ct := func(total time.Duration, dedicated bool) CoreTime {
		if dedicated {
			return CoreTime{Total: total, Dedicated: total}
		}
		return CoreTime{Total: total}
	}
	tests := []struct {
		name string
		up   NodeUp
		end  time.Time
		want []IntervalCoreTime
	}{
		{"not up yet", NodeUp{Since: at(1, 0), Cores: 2}, at(0, 30), nil},
		{"up for no time", NodeUp{Since: at(1, 0), Cores: 2}, at(1, 0), nil},
		{"within an hour", NodeUp{Since: at(1, 10), Cores: 2, Dedicated: true}, at(1, 40),
			[]IntervalCoreTime{{at(1, 0), ct(time.Hour, true)}}},
		{"to the hour's end", NodeUp{Since: at(1, 30), Cores: 1}, at(2, 0),
			[]IntervalCoreTime{{at(1, 0), ct(30*time.Minute, false)}}},
		{"across hours", NodeUp{Since: at(1, 45), Cores: 4}, at(3, 15),
			[]IntervalCoreTime{{at(1, 0), ct(time.Hour, false)}, {at(2, 0), ct(4*time.Hour, false)}, {at(3, 0), ct(time.Hour, false)}}},
		{"no cores known counts one", NodeUp{Since: at(1, 0), Dedicated: true}, at(1, 20),
			[]IntervalCoreTime{{at(1, 0), ct(20*time.Minute, true)}}},
		{"hours are UTC's", NodeUp{Since: time.Date(2030, 1, 1, 2, 50, 0, 0, time.FixedZone("+0130", 90*60)), Cores: 1}, at(1, 30),
			[]IntervalCoreTime{{at(1, 0), ct(10*time.Minute, false)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.up.Until(tc.end)
			if len(got) != len(tc.want) {
				t.Fatalf("Until = %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if !got[i].Start.Equal(tc.want[i].Start) || got[i].CoreTime != tc.want[i].CoreTime {
					t.Errorf("interval %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestTaskStats(t *testing.T) {
	created := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	now := created.Add(time.Hour)
	u := Usage{UserCPU: time.Second, KernelCPU: 2 * time.Second, WallClock: 5 * time.Second, ReadBytes: 1 << 30, WriteBytes: 1 << 29, Retries: 1}
	tests := []struct {
		name string
		task Task
		want TaskStatistics
	}{
		{"not started", Task{CreationTime: created, State: TaskActive}, Usage{}.stats(created, now, 0)},
		{"completed", Task{CreationTime: created, State: TaskCompleted, ExecutionInfo: &TaskExecutionInfo{StartTime: created.Add(time.Minute), Result: ResultSuccess}},
			u.stats(created, now, time.Minute)},
		{"created in the future (a clock behind)", Task{CreationTime: now.Add(time.Minute)}, Usage{}.stats(now, now, 0)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			uu := Usage{}
			if tc.task.ExecutionInfo != nil {
				uu = u
			}
			if got := TaskStats(tc.task, uu, now); got != tc.want {
				t.Errorf("TaskStats = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// stats is the TaskStatistics a task of usage u has, from since to now, having waited wait.
func (u Usage) stats(since, now time.Time, wait time.Duration) TaskStatistics {
	return TaskStatistics{StartTime: since, LastUpdateTime: now, UserCPUTime: Duration(u.UserCPU), KernelCPUTime: Duration(u.KernelCPU),
		WallClockTime: Duration(u.WallClock), ReadIOGiB: float64(u.ReadBytes) / (1 << 30), WriteIOGiB: float64(u.WriteBytes) / (1 << 30),
		WaitTime: Duration(wait)}
}
