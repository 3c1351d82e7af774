package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/batch"
)

func TestParsePoolResize(t *testing.T) {
	key := []byte("test-key-0123456789")
	env := map[string]string{"CORRAL_ACCOUNT_KEY": base64.StdEncoding.EncodeToString(key)}
	getenv := func(k string) string { return env[k] }
	conn := connOptions{URL: defaultURL, Account: "corral", Key: key}
	n := func(v int32) *int32 { return &v }

	tests := []struct {
		name  string
		parse parser
		args  []string
		want  any
		err   string // a substring of the error; "usage: " also requires a usage error
	}{
		// pool resize
		{name: "dedicated", parse: wrap(parsePoolResize), args: []string{"p1", "--dedicated", "3"},
			want: &poolResizeOptions{Conn: conn, ID: "p1", Dedicated: n(3)}},
		{name: "low-priority", parse: wrap(parsePoolResize), args: []string{"p1", "--low-priority=2"},
			want: &poolResizeOptions{Conn: conn, ID: "p1", LowPriority: n(2)}},
		{name: "zero is a target", parse: wrap(parsePoolResize), args: []string{"--dedicated", "0", "p1"},
			want: &poolResizeOptions{Conn: conn, ID: "p1", Dedicated: n(0)}},
		{name: "all flags", parse: wrap(parsePoolResize),
			args: []string{"p1", "--dedicated", "4", "--low-priority", "1", "--timeout", "20m", "--deallocation", "taskcompletion"},
			want: &poolResizeOptions{Conn: conn, ID: "p1", Dedicated: n(4), LowPriority: n(1), Timeout: 20 * time.Minute,
				Deallocation: batch.DeallocateTaskCompletion}},
		{name: "ISO 8601 timeout", parse: wrap(parsePoolResize), args: []string{"p1", "--dedicated", "1", "--timeout", "PT1H30M"},
			want: &poolResizeOptions{Conn: conn, ID: "p1", Dedicated: n(1), Timeout: 90 * time.Minute}},
		{name: "timeout of exactly 5 minutes", parse: wrap(parsePoolResize), args: []string{"p1", "--dedicated", "1", "--timeout", "5m"},
			want: &poolResizeOptions{Conn: conn, ID: "p1", Dedicated: n(1), Timeout: 5 * time.Minute}},
		{name: "deallocation in any case", parse: wrap(parsePoolResize), args: []string{"p1", "--dedicated", "1", "--deallocation", "RetainedData"},
			want: &poolResizeOptions{Conn: conn, ID: "p1", Dedicated: n(1), Deallocation: batch.DeallocateRetainedData}},
		{name: "url", parse: wrap(parsePoolResize), args: []string{"p1", "--dedicated", "1", "--url", "http://h:1/"},
			want: &poolResizeOptions{Conn: connOptions{URL: "http://h:1", URLGiven: true, Account: "corral", Key: key}, ID: "p1", Dedicated: n(1)}},
		{name: "no target", parse: wrap(parsePoolResize), args: []string{"p1"}, err: "usage: give --dedicated N, --low-priority M or both"},
		{name: "only a timeout", parse: wrap(parsePoolResize), args: []string{"p1", "--timeout", "10m"}, err: "usage: give --dedicated N"},
		{name: "no id", parse: wrap(parsePoolResize), args: []string{"--dedicated", "1"}, err: "usage: missing the pool id"},
		{name: "two ids", parse: wrap(parsePoolResize), args: []string{"p1", "p2", "--dedicated", "1"}, err: "usage: unexpected arguments after the pool id: p2"},
		{name: "bad id", parse: wrap(parsePoolResize), args: []string{"a/b", "--dedicated", "1"}, err: `usage: pool id "a/b"`},
		{name: "negative dedicated", parse: wrap(parsePoolResize), args: []string{"p1", "--dedicated", "-1"}, err: "usage: --dedicated -1: want 0 to 10000"},
		{name: "too many low-priority", parse: wrap(parsePoolResize), args: []string{"p1", "--low-priority", "10001"}, err: "usage: --low-priority 10001: want 0 to 10000"},
		{name: "dedicated not a number", parse: wrap(parsePoolResize), args: []string{"p1", "--dedicated", "many"}, err: "usage: invalid value"},
		{name: "timeout under 5 minutes", parse: wrap(parsePoolResize), args: []string{"p1", "--dedicated", "1", "--timeout", "4m59s"},
			err: "usage: --timeout 4m59s: want at least 5m"},
		{name: "ISO timeout under 5 minutes", parse: wrap(parsePoolResize), args: []string{"p1", "--dedicated", "1", "--timeout", "PT1M"},
			err: "usage: --timeout PT1M: want at least 5m"},
		{name: "negative timeout", parse: wrap(parsePoolResize), args: []string{"p1", "--dedicated", "1", "--timeout", "-20m"},
			err: "usage: --timeout -20m: want at least 5m"},
		{name: "timeout not a duration", parse: wrap(parsePoolResize), args: []string{"p1", "--dedicated", "1", "--timeout", "soon"},
			err: `usage: --timeout "soon": want a duration`},
		{name: "unknown deallocation", parse: wrap(parsePoolResize), args: []string{"p1", "--dedicated", "1", "--deallocation", "evict"},
			err: `usage: --deallocation "evict": want requeue, terminate, taskcompletion or retaineddata`},
		{name: "unknown flag", parse: wrap(parsePoolResize), args: []string{"p1", "--nodes", "2"}, err: "usage: flag provided but not defined: -nodes"},
		{name: "resize help", parse: wrap(parsePoolResize), args: []string{"--help"}, err: flag.ErrHelp.Error()},

		// pool stop-resize
		{name: "stop-resize", parse: wrap(parsePoolStopResize), args: []string{"p1"}, want: &poolStopResizeOptions{Conn: conn, ID: "p1"}},
		{name: "stop-resize no id", parse: wrap(parsePoolStopResize), err: "usage: missing the pool id"},
		{name: "stop-resize two ids", parse: wrap(parsePoolStopResize), args: []string{"p1", "p2"}, err: "usage: unexpected arguments after the pool id: p2"},
		{name: "stop-resize bad id", parse: wrap(parsePoolStopResize), args: []string{"a b"}, err: `usage: pool id "a b"`},
		{name: "stop-resize takes no target", parse: wrap(parsePoolStopResize), args: []string{"p1", "--dedicated", "1"},
			err: "usage: flag provided but not defined: -dedicated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.parse(tt.args, getenv)
			checkParsed(t, got, err, tt.want, tt.err)
		})
	}
}

// fakePools answers Pool - Get, Pool - Resize and Pool - Stop Resize for one pool, and records
// the requests it got.
type fakePools struct {
	pool   batch.Pool
	status int // the answer to a resize or stop; 0: 202
	code   string

	mu       sync.Mutex
	requests []string // "METHOD path"
	bodies   []map[string]any
}

func (f *fakePools) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	b, _ := io.ReadAll(r.Body)
	var body map[string]any
	if len(b) > 0 {
		json.Unmarshal(b, &body)
	}
	f.bodies = append(f.bodies, body)
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/pools/"+f.pool.ID:
		json.NewEncoder(w).Encode(f.pool)
	case r.Method == http.MethodPost && (r.URL.Path == "/pools/"+f.pool.ID+"/resize" || r.URL.Path == "/pools/"+f.pool.ID+"/stopresize"):
		if f.status != 0 {
			w.WriteHeader(f.status)
			json.NewEncoder(w).Encode(map[string]any{"code": f.code, "message": map[string]string{"lang": "en-US", "value": "no\nRequestId:x"}})
			return
		}
		w.WriteHeader(http.StatusAccepted)
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"code": "PoolNotFound", "message": {"lang": "en-US", "value": "The specified pool does not exist.\nRequestId:x"}}`)
	}
}

func TestPoolResizeRun(t *testing.T) {
	n := func(v int32) *int32 { return &v }
	pool := batch.Pool{ID: "p1", TargetDedicatedNodes: n(2), TargetLowPriorityNodes: n(5)}
	tests := []struct {
		name     string
		opts     poolResizeOptions
		status   int
		code     string
		requests []string
		body     map[string]any // of the resize
		out      string
		err      string
	}{
		{name: "both targets: no read", opts: poolResizeOptions{ID: "p1", Dedicated: n(4), LowPriority: n(0)},
			requests: []string{"POST /pools/p1/resize"},
			body:     map[string]any{"targetDedicatedNodes": 4.0, "targetLowPriorityNodes": 0.0},
			out:      "resizing pool p1 to 4 dedicated and 0 low-priority nodes (follow it with: corral pool show p1)\n"},
		{name: "dedicated keeps low-priority", opts: poolResizeOptions{ID: "p1", Dedicated: n(3), Timeout: 20 * time.Minute, Deallocation: batch.DeallocateTerminate},
			requests: []string{"GET /pools/p1", "POST /pools/p1/resize"},
			body:     map[string]any{"targetDedicatedNodes": 3.0, "targetLowPriorityNodes": 5.0, "resizeTimeout": "PT20M", "nodeDeallocationOption": "terminate"},
			out:      "resizing pool p1 to 3 dedicated and 5 low-priority nodes"},
		{name: "low-priority keeps dedicated", opts: poolResizeOptions{ID: "p1", LowPriority: n(1)},
			requests: []string{"GET /pools/p1", "POST /pools/p1/resize"},
			body:     map[string]any{"targetDedicatedNodes": 2.0, "targetLowPriorityNodes": 1.0},
			out:      "to 2 dedicated and 1 low-priority node "},
		{name: "missing pool", opts: poolResizeOptions{ID: "nope", Dedicated: n(1)},
			requests: []string{"GET /pools/nope"}, err: "read pool nope's current targets: GET /pools/nope: 404 PoolNotFound"},
		{name: "resizing already", opts: poolResizeOptions{ID: "p1", Dedicated: n(1), LowPriority: n(0)}, status: http.StatusConflict, code: "PoolBeingResized",
			requests: []string{"POST /pools/p1/resize"}, body: map[string]any{"targetDedicatedNodes": 1.0, "targetLowPriorityNodes": 0.0},
			err: "pool p1 is resizing already: wait until it is steady (corral pool show p1), or stop the resize (corral pool stop-resize p1)"},
		{name: "autoscale pool", opts: poolResizeOptions{ID: "p1", Dedicated: n(1), LowPriority: n(0)}, status: http.StatusConflict, code: "OperationInvalidForCurrentState",
			requests: []string{"POST /pools/p1/resize"}, body: map[string]any{"targetDedicatedNodes": 1.0, "targetLowPriorityNodes": 0.0},
			err: "resize pool p1: POST /pools/p1/resize: 409 OperationInvalidForCurrentState: no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakePools{pool: pool, status: tt.status, code: tt.code}
			srv := httptest.NewServer(f)
			defer srv.Close()
			o := tt.opts
			o.Conn = connOptions{URL: srv.URL, Account: "a", Key: []byte("k")}
			var out, errOut strings.Builder
			err := poolResizeRun(context.Background(), &o, &streams{Out: &out, Err: &errOut})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("err = %v, want it to contain %q", err, tt.err)
				}
			} else if err != nil {
				t.Fatalf("err = %v", err)
			}
			if !reflect.DeepEqual(f.requests, tt.requests) {
				t.Errorf("requests = %v, want %v", f.requests, tt.requests)
			}
			if tt.body != nil {
				if got := f.bodies[len(f.bodies)-1]; !reflect.DeepEqual(got, tt.body) {
					t.Errorf("resize body = %v, want %v", got, tt.body)
				}
			}
			if !strings.Contains(out.String(), tt.out) {
				t.Errorf("out = %q, want it to contain %q", out.String(), tt.out)
			}
		})
	}
}

func TestPoolStopResizeRun(t *testing.T) {
	f := &fakePools{pool: batch.Pool{ID: "p1"}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	conn := connOptions{URL: srv.URL, Account: "a", Key: []byte("k")}
	var out strings.Builder
	if err := poolStopResizeRun(context.Background(), &poolStopResizeOptions{Conn: conn, ID: "p1"}, &streams{Out: &out, Err: io.Discard}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"POST /pools/p1/stopresize"}; !reflect.DeepEqual(f.requests, want) || f.bodies[0] != nil {
		t.Errorf("requests = %v, bodies %v; want %v without a body", f.requests, f.bodies, want)
	}
	if want := "stopping the resize of pool p1 (see it with: corral pool show p1)\n"; out.String() != want {
		t.Errorf("out = %q, want %q", out.String(), want)
	}
	err := poolStopResizeRun(context.Background(), &poolStopResizeOptions{Conn: conn, ID: "nope"}, &streams{Out: io.Discard, Err: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "stop resizing pool nope: POST /pools/nope/stopresize: 404 PoolNotFound") {
		t.Errorf("stop-resize of a missing pool: %v", err)
	}
}

// TestPoolResizeHelp: the verbs are listed and described, and a usage mistake says how to call
// them.
func TestPoolResizeHelp(t *testing.T) {
	tests := []runCase{
		{args: []string{"pool", "help"}, code: 0, stdout: "corral pool resize ID [--dedicated N] [--low-priority M] [--timeout DUR] [--deallocation OPTION]"},
		{args: []string{"pool", "help"}, code: 0, stdout: "corral pool stop-resize ID\n"},
		{args: []string{"help"}, code: 0, stdout: "(create, list, show, resize, stop-resize, autoscale, evaluate,\n            remove-nodes, history, counts)"},
		{args: []string{"pool", "resize", "--help"}, code: 0, stdout: "taskcompletion  let them finish"},
		{args: []string{"pool", "stop-resize", "--help"}, code: 0, stdout: "usage: corral pool stop-resize ID"},
		{args: []string{"pool", "resize", "p1"}, code: 2,
			stderrIn: "corral pool resize: give --dedicated N, --low-priority M or both\nusage: corral pool resize ID"},
		{args: []string{"pool", "stop-resize"}, code: 2, stderrIn: "corral pool stop-resize: missing the pool id"},
	}
	checkRuns(t, tests)
}

// TestPoolResizeAgainstServer drives `pool resize` and `pool stop-resize` against a real server
// whose nodes are local agent processes: the pool grows to its new target, stops, and shrinks.
func TestPoolResizeAgainstServer(t *testing.T) {
	ts := startTestServer(t)
	ts.mustCLI(t, []string{"pool", "create", "r", "--nodes", "0"}, "created pool r: 0 nodes")

	ts.mustCLI(t, []string{"pool", "resize", "r", "--dedicated", "2", "--timeout", "10m"},
		"resizing pool r to 2 dedicated and 0 low-priority nodes")
	ts.until(t, []string{"pool", "show", "r"}, "allocation steady", "nodes:        2/2")
	ts.mustCLI(t, []string{"pool", "stop-resize", "r"}, "stopping the resize of pool r")
	ts.mustCLI(t, []string{"pool", "resize", "r", "--dedicated", "0", "--deallocation", "terminate"},
		"resizing pool r to 0 dedicated and 0 low-priority nodes")
	ts.until(t, []string{"pool", "show", "r"}, "allocation steady", "nodes:        0/0")

	if code, _, errOut := ts.cli(t, "pool", "resize", "nope", "--dedicated", "1"); code != 1 || !strings.Contains(errOut, "PoolNotFound") {
		t.Errorf("resize of a missing pool: exit %d, stderr %q", code, errOut)
	}
}
