package service

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"corral/actor"
	"corral/batch"
	"corral/batch/autoscale"
)

// Autoscale, as the pool manager carries it out.
//
// While a pool has autoscale enabled, its manager takes a sample of the pool's tasks every
// samplePeriod (Azure's 30 seconds, or the configured minimum evaluation interval if that is
// shorter) by asking the pool's scheduler, which sums the task counts its jobs' managers send it
// (each at most countsEvery late). Every autoScaleEvaluationInterval, and at once when autoscale
// is enabled or the service restarts, it takes a fresh sample and then evaluates the formula
// (batch/autoscale) against the samples and the pool's node counts. The run is recorded as the
// pool's autoScaleRun; if the formula sets new targets, the pool resizes to them: from steady it
// goes to resizing, and a resize that a formula started takes new targets at once (nodes being
// created that are no longer wanted are cancelled first). A resize the user stopped (stopping)
// is left to end; the next evaluation tries again. Nodes the formula's targets remove leave by the
// $NodeDeallocationOption of its latest run (requeue if it sets none; see poolManager).
//
// Departures from Azure Batch: samples are kept in memory, so a restart of the service starts
// them over (formulas that ask for minutes of history fail with InsufficientSampleData until it
// has been collected, as they do on a new pool); at most maxSamples are kept per metric; the
// resource metrics ($CPUPercent, $MemoryBytes, ...) have no samples (Corral does not measure
// nodes yet), so a formula that reads them fails with InsufficientSampleData. Enable AutoScale
// may be called at any rate (Azure allows one call per 30 seconds).

// Events of the pool manager's autoscale.
type (
	// evalTick is the pool manager's periodic timer to evaluate the formula.
	evalTick struct{}
	// sampleTick is the pool manager's periodic timer to sample the pool's tasks.
	sampleTick struct{}
)

// maxSamples bounds how many samples of each metric a pool keeps (at 30 seconds, over 8 hours).
const maxSamples = 1000

// samplePeriod is how often a pool with autoscale is sampled.
func (p *poolManager) samplePeriod() time.Duration {
	return min(autoscale.DefaultSamplePeriod, p.minInterval)
}

// startAutoScale (re)starts the timers of a pool with autoscale and evaluates at once (once a
// fresh sample is in).
func (p *poolManager) startAutoScale(ctx *actor.Context) {
	p.stopAutoScale(ctx)
	// Checked when it was given; a formula that no longer parses (a newer Corral that is
	// stricter) is reported in every run.
	p.formula, p.formulaErr = autoscale.Parse(p.pool.AutoScaleFormula)
	iv := batch.DefaultAutoScaleEvaluationInterval
	if p.pool.AutoScaleEvaluationInterval != nil {
		iv = p.pool.AutoScaleEvaluationInterval.Std()
	}
	period := p.samplePeriod()
	p.sampleTimer = ctx.StartPeriodicTimer(period, period, sampleTick{})
	p.evalTimer = ctx.StartPeriodicTimer(iv, iv, evalTick{})
	p.autoscaling = true
	p.evalDue = true
	p.askSample(ctx)
}

// stopAutoScale stops the timers; the samples are forgotten.
func (p *poolManager) stopAutoScale(ctx *actor.Context) {
	if p.autoscaling {
		ctx.CancelTimer(p.sampleTimer)
		ctx.CancelTimer(p.evalTimer)
		p.autoscaling = false
	}
	p.evalDue = false
	p.samples = map[autoscale.Metric][]autoscale.Sample{}
}

// askSample asks the scheduler for the pool's task counts (once at a time).
func (p *poolManager) askSample(ctx *actor.Context) {
	if !p.sampleAsked {
		p.sampleAsked = true
		ctx.Send(SchedulerID(p.poolID), sampleTasks{ReplyTo: ctx.Self()})
	}
}

// sampled records the scheduler's answer: which nodes are up and busy (for choosing nodes to
// remove), and, with autoscale, a sample of every task metric; then it runs what waited for it.
func (p *poolManager) sampled(ctx *actor.Context, s taskSample) {
	p.sampleAsked = false
	p.up, p.busy = map[string]bool{}, map[string]bool{}
	for _, id := range s.Up {
		p.up[id] = true
	}
	for _, id := range s.Busy {
		p.busy[id] = true
	}
	p.idleKnown = true
	if p.autoscaling {
		now := ctx.Now()
		c := s.Counts
		preempted := 0
		for _, n := range p.nodes {
			if n.State == batch.NodePreempted {
				preempted++
			}
		}
		p.lastCounts = c
		for m, v := range map[autoscale.Metric]int{
			autoscale.ActiveTasks:        c.Active,
			autoscale.RunningTasks:       c.Running,
			autoscale.PendingTasks:       c.Active + c.Running,
			autoscale.SucceededTasks:     c.Succeeded,
			autoscale.FailedTasks:        c.Failed,
			autoscale.ActiveTaskSlots:    c.ActiveSlots,
			autoscale.RunningTaskSlots:   c.RunningSlots,
			autoscale.PendingTaskSlots:   c.ActiveSlots + c.RunningSlots,
			autoscale.BlockedTasks:       c.Blocked,
			autoscale.PreemptedNodeCount: preempted,
		} {
			series := append(p.samples[m], autoscale.Sample{Time: now, Value: float64(v)})
			if len(series) > maxSamples {
				series = slices.Delete(series, 0, len(series)-maxSamples)
			}
			p.samples[m] = series
		}
		if p.evalDue {
			p.evalDue = false
			p.autoScale(ctx)
		}
	}
	if p.wantIdle {
		p.wantIdle = false
		p.reconcile(ctx)
	}
}

// evaluate runs a formula against the pool as it is now, without changing anything.
func (p *poolManager) evaluate(ctx *actor.Context, f *autoscale.Formula) (*autoscale.Result, *batch.AutoScaleRun) {
	now := ctx.Now()
	ded, low := p.upCounts()
	usable := 0
	for _, n := range p.nodes {
		if n.State.AcceptsTasks() {
			usable++
		}
	}
	slots := 1
	if p.pool.TaskSlotsPerNode != nil {
		slots = int(*p.pool.TaskSlotsPerNode)
	}
	env := autoscale.Env{
		Now:                  now,
		TargetDedicatedNodes: intOf(p.pool.TargetDedicatedNodes), TargetLowPriorityNodes: intOf(p.pool.TargetLowPriorityNodes),
		CurrentDedicatedNodes: ded, CurrentLowPriorityNodes: low,
		UsableNodeCount: usable, TaskSlotsPerNode: slots,
		Samples: p.samples, SamplePeriod: p.samplePeriod(),
		Rand: func() float64 { return float64(ctx.RandomInt(1<<30)) / (1 << 30) },
	}
	run := &batch.AutoScaleRun{Timestamp: now}
	res, err := f.Evaluate(env)
	if err != nil {
		run.Error = runError(asFormulaError(err, autoscale.CodeEvaluationError))
		if res != nil {
			run.Results = res.Results
		}
		return nil, run
	}
	run.Results = res.Results
	run.Warnings = slices.Clone(res.Warnings)
	if p.lastCounts.MaxActiveSlots > slots {
		run.Warnings = append(run.Warnings, fmt.Sprintf(
			"active tasks need up to %d task slots, more than a node of this pool has (taskSlotsPerNode %d): they cannot run on any number of nodes",
			p.lastCounts.MaxActiveSlots, slots))
	}
	return res, run
}

// asFormulaError returns err as an *autoscale.Error; an error of another kind (the caller's, not
// the formula's) gets code and position 1:1.
func asFormulaError(err error, code string) *autoscale.Error {
	if e, ok := err.(*autoscale.Error); ok {
		return e
	}
	return &autoscale.Error{Code: code, Line: 1, Col: 1, Msg: err.Error()}
}

// runError is an autoscale error in Azure's AutoScaleRunError shape.
func runError(e *autoscale.Error) *batch.AutoScaleRunError {
	return &batch.AutoScaleRunError{Code: e.Code, Message: e.Msg, Values: []batch.NameValuePair{
		{Name: "Line", Value: fmt.Sprint(e.Line)}, {Name: "Column", Value: fmt.Sprint(e.Col)}}}
}

// autoScale evaluates the pool's formula, records the run, and resizes to the new targets.
func (p *poolManager) autoScale(ctx *actor.Context) {
	if !p.pool.AutoScale() {
		return
	}
	var res *autoscale.Result
	var run *batch.AutoScaleRun
	if p.formulaErr != nil {
		run = &batch.AutoScaleRun{Timestamp: ctx.Now(), Error: runError(asFormulaError(p.formulaErr, autoscale.CodeSyntaxError))}
	} else {
		res, run = p.evaluate(ctx, p.formula)
	}
	next := p.pool
	next.AutoScaleRun = run
	var events []batch.PoolEvent
	prev := p.pool.AutoScaleRun
	if prev == nil || prev.Results != run.Results || !sameRunError(prev.Error, run.Error) {
		events = append(events, batch.PoolEvent{Kind: batch.PoolEventAutoScale, Results: run.Results, Error: run.Error,
			Message: strings.Join(run.Warnings, "; ")})
	}
	changed := res != nil && (res.TargetDedicatedNodes != intOf(p.pool.TargetDedicatedNodes) || res.TargetLowPriorityNodes != intOf(p.pool.TargetLowPriorityNodes))
	// A steady pool short of (or over) its targets, as after a resize that timed out, resizes
	// again at each evaluation, as Azure keeps trying to reach a formula's targets.
	ded, low := p.counts()
	short := res != nil && p.pool.AllocationState == batch.AllocationSteady &&
		(res.TargetDedicatedNodes != ded || res.TargetLowPriorityNodes != low)
	if changed || short {
		why := "the autoscale formula set new targets"
		if !changed {
			why = "the pool does not have the autoscale formula's targets"
		}
		switch p.pool.AllocationState {
		case batch.AllocationSteady:
			n, err := batch.TransitionAllocation(next, batch.AllocationResizing, ctx.Now())
			ctx.Assert(err == nil, "pool %s: autoscale: %v", p.poolID, err)
			next = n
			d := batch.Duration(defaultResizeTimeout)
			next.ResizeTimeout = &d
			next.ResizeErrors = nil
			setTargets(&next, res)
			events = append(events, batch.PoolEvent{Kind: batch.PoolEventResize, Message: why})
		case batch.AllocationResizing:
			setTargets(&next, res)
			events = append(events, batch.PoolEvent{Kind: batch.PoolEventResize, Message: "the autoscale formula changed the targets of the resize under way"})
		}
	}
	dealloc := p.dealloc
	if res != nil {
		// The option of the formula's latest run governs the nodes its targets remove.
		dealloc = batch.NodeDeallocationOption(res.NodeDeallocationOption)
	}
	if !p.writeWith(ctx, next, dealloc, events...) {
		return // the next evaluation tries again
	}
	if next.AllocationState == batch.AllocationResizing && !p.timerSet {
		p.armTimer(ctx)
	}
	p.reconcile(ctx)
}

// setTargets gives a pool the targets a formula set.
func setTargets(next *batch.Pool, res *autoscale.Result) {
	ded, low := int32(res.TargetDedicatedNodes), int32(res.TargetLowPriorityNodes)
	next.TargetDedicatedNodes, next.TargetLowPriorityNodes = &ded, &low
}

func sameRunError(a, b *batch.AutoScaleRunError) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Code == b.Code && a.Message == b.Message
}

// formulaError turns a formula that does not parse into the error of the request that gave it.
func formulaError(err error) *batch.Error {
	e := asFormulaError(err, autoscale.CodeSyntaxError)
	return &batch.Error{Code: e.Code, Message: "The autoscale formula is not valid: " + e.Error(), Values: []batch.KV{
		{Key: batch.KeyPropertyName, Value: "autoScaleFormula"}, {Key: "Line", Value: fmt.Sprint(e.Line)}, {Key: "Column", Value: fmt.Sprint(e.Col)}}}
}

// checkInterval checks an autoScaleEvaluationInterval against the service's bounds.
func checkInterval(d, minimum time.Duration) *batch.Error {
	if d < minimum || d > batch.MaxAutoScaleEvaluationInterval {
		return &batch.Error{Code: "InvalidPropertyValue", Message: fmt.Sprintf(
			"autoScaleEvaluationInterval must be between %v and %v", minimum, batch.MaxAutoScaleEvaluationInterval),
			Values: []batch.KV{{Key: batch.KeyPropertyName, Value: "autoScaleEvaluationInterval"}, {Key: "PropertyValue", Value: batch.Duration(d).String()}}}
	}
	return nil
}

// enableAutoScale is Pool - Enable AutoScale.
func (p *poolManager) enableAutoScale(ctx *actor.Context, r EnableAutoScale) {
	if !p.pool.AutoScale() && p.pool.AllocationState != batch.AllocationSteady {
		reply(ctx, r.Request, &batch.Error{Code: batch.CodePoolBeingResized, Message: "The specified pool is being resized: autoscale cannot be enabled until the resize ends."})
		return
	}
	formula := r.Formula
	if formula == "" {
		formula = p.pool.AutoScaleFormula
	}
	if formula == "" {
		reply(ctx, r.Request, &batch.Error{Code: "MissingRequiredProperty", Message: "autoScaleFormula is required to enable autoscale.",
			Values: []batch.KV{{Key: batch.KeyPropertyName, Value: "autoScaleFormula"}}})
		return
	}
	if _, err := autoscale.Parse(formula); err != nil {
		reply(ctx, r.Request, formulaError(err))
		return
	}
	iv := r.EvaluationInterval
	if iv == 0 && p.pool.AutoScale() && p.pool.AutoScaleEvaluationInterval != nil {
		iv = p.pool.AutoScaleEvaluationInterval.Std()
	}
	if iv == 0 {
		iv = batch.DefaultAutoScaleEvaluationInterval
	}
	if e := checkInterval(iv, p.minInterval); e != nil {
		reply(ctx, r.Request, e)
		return
	}
	next := p.pool
	next.EnableAutoScale = batch.Ptr(true)
	next.AutoScaleFormula = formula
	d := batch.Duration(iv)
	next.AutoScaleEvaluationInterval = &d
	if !p.write(ctx, next, batch.PoolEvent{Kind: batch.PoolEventAutoScaleEnabled, Message: "evaluated every " + d.String()}) {
		reply(ctx, r.Request, busy())
		return
	}
	reply(ctx, r.Request, nil)
	p.startAutoScale(ctx)
}

// disableAutoScale is Pool - Disable AutoScale: the pool keeps its targets and nodes.
func (p *poolManager) disableAutoScale(ctx *actor.Context, r DisableAutoScale) {
	if !p.pool.AutoScale() {
		reply(ctx, r.Request, nil)
		return
	}
	next := p.pool
	next.EnableAutoScale = batch.Ptr(false)
	next.AutoScaleFormula = ""
	next.AutoScaleEvaluationInterval = nil
	if !p.write(ctx, next, batch.PoolEvent{Kind: batch.PoolEventAutoScaleDisabled}) {
		reply(ctx, r.Request, busy())
		return
	}
	reply(ctx, r.Request, nil)
	p.stopAutoScale(ctx)
}

// evaluateAutoScale is Pool - Evaluate AutoScale: the formula runs against the pool's samples
// and nothing changes.
func (p *poolManager) evaluateAutoScale(ctx *actor.Context, r EvaluateAutoScale) {
	if !p.pool.AutoScale() {
		reply(ctx, r.Request, &batch.Error{Code: "AutoScaleNotEnabled", Message: "The specified pool does not have autoscale enabled: a formula can be evaluated only on a pool that has."})
		return
	}
	f, err := autoscale.Parse(r.Formula)
	if err != nil {
		reply(ctx, r.Request, formulaError(err))
		return
	}
	_, run := p.evaluate(ctx, f)
	ctx.Send(r.ReplyTo, Reply{RequestID: r.ID, AutoScaleRun: run})
}
