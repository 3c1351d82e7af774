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

// keepTally adds the tally of tasks being deleted in tx to the lifetime record; since is the
// creation time of their job.
func keepTally(tx store.Tx, gone batch.TaskTally, since time.Time) error {
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
	return putJSON(tx, tableStats, statsJobsKey, rec, version)
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
