package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"corral/actor"
	"corral/batch"
	"corral/store"
)

// Job schedules.
//
// The account owns the set of job schedules, as it owns pools and jobs: it adds them (drawing an
// incarnation, as for jobs) and forwards the requests about one to the actor of its current
// life, "jobschedule/<id>#<incarnation>" (scheduleActor), which owns the schedule's record and
// answers them.
//
// The schedule actor creates the schedule's jobs. The occurrences of a schedule, and when each
// may create its job, are batch.Occurrences. Creating an occurrence's job is one transaction:
// the job's record (with an incarnation drawn in it, and the schedule's life), and the
// schedule's record with the occurrence's due time (lastDue) and the job's number. Like every
// write of the record, it is conditional on the version of the record the actor knows, so an
// occurrence whose job was created by a write reported failed (that committed) is never created
// again, nor its record overwritten: the actor loads the record again instead. Only then does
// the actor tell the account (scheduleJobAdded), which starts the job's manager; after a crash
// the account starts it from the store like any other job. A crash at any moment therefore
// neither loses an occurrence the store says was due and not created (the actor, loaded again,
// creates it if its window is still open) nor creates one twice.
//
// At most one job of a schedule is active: the actor creates a job only when it knows the
// previous one has finished. A job's manager tells the schedule (scheduleJobEnded, sent
// straight to the schedule's actor, whose id the job's record names) when it records the job
// completed; a schedule loaded from the store reads whether its recent job is still active.
//
// Time. The actor judges each event at the time it happened: a timer at the time it was due
// (wake.At), a job's end at the job's end time, a request at the time the account forwarded it
// (forwarded.At); never earlier than an event it handled before. So an occurrence due while
// the previous job is active is created when that job ends, if that is within the occurrence's
// window, however late the actor handles the news; and a request that disables the schedule is
// ordered with the occurrences by when it was made. After a restart, the actor judges at the
// time it loads: an occurrence whose window passed while the service was down is skipped, as
// Azure skips one whose job is not created within its start window.
//
// Departures from Azure Batch: without doNotRunUntil, the occurrences are counted from the
// schedule's creation (Azure: "the schedule becomes ready to create Jobs immediately"), also
// after an update; a disabled schedule does not complete by itself once doNotRunAfter passes
// (it completes when enabled); the schedule's ETag changes whenever its record does (nextRunTime
// and recentJob too), as a pool's does.

// tableSchedules holds the job schedules (key: IDKey(schedule)): scheduleRecord.
const tableSchedules = "schedules"

// scheduleRecord is a job schedule as the store keeps it.
type scheduleRecord struct {
	Schedule    batch.JobSchedule `json:"schedule"`
	Incarnation int64             `json:"incarnation"`
	// Jobs counts the jobs the schedule has created: the next is <id>:job-<Jobs+1>.
	Jobs int64 `json:"jobs,omitempty"`
	// LastDue is the due time of the latest occurrence that created a job (zero: none).
	LastDue time.Time `json:"lastDue,omitzero"`
	// RecentInc is the incarnation of the recent job (executionInfo.recentJob).
	RecentInc int64 `json:"recentInc,omitempty"`
}

// recent returns the id of the schedule's recent job ("" for none).
func (r *scheduleRecord) recent() string {
	if ei := r.Schedule.ExecutionInfo; ei != nil && ei.RecentJob != nil {
		return ei.RecentJob.ID
	}
	return ""
}

// occurrences are the record's schedule's occurrences.
func (r *scheduleRecord) occurrences() batch.Occurrences {
	var s batch.Schedule
	if r.Schedule.Schedule != nil {
		s = *r.Schedule.Schedule
	}
	return batch.OccurrencesOf(s, r.Schedule.CreationTime)
}

// clone returns a copy of r that shares nothing a change of the schedule touches.
func (r scheduleRecord) clone() scheduleRecord {
	if ei := r.Schedule.ExecutionInfo; ei != nil {
		c := *ei
		if ei.RecentJob != nil {
			rj := *ei.RecentJob
			c.RecentJob = &rj
		}
		r.Schedule.ExecutionInfo = &c
	} else {
		r.Schedule.ExecutionInfo = &batch.JobScheduleExecutionInfo{}
	}
	return r
}

// scheduleActor is the actor of one life of a job schedule.
func scheduleActor(scheduleID string, inc int64) actor.ID {
	return actor.ID(fmt.Sprintf("jobschedule/%s#%d", batch.IDKey(scheduleID), inc))
}

// Events of job schedules.
type (
	// forwarded is a request the account forwards to a schedule's actor, with the time it did.
	forwarded struct {
		At  time.Time
		Req actor.Event
	}
	// scheduleJobAdded tells the account that a schedule created a job: it starts the job's
	// manager.
	scheduleJobAdded struct {
		JobID string
		Inc   int64
		Job   batch.Job
	}
	// scheduleJobEnded tells a schedule's actor that its job was recorded completed at EndTime.
	scheduleJobEnded struct {
		JobID   string
		JobInc  int64
		EndTime time.Time
	}
	// scheduleGone tells the account that a schedule was deleted.
	scheduleGone struct {
		ScheduleID string
		Inc        int64
	}
	// wake is the schedule actor's timer: something may be due at At.
	wake struct{ At time.Time }
	// retryScheduleLoad is the schedule actor's timer to load again after the store failed.
	retryScheduleLoad struct{}
)

// Events announced for the service's monitors. At is the time the schedule's actor judged the
// change at (see "Time" above).
type (
	// ScheduleLoaded is announced whenever a schedule's actor loads its record: when the
	// schedule is added, and after every restart of the service.
	ScheduleLoaded struct {
		ScheduleID  string
		ScheduleInc int64
		State       batch.JobScheduleState
		At          time.Time
		Occurrences batch.Occurrences
		// LastDue is the due time of the latest occurrence that created a job; RecentJob and
		// RecentInc name its job, RecentActive says whether it is active.
		LastDue      time.Time
		RecentJob    string
		RecentInc    int64
		RecentActive bool
	}
	// ScheduleJobCreated is announced when a schedule's job is in the store.
	ScheduleJobCreated struct {
		ScheduleID  string
		ScheduleInc int64
		JobID       string
		JobInc      int64
		Due, At     time.Time
	}
	// ScheduleStateChanged is announced when a schedule's new state is in the store.
	ScheduleStateChanged struct {
		ScheduleID  string
		ScheduleInc int64
		State       batch.JobScheduleState
		At          time.Time
	}
	// ScheduleDeleted is announced when a schedule's record is deleted, after its jobs.
	ScheduleDeleted struct {
		ScheduleID  string
		ScheduleInc int64
	}
)

// askKind is what a schedule's actor asked the account about one of its jobs.
type askKind int

const (
	askTerminate askKind = iota + 1
	askDelete
)

// ask is a request a schedule's actor sent about one of its jobs and waits to have answered.
type ask struct {
	kind askKind
	job  string // IDKey of the job
}

// jobSchedule is the actor of one life of a job schedule. See the top of this file.
type jobSchedule struct {
	id  string // as given
	inc int64
	st  store.Store

	rec scheduleRecord
	// version is the version of the record the actor knows: every write of the record is
	// conditional on it, so that a write reported failed that committed (the store holds more
	// than the actor knows, a job maybe) is never overwritten: the next write conflicts, and
	// the actor loads the record again.
	version int64
	active  bool      // the recent job is active, as far as the actor knows
	clock   time.Time // the time of the latest event judged
	// loadAfter, if not 0, delays the next load (see reload); reloading is set from a reload
	// to the load: what the actor holds is stale, and it sets no timer.
	loadAfter time.Duration
	reloading bool

	timer      actor.TimerID
	timerSet   bool
	retryDelay time.Duration // the wait before the next retry after the store failed
	loadDelay  time.Duration
	lastInc    int64 // the highest job incarnation this actor drew

	reqSeq int64
	asked  map[string]ask // by request id
	// deletes are the jobs being deleted (by IDKey) until their managers answer that they are
	// gone: a delete whose answer was busy may have happened all the same, and is asked again,
	// so that the job's manager stops and the account forgets the job.
	deletes map[string]jobLife
	waiters []Request // deletes of the schedule waiting for it to be gone
}

func newJobSchedule(scheduleID string, inc int64, st store.Store) *jobSchedule {
	return &jobSchedule{id: scheduleID, inc: inc, st: st, asked: map[string]ask{}, deletes: map[string]jobLife{}}
}

// Define declares the schedule actor's states: Loading (reading its record and whether its
// recent job is active, retried while the store fails), then Serving.
func (s *jobSchedule) Define(m *actor.Machine) {
	m.State("Loading",
		actor.OnEntry(func(ctx *actor.Context) {
			if d := s.loadAfter; d > 0 {
				s.loadAfter = 0
				ctx.StartTimer(d, retryScheduleLoad{})
				return
			}
			s.load(ctx)
		}),
		actor.On(func(ctx *actor.Context, _ retryScheduleLoad) { s.load(ctx) }),
		actor.Defer[forwarded](),
		actor.Defer[scheduleJobEnded](),
		actor.Defer[Reply](),
		actor.Defer[wake](),
		actor.Targets("Serving"),
	)
	m.State("Serving",
		actor.On(s.request),
		actor.On(s.jobEnded),
		actor.On(s.answered),
		actor.On(func(ctx *actor.Context, w wake) {
			s.timerSet = false
			s.step(ctx, s.tick(w.At))
		}),
		actor.Ignore[retryScheduleLoad](),
		actor.Targets("Loading"),
	)
}

// key is the schedule's key in the store.
func (s *jobSchedule) key() string { return batch.IDKey(s.id) }

// tick moves the actor's clock to at, unless it is past it already, and returns the clock.
func (s *jobSchedule) tick(at time.Time) time.Time {
	if at.After(s.clock) {
		s.clock = at
	}
	return s.clock
}

// load reads the schedule's record and whether its recent job is active, then judges the
// schedule at once.
func (s *jobSchedule) load(ctx *actor.Context) {
	var rec scheduleRecord
	var recentJob jobRecord
	var version int64
	active := false
	err := s.st.View(context.Background(), func(tx store.Tx) error {
		r, err := tx.Get(tableSchedules, s.key())
		if err != nil {
			return err
		}
		if err := json.Unmarshal(r.Value, &rec); err != nil {
			return fmt.Errorf("decode %s/%s: %w", tableSchedules, r.Key, err)
		}
		version = r.Version
		if rec.Incarnation != s.inc {
			return fmt.Errorf("the store has life %d of the schedule: %w", rec.Incarnation, store.ErrNotFound)
		}
		recent := rec.recent()
		if recent == "" {
			return nil
		}
		switch err := getJSON(tx, tableJobs, batch.IDKey(recent), &recentJob); {
		case errors.Is(err, store.ErrNotFound):
			return nil // deleted
		case err != nil:
			return err
		}
		active = recentJob.Incarnation == rec.RecentInc && recentJob.Job.State != batch.JobCompleted && recentJob.Job.State != batch.JobDeleting
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		// This life of the schedule is deleted: by this actor, whose delete of the record was
		// reported failed, or before the actor was created.
		ctx.Log("job schedule: the schedule is gone", "schedule", s.id, "incarnation", s.inc, "err", err)
		s.gone(ctx)
		return
	}
	if err != nil {
		s.loadDelay = nextLoadDelay(s.loadDelay)
		ctx.Log("job schedule: reading the store failed; retrying", "schedule", s.id, "after", s.loadDelay, "err", err)
		ctx.StartTimer(s.loadDelay, retryScheduleLoad{})
		return
	}
	s.loadDelay, s.reloading = 0, false
	s.rec, s.active, s.version = rec.clone(), active, version
	s.lastInc = max(s.lastInc, rec.RecentInc)
	now := s.tick(ctx.Now())
	ctx.Announce(ScheduleLoaded{ScheduleID: s.id, ScheduleInc: s.inc, State: rec.Schedule.State, At: now,
		Occurrences: rec.occurrences(), LastDue: rec.LastDue, RecentJob: rec.recent(), RecentInc: rec.RecentInc, RecentActive: active})
	ctx.Goto("Serving")
	if active {
		// Again, in case the account has not heard of the job: its creation was reported failed
		// although it committed. The account starts a job's manager once.
		ctx.Send(AccountID, scheduleJobAdded{JobID: recentJob.Job.ID, Inc: recentJob.Incarnation, Job: recentJob.Job})
	}
	s.step(ctx, now)
}

// reload loads the record again: the store holds more than the actor knows. With later, the
// load waits a backoff: what the store holds is not what the actor expects of it even when
// loaded afresh, and loading at once would go round in circles.
func (s *jobSchedule) reload(ctx *actor.Context, later bool) {
	s.cancelTimer(ctx)
	s.reloading = true
	if later {
		s.retryDelay = nextLoadDelay(s.retryDelay)
		s.loadAfter = s.retryDelay
	}
	ctx.Goto("Loading")
}

// step does what the schedule's state asks at time t: an active schedule creates the job of the
// occurrence pending at t if it has no active job, completes when it can create no more, keeps
// its nextRunTime and sets its timer for the next change; a terminating one terminates its job,
// then completes; one being deleted deletes its jobs, then itself.
func (s *jobSchedule) step(ctx *actor.Context, t time.Time) {
	switch s.rec.Schedule.State {
	case batch.ScheduleActive:
		occ := s.rec.occurrences()
		if !s.active {
			if d, ok := occ.Pending(t, s.rec.LastDue); ok && !s.create(ctx, d, t) {
				return // the create arranged what comes next
			}
		}
		if !s.active && occ.Exhausted(t, s.rec.LastDue) {
			if err := s.transition(ctx, batch.ScheduleCompleted, t); err != nil {
				s.retryLater(ctx)
				return
			}
			s.cancelTimer(ctx)
			return
		}
		s.refresh(ctx, t)
		s.arm(ctx, t)
	case batch.ScheduleDisabled, batch.ScheduleCompleted:
		s.cancelTimer(ctx)
	case batch.ScheduleTerminating:
		s.cancelTimer(ctx)
		if s.active {
			s.askAbout(ctx, askTerminate, s.rec.recent(), 0)
			return
		}
		if err := s.transition(ctx, batch.ScheduleCompleted, t); err != nil {
			s.retryLater(ctx)
		}
	case batch.ScheduleDeleting:
		s.cancelTimer(ctx)
		s.deleteJobs(ctx)
	}
}

// create creates the job of the occurrence due at d, judged at time t, and reports whether it
// did. If it did not, it has arranged what comes next: a retry, or a load of the record.
func (s *jobSchedule) create(ctx *actor.Context, d, t time.Time) bool {
	spec := s.rec.Schedule.JobSpecification
	if spec == nil {
		ctx.Log("job schedule: no job specification", "schedule", s.id)
		return false
	}
	n := s.rec.Jobs + 1
	jobID := batch.ScheduleJobID(s.id, n)
	j := batch.NewJob(batch.JobFromSpecification(jobID, *spec), ctx.Now())
	j.LastModified = j.CreationTime
	next := s.rec.clone()
	next.Jobs, next.LastDue = n, d
	next.Schedule.ExecutionInfo.RecentJob = &batch.RecentJob{ID: jobID}
	next.Schedule.ExecutionInfo.NextRunTime, _ = next.occurrences().NextRunTime(t, d)
	var jr jobRecord
	var version int64
	err := s.st.Update(context.Background(), func(tx store.Tx) error {
		inc, err := nextIncarnation(tx, s.lastInc)
		if err != nil {
			return err
		}
		jr = jobRecord{PoolID: j.PoolInfo.PoolID, Job: j, Incarnation: inc, ScheduleID: s.id, ScheduleInc: s.inc}
		next.RecentInc = inc
		if err := putJSON(tx, tableJobs, batch.IDKey(jobID), jr, 0); err != nil {
			return err
		}
		// Conditional on the record the actor knows: if a write reported failed committed
		// (this occurrence's job, maybe), the record is not that one, and nothing is written.
		version, err = putRecord(tx, s.key(), next, s.version)
		return err
	})
	s.lastInc = max(s.lastInc, jr.Incarnation) // drawn even if the commit failed: never drawn again
	switch {
	case errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound):
		// A write reported failed committed (the occurrence's job may be in the store), or
		// the schedule is gone: load the record again.
		ctx.Log("job schedule: the store holds another record; loading it again", "schedule", s.id, "err", err)
		s.reload(ctx, false)
		return false
	case errors.Is(err, store.ErrExists):
		// The record is the one the actor knows, yet a job holds the next job's id: nothing
		// this actor writes does that. Load again, after a while.
		ctx.Log("job schedule: the next job's id is taken; loading the schedule again", "schedule", s.id, "job", jobID, "err", err)
		s.reload(ctx, true)
		return false
	case err != nil:
		ctx.Log("job schedule: creating a job failed; retrying", "schedule", s.id, "job", jobID, "err", err)
		s.retryLater(ctx)
		return false
	}
	s.retryDelay = 0
	s.rec, s.active, s.version = next, true, version
	ctx.Announce(ScheduleJobCreated{ScheduleID: s.id, ScheduleInc: s.inc, JobID: jobID, JobInc: jr.Incarnation, Due: d, At: t})
	ctx.Send(AccountID, scheduleJobAdded{JobID: jobID, Inc: jr.Incarnation, Job: j})
	return true
}

// refresh keeps the record's nextRunTime right for time t. A write that fails is left for the
// next step.
func (s *jobSchedule) refresh(ctx *actor.Context, t time.Time) {
	nr, _ := s.rec.occurrences().NextRunTime(t, s.rec.LastDue)
	if s.rec.Schedule.ExecutionInfo != nil && s.rec.Schedule.ExecutionInfo.NextRunTime.Equal(nr) {
		return
	}
	next := s.rec.clone()
	next.Schedule.ExecutionInfo.NextRunTime = nr
	if s.write(ctx, next) == nil {
		s.rec = next
	}
}

// arm sets the timer for the next instant after t at which what the schedule does may change.
func (s *jobSchedule) arm(ctx *actor.Context, t time.Time) {
	s.cancelTimer(ctx)
	if s.reloading {
		return
	}
	w, ok := s.rec.occurrences().WakeAfter(t, s.rec.LastDue)
	if !ok {
		return
	}
	s.timer = ctx.StartTimer(max(w.Sub(ctx.Now()), 0), wake{At: w})
	s.timerSet = true
}

// retryLater steps again after a backoff, after the store failed.
func (s *jobSchedule) retryLater(ctx *actor.Context) {
	s.cancelTimer(ctx)
	if s.reloading {
		return // the load steps again
	}
	s.retryDelay = nextLoadDelay(s.retryDelay)
	at := ctx.Now().Add(s.retryDelay)
	s.timer = ctx.StartTimer(s.retryDelay, wake{At: at})
	s.timerSet = true
}

func (s *jobSchedule) cancelTimer(ctx *actor.Context) {
	if s.timerSet {
		ctx.CancelTimer(s.timer)
		s.timerSet = false
	}
}

// write puts a new value of the schedule's record, conditional on the version the actor knows,
// and keeps the new version. If the record is at another version (a write reported failed
// committed), nothing is written and the actor loads the record again.
func (s *jobSchedule) write(ctx *actor.Context, next scheduleRecord) error {
	var version int64
	err := s.st.Update(context.Background(), func(tx store.Tx) error {
		var err error
		version, err = putRecord(tx, s.key(), next, s.version)
		return err
	})
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		ctx.Log("job schedule: the store holds another record; loading it again", "schedule", s.id, "err", err)
		s.reload(ctx, false)
		return err
	}
	if err == nil {
		s.version = version
	}
	return err
}

// putRecord writes a schedule's record, conditional on ifVersion, and returns its new version.
func putRecord(tx store.Tx, key string, rec scheduleRecord, ifVersion int64) (int64, error) {
	b, err := json.Marshal(rec)
	if err != nil {
		return 0, fmt.Errorf("encode %s/%s: %w", tableSchedules, key, err)
	}
	return tx.Put(tableSchedules, key, b, ifVersion)
}

// transition records the schedule in state to, changed at time t.
func (s *jobSchedule) transition(ctx *actor.Context, to batch.JobScheduleState, t time.Time) error {
	next := s.rec.clone()
	sch, err := batch.TransitionJobSchedule(next.Schedule, to, t)
	if err != nil {
		return err
	}
	next.Schedule = sch
	if err := s.write(ctx, next); err != nil {
		return err
	}
	s.rec = next
	s.retryDelay = 0
	ctx.Announce(ScheduleStateChanged{ScheduleID: s.id, ScheduleInc: s.inc, State: to, At: t})
	return nil
}

// request answers a request the account forwarded.
func (s *jobSchedule) request(ctx *actor.Context, f forwarded) {
	t := s.tick(f.At)
	switch r := f.Req.(type) {
	case PatchJobSchedule:
		s.patch(ctx, r, t)
	case DisableJobSchedule:
		s.change(ctx, r.Request, batch.ScheduleDisabled, t)
	case EnableJobSchedule:
		s.change(ctx, r.Request, batch.ScheduleActive, t)
	case TerminateJobSchedule:
		s.change(ctx, r.Request, batch.ScheduleTerminating, t)
	case DeleteJobSchedule:
		if r.Inc != 0 && r.Inc != s.inc {
			reply(ctx, r.Request, notFound(batch.CodeJobScheduleNotFound, "job schedule"))
			return
		}
		if s.rec.Schedule.State != batch.ScheduleDeleting {
			if err := s.transition(ctx, batch.ScheduleDeleting, t); err != nil {
				reply(ctx, r.Request, asBatchError(storeFailure(err)))
				return
			}
		}
		s.waiters = append(s.waiters, r.Request)
		s.step(ctx, t)
	default:
		ctx.Log("job schedule: unknown request dropped", "schedule", s.id, "request", actor.EventName(f.Req))
	}
}

// storeFailure is err as the answer to a request: a *batch.Error as it is, anything else (the
// store failed) ServerBusy.
func storeFailure(err error) error {
	var be *batch.Error
	if errors.As(err, &be) {
		return be
	}
	return busy()
}

// change is Job Schedule - Disable (to disabled), Enable (to active) and Terminate (to
// terminating). A schedule already in the state asked for answers at once.
func (s *jobSchedule) change(ctx *actor.Context, req Request, to batch.JobScheduleState, t time.Time) {
	if s.rec.Schedule.State == to {
		reply(ctx, req, nil)
		return
	}
	if err := s.transition(ctx, to, t); err != nil {
		reply(ctx, req, asBatchError(storeFailure(err)))
		return
	}
	reply(ctx, req, nil)
	s.step(ctx, t)
}

// patch is Job Schedule - Patch and Update (see PatchJobSchedule).
func (s *jobSchedule) patch(ctx *actor.Context, r PatchJobSchedule, t time.Time) {
	switch s.rec.Schedule.State {
	case batch.ScheduleCompleted:
		reply(ctx, r.Request, &batch.Error{Code: batch.CodeJobScheduleCompleted, Message: "The specified job schedule is already in completed state."})
		return
	case batch.ScheduleTerminating:
		reply(ctx, r.Request, &batch.Error{Code: batch.CodeJobScheduleBeingTerminated, Message: "The specified job schedule is being terminated."})
		return
	case batch.ScheduleDeleting:
		reply(ctx, r.Request, &batch.Error{Code: batch.CodeJobScheduleBeingDeleted, Message: "The specified job schedule has been marked for deletion and is being reclaimed."})
		return
	}
	next := s.rec.clone()
	if r.Schedule != nil {
		if err := batch.ValidateSchedule(*r.Schedule); err != nil {
			reply(ctx, r.Request, asBatchError(err))
			return
		}
		sch := *r.Schedule
		next.Schedule.Schedule = &sch
	}
	if r.JobSpecification != nil {
		if err := batch.ValidateJobSpecification(*r.JobSpecification, s.id); err != nil {
			reply(ctx, r.Request, asBatchError(err))
			return
		}
		spec := *r.JobSpecification
		next.Schedule.JobSpecification = &spec
	}
	if r.Metadata != nil {
		next.Schedule.Metadata = append([]batch.MetadataItem(nil), *r.Metadata...)
	}
	next.Schedule.LastModified = t
	next.Schedule.ExecutionInfo.NextRunTime, _ = next.occurrences().NextRunTime(t, next.LastDue)
	if r.IfVersion != 0 && r.IfVersion != s.version {
		reply(ctx, r.Request, &batch.Error{Code: "ConditionNotMet", Message: "The condition specified using HTTP conditional header(s) is not met."})
		return
	}
	if err := s.write(ctx, next); err != nil {
		reply(ctx, r.Request, busy()) // on a conflict, the actor loads the record again and the retry is judged afresh
		return
	}
	s.rec = next
	reply(ctx, r.Request, nil)
	s.step(ctx, t)
}

// jobEnded takes the news that a job of the schedule was recorded completed: an occurrence that
// waited for it may now create its job, judged at the time the job ended.
func (s *jobSchedule) jobEnded(ctx *actor.Context, e scheduleJobEnded) {
	t := s.tick(e.EndTime)
	if !s.isRecent(e.JobID, e.JobInc) || !s.active {
		return
	}
	s.active = false
	s.step(ctx, t)
}

// isRecent reports whether a job is the life of the schedule's recent job.
func (s *jobSchedule) isRecent(jobID string, inc int64) bool {
	return s.rec.recent() != "" && batch.IDKey(jobID) == batch.IDKey(s.rec.recent()) && inc == s.rec.RecentInc
}

// askAbout asks the account to terminate or delete one of the schedule's jobs (a life of it,
// for a delete), unless the same is asked already.
func (s *jobSchedule) askAbout(ctx *actor.Context, kind askKind, jobID string, inc int64) {
	key := batch.IDKey(jobID)
	for _, id := range sortedKeys(s.asked) {
		if a := s.asked[id]; a.kind == kind && a.job == key {
			return
		}
	}
	s.reqSeq++
	req := Request{ID: fmt.Sprintf("%s/%d", ctx.Self(), s.reqSeq), ReplyTo: ctx.Self()}
	s.asked[req.ID] = ask{kind: kind, job: key}
	switch kind {
	case askTerminate:
		ctx.Send(AccountID, TerminateJob{Request: req, JobID: jobID, Reason: batch.TerminateReasonTerminateJobSchedule})
	case askDelete:
		ctx.Send(AccountID, DeleteJob{Request: req, JobID: jobID, Inc: inc, Wait: true})
	}
}

// answered takes the answer to a request the actor made about one of its jobs.
func (s *jobSchedule) answered(ctx *actor.Context, r Reply) {
	a, ok := s.asked[r.RequestID]
	if !ok {
		return
	}
	delete(s.asked, r.RequestID)
	t := s.tick(ctx.Now())
	code := ""
	if r.Err != nil {
		code = r.Err.Code
	}
	switch {
	case code == "" || code == batch.CodeJobCompleted || code == "JobNotFound":
		if a.kind == askTerminate && a.job == batch.IDKey(s.rec.recent()) {
			s.active = false // the job is completed, or gone
		}
		if a.kind == askDelete {
			delete(s.deletes, a.job)
		}
		s.step(ctx, t)
	default:
		ctx.Log("job schedule: a request about a job failed; retrying", "schedule", s.id, "job", a.job, "err", r.Err)
		s.retryLater(ctx)
	}
}

// deleteJobs deletes the schedule's jobs (those in the store, and those whose delete has not been
// answered done), then, once none is left, the schedule: its record is removed, the account
// told, the deletes waiting answered, and the actor stops.
func (s *jobSchedule) deleteJobs(ctx *actor.Context) {
	var jobs []jobLife
	err := s.st.View(context.Background(), func(tx store.Tx) error {
		rs, err := tx.List(tableJobs, scheduleJobsPrefix(s.id), "", 0)
		if err != nil {
			return err
		}
		for _, r := range rs {
			var jr jobRecord
			if err := json.Unmarshal(r.Value, &jr); err != nil {
				return fmt.Errorf("decode job %s: %w", r.Key, err)
			}
			jobs = append(jobs, jobLife{ID: jr.Job.ID, Inc: jr.Incarnation})
		}
		return nil
	})
	if err != nil {
		s.retryLater(ctx)
		return
	}
	for _, j := range jobs {
		s.deletes[batch.IDKey(j.ID)] = j
	}
	for _, k := range sortedKeys(s.deletes) {
		s.askAbout(ctx, askDelete, s.deletes[k].ID, s.deletes[k].Inc)
	}
	if len(s.deletes) > 0 {
		return // each answer steps again
	}
	err = s.st.Update(context.Background(), func(tx store.Tx) error {
		return tx.Delete(tableSchedules, s.key(), s.version)
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		// An earlier delete of the record committed, its acknowledgement lost.
	case errors.Is(err, store.ErrConflict):
		s.reload(ctx, false) // a write reported failed committed
		return
	case err != nil:
		s.retryLater(ctx)
		return
	}
	s.gone(ctx)
}

// gone ends the actor of a schedule whose record is deleted (after its jobs): the account is
// told, the deletes waiting answered.
func (s *jobSchedule) gone(ctx *actor.Context) {
	s.cancelTimer(ctx)
	ctx.Announce(ScheduleDeleted{ScheduleID: s.id, ScheduleInc: s.inc})
	// The account first: a client that adds the schedule again after the answer finds the id
	// free.
	ctx.Send(AccountID, scheduleGone{ScheduleID: s.id, Inc: s.inc})
	for _, w := range s.waiters {
		reply(ctx, w, nil)
	}
	s.waiters = nil
	ctx.Halt()
}

// scheduleJobsPrefix is the key prefix of a schedule's jobs in tableJobs.
func scheduleJobsPrefix(scheduleID string) string {
	return batch.IDKey(scheduleID) + ":job-"
}
