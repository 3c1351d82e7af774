package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"corral/actor"
	"corral/batch"
	"corral/store"
)

// Job - Get Task Counts reads one record: the job manager keeps its job's counts (tableJobCounts)
// in every transaction that writes the job's tasks, by what the transaction changes, so that
// the record always counts the tasks the store holds, whatever fails. Counting is done once, when
// a job manager loads its job and finds no record (a job written by an earlier version of
// Corral) or one that does not match its tasks.
//
// What a write changes is the task as written less the task as the store held it. The job
// manager knows the latter from its own records, except after a write of the task that failed:
// the store may have committed it all the same (its acknowledgement lost), so until a write of
// the task succeeds again the job manager reads it in the transaction (see unsure).

// tableJobCounts holds a jobCountsRecord per job (key: IDKey(job)).
const tableJobCounts = "jobcounts"

// jobCountsRecord is a job's kept task counts, for one life of the job.
type jobCountsRecord struct {
	Incarnation int64                  `json:"incarnation"`
	Counts      batch.TaskCountsResult `json:"counts"`
}

// TaskCounts is Job - Get Task Counts: the counts the job manager keeps, or, for a job whose
// manager has not kept them yet (one written by an earlier version and not loaded since), a
// count of its tasks.
func TaskCounts(ctx context.Context, st store.Store, jobID string) (batch.TaskCountsResult, error) {
	var res batch.TaskCountsResult
	err := st.View(ctx, func(tx store.Tx) error {
		res = batch.TaskCountsResult{}
		var jr jobRecord
		if err := getJSON(tx, tableJobs, batch.IDKey(jobID), &jr); err != nil {
			return fmt.Errorf("%w: %w", errJobMissing, err)
		}
		var kept jobCountsRecord
		err := getJSON(tx, tableJobCounts, batch.IDKey(jobID), &kept)
		switch {
		case err == nil && kept.Incarnation == jr.Incarnation:
			res = kept.Counts
			return nil
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
		res, err = countTasks(tx, jobID)
		return err
	})
	return res, tasksNotFound(err)
}

// countTasks counts a job's tasks as the store holds them.
func countTasks(tx store.Tx, jobID string) (batch.TaskCountsResult, error) {
	var res batch.TaskCountsResult
	rs, err := tx.List(tableTasks, batch.IDKey(jobID)+"/", "", 0)
	if err != nil {
		return res, fmt.Errorf("list tasks of job %s: %w", jobID, err)
	}
	for _, r := range rs {
		var tr taskRecord
		if err := json.Unmarshal(r.Value, &tr); err != nil {
			return res, fmt.Errorf("decode task %s: %w", r.Key, err)
		}
		res.Add(tr.Task)
	}
	return res, nil
}

// countChange adds to d what writing task key (IDKey) as next (nil: deleting it) changes, in tx:
// the task as the store holds it comes out (held, the job manager's record of it, nil for none,
// unless the task is unsure), next goes in.
func (j *jobManager) countChange(tx store.Tx, d *batch.TaskCountsResult, key string, held *taskRecord, next *batch.Task) error {
	if j.unsure[key] {
		var tr taskRecord
		switch err := getJSON(tx, tableTasks, batch.IDKey(j.jobID)+"/"+key, &tr); {
		case errors.Is(err, store.ErrNotFound):
			held = nil
		case err != nil:
			return err
		default:
			held = &tr
		}
	}
	if held != nil {
		d.Remove(held.Task)
	}
	if next != nil {
		d.Add(*next)
	}
	return nil
}

// keepCounts adds d to the job's counts record in tx. A job whose record is missing (its manager
// could not write it when it loaded) keeps none: reads count its tasks.
func (j *jobManager) keepCounts(tx store.Tx, d batch.TaskCountsResult) error {
	if d == (batch.TaskCountsResult{}) {
		return nil
	}
	key := batch.IDKey(j.jobID)
	var rec jobCountsRecord
	switch err := getJSON(tx, tableJobCounts, key, &rec); {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	case rec.Incarnation != j.inc:
		return nil
	}
	rec.Counts.Merge(d)
	return putJSON(tx, tableJobCounts, key, rec, store.AnyVersion)
}

// wrote notes how a write of task key (IDKey) ended: once one succeeds the store holds the task
// as the job manager does; after one that failed, it may hold either.
func (j *jobManager) wrote(key string, err error) {
	if err == nil {
		delete(j.unsure, key)
		j.noteWritten(key)
		return
	}
	if j.unsure == nil {
		j.unsure = map[string]bool{}
	}
	j.unsure[key] = true
}

// writeTask writes task r's record as next in one transaction, with the change to the counts, at
// the record's version ifVersion if not 0 (a request's If-Match). It answers as writeIf does; on
// success the job manager holds next.
func (j *jobManager) writeTask(r *taskRecord, next taskRecord, ifVersion int64) *batch.Error {
	if ifVersion == 0 {
		ifVersion = store.AnyVersion
	}
	key := batch.IDKey(r.Task.ID)
	err := j.st.Update(context.Background(), func(tx store.Tx) error {
		var d batch.TaskCountsResult
		if err := j.countChange(tx, &d, key, r, &next.Task); err != nil {
			return err
		}
		if err := putJSON(tx, tableTasks, j.taskKey(next.Task.ID), next, ifVersion); err != nil {
			return err
		}
		return j.keepCounts(tx, d)
	})
	j.wrote(key, err)
	if e := writeAnswer(err); e != nil {
		return e
	}
	*r = next
	return nil
}

// loadCounts checks, after a load, the counts record against the tasks loaded (which the store
// holds as loaded: nothing else writes them), and writes it if it is missing or wrong. It reports
// false if the store failed.
func (j *jobManager) loadCounts(ctx *actor.Context, recs []*taskRecord, kept *jobCountsRecord) bool {
	want := jobCountsRecord{Incarnation: j.inc}
	for _, r := range recs {
		want.Counts.Add(r.Task)
	}
	if kept != nil && *kept == want {
		return true
	}
	if kept != nil {
		ctx.Log("job manager: the task counts kept did not match the tasks; counted again", "job", j.jobID, "kept", kept.Counts, "counted", want.Counts)
	}
	err := j.st.Update(context.Background(), func(tx store.Tx) error {
		return putJSON(tx, tableJobCounts, batch.IDKey(j.jobID), want, store.AnyVersion)
	})
	return err == nil
}
