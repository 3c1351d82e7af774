package rest_test

import (
	"net/http"
	"testing"

	"corral/api"
	"corral/batch"
)

// Pool - Patch sets metadata and refuses what Corral does not do; Pool - Update Properties
// replaces; conditional headers are honoured.
func TestPoolPatch(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/pools", nil, pool("p1", 0)), http.StatusCreated, e.base+"/pools/p1")
	meta := func() []batch.MetadataItem {
		var p batch.Pool
		e.do("GET", "/pools/p1", nil, nil).decode(t, &p)
		return p.Metadata
	}
	for _, r := range []struct {
		name string
		body map[string]any
	}{
		{"certificates", map[string]any{"certificateReferences": []any{map[string]any{"thumbprint": "x", "thumbprintAlgorithm": "sha1"}}}},
		{"applications", map[string]any{"applicationPackageReferences": []any{map[string]any{"applicationId": "a"}}}},
		{"communication mode", map[string]any{"targetNodeCommunicationMode": "simplified"}},
	} {
		want(t, e.do("PATCH", "/pools/p1", nil, r.body), http.StatusBadRequest, api.CodeUnsupportedProperty)
	}
	want(t, e.do("PATCH", "/pools/nope", nil, map[string]any{}), http.StatusNotFound, api.CodePoolNotFound)

	stale := e.newRequest("PATCH", "/pools/p1", nil, map[string]any{"metadata": []batch.MetadataItem{{Name: "a", Value: "b"}}}, http.Header{"If-Match": {"0x1"}})
	want(t, e.send(stale), http.StatusPreconditionFailed, api.CodeConditionNotMet)
	if m := meta(); len(m) != 0 {
		t.Fatalf("a refused patch set metadata %v", m)
	}

	r := e.do("PATCH", "/pools/p1", nil, map[string]any{"metadata": []batch.MetadataItem{{Name: "team", Value: "a"}}, "certificateReferences": []any{}})
	want(t, r, http.StatusOK, "")
	if m := meta(); len(m) != 1 || m[0].Value != "a" {
		t.Errorf("metadata after the patch: %v", m)
	}
	// A patch that leaves metadata out keeps it.
	want(t, e.do("PATCH", "/pools/p1", nil, map[string]any{}), http.StatusOK, "")
	if m := meta(); len(m) != 1 {
		t.Errorf("metadata after an empty patch: %v", m)
	}
	// Update Properties replaces, and needs its three lists.
	want(t, e.do("POST", "/pools/p1/updateproperties", nil, map[string]any{"metadata": []any{}, "certificateReferences": []any{}}), http.StatusBadRequest, api.CodeMissingRequiredProperty)
	want(t, e.do("POST", "/pools/p1/updateproperties", nil, map[string]any{"metadata": []any{}, "certificateReferences": []any{}, "applicationPackageReferences": []any{}}), http.StatusNoContent, "")
	if m := meta(); len(m) != 0 {
		t.Errorf("metadata after Update Properties with none: %v", m)
	}
}

// The pool's start task is set by Pool - Add, replaced by Pool - Patch (kept when left out)
// and by Pool - Update Properties (removed when left out), and shown by Pool - Get with
// Azure's defaults left out as given.
func TestPoolStartTask(t *testing.T) {
	e := newEnv(t, envOptions{})
	body := map[string]any{"id": "p1", "vmSize": "local", "targetDedicatedNodes": 0, "startTask": map[string]any{
		"commandLine": "/bin/sh -c 'echo hi'", "maxTaskRetryCount": 2, "waitForSuccess": false,
		"environmentSettings": []any{map[string]any{"name": "A", "value": "1"}},
		"userIdentity":        map[string]any{"autoUser": map[string]any{"scope": "pool", "elevationLevel": "nonadmin"}},
		"resourceFiles":       []any{map[string]any{"httpUrl": "https://example.com/setup.sh?sig=x", "filePath": "setup.sh", "fileMode": "0755"}},
	}}
	created(t, e.do("POST", "/pools", nil, body), http.StatusCreated, e.base+"/pools/p1")
	start := func() *batch.StartTask {
		t.Helper()
		var p batch.Pool
		e.do("GET", "/pools/p1", nil, nil).decode(t, &p)
		return p.StartTask
	}
	if st := start(); st == nil || st.CommandLine != "/bin/sh -c 'echo hi'" || st.MaxRetries() != 2 || st.Waits() ||
		len(st.EnvironmentSettings) != 1 || len(st.UserIdentity) == 0 || len(st.ResourceFiles) != 1 || st.ResourceFiles[0].FileMode != "0755" {
		t.Fatalf("start task after add: %+v", st)
	}
	want(t, e.do("PATCH", "/pools/p1", nil, map[string]any{"metadata": []any{}}), http.StatusOK, "")
	if st := start(); st == nil || st.CommandLine != "/bin/sh -c 'echo hi'" {
		t.Errorf("a patch without startTask changed it: %+v", st)
	}
	want(t, e.do("PATCH", "/pools/p1", nil, map[string]any{"startTask": map[string]any{"commandLine": "/bin/true"}}), http.StatusOK, "")
	if st := start(); st == nil || st.CommandLine != "/bin/true" || !st.Waits() || st.MaxRetries() != 0 {
		t.Errorf("start task after the patch: %+v", st)
	}
	// A refused patch changes nothing.
	want(t, e.do("PATCH", "/pools/p1", nil, map[string]any{"startTask": map[string]any{"commandLine": "x",
		"containerSettings": map[string]any{"imageName": "ubuntu"}}}), http.StatusBadRequest, api.CodeUnsupportedProperty)
	if st := start(); st == nil || st.CommandLine != "/bin/true" {
		t.Errorf("start task after a refused patch: %+v", st)
	}
	lists := map[string]any{"metadata": []any{}, "certificateReferences": []any{}, "applicationPackageReferences": []any{}}
	lists["startTask"] = map[string]any{"commandLine": "/bin/false", "waitForSuccess": true}
	want(t, e.do("POST", "/pools/p1/updateproperties", nil, lists), http.StatusNoContent, "")
	if st := start(); st == nil || st.CommandLine != "/bin/false" {
		t.Errorf("start task after Update Properties: %+v", st)
	}
	delete(lists, "startTask")
	want(t, e.do("POST", "/pools/p1/updateproperties", nil, lists), http.StatusNoContent, "")
	if st := start(); st != nil {
		t.Errorf("start task after Update Properties without one: %+v", st)
	}
}
