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

// Incarnations: the ids users give jobs, tasks and pools can be deleted and used again, so they do
// not name lives. Every job and pool also has an incarnation, a number the account draws from a
// counter in the store (tableSeq) that only grows, kept in its record; every task has its Seq,
// which its job manager draws from a counter in the job's record (jobRecord.NextSeq) that only
// grows within the job's life; node ids ("<pool>-<n>") are never used twice, because a deleted
// pool leaves its next node number behind (tablePoolTombs) for the next pool of its id.
//
// What names an attempt carries the incarnations: attempt ids (attemptID), the attempt records
// keyed by them, the agent's commands and results, the job manager's and pool manager's actor
// ids (jobActor, poolActor), and through those the timers they set. A message about another life
// reaches either a halted actor (and is dropped) or an actor of the current life that finds no
// attempt of that id; either way it changes nothing, and a node session acknowledges to its agent
// every result whose attempt it no longer needs (see nodeSession.killed).
//
// Records written before incarnations existed have incarnation 0; their actor and attempt ids
// keep the earlier form, so that a service upgraded while tasks run recognises them.

const (
	// tableSeq holds the account's incarnation counter (key seqIncarnation, a JSON number).
	tableSeq       = "seq"
	seqIncarnation = "incarnation"
	// tablePoolTombs keeps, for every pool id that was deleted (key: IDKey(pool)), the next node
	// number its pool had, so that the next pool of that id numbers its nodes on from there.
	tablePoolTombs = "pooltombs"
)

// nextIncarnation draws an incarnation in tx: one more than the last drawn, or than floor.
// The counter is written in the same transaction as the record that carries the number, so a
// number is never given twice, even when the store reports a commit failed that happened.
func nextIncarnation(tx store.Tx, floor int64) (int64, error) {
	last, err := getInt(tx, tableSeq, seqIncarnation)
	if err != nil {
		return 0, err
	}
	n := max(last, floor) + 1
	return n, putJSON(tx, tableSeq, seqIncarnation, n, store.AnyVersion)
}

// getInt reads a JSON number record; a missing record is 0.
func getInt(tx store.Tx, table, key string) (int64, error) {
	r, err := tx.Get(table, key)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var n int64
	if err := json.Unmarshal(r.Value, &n); err != nil {
		return 0, fmt.Errorf("decode %s/%s: %w", table, key, err)
	}
	return n, nil
}

// jobActor is the actor of one life of a job's manager.
func jobActor(jobID string, inc int64) actor.ID {
	if inc == 0 {
		return actor.ID("job/" + jobID)
	}
	return actor.ID(fmt.Sprintf("job/%s#%d", jobID, inc))
}

// poolActor is the actor of one life of a pool's manager.
func poolActor(poolID string, inc int64) actor.ID {
	if inc == 0 {
		return actor.ID("pool/" + batch.IDKey(poolID))
	}
	return actor.ID(fmt.Sprintf("pool/%s#%d", batch.IDKey(poolID), inc))
}

// attemptID names attempt n of the task with sequence number seq in life inc of a job. Attempt
// ids are opaque to agents; this form keeps them readable in logs and task directories.
func attemptID(jobID string, inc int64, taskID string, seq int64, n int) string {
	if inc == 0 {
		return fmt.Sprintf("%s/%s/%d", jobID, taskID, n)
	}
	return fmt.Sprintf("%s/%s/%d@%d.%d", jobID, taskID, n, inc, seq)
}

// getNextNode reads the node number a deleted pool of this id left behind (0 if none).
func getNextNode(tx store.Tx, poolKey string) (int, error) {
	n, err := getInt(tx, tablePoolTombs, poolKey)
	return int(n), err
}

// readPoolRecord reads a pool's record as stored; a missing one is store.ErrNotFound.
func readPoolRecord(st store.Store, poolID string) (poolRecord, error) {
	var pr poolRecord
	err := st.View(context.Background(), func(tx store.Tx) error {
		return getJSON(tx, tablePools, batch.IDKey(poolID), &pr)
	})
	return pr, err
}

// readJobRecord reads a job's record as stored; a missing one is store.ErrNotFound.
func readJobRecord(st store.Store, jobID string) (jobRecord, error) {
	var jr jobRecord
	err := st.View(context.Background(), func(tx store.Tx) error {
		return getJSON(tx, tableJobs, batch.IDKey(jobID), &jr)
	})
	return jr, err
}

// readScheduleRecord reads a job schedule's record as stored; a missing one is
// store.ErrNotFound.
func readScheduleRecord(st store.Store, scheduleID string) (scheduleRecord, error) {
	var sr scheduleRecord
	err := st.View(context.Background(), func(tx store.Tx) error {
		return getJSON(tx, tableSchedules, batch.IDKey(scheduleID), &sr)
	})
	return sr, err
}

// getJSON reads a record into v.
func getJSON(tx store.Tx, table, key string, v any) error {
	r, err := tx.Get(table, key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(r.Value, v); err != nil {
		return fmt.Errorf("decode %s/%s: %w", table, key, err)
	}
	return nil
}

// attemptIsCurrent reports whether an attempt record is its task's current attempt: the job's
// life and the task's name it. The job manager writes the task and the attempt record together,
// so an attempt record that is not current is stale.
func attemptIsCurrent(tx store.Tx, a attemptRef) (bool, error) {
	var jr jobRecord
	switch err := getJSON(tx, tableJobs, batch.IDKey(a.JobID), &jr); {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	if jr.Incarnation != a.JobInc {
		return false, nil
	}
	var tr taskRecord
	switch err := getJSON(tx, tableTasks, batch.IDKey(a.JobID)+"/"+batch.IDKey(a.TaskID), &tr); {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return tr.Attempt.AttemptID == a.AttemptID, nil
}
