package autoscale

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the -- want -- sections of testdata/golden/*.txt")

// TestGolden runs the formulas of testdata/golden. Each file has sections:
//
//	# comment lines: where the formula comes from
//	-- formula --   the formula, verbatim
//	-- env --       the Env, one directive a line (see parseEnv)
//	-- azure --     optional: the autoScaleRun.results Azure Batch printed for this formula
//	                and env, which Results must equal exactly
//	-- azure-part --  optional: lines that Results must contain (from the doc's partial output)
//	-- want --      the outcome, written by go test -update and checked by review
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/golden/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			head, sections, order := splitSections(string(data))
			formula, ok := sections["formula"]
			if !ok {
				t.Fatal("no -- formula -- section")
			}
			env, err := parseEnv(sections["env"])
			if err != nil {
				t.Fatal(err)
			}
			got, res := run(formula, env)
			if want, ok := sections["azure"]; ok {
				if res == nil || res.Results != strings.TrimSpace(want) {
					t.Errorf("Results differ from Azure's:\n got %s\nwant %s", resultsOf(res), strings.TrimSpace(want))
				}
			}
			if part, ok := sections["azure-part"]; ok {
				for _, line := range strings.Split(strings.TrimSpace(part), "\n") {
					if res == nil || !strings.Contains(res.Results, strings.TrimSpace(line)) {
						t.Errorf("Results lack %q:\n%s", line, resultsOf(res))
					}
				}
			}
			if *update {
				sections["want"] = got
				if !contains(order, "want") {
					order = append(order, "want")
				}
				if err := os.WriteFile(file, []byte(joinSections(head, sections, order)), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if want := sections["want"]; got != want {
				t.Errorf("outcome differs (check it, then go test -update):\n--- got\n%s--- want\n%s", got, want)
			}
		})
	}
}

func resultsOf(r *Result) string {
	if r == nil {
		return "<no result>"
	}
	return r.Results
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// run parses and evaluates and writes the outcome as the -- want -- section.
func run(src string, env Env) (string, *Result) {
	var b strings.Builder
	f, err := Parse(src)
	if err != nil {
		fmt.Fprintf(&b, "parse error: %s\n", describeErr(err))
		return b.String(), nil
	}
	res, err := f.Evaluate(env)
	if err != nil {
		fmt.Fprintf(&b, "error: %s\n", describeErr(err))
	}
	if res != nil {
		fmt.Fprintf(&b, "dedicated: %d\n", res.TargetDedicatedNodes)
		fmt.Fprintf(&b, "lowpriority: %d\n", res.TargetLowPriorityNodes)
		fmt.Fprintf(&b, "deallocation: %s\n", res.NodeDeallocationOption)
		fmt.Fprintf(&b, "stopped: %v\n", res.Stopped)
		fmt.Fprintf(&b, "results: %s\n", res.Results)
		for _, w := range res.Warnings {
			fmt.Fprintf(&b, "warning: %s\n", w)
		}
	}
	return b.String(), res
}

func describeErr(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code + " " + e.Error()
	}
	return "(not an *Error) " + err.Error()
}

// splitSections splits a file into its head (before the first section) and "-- name --" sections.
func splitSections(s string) (head string, sections map[string]string, order []string) {
	sections = map[string]string{}
	name := ""
	var cur strings.Builder
	flush := func() {
		if name == "" {
			head = cur.String()
		} else {
			sections[name] = cur.String()
			order = append(order, name)
		}
		cur.Reset()
	}
	for _, line := range strings.SplitAfter(s, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "-- ") && strings.HasSuffix(trimmed, " --") && len(trimmed) > 6 {
			flush()
			name = strings.TrimSpace(trimmed[3 : len(trimmed)-3])
			continue
		}
		cur.WriteString(line)
	}
	flush()
	return head, sections, order
}

func joinSections(head string, sections map[string]string, order []string) string {
	var b strings.Builder
	b.WriteString(head)
	for _, name := range order {
		fmt.Fprintf(&b, "-- %s --\n", name)
		body := sections[name]
		b.WriteString(body)
		if body != "" && !strings.HasSuffix(body, "\n") {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// parseEnv reads the -- env -- section:
//
//	now 2016-10-14T18:36:43.282Z
//	target-dedicated 2            (also target-low-priority, current-dedicated,
//	                               current-low-priority, usable-nodes, task-slots-per-node)
//	sample-period 30s
//	rand 0.25 0.75                (the values rand() returns, in turn)
//	series $PendingTasks 30s now 1 2 _ 3*4
//
// A series lists values a step apart ending at its end time ("now", "now-90s" or an RFC 3339
// time); "_" is a missing sample and "n*v" is v n times.
func parseEnv(s string) (Env, error) {
	var env Env
	for _, line := range strings.Split(s, "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		if len(fields) < 2 {
			return env, fmt.Errorf("env line %q has no value", line)
		}
		atoi := func() (int, error) { return strconv.Atoi(fields[1]) }
		var err error
		switch fields[0] {
		case "now":
			env.Now, err = time.Parse(time.RFC3339Nano, fields[1])
		case "target-dedicated":
			env.TargetDedicatedNodes, err = atoi()
		case "target-low-priority":
			env.TargetLowPriorityNodes, err = atoi()
		case "current-dedicated":
			env.CurrentDedicatedNodes, err = atoi()
		case "current-low-priority":
			env.CurrentLowPriorityNodes, err = atoi()
		case "usable-nodes":
			env.UsableNodeCount, err = atoi()
		case "task-slots-per-node":
			env.TaskSlotsPerNode, err = atoi()
		case "sample-period":
			env.SamplePeriod, err = time.ParseDuration(fields[1])
		case "rand":
			var vals []float64
			for _, f := range fields[1:] {
				v, perr := strconv.ParseFloat(f, 64)
				if perr != nil {
					return env, perr
				}
				vals = append(vals, v)
			}
			i := 0
			env.Rand = func() float64 { v := vals[i%len(vals)]; i++; return v }
		case "series":
			err = parseSeries(&env, fields[1:])
		default:
			err = fmt.Errorf("unknown env directive %q", fields[0])
		}
		if err != nil {
			return env, fmt.Errorf("env line %q: %v", line, err)
		}
	}
	return env, nil
}

func parseSeries(env *Env, f []string) error {
	if len(f) < 3 {
		return fmt.Errorf("want: series $Metric step end values...")
	}
	step, err := time.ParseDuration(f[1])
	if err != nil {
		return err
	}
	var end time.Time
	switch {
	case f[2] == "now":
		end = env.Now
	case strings.HasPrefix(f[2], "now-"):
		d, err := time.ParseDuration(f[2][4:])
		if err != nil {
			return err
		}
		end = env.Now.Add(-d)
	default:
		if end, err = time.Parse(time.RFC3339Nano, f[2]); err != nil {
			return err
		}
	}
	var vals []*float64
	for _, tok := range f[3:] {
		n := 1
		if i := strings.Index(tok, "*"); i > 0 {
			if n, err = strconv.Atoi(tok[:i]); err != nil {
				return err
			}
			tok = tok[i+1:]
		}
		var v *float64
		if tok != "_" {
			x, err := strconv.ParseFloat(tok, 64)
			if err != nil {
				return err
			}
			v = &x
		}
		for range n {
			vals = append(vals, v)
		}
	}
	var samples []Sample
	for i, v := range vals {
		if v != nil {
			samples = append(samples, Sample{end.Add(-time.Duration(len(vals)-1-i) * step), *v})
		}
	}
	if env.Samples == nil {
		env.Samples = map[Metric][]Sample{}
	}
	env.Samples[Metric(f[0])] = samples
	return nil
}
