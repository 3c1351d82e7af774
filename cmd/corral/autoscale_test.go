package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/batch"
)

func TestParsePoolAutoscaleVerbs(t *testing.T) {
	key := []byte("test-key-0123456789")
	env := map[string]string{"CORRAL_ACCOUNT_KEY": base64.StdEncoding.EncodeToString(key)}
	getenv := func(k string) string { return env[k] }
	conn := connOptions{URL: defaultURL, Account: "corral", Key: key}
	hundredAndOne := []string{"p1"}
	for i := range 101 {
		hundredAndOne = append(hundredAndOne, fmt.Sprintf("p1-%d", i))
	}

	tests := []struct {
		name  string
		parse parser
		args  []string
		want  any
		err   string // a substring of the error; "usage: " also requires a usage error
	}{
		// pool autoscale
		{name: "autoscale formula", parse: wrap(parsePoolAutoscale), args: []string{"p1", "--formula", "$TargetDedicatedNodes=1;"},
			want: &poolAutoscaleOptions{Conn: conn, ID: "p1", Formula: "$TargetDedicatedNodes=1;"}},
		{name: "autoscale formula file and interval", parse: wrap(parsePoolAutoscale), args: []string{"--formula-file", "f.txt", "p1", "--interval", "10m"},
			want: &poolAutoscaleOptions{Conn: conn, ID: "p1", FormulaFile: "f.txt", Interval: 10 * time.Minute}},
		{name: "autoscale ISO interval", parse: wrap(parsePoolAutoscale), args: []string{"p1", "--formula", "x=1;", "--interval", "PT1H"},
			want: &poolAutoscaleOptions{Conn: conn, ID: "p1", Formula: "x=1;", Interval: time.Hour}},
		{name: "autoscale interval alone", parse: wrap(parsePoolAutoscale), args: []string{"p1", "--interval", "20m"},
			want: &poolAutoscaleOptions{Conn: conn, ID: "p1", Interval: 20 * time.Minute}},
		{name: "autoscale short interval is the server's to refuse", parse: wrap(parsePoolAutoscale), args: []string{"p1", "--formula", "x=1;", "--interval", "30s"},
			want: &poolAutoscaleOptions{Conn: conn, ID: "p1", Formula: "x=1;", Interval: 30 * time.Second}},
		{name: "autoscale disable", parse: wrap(parsePoolAutoscale), args: []string{"p1", "--disable"},
			want: &poolAutoscaleOptions{Conn: conn, ID: "p1", Disable: true}},
		{name: "autoscale nothing", parse: wrap(parsePoolAutoscale), args: []string{"p1"},
			err: "usage: give --formula F or --formula-file PATH (or --disable)"},
		{name: "autoscale both formulas", parse: wrap(parsePoolAutoscale), args: []string{"p1", "--formula", "x=1;", "--formula-file", "f"},
			err: "usage: give --formula or --formula-file, not both"},
		{name: "autoscale empty formula", parse: wrap(parsePoolAutoscale), args: []string{"p1", "--formula", " "}, err: "usage: --formula is empty"},
		{name: "autoscale empty formula file", parse: wrap(parsePoolAutoscale), args: []string{"p1", "--formula-file="}, err: "usage: --formula-file needs a path"},
		{name: "autoscale disable with formula", parse: wrap(parsePoolAutoscale), args: []string{"p1", "--disable", "--formula", "x=1;"},
			err: "usage: --disable takes no --formula"},
		{name: "autoscale disable with interval", parse: wrap(parsePoolAutoscale), args: []string{"p1", "--disable", "--interval", "5m"},
			err: "usage: --disable takes no --interval"},
		{name: "autoscale bad interval", parse: wrap(parsePoolAutoscale), args: []string{"p1", "--formula", "x=1;", "--interval", "often"},
			err: `usage: --interval "often": want a duration such as 15m or PT15M`},
		{name: "autoscale zero interval", parse: wrap(parsePoolAutoscale), args: []string{"p1", "--formula", "x=1;", "--interval", "0s"},
			err: "usage: --interval 0s: want a positive duration"},
		{name: "autoscale negative ISO interval", parse: wrap(parsePoolAutoscale), args: []string{"p1", "--formula", "x=1;", "--interval", "-PT5M"},
			err: "usage: --interval -PT5M: want a positive duration"},
		{name: "autoscale no id", parse: wrap(parsePoolAutoscale), args: []string{"--disable"}, err: "usage: missing the pool id"},
		{name: "autoscale bad id", parse: wrap(parsePoolAutoscale), args: []string{"a/b", "--disable"}, err: `usage: pool id "a/b"`},
		{name: "autoscale two ids", parse: wrap(parsePoolAutoscale), args: []string{"p1", "p2", "--disable"}, err: "usage: unexpected arguments after the pool id: p2"},
		{name: "autoscale help", parse: wrap(parsePoolAutoscale), args: []string{"--help"}, err: flag.ErrHelp.Error()},

		// pool evaluate
		{name: "evaluate formula", parse: wrap(parsePoolEvaluate), args: []string{"p1", "--formula", "$TargetDedicatedNodes=2;"},
			want: &poolEvaluateOptions{Conn: conn, ID: "p1", Formula: "$TargetDedicatedNodes=2;"}},
		{name: "evaluate formula file", parse: wrap(parsePoolEvaluate), args: []string{"p1", "--formula-file", "f.txt", "--url", "http://h:1"},
			want: &poolEvaluateOptions{Conn: connOptions{URL: "http://h:1", URLGiven: true, Account: "corral", Key: key}, ID: "p1", FormulaFile: "f.txt"}},
		{name: "evaluate no formula", parse: wrap(parsePoolEvaluate), args: []string{"p1"}, err: "usage: give --formula F or --formula-file PATH"},
		{name: "evaluate both", parse: wrap(parsePoolEvaluate), args: []string{"p1", "--formula", "a=1;", "--formula-file", "f"}, err: "usage: give --formula or --formula-file, not both"},
		{name: "evaluate takes no interval", parse: wrap(parsePoolEvaluate), args: []string{"p1", "--formula", "a=1;", "--interval", "5m"},
			err: "usage: flag provided but not defined: -interval"},
		{name: "evaluate no id", parse: wrap(parsePoolEvaluate), args: []string{"--formula", "a=1;"}, err: "usage: missing the pool id"},

		// pool remove-nodes
		{name: "remove one node", parse: wrap(parsePoolRemoveNodes), args: []string{"p1", "p1-3"},
			want: &poolRemoveNodesOptions{Conn: conn, ID: "p1", Nodes: []string{"p1-3"}}},
		{name: "remove nodes with flags", parse: wrap(parsePoolRemoveNodes),
			args: []string{"p1", "p1-3", "--timeout", "PT10M", "p1-4", "--deallocation", "TaskCompletion"},
			want: &poolRemoveNodesOptions{Conn: conn, ID: "p1", Nodes: []string{"p1-3", "p1-4"}, Timeout: 10 * time.Minute,
				Deallocation: batch.DeallocateTaskCompletion}},
		{name: "remove nothing", parse: wrap(parsePoolRemoveNodes), err: "usage: missing the pool id and the nodes to remove"},
		{name: "remove no node", parse: wrap(parsePoolRemoveNodes), args: []string{"p1"}, err: "usage: missing the nodes to remove"},
		{name: "remove 101 nodes", parse: wrap(parsePoolRemoveNodes), args: hundredAndOne, err: "usage: 101 nodes: remove at most 100 at once"},
		{name: "remove bad pool id", parse: wrap(parsePoolRemoveNodes), args: []string{"a b", "n1"}, err: `usage: pool id "a b"`},
		{name: "remove bad node id", parse: wrap(parsePoolRemoveNodes), args: []string{"p1", "n/1"}, err: `usage: node id "n/1"`},
		{name: "remove short timeout", parse: wrap(parsePoolRemoveNodes), args: []string{"p1", "n1", "--timeout", "1m"}, err: "usage: --timeout 1m: want at least 5m"},
		{name: "remove bad deallocation", parse: wrap(parsePoolRemoveNodes), args: []string{"p1", "n1", "--deallocation", "now"},
			err: `usage: --deallocation "now": want requeue, terminate, taskcompletion or retaineddata`},

		// pool history, pool counts
		{name: "history", parse: wrap(parsePoolHistory), args: []string{"p1"}, want: &poolHistoryOptions{Conn: conn, ID: "p1"}},
		{name: "history json", parse: wrap(parsePoolHistory), args: []string{"--json", "p1"}, want: &poolHistoryOptions{Conn: conn, ID: "p1", JSON: true}},
		{name: "history no id", parse: wrap(parsePoolHistory), err: "usage: missing the pool id"},
		{name: "history bad id", parse: wrap(parsePoolHistory), args: []string{"p/1"}, err: `usage: pool id "p/1"`},
		{name: "counts", parse: wrap(parsePoolCounts), want: &poolCountsOptions{Conn: conn}},
		{name: "counts json", parse: wrap(parsePoolCounts), args: []string{"--json"}, want: &poolCountsOptions{Conn: conn, JSON: true}},
		{name: "counts takes no pool", parse: wrap(parsePoolCounts), args: []string{"p1"}, err: "usage: unexpected arguments: [p1]"},

		// node evict
		{name: "evict", parse: wrap(parseNodeEvict), args: []string{"p1", "p1-2"}, want: &nodeEvictOptions{Conn: conn, PoolID: "p1", NodeID: "p1-2"}},
		{name: "evict no node", parse: wrap(parseNodeEvict), args: []string{"p1"}, err: "usage: missing the node id"},
		{name: "evict nothing", parse: wrap(parseNodeEvict), err: "usage: missing the pool id and the node id"},
		{name: "evict extra", parse: wrap(parseNodeEvict), args: []string{"p1", "n1", "n2"}, err: "usage: unexpected arguments after the node id: n2"},
		{name: "evict bad pool id", parse: wrap(parseNodeEvict), args: []string{"p 1", "n1"}, err: `usage: pool id "p 1"`},
		{name: "evict bad node id", parse: wrap(parseNodeEvict), args: []string{"p1", "../n1"}, err: `usage: node id "../n1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.parse(tt.args, getenv)
			checkParsed(t, got, err, tt.want, tt.err)
		})
	}
}

// fakeAPI answers requests from a table keyed "METHOD path", and records the requests and their
// bodies. A request not in the table is 404 ResourceNotFound.
type fakeAPI struct {
	answers map[string]fakeAnswer

	mu       sync.Mutex
	requests []string
	bodies   []map[string]any
}

// fakeAnswer is an answer of fakeAPI: a status, and a JSON body (for an error status, code and
// message make Azure's error body).
type fakeAnswer struct {
	status        int
	body          any
	code, message string
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := r.Method + " " + r.URL.Path
	f.requests = append(f.requests, key)
	b, _ := io.ReadAll(r.Body)
	var body map[string]any
	if len(b) > 0 {
		json.Unmarshal(b, &body)
	}
	f.bodies = append(f.bodies, body)
	a, ok := f.answers[key]
	if !ok {
		a = fakeAnswer{status: http.StatusNotFound, code: "ResourceNotFound", message: "The specified resource does not exist."}
	}
	if a.code != "" {
		w.WriteHeader(a.status)
		json.NewEncoder(w).Encode(map[string]any{"code": a.code, "message": map[string]string{"lang": "en-US", "value": a.message + "\nRequestId:x"}})
		return
	}
	w.WriteHeader(a.status)
	if a.body != nil {
		json.NewEncoder(w).Encode(a.body)
	}
}

// runAgainst runs a verb's run function against f and returns its output, its errors and the
// error it returned.
func runAgainst[O any](t *testing.T, f *fakeAPI, run func(context.Context, O, *streams) error, opts O, setConn func(O, connOptions)) (string, string, error) {
	t.Helper()
	srv := httptest.NewServer(f)
	defer srv.Close()
	setConn(opts, connOptions{URL: srv.URL, Account: "a", Key: []byte("k")})
	var out, errOut strings.Builder
	err := run(context.Background(), opts, &streams{Out: &out, Err: &errOut})
	return out.String(), errOut.String(), err
}

func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("err = %v", err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v, want it to contain %q", err, want)
	}
}

func TestPoolAutoscaleRun(t *testing.T) {
	formulaFile := filepath.Join(t.TempDir(), "formula.txt")
	if err := os.WriteFile(formulaFile, []byte("n = 2;\n$TargetDedicatedNodes = n;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	enabled := batch.Pool{ID: "p1", EnableAutoScale: batch.Ptr(true), AutoScaleFormula: "$TargetDedicatedNodes=1;",
		AutoScaleEvaluationInterval: batch.Ptr(batch.Duration(10 * time.Minute)),
		AutoScaleRun:                &batch.AutoScaleRun{Results: "$TargetDedicatedNodes=1;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue"}}
	ok := map[string]fakeAnswer{
		"POST /pools/p1/enableautoscale":  {status: http.StatusOK},
		"POST /pools/p1/disableautoscale": {status: http.StatusOK},
		"GET /pools/p1":                   {status: http.StatusOK, body: enabled},
	}
	tests := []struct {
		name     string
		opts     poolAutoscaleOptions
		answers  map[string]fakeAnswer
		requests []string
		body     map[string]any // of the first request
		out      []string
		err      string
	}{
		{name: "enable", opts: poolAutoscaleOptions{ID: "p1", Formula: "$TargetDedicatedNodes=1;", Interval: 10 * time.Minute}, answers: ok,
			requests: []string{"POST /pools/p1/enableautoscale", "GET /pools/p1"},
			body:     map[string]any{"autoScaleFormula": "$TargetDedicatedNodes=1;", "autoScaleEvaluationInterval": "PT10M"},
			out: []string{"pool p1 autoscales: its formula is evaluated every 10m\n", "  $TargetDedicatedNodes=1\n  $TargetLowPriorityNodes=0\n",
				"(follow it with: corral pool show p1; its history: corral pool history p1)"}},
		{name: "enable from a file", opts: poolAutoscaleOptions{ID: "p1", FormulaFile: formulaFile}, answers: ok,
			requests: []string{"POST /pools/p1/enableautoscale", "GET /pools/p1"},
			body:     map[string]any{"autoScaleFormula": "n = 2;\n$TargetDedicatedNodes = n;\n"}},
		{name: "new interval only", opts: poolAutoscaleOptions{ID: "p1", Interval: time.Hour}, answers: ok,
			requests: []string{"POST /pools/p1/enableautoscale", "GET /pools/p1"},
			body:     map[string]any{"autoScaleEvaluationInterval": "PT1H"}},
		{name: "missing formula file", opts: poolAutoscaleOptions{ID: "p1", FormulaFile: filepath.Join(t.TempDir(), "nope")}, answers: ok,
			err: "read the formula file: open "},
		{name: "disable", opts: poolAutoscaleOptions{ID: "p1", Disable: true}, answers: ok,
			requests: []string{"POST /pools/p1/disableautoscale"},
			out:      []string{"pool p1 no longer autoscales: it keeps the nodes it has (resize it with: corral pool resize p1 --dedicated N)\n"}},
		{name: "resizing", opts: poolAutoscaleOptions{ID: "p1", Formula: "x=1;"},
			answers:  map[string]fakeAnswer{"POST /pools/p1/enableautoscale": {status: 409, code: "PoolBeingResized", message: "The pool is being resized."}},
			requests: []string{"POST /pools/p1/enableautoscale"},
			err:      "pool p1 is resizing: it can autoscale once it is steady (corral pool show p1), or stop the resize (corral pool stop-resize p1)"},
		{name: "syntax error", opts: poolAutoscaleOptions{ID: "p1", Formula: "x = = 1;"},
			answers: map[string]fakeAnswer{"POST /pools/p1/enableautoscale": {status: 400, code: "AutoScalingFormulaSyntaxError",
				message: "The autoscale formula is not valid: line 1, column 5: unexpected '='"}},
			err: "pool p1: the formula is not valid: The autoscale formula is not valid: line 1, column 5: unexpected '='"},
		{name: "interval alone on a manual pool", opts: poolAutoscaleOptions{ID: "p1", Interval: time.Hour},
			answers: map[string]fakeAnswer{"POST /pools/p1/enableautoscale": {status: 400, code: "MissingRequiredProperty", message: "autoScaleFormula is required."}},
			err:     "pool p1 does not autoscale yet: give its formula with --formula or --formula-file"},
		{name: "missing pool", opts: poolAutoscaleOptions{ID: "nope", Disable: true},
			err: "disable autoscale on pool nope: POST /pools/nope/disableautoscale: 404 ResourceNotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAPI{answers: tt.answers}
			o := tt.opts
			out, _, err := runAgainst(t, f, poolAutoscaleRun, &o, func(o *poolAutoscaleOptions, c connOptions) { o.Conn = c })
			checkErr(t, err, tt.err)
			if tt.requests != nil && !reflect.DeepEqual(f.requests, tt.requests) {
				t.Errorf("requests = %v, want %v", f.requests, tt.requests)
			}
			if tt.body != nil && !reflect.DeepEqual(f.bodies[0], tt.body) {
				t.Errorf("body = %v, want %v", f.bodies[0], tt.body)
			}
			for _, w := range tt.out {
				if !strings.Contains(out, w) {
					t.Errorf("out = %q, want it to contain %q", out, w)
				}
			}
		})
	}
}

func TestPoolEvaluateRun(t *testing.T) {
	tests := []struct {
		name    string
		answer  fakeAnswer
		out     string
		err     string
		exit1   bool // the error is an exitError with code 1
		formula string
	}{
		{name: "results", answer: fakeAnswer{status: 200, body: batch.AutoScaleRun{
			Timestamp: time.Now(), Results: "$TargetDedicatedNodes=2;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;n=2"}},
			out: "$TargetDedicatedNodes=2\n$TargetLowPriorityNodes=0\n$NodeDeallocationOption=requeue\nn=2\n"},
		{name: "evaluation error", answer: fakeAnswer{status: 200, body: batch.AutoScaleRun{Timestamp: time.Now(),
			Error: &batch.AutoScaleRunError{Code: "InsufficientSampleData", Message: "Autoscale evaluation failed due to insufficient sample data",
				Values: []batch.NameValuePair{{Name: "Message", Value: "Line 1, Col 24: wanted 70%, received 0%"}}}}},
			err:   "the formula failed: InsufficientSampleData: Autoscale evaluation failed due to insufficient sample data (Message: Line 1, Col 24: wanted 70%, received 0%)",
			exit1: true},
		{name: "not an autoscale pool", answer: fakeAnswer{status: 409, code: "AutoScaleNotEnabled", message: "no"},
			err: "pool p1 does not autoscale, and a formula is evaluated only on a pool that does: enable it first with: corral pool autoscale p1 --formula F"},
		{name: "syntax error", answer: fakeAnswer{status: 400, code: "AutoScalingFormulaSyntaxError", message: "unexpected end of formula"},
			err: "the formula is not valid: unexpected end of formula"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAPI{answers: map[string]fakeAnswer{"POST /pools/p1/evaluateautoscale": tt.answer}}
			o := &poolEvaluateOptions{ID: "p1", Formula: "$TargetDedicatedNodes=2;"}
			out, _, err := runAgainst(t, f, poolEvaluateRun, o, func(o *poolEvaluateOptions, c connOptions) { o.Conn = c })
			checkErr(t, err, tt.err)
			if ee, ok := err.(*exitError); ok != tt.exit1 || (ok && ee.code != 1) {
				t.Errorf("err = %#v, want an exitError: %v", err, tt.exit1)
			}
			if out != tt.out {
				t.Errorf("out = %q, want %q", out, tt.out)
			}
			if want := map[string]any{"autoScaleFormula": "$TargetDedicatedNodes=2;"}; !reflect.DeepEqual(f.bodies[0], want) {
				t.Errorf("body = %v, want %v", f.bodies[0], want)
			}
		})
	}
}

func TestPoolRemoveNodesRun(t *testing.T) {
	tests := []struct {
		name   string
		opts   poolRemoveNodesOptions
		answer fakeAnswer
		body   map[string]any
		out    string
		err    string
	}{
		{name: "two nodes", opts: poolRemoveNodesOptions{ID: "p1", Nodes: []string{"p1-1", "p1-2"}, Timeout: 20 * time.Minute, Deallocation: batch.DeallocateTerminate},
			answer: fakeAnswer{status: 202},
			body:   map[string]any{"nodeList": []any{"p1-1", "p1-2"}, "resizeTimeout": "PT20M", "nodeDeallocationOption": "terminate"},
			out:    "removing 2 nodes from pool p1: p1-1, p1-2 (follow it with: corral pool show p1)\n"},
		{name: "one node, defaults", opts: poolRemoveNodesOptions{ID: "p1", Nodes: []string{"p1-1"}}, answer: fakeAnswer{status: 202},
			body: map[string]any{"nodeList": []any{"p1-1"}}, out: "removing 1 node from pool p1: p1-1"},
		{name: "unknown node", opts: poolRemoveNodesOptions{ID: "p1", Nodes: []string{"p1-9"}},
			answer: fakeAnswer{status: 404, code: "NodeNotFound", message: "The specified node p1-9 does not exist in the pool."},
			err:    "pool p1: The specified node p1-9 does not exist in the pool. (see its nodes with: corral pool show p1)"},
		{name: "resizing", opts: poolRemoveNodesOptions{ID: "p1", Nodes: []string{"p1-1"}},
			answer: fakeAnswer{status: 409, code: "PoolBeingResized", message: "resizing"},
			err:    "pool p1 is resizing: nodes can be removed once it is steady (corral pool show p1)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAPI{answers: map[string]fakeAnswer{"POST /pools/p1/removenodes": tt.answer}}
			o := tt.opts
			out, _, err := runAgainst(t, f, poolRemoveNodesRun, &o, func(o *poolRemoveNodesOptions, c connOptions) { o.Conn = c })
			checkErr(t, err, tt.err)
			if tt.body != nil && !reflect.DeepEqual(f.bodies[0], tt.body) {
				t.Errorf("body = %v, want %v", f.bodies[0], tt.body)
			}
			if !strings.Contains(out, tt.out) {
				t.Errorf("out = %q, want it to contain %q", out, tt.out)
			}
		})
	}
}

func TestPoolHistoryRun(t *testing.T) {
	at := time.Date(2026, 3, 4, 10, 0, 0, 0, time.Local)
	history := map[string]any{"value": []batch.PoolEvent{
		{Timestamp: at, Kind: batch.PoolEventResize, TargetDedicatedNodes: 2, Message: "Pool - Resize"},
		{Timestamp: at.Add(time.Minute), Kind: batch.PoolEventPreempted, TargetDedicatedNodes: 2, TargetLowPriorityNodes: 1, NodeIDs: []string{"p1-3"}},
		{Timestamp: at.Add(2 * time.Minute), Kind: batch.PoolEventAutoScale, TargetDedicatedNodes: 3,
			Results: "$TargetDedicatedNodes=3;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue"},
		{Timestamp: at.Add(3 * time.Minute), Kind: batch.PoolEventAutoScale, TargetDedicatedNodes: 3,
			Error: &batch.AutoScaleRunError{Code: "AutoScalingFormulaEvaluationError", Message: "division by zero"}},
	}}
	f := &fakeAPI{answers: map[string]fakeAnswer{
		"GET /pools/p1/history": {status: 200, body: history},
		"GET /pools/p2/history": {status: 200, body: map[string]any{"value": []any{}}},
		"GET /pools/p3/history": {status: 404, code: "PoolNotFound", message: "The specified pool does not exist."},
	}}
	set := func(o *poolHistoryOptions, c connOptions) { o.Conn = c }
	out, _, err := runAgainst(t, f, poolHistoryRun, &poolHistoryOptions{ID: "p1"}, set)
	checkErr(t, err, "")
	for _, w := range []string{
		"TIME                 EVENT      TARGETS  NODES  DETAIL\n",
		"2026-03-04 10:00:00  resize     2/0      -      Pool - Resize\n",
		"2026-03-04 10:01:00  preempted  2/1      p1-3   \n",
		"2026-03-04 10:02:00  autoScale  3/0      -      $TargetDedicatedNodes=3 $TargetLowPriorityNodes=0 $NodeDeallocationOption=requeue\n",
		"2026-03-04 10:03:00  autoScale  3/0      -      error AutoScalingFormulaEvaluationError: division by zero\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("history:\n%s\nwant it to contain %q", out, w)
		}
	}
	out, _, err = runAgainst(t, f, poolHistoryRun, &poolHistoryOptions{ID: "p1", JSON: true}, set)
	checkErr(t, err, "")
	var events []batch.PoolEvent
	if err := json.Unmarshal([]byte(out), &events); err != nil || len(events) != 4 {
		t.Errorf("--json: %v, %d events:\n%s", err, len(events), out)
	}
	out, errOut, err := runAgainst(t, f, poolHistoryRun, &poolHistoryOptions{ID: "p2"}, set)
	checkErr(t, err, "")
	if out != "" || errOut != "pool p2 has no history yet\n" {
		t.Errorf("empty history: out %q, err %q", out, errOut)
	}
	_, _, err = runAgainst(t, f, poolHistoryRun, &poolHistoryOptions{ID: "p3"}, set)
	checkErr(t, err, "pool p3 does not exist (see the pools with: corral pool list)")
}

func TestPoolCountsRun(t *testing.T) {
	counts := map[string]any{"value": []batch.PoolNodeCounts{
		{PoolID: "a", Dedicated: batch.NodeCounts{Idle: 1, Running: 2, Total: 3}, LowPriority: batch.NodeCounts{Preempted: 1, Total: 1}},
		{PoolID: "b"},
		{PoolID: "c", LowPriority: batch.NodeCounts{Starting: 1, Total: 1}},
	}}
	f := &fakeAPI{answers: map[string]fakeAnswer{"GET /nodecounts": {status: 200, body: counts}}}
	set := func(o *poolCountsOptions, c connOptions) { o.Conn = c }
	out, _, err := runAgainst(t, f, poolCountsRun, &poolCountsOptions{}, set)
	checkErr(t, err, "")
	want := "POOL  KIND          NODES  STATES\n" +
		"a     dedicated     3      idle=1 running=2\n" +
		"a     low-priority  1      preempted=1\n" +
		"b     -             0      \n" +
		"c     low-priority  1      starting=1\n"
	if out != want {
		t.Errorf("counts:\n%s\nwant:\n%s", out, want)
	}
	out, _, err = runAgainst(t, f, poolCountsRun, &poolCountsOptions{JSON: true}, set)
	checkErr(t, err, "")
	var got []batch.PoolNodeCounts
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 3 || got[0].Dedicated.Running != 2 {
		t.Errorf("--json: %v: %s", err, out)
	}
	empty := &fakeAPI{answers: map[string]fakeAnswer{"GET /nodecounts": {status: 200, body: map[string]any{"value": []any{}}}}}
	_, errOut, err := runAgainst(t, empty, poolCountsRun, &poolCountsOptions{}, set)
	checkErr(t, err, "")
	if !strings.Contains(errOut, "no pools") {
		t.Errorf("no pools: stderr %q", errOut)
	}
}

func TestNodeEvictRun(t *testing.T) {
	tests := []struct {
		name   string
		answer fakeAnswer
		out    string
		err    string
	}{
		{name: "evicted", answer: fakeAnswer{status: 202},
			out: "evicted node p1-2 of pool p1, as a spot eviction would (follow the pool with: corral pool show p1)\n"},
		{name: "not supported", answer: fakeAnswer{status: 501, code: "NotImplemented", message: "no"},
			err: "this server cannot evict nodes: its compute provider has no spot evictions"},
		{name: "no such node", answer: fakeAnswer{status: 404, code: "NodeNotFound", message: "no"},
			err: "pool p1 has no node p1-2 (see its nodes with: corral pool show p1)"},
		{name: "no such pool", answer: fakeAnswer{status: 404, code: "PoolNotFound", message: "no"},
			err: "pool p1 does not exist (see the pools with: corral pool list)"},
		{name: "dedicated", answer: fakeAnswer{status: 409, code: "OperationInvalidForCurrentState", message: "Node p1-2 is dedicated: only low-priority nodes can be evicted."},
			err: "cannot evict node p1-2 of pool p1: Node p1-2 is dedicated: only low-priority nodes can be evicted."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAPI{answers: map[string]fakeAnswer{"POST /pools/p1/nodes/p1-2/evict": tt.answer}}
			out, _, err := runAgainst(t, f, nodeEvictRun, &nodeEvictOptions{PoolID: "p1", NodeID: "p1-2"},
				func(o *nodeEvictOptions, c connOptions) { o.Conn = c })
			checkErr(t, err, tt.err)
			if out != tt.out {
				t.Errorf("out = %q, want %q", out, tt.out)
			}
			if want := []string{"POST /pools/p1/nodes/p1-2/evict"}; !reflect.DeepEqual(f.requests, want) {
				t.Errorf("requests = %v, want %v", f.requests, want)
			}
		})
	}
}

// TestAutoscaleHelp: the verbs are listed and described, and a usage mistake says how to call
// them.
func TestAutoscaleHelp(t *testing.T) {
	tests := []runCase{
		{args: []string{"pool", "help"}, stdout: "corral pool autoscale ID (--formula F | --formula-file PATH) [--interval DUR] | ID --disable\n"},
		{args: []string{"pool", "help"}, stdout: "corral pool evaluate ID (--formula F | --formula-file PATH)\n"},
		{args: []string{"pool", "help"}, stdout: "corral pool remove-nodes ID NODE... [--timeout DUR] [--deallocation OPTION]\n"},
		{args: []string{"pool", "help"}, stdout: "corral pool history ID [--json]\n"},
		{args: []string{"pool", "help"}, stdout: "corral pool counts [--json]\n"},
		{args: []string{"node", "help"}, stdout: "corral node evict POOL NODE\n"},
		{args: []string{"help"}, stdout: "node      evict a low-priority node"},
		{args: []string{"pool", "autoscale", "--help"}, stdout: "$TargetDedicatedNodes = min(10, $PendingTasks.GetSample(1));"},
		{args: []string{"node", "evict", "--help"}, stdout: "usage: corral node evict POOL NODE"},
		{args: []string{"pool", "autoscale", "p1"}, code: 2,
			stderrIn: "corral pool autoscale: give --formula F or --formula-file PATH (or --disable)\nusage: corral pool autoscale ID"},
		{args: []string{"pool", "remove-nodes", "p1"}, code: 2, stderrIn: "corral pool remove-nodes: missing the nodes to remove"},
		{args: []string{"node"}, code: 2, stderrIn: "usage: corral node <command>"},
		{args: []string{"node", "evict", "p1"}, code: 2, stderrIn: "corral node evict: missing the node id"},
	}
	checkRuns(t, tests)
}

// TestAutoscaleAgainstServer drives the verbs against a real server whose nodes are local agent
// processes: a pool autoscales to its formula's target, a formula is evaluated, the history and
// the counts show it; after autoscale is disabled a node is removed by name; a low-priority node
// is evicted.
func TestAutoscaleAgainstServer(t *testing.T) {
	ts := startTestServer(t)
	ts.mustCLI(t, []string{"pool", "create", "a", "--nodes", "0"}, "created pool a")

	if code, _, errOut := ts.cli(t, "pool", "evaluate", "a", "--formula", "$TargetDedicatedNodes=1;"); code != 1 ||
		!strings.Contains(errOut, "pool a does not autoscale") {
		t.Errorf("evaluate on a manual pool: exit %d, stderr %q", code, errOut)
	}
	ts.mustCLI(t, []string{"pool", "autoscale", "a", "--formula", "$TargetDedicatedNodes=2;", "--interval", "5m"},
		"pool a autoscales: its formula is evaluated every 5m")
	ts.until(t, []string{"pool", "show", "a"}, "allocation steady", "nodes:        2/2", "autoscale:    every 5m0s (its runs: corral pool history a)")
	ts.mustCLI(t, []string{"pool", "evaluate", "a", "--formula", "n = 3;\n$TargetDedicatedNodes = n;"}, "$TargetDedicatedNodes=3\n", "n=3\n")
	if code, _, errOut := ts.cli(t, "pool", "resize", "a", "--dedicated", "1"); code != 1 || !strings.Contains(errOut, "OperationInvalidForCurrentState") {
		t.Errorf("resize of an autoscale pool: exit %d, stderr %q", code, errOut)
	}
	ts.until(t, []string{"pool", "counts"}, "a     dedicated  2      idle=2")
	ts.mustCLI(t, []string{"pool", "history", "a"}, "autoScaleEnabled", "2/0")

	ts.mustCLI(t, []string{"pool", "autoscale", "a", "--disable"}, "pool a no longer autoscales")
	if code, _, errOut := ts.cli(t, "pool", "remove-nodes", "a", "a-999"); code != 1 || !strings.Contains(errOut, "see its nodes with: corral pool show a") {
		t.Errorf("remove an unknown node: exit %d, stderr %q", code, errOut)
	}
	_, out, _ := ts.cli(t, "pool", "show", "a", "--json")
	var shown struct {
		Nodes []batch.Node `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil || len(shown.Nodes) != 2 {
		t.Fatalf("pool show a --json: %v\n%s", err, out)
	}
	gone := shown.Nodes[0].ID
	ts.mustCLI(t, []string{"pool", "remove-nodes", "a", gone, "--deallocation", "terminate"}, "removing 1 node from pool a: "+gone)
	ts.until(t, []string{"pool", "show", "a"}, "allocation steady", "nodes:        1/1")
	// The removed node left the pool at once; its record stays, in leavingpool, until the
	// provider says its VM is gone.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, out, _ = ts.cli(t, "pool", "show", "a")
		line := ""
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, gone+" ") {
				line = l
			}
		}
		if line == "" {
			break
		}
		if !strings.Contains(line, " leavingpool ") || time.Now().After(deadline) {
			t.Fatalf("node %s is still in the pool, and not leaving it:\n%s", gone, out)
		}
	}
	ts.mustCLI(t, []string{"pool", "history", "a"}, "removeNodes", gone)

	// A low-priority node, evicted.
	ts.mustCLI(t, []string{"pool", "resize", "a", "--low-priority", "1"}, "resizing pool a to 1 dedicated and 1 low-priority node")
	ts.until(t, []string{"pool", "counts"}, "a     low-priority  1      idle=1")
	ts.until(t, []string{"pool", "show", "a"}, "nodes:        1/1 dedicated + 1/1 low-priority")
	_, out, _ = ts.cli(t, "pool", "show", "a", "--json")
	shown.Nodes = nil
	if err := json.Unmarshal([]byte(out), &shown); err != nil {
		t.Fatal(err)
	}
	var low, dedicated string
	for _, n := range shown.Nodes {
		if n.IsDedicated {
			dedicated = n.ID
		} else {
			low = n.ID
		}
	}
	if low == "" || dedicated == "" {
		t.Fatalf("nodes = %+v, want one of each kind", shown.Nodes)
	}
	if code, _, errOut := ts.cli(t, "node", "evict", "a", dedicated); code != 1 || !strings.Contains(errOut, "only low-priority nodes can be evicted") {
		t.Errorf("evict a dedicated node: exit %d, stderr %q", code, errOut)
	}
	ts.mustCLI(t, []string{"node", "evict", "a", low}, "evicted node "+low+" of pool a")
	ts.until(t, []string{"pool", "history", "a"}, "preempted", low)
	if code, _, errOut := ts.cli(t, "node", "evict", "a", "a-999"); code != 1 || !strings.Contains(errOut, "pool a has no node a-999") {
		t.Errorf("evict a missing node: exit %d, stderr %q", code, errOut)
	}
}
