package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"corral/api/sharedkey"
)

// NewRequest builds a Shared-Key-signed request to a Batch-compatible service, the way the
// official SDKs do: path (unescaped, e.g. "/jobs/job-1/tasks") under baseURL, query with
// api-version set to LatestAPIVersion unless query already has one, ocp-date set to now (RFC 1123,
// GMT), and, when body is not nil, the body as JSON with Content-Type
// "application/json; odata=minimalmetadata" (a []byte or string body is sent as is). The caller
// sends it with any http.Client.
func NewRequest(method, baseURL, path string, query url.Values, body any, account string, key []byte, now time.Time) (*http.Request, error) {
	base, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("api: new request: base URL %q: %w", baseURL, err)
	}
	u := *base
	u.Path = strings.TrimSuffix(base.Path, "/") + "/" + strings.TrimPrefix(path, "/")
	u.RawPath = ""
	q := url.Values{}
	for k, vs := range query {
		q[k] = append([]string(nil), vs...)
	}
	if len(valuesFold(q, "api-version")) == 0 {
		q.Set("api-version", LatestAPIVersion)
	}
	u.RawQuery = q.Encode()

	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("api: new request: marshal %T body: %w", body, err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("api: new request: %w", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", ContentTypeRequest)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set(sharedkey.HeaderOCPDate, now.UTC().Format(http.TimeFormat))
	if err := sharedkey.Sign(req, account, key); err != nil {
		return nil, fmt.Errorf("api: new request: %w", err)
	}
	return req, nil
}

// valuesFold returns the values of name in q, matched case-insensitively.
func valuesFold(q url.Values, name string) []string {
	var out []string
	for k, vs := range q {
		if strings.EqualFold(k, name) {
			out = append(out, vs...)
		}
	}
	return out
}
