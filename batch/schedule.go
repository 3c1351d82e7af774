package batch

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Job schedules, as Azure Batch documents them (Job Schedule - Add, CloudJobSchedule, Schedule,
// JobSpecification): a schedule creates jobs from its jobSpecification at the times its
// schedule says, at most one active job at a time.

// JobScheduleState is the state of a job schedule (CloudJobSchedule.state).
type JobScheduleState string

// Job schedule states.
const (
	// ScheduleActive: the schedule creates jobs as its schedule says.
	ScheduleActive JobScheduleState = "active"
	// ScheduleCompleted: the schedule has ended, by reaching its end (doNotRunAfter, or the job
	// of a schedule that does not recur) or by being terminated.
	ScheduleCompleted JobScheduleState = "completed"
	// ScheduleDisabled: the schedule creates no job until it is enabled; its active job runs on.
	ScheduleDisabled JobScheduleState = "disabled"
	// ScheduleTerminating: the schedule is being terminated: it creates no job, and its active
	// job is being terminated.
	ScheduleTerminating JobScheduleState = "terminating"
	// ScheduleDeleting: the schedule is being deleted, with all its jobs.
	ScheduleDeleting JobScheduleState = "deleting"
)

// Valid reports whether s is a known job schedule state.
func (s JobScheduleState) Valid() bool {
	switch s {
	case ScheduleActive, ScheduleCompleted, ScheduleDisabled, ScheduleTerminating, ScheduleDeleting:
		return true
	}
	return false
}

// UnmarshalJSON reads the state case-insensitively.
func (s *JobScheduleState) UnmarshalJSON(b []byte) error { return unmarshalEnum(b, (*string)(s)) }

// MinScheduleInterval is the shortest recurrenceInterval and startWindow Azure accepts ("The
// minimum value is 1 minute. If you specify a lower value, the Batch service rejects the
// schedule with an error").
const MinScheduleInterval = time.Minute

// Schedule says when a job schedule creates jobs (Azure's Schedule). All of it is optional: an
// empty schedule creates one job at once.
type Schedule struct {
	// DoNotRunUntil is the earliest time a job may be created; absent, the schedule is ready at
	// once (Corral counts its occurrences from the schedule's creation).
	DoNotRunUntil *time.Time `json:"doNotRunUntil,omitempty"`
	// DoNotRunAfter is the time after which no job is created; the schedule completes once it
	// has passed and no job of it is active.
	DoNotRunAfter *time.Time `json:"doNotRunAfter,omitempty"`
	// StartWindow is how long after it is due an occurrence may still create its job; absent,
	// without limit.
	StartWindow *Duration `json:"startWindow,omitempty"`
	// RecurrenceInterval is the time between the due times of successive jobs; absent, the
	// schedule creates one job and completes when it finishes.
	RecurrenceInterval *Duration `json:"recurrenceInterval,omitempty"`
}

// JobSpecification is what a job schedule's jobs are made from (Azure's JobSpecification): the
// properties of Job - Add but id. Each property is acted on, kept or refused exactly as Job -
// Add's ([ValidateJobSpecification]).
type JobSpecification struct {
	Priority                  *int32               `json:"priority,omitempty"`
	AllowTaskPreemption       *bool                `json:"allowTaskPreemption,omitempty"`
	MaxParallelTasks          *int32               `json:"maxParallelTasks,omitempty"`
	DisplayName               string               `json:"displayName,omitempty"`
	UsesTaskDependencies      *bool                `json:"usesTaskDependencies,omitempty"`
	OnAllTasksComplete        OnAllTasksComplete   `json:"onAllTasksComplete,omitempty"`
	OnTaskFailure             OnTaskFailure        `json:"onTaskFailure,omitempty"`
	NetworkConfiguration      json.RawMessage      `json:"networkConfiguration,omitempty"`
	Constraints               *JobConstraints      `json:"constraints,omitempty"`
	JobManagerTask            json.RawMessage      `json:"jobManagerTask,omitempty"`
	JobPreparationTask        *JobPreparationTask  `json:"jobPreparationTask,omitempty"`
	JobReleaseTask            *JobReleaseTask      `json:"jobReleaseTask,omitempty"`
	CommonEnvironmentSettings []EnvironmentSetting `json:"commonEnvironmentSettings,omitempty"`
	PoolInfo                  PoolInformation      `json:"poolInfo"`
	Metadata                  []MetadataItem       `json:"metadata,omitempty"`
}

// RecentJob is the most recent job of a job schedule (JobScheduleExecutionInformation.recentJob).
type RecentJob struct {
	ID  string `json:"id,omitempty"`
	URL string `json:"url,omitempty"`
}

// JobScheduleExecutionInfo is a job schedule's executionInfo.
type JobScheduleExecutionInfo struct {
	// NextRunTime is when the schedule creates its next job: the due time of the occurrence
	// that waits for the active job to finish, or of the next one; absent when none is to come.
	NextRunTime time.Time `json:"nextRunTime,omitzero"`
	// RecentJob is the job the schedule created last, once it has created one.
	RecentJob *RecentJob `json:"recentJob,omitempty"`
	// EndTime is set once the schedule is completed.
	EndTime time.Time `json:"endTime,omitzero"`
}

// JobSchedule is a job schedule: Azure's JobScheduleAddParameter and CloudJobSchedule in one
// type. [ValidateJobSchedule] checks the add parameter; Corral keeps no statistics of job schedules (stats).
type JobSchedule struct {
	ID                          string                    `json:"id,omitempty"`
	DisplayName                 string                    `json:"displayName,omitempty"`
	URL                         string                    `json:"url,omitempty"`
	ETag                        string                    `json:"eTag,omitempty"`
	LastModified                time.Time                 `json:"lastModified,omitzero"`
	CreationTime                time.Time                 `json:"creationTime,omitzero"`
	State                       JobScheduleState          `json:"state,omitempty"`
	StateTransitionTime         time.Time                 `json:"stateTransitionTime,omitzero"`
	PreviousState               JobScheduleState          `json:"previousState,omitempty"`
	PreviousStateTransitionTime time.Time                 `json:"previousStateTransitionTime,omitzero"`
	Schedule                    *Schedule                 `json:"schedule,omitempty"`
	JobSpecification            *JobSpecification         `json:"jobSpecification,omitempty"`
	ExecutionInfo               *JobScheduleExecutionInfo `json:"executionInfo,omitempty"`
	Metadata                    []MetadataItem            `json:"metadata,omitempty"`
}

// ValidateJobSchedule checks a job schedule as given to Job Schedule - Add, by Azure's rules,
// and returns the first problem as an *Error: a valid id; displayName length; schedule and
// jobSpecification required; the schedule by [ValidateSchedule] and the job specification by
// [ValidateJobSpecification]; metadata items have names.
func ValidateJobSchedule(s JobSchedule) error {
	if err := validateID("id", s.ID); err != nil {
		return err
	}
	if err := checkDisplayName(s.DisplayName); err != nil {
		return err
	}
	if s.Schedule == nil {
		return missing("schedule")
	}
	if err := ValidateSchedule(*s.Schedule); err != nil {
		return err
	}
	if s.JobSpecification == nil {
		return missing("jobSpecification")
	}
	if err := ValidateJobSpecification(*s.JobSpecification, s.ID); err != nil {
		return err
	}
	if err := checkMetadata(s.Metadata); err != nil {
		return err
	}
	return nil
}

// ValidateSchedule checks a schedule: recurrenceInterval and startWindow are at least
// [MinScheduleInterval] (InvalidPropertyValue naming schedule.recurrenceInterval or
// schedule.startWindow).
func ValidateSchedule(s Schedule) error {
	for _, f := range []struct {
		name string
		d    *Duration
	}{{"schedule.recurrenceInterval", s.RecurrenceInterval}, {"schedule.startWindow", s.StartWindow}} {
		if f.d != nil && f.d.Std() < MinScheduleInterval {
			return invalid(f.name, f.d.String(), "the minimum value is 1 minute")
		}
	}
	return nil
}

// ValidateJobSpecification checks the job specification of the job schedule scheduleID as Job -
// Add checks a job ([ValidateJob]): what Job - Add refuses, it refuses, with the property named
// under jobSpecification ("jobSpecification.priority", "jobSpecification.poolInfo.poolId").
func ValidateJobSpecification(spec JobSpecification, scheduleID string) error {
	id := scheduleID
	if !ValidID(id) {
		id = "schedule" // the schedule's own id is checked apart
	}
	err := ValidateJob(JobFromSpecification(id, spec))
	if e, ok := err.(*Error); ok {
		return underProperty("jobSpecification.", e)
	}
	return err
}

// underProperty returns e with the property it names put under prefix, in its values and its
// message.
func underProperty(prefix string, e *Error) *Error {
	out := &Error{Code: e.Code, Message: e.Message, Values: slices.Clone(e.Values)}
	for i, kv := range out.Values {
		if kv.Key != KeyPropertyName {
			continue
		}
		out.Values[i].Value = prefix + kv.Value
		// The messages of this package name the property after a space and before a space,
		// '.' or ':' ("The value provided for priority is invalid: …").
		for _, end := range []string{" ", ".", ":"} {
			if i := strings.Index(out.Message, " "+kv.Value+end); i >= 0 {
				out.Message = out.Message[:i+1] + prefix + out.Message[i+1:]
				break
			}
		}
	}
	return out
}

// JobFromSpecification returns the job parameter a schedule's job with the given id is made
// from: every property of spec. [NewJob] then fills in Azure's defaults.
func JobFromSpecification(id string, spec JobSpecification) Job {
	return Job{
		ID:                        id,
		DisplayName:               spec.DisplayName,
		UsesTaskDependencies:      spec.UsesTaskDependencies,
		Priority:                  spec.Priority,
		AllowTaskPreemption:       spec.AllowTaskPreemption,
		MaxParallelTasks:          spec.MaxParallelTasks,
		Constraints:               cloneConstraints(spec.Constraints),
		JobManagerTask:            slices.Clone(spec.JobManagerTask),
		JobPreparationTask:        spec.JobPreparationTask,
		JobReleaseTask:            spec.JobReleaseTask,
		CommonEnvironmentSettings: slices.Clone(spec.CommonEnvironmentSettings),
		PoolInfo:                  PoolInformation{PoolID: spec.PoolInfo.PoolID, AutoPoolSpecification: slices.Clone(spec.PoolInfo.AutoPoolSpecification)},
		OnAllTasksComplete:        spec.OnAllTasksComplete,
		OnTaskFailure:             spec.OnTaskFailure,
		NetworkConfiguration:      slices.Clone(spec.NetworkConfiguration),
		Metadata:                  slices.Clone(spec.Metadata),
	}
}

func cloneConstraints(c *JobConstraints) *JobConstraints {
	if c == nil {
		return nil
	}
	out := *c
	return &out
}

// NewJobSchedule returns the job schedule that Job Schedule - Add creates from the (validated)
// parameter s at time now: state active, with an executionInfo (empty until the schedule's
// first due time is known to the service). url and eTag are left to the caller.
func NewJobSchedule(s JobSchedule, now time.Time) JobSchedule {
	s.State = ScheduleActive
	s.PreviousState = ""
	s.PreviousStateTransitionTime = time.Time{}
	s.CreationTime = now
	s.LastModified = now
	s.StateTransitionTime = now
	s.Metadata = slices.Clone(s.Metadata)
	s.ExecutionInfo = &JobScheduleExecutionInfo{}
	return s
}

// Job schedule states and the changes between them (completed by the service itself, the others
// by Job Schedule - Disable, Enable, Terminate and Delete):
//
//	active      -> disabled, terminating, completed, deleting
//	disabled    -> active, terminating, deleting
//	terminating -> completed, deleting
//	completed   -> deleting
var scheduleTransitions = map[JobScheduleState][]JobScheduleState{
	ScheduleActive:      {ScheduleDisabled, ScheduleTerminating, ScheduleCompleted, ScheduleDeleting},
	ScheduleDisabled:    {ScheduleActive, ScheduleTerminating, ScheduleDeleting},
	ScheduleTerminating: {ScheduleCompleted, ScheduleDeleting},
	ScheduleCompleted:   {ScheduleDeleting},
}

// TransitionJobSchedule returns s moved to state to at time now, with previousState,
// previousStateTransitionTime and stateTransitionTime updated (lastModified is not: Azure's
// lastModified is the time of the last change to the schedule's own data). A change that is
// not allowed fails with Azure's code for the schedule's state: JobScheduleCompleted,
// JobScheduleBeingTerminated, JobScheduleBeingDeleted, or OperationInvalidForCurrentState.
func TransitionJobSchedule(s JobSchedule, to JobScheduleState, now time.Time) (JobSchedule, error) {
	from := s.State
	if !slices.Contains(scheduleTransitions[from], to) {
		msg := "job schedule " + s.ID + " cannot go from " + string(from) + " to " + string(to)
		switch from {
		case ScheduleCompleted:
			return s, stateError(CodeJobScheduleCompleted, msg)
		case ScheduleTerminating:
			return s, stateError(CodeJobScheduleBeingTerminated, msg)
		case ScheduleDeleting:
			return s, stateError(CodeJobScheduleBeingDeleted, msg)
		}
		return s, stateError(CodeOperationInvalidForCurrentState, msg)
	}
	if s.ExecutionInfo != nil {
		ei := *s.ExecutionInfo
		s.ExecutionInfo = &ei
	} else {
		s.ExecutionInfo = &JobScheduleExecutionInfo{}
	}
	s.PreviousState = from
	s.PreviousStateTransitionTime = s.StateTransitionTime
	s.State = to
	s.StateTransitionTime = now
	if to == ScheduleCompleted {
		s.ExecutionInfo.EndTime = now
		s.ExecutionInfo.NextRunTime = time.Time{}
	}
	if to == ScheduleTerminating || to == ScheduleDeleting {
		s.ExecutionInfo.NextRunTime = time.Time{}
	}
	return s, nil
}

// ScheduleJobID is the id of the n-th job (from 1) of the job schedule scheduleID, as Azure names
// a schedule's jobs: "<scheduleId>:job-<n>". No job added with Job - Add has such an id (':' is
// not allowed in one).
func ScheduleJobID(scheduleID string, n int64) string {
	return scheduleID + ":job-" + strconv.FormatInt(n, 10)
}

// ParseScheduleJobID splits the id of a job schedule's job ([ScheduleJobID]) into the
// schedule's id and the job's number; ok is false for any other id.
func ParseScheduleJobID(id string) (scheduleID string, n int64, ok bool) {
	scheduleID, num, found := strings.Cut(id, ":job-")
	if !found || !ValidID(scheduleID) || num == "" || len(num) > 18 || num[0] == '0' {
		return "", 0, false
	}
	for i := 0; i < len(num); i++ {
		if num[i] < '0' || num[i] > '9' {
			return "", 0, false
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return "", 0, false
	}
	return scheduleID, n, true
}

// ValidJobID reports whether id can name a job: a valid ID ([ValidID]), or the id of a job
// schedule's job ([ScheduleJobID]).
func ValidJobID(id string) bool {
	if ValidID(id) {
		return true
	}
	_, _, ok := ParseScheduleJobID(id)
	return ok
}

// Occurrences are the times a job schedule is due to create a job, and the windows in which each
// may still create it, as Azure documents them:
//
//   - the first is due at doNotRunUntil (Corral: the schedule's creation time when it has none);
//     a schedule that recurs is due again every recurrenceInterval after it; one that does not
//     recur has that one occurrence;
//   - an occurrence may create its job from its due time until its startWindow has passed
//     (Azure: "If a Job is not created within the startWindow interval, then the 'opportunity'
//     is lost"), and no longer once the next occurrence is due ("the Job that is 'due' in one
//     recurrenceInterval is not carried forward into the next recurrence interval"), nor after
//     doNotRunAfter;
//   - at most one job of a schedule is active: an occurrence due while the previous job is active
//     waits for it, within its window ("If the previous Job does not finish within the
//     startWindow period of the new recurrenceInterval, then no new Job will be scheduled for
//     that interval").
type Occurrences struct {
	// Base is the due time of the first occurrence.
	Base time.Time
	// Interval is the recurrence interval; 0 for a schedule that does not recur.
	Interval time.Duration
	// Window is the start window; 0 for none.
	Window time.Duration
	// NotAfter is doNotRunAfter; zero for none.
	NotAfter time.Time
}

// OccurrencesOf returns the occurrences of schedule s, created at created.
func OccurrencesOf(s Schedule, created time.Time) Occurrences {
	o := Occurrences{Base: created}
	if s.DoNotRunUntil != nil {
		o.Base = *s.DoNotRunUntil
	}
	if s.RecurrenceInterval != nil && s.RecurrenceInterval.Std() > 0 && s.RecurrenceInterval.Std() != Infinite {
		o.Interval = s.RecurrenceInterval.Std()
	}
	if s.StartWindow != nil && s.StartWindow.Std() > 0 && s.StartWindow.Std() != Infinite {
		o.Window = s.StartWindow.Std()
	}
	if s.DoNotRunAfter != nil {
		o.NotAfter = *s.DoNotRunAfter
	}
	return o
}

// Recurs reports whether the schedule has more than one occurrence.
func (o Occurrences) Recurs() bool { return o.Interval > 0 }

// nth returns the due time of occurrence k (from 0), and false if it is past what time.Time
// holds.
func (o Occurrences) nth(k int64) (time.Time, bool) {
	if k == 0 {
		return o.Base, true
	}
	if o.Interval <= 0 || k < 0 || k > math.MaxInt64/int64(o.Interval) {
		return time.Time{}, false
	}
	return o.Base.Add(time.Duration(k) * o.Interval), true
}

// index returns the number of the latest occurrence due at or before t, and false if none is.
func (o Occurrences) index(t time.Time) (int64, bool) {
	if t.Before(o.Base) {
		return 0, false
	}
	if !o.Recurs() {
		return 0, true
	}
	return int64(t.Sub(o.Base) / o.Interval), true
}

// DueAt returns the due time of the latest occurrence due at or before t.
func (o Occurrences) DueAt(t time.Time) (time.Time, bool) {
	k, ok := o.index(t)
	if !ok {
		return time.Time{}, false
	}
	return o.nth(k)
}

// End returns the first instant at which the occurrence due at d can no longer create its job:
// when its start window has passed, the next occurrence is due, or doNotRunAfter has passed.
// It is the zero time when nothing ends the window.
func (o Occurrences) End(d time.Time) time.Time {
	var end time.Time
	earliest := func(t time.Time) {
		if end.IsZero() || t.Before(end) {
			end = t
		}
	}
	if o.Window > 0 {
		earliest(d.Add(o.Window))
	}
	if o.Recurs() {
		earliest(d.Add(o.Interval))
	}
	if !o.NotAfter.IsZero() {
		earliest(o.NotAfter.Add(time.Nanosecond))
	}
	return end
}

// Open reports whether the occurrence due at d may create its job at time t.
func (o Occurrences) Open(d, t time.Time) bool {
	if t.Before(d) || (!o.NotAfter.IsZero() && d.After(o.NotAfter)) {
		return false
	}
	end := o.End(d)
	return end.IsZero() || t.Before(end)
}

// Pending returns the occurrence that may create its job at time t, given the due time of the
// latest occurrence that created one (last; zero for none): the latest occurrence due by t, if
// it is after last and its window is open at t.
func (o Occurrences) Pending(t, last time.Time) (time.Time, bool) {
	d, ok := o.DueAt(t)
	if !ok || (!last.IsZero() && !d.After(last)) || !o.Open(d, t) {
		return time.Time{}, false
	}
	return d, true
}

// Next returns the first occurrence due after t (and after last, the due time of the latest
// occurrence that created a job), and false if there is none: the schedule does not recur and
// its occurrence is past, or the next is after doNotRunAfter.
func (o Occurrences) Next(t, last time.Time) (time.Time, bool) {
	after := t
	if last.After(after) {
		after = last
	}
	var d time.Time
	if after.Before(o.Base) {
		d = o.Base
	} else {
		if !o.Recurs() {
			return time.Time{}, false
		}
		k, _ := o.index(after)
		var ok bool
		if d, ok = o.nth(k + 1); !ok {
			return time.Time{}, false
		}
	}
	if !o.NotAfter.IsZero() && d.After(o.NotAfter) {
		return time.Time{}, false
	}
	return d, true
}

// NextRunTime is the schedule's executionInfo.nextRunTime at time t: the occurrence pending at t
// (waiting for the active job, or about to create its job), else the next one; false when no
// occurrence is to come.
func (o Occurrences) NextRunTime(t, last time.Time) (time.Time, bool) {
	if d, ok := o.Pending(t, last); ok {
		return d, true
	}
	return o.Next(t, last)
}

// Exhausted reports whether a schedule can create no more jobs at or after time t: doNotRunAfter
// has passed, or the schedule does not recur and its occurrence created its job or can no longer.
// A schedule that is exhausted completes once it has no active job.
func (o Occurrences) Exhausted(t, last time.Time) bool {
	if !o.NotAfter.IsZero() && t.After(o.NotAfter) {
		return true
	}
	if o.Recurs() {
		return false
	}
	_, pending := o.Pending(t, last)
	_, next := o.Next(t, last)
	return !pending && !next
}

// WakeAfter returns the first instant after t at which what the schedule does may change: the
// next occurrence falls due, the pending occurrence's window ends, or doNotRunAfter passes.
func (o Occurrences) WakeAfter(t, last time.Time) (time.Time, bool) {
	var w time.Time
	earliest := func(c time.Time) {
		if c.After(t) && (w.IsZero() || c.Before(w)) {
			w = c
		}
	}
	if d, ok := o.Next(t, last); ok {
		earliest(d)
	}
	if d, ok := o.Pending(t, last); ok {
		if end := o.End(d); !end.IsZero() {
			earliest(end)
		}
	}
	if !o.NotAfter.IsZero() {
		earliest(o.NotAfter.Add(time.Nanosecond))
	}
	return w, !w.IsZero()
}
