package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Mutant is one planted bug: an exact snippet of one file and what replaces it, and the tests
// that should catch it.
type Mutant struct {
	// Name identifies the mutant (-only takes it).
	Name string
	// File is the path of the file to change, relative to the module root.
	File string
	// Original must occur exactly once in File; Replacement takes its place.
	Original, Replacement string
	// Description says in one line what slip the mutant stands for.
	Description string
	// Packages are the packages whose tests should catch it (./batch, ./service, ...): the
	// package File is in, or ./service, whose systematic tests run the whole service.
	Packages []string
	// Run is the -run pattern that selects the tests expected to catch it.
	Run string
	// Env adds environment variables to the test run (a larger SYSTEST_ITERATIONS, say).
	Env []string
}

// Status is what came of running a mutant.
type Status string

// The statuses of a result.
const (
	Caught Status = "caught" // a selected test failed
	Missed Status = "MISSED" // every selected test passed
	Broken Status = "BROKEN" // the mutant could not be applied or did not build: a harness error
)

// Result is the outcome of one mutant.
type Result struct {
	Mutant   Mutant
	Status   Status
	By       []string // the tests that failed, as "package.TestName"
	Detail   string   // why Broken, or a timed-out test run
	Duration time.Duration
	Output   string // go test's output
}

// apply returns src with m.Original replaced by m.Replacement. It fails unless the original
// occurs exactly once, so that the list stays true as the code changes.
func apply(src string, m Mutant) (string, error) {
	if m.Original == "" {
		return "", fmt.Errorf("mutant %s: empty original snippet", m.Name)
	}
	if m.Original == m.Replacement {
		return "", fmt.Errorf("mutant %s: the replacement is the original", m.Name)
	}
	switch n := strings.Count(src, m.Original); n {
	case 1:
		return strings.Replace(src, m.Original, m.Replacement, 1), nil
	case 0:
		return "", fmt.Errorf("mutant %s: the original snippet does not occur in %s", m.Name, m.File)
	default:
		return "", fmt.Errorf("mutant %s: the original snippet occurs %d times in %s, not once", m.Name, n, m.File)
	}
}

var (
	failLine    = regexp.MustCompile(`^\s*--- FAIL: (\S+)`)
	pkgFailLine = regexp.MustCompile(`^FAIL\s+(\S+)(\s+\[(build|setup) failed\])?`)
	okLine      = regexp.MustCompile(`^ok\s+(\S+)`)
	runningTest = regexp.MustCompile(`^\s+(Test\S*) \(`)
)

// testReport is what parseTestOutput reads from `go test -v`-less output.
type testReport struct {
	Failed      []string // "package.TestName", in the order reported; subtests included
	BuildFailed []string // packages that did not build
	TimedOut    bool     // a test binary hit -timeout (its running tests are in Failed)
}

// parseTestOutput reads go test's output: the tests that failed (by --- FAIL lines, or, for a
// test binary that panicked on its timeout, the tests it lists as running), and the packages
// that did not build.
func parseTestOutput(out string) testReport {
	var rep testReport
	var pending []string // failed tests whose package is not known yet
	inRunning := false
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "panic: test timed out after") {
			rep.TimedOut = true
		}
		if strings.TrimSpace(line) == "running tests:" {
			inRunning = true
			continue
		}
		if inRunning {
			if m := runningTest.FindStringSubmatch(line); m != nil {
				if !slices.Contains(pending, m[1]) {
					pending = append(pending, m[1])
				}
				continue
			}
			inRunning = false
		}
		if m := failLine.FindStringSubmatch(line); m != nil {
			if !slices.Contains(pending, m[1]) {
				pending = append(pending, m[1])
			}
			continue
		}
		if m := pkgFailLine.FindStringSubmatch(line); m != nil {
			if m[2] != "" {
				rep.BuildFailed = append(rep.BuildFailed, m[1])
				pending = nil
				continue
			}
			for _, t := range pending {
				rep.Failed = append(rep.Failed, m[1]+"."+t)
			}
			pending = nil
			continue
		}
		if okLine.MatchString(line) {
			pending = nil
		}
	}
	for _, t := range pending { // a package line never came (the run was cut short)
		rep.Failed = append(rep.Failed, t)
	}
	return rep
}

// topLevel keeps the tests of a report that are not subtests of another failed test.
func topLevel(tests []string) []string {
	var out []string
	for _, t := range tests {
		parent := false
		for _, u := range tests {
			if strings.HasPrefix(t, u+"/") {
				parent = true
				break
			}
		}
		if !parent {
			out = append(out, t)
		}
	}
	return out
}

// classify turns a test run's output and error into a result's status.
func classify(out string, runErr error, ctxErr error) (Status, []string, string) {
	rep := parseTestOutput(out)
	switch {
	case ctxErr != nil:
		return Broken, nil, "the test run took longer than the harness's -timeout"
	case len(rep.BuildFailed) > 0:
		return Broken, nil, "does not build: " + strings.Join(rep.BuildFailed, ", ")
	case len(rep.Failed) > 0:
		detail := ""
		if rep.TimedOut {
			detail = "a test timed out"
		}
		return Caught, topLevel(rep.Failed), detail
	case runErr != nil:
		var ee *exec.ExitError
		if errors.As(runErr, &ee) {
			return Broken, nil, "go test failed without a failing test: " + lastLines(out, 5)
		}
		return Broken, nil, "go test did not run: " + runErr.Error()
	}
	return Missed, nil, ""
}

// lastLines returns the last n lines of s, on one line.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// moduleRoot finds the directory of the go.mod above dir.
func moduleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("module root: no go.mod above the current directory")
		}
		dir = parent
	}
}

// sourceFiles lists the files of the module that a scratch copy needs: in a git work tree, the
// files git tracks and the untracked ones it does not ignore, as they are in the work tree (so
// that changes not committed yet are tested); elsewhere, every file but .git.
func sourceFiles(root string) ([]string, error) {
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err == nil {
		var files []string
		for _, f := range strings.Split(string(out), "\x00") {
			if f == "" || slices.Contains(files, f) {
				continue
			}
			if _, err := os.Lstat(filepath.Join(root, f)); err != nil {
				continue // deleted in the work tree, not yet in the index
			}
			files = append(files, f)
		}
		return files, nil
	}
	var files []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(root, path)
			if err != nil {
				return err
			}
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list source files: %w", err)
	}
	return files, nil
}

// copyTree copies files (relative to root) into dst, keeping their modes.
func copyTree(root, dst string, files []string) error {
	for _, f := range files {
		if err := copyFile(filepath.Join(root, f), filepath.Join(dst, f)); err != nil {
			return fmt.Errorf("copy %s: %w", f, err)
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// runner runs mutants one at a time in a scratch copy of the module.
type runner struct {
	scratch string        // the copy's root
	timeout time.Duration // per mutant, for the whole go test run
	env     []string      // added to every run (budgets)
	log     io.Writer     // progress, and go test's output with -v
	verbose bool
}

// run applies m to the scratch copy, runs its tests, and puts the file back.
func (r *runner) run(m Mutant) (res Result) {
	res.Mutant = m
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	path := filepath.Join(r.scratch, filepath.FromSlash(m.File))
	orig, err := os.ReadFile(path)
	if err != nil {
		res.Status, res.Detail = Broken, err.Error()
		return res
	}
	mutated, err := apply(string(orig), m)
	if err != nil {
		res.Status, res.Detail = Broken, err.Error()
		return res
	}
	if err := os.WriteFile(path, []byte(mutated), 0o644); err != nil {
		res.Status, res.Detail = Broken, err.Error()
		return res
	}
	defer func() {
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			panic(fmt.Sprintf("mutants: restoring %s in the scratch copy: %v", m.File, err))
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), r.timeout)
	defer cancel()
	args := append([]string{"test", "-count=1", "-p", "1", "-timeout", r.timeout.String(), "-run", m.Run}, m.Packages...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = r.scratch
	cmd.Env = append(append(append(os.Environ(), "SYSTEST_TRACEDIR="+filepath.Join(r.scratch, ".traces")), r.env...), m.Env...)
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	if r.verbose {
		cmd.Stdout = io.MultiWriter(&out, r.log)
	} else {
		cmd.Stdout = &out
	}
	cmd.Stderr = cmd.Stdout
	err = cmd.Run()
	res.Output = out.String()
	res.Status, res.By, res.Detail = classify(res.Output, err, ctx.Err())
	return res
}

// writeResult writes one line about a result: status, mutant, time, and the tests that caught it
// or why it is broken.
func writeResult(w io.Writer, r Result) {
	by := strings.Join(r.By, ", ")
	if len(r.Mutant.Env) > 0 {
		by = strings.TrimPrefix(by+" ("+strings.Join(r.Mutant.Env, " ")+")", " ")
	}
	if r.Detail != "" {
		by = strings.TrimPrefix(by+"; "+r.Detail, "; ")
	}
	fmt.Fprintf(w, "%-7s %-38s %6.1fs  %s\n", r.Status, r.Mutant.Name, r.Duration.Seconds(), by)
}

// report writes one line per result and the score; it returns the number missed and broken.
func report(w io.Writer, results []Result) (missed, broken int) {
	caught := 0
	for _, r := range results {
		writeResult(w, r)
		switch r.Status {
		case Caught:
			caught++
		case Missed:
			missed++
		default:
			broken++
		}
	}
	fmt.Fprintf(w, "score: %d of %d caught, %d missed, %d broken\n", caught, len(results), missed, broken)
	return missed, broken
}
