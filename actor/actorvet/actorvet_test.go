package actorvet_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"corral/actor/actorvet"
)

// TestCheck runs Check on each sample package under testdata and compares the findings, as
// "file.go:line rule", in order.
func TestCheck(t *testing.T) {
	tests := []struct {
		dir  string
		want []string
	}{
		{dir: "clean", want: nil},
		{dir: "gostmt", want: []string{
			"gostmt.go:6 go-statement",
			"gostmt.go:7 go-statement",
		}},
		{dir: "clock", want: []string{
			"clock.go:6 clock", // function value
			"clock.go:9 clock", // Now
			"clock.go:10 clock",
			"clock.go:11 clock",
			"clock.go:12 clock",
			"clock.go:13 channel", // <-time.After(...) is also a receive
			"clock.go:13 clock",
			"clock.go:14 clock",
			"clock.go:15 clock",
			"clock.go:16 clock",
			"clock.go:17 clock",
		}},
		{dir: "random", want: []string{
			"random.go:4 random", // crypto/rand
			"random.go:5 random", // math/rand
			"random.go:6 random", // math/rand/v2
		}},
		{dir: "sync", want: []string{
			"sync.go:4 sync",
			"sync.go:5 sync",
		}},
		{dir: "channel", want: []string{
			"channel.go:4 channel", // send
			"channel.go:5 channel", // receive
			"channel.go:7 channel", // select, covering the operations of its cases
			"channel.go:9 channel", // receive in a case body
		}},
		{dir: "alias", want: []string{
			"alias.go:6 clock",
			"alias.go:7 clock",
			"alias.go:8 clock",
		}},
		{dir: "localtime", want: nil},
		{dir: "dotimport", want: []string{
			"dotimport.go:3 clock",
		}},
		{dir: "allow", want: []string{
			"allow.go:12 clock",
			"allow.go:16 clock",
			"allow.go:17 allow-without-reason",
			"allow.go:18 clock",
			"allow.go:19 go-statement",
			"allow.go:19 allow-without-reason",
			"allow.go:21 clock",
		}},
		{dir: "skiptest", want: nil},
		{dir: "maporder", want: []string{
			"maporder.go:32 map-order", // sends
			"maporder.go:35 map-order", // a helper given the context
			"maporder.go:48 map-order", // returns the first key
			"maporder.go:56 map-order", // the last key wins
			"maporder.go:64 map-order", // appends, never sorts
			"maporder.go:72 map-order", // concatenates strings
			"maporder.go:80 map-order", // keeps the first two, then sorts
			"maporder.go:91 map-order", // a type parameter constrained to maps
			"maporder.go:98 map-order", // the tester's choices
		}},
		{dir: "multifile", want: []string{
			"a.go:6 go-statement",
			"a.go:6 clock",
			"b.go:4 channel",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			findings, err := actorvet.Check(filepath.Join("testdata", tt.dir))
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if got := summarize(findings); !slices.Equal(got, tt.want) {
				t.Errorf("findings:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(tt.want, "\n\t"))
			}
			for _, f := range findings {
				if f.Message == "" {
					t.Errorf("%s: empty message", f)
				}
			}
		})
	}
}

// summarize reduces findings to "file.go:line rule", which is what the table pins down.
func summarize(findings []actorvet.Finding) []string {
	var out []string
	for _, f := range findings {
		out = append(out, fmt.Sprintf("%s:%d %s", filepath.Base(f.Pos.Filename), f.Pos.Line, f.Rule))
	}
	return out
}

// TestCheckPositions pins full positions, including columns, which order findings on one line.
func TestCheckPositions(t *testing.T) {
	findings, err := actorvet.Check(filepath.Join("testdata", "multifile"))
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	var got []string
	for _, f := range findings {
		got = append(got, f.Pos.String())
	}
	want := []string{
		"testdata/multifile/a.go:6:2",
		"testdata/multifile/a.go:6:5",
		"testdata/multifile/b.go:4:2",
	}
	if !slices.Equal(got, want) {
		t.Errorf("positions = %q, want %q", got, want)
	}
}

func TestFindingString(t *testing.T) {
	f := actorvet.Finding{Rule: "go-statement", Message: "go statement: no"}
	f.Pos.Filename, f.Pos.Line, f.Pos.Column = "file.go", 12, 3
	if got, want := f.String(), "file.go:12:3: [go-statement] go statement: no"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestCheckErrors(t *testing.T) {
	tests := []struct {
		name  string
		dir   func(t *testing.T) string
		want  string // substring of the error
		isErr error  // if set, errors.Is must hold
	}{
		{
			name:  "nonexistent dir",
			dir:   func(*testing.T) string { return filepath.Join("testdata", "no-such-dir") },
			want:  "actorvet: read testdata/no-such-dir: ",
			isErr: fs.ErrNotExist,
		},
		{
			name: "file instead of dir",
			dir:  func(*testing.T) string { return filepath.Join("testdata", "clean", "clean.go") },
			want: "actorvet: read testdata/clean/clean.go: ",
		},
		{
			name: "syntax error",
			dir: func(t *testing.T) string {
				// Written at test time: a broken file in testdata would break CI's gofmt check.
				return writeDir(t, map[string]string{"bad.go": "package bad\n\nfunc {\n"})
			},
			want: "actorvet: parse ",
		},
		{
			name: "no Go files",
			dir:  func(t *testing.T) string { return writeDir(t, map[string]string{"README": "hi\n"}) },
			want: "no non-test Go files",
		},
		{
			name: "only test files",
			dir: func(t *testing.T) string {
				return writeDir(t, map[string]string{"x_test.go": "package x\n"})
			},
			want: "no non-test Go files",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			findings, err := actorvet.Check(tt.dir(t))
			if err == nil {
				t.Fatalf("Check succeeded with %v, want an error", findings)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if tt.isErr != nil && !errors.Is(err, tt.isErr) {
				t.Errorf("error %q is not %v", err, tt.isErr)
			}
		})
	}
}

// writeDir creates a temporary directory holding files.
func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// recorder is a testing.TB that records failures instead of failing, so Test itself can be
// tested. Methods it does not override go to the real test.
type recorder struct {
	testing.TB
	errors, fatals []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.fatals = append(r.fatals, fmt.Sprintf(format, args...))
}

func TestTest(t *testing.T) {
	tests := []struct {
		name       string
		dirs       []string
		wantErrors []string
		wantFatals int
	}{
		{name: "clean", dirs: []string{"testdata/clean"}},
		{name: "default is the current package", dirs: nil}, // actorvet itself obeys the rules
		{
			name: "one Errorf per finding",
			dirs: []string{"testdata/clean", "testdata/gostmt"},
			wantErrors: []string{
				"testdata/gostmt/gostmt.go:6:2: [go-statement] go statement: actors must not start goroutines; use ctx.Create or ctx.Send",
				"testdata/gostmt/gostmt.go:7:2: [go-statement] go statement: actors must not start goroutines; use ctx.Create or ctx.Send",
			},
		},
		{name: "Check error is fatal", dirs: []string{"testdata/no-such-dir", "testdata/gostmt"}, wantFatals: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			actorvet.Test(r, tt.dirs...)
			if !slices.Equal(r.errors, tt.wantErrors) {
				t.Errorf("Errorf calls:\n\t%s\nwant:\n\t%s", strings.Join(r.errors, "\n\t"), strings.Join(tt.wantErrors, "\n\t"))
			}
			if len(r.fatals) != tt.wantFatals {
				t.Errorf("Fatalf calls = %q, want %d", r.fatals, tt.wantFatals)
			}
		})
	}
}
