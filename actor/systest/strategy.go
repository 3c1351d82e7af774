package systest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Kinds of choice. Every nondeterministic decision of a run is one of these, taken through the
// strategy and recorded in the trace.
const (
	choiceSchedule = 's' // which enabled operation runs next
	choiceBool     = 'b' // Context.RandomBool, Sim.RandomBool
	choiceInt      = 'i' // Context.RandomInt, Sim.RandomInt
	choiceFault    = 'f' // whether and which fault to inject; 0 is "none"
)

// strategy decides every choice of a run.
type strategy interface {
	// name identifies the strategy (and, in a portfolio, the member used this iteration).
	name() string
	// begin prepares an iteration; it returns false when there is nothing left to explore.
	begin(iter int, seed uint64) bool
	// schedule picks one of ops (at least one) at the given step.
	schedule(step int, ops []op) int
	// choose picks a value in [0, n) for a choice of the given kind.
	choose(kind byte, n int) int
	// unfairSteps is how many steps at the start of the iteration are not fairly scheduled:
	// liveness (a monitor staying hot) is judged only on the steps after them.
	unfairSteps() int
}

func newStrategy(spec string, cfg Config) (strategy, error) {
	name, arg, _ := strings.Cut(spec, ":")
	rc := randomChoices{configured: cfg.Faults.Rate, clock: cfg.ClockProbability}
	switch name {
	case "random":
		return &randomStrategy{rc}, nil
	case "pct":
		depth := 3
		if arg != "" {
			d, err := strconv.Atoi(arg)
			if err != nil || d < 1 {
				return nil, fmt.Errorf("systest: strategy %q: depth must be a positive integer", spec)
			}
			depth = d
		}
		return &pctStrategy{randomChoices: rc, depth: depth, unfair: cfg.UnfairSteps}, nil
	case "fair":
		return &fairStrategy{randomChoices: rc}, nil
	case "dfs":
		return &dfsStrategy{}, nil
	case "portfolio":
		return &portfolio{members: []strategy{
			&randomStrategy{rc},
			&pctStrategy{randomChoices: rc, depth: 3, unfair: cfg.UnfairSteps},
			&pctStrategy{randomChoices: rc, depth: 10, unfair: cfg.UnfairSteps},
			&fairStrategy{randomChoices: rc},
		}}, nil
	}
	return nil, fmt.Errorf("systest: unknown strategy %q (want random, pct[:D], fair, dfs or portfolio)", spec)
}

// faultRate draws, per iteration, how eagerly random strategies inject faults: the configured
// rate, or one drawn log-uniformly between 0.001 and 0.1.
func faultRate(r *rng, configured float64) float64 {
	if configured > 0 {
		return configured
	}
	return math.Pow(10, -3+2*r.float())
}

// randomChoices is the part shared by the random-based strategies.
type randomChoices struct {
	r          *rng
	rate       float64 // this iteration's fault rate
	configured float64 // Faults.Rate
	clock      float64 // Config.ClockProbability
}

// pick chooses an operation at random: uniformly, or, with Config.ClockProbability set, the
// clock with that probability when it would advance virtual time and other operations are
// enabled too (see weighClock).
func (rc *randomChoices) pick(ops []op) int {
	ci, clock := rc.weighClock(ops)
	switch {
	case ci < 0:
		return rc.r.intn(len(ops))
	case clock:
		return ci
	}
	j := rc.r.intn(len(ops) - 1)
	if j >= ci {
		j++
	}
	return j
}

// weighClock is how every random-based strategy, PCT included, weighs a step of virtual time
// against the other enabled operations. With Config.ClockProbability set, and the clock enabled
// beside other operations with a timer that is not due yet, it returns the clock's index and
// whether to take it (with that probability); otherwise -1, and the clock, if enabled, is an
// operation like any other. A timer already due (several fall due at one instant) fires without
// moving time, so it races with deliveries as they do.
func (rc *randomChoices) weighClock(ops []op) (ci int, take bool) {
	if rc.clock <= 0 || len(ops) < 2 {
		return -1, false
	}
	for i := range ops {
		if ops[i].kind == opClock {
			if !ops[i].advances {
				return -1, false
			}
			return i, rc.r.float() < rc.clock
		}
	}
	return -1, false
}

func (rc *randomChoices) reset(seed uint64) {
	rc.r = newRNG(seed)
	rc.rate = faultRate(rc.r, rc.configured)
}

func (rc *randomChoices) choose(kind byte, n int) int {
	if kind == choiceFault {
		if n <= 1 || rc.r.float() >= rc.rate {
			return 0
		}
		return 1 + rc.r.intn(n-1)
	}
	return rc.r.intn(n)
}

// randomStrategy picks uniformly among the enabled operations. It is fair with probability one.
type randomStrategy struct{ randomChoices }

func (s *randomStrategy) name() string                  { return "random" }
func (s *randomStrategy) begin(_ int, seed uint64) bool { s.reset(seed); return true }
func (s *randomStrategy) schedule(_ int, ops []op) int  { return s.pick(ops) }
func (s *randomStrategy) unfairSteps() int              { return 0 }

// pctStrategy is probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010): every
// operation owner (an actor, the clock, a message held in the network) gets a random priority; the
// highest-priority enabled one always runs; at depth-1 random steps the running owner drops to the
// lowest priority. A bug of depth d is found with probability at least 1/(n k^(d-1)). After the
// first `unfair` steps it schedules at random, so liveness can be judged on the rest of the run.
type pctStrategy struct {
	randomChoices
	depth   int
	unfair  int
	rank    map[string]float64
	lowered float64
	changes map[int]bool
	longest int // steps of the longest iteration so far, to place change points
}

func (s *pctStrategy) name() string { return "pct:" + strconv.Itoa(s.depth) }

func (s *pctStrategy) begin(_ int, seed uint64) bool {
	s.reset(seed)
	s.rank = make(map[string]float64)
	s.lowered = 0
	horizon := s.unfair
	if s.longest > 0 && s.longest < horizon {
		horizon = s.longest
	}
	s.changes = make(map[int]bool, s.depth)
	for i := 0; i < s.depth-1 && horizon > 0; i++ {
		s.changes[s.r.intn(horizon)] = true
	}
	return true
}

func (s *pctStrategy) priority(key string) float64 {
	p, ok := s.rank[key]
	if !ok {
		p = s.r.float()
		s.rank[key] = p
	}
	return p
}

func (s *pctStrategy) schedule(step int, ops []op) int {
	if step >= s.unfair {
		return s.pick(ops)
	}
	if step+1 > s.longest {
		s.longest = step + 1
	}
	// A weighed clock takes no part in the priorities: it runs with its probability, and
	// otherwise the highest-priority other operation does. Without the weight, an always-enabled
	// periodic timer of high priority would race virtual time ahead of every delivery.
	skip, clock := s.weighClock(ops)
	if clock {
		return skip
	}
	best := s.highest(ops, skip)
	if s.changes[step] {
		s.lowered--
		s.rank[ops[best].key] = s.lowered
		best = s.highest(ops, skip)
	}
	return best
}

// highest returns the index of the enabled operation of highest priority, leaving out ops[skip].
func (s *pctStrategy) highest(ops []op, skip int) int {
	best, bestP := -1, 0.0
	for i := range ops {
		if i == skip {
			continue
		}
		if p := s.priority(ops[i].key); best < 0 || p > bestP {
			best, bestP = i, p
		}
	}
	return best
}

func (s *pctStrategy) unfairSteps() int { return s.unfair }

// fairStrategy picks at random, except that an operation left enabled for more than a bound of
// steps is taken: no actor, timer or message starves. It is meant for liveness hunts.
type fairStrategy struct {
	randomChoices
	since map[string]int // step since which each enabled op has waited
	seen  map[string]int // last step it was seen enabled
}

// fairBound is how many steps an enabled operation may wait under the fair strategy.
const fairBound = 64

func (s *fairStrategy) name() string { return "fair" }

func (s *fairStrategy) begin(_ int, seed uint64) bool {
	s.reset(seed)
	s.since = map[string]int{}
	s.seen = map[string]int{}
	return true
}

func (s *fairStrategy) schedule(step int, ops []op) int {
	oldest, oldestSince := -1, step
	for i, o := range ops {
		since, ok := s.since[o.key]
		if !ok || s.seen[o.key] != step-1 {
			since = step
			s.since[o.key] = step
		}
		s.seen[o.key] = step
		if step-since > fairBound && since < oldestSince {
			oldest, oldestSince = i, since
		}
	}
	pick := oldest
	if pick < 0 {
		pick = s.pick(ops)
	}
	delete(s.since, ops[pick].key)
	if len(s.seen) > 4*len(ops)+64 {
		for k, v := range s.seen {
			if v != step {
				delete(s.seen, k)
				delete(s.since, k)
			}
		}
	}
	return pick
}

func (s *fairStrategy) unfairSteps() int { return 0 }

// dfsStrategy explores every choice sequence of the program, depth first, up to the step bound.
// It suits small programs; the hunt ends early, without a bug, once the tree is exhausted.
type dfsStrategy struct {
	stack []dfsFrame
	depth int
	done  bool
	began bool
}

type dfsFrame struct{ n, v int }

func (s *dfsStrategy) name() string { return "dfs" }

func (s *dfsStrategy) begin(int, uint64) bool {
	if s.began {
		// Backtrack: drop exhausted frames, then take the next branch of the deepest open one.
		s.stack = s.stack[:min(s.depth, len(s.stack))]
		for len(s.stack) > 0 && s.stack[len(s.stack)-1].v+1 >= s.stack[len(s.stack)-1].n {
			s.stack = s.stack[:len(s.stack)-1]
		}
		if len(s.stack) == 0 {
			s.done = true
		} else {
			s.stack[len(s.stack)-1].v++
		}
	}
	s.began = true
	s.depth = 0
	return !s.done
}

func (s *dfsStrategy) next(n int) int {
	d := s.depth
	s.depth++
	if d < len(s.stack) {
		f := &s.stack[d]
		if f.n != n {
			// The program is not deterministic under the same choices; restart this subtree.
			f.n, f.v = n, min(f.v, n-1)
		}
		return f.v
	}
	s.stack = append(s.stack, dfsFrame{n: n})
	return 0
}

func (s *dfsStrategy) schedule(_ int, ops []op) int { return s.next(len(ops)) }
func (s *dfsStrategy) choose(_ byte, n int) int     { return s.next(n) }
func (s *dfsStrategy) unfairSteps() int             { return math.MaxInt }

// portfolio cycles through its members, one per iteration.
type portfolio struct {
	members []strategy
	cur     strategy
}

func (p *portfolio) name() string {
	if p.cur == nil {
		return "portfolio"
	}
	return p.cur.name()
}

func (p *portfolio) begin(iter int, seed uint64) bool {
	p.cur = p.members[iter%len(p.members)]
	return p.cur.begin(iter, seed)
}
func (p *portfolio) schedule(step int, ops []op) int { return p.cur.schedule(step, ops) }
func (p *portfolio) choose(kind byte, n int) int     { return p.cur.choose(kind, n) }
func (p *portfolio) unfairSteps() int                { return p.cur.unfairSteps() }

// replayStrategy takes its choices from a trace and stops at the first one the run cannot take:
// the program did not behave as it did when the trace was recorded.
type replayStrategy struct {
	label   string
	unfair  int
	choices []choice
	pos     int
	diverge string
}

func (s *replayStrategy) name() string           { return s.label }
func (s *replayStrategy) begin(int, uint64) bool { s.pos = 0; s.diverge = ""; return true }
func (s *replayStrategy) unfairSteps() int       { return s.unfair }

func (s *replayStrategy) nextChoice(kind byte) (choice, bool) {
	if s.diverge != "" {
		return choice{}, false
	}
	if s.pos >= len(s.choices) {
		s.diverge = fmt.Sprintf("the trace has %d choices and the run asked for more (a %s choice)", len(s.choices), kindName(kind))
		return choice{}, false
	}
	c := s.choices[s.pos]
	if c.kind != kind {
		s.diverge = fmt.Sprintf("choice %d: the trace has a %s choice, the run asked for a %s choice", s.pos+1, kindName(c.kind), kindName(kind))
		return choice{}, false
	}
	s.pos++
	return c, true
}

func (s *replayStrategy) schedule(_ int, ops []op) int {
	c, ok := s.nextChoice(choiceSchedule)
	if !ok {
		return -1
	}
	for i, o := range ops {
		if o.key == c.key {
			return i
		}
	}
	s.diverge = fmt.Sprintf("choice %d: the trace runs %s, which is not enabled (enabled: %s)", s.pos, c.key, opKeys(ops))
	return -1
}

func (s *replayStrategy) choose(kind byte, n int) int {
	c, ok := s.nextChoice(kind)
	if !ok {
		return -1
	}
	if c.n != n || c.v >= n {
		s.diverge = fmt.Sprintf("choice %d: the trace chose %d of %d, the run offers %d", s.pos, c.v, c.n, n)
		return -1
	}
	return c.v
}

// guidedStrategy follows a list of desired choices where it can and falls back to the first
// option where it cannot; shrinking uses it to try shorter versions of a failing run.
type guidedStrategy struct {
	unfair int
	want   []choice
	pos    int
}

func (s *guidedStrategy) name() string           { return "shrink" }
func (s *guidedStrategy) begin(int, uint64) bool { s.pos = 0; return true }
func (s *guidedStrategy) unfairSteps() int       { return s.unfair }

func (s *guidedStrategy) schedule(_ int, ops []op) int {
	for s.pos < len(s.want) {
		c := s.want[s.pos]
		s.pos++
		if c.kind != choiceSchedule {
			continue
		}
		for i, o := range ops {
			if o.key == c.key {
				return i
			}
		}
	}
	return 0
}

func (s *guidedStrategy) choose(kind byte, n int) int {
	if s.pos < len(s.want) && s.want[s.pos].kind == kind {
		c := s.want[s.pos]
		s.pos++
		if c.v < n {
			return c.v
		}
	}
	return 0
}

// prefixStrategy follows a list of choices, the prefix of a failing run, and then schedules at
// random and fairly, injecting no faults: shrinking a liveness bug uses it to ask whether the
// prefix alone decides the bug.
type prefixStrategy struct {
	randomChoices
	want   []choice
	pos    int
	unfair int
}

func (s *prefixStrategy) name() string { return "shrink" }
func (s *prefixStrategy) begin(_ int, seed uint64) bool {
	s.pos = 0
	s.r = newRNG(seed)
	return true
}
func (s *prefixStrategy) unfairSteps() int { return s.unfair }

func (s *prefixStrategy) schedule(_ int, ops []op) int {
	if s.pos < len(s.want) {
		c := s.want[s.pos]
		s.pos++
		for i, o := range ops {
			if c.kind == choiceSchedule && o.key == c.key {
				return i
			}
		}
		s.pos = len(s.want) // the prefix cannot be followed: continue at random
	}
	return s.pick(ops)
}

func (s *prefixStrategy) choose(kind byte, n int) int {
	if s.pos < len(s.want) {
		c := s.want[s.pos]
		s.pos++
		if c.kind == kind && c.v < n {
			return c.v
		}
		s.pos = len(s.want)
	}
	if kind == choiceFault {
		return 0
	}
	return s.r.intn(n)
}

func kindName(k byte) string {
	switch k {
	case choiceSchedule:
		return "schedule"
	case choiceBool:
		return "bool"
	case choiceInt:
		return "int"
	case choiceFault:
		return "fault"
	}
	return fmt.Sprintf("unknown(%q)", k)
}

func opKeys(ops []op) string {
	keys := make([]string, len(ops))
	for i, o := range ops {
		keys[i] = o.key
	}
	return strings.Join(keys, " ")
}
