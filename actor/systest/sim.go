package systest

import (
	"container/heap"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"corral/actor"
)

// epoch is where virtual time starts in every run.
var epoch = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// Sim is one run of a program under the tester. The program's setup function gets it as an
// [actor.Runtime]; models (the test's stand-ins for stores, VM providers, agents) use it for
// their own nondeterminism, for the virtual clock, and to fail on the tester's command.
type Sim struct {
	cfg   *Config
	strat strategy
	watch *watch

	actors map[actor.ID]*actor.Instance // the default namespace: the current incarnation of every ID ever created there
	// diedWith holds the actors of the default namespace that a crash of their host killed. The
	// host's later lives do not know them: a new process starts with an empty engine, so a send
	// from the host to one of them, before the host creates it again, is a send to an unknown
	// actor. (Other hosts reach them over a network, where such a message is simply lost.)
	diedWith map[*actor.Instance]bool
	live     []liveActor // instances not known to be halted, in creation order
	nextAuto int
	declared map[string]bool // actor types whose declarations coverage has

	hosts     map[string]*simHost
	hostOrder []*simHost
	nprocs    int                          // how many of the hosts are processes
	procIDs   map[actor.ID]bool            // IDs taken by processes' actors, plain and qualified
	names     map[*actor.Instance]actor.ID // qualified names of processes' actors ("account@replica-a")
	router    func(to actor.ID) string     // see Route
	monitors  []*actor.Instance
	hot       []int // fair steps each monitor has spent in a hot state
	hotAt     []int // the step after which each monitor was last seen entering a hot state; -1: not hot

	now    time.Time
	timers timerHeap
	tmrSeq uint64
	tmrs   map[timerRef]*simTimer

	net    []*netMsg // events held back in the network
	netSeq int
	cut    map[[2]string]bool // partitioned host pairs, names sorted

	sr     *setupRunner    // the setup function, run as a participant
	cur    *actor.Instance // the actor whose handler is running
	doomed *simHost        // cur's host, which cur's handler crashed: it goes down when the step ends
	outbox []outMsg

	budget Faults
	step   int
	ops    []op

	choices  []choice
	steps    []stepRec
	notes    []note
	diverged string
	bug      *Bug
	cov      *coverage
	expect   []string // per step, for replay's determinism check
}

type simHost struct {
	name string
	boot func(actor.Host) error
	down bool
	// paused is set while the host is paused (see PauseHost): its actors take no steps. held
	// is set when the program paused it (PauseHost): then only ResumeHost ends the pause.
	paused, held bool
	boots        int
	// ns is the actor namespace of a process (see AddProcess): its actors of the current life,
	// by ID. It is nil for a host made by AddHost, whose actors are in the default namespace.
	ns map[actor.ID]*actor.Instance
}

// liveActor is an instance in Sim.live, with what the scheduler needs of it at every step.
type liveActor struct {
	in   *actor.Instance
	host *simHost // nil on the default host
	name actor.ID // as traces name it: its ID, qualified for a process's actor (see nameOf)
}

type timerRef struct {
	in *actor.Instance
	id actor.TimerID
}

type simTimer struct {
	ref    timerRef
	at     time.Time
	period time.Duration
	ev     actor.Event
	seq    uint64
	idx    int
}

type timerHeap []*simTimer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].idx = i; h[j].idx = j }
func (h *timerHeap) Push(x any)   { t := x.(*simTimer); t.idx = len(*h); *h = append(*h, t) }
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	t.idx = -1
	return t
}

type netMsg struct {
	key      string
	to       actor.ID
	dst      *simHost // the process whose namespace has to; nil for the default namespace
	env      actor.Envelope
	from, at string // hosts
}

type outMsg struct {
	to   actor.ID
	dst  *simHost // as in netMsg
	env  actor.Envelope
	lost string // why the event reaches no actor (the router found none); "" if it goes to one
}

type opKind uint8

const (
	opDeliver opKind = iota // an actor takes its next step
	opClock                 // virtual time advances to the earliest timer, which fires
	opNet                   // an event held in the network arrives
	opRestart               // a crashed host boots again
	opHeal                  // a partition between two hosts heals
	opSetup                 // the setup function makes its next Runtime call
	opResume                // a paused host goes on
)

// op is one enabled operation; key names it stably across runs, for traces and priorities.
type op struct {
	kind opKind
	key  string
	in   *actor.Instance
	host *simHost // for deliveries: the actor's host (nil for the default host); for restarts: the host
	msg  int      // index in net
	pair [2]string
	// advances is set on the clock when its next timer is not due yet: taking it moves virtual
	// time forward, which strategies weigh (Config.ClockProbability).
	advances bool
}

// choice is one recorded decision.
type choice struct {
	kind byte
	n, v int
	key  string // for schedule choices: the operation taken
}

// stepRec is what one step did, for the trace and the sequence diagram.
type stepRec struct {
	kind    opKind
	key     string
	actor   actor.ID
	typ     string
	state   string // state before the step
	after   string // state after the step
	ev      reflect.Type
	val     actor.Event // the event itself, for fingerprints
	from    actor.ID
	timer   bool
	result  actor.StepKind
	halted  bool
	dropped bool          // for clock steps: a periodic tick dropped because the last one is unhandled
	what    string        // for setup steps: the Runtime call
	at      time.Duration // virtual time after the step, since the start of the run
	advance time.Duration // for clock steps: how far virtual time moved
}

// note is something that happened inside a step: a fault, a log line, an announcement, a timer
// started or cancelled.
type note struct {
	step int
	kind string // "fault", "crash", "log", "announce", "drop", "timer", "cancel"
	who  actor.ID
	text string
	args []any
	ev   actor.Event
	// For timers: when it is due and its period, as virtual time since the start of the run.
	due, period time.Duration
}

// reuse takes the record buffers of a finished run that is no longer needed, so that a hunt does
// not allocate them anew every iteration.
func (s *Sim) reuse(prev *Sim) {
	if prev == nil {
		return
	}
	clear(prev.steps)
	clear(prev.choices)
	clear(prev.notes)
	clear(prev.ops)
	s.steps, s.choices, s.notes, s.ops = prev.steps[:0], prev.choices[:0], prev.notes[:0], prev.ops[:0]
}

func newSim(cfg *Config, strat strategy, w *watch, cov *coverage) *Sim {
	return &Sim{
		cfg:      cfg,
		strat:    strat,
		watch:    w,
		actors:   map[actor.ID]*actor.Instance{},
		diedWith: map[*actor.Instance]bool{},
		declared: map[string]bool{},
		hosts:    map[string]*simHost{},
		now:      epoch,
		tmrs:     map[timerRef]*simTimer{},
		cut:      map[[2]string]bool{},
		budget:   cfg.Faults,
		cov:      cov,
	}
}

var _ actor.Runtime = (*Sim)(nil)

// Create implements [actor.Runtime]: the actor runs on the default host, which never crashes.
func (s *Sim) Create(name string, a actor.Actor) (actor.ID, error) {
	s.setupPoint("Create " + name)
	return s.create(nil, name, a)
}

// create starts an actor on host h (nil: the default host), in h's namespace if h is a process.
func (s *Sim) create(h *simHost, name string, a actor.Actor) (actor.ID, error) {
	id := actor.ID(name)
	if id == "" {
		s.nextAuto++
		id = actor.ID(actor.TypeOf(a) + "(" + strconv.Itoa(s.nextAuto) + ")")
	}
	host, qual := "", actor.ID("")
	if h != nil {
		host = h.name
		if h.ns != nil {
			qual = qualify(id, h)
		}
	}
	if err := s.checkID(h, id, qual); err != nil {
		return "", err
	}
	in, err := actor.NewInstance(simEnv{s}, id, host, a)
	if err != nil {
		return "", &actor.Failure{Kind: actor.FailDefinition, Message: err.Error()}
	}
	if s.cov != nil && !s.declared[in.Type()] {
		s.declared[in.Type()] = true
		s.cov.declare(in.Type(), a)
	}
	shown := id
	if qual != "" {
		h.ns[id] = in
		s.procIDs[id], s.procIDs[qual] = true, true
		s.names[in] = qual
		shown = qual
	} else {
		s.actors[id] = in
	}
	s.live = append(s.live, liveActor{in: in, host: h, name: shown})
	return id, nil
}

// Send implements [actor.Runtime]: the event comes from outside any actor. The ID is resolved as
// from an actor of the default namespace (see [Sim.Route]).
func (s *Sim) Send(to actor.ID, ev actor.Event) error {
	s.setupPoint("Send " + actor.EventName(ev) + " to " + string(to))
	dst, lost, ok := s.resolve(nil, to)
	if !ok {
		return &actor.Failure{Kind: actor.FailUnknownID, Message: fmt.Sprintf("send %s to unknown actor %s", actor.EventName(ev), to)}
	}
	if lost != "" {
		s.addNote("drop", to, fmt.Sprintf("%s to %s dropped: %s", actor.EventName(ev), to, lost))
		return nil
	}
	s.instance(dst, to).Enqueue(actor.Envelope{Event: ev})
	return nil
}

// Halt implements [actor.Runtime]. The ID is resolved as Send resolves it; an ID that the router
// sends to no live actor is an error of kind actor.FailUnknownID.
func (s *Sim) Halt(id actor.ID) error {
	s.setupPoint("Halt " + string(id))
	dst, lost, ok := s.resolve(nil, id)
	if !ok {
		return &actor.Failure{Kind: actor.FailUnknownID, Message: fmt.Sprintf("halt unknown actor %s", id)}
	}
	if lost != "" {
		return &actor.Failure{Kind: actor.FailUnknownID, Message: fmt.Sprintf("halt %s: %s", id, lost)}
	}
	in := s.instance(dst, id)
	if !in.RequestHalt() {
		return &actor.Failure{Kind: actor.FailDoubleHalt, Actor: qualify(id, dst), Message: fmt.Sprintf("actor %s was already halted", qualify(id, dst))}
	}
	return nil
}

// MonitorNamer is implemented by a monitor whose instances have names of their own: a program
// that watches two chains with one monitor type each gives each instance its name, and reports,
// traces and liveness checks then tell them apart. An empty name counts as none.
type MonitorNamer interface {
	MonitorName() string
}

// monitorName is what a monitor instance is called: its own name (see [MonitorNamer]), else its
// type; the second and later unnamed instances of a type are numbered, "inOrder(2)".
func (s *Sim) monitorName(m actor.Actor) (actor.ID, error) {
	taken := func(id actor.ID) bool {
		for _, in := range s.monitors {
			if in.ID() == id {
				return true
			}
		}
		return false
	}
	if n, ok := m.(MonitorNamer); ok && n.MonitorName() != "" {
		id := actor.ID(n.MonitorName())
		if taken(id) {
			return "", &actor.Failure{Kind: actor.FailDuplicate, Message: fmt.Sprintf("a monitor named %s already exists", id)}
		}
		return id, nil
	}
	id := actor.ID(actor.TypeOf(m))
	for n := 2; taken(id); n++ {
		id = actor.ID(actor.TypeOf(m) + "(" + strconv.Itoa(n) + ")")
	}
	return id, nil
}

// Monitor implements [actor.Runtime]. A monitor is named by its type, or by its MonitorName
// method if it has one (see [MonitorNamer]).
func (s *Sim) Monitor(m actor.Actor) error {
	s.setupPoint("Monitor " + actor.TypeOf(m))
	id, err := s.monitorName(m)
	if err != nil {
		return err
	}
	in, err := actor.NewInstance(monitorEnv{s}, id, "", m)
	if err != nil {
		return &actor.Failure{Kind: actor.FailDefinition, Message: err.Error()}
	}
	in.SetMonitor()
	if s.cov != nil {
		s.cov.declare(in.Type(), m)
	}
	s.monitors = append(s.monitors, in)
	s.hot = append(s.hot, 0)
	s.hotAt = append(s.hotAt, -1)
	if _, f := in.Observe(nil); f != nil {
		s.failMonitor(f, nil)
	}
	return nil
}

// AddHost implements [actor.Runtime]. The host's actors are in the default namespace; see
// [Sim.AddProcess] for a host with a namespace of its own.
func (s *Sim) AddHost(name string, boot func(actor.Host) error) error {
	s.setupPoint("AddHost " + name)
	return s.addHost(name, boot, false)
}

func (s *Sim) addHost(name string, boot func(actor.Host) error, process bool) error {
	if name == "" {
		return fmt.Errorf("systest: host name must not be empty")
	}
	if s.hosts[name] != nil {
		return fmt.Errorf("systest: host %s already exists", name)
	}
	h := &simHost{name: name, boot: boot}
	if process {
		if strings.Contains(name, "@") {
			return fmt.Errorf("systest: process name %q: it must not contain @, which qualifies its actors' IDs", name)
		}
		h.ns = map[actor.ID]*actor.Instance{}
		if s.nprocs == 0 {
			s.procIDs, s.names = map[actor.ID]bool{}, map[*actor.Instance]actor.ID{}
		}
		s.nprocs++
	}
	s.hosts[name] = h
	s.hostOrder = append(s.hostOrder, h)
	return s.bootHost(h)
}

func (s *Sim) bootHost(h *simHost) error {
	h.down = false
	h.boots++
	if err := h.boot(simHostView{s, h}); err != nil {
		return fmt.Errorf("systest: boot host %s: %w", h.name, err)
	}
	return nil
}

type simHostView struct {
	s *Sim
	h *simHost
}

func (v simHostView) Name() string { return v.h.name }
func (v simHostView) Create(name string, a actor.Actor) (actor.ID, error) {
	return v.s.create(v.h, name, a)
}

// CrashHost implements [actor.Runtime]. The tester crashes hosts itself when Faults.Crashes
// allows; programs call it to crash a host on purpose. Called from a handler of one of the host's
// own actors (a deposed leader that exits to restart as a standby), it takes effect when the step
// ends, after the step's sends have left, as a process exits once its handler has returned: the
// handler runs to its end and CrashHost returns nil. Called from anywhere else (setup, a model, a
// handler of another host's actor) it crashes the host at once. Either way the host restarts when
// the strategy chooses (the operation "restart:<host>"), or by RestartHost.
func (s *Sim) CrashHost(name string) error {
	s.setupPoint("CrashHost " + name)
	h, err := s.namedHost(name)
	if err != nil {
		return err
	}
	switch {
	case h.down:
		return fmt.Errorf("systest: host %s is already down", name)
	case s.doomed == h:
		return fmt.Errorf("systest: host %s is already going down at the end of this step", name)
	case s.cur != nil && s.cur.Host() == name:
		s.doomed = h
		return nil
	}
	s.crash(h)
	return nil
}

// RestartHost implements [actor.Runtime].
func (s *Sim) RestartHost(name string) error {
	s.setupPoint("RestartHost " + name)
	h, err := s.namedHost(name)
	if err != nil {
		return err
	}
	if !h.down {
		return fmt.Errorf("systest: host %s is running", name)
	}
	return s.bootHost(h)
}

// crash kills every actor of h. A process's namespace is emptied, as a new OS process starts
// with an engine of its own: after a restart it has the actors its boot creates, no others.
func (s *Sim) crash(h *simHost) {
	h.down, h.paused, h.held = true, false, false
	for _, la := range s.live {
		if la.host == h {
			la.in.Kill()
		}
	}
	if h.ns == nil {
		for _, in := range s.actors {
			if in.Host() == h.name {
				s.diedWith[in] = true
			}
		}
	}
	clear(h.ns)
}

// PauseHost pauses a host, as SIGSTOP or a long garbage-collection pause stops a process: its
// actors take no steps, while events, delayed messages and timers still reach their mailboxes
// (a periodic timer's ticks are dropped while one waits, as ever) and virtual time goes on, driven
// by other hosts' timers. The pause lasts until ResumeHost, however long virtual time runs on
// meanwhile (a process frozen past a lease, say); the host's actors then go on with all their
// state. (A pause the tester chose itself, under Faults.Pauses, ends instead by the operation
// "resume:<host>", which the strategy schedules like any other, as "restart:<host>" for a
// crashed host.) A paused host can be crashed: it is then down, not paused. Called by setup, PauseHost is one of
// setup's steps, as CrashHost is; called from a handler, it pauses the host at once (a handler of
// the host's own actors finishes its step). The tester also pauses hosts itself when
// Faults.Pauses allows.
func (s *Sim) PauseHost(name string) error {
	s.setupPoint("PauseHost " + name)
	h, err := s.namedHost(name)
	switch {
	case err != nil:
		return err
	case h.down:
		return fmt.Errorf("systest: host %s is down", name)
	case h.paused:
		return fmt.Errorf("systest: host %s is already paused", name)
	}
	h.paused, h.held = true, true
	return nil
}

// ResumeHost ends a pause of a host (see PauseHost).
func (s *Sim) ResumeHost(name string) error {
	s.setupPoint("ResumeHost " + name)
	h, err := s.namedHost(name)
	if err != nil {
		return err
	}
	if !h.paused {
		return fmt.Errorf("systest: host %s is not paused", name)
	}
	h.paused, h.held = false, false
	return nil
}

// namedHost returns the host called name.
func (s *Sim) namedHost(name string) (*simHost, error) {
	if h := s.hosts[name]; h != nil {
		return h, nil
	}
	return nil, fmt.Errorf("systest: no host %s", name)
}

// Fail reports whether a model's call should fail now. It returns true only while the
// Faults.ModelFailures budget lasts, and only when the strategy chooses to; point names the call
// in the trace ("store.put", "provider.create").
func (s *Sim) Fail(point string) bool {
	if s.budget.ModelFailures <= 0 {
		return false
	}
	if s.choose(choiceFault, 2) == 1 {
		s.budget.ModelFailures--
		s.addNote("fault", "", "model call fails: "+point)
		return true
	}
	return false
}

// RandomBool is a nondeterministic choice for models, controlled and recorded like an actor's.
func (s *Sim) RandomBool() bool { return s.choose(choiceBool, 2) == 1 }

// RandomInt is a nondeterministic choice in [0, n) for models.
func (s *Sim) RandomInt(n int) int {
	if n <= 0 {
		panic(fmt.Sprintf("systest: RandomInt(%d): n must be positive", n))
	}
	return s.choose(choiceInt, n)
}

// Now returns the virtual time.
func (s *Sim) Now() time.Time { return s.now }

// Step returns the number of steps taken so far in this run.
func (s *Sim) Step() int { return s.step }

func (s *Sim) choose(kind byte, n int) int {
	if n <= 1 {
		return 0
	}
	v := s.strat.choose(kind, n)
	if v < 0 {
		s.noteDivergence()
		v = 0
	}
	s.choices = append(s.choices, choice{kind: kind, n: n, v: v})
	return v
}

func (s *Sim) noteDivergence() {
	if s.diverged != "" {
		return
	}
	if r, ok := s.strat.(*replayStrategy); ok {
		s.diverged = r.diverge
	} else {
		s.diverged = "the strategy could not make a choice"
	}
}

func (s *Sim) addNote(kind string, who actor.ID, text string) {
	s.notes = append(s.notes, note{step: s.step, kind: kind, who: who, text: text})
}

// enabled lists the operations that can run now, in a deterministic order.
func (s *Sim) enabled() []op {
	ops := s.ops[:0]
	halted := 0
	for _, la := range s.live {
		if la.in.Halted() {
			halted++
			continue
		}
		if la.in.Runnable() && (la.host == nil || !la.host.paused) {
			ops = append(ops, op{kind: opDeliver, key: string(la.name), in: la.in, host: la.host})
		}
	}
	if halted > 32 && halted*2 > len(s.live) {
		s.compact()
	}
	if s.sr != nil && s.sr.pending {
		ops = append(ops, op{kind: opSetup, key: "setup"})
	}
	if len(s.timers) > 0 {
		ops = append(ops, op{kind: opClock, key: "clock", advances: s.timers[0].at.After(s.now)})
	}
	for i, m := range s.net {
		ops = append(ops, op{kind: opNet, key: m.key, msg: i})
	}
	for _, h := range s.hostOrder {
		if h.down {
			ops = append(ops, op{kind: opRestart, key: "restart:" + h.name, host: h})
		} else if h.paused && !h.held {
			ops = append(ops, op{kind: opResume, key: "resume:" + h.name, host: h})
		}
	}
	if len(s.cut) > 0 {
		pairs := make([][2]string, 0, len(s.cut))
		for p := range s.cut {
			pairs = append(pairs, p)
		}
		sort.Slice(pairs, func(i, j int) bool { return pairs[i][0]+"|"+pairs[i][1] < pairs[j][0]+"|"+pairs[j][1] })
		for _, p := range pairs {
			ops = append(ops, op{kind: opHeal, key: "heal:" + p[0] + "|" + p[1], pair: p})
		}
	}
	s.ops = ops
	return ops
}

func (s *Sim) compact() {
	live := s.live[:0]
	for _, la := range s.live {
		if !la.in.Halted() {
			live = append(live, la)
		}
	}
	clear(s.live[len(live):])
	s.live = live
}

// run executes one iteration: setup, then steps until nothing is enabled, the step bound, or a
// bug.
func (s *Sim) run(setup func(*Sim)) {
	s.startSetup(setup)
	defer s.stopSetup()
	for s.step < s.cfg.MaxSteps && s.bug == nil {
		ops := s.enabled()
		if len(ops) == 0 {
			s.checkEnd()
			return
		}
		i := s.strat.schedule(s.step, ops)
		if i < 0 {
			s.noteDivergence()
			s.bugDiverged()
			return
		}
		o := ops[i]
		s.choices = append(s.choices, choice{kind: choiceSchedule, n: len(ops), v: i, key: o.key})
		s.exec(o)
		if s.diverged != "" {
			s.bugDiverged()
			return
		}
		if s.bug != nil {
			return
		}
		if s.checkLiveness(); s.bug != nil {
			return
		}
		s.step++
	}
}

func (s *Sim) exec(o op) {
	rec := stepRec{kind: o.kind, key: o.key}
	switch o.kind {
	case opDeliver:
		s.deliver(o, &rec)
	case opClock:
		s.fireTimer(&rec)
	case opNet:
		m := s.net[o.msg]
		s.net = append(s.net[:o.msg], s.net[o.msg+1:]...)
		rec.actor, rec.from, rec.ev, rec.val = qualify(m.to, m.dst), m.env.From, reflect.TypeOf(m.env.Event), m.env.Event
		s.transmit(m.from, m.at, m.to, m.dst, m.env, false)
	case opRestart:
		if err := s.bootHost(o.host); err != nil {
			s.bug = &Bug{Kind: "setup", Message: err.Error()}
		}
	case opHeal:
		delete(s.cut, o.pair)
	case opResume:
		o.host.paused = false
	case opSetup:
		rec.what = s.sr.next
		s.setupStep()
	}
	rec.at = s.now.Sub(epoch)
	s.steps = append(s.steps, rec)
	if s.expect != nil && s.bug == nil && s.diverged == "" {
		s.checkDeterminism(len(s.steps) - 1)
	}
}

func (s *Sim) deliver(o op, rec *stepRec) {
	in := o.in
	s.cur = in
	s.outbox = s.outbox[:0]
	rec.actor, rec.typ = actor.ID(o.key), in.Type()
	if e, ok := in.Peek(); ok {
		rec.ev, rec.val, rec.from, rec.timer = reflect.TypeOf(e.Event), e.Event, e.From, e.Timer != 0
		if e.From == in.ID() {
			rec.from = rec.actor // an event it raised, waiting since its state deferred it
		}
	}
	s.watch.begin(in, rec)
	res, fail := in.Step()
	s.watch.end()
	s.cur = nil
	rec.state, rec.after, rec.result, rec.halted = res.State, in.State(), res.Kind, res.Halted
	if s.cov != nil {
		if res.Kind == actor.StepHandled || res.Kind == actor.StepIgnored {
			s.cov.handled(in.Type(), res.State, rec.ev)
		}
		if st := in.CurrentState(); st.HasDeferrals() && !in.Halted() {
			for _, e := range in.Mailbox() {
				if st.Defers(e.Event) {
					s.cov.handled(in.Type(), st.Name(), reflect.TypeOf(e.Event))
				}
			}
		}
	}
	doomed := s.doomed
	s.doomed = nil
	if fail != nil {
		s.fail(fail, rec.actor)
		return
	}
	if doomed != nil {
		s.commit(in)
		s.addNote("crash", rec.actor, "host "+doomed.name+" goes down, as its actor's handler asked (CrashHost), after the step's sends")
		s.crash(doomed)
		return
	}
	h := o.host
	if h == nil || (s.budget.Crashes <= 0 && s.budget.Pauses <= 0) || !s.mayCrash(h.name) {
		s.commit(in)
		return
	}
	var kinds [3]byte
	n := 0
	if s.budget.Crashes > 0 {
		kinds[0], kinds[1], n = 'a', 'b', 2
	}
	if s.budget.Pauses > 0 && !h.paused {
		kinds[n] = 'p'
		n++
	}
	c := s.choose(choiceFault, n+1)
	if c == 0 {
		s.commit(in)
		return
	}
	switch kinds[c-1] {
	case 'a':
		s.commit(in)
		s.budget.Crashes--
		s.addNote("fault", rec.actor, "crash host "+h.name+" after the step's sends")
		s.crash(h)
	case 'b':
		s.budget.Crashes--
		s.addNote("fault", rec.actor, fmt.Sprintf("crash host %s before the step's %d sends left it", h.name, len(s.outbox)))
		s.outbox = s.outbox[:0]
		s.crash(h)
	default:
		s.commit(in)
		s.budget.Pauses--
		s.addNote("fault", rec.actor, "pause host "+h.name+" after the step's sends")
		h.paused = true
	}
}

// mayCrash reports whether the faults allow crashing or pausing the named host.
func (s *Sim) mayCrash(host string) bool {
	if len(s.cfg.Faults.CrashHosts) == 0 {
		return true
	}
	for _, h := range s.cfg.Faults.CrashHosts {
		if h == host {
			return true
		}
	}
	return false
}

// commit sends what the step's handler sent, in order.
func (s *Sim) commit(from *actor.Instance) {
	for _, m := range s.outbox {
		s.send(from.Host(), m, true)
	}
	s.outbox = s.outbox[:0]
}

// send carries an event an actor sent from fromHost: through the network (see transmit), or, if
// the router found no actor for it, nowhere.
func (s *Sim) send(fromHost string, m outMsg, faults bool) {
	if m.lost != "" {
		s.addNote("drop", m.to, fmt.Sprintf("%s to %s dropped: %s", actor.EventName(m.env.Event), m.to, m.lost))
		return
	}
	s.transmit(fromHost, s.hostOf(m.dst, m.to), m.to, m.dst, m.env, faults)
}

// transmit carries an event from one host to another, through faults if they are allowed, to the
// actor to of namespace dst (nil: the default namespace).
func (s *Sim) transmit(fromHost, toHost string, to actor.ID, dst *simHost, env actor.Envelope, faults bool) {
	if fromHost != toHost {
		if s.cut[hostPair(fromHost, toHost)] {
			who := qualify(to, dst)
			s.addNote("drop", who, fmt.Sprintf("%s to %s lost: %s|%s partitioned", actor.EventName(env.Event), who, fromHost, toHost))
			return
		}
		if faults && s.linkFault(fromHost, toHost, to, dst, env) {
			return
		}
	}
	in := s.instance(dst, to)
	// A process's actor that is not there (any more) was killed by a crash of its process, whose
	// new life has not created it again: the event is dropped as for any halted actor.
	if in == nil || !in.Enqueue(env) {
		who := qualify(to, dst)
		s.addNote("drop", who, fmt.Sprintf("%s to halted actor %s dropped", actor.EventName(env.Event), who))
		return
	}
	if s.cov != nil && in.Started() && in.CurrentState().Defers(env.Event) {
		s.cov.handled(in.Type(), in.State(), reflect.TypeOf(env.Event))
	}
}

func hostPair(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

// linkFault may drop, duplicate, delay an event between hosts or cut their link. It reports
// whether it has taken care of the event.
func (s *Sim) linkFault(fromHost, toHost string, to actor.ID, dst *simHost, env actor.Envelope) bool {
	var kinds [4]byte
	n := 0
	if s.budget.Drops > 0 {
		kinds[n] = 'd'
		n++
	}
	if s.budget.Duplicates > 0 {
		kinds[n] = 'u'
		n++
	}
	if s.budget.Delays > 0 {
		kinds[n] = 'l'
		n++
	}
	if s.budget.Partitions > 0 {
		kinds[n] = 'p'
		n++
	}
	if n == 0 {
		return false
	}
	c := s.choose(choiceFault, n+1)
	if c == 0 {
		return false
	}
	name, who := actor.EventName(env.Event), qualify(to, dst)
	switch kinds[c-1] {
	case 'd':
		s.budget.Drops--
		s.addNote("fault", who, fmt.Sprintf("drop %s from %s to %s", name, env.From, who))
		return true
	case 'u':
		s.budget.Duplicates--
		s.addNote("fault", who, fmt.Sprintf("duplicate %s from %s to %s", name, env.From, who))
		if in := s.instance(dst, to); in != nil {
			in.Enqueue(env)
		}
		return false
	case 'l':
		s.budget.Delays--
		s.netSeq++
		key := "net:" + strconv.Itoa(s.netSeq)
		s.addNote("fault", who, fmt.Sprintf("delay %s from %s to %s as %s", name, env.From, who, key))
		s.net = append(s.net, &netMsg{key: key, to: to, dst: dst, env: env, from: fromHost, at: toHost})
		return true
	default:
		s.budget.Partitions--
		p := hostPair(fromHost, toHost)
		s.cut[p] = true
		s.addNote("fault", who, fmt.Sprintf("partition %s|%s (losing %s to %s)", p[0], p[1], name, who))
		return true
	}
}

func (s *Sim) fireTimer(rec *stepRec) {
	t := heap.Pop(&s.timers).(*simTimer)
	if t.at.After(s.now) {
		rec.advance = t.at.Sub(s.now)
		s.now = t.at
	}
	in := t.ref.in
	rec.actor, rec.typ, rec.ev, rec.timer = s.nameOf(in), in.Type(), reflect.TypeOf(t.ev), true
	if t.period > 0 {
		t.at = t.at.Add(t.period)
		t.seq = s.nextTimerSeq()
		heap.Push(&s.timers, t)
		// As with time.Ticker, a periodic timer whose last tick the actor has not handled yet
		// drops this one: a slow actor never builds up a backlog of ticks.
		for _, e := range in.Mailbox() {
			if e.Timer == t.ref.id {
				rec.dropped = true
				return
			}
		}
	} else {
		delete(s.tmrs, t.ref)
	}
	in.Enqueue(actor.Envelope{Event: t.ev, Timer: t.ref.id})
}

func (s *Sim) nextTimerSeq() uint64 { s.tmrSeq++; return s.tmrSeq }

// fail reports the failure of the actor that traces call who.
func (s *Sim) fail(f *actor.Failure, who actor.ID) {
	if s.bug == nil {
		s.bug = &Bug{Kind: f.Kind, Message: f.Message, Actor: who, Type: f.Type, State: f.State, Event: f.Event, Stack: f.Stack}
	}
}

// failMonitor reports a monitor's failure: the monitor is where, the announcing actor is why.
func (s *Sim) failMonitor(f *actor.Failure, from *actor.Instance) {
	if s.bug != nil {
		return
	}
	msg := f.Message
	if from != nil {
		msg = fmt.Sprintf("%s (on %s announced by %s)", msg, f.Event, s.nameOf(from))
	}
	s.bug = &Bug{Kind: f.Kind, Message: msg, Monitor: string(f.Actor), Type: f.Type, State: f.State, Stack: f.Stack}
}

func (s *Sim) bugDiverged() {
	s.bug = &Bug{Kind: "nondeterminism", Message: fmt.Sprintf("replay diverged from the trace at step %d: %s", s.step, s.diverged)}
}

func (s *Sim) checkLiveness() {
	fair := s.step >= s.strat.unfairSteps()
	for i, m := range s.monitors {
		if m.Halted() || m.CurrentState().Temperature() != actor.Hot {
			s.hot[i], s.hotAt[i] = 0, -1
			continue
		}
		if s.hotAt[i] < 0 {
			s.hotAt[i] = s.step
		}
		if !fair {
			continue
		}
		s.hot[i]++
		if s.hot[i] > s.cfg.LivenessThreshold {
			s.bug = &Bug{Kind: actor.FailLiveness, Monitor: string(m.ID()), Type: m.Type(), State: m.State(), HotStep: s.hotAt[i],
				Message: fmt.Sprintf("monitor %s stayed in hot state %s for more than %d fair steps (%s)", m.ID(), m.State(), s.cfg.LivenessThreshold, thresholdOrigin)}
			return
		}
	}
}

// thresholdOrigin says in a liveness report where its threshold comes from.
const thresholdOrigin = "Config.LivenessThreshold, by default MaxSteps/2"

// checkEnd reports monitors left hot when nothing more can happen.
func (s *Sim) checkEnd() {
	for i, m := range s.monitors {
		if !m.Halted() && m.CurrentState().Temperature() == actor.Hot {
			s.bug = &Bug{Kind: actor.FailLiveness, Monitor: string(m.ID()), Type: m.Type(), State: m.State(), HotStep: s.hotAt[i],
				Message: fmt.Sprintf("monitor %s is in hot state %s at the end of the run (nothing else can happen)", m.ID(), m.State())}
			return
		}
	}
}

// simEnv is the actor.Env the tester gives actors.
type simEnv struct{ s *Sim }

func (e simEnv) Send(from *actor.Instance, to actor.ID, ev actor.Event) {
	s := e.s
	dst, lost, ok := s.resolve(s.procOf(from), to)
	if !ok {
		actor.Abort(actor.FailUnknownID, "send %s to unknown actor %s", actor.EventName(ev), to)
	}
	if in := s.actors[to]; dst == nil && in != nil && s.diedWith[in] && from != nil && from.Host() == in.Host() {
		actor.Abort(actor.FailUnknownID, "send %s to unknown actor %s: it died in a crash of host %s, and this life of the host has not created it again",
			actor.EventName(ev), to, in.Host())
	}
	// From is for traces alone (handlers never see it): a process's actor is named qualified.
	m := outMsg{to: to, dst: dst, env: actor.Envelope{From: s.nameOf(from), Event: ev}, lost: lost}
	if s.cur != from {
		// Outside a step (a boot function's actor sending from its constructor): deliver now.
		s.send(from.Host(), m, false)
		return
	}
	s.outbox = append(s.outbox, m)
}

func (e simEnv) Create(parent *actor.Instance, name string, a actor.Actor) actor.ID {
	id, err := e.s.create(e.s.hosts[parent.Host()], name, a)
	if err != nil {
		f, _ := actor.AsFailure(err)
		actor.Abort(f.Kind, "%s", f.Message)
	}
	return id
}

func (e simEnv) StartTimer(in *actor.Instance, id actor.TimerID, after, period time.Duration, ev actor.Event) {
	s := e.s
	if after < 0 {
		after = 0
	}
	t := &simTimer{ref: timerRef{in, id}, at: s.now.Add(after), period: period, ev: ev, seq: s.nextTimerSeq()}
	s.tmrs[t.ref] = t
	heap.Push(&s.timers, t)
	s.notes = append(s.notes, note{step: s.step, kind: "timer", who: s.nameOf(in), ev: ev, due: t.at.Sub(epoch), period: period})
}

func (e simEnv) StopTimer(in *actor.Instance, id actor.TimerID) {
	s := e.s
	ref := timerRef{in, id}
	if t, ok := s.tmrs[ref]; ok {
		s.notes = append(s.notes, note{step: s.step, kind: "cancel", who: s.nameOf(in), ev: t.ev, due: t.at.Sub(epoch), period: t.period})
		delete(s.tmrs, ref)
		if t.idx >= 0 {
			heap.Remove(&s.timers, t.idx)
		}
	}
}

func (e simEnv) RandomBool(*actor.Instance) bool        { return e.s.choose(choiceBool, 2) == 1 }
func (e simEnv) RandomInt(_ *actor.Instance, n int) int { return e.s.choose(choiceInt, n) }
func (e simEnv) Now() time.Time                         { return e.s.now }

func (e simEnv) Announce(from *actor.Instance, ev actor.Event) {
	s := e.s
	s.notes = append(s.notes, note{step: s.step, kind: "announce", who: s.nameOf(from), ev: ev})
	for _, m := range s.monitors {
		state := m.State()
		ok, f := m.Observe(ev)
		if ok && s.cov != nil {
			s.cov.handled(m.Type(), state, reflect.TypeOf(ev))
		}
		if f != nil {
			s.failMonitor(f, from)
		}
	}
}

func (e simEnv) Log(in *actor.Instance, msg string, args ...any) {
	s := e.s
	s.notes = append(s.notes, note{step: s.step, kind: "log", who: s.nameOf(in), text: msg, args: args})
}

func (e simEnv) Transition(in *actor.Instance, from, to string) {
	if e.s.cov != nil {
		e.s.cov.transition(in.Type(), from, to)
	}
}

// monitorEnv is the Env of monitors under the tester.
type monitorEnv struct{ s *Sim }

func (m monitorEnv) Send(*actor.Instance, actor.ID, actor.Event) {
	actor.Abort(actor.FailMisuse, "a monitor may not send")
}
func (m monitorEnv) Create(*actor.Instance, string, actor.Actor) actor.ID {
	actor.Abort(actor.FailMisuse, "a monitor may not create actors")
	return ""
}
func (m monitorEnv) StartTimer(*actor.Instance, actor.TimerID, time.Duration, time.Duration, actor.Event) {
	actor.Abort(actor.FailMisuse, "a monitor may not start timers")
}
func (m monitorEnv) StopTimer(*actor.Instance, actor.TimerID) {}
func (m monitorEnv) RandomBool(in *actor.Instance) bool {
	actor.Abort(actor.FailMisuse, "a monitor may not make nondeterministic choices")
	return false
}
func (m monitorEnv) RandomInt(*actor.Instance, int) int {
	actor.Abort(actor.FailMisuse, "a monitor may not make nondeterministic choices")
	return 0
}
func (m monitorEnv) Now() time.Time { return m.s.now }
func (m monitorEnv) Announce(*actor.Instance, actor.Event) {
	actor.Abort(actor.FailMisuse, "a monitor may not announce")
}
func (m monitorEnv) Log(in *actor.Instance, msg string, args ...any) { simEnv(m).Log(in, msg, args...) }
func (m monitorEnv) Transition(in *actor.Instance, from, to string) {
	simEnv(m).Transition(in, from, to)
}
