package bearer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"corral/api/bearer"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// issuer is a test OpenID issuer on loopback: a discovery document and a JWKS of its keys.
type issuer struct {
	srv      *httptest.Server
	mu       sync.Mutex
	keys     []jose.JSONWebKey // private; the JWKS publishes their public halves
	jwksHits atomic.Int64
	docIss   string // issuer the discovery document names; "" means the server's URL
}

func newIssuer(t testing.TB, keys ...jose.JSONWebKey) *issuer {
	t.Helper()
	is := &issuer{keys: keys}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		iss := is.docIss
		if iss == "" {
			iss = is.srv.URL
		}
		json.NewEncoder(w).Encode(map[string]string{"issuer": iss, "jwks_uri": is.srv.URL + "/keys"})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		is.jwksHits.Add(1)
		is.mu.Lock()
		defer is.mu.Unlock()
		var set jose.JSONWebKeySet
		for _, k := range is.keys {
			set.Keys = append(set.Keys, k.Public())
		}
		json.NewEncoder(w).Encode(set)
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) setKeys(keys ...jose.JSONWebKey) {
	is.mu.Lock()
	is.keys = keys
	is.mu.Unlock()
}

func rsaKey(t testing.TB, kid string, bits int) jose.JSONWebKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return jose.JSONWebKey{Key: k, KeyID: kid, Algorithm: string(jose.RS256), Use: "sig"}
}

func ecKey(t testing.TB, kid string) jose.JSONWebKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return jose.JSONWebKey{Key: k, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"}
}

// mint signs claims with k (its alg), with kid in the header.
func mint(t testing.TB, k jose.JSONWebKey, claims any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", k.KeyID)
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: k.Key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jwt.Signed(sig).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// claims are a valid token's claims for iss at testNow.
func claims(iss string) jwt.Claims {
	return jwt.Claims{
		Issuer:    iss,
		Subject:   "client-1",
		Audience:  jwt.Audience{bearer.DefaultAudience},
		IssuedAt:  jwt.NewNumericDate(testNow.Add(-time.Minute)),
		NotBefore: jwt.NewNumericDate(testNow.Add(-time.Minute)),
		Expiry:    jwt.NewNumericDate(testNow.Add(time.Hour)),
	}
}

func newJWT(t *testing.T, cfg bearer.JWTConfig) *bearer.JWT {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	cfg.Logger = slog.New(slog.DiscardHandler)
	j, err := bearer.NewJWT(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestJWTVerify(t *testing.T) {
	rk, ek := rsaKey(t, "r1", 2048), ecKey(t, "e1")
	is := newIssuer(t, rk, ek)
	iss := is.srv.URL
	other := rsaKey(t, "r1", 2048) // same kid, another key: a forgery
	tests := []struct {
		name   string
		token  func() string
		detail string // substring of the refusal; "" means accepted
	}{
		{"RS256", func() string { return mint(t, rk, claims(iss)) }, ""},
		{"ES256", func() string { return mint(t, ek, claims(iss)) }, ""},
		{"audience among several", func() string {
			c := claims(iss)
			c.Audience = jwt.Audience{"api://other", bearer.DefaultAudience}
			return mint(t, rk, c)
		}, ""},
		{"within skew after expiry", func() string {
			c := claims(iss)
			c.Expiry = jwt.NewNumericDate(testNow.Add(-time.Minute))
			return mint(t, rk, c)
		}, ""},
		{"expired", func() string {
			c := claims(iss)
			c.Expiry = jwt.NewNumericDate(testNow.Add(-3 * time.Minute))
			return mint(t, rk, c)
		}, "The token is expired"},
		{"not yet valid", func() string {
			c := claims(iss)
			c.NotBefore = jwt.NewNumericDate(testNow.Add(10 * time.Minute))
			return mint(t, rk, c)
		}, "not valid yet"},
		{"no exp", func() string {
			c := claims(iss)
			c.Expiry = nil
			return mint(t, rk, c)
		}, "no expiry"},
		{"wrong issuer", func() string { return mint(t, rk, claims("https://evil.example/")) }, "wrong issuer"},
		{"wrong audience", func() string {
			c := claims(iss)
			c.Audience = jwt.Audience{"https://management.azure.com/"}
			return mint(t, rk, c)
		}, "wrong audience"},
		{"audience without the trailing slash", func() string {
			c := claims(iss)
			c.Audience = jwt.Audience{"https://batch.core.windows.net"}
			return mint(t, rk, c)
		}, "wrong audience"},
		{"signed by another key with the same kid", func() string { return mint(t, other, claims(iss)) }, "signature does not verify"},
		{"tampered payload", func() string {
			parts := strings.Split(mint(t, rk, claims(iss)), ".")
			c := claims(iss)
			c.Subject = "admin"
			p, _ := json.Marshal(c)
			return parts[0] + "." + b64(p) + "." + parts[2]
		}, "signature does not verify"},
		{"alg none", func() string {
			h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT", "kid": "r1"})
			p, _ := json.Marshal(claims(iss))
			return b64(h) + "." + b64(p) + "."
		}, "RS256 or ES256"},
		{"HS256 keyed with the public key", func() string {
			// The classic confusion: an HMAC keyed with the bytes of the issuer's public key.
			pub, _ := json.Marshal(rk.Public())
			sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pub}, (&jose.SignerOptions{}).WithHeader("kid", "r1"))
			if err != nil {
				t.Fatal(err)
			}
			s, err := jwt.Signed(sig).Claims(claims(iss)).Serialize()
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, "RS256 or ES256"},
		{"RS384", func() string {
			k := rk
			k.Algorithm = string(jose.RS384)
			return mint(t, k, claims(iss))
		}, "RS256 or ES256"},
		{"not a JWT", func() string { return "a.b.c" }, "RS256 or ES256"},
	}
	j := newJWT(t, bearer.JWTConfig{Issuer: iss})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := j.Verify(context.Background(), tt.token(), testNow)
			if tt.detail == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if id.Subject != "client-1" || id.Issuer != iss {
					t.Fatalf("identity %+v", id)
				}
				return
			}
			var be *bearer.Error
			if !errors.As(err, &be) || !strings.Contains(be.Detail, tt.detail) {
				t.Fatalf("got %v, want a refusal saying %q", err, tt.detail)
			}
		})
	}
	if n := is.jwksHits.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times, want 1 (one refresh window, every kid known)", n)
	}
}

func TestJWTAudiences(t *testing.T) {
	k := rsaKey(t, "k", 2048)
	is := newIssuer(t, k)
	j := newJWT(t, bearer.JWTConfig{Issuer: is.srv.URL, JWKSURL: is.srv.URL + "/keys", Audiences: []string{"api://corral"}})
	c := claims(is.srv.URL)
	if _, err := j.Verify(context.Background(), mint(t, k, c), testNow); err == nil {
		t.Fatal("Azure's audience accepted by a verifier configured for another")
	}
	c.Audience = jwt.Audience{"api://corral"}
	if _, err := j.Verify(context.Background(), mint(t, k, c), testNow); err != nil {
		t.Fatal(err)
	}
}

func TestJWTSubjects(t *testing.T) {
	k := rsaKey(t, "k", 2048)
	is := newIssuer(t, k)
	j := newJWT(t, bearer.JWTConfig{Issuer: is.srv.URL, Subjects: []string{"oid-allowed", "sub-allowed"}})
	type entra struct {
		jwt.Claims
		OID string `json:"oid,omitempty"`
	}
	tests := []struct {
		name     string
		sub, oid string
		want     string // the identity's subject; "" means refused
	}{
		{"oid allowed", "pairwise-sub", "oid-allowed", "oid-allowed"},
		{"sub allowed, no oid", "sub-allowed", "", "sub-allowed"},
		{"oid not allowed, sub allowed", "sub-allowed", "oid-other", ""},
		{"neither", "someone", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := entra{Claims: claims(is.srv.URL), OID: tt.oid}
			c.Subject = tt.sub
			id, err := j.Verify(context.Background(), mint(t, k, c), testNow)
			switch {
			case tt.want == "" && err == nil:
				t.Fatalf("accepted as %q", id.Subject)
			case tt.want == "" && !strings.Contains(err.Error(), "not allowed"):
				t.Fatalf("refused for another reason: %v", err)
			case tt.want != "" && (err != nil || id.Subject != tt.want):
				t.Fatalf("got %+v, %v; want subject %q", id, err, tt.want)
			}
		})
	}
}

// TestJWTKeyRotation: a token signed with a key the verifier has not seen makes it fetch the
// keys again, at most once per MinRefresh however many requests carry it.
func TestJWTKeyRotation(t *testing.T) {
	old, next := rsaKey(t, "old", 2048), ecKey(t, "next")
	is := newIssuer(t, old)
	now := testNow
	var clockMu sync.Mutex
	clock := func() time.Time { clockMu.Lock(); defer clockMu.Unlock(); return now }
	advance := func(d time.Duration) { clockMu.Lock(); now = now.Add(d); clockMu.Unlock() }
	j := newJWT(t, bearer.JWTConfig{Issuer: is.srv.URL, MinRefresh: time.Minute, Now: clock})
	if err := j.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := j.Verify(context.Background(), mint(t, old, claims(is.srv.URL)), testNow); err != nil {
		t.Fatal(err)
	}
	is.setKeys(old, next)
	tok := mint(t, next, claims(is.srv.URL))

	// Within the window: many concurrent requests with the new kid, no fetch.
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := j.Verify(context.Background(), tok, testNow); err == nil {
				t.Error("a key published after the last fetch accepted within the refresh window")
			}
		}()
	}
	wg.Wait()
	if n := is.jwksHits.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times within the window, want 1", n)
	}

	// After the window: the first request fetches once, and all succeed.
	advance(time.Minute)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := j.Verify(context.Background(), tok, testNow); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n := is.jwksHits.Load(); n != 2 {
		t.Fatalf("JWKS fetched %d times, want 2", n)
	}
	if n := j.Fetches(); n != 2 {
		t.Fatalf("Fetches() = %d, want 2", n)
	}
}

func TestJWTFetchFailures(t *testing.T) {
	k := rsaKey(t, "k", 2048)
	small := rsaKey(t, "small", 1024)
	tests := []struct {
		name   string
		setup  func(is *issuer) bearer.JWTConfig
		detail string
	}{
		{"discovery names another issuer", func(is *issuer) bearer.JWTConfig {
			is.docIss = "https://other.example"
			return bearer.JWTConfig{Issuer: is.srv.URL}
		}, "could not be fetched"},
		{"JWKS not found", func(is *issuer) bearer.JWTConfig {
			return bearer.JWTConfig{Issuer: is.srv.URL, JWKSURL: is.srv.URL + "/nothing"}
		}, "could not be fetched"},
		{"only a weak RSA key", func(is *issuer) bearer.JWTConfig {
			is.setKeys(small)
			return bearer.JWTConfig{Issuer: is.srv.URL}
		}, "could not be fetched"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := newIssuer(t, k)
			j := newJWT(t, tt.setup(is))
			if err := j.Refresh(context.Background()); err == nil {
				t.Fatal("Refresh succeeded")
			}
			_, err := j.Verify(context.Background(), mint(t, k, claims(is.srv.URL)), testNow)
			var be *bearer.Error
			if !errors.As(err, &be) || !strings.Contains(be.Detail, tt.detail) {
				t.Fatalf("got %v, want %q", err, tt.detail)
			}
		})
	}
}

func TestNewJWTURLs(t *testing.T) {
	tests := []struct {
		issuer, jwks string
		ok           bool
	}{
		{"https://login.microsoftonline.com/t/v2.0", "", true},
		{"https://sts.windows.net/t/", "https://login.microsoftonline.com/common/discovery/keys", true},
		{"http://127.0.0.1:9000", "", true},
		{"http://localhost:9000", "http://[::1]:9000/keys", true},
		{"http://issuer.example", "", false},
		{"https://issuer.example", "http://issuer.example/keys", false},
		{"", "", false},
		{"issuer.example", "", false},
	}
	for _, tt := range tests {
		_, err := bearer.NewJWT(bearer.JWTConfig{Issuer: tt.issuer, JWKSURL: tt.jwks})
		if (err == nil) != tt.ok {
			t.Errorf("NewJWT(%q, %q): %v, want ok=%v", tt.issuer, tt.jwks, err, tt.ok)
		}
	}
}

func TestStatic(t *testing.T) {
	good := "s3cr3t-token-0123456789abcdef"
	s, err := bearer.NewStatic([]string{good, "another+token/with/base64==", good})
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 2 {
		t.Fatalf("Len = %d, want 2", s.Len())
	}
	tests := []struct {
		token string
		want  bool
	}{
		{good, true},
		{"another+token/with/base64==", true},
		{good[:len(good)-1], false},
		{good + "x", false},
		{"", false},
		{strings.ToUpper(good), false},
	}
	for _, tt := range tests {
		if got := s.Match(tt.token); got != tt.want {
			t.Errorf("Match(token of %d chars) = %v, want %v", len(tt.token), got, tt.want)
		}
	}
	for _, bad := range []string{"tiny", "has a space in it 0123", "quote\"0123456789abcdef", "================"} {
		if _, err := bearer.NewStatic([]string{good, bad}); err == nil {
			t.Errorf("NewStatic accepted a bad token of %d chars", len(bad))
		} else if strings.Contains(err.Error(), bad) {
			t.Errorf("error %q quotes the token", err)
		}
	}
}

func TestVerifier(t *testing.T) {
	k := rsaKey(t, "k", 2048)
	is := newIssuer(t, k)
	static, err := bearer.NewStatic([]string{"static-token-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	tok := mint(t, k, claims(is.srv.URL))
	both := &bearer.Verifier{Static: static, JWT: newJWT(t, bearer.JWTConfig{Issuer: is.srv.URL})}
	tests := []struct {
		name  string
		v     *bearer.Verifier
		token string
		want  error // nil, ErrNotConfigured, or any refusal (errAny)
	}{
		{"nil verifier", nil, "static-token-0123456789", bearer.ErrNotConfigured},
		{"empty verifier", &bearer.Verifier{}, "static-token-0123456789", bearer.ErrNotConfigured},
		{"static", &bearer.Verifier{Static: static}, "static-token-0123456789", nil},
		{"static only, JWT", &bearer.Verifier{Static: static}, tok, errAny},
		{"static only, wrong", &bearer.Verifier{Static: static}, "wrong-token-0123456789", errAny},
		{"both, static", both, "static-token-0123456789", nil},
		{"both, JWT", both, tok, nil},
		{"both, neither", both, "wrong-token-0123456789", errAny},
		{"empty token", both, "", errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.v.Verify(context.Background(), tt.token, testNow)
			switch {
			case tt.want == nil && err != nil, tt.want != nil && err == nil:
				t.Fatalf("got %v, want %v", err, tt.want)
			case tt.want == bearer.ErrNotConfigured && err != bearer.ErrNotConfigured:
				t.Fatalf("got %v, want ErrNotConfigured", err)
			}
			var be *bearer.Error
			if err != nil && !errors.As(err, &be) {
				t.Fatalf("%v is not a *bearer.Error", err)
			}
			if err != nil && strings.Contains(err.Error(), tt.token) && tt.token != "" {
				t.Fatalf("error %q quotes the token", err)
			}
		})
	}
}

var errAny = errors.New("any refusal")

func BenchmarkStaticMatch(b *testing.B) {
	tokens := make([]string, 10)
	for i := range tokens {
		tokens[i] = strings.Repeat("x", 40) + string(rune('a'+i))
	}
	s, err := bearer.NewStatic(tokens)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		s.Match(tokens[9])
	}
}

func BenchmarkJWTVerify(b *testing.B) {
	for _, k := range []jose.JSONWebKey{rsaKey(b, "r", 2048), ecKey(b, "e")} {
		b.Run(k.Algorithm, func(b *testing.B) {
			is := newIssuer(b, k)
			j, err := bearer.NewJWT(bearer.JWTConfig{Issuer: is.srv.URL, Now: func() time.Time { return testNow }, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			tok := mint(b, k, claims(is.srv.URL))
			if _, err := j.Verify(context.Background(), tok, testNow); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := j.Verify(context.Background(), tok, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
