package rest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"corral/actor"
	"corral/api"
	"corral/api/bearer"
	"corral/api/rest"
	"corral/api/sharedkey"
	"corral/batch"
	"corral/compute"
	"corral/service"
	"corral/service/model"
	"corral/store"
	"corral/store/sqlite"
)

const account = "corral"

var (
	primaryKey   = []byte("primary key of the corral test account")
	secondaryKey = []byte("secondary key of the corral test account")
)

// env is the whole service behind the REST API: a production engine, a SQLite store in a
// temporary directory, the service on host "service", a provider model (its nodes run agent
// models) on host "cloud", and the API on a loopback httptest server.
type env struct {
	rest *rest.Server
	t    *testing.T
	eng  *actor.Engine
	st   store.Store
	srv  *httptest.Server
	base string
}

type envOptions struct {
	requestTimeout time.Duration
	files          rest.FileSource                   // nil: the task file operations answer 501
	users          rest.NodeUsers                    // nil: the node user operations answer 501
	logs           rest.NodeLogs                     // nil: Upload Batch Service Logs answers 501
	evict          func(poolID, nodeID string) error // nil: evict answers 501
	joins          rest.Joins                        // nil: the join extensions answer 501
	bearer         *bearer.Verifier                  // nil: bearer tokens are refused
	clock          actor.Clock                       // the service's clock; nil: the real one
	deleteChunk    int                               // service.Config.DeleteChunk
	reads          rest.Throttle                     // the bound on reads; zero: none
	// apiStore, if not nil, wraps the store that the API reads (the service's is the store).
	apiStore func(store.Store) store.Store
}

func newEnv(t *testing.T, opts envOptions) *env {
	t.Helper()
	eng := actor.NewEngine(actor.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: opts.clock})
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "corral.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	cfg := service.Config{Store: st, Timing: service.NodeTiming{CheckEvery: time.Second, LostAfter: time.Minute}, DeleteChunk: opts.deleteChunk}
	if err := eng.AddHost("cloud", func(h actor.Host) error {
		_, err := h.Create(string(compute.ProviderID), &model.Provider{AgentID: service.AgentID, SessionID: service.NodeSessionID})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := eng.AddHost("service", func(h actor.Host) error { return service.Boot(h, cfg) }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Stop every actor that has timers, so that no goroutine outlives the test; then check
		// that no actor failed.
		for _, h := range []string{"service", "cloud"} {
			if err := eng.CrashHost(h); err != nil && !strings.Contains(err.Error(), "already down") {
				t.Errorf("crash %s: %v", h, err)
			}
		}
		for _, f := range eng.Failures() {
			t.Errorf("actor failed: %v", f)
		}
	})
	apiStore := store.Store(st)
	if opts.apiStore != nil {
		apiStore = opts.apiStore(st)
	}
	rs, err := rest.New(rest.Config{
		Runtime: eng, Store: apiStore, Account: account, Keys: [][]byte{primaryKey, secondaryKey},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), RequestTimeout: opts.requestTimeout, Files: opts.files, Users: opts.users,
		Logs:   opts.logs,
		Evict:  opts.evict,
		Joins:  opts.joins,
		Bearer: opts.bearer,
		Reads:  opts.reads,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rs)
	t.Cleanup(srv.Close)
	return &env{t: t, eng: eng, st: st, srv: srv, base: srv.URL, rest: rs}
}

// response is what a request got back.
type response struct {
	status int
	header http.Header
	body   []byte
}

// errorBody is Azure's error body.
type errorBody struct {
	Metadata string `json:"odata.metadata"`
	Code     string `json:"code"`
	Message  struct {
		Lang  string `json:"lang"`
		Value string `json:"value"`
	} `json:"message"`
	Values []api.ErrorValue `json:"values"`
}

func (r response) errorBody(t *testing.T) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(r.body, &e); err != nil {
		t.Fatalf("error body %q: %v", r.body, err)
	}
	return e
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
}

// send sends req and reads the whole answer.
func (e *env) send(req *http.Request) response {
	e.t.Helper()
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

// newRequest builds a request signed with the primary key; header is added before signing.
func (e *env) newRequest(method, path string, query url.Values, body any, header http.Header) *http.Request {
	e.t.Helper()
	req, err := api.NewRequest(method, e.base, path, query, body, account, primaryKey, time.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	if len(header) > 0 {
		for k, vs := range header {
			req.Header[k] = vs
		}
		if err := sharedkey.Sign(req, account, primaryKey); err != nil {
			e.t.Fatal(err)
		}
	}
	return req
}

func (e *env) do(method, path string, query url.Values, body any) response {
	e.t.Helper()
	return e.send(e.newRequest(method, path, query, body, nil))
}

// follow sends a signed GET to an absolute URL (an odata.nextLink).
func (e *env) follow(link string) response {
	e.t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(http.MethodGet, u.Path, u.Query(), nil)
}

// want fails unless r has the status and, for an error, Azure's error body with code.
func want(t *testing.T, r response, status int, code string) errorBody {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
	if code == "" {
		return errorBody{}
	}
	eb := r.errorBody(t)
	if eb.Code != code {
		t.Fatalf("code = %q, want %q; body %s", eb.Code, code, r.body)
	}
	if !strings.HasSuffix(eb.Metadata, "/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element") ||
		eb.Message.Lang != "en-US" || !strings.Contains(eb.Message.Value, "\nRequestId:"+r.header.Get("request-id")+"\n") {
		t.Fatalf("error body not in Azure's shape: %s", r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != api.ContentTypeJSON {
		t.Errorf("Content-Type = %q", ct)
	}
	return eb
}

func value(eb errorBody, key string) string {
	for _, v := range eb.Values {
		if v.Key == key {
			return v.Value
		}
	}
	return ""
}

// eventually polls check until it returns "" or the deadline passes.
func eventually(t *testing.T, what string, check func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s", what, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// idle waits until no actor has work.
func (e *env) idle() {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.eng.WaitIdle(ctx); err != nil {
		e.t.Fatalf("engine never idle: %v", err)
	}
}

func pool(id string, nodes int32) batch.Pool {
	return batch.Pool{ID: id, VMSize: "local", TargetDedicatedNodes: batch.Ptr(nodes), TaskSlotsPerNode: batch.Ptr(int32(2))}
}

func job(id, poolID string, deps bool) batch.Job {
	return batch.Job{ID: id, PoolInfo: batch.PoolInformation{PoolID: poolID}, UsesTaskDependencies: batch.Ptr(deps)}
}

func task(id string, deps ...string) batch.Task {
	t := batch.Task{ID: id, CommandLine: "/bin/sh -c 'echo " + id + " && true'"}
	if len(deps) > 0 {
		t.DependsOn = &batch.TaskDependencies{TaskIDs: deps}
	}
	return t
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// created checks a 201 (or another bodiless write answer) and returns its ETag.
func created(t *testing.T, r response, status int, location string) string {
	t.Helper()
	want(t, r, status, "")
	if got := r.header.Get("DataServiceId"); got != location {
		t.Errorf("DataServiceId = %q, want %q", got, location)
	}
	if r.header.Get("ETag") == "" {
		t.Errorf("no ETag")
	}
	if _, err := http.ParseTime(r.header.Get("Last-Modified")); err != nil {
		t.Errorf("Last-Modified %q: %v", r.header.Get("Last-Modified"), err)
	}
	if id := r.header.Get("request-id"); !uuidRE.MatchString(id) {
		t.Errorf("request-id = %q", id)
	}
	if len(r.body) != 0 {
		t.Errorf("body = %q, want none", r.body)
	}
	return r.header.Get("ETag")
}

func TestPools(t *testing.T) {
	e := newEnv(t, envOptions{})
	added := e.do("POST", "/pools", nil, pool("p1", 0))
	created(t, added, http.StatusCreated, e.base+"/pools/p1")

	// Azure's answer to a second add, whatever the case of the id.
	again := pool("P1", 0)
	want(t, e.do("POST", "/pools", nil, again), http.StatusConflict, api.CodePoolExists)

	e.idle() // the pool manager has started
	r := e.do("GET", "/pools/p1", nil, nil)
	want(t, r, http.StatusOK, "")
	var p struct {
		Metadata string `json:"odata.metadata"`
		batch.Pool
	}
	r.decode(t, &p)
	if p.ID != "p1" || p.URL != e.base+"/pools/p1" || p.State != batch.PoolActive || p.ETag == "" ||
		p.ETag != r.header.Get("ETag") || p.Metadata != e.base+"/$metadata#pools/@Element" {
		t.Fatalf("pool = %+v, ETag header %q", p, r.header.Get("ETag"))
	}
	// The pool manager's start changes nothing a client sees: the ETag of the add still holds.
	if got := added.header.Get("ETag"); got != p.ETag {
		t.Errorf("ETag changed without a change to the pool: add said %q, get says %q", got, p.ETag)
	}
	if lm, err := http.ParseTime(r.header.Get("Last-Modified")); err != nil || !lm.Equal(p.LastModified.Truncate(time.Second)) {
		t.Errorf("Last-Modified = %q (%v), pool's lastModified %v", r.header.Get("Last-Modified"), err, p.LastModified)
	}

	// Conditional GETs.
	for _, tt := range []struct {
		header http.Header
		status int
	}{
		{http.Header{"If-None-Match": {p.ETag}}, http.StatusNotModified},
		{http.Header{"If-None-Match": {"0x7777"}}, http.StatusOK},
		{http.Header{"If-Match": {p.ETag}}, http.StatusOK},
		{http.Header{"If-Match": {`"0x7777"`}}, http.StatusPreconditionFailed},
		{http.Header{"If-Modified-Since": {p.LastModified.UTC().Format(http.TimeFormat)}}, http.StatusNotModified},
	} {
		r := e.send(e.newRequest("GET", "/pools/p1", nil, nil, tt.header))
		if r.status != tt.status {
			t.Errorf("GET with %v = %d, want %d", tt.header, r.status, tt.status)
		}
		if r.status == http.StatusNotModified && (len(r.body) != 0 || r.header.Get("ETag") != p.ETag) {
			t.Errorf("304: body %q, ETag %q", r.body, r.header.Get("ETag"))
		}
	}

	// Pool - Exists is HEAD.
	if r := e.do("HEAD", "/pools/P1", nil, nil); r.status != http.StatusOK || len(r.body) != 0 {
		t.Errorf("HEAD existing pool = %d %q", r.status, r.body)
	}
	if r := e.do("HEAD", "/pools/nope", nil, nil); r.status != http.StatusNotFound {
		t.Errorf("HEAD missing pool = %d", r.status)
	}

	// client-request-id comes back only when asked for.
	hdr := http.Header{"Client-Request-Id": {"9C4D50EE-2D56-4CD3-8152-34347DC9F2B0"}}
	if got := e.send(e.newRequest("GET", "/pools/p1", nil, nil, hdr)).header.Get("client-request-id"); got != "" {
		t.Errorf("client-request-id echoed without return-client-request-id: %q", got)
	}
	hdr.Set("Return-Client-Request-Id", "true")
	if got := e.send(e.newRequest("GET", "/pools/p1", nil, nil, hdr)).header.Get("client-request-id"); got != "9C4D50EE-2D56-4CD3-8152-34347DC9F2B0" {
		t.Errorf("client-request-id = %q", got)
	}

	// The oldest api-version is served too, and a list holds the pool.
	r = e.do("GET", "/pools", url.Values{"api-version": {api.OldestAPIVersion}}, nil)
	want(t, r, http.StatusOK, "")
	var list api.Page[batch.Pool]
	r.decode(t, &list)
	if list.Metadata != e.base+"/$metadata#pools" || len(list.Value) != 1 || list.Value[0].URL != e.base+"/pools/p1" || list.NextLink != "" {
		t.Errorf("pool list = %s", r.body)
	}
}

func TestNodesAndTasksRun(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("run", 2)), http.StatusCreated, e.base+"/pools/run")

	var nodes api.Page[batch.Node]
	eventually(t, "two idle nodes", func() string {
		r := e.do("GET", "/pools/run/nodes", nil, nil)
		if r.status != http.StatusOK {
			return fmt.Sprintf("status %d", r.status)
		}
		nodes = api.Page[batch.Node]{}
		r.decode(t, &nodes)
		if len(nodes.Value) != 2 || nodes.Value[0].State != batch.NodeIdle || nodes.Value[1].State != batch.NodeIdle {
			return string(r.body)
		}
		return ""
	})
	n := nodes.Value[1]
	if n.URL != e.base+"/pools/run/nodes/"+n.ID {
		t.Errorf("node url = %q", n.URL)
	}
	// Paging over nodes.
	r := e.do("GET", "/pools/run/nodes", url.Values{"maxresults": {"1"}}, nil)
	var page api.Page[batch.Node]
	r.decode(t, &page)
	if len(page.Value) != 1 || page.NextLink == "" {
		t.Fatalf("first page of nodes = %s", r.body)
	}
	page = api.Page[batch.Node]{}
	e.follow(r.nextLink(t)).decode(t, &page)
	if len(page.Value) != 1 || page.Value[0].ID != n.ID || page.NextLink != "" {
		t.Errorf("second page of nodes = %+v", page)
	}
	r = e.do("GET", "/pools/run/nodes/"+n.ID, nil, nil)
	want(t, r, http.StatusOK, "")
	var got batch.Node
	r.decode(t, &got)
	if got.ID != n.ID || got.URL != n.URL {
		t.Errorf("node = %s", r.body)
	}
	want(t, e.do("GET", "/pools/run/nodes/nope", nil, nil), http.StatusNotFound, api.CodeNodeNotFound)
	want(t, e.do("GET", "/pools/nope/nodes", nil, nil), http.StatusNotFound, api.CodePoolNotFound)

	// A job whose tasks run on the pool's nodes (agent models). (Its onAllTasksComplete stays
	// noaction: with terminatejob, a job completes as soon as it has no task left to run, at once
	// when it has none yet, as Azure documents.)
	created(t, e.do("POST", "/jobs", nil, job("dag", "run", true)), http.StatusCreated, e.base+"/jobs/dag")
	r = e.do("POST", "/jobs/dag/addtaskcollection", nil, map[string]any{"value": []batch.Task{task("a"), task("b", "a"), task("c", "a", "b")}})
	want(t, r, http.StatusOK, "")
	eventually(t, "all tasks completed", func() string {
		var c batch.TaskCountsResult
		e.do("GET", "/jobs/dag/taskcounts", nil, nil).decode(t, &c)
		if c.TaskCounts.Completed != 3 {
			return fmt.Sprintf("%+v", c.TaskCounts)
		}
		return ""
	})
	var tasks api.Page[batch.Task]
	e.do("GET", "/jobs/dag/tasks", nil, nil).decode(t, &tasks)
	for _, tk := range tasks.Value {
		x := tk.ExecutionInfo
		if tk.State != batch.TaskCompleted || x == nil || x.ExitCode == nil || *x.ExitCode != 0 || x.Result != batch.ResultSuccess ||
			tk.NodeInfo == nil || tk.NodeInfo.NodeURL != e.base+"/pools/run/nodes/"+tk.NodeInfo.NodeID {
			t.Errorf("task %s = %+v, executionInfo %+v, nodeInfo %+v", tk.ID, tk, x, tk.NodeInfo)
		}
	}
	var counts batch.TaskCountsResult
	r = e.do("GET", "/jobs/dag/taskcounts", nil, nil)
	want(t, r, http.StatusOK, "")
	r.decode(t, &counts)
	if c := counts.TaskCounts; c != (batch.TaskCounts{Completed: 3, Succeeded: 3}) {
		t.Errorf("task counts = %s", r.body)
	}

	// The account's lifetime statistics count the three tasks, and go on counting them once
	// their job is deleted.
	lifetime := func() batch.JobStatistics {
		t.Helper()
		var st struct {
			Metadata string `json:"odata.metadata"`
			batch.JobStatistics
		}
		r := e.do("GET", "/lifetimejobstats", nil, nil)
		want(t, r, http.StatusOK, "")
		r.decode(t, &st)
		if st.Metadata != e.base+"/$metadata#jobstats/@Element" || st.URL != e.base+"/lifetimejobstats" || st.StartTime.After(st.LastUpdateTime) {
			t.Errorf("lifetime statistics = %s", r.body)
		}
		return st.JobStatistics
	}
	if st := lifetime(); st.NumSucceededTasks != 3 || st.NumFailedTasks != 0 || st.NumTaskRetries != 0 {
		t.Errorf("lifetime statistics = %+v, want 3 tasks succeeded", st)
	}
	want(t, e.do("DELETE", "/jobs/dag", nil, nil), http.StatusAccepted, "")
	eventually(t, "job deleted", func() string {
		if r := e.do("GET", "/jobs/dag", nil, nil); r.status != http.StatusNotFound {
			return fmt.Sprint(r.status)
		}
		return ""
	})
	if st := lifetime(); st.NumSucceededTasks != 3 {
		t.Errorf("lifetime statistics after the job's deletion = %+v, want 3 tasks succeeded", st)
	}
}

func (r response) nextLink(t *testing.T) string {
	t.Helper()
	var p struct {
		NextLink string `json:"odata.nextLink"`
	}
	r.decode(t, &p)
	return p.NextLink
}

func TestJobsAndTasks(t *testing.T) {
	e := newEnv(t, envOptions{})
	// A pool without nodes: tasks stay active until terminated.
	created(t, e.do("POST", "/pools", nil, pool("idle", 0)), http.StatusCreated, e.base+"/pools/idle")
	created(t, e.do("POST", "/jobs", nil, job("plain", "idle", false)), http.StatusCreated, e.base+"/jobs/plain")
	created(t, e.do("POST", "/jobs", nil, job("deps", "idle", true)), http.StatusCreated, e.base+"/jobs/deps")
	want(t, e.do("POST", "/jobs", nil, job("PLAIN", "idle", false)), http.StatusConflict, api.CodeJobExists)

	r := e.do("GET", "/jobs/plain", nil, nil)
	want(t, r, http.StatusOK, "")
	var j batch.Job
	r.decode(t, &j)
	if j.URL != e.base+"/jobs/plain" || j.State != batch.JobActive || j.ETag != r.header.Get("ETag") {
		t.Errorf("job = %s", r.body)
	}

	// One task at a time.
	created(t, e.do("POST", "/jobs/plain/tasks", nil, task("t0")), http.StatusCreated, e.base+"/jobs/plain/tasks/t0")
	want(t, e.do("POST", "/jobs/plain/tasks", nil, task("T0")), http.StatusConflict, api.CodeTaskExists)
	eb := want(t, e.do("POST", "/jobs/plain/tasks", nil, task("t1", "t0")), http.StatusBadRequest, api.CodeTaskDependenciesNotSpecifiedOnJob)
	if value(eb, "PropertyName") != "dependsOn" {
		t.Errorf("values = %+v", eb.Values)
	}
	created(t, e.do("POST", "/jobs/deps/tasks", nil, task("t1", "t0")), http.StatusCreated, e.base+"/jobs/deps/tasks/t1")

	// A collection with good and bad tasks: one result each, in order.
	coll := []batch.Task{task("t2"), task("bad id"), task("t0"), task("t3", "t0"), {ID: "t4"}, task("t2"), task("t5")}
	r = e.do("POST", "/jobs/plain/addtaskcollection", nil, map[string]any{"value": coll})
	want(t, r, http.StatusOK, "")
	var results struct {
		Metadata string               `json:"odata.metadata"`
		Value    []rest.TaskAddResult `json:"value"`
	}
	r.decode(t, &results)
	wantResults := []struct {
		status, code string
	}{
		{rest.TaskAddSuccess, ""},
		{rest.TaskAddClientError, api.CodeInvalidPropertyValue},
		{rest.TaskAddClientError, api.CodeTaskExists},
		{rest.TaskAddClientError, api.CodeTaskDependenciesNotSpecifiedOnJob},
		{rest.TaskAddClientError, api.CodeMissingRequiredProperty},
		{rest.TaskAddClientError, api.CodeTaskExists}, // the second t2 of the request
		{rest.TaskAddSuccess, ""},
	}
	if len(results.Value) != len(wantResults) {
		t.Fatalf("results = %s", r.body)
	}
	for i, w := range wantResults {
		got := results.Value[i]
		if got.TaskID != coll[i].ID || got.Status != w.status {
			t.Errorf("result %d = %+v, want task %s status %s", i, got, coll[i].ID, w.status)
			continue
		}
		if w.status == rest.TaskAddSuccess {
			if got.ETag == "" || got.LastModified.IsZero() || got.Location != e.base+"/jobs/plain/tasks/"+got.TaskID || got.Error != nil {
				t.Errorf("result %d = %+v", i, got)
			}
			// The pool has no nodes: the task is as added, and Task - Get shows the same.
			var added batch.Task
			r := e.do("GET", "/jobs/plain/tasks/"+got.TaskID, nil, nil)
			want(t, r, http.StatusOK, "")
			r.decode(t, &added)
			if added.ETag != got.ETag || !added.LastModified.Equal(got.LastModified) {
				t.Errorf("task %s: the add answered eTag %s, lastModified %v; Task - Get shows %s, %v",
					got.TaskID, got.ETag, got.LastModified, added.ETag, added.LastModified)
			}
		} else if got.Error == nil || got.Error.Code != w.code || got.Error.Message.Lang != "en-US" || got.ETag != "" || got.Location != "" {
			t.Errorf("result %d = %+v (error %+v), want code %s", i, got, got.Error, w.code)
		}
	}
	if !strings.Contains(string(r.body), `"status":"clienterror"`) {
		t.Errorf("status spelling: %s", r.body)
	}

	// More tasks, then list them two at a time.
	var more []batch.Task
	for i := 6; i < 11; i++ {
		more = append(more, task(fmt.Sprintf("t%d", i)))
	}
	want(t, e.do("POST", "/jobs/plain/addtaskcollection", nil, map[string]any{"value": more}), http.StatusOK, "")
	all := []string{"t0", "t10", "t2", "t5", "t6", "t7", "t8", "t9"} // in id order
	var seen []string
	r = e.do("GET", "/jobs/plain/tasks", url.Values{"maxresults": {"2"}}, nil)
	for pages := 1; ; pages++ {
		want(t, r, http.StatusOK, "")
		var page api.Page[batch.Task]
		r.decode(t, &page)
		if len(page.Value) > 2 || page.Metadata != e.base+"/$metadata#tasks" {
			t.Fatalf("page %d = %s", pages, r.body)
		}
		for _, tk := range page.Value {
			seen = append(seen, tk.ID)
			if tk.URL != e.base+"/jobs/plain/tasks/"+tk.ID || tk.State != batch.TaskActive {
				t.Errorf("task = %+v", tk)
			}
		}
		if page.NextLink == "" {
			break
		}
		if !strings.Contains(page.NextLink, "maxresults=2") || !strings.Contains(page.NextLink, "$skiptoken=") {
			t.Fatalf("nextLink = %s", page.NextLink)
		}
		if pages > len(all) {
			t.Fatalf("paging does not end: %v", seen)
		}
		r = e.follow(page.NextLink)
	}
	if !slices.Equal(seen, all) {
		t.Errorf("listed %v, want %v", seen, all)
	}

	r = e.do("GET", "/jobs/plain/taskcounts", nil, nil)
	want(t, r, http.StatusOK, "")
	var counts batch.TaskCountsResult
	r.decode(t, &counts)
	if counts.TaskCounts != (batch.TaskCounts{Active: int32(len(all))}) || counts.TaskSlotCounts.Active != int32(len(all)) {
		t.Errorf("task counts = %s", r.body)
	}

	// Task - Get, and Task - Terminate with a condition that fails, then without.
	r = e.do("GET", "/jobs/plain/tasks/t5", nil, nil)
	want(t, r, http.StatusOK, "")
	var t5 batch.Task
	r.decode(t, &t5)
	if t5.ID != "t5" || t5.ETag == "" || t5.ETag != r.header.Get("ETag") || t5.URL != e.base+"/jobs/plain/tasks/t5" {
		t.Fatalf("task = %s", r.body)
	}
	r = e.send(e.newRequest("POST", "/jobs/plain/tasks/t5/terminate", nil, nil, http.Header{"If-Match": {"0x1"}}))
	want(t, r, http.StatusPreconditionFailed, api.CodeConditionNotMet)
	r = e.send(e.newRequest("POST", "/jobs/plain/tasks/t5/terminate", nil, nil, http.Header{"If-Match": {t5.ETag}}))
	created(t, r, http.StatusNoContent, e.base+"/jobs/plain/tasks/t5")
	eventually(t, "t5 completed", func() string {
		var tk batch.Task
		e.do("GET", "/jobs/plain/tasks/t5", nil, nil).decode(t, &tk)
		if tk.State != batch.TaskCompleted {
			return string(tk.State)
		}
		return ""
	})
	want(t, e.do("POST", "/jobs/plain/tasks/nope/terminate", nil, nil), http.StatusNotFound, api.CodeTaskNotFound)

	// Job - Terminate, with a reason.
	r = e.do("POST", "/jobs/plain/terminate", nil, map[string]string{"terminateReason": "enough"})
	created(t, r, http.StatusAccepted, e.base+"/jobs/plain")
	eventually(t, "job completed", func() string {
		var got batch.Job
		e.do("GET", "/jobs/plain", nil, nil).decode(t, &got)
		if got.State != batch.JobCompleted || got.ExecutionInfo == nil || got.ExecutionInfo.TerminateReason != "enough" {
			return fmt.Sprintf("%s %+v", got.State, got.ExecutionInfo)
		}
		return ""
	})
	// As on Azure, the tasks that waited for a node stay active (this pool has none): only t5,
	// terminated before, is completed.
	e.do("GET", "/jobs/plain/taskcounts", nil, nil).decode(t, &counts)
	if counts.TaskCounts.Completed != 1 || counts.TaskCounts.Active != int32(len(all)-1) {
		t.Errorf("task counts after terminate = %+v, want %d active and 1 completed", counts, len(all)-1)
	}
	want(t, e.do("POST", "/jobs/plain/terminate", nil, nil), http.StatusConflict, api.CodeJobCompleted)
	want(t, e.do("POST", "/jobs/plain/tasks", nil, task("late")), http.StatusConflict, api.CodeJobCompleted)

	// Job - List.
	r = e.do("GET", "/jobs", url.Values{"maxresults": {"1"}}, nil)
	var jobs api.Page[batch.Job]
	r.decode(t, &jobs)
	if len(jobs.Value) != 1 || jobs.Value[0].ID != "deps" || jobs.NextLink == "" {
		t.Fatalf("jobs page 1 = %s", r.body)
	}
	jobs = api.Page[batch.Job]{}
	e.follow(r.nextLink(t)).decode(t, &jobs)
	if len(jobs.Value) != 1 || jobs.Value[0].ID != "plain" || jobs.Value[0].URL != e.base+"/jobs/plain" || jobs.NextLink != "" {
		t.Fatalf("jobs page 2 = %+v", jobs)
	}
}

func TestRequestErrors(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("p1", 0)), http.StatusCreated, e.base+"/pools/p1")
	created(t, e.do("POST", "/jobs", nil, job("j1", "p1", false)), http.StatusCreated, e.base+"/jobs/j1")

	signed := func(method, path string, query url.Values, body any) func() *http.Request {
		return func() *http.Request { return e.newRequest(method, path, query, body, nil) }
	}
	resign := func(req *http.Request) *http.Request {
		req.Header.Del("Authorization")
		if err := sharedkey.Sign(req, account, primaryKey); err != nil {
			t.Fatal(err)
		}
		return req
	}
	tests := []struct {
		name   string
		req    func() *http.Request
		status int
		code   string
		values map[string]string
	}{
		{"bad JSON", signed("POST", "/pools", nil, `{"id": "p2", "vmSize": `), 400, api.CodeInvalidRequestBody, nil},
		{"trailing data", signed("POST", "/pools", nil, `{"id":"p2","vmSize":"x","targetDedicatedNodes":0} {}`), 400, api.CodeInvalidRequestBody, nil},
		{"empty body", signed("POST", "/pools", nil, ""), 400, api.CodeInvalidRequestBody, nil},
		{"wrong type", signed("POST", "/pools", nil, `{"id":"p2","vmSize":"x","targetDedicatedNodes":"two"}`),
			400, api.CodeInvalidRequestBody, map[string]string{"PropertyName": "targetDedicatedNodes"}},
		{"bad pool id", signed("POST", "/pools", nil, pool("no/slash", 0)), 400, api.CodeInvalidPropertyValue, map[string]string{"PropertyName": "id"}},
		{"pool id too long", signed("POST", "/pools", nil, pool(strings.Repeat("p", 65), 0)), 400, api.CodeInvalidPropertyValue, nil},
		{"no vmSize", signed("POST", "/pools", nil, batch.Pool{ID: "p2", TargetDedicatedNodes: batch.Ptr(int32(0))}),
			400, api.CodeMissingRequiredProperty, map[string]string{"PropertyName": "vmSize"}},
		{"wrong Content-Type", func() *http.Request {
			req := e.newRequest("POST", "/pools", nil, pool("p2", 0), nil)
			req.Header.Set("Content-Type", "text/plain")
			return resign(req)
		}, 400, api.CodeInvalidHeaderValue, map[string]string{"HeaderName": "Content-Type"}},
		{"oversized body", signed("POST", "/pools", nil, bytes.Repeat([]byte(" "), api.DefaultMaxBodyBytes+1)), 413, api.CodeRequestBodyTooLarge, nil},
		{"unsigned", func() *http.Request {
			req := e.newRequest("GET", "/pools", nil, nil, nil)
			req.Header.Del("Authorization")
			return req
		}, 403, api.CodeAuthenticationFailed, nil},
		{"wrong key", func() *http.Request {
			req, err := api.NewRequest("GET", e.base, "/pools", nil, nil, account, []byte("not the key"), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			return req
		}, 403, api.CodeAuthenticationFailed, nil},
		{"secondary key", func() *http.Request {
			req, err := api.NewRequest("GET", e.base, "/pools/p1", nil, nil, account, secondaryKey, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			return req
		}, 200, "", nil},
		{"other account", func() *http.Request {
			req, err := api.NewRequest("GET", e.base, "/pools", nil, nil, "other", primaryKey, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			return req
		}, 403, api.CodeAuthenticationFailed, nil},
		{"stale date", func() *http.Request {
			req, err := api.NewRequest("GET", e.base, "/pools", nil, nil, account, primaryKey, time.Now().Add(-time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			return req
		}, 403, api.CodeAuthenticationFailed, nil},
		{"bearer token", func() *http.Request {
			req := e.newRequest("GET", "/pools", nil, nil, nil)
			req.Header.Set("Authorization", "Bearer eyJ0eXAi")
			return req
		}, 401, api.CodeAuthenticationFailed, nil},
		{"no api-version", func() *http.Request {
			req, err := http.NewRequest("GET", e.base+"/pools", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("ocp-date", time.Now().UTC().Format(http.TimeFormat))
			return resign(req)
		}, 400, api.CodeMissingRequiredQueryParameter, map[string]string{"QueryParameterName": "api-version"}},
		{"old api-version", signed("GET", "/pools", url.Values{"api-version": {"2021-06-01.14.0"}}, nil), 400, api.CodeUnsupportedRequestVersion, nil},
		{"maxresults out of range", signed("GET", "/jobs", url.Values{"maxresults": {"1001"}}, nil), 400, api.CodeOutOfRangeQueryParameterValue, nil},
		{"maxresults not a number", signed("GET", "/jobs/j1/tasks", url.Values{"maxresults": {"many"}}, nil), 400, api.CodeInvalidQueryParameterValue, nil},
		{"bad skiptoken", signed("GET", "/pools", url.Values{"$skiptoken": {"!!"}}, nil), 400, api.CodeInvalidQueryParameterValue, nil},
		{"skiptoken not an id", signed("GET", "/pools", url.Values{"$skiptoken": {api.EncodeSkipToken("a/b")}}, nil), 400, api.CodeInvalidQueryParameterValue, nil},
		{"bad timeout", signed("GET", "/pools", url.Values{"timeout": {"0"}}, nil), 400, api.CodeOutOfRangeQueryParameterValue, nil},
		{"$select of an unknown property", signed("GET", "/pools", url.Values{"$select": {"id,colour"}}, nil), 400, api.CodeInvalidQueryParameterValue,
			map[string]string{"QueryParameterName": "$select", "QueryParameterValue": "id,colour"}},
		{"$filter on an unfilterable property", signed("GET", "/jobs/j1/tasks", url.Values{"$filter": {"commandLine eq 'x'"}}, nil), 400, api.CodeInvalidQueryParameterValue,
			map[string]string{"QueryParameterName": "$filter", "QueryParameterValue": "commandLine eq 'x'"}},
		{"malformed $filter", signed("GET", "/jobs", url.Values{"$filter": {"state eq"}}, nil), 400, api.CodeInvalidQueryParameterValue,
			map[string]string{"QueryParameterName": "$filter"}},
		{"$filter of the wrong type", signed("GET", "/pools/p1/nodes", url.Values{"$filter": {"state eq 5"}}, nil), 400, api.CodeInvalidQueryParameterValue,
			map[string]string{"QueryParameterName": "$filter"}},
		{"$filter on node counts", signed("GET", "/nodecounts", url.Values{"$filter": {"poolId eq 'p1'"}}, nil), 400, api.CodeUnsupportedQueryParameter,
			map[string]string{"QueryParameterName": "$filter"}},
		{"$filter on a get", signed("GET", "/jobs/j1", url.Values{"$filter": {"id eq 'j1'"}}, nil), 400, api.CodeUnsupportedQueryParameter,
			map[string]string{"QueryParameterName": "$filter"}},
		{"$expand on a get that expands nothing", signed("GET", "/pools/p1/nodes/n1", url.Values{"$expand": {"stats"}}, nil), 400, api.CodeUnsupportedQueryParameter,
			map[string]string{"QueryParameterName": "$expand"}},
		{"$expand on a node", signed("GET", "/pools/p1/nodes", url.Values{"$expand": {"stats"}}, nil), 400, api.CodeUnsupportedQueryParameter,
			map[string]string{"QueryParameterName": "$expand"}},
		{"$expand of what a pool does not have", signed("GET", "/pools", url.Values{"$expand": {"metadata"}}, nil), 400, api.CodeInvalidQueryParameterValue,
			map[string]string{"QueryParameterName": "$expand", "QueryParameterValue": "metadata"}},
		{"$expand of what a task does not have", signed("GET", "/jobs/j1/tasks/t", url.Values{"$expand": {"stats,metadata"}}, nil), 400, api.CodeInvalidQueryParameterValue,
			map[string]string{"QueryParameterName": "$expand", "QueryParameterValue": "metadata"}},
		{"$expand of what a job does not have", signed("GET", "/jobs", url.Values{"$expand": {"tasks"}}, nil), 400, api.CodeInvalidQueryParameterValue,
			map[string]string{"QueryParameterName": "$expand", "QueryParameterValue": "tasks"}},
		{"usage metrics ending before they start", signed("GET", "/poolusagemetrics", url.Values{"starttime": {"2030-01-01T05:00:00Z"}, "endtime": {"2030-01-01T04:00:00Z"}}, nil), 400, api.CodeInvalidQueryParameterValue,
			map[string]string{"QueryParameterName": "endtime"}},
		{"usage metrics from a time that is not one", signed("GET", "/poolusagemetrics", url.Values{"starttime": {"yesterday"}}, nil), 400, api.CodeInvalidQueryParameterValue,
			map[string]string{"QueryParameterName": "starttime", "QueryParameterValue": "yesterday"}},
		{"usage metrics filtered on what they do not have", signed("GET", "/poolusagemetrics", url.Values{"$filter": {"state eq 'active'"}}, nil), 400, api.CodeInvalidQueryParameterValue,
			map[string]string{"QueryParameterName": "$filter"}},
		{"$filter on task files", signed("GET", "/jobs/j1/tasks/t/files", url.Values{"$filter": {"name eq 'stdout.txt'"}}, nil), 400, api.CodeUnsupportedQueryParameter,
			map[string]string{"QueryParameterName": "$filter"}},
		{"missing pool", signed("GET", "/pools/nope", nil, nil), 404, api.CodePoolNotFound, nil},
		{"path id that cannot exist", signed("GET", "/pools/no pool", nil, nil), 404, api.CodePoolNotFound, nil},
		{"missing job", signed("GET", "/jobs/nope", nil, nil), 404, api.CodeJobNotFound, nil},
		{"missing task", signed("GET", "/jobs/j1/tasks/nope", nil, nil), 404, api.CodeTaskNotFound, nil},
		{"tasks of a missing job", signed("GET", "/jobs/nope/tasks", nil, nil), 404, api.CodeJobNotFound, nil},
		{"counts of a missing job", signed("GET", "/jobs/nope/taskcounts", nil, nil), 404, api.CodeJobNotFound, nil},
		{"task of a missing job", signed("GET", "/jobs/nope/tasks/t", nil, nil), 404, api.CodeJobNotFound, nil},
		{"add task to a missing job", signed("POST", "/jobs/nope/tasks", nil, task("t")), 404, api.CodeJobNotFound, nil},
		{"add tasks to a missing job", signed("POST", "/jobs/nope/addtaskcollection", nil, map[string]any{"value": []batch.Task{task("t")}}), 404, api.CodeJobNotFound, nil},
		{"terminate a missing job", signed("POST", "/jobs/nope/terminate", nil, nil), 404, api.CodeJobNotFound, nil},
		{"job on a bad pool id", signed("POST", "/jobs", nil, job("j2", "bad pool", false)), 400, api.CodeInvalidPropertyValue,
			map[string]string{"PropertyName": "poolInfo.poolId"}},
		{"job priority out of range", signed("POST", "/jobs", nil, batch.Job{ID: "j2", Priority: batch.Ptr(int32(5000)), PoolInfo: batch.PoolInformation{PoolID: "p1"}}),
			400, batch.CodeOutOfRangePriority, nil},
		{"task without commandLine", signed("POST", "/jobs/j1/tasks", nil, batch.Task{ID: "t"}), 400, api.CodeMissingRequiredProperty, nil},
		{"collection without value", signed("POST", "/jobs/j1/addtaskcollection", nil, map[string]any{}), 400, api.CodeMissingRequiredProperty, nil},
		{"empty collection", signed("POST", "/jobs/j1/addtaskcollection", nil, map[string]any{"value": []batch.Task{}}), 400, api.CodeInvalidPropertyValue, nil},
		{"101 tasks", signed("POST", "/jobs/j1/addtaskcollection", nil, map[string]any{"value": manyTasks(101)}), 413, api.CodeRequestBodyTooLarge, nil},
		{"terminate body of the wrong type", signed("POST", "/jobs/j1/terminate", nil, `{"terminateReason": 7}`), 400, api.CodeInvalidRequestBody, nil},
		{"terminate body with an unknown property", signed("POST", "/jobs/j1/terminate", nil, `{"terminateReason": "x", "force": true}`),
			400, api.CodeInvalidRequestBody, map[string]string{"PropertyName": "force"}},
		// Properties outside Azure's request models, at the top or nested, are refused by name.
		{"pool with an unknown property", signed("POST", "/pools", nil, `{"id":"p9","vmSize":"local","targetDedicatedNodes":0,"vmsize":"x"}`),
			400, api.CodeInvalidRequestBody, map[string]string{"PropertyName": "vmsize"}},
		{"pool with a read-only property", signed("POST", "/pools", nil, `{"id":"p9","vmSize":"local","targetDedicatedNodes":0,"currentDedicatedNodes":3}`),
			400, api.CodeInvalidRequestBody, map[string]string{"PropertyName": "currentDedicatedNodes"}},
		{"job with a read-only property", signed("POST", "/jobs", nil, `{"id":"j9","poolInfo":{"poolId":"p1"},"state":"completed"}`),
			400, api.CodeInvalidRequestBody, map[string]string{"PropertyName": "state"}},
		{"job with an unknown nested property", signed("POST", "/jobs", nil, `{"id":"j9","poolInfo":{"poolId":"p1","keepAlive":true}}`),
			400, api.CodeInvalidRequestBody, map[string]string{"PropertyName": "keepAlive"}},
		{"task with a read-only property", signed("POST", "/jobs/j1/tasks", nil, `{"id":"t9","commandLine":"x","executionInfo":{"exitCode":0}}`),
			400, api.CodeInvalidRequestBody, map[string]string{"PropertyName": "executionInfo"}},
		// stats is shown with $expand=stats and is no request property (the request models
		// leave it out): a body that sends it is refused, naming it.
		{"job with its stats", signed("POST", "/jobs", nil, `{"id":"j9","poolInfo":{"poolId":"p1"},"stats":{"numSucceededTasks":1}}`),
			400, api.CodeInvalidRequestBody, map[string]string{"PropertyName": "stats"}},
		{"task with its stats", signed("POST", "/jobs/j1/tasks", nil, `{"id":"t9","commandLine":"x","stats":{"wallClockTime":"PT1S"}}`),
			400, api.CodeInvalidRequestBody, map[string]string{"PropertyName": "stats"}},
		{"collection entry with its stats", signed("POST", "/jobs/j1/addtaskcollection", nil, `{"value":[{"id":"t9","commandLine":"x","stats":null}]}`),
			400, api.CodeInvalidRequestBody, map[string]string{"PropertyName": "value[0].stats"}},
		{"job update with its stats", signed("PUT", "/jobs/j1", nil, `{"poolInfo":{"poolId":"p1"},"stats":{}}`),
			400, api.CodeInvalidRequestBody, map[string]string{"PropertyName": "stats"}},
		{"job patch with its stats", signed("PATCH", "/jobs/j1", nil, `{"stats":{}}`),
			400, api.CodeInvalidRequestBody, map[string]string{"PropertyName": "stats"}},
		{"job schedule whose jobs have stats", signed("POST", "/jobschedules", nil, `{"id":"s9","schedule":{},"jobSpecification":{"poolInfo":{"poolId":"p1"},"stats":{}}}`),
			400, api.CodeInvalidRequestBody, map[string]string{"PropertyName": "stats"}},
		{"collection entry with an unknown property", signed("POST", "/jobs/j1/addtaskcollection", nil,
			`{"value":[{"id":"t8","commandLine":"x"},{"id":"t9","commandLine":"x","priority":3}]}`),
			400, api.CodeInvalidRequestBody, map[string]string{"PropertyName": "value[1].priority"}},
		// Properties of Azure's models that Corral does not implement are refused by name.
		{"pool with a start task resource file from auto-storage", signed("POST", "/pools", nil,
			`{"id":"p9","vmSize":"local","targetDedicatedNodes":0,"startTask":{"commandLine":"x","resourceFiles":[{"autoStorageContainerName":"c"}]}}`),
			400, api.CodeUnsupportedProperty, map[string]string{"PropertyName": "startTask.resourceFiles[0].autoStorageContainerName"}},
		{"pool with an unknown start task property", signed("POST", "/pools", nil,
			`{"id":"p9","vmSize":"local","targetDedicatedNodes":0,"startTask":{"commandLine":"x","runElevated":true}}`),
			400, api.CodeInvalidRequestBody, map[string]string{"PropertyName": "runElevated"}},
		{"job with common environment and a priority", signed("POST", "/jobs", nil,
			`{"id":"j9","poolInfo":{"poolId":"p1"},"commonEnvironmentSettings":[{"name":"A","value":"1"}],"priority":5}`),
			400, api.CodeUnsupportedProperty, map[string]string{"PropertyName": "priority"}},
		{"task with an auto-storage resource file", signed("POST", "/jobs/j1/tasks", nil, `{"id":"t9","commandLine":"x","resourceFiles":[{"autoStorageContainerName":"c"}]}`),
			400, api.CodeUnsupportedProperty, map[string]string{"PropertyName": "resourceFiles[0].autoStorageContainerName"}},
		{"task with a resource file out of its directory", signed("POST", "/jobs/j1/tasks", nil, `{"id":"t9","commandLine":"x","resourceFiles":[{"httpUrl":"https://x/y?sig=S","filePath":"../y"}]}`),
			400, api.CodeInvalidPropertyValue, map[string]string{"PropertyName": "resourceFiles[0].filePath"}},
		{"task with an unknown resource file property", signed("POST", "/jobs/j1/tasks", nil, `{"id":"t9","commandLine":"x","resourceFiles":[{"httpUrl":"https://x/y","filePath":"y","mode":"0644"}]}`),
			400, api.CodeInvalidRequestBody, map[string]string{"PropertyName": "mode"}},
		{"task with an output file without uploadOptions", signed("POST", "/jobs/j1/tasks", nil,
			`{"id":"t9","commandLine":"x","outputFiles":[{"filePattern":"*.txt","destination":{"container":{"containerUrl":"https://x/c?sig=S"}}}]}`),
			400, api.CodeMissingRequiredProperty, map[string]string{"PropertyName": "outputFiles[0].uploadOptions"}},
		{"task env name with =", signed("POST", "/jobs/j1/tasks", nil, `{"id":"t9","commandLine":"x","environmentSettings":[{"name":"A=B","value":"1"}]}`),
			400, api.CodeInvalidPropertyValue, map[string]string{"PropertyName": "environmentSettings[0].name"}},
		{"unknown path", signed("GET", "/nothing/here", nil, nil), 400, api.CodeInvalidURI, nil},
		{"patch pool with a containerized start task", signed("PATCH", "/pools/p1", nil, map[string]any{"startTask": map[string]any{"commandLine": "x", "containerSettings": map[string]any{"imageName": "u"}}}),
			400, api.CodeUnsupportedProperty, map[string]string{"PropertyName": "startTask.containerSettings"}},
		{"patch pool with an elevated start task", signed("PATCH", "/pools/p1", nil, map[string]any{"startTask": map[string]any{"commandLine": "x", "userIdentity": map[string]any{"autoUser": map[string]any{"elevationLevel": "admin"}}}}),
			400, api.CodeUnsupportedProperty, map[string]string{"PropertyName": "startTask.userIdentity.autoUser.elevationLevel"}},
		{"patch pool with a start task without command line", signed("PATCH", "/pools/p1", nil, map[string]any{"startTask": map[string]any{"maxTaskRetryCount": 1}}),
			400, api.CodeMissingRequiredProperty, map[string]string{"PropertyName": "startTask.commandLine"}},
		{"update job without poolInfo", signed("PUT", "/jobs/j1", nil, map[string]any{}), 400, api.CodeMissingRequiredProperty, nil},
		{"update a task that does not exist", signed("PUT", "/jobs/j1/tasks/t", nil, map[string]any{}), 404, api.CodeTaskNotFound, nil},
		{"task files", signed("GET", "/jobs/j1/tasks/t/files", nil, nil), 501, rest.CodeNotImplemented, nil},
		{"task file", signed("GET", "/jobs/j1/tasks/t/files/wd/stdout.txt", nil, nil), 501, rest.CodeNotImplemented, nil},
		{"pool update properties without certificateReferences", signed("POST", "/pools/p1/updateproperties", nil, map[string]any{"metadata": []any{}}), 400, api.CodeMissingRequiredProperty, nil},
		{"not a job schedule operation", signed("GET", "/jobschedules/s/nothing", nil, nil), 400, api.CodeInvalidURI, nil},
		{"PUT on the pool list", signed("PUT", "/pools", nil, pool("p3", 0)), 405, api.CodeUnsupportedHTTPVerb, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.send(tt.req())
			eb := want(t, r, tt.status, tt.code)
			for k, v := range tt.values {
				if got := value(eb, k); got != v {
					t.Errorf("value %s = %q, want %q (values %+v)", k, got, v, eb.Values)
				}
			}
			if tt.status == http.StatusMethodNotAllowed && r.header.Get("Allow") != "GET, HEAD, POST" {
				t.Errorf("Allow = %q", r.header.Get("Allow"))
			}
		})
	}

	// Nothing a rejected request carried is in the store: only p1, j1 exist, and j1 has no task.
	e.idle()
	ctx := context.Background()
	pools, err := service.ListPools(ctx, e.st, "", 0)
	if err != nil || len(pools) != 1 || pools[0].ID != "p1" {
		t.Errorf("pools = %+v, %v", pools, err)
	}
	jobs, err := service.ListJobs(ctx, e.st, "", 0)
	if err != nil || len(jobs) != 1 || jobs[0].ID != "j1" || jobs[0].State != batch.JobActive {
		t.Errorf("jobs = %+v, %v", jobs, err)
	}
	tasks, err := service.ListTasks(ctx, e.st, "j1", "", 0)
	if err != nil || len(tasks) != 0 {
		t.Errorf("tasks = %+v, %v", tasks, err)
	}
	if _, err := service.GetJob(ctx, e.st, "nope"); batch.CodeOf(err) != api.CodeJobNotFound {
		t.Errorf("job nope: %v", err)
	}
}

func manyTasks(n int) []batch.Task {
	out := make([]batch.Task, n)
	for i := range out {
		out[i] = task(fmt.Sprintf("m%d", i))
	}
	return out
}

// TestRejectedCollectionLeavesNothing: a collection whose tasks are all rejected adds no task and
// changes no count.
func TestRejectedCollectionLeavesNothing(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("p1", 0)), http.StatusCreated, e.base+"/pools/p1")
	created(t, e.do("POST", "/jobs", nil, job("j1", "p1", false)), http.StatusCreated, e.base+"/jobs/j1")
	r := e.do("POST", "/jobs/j1/addtaskcollection", nil, map[string]any{"value": []batch.Task{task("a b"), {ID: "c"}, task("d", "a")}})
	want(t, r, http.StatusOK, "")
	var results struct {
		Value []rest.TaskAddResult `json:"value"`
	}
	r.decode(t, &results)
	for _, res := range results.Value {
		if res.Status != rest.TaskAddClientError {
			t.Errorf("result %+v", res)
		}
	}
	var list api.Page[batch.Task]
	e.do("GET", "/jobs/j1/tasks", nil, nil).decode(t, &list)
	if len(list.Value) != 0 {
		t.Errorf("tasks = %+v", list.Value)
	}
	var counts batch.TaskCountsResult
	e.do("GET", "/jobs/j1/taskcounts", nil, nil).decode(t, &counts)
	if counts != (batch.TaskCountsResult{}) {
		t.Errorf("counts = %+v", counts)
	}
}

// TestServiceDown: while the service's host is down, a write is not answered and the client gets
// OperationTimedOut; once the host is back, the same write succeeds. Reads go to the store and
// are served throughout.
func TestServiceDown(t *testing.T) {
	e := newEnv(t, envOptions{requestTimeout: 200 * time.Millisecond})
	created(t, e.do("POST", "/pools", nil, pool("p1", 0)), http.StatusCreated, e.base+"/pools/p1")
	e.idle()
	if err := e.eng.CrashHost("service"); err != nil {
		t.Fatal(err)
	}
	want(t, e.do("POST", "/pools", nil, pool("p2", 0)), http.StatusInternalServerError, api.CodeOperationTimedOut)
	want(t, e.do("GET", "/pools/p1", nil, nil), http.StatusOK, "")
	if err := e.eng.RestartHost("service"); err != nil {
		t.Fatal(err)
	}
	created(t, e.do("POST", "/pools", nil, pool("p2", 0)), http.StatusCreated, e.base+"/pools/p2")
	want(t, e.do("GET", "/pools/p2", nil, nil), http.StatusOK, "")
}

// A request waiting for a service that stops (a replica's service halted when it stops leading)
// is answered 503 ServerBusy at once, not 500 OperationTimedOut when its time runs out; so is
// every request after.
func TestServiceStopped(t *testing.T) {
	e := newEnv(t, envOptions{requestTimeout: 20 * time.Second})
	created(t, e.do("POST", "/pools", nil, pool("p1", 0)), http.StatusCreated, e.base+"/pools/p1")
	e.idle()
	if err := e.eng.CrashHost("service"); err != nil {
		t.Fatal(err)
	}
	done := make(chan response, 1)
	go func() { done <- e.do("POST", "/pools", nil, pool("p2", 0)) }()
	time.Sleep(100 * time.Millisecond) // the request is waiting for an answer
	e.rest.Stop()
	select {
	case r := <-done:
		want(t, r, http.StatusServiceUnavailable, api.CodeServerBusy)
	case <-time.After(10 * time.Second): // half its time limit
		t.Fatal("a waiting request was not answered when the service stopped")
	}
	want(t, e.do("POST", "/pools", nil, pool("p3", 0)), http.StatusServiceUnavailable, api.CodeServerBusy)
}

func TestNewValidatesConfig(t *testing.T) {
	eng := actor.NewEngine(actor.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "corral.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	good := rest.Config{Runtime: eng, Store: st, Account: account, Keys: [][]byte{primaryKey}}
	for _, tt := range []struct {
		name string
		edit func(*rest.Config)
	}{
		{"no runtime", func(c *rest.Config) { c.Runtime = nil }},
		{"no store", func(c *rest.Config) { c.Store = nil }},
		{"no account", func(c *rest.Config) { c.Account = "" }},
		{"no key", func(c *rest.Config) { c.Keys = [][]byte{nil} }},
	} {
		cfg := good
		tt.edit(&cfg)
		if _, err := rest.New(cfg); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	if _, err := rest.New(good); err != nil {
		t.Fatal(err)
	}
	if _, err := rest.New(good); err == nil {
		t.Error("a second server on the same runtime was accepted (its bridge id is taken)")
	}
}

func TestBaseURL(t *testing.T) {
	eng := actor.NewEngine(actor.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	st, err := sqlite.Open(filepath.Join(t.TempDir(), "corral.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const base = "https://corral.example:8443"
	rs, err := rest.New(rest.Config{Runtime: eng, Store: st, Account: account, Keys: [][]byte{primaryKey}, BaseURL: base + "/"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(rs)
	defer srv.Close()
	req, err := api.NewRequest("GET", srv.URL, "/pools", url.Values{"maxresults": {"5"}}, nil, account, primaryKey, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page api.Page[batch.Pool]
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		t.Fatal(err)
	}
	if page.Metadata != base+"/$metadata#pools" {
		t.Errorf("odata.metadata = %q", page.Metadata)
	}
}

// TestCompletedJobAfterRestart: after the service's host restarts, requests about a job that
// completed before are answered (from the store) as before the restart, and the service keeps
// serving.
func TestCompletedJobAfterRestart(t *testing.T) {
	e := newEnv(t, envOptions{requestTimeout: 2 * time.Second})
	created(t, e.do("POST", "/pools", nil, pool("p1", 0)), http.StatusCreated, e.base+"/pools/p1")
	created(t, e.do("POST", "/jobs", nil, job("j1", "p1", false)), http.StatusCreated, e.base+"/jobs/j1")
	created(t, e.do("POST", "/jobs/j1/tasks", nil, task("t1")), http.StatusCreated, e.base+"/jobs/j1/tasks/t1")
	created(t, e.do("POST", "/jobs/j1/terminate", nil, nil), http.StatusAccepted, e.base+"/jobs/j1")
	e.idle()
	if err := e.eng.CrashHost("service"); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.RestartHost("service"); err != nil {
		t.Fatal(err)
	}
	e.idle()
	want(t, e.do("POST", "/jobs/j1/terminate", nil, nil), http.StatusConflict, api.CodeJobCompleted)
	want(t, e.do("POST", "/jobs/j1/tasks", nil, task("t2")), http.StatusConflict, api.CodeJobCompleted)
	want(t, e.do("POST", "/jobs/j1/addtaskcollection", nil, map[string]any{"value": []batch.Task{task("t2")}}), http.StatusConflict, api.CodeJobCompleted)
	created(t, e.do("POST", "/jobs/j1/tasks/t1/terminate", nil, nil), http.StatusNoContent, e.base+"/jobs/j1/tasks/t1")
	created(t, e.do("POST", "/pools", nil, pool("p2", 0)), http.StatusCreated, e.base+"/pools/p2")
}

func TestDeletes(t *testing.T) {
	e := newEnv(t, envOptions{deleteChunk: 1}) // a job's tasks go one per transaction: its deletion takes a while
	created(t, e.do("POST", "/pools", nil, pool("p1", 1)), http.StatusCreated, e.base+"/pools/p1")
	created(t, e.do("POST", "/jobs", nil, job("j1", "p1", true)), http.StatusCreated, e.base+"/jobs/j1")
	created(t, e.do("POST", "/jobs/j1/tasks", nil, task("a")), http.StatusCreated, e.base+"/jobs/j1/tasks/a")
	created(t, e.do("POST", "/jobs/j1/tasks", nil, task("b", "a")), http.StatusCreated, e.base+"/jobs/j1/tasks/b")

	want(t, e.do("DELETE", "/jobs/j1/tasks/b", nil, nil), http.StatusOK, "")
	want(t, e.do("GET", "/jobs/j1/tasks/b", nil, nil), http.StatusNotFound, api.CodeTaskNotFound)
	want(t, e.do("DELETE", "/jobs/j1/tasks/b", nil, nil), http.StatusNotFound, api.CodeTaskNotFound)

	for i := range 5 {
		var coll []batch.Task
		for k := range 100 {
			coll = append(coll, task(fmt.Sprintf("x%d", i*100+k), "a"))
		}
		want(t, e.do("POST", "/jobs/j1/addtaskcollection", nil, map[string]any{"value": coll}), http.StatusOK, "")
	}

	// As in Azure, Job - Delete answers at once, and the job shows deleting until its tasks are
	// gone (501 of them, one per transaction here: hundreds of commits); meanwhile every change
	// to it is refused, and so is a new job of its id.
	want(t, e.do("DELETE", "/jobs/j1", nil, nil), http.StatusAccepted, "")
	if r := e.do("GET", "/jobs/j1", nil, nil); r.status != http.StatusOK || !strings.Contains(string(r.body), `"state":"deleting"`) {
		t.Fatalf("GET of a job being deleted: %d %s; want 200 in state deleting", r.status, r.body)
	}
	want(t, e.do("POST", "/jobs/j1/tasks", nil, task("c")), http.StatusConflict, api.CodeJobBeingDeleted)
	want(t, e.do("POST", "/jobs/j1/terminate", nil, nil), http.StatusConflict, api.CodeJobBeingDeleted)
	want(t, e.do("POST", "/jobs", nil, job("j1", "p1", false)), http.StatusConflict, api.CodeJobBeingDeleted)
	want(t, e.do("GET", "/jobs/j1/taskcounts", nil, nil), http.StatusOK, "")
	want(t, e.do("DELETE", "/jobs/j1", nil, nil), http.StatusAccepted, "") // deleting already
	eventually(t, "job deleted", func() string {
		if r := e.do("GET", "/jobs/j1", nil, nil); r.status != http.StatusNotFound {
			return fmt.Sprint(r.status)
		}
		return ""
	})
	want(t, e.do("GET", "/jobs/j1/tasks/a", nil, nil), http.StatusNotFound, api.CodeJobNotFound)
	want(t, e.do("DELETE", "/jobs/j1", nil, nil), http.StatusNotFound, api.CodeJobNotFound)
	// The id is free again.
	created(t, e.do("POST", "/jobs", nil, job("j1", "p1", false)), http.StatusCreated, e.base+"/jobs/j1")

	want(t, e.do("DELETE", "/pools/p1", nil, nil), http.StatusAccepted, "")
	// As in Azure, the pool is listed in state deleting until its nodes are gone.
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp := e.do("GET", "/pools/p1", nil, nil)
		if resp.status == http.StatusNotFound {
			break
		}
		if resp.status != http.StatusOK || !strings.Contains(string(resp.body), `"state":"deleting"`) || time.Now().After(deadline) {
			t.Fatalf("GET of a deleted pool: %d %s; want 200 in state deleting, then 404", resp.status, resp.body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	want(t, e.do("DELETE", "/pools/p1", nil, nil), http.StatusNotFound, api.CodePoolNotFound)
	created(t, e.do("POST", "/pools", nil, pool("p1", 1)), http.StatusCreated, e.base+"/pools/p1")
}

// TestDependencyCycleRefused: a task that would close a dependency cycle with the job's tasks,
// or with tasks before it in its collection, is refused when it arrives, naming the cycle.
func TestDependencyCycleRefused(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("cyc", 0)), http.StatusCreated, e.base+"/pools/cyc")
	created(t, e.do("POST", "/jobs", nil, job("j", "cyc", true)), http.StatusCreated, e.base+"/jobs/j")

	// b waits for a, which does not exist yet: fine. c waits for b.
	created(t, e.do("POST", "/jobs/j/tasks", nil, task("b", "a")), http.StatusCreated, e.base+"/jobs/j/tasks/b")
	created(t, e.do("POST", "/jobs/j/tasks", nil, task("c", "b")), http.StatusCreated, e.base+"/jobs/j/tasks/c")
	// a waiting for c closes a -> c -> b -> a.
	eb := want(t, e.do("POST", "/jobs/j/tasks", nil, task("a", "c")), http.StatusBadRequest, api.CodeInvalidPropertyValue)
	if value(eb, "PropertyName") != "dependsOn" || value(eb, "PropertyValue") != "a -> c -> b -> a" || value(eb, "Reason") == "" {
		t.Errorf("error values = %+v", eb.Values)
	}
	want(t, e.do("GET", "/jobs/j/tasks/a", nil, nil), http.StatusNotFound, api.CodeTaskNotFound)
	// An a that waits for nothing is fine.
	created(t, e.do("POST", "/jobs/j/tasks", nil, task("a")), http.StatusCreated, e.base+"/jobs/j/tasks/a")

	// Within one collection: y closes x -> y -> x and is refused; x and z are added.
	r := e.do("POST", "/jobs/j/addtaskcollection", nil, map[string]any{"value": []batch.Task{task("x", "y"), task("y", "x"), task("z", "x")}})
	want(t, r, http.StatusOK, "")
	var res struct {
		Value []rest.TaskAddResult `json:"value"`
	}
	r.decode(t, &res)
	if len(res.Value) != 3 {
		t.Fatalf("results = %s", r.body)
	}
	for i, wantStatus := range []string{rest.TaskAddSuccess, rest.TaskAddClientError, rest.TaskAddSuccess} {
		if res.Value[i].Status != wantStatus {
			t.Errorf("result %d = %+v", i, res.Value[i])
		}
	}
	if be := res.Value[1].Error; be == nil || be.Code != api.CodeInvalidPropertyValue || len(be.Values) < 2 || be.Values[1].Value != "y -> x -> y" {
		t.Errorf("error of y = %+v", be)
	}
}
