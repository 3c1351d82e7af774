package autoscale

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// kind is the type of a value in a formula. doubleVecList is not a kind: it exists only as a
// function's argument list, flattened into a doubleVec before the function sees it.
type kind uint8

const (
	kDouble kind = iota
	kVec
	kString
	kTimestamp
	kInterval
)

func (k kind) String() string {
	switch k {
	case kDouble:
		return "double"
	case kVec:
		return "doubleVec"
	case kString:
		return "string"
	case kTimestamp:
		return "timestamp"
	default:
		return "timeinterval"
	}
}

// value is one value of a formula. Vectors are never changed in place, so values may share them.
type value struct {
	k   kind
	d   float64
	vec []float64
	s   string
	t   time.Time // UTC
	iv  time.Duration
}

func doubleVal(d float64) value         { return value{k: kDouble, d: d} }
func vecVal(v []float64) value          { return value{k: kVec, vec: v} }
func stringVal(s string) value          { return value{k: kString, s: s} }
func timestampVal(t time.Time) value    { return value{k: kTimestamp, t: t.UTC()} }
func intervalVal(d time.Duration) value { return value{k: kInterval, iv: d} }
func boolVal(b bool) value {
	if b {
		return doubleVal(1)
	}
	return doubleVal(0)
}

// String formats v the way autoScaleRun.results writes it: doubles with six significant digits
// (Azure writes "$samples=96.6667"), vectors as "[1,2,3]", timestamps as
// "2016-10-14T18:36:43.282Z", strings bare, time intervals in ISO 8601.
func (v value) String() string {
	switch v.k {
	case kDouble:
		return formatNumber(v.d)
	case kVec:
		var b strings.Builder
		b.WriteByte('[')
		for i, x := range v.vec {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(formatNumber(x))
		}
		b.WriteByte(']')
		return b.String()
	case kString:
		return v.s
	case kTimestamp:
		return v.t.Format("2006-01-02T15:04:05.000Z")
	default:
		return formatInterval(v.iv)
	}
}

// formatNumber writes a double as C's "%g" does: six significant digits, an exponent for very
// large or small numbers, "nan" and "inf" for the IEEE specials.
func formatNumber(x float64) string {
	switch {
	case math.IsNaN(x):
		return "nan"
	case math.IsInf(x, 1):
		return "inf"
	case math.IsInf(x, -1):
		return "-inf"
	}
	return strconv.FormatFloat(x, 'g', 6, 64)
}

// formatInterval writes d as an ISO 8601 duration: days, hours, minutes and seconds with the zero
// parts left out ("P1D", "PT1H30M", "PT0.5S", "PT0S"), as corral/batch.FormatDuration does.
func formatInterval(d time.Duration) string {
	if d == 0 {
		return "PT0S"
	}
	var b strings.Builder
	u := uint64(d)
	if d < 0 {
		b.WriteByte('-')
		u = uint64(-(d + 1)) + 1 // safe for math.MinInt64
	}
	const day = uint64(24 * time.Hour)
	b.WriteByte('P')
	if days := u / day; days > 0 {
		b.WriteString(strconv.FormatUint(days, 10))
		b.WriteByte('D')
		u %= day
	}
	if u == 0 {
		return b.String()
	}
	b.WriteByte('T')
	if h := u / uint64(time.Hour); h > 0 {
		b.WriteString(strconv.FormatUint(h, 10))
		b.WriteByte('H')
		u %= uint64(time.Hour)
	}
	if m := u / uint64(time.Minute); m > 0 {
		b.WriteString(strconv.FormatUint(m, 10))
		b.WriteByte('M')
		u %= uint64(time.Minute)
	}
	if u > 0 {
		secs, nanos := u/uint64(time.Second), u%uint64(time.Second)
		b.WriteString(strconv.FormatUint(secs, 10))
		if nanos > 0 {
			f := strconv.FormatUint(nanos+uint64(time.Second), 10)[1:] // nine digits
			b.WriteByte('.')
			b.WriteString(strings.TrimRight(f, "0"))
		}
		b.WriteByte('S')
	}
	return b.String()
}

// binary applies an arithmetic or comparison operator, typed by the "Operations" table of Azure's
// doc. && and || are not here: they short-circuit, so eval handles them.
func binary(op tokKind, x, y value, p pos) (value, error) {
	switch op {
	case tokPlus, tokMinus, tokStar, tokSlash:
		return arith(op, x, y, p)
	case tokLT, tokLE, tokGT, tokGE, tokEQ, tokNE:
		return compare(op, x, y, p)
	}
	return value{}, evalError(p, "internal error: operator %s", op)
}

func arith(op tokKind, x, y value, p pos) (value, error) {
	switch {
	case x.k == kDouble && y.k == kDouble:
		return doubleVal(applyDouble(op, x.d, y.d)), nil
	case x.k == kVec && y.k == kDouble:
		out := make([]float64, len(x.vec))
		for i, a := range x.vec {
			out[i] = applyDouble(op, a, y.d)
		}
		return vecVal(out), nil
	case x.k == kDouble && y.k == kVec:
		// Not in Azure's table (which lists only doubleVec op double); Corral accepts it.
		out := make([]float64, len(y.vec))
		for i, b := range y.vec {
			out[i] = applyDouble(op, x.d, b)
		}
		return vecVal(out), nil
	case x.k == kVec && y.k == kVec:
		if len(x.vec) != len(y.vec) {
			return value{}, evalError(p, "cannot apply %s to doubleVecs of different lengths (%d and %d)",
				op, len(x.vec), len(y.vec))
		}
		out := make([]float64, len(x.vec))
		for i := range x.vec {
			out[i] = applyDouble(op, x.vec[i], y.vec[i])
		}
		return vecVal(out), nil
	case op == tokStar && x.k == kDouble && y.k == kInterval:
		return scaleInterval(y.iv, x.d, false, p)
	case (op == tokStar || op == tokSlash) && x.k == kInterval && y.k == kDouble:
		return scaleInterval(x.iv, y.d, op == tokSlash, p)
	case (op == tokPlus || op == tokMinus) && x.k == kInterval && y.k == kInterval:
		b := y.iv
		if op == tokMinus {
			if b == math.MinInt64 {
				return value{}, evalError(p, "time interval out of range")
			}
			b = -b
		}
		s := x.iv + b
		if (b > 0 && s < x.iv) || (b < 0 && s > x.iv) {
			return value{}, evalError(p, "time interval out of range")
		}
		return intervalVal(s), nil
	case op == tokPlus && x.k == kTimestamp && y.k == kInterval:
		return timestampVal(x.t.Add(y.iv)), nil
	case op == tokPlus && x.k == kInterval && y.k == kTimestamp:
		return timestampVal(y.t.Add(x.iv)), nil
	case op == tokMinus && x.k == kTimestamp && y.k == kTimestamp:
		d := x.t.Sub(y.t)
		if d == math.MaxInt64 || d == math.MinInt64 {
			return value{}, evalError(p, "time interval out of range")
		}
		return intervalVal(d), nil
	case op == tokMinus && x.k == kTimestamp && y.k == kInterval:
		return value{}, evalError(p,
			"cannot apply - to timestamp and timeinterval; add a negative interval instead, as in time() + (-6 * TimeInterval_Hour)")
	}
	return value{}, evalError(p, "cannot apply %s to %s and %s", op, x.k, y.k)
}

func applyDouble(op tokKind, a, b float64) float64 {
	switch op {
	case tokPlus:
		return a + b
	case tokMinus:
		return a - b
	case tokStar:
		return a * b
	default:
		return a / b
	}
}

// scaleInterval multiplies or divides a time interval by a double, rounding to the nanosecond.
func scaleInterval(d time.Duration, x float64, divide bool, p pos) (value, error) {
	if divide && x == 0 {
		return value{}, evalError(p, "division of a time interval by zero")
	}
	f := float64(d)
	if divide {
		f /= x
	} else {
		f *= x
	}
	f = math.Round(f)
	if math.IsNaN(f) || f >= math.MaxInt64 || f < math.MinInt64 {
		return value{}, evalError(p, "time interval out of range")
	}
	return intervalVal(time.Duration(f)), nil
}

func compare(op tokKind, x, y value, p pos) (value, error) {
	var c int // -1, 0, 1; for doubles NaN makes every comparison but != false
	switch {
	case x.k == kDouble && y.k == kDouble:
		a, b := x.d, y.d
		switch op {
		case tokLT:
			return boolVal(a < b), nil
		case tokLE:
			return boolVal(a <= b), nil
		case tokGT:
			return boolVal(a > b), nil
		case tokGE:
			return boolVal(a >= b), nil
		case tokEQ:
			return boolVal(a == b), nil
		default:
			return boolVal(a != b), nil
		}
	case x.k == kString && y.k == kString:
		c = strings.Compare(x.s, y.s)
	case x.k == kTimestamp && y.k == kTimestamp:
		c = x.t.Compare(y.t)
	case x.k == kInterval && y.k == kInterval:
		switch {
		case x.iv < y.iv:
			c = -1
		case x.iv > y.iv:
			c = 1
		}
	default:
		return value{}, evalError(p, "cannot compare %s with %s", x.k, y.k)
	}
	switch op {
	case tokLT:
		return boolVal(c < 0), nil
	case tokLE:
		return boolVal(c <= 0), nil
	case tokGT:
		return boolVal(c > 0), nil
	case tokGE:
		return boolVal(c >= 0), nil
	case tokEQ:
		return boolVal(c == 0), nil
	default:
		return boolVal(c != 0), nil
	}
}
