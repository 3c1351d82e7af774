// Package model holds the models of the outside world that the service's tests run against under
// the systematic tester: node agents and VM providers that are slow, fail, repeat themselves and
// finish work after it was cancelled. Models are actors, so the tester controls them as it controls
// the service; their nondeterminism comes from Context.RandomBool and RandomInt.
package model

import (
	"fmt"
	"slices"
	"time"

	"corral/actor"
	"corral/agent/protocol"
)

// Agent models a node agent. It says Hello to its node session when it starts, runs each attempt
// it is told to start for a while (a timer of random length), then reports a result with an exit
// code drawn from ExitCodes, repeating the result with every heartbeat until the session
// acknowledges it. KillTask ends an attempt at once. A second StartTask for the same attempt
// changes nothing, even after its result was acknowledged (a real agent keeps the ids of the
// attempts it ran for the same reason).
//
// It runs the pool's start task as it runs attempts: its first StartFailFirst start task
// attempts of each incarnation exit 1, later ones 0; it reports the latest start task attempt it
// was asked to run with every Hello and heartbeat, and runs no attempt that requires a start
// task attempt that has not succeeded in this incarnation.
type Agent struct {
	NodeID  string
	Session actor.ID
	// ExitCodes are the exit codes an attempt may end with; empty means always 0.
	ExitCodes []int
	// FailTasks names tasks (by task id) whose attempts always exit 1.
	FailTasks []string
	// FileFailures lets an attempt with resource files fail to download them (it ends at once,
	// its process never started, as a real agent reports a pre-processing error), and an
	// attempt with output files fail to upload them (its result carries UploadError).
	FileFailures bool
	// Heartbeat is the period of heartbeats (default 1s); RunFor bounds how long an attempt runs
	// (a random number of ticks of Heartbeat/4, 1 to RunFor).
	Heartbeat time.Duration
	RunFor    int
	// Forged are attempt ids that a lying agent reports as failed (exit code 7), with each of
	// its first ForgedBeats heartbeats, whether or not they are its own.
	Forged      []string
	ForgedBeats int
	// StartFailFirst is how many start task attempts of each incarnation fail.
	StartFailFirst int
	// SlowTasks names tasks (by task id) whose attempts run SlowFor ticks of Heartbeat/4, far
	// longer than the others.
	SlowTasks []string
	SlowFor   int

	startID    string // the latest start task attempt asked for, in this incarnation
	startOK    string // the start task attempt that succeeded, in this incarnation
	startTries int    // start task attempts run in this incarnation

	incarnation int
	restarted   string // the RequestID of the last RestartNode carried out
	running     map[string]protocol.StartTask
	held        []protocol.StartTask // waiting for slots (protocol.StartTask.NodeSlots), in order
	startedAt   map[string]time.Time // when each running attempt's process started
	timers      map[string]actor.TimerID
	finished    map[string]protocol.TaskResult
	done        map[string]bool // attempts whose results were acknowledged: never started again
	beatTimer   actor.TimerID
}

type attemptDone struct{ AttemptID string }

type downloadFailed struct{ AttemptID string }

// PowerOff stops an agent model: its VM was deleted.
type PowerOff struct{}

// Preempt takes an agent model's VM away, with everything running on it: the agent goes Off and
// answers nothing until PowerOn (the VM created again, with a fresh disk) or PowerOff.
type Preempt struct{}

// PowerOn starts an agent model that was preempted, as a new incarnation that knows nothing of
// what ran before.
type PowerOn struct{}
type beat struct{}

// AttemptRan is announced when an agent model starts an attempt's process (once per attempt id
// and incarnation), so that monitors can tell an attempt that ran from one that never reached a
// node.
type AttemptRan struct{ NodeID, JobID, TaskID, AttemptID string }

// AttemptFileFailed is announced when an agent model fails an attempt's resource files
// (Upload false) or output files (Upload true).
type AttemptFileFailed struct {
	NodeID, AttemptID string
	Upload            bool
}

// AgentBooted is announced when an agent model starts (or starts again after a preemption,
// afresh): it has run no start task yet.
type AgentBooted struct{ NodeID string }

// StartTaskRan is announced when an agent model starts a start task attempt; StartTaskExited
// when one ends (Killed: by a KillTask).
type (
	StartTaskRan    struct{ NodeID, AttemptID string }
	StartTaskExited struct {
		NodeID, AttemptID string
		ExitCode          int
		Killed            bool
	}
)

// AttemptStopped is announced when an attempt's process ends on an agent model: it exits, is
// killed, or its VM is taken away.
type AttemptStopped struct{ NodeID, AttemptID string }

// Define declares the agent's single state.
func (a *Agent) Define(m *actor.Machine) {
	m.State("Running",
		actor.OnEntry(func(ctx *actor.Context) {
			a.running = map[string]protocol.StartTask{}
			a.held = nil
			a.startedAt = map[string]time.Time{}
			a.timers = map[string]actor.TimerID{}
			a.finished = map[string]protocol.TaskResult{}
			a.done = map[string]bool{}
			a.startID, a.startOK, a.startTries = "", "", 0
			a.incarnation++
			ctx.Announce(AgentBooted{NodeID: a.NodeID})
			if a.Heartbeat <= 0 {
				a.Heartbeat = time.Second
			}
			if a.RunFor <= 0 {
				a.RunFor = 3
			}
			a.hello(ctx)
			a.beatTimer = ctx.StartPeriodicTimer(a.Heartbeat, a.Heartbeat, beat{})
		}),
		actor.On(a.start),
		actor.On(a.restart),
		// The node's VM is gone: so is its agent, and what it ran.
		actor.On(func(ctx *actor.Context, _ PowerOff) {
			for _, id := range sorted(a.running) {
				ctx.Announce(AttemptStopped{NodeID: a.NodeID, AttemptID: id})
			}
			ctx.Halt()
		}),
		actor.On(func(ctx *actor.Context, _ Preempt) {
			ctx.CancelTimer(a.beatTimer)
			a.held = nil
			for _, id := range sorted(a.timers) {
				ctx.CancelTimer(a.timers[id])
			}
			for _, id := range sorted(a.running) {
				ctx.Announce(AttemptStopped{NodeID: a.NodeID, AttemptID: id})
			}
			ctx.Goto("Off")
		}),
		actor.Ignore[PowerOn](),
		actor.Targets("Off"),
		actor.On(func(ctx *actor.Context, k protocol.KillTask) {
			if i := slices.IndexFunc(a.held, func(s protocol.StartTask) bool { return s.AttemptID == k.AttemptID }); i >= 0 {
				a.held = slices.Delete(a.held, i, i+1)
				res := protocol.TaskResult{NodeID: a.NodeID, AttemptID: k.AttemptID, StartTime: ctx.Now(), EndTime: ctx.Now(),
					NotStarted: true, Killed: !k.IfQueued}
				a.finished[k.AttemptID] = res
				ctx.Send(a.Session, res)
				return
			}
			if k.IfQueued {
				return
			}
			if _, ok := a.running[k.AttemptID]; ok {
				ctx.CancelTimer(a.timers[k.AttemptID])
				a.end(ctx, k.AttemptID, 137, true)
			}
		}),
		actor.On(func(ctx *actor.Context, ack protocol.ResultAck) {
			if _, ok := a.finished[ack.AttemptID]; ok {
				delete(a.finished, ack.AttemptID)
				a.done[ack.AttemptID] = true
			}
		}),
		actor.On(func(ctx *actor.Context, d attemptDone) {
			if _, ok := a.running[d.AttemptID]; !ok {
				return // a timer of an incarnation that was preempted
			}
			code := 0
			if a.running[d.AttemptID].NodeStartTask {
				if a.startTries <= a.StartFailFirst {
					code = 1
				}
			} else if slices.Contains(a.FailTasks, a.running[d.AttemptID].TaskID) {
				code = 1
			} else if len(a.ExitCodes) > 0 {
				code = a.ExitCodes[ctx.RandomInt(len(a.ExitCodes))]
			}
			a.end(ctx, d.AttemptID, code, false)
		}),
		actor.On(func(ctx *actor.Context, d downloadFailed) {
			if _, ok := a.running[d.AttemptID]; !ok {
				return
			}
			delete(a.running, d.AttemptID)
			delete(a.timers, d.AttemptID)
			ctx.Announce(AttemptFileFailed{NodeID: a.NodeID, AttemptID: d.AttemptID})
			ctx.Announce(AttemptStopped{NodeID: a.NodeID, AttemptID: d.AttemptID})
			res := protocol.TaskResult{NodeID: a.NodeID, AttemptID: d.AttemptID, StartTime: ctx.Now(), EndTime: ctx.Now(),
				Error: "BlobNotFound: One of the specified Azure Blob(s) is not found"}
			a.finished[d.AttemptID] = res
			ctx.Send(a.Session, res)
			a.startHeld(ctx)
		}),
		actor.On(func(ctx *actor.Context, _ beat) {
			ctx.Send(a.Session, protocol.Heartbeat{NodeID: a.NodeID, Running: a.runningIDs(),
				Incarnation: fmt.Sprint(a.incarnation), StartTask: a.startID})
			for _, id := range sorted(a.finished) {
				ctx.Send(a.Session, a.finished[id])
			}
			if a.ForgedBeats > 0 {
				a.ForgedBeats--
				for _, id := range a.Forged {
					ctx.Send(a.Session, protocol.TaskResult{NodeID: a.NodeID, AttemptID: id, ExitCode: 7, StartTime: ctx.Now(), EndTime: ctx.Now()})
				}
			}
		}),
	)
	m.State("Off",
		actor.OnGoto[PowerOn]("Running", nil),
		actor.On(func(ctx *actor.Context, _ PowerOff) { ctx.Halt() }),
		actor.OnAny(func(*actor.Context, actor.Event) {}), // the VM is gone: nothing reaches it
		actor.Targets("Running"),
	)
}

func (a *Agent) start(ctx *actor.Context, s protocol.StartTask) {
	if _, ok := a.running[s.AttemptID]; ok {
		return
	}
	if _, ok := a.finished[s.AttemptID]; ok || a.done[s.AttemptID] {
		return
	}
	if slices.ContainsFunc(a.held, func(h protocol.StartTask) bool { return h.AttemptID == s.AttemptID }) {
		return
	}
	if s.NodeSlots > 0 && (len(a.held) > 0 || !a.fits(s)) {
		a.held = append(a.held, s) // started when enough slots free, in order
		return
	}
	a.run(ctx, s)
}

// fits reports whether an attempt fits the slots its node has free (one that needs more than
// the node has runs when the node is empty).
func (a *Agent) fits(s protocol.StartTask) bool {
	used := 0
	for _, r := range a.running {
		if r.NodeSlots > 0 {
			used += max(r.Slots, 1)
		}
	}
	return used+max(s.Slots, 1) <= s.NodeSlots || used == 0
}

// startHeld starts the held attempts that fit now, in order.
func (a *Agent) startHeld(ctx *actor.Context) {
	for len(a.held) > 0 && a.fits(a.held[0]) {
		s := a.held[0]
		a.held = a.held[1:]
		a.run(ctx, s)
	}
}

// runningIDs lists what the agent runs or holds, as its reports do.
func (a *Agent) runningIDs() []string {
	ids := sorted(a.running)
	for _, s := range a.held {
		ids = append(ids, s.AttemptID)
	}
	slices.Sort(ids)
	return ids
}

// run starts an attempt's process.
func (a *Agent) run(ctx *actor.Context, s protocol.StartTask) {
	if s.RequiresStartTask != "" && s.RequiresStartTask != a.startOK {
		return // placed before the service knew this agent restarted afresh
	}
	if s.NodeStartTask && slices.ContainsFunc(sorted(a.running), func(id string) bool { return a.running[id].NodeStartTask }) {
		return // one start task attempt at a time, as a real agent: the session asks again
	}
	a.running[s.AttemptID] = s
	if s.NodeStartTask {
		a.startID, a.startOK = s.AttemptID, ""
		a.startTries++
	}
	if a.FileFailures && len(s.ResourceFiles) > 0 && ctx.RandomInt(3) == 0 {
		// The download fails after a while; the process never starts.
		a.timers[s.AttemptID] = ctx.StartTimer(a.Heartbeat/4, downloadFailed{s.AttemptID})
		return
	}
	if s.NodeStartTask {
		ctx.Announce(StartTaskRan{NodeID: a.NodeID, AttemptID: s.AttemptID})
	} else {
		ctx.Announce(AttemptRan{NodeID: a.NodeID, JobID: s.JobID, TaskID: s.TaskID, AttemptID: s.AttemptID})
	}
	a.startedAt[s.AttemptID] = ctx.Now()
	ctx.Send(a.Session, protocol.TaskStarted{NodeID: a.NodeID, AttemptID: s.AttemptID, StartTime: ctx.Now()})
	ticks := 1 + ctx.RandomInt(a.RunFor)
	if slices.Contains(a.SlowTasks, s.TaskID) {
		ticks = a.SlowFor
	}
	a.timers[s.AttemptID] = ctx.StartTimer(time.Duration(ticks)*a.Heartbeat/4, attemptDone{s.AttemptID})
}

func (a *Agent) end(ctx *actor.Context, id string, code int, killed bool) {
	s := a.running[id]
	if s.NodeStartTask {
		if code == 0 && !killed && id == a.startID {
			a.startOK = id
		}
		ctx.Announce(StartTaskExited{NodeID: a.NodeID, AttemptID: id, ExitCode: code, Killed: killed})
	}
	delete(a.running, id)
	delete(a.timers, id)
	ctx.Announce(AttemptStopped{NodeID: a.NodeID, AttemptID: id})
	res := protocol.TaskResult{NodeID: a.NodeID, AttemptID: id, ExitCode: code, StartTime: a.startedAt[id], EndTime: ctx.Now(), Killed: killed}
	delete(a.startedAt, id)
	if !killed && a.FileFailures && len(s.OutputFiles) > 0 && ctx.RandomInt(3) == 0 {
		ctx.Announce(AttemptFileFailed{NodeID: a.NodeID, AttemptID: id, Upload: true})
		res.UploadError = "FileUploadContainerNotFound: One of the specified Azure container(s) was not found while attempting to upload an output file"
	}
	a.finished[id] = res
	ctx.Send(a.Session, res)
	a.startHeld(ctx)
}

func sorted[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (a *Agent) hello(ctx *actor.Context) {
	ctx.Send(a.Session, protocol.Hello{NodeID: a.NodeID, Incarnation: fmt.Sprint(a.incarnation), Restarted: a.restarted,
		Running: a.runningIDs(), Finished: a.finishedResults(), StartTask: a.startID})
}

func (a *Agent) finishedResults() []protocol.TaskResult {
	out := make([]protocol.TaskResult, 0, len(a.finished))
	for _, id := range sorted(a.finished) {
		out = append(out, a.finished[id])
	}
	return out
}

// restart carries out a RestartNode: every running attempt is killed and forgotten, and with
// Reimage so are the results not yet acknowledged (their files are gone); the agent goes on as a
// new incarnation and says Hello. A repeated RestartNode only gets a Hello.
func (a *Agent) restart(ctx *actor.Context, r protocol.RestartNode) {
	if r.RequestID == a.restarted {
		a.hello(ctx)
		return
	}
	ctx.Announce(AgentRestarted{NodeID: a.NodeID, RequestID: r.RequestID, Reimage: r.Reimage})
	for _, id := range sorted(a.running) {
		ctx.CancelTimer(a.timers[id])
		ctx.Announce(AttemptStopped{NodeID: a.NodeID, AttemptID: id})
		a.done[id] = true // its id is in the task's journal: never started again
	}
	a.running, a.timers = map[string]protocol.StartTask{}, map[string]actor.TimerID{}
	a.held = nil
	a.startID, a.startOK, a.startTries = "", "", 0 // restarted afresh: the start task runs again
	if r.Reimage {
		a.finished = map[string]protocol.TaskResult{}
	}
	a.restarted = r.RequestID
	a.incarnation++
	a.hello(ctx)
}

// AgentRestarted is announced when an agent model carries out a RestartNode, before it stops the
// attempts it runs.
type AgentRestarted struct {
	NodeID, RequestID string
	Reimage           bool
}
