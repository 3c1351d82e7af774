// Package exec is the VM provider that runs programs an operator gives it to create, delete and
// list machines, as Slurm's power saving runs ResumeProgram and SuspendProgram: any cloud's
// command-line tool, or a script of the operator's own, can bring nodes to Corral. The contract
// with the programs (their environment, exit status and output) is the operator's reference in
// examples/exec/README.md, which also has programs for two clouds and one for this machine.
//
// A [Provider] is an adapter between the actor world and the operating system, as compute/local
// is: its actor ([Provider.Actor], created under [compute.ProviderID]) answers the requests of
// the [compute] contract without blocking, and the programs run on goroutines of the provider,
// which send the answers with [actor.Runtime.Send]. This package is not actor code.
//
// # Create
//
// A CreateVM for a new node asks [Config.JoinToken] for the node's join token and runs the
// create program with it in CORRAL_JOIN_TOKEN. The program starts a machine that runs `corral
// agent` with that token; the machine joins the pool by itself. Exit status 0 answers VMCreated;
// the last non-empty line of standard output, if any (at most 1024 bytes), is the node's handle
// (a VM id, say; one word, if the list program is to print it): it is kept, and given to the
// delete program in CORRAL_NODE_HANDLE, and it is the VMCreated's Address. Any other exit status, or running past [Config.CreateTimeout],
// answers VMFailed with a reason made of the last lines of standard error; the provider then
// runs the delete program for the node, to reverse whatever the create program made before it
// failed, so the delete program must succeed for a machine that does not exist.
//
// # Delete and cancellation
//
// A DeleteVM runs the delete program; exit status 0 answers VMDeleted. A delete program that
// fails is run again, after [Config.RetryDelay], doubling up to [Config.MaxRetryDelay], for as
// long as it takes: the node stays in ListVMs until it is deleted. A DeleteVM for a node whose
// create program runs cancels the creation: the create program's whole session gets SIGTERM,
// then SIGKILL after [Config.KillGrace]; the CreateVM is answered VMFailed (cancelled); then the
// delete program runs as for any node. A DeleteVM for a node the provider does not know is
// answered VMDeleted at once, unless the list program listed the node (a machine the provider
// has no record of): then the delete program runs.
//
// # List, preemption and loss
//
// Without a list program, ListVMs answers the provider's own records: the nodes it is creating,
// has created, or is deleting. With one, each ListVMs runs it (requests that arrive while it
// runs share the run) and answers the records and the machines it printed, one a line:
//
//	<poolId> <nodeId> <dedicated|lowpriority> [running|preempted|lost [<handle>]]
//
// Empty lines and lines starting with # are skipped; any other line that does not parse makes
// the run a failure, and a failed run answers the records alone. The list program is how the
// provider learns of machines gone by themselves: a node it created whose machine a line marks
// preempted is reported VMPreempted (VMLost if the node is dedicated), one marked lost VMLost,
// and one not listed in [Config.LostAfterMisses] successful runs in a row (2 unless set; runs
// that started before the node was created do not count) VMLost. A line with a handle is about
// the node's machine only if the node has that handle (or none): so a machine that was
// preempted, and that the cloud still shows, says nothing of the machine that replaced it; and
// if a node has several machines listed, one that runs wins. Either event goes to the ReplyTo
// of the CreateVM last answered VMCreated for the node, or, for a node the provider knows only
// from its records (after a restart), to [Config.NotifyTo]; then the delete program runs for the
// node, to release what is left of the machine, and a CreateVM for the node is answered
// VMFailed until it is deleted. [Provider.Evict] does the same for a node an operator takes
// away.
//
// # Records, restarts and logs
//
// The provider keeps a record of every node it is creating, has created or is deleting in
// Dir/nodes/<pool>/<node>.json, written before it runs a program for the node, so that a
// provider started later on the same Dir knows its nodes: created ones are listed and deleted
// with their handles, deletions go on, and a creation that was under way is reversed (its
// program is stopped if it still runs, and the delete program runs). [Provider.Close] stops the
// programs that run. Every line a program writes goes to Dir/logs/<pool>/<node>.log (the list
// program's to Dir/logs/list.log), each with the time, the operation and the stream, with the
// join token replaced; a log is bounded ([Config.MaxLogBytes], then it moves to .log.1), and
// the logs of the most recent deleted nodes are kept.
//
// # Environment
//
// A program gets PATH and HOME, the variables [Config.PassEnv] names, and the provider's:
// CORRAL_OPERATION (create, delete or list), CORRAL_SERVER_URL, CORRAL_CA_FILE,
// CORRAL_CA_FINGERPRINT, and for create and delete CORRAL_POOL_ID, CORRAL_NODE_ID,
// CORRAL_VM_SIZE, CORRAL_PRIORITY (dedicated or lowpriority), CORRAL_REQUEST_ID; create also
// CORRAL_JOIN_TOKEN, delete CORRAL_NODE_HANDLE. Nothing else of the server's environment, and
// never the account key. A program runs in Dir, as the leader of a session of its own, with
// standard input from /dev/null. The join token is never logged.
//
// Requests are recognised by their request ids: the provider remembers the final answers to the
// last few thousand requests and answers a repeated request as it answered the first, without
// running anything. A CreateVM for a node that exists is answered VMCreated without running the
// create program again.
package exec

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	osexec "os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"corral/actor"
	"corral/compute"
	"corral/compute/internal/proc"
	"corral/compute/internal/provkit"
)

// Operations, as CORRAL_OPERATION names them.
const (
	opCreate = "create"
	opDelete = "delete"
	opList   = "list"
)

// Defaults of Config.
const (
	DefaultCreateTimeout   = 10 * time.Minute
	DefaultDeleteTimeout   = 5 * time.Minute
	DefaultListTimeout     = time.Minute
	DefaultKillGrace       = 10 * time.Second
	DefaultRetryDelay      = 5 * time.Second
	DefaultMaxRetryDelay   = 5 * time.Minute
	DefaultLostAfterMisses = 2
	DefaultMaxLogBytes     = 1 << 20
	DefaultKeepLogs        = 256
)

// Config configures a [Provider]. Zero durations and counts get the defaults above.
type Config struct {
	// Runtime is the actor runtime the provider's actor lives in; answers are sent through it.
	Runtime actor.Runtime
	// CreateProgram and DeleteProgram are the programs that create and delete a machine: a
	// path, or a name looked up in PATH; they get no arguments. Both are required.
	CreateProgram, DeleteProgram string
	// ListProgram lists the machines that exist; optional (see the package documentation).
	ListProgram string
	// Dir is the provider's own directory: node records and program logs. It is created (0700)
	// if it does not exist, and the programs run in it.
	Dir string
	// CreateTimeout, DeleteTimeout and ListTimeout bound one run of each program.
	CreateTimeout, DeleteTimeout, ListTimeout time.Duration
	// KillGrace is how long a program that is stopped has between SIGTERM and SIGKILL.
	KillGrace time.Duration
	// RetryDelay is how long after a failed delete program the provider runs it again; the
	// delay doubles with each failure, up to MaxRetryDelay.
	RetryDelay, MaxRetryDelay time.Duration
	// LostAfterMisses is how many successful list runs in a row must leave out a node the
	// provider created before it reports the node lost.
	LostAfterMisses int
	// JoinToken returns the token with which the machine of a node joins its pool; it is
	// called before each run of the create program, and its token is given to that program
	// alone, in CORRAL_JOIN_TOKEN. Required. It must not block for long.
	JoinToken func(poolID, nodeID string, dedicated bool) (string, error)
	// ServerURL is the URL at which machines reach the server (CORRAL_SERVER_URL).
	ServerURL string
	// CACertFile and CAFingerprint describe the server's certificate authority, for machines to
	// trust the server (CORRAL_CA_FILE, CORRAL_CA_FINGERPRINT); empty if there is none.
	CACertFile, CAFingerprint string
	// PassEnv names variables of the server's environment that the programs get too, such as a
	// cloud CLI's configuration. It may not name CORRAL_ACCOUNT_KEY or a variable the provider
	// sets.
	PassEnv []string
	// NotifyTo names the recipient of VMPreempted and VMLost for a node of pool poolID whose
	// creator the provider does not know (a node it knows from its records after a restart).
	// Nil means such events are only logged. It is called with the provider's lock held: it
	// must return at once and not call the provider.
	NotifyTo func(poolID string) actor.ID
	// MaxLogBytes bounds a node's program log before it moves to .log.1.
	MaxLogBytes int64
	// KeepLogs is how many logs of deleted nodes are kept.
	KeepLogs int
	// Logger receives the provider's reports. Nil means slog.Default().
	Logger *slog.Logger
}

// ErrUnknownNode is returned by [Provider.Evict] for a node the provider has not created, or
// that is already going away.
var ErrUnknownNode = errors.New("exec: unknown node")

// ErrDedicated is returned by [Provider.Evict] for a dedicated node.
var ErrDedicated = errors.New("exec: node is dedicated; only low-priority nodes can be evicted")

// cancelledReason is the reason of a creation that a DeleteVM cancelled before its program ran
// or after it succeeded.
const cancelledReason = "creation cancelled: the node was deleted while it was being created"

// rememberedAnswers bounds how many finished requests the provider recognises when repeated.
const rememberedAnswers = 4096

// maxHandle bounds a node's handle.
const maxHandle = 1024

// maxListOutput bounds the list program's standard output.
const maxListOutput = 16 << 20

// Provider runs an operator's programs to create, delete and list machines. Its methods are safe
// for concurrent use.
type Provider struct {
	rt                               actor.Runtime
	createProg, deleteProg, listProg string // the programs' absolute paths; listProg may be empty
	dir                              string
	createTO, deleteTO, lsTO         time.Duration
	grace                            time.Duration
	retry, maxRetry                  time.Duration
	lostAfter                        int
	joinToken                        func(poolID, nodeID string, dedicated bool) (string, error)
	serverURL, caFile, caFingerprint string
	passEnv                          []string
	notifyTo                         func(poolID string) actor.ID
	maxLog                           int64
	keepLogs                         int
	log                              *slog.Logger
	boot                             string
	listLog                          *runLog // nil without a list program

	closed    chan struct{} // closed by Close
	closeOnce sync.Once
	wg        sync.WaitGroup // the provider's goroutines

	mu          sync.Mutex
	isClosed    bool
	nodes       map[nodeKey]*node
	answers     *provkit.Answers
	listing     bool                   // a run of the list program is under way
	listWaiters []compute.ListVMs      // ListVMs waiting for it
	listRuns    uint64                 // list runs started
	listed      map[nodeKey][]listedVM // the last successful list run's machines
}

type nodeKey struct{ pool, node string }

// node is a node the provider knows. Its goroutine (at most one at a time) runs its programs;
// the fields are guarded by Provider.mu, except rec, which only that goroutine changes after
// the node is made.
type node struct {
	rec         record
	phase       string // phaseCreating, phaseCreated or phaseDeleting
	creates     []waiter
	deletes     []waiter
	creator     waiter        // the CreateVM last answered VMCreated; zero if unknown
	cancel      chan struct{} // closed when a DeleteVM arrives while the node is being created
	deleteAsked bool
	createdRun  uint64 // Provider.listRuns when the node was created
	misses      int    // successful list runs in a row that left it out
}

type waiter struct {
	requestID string
	replyTo   actor.ID
}

// outbound is an answer to send once the provider's lock is released.
type outbound = provkit.Outbound

// New returns a provider for cfg and takes up the nodes recorded in cfg.Dir: created ones are
// known again, deletions go on, and creations that were under way are reversed. It does not
// create the actor; see [Provider.Actor].
func New(cfg Config) (*Provider, error) {
	switch {
	case cfg.Runtime == nil:
		return nil, errors.New("exec: Config.Runtime is nil")
	case cfg.Dir == "":
		return nil, errors.New("exec: Config.Dir is empty")
	case cfg.JoinToken == nil:
		return nil, errors.New("exec: Config.JoinToken is nil: machines could not join their pools")
	case cfg.CreateTimeout < 0 || cfg.DeleteTimeout < 0 || cfg.ListTimeout < 0 || cfg.KillGrace < 0 ||
		cfg.RetryDelay < 0 || cfg.MaxRetryDelay < 0 || cfg.LostAfterMisses < 0 || cfg.MaxLogBytes < 0 || cfg.KeepLogs < 0:
		return nil, errors.New("exec: negative duration or count in Config")
	}
	var err error
	p := &Provider{
		rt:            cfg.Runtime,
		createTO:      orDefault(cfg.CreateTimeout, DefaultCreateTimeout),
		deleteTO:      orDefault(cfg.DeleteTimeout, DefaultDeleteTimeout),
		lsTO:          orDefault(cfg.ListTimeout, DefaultListTimeout),
		grace:         orDefault(cfg.KillGrace, DefaultKillGrace),
		retry:         orDefault(cfg.RetryDelay, DefaultRetryDelay),
		maxRetry:      orDefault(cfg.MaxRetryDelay, DefaultMaxRetryDelay),
		lostAfter:     orDefault(cfg.LostAfterMisses, DefaultLostAfterMisses),
		joinToken:     cfg.JoinToken,
		serverURL:     cfg.ServerURL,
		caFile:        cfg.CACertFile,
		caFingerprint: cfg.CAFingerprint,
		passEnv:       append([]string(nil), cfg.PassEnv...),
		notifyTo:      cfg.NotifyTo,
		maxLog:        orDefault(cfg.MaxLogBytes, DefaultMaxLogBytes),
		keepLogs:      orDefault(cfg.KeepLogs, DefaultKeepLogs),
		log:           cfg.Logger,
		boot:          proc.BootID(),
		closed:        make(chan struct{}),
		nodes:         map[nodeKey]*node{},
		answers:       provkit.NewAnswers(rememberedAnswers),
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	if err := checkPassEnv(p.passEnv); err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	if p.createProg, err = program("CreateProgram", cfg.CreateProgram, true); err != nil {
		return nil, err
	}
	if p.deleteProg, err = program("DeleteProgram", cfg.DeleteProgram, true); err != nil {
		return nil, err
	}
	if p.listProg, err = program("ListProgram", cfg.ListProgram, false); err != nil {
		return nil, err
	}
	if p.dir, err = filepath.Abs(cfg.Dir); err != nil {
		return nil, fmt.Errorf("exec: Dir: %w", err)
	}
	for _, d := range []string{p.dir, filepath.Join(p.dir, nodesDir), filepath.Join(p.dir, logsDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("exec: Dir: %w", err)
		}
	}
	recs, err := p.loadRecords()
	if err != nil {
		return nil, fmt.Errorf("exec: %w", err)
	}
	if p.listProg != "" {
		p.listLog = openRunLog(filepath.Join(p.dir, logsDir, "list.log"), p.maxLog, p.log)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range recs {
		n := &node{rec: r, phase: r.Phase, cancel: make(chan struct{})}
		p.nodes[nodeKey{r.Pool, r.Node}] = n
		switch r.Phase {
		case phaseCreated:
			p.log.Info("exec provider: known node", "pool", r.Pool, "node", r.Node, "handle", r.Handle)
		case phaseCreating:
			p.log.Warn("exec provider: a creation was under way when the provider stopped; reversing it", "pool", r.Pool, "node", r.Node)
			n.phase = phaseDeleting
			p.goLocked(func() { p.reverseInterrupted(n) })
		case phaseDeleting:
			p.log.Info("exec provider: a deletion was under way when the provider stopped; going on", "pool", r.Pool, "node", r.Node)
			p.goLocked(func() { p.deleting(n) })
		}
	}
	return p, nil
}

func orDefault[T time.Duration | int | int64](v, def T) T {
	if v == 0 {
		return def
	}
	return v
}

// program resolves a program's path; an empty name is an error if the program is required.
func program(field, name string, required bool) (string, error) {
	if name == "" {
		if required {
			return "", fmt.Errorf("exec: Config.%s is empty", field)
		}
		return "", nil
	}
	path, err := osexec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("exec: Config.%s: %w", field, err)
	}
	if path, err = filepath.Abs(path); err != nil {
		return "", fmt.Errorf("exec: Config.%s: %w", field, err)
	}
	return path, nil
}

// goLocked runs f on a goroutine of the provider. p.mu must be held, and the provider open.
func (p *Provider) goLocked(f func()) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
}

// has reports whether the provider knows node pool/node.
func (p *Provider) has(pool, node string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.nodes[nodeKey{pool, node}] != nil
}

// Actor returns the actor to create under [compute.ProviderID]. Its handlers never block.
// Answers are sent with the runtime's Send (as from outside any actor), so that a ReplyTo naming
// no actor is logged rather than failing the provider's actor. After [Provider.Close] it drops
// requests (logged) and answers nothing.
func (p *Provider) Actor() actor.Actor {
	return provkit.Actor(provkit.Handlers{Create: p.onCreate, Delete: p.onDelete, List: p.onList, Send: p.send})
}

// send delivers answers with the runtime. After Close nothing is sent.
func (p *Provider) send(outs []outbound) {
	provkit.Sender{Runtime: p.rt, Closed: p.closed, Log: p.log, Name: "exec provider"}.Send(outs)
}

// answerLocked makes the final answer to a request and remembers it. p.mu must be held.
func (p *Provider) answerLocked(outs []outbound, w waiter, ev actor.Event) []outbound {
	p.answers.Remember(w.requestID, ev)
	return append(outs, outbound{To: w.replyTo, Ev: ev})
}

// openLocked reports whether the provider takes requests (logging a dropped one). p.mu must be
// held.
func (p *Provider) openLocked(ev actor.Event) bool {
	if p.isClosed {
		p.log.Warn("exec provider: request after Close dropped", "event", actor.EventName(ev))
	}
	return !p.isClosed
}

func (p *Provider) onCreate(c compute.CreateVM) []outbound {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.openLocked(c) {
		return nil
	}
	w := waiter{c.RequestID, c.ReplyTo}
	if ev, ok := p.answers.Lookup(c.RequestID); ok {
		return []outbound{{To: c.ReplyTo, Ev: ev}}
	}
	fail := func(reason string) []outbound {
		return p.answerLocked(nil, w, compute.VMFailed{RequestID: c.RequestID, PoolID: c.PoolID, NodeID: c.NodeID, Reason: reason})
	}
	if !compute.ValidID(c.PoolID) || !compute.ValidID(c.NodeID) {
		return fail(fmt.Sprintf("invalid pool or node id %q/%q: ids are 1 to 255 of A-Z a-z 0-9 _ -", c.PoolID, c.NodeID))
	}
	if !validVMSize(c.VMSize) {
		return fail(fmt.Sprintf("invalid vmSize %q: at most 255 of A-Z a-z 0-9 _ - . :", c.VMSize))
	}
	k := nodeKey{c.PoolID, c.NodeID}
	n := p.nodes[k]
	if n == nil {
		n = &node{
			rec:     record{Pool: c.PoolID, Node: c.NodeID, VMSize: c.VMSize, Dedicated: c.Dedicated, Phase: phaseCreating},
			phase:   phaseCreating,
			creates: []waiter{w},
			cancel:  make(chan struct{}),
		}
		p.nodes[k] = n
		p.goLocked(func() { p.creating(n, c.RequestID) })
		return nil
	}
	switch n.phase {
	case phaseCreating:
		n.creates = append(n.creates, w)
		return nil
	case phaseCreated:
		n.creator = w
		return p.answerLocked(nil, w, compute.VMCreated{RequestID: c.RequestID, PoolID: c.PoolID, NodeID: c.NodeID, Address: n.rec.Handle})
	default:
		return fail("the node is being deleted; ask again once it is gone")
	}
}

// validVMSize reports whether s may be handed to a program as a VM size: 0 to 255 of
// [A-Za-z0-9_.:-] (every cloud's size names fit).
func validVMSize(s string) bool {
	if len(s) > 255 {
		return false
	}
	for _, c := range []byte(s) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '-', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

func (p *Provider) onDelete(d compute.DeleteVM) []outbound {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.openLocked(d) {
		return nil
	}
	w := waiter{d.RequestID, d.ReplyTo}
	if ev, ok := p.answers.Lookup(d.RequestID); ok {
		return []outbound{{To: d.ReplyTo, Ev: ev}}
	}
	k := nodeKey{d.PoolID, d.NodeID}
	n := p.nodes[k]
	if n == nil {
		machines := p.listed[k]
		if len(machines) == 0 { // also for invalid ids: no such node can exist
			return p.answerLocked(nil, w, compute.VMDeleted{RequestID: d.RequestID, PoolID: d.PoolID, NodeID: d.NodeID})
		}
		// A machine the list program shows and the provider has no record of.
		p.log.Info("exec provider: deleting a listed node the provider has no record of", "pool", d.PoolID, "node", d.NodeID)
		rec := record{Pool: d.PoolID, Node: d.NodeID, Dedicated: machines[0].dedicated, Phase: phaseDeleting}
		for _, m := range machines {
			if m.handle != "" {
				rec.Handle = m.handle
				break
			}
		}
		n = &node{rec: rec, phase: phaseDeleting, cancel: make(chan struct{})}
		p.nodes[k] = n
		n.deletes = append(n.deletes, w)
		n.deleteAsked = true
		p.goLocked(func() { p.deleting(n) })
		return nil
	}
	n.deletes = append(n.deletes, w)
	p.beginDeleteLocked(n)
	return nil
}

// beginDeleteLocked starts the deletion of n: a created node's delete program runs; a creation
// under way is cancelled (its goroutine then deletes the node). p.mu must be held.
func (p *Provider) beginDeleteLocked(n *node) {
	if n.deleteAsked {
		return
	}
	n.deleteAsked = true
	switch n.phase {
	case phaseCreating:
		close(n.cancel)
	case phaseCreated:
		n.phase = phaseDeleting
		p.goLocked(func() { p.deleting(n) })
	}
}

// creating is the goroutine of a new node: it runs the create program and answers the
// CreateVMs, then deletes the node if the creation failed or was cancelled.
func (p *Provider) creating(n *node, requestID string) {
	if err := p.save(n.rec); err != nil {
		p.failCreation(n, fmt.Sprintf("cannot record the node: %v", err), false)
		return
	}
	select {
	case <-n.cancel:
		p.failCreation(n, cancelledReason, false)
		return
	default:
	}
	token, err := p.joinToken(n.rec.Pool, n.rec.Node, n.rec.Dedicated)
	if err == nil && strings.IndexFunc(token, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		err = errors.New("the token has control characters")
	}
	if err != nil {
		p.failCreation(n, fmt.Sprintf("cannot issue a join token: %v", err), false)
		return
	}
	log := openRunLog(p.logPath(n.rec.Pool, n.rec.Node), p.maxLog, p.log)
	defer log.close()
	res := p.run(runSpec{
		op:      opCreate,
		program: p.createProg,
		env:     p.env(vmVars{op: opCreate, pool: n.rec.Pool, id: n.rec.Node, vmSize: n.rec.VMSize, dedicated: n.rec.Dedicated, requestID: requestID, token: token}),
		timeout: p.createTO,
		cancel:  n.cancel,
		log:     log,
		secret:  token,
		started: func(pid int, start uint64) {
			r := n.rec
			r.PID, r.Start, r.Boot = pid, start, p.boot
			if err := p.save(r); err != nil {
				p.log.Warn("exec provider: cannot record the create program's process", "pool", r.Pool, "node", r.Node, "err", err)
			}
		},
	})
	switch {
	case res.closed:
		return // the record says creating: a provider started later reverses the creation
	case res.startErr != nil:
		p.failCreation(n, res.reason(opCreate, p.createTO), false)
		return
	case !res.ok():
		reason := res.reason(opCreate, p.createTO)
		p.log.Warn("exec provider: creation failed; deleting what it may have made", "pool", n.rec.Pool, "node", n.rec.Node, "reason", reason)
		p.failCreation(n, reason, true)
		return
	}
	handle := handleOf(res.stdout.tail)
	n.rec.Phase, n.rec.Handle = phaseCreated, handle
	if err := p.save(n.rec); err != nil {
		p.failCreation(n, fmt.Sprintf("the machine was created but cannot be recorded (%v); deleting it", err), true)
		return
	}
	p.mu.Lock()
	if n.deleteAsked {
		p.mu.Unlock()
		p.failCreation(n, cancelledReason, true)
		return
	}
	n.phase = phaseCreated
	n.createdRun = p.listRuns
	var outs []outbound
	for _, w := range n.creates {
		outs = p.answerLocked(outs, w, compute.VMCreated{RequestID: w.requestID, PoolID: n.rec.Pool, NodeID: n.rec.Node, Address: handle})
		n.creator = w
	}
	n.creates = nil
	p.mu.Unlock()
	p.log.Info("exec provider: node created", "pool", n.rec.Pool, "node", n.rec.Node, "handle", handle, "took", res.took.Round(time.Millisecond))
	p.send(outs)
}

// handleOf returns a node's handle from the last lines of the create program's standard
// output: the last non-empty one, if it is at most maxHandle bytes.
func handleOf(tail []string) string {
	for i := len(tail) - 1; i >= 0; i-- {
		if s := strings.TrimSpace(tail[i]); s != "" {
			if len(s) > maxHandle {
				return ""
			}
			return s
		}
	}
	return ""
}

// failCreation answers the CreateVMs waiting for n VMFailed, with reason. Then, if the creation
// may have made something, it deletes the node; otherwise it forgets it.
func (p *Provider) failCreation(n *node, reason string, made bool) {
	p.mu.Lock()
	var outs []outbound
	for _, w := range n.creates {
		outs = p.answerLocked(outs, w, compute.VMFailed{RequestID: w.requestID, PoolID: n.rec.Pool, NodeID: n.rec.Node, Reason: reason})
	}
	n.creates = nil
	n.phase = phaseDeleting
	p.mu.Unlock()
	p.send(outs)
	if made {
		p.deleting(n)
		return
	}
	if err := p.forgetRecord(n.rec.Pool, n.rec.Node); err != nil {
		p.log.Warn("exec provider: cannot remove a node record", "pool", n.rec.Pool, "node", n.rec.Node, "err", err)
	}
	p.forget(n)
}

// reverseInterrupted stops the create program of a creation that was under way when an earlier
// provider stopped, if it still runs, and deletes the node.
func (p *Provider) reverseInterrupted(n *node) {
	r := n.rec
	if r.PID > 0 && (r.Boot == "" || p.boot == "" || r.Boot == p.boot) {
		if !proc.TerminateSession(r.PID, r.Start, p.grace, p.closed, nil) {
			return
		}
	}
	p.deleting(n)
}

// deleting runs the delete program for n until it succeeds, then forgets n and answers the
// DeleteVMs. It returns early if the provider is closed (the record says deleting: a provider
// started later goes on).
func (p *Provider) deleting(n *node) {
	n.rec.Phase, n.rec.PID, n.rec.Start, n.rec.Boot = phaseDeleting, 0, 0, ""
	if err := p.save(n.rec); err != nil {
		p.log.Warn("exec provider: cannot record a deletion", "pool", n.rec.Pool, "node", n.rec.Node, "err", err)
	}
	log := openRunLog(p.logPath(n.rec.Pool, n.rec.Node), p.maxLog, p.log)
	defer log.close()
	delay := p.retry
	for attempt := 1; ; attempt++ {
		p.mu.Lock()
		requestID := ""
		if len(n.deletes) > 0 {
			requestID = n.deletes[0].requestID
		}
		p.mu.Unlock()
		res := p.run(runSpec{
			op:      opDelete,
			program: p.deleteProg,
			env:     p.env(vmVars{op: opDelete, pool: n.rec.Pool, id: n.rec.Node, vmSize: n.rec.VMSize, dedicated: n.rec.Dedicated, requestID: requestID, handle: n.rec.Handle}),
			timeout: p.deleteTO,
			log:     log,
		})
		if res.closed {
			return
		}
		if res.ok() {
			break
		}
		p.log.Warn("exec provider: delete program failed; it will run again", "pool", n.rec.Pool, "node", n.rec.Node,
			"attempt", attempt, "retry_in", delay, "reason", res.reason(opDelete, p.deleteTO))
		t := time.NewTimer(delay)
		select {
		case <-p.closed:
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(2*delay, p.maxRetry)
	}
	if err := p.forgetRecord(n.rec.Pool, n.rec.Node); err != nil {
		p.log.Warn("exec provider: cannot remove a node record", "pool", n.rec.Pool, "node", n.rec.Node, "err", err)
	}
	p.log.Info("exec provider: node deleted", "pool", n.rec.Pool, "node", n.rec.Node)
	p.forget(n)
	p.pruneLogs()
}

// forget drops n and answers the DeleteVMs waiting for it VMDeleted.
func (p *Provider) forget(n *node) {
	p.mu.Lock()
	k := nodeKey{n.rec.Pool, n.rec.Node}
	if p.nodes[k] == n {
		delete(p.nodes, k)
	}
	delete(p.listed, k)
	var outs []outbound
	for _, w := range n.deletes {
		outs = p.answerLocked(outs, w, compute.VMDeleted{RequestID: w.requestID, PoolID: n.rec.Pool, NodeID: n.rec.Node})
	}
	n.deletes = nil
	p.mu.Unlock()
	p.send(outs)
}

// goneLocked takes n, a created node whose machine is gone by itself (preempted, or lost with
// a reason), as the package documentation says: the event goes to n's creator, and n is
// deleted. p.mu must be held.
func (p *Provider) goneLocked(outs []outbound, n *node, preempted bool, reason string) []outbound {
	var ev actor.Event
	if preempted && !n.rec.Dedicated {
		ev = compute.VMPreempted{CreateRequestID: n.creator.requestID, PoolID: n.rec.Pool, NodeID: n.rec.Node}
		p.log.Warn("exec provider: node preempted", "pool", n.rec.Pool, "node", n.rec.Node)
	} else {
		if preempted {
			reason = "reported preempted, but the node is dedicated"
		}
		ev = compute.VMLost{CreateRequestID: n.creator.requestID, PoolID: n.rec.Pool, NodeID: n.rec.Node, Reason: reason}
		p.log.Warn("exec provider: node lost", "pool", n.rec.Pool, "node", n.rec.Node, "reason", reason)
	}
	to := n.creator.replyTo
	if to == "" && p.notifyTo != nil {
		to = p.notifyTo(n.rec.Pool)
	}
	if to == "" {
		p.log.Warn("exec provider: nobody to tell; event not sent", "pool", n.rec.Pool, "node", n.rec.Node, "event", actor.EventName(ev))
	} else {
		outs = append(outs, outbound{To: to, Ev: ev})
	}
	n.deleteAsked = true
	n.phase = phaseDeleting
	p.goLocked(func() { p.deleting(n) })
	return outs
}

// Evict takes a low-priority node away as a spot eviction would: the provider reports it
// preempted to its creator and runs the delete program for it. It returns an error wrapping
// [ErrDedicated] for a dedicated node, and one wrapping [ErrUnknownNode] for a node that is not
// created (or is going away), and after [Provider.Close].
func (p *Provider) Evict(poolID, nodeID string) error {
	p.mu.Lock()
	n := p.nodes[nodeKey{poolID, nodeID}]
	var err error
	switch {
	case n == nil || p.isClosed:
		err = ErrUnknownNode
	case n.rec.Dedicated:
		err = ErrDedicated
	case n.phase != phaseCreated || n.deleteAsked:
		err = fmt.Errorf("the node is being created or deleted: %w", ErrUnknownNode)
	}
	if err != nil {
		p.mu.Unlock()
		return fmt.Errorf("evict %s/%s: %w", poolID, nodeID, err)
	}
	outs := p.goneLocked(nil, n, true, "")
	p.mu.Unlock()
	p.send(outs)
	return nil
}

// Close stops the provider: the programs that run are stopped (their nodes' records let a
// provider started later on the same Dir finish or reverse their work), waiting requests get no
// answer, and the actor drops later requests. It returns once the provider's goroutines have
// ended.
func (p *Provider) Close() {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.isClosed = true
		p.mu.Unlock()
		close(p.closed)
	})
	p.wg.Wait()
	if p.listLog != nil {
		p.listLog.close()
	}
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[nodeKey]V) []nodeKey {
	keys := make([]nodeKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].pool != keys[j].pool {
			return keys[i].pool < keys[j].pool
		}
		return keys[i].node < keys[j].node
	})
	return keys
}
