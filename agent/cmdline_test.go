package agent

import (
	"errors"
	"slices"
	"testing"
)

func TestSplitCommandLine(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"   \t\n ", nil},
		{"/bin/true", []string{"/bin/true"}},
		{"  a  b\tc\nd\r\ne\vf\fg  ", []string{"a", "b", "c", "d", "e", "f", "g"}},
		{`/bin/sh -c "echo out; exit 3"`, []string{"/bin/sh", "-c", "echo out; exit 3"}},
		{`/bin/sh -c 'echo $HOME'`, []string{"/bin/sh", "-c", "echo $HOME"}},
		// Quotes group and concatenate with their neighbours.
		{`a"b c"d`, []string{"ab cd"}},
		{`a'b c'd`, []string{"ab cd"}},
		{`"a"'b'c`, []string{"abc"}},
		{`x "" y`, []string{"x", "", "y"}},
		{`x '' y`, []string{"x", "", "y"}},
		{`""`, []string{""}},
		{`'' ''`, []string{"", ""}},
		// Single quotes are entirely literal.
		{`'a\b'`, []string{`a\b`}},
		{`'a\'`, []string{`a\`}},
		{`'a"b'`, []string{`a"b`}},
		{`'  '`, []string{"  "}},
		// Double quotes: \" and \\ are escapes, other backslashes stay.
		{`"a\"b"`, []string{`a"b`}},
		{`"a\\b"`, []string{`a\b`}},
		{`"a\nb"`, []string{`a\nb`}},
		{`"a\'b"`, []string{`a\'b`}},
		{`"a'b"`, []string{`a'b`}},
		{`"\\\""`, []string{`\"`}},
		// Backslash outside quotes escapes anything.
		{`a\ b`, []string{"a b"}},
		{`a\\b`, []string{`a\b`}},
		{`\"a\"`, []string{`"a"`}},
		{`\'a`, []string{`'a`}},
		{`\a`, []string{"a"}},
		{"a\\\nb", []string{"a\nb"}},
		{`\ `, []string{" "}},
		// Nothing else is special.
		{`echo $HOME *.txt # not a comment | cat > f`, []string{"echo", "$HOME", "*.txt", "#", "not", "a", "comment", "|", "cat", ">", "f"}},
		{"naïve 日本", []string{"naïve", "日本"}},
	}
	for _, tt := range tests {
		got, err := SplitCommandLine(tt.in)
		if err != nil {
			t.Errorf("SplitCommandLine(%q): %v", tt.in, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("SplitCommandLine(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSplitCommandLineErrors(t *testing.T) {
	for _, in := range []string{
		`"`,
		`'`,
		`a "b`,
		`a 'b`,
		`"a\"`,
		`'a\'b'`,
		`a\`,
		`"a" \`,
		`'it''s`,
	} {
		got, err := SplitCommandLine(in)
		if err == nil {
			t.Errorf("SplitCommandLine(%q) = %q, want an error", in, got)
			continue
		}
		if !errors.Is(err, ErrCommandLine) {
			t.Errorf("SplitCommandLine(%q) error %v does not wrap ErrCommandLine", in, err)
		}
	}
}

func TestQuoteArg(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abc", "abc"},
		{"/usr/bin/x-y_z.1:2=3@4%5+6,7", "/usr/bin/x-y_z.1:2=3@4%5+6,7"},
		{"", "''"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{`a"b`, `'a"b'`},
		{`a\b`, `'a\b'`},
		{"$HOME", "'$HOME'"},
	}
	for _, tt := range tests {
		if got := QuoteArg(tt.in); got != tt.want {
			t.Errorf("QuoteArg(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestJoinCommandLineRoundTrip(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{""},
		{"", ""},
		{"/bin/sh", "-c", `echo "it's" \ $x`},
		{"a\nb", "\t", "'", `"`, `\`, `'\''`},
		{"\x00", "\xff\xfe"},
	} {
		line := JoinCommandLine(args)
		got, err := SplitCommandLine(line)
		if err != nil {
			t.Errorf("SplitCommandLine(JoinCommandLine(%q) = %q): %v", args, line, err)
			continue
		}
		if !slices.Equal(got, args) {
			t.Errorf("round trip of %q via %q gave %q", args, line, got)
		}
	}
}

// FuzzSplitCommandLine checks that splitting never panics and that a successful split survives
// re-joining with QuoteArg and splitting again.
func FuzzSplitCommandLine(f *testing.F) {
	for _, s := range []string{
		"", "/bin/true", `/bin/sh -c "echo out; echo err >&2; exit 3"`, `a"b c"d`, `'it'\''s'`,
		`"a\"b\\c\d"`, `a\ b\`, `"`, `'`, "\x00 \xff", `"" ''`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		args, err := SplitCommandLine(s)
		if err != nil {
			if !errors.Is(err, ErrCommandLine) {
				t.Fatalf("SplitCommandLine(%q) error %v does not wrap ErrCommandLine", s, err)
			}
			return
		}
		line := JoinCommandLine(args)
		again, err := SplitCommandLine(line)
		if err != nil {
			t.Fatalf("SplitCommandLine(%q) (re-joined from %q): %v", line, s, err)
		}
		if !slices.Equal(args, again) {
			t.Fatalf("SplitCommandLine(%q) = %q, but re-joined %q splits to %q", s, args, line, again)
		}
	})
}
