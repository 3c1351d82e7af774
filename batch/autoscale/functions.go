package autoscale

import (
	"math"
	"slices"
	"strings"
	"time"
)

// manyArgs is the max of a function that takes a list of any length.
const manyArgs = math.MaxInt

// function is a predefined function of the "Functions" table of Azure's doc.
type function struct {
	name     string
	min, max int // number of arguments
	impl     func(ev *evaluator, c *callExpr, args []value) (value, error)
}

var functions = map[string]*function{}

func init() {
	for _, fn := range []*function{
		{"avg", 1, manyArgs, listFunc(func(v []float64) float64 {
			s := 0.0
			for _, x := range v {
				s += x
			}
			return s / float64(len(v))
		}, false)},
		{"len", 1, manyArgs, listFunc(func(v []float64) float64 { return float64(len(v)) }, true)},
		{"lg", 1, manyArgs, logFunc(math.Log2)},
		{"ln", 1, manyArgs, logFunc(math.Log)},
		{"log", 1, manyArgs, logFunc(math.Log10)},
		{"max", 1, manyArgs, listFunc(fold(math.Max), false)},
		{"min", 1, manyArgs, listFunc(fold(math.Min), false)},
		{"norm", 1, manyArgs, listFunc(func(v []float64) float64 {
			s := 0.0
			for _, x := range v {
				s += x * x
			}
			return math.Sqrt(s)
		}, true)},
		{"percentile", 2, 2, percentile},
		{"rand", 0, 0, random},
		{"range", 1, manyArgs, listFunc(func(v []float64) float64 {
			return fold(math.Max)(v) - fold(math.Min)(v)
		}, false)},
		{"std", 1, manyArgs, listFunc(std, true)},
		{"stop", 0, 0, func(*evaluator, *callExpr, []value) (value, error) { return value{}, errStop }},
		{"sum", 1, manyArgs, listFunc(func(v []float64) float64 {
			s := 0.0
			for _, x := range v {
				s += x
			}
			return s
		}, true)},
		{"time", 0, 1, timeFunc},
		{"val", 2, 2, val},
	} {
		functions[fn.name] = fn
	}
}

// lookupFunction finds a function by name, without regard to case.
func lookupFunction(name string) *function { return functions[strings.ToLower(name)] }

// fold makes min or max of a non-empty list; a NaN anywhere makes the result NaN.
func fold(f func(a, b float64) float64) func([]float64) float64 {
	return func(v []float64) float64 {
		r := v[0]
		for _, x := range v[1:] {
			r = f(r, x)
		}
		return r
	}
}

// cmpNaNLast orders numbers ascending with NaN above every number.
func cmpNaNLast(a, b float64) int {
	switch {
	case math.IsNaN(a) && math.IsNaN(b):
		return 0
	case math.IsNaN(a):
		return 1
	case math.IsNaN(b):
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// MaxListLength is the most values a function's doubleVecList may hold once flattened. Only
// flattening makes vectors longer than a metric's history, and a formula that passes the same
// long vector thousands of times would otherwise take gigabytes.
const MaxListLength = 1 << 20

// flatten turns a doubleVecList — any mix of doubles and doubleVecs — into one doubleVec.
func flatten(fn string, c *callExpr, args []value) ([]float64, error) {
	n := 0
	for i, a := range args {
		switch a.k {
		case kDouble:
			n++
		case kVec:
			n += len(a.vec)
		default:
			return nil, evalError(c.args[i].at(), "argument %d of %s is a %s; want a double or a doubleVec", i+1, fn, a.k)
		}
		if n > MaxListLength {
			return nil, evalError(c.p, "the arguments of %s hold more than %d values", fn, MaxListLength)
		}
	}
	out := make([]float64, 0, n)
	for _, a := range args {
		if a.k == kDouble {
			out = append(out, a.d)
		} else {
			out = append(out, a.vec...)
		}
	}
	return out, nil
}

// listFunc makes a function of a doubleVecList. Unless emptyOK, an empty list is an error: there
// is no average, minimum or maximum of nothing.
func listFunc(f func([]float64) float64, emptyOK bool) func(*evaluator, *callExpr, []value) (value, error) {
	return func(_ *evaluator, c *callExpr, args []value) (value, error) {
		v, err := flatten(c.fn.name, c, args)
		if err != nil {
			return value{}, err
		}
		if len(v) == 0 && !emptyOK {
			return value{}, evalError(c.p, "%s of an empty list", c.fn.name)
		}
		return doubleVal(f(v)), nil
	}
}

// std is the sample standard deviation (divisor n-1); of fewer than two values it is 0.
func std(v []float64) float64 {
	if len(v) < 2 {
		return 0
	}
	mean := 0.0
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	ss := 0.0
	for _, x := range v {
		ss += (x - mean) * (x - mean)
	}
	return math.Sqrt(ss / float64(len(v)-1))
}

// logFunc makes lg, ln and log: of one double a double; of anything else (a doubleVec, several
// arguments) the component-wise doubleVec, as Azure's table describes.
func logFunc(f func(float64) float64) func(*evaluator, *callExpr, []value) (value, error) {
	return func(_ *evaluator, c *callExpr, args []value) (value, error) {
		if len(args) == 1 && args[0].k == kDouble {
			return doubleVal(f(args[0].d)), nil
		}
		v, err := flatten(c.fn.name, c, args)
		if err != nil {
			return value{}, err
		}
		out := make([]float64, len(v))
		for i, x := range v {
			out[i] = f(x)
		}
		return vecVal(out), nil
	}
}

// vecArg returns a doubleVec argument; a double counts as a vector of one.
func vecArg(c *callExpr, args []value, i int) ([]float64, error) {
	switch a := args[i]; a.k {
	case kVec:
		return a.vec, nil
	case kDouble:
		return []float64{a.d}, nil
	default:
		return nil, evalError(c.args[i].at(), "argument %d of %s is a %s; want a doubleVec", i+1, c.fn.name, a.k)
	}
}

func doubleArg(c *callExpr, args []value, i int) (float64, error) {
	if args[i].k != kDouble {
		return 0, evalError(c.args[i].at(), "argument %d of %s is a %s; want a double", i+1, c.fn.name, args[i].k)
	}
	return args[i].d, nil
}

// percentile(v, p) returns the element of v at the p'th percentile by the nearest-rank method:
// the smallest element that at least p percent of the elements are less than or equal to.
func percentile(_ *evaluator, c *callExpr, args []value) (value, error) {
	v, err := vecArg(c, args, 0)
	if err != nil {
		return value{}, err
	}
	p, err := doubleArg(c, args, 1)
	if err != nil {
		return value{}, err
	}
	if !(p >= 0 && p <= 100) {
		return value{}, evalError(c.args[1].at(), "percentile %s is not between 0 and 100", formatNumber(p))
	}
	if len(v) == 0 {
		return value{}, evalError(c.p, "percentile of an empty doubleVec")
	}
	s := slices.Clone(v)
	slices.SortFunc(s, cmpNaNLast)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = min(max(rank, 1), len(s))
	return doubleVal(s[rank-1]), nil
}

// val(v, i) returns element i of v, counted from 0; i is truncated toward zero.
func val(_ *evaluator, c *callExpr, args []value) (value, error) {
	v, err := vecArg(c, args, 0)
	if err != nil {
		return value{}, err
	}
	i, err := doubleArg(c, args, 1)
	if err != nil {
		return value{}, err
	}
	if !(i > -1 && i < float64(len(v))) {
		return value{}, evalError(c.args[1].at(), "index %s is out of range for a doubleVec of length %d", formatNumber(i), len(v))
	}
	return doubleVal(v[int(i)]), nil
}

func random(ev *evaluator, c *callExpr, _ []value) (value, error) {
	if ev.env.Rand == nil {
		return value{}, evalError(c.p, "rand() has no source of random numbers")
	}
	return doubleVal(ev.env.Rand()), nil
}

// timeFunc is time(): the evaluation time, or the time a W3C-DTF or RFC 1123 string gives.
func timeFunc(ev *evaluator, c *callExpr, args []value) (value, error) {
	if len(args) == 0 {
		return timestampVal(ev.now), nil
	}
	if args[0].k != kString {
		return value{}, evalError(c.args[0].at(), "the argument of time is a %s; want a string", args[0].k)
	}
	s := strings.TrimSpace(args[0].s)
	if s == "" {
		return timestampVal(ev.now), nil
	}
	t, ok := parseTime(s)
	if !ok {
		return value{}, evalError(c.args[0].at(), "time(%q): not a W3C-DTF (2016-10-14T18:36:43Z) or RFC 1123 (Fri, 14 Oct 2016 18:36:43 GMT) date and time", s)
	}
	return timestampVal(t), nil
}

// timeLayouts are the W3C-DTF profile of ISO 8601 (with and without a zone, which then is UTC)
// and RFC 1123, with the variants .NET writes.
var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02",
	"2006-01",
	"2006",
	time.RFC1123,
	time.RFC1123Z,
	"Mon, 2 Jan 2006 15:04:05 MST",
	"Mon, 2 Jan 2006 15:04:05 -0700",
}

func parseTime(s string) (time.Time, bool) {
	for _, layout := range timeLayouts {
		// In UTC rather than the machine's zone, so that a zone abbreviation other than GMT or
		// UTC gets offset 0 wherever this runs.
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func (ev *evaluator) call(c *callExpr) (value, error) {
	args := make([]value, len(c.args))
	for i, a := range c.args {
		v, err := ev.eval(a)
		if err != nil {
			return value{}, err
		}
		args[i] = v
	}
	return c.fn.impl(ev, c, args)
}
