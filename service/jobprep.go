package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"corral/actor"
	"corral/agent/protocol"
	"corral/batch"
	"corral/store"
)

// Job preparation and release tasks. A job's preparation task runs on a node before the first of
// the job's tasks that the node runs. The task's start carries the job's preparation and release
// tasks (jobPrepSpec); the node's session, finding no record of the preparation task for that job
// on the node, writes one and has the agent run it, as an attempt of its own (ids start with
// prepAttemptPrefix). With waitForSuccess (the default) the task's attempt is parked on the node,
// holding its slots, until the preparation task succeeds; then it starts. A non-zero exit is
// retried up to the preparation task's maxTaskRetryCount; once it has failed for good, the parked
// attempts are requeued (not counted as retries) and the scheduler places no task of the job on
// the node again (Azure: the node is ineligible for the job until it is reimaged). Without
// waitForSuccess the task starts while the preparation task runs, whatever its outcome. A node
// whose agent restarts afresh (a reboot or a reimage: a new incarnation) runs the preparation
// task again before the job's next task there (Azure's rerunOnNodeRebootAfterSuccess, true).
//
// When the job ends (it completes, is terminated or deleted), every node that ran its preparation
// task runs its release task, once the job's attempts there have ended (they are killed at
// termination). The job manager tells the nodes' sessions (jobEnded, through the scheduler, as
// kills go); after a restart of the service, the pool manager finds the ended jobs when it loads.
// A deleted job's records go once their release has run. Corral shows the job completed at
// once; Azure keeps it terminating until the release tasks have run.
//
// The records (tableJobPreps) are what Job - List Preparation And Release Task Status shows.

// tableJobPreps holds a record per job life and node (key: jobPrepKey), written by the node's
// session.
const tableJobPreps = "jobpreps"

// The prefixes of the attempt ids of preparation and release tasks: no attempt of a job's task
// has an id that starts with '@' (nor has a start task's: protocol.StartTaskAttemptPrefix).
const (
	prepAttemptPrefix    = "@prep/"
	releaseAttemptPrefix = "@release/"
)

// jobPrepSpec is what a task's start carries of its job's preparation and release tasks.
type jobPrepSpec struct {
	JobID   string                   `json:"jobId"`
	JobInc  int64                    `json:"jobInc"`
	Prep    batch.JobPreparationTask `json:"prep"`
	Release *batch.JobReleaseTask    `json:"release,omitempty"`
	// Env is the job's commonEnvironmentSettings, which both tasks get before their own.
	Env []batch.EnvironmentSetting `json:"env,omitempty"`
}

// jobPrepRecord is the record of a job's preparation and release tasks on one node.
type jobPrepRecord struct {
	PoolID string      `json:"poolId"`
	NodeID string      `json:"nodeId"`
	Spec   jobPrepSpec `json:"spec"`
	// Run counts the node's runs of the preparation task, Attempt names the current run's latest
	// attempt, and AgentInc is the incarnation of the agent it was asked of.
	Run      int                                   `json:"run"`
	Attempt  string                                `json:"attempt"`
	AgentInc string                                `json:"agentInc,omitempty"`
	Prep     batch.JobPreparationTaskExecutionInfo `json:"prep"`
	// Ended says that the job has ended: the release task runs once the job's attempts on the
	// node have ended. Deleted says that the job is deleted: the record goes once the release
	// is done.
	Ended          bool                               `json:"ended,omitempty"`
	Deleted        bool                               `json:"deleted,omitempty"`
	ReleaseAttempt string                             `json:"releaseAttempt,omitempty"`
	Release        *batch.JobReleaseTaskExecutionInfo `json:"release,omitempty"`
}

// jobEnded tells a node's session (through the pool's scheduler, see nodeMsg) that a job has
// ended, or is deleted: the node runs the job's release task, if it ran its preparation task.
type jobEnded struct {
	JobID   string
	JobInc  int64
	Deleted bool
}

// nodeMsgFor asks the account to pass Msg on to the scheduler of pool PoolID, if that pool
// exists (a job's end, for the nodes of a pool the job ran on).
type nodeMsgFor struct {
	PoolID string
	Msg    nodeMsg
}

// JobPrepShown is announced by a node's session whenever it has recorded a job's preparation or
// release task on its node.
type JobPrepShown struct {
	PoolID, NodeID, JobID string
	JobInc                int64
	Attempt               string // the preparation task's latest attempt
	Run, Tries            int
	Waits                 bool
	Succeeded, Failed     bool
	Released              bool // the release task has completed (or there is none and the job ended)
	ReleaseRunning        bool
	Gone                  bool // the record is deleted (the job is deleted and released)
}

// prepJobPrefix is the prefix of the keys of one job life's records.
func prepJobPrefix(jobID string, inc int64) string {
	return fmt.Sprintf("%s#%d/", batch.IDKey(jobID), inc)
}

// jobPrepKey is the key of a job life's record on a node.
func jobPrepKey(jobID string, inc int64, poolID, nodeID string) string {
	return prepJobPrefix(jobID, inc) + batch.IDKey(poolID) + "/" + nodeID
}

// isNodeAttempt reports whether an attempt id is of a start, preparation or release task rather
// than of a job's task.
func isNodeAttempt(id string) bool { return strings.HasPrefix(id, "@") }

// prepAttemptID names try (from 0) of run of a job's preparation task on a node.
func prepAttemptID(nodeID, jobID string, inc int64, run, try int) string {
	return fmt.Sprintf("%s%s/%s#%d/%d.%d", prepAttemptPrefix, nodeID, batch.IDKey(jobID), inc, run, try)
}

// releaseAttemptID names the release task's attempt of run of a job's preparation on a node.
func releaseAttemptID(nodeID, jobID string, inc int64, run int) string {
	return fmt.Sprintf("%s%s/%s#%d/%d", releaseAttemptPrefix, nodeID, batch.IDKey(jobID), inc, run)
}

// prepOf returns the job's preparation and release tasks for a task's start, or nil if it has
// no preparation task.
func prepOf(j jobRecord, jobID string, inc int64) *jobPrepSpec {
	if j.Job.JobPreparationTask == nil {
		return nil
	}
	return &jobPrepSpec{JobID: jobID, JobInc: inc, Prep: *j.Job.JobPreparationTask, Release: j.Job.JobReleaseTask,
		Env: j.Job.CommonEnvironmentSettings}
}

// prepGate decides what becomes of a task's attempt whose job has a preparation task: it starts
// now (true), or it is parked until the preparation task succeeds, or requeued because the
// preparation task failed for good on this node (false).
func (n *nodeSession) prepGate(ctx *actor.Context, s startAttempt) bool {
	p := s.Prep
	if p == nil {
		return true
	}
	key := jobKey(p.JobID, p.JobInc)
	rec := n.preps[key]
	if n.endedJobs[key] || (rec != nil && rec.Ended) {
		// Placed before the job ended; its manager has recorded its end, and forgets it.
		n.giveUp(ctx, s.Ref, false)
		ctx.Send(n.sched, slotsFreed{NodeID: n.nodeID, Slots: s.Ref.Slots})
		return false
	}
	if rec == nil || (rec.AgentInc != n.agentInc && rec.Prep.State != batch.JobPrepTaskRunning) {
		// Never run here, or run before the node restarted afresh.
		rec = n.runPrep(ctx, *p, rec)
	}
	switch {
	case !p.Prep.Waits():
		return true
	case rec != nil && rec.Prep.Succeeded():
		return true
	case rec != nil && rec.Prep.Failed():
		n.excludeJob(ctx, p.JobID, p.JobInc)
		n.giveUp(ctx, s.Ref, false)
		ctx.Send(n.sched, slotsFreed{NodeID: n.nodeID, Slots: s.Ref.Slots})
		return false
	}
	n.parked[s.Ref.AttemptID] = s
	return false
}

// runPrep starts a new run of a job's preparation task on the node (prev: the last run's record,
// or nil). If the store fails, it returns the previous record and a later start tries again.
func (n *nodeSession) runPrep(ctx *actor.Context, p jobPrepSpec, prev *jobPrepRecord) *jobPrepRecord {
	next := &jobPrepRecord{PoolID: n.poolID, NodeID: n.nodeID, Spec: p, AgentInc: n.agentInc}
	if prev != nil {
		next.Run = prev.Run
	}
	next.Run++
	next.Attempt = prepAttemptID(n.nodeID, p.JobID, p.JobInc, next.Run, 0)
	next.Prep = batch.JobPreparationTaskExecutionInfo{State: batch.JobPrepTaskRunning, StartTime: ctx.Now()}
	if !n.putPrep(ctx, next) {
		return prev
	}
	ctx.Send(n.agent, n.prepCommand(next))
	return next
}

// prepCommand is the agent command for the current attempt of a preparation task run.
func (n *nodeSession) prepCommand(r *jobPrepRecord) protocol.StartTask {
	p := r.Spec.Prep
	var wall time.Duration
	if c := p.Constraints; c != nil && c.MaxWallClockTime != nil && c.MaxWallClockTime.Std() != batch.Infinite {
		wall = c.MaxWallClockTime.Std()
	}
	return protocol.StartTask{AttemptID: r.Attempt, JobID: r.Spec.JobID, TaskID: p.TaskID(), PoolID: n.poolID,
		CommandLine: p.CommandLine, Env: prepEnv(r.Spec.Env, p.EnvironmentSettings), MaxWallClock: wall, ResourceFiles: p.ResourceFiles,
		JobPrepTaskID: p.TaskID()}
}

// releaseCommand is the agent command for a release task run.
func (n *nodeSession) releaseCommand(r *jobPrepRecord) protocol.StartTask {
	rel := r.Spec.Release
	return protocol.StartTask{AttemptID: r.ReleaseAttempt, JobID: r.Spec.JobID, TaskID: rel.TaskID(), PoolID: n.poolID,
		CommandLine: rel.CommandLine, Env: prepEnv(r.Spec.Env, rel.EnvironmentSettings), MaxWallClock: rel.WallClock(),
		ResourceFiles: rel.ResourceFiles, JobPrepTaskID: r.Spec.Prep.TaskID()}
}

// prepEnv is a preparation or release task's environment: the job's common settings, then its own.
func prepEnv(common, own []batch.EnvironmentSetting) []protocol.EnvSetting {
	env := make([]protocol.EnvSetting, 0, len(common)+len(own))
	for _, e := range append(append([]batch.EnvironmentSetting{}, common...), own...) {
		env = append(env, protocol.EnvSetting{Name: e.Name, Value: e.Value})
	}
	return env
}

// recordFor finds the record a preparation or release attempt belongs to.
func (n *nodeSession) recordFor(id string) *jobPrepRecord {
	for _, key := range sortedKeys(n.preps) {
		if r := n.preps[key]; r.Attempt == id || (r.ReleaseAttempt != "" && r.ReleaseAttempt == id) {
			return r
		}
	}
	return nil
}

// nodeTaskResult takes the result of a preparation or release attempt. A result of an earlier
// attempt, or one recorded already, is only acknowledged; if the store fails, nothing changes and
// the agent repeats the result.
func (n *nodeSession) nodeTaskResult(ctx *actor.Context, res protocol.TaskResult) {
	n.lastHeard = ctx.Now()
	r := n.recordFor(res.AttemptID)
	switch {
	case r != nil && r.Attempt == res.AttemptID && r.Prep.State == batch.JobPrepTaskRunning:
		n.prepResult(ctx, r, res)
	case r != nil && r.ReleaseAttempt == res.AttemptID && r.Release != nil && r.Release.State == batch.JobPrepTaskRunning:
		n.releaseResult(ctx, r, res)
	default:
		ctx.Send(n.agent, protocol.ResultAck{AttemptID: res.AttemptID})
	}
}

// prepResult records the end of a preparation attempt: success completes the run and starts the
// attempts parked for it; a non-zero exit is retried while maxTaskRetryCount allows; otherwise
// (or if the process could not start) the run fails, the parked attempts are requeued and the
// scheduler keeps the job's tasks off the node.
func (n *nodeSession) prepResult(ctx *actor.Context, r *jobPrepRecord, res protocol.TaskResult) {
	next := *r
	info := next.Prep
	if !res.StartTime.IsZero() {
		info.StartTime = res.StartTime
	}
	exit := exitFromResult(res)
	ok := !res.Killed && exit.Code != nil && *exit.Code == 0
	switch {
	case ok:
		info.State, info.Result, info.ExitCode, info.FailureInfo = batch.JobPrepTaskCompleted, batch.ResultSuccess, exit.Code, nil
		info.EndTime = ctx.Now()
	case exit.Condition != batch.ExitPreProcessingError && next.Spec.Prep.MayRetry(int(info.RetryCount)):
		info.RetryCount++
		info.StartTime, info.LastRetryTime = ctx.Now(), ctx.Now()
		info.EndTime, info.ExitCode, info.FailureInfo, info.Result = time.Time{}, nil, nil, ""
		next.Attempt = prepAttemptID(n.nodeID, next.Spec.JobID, next.Spec.JobInc, next.Run, int(info.RetryCount))
	default:
		info.State, info.Result, info.ExitCode = batch.JobPrepTaskCompleted, batch.ResultFailure, exit.Code
		info.EndTime = ctx.Now()
		info.FailureInfo = exit.FailureInfo
		if info.FailureInfo == nil {
			info.FailureInfo = &batch.FailureInfo{Category: batch.UserError, Code: batch.FailureCodeExitCode,
				Message: "The task exited with an exit code representing a failure"}
		}
	}
	next.Prep = info
	if !n.putPrep(ctx, &next) {
		return
	}
	ctx.Send(n.agent, protocol.ResultAck{AttemptID: res.AttemptID})
	if info.State == batch.JobPrepTaskRunning {
		ctx.Send(n.agent, n.prepCommand(&next))
		return
	}
	failed := info.Failed() && next.Spec.Prep.Waits()
	if failed {
		n.excludeJob(ctx, next.Spec.JobID, next.Spec.JobInc)
	}
	for _, id := range sortedKeys(n.parked) {
		s := n.parked[id]
		if s.Prep == nil || s.Prep.JobID != next.Spec.JobID || s.Prep.JobInc != next.Spec.JobInc {
			continue
		}
		delete(n.parked, id)
		if failed {
			n.giveUp(ctx, s.Ref, false)
			ctx.Send(n.sched, slotsFreed{NodeID: n.nodeID, Slots: s.Ref.Slots})
			continue
		}
		n.launch(ctx, s)
	}
	n.stepReleases(ctx)
}

// excludeJob tells the scheduler to place no more tasks of a job life on this node.
func (n *nodeSession) excludeJob(ctx *actor.Context, jobID string, inc int64) {
	ctx.Send(n.sched, excludeNode{JobID: jobID, JobInc: inc, NodeID: n.nodeID})
}

// ended takes a job's end: its record on the node (if the node ran its preparation task) is marked
// so, and the release task runs when the job's attempts here have ended.
func (n *nodeSession) ended(ctx *actor.Context, e jobEnded) {
	n.endedJobs[jobKey(e.JobID, e.JobInc)] = true
	r := n.preps[jobKey(e.JobID, e.JobInc)]
	if r == nil || (r.Ended && r.Deleted == e.Deleted) || (r.Deleted && !e.Deleted) {
		return
	}
	next := *r
	next.Ended, next.Deleted = true, e.Deleted
	if !n.putPrep(ctx, &next) {
		ctx.StartTimer(time.Second, e) // the store failed: again later
		return
	}
	n.stepReleases(ctx)
}

// stepReleases starts the release task of every ended job that has no attempt left on the node,
// and deletes the records of deleted jobs whose release is done.
func (n *nodeSession) stepReleases(ctx *actor.Context) {
	if ctx.State() != "Ready" {
		return
	}
	for _, key := range sortedKeys(n.preps) {
		r := n.preps[key]
		if !r.Ended || n.jobBusy(r.Spec.JobID, r.Spec.JobInc) {
			continue
		}
		switch {
		case r.Release == nil && r.Spec.Release != nil && r.Prep.State != batch.JobPrepTaskRunning:
			next := *r
			next.ReleaseAttempt = releaseAttemptID(n.nodeID, r.Spec.JobID, r.Spec.JobInc, r.Run)
			next.Release = &batch.JobReleaseTaskExecutionInfo{State: batch.JobPrepTaskRunning, StartTime: ctx.Now()}
			if n.putPrep(ctx, &next) {
				ctx.Send(n.agent, n.releaseCommand(&next))
			}
		case r.Deleted && (r.Spec.Release == nil || (r.Release != nil && r.Release.State == batch.JobPrepTaskCompleted)):
			n.deletePrep(ctx, r)
		}
	}
}

// jobBusy reports whether an attempt of a job life runs, or is parked, on the node, or its
// preparation task runs.
func (n *nodeSession) jobBusy(jobID string, inc int64) bool {
	for _, r := range n.running {
		if r.JobID == jobID && r.JobInc == inc {
			return true
		}
	}
	for _, s := range n.parked {
		if s.Ref.JobID == jobID && s.Ref.JobInc == inc {
			return true
		}
	}
	return false
}

// releaseResult records the end of a release task (it is not retried).
func (n *nodeSession) releaseResult(ctx *actor.Context, r *jobPrepRecord, res protocol.TaskResult) {
	next := *r
	info := *r.Release
	if !res.StartTime.IsZero() {
		info.StartTime = res.StartTime
	}
	exit := exitFromResult(res)
	info.State, info.ExitCode, info.EndTime = batch.JobPrepTaskCompleted, exit.Code, ctx.Now()
	if !res.Killed && exit.Code != nil && *exit.Code == 0 {
		info.Result = batch.ResultSuccess
	} else {
		info.Result, info.FailureInfo = batch.ResultFailure, exit.FailureInfo
		if info.FailureInfo == nil {
			info.FailureInfo = &batch.FailureInfo{Category: batch.UserError, Code: batch.FailureCodeExitCode,
				Message: "The task exited with an exit code representing a failure"}
		}
	}
	next.Release = &info
	if !n.putPrep(ctx, &next) {
		return
	}
	ctx.Send(n.agent, protocol.ResultAck{AttemptID: res.AttemptID})
	n.stepReleases(ctx)
}

// checkNodeTasks looks at what an agent's report says of the preparation and release tasks under
// way: one the agent does not run is asked for again (the agent runs an attempt id once, and
// repeats the result of one that ended); one of an agent that has restarted afresh since is run
// again.
func (n *nodeSession) checkNodeTasks(ctx *actor.Context, running []string, inc string) {
	has := make(map[string]bool, len(running))
	for _, id := range running {
		has[id] = true
	}
	for _, key := range sortedKeys(n.preps) {
		r := n.preps[key]
		switch {
		case r.Prep.State == batch.JobPrepTaskRunning && inc != "" && r.AgentInc != inc:
			n.runPrep(ctx, r.Spec, r)
		case r.Prep.State == batch.JobPrepTaskRunning && !has[r.Attempt]:
			ctx.Send(n.agent, n.prepCommand(r))
		case r.Release != nil && r.Release.State == batch.JobPrepTaskRunning && !has[r.ReleaseAttempt]:
			ctx.Send(n.agent, n.releaseCommand(r))
		}
	}
}

// putPrep writes a record, and takes and announces it once written.
func (n *nodeSession) putPrep(ctx *actor.Context, r *jobPrepRecord) bool {
	err := n.store.Update(context.Background(), func(tx store.Tx) error {
		return putJSON(tx, tableJobPreps, jobPrepKey(r.Spec.JobID, r.Spec.JobInc, n.poolID, n.nodeID), r, store.AnyVersion)
	})
	if err != nil {
		ctx.Log("node session: writing a job preparation record failed", "pool", n.poolID, "node", n.nodeID, "job", r.Spec.JobID, "err", err)
		return false
	}
	n.preps[jobKey(r.Spec.JobID, r.Spec.JobInc)] = r
	n.announcePrep(ctx, r, false)
	return true
}

// deletePrep deletes a deleted job's record once its release is done.
func (n *nodeSession) deletePrep(ctx *actor.Context, r *jobPrepRecord) {
	err := n.store.Update(context.Background(), func(tx store.Tx) error {
		err := tx.Delete(tableJobPreps, jobPrepKey(r.Spec.JobID, r.Spec.JobInc, n.poolID, n.nodeID), store.AnyVersion)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return // the next step tries again
	}
	delete(n.preps, jobKey(r.Spec.JobID, r.Spec.JobInc))
	n.announcePrep(ctx, r, true)
}

func (n *nodeSession) announcePrep(ctx *actor.Context, r *jobPrepRecord, gone bool) {
	released := r.Ended && (r.Spec.Release == nil || (r.Release != nil && r.Release.State == batch.JobPrepTaskCompleted))
	ctx.Announce(JobPrepShown{PoolID: n.poolID, NodeID: n.nodeID, JobID: r.Spec.JobID, JobInc: r.Spec.JobInc, Attempt: r.Attempt,
		Run: r.Run, Tries: int(r.Prep.RetryCount) + 1, Waits: r.Spec.Prep.Waits(), Succeeded: r.Prep.Succeeded(), Failed: r.Prep.Failed(),
		Released: released, ReleaseRunning: r.Release != nil && r.Release.State == batch.JobPrepTaskRunning, Gone: gone})
}

// readJobPreps reads a pool's records by node, marking those of jobs that have ended (or are
// gone) since they were written.
func readJobPreps(tx store.Tx, poolID string) (map[string][]*jobPrepRecord, error) {
	rs, err := tx.List(tableJobPreps, "", "", 0)
	if err != nil {
		return nil, err
	}
	out := map[string][]*jobPrepRecord{}
	for _, kv := range rs {
		r := &jobPrepRecord{}
		if err := json.Unmarshal(kv.Value, r); err != nil {
			return nil, fmt.Errorf("decode job preparation %s: %w", kv.Key, err)
		}
		if batch.IDKey(r.PoolID) != batch.IDKey(poolID) {
			continue
		}
		if !r.Deleted {
			var jr jobRecord
			err := getJSON(tx, tableJobs, batch.IDKey(r.Spec.JobID), &jr)
			switch {
			case errors.Is(err, store.ErrNotFound) || (err == nil && (jr.Incarnation != r.Spec.JobInc || jr.Job.State == batch.JobDeleting)):
				r.Ended, r.Deleted = true, true
			case err != nil:
				return nil, err
			case jr.Job.State == batch.JobCompleted:
				r.Ended = true
			}
		}
		out[r.NodeID] = append(out[r.NodeID], r)
	}
	return out, nil
}

// forgetPreps deletes the node's records when it leaves its pool: it runs no release task any
// more. If the store fails, the records stay (and are listed) until the job is deleted.
func (n *nodeSession) forgetPreps(ctx *actor.Context) {
	if len(n.preps) == 0 {
		return
	}
	err := n.store.Update(context.Background(), func(tx store.Tx) error {
		for _, key := range sortedKeys(n.preps) {
			r := n.preps[key]
			err := tx.Delete(tableJobPreps, jobPrepKey(r.Spec.JobID, r.Spec.JobInc, n.poolID, n.nodeID), store.AnyVersion)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
	if err != nil {
		ctx.Log("node session: deleting the node's job preparation records failed", "pool", n.poolID, "node", n.nodeID, "err", err)
		return
	}
	for _, key := range sortedKeys(n.preps) {
		n.announcePrep(ctx, n.preps[key], true)
	}
	n.preps = map[string]*jobPrepRecord{}
}

// ListJobPrepRelease reads Job - List Preparation And Release Task Status: one entry per node
// that has run the job's preparation task, in pool and node order, at most limit (0: all) after
// the entry whose pool/node key is after. hasPrep reports whether the job has a preparation task.
// The entries' taskRootDirectory is the path under the node's root directory; the caller makes
// taskRootDirectoryUrl and nodeUrl.
func ListJobPrepRelease(ctx context.Context, st store.Store, jobID, after string, limit int) (out []batch.JobPrepReleaseStatus, hasPrep bool, err error) {
	j, inc, err := GetJobLife(ctx, st, jobID)
	if err != nil {
		return nil, false, err
	}
	if j.JobPreparationTask == nil {
		return nil, false, nil
	}
	prefix := prepJobPrefix(jobID, inc)
	start := ""
	if after != "" {
		start = prefix + after
	}
	err = st.View(ctx, func(tx store.Tx) error {
		rs, err := tx.List(tableJobPreps, prefix, start, limit)
		if err != nil {
			return err
		}
		for _, kv := range rs {
			var r jobPrepRecord
			if err := json.Unmarshal(kv.Value, &r); err != nil {
				return fmt.Errorf("decode job preparation %s: %w", kv.Key, err)
			}
			prep := r.Prep
			prep.TaskRootDirectory = taskRoot(jobID, r.Spec.Prep.TaskID())
			e := batch.JobPrepReleaseStatus{PoolID: r.PoolID, NodeID: r.NodeID, Preparation: &prep}
			if r.Release != nil {
				rel := *r.Release
				rel.TaskRootDirectory = taskRoot(jobID, r.Spec.Release.TaskID())
				e.Release = &rel
			}
			out = append(out, e)
		}
		return nil
	})
	return out, true, err
}

// taskRoot is a task's directory under a node's root directory, as the agent lays it out:
// workitems/<job>/job-1/<task>, or workitems/<schedule>/job-<n>/<task> for a schedule's job.
func taskRoot(jobID, taskID string) string {
	if schedule, n, ok := strings.Cut(jobID, ":job-"); ok {
		return "workitems/" + schedule + "/job-" + n + "/" + taskID
	}
	return "workitems/" + jobID + "/job-1/" + taskID
}

// PrepStatusKey is the paging key of an entry of ListJobPrepRelease.
func PrepStatusKey(e batch.JobPrepReleaseStatus) string {
	return batch.IDKey(e.PoolID) + "/" + e.NodeID
}
