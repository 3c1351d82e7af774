package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"corral/api"
	"corral/api/bearer"
)

func TestAuthenticator(t *testing.T) {
	const token = "static-token-0123456789abcdef"
	static, err := bearer.NewStatic([]string{token})
	if err != nil {
		t.Fatal(err)
	}
	withTokens := &api.Authenticator{Account: acct, Keys: [][]byte{primaryKey}, Bearer: &bearer.Verifier{Static: static}}
	keysOnly := &api.Authenticator{Account: acct, Keys: [][]byte{primaryKey}}
	signed := func(r *http.Request) {}
	auth := func(v string) func(r *http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", v) }
	}
	tests := []struct {
		name      string
		a         *api.Authenticator
		mutate    func(r *http.Request)
		status    int    // 0: authentic
		code      string // Azure's error code
		detail    string // substring of AuthenticationErrorDetail
		challenge bool   // a WWW-Authenticate: Bearer challenge
	}{
		{"shared key, tokens configured", withTokens, signed, 0, "", "", false},
		{"shared key, no tokens", keysOnly, signed, 0, "", "", false},
		{"static token", withTokens, auth("Bearer " + token), 0, "", "", false},
		{"scheme in lower case", withTokens, auth("bearer " + token), 0, "", "", false},
		{"wrong token", withTokens, auth("Bearer wrong-token-0123456789"), 401, api.CodeAuthenticationFailed, "not valid", true},
		{"empty token", withTokens, auth("Bearer "), 401, api.CodeAuthenticationFailed, "no bearer token", true},
		{"bearer not configured", keysOnly, auth("Bearer " + token), 401, api.CodeAuthenticationFailed, "not configured", true},
		{"no Authorization", withTokens, func(r *http.Request) { r.Header.Del("Authorization") }, 403, api.CodeAuthenticationFailed, "", false},
		{"other scheme", withTokens, auth("Basic dXNlcjpwYXNz"), 400, api.CodeInvalidAuthenticationInfo, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := api.NewRequest("GET", "http://corral.example", "/jobs", nil, nil, acct, primaryKey, testNow)
			if err != nil {
				t.Fatal(err)
			}
			tt.mutate(req)
			e, challenge := tt.a.Authenticate(context.Background(), req, testNow)
			if tt.status == 0 {
				if e != nil {
					t.Fatalf("refused: %v", e)
				}
				return
			}
			if e == nil || e.Status != tt.status || e.Code != tt.code {
				t.Fatalf("got %v, want %d %s", e, tt.status, tt.code)
			}
			if len(e.Values) != 1 || e.Values[0].Key != "AuthenticationErrorDetail" || !strings.Contains(e.Values[0].Value, tt.detail) {
				t.Fatalf("values %v, want AuthenticationErrorDetail with %q", e.Values, tt.detail)
			}
			if got := strings.HasPrefix(challenge, `Bearer error="invalid_token"`); got != tt.challenge {
				t.Fatalf("challenge %q, want one: %v", challenge, tt.challenge)
			}
			if strings.Contains(e.Error()+challenge, token) {
				t.Fatal("the answer quotes the token")
			}
		})
	}
}
