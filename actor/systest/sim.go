package systest

import (
	"container/heap"
	"fmt"
	"reflect"
	"sort"
	"strconv"
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

	actors   map[actor.ID]*actor.Instance // the current incarnation of every ID ever created
	live     []*actor.Instance            // instances not known to be halted, in creation order
	nextAuto int
	declared map[string]bool // actor types whose declarations coverage has

	hosts     map[string]*simHost
	hostOrder []*simHost
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
	name  string
	boot  func(actor.Host) error
	down  bool
	boots int
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
	env      actor.Envelope
	from, at string // hosts
}

type outMsg struct {
	to  actor.ID
	env actor.Envelope
}

type opKind uint8

const (
	opDeliver opKind = iota // an actor takes its next step
	opClock                 // virtual time advances to the earliest timer, which fires
	opNet                   // an event held in the network arrives
	opRestart               // a crashed host boots again
	opHeal                  // a partition between two hosts heals
	opSetup                 // the setup function makes its next Runtime call
)

// op is one enabled operation; key names it stably across runs, for traces and priorities.
type op struct {
	kind opKind
	key  string
	in   *actor.Instance
	host *simHost
	msg  int // index in net
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
	kind string // "fault", "log", "announce", "drop", "timer", "cancel"
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
	return s.create("", name, a)
}

func (s *Sim) create(host, name string, a actor.Actor) (actor.ID, error) {
	id := actor.ID(name)
	if id == "" {
		s.nextAuto++
		id = actor.ID(actor.TypeOf(a) + "(" + strconv.Itoa(s.nextAuto) + ")")
	}
	if old := s.actors[id]; old != nil && !old.Halted() {
		return "", &actor.Failure{Kind: actor.FailDuplicate, Message: fmt.Sprintf("actor %s already exists", id)}
	}
	in, err := actor.NewInstance(simEnv{s}, id, host, a)
	if err != nil {
		return "", &actor.Failure{Kind: actor.FailDefinition, Message: err.Error()}
	}
	if s.cov != nil && !s.declared[in.Type()] {
		s.declared[in.Type()] = true
		s.cov.declare(in.Type(), a)
	}
	s.actors[id] = in
	s.live = append(s.live, in)
	return id, nil
}

// Send implements [actor.Runtime]: the event comes from outside any actor.
func (s *Sim) Send(to actor.ID, ev actor.Event) error {
	s.setupPoint("Send " + actor.EventName(ev) + " to " + string(to))
	in := s.actors[to]
	if in == nil {
		return &actor.Failure{Kind: actor.FailUnknownID, Message: fmt.Sprintf("send %s to unknown actor %s", actor.EventName(ev), to)}
	}
	in.Enqueue(actor.Envelope{Event: ev})
	return nil
}

// Halt implements [actor.Runtime].
func (s *Sim) Halt(id actor.ID) error {
	s.setupPoint("Halt " + string(id))
	in := s.actors[id]
	if in == nil {
		return &actor.Failure{Kind: actor.FailUnknownID, Message: fmt.Sprintf("halt unknown actor %s", id)}
	}
	if !in.RequestHalt() {
		return &actor.Failure{Kind: actor.FailDoubleHalt, Actor: id, Message: fmt.Sprintf("actor %s was already halted", id)}
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

// AddHost implements [actor.Runtime].
func (s *Sim) AddHost(name string, boot func(actor.Host) error) error {
	s.setupPoint("AddHost " + name)
	if name == "" {
		return fmt.Errorf("systest: host name must not be empty")
	}
	if s.hosts[name] != nil {
		return fmt.Errorf("systest: host %s already exists", name)
	}
	h := &simHost{name: name, boot: boot}
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
	return v.s.create(v.h.name, name, a)
}

// CrashHost implements [actor.Runtime]. Programs rarely call it: the tester crashes hosts itself
// when Faults.Crashes allows.
func (s *Sim) CrashHost(name string) error {
	s.setupPoint("CrashHost " + name)
	h := s.hosts[name]
	if h == nil {
		return fmt.Errorf("systest: no host %s", name)
	}
	if h.down {
		return fmt.Errorf("systest: host %s is already down", name)
	}
	s.crash(h)
	return nil
}

// RestartHost implements [actor.Runtime].
func (s *Sim) RestartHost(name string) error {
	s.setupPoint("RestartHost " + name)
	h := s.hosts[name]
	if h == nil {
		return fmt.Errorf("systest: no host %s", name)
	}
	if !h.down {
		return fmt.Errorf("systest: host %s is running", name)
	}
	return s.bootHost(h)
}

func (s *Sim) crash(h *simHost) {
	h.down = true
	for _, in := range s.live {
		if in.Host() == h.name {
			in.Kill()
		}
	}
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
	for _, in := range s.live {
		if in.Halted() {
			halted++
			continue
		}
		if in.Runnable() {
			ops = append(ops, op{kind: opDeliver, key: string(in.ID()), in: in})
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
	for _, in := range s.live {
		if !in.Halted() {
			live = append(live, in)
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
		s.deliver(o.in, &rec)
	case opClock:
		s.fireTimer(&rec)
	case opNet:
		m := s.net[o.msg]
		s.net = append(s.net[:o.msg], s.net[o.msg+1:]...)
		rec.actor, rec.from, rec.ev, rec.val = m.to, m.env.From, reflect.TypeOf(m.env.Event), m.env.Event
		s.transmit(m.from, m.at, m.to, m.env, false)
	case opRestart:
		if err := s.bootHost(o.host); err != nil {
			s.bug = &Bug{Kind: "setup", Message: err.Error()}
		}
	case opHeal:
		delete(s.cut, o.pair)
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

func (s *Sim) deliver(in *actor.Instance, rec *stepRec) {
	s.cur = in
	s.outbox = s.outbox[:0]
	rec.actor, rec.typ = in.ID(), in.Type()
	if e, ok := in.Peek(); ok {
		rec.ev, rec.val, rec.from, rec.timer = reflect.TypeOf(e.Event), e.Event, e.From, e.Timer != 0
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
	if fail != nil {
		s.fail(fail)
		return
	}
	h := s.hosts[in.Host()]
	if h == nil || s.budget.Crashes <= 0 || !s.mayCrash(h.name) {
		s.commit(in)
		return
	}
	switch s.choose(choiceFault, 3) {
	case 0:
		s.commit(in)
	case 1:
		s.commit(in)
		s.budget.Crashes--
		s.addNote("fault", in.ID(), "crash host "+h.name+" after the step's sends")
		s.crash(h)
	case 2:
		s.budget.Crashes--
		s.addNote("fault", in.ID(), fmt.Sprintf("crash host %s before the step's %d sends left it", h.name, len(s.outbox)))
		s.outbox = s.outbox[:0]
		s.crash(h)
	}
}

// mayCrash reports whether the faults allow crashing the named host.
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
		to := s.actors[m.to]
		s.transmit(from.Host(), to.Host(), m.to, m.env, true)
	}
	s.outbox = s.outbox[:0]
}

// transmit carries an event from one host to another, through faults if they are allowed.
func (s *Sim) transmit(fromHost, toHost string, to actor.ID, env actor.Envelope, faults bool) {
	if fromHost != toHost {
		if s.cut[hostPair(fromHost, toHost)] {
			s.addNote("drop", to, fmt.Sprintf("%s to %s lost: %s|%s partitioned", actor.EventName(env.Event), to, fromHost, toHost))
			return
		}
		if faults && s.linkFault(fromHost, toHost, to, env) {
			return
		}
	}
	in := s.actors[to]
	if !in.Enqueue(env) {
		s.addNote("drop", to, fmt.Sprintf("%s to halted actor %s dropped", actor.EventName(env.Event), to))
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
func (s *Sim) linkFault(fromHost, toHost string, to actor.ID, env actor.Envelope) bool {
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
	name := actor.EventName(env.Event)
	switch kinds[c-1] {
	case 'd':
		s.budget.Drops--
		s.addNote("fault", to, fmt.Sprintf("drop %s from %s to %s", name, env.From, to))
		return true
	case 'u':
		s.budget.Duplicates--
		s.addNote("fault", to, fmt.Sprintf("duplicate %s from %s to %s", name, env.From, to))
		s.actors[to].Enqueue(env)
		return false
	case 'l':
		s.budget.Delays--
		s.netSeq++
		key := "net:" + strconv.Itoa(s.netSeq)
		s.addNote("fault", to, fmt.Sprintf("delay %s from %s to %s as %s", name, env.From, to, key))
		s.net = append(s.net, &netMsg{key: key, to: to, env: env, from: fromHost, at: toHost})
		return true
	default:
		s.budget.Partitions--
		p := hostPair(fromHost, toHost)
		s.cut[p] = true
		s.addNote("fault", to, fmt.Sprintf("partition %s|%s (losing %s to %s)", p[0], p[1], name, to))
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
	rec.actor, rec.typ, rec.ev, rec.timer = in.ID(), in.Type(), reflect.TypeOf(t.ev), true
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

func (s *Sim) fail(f *actor.Failure) {
	if s.bug == nil {
		s.bug = &Bug{Kind: f.Kind, Message: f.Message, Actor: f.Actor, Type: f.Type, State: f.State, Event: f.Event, Stack: f.Stack}
	}
}

// failMonitor reports a monitor's failure: the monitor is where, the announcing actor is why.
func (s *Sim) failMonitor(f *actor.Failure, from *actor.Instance) {
	if s.bug != nil {
		return
	}
	msg := f.Message
	if from != nil {
		msg = fmt.Sprintf("%s (on %s announced by %s)", msg, f.Event, from.ID())
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
	if s.actors[to] == nil {
		actor.Abort(actor.FailUnknownID, "send %s to unknown actor %s", actor.EventName(ev), to)
	}
	env := actor.Envelope{From: from.ID(), Event: ev}
	if s.cur != from {
		// Outside a step (a boot function's actor sending from its constructor): deliver now.
		s.transmit(from.Host(), s.actors[to].Host(), to, env, false)
		return
	}
	s.outbox = append(s.outbox, outMsg{to: to, env: env})
}

func (e simEnv) Create(parent *actor.Instance, name string, a actor.Actor) actor.ID {
	id, err := e.s.create(parent.Host(), name, a)
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
	s.notes = append(s.notes, note{step: s.step, kind: "timer", who: in.ID(), ev: ev, due: t.at.Sub(epoch), period: period})
}

func (e simEnv) StopTimer(in *actor.Instance, id actor.TimerID) {
	s := e.s
	ref := timerRef{in, id}
	if t, ok := s.tmrs[ref]; ok {
		s.notes = append(s.notes, note{step: s.step, kind: "cancel", who: in.ID(), ev: t.ev, due: t.at.Sub(epoch), period: t.period})
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
	s.notes = append(s.notes, note{step: s.step, kind: "announce", who: from.ID(), ev: ev})
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
	s.notes = append(s.notes, note{step: s.step, kind: "log", who: in.ID(), text: msg, args: args})
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
