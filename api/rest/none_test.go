package rest_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"corral/api"
	"corral/api/rest"
)

// Operations on things a Corral account never has answer as Azure answers an account with none
// of them: an empty list, 404 for one, a task's subtasks empty (404 for a task that does not
// exist), 409 for the preparation and release task status of a job without them, a node's VM
// extensions empty (404 ResourceNotFound for one); adding a certificate is not implemented. A
// node's remote login settings and remote desktop are 409: Corral's nodes offer no remote login.
func TestThingsAnAccountHasNone(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("p1", 0)), http.StatusCreated, e.base+"/pools/p1")
	created(t, e.do("POST", "/jobs", nil, job("j1", "p1", false)), http.StatusCreated, e.base+"/jobs/j1")
	created(t, e.do("POST", "/jobs/j1/tasks", nil, task("a")), http.StatusCreated, e.base+"/jobs/j1/tasks/a")
	created(t, e.do("POST", "/pools", nil, pool("p2", 1)), http.StatusCreated, e.base+"/pools/p2")
	node := "/pools/p2/nodes/" + e.idleNodes("p2", 1)[0].ID

	lists := []struct{ path, set string }{
		{"/applications", "applications"},
		{"/certificates", "certificates"},
		{"/jobs/j1/tasks/a/subtasksinfo", "subtaskinformation"},
		{node + "/extensions", "extensions"},
	}
	for _, l := range lists {
		r := e.do("GET", l.path, nil, nil)
		want(t, r, http.StatusOK, "")
		var page struct {
			Metadata string `json:"odata.metadata"`
			Value    []any  `json:"value"`
		}
		r.decode(t, &page)
		if page.Value == nil || len(page.Value) != 0 || !strings.HasSuffix(page.Metadata, "#"+l.set) {
			t.Errorf("GET %s: %s; want an empty value list of %s", l.path, r.body, l.set)
		}
	}
	want(t, e.do("GET", "/applications", url.Values{"maxresults": {"0"}}, nil), http.StatusBadRequest, api.CodeOutOfRangeQueryParameterValue)
	want(t, e.do("GET", "/applications/app1", nil, nil), http.StatusNotFound, api.CodeApplicationNotFound)
	want(t, e.do("GET", "/jobs/j1/tasks/nope/subtasksinfo", nil, nil), http.StatusNotFound, api.CodeTaskNotFound)
	want(t, e.do("GET", "/jobs/nope/tasks/a/subtasksinfo", nil, nil), http.StatusNotFound, api.CodeJobNotFound)
	want(t, e.do("POST", "/certificates", nil, map[string]string{"thumbprint": "x"}), http.StatusNotImplemented, rest.CodeNotImplemented)

	cert := "/certificates(thumbprintAlgorithm=sha1,thumbprint=0123456789abcdef0123456789abcdef01234567)"
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", cert, http.StatusNotFound, api.CodeCertificateNotFound},
		{"DELETE", cert, http.StatusNotFound, api.CodeCertificateNotFound},
		{"POST", cert + "/canceldelete", http.StatusNotFound, api.CodeCertificateNotFound},
		{"PUT", cert, http.StatusMethodNotAllowed, api.CodeUnsupportedHTTPVerb},
		{"GET", cert + "/canceldelete", http.StatusMethodNotAllowed, api.CodeUnsupportedHTTPVerb},
		{"GET", "/certificates(thumbprintAlgorithm=md5,thumbprint=01)", http.StatusBadRequest, api.CodeInvalidPropertyValue},
		{"GET", "/jobs/j1/jobpreparationandreleasetaskstatus", http.StatusConflict, api.CodeJobPreparationTaskNotSpecified},
		{"GET", "/jobs/nope/jobpreparationandreleasetaskstatus", http.StatusNotFound, api.CodeJobNotFound},
	} {
		want(t, e.do(tc.method, tc.path, nil, nil), tc.status, tc.code)
	}

	want(t, e.do("GET", node+"/extensions", url.Values{"maxresults": {"1001"}}, nil), http.StatusBadRequest, api.CodeOutOfRangeQueryParameterValue)
	want(t, e.do("GET", node+"/extensions/CustomScript", nil, nil), http.StatusNotFound, api.CodeResourceNotFound)
	want(t, e.do("GET", node+"/remoteloginsettings", nil, nil), http.StatusConflict, api.CodeOperationInvalidForCurrentState)
	want(t, e.do("GET", node+"/rdp", nil, nil), http.StatusConflict, api.CodeOperationInvalidForCurrentState)
	for _, op := range []string{"/extensions", "/extensions/x", "/remoteloginsettings", "/rdp"} {
		want(t, e.do("GET", "/pools/p2/nodes/p2-99"+op, nil, nil), http.StatusNotFound, api.CodeNodeNotFound)
		want(t, e.do("GET", "/pools/nope/nodes/p2-0"+op, nil, nil), http.StatusNotFound, api.CodePoolNotFound)
	}
	want(t, e.do("POST", node+"/rdp", nil, nil), http.StatusMethodNotAllowed, api.CodeUnsupportedHTTPVerb)
}
