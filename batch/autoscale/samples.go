package autoscale

import (
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// method is a method of a sampled metric ("Obtain sample data" in Azure's doc).
type method struct {
	name     string
	min, max int
	impl     func(ev *evaluator, e *methodExpr, s *series, args []value) (value, error)
}

var methods = map[string]*method{}

func init() {
	for _, m := range []*method{
		{"GetSample", 1, 3, getSample},
		{"GetSamplePercent", 1, 2, getSamplePercent},
		{"GetSamplePeriod", 0, 0, func(ev *evaluator, _ *methodExpr, _ *series, _ []value) (value, error) {
			return intervalVal(ev.period), nil
		}},
		{"Count", 0, 0, func(_ *evaluator, _ *methodExpr, s *series, _ []value) (value, error) {
			return doubleVal(float64(len(s.times))), nil
		}},
		{"HistoryBeginTime", 0, 0, func(_ *evaluator, e *methodExpr, s *series, _ []value) (value, error) {
			if len(s.times) == 0 {
				return value{}, evalError(e.p, "%s has no samples, so no HistoryBeginTime", e.metric)
			}
			return timestampVal(s.times[0]), nil
		}},
	} {
		methods[strings.ToLower(m.name)] = m
	}
}

func lookupMethod(name string) *method { return methods[strings.ToLower(name)] }

// series is a metric's samples as the formula sees them: not later than Now, oldest first.
type series struct {
	times  []time.Time
	values []float64
}

// seriesOf prepares a metric's samples once per evaluation.
func (ev *evaluator) seriesOf(m Metric) *series {
	if s, ok := ev.series[m]; ok {
		return s
	}
	raw := ev.env.Samples[m]
	if !slices.IsSortedFunc(raw, func(a, b Sample) int { return a.Time.Compare(b.Time) }) {
		raw = slices.Clone(raw)
		slices.SortStableFunc(raw, func(a, b Sample) int { return a.Time.Compare(b.Time) })
	}
	// Samples after Now have not been recorded yet, as far as this evaluation knows.
	n := sort.Search(len(raw), func(i int) bool { return raw[i].Time.After(ev.now) })
	s := &series{times: make([]time.Time, n), values: make([]float64, n)}
	for i, smp := range raw[:n] {
		s.times[i], s.values[i] = smp.Time.UTC(), smp.Value
	}
	if ev.series == nil {
		ev.series = map[Metric]*series{}
	}
	ev.series[m] = s
	return s
}

func (ev *evaluator) method(e *methodExpr) (value, error) {
	args := make([]value, len(e.args))
	for i, a := range e.args {
		v, err := ev.eval(a)
		if err != nil {
			return value{}, err
		}
		args[i] = v
	}
	return e.m.impl(ev, e, ev.seriesOf(e.metric), args)
}

// window is a span of time (from, to]: the samples recorded after from and no later than to.
type window struct{ from, to time.Time }

// instant turns a GetSample bound into a time: a timeinterval counts back from Now, a timestamp
// is itself.
func (ev *evaluator) instant(e *methodExpr, args []value, i int) (time.Time, error) {
	switch a := args[i]; a.k {
	case kInterval:
		return ev.now.Add(-a.iv), nil
	case kTimestamp:
		return a.t, nil
	default:
		return time.Time{}, evalError(e.args[i].at(), "argument %d of %s is a %s; want a timeinterval or a timestamp", i+1, e.m.name, a.k)
	}
}

// span builds the window of GetSample(start [, end]) and GetSamplePercent: "start" is how far back
// the window begins (or when), "end" how far back it ends, Now if not given. The two may come in
// either order.
func (ev *evaluator) span(e *methodExpr, args []value, withEnd bool) (window, error) {
	a, err := ev.instant(e, args, 0)
	if err != nil {
		return window{}, err
	}
	b := ev.now
	if withEnd {
		if b, err = ev.instant(e, args, 1); err != nil {
			return window{}, err
		}
	}
	if a.After(b) {
		a, b = b, a
	}
	return window{a, b}, nil
}

// in returns the indexes [lo, hi) of the samples in w.
func (s *series) in(w window) (lo, hi int) {
	lo = sort.Search(len(s.times), func(i int) bool { return s.times[i].After(w.from) })
	hi = sort.Search(len(s.times), func(i int) bool { return s.times[i].After(w.to) })
	return lo, max(lo, hi)
}

// percent is the share of the samples that a window should hold, one per sample period, that
// the series has: at most 100.
func (ev *evaluator) percent(s *series, w window) float64 {
	lo, hi := s.in(w)
	expected := int64(w.to.Sub(w.from) / ev.period)
	if expected < 1 {
		expected = 1
	}
	return math.Min(100, float64(hi-lo)*100/float64(expected))
}

// getSample is GetSample in its three forms:
//
//	GetSample(count)                         the last count samples
//	GetSample(start [, samplePercent])       the samples in (start, Now]
//	GetSample(start, end [, samplePercent])  the samples in (start, end]
//
// With samplePercent, the evaluation fails with InsufficientSampleData if the window holds less
// than that percentage of the samples it should.
func getSample(ev *evaluator, e *methodExpr, s *series, args []value) (value, error) {
	if args[0].k == kDouble {
		if len(args) > 1 {
			return value{}, evalError(e.args[1].at(), "GetSample(count) takes no other argument; to require a sample percentage, give a time interval: GetSample(TimeInterval_Minute * 5, 70)")
		}
		n := args[0].d
		if !(n >= 0) {
			return value{}, evalError(e.args[0].at(), "GetSample count %s is negative", formatNumber(n))
		}
		k := len(s.values)
		if n < float64(k) {
			k = int(n)
		}
		return vecVal(s.values[len(s.values)-k:]), nil
	}
	// GetSample(start, x): x is the end if it is a time, the sample percentage if a double.
	withEnd := len(args) == 3 || (len(args) == 2 && args[1].k != kDouble)
	w, err := ev.span(e, args, withEnd)
	if err != nil {
		return value{}, err
	}
	pi := -1 // index of samplePercent
	switch {
	case len(args) == 3:
		pi = 2
	case len(args) == 2 && !withEnd:
		pi = 1
	}
	if pi >= 0 {
		want := args[pi]
		if want.k != kDouble {
			return value{}, evalError(e.args[pi].at(), "the sample percentage of GetSample is a %s; want a double", want.k)
		}
		if !(want.d >= 0 && want.d <= 100) {
			return value{}, evalError(e.args[pi].at(), "the sample percentage %s is not between 0 and 100", formatNumber(want.d))
		}
		if got := ev.percent(s, w); got < want.d {
			return value{}, errorAt(CodeInsufficientSampleData, e.p,
				"Insufficient data from data set: %s wanted %s%%, received %s%%", e.metric, formatNumber(want.d), formatNumber(got))
		}
	}
	lo, hi := s.in(w)
	return vecVal(s.values[lo:hi]), nil
}

// getSamplePercent is GetSamplePercent(start [, end]): the percentage of the samples the window
// should hold that the series has.
func getSamplePercent(ev *evaluator, e *methodExpr, s *series, args []value) (value, error) {
	w, err := ev.span(e, args, len(args) == 2)
	if err != nil {
		return value{}, err
	}
	return doubleVal(ev.percent(s, w)), nil
}
