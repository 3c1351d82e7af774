package odata

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"unicode/utf8"
)

// fuzzProps has every kind, nested paths, narrowed operators and a case-sensitive string.
var fuzzProps = Properties{
	"id":                     {Kind: String},
	"name":                   {Kind: String, CaseSensitive: true},
	"vmSize":                 {Kind: String, Ops: []Op{Eq, Ne}},
	"state":                  {Kind: Enum, Values: []string{"active", "completed", "running"}},
	"n":                      {Kind: Int},
	"x":                      {Kind: Number},
	"ok":                     {Kind: Bool},
	"t":                      {Kind: Time},
	"executionInfo/result":   {Kind: Enum, Values: []string{"success", "failure"}},
	"executionInfo/exitCode": {Kind: Int},
	"executionInfo/endTime":  {Kind: Time},
	"a/b/c":                  {Kind: String},
	"stats":                  {Kind: SelectOnly},
}

// fuzzEntities are maps Match must survive, with values of every type where any is expected.
var fuzzEntities = []map[string]any{
	nil,
	{},
	{"id": "Pool-1", "name": "Frame", "vmSize": "a1", "state": "Active", "n": 3.0, "x": 0.5, "ok": true,
		"t": "2024-01-01T00:00:00Z", "executionInfo": map[string]any{"result": "failure", "exitCode": 1.0, "endTime": "2024-01-01T00:00:00.5+01:00"},
		"a": map[string]any{"b": map[string]any{"c": "deep"}}},
	{"id": 1.0, "name": nil, "vmSize": []any{"x"}, "state": map[string]any{}, "n": "3", "x": math.NaN(), "ok": "true",
		"t": "not a time", "executionInfo": "flat", "a": []any{map[string]any{"b": 1}}},
	{"n": math.Inf(1), "x": json.Number("12.5"), "t": 17.0, "executionInfo": map[string]any{"result": nil, "exitCode": json.Number("nope")},
		"a": map[string]any{"b": "not an object"}},
	{"n": int64(math.MaxInt64), "x": float32(1.5), "t": "", "id": "", "state": ""},
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		"state eq 'active'",
		"executionInfo/result eq 'failure'",
		"startswith(id, 'x')",
		"not (state eq 'running' or ok eq true) and n ge -3",
		"t ge datetime'2024-01-01T00:00:00Z' and t lt 2024-02-01T00:00:00.123+02:00",
		"t gt DateTime'Sun, 08 May 2011 08:49:37 GMT'",
		"x gt 1.5e3 or x le -0 or x eq 7",
		"name eq 'it''s' or id ne null",
		"((a/b/c eq 'deep'))",
		"not not executionInfo/exitCode eq 0",
		"vmSize ne 'a1' and executionInfo/endTime eq null",
		"state gt 'a'",
		"id eq 'unterminated",
		"(((",
		"t eq 0000-01-01T00:00:00+01:00",
	} {
		f.Add(s, `{"id":"x","state":"active","executionInfo":{"result":"failure"}}`)
	}
	f.Fuzz(func(t *testing.T, s, doc string) {
		flt, err := ParseFilter(s, fuzzProps)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("ParseFilter(%q): %T %v, want an *Error", s, err, err)
			}
			if e.Column < 0 || e.Column > utf8.RuneCountInString(s)+1 || e.Msg == "" || e.Param != FilterParam || e.Value != s {
				t.Fatalf("ParseFilter(%q): bad error %+v", s, e)
			}
			_ = e.APIError()
			return
		}
		if flt == nil {
			return // empty
		}
		// The canonical form parses to the same filter. It is not limited in length: it can be
		// longer than the input ("1e3" becomes "1000").
		text := flt.String()
		again, perr := parseFilter(text, fuzzProps, -1)
		if perr != nil {
			t.Fatalf("ParseFilter(%q).String() = %q, which does not parse: %v", s, text, perr)
		}
		if got := again.String(); got != text {
			t.Fatalf("ParseFilter(%q).String() = %q, which parses to %q", s, text, got)
		}
		var v map[string]any
		entities := fuzzEntities
		if json.Unmarshal([]byte(doc), &v) == nil {
			entities = append(entities[:len(entities):len(entities)], v)
		}
		for _, v := range entities {
			if a, b := flt.Match(v), again.Match(v); a != b {
				t.Fatalf("%q and its canonical form %q disagree on %v: %v, %v", s, text, v, a, b)
			}
		}
	})
}

func FuzzParseSelect(f *testing.F) {
	for _, s := range []string{"id", "id, stats", "*", "executionInfo,a", "id,,x", "a/b", " state ,id,state"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sel, err := ParseSelect(s, fuzzProps)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Param != SelectParam || e.Value != s || e.Column < 0 || e.Column > utf8.RuneCountInString(s)+1 {
				t.Fatalf("ParseSelect(%q): bad error %#v", s, err)
			}
			return
		}
		text := sel.String()
		again, err := ParseSelect(text, fuzzProps)
		if err != nil || again.String() != text {
			t.Fatalf("ParseSelect(%q).String() = %q, which parses to %v, %v", s, text, again, err)
		}
		for _, v := range fuzzEntities {
			out := sel.Apply(v)
			for k := range out {
				if _, ok := v[k]; !ok {
					t.Fatalf("Apply(%v) made up %q", v, k)
				}
			}
		}
	})
}
