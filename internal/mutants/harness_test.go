package main

import (
	"errors"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestApply(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		m       Mutant
		want    string
		wantErr string
	}{
		{"once", "a < b; c", Mutant{Name: "m", Original: "a < b", Replacement: "a <= b"}, "a <= b; c", ""},
		{"multi-line", "x\n\tif y {\n\t}\n", Mutant{Name: "m", Original: "\tif y {\n\t}\n", Replacement: ""}, "x\n", ""},
		{"absent", "a < b", Mutant{Name: "m", File: "f.go", Original: "a > b", Replacement: "a"}, "", "does not occur in f.go"},
		{"twice", "a < b; a < b", Mutant{Name: "m", File: "f.go", Original: "a < b", Replacement: "a"}, "", "occurs 2 times in f.go"},
		{"empty original", "a", Mutant{Name: "m", Replacement: "b"}, "", "empty original"},
		{"no change", "a", Mutant{Name: "m", Original: "a", Replacement: "a"}, "", "replacement is the original"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := apply(tt.src, tt.m)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("apply = %q, %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("apply = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestParseTestOutput(t *testing.T) {
	tests := []struct {
		name     string
		out      string
		failed   []string
		build    []string
		timedOut bool
	}{
		{"all pass", "ok  \tcorral/batch\t0.1s\nok  \tcorral/service\t3.0s\n", nil, nil, false},
		{"one fails", "--- FAIL: TestGraphRanges (0.00s)\n    graph_test.go:10: boom\nFAIL\nFAIL\tcorral/batch\t0.2s\nok  \tcorral/service\t1s\nFAIL\n",
			[]string{"corral/batch.TestGraphRanges"}, nil, false},
		{"subtests", "--- FAIL: TestApply (0.00s)\n    --- FAIL: TestApply/once (0.00s)\nFAIL\nFAIL\tcorral/x\t0.1s\n",
			[]string{"corral/x.TestApply", "corral/x.TestApply/once"}, nil, false},
		{"two packages", "--- FAIL: TestA (1s)\nFAIL\nFAIL\tcorral/a\t1s\n--- FAIL: TestB (1s)\nFAIL\nFAIL\tcorral/b\t1s\n",
			[]string{"corral/a.TestA", "corral/b.TestB"}, nil, false},
		{"build failed", "# corral/service\nservice/job.go:3:1: syntax error\nFAIL\tcorral/service [build failed]\nFAIL\n", nil, []string{"corral/service"}, false},
		{"setup failed", "FAIL\tcorral/service [setup failed]\n", nil, []string{"corral/service"}, false},
		{"timeout", "panic: test timed out after 1m0s\n\trunning tests:\n\t\tTestServiceRunsDAG (1m0s)\n\ngoroutine 1 [running]:\nFAIL\tcorral/service\t60.1s\n",
			[]string{"corral/service.TestServiceRunsDAG"}, nil, true},
		{"cut short", "--- FAIL: TestX (0.1s)\n", []string{"TestX"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := parseTestOutput(tt.out)
			if !slices.Equal(rep.Failed, tt.failed) || !slices.Equal(rep.BuildFailed, tt.build) || rep.TimedOut != tt.timedOut {
				t.Fatalf("parse = %+v; want failed %q, build failed %q, timed out %v", rep, tt.failed, tt.build, tt.timedOut)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	exitErr := exec.Command("false").Run()
	var ee *exec.ExitError
	if !errors.As(exitErr, &ee) {
		t.Skip("no false(1) to make an exit error with")
	}
	tests := []struct {
		name   string
		out    string
		runErr error
		ctxErr error
		want   Status
		by     []string
	}{
		{"pass", "ok  \tcorral/batch\t0.1s\n", nil, nil, Missed, nil},
		{"fail", "--- FAIL: TestA (0s)\n    --- FAIL: TestA/x (0s)\nFAIL\nFAIL\tcorral/a\t0.1s\n", exitErr, nil, Caught, []string{"corral/a.TestA"}},
		{"build", "FAIL\tcorral/a [build failed]\n", exitErr, nil, Broken, nil},
		{"vet or other", "# corral/a\nvet: something\nFAIL\n", exitErr, nil, Broken, nil},
		{"harness timeout", "", exitErr, errors.New("deadline"), Broken, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, by, detail := classify(tt.out, tt.runErr, tt.ctxErr)
			if got != tt.want || !slices.Equal(by, tt.by) {
				t.Fatalf("classify = %s %q (%s); want %s %q", got, by, detail, tt.want, tt.by)
			}
		})
	}
}

func TestSelectMutants(t *testing.T) {
	all := []Mutant{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	got, err := selectMutants(all, "c, a")
	if err != nil || len(got) != 2 || got[0].Name != "a" || got[1].Name != "c" {
		t.Fatalf("selectMutants = %+v, %v", got, err)
	}
	if _, err := selectMutants(all, "a,nope"); err == nil {
		t.Fatal("an unknown name was accepted")
	}
	if got, _ := selectMutants(all, ""); len(got) != 3 {
		t.Fatalf("no selection gave %d mutants", len(got))
	}
}

// TestList checks the mutant list against the code: every snippet occurs exactly once in its
// file, and every mutant is expected to be caught by tests of its own package or by the
// service's systematic tests, with a pattern that compiles.
func TestList(t *testing.T) {
	root, err := moduleRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	if len(Mutants) < 20 {
		t.Errorf("%d mutants, want at least 20", len(Mutants))
	}
	names := map[string]bool{}
	for _, m := range Mutants {
		if names[m.Name] || m.Name == "" || strings.ContainsAny(m.Name, " ,") {
			t.Errorf("mutant name %q is empty, repeated, or has a space or comma", m.Name)
		}
		names[m.Name] = true
		if m.Description == "" || strings.Contains(m.Description, "\n") {
			t.Errorf("mutant %s: the description must be one line", m.Name)
		}
		src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(m.File)))
		if err != nil {
			t.Errorf("mutant %s: %v", m.Name, err)
			continue
		}
		if _, err := apply(string(src), m); err != nil {
			t.Error(err)
		}
		if _, err := regexp.Compile(m.Run); err != nil || m.Run == "" {
			t.Errorf("mutant %s: run pattern %q: %v", m.Name, m.Run, err)
		}
		own := "./" + path.Dir(m.File)
		if len(m.Packages) == 0 {
			t.Errorf("mutant %s: no packages", m.Name)
		}
		for _, p := range m.Packages {
			if p != own && p != "./service" {
				t.Errorf("mutant %s in %s: package %s is neither its own nor ./service", m.Name, m.File, p)
			}
		}
	}
}

// The scratch copy holds the files listed, with their contents and modes, in their directories.
func TestCopyTree(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	files := map[string]os.FileMode{"go.mod": 0o644, "a/b/c.go": 0o644, "run.sh": 0o755}
	for f, mode := range files {
		p := filepath.Join(src, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("content of "+f), mode); err != nil {
			t.Fatal(err)
		}
	}
	var names []string
	for f := range files {
		names = append(names, f)
	}
	if err := copyTree(src, dst, names); err != nil {
		t.Fatal(err)
	}
	for f, mode := range files {
		p := filepath.Join(dst, filepath.FromSlash(f))
		b, err := os.ReadFile(p)
		if err != nil || string(b) != "content of "+f {
			t.Errorf("%s: %q, %v", f, b, err)
			continue
		}
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", f, fi.Mode().Perm(), mode)
		}
	}
	if root, err := moduleRoot(filepath.Join(dst, "a", "b")); err != nil || root != dst {
		t.Errorf("moduleRoot = %q, %v; want %q", root, err, dst)
	}
}
