package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"corral/api"
)

var testNow = time.Date(2024, 9, 10, 10, 0, 0, 123456700, time.UTC)

const testRequestID = "5f4c1f05-603a-4495-8e80-01f776310bbd"

func TestNewErrorStatuses(t *testing.T) {
	// Statuses from "Batch Status and Error Codes".
	tests := []struct {
		code   string
		status int
	}{
		{api.CodePoolExists, 409},
		{api.CodePoolNotFound, 404},
		{api.CodeJobExists, 409},
		{api.CodeJobNotFound, 404},
		{api.CodeTaskExists, 409},
		{api.CodeTaskNotFound, 404},
		{api.CodeNodeNotFound, 404},
		{api.CodeJobScheduleExists, 409},
		{api.CodeJobScheduleNotFound, 404},
		{api.CodeTaskDependenciesNotSpecifiedOnJob, 400},
		{api.CodeTaskDependencyListTooLong, 400},
		{api.CodeInvalidPropertyValue, 400},
		{api.CodeMissingRequiredProperty, 400},
		{api.CodeInvalidRequestBody, 400},
		{api.CodeRequestBodyTooLarge, 413},
		{api.CodeUnsupportedRequestVersion, 400},
		{api.CodeMissingRequiredQueryParameter, 400},
		{api.CodeInvalidQueryParameterValue, 400},
		{api.CodeOutOfRangeQueryParameterValue, 400},
		{api.CodeInvalidHeaderValue, 400},
		{api.CodeInvalidAuthenticationInfo, 400},
		{api.CodeAuthenticationFailed, 403},
		{api.CodeAccountIsDisabled, 403},
		{api.CodeConditionNotMet, 412},
		{api.CodeResourceNotFound, 404},
		{api.CodeUnsupportedHTTPVerb, 405},
		{api.CodeMissingContentLengthHeader, 411},
		{api.CodeInvalidRange, 416},
		{api.CodeOperationTimedOut, 500},
		{api.CodeInternalError, 500},
		{api.CodeServerBusy, 503},
		{api.CodeJobNotActive, 409},
		{api.CodeTaskIDSameAsJobPreparationTask, 409},
		{api.CodeOperationInvalidForCurrentState, 409},
	}
	for _, tt := range tests {
		e := api.NewError(tt.code)
		if e.Status != tt.status || e.Code != tt.code || e.Message == "" || strings.Contains(e.Message, "Unknown") {
			t.Errorf("NewError(%s) = %+v, want status %d and a message", tt.code, e, tt.status)
		}
	}
	if e := api.NewError("NoSuchCode"); e.Status != 500 || !strings.Contains(e.Message, "NoSuchCode") {
		t.Errorf("NewError(unknown) = %+v", e)
	}
}

func TestErrorWithAndHelpers(t *testing.T) {
	base := api.NewError(api.CodeJobNotFound)
	e := base.With("JobId", "job-1")
	if len(base.Values) != 0 || len(e.Values) != 1 || e.Values[0] != (api.ErrorValue{Key: "JobId", Value: "job-1"}) {
		t.Fatalf("With changed the original or lost the value: %+v / %+v", base, e)
	}
	p := api.InvalidProperty("poolInfo.poolId", "", "must not be empty")
	if p.Code != api.CodeInvalidPropertyValue || len(p.Values) != 3 || p.Values[0].Key != "PropertyName" {
		t.Fatalf("InvalidProperty = %+v", p)
	}
	if m := api.MissingProperty("id"); m.Code != api.CodeMissingRequiredProperty || m.Values[0].Value != "id" {
		t.Fatalf("MissingProperty = %+v", m)
	}
	if s := e.Error(); !strings.Contains(s, "404 JobNotFound") || !strings.Contains(s, "JobId=job-1") {
		t.Fatalf("Error() = %q", s)
	}
}

func serveError(t *testing.T, e *api.Error, method string, headers map[string]string) (*http.Response, string, string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.WriteError(w, r, e, testRequestID, testNow)
	}))
	t.Cleanup(srv.Close)
	req, err := http.NewRequest(method, srv.URL+"/jobs/job-1?api-version=2024-07-01.20.0", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b), srv.URL
}

func TestWriteError(t *testing.T) {
	resp, body, base := serveError(t, api.NewError(api.CodeJobNotFound), "GET", nil)
	if resp.StatusCode != 404 {
		t.Errorf("status = %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json;odata=minimalmetadata" {
		t.Errorf("Content-Type = %q", ct)
	}
	if got := resp.Header.Get("request-id"); got != testRequestID {
		t.Errorf("request-id = %q", got)
	}
	if got := resp.Header.Get("DataServiceVersion"); got != "3.0" {
		t.Errorf("DataServiceVersion = %q", got)
	}
	if _, ok := resp.Header["Client-Request-Id"]; ok {
		t.Errorf("client-request-id echoed without return-client-request-id")
	}
	want := `{"odata.metadata":"` + base + `/$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element",` +
		`"code":"JobNotFound","message":{"lang":"en-US","value":"The specified job does not exist.\nRequestId:` + testRequestID +
		`\nTime:2024-09-10T10:00:00.1234567Z"}}`
	if body != want {
		t.Errorf("body =\n%s\nwant\n%s", body, want)
	}
}

func TestWriteErrorValuesAndClientRequestID(t *testing.T) {
	e := api.NewError(api.CodeMissingRequiredQueryParameter, api.ErrorValue{Key: "QueryParameterName", Value: "api-version"})
	resp, body, _ := serveError(t, e, "GET", map[string]string{
		"client-request-id": "9C4D50EE-2D56-4CD3-8152-34347DC9F2B0", "return-client-request-id": "True",
	})
	if got := resp.Header.Get("client-request-id"); got != "9C4D50EE-2D56-4CD3-8152-34347DC9F2B0" {
		t.Errorf("client-request-id = %q", got)
	}
	var parsed struct {
		Code    string `json:"code"`
		Message struct {
			Lang, Value string
		} `json:"message"`
		Values []api.ErrorValue `json:"values"`
	}
	if err := json.Unmarshal([]byte(body), &parsed); err != nil {
		t.Fatal(err)
	}
	if parsed.Code != "MissingRequiredQueryParameter" || parsed.Message.Lang != "en-US" ||
		len(parsed.Values) != 1 || parsed.Values[0] != (api.ErrorValue{Key: "QueryParameterName", Value: "api-version"}) {
		t.Errorf("parsed body = %+v", parsed)
	}
}

func TestWriteErrorWithoutBody(t *testing.T) {
	notModified := api.NewError(api.CodeConditionNotMet)
	notModified.Status = http.StatusNotModified
	for _, tt := range []struct {
		name   string
		e      *api.Error
		method string
	}{
		{"304", notModified, "GET"},
		{"HEAD", api.NewError(api.CodeJobNotFound), "HEAD"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body, _ := serveError(t, tt.e, tt.method, nil)
			if resp.StatusCode != tt.e.Status || body != "" {
				t.Errorf("status %d body %q, want %d and no body", resp.StatusCode, body, tt.e.Status)
			}
			if resp.Header.Get("request-id") != testRequestID {
				t.Errorf("request-id missing")
			}
		})
	}
}

func TestWriteJSON(t *testing.T) {
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/jobs/job-1", nil)
	if err := api.WriteJSON(rec, r, 200, map[string]string{"id": "job-1"}, testRequestID); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 200 || rec.Body.String() != `{"id":"job-1"}` || rec.Header().Get("Content-Type") != api.ContentTypeJSON {
		t.Errorf("got %d %q %v", rec.Code, rec.Body.String(), rec.Header())
	}
	if err := api.WriteJSON(httptest.NewRecorder(), r, 200, func() {}, testRequestID); err == nil {
		t.Error("WriteJSON of a func succeeded")
	}
}

func TestNewRequestID(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	a, b := api.NewRequestID(), api.NewRequestID()
	if !re.MatchString(a) || a == b {
		t.Fatalf("NewRequestID = %q, %q", a, b)
	}
}
