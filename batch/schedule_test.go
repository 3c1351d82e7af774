package batch

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func schedule(id string) JobSchedule {
	return JobSchedule{ID: id, Schedule: &Schedule{}, JobSpecification: &JobSpecification{PoolInfo: PoolInformation{PoolID: "p1"}}}
}

func TestValidateJobSchedule(t *testing.T) {
	minute, second := Duration(time.Minute), Duration(time.Second)
	tests := []struct {
		name     string
		change   func(*JobSchedule)
		code     string
		property string
	}{
		{"valid", func(*JobSchedule) {}, "", ""},
		{"recurring", func(s *JobSchedule) { s.Schedule.RecurrenceInterval, s.Schedule.StartWindow = &minute, &minute }, "", ""},
		{"bad id", func(s *JobSchedule) { s.ID = "a:b" }, CodeInvalidPropertyValue, "id"},
		{"no schedule", func(s *JobSchedule) { s.Schedule = nil }, CodeMissingRequiredProperty, "schedule"},
		{"no job specification", func(s *JobSchedule) { s.JobSpecification = nil }, CodeMissingRequiredProperty, "jobSpecification"},
		{"short interval", func(s *JobSchedule) { s.Schedule.RecurrenceInterval = &second }, CodeInvalidPropertyValue, "schedule.recurrenceInterval"},
		{"short window", func(s *JobSchedule) { s.Schedule.StartWindow = &second }, CodeInvalidPropertyValue, "schedule.startWindow"},
		{"no pool", func(s *JobSchedule) { s.JobSpecification.PoolInfo.PoolID = "" }, CodeMissingRequiredProperty, "jobSpecification.poolInfo.poolId"},
		{"priority", func(s *JobSchedule) { s.JobSpecification.Priority = Ptr(int32(5)) }, CodeUnsupportedProperty, "jobSpecification.priority"},
		{"priority 0", func(s *JobSchedule) { s.JobSpecification.Priority = Ptr(int32(0)) }, "", ""},
		{"out of range priority", func(s *JobSchedule) { s.JobSpecification.Priority = Ptr(int32(5000)) }, CodeOutOfRangePriority, "jobSpecification.priority"},
		{"job manager task", func(s *JobSchedule) { s.JobSpecification.JobManagerTask = json.RawMessage(`{"id":"m"}`) }, CodeUnsupportedProperty, "jobSpecification.jobManagerTask"},
		{"auto pool", func(s *JobSchedule) {
			s.JobSpecification.PoolInfo = PoolInformation{AutoPoolSpecification: json.RawMessage(`{"poolLifetimeOption":"job"}`)}
		}, CodeUnsupportedProperty, "jobSpecification.poolInfo.autoPoolSpecification"},
		{"environment", func(s *JobSchedule) {
			s.JobSpecification.CommonEnvironmentSettings = []EnvironmentSetting{{Name: "A=B"}}
		}, CodeInvalidPropertyValue, "jobSpecification.commonEnvironmentSettings[0].name"},
		{"metadata", func(s *JobSchedule) { s.Metadata = []MetadataItem{{Value: "v"}} }, CodeEmptyMetadataKey, "metadata[0].name"},
		{"job metadata", func(s *JobSchedule) { s.JobSpecification.Metadata = []MetadataItem{{Value: "v"}} }, CodeEmptyMetadataKey, "jobSpecification.metadata[0].name"},
		{"job display name", func(s *JobSchedule) { s.JobSpecification.DisplayName = strings.Repeat("x", 1025) }, CodeInvalidPropertyValue, "jobSpecification.displayName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := schedule("s1")
			tt.change(&s)
			err := ValidateJobSchedule(s)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			e, ok := err.(*Error)
			if !ok || e.Code != tt.code || e.Value(KeyPropertyName) != tt.property {
				t.Fatalf("got %v; want %s naming %s", err, tt.code, tt.property)
			}
			if !strings.Contains(e.Message, tt.property) && tt.code != CodeEmptyMetadataKey {
				t.Errorf("message %q does not name %s", e.Message, tt.property)
			}
		})
	}
}

func TestScheduleJobIDs(t *testing.T) {
	if got := ScheduleJobID("Nightly", 12); got != "Nightly:job-12" {
		t.Fatalf("ScheduleJobID = %q", got)
	}
	for _, tt := range []struct {
		id    string
		sched string
		n     int64
		ok    bool
	}{
		{"nightly:job-1", "nightly", 1, true},
		{"a_b-c:job-907", "a_b-c", 907, true},
		{"nightly", "", 0, false},
		{"nightly:job-", "", 0, false},
		{"nightly:job-0", "", 0, false},
		{"nightly:job-01", "", 0, false},
		{"nightly:job-1x", "", 0, false},
		{"night ly:job-1", "", 0, false},
		{":job-1", "", 0, false},
		{"a:job-1:job-2", "", 0, false},
		{"a:task-1", "", 0, false},
	} {
		s, n, ok := ParseScheduleJobID(tt.id)
		if s != tt.sched || n != tt.n || ok != tt.ok {
			t.Errorf("ParseScheduleJobID(%q) = %q, %d, %v", tt.id, s, n, ok)
		}
		if want := ValidID(tt.id) || tt.ok; ValidJobID(tt.id) != want {
			t.Errorf("ValidJobID(%q) = %v", tt.id, !want)
		}
	}
	if !ValidJobID(strings.Repeat("x", 64) + ":job-123") {
		t.Error("a schedule of the longest id has jobs")
	}
}

func TestTransitionJobSchedule(t *testing.T) {
	now := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	s := NewJobSchedule(schedule("s1"), now)
	s.ExecutionInfo.NextRunTime = now.Add(time.Hour)
	d, err := TransitionJobSchedule(s, ScheduleDisabled, now.Add(time.Minute))
	if err != nil || d.State != ScheduleDisabled || d.PreviousState != ScheduleActive || !d.PreviousStateTransitionTime.Equal(now) ||
		!d.ExecutionInfo.NextRunTime.Equal(now.Add(time.Hour)) || !d.LastModified.Equal(now) {
		t.Fatalf("disable: %+v, %v", d, err)
	}
	if s.State != ScheduleActive {
		t.Fatal("the transition changed its argument")
	}
	c, err := TransitionJobSchedule(s, ScheduleCompleted, now.Add(2*time.Minute))
	if err != nil || !c.ExecutionInfo.EndTime.Equal(now.Add(2*time.Minute)) || !c.ExecutionInfo.NextRunTime.IsZero() {
		t.Fatalf("complete: %+v, %v", c.ExecutionInfo, err)
	}
	for _, tt := range []struct {
		from, to JobScheduleState
		code     string
	}{
		{ScheduleCompleted, ScheduleDisabled, CodeJobScheduleCompleted},
		{ScheduleCompleted, ScheduleTerminating, CodeJobScheduleCompleted},
		{ScheduleTerminating, ScheduleDisabled, CodeJobScheduleBeingTerminated},
		{ScheduleDeleting, ScheduleActive, CodeJobScheduleBeingDeleted},
		{ScheduleDisabled, ScheduleCompleted, CodeOperationInvalidForCurrentState},
	} {
		s.State = tt.from
		if _, err := TransitionJobSchedule(s, tt.to, now); CodeOf(err) != tt.code {
			t.Errorf("%s -> %s: %v, want %s", tt.from, tt.to, err, tt.code)
		}
	}
}

func TestJobFromSpecification(t *testing.T) {
	spec := JobSpecification{DisplayName: "nightly run", PoolInfo: PoolInformation{PoolID: "p1"}, OnAllTasksComplete: AllCompleteTerminateJob,
		Constraints: &JobConstraints{MaxTaskRetryCount: Ptr(int32(2))}, CommonEnvironmentSettings: []EnvironmentSetting{{Name: "A", Value: "1"}},
		Metadata: []MetadataItem{{Name: "k", Value: "v"}}, UsesTaskDependencies: Ptr(true)}
	now := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	j := NewJob(JobFromSpecification("s1:job-3", spec), now)
	if j.ID != "s1:job-3" || j.DisplayName != "nightly run" || j.PoolInfo.PoolID != "p1" || j.OnAllTasksComplete != AllCompleteTerminateJob ||
		j.TaskRetryLimit() != 2 || len(j.CommonEnvironmentSettings) != 1 || len(j.Metadata) != 1 || !j.UsesDependencies() ||
		j.State != JobActive || !j.CreationTime.Equal(now) {
		t.Fatalf("job %+v", j)
	}
	j.Constraints.MaxTaskRetryCount = Ptr(int32(9))
	j.Metadata[0].Value = "changed"
	if *spec.Constraints.MaxTaskRetryCount != 2 || spec.Metadata[0].Value != "v" {
		t.Fatal("the job shares the specification's constraints or metadata")
	}
}

func TestOccurrences(t *testing.T) {
	t0 := time.Date(2024, 7, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	dur := func(d time.Duration) *Duration { v := Duration(d); return &v }
	none := time.Time{}

	// Every 10 minutes from t0, each occurrence open for 3 minutes, none after t0+35m.
	notAfter := at(35 * time.Minute)
	o := OccurrencesOf(Schedule{DoNotRunUntil: &t0, RecurrenceInterval: dur(10 * time.Minute), StartWindow: dur(3 * time.Minute), DoNotRunAfter: &notAfter}, at(-time.Hour))
	for _, tt := range []struct {
		t, last time.Time
		pending time.Time // zero: none
	}{
		{at(-time.Second), none, none},
		{t0, none, t0},
		{at(2 * time.Minute), none, t0},
		{at(3 * time.Minute), none, none}, // the window has passed
		{at(2 * time.Minute), t0, none},   // created already
		{at(11 * time.Minute), t0, at(10 * time.Minute)},
		{at(30 * time.Minute), at(10 * time.Minute), at(30 * time.Minute)}, // 20m was skipped
		{at(35 * time.Minute), at(30 * time.Minute), none},
	} {
		got, ok := o.Pending(tt.t, tt.last)
		if ok != !tt.pending.IsZero() || !got.Equal(tt.pending) {
			t.Errorf("Pending(%v, last %v) = %v, %v; want %v", tt.t.Sub(t0), tt.last, got, ok, tt.pending)
		}
	}
	if d, ok := o.Next(at(10*time.Minute), at(10*time.Minute)); !ok || !d.Equal(at(20*time.Minute)) {
		t.Errorf("Next = %v, %v", d, ok)
	}
	if _, ok := o.Next(at(31*time.Minute), at(30*time.Minute)); ok {
		t.Error("an occurrence after doNotRunAfter")
	}
	if w, ok := o.WakeAfter(at(11*time.Minute), t0); !ok || !w.Equal(at(13*time.Minute)) {
		t.Errorf("WakeAfter while 10m is pending = %v, %v; want the end of its window", w, ok)
	}
	if w, ok := o.WakeAfter(at(31*time.Minute), at(30*time.Minute)); !ok || !w.Equal(notAfter.Add(time.Nanosecond)) {
		t.Errorf("WakeAfter the last occurrence = %v, %v; want doNotRunAfter", w, ok)
	}
	if o.Exhausted(notAfter, at(30*time.Minute)) || !o.Exhausted(notAfter.Add(time.Nanosecond), at(30*time.Minute)) {
		t.Error("a recurring schedule is exhausted once doNotRunAfter has passed")
	}
	if nr, ok := o.NextRunTime(at(11*time.Minute), t0); !ok || !nr.Equal(at(10*time.Minute)) {
		t.Errorf("NextRunTime while 10m waits = %v", nr)
	}

	// A start window longer than the interval ends with the next occurrence.
	long := OccurrencesOf(Schedule{DoNotRunUntil: &t0, RecurrenceInterval: dur(time.Minute), StartWindow: dur(time.Hour)}, t0)
	if end := long.End(t0); !end.Equal(at(time.Minute)) {
		t.Errorf("End with a long window = %v", end.Sub(t0))
	}
	if d, ok := long.Pending(at(90*time.Second), t0); !ok || !d.Equal(at(time.Minute)) {
		t.Errorf("Pending = %v, %v", d, ok)
	}

	// No recurrence: one occurrence, due at creation without doNotRunUntil, open for ever.
	once := OccurrencesOf(Schedule{}, t0)
	if d, ok := once.Pending(at(100*time.Hour), none); !ok || !d.Equal(t0) {
		t.Errorf("one-shot Pending = %v, %v", d, ok)
	}
	if once.Exhausted(at(time.Hour), none) || !once.Exhausted(at(time.Hour), t0) {
		t.Error("a one-shot schedule is exhausted once its job is created, not before")
	}
	if _, ok := once.WakeAfter(t0, t0); ok {
		t.Error("a one-shot schedule whose job is created has nothing to wake for")
	}
	// One whose window passed without a job is exhausted too.
	later := at(time.Hour)
	windowed := OccurrencesOf(Schedule{DoNotRunUntil: &later, StartWindow: dur(time.Minute)}, t0)
	if windowed.Exhausted(t0, none) || windowed.Exhausted(later, none) || !windowed.Exhausted(later.Add(time.Minute), none) {
		t.Error("a one-shot schedule with a start window")
	}
	if d, ok := windowed.NextRunTime(t0, none); !ok || !d.Equal(later) {
		t.Errorf("NextRunTime before doNotRunUntil = %v", d)
	}
}
