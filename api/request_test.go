package api_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"corral/api"
)

type constraints struct {
	MaxWallClockTime  string `json:"maxWallClockTime"`
	MaxTaskRetryCount int    `json:"maxTaskRetryCount"`
}

type jobBody struct {
	ID          string       `json:"id"`
	Priority    int          `json:"priority"`
	Constraints *constraints `json:"constraints"`
	Tags        []string     `json:"tags"`
}

// vetoed fails to unmarshal with an *api.Error, as a domain type's validation might.
type vetoed struct{}

func (*vetoed) UnmarshalJSON([]byte) error {
	return api.InvalidProperty("id", "x", "vetoed")
}

// countingReader records how much of the body was read.
type countingReader struct {
	r    io.Reader
	read int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	return n, err
}

func value(e *api.Error, key string) string {
	for _, v := range e.Values {
		if v.Key == key {
			return v.Value
		}
	}
	return ""
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		ct       string
		opts     api.DecodeOptions
		wantCode string
		wantProp string // PropertyName value
		check    func(t *testing.T, j jobBody)
	}{
		{name: "valid", body: `{"id":"job-1","priority":5,"constraints":{"maxTaskRetryCount":3}}`, ct: api.ContentTypeRequest,
			check: func(t *testing.T, j jobBody) {
				if j.ID != "job-1" || j.Priority != 5 || j.Constraints.MaxTaskRetryCount != 3 {
					t.Errorf("decoded %+v", j)
				}
			}},
		{name: "no content type", body: `{"id":"job-1"}`},
		{name: "unknown field ignored", body: `{"id":"job-1","usesTaskDependencies":true}`},
		{name: "unknown field rejected", body: `{"id":"job-1","usesTaskDependencies":true}`, opts: api.DecodeOptions{RejectUnknownFields: true},
			wantCode: api.CodeInvalidRequestBody, wantProp: "usesTaskDependencies"},
		{name: "nested unknown field rejected", body: `{"constraints":{"maxWallClock":"PT1H"}}`, opts: api.DecodeOptions{RejectUnknownFields: true},
			wantCode: api.CodeInvalidRequestBody},
		{name: "syntax error", body: `{"id": "job-1",}`, wantCode: api.CodeInvalidRequestBody},
		{name: "truncated", body: `{"id": "job-1"`, wantCode: api.CodeInvalidRequestBody},
		{name: "wrong type names the field", body: `{"id":"j","constraints":{"maxTaskRetryCount":"three"}}`,
			wantCode: api.CodeInvalidRequestBody, wantProp: "constraints.maxTaskRetryCount"},
		{name: "wrong top-level type", body: `{"id":7}`, wantCode: api.CodeInvalidRequestBody, wantProp: "id"},
		{name: "array expected", body: `{"tags":"a"}`, wantCode: api.CodeInvalidRequestBody, wantProp: "tags"},
		{name: "trailing data", body: `{"id":"a"} {"id":"b"}`, wantCode: api.CodeInvalidRequestBody},
		{name: "empty", body: "", wantCode: api.CodeInvalidRequestBody},
		{name: "whitespace", body: " \n ", wantCode: api.CodeInvalidRequestBody},
		{name: "not json content type", body: `{"id":"a"}`, ct: "text/plain", wantCode: api.CodeInvalidHeaderValue},
		{name: "garbled content type", body: `{"id":"a"}`, ct: "application/json; =", wantCode: api.CodeInvalidHeaderValue},
		{name: "at the limit", body: `{"id":"abc"}`, opts: api.DecodeOptions{MaxBytes: 12}},
		{name: "over the limit", body: `{"id":"abcd"}`, opts: api.DecodeOptions{MaxBytes: 12}, wantCode: api.CodeRequestBodyTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/jobs", strings.NewReader(tt.body))
			if tt.ct != "" {
				r.Header.Set("Content-Type", tt.ct)
			}
			var j jobBody
			e := api.DecodeJSON(r, &j, tt.opts)
			if tt.wantCode == "" {
				if e != nil {
					t.Fatalf("DecodeJSON: %v", e)
				}
				if tt.check != nil {
					tt.check(t, j)
				}
				return
			}
			if e == nil || e.Code != tt.wantCode {
				t.Fatalf("DecodeJSON = %v, want %s", e, tt.wantCode)
			}
			if tt.wantProp != "" && value(e, "PropertyName") != tt.wantProp {
				t.Errorf("PropertyName = %q, want %q (%v)", value(e, "PropertyName"), tt.wantProp, e)
			}
			if e.Code == api.CodeInvalidRequestBody && value(e, "Reason") == "" {
				t.Errorf("no Reason in %v", e)
			}
		})
	}
}

func TestDecodeJSONTooLargeReadsNoMoreThanTheLimit(t *testing.T) {
	const limit = 1000
	big := `{"id":"` + strings.Repeat("x", 10*limit) + `"}`

	t.Run("Content-Length says so: nothing read", func(t *testing.T) {
		c := &countingReader{r: strings.NewReader(big)}
		r := httptest.NewRequest("POST", "/jobs", nil)
		r.Body, r.ContentLength = io.NopCloser(c), int64(len(big))
		var j jobBody
		if e := api.DecodeJSON(r, &j, api.DecodeOptions{MaxBytes: limit}); e == nil || e.Code != api.CodeRequestBodyTooLarge || e.Status != 413 {
			t.Fatalf("DecodeJSON = %v", e)
		}
		if c.read != 0 {
			t.Fatalf("read %d bytes", c.read)
		}
	})
	t.Run("unknown length: stops after the limit", func(t *testing.T) {
		c := &countingReader{r: strings.NewReader(big)}
		r := httptest.NewRequest("POST", "/jobs", nil)
		r.Body, r.ContentLength = io.NopCloser(c), -1
		var j jobBody
		if e := api.DecodeJSON(r, &j, api.DecodeOptions{MaxBytes: limit}); e == nil || e.Code != api.CodeRequestBodyTooLarge {
			t.Fatalf("DecodeJSON = %v", e)
		}
		if c.read > limit+512 {
			t.Fatalf("read %d bytes for a limit of %d", c.read, limit)
		}
	})
	t.Run("default limit is 1 MiB", func(t *testing.T) {
		for _, n := range []int{api.DefaultMaxBodyBytes - 10, api.DefaultMaxBodyBytes - 9} {
			body := `{"id":"` + strings.Repeat("x", n) + `"}` // n+10 bytes
			r := httptest.NewRequest("POST", "/jobs", strings.NewReader(body))
			r.ContentLength = -1
			var j jobBody
			e := api.DecodeJSON(r, &j, api.DecodeOptions{})
			if fits := len(body) <= api.DefaultMaxBodyBytes; fits != (e == nil) {
				t.Fatalf("%d-byte body: DecodeJSON = %v", len(body), e)
			}
		}
	})
	t.Run("over a loopback connection", func(t *testing.T) {
		got := make(chan *api.Error, 1)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var j jobBody
			e := api.DecodeJSON(r, &j, api.DecodeOptions{MaxBytes: limit})
			got <- e
			api.WriteError(w, r, e, testRequestID, testNow)
		}))
		t.Cleanup(srv.Close)
		resp, err := srv.Client().Post(srv.URL+"/jobs", api.ContentTypeRequest, strings.NewReader(big))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if e := <-got; e == nil || e.Code != api.CodeRequestBodyTooLarge || resp.StatusCode != 413 {
			t.Fatalf("DecodeJSON = %v, status %d", e, resp.StatusCode)
		}
	})
}

func TestDecodeJSONPassesAPIErrorsThrough(t *testing.T) {
	r := httptest.NewRequest("POST", "/jobs", strings.NewReader(`{}`))
	var v vetoed
	e := api.DecodeJSON(r, &v, api.DecodeOptions{})
	if e == nil || e.Code != api.CodeInvalidPropertyValue || value(e, "Reason") != "vetoed" {
		t.Fatalf("DecodeJSON = %v", e)
	}
}

type failingBody struct{}

func (failingBody) Read([]byte) (int, error) { return 0, errors.New("connection reset") }
func (failingBody) Close() error             { return nil }

func TestDecodeJSONReadError(t *testing.T) {
	r := httptest.NewRequest("POST", "/jobs", nil)
	r.Body = failingBody{}
	var j jobBody
	if e := api.DecodeJSON(r, &j, api.DecodeOptions{}); e == nil || e.Code != api.CodeInvalidRequestBody {
		t.Fatalf("DecodeJSON = %v", e)
	}
}

func TestAPIVersion(t *testing.T) {
	tests := []struct {
		query    string
		want     string
		wantCode string
	}{
		{"api-version=2022-10-01.16.0", "2022-10-01.16.0", ""},
		{"api-version=2023-05-01.17.0", "2023-05-01.17.0", ""},
		{"api-version=2023-11-01.18.0", "2023-11-01.18.0", ""},
		{"api-version=2024-02-01.19.0", "2024-02-01.19.0", ""},
		{"api-version=2024-07-01.20.0", "2024-07-01.20.0", ""},
		{"Api-Version=2024-07-01.20.0", "2024-07-01.20.0", ""},
		{"api-version=2024-07-01.20.0&api-version=2024-07-01.20.0", "2024-07-01.20.0", ""},
		{"", "", api.CodeMissingRequiredQueryParameter},
		{"api-version=", "", api.CodeMissingRequiredQueryParameter},
		{"api-version=2022-01-01.15.0", "", api.CodeUnsupportedRequestVersion},
		{"api-version=2025-06-01", "", api.CodeUnsupportedRequestVersion},
		{"api-version=2024-07-01", "", api.CodeUnsupportedRequestVersion},
		{"api-version=2024-07-01.20.0&api-version=2023-05-01.17.0", "", api.CodeInvalidQueryParameterValue},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/jobs?"+tt.query, nil)
			got, e := api.APIVersion(r)
			if tt.wantCode == "" {
				if e != nil || got != tt.want {
					t.Fatalf("APIVersion = %q, %v", got, e)
				}
				return
			}
			if e == nil || e.Code != tt.wantCode || e.Status != 400 {
				t.Fatalf("APIVersion = %q, %v, want %s", got, e, tt.wantCode)
			}
			if value(e, "QueryParameterName") != "api-version" {
				t.Errorf("no QueryParameterName in %v", e)
			}
		})
	}
}

func TestQueryParameters(t *testing.T) {
	type result struct {
		n    int
		code string
	}
	tests := []struct {
		query   string
		timeout result // seconds
		max     result
	}{
		{"", result{30, ""}, result{1000, ""}},
		{"timeout=10&maxresults=5", result{10, ""}, result{5, ""}},
		{"timeOut=7", result{7, ""}, result{1000, ""}},
		{"timeout=31&maxresults=1000", result{30, ""}, result{1000, ""}},
		{"timeout=0&maxresults=0", result{0, api.CodeOutOfRangeQueryParameterValue}, result{0, api.CodeOutOfRangeQueryParameterValue}},
		{"timeout=-1&maxresults=1001", result{0, api.CodeOutOfRangeQueryParameterValue}, result{0, api.CodeOutOfRangeQueryParameterValue}},
		{"timeout=soon&maxresults=many", result{0, api.CodeInvalidQueryParameterValue}, result{0, api.CodeInvalidQueryParameterValue}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/jobs?"+tt.query, nil)
			d, e := api.Timeout(r)
			if got := (result{int(d / time.Second), code(e)}); got != tt.timeout {
				t.Errorf("Timeout = %v, %v; want %v", d, e, tt.timeout)
			}
			n, e := api.MaxResults(r, api.MaxResultsLimit)
			if got := (result{n, code(e)}); got != tt.max {
				t.Errorf("MaxResults = %v, %v; want %v", n, e, tt.max)
			}
		})
	}
	r := httptest.NewRequest("GET", "/certificates?maxresults=101", nil)
	if _, e := api.MaxResults(r, 100); code(e) != api.CodeOutOfRangeQueryParameterValue {
		t.Errorf("MaxResults with limit 100 = %v", e)
	}
}

func code(e *api.Error) string {
	if e == nil {
		return ""
	}
	return e.Code
}

func TestRefuseUnsupportedQuery(t *testing.T) {
	for _, tc := range []struct {
		target string
		option string // "" when accepted
		value  string
	}{
		{"/jobs", "", ""},
		{"/jobs?maxresults=10&%24skiptoken=abc&timeout=5", "", ""},
		{"/jobs?%24filter=", "", ""},
		{"/jobs?%24select=%20", "", ""},
		{"/jobs/j/tasks?%24filter=state%20eq%20%27completed%27", "$filter", "state eq 'completed'"},
		{"/jobs/j/tasks?%24filter=state%20eq", "$filter", "state eq"},
		{"/pools?$select=id,state", "$select", "id,state"},
		{"/pools/p?$expand=stats", "$expand", "stats"},
		{"/pools?%24FILTER=x", "$filter", "x"},
		{"/pools?%24filter=&%24filter=x", "$filter", "x"},
		{"/pools?%24expand=stats&%24select=id", "$select", "id"},
	} {
		r := httptest.NewRequest("GET", tc.target, nil)
		e := api.RefuseUnsupportedQuery(r)
		if tc.option == "" {
			if e != nil {
				t.Errorf("%s: refused: %v", tc.target, e)
			}
			continue
		}
		if e == nil {
			t.Errorf("%s: accepted", tc.target)
			continue
		}
		if e.Status != http.StatusBadRequest || e.Code != api.CodeUnsupportedQueryParameter ||
			value(e, "QueryParameterName") != tc.option || value(e, "QueryParameterValue") != tc.value || value(e, "Reason") == "" {
			t.Errorf("%s: %v", tc.target, e)
		}
	}
}

func TestMaxTasksPerCollection(t *testing.T) {
	// A body of 100 small tasks fits the default limit; the limit is Azure's documented 1 MB.
	var tasks []map[string]string
	for i := 0; i < api.MaxTasksPerCollection; i++ {
		tasks = append(tasks, map[string]string{"id": "task", "commandLine": "/bin/true"})
	}
	b, _ := json.Marshal(map[string]any{"value": tasks})
	r := httptest.NewRequest("POST", "/jobs/j/addtaskcollection", strings.NewReader(string(b)))
	var v struct {
		Value []map[string]string `json:"value"`
	}
	if e := api.DecodeJSON(r, &v, api.DecodeOptions{}); e != nil || len(v.Value) != 100 || api.DefaultMaxBodyBytes != 1<<20 {
		t.Fatalf("DecodeJSON = %v (%d tasks)", e, len(v.Value))
	}
}

func TestDecodeJSONValueModel(t *testing.T) {
	type inner struct {
		A int `json:"a"`
	}
	type thing struct {
		ID    string `json:"id"`
		State string `json:"state"` // read-only: declared by the type, not by the model
		In    *inner `json:"in"`
	}
	model := api.RequestModel{Name: "ThingAddParameter", Properties: []string{"id", "in"}}
	opts := api.DecodeOptions{RejectUnknownFields: true, Model: model}
	for _, tc := range []struct {
		body     string
		property string // "" when accepted
	}{
		{`{"id":"x","in":{"a":1}}`, ""},
		{`{}`, ""},
		{`{"id":"x","state":"done"}`, "state"},
		{`{"id":"x","ID":"y"}`, "ID"}, // names compare exactly, though encoding/json would fold
		{`{"zz":1,"id":"x","aa":2}`, "aa"},
		{`{"id":"x","in":{"a":1,"b":2}}`, "b"},
	} {
		var v thing
		e := api.DecodeJSONValue([]byte(tc.body), &v, opts)
		if tc.property == "" {
			if e != nil {
				t.Errorf("%s: %v", tc.body, e)
			}
			continue
		}
		if e == nil || e.Code != api.CodeInvalidRequestBody || value(e, "PropertyName") != tc.property {
			t.Errorf("%s: %v, want InvalidRequestBody naming %s", tc.body, e, tc.property)
		}
	}
	var v thing
	if e := api.DecodeJSONValue([]byte(`[1]`), &v, opts); e == nil || e.Code != api.CodeInvalidRequestBody {
		t.Errorf("an array: %v", e)
	}
}
