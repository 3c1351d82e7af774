package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"corral/api"
)

var (
	primaryKey   = []byte("primary key of the corral test account, 64 bytes long........!")
	secondaryKey = []byte("secondary key of the corral test account")
)

const acct = "corralacct"

type seen struct {
	err    *api.Error
	method string
	path   string
	query  url.Values
	header http.Header
	body   string
}

// authServer authenticates every request at time now and reports what it saw.
func authServer(t *testing.T, now time.Time) (*httptest.Server, <-chan seen) {
	t.Helper()
	ch := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e := api.Authenticate(r, acct, [][]byte{primaryKey, secondaryKey}, now)
		b, _ := io.ReadAll(r.Body)
		ch <- seen{e, r.Method, r.URL.Path, r.URL.Query(), r.Header.Clone(), string(b)}
		if e != nil {
			api.WriteError(w, r, e, testRequestID, now)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

func do(t *testing.T, srv *httptest.Server, ch <-chan seen, req *http.Request) (*http.Response, seen) {
	t.Helper()
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp, <-ch
}

func TestNewRequestIsAuthentic(t *testing.T) {
	type job struct {
		ID       string `json:"id"`
		PoolInfo struct {
			PoolID string `json:"poolId"`
		} `json:"poolInfo"`
	}
	var j job
	j.ID, j.PoolInfo.PoolID = "job-1", "pool-1"

	tests := []struct {
		name      string
		method    string
		path      string
		query     url.Values
		body      any
		key       []byte
		wantPath  string
		wantQuery url.Values
		wantBody  string
		wantCT    string
	}{
		{
			name: "POST JSON body", method: "POST", path: "/jobs", body: j, key: primaryKey,
			wantPath: "/jobs", wantQuery: url.Values{"api-version": {api.LatestAPIVersion}},
			wantBody: `{"id":"job-1","poolInfo":{"poolId":"pool-1"}}`, wantCT: "application/json; odata=minimalmetadata",
		},
		{
			name: "GET with OData query, secondary key", method: "GET", path: "/jobs/job 1/tasks",
			query: url.Values{"$filter": {"state eq 'active'"}, "$select": {"id,state"}, "maxresults": {"10"}, "api-version": {api.OldestAPIVersion}},
			key:   secondaryKey, wantPath: "/jobs/job 1/tasks",
			wantQuery: url.Values{"$filter": {"state eq 'active'"}, "$select": {"id,state"}, "maxresults": {"10"}, "api-version": {api.OldestAPIVersion}},
		},
		{
			name: "POST without body", method: "POST", path: "pools/pool-1/stopresize", key: primaryKey,
			wantPath: "/pools/pool-1/stopresize", wantQuery: url.Values{"api-version": {api.LatestAPIVersion}},
		},
		{
			name: "PATCH raw bytes body", method: "PATCH", path: "/pools/pool-1", body: []byte(`{"metadata":[]}`), key: primaryKey,
			wantPath: "/pools/pool-1", wantQuery: url.Values{"api-version": {api.LatestAPIVersion}},
			wantBody: `{"metadata":[]}`, wantCT: "application/json; odata=minimalmetadata",
		},
		{
			name: "DELETE", method: "DELETE", path: "/jobs/job-1", key: secondaryKey,
			wantPath: "/jobs/job-1", wantQuery: url.Values{"api-version": {api.LatestAPIVersion}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, ch := authServer(t, testNow.Add(time.Minute))
			req, err := api.NewRequest(tt.method, srv.URL, tt.path, tt.query, tt.body, acct, tt.key, testNow)
			if err != nil {
				t.Fatal(err)
			}
			resp, s := do(t, srv, ch, req)
			if s.err != nil || resp.StatusCode != http.StatusNoContent {
				t.Fatalf("Authenticate: %v (status %d)", s.err, resp.StatusCode)
			}
			if s.method != tt.method || s.path != tt.wantPath || s.body != tt.wantBody {
				t.Errorf("server saw %s %q body %q", s.method, s.path, s.body)
			}
			if got, want := s.query.Encode(), tt.wantQuery.Encode(); got != want {
				t.Errorf("query = %s, want %s", got, want)
			}
			if got := s.header.Get("Content-Type"); got != tt.wantCT {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantCT)
			}
			if got := s.header.Get("ocp-date"); got != "Tue, 10 Sep 2024 10:00:00 GMT" {
				t.Errorf("ocp-date = %q", got)
			}
		})
	}
}

func TestAuthenticateFailures(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(r *http.Request)
		now    time.Time
		status int
		code   string
	}{
		{"wrong key", func(r *http.Request) {
			s, _ := api.NewRequest(r.Method, "http://"+r.URL.Host, r.URL.Path, r.URL.Query(), nil, acct, []byte("wrong"), testNow)
			r.Header.Set("Authorization", s.Header.Get("Authorization"))
		}, testNow, 403, api.CodeAuthenticationFailed},
		{"no Authorization", func(r *http.Request) { r.Header.Del("Authorization") }, testNow, 403, api.CodeAuthenticationFailed},
		{"bearer token", func(r *http.Request) { r.Header.Set("Authorization", "Bearer eyJ0eXAi") }, testNow, 400, api.CodeInvalidAuthenticationInfo},
		{"stale", func(r *http.Request) {}, testNow.Add(16 * time.Minute), 403, api.CodeAuthenticationFailed},
		{"tampered query", func(r *http.Request) { r.URL.RawQuery += "&maxresults=1" }, testNow, 403, api.CodeAuthenticationFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, ch := authServer(t, tt.now)
			req, err := api.NewRequest("GET", srv.URL, "/jobs", nil, nil, acct, primaryKey, testNow)
			if err != nil {
				t.Fatal(err)
			}
			tt.mutate(req)
			resp, s := do(t, srv, ch, req)
			if s.err == nil || resp.StatusCode != tt.status || s.err.Code != tt.code {
				t.Fatalf("got %d %v, want %d %s", resp.StatusCode, s.err, tt.status, tt.code)
			}
			var body struct {
				Code   string           `json:"code"`
				Values []api.ErrorValue `json:"values"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if body.Code != tt.code || len(body.Values) != 1 || body.Values[0].Key != "AuthenticationErrorDetail" || body.Values[0].Value == "" {
				t.Fatalf("body = %+v", body)
			}
			if sig := req.Header.Get("Authorization"); len(sig) > 20 && strings.Contains(body.Values[0].Value, sig[strings.LastIndex(sig, ":")+1:]) {
				t.Fatalf("AuthenticationErrorDetail echoes the request's signature")
			}
		})
	}
}

func TestNewRequestErrors(t *testing.T) {
	if _, err := api.NewRequest("GET", "://bad", "/jobs", nil, nil, acct, primaryKey, testNow); err == nil {
		t.Error("bad base URL accepted")
	}
	if _, err := api.NewRequest("POST", "http://127.0.0.1", "/jobs", nil, make(chan int), acct, primaryKey, testNow); err == nil {
		t.Error("unmarshalable body accepted")
	}
	if _, err := api.NewRequest("GET", "http://127.0.0.1", "/jobs", nil, nil, acct, nil, testNow); err == nil {
		t.Error("empty key accepted")
	}
	req, err := api.NewRequest("GET", "http://127.0.0.1:1/prefix/", "/jobs", url.Values{"Api-Version": {"2023-11-01.18.0"}}, nil, acct, primaryKey, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if req.URL.Path != "/prefix/jobs" || req.URL.RawQuery != "Api-Version=2023-11-01.18.0" {
		t.Errorf("URL = %s", req.URL)
	}
}
