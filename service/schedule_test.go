package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"corral/actor"
	"corral/actor/systest"
	"corral/batch"
	"corral/service/model"
	"corral/store"
	"corral/store/memstore"
)

// The specifications of job schedules, as monitors over what the schedules' actors, the job
// managers and the client announce.

// scheduleLife is what scheduleSpec knows of one life of a job schedule.
type scheduleLife struct {
	name    string
	occ     batch.Occurrences
	restart time.Time // the latest load of the schedule's actor (its first, or after a crash)
	lastDue time.Time // the due time of the latest occurrence that created a job
	states  []stateAt // the schedule's states, oldest first
	jobs    []*jobSpan
	// quiet is set while the client has seen a disable, terminate or delete acknowledged and
	// not yet asked for the schedule to be enabled: no job may be created.
	quiet   string
	deleted bool
}

type stateAt struct {
	at    time.Time
	state batch.JobScheduleState
}

// jobSpan is when a job of a schedule was active: from its creation until it was recorded
// completed (open while to is zero).
type jobSpan struct {
	life     string // JobID#JobInc
	from, to time.Time
	deleted  bool
}

// stateAt returns the schedule's state at time t.
func (l *scheduleLife) stateAt(t time.Time) batch.JobScheduleState {
	state := batch.JobScheduleState("")
	for _, s := range l.states {
		if s.at.After(t) {
			break
		}
		state = s.state
	}
	return state
}

// busyAt reports whether a job of the schedule was active at time t.
func (l *scheduleLife) busyAt(t time.Time) bool {
	for _, j := range l.jobs {
		if !t.Before(j.from) && (j.to.IsZero() || t.Before(j.to)) {
			return true
		}
	}
	return false
}

// free reports whether the occurrence due at d was free to create its job at some instant of
// its window since the schedule's actor last loaded (before that, the service may have been
// down): the schedule active and none of its jobs active. The candidates are d and every instant
// at which one of those changes.
func (l *scheduleLife) free(d time.Time) (time.Time, bool) {
	end := occurrenceEnd(l.occ, d)
	candidates := []time.Time{d, l.restart}
	for _, s := range l.states {
		candidates = append(candidates, s.at)
	}
	for _, j := range l.jobs {
		candidates = append(candidates, j.from, j.to)
	}
	slices.SortFunc(candidates, func(a, b time.Time) int { return a.Compare(b) })
	for _, t := range candidates {
		if t.IsZero() || t.Before(d) || t.Before(l.restart) || (!end.IsZero() && !t.Before(end)) {
			continue
		}
		if l.stateAt(t) == batch.ScheduleActive && !l.busyAt(t) {
			return t, true
		}
	}
	return time.Time{}, false
}

// occurrenceEnd is the end of the window of the occurrence due at d, computed here apart from
// batch.Occurrences: the start window, the next occurrence, doNotRunAfter.
func occurrenceEnd(o batch.Occurrences, d time.Time) time.Time {
	var end time.Time
	for _, c := range []struct {
		ok bool
		t  time.Time
	}{
		{o.Window > 0, d.Add(o.Window)},
		{o.Interval > 0, d.Add(o.Interval)},
		{!o.NotAfter.IsZero(), o.NotAfter.Add(time.Nanosecond)},
	} {
		if c.ok && (end.IsZero() || c.t.Before(end)) {
			end = c.t
		}
	}
	return end
}

// occurrencesBetween lists the due times strictly between a and b (a zero: from the first).
func occurrencesBetween(o batch.Occurrences, a, b time.Time) []time.Time {
	var out []time.Time
	for k := int64(0); ; k++ {
		d := o.Base.Add(time.Duration(k) * o.Interval)
		if !d.Before(b) {
			return out
		}
		if a.IsZero() || d.After(a) {
			out = append(out, d)
		}
		if o.Interval <= 0 {
			return out
		}
	}
}

// scheduleSpec asserts the safety of job schedules:
//
//   - no two jobs of one schedule are active at once;
//   - an occurrence creates at most one job, across crashes: each job is for an occurrence after
//     the one before;
//   - a job is created for an occurrence that is due, within its window, while the schedule is
//     active: a disabled, terminating or completed schedule creates nothing, nor one whose
//     disable, terminate or delete the client has seen acknowledged (until it asks to enable);
//   - no occurrence is skipped while the service runs: when a job is created, every occurrence
//     since the last one created was never free to create its job (the schedule active and no
//     job of it active) at any instant of its window since the schedule's actor last loaded;
//   - a schedule is deleted after every job it created.
type scheduleSpec struct {
	lives map[string]*scheduleLife // by schedule life
	ids   map[string]string        // schedule id -> its latest life
	jobOf map[string]string        // job life -> schedule life
	// stored, if set, reports whether the store holds a job: a delete that committed with its
	// acknowledgement lost, followed by a crash, deletes a job that announces nothing.
	stored func(jobID string) bool
}

func scheduleKey(id string, inc int64) string { return fmt.Sprintf("%s#%d", batch.IDKey(id), inc) }

func jobLifeKey(id string, inc int64) string { return fmt.Sprintf("%s#%d", batch.IDKey(id), inc) }

func (m *scheduleSpec) init() {
	if m.lives == nil {
		m.lives, m.ids, m.jobOf = map[string]*scheduleLife{}, map[string]string{}, map[string]string{}
	}
}

// life returns what the spec knows of a schedule's life, starting it if it is new.
func (m *scheduleSpec) life(id string, inc int64) *scheduleLife {
	m.init()
	k := scheduleKey(id, inc)
	l := m.lives[k]
	if l == nil {
		l = &scheduleLife{name: k}
		m.lives[k] = l
		m.ids[batch.IDKey(id)] = k
	}
	return l
}

// span returns the span of a job of a schedule.
func (l *scheduleLife) span(job string) *jobSpan {
	for _, j := range l.jobs {
		if j.life == job {
			return j
		}
	}
	return nil
}

func (m *scheduleSpec) Define(d *actor.Machine) {
	d.State("Watching",
		actor.On(func(ctx *actor.Context, e ScheduleLoaded) {
			l := m.life(e.ScheduleID, e.ScheduleInc)
			l.occ, l.restart = e.Occurrences, e.At
			if len(l.states) == 0 || l.states[len(l.states)-1].state != e.State {
				l.states = append(l.states, stateAt{e.At, e.State})
			}
			if e.RecentJob == "" {
				return
			}
			jk := jobLifeKey(e.RecentJob, e.RecentInc)
			j := l.span(jk)
			if j == nil {
				// Its creation was reported failed and committed (the store failed): the
				// schedule learns of it as it loads. It is for an occurrence after the others.
				ctx.Assert(l.lastDue.IsZero() || e.LastDue.After(l.lastDue), "schedule %s loaded with job %s for %v, not after the last (%v)",
					l.name, e.RecentJob, e.LastDue, l.lastDue)
				l.lastDue = e.LastDue
				j = &jobSpan{life: jk, from: e.At}
				l.jobs = append(l.jobs, j)
				m.jobOf[jk] = l.name
			}
			ctx.Assert(e.LastDue.Equal(l.lastDue), "schedule %s loaded with last due %v; its last job was created for %v", l.name, e.LastDue, l.lastDue)
			// A job announced finished is completed in the store; one whose completion was
			// reported failed may be completed too.
			ctx.Assert(!e.RecentActive || j.to.IsZero(), "schedule %s loaded: its recent job %s is active, and was announced finished", l.name, e.RecentJob)
			if !e.RecentActive && j.to.IsZero() {
				j.to = e.At
			}
		}),
		actor.On(func(ctx *actor.Context, e ScheduleStateChanged) {
			l := m.life(e.ScheduleID, e.ScheduleInc)
			l.states = append(l.states, stateAt{e.At, e.State})
		}),
		actor.On(func(ctx *actor.Context, e ScheduleJobCreated) {
			l := m.life(e.ScheduleID, e.ScheduleInc)
			ctx.Assert(!l.deleted, "deleted schedule %s created job %s", l.name, e.JobID)
			ctx.Assert(l.quiet == "", "schedule %s created job %s after the client saw it %s", l.name, e.JobID, l.quiet)
			ctx.Assert(l.stateAt(e.At) == batch.ScheduleActive, "schedule %s created job %s while %s", l.name, e.JobID, l.stateAt(e.At))
			for _, j := range l.jobs {
				ctx.Assert(!j.to.IsZero() || j.deleted, "schedule %s created job %s while its job %s was active", l.name, e.JobID, j.life)
			}
			ctx.Assert(l.lastDue.IsZero() || e.Due.After(l.lastDue), "schedule %s created job %s for the occurrence due %v, after one for %v",
				l.name, e.JobID, e.Due, l.lastDue)
			o := l.occ
			k := int64(0)
			if o.Interval > 0 {
				k = int64(e.Due.Sub(o.Base) / o.Interval)
			}
			ctx.Assert(!e.Due.Before(o.Base) && o.Base.Add(time.Duration(k)*o.Interval).Equal(e.Due),
				"schedule %s created job %s for %v, not one of its due times", l.name, e.JobID, e.Due)
			end := occurrenceEnd(o, e.Due)
			ctx.Assert(!e.At.Before(e.Due) && (end.IsZero() || e.At.Before(end)),
				"schedule %s created job %s at %v for the occurrence due %v, whose window ends %v", l.name, e.JobID, e.At, e.Due, end)
			for _, d := range occurrencesBetween(o, l.lastDue, e.Due) {
				t, free := l.free(d)
				ctx.Assert(!free, "schedule %s skipped the occurrence due %v (free at %v; since load %v) and created job %s for %v",
					l.name, d, t, l.restart, e.JobID, e.Due)
			}
			l.lastDue = e.Due
			jk := jobLifeKey(e.JobID, e.JobInc)
			l.jobs = append(l.jobs, &jobSpan{life: jk, from: e.At})
			m.jobOf[jk] = l.name
		}),
		actor.On(func(ctx *actor.Context, e JobFinished) {
			m.init()
			if l := m.lives[m.jobOf[jobLifeKey(e.JobID, e.JobInc)]]; l != nil {
				if j := l.span(jobLifeKey(e.JobID, e.JobInc)); j != nil && j.to.IsZero() {
					j.to = ctx.Now()
				}
			}
		}),
		actor.On(func(ctx *actor.Context, e JobDeleted) {
			m.init()
			if l := m.lives[m.jobOf[jobLifeKey(e.JobID, e.JobInc)]]; l != nil {
				if j := l.span(jobLifeKey(e.JobID, e.JobInc)); j != nil {
					j.deleted = true
				}
			}
		}),
		actor.On(func(ctx *actor.Context, e ScheduleDeleted) {
			l := m.life(e.ScheduleID, e.ScheduleInc)
			for _, j := range l.jobs {
				id, _, _ := strings.Cut(j.life, "#")
				ctx.Assert(j.deleted || m.stored != nil && !m.stored(id), "schedule %s deleted before its job %s", l.name, j.life)
			}
			l.deleted = true
		}),
		actor.On(func(ctx *actor.Context, e scheduleAcked) {
			m.init()
			if l := m.lives[m.ids[batch.IDKey(e.ID)]]; l != nil {
				switch e.What {
				case "enabling":
					l.quiet = ""
				case "added":
				default:
					l.quiet = e.What
				}
			}
		}),
	)
}

// scheduleAcked is announced by the client: a disable, terminate or delete of a schedule it saw
// acknowledged, or an enable it is about to send (What "enabling").
type scheduleAcked struct {
	ID   string
	What string
}

// schedulesSettle is hot while a job schedule is active without an active job (it must create
// one, or complete), or terminating, or being deleted: every schedule eventually has a job, or
// is disabled, completed or gone.
type schedulesSettle struct {
	state  map[string]batch.JobScheduleState
	active map[string]string // schedule life -> its active job life
	jobOf  map[string]string
}

func (m *schedulesSettle) Define(d *actor.Machine) {
	handlers := func() []actor.StateOption {
		return []actor.StateOption{
			actor.On(func(ctx *actor.Context, e ScheduleLoaded) {
				k := scheduleKey(e.ScheduleID, e.ScheduleInc)
				m.state[k] = e.State
				if e.RecentActive {
					m.active[k] = jobLifeKey(e.RecentJob, e.RecentInc)
					m.jobOf[m.active[k]] = k
				}
				m.update(ctx)
			}),
			actor.On(func(ctx *actor.Context, e ScheduleStateChanged) {
				m.state[scheduleKey(e.ScheduleID, e.ScheduleInc)] = e.State
				m.update(ctx)
			}),
			actor.On(func(ctx *actor.Context, e ScheduleJobCreated) {
				k := scheduleKey(e.ScheduleID, e.ScheduleInc)
				m.active[k] = jobLifeKey(e.JobID, e.JobInc)
				m.jobOf[m.active[k]] = k
				m.update(ctx)
			}),
			actor.On(func(ctx *actor.Context, e JobFinished) {
				if k, ok := m.jobOf[jobLifeKey(e.JobID, e.JobInc)]; ok && m.active[k] == jobLifeKey(e.JobID, e.JobInc) {
					delete(m.active, k)
				}
				m.update(ctx)
			}),
			actor.On(func(ctx *actor.Context, e ScheduleDeleted) {
				delete(m.state, scheduleKey(e.ScheduleID, e.ScheduleInc))
				m.update(ctx)
			}),
		}
	}
	d.State("Settled", append(handlers(), actor.OnEntry(func(*actor.Context) {
		if m.state == nil {
			m.state, m.active, m.jobOf = map[string]batch.JobScheduleState{}, map[string]string{}, map[string]string{}
		}
	}), actor.Temp(actor.Cold), actor.Targets("Unsettled"))...)
	d.State("Unsettled", append(handlers(), actor.Temp(actor.Hot), actor.Targets("Settled"))...)
}

func (m *schedulesSettle) update(ctx *actor.Context) {
	for _, k := range sortedKeys(m.state) {
		switch m.state[k] {
		case batch.ScheduleActive:
			if m.active[k] == "" {
				ctx.Goto("Unsettled")
				return
			}
		case batch.ScheduleTerminating, batch.ScheduleDeleting:
			ctx.Goto("Unsettled")
			return
		}
	}
	ctx.Goto("Settled")
}

// ender ends the schedules' active jobs at random: every 20 seconds, each with probability 1/3,
// by Job - Terminate. So jobs run from 0 to a few minutes, across the schedules' occurrences.
type ender struct {
	st   store.Store
	seq  int
	seen map[string]enderSeen // by table/key: what a record at a version says (decoding is most of the cost)
}

type enderSeen struct {
	version int64
	busy    bool   // a schedule that is not completed, or a schedule's job that is active
	id      string // the job's id
}

type endTick struct{}

// read returns what the records of a table say, decoding only those that changed.
func (e *ender) read(tx store.Tx, table string, decode func([]byte) enderSeen) ([]enderSeen, error) {
	rs, err := tx.List(table, "", "", 0)
	if err != nil {
		return nil, err
	}
	out := make([]enderSeen, 0, len(rs))
	for _, r := range rs {
		k := table + "/" + r.Key
		s, ok := e.seen[k]
		if !ok || s.version != r.Version {
			s = decode(r.Value)
			s.version = r.Version
			e.seen[k] = s
		}
		out = append(out, s)
	}
	return out, nil
}

func (e *ender) Define(m *actor.Machine) {
	m.State("Ending",
		actor.OnEntry(func(ctx *actor.Context) {
			e.seen = map[string]enderSeen{}
			ctx.StartPeriodicTimer(20*time.Second, 20*time.Second, endTick{})
		}),
		actor.On(func(ctx *actor.Context, _ endTick) {
			var active []string
			_ = e.st.View(context.Background(), func(tx store.Tx) error {
				ss, err := e.read(tx, tableSchedules, func(v []byte) enderSeen {
					var sr scheduleRecord
					return enderSeen{busy: json.Unmarshal(v, &sr) == nil && sr.Schedule.State != batch.ScheduleCompleted}
				})
				if err != nil || !slices.ContainsFunc(ss, func(s enderSeen) bool { return s.busy }) {
					return err
				}
				js, err := e.read(tx, tableJobs, func(v []byte) enderSeen {
					var jr jobRecord
					ok := json.Unmarshal(v, &jr) == nil && jr.ScheduleID != "" && jr.Job.State == batch.JobActive
					return enderSeen{busy: ok, id: jr.Job.ID}
				})
				for _, j := range js {
					if j.busy {
						active = append(active, j.id)
					}
				}
				return err
			})
			for _, id := range active {
				if ctx.RandomInt(3) == 0 {
					e.seq++
					ctx.Send(AccountID, TerminateJob{Request: Request{ID: fmt.Sprint("end-", e.seq), ReplyTo: ctx.Self()}, JobID: id})
				}
			}
		}),
		actor.Ignore[Reply]())
}

// scheduleProgram runs the service (no pool: the schedules' jobs have no tasks, and end when
// the ender terminates them), the ender, and a client that sends reqs.
func scheduleProgram(reqs ...actor.Event) func(*systest.Sim) {
	return scheduleProgramStore(false, reqs...)
}

// scheduleProgramStore is scheduleProgram; with storeFails, the store fails when the tester says
// so (Faults.ModelFailures).
func scheduleProgramStore(storeFails bool, reqs ...actor.Event) func(*systest.Sim) {
	return func(s *systest.Sim) {
		st := memstore.New()
		spec := &scheduleSpec{}
		if storeFails {
			st.Fail = s.Fail
			spec.stored = func(jobID string) bool {
				// The monitor's own read: not one the tester may fail.
				fail := st.Fail
				st.Fail = nil
				defer func() { st.Fail = fail }()
				err := st.View(context.Background(), func(tx store.Tx) error {
					_, err := tx.Get(tableJobs, batch.IDKey(jobID))
					return err
				})
				return !errors.Is(err, store.ErrNotFound)
			}
		}
		s.Monitor(spec)
		s.Monitor(&schedulesSettle{})
		runService(s, Config{Store: st, Timing: NodeTiming{CheckEvery: time.Second, LostAfter: 5 * time.Second}}, model.Provider{})
		s.Create("ender", &ender{st: st})
		s.Create("client", newClient(reqs...))
	}
}

// recurring is a schedule that recurs every interval from 10 seconds into the run, each
// occurrence open for window (nil: until the next).
func recurring(id string, interval time.Duration, window *batch.Duration, notAfter time.Duration) AddJobSchedule {
	start := time.Date(2030, 1, 1, 0, 0, 10, 0, time.UTC) // the tester's virtual time starts at 2030-01-01
	every := batch.Duration(interval)
	sch := batch.Schedule{DoNotRunUntil: &start, RecurrenceInterval: &every, StartWindow: window}
	if notAfter > 0 {
		end := start.Add(notAfter)
		sch.DoNotRunAfter = &end
	}
	return AddJobSchedule{Schedule: batch.JobSchedule{ID: id, Schedule: &sch,
		JobSpecification: &batch.JobSpecification{PoolInfo: batch.PoolInformation{PoolID: "p1"}}}}
}

func window(d time.Duration) *batch.Duration { w := batch.Duration(d); return &w }

// The life of a recurring schedule: it creates a job every two minutes while the previous one
// has ended, waits for it within each occurrence's one-minute window, is disabled and enabled,
// terminated and deleted.
func scheduleLifecycle() []actor.Event {
	return []actor.Event{
		recurring("s1", 2*time.Minute, window(time.Minute), 0),
		pause{Max: 6 * time.Minute},
		DisableJobSchedule{JobScheduleID: "s1"},
		pause{Max: 4 * time.Minute},
		EnableJobSchedule{JobScheduleID: "s1"},
		pause{Max: 6 * time.Minute},
		TerminateJobSchedule{JobScheduleID: "s1"},
		pause{Max: time.Minute},
		DeleteJobSchedule{JobScheduleID: "s1"},
	}
}

func TestScheduleLifecycle(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 4000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05},
		scheduleProgram(scheduleLifecycle()...))
}

// The same through crashes of the service.
func TestScheduleSurvivesCrashes(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 4000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 2, CrashHosts: []string{"service"}}}, scheduleProgram(scheduleLifecycle()...))
}

// The store fails now and then (an update refused, or committed with its acknowledgement lost,
// a read refused): an occurrence's job whose creation committed unacknowledged is found when
// the schedule loads its record again, never created twice.
func TestScheduleStoreFailures(t *testing.T) {
	systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 4000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{ModelFailures: 4, Crashes: 1, CrashHosts: []string{"service"}}}, scheduleProgramStore(true, scheduleLifecycle()...))
}

// Two schedules that end by themselves: one that does not recur (its one job, within two
// minutes of its due time), and one every minute until doNotRunAfter, with start windows as long
// as the interval; through a crash, and requests lost, repeated and delayed on their way.
func TestSchedulesComplete(t *testing.T) {
	later := time.Date(2030, 1, 1, 0, 1, 0, 0, time.UTC)
	once := AddJobSchedule{Schedule: batch.JobSchedule{ID: "once", Schedule: &batch.Schedule{DoNotRunUntil: &later, StartWindow: window(2 * time.Minute)},
		JobSpecification: &batch.JobSpecification{PoolInfo: batch.PoolInformation{PoolID: "p1"}}}}
	systest.Test(t, systest.Config{Iterations: 300, MaxSteps: 4000, Strategy: "portfolio", Seed: 1, ClockProbability: 0.05,
		Faults: systest.Faults{Crashes: 1, CrashHosts: []string{"service"}, Drops: 1, Duplicates: 1, Delays: 1}},
		scheduleProgram(once, recurring("until", time.Minute, nil, 5*time.Minute), pause{Max: 8 * time.Minute}, DeleteJobSchedule{JobScheduleID: "once"}))
}
