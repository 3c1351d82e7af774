package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"corral/batch"
	"corral/store"
)

// Reads: the API's GET and LIST requests read the store directly. The store is the source of
// truth and every change the service acknowledged is in it, so a read after a write sees the
// write. These functions are the only code outside the actors that knows how records are kept.

// More tables, beside those in job.go.
const (
	tablePools = "pools" // key: IDKey(pool)
	tableNodes = "nodes" // key: pool + "/" + node
	// tableBoots counts each pool manager's incarnations (key: IDKey(pool)); request ids carry
	// the count, so that an answer meant for an earlier incarnation is never taken for one of
	// the current one. It is a record of its own so that the pool's ETag changes only when the
	// pool does.
	tableBoots = "boots"
	// tableNodeRuns counts the attempts that ended on each node with a result (key: IDKey(pool) +
	// "/" + node): a nodeRuns, written by the job managers, deleted with the node's record.
	tableNodeRuns = "noderuns"
)

// nodeRuns is a node's task counters: attempts that ended on it with a result (Azure's
// totalTasksRun), and those that exited 0 (totalTasksSucceeded).
type nodeRuns struct {
	Run       int32 `json:"run"`
	Succeeded int32 `json:"succeeded"`
}

// poolRecord is a pool as the store keeps it.
type poolRecord struct {
	Pool batch.Pool `json:"pool"`
	// Incarnation is the pool's life (see incarnation.go); 0 for pools added before lives were
	// counted.
	Incarnation int64 `json:"incarnation,omitempty"`
	// NextNode numbers the pool's next node ("<pool>-<n>"), so that a node id is never used twice.
	NextNode int `json:"nextNode,omitempty"`
	// History is the pool's resize and autoscale history, oldest first, at most
	// batch.MaxPoolHistory entries.
	History []batch.PoolEvent `json:"history,omitempty"`
	// Deallocation is the nodeDeallocationOption of the latest resize (Pool - Resize, Pool -
	// Remove Nodes, or an autoscale formula's $NodeDeallocationOption): what happens to the
	// running tasks of the nodes it removes. "" means requeue.
	Deallocation batch.NodeDeallocationOption `json:"deallocation,omitempty"`
}

// errNotFound is the store's; reads turn it into a *batch.Error with Azure's code.
var errNotFound = store.ErrNotFound

// errJobMissing marks a task read that failed because the job does not exist.
var errJobMissing = errors.New("job")

// etag renders a record version as an Azure-style ETag.
func etag(version int64) string { return fmt.Sprintf("0x%X", version) }

func notFound(code, what string) *batch.Error {
	return &batch.Error{Code: code, Message: "The specified " + what + " does not exist."}
}

// readPool reads a pool's record, with the pool's ETag set; a missing pool is PoolNotFound.
func readPool(ctx context.Context, st store.Store, poolID string) (poolRecord, error) {
	var pr poolRecord
	err := st.View(ctx, func(tx store.Tx) error {
		r, err := tx.Get(tablePools, batch.IDKey(poolID))
		if err != nil {
			return err
		}
		if err := json.Unmarshal(r.Value, &pr); err != nil {
			return err
		}
		pr.Pool.ETag = etag(r.Version)
		return nil
	})
	if errors.Is(err, errNotFound) {
		return pr, notFound("PoolNotFound", "pool")
	}
	return pr, err
}

// PoolHistory reads a pool's resize and autoscale history, oldest first (a Corral extension).
func PoolHistory(ctx context.Context, st store.Store, poolID string) ([]batch.PoolEvent, error) {
	pr, err := readPool(ctx, st, poolID)
	return pr.History, err
}

// GetPool reads a pool.
func GetPool(ctx context.Context, st store.Store, poolID string) (batch.Pool, error) {
	pr, err := readPool(ctx, st, poolID)
	return pr.Pool, err
}

// GetPoolLife reads a pool and its life (incarnation), for a request that must act on the life
// whose record it checked (DeletePool.Inc): a pool added again since under the id is another.
func GetPoolLife(ctx context.Context, st store.Store, poolID string) (batch.Pool, int64, error) {
	pr, err := readPool(ctx, st, poolID)
	return pr.Pool, pr.Incarnation, err
}

// ListPools lists pools in id order, at most limit (0: all) after the pool id after.
func ListPools(ctx context.Context, st store.Store, after string, limit int) ([]batch.Pool, error) {
	return listEntities(ctx, st, tablePools, after, limit, func(r poolRecord, version int64) batch.Pool {
		r.Pool.ETag = etag(version)
		return r.Pool
	})
}

// ListNodes lists a pool's nodes in id order, as readNodes shows them.
func ListNodes(ctx context.Context, st store.Store, poolID string) ([]batch.Node, error) {
	var out []batch.Node
	err := st.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(tablePools, batch.IDKey(poolID)); err != nil {
			return err
		}
		var err error
		out, err = readNodes(tx, poolID)
		return err
	})
	if errors.Is(err, errNotFound) {
		return nil, notFound("PoolNotFound", "pool")
	}
	return out, err
}

// readNodes reads a pool's nodes in id order, as the API shows them: each node's record, with
// what runs on it now, from the attempts recorded running on it (runningTasksCount,
// runningTaskSlotsCount, recentTasks, and state running for an idle node that runs any, offline
// for one that runs none and whose scheduling is disabled), the attempts that ended on it
// (totalTasksRun, totalTasksSucceeded), and its start task (startTask, startTaskInfo, and the
// states waitingforstarttask and starttaskfailed).
func readNodes(tx store.Tx, poolID string) ([]batch.Node, error) {
	rs, err := tx.List(tableNodes, batch.IDKey(poolID)+"/", "", 0)
	if err != nil {
		return nil, fmt.Errorf("list nodes of pool %s: %w", poolID, err)
	}
	nodes := make([]batch.Node, 0, len(rs))
	byID := make(map[string]int, len(rs))
	for _, r := range rs {
		var n batch.Node
		if err := json.Unmarshal(r.Value, &n); err != nil {
			return nil, fmt.Errorf("decode node %s: %w", r.Key, err)
		}
		byID[n.ID] = len(nodes)
		nodes = append(nodes, n)
	}
	attempts, err := tx.List(tableAttempts, attemptsOf(poolID), "", 0)
	if err != nil {
		return nil, fmt.Errorf("list attempts on pool %s: %w", poolID, err)
	}
	for _, r := range attempts {
		node, _, _ := strings.Cut(strings.TrimPrefix(r.Key, attemptsOf(poolID)), "/")
		i, ok := byID[node]
		if !ok {
			continue // a node that has left the pool
		}
		var a attemptRef
		if err := json.Unmarshal(r.Value, &a); err != nil {
			return nil, fmt.Errorf("decode attempt %s: %w", r.Key, err)
		}
		if a.Queued {
			continue // on the node's queue: not running yet
		}
		n := &nodes[i]
		n.RunningTasksCount++
		n.RunningTaskSlotsCount += int32(a.Slots)
		n.RecentTasks = append(n.RecentTasks, batch.TaskInformation{JobID: a.JobID, TaskID: a.TaskID, TaskState: batch.TaskRunning})
		if n.State == batch.NodeIdle {
			n.State = batch.NodeRunning
		}
	}
	for i := range nodes {
		// Azure's offline: the node runs nothing and its scheduling is disabled.
		if nodes[i].State == batch.NodeIdle && nodes[i].SchedulingState == batch.SchedulingDisabled {
			nodes[i].State = batch.NodeOffline
		}
	}
	runs, err := tx.List(tableNodeRuns, batch.IDKey(poolID)+"/", "", 0)
	if err != nil {
		return nil, fmt.Errorf("list task counters of pool %s: %w", poolID, err)
	}
	for _, r := range runs {
		i, ok := byID[strings.TrimPrefix(r.Key, batch.IDKey(poolID)+"/")]
		if !ok {
			continue
		}
		var c nodeRuns
		if err := json.Unmarshal(r.Value, &c); err != nil {
			return nil, fmt.Errorf("decode task counters %s: %w", r.Key, err)
		}
		nodes[i].TotalTasksRun, nodes[i].TotalTasksSucceeded = c.Run, c.Succeeded
	}
	starts, err := tx.List(tableStartTasks, batch.IDKey(poolID)+"/", "", 0)
	if err != nil {
		return nil, fmt.Errorf("list start tasks of pool %s: %w", poolID, err)
	}
	for _, r := range starts {
		i, ok := byID[strings.TrimPrefix(r.Key, batch.IDKey(poolID)+"/")]
		if !ok {
			continue
		}
		var rec startTaskRecord
		if err := json.Unmarshal(r.Value, &rec); err != nil {
			return nil, fmt.Errorf("decode start task %s: %w", r.Key, err)
		}
		n := &nodes[i]
		n.StartTask = &rec.Spec
		if rec.Attempt != "" {
			n.StartTaskInfo = &rec.Info
		}
		n.State = batch.ShownState(n.State, n.StartTask, n.StartTaskInfo)
	}
	return nodes, nil
}

// GetJob reads a job.
func GetJob(ctx context.Context, st store.Store, jobID string) (batch.Job, error) {
	j, _, err := GetJobLife(ctx, st, jobID)
	return j, err
}

// GetJobLife reads a job and its life (incarnation), as GetPoolLife does for pools.
func GetJobLife(ctx context.Context, st store.Store, jobID string) (batch.Job, int64, error) {
	var j batch.Job
	var inc int64
	err := st.View(ctx, func(tx store.Tx) error {
		r, err := tx.Get(tableJobs, batch.IDKey(jobID))
		if err != nil {
			return err
		}
		var jr jobRecord
		if err := json.Unmarshal(r.Value, &jr); err != nil {
			return err
		}
		j, inc = jr.Job, jr.Incarnation
		j.ETag = etag(r.Version)
		return nil
	})
	if errors.Is(err, errNotFound) {
		return j, 0, notFound("JobNotFound", "job")
	}
	return j, inc, err
}

// ListJobs lists jobs in id order, at most limit (0: all) after the job id after.
func ListJobs(ctx context.Context, st store.Store, after string, limit int) ([]batch.Job, error) {
	return listEntities(ctx, st, tableJobs, after, limit, func(r jobRecord, version int64) batch.Job {
		r.Job.ETag = etag(version)
		return r.Job
	})
}

// GetTask reads a task.
func GetTask(ctx context.Context, st store.Store, jobID, taskID string) (batch.Task, error) {
	var t batch.Task
	err := st.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(tableJobs, batch.IDKey(jobID)); err != nil {
			return fmt.Errorf("%w: %w", errJobMissing, err)
		}
		r, err := tx.Get(tableTasks, batch.IDKey(jobID)+"/"+batch.IDKey(taskID))
		if err != nil {
			return err
		}
		var tr taskRecord
		if err := json.Unmarshal(r.Value, &tr); err != nil {
			return err
		}
		t = tr.view(r.Version)
		return nil
	})
	return t, tasksNotFound(err)
}

// ListTasks lists a job's tasks in id order, at most limit (0: all) after the task id after.
func ListTasks(ctx context.Context, st store.Store, jobID, after string, limit int) ([]batch.Task, error) {
	var out []batch.Task
	err := st.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(tableJobs, batch.IDKey(jobID)); err != nil {
			return fmt.Errorf("%w: %w", errJobMissing, err)
		}
		prefix := batch.IDKey(jobID) + "/"
		start := ""
		if after != "" {
			start = prefix + batch.IDKey(after)
		}
		rs, err := tx.List(tableTasks, prefix, start, limit)
		if err != nil {
			return err
		}
		for _, r := range rs {
			var tr taskRecord
			if err := json.Unmarshal(r.Value, &tr); err != nil {
				return err
			}
			out = append(out, tr.view(r.Version))
		}
		return nil
	})
	return out, tasksNotFound(err)
}

// view is the task as the API shows it, at the record's version: with its ETag, and the node
// it waits on if it is on a node's queue (see queue.go).
func (tr taskRecord) view(version int64) batch.Task {
	t := tr.Task
	t.ETag = etag(version)
	if t.ExecutionInfo == nil {
		// A task that has not run yet may be written without its (empty) executionInfo: see
		// neverRan. The API shows one on every task, as Azure does.
		t.ExecutionInfo = &batch.TaskExecutionInfo{}
	}
	if t.State == batch.TaskActive && tr.NodeID != "" {
		t.QueuedOn = tr.NodeID
	}
	return t
}

// tasksNotFound turns a missing job or task into Azure's error.
func tasksNotFound(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errJobMissing) && errors.Is(err, errNotFound):
		return notFound("JobNotFound", "job")
	case errors.Is(err, errNotFound):
		return notFound("TaskNotFound", "task")
	}
	return err
}

// keyAfter turns an id into the store key a listing starts after.
func keyAfter(id string) string {
	if id == "" {
		return ""
	}
	return batch.IDKey(id)
}

// readSchedule reads a job schedule's record, with the schedule's ETag set; a missing schedule is
// JobScheduleNotFound.
func readSchedule(ctx context.Context, st store.Store, scheduleID string) (scheduleRecord, error) {
	var sr scheduleRecord
	err := st.View(ctx, func(tx store.Tx) error {
		r, err := tx.Get(tableSchedules, batch.IDKey(scheduleID))
		if err != nil {
			return err
		}
		if err := json.Unmarshal(r.Value, &sr); err != nil {
			return err
		}
		sr.Schedule.ETag = etag(r.Version)
		return nil
	})
	if errors.Is(err, errNotFound) {
		return sr, notFound(batch.CodeJobScheduleNotFound, "job schedule")
	}
	return sr, err
}

// GetJobSchedule reads a job schedule.
func GetJobSchedule(ctx context.Context, st store.Store, scheduleID string) (batch.JobSchedule, error) {
	sr, err := readSchedule(ctx, st, scheduleID)
	return sr.Schedule, err
}

// GetJobScheduleLife reads a job schedule and its life (incarnation), as GetPoolLife does for
// pools.
func GetJobScheduleLife(ctx context.Context, st store.Store, scheduleID string) (batch.JobSchedule, int64, error) {
	sr, err := readSchedule(ctx, st, scheduleID)
	return sr.Schedule, sr.Incarnation, err
}

// ListJobSchedules lists job schedules in id order, at most limit (0: all) after the schedule id
// after.
func ListJobSchedules(ctx context.Context, st store.Store, after string, limit int) ([]batch.JobSchedule, error) {
	return listEntities(ctx, st, tableSchedules, after, limit, func(r scheduleRecord, version int64) batch.JobSchedule {
		r.Schedule.ETag = etag(version)
		return r.Schedule
	})
}

// ListJobsFromSchedule lists the jobs a job schedule created that exist (Job - List From Job
// Schedule), in the order of their ids' keys, at most limit (0: all) after the job id after; a
// missing schedule is JobScheduleNotFound.
func ListJobsFromSchedule(ctx context.Context, st store.Store, scheduleID, after string, limit int) ([]batch.Job, error) {
	var out []batch.Job
	err := st.View(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(tableSchedules, batch.IDKey(scheduleID)); err != nil {
			return err
		}
		rs, err := tx.List(tableJobs, scheduleJobsPrefix(scheduleID), keyAfter(after), limit)
		if err != nil {
			return err
		}
		for _, r := range rs {
			var jr jobRecord
			if err := json.Unmarshal(r.Value, &jr); err != nil {
				return err
			}
			jr.Job.ETag = etag(r.Version)
			out = append(out, jr.Job)
		}
		return nil
	})
	if errors.Is(err, errNotFound) {
		return nil, notFound(batch.CodeJobScheduleNotFound, "job schedule")
	}
	return out, err
}

// listEntities lists the records of a table of top-level entities (pools, jobs, job schedules)
// in key order, at most limit (0: all) after the id after, each decoded as R and turned into
// what the API shows by entity, given the record's version.
func listEntities[R, E any](ctx context.Context, st store.Store, table, after string, limit int, entity func(r R, version int64) E) ([]E, error) {
	var out []E
	err := st.View(ctx, func(tx store.Tx) error {
		out = out[:0]
		rs, err := tx.List(table, "", keyAfter(after), limit)
		if err != nil {
			return err
		}
		for _, r := range rs {
			var rec R
			if err := json.Unmarshal(r.Value, &rec); err != nil {
				return err
			}
			out = append(out, entity(rec, r.Version))
		}
		return nil
	})
	return out, err
}
