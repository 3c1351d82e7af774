// Package local is Corral's embedded default VM provider: its "nodes" are node-agent processes on
// this machine, each working in a directory of its own.
//
// A [Provider] is an adapter between the actor world and the operating system. Its actor
// ([Provider.Actor], created under [compute.ProviderID]) answers the requests of the
// [compute] contract without ever blocking: the slow work (making the directory, starting the
// process, the provisioning delay, killing and waiting) runs on goroutines of the provider, which
// send the answers back with [actor.Runtime.Send]. This package is not actor code: it starts
// goroutines and processes and reads the clock.
//
// Node n of pool p works in Root/p/n (created 0700); its agent is started there by
// [Config.Command] as the leader of a new session (and so of a new process group), with its
// standard output and error appended to agent.log in that directory unless the command sets them.
// Deleting a node kills every process of that session, waits until all are gone, and removes the
// directory, as deleting a VM discards its disk.
//
// The provider persists nothing of its own, but nodes outlive the server, as VMs outlive the
// service that asked for them: each node directory holds a node.pid file that names the agent
// process (pid, start time, boot id, dedicated or low-priority), and [New] re-adopts the nodes
// whose process still runs.
//
// Two events go out unasked, as the [compute] contract has them. [Provider.Evict] takes a
// low-priority node back, as a spot eviction does: once its processes are gone and the node is
// forgotten (its directory removed), the provider sends [compute.VMPreempted]. A node whose agent
// exits by itself once the node is ready, and not because it is being deleted or evicted, is
// forgotten too (the rest of its session is killed, its directory is kept for inspection), and
// the provider sends [compute.VMLost] with a reason that describes the exit. Either event is sent
// after the node has left ListVMs, so a CreateVM for the same node id that follows it starts a new
// node. It goes to the ReplyTo of the CreateVM most recently answered VMCreated for the node and
// names that request; for a node whose creator the provider does not know (adopted by [New], and
// not asked for since) it goes to [Config.NotifyTo] with an empty CreateRequestID, or, if that is
// nil, only to the log. A node evicted while it is still starting gets no VMPreempted: the
// CreateVMs waiting for it are answered VMFailed, with a reason that says it was preempted.
//
// Requests are recognised by their request ids: the provider remembers the final answers to the
// last few thousand requests (in memory only) and answers a repeated request as it answered the
// first, without acting again; so a late duplicate of a CreateVM never brings back a node that
// was deleted since, and a retry after a VMFailed needs a new request id. A CreateVM for a node
// that exists is answered VMCreated without starting anything, as the tester's model does.
//
// Differences from a cloud provider: VMSize is ignored (a node is a process, not a machine with a
// size); there is no quota; an "allocation failure" happens only at random, at
// [Config.FailureRate], for development.
package local

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"syscall"
	"time"

	"corral/actor"
	"corral/compute"
	procfs "corral/compute/internal/proc"
	"corral/compute/internal/provkit"
)

// Config configures a [Provider].
type Config struct {
	// Runtime is the actor runtime the provider's actor lives in; answers are sent through it.
	Runtime actor.Runtime
	// Root is the directory under which nodes work: node n of pool p in Root/p/n. It is created
	// (0700) if it does not exist.
	Root string
	// Command returns the command that runs a node's agent in dir. The provider sets its
	// SysProcAttr to start it in a new session (Setsid; Setpgid, Setctty and Foreground are
	// cleared), its Dir to dir if empty, and its Stdout and Stderr to dir/agent.log if both are
	// nil. A command should leave Stdout and Stderr nil or make them files: with any other writer
	// the agent would write into a pipe that breaks when the server exits.
	Command func(poolID, nodeID, dir string, dedicated bool) *exec.Cmd
	// ProvisionDelay is how long a node takes to be ready after its process started, to imitate
	// a VM's boot.
	ProvisionDelay time.Duration
	// FailureRate is the probability, 0 to 1, that a creation fails (after ProvisionDelay and
	// without starting anything), to imitate allocation failures in development.
	FailureRate float64
	// NotifyTo names the recipient of VMPreempted and VMLost for a node of pool poolID whose
	// creator the provider does not know: a node adopted by [New] for which no CreateVM has been
	// answered since. Nil means such events are not sent (the provider logs them). It is called
	// with the provider's lock held: it must return at once and not call the provider.
	NotifyTo func(poolID string) actor.ID
	// Logger receives the provider's reports. Nil means slog.Default().
	Logger *slog.Logger
}

// ErrUnknownNode is returned by [Provider.Evict] for a node the provider does not have, or that
// is already going away (being deleted or evicted, or its agent exited).
var ErrUnknownNode = errors.New("local: unknown node")

// ErrDedicated is returned by [Provider.Evict] for a dedicated node: only low-priority nodes can
// be preempted.
var ErrDedicated = errors.New("local: node is dedicated; only low-priority nodes can be evicted")

// errAdoptedExit describes the exit of an adopted agent, whose status the provider cannot learn.
var errAdoptedExit = errors.New("exit status unknown: the process was adopted")

// errAllocation is the simulated allocation failure.
var errAllocation = errors.New("allocation failed (simulated: local provider FailureRate)")

// Provider runs nodes as local processes. Its methods are safe for concurrent use.
type Provider struct {
	rt          actor.Runtime
	root        string
	command     func(poolID, nodeID, dir string, dedicated bool) *exec.Cmd
	delay       time.Duration
	failureRate float64
	notifyTo    func(poolID string) actor.ID
	log         *slog.Logger
	boot        string

	closed    chan struct{} // closed by Close
	closeOnce sync.Once

	mu       sync.Mutex
	isClosed bool
	nodes    map[nodeKey]*node
	answers  *provkit.Answers // final answers by request id, for repeated requests
}

// rememberedAnswers bounds how many finished requests the provider recognises when repeated.
const rememberedAnswers = 4096

// adoptedPoll is how often the provider checks that an adopted node's agent (not its child, so
// it cannot wait for it) still runs.
var adoptedPoll = 500 * time.Millisecond

type nodeKey struct{ pool, node string }

type phase int

const (
	starting phase = iota // the process is being started, or in its provisioning delay
	ready                 // VMCreated was answered
	deleting              // a DeleteVM (or an eviction) is killing it
	ending                // it failed or exited by itself, and is being forgotten
)

// node is one node the provider knows. Fields below mu are guarded by Provider.mu; pid and start
// are set once, by the node's goroutine, before anyone else reads them under mu or after done.
type node struct {
	pool, id, dir string
	dedicated     bool

	exited    chan struct{} // closed once the agent process has exited
	deleteReq chan struct{} // closed when deletion is asked
	done      chan struct{} // closed when the node's goroutine is finished with it

	// guarded by Provider.mu
	phase       phase
	deleteAsked bool
	pid         int
	start       uint64
	exitErr     error
	creates     []waiter // CreateVMs waiting for the node to be ready
	deletes     []waiter // DeleteVMs waiting for it to be gone
	creator     waiter   // the CreateVM last answered VMCreated; zero if unknown (adopted)
	evicted     bool     // Evict took it: waiting CreateVMs fail as preempted
	preempted   bool     // Evict took it once ready: VMPreempted is due once it is forgotten
	lost        string   // its agent exited by itself once ready: VMLost, with this reason, is due
}

type waiter struct {
	requestID string
	replyTo   actor.ID
}

// outbound is an answer to send once the provider's lock is released.
type outbound = provkit.Outbound

// New returns a provider for cfg and re-adopts the nodes under cfg.Root whose agent process
// still runs. It does not create the actor; see [Provider.Actor].
func New(cfg Config) (*Provider, error) {
	if cfg.Runtime == nil {
		return nil, errors.New("local: Config.Runtime is nil")
	}
	if cfg.Command == nil {
		return nil, errors.New("local: Config.Command is nil")
	}
	if cfg.Root == "" {
		return nil, errors.New("local: Config.Root is empty")
	}
	if cfg.ProvisionDelay < 0 {
		return nil, fmt.Errorf("local: negative ProvisionDelay %v", cfg.ProvisionDelay)
	}
	if !(cfg.FailureRate >= 0 && cfg.FailureRate <= 1) {
		return nil, fmt.Errorf("local: FailureRate %v is not between 0 and 1", cfg.FailureRate)
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("local: root: %w", err)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("local: root: %w", err)
	}
	p := &Provider{
		rt:          cfg.Runtime,
		root:        root,
		command:     cfg.Command,
		delay:       cfg.ProvisionDelay,
		failureRate: cfg.FailureRate,
		notifyTo:    cfg.NotifyTo,
		log:         cfg.Logger,
		boot:        procfs.BootID(),
		closed:      make(chan struct{}),
		nodes:       map[nodeKey]*node{},
		answers:     provkit.NewAnswers(rememberedAnswers),
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	if err := p.adoptAll(); err != nil {
		return nil, err
	}
	return p, nil
}

// adoptAll scans Root for node directories whose pid file names a live process, and takes them
// over. Pid files of processes that are gone are removed (the directories are kept).
func (p *Provider) adoptAll() error {
	pools, err := os.ReadDir(p.root)
	if err != nil {
		return fmt.Errorf("local: scan root: %w", err)
	}
	for _, pe := range pools {
		if !pe.IsDir() || !compute.ValidID(pe.Name()) {
			continue
		}
		nodes, err := os.ReadDir(filepath.Join(p.root, pe.Name()))
		if err != nil {
			p.log.Warn("local provider: cannot scan pool directory", "pool", pe.Name(), "err", err)
			continue
		}
		for _, ne := range nodes {
			if !ne.IsDir() || !compute.ValidID(ne.Name()) {
				continue
			}
			p.adopt(pe.Name(), ne.Name())
		}
	}
	return nil
}

func (p *Provider) adopt(pool, id string) {
	dir := filepath.Join(p.root, pool, id)
	r, err := readPidFile(dir)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		p.log.Warn("local provider: node not adopted", "pool", pool, "node", id, "err", err)
		return
	}
	if !r.alive(p.boot) {
		p.log.Info("local provider: node process is gone; not adopted", "pool", pool, "node", id, "pid", r.pid)
		removePidFile(dir, r.pid, r.start)
		return
	}
	n := newNode(pool, id, dir, r.dedicated)
	n.phase = ready
	n.pid, n.start = r.pid, r.start
	p.nodes[nodeKey{pool, id}] = n
	p.log.Info("local provider: adopted node", "pool", pool, "node", id, "pid", r.pid)
	go p.watch(n, r)
	go p.run(n, true)
}

func newNode(pool, id, dir string, dedicated bool) *node {
	return &node{
		pool: pool, id: id, dir: dir, dedicated: dedicated,
		exited:    make(chan struct{}),
		deleteReq: make(chan struct{}),
		done:      make(chan struct{}),
	}
}

// watch closes n.exited once an adopted node's agent has exited. The agent is not this process's
// child, so the provider cannot wait for it and polls /proc instead.
func (p *Provider) watch(n *node, r pidRecord) {
	t := time.NewTicker(adoptedPoll)
	defer t.Stop()
	for {
		select {
		case <-p.closed:
			return
		case <-n.done:
			return
		case <-t.C:
		}
		if !r.alive(p.boot) {
			p.mu.Lock()
			n.exitErr = errAdoptedExit
			p.mu.Unlock()
			close(n.exited)
			return
		}
	}
}

// Actor returns the actor to create under [compute.ProviderID]. Its handlers never block. A
// VMCreated carries the node's directory as its Address. Answers are sent with the runtime's Send
// (as from outside any actor), so that a ReplyTo naming no actor is logged rather than failing
// the provider's actor.
// After [Provider.Close] it drops requests (logged) and answers nothing.
func (p *Provider) Actor() actor.Actor {
	return provkit.Actor(provkit.Handlers{Create: p.create, Delete: p.delete, List: p.list, Send: p.send})
}

// send delivers answers with the runtime (a ReplyTo that names no actor is logged, not fatal to
// the provider's actor as ctx.Send would make it). After Close nothing is sent.
func (p *Provider) send(outs []outbound) {
	provkit.Sender{Runtime: p.rt, Closed: p.closed, Log: p.log, Name: "local provider"}.Send(outs)
}

// answerLocked makes the final answer to request id, to be sent by the caller, and remembers it so
// that a repeated request gets the same answer. p.mu must be held.
func (p *Provider) answerLocked(outs []outbound, id string, to actor.ID, ev actor.Event) []outbound {
	p.answers.Remember(id, ev)
	return append(outs, outbound{To: to, Ev: ev})
}

// repeatedLocked returns the remembered answer to a repeated request. p.mu must be held.
func (p *Provider) repeatedLocked(id string, to actor.ID) ([]outbound, bool) {
	ev, ok := p.answers.Lookup(id)
	if !ok {
		return nil, false
	}
	return []outbound{{To: to, Ev: ev}}, true
}

func (p *Provider) dropLocked(ev actor.Event) bool {
	if p.isClosed {
		p.log.Warn("local provider: request after Close dropped", "event", actor.EventName(ev))
	}
	return p.isClosed
}

func (p *Provider) create(c compute.CreateVM) []outbound {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dropLocked(c) {
		return nil
	}
	if outs, ok := p.repeatedLocked(c.RequestID, c.ReplyTo); ok {
		return outs
	}
	fail := func(reason string) []outbound {
		return p.answerLocked(nil, c.RequestID, c.ReplyTo, compute.VMFailed{RequestID: c.RequestID, PoolID: c.PoolID, NodeID: c.NodeID, Reason: reason})
	}
	if !compute.ValidID(c.PoolID) || !compute.ValidID(c.NodeID) {
		return fail(fmt.Sprintf("invalid pool or node id %q/%q: ids are 1 to 255 of A-Z a-z 0-9 _ -", c.PoolID, c.NodeID))
	}
	k := nodeKey{c.PoolID, c.NodeID}
	n := p.nodes[k]
	if n == nil {
		n = newNode(c.PoolID, c.NodeID, filepath.Join(p.root, c.PoolID, c.NodeID), c.Dedicated)
		n.creates = []waiter{{c.RequestID, c.ReplyTo}}
		p.nodes[k] = n
		go p.run(n, false)
		return nil
	}
	switch n.phase {
	case starting:
		n.creates = append(n.creates, waiter{c.RequestID, c.ReplyTo})
		return nil
	case ready:
		n.creator = waiter{c.RequestID, c.ReplyTo}
		return p.answerLocked(nil, c.RequestID, c.ReplyTo, compute.VMCreated{RequestID: c.RequestID, PoolID: c.PoolID, NodeID: c.NodeID, Address: n.dir, Cores: nodeCores()})
	case deleting:
		return fail("node is being deleted")
	default:
		return fail("node agent exited and the node is being cleaned up")
	}
}

func (p *Provider) delete(d compute.DeleteVM) []outbound {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dropLocked(d) {
		return nil
	}
	if outs, ok := p.repeatedLocked(d.RequestID, d.ReplyTo); ok {
		return outs
	}
	n := p.nodes[nodeKey{d.PoolID, d.NodeID}]
	if n == nil { // also for invalid ids: no such node can exist
		return p.answerLocked(nil, d.RequestID, d.ReplyTo, compute.VMDeleted{RequestID: d.RequestID, PoolID: d.PoolID, NodeID: d.NodeID})
	}
	n.deletes = append(n.deletes, waiter{d.RequestID, d.ReplyTo})
	p.beginDeleteLocked(n)
	return nil
}

// beginDeleteLocked asks n's goroutine to delete it. p.mu must be held.
func (p *Provider) beginDeleteLocked(n *node) {
	n.deleteAsked = true
	if n.phase == starting || n.phase == ready {
		n.phase = deleting
		close(n.deleteReq)
	}
}

func (p *Provider) list(l compute.ListVMs) []outbound {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.dropLocked(l) {
		return nil
	}
	vms := []compute.VM{}
	for k, n := range p.nodes {
		if l.PoolID != "" && k.pool != l.PoolID {
			continue
		}
		if n.phase == ending {
			continue // it failed or exited: it is being forgotten
		}
		vms = append(vms, compute.VM{PoolID: n.pool, NodeID: n.id, Dedicated: n.dedicated})
	}
	sort.Slice(vms, func(i, j int) bool {
		if vms[i].PoolID != vms[j].PoolID {
			return vms[i].PoolID < vms[j].PoolID
		}
		return vms[i].NodeID < vms[j].NodeID
	})
	return []outbound{{To: l.ReplyTo, Ev: compute.VMList{RequestID: l.RequestID, PoolID: l.PoolID, Nodes: vms}}}
}

// run is n's goroutine: it starts the node (unless adopted), makes it ready after the
// provisioning delay, and deletes or forgets it when asked or when its agent exits. After Close
// it returns at its next wait, leaving the node's process alone.
func (p *Provider) run(n *node, adopted bool) {
	defer close(n.done)
	if !adopted {
		select {
		case <-n.deleteReq: // deleted (or evicted) before anything was started
			p.finish(n, "node was deleted before it was ready")
			return
		default:
		}
		err := p.start(n)
		if err != nil && !errors.Is(err, errAllocation) {
			p.finish(n, fmt.Sprintf("start node agent: %v", err))
			return
		}
		t := time.NewTimer(p.delay)
		defer t.Stop()
		exited := n.exited
		if err != nil {
			exited = nil // nothing was started
		}
		select {
		case <-p.closed:
			return
		case <-n.deleteReq:
		case <-exited:
		case <-t.C:
			if err != nil {
				p.finish(n, err.Error())
				return
			}
			p.ready(n)
		}
		if err != nil { // deleted during a failing allocation
			p.finish(n, "node was deleted before it was ready")
			return
		}
	}
	select {
	case <-p.closed:
		return
	case <-n.deleteReq:
	case <-n.exited:
	}
	p.mu.Lock()
	deleted, wasReady := n.phase == deleting, n.phase == ready
	pid, start, exitErr := n.pid, n.start, n.exitErr
	reason := "node was deleted before it was ready"
	if !deleted {
		n.phase = ending
		reason = fmt.Sprintf("node agent exited before it was ready (%v)", describeExit(exitErr))
		if wasReady {
			n.lost = fmt.Sprintf("node agent exited by itself (%v)", describeExit(exitErr))
		}
	}
	p.mu.Unlock()
	if !deleted {
		p.log.Warn("local provider: node agent exited by itself; forgetting the node", "pool", n.pool, "node", n.id, "pid", pid, "exit", describeExit(exitErr))
	}
	slow := func() {
		p.log.Warn("local provider: node processes still alive 30s after SIGKILL", "pool", n.pool, "node", n.id, "pid", pid)
	}
	if !procfs.KillSession(pid, start, p.closed, slow) {
		return
	}
	p.finish(n, reason)
}

func describeExit(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// start makes the node's directory and starts its agent, recording it in the pid file. It
// returns errAllocation for a simulated failure, before doing anything.
func (p *Provider) start(n *node) error {
	if p.failureRate > 0 && rand.Float64() < p.failureRate {
		return errAllocation
	}
	if err := os.MkdirAll(filepath.Dir(n.dir), 0o700); err != nil {
		return fmt.Errorf("make pool directory: %w", err)
	}
	if err := os.Mkdir(n.dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("make node directory: %w", err)
	}
	cmd := p.command(n.pool, n.id, n.dir, n.dedicated)
	if cmd == nil {
		return errors.New("Config.Command returned no command")
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// A new session, not only a new process group: the agent may give its tasks process groups
	// of their own, and they stay in its session, so deleting the node can find them all.
	cmd.SysProcAttr.Setsid = true
	cmd.SysProcAttr.Setpgid = false
	cmd.SysProcAttr.Pgid = 0
	cmd.SysProcAttr.Setctty = false
	cmd.SysProcAttr.Foreground = false
	if cmd.Dir == "" {
		cmd.Dir = n.dir
	}
	if cmd.Stdout == nil && cmd.Stderr == nil {
		f, err := os.OpenFile(filepath.Join(n.dir, "agent.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("open agent log: %w", err)
		}
		defer f.Close() // the child has its own descriptor once started
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	pid := cmd.Process.Pid
	// The child cannot be reaped before Wait, so its stat is there even if it already exited.
	st, err := procfs.ReadStat(pid)
	if err == nil {
		err = writePidFile(n.dir, pidRecord{pid: pid, start: st.Start, boot: p.boot, dedicated: n.dedicated})
	}
	if err != nil {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = cmd.Wait()
		procfs.KillSession(pid, st.Start, nil, nil)
		return fmt.Errorf("record node process: %w", err)
	}
	p.mu.Lock()
	n.pid, n.start = pid, st.Start
	p.mu.Unlock()
	p.log.Info("local provider: node agent started", "pool", n.pool, "node", n.id, "pid", pid, "dir", n.dir)
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		n.exitErr = err
		p.mu.Unlock()
		close(n.exited)
	}()
	return nil
}

// ready answers the CreateVMs waiting for n, unless it is being deleted already.
func (p *Provider) ready(n *node) {
	p.mu.Lock()
	var outs []outbound
	if n.phase == starting {
		n.phase = ready
		for _, w := range n.creates {
			outs = p.answerLocked(outs, w.requestID, w.replyTo, compute.VMCreated{RequestID: w.requestID, PoolID: n.pool, NodeID: n.id, Address: n.dir, Cores: nodeCores()})
			n.creator = w
		}
		n.creates = nil
		p.log.Info("local provider: node ready", "pool", n.pool, "node", n.id)
	}
	p.mu.Unlock()
	p.send(outs)
}

// finish forgets n, whose processes are gone: it removes the directory if deletion was asked,
// otherwise only the pid file; then it sends the VMPreempted or VMLost that is due, and answers
// the CreateVMs still waiting (VMFailed with reason, or a preemption reason if n was evicted) and
// the DeleteVMs (VMDeleted).
func (p *Provider) finish(n *node, reason string) {
	p.mu.Lock()
	deleted, pid, start := n.deleteAsked, n.pid, n.start
	if n.phase != deleting {
		n.phase = ending
	}
	p.mu.Unlock()
	if deleted {
		if err := os.RemoveAll(n.dir); err != nil {
			p.log.Warn("local provider: cannot remove node directory", "pool", n.pool, "node", n.id, "err", err)
		}
		p.log.Info("local provider: node deleted", "pool", n.pool, "node", n.id)
	} else if pid != 0 {
		removePidFile(n.dir, pid, start)
	}
	p.mu.Lock()
	var outs []outbound
	k := nodeKey{n.pool, n.id}
	if p.nodes[k] == n {
		delete(p.nodes, k)
	}
	switch {
	case n.preempted:
		outs = p.tellLocked(outs, n, compute.VMPreempted{CreateRequestID: n.creator.requestID, PoolID: n.pool, NodeID: n.id})
	case n.lost != "":
		outs = p.tellLocked(outs, n, compute.VMLost{CreateRequestID: n.creator.requestID, PoolID: n.pool, NodeID: n.id, Reason: n.lost})
	}
	n.preempted, n.lost = false, ""
	if n.evicted {
		reason = "low-priority node was preempted while it was being created"
	}
	for _, w := range n.creates {
		outs = p.answerLocked(outs, w.requestID, w.replyTo, compute.VMFailed{RequestID: w.requestID, PoolID: n.pool, NodeID: n.id, Reason: reason})
	}
	for _, w := range n.deletes {
		outs = p.answerLocked(outs, w.requestID, w.replyTo, compute.VMDeleted{RequestID: w.requestID, PoolID: n.pool, NodeID: n.id})
	}
	n.creates, n.deletes = nil, nil
	p.mu.Unlock()
	p.send(outs)
}

// tellLocked adds ev, an event nobody asked for, addressed to n's creator, or to Config.NotifyTo
// if the creator is unknown; without either it only logs ev. p.mu must be held.
func (p *Provider) tellLocked(outs []outbound, n *node, ev actor.Event) []outbound {
	to := n.creator.replyTo
	if to == "" && p.notifyTo != nil {
		to = p.notifyTo(n.pool)
	}
	if to == "" {
		p.log.Warn("local provider: nobody to tell; event not sent", "pool", n.pool, "node", n.id, "event", actor.EventName(ev))
		return outs
	}
	return append(outs, outbound{To: to, Ev: ev})
}

// Evict takes a low-priority node back as a spot eviction would: it kills the node's processes,
// removes its directory and forgets it, like a DeleteVM nobody asked for. Once the node is gone
// (it has left ListVMs), the provider sends [compute.VMPreempted] to the node's creator (see the
// package documentation); DeleteVMs waiting on the node are answered VMDeleted after it. A node
// evicted while it is still starting gets no VMPreempted: the CreateVMs waiting for it are
// answered VMFailed, with a reason that says it was preempted.
//
// Evict returns once the kill is under way. It returns an error wrapping [ErrDedicated] for a
// dedicated node (and does nothing), and one wrapping [ErrUnknownNode] for a node the provider
// does not have or that is already going away, and after [Provider.Close].
func (p *Provider) Evict(poolID, nodeID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.nodes[nodeKey{poolID, nodeID}]
	if n == nil || p.isClosed {
		return fmt.Errorf("evict %s/%s: %w", poolID, nodeID, ErrUnknownNode)
	}
	if n.dedicated {
		return fmt.Errorf("evict %s/%s: %w", poolID, nodeID, ErrDedicated)
	}
	if n.phase != starting && n.phase != ready {
		return fmt.Errorf("evict %s/%s: the node is already going away: %w", poolID, nodeID, ErrUnknownNode)
	}
	p.log.Info("local provider: evicting node", "pool", poolID, "node", nodeID, "ready", n.phase == ready)
	n.evicted = true
	n.preempted = n.phase == ready
	p.beginDeleteLocked(n)
	return nil
}

// Close stops tracking nodes: the provider's goroutines stop, waiting requests get no answer,
// and the actor drops later requests. It does not kill node processes (nodes outlive the server;
// a later [New] on the same Root adopts them) except through a [Provider.KillAll] after it.
func (p *Provider) Close() {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.isClosed = true
		p.mu.Unlock()
		close(p.closed)
	})
}

// KillAll deletes every node the provider has, as DeleteVM does (waiting requests are answered
// unless the provider is closed), and returns once their processes are gone. It is for tests
// and for `corral run` when it exits. After [Provider.Close] it still kills the nodes the
// provider had, without answering anything.
func (p *Provider) KillAll() {
	p.mu.Lock()
	nodes := make([]*node, 0, len(p.nodes))
	for _, n := range p.nodes {
		p.beginDeleteLocked(n)
		nodes = append(nodes, n)
	}
	p.mu.Unlock()
	for _, n := range nodes {
		<-n.done
	}
	// The goroutines of a closed provider stop without deleting; finish their work here.
	for _, n := range nodes {
		p.mu.Lock()
		pid, start, still := n.pid, n.start, p.nodes[nodeKey{n.pool, n.id}] == n
		p.mu.Unlock()
		if !still {
			continue
		}
		if pid != 0 {
			procfs.KillSession(pid, start, nil, nil)
		}
		p.finish(n, "node was deleted before it was ready")
	}
}

// nodeCores is the cores of a local node, for pools' usage metrics: every core of this
// machine, since a local node's tasks may run on any of them (nodes of the same machine share
// them, so their core hours add up to more than the machine's).
func nodeCores() int { return runtime.NumCPU() }
