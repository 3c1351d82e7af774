package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"corral/actor"
	"corral/batch"
	"corral/batch/autoscale"
	"corral/compute"
	"corral/store"
)

// account takes the API's requests. It knows which pools and jobs exist, and which life of each
// (its incarnation), creates the actors that own new ones, and forwards requests about a job to
// its job manager (which answers them). When it loads, it starts the actors of what the store
// holds: a scheduler and a manager per pool, a manager per job that is not completed.
type account struct {
	st          store.Store
	timing      NodeTiming
	minInterval time.Duration      // the shortest autoScaleEvaluationInterval (Config.AutoScaleMinInterval)
	pools       map[string]int64   // IDKey(pool) -> incarnation
	jobs        map[string]jobLife // IDKey(job) -> the job's id as given, and its incarnation
	schedules   map[string]jobLife // IDKey(schedule) -> the schedule's id as given, and its incarnation
	lastInc     int64              // the highest incarnation drawn or seen
	loadDelay   time.Duration      // the wait before the next load, after the store failed
	deleteChunk int                // Config.DeleteChunk
	// done holds the jobs that were completed when the account loaded: no job manager is started
	// for them, so the account answers for them itself.
	done map[string]bool
}

// jobLife is one life of a job: its id as given and its incarnation.
type jobLife struct {
	ID  string
	Inc int64
}

// retryAccountLoad is the account's timer to load again after the store failed.
type retryAccountLoad struct{}

// loadRetryFirst and loadRetryMax bound the backoff of loads the store failed: the first retry
// comes after loadRetryFirst, each later one after twice the wait before it, at most loadRetryMax.
const (
	loadRetryFirst = 100 * time.Millisecond
	loadRetryMax   = 10 * time.Second
)

// nextLoadDelay doubles a load's backoff, from loadRetryFirst up to loadRetryMax.
func nextLoadDelay(d time.Duration) time.Duration {
	if d <= 0 {
		return loadRetryFirst
	}
	return min(2*d, loadRetryMax)
}

func newAccount(st store.Store, timing NodeTiming, minInterval time.Duration) *account {
	if minInterval <= 0 {
		minInterval = batch.MinAutoScaleEvaluationInterval
	}
	return &account{st: st, timing: timing, minInterval: minInterval}
}

// Define declares the account's states: Loading (reading what exists, retried while the store
// fails; requests wait), then Serving.
func (a *account) Define(m *actor.Machine) {
	m.State("Loading", append([]actor.StateOption{
		actor.OnEntry(a.load),
		actor.On(func(ctx *actor.Context, _ retryAccountLoad) { a.load(ctx) }),
		actor.Defer[AddPool](),
		actor.Defer[nodeMsgFor](),
		actor.Defer[AddJob](),
		actor.Defer[AddTasks](),
		actor.Defer[TerminateJob](),
		actor.Defer[PatchJob](),
		actor.Defer[TerminateTask](),
		actor.Defer[DeleteJob](),
		actor.Defer[DeleteTask](),
		actor.Defer[UpdateTask](),
		actor.Defer[DisableJob](),
		actor.Defer[EnableJob](),
		actor.Defer[ReactivateTask](),
		actor.Defer[poolGone](),
		actor.Defer[jobGone](),
		actor.Defer[AddJobSchedule](),
		actor.Defer[PatchJobSchedule](),
		actor.Defer[DisableJobSchedule](),
		actor.Defer[EnableJobSchedule](),
		actor.Defer[TerminateJobSchedule](),
		actor.Defer[DeleteJobSchedule](),
		actor.Defer[scheduleJobAdded](),
		actor.Defer[scheduleGone](),
		actor.Targets("Serving"),
	}, deferPoolEvents()...)...)
	m.State("Serving",
		actor.On(func(ctx *actor.Context, m nodeMsgFor) {
			if _, ok := a.pools[batch.IDKey(m.PoolID)]; ok {
				ctx.Send(SchedulerID(m.PoolID), m.Msg)
			}
		}),
		actor.On(a.addPool),
		actor.On(a.addJob),
		actor.On(func(ctx *actor.Context, r AddTasks) { a.toJob(ctx, r.JobID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r TerminateJob) { a.toJob(ctx, r.JobID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r PatchJob) {
			if r.PoolID != "" {
				a.ensureScheduler(ctx, r.PoolID) // for a job that moves to a pool not added yet
			}
			a.toJob(ctx, r.JobID, r.Request, r)
		}),
		actor.On(func(ctx *actor.Context, r TerminateTask) { a.toJob(ctx, r.JobID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r DeleteJob) {
			if l, ok := a.jobs[batch.IDKey(r.JobID)]; ok && r.Inc != 0 && r.Inc != l.Inc {
				reply(ctx, r.Request, notFound("JobNotFound", "job")) // that life is gone
				return
			}
			a.toJob(ctx, r.JobID, r.Request, r)
		}),
		actor.On(func(ctx *actor.Context, r DeleteTask) { a.toJob(ctx, r.JobID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r UpdateTask) { a.toJob(ctx, r.JobID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r DisableJob) { a.toJob(ctx, r.JobID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r EnableJob) { a.toJob(ctx, r.JobID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r ReactivateTask) { a.toJob(ctx, r.JobID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r DeletePool) {
			if inc, ok := a.pools[batch.IDKey(r.PoolID)]; ok && r.Inc != 0 && r.Inc != inc {
				reply(ctx, r.Request, notFound("PoolNotFound", "pool")) // that life is gone
				return
			}
			a.toPool(ctx, r.PoolID, r.Request, r)
		}),
		actor.On(func(ctx *actor.Context, r ResizePool) { a.toPool(ctx, r.PoolID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r StopResizePool) { a.toPool(ctx, r.PoolID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r EnableAutoScale) { a.toPool(ctx, r.PoolID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r DisableAutoScale) { a.toPool(ctx, r.PoolID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r PatchPool) { a.toPool(ctx, r.PoolID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r EvaluateAutoScale) { a.toPool(ctx, r.PoolID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r RemoveNodes) { a.toPool(ctx, r.PoolID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r DisableNodeScheduling) { a.toPool(ctx, r.PoolID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r EnableNodeScheduling) { a.toPool(ctx, r.PoolID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r RestartComputeNode) { a.toPool(ctx, r.PoolID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, g poolGone) {
			// Only the life that is gone: a pool of the same id may have been added since.
			if inc, ok := a.pools[batch.IDKey(g.PoolID)]; ok && inc == g.Inc {
				delete(a.pools, batch.IDKey(g.PoolID))
			}
		}),
		actor.On(func(ctx *actor.Context, g jobGone) {
			if l, ok := a.jobs[batch.IDKey(g.JobID)]; ok && l.Inc == g.Inc {
				delete(a.jobs, batch.IDKey(g.JobID))
				delete(a.done, batch.IDKey(g.JobID))
			}
			// After every request forwarded to it: the manager answers them, then stops.
			ctx.Send(jobActor(g.JobID, g.Inc), jobForgotten{})
		}),
		actor.On(a.addJobSchedule),
		actor.On(func(ctx *actor.Context, r PatchJobSchedule) { a.toSchedule(ctx, r.JobScheduleID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r DisableJobSchedule) { a.toSchedule(ctx, r.JobScheduleID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r EnableJobSchedule) { a.toSchedule(ctx, r.JobScheduleID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r TerminateJobSchedule) { a.toSchedule(ctx, r.JobScheduleID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r DeleteJobSchedule) {
			if l, ok := a.schedules[batch.IDKey(r.JobScheduleID)]; ok && r.Inc != 0 && r.Inc != l.Inc {
				reply(ctx, r.Request, notFound(batch.CodeJobScheduleNotFound, "job schedule")) // that life is gone
				return
			}
			a.toSchedule(ctx, r.JobScheduleID, r.Request, r)
		}),
		actor.On(a.scheduleJobAdded),
		actor.On(func(ctx *actor.Context, g scheduleGone) {
			if l, ok := a.schedules[batch.IDKey(g.ScheduleID)]; ok && l.Inc == g.Inc {
				delete(a.schedules, batch.IDKey(g.ScheduleID))
			}
		}),
		actor.On(func(ctx *actor.Context, e compute.VMPreempted) { a.notice(ctx, e.PoolID, e) }),
		actor.On(func(ctx *actor.Context, e compute.VMLost) { a.notice(ctx, e.PoolID, e) }),
		actor.Ignore[retryAccountLoad](),
	)
}

// deferPoolEvents defers what a pool's manager takes while it loads: the API's requests about the
// pool, and the provider's notices.
func deferPoolEvents() []actor.StateOption {
	return []actor.StateOption{
		actor.Defer[DeletePool](),
		actor.Defer[ResizePool](),
		actor.Defer[StopResizePool](),
		actor.Defer[EnableAutoScale](),
		actor.Defer[DisableAutoScale](),
		actor.Defer[PatchPool](),
		actor.Defer[EvaluateAutoScale](),
		actor.Defer[RemoveNodes](),
		actor.Defer[DisableNodeScheduling](),
		actor.Defer[EnableNodeScheduling](),
		actor.Defer[RestartComputeNode](),
		actor.Defer[compute.VMPreempted](),
		actor.Defer[compute.VMLost](),
	}
}

// PoolNoticesID is where a VM provider sends what it tells a pool unasked (VMPreempted, VMLost)
// about a node whose creator it does not know (one it adopted after a restart): the account,
// which hands it to the manager of the pool's current life.
func PoolNoticesID(poolID string) actor.ID { return AccountID }

// notice hands a provider's notice about a pool's node to the pool's manager; a notice about a
// pool that no longer exists changes nothing.
func (a *account) notice(ctx *actor.Context, poolID string, ev actor.Event) {
	inc, ok := a.pools[batch.IDKey(poolID)]
	if !ok {
		ctx.Log("account: notice about a pool that does not exist dropped", "pool", poolID, "event", actor.EventName(ev))
		return
	}
	ctx.Send(poolActor(poolID, inc), ev)
}

// load learns the pools and jobs that exist and starts their actors. If the store fails, it
// logs and tries again after a backoff; requests wait meanwhile.
func (a *account) load(ctx *actor.Context) {
	pools := map[string]poolRecord{}
	var jobs []jobRecord
	var schedules []scheduleRecord
	var lastInc int64
	err := a.st.View(context.Background(), func(tx store.Tx) error {
		var err error
		if lastInc, err = getInt(tx, tableSeq, seqIncarnation); err != nil {
			return err
		}
		ps, err := tx.List(tablePools, "", "", 0)
		if err != nil {
			return err
		}
		for _, r := range ps {
			var pr poolRecord
			if err := json.Unmarshal(r.Value, &pr); err != nil {
				return fmt.Errorf("decode pool %s: %w", r.Key, err)
			}
			pools[r.Key] = pr
		}
		js, err := tx.List(tableJobs, "", "", 0)
		if err != nil {
			return err
		}
		for _, r := range js {
			var jr jobRecord
			if err := json.Unmarshal(r.Value, &jr); err != nil {
				return fmt.Errorf("decode job %s: %w", r.Key, err)
			}
			jobs = append(jobs, jr)
		}
		ss, err := tx.List(tableSchedules, "", "", 0)
		if err != nil {
			return err
		}
		for _, r := range ss {
			var sr scheduleRecord
			if err := json.Unmarshal(r.Value, &sr); err != nil {
				return fmt.Errorf("decode job schedule %s: %w", r.Key, err)
			}
			schedules = append(schedules, sr)
		}
		return nil
	})
	if err != nil {
		a.loadDelay = nextLoadDelay(a.loadDelay)
		ctx.Log("account: reading the store failed; retrying", "after", a.loadDelay, "err", err)
		ctx.StartTimer(a.loadDelay, retryAccountLoad{})
		return
	}
	a.loadDelay = 0
	a.pools, a.jobs, a.done = map[string]int64{}, map[string]jobLife{}, map[string]bool{}
	a.schedules = map[string]jobLife{}
	a.lastInc = lastInc
	for _, key := range sortedKeys(pools) {
		pr := pools[key]
		a.pools[key] = pr.Incarnation
		a.lastInc = max(a.lastInc, pr.Incarnation)
		a.startPool(ctx, pr.Pool, pr.Incarnation)
	}
	// Jobs may name pools that do not exist (yet): a scheduler without nodes holds their tasks.
	for _, jr := range jobs {
		key := batch.IDKey(jr.Job.ID)
		a.jobs[key] = jobLife{ID: jr.Job.ID, Inc: jr.Incarnation}
		a.lastInc = max(a.lastInc, jr.Incarnation)
		if jr.Job.State == batch.JobCompleted {
			a.done[key] = true
			continue
		}
		a.startJob(ctx, jr.Job, jr.Incarnation)
	}
	// Every schedule gets its actor, whatever its state: the managers of its jobs tell it when
	// they complete (see finishJob).
	for _, sr := range schedules {
		a.schedules[batch.IDKey(sr.Schedule.ID)] = jobLife{ID: sr.Schedule.ID, Inc: sr.Incarnation}
		a.lastInc = max(a.lastInc, sr.Incarnation)
		ctx.Create(string(scheduleActor(sr.Schedule.ID, sr.Incarnation)), newJobSchedule(sr.Schedule.ID, sr.Incarnation, a.st))
	}
	ctx.Announce(AccountLoaded{})
	ctx.Goto("Serving")
}

// AccountLoaded is announced when the account has loaded what the store holds, at every start of
// the service's host: monitors may look at the store afresh (a change whose acknowledgement a
// crash lost is announced by nobody).
type AccountLoaded struct{}

func (a *account) addPool(ctx *actor.Context, r AddPool) {
	if err := batch.ValidatePoolWith(r.Pool, a.minInterval); err != nil {
		reply(ctx, r.Request, asBatchError(err))
		return
	}
	if r.Pool.AutoScale() {
		if _, err := autoscale.Parse(r.Pool.AutoScaleFormula); err != nil {
			reply(ctx, r.Request, formulaError(err))
			return
		}
	}
	key := batch.IDKey(r.Pool.ID)
	if _, ok := a.pools[key]; ok {
		reply(ctx, r.Request, a.poolExists(r.Pool.ID))
		return
	}
	p := batch.NewPool(r.Pool, ctx.Now())
	p.LastModified = p.CreationTime
	rec := poolRecord{Pool: p}
	err := a.st.Update(context.Background(), func(tx store.Tx) error {
		inc, err := nextIncarnation(tx, a.lastInc)
		if err != nil {
			return err
		}
		rec.Incarnation = inc
		// A pool of this id deleted before numbered nodes up to its tomb's number: go on from it.
		if rec.NextNode, err = getNextNode(tx, key); err != nil {
			return err
		}
		return putJSON(tx, tablePools, key, rec, 0)
	})
	a.lastInc = max(a.lastInc, rec.Incarnation) // drawn even if the commit failed: never drawn again
	if err != nil {
		if errors.Is(err, store.ErrExists) {
			// In the store but unknown here: an earlier add committed although the store said
			// it failed (its acknowledgement was lost). The pool exists: start its actors.
			pr, gerr := readPoolRecord(a.st, r.Pool.ID)
			if gerr != nil {
				reply(ctx, r.Request, busy()) // the retry finds it
				return
			}
			a.pools[key] = pr.Incarnation
			a.startPool(ctx, pr.Pool, pr.Incarnation)
		}
		reply(ctx, r.Request, storeError(err, "PoolExists", "pool"))
		return
	}
	a.pools[key] = rec.Incarnation
	a.startPool(ctx, p, rec.Incarnation)
	reply(ctx, r.Request, nil)
}

// poolExists answers the add of a pool whose id the account knows: PoolBeingDeleted while the
// pool of that id is being deleted (its record says deleting, or is gone already), PoolExists
// otherwise.
func (a *account) poolExists(id string) *batch.Error {
	pr, err := readPoolRecord(a.st, id)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && pr.Pool.State == batch.PoolDeleting:
		return poolBeingDeleted(id)
	case err != nil:
		return busy()
	}
	return &batch.Error{Code: "PoolExists", Message: "The specified pool already exists."}
}

// startPool starts the actors of one life of a pool: its manager, and its scheduler unless one
// runs already (the scheduler of a pool id outlives the pool's lives: it holds the tasks of the
// jobs on that pool id while no pool of it exists).
func (a *account) startPool(ctx *actor.Context, p batch.Pool, inc int64) {
	tryCreate(ctx, string(SchedulerID(p.ID)), newScheduler(p.ID, fillOf(p)))
	ctx.Create(string(poolActor(p.ID, inc)), newPoolManager(p.ID, inc, a.st, a.timing, a.minInterval))
}

func (a *account) addJob(ctx *actor.Context, r AddJob) {
	if err := batch.ValidateJob(r.Job); err != nil {
		reply(ctx, r.Request, asBatchError(err))
		return
	}
	key := batch.IDKey(r.Job.ID)
	if l, dup := a.jobs[key]; dup {
		reply(ctx, r.Request, a.jobExists(l))
		return
	}
	if _, dup := a.schedules[key]; dup {
		reply(ctx, r.Request, &batch.Error{Code: batch.CodeJobScheduleWithSameIDExists,
			Message: "A job schedule with the specified job id exists. Job and job schedule cannot have the same id."})
		return
	}
	j := batch.NewJob(r.Job, ctx.Now())
	j.LastModified = j.CreationTime
	rec := jobRecord{PoolID: j.PoolInfo.PoolID, Job: j}
	err := a.st.Update(context.Background(), func(tx store.Tx) error {
		inc, err := nextIncarnation(tx, a.lastInc)
		if err != nil {
			return err
		}
		rec.Incarnation = inc
		return putJSON(tx, tableJobs, key, rec, 0)
	})
	a.lastInc = max(a.lastInc, rec.Incarnation)
	if err != nil {
		if errors.Is(err, store.ErrExists) {
			// As for pools: an earlier add that committed unacknowledged. Start its manager.
			jr, gerr := readJobRecord(a.st, r.Job.ID)
			if gerr != nil {
				reply(ctx, r.Request, busy()) // the retry finds it
				return
			}
			a.jobs[key] = jobLife{ID: jr.Job.ID, Inc: jr.Incarnation}
			a.startJob(ctx, jr.Job, jr.Incarnation)
		}
		reply(ctx, r.Request, storeError(err, "JobExists", "job"))
		return
	}
	a.jobs[key] = jobLife{ID: j.ID, Inc: rec.Incarnation}
	a.startJob(ctx, j, rec.Incarnation)
	reply(ctx, r.Request, nil)
}

// jobExists answers the add of a job whose id the account knows: JobBeingDeleted while that job
// is being deleted (its manager has removed its record and not yet said jobGone), JobExists
// otherwise.
func (a *account) jobExists(l jobLife) *batch.Error {
	jr, err := readJobRecord(a.st, l.ID)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && (jr.Incarnation != l.Inc || jr.Job.State == batch.JobDeleting):
		return &batch.Error{Code: batch.CodeJobBeingDeleted, Message: "The specified job " + l.ID + " is being deleted."}
	case err != nil:
		return busy()
	}
	return &batch.Error{Code: "JobExists", Message: "The specified job already exists."}
}

// startJob starts one life of a job's manager (and the scheduler of its pool, if the pool does
// not exist).
func (a *account) startJob(ctx *actor.Context, j batch.Job, inc int64) {
	a.ensureScheduler(ctx, j.PoolInfo.PoolID)
	ctx.Create(string(jobActor(j.ID, inc)), a.jobManager(j.ID, inc))
}

// jobManager makes the manager of one life of a job.
func (a *account) jobManager(jobID string, inc int64) *jobManager {
	j := newJobManager(jobID, inc, a.st, a.minInterval)
	j.deleteChunk = a.deleteChunk
	return j
}

// ensureScheduler starts the scheduler of a pool id that no pool has: as in Azure, a job may
// name a pool that does not exist yet, and its tasks wait in a scheduler with no nodes, which
// the pool takes over when it is added.
func (a *account) ensureScheduler(ctx *actor.Context, poolID string) {
	if _, ok := a.pools[batch.IDKey(poolID)]; !ok {
		tryCreate(ctx, string(SchedulerID(poolID)), newScheduler(poolID, batch.FillSpread))
	}
}

// toPool forwards a request to the manager of the pool's current life, which answers it.
func (a *account) toPool(ctx *actor.Context, poolID string, req Request, ev actor.Event) {
	inc, ok := a.pools[batch.IDKey(poolID)]
	if !ok {
		reply(ctx, req, notFound("PoolNotFound", "pool"))
		return
	}
	ctx.Send(poolActor(poolID, inc), ev)
}

// toJob forwards a request to the manager of the job's current life, which answers it. A job
// completed before the service started has no manager: the account answers as a completed job's
// manager would.
func (a *account) toJob(ctx *actor.Context, jobID string, req Request, ev actor.Event) {
	key := batch.IDKey(jobID)
	l, ok := a.jobs[key]
	if !ok && a.adoptJob(ctx, jobID) {
		l, ok = a.jobs[key]
	}
	switch {
	case !ok:
		reply(ctx, req, notFound("JobNotFound", "job"))
	case a.done[key]:
		// No manager was started for a job completed before the service started; one is
		// started now for what needs one (deletes, and Task - Terminate: the job's end may
		// have left tasks active), and the rest is answered here.
		switch ev.(type) {
		case TerminateTask, DeleteJob, DeleteTask:
			delete(a.done, key)
			ctx.Create(string(jobActor(l.ID, l.Inc)), a.jobManager(l.ID, l.Inc))
			ctx.Send(jobActor(l.ID, l.Inc), ev)
		default:
			reply(ctx, req, &batch.Error{Code: "JobCompleted", Message: "The specified job is already in a completed state."})
		}
	default:
		ctx.Send(jobActor(l.ID, l.Inc), ev)
	}
}

// adoptJob starts the manager of a job schedule's job that the store has and the account has not
// heard of yet: the schedule's actor created it and the news (scheduleJobAdded) is on its way,
// while a request about the job, made after a read saw it, is here first. It reports whether
// the store has the job.
func (a *account) adoptJob(ctx *actor.Context, jobID string) bool {
	if _, _, ok := batch.ParseScheduleJobID(jobID); !ok {
		return false
	}
	jr, err := readJobRecord(a.st, jobID)
	if err != nil {
		return false
	}
	a.register(ctx, jr.Job, jr.Incarnation)
	return true
}

// register makes a job schedule's job one the account knows, and starts its manager unless it
// is completed.
func (a *account) register(ctx *actor.Context, j batch.Job, inc int64) {
	key := batch.IDKey(j.ID)
	a.jobs[key] = jobLife{ID: j.ID, Inc: inc}
	a.lastInc = max(a.lastInc, inc)
	if j.State == batch.JobCompleted {
		a.done[key] = true
		return
	}
	delete(a.done, key)
	a.startJob(ctx, j, inc)
}

// scheduleJobAdded starts the manager of a job a schedule created, unless the account adopted the
// job already.
func (a *account) scheduleJobAdded(ctx *actor.Context, e scheduleJobAdded) {
	if l, ok := a.jobs[batch.IDKey(e.JobID)]; ok && l.Inc >= e.Inc {
		return
	}
	a.register(ctx, e.Job, e.Inc)
}

// addJobSchedule is Job Schedule - Add.
func (a *account) addJobSchedule(ctx *actor.Context, r AddJobSchedule) {
	if err := batch.ValidateJobSchedule(r.Schedule); err != nil {
		reply(ctx, r.Request, asBatchError(err))
		return
	}
	key := batch.IDKey(r.Schedule.ID)
	if l, dup := a.schedules[key]; dup {
		reply(ctx, r.Request, a.scheduleExists(l))
		return
	}
	if _, dup := a.jobs[key]; dup {
		reply(ctx, r.Request, &batch.Error{Code: batch.CodeJobWithSameIDExists,
			Message: "A job with the specified job schedule id exists. Job and job schedule cannot have the same id."})
		return
	}
	now := ctx.Now()
	s := batch.NewJobSchedule(r.Schedule, now)
	rec := scheduleRecord{Schedule: s}
	rec.Schedule.ExecutionInfo.NextRunTime, _ = rec.occurrences().NextRunTime(now, time.Time{})
	err := a.st.Update(context.Background(), func(tx store.Tx) error {
		inc, err := nextIncarnation(tx, a.lastInc)
		if err != nil {
			return err
		}
		rec.Incarnation = inc
		return putJSON(tx, tableSchedules, key, rec, 0)
	})
	a.lastInc = max(a.lastInc, rec.Incarnation)
	if err != nil {
		if errors.Is(err, store.ErrExists) {
			// As for jobs: an earlier add that committed unacknowledged. Start its actor.
			sr, gerr := readScheduleRecord(a.st, r.Schedule.ID)
			if gerr != nil {
				reply(ctx, r.Request, busy()) // the retry finds it
				return
			}
			a.schedules[key] = jobLife{ID: sr.Schedule.ID, Inc: sr.Incarnation}
			tryCreate(ctx, string(scheduleActor(sr.Schedule.ID, sr.Incarnation)), newJobSchedule(sr.Schedule.ID, sr.Incarnation, a.st))
		}
		reply(ctx, r.Request, storeError(err, batch.CodeJobScheduleExists, "job schedule"))
		return
	}
	a.schedules[key] = jobLife{ID: s.ID, Inc: rec.Incarnation}
	ctx.Create(string(scheduleActor(s.ID, rec.Incarnation)), newJobSchedule(s.ID, rec.Incarnation, a.st))
	reply(ctx, r.Request, nil)
}

// scheduleExists answers the add of a job schedule whose id the account knows:
// JobScheduleBeingDeleted while the schedule of that id is being deleted, JobScheduleExists
// otherwise.
func (a *account) scheduleExists(l jobLife) *batch.Error {
	sr, err := readScheduleRecord(a.st, l.ID)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && (sr.Incarnation != l.Inc || sr.Schedule.State == batch.ScheduleDeleting):
		return &batch.Error{Code: batch.CodeJobScheduleBeingDeleted, Message: "The specified job schedule " + l.ID + " is being deleted."}
	case err != nil:
		return busy()
	}
	return &batch.Error{Code: batch.CodeJobScheduleExists, Message: "The specified job schedule already exists."}
}

// toSchedule forwards a request to the actor of the schedule's current life, which answers it.
func (a *account) toSchedule(ctx *actor.Context, scheduleID string, req Request, ev actor.Event) {
	l, ok := a.schedules[batch.IDKey(scheduleID)]
	if !ok {
		reply(ctx, req, notFound(batch.CodeJobScheduleNotFound, "job schedule"))
		return
	}
	ctx.Send(scheduleActor(l.ID, l.Inc), forwarded{At: ctx.Now(), Req: ev})
}

// tryCreate creates an actor unless one is alive under the id, and reports whether it did. (The
// actor runtime fails a handler that creates an actor under a live actor's id; the account must
// not fail.)
func tryCreate(ctx *actor.Context, id string, a actor.Actor) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			f, isFailure := r.(*actor.Failure)
			if !isFailure || f.Kind != actor.FailDuplicate {
				panic(r)
			}
			ok = false
		}
	}()
	ctx.Create(id, a)
	return true
}

// storeError turns a failed store write into Azure's error: a record that exists already (a
// write that raced with another instance), or a server that is busy.
func storeError(err error, existsCode, what string) *batch.Error {
	if errors.Is(err, store.ErrExists) {
		return &batch.Error{Code: existsCode, Message: "The specified " + what + " already exists."}
	}
	return &batch.Error{Code: "ServerBusy", Message: "The server is currently unable to receive requests. Please retry your request."}
}

func fillOf(p batch.Pool) batch.NodeFillType {
	if p.TaskSchedulingPolicy != nil {
		return p.TaskSchedulingPolicy.NodeFillType
	}
	return batch.FillSpread
}

// SchedulerID is the actor of a pool's scheduler.
func SchedulerID(poolID string) actor.ID { return actor.ID("sched/" + batch.IDKey(poolID)) }
