package rest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"testing"

	"corral/api"
	"corral/batch"
)

// $filter narrows lists, with paging across filtered pages; $select trims lists and gets to
// the properties named.
func TestODataFilterAndSelect(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, id := range []string{"alpha", "beta", "apple"} {
		created(t, e.do("POST", "/pools", nil, pool(id, 0)), http.StatusCreated, e.base+"/pools/"+id)
	}
	ids := func(r response) []string {
		t.Helper()
		want(t, r, http.StatusOK, "")
		var p struct {
			Value []map[string]any `json:"value"`
		}
		r.decode(t, &p)
		var out []string
		for _, v := range p.Value {
			out = append(out, fmt.Sprint(v["id"]))
		}
		return out
	}
	if got := ids(e.do("GET", "/pools", url.Values{"$filter": {"startswith(id, 'a')"}}, nil)); !slices.Equal(got, []string{"alpha", "apple"}) {
		t.Errorf("pools starting with a: %v", got)
	}
	if got := ids(e.do("GET", "/pools", url.Values{"$filter": {"state eq 'active' and not (id eq 'beta')"}}, nil)); !slices.Equal(got, []string{"alpha", "apple"}) {
		t.Errorf("active pools but beta: %v", got)
	}
	if got := ids(e.do("GET", "/pools", url.Values{"$filter": {"allocationState eq 'resizing'"}}, nil)); len(got) != 0 {
		t.Errorf("resizing pools: %v", got)
	}

	// $select on a list and on a get.
	r := e.do("GET", "/pools", url.Values{"$select": {"id,state"}}, nil)
	want(t, r, http.StatusOK, "")
	var page struct {
		Value []map[string]json.RawMessage `json:"value"`
	}
	r.decode(t, &page)
	for _, v := range page.Value {
		var keys []string
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if !slices.Equal(keys, []string{"id", "state"}) {
			t.Errorf("selected pool properties: %v", keys)
		}
	}
	r = e.do("GET", "/pools/beta", url.Values{"$select": {"vmSize"}}, nil)
	want(t, r, http.StatusOK, "")
	var one map[string]json.RawMessage
	r.decode(t, &one)
	if len(one) != 2 || one["vmSize"] == nil || one["odata.metadata"] == nil {
		t.Errorf("selected pool: %s", r.body)
	}

	// A filter over a job's tasks, paged two at a time.
	created(t, e.do("POST", "/jobs", nil, job("j1", "alpha", false)), http.StatusCreated, e.base+"/jobs/j1")
	var tasks []batch.Task
	for i := 0; i < 30; i++ {
		tasks = append(tasks, task(fmt.Sprintf("t%02d", i)))
	}
	want(t, e.do("POST", "/jobs/j1/addtaskcollection", nil, map[string]any{"value": tasks}), http.StatusOK, "")
	var got []string
	r = e.do("GET", "/jobs/j1/tasks", url.Values{"$filter": {"id ge 't10' and id lt 't20'"}, "maxresults": {"2"}, "$select": {"id"}}, nil)
	for pages := 0; ; pages++ {
		want(t, r, http.StatusOK, "")
		var p struct {
			Value    []map[string]any `json:"value"`
			NextLink string           `json:"odata.nextLink"`
		}
		r.decode(t, &p)
		if len(p.Value) > 2 {
			t.Fatalf("a page of %d with maxresults 2", len(p.Value))
		}
		for _, v := range p.Value {
			got = append(got, fmt.Sprint(v["id"]))
		}
		if p.NextLink == "" || pages > 40 {
			break
		}
		r = e.follow(p.NextLink)
	}
	var wantIDs []string
	for i := 10; i < 20; i++ {
		wantIDs = append(wantIDs, fmt.Sprintf("t%02d", i))
	}
	if !slices.Equal(got, wantIDs) {
		t.Errorf("filtered, paged tasks: %v", got)
	}
	want(t, e.do("GET", "/jobs/j1/tasks", url.Values{"$filter": {"executionInfo/result eq 'maybe'"}}, nil), http.StatusBadRequest, api.CodeInvalidQueryParameterValue)
}
