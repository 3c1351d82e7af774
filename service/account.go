package service

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"corral/actor"
	"corral/batch"
	"corral/batch/autoscale"
	"corral/store"
)

// account takes the API's requests. It knows which pools and jobs exist, creates the actors that
// own new ones, and forwards requests about a job to its job manager (which answers them).
type account struct {
	st          store.Store
	timing      NodeTiming
	minInterval time.Duration     // the shortest autoScaleEvaluationInterval (Config.AutoScaleMinInterval)
	pools       map[string]bool   // IDKey(pool)
	jobs        map[string]string // IDKey(job) -> job id as given
	// done holds the jobs that were completed when the account loaded: Boot starts no job
	// manager for them, so the account answers for them itself.
	done map[string]bool
}

func newAccount(st store.Store, timing NodeTiming, minInterval time.Duration) *account {
	if minInterval <= 0 {
		minInterval = batch.MinAutoScaleEvaluationInterval
	}
	return &account{st: st, timing: timing, minInterval: minInterval}
}

// Define declares the account's single state.
func (a *account) Define(m *actor.Machine) {
	m.State("Serving",
		actor.OnEntry(a.load),
		actor.On(a.addPool),
		actor.On(a.addJob),
		actor.On(func(ctx *actor.Context, r AddTasks) { a.toJob(ctx, r.JobID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r TerminateJob) { a.toJob(ctx, r.JobID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r TerminateTask) { a.toJob(ctx, r.JobID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r DeleteJob) { a.toJob(ctx, r.JobID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r DeleteTask) { a.toJob(ctx, r.JobID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r DeletePool) {
			if !a.pools[batch.IDKey(r.PoolID)] {
				reply(ctx, r.Request, notFound("PoolNotFound", "pool"))
				return
			}
			pool, err := GetPool(context.Background(), a.st, r.PoolID)
			if err != nil {
				reply(ctx, r.Request, busy())
				return
			}
			ctx.Send(PoolManagerID(pool.ID), r)
		}),
		actor.On(func(ctx *actor.Context, r ResizePool) { a.toPool(ctx, r.PoolID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r StopResizePool) { a.toPool(ctx, r.PoolID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r EnableAutoScale) { a.toPool(ctx, r.PoolID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r DisableAutoScale) { a.toPool(ctx, r.PoolID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r EvaluateAutoScale) { a.toPool(ctx, r.PoolID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, r RemoveNodes) { a.toPool(ctx, r.PoolID, r.Request, r) }),
		actor.On(func(ctx *actor.Context, g poolGone) { delete(a.pools, batch.IDKey(g.PoolID)) }),
		actor.On(func(ctx *actor.Context, g jobGone) {
			delete(a.jobs, batch.IDKey(g.JobID))
			delete(a.done, batch.IDKey(g.JobID))
		}),
	)
}

// load learns the pools and jobs that exist (their actors are created by Boot).
func (a *account) load(ctx *actor.Context) {
	a.pools, a.jobs, a.done = map[string]bool{}, map[string]string{}, map[string]bool{}
	err := a.st.View(context.Background(), func(tx store.Tx) error {
		ps, err := tx.List(tablePools, "", "", 0)
		if err != nil {
			return err
		}
		for _, r := range ps {
			a.pools[r.Key] = true
		}
		js, err := tx.List(tableJobs, "", "", 0)
		if err != nil {
			return err
		}
		for _, r := range js {
			var jr jobRecord
			if err := json.Unmarshal(r.Value, &jr); err != nil {
				return err
			}
			a.jobs[r.Key] = jr.Job.ID
			if jr.Job.State == batch.JobCompleted {
				a.done[r.Key] = true
			}
		}
		return nil
	})
	ctx.Assert(err == nil, "account: load: %v", err)
}

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
	if a.pools[key] {
		reply(ctx, r.Request, &batch.Error{Code: "PoolExists", Message: "The specified pool already exists."})
		return
	}
	p := batch.NewPool(r.Pool, ctx.Now())
	p.LastModified = p.CreationTime
	err := a.st.Update(context.Background(), func(tx store.Tx) error {
		return putJSON(tx, tablePools, key, poolRecord{Pool: p}, 0)
	})
	if err != nil {
		if errors.Is(err, store.ErrExists) {
			// In the store but unknown here: an earlier add committed although the store said
			// it failed (its acknowledgement was lost). The pool exists: start its actors.
			a.pools[key] = true
			tryCreate(ctx, string(SchedulerID(p.ID)), newScheduler(p.ID, fillOf(p)))
			tryCreate(ctx, string(PoolManagerID(p.ID)), newPoolManager(p.ID, a.st, a.timing, a.minInterval))
		}
		reply(ctx, r.Request, storeError(err, "PoolExists", "pool"))
		return
	}
	a.pools[key] = true
	// A pool deleted a moment ago may still have actors finishing their last step under these
	// ids. Then the new pool's actors are not started: its record is in the store, and Boot
	// starts them when the service restarts. (Known gap: actor ids need an incarnation, so that
	// a new pool never waits for the old one's actors.)
	// The scheduler may exist already, holding the tasks of jobs added before their pool.
	tryCreate(ctx, string(SchedulerID(p.ID)), newScheduler(p.ID, fillOf(p)))
	tryCreate(ctx, string(PoolManagerID(p.ID)), newPoolManager(p.ID, a.st, a.timing, a.minInterval))
	reply(ctx, r.Request, nil)
}

func (a *account) addJob(ctx *actor.Context, r AddJob) {
	if err := batch.ValidateJob(r.Job); err != nil {
		reply(ctx, r.Request, asBatchError(err))
		return
	}
	key := batch.IDKey(r.Job.ID)
	if _, dup := a.jobs[key]; dup {
		reply(ctx, r.Request, &batch.Error{Code: "JobExists", Message: "The specified job already exists."})
		return
	}
	j := batch.NewJob(r.Job, ctx.Now())
	j.LastModified = j.CreationTime
	err := a.st.Update(context.Background(), func(tx store.Tx) error {
		return putJSON(tx, tableJobs, key, jobRecord{PoolID: j.PoolInfo.PoolID, Job: j}, 0)
	})
	if err != nil {
		if errors.Is(err, store.ErrExists) {
			// As for pools: an earlier add that committed unacknowledged. Start its manager.
			a.jobs[key] = j.ID
			a.startJob(ctx, j)
		}
		reply(ctx, r.Request, storeError(err, "JobExists", "job"))
		return
	}
	a.jobs[key] = j.ID
	a.startJob(ctx, j)
	reply(ctx, r.Request, nil)
}

// startJob starts a new job's manager (and the scheduler of its pool, if the pool does not exist).
func (a *account) startJob(ctx *actor.Context, j batch.Job) {
	if !a.pools[batch.IDKey(j.PoolInfo.PoolID)] {
		// As in Azure, a job may name a pool that does not exist yet: its tasks wait in a
		// scheduler with no nodes, which the pool takes over when it is added.
		tryCreate(ctx, string(SchedulerID(j.PoolInfo.PoolID)), newScheduler(j.PoolInfo.PoolID, batch.FillSpread))
	}
	tryCreate(ctx, string(jobActor(j.ID)), newJobManager(j.ID, a.st, a.minInterval))
}

// toPool forwards a request to the pool's manager, which answers it.
func (a *account) toPool(ctx *actor.Context, poolID string, req Request, ev actor.Event) {
	if !a.pools[batch.IDKey(poolID)] {
		reply(ctx, req, notFound("PoolNotFound", "pool"))
		return
	}
	pool, err := GetPool(context.Background(), a.st, poolID)
	if err != nil {
		reply(ctx, req, busy())
		return
	}
	ctx.Send(PoolManagerID(pool.ID), ev)
}

// toJob forwards a request to the job's manager, which answers it. A job completed before the
// service started has no manager: the account answers as a completed job's manager would.
func (a *account) toJob(ctx *actor.Context, jobID string, req Request, ev actor.Event) {
	key := batch.IDKey(jobID)
	id, ok := a.jobs[key]
	switch {
	case !ok:
		reply(ctx, req, notFound("JobNotFound", "job"))
	case a.done[key]:
		// Boot starts no manager for a job completed before the service started; one is started
		// now for what needs one (deletes), and the rest is answered here.
		switch ev.(type) {
		case TerminateTask:
			reply(ctx, req, nil) // every task of a completed job is completed
		case DeleteJob, DeleteTask:
			delete(a.done, key)
			ctx.Create(string(jobActor(id)), newJobManager(id, a.st, a.minInterval))
			ctx.Send(jobActor(id), ev)
		default:
			reply(ctx, req, &batch.Error{Code: "JobCompleted", Message: "The specified job is already in a completed state."})
		}
	default:
		ctx.Send(jobActor(id), ev)
	}
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

// PoolManagerID is the actor of a pool's manager.
func PoolManagerID(poolID string) actor.ID { return actor.ID("pool/" + batch.IDKey(poolID)) }
