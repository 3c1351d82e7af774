package rest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/api"
	"corral/api/rest"
	"corral/batch"
)

// mixedPool is a pool of dedicated and low-priority nodes.
func mixedPool(id string, dedicated, lowPriority int32) batch.Pool {
	p := pool(id, dedicated)
	p.TargetLowPriorityNodes = batch.Ptr(lowPriority)
	return p
}

// idleNodes waits until pool id has n nodes, all idle, and returns them.
func (e *env) idleNodes(id string, n int) []batch.Node {
	e.t.Helper()
	var nodes []batch.Node
	eventually(e.t, fmt.Sprintf("%d idle nodes in %s", n, id), func() string {
		nodes = e.listNodes(id)
		if len(nodes) != n {
			return fmt.Sprintf("%d nodes", len(nodes))
		}
		for _, nd := range nodes {
			if nd.State != batch.NodeIdle {
				return fmt.Sprintf("node %s %s", nd.ID, nd.State)
			}
		}
		return ""
	})
	return nodes
}

// TestPoolNodeCounts: Account - List Pool Node Counts counts each pool's nodes by kind and state,
// one entry per pool in id order, 10 to a page by default and at most.
func TestPoolNodeCounts(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.do("GET", "/nodecounts", nil, nil)
	want(t, r, http.StatusOK, "")
	var page api.Page[batch.PoolNodeCounts]
	r.decode(t, &page)
	if page.Metadata != e.base+"/$metadata#poolnodecounts" || page.Value == nil || len(page.Value) != 0 || page.NextLink != "" {
		t.Errorf("no pools: %s", r.body)
	}

	created(t, e.do("POST", "/pools", nil, mixedPool("a", 2, 1)), http.StatusCreated, e.base+"/pools/a")
	created(t, e.do("POST", "/pools", nil, pool("b", 0)), http.StatusCreated, e.base+"/pools/b")
	e.idleNodes("a", 3)

	r = e.do("GET", "/nodecounts", nil, nil)
	want(t, r, http.StatusOK, "")
	page = api.Page[batch.PoolNodeCounts]{}
	r.decode(t, &page)
	wantCounts := []batch.PoolNodeCounts{
		{PoolID: "a", Dedicated: batch.NodeCounts{Idle: 2, Total: 2}, LowPriority: batch.NodeCounts{Idle: 1, Total: 1}},
		{PoolID: "b"},
	}
	if fmt.Sprint(page.Value) != fmt.Sprint(wantCounts) || page.NextLink != "" {
		t.Errorf("counts = %+v (next %q), want %+v", page.Value, page.NextLink, wantCounts)
	}

	// Paging: 10 by default, the rest on the next page.
	for i := range 10 {
		id := fmt.Sprintf("c%02d", i)
		created(t, e.do("POST", "/pools", nil, pool(id, 0)), http.StatusCreated, e.base+"/pools/"+id)
	}
	r = e.do("GET", "/nodecounts", nil, nil)
	page = api.Page[batch.PoolNodeCounts]{}
	r.decode(t, &page)
	if len(page.Value) != 10 || page.Value[0].PoolID != "a" || page.NextLink == "" {
		t.Fatalf("first page of 12 pools = %d entries, next %q", len(page.Value), page.NextLink)
	}
	page = api.Page[batch.PoolNodeCounts]{}
	e.follow(r.nextLink(t)).decode(t, &page)
	if len(page.Value) != 2 || page.Value[0].PoolID != "c08" || page.Value[1].PoolID != "c09" || page.NextLink != "" {
		t.Errorf("second page = %+v, next %q", page.Value, page.NextLink)
	}
	r = e.do("GET", "/nodecounts", url.Values{"maxresults": {"1"}}, nil)
	page = api.Page[batch.PoolNodeCounts]{}
	r.decode(t, &page)
	if len(page.Value) != 1 || page.Value[0].PoolID != "a" || page.NextLink == "" {
		t.Errorf("maxresults=1: %+v, next %q", page.Value, page.NextLink)
	}

	for _, bad := range []string{"11", "0", "1000", "ten"} {
		r := e.do("GET", "/nodecounts", url.Values{"maxresults": {bad}}, nil)
		if r.status != http.StatusBadRequest {
			t.Errorf("maxresults=%s: status %d, want 400", bad, r.status)
		}
	}
	want(t, e.do("POST", "/nodecounts", nil, nil), http.StatusMethodNotAllowed, api.CodeUnsupportedHTTPVerb)
}

// TestPoolHistoryRead: GET /pools/{poolId}/history (a Corral extension) answers {"value": [...]}
// for a pool, 404 PoolNotFound for a missing one.
func TestPoolHistoryRead(t *testing.T) {
	e := newEnv(t, envOptions{})
	want(t, e.do("GET", "/pools/nope/history", nil, nil), http.StatusNotFound, api.CodePoolNotFound)
	want(t, e.do("GET", "/pools/a b/history", nil, nil), http.StatusNotFound, api.CodePoolNotFound)
	created(t, e.do("POST", "/pools", nil, pool("p1", 0)), http.StatusCreated, e.base+"/pools/p1")
	e.idle()
	r := e.do("GET", "/pools/P1/history", nil, nil)
	want(t, r, http.StatusOK, "")
	var h struct {
		Value []batch.PoolEvent `json:"value"`
	}
	r.decode(t, &h)
	if h.Value == nil {
		t.Errorf("history = %s, want a list", r.body)
	}
	want(t, e.do("POST", "/pools/p1/history", nil, nil), http.StatusMethodNotAllowed, api.CodeUnsupportedHTTPVerb)
}

// TestPoolHistoryAfterResize: a resize is recorded in the pool's history. This needs the pool
// manager to keep the history.
func TestPoolHistoryAfterResize(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("p1", 0)), http.StatusCreated, e.base+"/pools/p1")
	e.idle()
	created(t, e.do("POST", "/pools/p1/resize", nil, map[string]int{"targetDedicatedNodes": 1}), http.StatusAccepted, e.base+"/pools/p1")
	eventually(t, "a resize in the history", func() string {
		h := e.history("p1")
		for _, ev := range h {
			if ev.Kind == batch.PoolEventResize && ev.TargetDedicatedNodes == 1 && !ev.Timestamp.IsZero() {
				return ""
			}
		}
		return fmt.Sprintf("history %+v", h)
	})
}

// evictions records the calls of Config.Evict and answers them with err.
type evictions struct {
	mu    sync.Mutex
	calls []string // "pool/node"
	err   error
}

func (v *evictions) evict(poolID, nodeID string) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.calls = append(v.calls, poolID+"/"+nodeID)
	return v.err
}

func (v *evictions) called() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]string(nil), v.calls...)
}

// TestEvictNode: POST /pools/{poolId}/nodes/{nodeId}/evict (a Corral extension) hands a
// low-priority node that is in the store to Config.Evict and answers 202; a missing pool or node
// is 404, a dedicated node or a refusal of the provider is 409, and without Config.Evict the
// operation is 501.
func TestEvictNode(t *testing.T) {
	v := &evictions{}
	e := newEnv(t, envOptions{evict: v.evict})
	created(t, e.do("POST", "/pools", nil, mixedPool("p1", 1, 1)), http.StatusCreated, e.base+"/pools/p1")
	nodes := e.idleNodes("p1", 2)
	var dedicated, low string
	for _, n := range nodes {
		if n.IsDedicated {
			dedicated = n.ID
		} else {
			low = n.ID
		}
	}
	if dedicated == "" || low == "" {
		t.Fatalf("nodes = %+v, want one of each kind", nodes)
	}

	r := e.do("POST", "/pools/P1/nodes/"+low+"/evict", nil, nil)
	want(t, r, http.StatusAccepted, "")
	if got := r.header.Get("DataServiceId"); got != e.base+"/pools/p1/nodes/"+low {
		t.Errorf("DataServiceId = %q", got)
	}
	if got := v.called(); len(got) != 1 || got[0] != "p1/"+low {
		t.Errorf("Evict calls = %v, want [p1/%s]", got, low)
	}

	want(t, e.do("POST", "/pools/nope/nodes/"+low+"/evict", nil, nil), http.StatusNotFound, api.CodePoolNotFound)
	want(t, e.do("POST", "/pools/p1/nodes/p1-999/evict", nil, nil), http.StatusNotFound, api.CodeNodeNotFound)
	want(t, e.do("POST", "/pools/p1/nodes/a b/evict", nil, nil), http.StatusNotFound, api.CodeNodeNotFound)
	want(t, e.do("POST", "/pools/p1/nodes/"+dedicated+"/evict", nil, nil), http.StatusConflict, api.CodeOperationInvalidForCurrentState)
	want(t, e.do("GET", "/pools/p1/nodes/"+low+"/evict", nil, nil), http.StatusMethodNotAllowed, api.CodeUnsupportedHTTPVerb)

	v.mu.Lock()
	v.err = errors.New("node is already going away")
	v.mu.Unlock()
	eb := want(t, e.do("POST", "/pools/p1/nodes/"+low+"/evict", nil, nil), http.StatusConflict, api.CodeOperationInvalidForCurrentState)
	if msg := eb.Message.Value; len(msg) < 26 || msg[:26] != "node is already going away" {
		t.Errorf("message = %q, want the provider's reason", msg)
	}
	if got := v.called(); len(got) != 2 {
		t.Errorf("Evict calls = %v, want two (the dedicated node and the missing ones never reach it)", got)
	}

	// Without a way to evict.
	plain := newEnv(t, envOptions{})
	created(t, plain.do("POST", "/pools", nil, pool("p1", 0)), http.StatusCreated, plain.base+"/pools/p1")
	want(t, plain.do("POST", "/pools/p1/nodes/p1-1/evict", nil, nil), http.StatusNotImplemented, "NotImplemented")
}

// fakeJoins records what the join extensions ask for.
type fakeJoins struct {
	ttl    time.Duration
	tokens []rest.JoinToken
	forgot []string
}

func (f *fakeJoins) CreateJoinToken(_ context.Context, poolID string, ttl time.Duration) (string, rest.JoinToken, error) {
	f.ttl = ttl
	t := rest.JoinToken{ID: fmt.Sprintf("t%d", len(f.tokens)), PoolID: poolID}
	f.tokens = append(f.tokens, t)
	return "corral1." + t.ID + ".secret", t, nil
}

func (f *fakeJoins) JoinTokens(_ context.Context, poolID string) ([]rest.JoinToken, error) {
	return f.tokens, nil
}

func (f *fakeJoins) RevokeJoinToken(_ context.Context, poolID, id string) error {
	for i := range f.tokens {
		if f.tokens[i].ID == id {
			f.tokens[i].Revoked = true
			return nil
		}
	}
	return rest.ErrNotFound
}

func (f *fakeJoins) Machines(poolID string) []rest.JoinedMachine {
	return []rest.JoinedMachine{{ID: "m-1", NodeID: "p1-0"}}
}

func (f *fakeJoins) ForgetMachine(poolID, id string) error {
	if id != "m-1" {
		return rest.ErrNotFound
	}
	f.forgot = append(f.forgot, id)
	return nil
}

func TestJoinExtensions(t *testing.T) {
	// Without Joins (a provider whose machines do not join by themselves), 501.
	plain := newEnv(t, envOptions{})
	created(t, plain.do("POST", "/pools", nil, mixedPool("p1", 0, 0)), http.StatusCreated, plain.base+"/pools/p1")
	want(t, plain.do("POST", "/pools/p1/jointokens", nil, nil), http.StatusNotImplemented, rest.CodeNotImplemented)

	f := &fakeJoins{}
	e := newEnv(t, envOptions{joins: f})
	created(t, e.do("POST", "/pools", nil, mixedPool("p1", 0, 0)), http.StatusCreated, e.base+"/pools/p1")

	r := e.do("POST", "/pools/p1/jointokens", nil, nil)
	want(t, r, http.StatusCreated, "")
	if !strings.Contains(string(r.body), `"token":"corral1.t0.secret"`) || f.ttl != rest.DefaultJoinTokenLifetime {
		t.Errorf("token: %s (lifetime %v)", r.body, f.ttl)
	}
	want(t, e.do("POST", "/pools/p1/jointokens", nil, map[string]string{"lifetime": "PT10M"}), http.StatusCreated, "")
	if f.ttl != 10*time.Minute {
		t.Errorf("lifetime PT10M gave %v", f.ttl)
	}
	for _, bad := range []map[string]string{{"lifetime": "P8D"}, {"lifetime": "PT0S"}, {"lifetime": "soon"}} {
		want(t, e.do("POST", "/pools/p1/jointokens", nil, bad), http.StatusBadRequest, api.CodeInvalidPropertyValue)
	}
	want(t, e.do("POST", "/pools/p1/jointokens", nil, map[string]string{"uses": "3"}), http.StatusBadRequest, "")
	want(t, e.do("POST", "/pools/nope/jointokens", nil, nil), http.StatusNotFound, api.CodePoolNotFound)
	if len(f.tokens) != 2 {
		t.Errorf("%d tokens made; refused requests made some", len(f.tokens))
	}

	r = e.do("GET", "/pools/p1/jointokens", nil, nil)
	want(t, r, http.StatusOK, "")
	if strings.Contains(string(r.body), "secret") {
		t.Errorf("the token list shows a secret: %s", r.body)
	}
	want(t, e.do("DELETE", "/pools/p1/jointokens/t0", nil, nil), http.StatusOK, "")
	want(t, e.do("DELETE", "/pools/p1/jointokens/t9", nil, nil), http.StatusNotFound, "JoinTokenNotFound")

	r = e.do("GET", "/pools/p1/machines", nil, nil)
	want(t, r, http.StatusOK, "")
	if !strings.Contains(string(r.body), `"nodeId":"p1-0"`) {
		t.Errorf("machines: %s", r.body)
	}
	want(t, e.do("DELETE", "/pools/p1/machines/m-1", nil, nil), http.StatusOK, "")
	want(t, e.do("DELETE", "/pools/p1/machines/m-2", nil, nil), http.StatusNotFound, "MachineNotFound")
	if len(f.forgot) != 1 {
		t.Errorf("forgotten: %v", f.forgot)
	}
}
