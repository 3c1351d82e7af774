package postgres

import (
	"strings"
	"testing"
	"unicode/utf8"

	"corral/store"
)

func TestKeyEnd(t *testing.T) {
	for _, c := range []struct {
		prefix, want string
		ok           bool
	}{
		{"", "", false},
		{"a", "b", true},
		{"job/", "job0", true},
		{"a\x7f", "a\u0080", true},
		{"\u07ff", "\u0800", true},
		{"\ud7ff", "\ue000", true},
		{"\uffff", "\U00010000", true},
		{"a\U0010FFFF", "b", true},
		{"\U0010FFFF\U0010FFFF", "", false},
	} {
		got, ok := keyEnd(c.prefix)
		if got != c.want || ok != c.ok {
			t.Errorf("keyEnd(%q) = %q, %v; want %q, %v", c.prefix, got, ok, c.want, c.ok)
		}
	}
}

// TestKeyEndRange checks the property that scans rely on, over every string of up to three code
// points from a set that straddles the boundaries of UTF-8's encodings: k starts with p exactly
// when p <= k < keyEnd(p) (or p <= k, without a bound); the bound is valid UTF-8; it is
// store.PrefixEnd's when that is valid UTF-8, and above it (or absent) otherwise.
func TestKeyEndRange(t *testing.T) {
	runes := []rune{'a', 'b', 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xfffd, 0xffff, 0x10000, 0x10ffff}
	strs, level := []string{""}, []string{""}
	for range 3 {
		var next []string
		for _, s := range level {
			for _, r := range runes {
				next = append(next, s+string(r))
			}
		}
		strs, level = append(strs, next...), next
	}
	for _, p := range strs {
		end, bounded := keyEnd(p)
		if bounded && !utf8.ValidString(end) {
			t.Fatalf("keyEnd(%q) = %q, not valid UTF-8", p, end)
		}
		pe, ok := store.PrefixEnd(p)
		if bounded && (!ok || end < pe || end > pe && utf8.ValidString(pe)) || !bounded && ok && utf8.ValidString(pe) {
			t.Fatalf("keyEnd(%q) = %q, %v; store.PrefixEnd = %q, %v", p, end, bounded, pe, ok)
		}
		for _, k := range strs {
			in := p <= k && (!bounded || k < end)
			if in != strings.HasPrefix(k, p) {
				t.Fatalf("prefix %q, key %q: in [%q, %q) = %v, HasPrefix = %v", p, k, p, end, in, !in)
			}
		}
	}
}
