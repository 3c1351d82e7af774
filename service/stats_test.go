package service

import (
	"context"

	"corral/actor"
	"corral/store"
)

// statsCountEveryTask is the specification of Job - Get All Lifetime Statistics: every task
// that completed is counted once, whether it is still there or was deleted, with its job or on
// its own. At each completion and deletion the statistics read from the store count at least
// the completions seen so far, never more tasks than were added, and never fewer than they
// counted before (a delete that lost a task's tally, or counted it twice, shows).
type statsCountEveryTask struct {
	st                store.Store
	added, completed  map[string]bool
	lastDone, lastRun int64
}

func (m *statsCountEveryTask) Define(d *actor.Machine) {
	init := func() {
		if m.added == nil {
			m.added, m.completed = map[string]bool{}, map[string]bool{}
		}
	}
	check := func(ctx *actor.Context) {
		s, err := LifetimeJobStatistics(context.Background(), m.st, ctx.Now())
		ctx.Assert(err == nil, "lifetime statistics: %v", err)
		done := s.NumSucceededTasks + s.NumFailedTasks
		ctx.Assert(done >= int64(len(m.completed)), "lifetime statistics count %d completed tasks, %d completed", done, len(m.completed))
		ctx.Assert(done <= int64(len(m.added)), "lifetime statistics count %d completed tasks of %d added", done, len(m.added))
		ctx.Assert(done >= m.lastDone, "lifetime statistics went from %d completed tasks to %d", m.lastDone, done)
		run := int64(s.WallClockTime)
		ctx.Assert(run >= m.lastRun, "lifetime wall-clock time went down, from %d to %d (%+v)", m.lastRun, run, s)
		m.lastDone, m.lastRun = done, run
	}
	d.State("Watching",
		actor.On(func(ctx *actor.Context, e TaskAdded) {
			init()
			m.added[taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)] = true
		}),
		actor.On(func(ctx *actor.Context, e TaskRecovered) {
			init()
			k := taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)
			m.added[k] = true
			if e.Completed {
				m.completed[k] = true
			}
		}),
		actor.On(func(ctx *actor.Context, e TaskCompleted) {
			init()
			m.completed[taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)] = true
			check(ctx)
		}),
		actor.On(func(ctx *actor.Context, e JobDeleted) {
			init()
			check(ctx)
		}),
	)
}

// jobStatsCountTasks is the specification of a job's statistics ($expand=stats on Job - Get):
// each life of a job counts every task of its own that completed once, also after Task -
// Delete removed it. At each completion the job's statistics, read from the store, count at
// least the completions of the life seen so far, never more tasks than the life was given,
// and never fewer than they counted before.
type jobStatsCountTasks struct {
	st    store.Store
	lives map[string]*jobStatsLife // by job id: its latest life
}

// jobStatsLife is what jobStatsCountTasks knows of one life of a job.
type jobStatsLife struct {
	inc              int64
	added, completed map[string]bool // by taskLife
	lastDone         int64
}

func (m *jobStatsCountTasks) life(jobID string, inc int64) *jobStatsLife {
	if m.lives == nil {
		m.lives = map[string]*jobStatsLife{}
	}
	l := m.lives[jobID]
	if l == nil || l.inc != inc {
		l = &jobStatsLife{inc: inc, added: map[string]bool{}, completed: map[string]bool{}}
		m.lives[jobID] = l
	}
	return l
}

func (m *jobStatsCountTasks) Define(d *actor.Machine) {
	check := func(ctx *actor.Context, jobID string, l *jobStatsLife) {
		s, err := JobStats(context.Background(), m.st, jobID, ctx.Now())
		ctx.Assert(err == nil, "job %s statistics: %v", jobID, err)
		done := s.NumSucceededTasks + s.NumFailedTasks
		ctx.Assert(done >= int64(len(l.completed)), "job %s statistics count %d completed tasks, %d completed", jobID, done, len(l.completed))
		ctx.Assert(done <= int64(len(l.added)), "job %s statistics count %d completed tasks of %d added", jobID, done, len(l.added))
		ctx.Assert(done >= l.lastDone, "job %s statistics went from %d completed tasks to %d", jobID, l.lastDone, done)
		l.lastDone = done
	}
	d.State("Watching",
		actor.On(func(ctx *actor.Context, e TaskAdded) {
			m.life(e.JobID, e.JobInc).added[taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)] = true
		}),
		actor.On(func(ctx *actor.Context, e TaskRecovered) {
			l, k := m.life(e.JobID, e.JobInc), taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)
			l.added[k] = true
			if e.Completed {
				l.completed[k] = true
			}
		}),
		actor.On(func(ctx *actor.Context, e TaskCompleted) {
			l := m.life(e.JobID, e.JobInc)
			l.completed[taskLife(e.JobID, e.JobInc, e.TaskID, e.Seq)] = true
			check(ctx, e.JobID, l)
		}),
		actor.On(func(ctx *actor.Context, e JobDeleted) {
			if l := m.lives[e.JobID]; l != nil && l.inc == e.JobInc {
				delete(m.lives, e.JobID)
			}
		}),
	)
}
