package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"corral/actor"
	"corral/agent/protocol"
	"corral/batch"
	"corral/store"
)

// Start tasks. A pool's start task runs on every node when the node joins the pool, and again
// whenever its agent restarts afresh (the node rebooted or was reimaged: its agent reports no
// start task attempt, under a new incarnation). The node's session runs it as an attempt of its
// own (ids start with protocol.StartTaskAttemptPrefix), reported and acknowledged as task results
// are, and keeps the node's start task record (tableStartTasks): the start task of the node's
// current run, its StartTaskInformation, and the attempt under way. With waitForSuccess (the
// default) the session offers the node to the scheduler only once the start task has succeeded:
// meanwhile the node shows waitingforstarttask; a non-zero exit is retried up to maxTaskRetryCount
// times, then the node shows starttaskfailed and takes no task until it restarts afresh. Without
// waitForSuccess the node takes tasks while its start task runs, whatever its outcome.
//
// A pool patch that changes the start task changes what the nodes run at their next run only
// (Azure: existing nodes get it when rebooted or reimaged): nodeStartTask tells the sessions.

// tableStartTasks holds each node's start task record (key: IDKey(pool) + "/" + node), written
// by the node's session (and by the pool manager when it adds a node), deleted with the node.
const tableStartTasks = "starttasks"

// startTaskRecord is a node's start task as the store keeps it.
type startTaskRecord struct {
	// Spec is the start task of the node's current run (what Compute Node - Get shows).
	Spec batch.StartTask `json:"spec"`
	// Info is the current run's StartTaskInformation; empty (State "") before the first run.
	Info batch.StartTaskInfo `json:"info"`
	// Run counts the node's runs of its start task, and Attempt names the current run's latest
	// attempt ("" before the first run).
	Run     int    `json:"run"`
	Attempt string `json:"attempt,omitempty"`
	// AgentInc is the incarnation of the agent the current run was first asked of: a report
	// of no start task from another incarnation is a node that restarted afresh.
	AgentInc string `json:"agentInc,omitempty"`
}

// rerunStartTask tells a node's session that its node is restarting afresh (rebooted or
// reimaged): the next report from a new incarnation of its agent starts a new run of the start
// task. It is the hook for the node operations; a service restart forgets it.
type rerunStartTask struct{}

// nodeStartTask tells a node's session the pool's start task (nil: none), for the node's next
// run of it. The pool manager sends it when a pool patch changes the start task.
type nodeStartTask struct{ Spec *batch.StartTask }

// StartTaskShown is announced by a node's session whenever it has recorded its start task's
// state: Run counts the runs on the node, Tries the attempts of this run so far; Waits is
// waitForSuccess. Succeeded and Failed (both false while it runs) say how the run completed.
type StartTaskShown struct {
	PoolID, NodeID    string
	Attempt           string // the run's latest attempt
	Run, Tries        int
	Waits             bool
	Succeeded, Failed bool
	MaxRetries        int
}

// startAttemptID names attempt try (from 0) of a node's run of its start task.
func startAttemptID(nodeID string, run, try int) string {
	return fmt.Sprintf("%s%s/%d.%d", protocol.StartTaskAttemptPrefix, nodeID, run, try)
}

// isStartAttempt reports whether an attempt id is of a start task.
func isStartAttempt(id string) bool { return strings.HasPrefix(id, protocol.StartTaskAttemptPrefix) }

// startKey is the key of a node's records.
func startKey(poolID, nodeID string) string { return batch.IDKey(poolID) + "/" + nodeID }

// startBlocks reports whether the node may take no task because of its start task: one with
// waitForSuccess whose current run has not succeeded, or that the node is to run when its agent
// first reports (it joined the pool with one). A node that joined before the pool had a start
// task has no record, and is not held back by one added since.
func (n *nodeSession) startBlocks() bool {
	switch r := n.startRec; {
	case n.startPending:
		return n.startSpec != nil && n.startSpec.Waits()
	case r == nil:
		return false
	case r.Attempt == "":
		return n.startSpec != nil && n.startSpec.Waits()
	default:
		return r.Spec.Waits() && !r.Info.Succeeded()
	}
}

// checkStartTask looks at what an agent's report (Hello or heartbeat) says of the start task:
// a node that has not run it, or whose agent restarted afresh, starts a new run; an attempt under
// way that the agent does not have is asked for again (the agent runs an attempt id once).
//
// A node restarted by the API (Compute Node - Reboot, Reimage) runs its start task again when its
// agent comes back: send its session rerunStartTask, and the next report from a new incarnation
// of the agent starts a new run, whatever the agent remembers.
func (n *nodeSession) checkStartTask(ctx *actor.Context, reported, inc string) {
	r := n.startRec
	afresh := (reported == "" || n.startAgain) && inc != ""
	switch {
	case r == nil:
		// The node joined before the pool had a start task: it runs one only once it restarts
		// afresh (a service restart forgets the agent's incarnation, and with it this case).
		if n.startSpec != nil && afresh && n.agentInc != "" && inc != n.agentInc {
			n.runStartTask(ctx, inc)
		}
	case r.Attempt == "":
		n.runStartTask(ctx, inc) // the node joined with a start task (nil now: none is run)
	case afresh && inc != r.AgentInc:
		n.runStartTask(ctx, inc)
	case r.Info.State == batch.StartTaskRunning && reported != r.Attempt:
		ctx.Send(n.agent, n.startCommand(r))
	}
}

// runStartTask starts a new run of the pool's start task on the node (the node joined, or
// restarted afresh), asked of the agent of incarnation inc. With waitForSuccess the scheduler
// takes the node down until the run succeeds. With no start task any more (a pool patch removed
// it), the node's record goes and nothing waits. If the store fails, the next report of the
// agent tries again.
func (n *nodeSession) runStartTask(ctx *actor.Context, inc string) {
	if n.startSpec == nil {
		n.startPending = false
		err := n.store.Update(context.Background(), func(tx store.Tx) error {
			err := tx.Delete(tableStartTasks, startKey(n.poolID, n.nodeID), store.AnyVersion)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		})
		if err == nil {
			n.startRec = nil
		}
		return
	}
	n.startAgain = false
	// Until the run is recorded, the node takes no task; what it was given to run after the
	// previous run will not run on a node that restarted afresh, and is requeued.
	n.startPending = true
	if n.offered && n.startBlocks() {
		n.offered = false
		ctx.Send(n.sched, nodeDown{NodeID: n.nodeID})
	}
	for _, id := range sortedKeys(n.running) {
		if n.starts[id].RequiresStartTask != "" {
			n.lost(ctx, n.running[id], false)
		}
	}
	next := &startTaskRecord{Spec: *n.startSpec, AgentInc: inc}
	if n.startRec != nil {
		next.Run = n.startRec.Run
	}
	next.Run++
	next.Attempt = startAttemptID(n.nodeID, next.Run, 0)
	next.Info = batch.StartTaskInfo{State: batch.StartTaskRunning, StartTime: ctx.Now()}
	if !n.putStartRecord(ctx, next) {
		return
	}
	n.startPending = false
	ctx.Send(n.agent, n.startCommand(next))
}

// startCommand is the agent command for the current attempt of a start task run.
func (n *nodeSession) startCommand(r *startTaskRecord) protocol.StartTask {
	env := make([]protocol.EnvSetting, len(r.Spec.EnvironmentSettings))
	for i, e := range r.Spec.EnvironmentSettings {
		env[i] = protocol.EnvSetting{Name: e.Name, Value: e.Value}
	}
	return protocol.StartTask{AttemptID: r.Attempt, PoolID: n.poolID, CommandLine: r.Spec.CommandLine, Env: env,
		ResourceFiles: r.Spec.ResourceFiles, NodeStartTask: true}
}

// startTaskResult records the end of a start task attempt: success completes the run (and the
// caller offers the node, if it waited: it reports whether the run succeeded now); a non-zero
// exit is retried while maxTaskRetryCount allows, and otherwise, or if the process could not
// start, completes the run as failed. The agent may forget the result once it is recorded;
// a result of an earlier attempt, or one recorded already, is only acknowledged. If the store
// fails, nothing changes: the agent repeats the result.
func (n *nodeSession) startTaskResult(ctx *actor.Context, res protocol.TaskResult) bool {
	n.lastHeard = ctx.Now()
	r := n.startRec
	if r == nil || res.AttemptID != r.Attempt || r.Info.State != batch.StartTaskRunning {
		ctx.Send(n.agent, protocol.ResultAck{AttemptID: res.AttemptID})
		return false
	}
	next := *r
	info := next.Info
	if !res.StartTime.IsZero() {
		info.StartTime = res.StartTime
	}
	exit := exitFromResult(res)
	ok := !res.Killed && exit.Code != nil && *exit.Code == 0
	switch {
	case ok:
		info.State, info.Result, info.ExitCode, info.FailureInfo = batch.StartTaskCompleted, batch.ResultSuccess, exit.Code, nil
		info.EndTime = ctx.Now()
	case exit.Condition != batch.ExitPreProcessingError && next.Spec.MayRetry(int(info.RetryCount)):
		// A non-zero exit is retried; a process that could not start is not (as on Azure,
		// which retries application failures, not pre-processing errors).
		info.RetryCount++
		info.StartTime, info.LastRetryTime = ctx.Now(), ctx.Now()
		info.EndTime, info.ExitCode, info.FailureInfo, info.Result = time.Time{}, nil, nil, ""
		next.Attempt = startAttemptID(n.nodeID, next.Run, int(info.RetryCount))
	default:
		info.State, info.Result, info.ExitCode = batch.StartTaskCompleted, batch.ResultFailure, exit.Code
		info.EndTime = ctx.Now()
		info.FailureInfo = exit.FailureInfo
		if info.FailureInfo == nil {
			info.FailureInfo = &batch.FailureInfo{Category: batch.UserError, Code: batch.FailureCodeExitCode,
				Message: "The task exited with an exit code representing a failure"}
		}
	}
	next.Info = info
	if !n.putStartRecord(ctx, &next) {
		return false
	}
	ctx.Send(n.agent, protocol.ResultAck{AttemptID: res.AttemptID})
	if info.State == batch.StartTaskRunning {
		ctx.Send(n.agent, n.startCommand(&next))
	}
	return ok
}

// putStartRecord writes the node's start task record, and takes and announces it once written.
func (n *nodeSession) putStartRecord(ctx *actor.Context, r *startTaskRecord) bool {
	err := n.store.Update(context.Background(), func(tx store.Tx) error {
		return putJSON(tx, tableStartTasks, startKey(n.poolID, n.nodeID), r, store.AnyVersion)
	})
	if err != nil {
		ctx.Log("node session: writing the start task failed", "pool", n.poolID, "node", n.nodeID, "err", err)
		return false
	}
	n.startRec = r
	ctx.Announce(StartTaskShown{PoolID: n.poolID, NodeID: n.nodeID, Attempt: r.Attempt, Run: r.Run, Tries: int(r.Info.RetryCount) + 1,
		Waits: r.Spec.Waits(), Succeeded: r.Info.Succeeded(), Failed: r.Info.Failed(), MaxRetries: r.Spec.MaxRetries()})
	return true
}
