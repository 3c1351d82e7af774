package rest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"corral/api"
	"corral/api/rest"
)

// fakeLogs records the uploads asked of it and answers with err, or with files.
type fakeLogs struct {
	mu      sync.Mutex
	uploads []rest.LogUpload
	files   int
	err     error
}

func (f *fakeLogs) UploadLogs(_ context.Context, poolID, nodeID string, u rest.LogUpload) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.uploads = append(f.uploads, u)
	return f.files, f.err
}

func (f *fakeLogs) set(files int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files, f.err, f.uploads = files, err, nil
}

func (f *fakeLogs) asked() []rest.LogUpload {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]rest.LogUpload(nil), f.uploads...)
}

// TestUploadBatchServiceLogs: Compute Node - Upload Batch Service Logs hands the node's logs
// the container, the time range and a fresh virtual directory, answers Azure's
// UploadBatchServiceLogsResult, refuses identityReference and bad values naming them (asking
// nothing of the node), and never echoes the SAS.
func TestUploadBatchServiceLogs(t *testing.T) {
	logs := &fakeLogs{}
	e := newEnv(t, envOptions{logs: logs})
	created(t, e.do("POST", "/pools", nil, pool("p1", 1)), http.StatusCreated, e.base+"/pools/p1")
	node := e.idleNodes("p1", 1)[0].ID
	path := "/pools/p1/nodes/" + node + "/uploadbatchservicelogs"
	const sas = "https://acct.blob.core.windows.net/logs?sv=2022-11-02&sp=cw&sig=SECRETSIG"
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	end := start.Add(time.Hour)

	logs.set(3, nil)
	r := e.do("POST", path, nil, map[string]any{"containerUrl": sas, "startTime": start, "endTime": end})
	want(t, r, http.StatusOK, "")
	var res struct {
		Metadata  string `json:"odata.metadata"`
		Directory string `json:"virtualDirectoryName"`
		Files     int    `json:"numberOfFilesUploaded"`
	}
	if err := json.Unmarshal(r.body, &res); err != nil {
		t.Fatal(err)
	}
	dir := regexp.MustCompile(`^p1/` + regexp.QuoteMeta(node) + `/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/$`)
	if !dir.MatchString(res.Directory) || res.Files != 3 || !strings.HasSuffix(res.Metadata, "#Microsoft.Azure.Batch.Protocol.Entities.UploadBatchServiceLogsResult") {
		t.Errorf("answer %s", r.body)
	}
	asked := logs.asked()
	if len(asked) != 1 || asked[0].ContainerURL != sas || !asked[0].StartTime.Equal(start) || !asked[0].EndTime.Equal(end) || asked[0].Directory != res.Directory {
		t.Errorf("asked %+v", asked)
	}
	logs.set(0, nil)
	want(t, e.do("POST", path, nil, map[string]any{"containerUrl": sas, "startTime": start}), http.StatusOK, "")
	if asked := logs.asked(); len(asked) != 1 || !asked[0].EndTime.IsZero() || asked[0].Directory == res.Directory {
		t.Errorf("without endTime: asked %+v, want no end and a new directory", asked)
	}

	for _, tc := range []struct {
		name     string
		path     string
		body     any
		err      error // of the node's logs
		status   int
		code     string
		property string
	}{
		{"identityReference", path, map[string]any{"containerUrl": sas, "startTime": start, "identityReference": map[string]any{"resourceId": "/subscriptions/x"}}, nil, 400, api.CodeUnsupportedProperty, "identityReference"},
		{"no containerUrl", path, map[string]any{"startTime": start}, nil, 400, api.CodeMissingRequiredProperty, "containerUrl"},
		{"no startTime", path, map[string]any{"containerUrl": sas}, nil, 400, api.CodeMissingRequiredProperty, "startTime"},
		{"not a URL", path, map[string]any{"containerUrl": "ftp://x/c?sig=SECRETSIG", "startTime": start}, nil, 400, api.CodeInvalidPropertyValue, "containerUrl"},
		{"no container", path, map[string]any{"containerUrl": "https://acct.blob.core.windows.net/?sig=SECRETSIG", "startTime": start}, nil, 400, api.CodeInvalidPropertyValue, "containerUrl"},
		{"endTime before startTime", path, map[string]any{"containerUrl": sas, "startTime": start, "endTime": start.Add(-time.Second)}, nil, 400, api.CodeInvalidPropertyValue, "endTime"},
		{"unknown property", path, map[string]any{"containerUrl": sas, "startTime": start, "blobPrefix": "x"}, nil, 400, api.CodeInvalidRequestBody, ""},
		{"no such node", "/pools/p1/nodes/nope/uploadbatchservicelogs", map[string]any{"containerUrl": sas, "startTime": start}, nil, 404, api.CodeNodeNotFound, ""},
		{"agent not connected", path, map[string]any{"containerUrl": sas, "startTime": start}, fmt.Errorf("%w: node offline", rest.ErrLogsUnavailable), 409, api.CodeOperationInvalidForCurrentState, ""},
		{"storage refused", path, map[string]any{"containerUrl": sas, "startTime": start}, fmt.Errorf("%w: HTTP 403 AuthorizationPermissionMismatch", rest.ErrLogsRefused), 400, api.CodeInvalidPropertyValue, "containerUrl"},
		{"storage unreachable", path, map[string]any{"containerUrl": sas, "startTime": start}, fmt.Errorf("%w: connection refused", rest.ErrLogsStorage), 500, api.CodeInternalError, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs.set(0, tc.err)
			r := e.do("POST", tc.path, nil, tc.body)
			eb := want(t, r, tc.status, tc.code)
			if tc.property != "" && !hasValue(eb, "PropertyName", tc.property) {
				t.Errorf("the error does not name %s: %s", tc.property, r.body)
			}
			if strings.Contains(string(r.body), "SECRETSIG") {
				t.Errorf("the answer echoes the SAS: %s", r.body)
			}
			if asked := logs.asked(); tc.err == nil && len(asked) != 0 {
				t.Errorf("a refused request asked the node: %+v", asked)
			}
		})
	}
}

// Without NodeLogs, Upload Batch Service Logs is 501 NotImplemented.
func TestUploadBatchServiceLogsNotImplemented(t *testing.T) {
	e := newEnv(t, envOptions{})
	want(t, e.do("POST", "/pools/p1/nodes/n1/uploadbatchservicelogs", nil, map[string]any{}), http.StatusNotImplemented, rest.CodeNotImplemented)
}

// hasValue reports whether an error body has the detail key with value.
func hasValue(eb errorBody, key, value string) bool {
	for _, v := range eb.Values {
		if v.Key == key && v.Value == value {
			return true
		}
	}
	return false
}
