package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"corral/api"
)

func TestCheckConditions(t *testing.T) {
	const etag = "0x8DC1234567890AB"
	modified := time.Date(2024, 9, 10, 9, 0, 0, 500_000_000, time.UTC) // sub-second part is ignored
	at := modified.Format(http.TimeFormat)                             // "Tue, 10 Sep 2024 09:00:00 GMT"
	before := modified.Add(-time.Hour).Format(http.TimeFormat)
	after := modified.Add(time.Hour).Format(http.TimeFormat)

	tests := []struct {
		name    string
		method  string
		headers map[string]string
		etag    string // "" = resource absent
		status  int    // 0 = proceed
	}{
		{"no conditions", "GET", nil, etag, 0},
		{"If-Match equal", "PUT", map[string]string{"If-Match": etag}, etag, 0},
		{"If-Match quoted", "PUT", map[string]string{"If-Match": `"` + etag + `"`}, etag, 0},
		{"If-Match in list", "PUT", map[string]string{"If-Match": `"0x1", ` + etag}, etag, 0},
		{"If-Match star", "DELETE", map[string]string{"If-Match": "*"}, etag, 0},
		{"If-Match differs", "PUT", map[string]string{"If-Match": "0x1"}, etag, 412},
		{"If-Match differs on GET", "GET", map[string]string{"If-Match": "0x1"}, etag, 412},
		{"If-Match star, absent", "PUT", map[string]string{"If-Match": "*"}, "", 412},
		{"If-None-Match differs", "GET", map[string]string{"If-None-Match": "0x1"}, etag, 0},
		{"If-None-Match equal on GET", "GET", map[string]string{"If-None-Match": etag}, etag, 304},
		{"If-None-Match weak equal on HEAD", "HEAD", map[string]string{"If-None-Match": `W/"` + etag + `"`}, etag, 304},
		{"If-None-Match equal on write", "PATCH", map[string]string{"If-None-Match": etag}, etag, 412},
		{"If-None-Match star, exists", "PUT", map[string]string{"If-None-Match": "*"}, etag, 412},
		{"If-None-Match star, absent", "PUT", map[string]string{"If-None-Match": "*"}, "", 0},
		{"If-Modified-Since before", "GET", map[string]string{"If-Modified-Since": before}, etag, 0},
		{"If-Modified-Since at", "GET", map[string]string{"If-Modified-Since": at}, etag, 304},
		{"If-Modified-Since after", "GET", map[string]string{"If-Modified-Since": after}, etag, 304},
		{"If-Modified-Since ignored on write", "POST", map[string]string{"If-Modified-Since": after}, etag, 0},
		{"If-Modified-Since ignored when If-None-Match", "GET", map[string]string{"If-None-Match": "0x1", "If-Modified-Since": after}, etag, 0},
		{"If-Unmodified-Since at", "PUT", map[string]string{"If-Unmodified-Since": at}, etag, 0},
		{"If-Unmodified-Since after", "PUT", map[string]string{"If-Unmodified-Since": after}, etag, 0},
		{"If-Unmodified-Since before", "PUT", map[string]string{"If-Unmodified-Since": before}, etag, 412},
		{"If-Unmodified-Since before on GET", "GET", map[string]string{"If-Unmodified-Since": before}, etag, 412},
		{"If-Unmodified-Since ignored when If-Match", "PUT", map[string]string{"If-Match": etag, "If-Unmodified-Since": before}, etag, 0},
		{"If-Match and If-None-Match", "GET", map[string]string{"If-Match": etag, "If-None-Match": etag}, etag, 304},
		{"bad If-Modified-Since", "GET", map[string]string{"If-Modified-Since": "yesterday"}, etag, 400},
		{"bad If-Unmodified-Since", "PUT", map[string]string{"If-Unmodified-Since": "soon"}, etag, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/jobs/job-1", nil)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			e := api.CheckConditions(r, tt.etag, modified)
			switch {
			case tt.status == 0 && e != nil:
				t.Fatalf("CheckConditions = %v, want nil", e)
			case tt.status != 0 && (e == nil || e.Status != tt.status):
				t.Fatalf("CheckConditions = %v, want status %d", e, tt.status)
			case tt.status == 304 || tt.status == 412:
				if e.Code != api.CodeConditionNotMet {
					t.Fatalf("code = %s", e.Code)
				}
			case tt.status == 400:
				if e.Code != api.CodeInvalidHeaderValue {
					t.Fatalf("code = %s", e.Code)
				}
			}
		})
	}
}

func TestSetEntityHeaders(t *testing.T) {
	rec := httptest.NewRecorder()
	api.SetEntityHeaders(rec, "0x8DC1234567890AB", time.Date(2024, 9, 10, 12, 0, 0, 0, time.FixedZone("CEST", 2*3600)))
	if rec.Header().Get("ETag") != "0x8DC1234567890AB" || rec.Header().Get("Last-Modified") != "Tue, 10 Sep 2024 10:00:00 GMT" {
		t.Fatalf("headers = %v", rec.Header())
	}
	rec = httptest.NewRecorder()
	api.SetEntityHeaders(rec, "", time.Time{})
	if len(rec.Header()) != 0 {
		t.Fatalf("headers = %v", rec.Header())
	}
}
