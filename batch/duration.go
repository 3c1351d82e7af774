package batch

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Infinite is the duration Corral uses for "no limit". Azure Batch writes its "unlimited" value as
// .NET's TimeSpan.MaxValue, "P10675199DT2H48M5.4775807S" (for example a task's maxWallClockTime
// when none was given); Go's time.Duration cannot hold that many days, so Corral maps it, and any
// other duration too long for time.Duration (about 292 years), to the largest time.Duration, and
// writes that back as Azure's string.
const Infinite = time.Duration(math.MaxInt64)

// InfiniteString is how Azure Batch writes an unlimited duration, and how [FormatDuration] writes
// [Infinite].
const InfiniteString = "P10675199DT2H48M5.4775807S"

// Calendar units in ISO 8601 durations have no fixed length; like .NET's XmlConvert (which Azure
// Batch uses), Corral counts a year as 365 days and a month as 30 days.
const (
	day   = 24 * time.Hour
	week  = 7 * day
	month = 30 * day
	year  = 365 * day
)

// ParseDuration parses an ISO 8601 duration as Azure Batch uses them in JSON: "PT1H30M", "P1D",
// "PT0.5S", "P1DT12H", "P2W", an optional leading "-". Years count as 365 days and months as 30,
// only seconds may have a fraction (digits beyond nanoseconds are dropped), and a duration too long
// for time.Duration — including Azure's "unlimited" value — becomes [Infinite].
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	fail := func(reason string) (time.Duration, error) {
		return 0, fmt.Errorf("batch: invalid ISO 8601 duration %q: %s", orig, reason)
	}
	neg := false
	if strings.HasPrefix(s, "-") {
		neg = true
		s = s[1:]
	}
	if !strings.HasPrefix(s, "P") {
		return fail(`it must start with "P"`)
	}
	s = s[1:]
	if s == "" {
		return fail("it has no components")
	}
	// total accumulates whole nanoseconds as a float64-free saturating sum.
	var total time.Duration
	saturated := false
	add := func(n uint64, unit time.Duration) {
		if saturated {
			return
		}
		if n > uint64(math.MaxInt64/int64(unit)) {
			saturated = true
			return
		}
		v := time.Duration(n) * unit
		if total > Infinite-v {
			saturated = true
			return
		}
		total += v
	}
	inTime := false
	components := 0
	// order makes the designators appear at most once and in ISO order.
	order := 0
	for s != "" {
		if s[0] == 'T' {
			if inTime {
				return fail(`"T" appears twice`)
			}
			inTime = true
			s = s[1:]
			if s == "" {
				return fail(`"T" must be followed by hours, minutes or seconds`)
			}
			continue
		}
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 {
			return fail(fmt.Sprintf("expected a number at %q", s))
		}
		whole := s[:i]
		frac := ""
		if i < len(s) && (s[i] == '.' || s[i] == ',') {
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if j == i+1 {
				return fail("a decimal point must be followed by digits")
			}
			frac = s[i+1 : j]
			i = j
		}
		if i >= len(s) {
			return fail(fmt.Sprintf("number %q has no unit designator", s))
		}
		unitChar := s[i]
		s = s[i+1:]
		var unit time.Duration
		var rank int
		switch {
		case !inTime && unitChar == 'Y':
			unit, rank = year, 1
		case !inTime && unitChar == 'M':
			unit, rank = month, 2
		case !inTime && unitChar == 'W':
			unit, rank = week, 3
		case !inTime && unitChar == 'D':
			unit, rank = day, 4
		case inTime && unitChar == 'H':
			unit, rank = time.Hour, 5
		case inTime && unitChar == 'M':
			unit, rank = time.Minute, 6
		case inTime && unitChar == 'S':
			unit, rank = time.Second, 7
		default:
			return fail(fmt.Sprintf("unexpected designator %q", unitChar))
		}
		if rank <= order {
			return fail(fmt.Sprintf("designator %q is out of order or repeated", unitChar))
		}
		order = rank
		if frac != "" && unit != time.Second {
			return fail("only seconds may have a fraction")
		}
		n, err := strconv.ParseUint(whole, 10, 64)
		if err != nil {
			// More digits than uint64 holds: certainly longer than time.Duration.
			saturated = true
		} else {
			add(n, unit)
		}
		if frac != "" {
			if len(frac) > 9 {
				frac = frac[:9]
			}
			ns, _ := strconv.ParseUint(frac+strings.Repeat("0", 9-len(frac)), 10, 64)
			add(ns, time.Nanosecond)
		}
		components++
	}
	if components == 0 {
		return fail("it has no components")
	}
	if saturated {
		total = Infinite
	}
	if neg {
		if total == Infinite {
			return -Infinite, nil
		}
		return -total, nil
	}
	return total, nil
}

// FormatDuration writes d as an ISO 8601 duration the way Azure Batch does: days, hours, minutes
// and seconds with the zero parts left out ("P1D", "PT1H30M", "PT0.5S", "PT0S" for zero), and
// [Infinite] as Azure's unlimited value [InfiniteString].
func FormatDuration(d time.Duration) string {
	if d == Infinite {
		return InfiniteString
	}
	if d < 0 {
		if d == math.MinInt64 || d == -Infinite {
			return "-" + InfiniteString
		}
		return "-" + FormatDuration(-d)
	}
	if d == 0 {
		return "PT0S"
	}
	var b strings.Builder
	b.WriteByte('P')
	days := d / day
	d -= days * day
	if days > 0 {
		b.WriteString(strconv.FormatInt(int64(days), 10))
		b.WriteByte('D')
	}
	if d == 0 {
		return b.String()
	}
	b.WriteByte('T')
	hours := d / time.Hour
	d -= hours * time.Hour
	minutes := d / time.Minute
	d -= minutes * time.Minute
	secs := d / time.Second
	nanos := d - secs*time.Second
	if hours > 0 {
		b.WriteString(strconv.FormatInt(int64(hours), 10))
		b.WriteByte('H')
	}
	if minutes > 0 {
		b.WriteString(strconv.FormatInt(int64(minutes), 10))
		b.WriteByte('M')
	}
	if secs > 0 || nanos > 0 {
		b.WriteString(strconv.FormatInt(int64(secs), 10))
		if nanos > 0 {
			f := fmt.Sprintf("%09d", int64(nanos))
			b.WriteByte('.')
			b.WriteString(strings.TrimRight(f, "0"))
		}
		b.WriteByte('S')
	}
	return b.String()
}

// Duration is a time.Duration that marshals to and from JSON as an ISO 8601 duration string, the
// form Azure Batch uses for maxWallClockTime, retentionTime, resizeTimeout and the like.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String returns d in ISO 8601 form.
func (d Duration) String() string { return FormatDuration(time.Duration(d)) }

// MarshalJSON writes d as a JSON string in ISO 8601 form.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(FormatDuration(time.Duration(d)))
}

// UnmarshalJSON reads an ISO 8601 duration string. A malformed string yields an *Error with code
// InvalidPropertyValue (the API layer can fill in the property name).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return &Error{
			Code:    CodeInvalidPropertyValue,
			Message: "a duration must be an ISO 8601 string such as \"PT1H\"",
			Values:  []KV{{KeyPropertyValue, string(b)}, {KeyReason, "not a JSON string"}},
		}
	}
	v, err := ParseDuration(s)
	if err != nil {
		return &Error{
			Code:    CodeInvalidPropertyValue,
			Message: err.Error(),
			Values:  []KV{{KeyPropertyValue, s}, {KeyReason, "not an ISO 8601 duration"}},
		}
	}
	*d = Duration(v)
	return nil
}

// durationOf returns *p as a time.Duration, or def when p is nil.
func durationOf(p *Duration, def time.Duration) time.Duration {
	if p == nil {
		return def
	}
	return time.Duration(*p)
}
