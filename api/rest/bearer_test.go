package rest_test

import (
	"net/http"
	"testing"

	"corral/api"
	"corral/api/bearer"
)

// TestBearerTokens: a server configured with a static token serves a request that carries it
// as it serves a signed one, and answers a bad token 401 with a Bearer challenge; Shared Key
// keeps working.
func TestBearerTokens(t *testing.T) {
	const token = "rest-test-token-0123456789"
	static, err := bearer.NewStatic([]string{token})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{bearer: &bearer.Verifier{Static: static}})
	created(t, e.do("POST", "/pools", nil, pool("p1", 0)), http.StatusCreated, e.base+"/pools/p1")

	withToken := func(tok string) *http.Request {
		req := e.newRequest("GET", "/pools/p1", nil, nil, nil)
		req.Header.Del("ocp-date")
		req.Header.Set("Authorization", "Bearer "+tok)
		return req
	}
	tests := []struct {
		name      string
		req       *http.Request
		status    int
		challenge bool
	}{
		{"static token", withToken(token), http.StatusOK, false},
		{"wrong token", withToken("wrong-token-0123456789"), http.StatusUnauthorized, true},
		{"shared key", e.newRequest("GET", "/pools/p1", nil, nil, nil), http.StatusOK, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.send(tt.req)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if got := r.header.Get(api.HeaderWWWAuthenticate) != ""; got != tt.challenge {
				t.Fatalf("WWW-Authenticate %q, want one: %v", r.header.Get(api.HeaderWWWAuthenticate), tt.challenge)
			}
			if tt.status == http.StatusUnauthorized {
				if b := r.errorBody(t); b.Code != api.CodeAuthenticationFailed || len(b.Values) != 1 || b.Values[0].Key != "AuthenticationErrorDetail" {
					t.Fatalf("error body %+v", b)
				}
			}
		})
	}
}
