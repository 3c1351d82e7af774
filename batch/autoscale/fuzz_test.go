package autoscale

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzParseEvaluate checks that no formula makes Parse or Evaluate panic, and that every error is
// an *Error with a position inside the formula. The seeds are the golden formulas and the
// expressions of the unit tests' shapes.
//
//	go test -run XXX -fuzz FuzzParseEvaluate -fuzztime 60s ./batch/autoscale
func FuzzParseEvaluate(f *testing.F) {
	files, _ := filepath.Glob("testdata/golden/*.txt")
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		_, sections, _ := splitSections(string(data))
		f.Add(sections["formula"])
	}
	for _, seed := range []string{
		"x = 1 + 2 * 3 / (4 - 5) ? -6 : !7;",
		`x = time("2016-10-14T18:36:43Z") + TimeInterval_Hour * 2.5; y = x.weekday; z = time() - x`,
		"x = $CPUPercent.GetSample(TimeInterval_Minute * 5, 50) * 2 + $CPUPercent.GetSample(10)",
		"x = percentile($PendingTasks.GetSample(10), 50) + val($PendingTasks.GetSample(3), 1)",
		"x = lg($ActiveTasks.GetSample(5)); y = std(x, 1, 2); z = norm(x) + range(x) + len(x) + sum(x)",
		"$TargetDedicated = rand() * 10; $NodeDeallocationOption = retaineddata; stop(); $TargetDedicatedNodes = 1",
		"x = $CPUPercent.GetSamplePercent(time(\"2024-03-04T09:00:00Z\"), TimeInterval_Zero); y = $CPUPercent.HistoryBeginTime()",
		"// comment\n;;\n$TargetLowPriorityNodes = $CurrentLowPriorityNodes / $TaskSlotsPerNode",
	} {
		f.Add(seed)
	}
	now := time.Date(2024, 3, 4, 10, 0, 0, 0, time.UTC)
	env := Env{
		Now:                  now,
		TargetDedicatedNodes: 3, CurrentDedicatedNodes: 2, TaskSlotsPerNode: 4,
		Samples: map[Metric][]Sample{
			CPUPercent:   makeSeries(40, 30*time.Second, now, 0.5),
			PendingTasks: makeSeries(30, 30*time.Second, now.Add(-time.Minute), 7),
			ActiveTasks:  {{now.Add(time.Hour), 1}, {now.Add(-time.Hour), 2}, {now, 3}},
		},
		Rand: func() float64 { return 0.5 },
	}
	f.Fuzz(func(t *testing.T, src string) {
		form, err := Parse(src)
		if err != nil {
			checkError(t, src, err)
			return
		}
		r, err := form.Evaluate(env)
		if err != nil {
			checkError(t, src, err)
			if r == nil {
				t.Fatalf("evaluation error without a Result: %v", err)
			}
		}
		if r == nil || !strings.HasPrefix(r.Results, "$TargetDedicatedNodes=") {
			t.Fatalf("Result %+v", r)
		}
		if r.TargetDedicatedNodes < 0 || r.TargetLowPriorityNodes < 0 {
			t.Fatalf("negative target: %+v", r)
		}
	})
}

func checkError(t *testing.T, src string, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	lines := strings.Split(src, "\n")
	if e.Line < 1 || e.Line > len(lines) || e.Col < 1 || e.Col > len([]rune(lines[e.Line-1]))+1 {
		t.Fatalf("error %v is outside the formula (%d lines)", err, len(lines))
	}
	if e.Code == "" || e.Msg == "" {
		t.Fatalf("error %+v lacks a code or a message", e)
	}
}
