package compat

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// testIssuer is a tiny OpenID issuer on loopback: a discovery document and a JWKS with one RSA
// key, and tokens minted as Microsoft Entra ID mints them for azbatch's scope.
type testIssuer struct {
	srv *httptest.Server
	key *rsa.PrivateKey
	kid string
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &testIssuer{key: key, kid: "test-key-1"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/discovery/keys"})
	})
	mux.HandleFunc("GET /discovery/keys", func(w http.ResponseWriter, r *http.Request) {
		pub := is.key.PublicKey
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "use": "sig", "alg": "RS256", "kid": is.kid,
			"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes()),
		}}})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// mint signs claims with key (RS256) under is's kid.
func (is *testIssuer) mint(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": is.kid})
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	signing := b64(h) + "." + b64(p)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + b64(sig)
}

// claims are those of a token for scope, as Entra ID gives them: the audience is the scope
// without "/.default" (for azbatch's scope, https://batch.core.windows.net/).
func (is *testIssuer) claims(scope string, now time.Time) map[string]any {
	return map[string]any{
		"iss": is.srv.URL, "sub": "compat-go", "aud": strings.TrimSuffix(scope, "/.default"),
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}

// TestJWT runs the job of TestStaticToken with JWTs from a test issuer that the server finds
// by OpenID discovery, and checks what it refuses, and what a server that allows only another
// principal (--jwt-subject) refuses.
func TestJWT(t *testing.T) {
	t.Parallel()
	is := newTestIssuer(t)
	s := startServer(t, nil, "--jwt-issuer", is.srv.URL)
	valid := func(scope string) string { return is.mint(t, is.key, is.claims(scope, time.Now())) }
	runJob(t, s.client(t, &credential{mint: valid}), "jwt")

	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	only := startServer(t, nil, "--jwt-issuer", is.srv.URL, "--jwt-subject", "someone-else")
	tests := []struct {
		name   string
		s      *server
		mint   func(scope string) string
		detail string
	}{
		{"expired", s, func(scope string) string {
			c := is.claims(scope, time.Now().Add(-2*time.Hour))
			return is.mint(t, is.key, c)
		}, "The token is expired"},
		{"audience without the trailing slash", s, func(scope string) string {
			c := is.claims(scope, time.Now())
			c["aud"] = "https://batch.core.windows.net"
			return is.mint(t, is.key, c)
		}, "wrong audience"},
		{"another issuer", s, func(scope string) string {
			c := is.claims(scope, time.Now())
			c["iss"] = "https://login.microsoftonline.com/other/v2.0"
			return is.mint(t, is.key, c)
		}, "wrong issuer"},
		{"signed by another key", s, func(scope string) string { return is.mint(t, other, is.claims(scope, time.Now())) }, "signature does not verify"},
		{"a principal not in --jwt-subject", only, valid, "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.s.client(t, &credential{mint: tt.mint})
			_, err := c.GetPool(context.Background(), "p", nil)
			if status(err) != http.StatusUnauthorized || code(err) != "AuthenticationFailed" || !strings.Contains(err.Error(), tt.detail) {
				t.Fatalf("got %v, want 401 AuthenticationFailed saying %q", err, tt.detail)
			}
		})
	}
}
