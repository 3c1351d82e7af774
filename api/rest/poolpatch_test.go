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
		{"start task", map[string]any{"startTask": map[string]any{"commandLine": "/bin/true"}}},
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
