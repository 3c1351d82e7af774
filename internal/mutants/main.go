// Command mutants measures how strong Corral's tests are: it plants realistic bugs (mutants, in
// list.go) in batch/, service/, agent/ and compute/, one at a time, runs the tests that should
// catch each, and reports which were caught, and by which test, and which were missed.
//
// Usage, from anywhere in the module:
//
//	go run ./internal/mutants                 # every mutant
//	go run ./internal/mutants -list           # the list, without running anything
//	go run ./internal/mutants -only NAME,...  # some of them
//	go run ./internal/mutants -v              # with go test's output
//	go run ./internal/mutants -iterations 1000  # the systematic tests hunt longer
//
// Each mutant is an exact snippet of one file, which must occur in it exactly once (the harness
// fails loudly if it does not, so the list stays true as the code changes), and its
// replacement. The harness copies the module once to a scratch directory: in a git work tree,
// the files git tracks and the untracked files it does not ignore, as they are in the work tree,
// so uncommitted changes are tested too. For each mutant it changes the file in the copy, runs
// `go test -count=1 -p 1 -run PATTERN PACKAGES` there, and puts the file back. A mutant is
// caught when a selected test fails (the report names it), missed when all pass, and broken
// when it cannot be applied, does not build, or the run fails without a failing test: a broken
// mutant is an error of the list, not a catch. The command exits 1 if any mutant is missed or
// broken.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	list := flag.Bool("list", false, "list the mutants and exit")
	only := flag.String("only", "", "run only these mutants (comma-separated names)")
	verbose := flag.Bool("v", false, "print go test's output")
	timeout := flag.Duration("timeout", 15*time.Minute, "time limit of one mutant's test run")
	iterations := flag.Int("iterations", 0, "SYSTEST_ITERATIONS for the systematic tests (0: each test's own budget)")
	keep := flag.Bool("keep", false, "keep the scratch copy and print where it is")
	flag.Parse()
	if err := run(*list, *only, *verbose, *timeout, *iterations, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "mutants:", err)
		if errors.Is(err, errNotAllCaught) {
			os.Exit(1)
		}
		os.Exit(2)
	}
}

func run(list bool, only string, verbose bool, timeout time.Duration, iterations int, keep bool) error {
	ms, err := selectMutants(Mutants, only)
	if err != nil {
		return err
	}
	if list {
		for _, m := range ms {
			env := strings.Join(m.Env, " ")
			if env != "" {
				env += " "
			}
			fmt.Printf("%-38s %s\n%-38s %s: %sgo test -run '%s' %s\n", m.Name, m.Description, "", m.File, env, m.Run, strings.Join(m.Packages, " "))
		}
		return nil
	}
	root, err := moduleRoot(".")
	if err != nil {
		return err
	}
	// Every snippet is checked before anything runs: a stale list fails at once.
	for _, m := range ms {
		src, err := os.ReadFile(root + "/" + m.File)
		if err != nil {
			return fmt.Errorf("mutant %s: %w", m.Name, err)
		}
		if _, err := apply(string(src), m); err != nil {
			return err
		}
	}
	scratch, err := os.MkdirTemp("", "corral-mutants-")
	if err != nil {
		return fmt.Errorf("scratch copy: %w", err)
	}
	if keep {
		fmt.Println("scratch copy:", scratch)
	} else {
		defer os.RemoveAll(scratch)
	}
	files, err := sourceFiles(root)
	if err != nil {
		return err
	}
	if err := copyTree(root, scratch, files); err != nil {
		return err
	}
	r := &runner{scratch: scratch, timeout: timeout, log: os.Stdout, verbose: verbose}
	budget := "each test's own systematic budget"
	if iterations > 0 {
		r.env = append(r.env, fmt.Sprintf("SYSTEST_ITERATIONS=%d", iterations))
		budget = fmt.Sprintf("SYSTEST_ITERATIONS=%d", iterations)
	}
	fmt.Printf("%d mutants, %s, one at a time (go test -count=1 -p 1)\n", len(ms), budget)
	var results []Result
	for _, m := range ms {
		res := r.run(m)
		results = append(results, res)
		writeResult(os.Stdout, res)
	}
	fmt.Println()
	if missed, broken := report(os.Stdout, results); missed > 0 || broken > 0 {
		return errNotAllCaught
	}
	return nil
}

// errNotAllCaught is run's error when a mutant was missed or broken (the report says which).
var errNotAllCaught = errors.New("not every mutant was caught")

// selectMutants returns the mutants named in only (all if empty), in list order.
func selectMutants(all []Mutant, only string) ([]Mutant, error) {
	if only == "" {
		return all, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want[n] = true
		}
	}
	var out []Mutant
	for _, m := range all {
		if want[m.Name] {
			out = append(out, m)
			delete(want, m.Name)
		}
	}
	for n := range want {
		return nil, fmt.Errorf("no mutant named %q (see -list)", n)
	}
	return out, nil
}
