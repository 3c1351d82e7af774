package model

import (
	"time"

	"corral/actor"
	"corral/compute"
)

// Cores is how many cores the model's VMs have (VMCreated.Cores).
const Cores = 2

// Provider models a VM provider whose nodes run agent models. A CreateVM creates the node's agent
// (an Agent actor on the provider's host) and answers VMCreated; with Failures set, a creation may
// fail instead (a choice the tester makes). A CreateVM for a node that exists or is being created
// (a repeated request, or a new request after the caller restarted) creates nothing more.
//
// With Slow, a creation takes a while (a timer) and can be cancelled meanwhile by a DeleteVM; with
// Stubborn, a cancelled creation may finish all the same (the tester chooses), as cloud APIs do:
// the VM is up, VMCreated is sent, and the DeleteVM is answered only once a later DeleteVM has
// really removed it. A DeleteVM is answered VMDeleted once the VM is gone.
//
// A ListVMs is answered with the VMs of the pool that are up, being created or preempted.
//
// The model announces VMUp and VMDown, so that monitors can check that no VM outlives its use.
// Its VMs have Cores cores each.
type Provider struct {
	// AgentID and SessionID name the agent of a node and the session it talks to.
	AgentID   func(nodeID string) actor.ID
	SessionID func(poolID, nodeID string) actor.ID
	// ExitCodes are what the agents' attempts may exit with (see Agent).
	ExitCodes []int
	// StartFailFirst is how many start task attempts of each agent incarnation fail (see Agent).
	StartFailFirst int
	// Failures lets creations fail.
	Failures bool
	// FileFailures is given to the agents (see Agent).
	FileFailures bool
	// RunFor, Heartbeat and FailTasks are given to the agents (see Agent; 0: the agent's
	// default).
	RunFor    int
	Heartbeat time.Duration
	FailTasks []string
	// SlowTasks and SlowFor are given to the agents (see Agent).
	SlowTasks []string
	SlowFor   int
	// Slow makes creations take time; Stubborn lets a cancelled creation finish anyway.
	Slow, Stubborn bool
	// Preemptions is how many times the model may take a low-priority VM back (a spot
	// eviction): a while after each such VM comes up, the tester chooses whether to preempt it.
	Preemptions int
	// Forge makes the agent of node Forge.NodeID lie (see Agent.Forged).
	Forge Forgery

	vms map[string]*vm // by pool + "/" + node
}

// Forgery names a node whose agent reports results for attempts (Attempts, which need not be
// its own) with its first Beats heartbeats.
type Forgery struct {
	NodeID   string
	Attempts []string
	Beats    int
}

// vm is one VM as the model knows it.
type vm struct {
	pool, node string
	up         bool     // created and not deleted
	creating   bool     // a creation is under way
	cancelled  bool     // a DeleteVM arrived while creating
	replyTo    actor.ID // of the latest CreateVM
	request    string   // id of the latest CreateVM
	deletes    []compute.DeleteVM
	dedicated  bool
	off        bool   // preempted: its agent is Off, and PowerOn brings it back
	made       string // the CreateVM whose creation brought the VM up
}

// VMUp is announced when a VM comes up; VMDown when it is gone.
type (
	VMUp   struct{ PoolID, NodeID string }
	VMDown struct{ PoolID, NodeID string }
)

// vmReady is the model's timer for a slow creation.
type vmReady struct{ Key string }

// maybePreempt is the model's timer to preempt a low-priority VM.
type maybePreempt struct {
	Key  string
	Made string
}

// preemptAfter is how long after coming up a low-priority VM may be preempted (virtual time).
const preemptAfter = 3 * time.Second

// createDelay is how long a slow creation takes (virtual time).
const createDelay = 2 * time.Second

// Define declares the provider's single state.
func (p *Provider) Define(m *actor.Machine) {
	m.State("Serving",
		actor.On(p.create),
		actor.On(p.delete),
		actor.On(func(ctx *actor.Context, r vmReady) { p.ready(ctx, p.vms[r.Key]) }),
		actor.On(p.preempt),
		actor.On(p.list),
	)
}

// list answers a ListVMs with the VMs that are up, being created, or preempted (off, their
// record kept until a CreateVM or DeleteVM for them).
func (p *Provider) list(ctx *actor.Context, l compute.ListVMs) {
	vms := []compute.VM{}
	for _, k := range sorted(p.vms) {
		v := p.vms[k]
		if (l.PoolID == "" || v.pool == l.PoolID) && (v.up || v.creating || v.off) {
			vms = append(vms, compute.VM{PoolID: v.pool, NodeID: v.node, Dedicated: v.dedicated})
		}
	}
	ctx.Send(l.ReplyTo, compute.VMList{RequestID: l.RequestID, PoolID: l.PoolID, Nodes: vms})
}

func (p *Provider) create(ctx *actor.Context, c compute.CreateVM) {
	if p.vms == nil {
		p.vms = map[string]*vm{}
	}
	key := c.PoolID + "/" + c.NodeID
	v := p.vms[key]
	if v == nil {
		v = &vm{pool: c.PoolID, node: c.NodeID}
		p.vms[key] = v
	}
	v.replyTo, v.request, v.dedicated = c.ReplyTo, c.RequestID, c.Dedicated
	switch {
	case v.up:
		ctx.Send(c.ReplyTo, compute.VMCreated{RequestID: c.RequestID, PoolID: c.PoolID, NodeID: c.NodeID, Cores: Cores})
	case v.creating:
		// Answered when the creation under way ends.
	default:
		v.creating, v.cancelled = true, false
		if p.Slow {
			ctx.StartTimer(createDelay, vmReady{Key: key})
			return
		}
		p.ready(ctx, v)
	}
}

// ready ends a creation: it fails, is abandoned (cancelled), or brings the VM up.
func (p *Provider) ready(ctx *actor.Context, v *vm) {
	if v == nil || !v.creating {
		return
	}
	v.creating = false
	if v.cancelled && !(p.Stubborn && ctx.RandomBool()) {
		if v.off {
			ctx.Send(p.AgentID(v.node), PowerOff{})
		}
		p.answerDeletes(ctx, v)
		return
	}
	if !v.cancelled && p.Failures && ctx.RandomInt(4) == 0 {
		ctx.Send(v.replyTo, compute.VMFailed{RequestID: v.request, PoolID: v.pool, NodeID: v.node, Reason: "allocation failed"})
		return
	}
	v.up = true
	v.made = v.request
	ctx.Announce(VMUp{PoolID: v.pool, NodeID: v.node})
	if v.off {
		v.off = false
		ctx.Send(p.AgentID(v.node), PowerOn{})
	} else {
		a := &Agent{NodeID: v.node, Session: p.SessionID(v.pool, v.node), ExitCodes: p.ExitCodes, FileFailures: p.FileFailures,
			StartFailFirst: p.StartFailFirst, RunFor: p.RunFor, Heartbeat: p.Heartbeat, FailTasks: p.FailTasks,
			SlowTasks: p.SlowTasks, SlowFor: p.SlowFor}
		if p.Forge.NodeID == v.node {
			a.Forged, a.ForgedBeats = p.Forge.Attempts, p.Forge.Beats
		}
		ctx.Create(string(p.AgentID(v.node)), a)
	}
	ctx.Send(v.replyTo, compute.VMCreated{RequestID: v.request, PoolID: v.pool, NodeID: v.node, Cores: Cores})
	if !v.dedicated && p.Preemptions > 0 {
		ctx.StartTimer(preemptAfter, maybePreempt{Key: v.pool + "/" + v.node, Made: v.made})
	}
	if v.cancelled {
		// Finished after the cancel: the DeleteVMs wait for a DeleteVM that finds the VM up.
		v.cancelled = false
	}
}

func (p *Provider) delete(ctx *actor.Context, d compute.DeleteVM) {
	key := d.PoolID + "/" + d.NodeID
	v := p.vms[key]
	switch {
	case v == nil:
		ctx.Send(d.ReplyTo, compute.VMDeleted{RequestID: d.RequestID, PoolID: d.PoolID, NodeID: d.NodeID})
	case v.creating:
		v.cancelled = true
		v.deletes = append(v.deletes, d)
	case v.up:
		v.up = false
		ctx.Send(p.AgentID(v.node), PowerOff{})
		ctx.Announce(VMDown{PoolID: v.pool, NodeID: v.node})
		v.deletes = append(v.deletes, d)
		p.answerDeletes(ctx, v)
	default:
		if v.off {
			ctx.Send(p.AgentID(v.node), PowerOff{})
		}
		v.deletes = append(v.deletes, d)
		p.answerDeletes(ctx, v)
	}
}

// preempt takes a low-priority VM back, if the tester so chooses and the budget allows: its
// agent goes Off, and the creator is told (VMPreempted). A later CreateVM brings it back.
func (p *Provider) preempt(ctx *actor.Context, t maybePreempt) {
	v := p.vms[t.Key]
	if v == nil || !v.up || v.made != t.Made || p.Preemptions <= 0 || !ctx.RandomBool() {
		return
	}
	p.Preemptions--
	v.up, v.off = false, true
	ctx.Send(p.AgentID(v.node), Preempt{})
	ctx.Announce(VMDown{PoolID: v.pool, NodeID: v.node})
	ctx.Send(v.replyTo, compute.VMPreempted{CreateRequestID: v.made, PoolID: v.pool, NodeID: v.node})
}

// answerDeletes answers every DeleteVM waiting on a VM that is gone, and forgets the VM.
func (p *Provider) answerDeletes(ctx *actor.Context, v *vm) {
	for _, d := range v.deletes {
		ctx.Send(d.ReplyTo, compute.VMDeleted{RequestID: d.RequestID, PoolID: d.PoolID, NodeID: d.NodeID})
	}
	v.deletes = nil
	delete(p.vms, v.pool+"/"+v.node)
}
