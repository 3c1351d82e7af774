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
