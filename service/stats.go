package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"corral/agent/protocol"
	"corral/batch"
	"corral/store"
)

// Lifetime statistics (Job - Get All Lifetime Statistics) cover every task the account's jobs
// have had. The tasks that still exist are counted where they are, in their records (each
// keeps the usage its attempts reported); those deleted, with their jobs or one by one, are
// added to the lifetime record in the transaction that deletes them, so that a task is counted
// once whatever crashes.
const (
	tableStats   = "stats"
	statsJobsKey = "jobs"
)

// lifetimeRecord is what the account keeps of deleted tasks: their tally, and the creation time
// of the earliest job it counts (where the statistics start).
type lifetimeRecord struct {
	Since   time.Time       `json:"since"`
	Deleted batch.TaskTally `json:"deleted"`
}

// usageOf is what an attempt's process used, as its node reported it (no wall-clock time for a
// report without its start).
func usageOf(res protocol.TaskResult) batch.Usage {
	u := batch.Usage{UserCPU: res.Usage.UserCPU, KernelCPU: res.Usage.KernelCPU, ReadBytes: res.Usage.ReadBytes, WriteBytes: res.Usage.WriteBytes}
	if d := res.EndTime.Sub(res.StartTime); d > 0 && !res.StartTime.IsZero() {
		u.WallClock = d
	}
	return u
}

// jobTallyKey is the key, in tableStats, of what a job keeps of its deleted tasks (a
// jobTally), for the job's own statistics.
func jobTallyKey(jobID string) string { return "job/" + batch.IDKey(jobID) }

// jobTally is the tally of the tasks Task - Delete removed from one life of a job.
type jobTally struct {
	Incarnation int64           `json:"incarnation,omitempty"`
	Deleted     batch.TaskTally `json:"deleted"`
}

// keepTally adds the tally of tasks being deleted in tx to the lifetime record; since is the
// creation time of their job, and jobID and inc name the job's life. When the job itself is
// being deleted (whole), what it kept of its deleted tasks goes with it; otherwise the tasks'
// tally is added to it too, so that the job's statistics go on counting them.
func keepTally(tx store.Tx, gone batch.TaskTally, since time.Time, jobID string, inc int64, whole bool) error {
	var rec lifetimeRecord
	version := int64(0) // create it
	r, err := tx.Get(tableStats, statsJobsKey)
	switch {
	case err == nil:
		if err := json.Unmarshal(r.Value, &rec); err != nil {
			return fmt.Errorf("decode %s/%s: %w", tableStats, statsJobsKey, err)
		}
		version = r.Version
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	rec.Deleted.Merge(gone)
	if rec.Since.IsZero() || (!since.IsZero() && since.Before(rec.Since)) {
		rec.Since = since
	}
	if err := putJSON(tx, tableStats, statsJobsKey, rec, version); err != nil {
		return err
	}
	if whole {
		if err := tx.Delete(tableStats, jobTallyKey(jobID), store.AnyVersion); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("delete the tally of job %s: %w", jobID, err)
		}
		return nil
	}
	var jt jobTally
	if err := getJSON(tx, tableStats, jobTallyKey(jobID), &jt); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if jt.Incarnation != inc {
		jt = jobTally{Incarnation: inc} // left by an earlier life of the id
	}
	jt.Deleted.Merge(gone)
	return putJSON(tx, tableStats, jobTallyKey(jobID), jt, store.AnyVersion)
}

// JobStats is a job's statistics, its stats with $expand=stats on Job - Get and Job - List:
// the tally of its tasks, those Task - Delete removed included, from the job's creation to now.
// As for LifetimeJobStatistics, Corral counts at the time of the request. A missing job is
// JobNotFound.
func JobStats(ctx context.Context, st store.Store, jobID string, now time.Time) (batch.JobStatistics, error) {
	var tally batch.TaskTally
	var since time.Time
	err := st.View(ctx, func(tx store.Tx) error {
		var jr jobRecord
		if err := getJSON(tx, tableJobs, batch.IDKey(jobID), &jr); err != nil {
			return err
		}
		since = jr.Job.CreationTime
		var err error
		tally, err = jobTallyOf(tx, jobID, jr.Incarnation)
		return err
	})
	if errors.Is(err, errNotFound) {
		return batch.JobStatistics{}, notFound("JobNotFound", "job")
	}
	if err != nil {
		return batch.JobStatistics{}, err
	}
	if since.IsZero() || since.After(now) {
		since = now
	}
	return tally.Statistics(since, now), nil
}

// TaskStats is the statistics of a job's tasks, their stats with $expand=stats on Task - Get
// and Task - List, by task id: what each task's attempts used, as its record keeps it, at now.
// A task that does not exist (any more) is left out; a missing job is JobNotFound.
func TaskStats(ctx context.Context, st store.Store, jobID string, taskIDs []string, now time.Time) (map[string]batch.TaskStatistics, error) {
	out := make(map[string]batch.TaskStatistics, len(taskIDs))
	err := st.View(ctx, func(tx store.Tx) error {
		clear(out)
		if _, err := tx.Get(tableJobs, batch.IDKey(jobID)); err != nil {
			return fmt.Errorf("%w: %w", errJobMissing, err)
		}
		for _, id := range taskIDs {
			var tr taskRecord
			err := getJSON(tx, tableTasks, batch.IDKey(jobID)+"/"+batch.IDKey(id), &tr)
			switch {
			case errors.Is(err, store.ErrNotFound):
				continue
			case err != nil:
				return err
			}
			out[id] = batch.TaskStats(tr.Task, tr.Usage, now)
		}
		return nil
	})
	return out, tasksNotFound(err)
}

// LifetimeJobStatistics is Job - Get All Lifetime Statistics: the tally of every task the
// account's jobs have had, deleted ones included, from the creation of the earliest job to now
// (now too when there has been none). Corral counts at the time of the request; Azure rolls its
// statistics up about every 30 minutes.
func LifetimeJobStatistics(ctx context.Context, st store.Store, now time.Time) (batch.JobStatistics, error) {
	var rec lifetimeRecord
	var tally batch.TaskTally
	err := st.View(ctx, func(tx store.Tx) error {
		rec, tally = lifetimeRecord{}, batch.TaskTally{}
		if err := getJSON(tx, tableStats, statsJobsKey, &rec); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		tally.Merge(rec.Deleted)
		jobs, err := tx.List(tableJobs, "", "", 0)
		if err != nil {
			return err
		}
		for _, jr := range jobs {
			var job jobRecord
			if err := json.Unmarshal(jr.Value, &job); err != nil {
				return fmt.Errorf("decode job %s: %w", jr.Key, err)
			}
			if c := job.Job.CreationTime; !c.IsZero() && (rec.Since.IsZero() || c.Before(rec.Since)) {
				rec.Since = c
			}
		}
		tasks, err := tx.List(tableTasks, "", "", 0)
		if err != nil {
			return err
		}
		for _, r := range tasks {
			var tr taskRecord
			if err := json.Unmarshal(r.Value, &tr); err != nil {
				return fmt.Errorf("decode task %s: %w", r.Key, err)
			}
			tally.Add(tr.Task, tr.Usage)
		}
		return nil
	})
	if err != nil {
		return batch.JobStatistics{}, err
	}
	since := rec.Since
	if since.IsZero() || since.After(now) {
		since = now
	}
	return tally.Statistics(since, now), nil
}

// jobTallyOf is what the tasks of one life of a job have used: its tasks' records, and the
// tally of those Task - Delete removed.
func jobTallyOf(tx store.Tx, jobID string, inc int64) (batch.TaskTally, error) {
	var tally batch.TaskTally
	var jt jobTally
	if err := getJSON(tx, tableStats, jobTallyKey(jobID), &jt); err != nil && !errors.Is(err, store.ErrNotFound) {
		return tally, err
	}
	if jt.Incarnation == inc {
		tally.Merge(jt.Deleted)
	}
	rs, err := tx.List(tableTasks, batch.IDKey(jobID)+"/", "", 0)
	if err != nil {
		return tally, fmt.Errorf("list tasks of job %s: %w", jobID, err)
	}
	for _, r := range rs {
		var tr taskRecord
		if err := json.Unmarshal(r.Value, &tr); err != nil {
			return tally, fmt.Errorf("decode task %s: %w", r.Key, err)
		}
		tally.Add(tr.Task, tr.Usage)
	}
	return tally, nil
}

// JobScheduleStats is a job schedule's statistics for $expand=stats on Job Schedule - Get and
// List (Azure's JobScheduleStatistics): what the tasks of the schedule's jobs have used, from
// the schedule's creation to now. It counts the jobs that exist: a job of the schedule that was
// deleted counts only in Job - Get All Lifetime Statistics.
func JobScheduleStats(ctx context.Context, st store.Store, scheduleID string, now time.Time) (batch.JobStatistics, error) {
	var tally batch.TaskTally
	var since time.Time
	err := st.View(ctx, func(tx store.Tx) error {
		tally = batch.TaskTally{}
		var sr scheduleRecord
		if err := getJSON(tx, tableSchedules, batch.IDKey(scheduleID), &sr); err != nil {
			return err
		}
		since = sr.Schedule.CreationTime
		rs, err := tx.List(tableJobs, scheduleJobsPrefix(scheduleID), "", 0)
		if err != nil {
			return err
		}
		for _, r := range rs {
			var jr jobRecord
			if err := json.Unmarshal(r.Value, &jr); err != nil {
				return fmt.Errorf("decode job %s: %w", r.Key, err)
			}
			t, err := jobTallyOf(tx, jr.Job.ID, jr.Incarnation)
			if err != nil {
				return err
			}
			tally.Merge(t)
		}
		return nil
	})
	if errors.Is(err, errNotFound) {
		return batch.JobStatistics{}, notFound(batch.CodeJobScheduleNotFound, "job schedule")
	}
	if err != nil {
		return batch.JobStatistics{}, err
	}
	if since.IsZero() || since.After(now) {
		since = now
	}
	return tally.Statistics(since, now), nil
}
