package sharedkey_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"corral/api/sharedkey"
)

// testKey is the account key of every test; its base64 form is what a user would configure.
var testKey = []byte(strings.Repeat("corral-test-key-", 4))

const (
	testKeyB64 = "Y29ycmFsLXRlc3Qta2V5LWNvcnJhbC10ZXN0LWtleS1jb3JyYWwtdGVzdC1rZXktY29ycmFsLXRlc3Qta2V5LQ=="
	account    = "corralacct"
	ocpDate    = "Tue, 10 Sep 2024 10:00:00 GMT"
	jobBody    = `{"id":"job-1","poolInfo":{"poolId":"pool-1"}}`
)

var testNow = time.Date(2024, 9, 10, 10, 0, 0, 0, time.UTC)

// ---------------------------------------------------------------------------------------------
// A reference signer written from the documented algorithm, independent of the package: it works
// on a plain description of the request, not on an *http.Request.

type refRequest struct {
	verb    string
	headers map[string]string // any case; the standard ones by their usual names
	path    string            // as sent, percent-encoded
	query   [][2]string       // decoded name/value pairs, in the order sent
}

type refStyle struct {
	contentLengthZero string // "" (documented, newer .NET) or "0" (JavaScript, Python, older .NET)
	dateWithOCP       bool   // sign the Date header even when ocp-date is present (JavaScript, Python)
	namesAsSent       bool   // query names not lowercased, one line per value (JavaScript, Python)
	skipEmptyOCP      bool   // leave out ocp- headers with empty values (JavaScript, Python)
	lowerAccount      bool   // lowercase the account in the resource (Java)
}

func refStringToSign(req refRequest, acct string, st refStyle) string {
	get := func(name string) string {
		for k, v := range req.headers {
			if strings.EqualFold(k, name) {
				return v
			}
		}
		return ""
	}
	lines := []string{req.verb}
	for _, name := range []string{"Content-Encoding", "Content-Language", "Content-Length", "Content-MD5",
		"Content-Type", "Date", "If-Modified-Since", "If-Match", "If-None-Match", "If-Unmodified-Since", "Range"} {
		v := get(name)
		switch {
		case name == "Content-Length" && (v == "" || v == "0"):
			v = st.contentLengthZero
		case name == "Date" && get("ocp-date") != "" && !st.dateWithOCP:
			v = ""
		}
		lines = append(lines, v)
	}
	s := strings.Join(lines, "\n") + "\n"

	var ocp []string
	for k, v := range req.headers {
		if strings.HasPrefix(strings.ToLower(k), "ocp-") && !(st.skipEmptyOCP && v == "") {
			ocp = append(ocp, strings.ToLower(k)+":"+v+"\n")
		}
	}
	sort.Strings(ocp)
	s += strings.Join(ocp, "")

	if st.lowerAccount {
		acct = strings.ToLower(acct)
	}
	s += "/" + acct + req.path
	if st.namesAsSent {
		q := append([][2]string(nil), req.query...)
		sort.SliceStable(q, func(i, j int) bool { return q[i][0] < q[j][0] })
		for _, p := range q {
			s += "\n" + p[0] + ":" + p[1]
		}
	} else {
		joined := map[string][]string{}
		for _, p := range req.query {
			k := strings.ToLower(p[0])
			joined[k] = append(joined[k], p[1])
		}
		var names []string
		for k := range joined {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			s += "\n" + k + ":" + strings.Join(joined[k], ",")
		}
	}
	return s
}

func refSign(key []byte, s string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// ---------------------------------------------------------------------------------------------
// A loopback server that verifies what it receives, so that tests see requests exactly as
// net/http parses them (canonical header names, trimmed values, Content-Length).

type result struct {
	err error
	sts string // the server's StringToSign of the request
}

func newServer(t *testing.T, acct string, keys [][]byte, now time.Time) (*httptest.Server, <-chan result) {
	t.Helper()
	ch := make(chan result, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := sharedkey.VerifyAny(r, acct, keys, now, sharedkey.DefaultSkew)
		sts, _ := sharedkey.StringToSign(r, acct)
		ch <- result{err, sts}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

func send(t *testing.T, srv *httptest.Server, ch <-chan result, req *http.Request) result {
	t.Helper()
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	resp.Body.Close()
	return <-ch
}

func newReq(t *testing.T, method, url, body string, headers map[string]string) *http.Request {
	t.Helper()
	var req *http.Request
	var err error
	if body == "" {
		req, err = http.NewRequest(method, url, nil)
	} else {
		req, err = http.NewRequest(method, url, strings.NewReader(body))
	}
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header[k] = []string{v} // as the SDKs do: names as written, e.g. "ocp-date"
	}
	return req
}

func wantCode(t *testing.T, err error, code string, status int) {
	t.Helper()
	var e *sharedkey.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want a *sharedkey.Error with code %s", err, code)
	}
	if e.Code != code || e.Status != status {
		t.Fatalf("error = %d %s (%s), want %d %s", e.Status, e.Code, e.Detail, status, code)
	}
}

func TestTestKey(t *testing.T) {
	if got := base64.StdEncoding.EncodeToString(testKey); got != testKeyB64 {
		t.Fatalf("test key base64 = %s", got)
	}
}

// TestSDKVectors sends requests signed as the official SDKs sign them. The signatures were
// computed outside Go (Python's hmac over the strings written out below, following each SDK's
// code), so this checks Verify against an independent implementation.
func TestSDKVectors(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		target  string // path and raw query as sent
		body    string
		headers map[string]string
		acct    string // account in the Authorization header
		sig     string
		sts     string // the string the SDK signed
	}{
		{
			name:   "js: POST /jobs with a body",
			method: "POST", target: "/jobs?api-version=2024-07-01.20.0", body: jobBody,
			headers: map[string]string{"ocp-date": ocpDate, "Content-Type": "application/json; odata=minimalmetadata", "client-request-id": "9C4D50EE-2D56-4CD3-8152-34347DC9F2B0"},
			acct:    account,
			sig:     "7hLNn6MGuevAeKtr6Pf7OYHdyhLUSw2mAhIU37gL/0o=",
			sts:     "POST\n\n\n45\n\napplication/json; odata=minimalmetadata\n\n\n\n\n\n\nocp-date:Tue, 10 Sep 2024 10:00:00 GMT\n/corralacct/jobs\napi-version:2024-07-01.20.0",
		},
		{
			name:   "js: GET with $filter, $select, maxresults, timeout",
			method: "GET", target: "/jobs/job-1/tasks?api-version=2022-10-01.16.0&%24filter=state%20eq%20%27active%27&%24select=id%2Cstate&maxresults=10&timeout=20",
			headers: map[string]string{"ocp-date": ocpDate, "return-client-request-id": "true"},
			acct:    account,
			sig:     "FQmCa0+flmTD5T+rgjmGX+rlLwjGAq/JKwCjhV4DMMs=",
			sts:     "GET\n\n\n\n\n\n\n\n\n\n\n\nocp-date:Tue, 10 Sep 2024 10:00:00 GMT\n/corralacct/jobs/job-1/tasks\n$filter:state eq 'active'\n$select:id,state\napi-version:2022-10-01.16.0\nmaxresults:10\ntimeout:20",
		},
		{
			name:   "js: same GET with + for spaces and a literal $",
			method: "GET", target: "/jobs/job-1/tasks?api-version=2022-10-01.16.0&$filter=state+eq+'active'&$select=id,state&maxresults=10&timeout=20",
			headers: map[string]string{"ocp-date": ocpDate},
			acct:    account,
			sig:     "FQmCa0+flmTD5T+rgjmGX+rlLwjGAq/JKwCjhV4DMMs=",
		},
		{
			name:   "newer .NET: POST without body signs an empty Content-Length",
			method: "POST", target: "/pools/pool-1/stopresize?api-version=2024-07-01.20.0",
			headers: map[string]string{"ocp-date": ocpDate},
			acct:    account,
			sig:     "dfi0RB81UGE9A5Ozb7NNPXRL0y1kKcVcLS9EoA39Ufk=",
			sts:     "POST\n\n\n\n\n\n\n\n\n\n\n\nocp-date:Tue, 10 Sep 2024 10:00:00 GMT\n/corralacct/pools/pool-1/stopresize\napi-version:2024-07-01.20.0",
		},
		{
			name:   "js, python: POST without body signs Content-Length 0",
			method: "POST", target: "/pools/pool-1/stopresize?api-version=2024-07-01.20.0",
			headers: map[string]string{"ocp-date": ocpDate},
			acct:    account,
			sig:     "gx/vP0afzbqG8KvVQPDLMxkylQhEHXUVxjfM6LxqFGo=",
		},
		{
			name:   "java: DELETE with If-Match, lowercased account in the resource",
			method: "DELETE", target: "/jobs/job-1?api-version=2024-07-01.20.0",
			headers: map[string]string{"ocp-date": ocpDate, "If-Match": "0x8DC1234567890AB"},
			acct:    "CorralAcct",
			sig:     "99ZAStJEQqXjsUOtbgwzQdKOSjMmwzL1la6FK4S2VCE=",
		},
		{
			name:   "older .NET: DELETE signs Content-Length 0",
			method: "DELETE", target: "/jobs/job-1?api-version=2024-07-01.20.0",
			headers: map[string]string{"ocp-date": ocpDate, "If-Match": "0x8DC1234567890AB"},
			acct:    account,
			sig:     "HjUOlCTPYAo1Jk04AJARTFLwVo2lbxSHRXcqAdck5ac=",
		},
		{
			name:   "js: Date header signed next to ocp-date",
			method: "GET", target: "/pools?api-version=2024-07-01.20.0&maxresults=5",
			headers: map[string]string{"ocp-date": ocpDate, "Date": "Tue, 10 Sep 2024 09:59:59 GMT"},
			acct:    account,
			sig:     "XAO1N5Mdotw7uFiN6w0Q13hCXZyUB7UDJOJbGlCKmhY=",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, ch := newServer(t, account, [][]byte{testKey}, testNow.Add(3*time.Second))
			req := newReq(t, tt.method, srv.URL+tt.target, tt.body, tt.headers)
			req.Header.Set("Authorization", "SharedKey "+tt.acct+":"+tt.sig)
			res := send(t, srv, ch, req)
			if res.err != nil {
				t.Fatalf("Verify: %v", res.err)
			}
			if tt.sts != "" && res.sts != tt.sts {
				t.Errorf("server StringToSign =\n%q\nwant\n%q", res.sts, tt.sts)
			}
		})
	}
}

// TestSignMatchesReference signs with Sign and checks the string against the reference signer
// and the signature against a server.
func TestSignMatchesReference(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		target  string
		ref     refRequest
		body    string
		headers map[string]string
	}{
		{
			name: "POST with body", method: "POST", target: "/jobs?api-version=2024-07-01.20.0", body: jobBody,
			headers: map[string]string{"Ocp-Date": ocpDate, "Content-Type": "application/json; odata=minimalmetadata"},
			ref: refRequest{verb: "POST", path: "/jobs", query: [][2]string{{"api-version", "2024-07-01.20.0"}},
				headers: map[string]string{"ocp-date": ocpDate, "Content-Type": "application/json; odata=minimalmetadata", "Content-Length": "45"}},
		},
		{
			name: "GET, every conditional header, escaped path, repeated and mixed-case query names", method: "GET",
			target: "/jobs/job%201/tasks/t%2F1/files/a%20b.txt?api-version=2024-07-01.20.0&timeOut=10&x=2&X=1",
			headers: map[string]string{
				"ocp-date": ocpDate, "If-Match": "0x1", "If-None-Match": "0x2", "If-Modified-Since": ocpDate,
				"If-Unmodified-Since": ocpDate, "Range": "bytes=0-99", "ocp-custom": "v",
			},
			ref: refRequest{verb: "GET", path: "/jobs/job%201/tasks/t%2F1/files/a%20b.txt",
				query: [][2]string{{"api-version", "2024-07-01.20.0"}, {"timeOut", "10"}, {"x", "2"}, {"X", "1"}},
				headers: map[string]string{"ocp-date": ocpDate, "If-Match": "0x1", "If-None-Match": "0x2", "If-Modified-Since": ocpDate,
					"If-Unmodified-Since": ocpDate, "Range": "bytes=0-99", "ocp-custom": "v"}},
		},
		{
			name: "PATCH with content headers and Date only", method: "PATCH", target: "/pools/p?api-version=2023-05-01.17.0", body: `{}`,
			headers: map[string]string{"Date": ocpDate, "Content-Type": "application/json", "Content-Encoding": "identity", "Content-Language": "en-US", "Content-MD5": "mZFLkyvTelC5g8XnyQrpOw=="},
			ref: refRequest{verb: "PATCH", path: "/pools/p", query: [][2]string{{"api-version", "2023-05-01.17.0"}},
				headers: map[string]string{"Date": ocpDate, "Content-Type": "application/json", "Content-Encoding": "identity", "Content-Language": "en-US", "Content-MD5": "mZFLkyvTelC5g8XnyQrpOw==", "Content-Length": "2"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, ch := newServer(t, account, [][]byte{testKey}, testNow)
			req := newReq(t, tt.method, srv.URL+tt.target, tt.body, tt.headers)
			if err := sharedkey.Sign(req, account, testKey); err != nil {
				t.Fatal(err)
			}
			want := refStringToSign(tt.ref, account, refStyle{})
			got, err := sharedkey.StringToSign(req, account)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("client StringToSign =\n%q\nwant\n%q", got, want)
			}
			if auth := req.Header.Get("Authorization"); auth != "SharedKey "+account+":"+refSign(testKey, want) {
				t.Fatalf("Authorization = %q, want the reference signature", auth)
			}
			res := send(t, srv, ch, req)
			if res.err != nil {
				t.Fatalf("Verify: %v", res.err)
			}
			if res.sts != want {
				t.Fatalf("server StringToSign =\n%q\nwant\n%q", res.sts, want)
			}
		})
	}
}

// TestClientStyles signs one request in each SDK's style with the reference signer and checks
// that the server accepts every one.
func TestClientStyles(t *testing.T) {
	ref := refRequest{
		verb: "POST",
		path: "/jobs/j/tasks/t/reactivate",
		query: [][2]string{
			{"api-version", "2024-07-01.20.0"}, {"timeOut", "20"}, {"tag", "a"}, {"tag", "b"},
		},
		headers: map[string]string{"ocp-date": ocpDate, "Date": "Tue, 10 Sep 2024 09:59:00 GMT", "ocp-empty": ""},
	}
	styles := map[string]refStyle{
		"documented":                {},
		".NET (older)":              {contentLengthZero: "0"},
		".NET (newer)":              {contentLengthZero: ""},
		"JavaScript":                {contentLengthZero: "0", dateWithOCP: true, namesAsSent: true, skipEmptyOCP: true},
		"Python":                    {contentLengthZero: "0", dateWithOCP: true, namesAsSent: true, skipEmptyOCP: true},
		"Java (account lowercased)": {contentLengthZero: "0", lowerAccount: true},
		"JS, empty CL":              {dateWithOCP: true, namesAsSent: true},
		".NET, empty ocp":           {contentLengthZero: "0", skipEmptyOCP: true},
	}
	for name, st := range styles {
		t.Run(name, func(t *testing.T) {
			srv, ch := newServer(t, account, [][]byte{testKey}, testNow)
			req := newReq(t, "POST", srv.URL+"/jobs/j/tasks/t/reactivate?api-version=2024-07-01.20.0&timeOut=20&tag=a&tag=b", "", ref.headers)
			acct := "CorralAcct"
			req.Header.Set("Authorization", "SharedKey "+acct+":"+refSign(testKey, refStringToSign(ref, acct, st)))
			if res := send(t, srv, ch, req); res.err != nil {
				t.Fatalf("Verify: %v", res.err)
			}
		})
	}
}

// TestTampering changes each signed part of a signed request; every change must fail.
func TestTampering(t *testing.T) {
	base := func(t *testing.T, url string) *http.Request {
		req := newReq(t, "PUT", url+"/jobs/job-1?api-version=2024-07-01.20.0&timeout=20", jobBody, map[string]string{
			"ocp-date": ocpDate, "Content-Type": "application/json; odata=minimalmetadata",
			"If-Match": "0x1", "ocp-extra": "x",
		})
		if err := sharedkey.Sign(req, account, testKey); err != nil {
			t.Fatal(err)
		}
		return req
	}
	tests := []struct {
		name   string
		change func(r *http.Request)
	}{
		{"verb", func(r *http.Request) { r.Method = "POST" }},
		{"path", func(r *http.Request) { r.URL.Path = "/jobs/job-2" }},
		{"path case", func(r *http.Request) { r.URL.Path = "/jobs/Job-1" }},
		{"query value", func(r *http.Request) { r.URL.RawQuery = "api-version=2024-07-01.20.0&timeout=21" }},
		{"query added", func(r *http.Request) { r.URL.RawQuery += "&maxresults=1" }},
		{"query removed", func(r *http.Request) { r.URL.RawQuery = "api-version=2024-07-01.20.0" }},
		{"api-version", func(r *http.Request) { r.URL.RawQuery = "api-version=2023-05-01.17.0&timeout=20" }},
		{"body length", func(r *http.Request) {
			b := jobBody + " "
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader(b)), int64(len(b))
		}},
		{"Content-Type", func(r *http.Request) { r.Header.Set("Content-Type", "application/json") }},
		{"Content-Encoding", func(r *http.Request) { r.Header.Set("Content-Encoding", "gzip") }},
		{"Content-Language", func(r *http.Request) { r.Header.Set("Content-Language", "fr") }},
		{"Content-MD5", func(r *http.Request) { r.Header.Set("Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA==") }},
		{"If-Match", func(r *http.Request) { r.Header["If-Match"] = []string{"0x2"} }},
		{"If-None-Match", func(r *http.Request) { r.Header.Set("If-None-Match", "*") }},
		{"If-Modified-Since", func(r *http.Request) { r.Header.Set("If-Modified-Since", ocpDate) }},
		{"If-Unmodified-Since", func(r *http.Request) { r.Header.Set("If-Unmodified-Since", ocpDate) }},
		{"Range", func(r *http.Request) { r.Header.Set("Range", "bytes=0-1") }},
		{"ocp-date within skew", func(r *http.Request) { r.Header["ocp-date"] = []string{"Tue, 10 Sep 2024 10:00:01 GMT"} }},
		{"ocp- header value", func(r *http.Request) { r.Header["ocp-extra"] = []string{"y"} }},
		{"ocp- header added", func(r *http.Request) { r.Header.Set("Ocp-Other", "1") }},
		{"ocp- header removed", func(r *http.Request) { delete(r.Header, "ocp-extra") }},
		{"signature", func(r *http.Request) {
			a := r.Header.Get("Authorization")
			i := strings.LastIndex(a, ":") + 1
			flip := byte('A')
			if a[i] == 'A' {
				flip = 'B'
			}
			r.Header.Set("Authorization", a[:i]+string(flip)+a[i+1:])
		}},
		{"truncated signature", func(r *http.Request) {
			a := r.Header.Get("Authorization")
			sig := a[strings.LastIndex(a, ":")+1:]
			raw, _ := base64.StdEncoding.DecodeString(sig)
			r.Header.Set("Authorization", "SharedKey "+account+":"+base64.StdEncoding.EncodeToString(raw[:31]))
		}},
		{"other key", func(r *http.Request) {
			if err := sharedkey.Sign(r, account, []byte("another key entirely")); err != nil {
				panic(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, ch := newServer(t, account, [][]byte{testKey}, testNow)
			req := base(t, srv.URL)
			tt.change(req)
			res := send(t, srv, ch, req)
			wantCode(t, res.err, sharedkey.CodeAuthenticationFailed, http.StatusForbidden)
			if !sharedkey.IsSignatureMismatch(res.err) {
				t.Fatalf("error %v is not a signature mismatch", res.err)
			}
		})
	}
	t.Run("untouched", func(t *testing.T) {
		srv, ch := newServer(t, account, [][]byte{testKey}, testNow)
		if res := send(t, srv, ch, base(t, srv.URL)); res.err != nil {
			t.Fatalf("Verify: %v", res.err)
		}
	})
}

func TestMalformedAuthorization(t *testing.T) {
	tests := []struct {
		name   string
		auth   []string
		code   string
		status int
	}{
		{"missing", nil, sharedkey.CodeAuthenticationFailed, 403},
		{"twice", []string{"SharedKey corralacct:AAAA", "SharedKey corralacct:AAAA"}, sharedkey.CodeInvalidAuthenticationInfo, 400},
		{"bearer", []string{"Bearer eyJ0eXAiOiJKV1Qi"}, sharedkey.CodeInvalidAuthenticationInfo, 400},
		{"scheme only", []string{"SharedKey"}, sharedkey.CodeInvalidAuthenticationInfo, 400},
		{"no colon", []string{"SharedKey corralacct"}, sharedkey.CodeInvalidAuthenticationInfo, 400},
		{"empty account", []string{"SharedKey :AAAA"}, sharedkey.CodeInvalidAuthenticationInfo, 400},
		{"empty signature", []string{"SharedKey corralacct:"}, sharedkey.CodeInvalidAuthenticationInfo, 400},
		{"not base64", []string{"SharedKey corralacct:!!!!"}, sharedkey.CodeInvalidAuthenticationInfo, 400},
		{"SharedKeyLite", []string{"SharedKeyLite corralacct:AAAA"}, sharedkey.CodeInvalidAuthenticationInfo, 400},
		{"wrong account", []string{"SharedKey otheracct:" + base64.StdEncoding.EncodeToString(make([]byte, 32))}, sharedkey.CodeAuthenticationFailed, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/jobs?api-version=2024-07-01.20.0", nil)
			r.Header.Set("ocp-date", ocpDate)
			r.Header["Authorization"] = tt.auth
			err := sharedkey.Verify(r, account, testKey, testNow, sharedkey.DefaultSkew)
			wantCode(t, err, tt.code, tt.status)
			if sharedkey.IsSignatureMismatch(err) {
				t.Fatalf("%v reported as a signature mismatch", err)
			}
		})
	}
}

func TestDateAndSkew(t *testing.T) {
	sign := func(t *testing.T, headers map[string]string) *http.Request {
		r := httptest.NewRequest("GET", "/pools?api-version=2024-07-01.20.0", nil)
		for k, v := range headers {
			r.Header.Set(k, v)
		}
		if err := sharedkey.Sign(r, account, testKey); err != nil {
			t.Fatal(err)
		}
		return r
	}
	skew := sharedkey.DefaultSkew
	tests := []struct {
		name    string
		headers map[string]string
		now     time.Time
		ok      bool
	}{
		{"exact", map[string]string{"ocp-date": ocpDate}, testNow, true},
		{"just inside, late", map[string]string{"ocp-date": ocpDate}, testNow.Add(skew), true},
		{"just inside, early", map[string]string{"ocp-date": ocpDate}, testNow.Add(-skew), true},
		{"too old", map[string]string{"ocp-date": ocpDate}, testNow.Add(skew + time.Second), false},
		{"in the future", map[string]string{"ocp-date": ocpDate}, testNow.Add(-skew - time.Second), false},
		{"Date only", map[string]string{"Date": ocpDate}, testNow.Add(time.Minute), true},
		{"Date only, too old", map[string]string{"Date": ocpDate}, testNow.Add(time.Hour), false},
		{"ocp-date wins over a stale Date", map[string]string{"ocp-date": ocpDate, "Date": "Mon, 01 Jan 2024 00:00:00 GMT"}, testNow, true},
		{"Go time.RFC1123 with UTC (azbatch OCPDate)", map[string]string{"ocp-date": "Tue, 10 Sep 2024 10:00:00 UTC"}, testNow, true},
		{"RFC 1123 numeric zone", map[string]string{"ocp-date": "Tue, 10 Sep 2024 12:00:00 +0200"}, testNow, true},
		{"RFC 850", map[string]string{"ocp-date": "Tuesday, 10-Sep-24 10:00:00 GMT"}, testNow, true},
		{"ANSI C", map[string]string{"ocp-date": "Tue Sep 10 10:00:00 2024"}, testNow, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sharedkey.Verify(sign(t, tt.headers), account, testKey, tt.now, skew)
			if tt.ok && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !tt.ok {
				wantCode(t, err, sharedkey.CodeAuthenticationFailed, 403)
				if sharedkey.IsSignatureMismatch(err) {
					t.Fatalf("stale date reported as a signature mismatch: %v", err)
				}
			}
		})
	}

	t.Run("no date", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/pools", nil)
		if err := sharedkey.Sign(r, account, testKey); err == nil {
			t.Fatal("Sign without a date succeeded")
		}
		r.Header.Set("Authorization", "SharedKey corralacct:"+base64.StdEncoding.EncodeToString(make([]byte, 32)))
		wantCode(t, sharedkey.Verify(r, account, testKey, testNow, skew), sharedkey.CodeAuthenticationFailed, 403)
	})
	t.Run("garbled date", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/pools", nil)
		r.Header.Set("ocp-date", "yesterday")
		r.Header.Set("Authorization", "SharedKey corralacct:"+base64.StdEncoding.EncodeToString(make([]byte, 32)))
		wantCode(t, sharedkey.Verify(r, account, testKey, testNow, skew), sharedkey.CodeAuthenticationFailed, 403)
	})
}

func TestVerifyAnyKeys(t *testing.T) {
	primary, secondary := testKey, []byte("the secondary key of the account")
	r := httptest.NewRequest("GET", "/jobs?api-version=2024-07-01.20.0", nil)
	r.Header.Set("ocp-date", ocpDate)
	if err := sharedkey.Sign(r, account, secondary); err != nil {
		t.Fatal(err)
	}
	if err := sharedkey.VerifyAny(r, account, [][]byte{primary, secondary}, testNow, sharedkey.DefaultSkew); err != nil {
		t.Fatalf("secondary key: %v", err)
	}
	if err := sharedkey.Verify(r, account, primary, testNow, sharedkey.DefaultSkew); !sharedkey.IsSignatureMismatch(err) {
		t.Fatalf("primary key only: got %v, want a signature mismatch", err)
	}
	wantCode(t, sharedkey.VerifyAny(r, account, nil, testNow, sharedkey.DefaultSkew), sharedkey.CodeAuthenticationFailed, 403)
	if err := sharedkey.Verify(r, strings.ToUpper(account), secondary, testNow, sharedkey.DefaultSkew); err != nil {
		t.Fatalf("account names are case-insensitive: %v", err)
	}
}

// TestErrorsHoldNoSecrets checks that no failure's text holds the key or the request's signature.
func TestErrorsHoldNoSecrets(t *testing.T) {
	r := httptest.NewRequest("POST", "/jobs?api-version=2024-07-01.20.0", strings.NewReader(jobBody))
	r.Header.Set("ocp-date", ocpDate)
	if err := sharedkey.Sign(r, account, testKey); err != nil {
		t.Fatal(err)
	}
	auth := r.Header.Get("Authorization")
	sig := auth[strings.LastIndex(auth, ":")+1:]
	for _, now := range []time.Time{testNow, testNow.Add(time.Hour)} {
		for _, key := range [][]byte{[]byte("wrong key"), testKey} {
			err := sharedkey.Verify(r, account, key, now, sharedkey.DefaultSkew)
			if err == nil {
				continue
			}
			for _, secret := range []string{sig, testKeyB64, string(testKey), string(key)} {
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error %q contains a secret", err)
				}
			}
		}
	}
	err := sharedkey.Verify(r, account, []byte("wrong key"), testNow, sharedkey.DefaultSkew)
	if !strings.Contains(err.Error(), "Server used following string to sign") {
		t.Fatalf("mismatch error %q does not show the server's string to sign", err)
	}
}

func TestSignErrors(t *testing.T) {
	r := httptest.NewRequest("GET", "/jobs", nil)
	r.Header.Set("ocp-date", ocpDate)
	if err := sharedkey.Sign(r, "", testKey); err == nil {
		t.Error("Sign with empty account succeeded")
	}
	if err := sharedkey.Sign(r, account, nil); err == nil {
		t.Error("Sign with empty key succeeded")
	}
}
