package rest_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"corral/api"
	"corral/batch"
)

// TestAutoScaleRejected: requests to enable, disable or evaluate autoscale, or to remove nodes,
// that Corral refuses before they reach the service get Azure's status and error code, and change
// nothing.
func TestAutoScaleRejected(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("p1", 0)), http.StatusCreated, e.base+"/pools/p1")
	e.idle()
	before := e.getPool("p1")

	post := func(path string, body any, header http.Header) func() *http.Request {
		return func() *http.Request { return e.newRequest("POST", path, nil, body, header) }
	}
	formula := map[string]string{"autoScaleFormula": "$TargetDedicatedNodes=1;"}
	tests := []struct {
		name   string
		req    func() *http.Request
		status int
		code   string
		values map[string]string
		allow  string // for a 405, the Allow header
	}{
		// Enable AutoScale.
		{name: "enable: empty body", req: post("/pools/p1/enableautoscale", "", nil), status: 400, code: api.CodeInvalidRequestBody},
		{name: "enable: unknown property", req: post("/pools/p1/enableautoscale", `{"autoScaleFormula": "$TargetDedicatedNodes=1;", "interval": "PT5M"}`, nil),
			status: 400, code: api.CodeInvalidRequestBody, values: map[string]string{"PropertyName": "interval"}},
		{name: "enable: interval not a duration", req: post("/pools/p1/enableautoscale", map[string]string{"autoScaleEvaluationInterval": "often"}, nil),
			status: 400, code: api.CodeInvalidPropertyValue, values: map[string]string{"PropertyName": "autoScaleEvaluationInterval", "PropertyValue": "often"}},
		{name: "enable: formula too long", req: post("/pools/p1/enableautoscale",
			map[string]string{"autoScaleFormula": strings.Repeat("a", batch.MaxAutoScaleFormulaLength+1)}, nil),
			status: 400, code: batch.CodeAutoScaleFormulaTooLong, values: map[string]string{"PropertyName": "autoScaleFormula"}},
		{name: "enable: missing pool", req: post("/pools/nope/enableautoscale", formula, nil), status: 404, code: api.CodePoolNotFound},
		{name: "enable: unmet If-Match", req: post("/pools/p1/enableautoscale", formula, http.Header{"If-Match": {"0x7777"}}),
			status: 412, code: api.CodeConditionNotMet},
		{name: "enable: unmet If-Unmodified-Since", req: post("/pools/p1/enableautoscale", formula,
			http.Header{"If-Unmodified-Since": {before.LastModified.Add(-2 * time.Minute).UTC().Format(http.TimeFormat)}}),
			status: 412, code: api.CodeConditionNotMet},
		{name: "enable: GET", req: func() *http.Request { return e.newRequest("GET", "/pools/p1/enableautoscale", nil, nil, nil) },
			status: 405, code: api.CodeUnsupportedHTTPVerb, allow: "POST"},

		// Disable AutoScale.
		{name: "disable: missing pool", req: post("/pools/nope/disableautoscale", nil, nil), status: 404, code: api.CodePoolNotFound},
		{name: "disable: pool id that cannot exist", req: post("/pools/a b/disableautoscale", nil, nil), status: 404, code: api.CodePoolNotFound},
		{name: "disable: DELETE", req: func() *http.Request { return e.newRequest("DELETE", "/pools/p1/disableautoscale", nil, nil, nil) },
			status: 405, code: api.CodeUnsupportedHTTPVerb, allow: "POST"},

		// Evaluate AutoScale.
		{name: "evaluate: no formula", req: post("/pools/p1/evaluateautoscale", `{}`, nil),
			status: 400, code: api.CodeMissingRequiredProperty, values: map[string]string{"PropertyName": "autoScaleFormula"}},
		{name: "evaluate: null body", req: post("/pools/p1/evaluateautoscale", "null", nil), status: 400, code: api.CodeInvalidRequestBody},
		{name: "evaluate: missing pool", req: post("/pools/nope/evaluateautoscale", formula, nil), status: 404, code: api.CodePoolNotFound},

		// Remove Nodes.
		{name: "remove: no nodeList", req: post("/pools/p1/removenodes", `{}`, nil),
			status: 400, code: api.CodeMissingRequiredProperty, values: map[string]string{"PropertyName": "nodeList"}},
		{name: "remove: empty nodeList", req: post("/pools/p1/removenodes", map[string]any{"nodeList": []string{}}, nil),
			status: 400, code: api.CodeInvalidPropertyValue, values: map[string]string{"PropertyName": "nodeList"}},
		{name: "remove: timeout under 5 minutes", req: post("/pools/p1/removenodes", map[string]any{"nodeList": []string{"p1-1"}, "resizeTimeout": "PT1M"}, nil),
			status: 400, code: api.CodeInvalidPropertyValue, values: map[string]string{"PropertyName": "resizeTimeout"}},
		{name: "remove: unknown option", req: post("/pools/p1/removenodes", map[string]any{"nodeList": []string{"p1-1"}, "nodeDeallocationOption": "now"}, nil),
			status: 400, code: api.CodeInvalidPropertyValue, values: map[string]string{"PropertyName": "nodeDeallocationOption"}},
		{name: "remove: missing pool", req: post("/pools/nope/removenodes", map[string]any{"nodeList": []string{"nope-1"}}, nil),
			status: 404, code: api.CodePoolNotFound},
		{name: "remove: unmet If-None-Match", req: post("/pools/p1/removenodes", map[string]any{"nodeList": []string{"p1-1"}},
			http.Header{"If-None-Match": {before.ETag}}), status: 412, code: api.CodeConditionNotMet},
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
			if tt.allow != "" && r.header.Get("Allow") != tt.allow {
				t.Errorf("Allow = %q, want %q", r.header.Get("Allow"), tt.allow)
			}
		})
	}

	e.idle()
	after := e.getPool("p1")
	if after.ETag != before.ETag || after.AutoScale() || after.AllocationState != batch.AllocationSteady {
		t.Errorf("pool after rejected requests = %+v, before %+v", after, before)
	}
}

// TestAutoScaleRoundTrip: Pool - Enable AutoScale answers 200 and the pool sizes itself by the
// formula (evaluated at once); a manual resize is then refused; Pool - Evaluate AutoScale answers
// the formula's results without changing the pool; Pool - Disable AutoScale answers 200 and the
// pool keeps its size; evaluating a pool without autoscale is 409. This goes through the service:
// it needs the pool manager to handle EnableAutoScale, EvaluateAutoScale and DisableAutoScale.
func TestAutoScaleRoundTrip(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("p1", 0)), http.StatusCreated, e.base+"/pools/p1")
	e.idle()
	before := e.getPool("p1")

	// Evaluating before autoscale is enabled: Azure answers 409.
	r := e.do("POST", "/pools/p1/evaluateautoscale", nil, map[string]string{"autoScaleFormula": "$TargetDedicatedNodes=1;"})
	if r.status != http.StatusConflict {
		t.Errorf("evaluate without autoscale: status %d, want 409; body %s", r.status, r.body)
	}

	r = e.send(e.newRequest("POST", "/pools/p1/enableautoscale", nil,
		map[string]string{"autoScaleFormula": "$TargetDedicatedNodes=1;", "autoScaleEvaluationInterval": "PT5M"},
		http.Header{"If-Match": {before.ETag}}))
	if etag := created(t, r, http.StatusOK, e.base+"/pools/p1"); etag == before.ETag {
		t.Errorf("ETag after enable = %q, unchanged", etag)
	}
	p := e.getPool("p1")
	if !p.AutoScale() || p.AutoScaleFormula != "$TargetDedicatedNodes=1;" ||
		p.AutoScaleEvaluationInterval == nil || p.AutoScaleEvaluationInterval.Std() != 5*time.Minute {
		t.Errorf("pool after enable: enableAutoScale %v, formula %q, interval %v", p.EnableAutoScale, p.AutoScaleFormula, p.AutoScaleEvaluationInterval)
	}
	eventually(t, "autoScaleRun set and one dedicated node", func() string {
		p := e.getPool("p1")
		if p.AutoScaleRun == nil || p.AutoScaleRun.Error != nil || !strings.Contains(p.AutoScaleRun.Results, "$TargetDedicatedNodes=1") {
			return fmt.Sprintf("autoScaleRun %+v", p.AutoScaleRun)
		}
		if deref(p.TargetDedicatedNodes) != 1 || deref(p.CurrentDedicatedNodes) != 1 || p.AllocationState != batch.AllocationSteady {
			return fmt.Sprintf("%d/%d nodes, allocation %s", deref(p.CurrentDedicatedNodes), deref(p.TargetDedicatedNodes), p.AllocationState)
		}
		return ""
	})

	// The pool sizes itself: a manual resize is refused.
	want(t, e.do("POST", "/pools/p1/resize", nil, map[string]int{"targetDedicatedNodes": 3}), http.StatusConflict, api.CodeOperationInvalidForCurrentState)

	// Evaluate answers the formula's outcome and changes nothing.
	steady := e.getPool("p1")
	r = e.do("POST", "/pools/p1/evaluateautoscale", nil, map[string]string{"autoScaleFormula": "n = 2;\n$TargetDedicatedNodes = n;"})
	want(t, r, http.StatusOK, "")
	var run struct {
		Metadata string `json:"odata.metadata"`
		batch.AutoScaleRun
	}
	r.decode(t, &run)
	if !strings.Contains(run.Results, "$TargetDedicatedNodes=2") || run.Error != nil || run.Timestamp.IsZero() ||
		!strings.HasPrefix(run.Metadata, e.base+"/$metadata#") || !strings.HasSuffix(run.Metadata, "AutoScaleRun") {
		t.Errorf("evaluate answered %s", r.body)
	}
	if r.header.Get("DataServiceId") != e.base+"/pools/p1" || r.header.Get("ETag") == "" {
		t.Errorf("evaluate headers: DataServiceId %q, ETag %q", r.header.Get("DataServiceId"), r.header.Get("ETag"))
	}
	if p := e.getPool("p1"); deref(p.TargetDedicatedNodes) != 1 || p.AutoScaleFormula != steady.AutoScaleFormula {
		t.Errorf("evaluate changed the pool: target %d, formula %q", deref(p.TargetDedicatedNodes), p.AutoScaleFormula)
	}
	// A formula that does not parse is an error, not a run.
	if r := e.do("POST", "/pools/p1/evaluateautoscale", nil, map[string]string{"autoScaleFormula": "$TargetDedicatedNodes = = ;"}); r.status == http.StatusOK {
		var run batch.AutoScaleRun
		r.decode(t, &run)
		if run.Error == nil {
			t.Errorf("evaluate of a broken formula answered %s", r.body)
		}
	} else if r.status/100 != 4 {
		t.Errorf("evaluate of a broken formula: status %d; body %s", r.status, r.body)
	}

	// Enable again with only a new interval: the formula stays.
	created(t, e.do("POST", "/pools/p1/enableautoscale", nil, map[string]string{"autoScaleEvaluationInterval": "PT10M"}), http.StatusOK, e.base+"/pools/p1")
	if p := e.getPool("p1"); p.AutoScaleFormula != "$TargetDedicatedNodes=1;" || p.AutoScaleEvaluationInterval == nil ||
		p.AutoScaleEvaluationInterval.Std() != 10*time.Minute {
		t.Errorf("after a new interval: formula %q, interval %v", p.AutoScaleFormula, p.AutoScaleEvaluationInterval)
	}

	// Disable: 200, and the pool keeps its targets.
	created(t, e.do("POST", "/pools/p1/disableautoscale", nil, nil), http.StatusOK, e.base+"/pools/p1")
	if p := e.getPool("p1"); p.AutoScale() || deref(p.TargetDedicatedNodes) != 1 {
		t.Errorf("after disable: enableAutoScale %v, target %d", p.EnableAutoScale, deref(p.TargetDedicatedNodes))
	}
	if r := e.do("POST", "/pools/p1/evaluateautoscale", nil, map[string]string{"autoScaleFormula": "$TargetDedicatedNodes=1;"}); r.status != http.StatusConflict {
		t.Errorf("evaluate after disable: status %d, want 409; body %s", r.status, r.body)
	}
	// Enabling with no formula on a pool without autoscale: there is no formula to keep.
	if r := e.do("POST", "/pools/p1/enableautoscale", nil, map[string]string{}); r.status/100 != 4 {
		t.Errorf("enable without a formula on a manual pool: status %d; body %s", r.status, r.body)
	}
	// And manual resizes work again.
	created(t, e.do("POST", "/pools/p1/resize", nil, map[string]int{"targetDedicatedNodes": 0}), http.StatusAccepted, e.base+"/pools/p1")
}

// TestRemoveNodesRoundTrip: Pool - Remove Nodes answers 202, the named node leaves and the
// target drops by one; an unknown node is an error; the pool's history (a Corral extension)
// records the resize and the removal. This goes through the service: it needs the pool manager
// to handle RemoveNodes and to keep the history.
func TestRemoveNodesRoundTrip(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("p1", 0)), http.StatusCreated, e.base+"/pools/p1")
	e.idle()
	created(t, e.do("POST", "/pools/p1/resize", nil, map[string]int{"targetDedicatedNodes": 2}), http.StatusAccepted, e.base+"/pools/p1")
	var nodes []batch.Node
	eventually(t, "two idle nodes, steady", func() string {
		p := e.getPool("p1")
		nodes = e.listNodes("p1")
		if p.AllocationState != batch.AllocationSteady || len(nodes) != 2 || nodes[0].State != batch.NodeIdle || nodes[1].State != batch.NodeIdle {
			return fmt.Sprintf("allocation %s, nodes %+v", p.AllocationState, nodes)
		}
		return ""
	})
	gone, stays := nodes[0].ID, nodes[1].ID

	// A node the pool does not have.
	if r := e.do("POST", "/pools/p1/removenodes", nil, map[string]any{"nodeList": []string{"p1-999"}}); r.status/100 != 4 {
		t.Errorf("remove an unknown node: status %d; body %s", r.status, r.body)
	}

	before := e.getPool("p1")
	r := e.send(e.newRequest("POST", "/pools/p1/removenodes", nil,
		map[string]any{"nodeList": []string{gone}, "resizeTimeout": "PT10M", "nodeDeallocationOption": "requeue"},
		http.Header{"If-Match": {before.ETag}}))
	if etag := created(t, r, http.StatusAccepted, e.base+"/pools/p1"); etag == before.ETag {
		t.Errorf("ETag after remove nodes = %q, unchanged", etag)
	}
	eventually(t, "one node left, steady", func() string {
		p := e.getPool("p1")
		nodes := e.listNodes("p1")
		if p.AllocationState != batch.AllocationSteady || deref(p.TargetDedicatedNodes) != 1 || len(nodes) != 1 || nodes[0].ID != stays {
			return fmt.Sprintf("allocation %s, target %d, nodes %+v", p.AllocationState, deref(p.TargetDedicatedNodes), nodes)
		}
		return ""
	})

	// The history has the resize and the removal, oldest first.
	h := e.history("p1")
	var kinds []batch.PoolEventKind
	for _, ev := range h {
		kinds = append(kinds, ev.Kind)
	}
	i, j := slices.Index(kinds, batch.PoolEventResize), slices.Index(kinds, batch.PoolEventRemoveNodes)
	if i < 0 || j < i {
		t.Fatalf("history kinds = %v, want a resize and then a removeNodes", kinds)
	}
	if ev := h[j]; !slices.Contains(ev.NodeIDs, gone) || ev.TargetDedicatedNodes != 1 || ev.Timestamp.IsZero() {
		t.Errorf("removeNodes entry = %+v", ev)
	}
}

// listNodes reads a pool's nodes through the API.
func (e *env) listNodes(poolID string) []batch.Node {
	e.t.Helper()
	r := e.do("GET", "/pools/"+poolID+"/nodes", nil, nil)
	want(e.t, r, http.StatusOK, "")
	var page api.Page[batch.Node]
	r.decode(e.t, &page)
	return page.Value
}

// history reads a pool's history through the API.
func (e *env) history(poolID string) []batch.PoolEvent {
	e.t.Helper()
	r := e.do("GET", "/pools/"+poolID+"/history", nil, nil)
	want(e.t, r, http.StatusOK, "")
	var h struct {
		Value []batch.PoolEvent `json:"value"`
	}
	r.decode(e.t, &h)
	return h.Value
}
