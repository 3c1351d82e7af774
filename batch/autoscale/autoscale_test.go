package autoscale

import (
	"errors"
	goparser "go/parser"
	gotoken "go/token"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2024, 3, 4, 10, 0, 0, 0, time.UTC) // a Monday

// eval parses and evaluates src against env (Now defaults to testNow).
func eval(t *testing.T, src string, env Env) (*Result, error) {
	t.Helper()
	f, err := Parse(src)
	if err != nil {
		return nil, err
	}
	if env.Now.IsZero() {
		env.Now = testNow
	}
	return f.Evaluate(env)
}

// variable returns the printed value of a variable of a successful evaluation.
func variable(t *testing.T, r *Result, name string) string {
	t.Helper()
	for _, v := range r.Variables {
		if v.Name == name {
			return v.Value
		}
	}
	t.Fatalf("no variable %s in %s", name, r.Results)
	return ""
}

// makeSeries makes n samples, step apart, the last at end, all of value v.
func makeSeries(n int, step time.Duration, end time.Time, v float64) []Sample {
	s := make([]Sample, n)
	for i := range s {
		s[i] = Sample{end.Add(-time.Duration(n-1-i) * step), v}
	}
	return s
}

func TestExpressions(t *testing.T) {
	env := Env{
		TargetDedicatedNodes: 6, TargetLowPriorityNodes: 2,
		CurrentDedicatedNodes: 5, CurrentLowPriorityNodes: 3, UsableNodeCount: 7,
		Samples: map[Metric][]Sample{
			// 1, 2, 3, 4 at 90, 60, 30 and 0 seconds ago.
			CPUPercent: {{testNow.Add(-90 * time.Second), 1}, {testNow.Add(-60 * time.Second), 2},
				{testNow.Add(-30 * time.Second), 3}, {testNow, 4}},
		},
	}
	v := "$CPUPercent.GetSample(4)" // [1,2,3,4]
	tests := []struct{ expr, want string }{
		// Arithmetic and precedence (C's).
		{"1 + 2 * 3", "7"},
		{"(1 + 2) * 3", "9"},
		{"10 - 4 - 3", "3"},
		{"12 / 4 / 3", "1"},
		{"-2 * -3", "6"},
		{"- - 2", "2"},
		{"1 / 3", "0.333333"},
		{"2 / 0", "inf"},
		{"-2 / 0", "-inf"},
		{"0 / 0", "nan"},
		{"1e6", "1e+06"},
		{"1234567", "1.23457e+06"},
		{".5 + 1.", "1.5"},
		{"0.1 + 0.2", "0.3"},
		// Comparison and logic give 1 or 0.
		{"3 > 2", "1"},
		{"3 < 2", "0"},
		{"2 <= 2 && 2 >= 2", "1"},
		{"2 == 2", "1"},
		{"2 != 2", "0"},
		{"1 < 2 == 1", "1"},
		{"0 || 5", "1"},
		{"0 && 5", "0"},
		{"!0", "1"},
		{"!7", "0"},
		{"1 + 2 > 2 ? 10 : 20", "10"},
		{"0 ? 1 : 0 ? 2 : 3", "3"},
		{"1 ? 0 ? 5 : 6 : 7", "6"},
		{`"abc" < "abd"`, "1"},
		{`"abc" == "abc"`, "1"},
		{`"b" > "a"`, "1"},
		// Short-circuit: the right side is not evaluated.
		{"0 && undefinedVar", "0"},
		{"1 || undefinedVar", "1"},
		{"1 ? 2 : undefinedVar", "2"},
		// System variables, case-insensitive, and aliases.
		{"$TargetDedicatedNodes", "6"},
		{"$targetdedicatednodes", "6"},
		{"$TargetDedicated", "6"},
		{"$TargetLowPriorityNodes + $TargetLowPriority", "4"},
		{"$CurrentDedicatedNodes", "5"},
		{"$CurrentDedicated", "5"},
		{"$CurrentLowPriorityNodes", "3"},
		{"$UsableNodeCount", "7"},
		{"$TaskSlotsPerNode", "1"},
		{"$NodeDeallocationOption", "requeue"},
		{"taskcompletion", "taskcompletion"},
		{"RetainedData", "retaineddata"},
		// Vectors: element-wise with a double (either side) or a vector of the same length.
		{v, "[1,2,3,4]"},
		{v + " * 2", "[2,4,6,8]"},
		{v + " - 1", "[0,1,2,3]"},
		{"10 - " + v, "[9,8,7,6]"},
		{v + " + " + v, "[2,4,6,8]"},
		{v + " / " + v, "[1,1,1,1]"},
		// Functions over doubleVecLists, flattened.
		{"avg(" + v + ")", "2.5"},
		{"avg(" + v + ", 7)", "3.4"},
		{"sum(" + v + ", 10)", "20"},
		{"len(" + v + ", 10, " + v + ")", "9"},
		{"min(" + v + ", 0.5)", "0.5"},
		{"max(3, " + v + ")", "4"},
		{"max(1, 0 / 0)", "nan"},
		{"range(" + v + ")", "3"},
		{"norm(3, 4)", "5"},
		{"std(" + v + ")", "1.29099"},
		{"std(5)", "0"},
		{"percentile(" + v + ", 50)", "2"},
		{"percentile(" + v + ", 75)", "3"},
		{"percentile(" + v + ", 100)", "4"},
		{"percentile(" + v + ", 0)", "1"},
		{"percentile(9, 30)", "9"},
		{"percentile(" + v + " / 0, 50)", "inf"},
		{"percentile(" + v + " - 1, 50)", "1"},
		{"val(" + v + ", 0)", "1"},
		{"val(" + v + ", 3)", "4"},
		{"val(" + v + ", 2.9)", "3"},
		{"lg(8)", "3"},
		{"ln(1)", "0"},
		{"log(1000)", "3"},
		{"log(" + v + " * 10)", "[1,1.30103,1.47712,1.60206]"},
		{"lg(2, 4)", "[1,2]"},
		{"LOG(100)", "2"},
		// Timestamps and time intervals.
		{"time()", "2024-03-04T10:00:00.000Z"},
		{`time("")`, "2024-03-04T10:00:00.000Z"},
		{`time("2016-10-14T18:36:43.282Z")`, "2016-10-14T18:36:43.282Z"},
		{`time("2016-10-14T18:36:43+02:00")`, "2016-10-14T16:36:43.000Z"},
		{`time("2016-10-14")`, "2016-10-14T00:00:00.000Z"},
		{`time("Fri, 14 Oct 2016 18:36:43 GMT")`, "2016-10-14T18:36:43.000Z"},
		{"time().year", "2024"},
		{"time().month", "3"},
		{"time().day", "4"},
		{"time().weekday", "1"},
		{`time("2024-03-03T00:00:00Z").weekday`, "0"},
		{"time().hour", "10"},
		{"time().minute + time().second", "0"},
		{"time().HOUR", "10"},
		{`(time() + TimeInterval_Day).weekday`, "2"},
		{"time() + (-6 * TimeInterval_Hour)", "2024-03-04T04:00:00.000Z"},
		{"TimeInterval_Hour + time()", "2024-03-04T11:00:00.000Z"},
		{`time() - time("2024-03-04T09:30:00Z")`, "PT30M"},
		{`time() > time("2024-03-04T09:30:00Z")`, "1"},
		{"TimeInterval_Minute * 5", "PT5M"},
		{"5 * TimeInterval_Minute", "PT5M"},
		{"TimeInterval_Hour / 4", "PT15M"},
		{"TimeInterval_Day + TimeInterval_Hour", "P1DT1H"},
		{"TimeInterval_Second - TimeInterval_Minute", "-PT59S"},
		{"-TimeInterval_Week", "-P7D"},
		{"TimeInterval_Year", "P365D"},
		{"TimeInterval_Millisecond * 1.5", "PT0.0015S"},
		{"TimeInterval_100ns * 3", "PT0.0000003S"},
		{"TimeInterval_Microsecond", "PT0.000001S"},
		{"TimeInterval_Zero", "PT0S"},
		{"TimeInterval_Minute < TimeInterval_Hour", "1"},
		{"timeinterval_minute == TimeInterval_Second * 60", "1"},
		// Comments and white space.
		{"1 + // a comment\n 2", "3"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			r, err := eval(t, "x = "+tc.expr+";", env)
			if err != nil {
				t.Fatal(err)
			}
			if got := variable(t, r, "x"); got != tc.want {
				t.Errorf("x = %s: got %s, want %s", tc.expr, got, tc.want)
			}
		})
	}
}

func TestRand(t *testing.T) {
	vals := []float64{0.25, 0.75}
	i := 0
	env := Env{Rand: func() float64 { v := vals[i]; i++; return v }}
	r, err := eval(t, "a = rand(); b = rand(); $TargetDedicatedNodes = (a + b) * 10", env)
	if err != nil {
		t.Fatal(err)
	}
	if r.TargetDedicatedNodes != 10 || variable(t, r, "a") != "0.25" || variable(t, r, "b") != "0.75" {
		t.Errorf("got %s", r.Results)
	}
}

func TestStatements(t *testing.T) {
	tests := []struct {
		name, src string
		want      string // Results
	}{
		{"empty", "", "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue"},
		{"only comments", "// nothing\n;;\n// more", "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue"},
		{"trailing semicolons", "a = 1;;;", "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;a=1"},
		{"reassignment", "a = 1; a = a + 1; a = a * 10", "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;a=20"},
		{"byte order of names", "b = 1; B = 2; $a = 3; a = 4", "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;$a=3;B=2;a=4;b=1"},
		{"dollar is part of a user name", "$x = 1; x = 2", "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;$x=1;x=2"},
		{"user names are case-sensitive", "abc = 1; ABC = 2", "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;ABC=2;abc=1"},
		{"a function's name as a variable", "max = 3; y = max(max, 4)", "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;max=3;y=4"},
		{"expression statement", "1 + 1; $TargetDedicatedNodes = 2", "$TargetDedicatedNodes=2;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue"},
		{"deallocation from a string", `$NodeDeallocationOption = "Terminate"`, "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=terminate"},
		{"deallocation bare word", "$nodedeallocationoption = RETAINEDDATA", "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=retaineddata"},
		{"stop first", "stop(); $TargetDedicatedNodes = 3", "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue"},
		{"stop in an assignment", "a = 1; b = 0 ? 1 : stop(); c = 3", "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;a=1"},
		{"stop not reached", "a = 1 ? 1 : stop(); c = 3", "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;a=1;c=3"},
		{"string variable", `s = "hello"`, "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;s=hello"},
		{"escaped quote", `s = "say \"hi\" \\ bye"`, `$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;s=say "hi" \ bye`},
		{"CRLF and tabs", "a = 1;\r\n\tb = 2;\r\n", "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;a=1;b=2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := eval(t, tc.src, Env{})
			if err != nil {
				t.Fatal(err)
			}
			if r.Results != tc.want {
				t.Errorf("got  %s\nwant %s", r.Results, tc.want)
			}
		})
	}
}

func TestTargets(t *testing.T) {
	tests := []struct {
		name               string
		src                string
		env                Env
		dedicated, lowPrio int
		results, warning   string
		stopped            bool
	}{
		{name: "not assigned: kept", src: "a = 1", env: Env{TargetDedicatedNodes: 4, TargetLowPriorityNodes: 2},
			dedicated: 4, lowPrio: 2, results: "$TargetDedicatedNodes=4;$TargetLowPriorityNodes=2;"},
		{name: "truncated, not rounded", src: "$TargetDedicatedNodes = 2.9; $TargetLowPriorityNodes = 0.99",
			dedicated: 2, lowPrio: 0, results: "$TargetDedicatedNodes=2.9;$TargetLowPriorityNodes=0.99;"},
		{name: "negative is 0", src: "$TargetDedicatedNodes = -3", dedicated: 0,
			results: "$TargetDedicatedNodes=-3;", warning: "$TargetDedicatedNodes is negative (-3); the target is 0"},
		{name: "infinite is capped", src: "$TargetDedicatedNodes = 1 / 0", dedicated: math.MaxInt32,
			results: "$TargetDedicatedNodes=inf;", warning: "$TargetDedicatedNodes is inf; the target is 2147483647"},
		{name: "alias", src: "$TargetDedicated = 7; $TargetLowPriority = 3", dedicated: 7, lowPrio: 3,
			results: "$TargetDedicatedNodes=7;$TargetLowPriorityNodes=3;"},
		{name: "full name wins whatever the order", src: "$TargetDedicatedNodes = 5; $TargetDedicated = 7; x = $TargetDedicated",
			dedicated: 5, results: "$TargetDedicatedNodes=5;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;x=5",
			warning: "both $TargetDedicatedNodes and its alias $TargetDedicated are assigned; $TargetDedicated is ignored"},
		{name: "read after assignment", src: "$TargetDedicatedNodes = 5; x = $TargetDedicatedNodes * 2", dedicated: 5,
			results: "$TargetDedicatedNodes=5;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;x=10"},
		{name: "read before assignment is the current target", src: "$TargetDedicatedNodes = $TargetDedicatedNodes + 1",
			env: Env{TargetDedicatedNodes: 3}, dedicated: 4, results: "$TargetDedicatedNodes=4;"},
		{name: "task slots", src: "$TargetDedicatedNodes = 16 / $TaskSlotsPerNode", env: Env{TaskSlotsPerNode: 4}, dedicated: 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := eval(t, tc.src, tc.env)
			if err != nil {
				t.Fatal(err)
			}
			if r.TargetDedicatedNodes != tc.dedicated || r.TargetLowPriorityNodes != tc.lowPrio {
				t.Errorf("targets %d, %d; want %d, %d", r.TargetDedicatedNodes, r.TargetLowPriorityNodes, tc.dedicated, tc.lowPrio)
			}
			if !strings.HasPrefix(r.Results, tc.results) {
				t.Errorf("Results %s; want prefix %s", r.Results, tc.results)
			}
			if tc.warning == "" && len(r.Warnings) > 0 || tc.warning != "" && (len(r.Warnings) != 1 || r.Warnings[0] != tc.warning) {
				t.Errorf("warnings %q; want %q", r.Warnings, tc.warning)
			}
		})
	}
}

func TestSamples(t *testing.T) {
	// Every 30 seconds for the last 10 minutes, value = minutes ago * 2 (20 at 10 minutes ago down
	// to 0 now); then one sample recorded "after" Now, which the formula must not see.
	var cpu []Sample
	for i := 19; i >= 0; i-- {
		cpu = append(cpu, Sample{testNow.Add(-time.Duration(i) * 30 * time.Second), float64(i)})
	}
	cpu = append(cpu, Sample{testNow.Add(time.Minute), 99})
	shuffled := []Sample{cpu[3], cpu[0], cpu[19], cpu[20], cpu[7]}
	env := Env{Samples: map[Metric][]Sample{CPUPercent: cpu, MemoryBytes: shuffled}}
	tests := []struct{ expr, want string }{
		{"$CPUPercent.GetSample(1)", "[0]"},
		{"$CPUPercent.GetSample(3)", "[2,1,0]"},
		{"$CPUPercent.GetSample(2.7)", "[1,0]"},
		{"$CPUPercent.GetSample(0)", "[]"},
		{"len($CPUPercent.GetSample(1000))", "20"},
		{"$CPUPercent.GetSample(TimeInterval_Minute * 2)", "[3,2,1,0]"},
		{"$CPUPercent.GetSample(TimeInterval_Minute * 2, 100)", "[3,2,1,0]"},
		{"$CPUPercent.GetSample(TimeInterval_Minute, TimeInterval_Minute * 2)", "[3,2]"},
		{"$CPUPercent.GetSample(TimeInterval_Minute * 2, TimeInterval_Minute)", "[3,2]"},
		{"$CPUPercent.GetSample(TimeInterval_Minute, TimeInterval_Minute * 2, 100)", "[3,2]"},
		{`$CPUPercent.GetSample(time("2024-03-04T09:59:00Z"))`, "[1,0]"},
		{`$CPUPercent.GetSample(time("2024-03-04T09:58:00Z"), TimeInterval_Minute)`, "[3,2]"},
		{"len($CPUPercent.GetSample(TimeInterval_Minute * 10))", "20"},
		{"$CPUPercent.GetSamplePercent(TimeInterval_Minute * 10)", "100"},
		{"$CPUPercent.GetSamplePercent(TimeInterval_Minute * 20)", "50"},
		{"$CPUPercent.GetSamplePercent(TimeInterval_Minute * 0, TimeInterval_Minute * 10)", "100"},
		{"$CPUPercent.GetSamplePercent(TimeInterval_Second * 10)", "100"},
		{"$CPUPercent.GetSamplePercent(TimeInterval_Zero)", "0"}, // an empty window has no samples
		{"$CPUPercent.Count()", "20"},
		{"$CPUPercent.HistoryBeginTime()", "2024-03-04T09:50:30.000Z"},
		{"$CPUPercent.GetSamplePeriod()", "PT30S"},
		{"$cpupercent.getsample(1)", "[0]"},
		{"$DiskBytes.Count()", "0"},
		{"$DiskBytes.GetSample(5)", "[]"},
		{"$DiskBytes.GetSamplePercent(TimeInterval_Minute)", "0"},
		// An unsorted series is sorted (a copy); samples after Now are dropped.
		{"$MemoryBytes.GetSample(10)", "[19,16,12,0]"},
		{"$MemoryBytes.Count()", "4"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			r, err := eval(t, "x = "+tc.expr, env)
			if err != nil {
				t.Fatal(err)
			}
			if got := variable(t, r, "x"); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
	if shuffled[0] != cpu[3] {
		t.Error("Evaluate changed the caller's series")
	}
	// A sample period other than 30 seconds.
	r, err := eval(t, "x = $CPUPercent.GetSamplePercent(TimeInterval_Minute * 10)",
		Env{SamplePeriod: time.Minute, Samples: map[Metric][]Sample{CPUPercent: makeSeries(5, time.Minute, testNow, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := variable(t, r, "x"); got != "50" {
		t.Errorf("GetSamplePercent with a one-minute period: got %s, want 50", got)
	}
}

// TestDocSampleExample is the example of "Obtain sample data" > GetSample() in Azure's doc: "would
// return 20 samples if all samples for the last 10 minutes are present ... If the last minute of
// history was not available, however, only 18 samples would be returned. In this case
// $CPUPercent.GetSample(TimeInterval_Minute * 10, 95) would fail because only 90 percent of the
// samples are available. $CPUPercent.GetSample(TimeInterval_Minute * 10, 80) would succeed."
func TestDocSampleExample(t *testing.T) {
	full := Env{Samples: map[Metric][]Sample{CPUPercent: makeSeries(20, 30*time.Second, testNow, 50)}}
	r, err := eval(t, "n = len($CPUPercent.GetSample(TimeInterval_Minute * 10))", full)
	if err != nil || variable(t, r, "n") != "20" {
		t.Errorf("full history: %v, %v; want 20 samples", r, err)
	}
	late := Env{Samples: map[Metric][]Sample{CPUPercent: makeSeries(18, 30*time.Second, testNow.Add(-time.Minute), 50)}}
	r, err = eval(t, "n = len($CPUPercent.GetSample(TimeInterval_Minute * 10)); p = $CPUPercent.GetSamplePercent(TimeInterval_Minute * 10)", late)
	if err != nil || variable(t, r, "n") != "18" || variable(t, r, "p") != "90" {
		t.Errorf("last minute missing: %v, %v; want 18 samples, 90 percent", r, err)
	}
	_, err = eval(t, "v = $CPUPercent.GetSample(TimeInterval_Minute * 10, 95)", late)
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeInsufficientSampleData || e.Msg != "Insufficient data from data set: $CPUPercent wanted 95%, received 90%" {
		t.Errorf("GetSample(..., 95): %v; want InsufficientSampleData", err)
	}
	if _, err = eval(t, "v = $CPUPercent.GetSample(TimeInterval_Minute * 10, 80)", late); err != nil {
		t.Errorf("GetSample(..., 80): %v", err)
	}
}

func TestListLimit(t *testing.T) {
	env := Env{Samples: map[Metric][]Sample{CPUPercent: makeSeries(20000, time.Second, testNow, 1)}}
	args := strings.TrimSuffix(strings.Repeat("v,", 60), ",")
	_, err := eval(t, "v = $CPUPercent.GetSample(100000); x = sum("+args+")", env)
	var e *Error
	if !errors.As(err, &e) || !strings.Contains(e.Msg, "more than 1048576 values") {
		t.Errorf("got %v; want the list limit", err)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		src       string
		line, col int
		msg       string
	}{
		{"$TargetDedicatedNodes = foo(1);", 1, 25, `unknown function "foo"`},
		{"a = 1;\nb = 2;\nc = avg(1) + foo(3);", 3, 14, `unknown function "foo"`},
		{"a = 1 +", 1, 8, "expected a value, found end of formula"},
		{"a = (1 + 2", 1, 11, `expected ")" to close "("`},
		{"a = 1 2", 1, 7, `expected ";" or the end of the formula, found number 2`},
		{"a = 5 % 2", 1, 7, `"%" is not an operator`},
		{"a = 2 ^ 3", 1, 7, `"^" is not an operator`},
		{"a = 1 & 2", 1, 7, `did you mean "&&"?`},
		{"a = {1, 2}", 1, 5, "no list literals"},
		{"a = [1, 2]", 1, 5, "no list literals"},
		{"a = 'x'", 1, 5, "double quotes"},
		{"a = \"abc", 1, 5, "string is not terminated"},
		{"a = \"abc\nd\"", 1, 5, "string is not terminated"},
		{"a = 1 @ 2", 1, 7, `unexpected character '@'`},
		{"a = 12abc", 1, 5, "malformed number"},
		{"a = 1e", 1, 5, "malformed number"},
		{"a = $", 1, 5, `"$" must be followed by a variable name`},
		{"a = +1", 1, 5, "unary + is not an operator"},
		{"$CurrentDedicatedNodes = 3", 1, 1, "$CurrentDedicatedNodes is read-only"},
		{"  $pendingtasks = 3", 1, 3, "$PendingTasks is read-only"},
		{"TimeInterval_Minute = 3", 1, 1, "cannot assign to TimeInterval_Minute, a predefined constant"},
		{"requeue = 1", 1, 1, "cannot assign to requeue"},
		{"a = $PendingTasks + 1", 1, 5, "$PendingTasks is a sampled metric, not a value"},
		{"a = max(0, $CPUPercent)", 1, 12, "$CPUPercent is a sampled metric"},
		{"a = $CPUPercent.GetSample", 1, 26, `expected "(" after $CPUPercent.GetSample`},
		{"a = $CPUPercent.Average(1)", 1, 17, `unknown method "Average" of $CPUPercent`},
		{"a = $CPUPercent.GetSample()", 1, 17, "GetSample takes 1 to 3 arguments, not 0"},
		{"a = $CPUPercent.GetSample(1, 2, 3, 4)", 1, 17, "GetSample takes 1 to 3 arguments, not 4"},
		{"a = $CPUPercent.Count(1)", 1, 17, "Count takes 0 arguments, not 1"},
		{"a = $CurrentDedicatedNodes.GetSample(1)", 1, 28, "only sampled metrics such as $CPUPercent have methods"},
		{"a = time().hours", 1, 12, `unknown field "hours"`},
		{"a = avg()", 1, 5, "avg takes at least 1 argument, not 0"},
		{"a = rand(1)", 1, 5, "rand takes 0 arguments, not 1"},
		{"a = time(1, 2)", 1, 5, "time takes 0 to 1 argument"},
		{"a = percentile(1)", 1, 5, "percentile takes 2 arguments, not 1"},
		{"a = $x(1)", 1, 5, "$x is a variable, not a function"},
		{"a = max(1, 2", 1, 13, `expected "," or ")" in the arguments`},
		{"a = 1 ? 2", 1, 10, `expected ":" in a ?: expression`},
		{"a = = 1", 1, 5, `expected a value, found "="`},
		{"a == 1 = 2", 1, 8, `expected ";"`},
		{"a = 1;\n\n   b = ) ;", 3, 8, `expected a value, found ")"`},
		{"a = 1 // comment\n  + ;", 2, 5, "expected a value, found \";\""},
		{"é = 1", 1, 1, `unexpected character 'é'`},
		{"a = \"é\" + é", 1, 11, `unexpected character 'é'`},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			_, err := Parse(tc.src)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse: %v; want an *Error", err)
			}
			if e.Code != CodeSyntaxError || e.Line != tc.line || e.Col != tc.col || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("got %s %v\nwant %s line %d, column %d: …%s…", e.Code, e, CodeSyntaxError, tc.line, tc.col, tc.msg)
			}
		})
	}
}

func TestErrorStrings(t *testing.T) {
	_, err := Parse("a = 1;\nb = 2;\nc = foo(3);")
	if got, want := err.Error(), `line 3, column 5: unknown function "foo"`; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e := err.(*Error)
	if got, want := e.Detail(), `Line 3, Col 5: unknown function "foo"`; got != want {
		t.Errorf("Detail() = %q, want %q", got, want)
	}
	if got, want := e.Summary(), "The specified auto-scaling formula has a syntax error."; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	_, err = eval(t, "a = $CPUPercent.GetSample(TimeInterval_Minute, 10)", Env{})
	e = err.(*Error)
	if got, want := e.Summary(), "Autoscale evaluation failed due to insufficient sample data"; got != want {
		t.Errorf("Summary() = %q, want %q", got, want)
	}
	if got, want := e.Detail(), "Line 1, Col 17: Insufficient data from data set: $CPUPercent wanted 10%, received 0%"; got != want {
		t.Errorf("Detail() = %q, want %q", got, want)
	}
}

func TestEvaluationErrors(t *testing.T) {
	env := Env{Samples: map[Metric][]Sample{CPUPercent: makeSeries(4, 30*time.Second, testNow, 1)}}
	tests := []struct {
		src       string
		code      string
		line, col int
		msg       string
	}{
		{"a = b + 1", CodeEvaluationError, 1, 5, "variable b is used before it is assigned"},
		{"a = a + 1", CodeEvaluationError, 1, 5, "variable a is used before it is assigned"},
		{"a = 1;\n  b = time() + 1", CodeEvaluationError, 2, 14, "cannot apply + to timestamp and double"},
		{"a = time() - TimeInterval_Hour", CodeEvaluationError, 1, 12, "add a negative interval instead"},
		{`a = "x" + "y"`, CodeEvaluationError, 1, 9, "cannot apply + to string and string"},
		{"a = TimeInterval_Hour * TimeInterval_Hour", CodeEvaluationError, 1, 23, "cannot apply * to timeinterval and timeinterval"},
		{"a = TimeInterval_Hour / 0", CodeEvaluationError, 1, 23, "division of a time interval by zero"},
		{"a = TimeInterval_Year * 1e9", CodeEvaluationError, 1, 23, "time interval out of range"},
		{"a = time() < 5", CodeEvaluationError, 1, 12, "cannot compare timestamp with double"},
		{"a = -time()", CodeEvaluationError, 1, 5, "cannot apply - to a timestamp"},
		{"a = !TimeInterval_Hour", CodeEvaluationError, 1, 5, "cannot apply ! to a timeinterval"},
		{"a = time() ? 1 : 2", CodeEvaluationError, 1, 5, "the operand of ?: must be a double, not a timestamp"},
		{"a = 1 && time()", CodeEvaluationError, 1, 10, "the operand of && must be a double"},
		{"a = $CPUPercent.GetSample(4) + $CPUPercent.GetSample(3)", CodeEvaluationError, 1, 30, "doubleVecs of different lengths (4 and 3)"},
		{"a = $CPUPercent.GetSample(4) < 3", CodeEvaluationError, 1, 30, "cannot compare doubleVec with double"},
		{"a = avg($DiskBytes.GetSample(5))", CodeEvaluationError, 1, 5, "avg of an empty list"},
		{"a = min($DiskBytes.GetSample(5))", CodeEvaluationError, 1, 5, "min of an empty list"},
		{"a = avg(1, time())", CodeEvaluationError, 1, 12, "argument 2 of avg is a timestamp"},
		{"a = val($CPUPercent.GetSample(4), 4)", CodeEvaluationError, 1, 35, "index 4 is out of range for a doubleVec of length 4"},
		{"a = val($CPUPercent.GetSample(4), -1)", CodeEvaluationError, 1, 35, "index -1 is out of range"},
		{"a = percentile($CPUPercent.GetSample(4), 101)", CodeEvaluationError, 1, 42, "percentile 101 is not between 0 and 100"},
		{"a = percentile($DiskBytes.GetSample(4), 50)", CodeEvaluationError, 1, 5, "percentile of an empty doubleVec"},
		{`a = percentile("x", 50)`, CodeEvaluationError, 1, 16, "argument 1 of percentile is a string; want a doubleVec"},
		{"a = percentile(1, 0 / 0)", CodeEvaluationError, 1, 19, "percentile nan is not between 0 and 100"},
		{`a = val(1, "x")`, CodeEvaluationError, 1, 12, "argument 2 of val is a string; want a double"},
		{`a = time("yesterday")`, CodeEvaluationError, 1, 10, `time("yesterday"): not a W3C-DTF`},
		{"a = time(5)", CodeEvaluationError, 1, 10, "the argument of time is a double"},
		{"a = rand()", CodeEvaluationError, 1, 5, "rand() has no source of random numbers"},
		{"a = (1).hour", CodeEvaluationError, 1, 9, "a double has no field hour"},
		{"a = $DiskBytes.HistoryBeginTime()", CodeEvaluationError, 1, 16, "$DiskBytes has no samples"},
		{"a = $CPUPercent.GetSample(-1)", CodeEvaluationError, 1, 27, "count -1 is negative"},
		{"a = $CPUPercent.GetSample(1, 50)", CodeEvaluationError, 1, 30, "GetSample(count) takes no other argument"},
		{`a = $CPUPercent.GetSample("x")`, CodeEvaluationError, 1, 27, "argument 1 of GetSample is a string"},
		{"a = $CPUPercent.GetSample(TimeInterval_Minute, 5, 50)", CodeEvaluationError, 1, 48, "argument 2 of GetSample is a double"},
		{"a = $CPUPercent.GetSample(TimeInterval_Minute, 150)", CodeEvaluationError, 1, 48, "the sample percentage 150 is not between 0 and 100"},
		{"a = $CPUPercent.GetSamplePercent(5)", CodeEvaluationError, 1, 34, "argument 1 of GetSamplePercent is a double"},
		{"$TargetDedicatedNodes = time()", CodeEvaluationError, 1, 1, "$TargetDedicatedNodes must be a double, not a timestamp"},
		{"$TargetLowPriority = $CPUPercent.GetSample(1)", CodeEvaluationError, 1, 1, "$TargetLowPriority must be a double, not a doubleVec"},
		{"$NodeDeallocationOption = 1", CodeEvaluationError, 1, 1, "not a double"},
		{`$NodeDeallocationOption = "later"`, CodeEvaluationError, 1, 1, `not "later"`},
		{"a = 1;\n$TargetDedicatedNodes = 0 / 0", CodeEvaluationError, 2, 1, "$TargetDedicatedNodes is not a number (NaN)"},
		{"a = $CPUPercent.GetSample(TimeInterval_Minute * 10, 95)", CodeInsufficientSampleData, 1, 17,
			"Insufficient data from data set: $CPUPercent wanted 95%, received 20%"},
		{"a = 1;\n    b = $CPUPercent.GetSample(TimeInterval_Minute * 3, TimeInterval_Minute * 4, 1)", CodeInsufficientSampleData, 2, 21,
			"Insufficient data from data set: $CPUPercent wanted 1%, received 0%"},
	}
	for _, tc := range tests {
		t.Run(tc.src, func(t *testing.T) {
			r, err := eval(t, tc.src, env)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v; want an *Error", err)
			}
			if e.Code != tc.code || e.Line != tc.line || e.Col != tc.col || !strings.Contains(e.Msg, tc.msg) {
				t.Errorf("got %s %v\nwant %s line %d, column %d: …%s…", e.Code, e, tc.code, tc.line, tc.col, tc.msg)
			}
			if r == nil || r.Results != "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue" {
				t.Errorf("Result beside the error: %+v", r)
			}
		})
	}
}

func TestEnvErrors(t *testing.T) {
	f, err := Parse("a = 1")
	if err != nil {
		t.Fatal(err)
	}
	for name, env := range map[string]Env{
		"no Now":          {},
		"unknown metric":  {Now: testNow, Samples: map[Metric][]Sample{"$CpuPercent": nil}},
		"not a metric":    {Now: testNow, Samples: map[Metric][]Sample{"$CurrentDedicatedNodes": nil}},
		"negative period": {Now: testNow, SamplePeriod: -time.Second},
	} {
		r, err := f.Evaluate(env)
		var e *Error
		if err == nil || errors.As(err, &e) || r != nil {
			t.Errorf("%s: got %v, %v; want a plain error and no Result", name, r, err)
		}
	}
}

func TestLimits(t *testing.T) {
	// 8192 characters, counted as characters: "é" is two bytes.
	long := "a = 1;\n// " + strings.Repeat("é", MaxFormulaLength-10)
	if n := len([]rune(long)); n != MaxFormulaLength {
		t.Fatalf("test formula has %d characters", n)
	}
	if _, err := Parse(long); err != nil {
		t.Errorf("a formula of %d characters: %v", MaxFormulaLength, err)
	}
	_, err := Parse(long + "x")
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeFormulaTooLong || e.Line != 2 || e.Col != MaxFormulaLength-6 {
		t.Errorf("a formula of %d characters: %v (%+v)", MaxFormulaLength+1, err, e)
	}

	var b strings.Builder
	for i := range MaxStatements {
		b.WriteString("a" + strconv.Itoa(i) + " = " + strconv.Itoa(i) + ";\n;\n// comment\n")
	}
	if _, err := Parse(b.String()); err != nil {
		t.Errorf("%d statements: %v", MaxStatements, err)
	}
	b.WriteString("  last = 1")
	_, err = Parse(b.String())
	if !errors.As(err, &e) || e.Code != CodeSyntaxError || e.Line != 3*MaxStatements+1 || e.Col != 3 ||
		!strings.Contains(e.Msg, "more than 100 statements") {
		t.Errorf("%d statements: %v", MaxStatements+1, err)
	}
}

func TestFormulaIsReusable(t *testing.T) {
	f, err := Parse("n = n0 + 1")
	if err == nil {
		_, err = f.Evaluate(Env{Now: testNow})
	}
	if err == nil {
		t.Fatal("n0 is undefined, want an error")
	}
	f, err = Parse("$TargetDedicatedNodes = $TargetDedicatedNodes + 1")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		r, err := f.Evaluate(Env{Now: testNow, TargetDedicatedNodes: i})
		if err != nil || r.TargetDedicatedNodes != i+1 {
			t.Errorf("evaluation %d: %v, %v", i, r, err)
		}
	}
	if f.Source() != "$TargetDedicatedNodes = $TargetDedicatedNodes + 1" {
		t.Errorf("Source() = %q", f.Source())
	}
}

// TestPure checks the rules of batch/: the package imports only the standard library, nothing that
// does I/O, no randomness, and reads no clock.
func TestPure(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	banned := map[string]bool{"os": true, "io": true, "net": true, "net/http": true, "math/rand": true,
		"math/rand/v2": true, "crypto/rand": true, "os/exec": true, "sync": true, "unsafe": true}
	fset := gotoken.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f, err := goparser.ParseFile(fset, file, src, goparser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if banned[path] || strings.Contains(strings.SplitN(path, "/", 2)[0], ".") || strings.HasPrefix(path, "corral") {
				t.Errorf("%s imports %s", file, path)
			}
		}
		for _, bad := range []string{"time.Now(", "time.Since(", "time.Until(", "time.Local", "go func", "time.Sleep("} {
			if strings.Contains(string(src), bad) {
				t.Errorf("%s uses %s", file, bad)
			}
		}
	}
}
