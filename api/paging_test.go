package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"testing"
	"time"

	"corral/api"
)

func TestNextLink(t *testing.T) {
	tests := []struct {
		target string
		token  string
		want   string
	}{
		{"/jobs?api-version=2024-07-01.20.0", "abc", "https://acct.example/jobs?api-version=2024-07-01.20.0&$skiptoken=abc"},
		{"/jobs/j%201/tasks?api-version=2024-07-01.20.0&%24filter=state%20eq%20%27active%27&maxresults=2&$skiptoken=old", "n/x=",
			"https://acct.example/jobs/j%201/tasks?api-version=2024-07-01.20.0&%24filter=state%20eq%20%27active%27&maxresults=2&$skiptoken=n%2Fx%3D"},
		{"/pools?%24SkipToken=old&api-version=2024-07-01.20.0", "t", "https://acct.example/pools?api-version=2024-07-01.20.0&$skiptoken=t"},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", tt.target, nil)
		if got := api.NextLink(r, "https://acct.example/", tt.token); got != tt.want {
			t.Errorf("NextLink(%s) =\n%s\nwant\n%s", tt.target, got, tt.want)
		}
	}
}

func TestNewPageJSON(t *testing.T) {
	r := httptest.NewRequest("GET", "http://127.0.0.1:8080/jobs?api-version=2024-07-01.20.0", nil)
	body := func(p api.Page[string]) string {
		rec := httptest.NewRecorder()
		if err := api.WriteJSON(rec, r, http.StatusOK, p, testRequestID); err != nil {
			t.Fatal(err)
		}
		return rec.Body.String()
	}
	if got, want := body(api.NewPage[string](r, "jobs", nil, "")), `{"odata.metadata":"http://127.0.0.1:8080/$metadata#jobs","value":[]}`; got != want {
		t.Errorf("empty last page = %s, want %s", got, want)
	}
	want := `{"odata.metadata":"http://127.0.0.1:8080/$metadata#jobs","value":["a"],"odata.nextLink":"http://127.0.0.1:8080/jobs?api-version=2024-07-01.20.0&$skiptoken=tok"}`
	if got := body(api.NewPage(r, "jobs", []string{"a"}, "tok")); got != want {
		t.Errorf("page = %s, want %s", got, want)
	}
}

func TestSkipTokenRoundTrip(t *testing.T) {
	for _, pos := range []string{"", "task-0042", "ünïcode/&?=+"} {
		got, e := api.DecodeSkipToken(api.EncodeSkipToken(pos))
		if e != nil || got != pos {
			t.Errorf("round trip of %q = %q, %v", pos, got, e)
		}
	}
	if _, e := api.DecodeSkipToken("not*base64"); code(e) != api.CodeInvalidQueryParameterValue {
		t.Errorf("DecodeSkipToken(garbage) = %v", e)
	}
}

// TestPagingEndToEnd lists 25 items, 7 per page, through a loopback server: the client follows
// odata.nextLink with signed requests until the last page, as the SDK pagers do.
func TestPagingEndToEnd(t *testing.T) {
	var items []string
	for i := 0; i < 25; i++ {
		items = append(items, fmt.Sprintf("job-%02d", i))
	}
	sort.Strings(items)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := testNow.Add(time.Second)
		reqID := api.NewRequestID()
		fail := func(e *api.Error) { api.WriteError(w, r, e, reqID, now) }
		if e := api.Authenticate(r, acct, [][]byte{primaryKey}, now); e != nil {
			fail(e)
			return
		}
		if _, e := api.APIVersion(r); e != nil {
			fail(e)
			return
		}
		perPage, e := api.MaxResults(r, api.MaxResultsLimit)
		if e != nil {
			fail(e)
			return
		}
		start := 0
		if tok := api.SkipToken(r); tok != "" {
			pos, e := api.DecodeSkipToken(tok)
			if e != nil {
				fail(e)
				return
			}
			start = sort.SearchStrings(items, pos) + 1
		}
		end := min(start+perPage, len(items))
		next := ""
		if end < len(items) {
			next = api.EncodeSkipToken(items[end-1])
		}
		if err := api.WriteJSON(w, r, http.StatusOK, api.NewPage(r, "jobs", items[start:end], next), reqID); err != nil {
			t.Error(err)
		}
	}))
	t.Cleanup(srv.Close)

	var got []string
	path, query := "/jobs", url.Values{"maxresults": {strconv.Itoa(7)}}
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("too many pages")
		}
		req, err := api.NewRequest("GET", srv.URL, path, query, nil, acct, primaryKey, testNow)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page api.Page[string]
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("page %d: status %d, %v", pages, resp.StatusCode, err)
		}
		got = append(got, page.Value...)
		if page.NextLink == "" {
			break
		}
		u, err := url.Parse(page.NextLink)
		if err != nil {
			t.Fatal(err)
		}
		path, query = u.Path, u.Query()
	}
	if fmt.Sprint(got) != fmt.Sprint(items) {
		t.Fatalf("listed %v, want %v", got, items)
	}
}
