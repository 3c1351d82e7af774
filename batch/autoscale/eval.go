package autoscale

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// DefaultSamplePeriod is how often Azure Batch records a sample of each metric ("A sample is 30
// seconds worth of metrics data"), and the period [Env.SamplePeriod] defaults to.
const DefaultSamplePeriod = 30 * time.Second

// Sample is one recorded value of a metric.
type Sample struct {
	Time  time.Time
	Value float64
}

// Env is everything a formula reads: the evaluation time, the pool's current state, the sampled
// metrics and a source of random numbers. The zero value of every field but Now works.
type Env struct {
	// Now is the time of the evaluation: what time() returns and what GetSample's time
	// intervals count back from. It is required.
	Now time.Time

	// TargetDedicatedNodes and TargetLowPriorityNodes are the pool's current targets. A formula
	// that reads $TargetDedicatedNodes before assigning it reads this, and a target the formula
	// does not assign stays at this value.
	TargetDedicatedNodes, TargetLowPriorityNodes int
	// CurrentDedicatedNodes and CurrentLowPriorityNodes are the nodes the pool has now
	// ($CurrentDedicatedNodes, $CurrentLowPriorityNodes; the low-priority count includes
	// preempted nodes).
	CurrentDedicatedNodes, CurrentLowPriorityNodes int
	// UsableNodeCount is $UsableNodeCount.
	UsableNodeCount int
	// TaskSlotsPerNode is $TaskSlotsPerNode; 0 reads as 1, Azure's default.
	TaskSlotsPerNode int

	// Samples holds each metric's recorded samples, oldest first. A metric with no entry has no
	// samples. Samples later than Now are not available to the formula and are ignored; if a
	// series is not in time order, Evaluate sorts a copy.
	Samples map[Metric][]Sample
	// SamplePeriod is how often the samples are recorded, which GetSamplePercent and the
	// samplePercent argument of GetSample compare the available samples against. 0 means
	// [DefaultSamplePeriod].
	SamplePeriod time.Duration

	// Rand returns a random number in [0, 1) for each call of rand() in the formula. If it is
	// nil, rand() is an evaluation error.
	Rand func() float64
}

// Result is the outcome of an evaluation, what Azure Batch records in a pool's autoScaleRun.
type Result struct {
	// TargetDedicatedNodes and TargetLowPriorityNodes are the new targets: the final values of
	// $TargetDedicatedNodes and $TargetLowPriorityNodes truncated toward zero (Azure truncates:
	// its own examples add 0.99 or n-1 before dividing to round up), with a negative value
	// taken as 0. A target the formula does not assign keeps the Env's value.
	TargetDedicatedNodes, TargetLowPriorityNodes int
	// NodeDeallocationOption is requeue, terminate, taskcompletion or retaineddata: what to do
	// with the tasks of nodes removed to reach the targets. It is requeue unless the formula
	// assigns it.
	NodeDeallocationOption string
	// Results is autoScaleRun.results: "$TargetDedicatedNodes=10;$TargetLowPriorityNodes=0;
	// $NodeDeallocationOption=requeue" followed by every variable the formula assigned, in byte
	// order of their names, as "name=value" joined by ";". The targets are written as the formula
	// computed them, before truncation.
	Results string
	// Variables are the formula's variables in the order of Results, system variables first.
	Variables []Variable
	// Stopped reports that the formula called stop(): the statements before it took effect,
	// the rest did not run.
	Stopped bool
	// Warnings are notes about the evaluation that are not errors, for people to read: a target
	// that was negative or infinite, an alias that lost to its full name.
	Warnings []string
}

// Variable is one variable of a Result.
type Variable struct {
	Name  string // as the formula writes it, "$" included if it has one
	Value string // as Results writes it
}

// errStop unwinds the evaluation when the formula calls stop().
var errStop = errors.New("stop")

// Evaluate runs the formula against env and returns the new targets.
//
// An error in the formula during evaluation (an undefined variable, an operation on the wrong
// types, GetSample without enough samples, ...) is an *[Error] with code [CodeEvaluationError] or
// [CodeInsufficientSampleData]. Evaluate then returns a non-nil Result too, the one Azure Batch
// records next to such an error: the Env's targets and requeue, with no variables. An Env that
// is not usable (Now is zero, a sample series for an unknown metric, a negative SamplePeriod) is
// an error of the caller, returned as a plain error with a nil Result.
func (f *Formula) Evaluate(env Env) (*Result, error) {
	if env.Now.IsZero() {
		return nil, errors.New("autoscale: Env.Now is not set")
	}
	if env.SamplePeriod < 0 {
		return nil, fmt.Errorf("autoscale: Env.SamplePeriod is negative (%v)", env.SamplePeriod)
	}
	metrics := make([]string, 0, len(env.Samples))
	for m := range env.Samples {
		metrics = append(metrics, string(m))
	}
	sort.Strings(metrics) // so that the error names the same metric every time
	for _, m := range metrics {
		if v := lookupSysVar(m); v == nil || v.kind != sysMetric || v.name != m {
			return nil, fmt.Errorf("autoscale: Env.Samples has a series for %q, which is not a sampled metric (see Metrics)", m)
		}
	}
	ev := &evaluator{
		env:     &env,
		now:     env.Now.UTC(),
		vars:    map[string]value{},
		dealloc: Requeue,
		period:  env.SamplePeriod,
	}
	if ev.period == 0 {
		ev.period = DefaultSamplePeriod
	}
	stopped := false
	for _, s := range f.stmts {
		err := ev.stmt(s)
		if err == errStop {
			stopped = true
			break
		}
		if err != nil {
			return ev.failed(), err
		}
	}
	return ev.result(stopped)
}

// slot holds a settable target: its value once the formula assigns it, and where.
type slot struct {
	set bool
	v   float64
	p   pos
}

type evaluator struct {
	env    *Env
	now    time.Time
	period time.Duration
	vars   map[string]value
	series map[Metric]*series

	// The targets and their aliases, kept apart so that the full name wins whichever is
	// assigned last (Azure: "the value assigned to the fully named variable will take
	// precedence").
	dedicated, dedicatedAlias, lowPriority, lowPriorityAlias slot
	dealloc                                                  string
}

func (ev *evaluator) stmt(s *stmt) error {
	v, err := ev.eval(s.x)
	if err != nil {
		return err
	}
	switch {
	case s.sys != nil:
		return ev.assignSys(s.sys, v, s.p)
	case s.target != "":
		ev.vars[s.target] = v
	}
	return nil
}

func (ev *evaluator) assignSys(sv *sysVar, v value, p pos) error {
	if sv.kind == sysDeallocation {
		if v.k != kString {
			return evalError(p, "$NodeDeallocationOption must be requeue, terminate, taskcompletion or retaineddata, not a %s", v.k)
		}
		opt, ok := deallocationOptions[strings.ToLower(v.s)]
		if !ok {
			return evalError(p, "$NodeDeallocationOption must be requeue, terminate, taskcompletion or retaineddata, not %q", v.s)
		}
		ev.dealloc = opt
		return nil
	}
	if v.k != kDouble {
		return evalError(p, "%s must be a double, not a %s", sv.name, v.k)
	}
	s := ev.targetSlot(sv)
	*s = slot{set: true, v: v.d, p: p}
	return nil
}

func (ev *evaluator) targetSlot(sv *sysVar) *slot {
	switch {
	case sv.kind == sysTargetDedicated && sv.alias:
		return &ev.dedicatedAlias
	case sv.kind == sysTargetDedicated:
		return &ev.dedicated
	case sv.alias:
		return &ev.lowPriorityAlias
	default:
		return &ev.lowPriority
	}
}

// target returns the effective value of a target: the full name's if it was assigned, else the
// alias's, else the Env's.
func target(full, alias slot, current int) (float64, pos, bool) {
	switch {
	case full.set:
		return full.v, full.p, true
	case alias.set:
		return alias.v, alias.p, true
	}
	return float64(current), pos{}, false
}

func (ev *evaluator) readSys(sv *sysVar) value {
	switch sv.kind {
	case sysTargetDedicated:
		v, _, _ := target(ev.dedicated, ev.dedicatedAlias, ev.env.TargetDedicatedNodes)
		return doubleVal(v)
	case sysTargetLowPriority:
		v, _, _ := target(ev.lowPriority, ev.lowPriorityAlias, ev.env.TargetLowPriorityNodes)
		return doubleVal(v)
	case sysDeallocation:
		return stringVal(ev.dealloc)
	case sysCurrentDedicated:
		return doubleVal(float64(ev.env.CurrentDedicatedNodes))
	case sysCurrentLowPriority:
		return doubleVal(float64(ev.env.CurrentLowPriorityNodes))
	case sysUsableNodeCount:
		return doubleVal(float64(ev.env.UsableNodeCount))
	default: // sysTaskSlotsPerNode; metrics never reach here (the parser sees to it)
		if ev.env.TaskSlotsPerNode == 0 {
			return doubleVal(1)
		}
		return doubleVal(float64(ev.env.TaskSlotsPerNode))
	}
}

// failed is the Result recorded beside an evaluation error: the targets as they were.
func (ev *evaluator) failed() *Result {
	return &Result{
		TargetDedicatedNodes:   max(ev.env.TargetDedicatedNodes, 0),
		TargetLowPriorityNodes: max(ev.env.TargetLowPriorityNodes, 0),
		NodeDeallocationOption: Requeue,
		Results: joinResults([]Variable{
			{"$TargetDedicatedNodes", formatNumber(float64(ev.env.TargetDedicatedNodes))},
			{"$TargetLowPriorityNodes", formatNumber(float64(ev.env.TargetLowPriorityNodes))},
			{"$NodeDeallocationOption", Requeue},
		}),
	}
}

func (ev *evaluator) result(stopped bool) (*Result, error) {
	r := &Result{NodeDeallocationOption: ev.dealloc, Stopped: stopped}
	d, dp, _ := target(ev.dedicated, ev.dedicatedAlias, ev.env.TargetDedicatedNodes)
	l, lp, _ := target(ev.lowPriority, ev.lowPriorityAlias, ev.env.TargetLowPriorityNodes)
	var err error
	if r.TargetDedicatedNodes, err = ev.whole("$TargetDedicatedNodes", d, dp, &r.Warnings); err != nil {
		return ev.failed(), err
	}
	if r.TargetLowPriorityNodes, err = ev.whole("$TargetLowPriorityNodes", l, lp, &r.Warnings); err != nil {
		return ev.failed(), err
	}
	if ev.dedicated.set && ev.dedicatedAlias.set {
		r.Warnings = append(r.Warnings, "both $TargetDedicatedNodes and its alias $TargetDedicated are assigned; $TargetDedicated is ignored")
	}
	if ev.lowPriority.set && ev.lowPriorityAlias.set {
		r.Warnings = append(r.Warnings, "both $TargetLowPriorityNodes and its alias $TargetLowPriority are assigned; $TargetLowPriority is ignored")
	}
	r.Variables = []Variable{
		{"$TargetDedicatedNodes", formatNumber(d)},
		{"$TargetLowPriorityNodes", formatNumber(l)},
		{"$NodeDeallocationOption", ev.dealloc},
	}
	names := make([]string, 0, len(ev.vars))
	for n := range ev.vars {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r.Variables = append(r.Variables, Variable{n, ev.vars[n].String()})
	}
	r.Results = joinResults(r.Variables)
	return r, nil
}

// maxTarget bounds a target: far beyond any pool, and an int on every platform.
const maxTarget = math.MaxInt32

// whole turns a target's double into a node count: truncated toward zero, negative taken as 0,
// +Inf and anything above maxTarget taken as maxTarget. NaN is an error.
func (ev *evaluator) whole(name string, v float64, p pos, warnings *[]string) (int, error) {
	switch {
	case math.IsNaN(v): // only an assignment can make it NaN, so p is set
		return 0, evalError(p, "%s is not a number (NaN)", name)
	case v < 0:
		*warnings = append(*warnings, fmt.Sprintf("%s is negative (%s); the target is 0", name, formatNumber(v)))
		return 0, nil
	case v > maxTarget:
		*warnings = append(*warnings, fmt.Sprintf("%s is %s; the target is %d", name, formatNumber(v), maxTarget))
		return maxTarget, nil
	}
	return int(v), nil
}

func joinResults(vars []Variable) string {
	var b strings.Builder
	for i, v := range vars {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(v.Name)
		b.WriteByte('=')
		b.WriteString(v.Value)
	}
	return b.String()
}

func (ev *evaluator) eval(x expr) (value, error) {
	switch e := x.(type) {
	case *numberExpr:
		return doubleVal(e.v), nil
	case *stringExpr:
		return stringVal(e.v), nil
	case *constExpr:
		return e.v, nil
	case *varExpr:
		v, ok := ev.vars[e.name]
		if !ok {
			return value{}, evalError(e.p, "variable %s is used before it is assigned", e.name)
		}
		return v, nil
	case *sysVarExpr:
		return ev.readSys(e.v), nil
	case *unaryExpr:
		v, err := ev.eval(e.x)
		if err != nil {
			return value{}, err
		}
		switch {
		case e.op == tokMinus && v.k == kDouble:
			return doubleVal(-v.d), nil
		case e.op == tokMinus && v.k == kInterval:
			if v.iv == math.MinInt64 {
				return value{}, evalError(e.p, "time interval out of range")
			}
			return intervalVal(-v.iv), nil
		case e.op == tokNot && v.k == kDouble:
			return boolVal(v.d == 0), nil
		}
		return value{}, evalError(e.p, "cannot apply %s to a %s", e.op, v.k)
	case *binaryExpr:
		a, err := ev.eval(e.x)
		if err != nil {
			return value{}, err
		}
		b, err := ev.eval(e.y)
		if err != nil {
			return value{}, err
		}
		return binary(e.op, a, b, e.p)
	case *logicalExpr:
		a, err := ev.evalDouble(e.x, e.op.String())
		if err != nil {
			return value{}, err
		}
		if e.op == tokAnd && a == 0 {
			return doubleVal(0), nil
		}
		if e.op == tokOr && a != 0 {
			return doubleVal(1), nil
		}
		b, err := ev.evalDouble(e.y, e.op.String())
		if err != nil {
			return value{}, err
		}
		return boolVal(b != 0), nil
	case *condExpr:
		c, err := ev.evalDouble(e.cond, "?:")
		if err != nil {
			return value{}, err
		}
		if c != 0 {
			return ev.eval(e.a)
		}
		return ev.eval(e.b)
	case *callExpr:
		return ev.call(e)
	case *methodExpr:
		return ev.method(e)
	case *fieldExpr:
		v, err := ev.eval(e.x)
		if err != nil {
			return value{}, err
		}
		if v.k != kTimestamp {
			return value{}, evalError(e.p, "a %s has no field %s; only timestamps have fields", v.k, e.field)
		}
		return doubleVal(timestampField(v.t, e.field)), nil
	}
	return value{}, fmt.Errorf("autoscale: internal error: unknown expression %T", x)
}

// evalDouble evaluates an operand that must be a double (of &&, ||, ?:).
func (ev *evaluator) evalDouble(x expr, op string) (float64, error) {
	v, err := ev.eval(x)
	if err != nil {
		return 0, err
	}
	if v.k != kDouble {
		return 0, evalError(x.at(), "the operand of %s must be a double, not a %s", op, v.k)
	}
	return v.d, nil
}

// timestampField returns a member of a timestamp, in UTC. weekday is 0 for Sunday to 6 for
// Saturday (Azure: "1 for Monday").
func timestampField(t time.Time, field string) float64 {
	switch field {
	case "year":
		return float64(t.Year())
	case "month":
		return float64(t.Month())
	case "day":
		return float64(t.Day())
	case "weekday":
		return float64(t.Weekday())
	case "hour":
		return float64(t.Hour())
	case "minute":
		return float64(t.Minute())
	default:
		return float64(t.Second())
	}
}
