package bearer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// DefaultAudience is the audience of Azure Batch's access tokens: what a token for the scope
// https://batch.core.windows.net//.default (the Azure SDKs' scope) carries. Azure Batch requires
// exactly this value, trailing slash included, and so does Corral by default.
const DefaultAudience = "https://batch.core.windows.net/"

// Defaults of a JWTConfig's zero fields.
const (
	// DefaultSkew is how far the server's clock may be from the issuer's when checking exp, nbf
	// and iat.
	DefaultSkew = 2 * time.Minute
	// DefaultMinRefresh is the shortest time between two fetches of the issuer's keys: a token
	// signed with an unknown key (kid) makes the verifier fetch them again, at most this often.
	DefaultMinRefresh = time.Minute
	// DefaultMaxAge is how long fetched keys are used before they are fetched again (when a
	// request needs them; a failed fetch keeps the old keys).
	DefaultMaxAge = time.Hour
	// DefaultFetchTimeout bounds one fetch of the keys (discovery document and JWKS).
	DefaultFetchTimeout = 10 * time.Second
)

// maxDocumentBytes bounds the discovery document and the JWKS read from the issuer.
const maxDocumentBytes = 1 << 20

// minRSABits is the smallest RSA key accepted.
const minRSABits = 2048

// algorithms are the signature algorithms accepted: asymmetric only, so a verifier that holds
// public keys can never be made to check an HMAC keyed with one ("alg": "HS256"), and never
// "none".
var algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

// JWTConfig configures a JWT verifier.
type JWTConfig struct {
	// Issuer is the exact value of the tokens' iss claim, an https URL (http only on a loopback
	// host, for tests): for Microsoft Entra ID v1.0 tokens https://sts.windows.net/<tenant>/, for
	// v2.0 tokens https://login.microsoftonline.com/<tenant>/v2.0. Required.
	Issuer string
	// JWKSURL is where the issuer publishes its keys. Empty means discovery: the jwks_uri of
	// Issuer + "/.well-known/openid-configuration" (OpenID Connect Discovery), whose issuer must
	// be Issuer.
	JWKSURL string
	// Audiences are the accepted values of the aud claim; a token must carry one of them. Empty
	// means DefaultAudience alone.
	Audiences []string
	// Subjects, when not empty, are the only principals accepted: a token's oid claim (Entra ID's
	// object id of the user or service principal) or, without one, its sub claim must be one of
	// them. Empty means any principal the issuer gives a token for the audience.
	Subjects []string
	// Skew, MinRefresh, MaxAge and FetchTimeout default to DefaultSkew, DefaultMinRefresh,
	// DefaultMaxAge and DefaultFetchTimeout.
	Skew, MinRefresh, MaxAge, FetchTimeout time.Duration
	// Client fetches the discovery document and the keys; nil means a client of its own with
	// the system's roots that follows no redirects.
	Client *http.Client
	// Logger receives failed fetches (URLs and errors, never tokens); nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock of the key cache; nil means time.Now.
	Now func() time.Time
}

// JWT verifies JWTs from one issuer. It is safe for concurrent use.
type JWT struct {
	cfg JWTConfig
	log *slog.Logger

	keys atomic.Pointer[keySet] // nil until the first successful fetch

	mu      sync.Mutex // held during a fetch, so that concurrent requests wait for one fetch
	lastTry time.Time  // when the last fetch started, under mu
	fetches atomic.Int64
}

// keySet is the issuer's usable keys, as last fetched.
type keySet struct {
	keys    []jose.JSONWebKey
	fetched time.Time
}

// Identity is what a verified token says of its bearer.
type Identity struct {
	// Subject is the principal: the oid claim when the token has one (Entra ID), else sub.
	Issuer, Subject string
	Expiry          time.Time
}

// NewJWT returns a verifier for cfg. It fetches nothing: the keys are fetched by Refresh, or
// when the first token needs them.
func NewJWT(cfg JWTConfig) (*JWT, error) {
	if cfg.Issuer == "" {
		return nil, errors.New("bearer: no JWT issuer")
	}
	if err := checkURL(cfg.Issuer); err != nil {
		return nil, fmt.Errorf("bearer: JWT issuer: %w", err)
	}
	if cfg.JWKSURL != "" {
		if err := checkURL(cfg.JWKSURL); err != nil {
			return nil, fmt.Errorf("bearer: JWKS URL: %w", err)
		}
	}
	var auds []string
	for _, a := range cfg.Audiences {
		if a != "" {
			auds = append(auds, a)
		}
	}
	if len(auds) == 0 {
		auds = []string{DefaultAudience}
	}
	cfg.Audiences = auds
	if cfg.Skew <= 0 {
		cfg.Skew = DefaultSkew
	}
	if cfg.MinRefresh <= 0 {
		cfg.MinRefresh = DefaultMinRefresh
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = DefaultFetchTimeout
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	j := &JWT{cfg: cfg, log: cfg.Logger}
	if j.log == nil {
		j.log = slog.Default()
	}
	return j, nil
}

// checkURL accepts an https URL, or an http URL whose host is a loopback address or localhost.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	switch {
	case u.Host == "":
		return fmt.Errorf("%q is not an absolute URL", s)
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%q: want an https URL (http only on loopback)", s)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Issuer is the issuer the verifier trusts.
func (j *JWT) Issuer() string { return j.cfg.Issuer }

// Fetches is how many times the keys were fetched (tried), for tests and metrics.
func (j *JWT) Fetches() int64 { return j.fetches.Load() }

// Refresh fetches the issuer's keys now, unless a fetch started less than MinRefresh ago. The
// server calls it at start, so that the first request does not wait for the issuer.
func (j *JWT) Refresh(ctx context.Context) error {
	return j.refresh(ctx)
}

// refresh fetches the keys unless a fetch started less than MinRefresh ago (then it returns
// nil); a failed fetch keeps the keys there were.
func (j *JWT) refresh(ctx context.Context) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.cfg.Now()
	if !j.lastTry.IsZero() && now.Sub(j.lastTry) < j.cfg.MinRefresh {
		return nil
	}
	j.lastTry = now
	j.fetches.Add(1)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), j.cfg.FetchTimeout)
	defer cancel()
	keys, err := j.fetch(ctx)
	if err != nil {
		j.log.Warn("bearer: fetching the JWT issuer's keys failed", "issuer", j.cfg.Issuer, "err", err)
		return err
	}
	j.keys.Store(&keySet{keys: keys, fetched: now})
	return nil
}

// fetch reads the issuer's usable keys: by discovery unless JWKSURL is set.
func (j *JWT) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	jwksURL := j.cfg.JWKSURL
	if jwksURL == "" {
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		u := strings.TrimSuffix(j.cfg.Issuer, "/") + "/.well-known/openid-configuration"
		if err := j.getJSON(ctx, u, &doc); err != nil {
			return nil, fmt.Errorf("discovery: %w", err)
		}
		if doc.Issuer != j.cfg.Issuer {
			return nil, fmt.Errorf("discovery: %s names issuer %q, not %q", u, doc.Issuer, j.cfg.Issuer)
		}
		if err := checkURL(doc.JWKSURI); err != nil {
			return nil, fmt.Errorf("discovery: jwks_uri: %w", err)
		}
		jwksURL = doc.JWKSURI
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := j.getJSON(ctx, jwksURL, &set); err != nil {
		return nil, fmt.Errorf("JWKS: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		// A key of a type go-jose does not know, or a malformed one, is skipped: the others
		// still serve.
		if err := json.Unmarshal(raw, &k); err != nil || !k.Valid() || !k.IsPublic() || k.Use == "enc" {
			continue
		}
		if algorithmOf(k) != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("JWKS %s: no RSA (2048 bits or more) or P-256 signing key", jwksURL)
	}
	return keys, nil
}

// algorithmOf is the signature algorithm Corral accepts with k: RS256 for an RSA key of at least
// minRSABits, ES256 for a P-256 key, "" for any other key or a key whose alg says otherwise.
func algorithmOf(k jose.JSONWebKey) jose.SignatureAlgorithm {
	var alg jose.SignatureAlgorithm
	switch pk := k.Key.(type) {
	case *rsa.PublicKey:
		if pk.N.BitLen() >= minRSABits {
			alg = jose.RS256
		}
	case *ecdsa.PublicKey:
		if pk.Curve == elliptic.P256() {
			alg = jose.ES256
		}
	}
	if k.Algorithm != "" && k.Algorithm != string(alg) {
		return ""
	}
	return alg
}

// getJSON GETs u and decodes its JSON body into dst.
func (j *JWT) getJSON(ctx context.Context, u string, dst any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := j.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDocumentBytes)).Decode(dst); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// candidates are the keys that may have signed a token with header kid and alg.
func (ks *keySet) candidates(kid string, alg jose.SignatureAlgorithm) []jose.JSONWebKey {
	if ks == nil {
		return nil
	}
	var out []jose.JSONWebKey
	for _, k := range ks.keys {
		if (kid == "" || k.KeyID == kid) && algorithmOf(k) == alg {
			out = append(out, k)
		}
	}
	return out
}

// keysFor returns the keys that may have signed a token with header kid and alg, fetching the
// keys when there are none yet, when they are older than MaxAge, or when none fits (a new key
// of the issuer's): each at most once per MinRefresh.
func (j *JWT) keysFor(ctx context.Context, kid string, alg jose.SignatureAlgorithm) []jose.JSONWebKey {
	ks := j.keys.Load()
	if ks != nil && j.cfg.Now().Sub(ks.fetched) < j.cfg.MaxAge {
		if c := ks.candidates(kid, alg); len(c) > 0 {
			return c
		}
	}
	_ = j.refresh(ctx) // logged; the keys there were still serve
	return j.keys.Load().candidates(kid, alg)
}

// Verify checks token at now: its signature (RS256 or ES256) with one of the issuer's keys, its
// issuer, audience, expiry (required), not-before and issued-at claims, the times with Skew's
// leeway. It returns who the token names, or an *Error.
func (j *JWT) Verify(ctx context.Context, token string, now time.Time) (Identity, error) {
	tok, err := jwt.ParseSigned(token, algorithms)
	if err != nil {
		return Identity{}, refused("The bearer token is not a JWT signed with RS256 or ES256.")
	}
	if len(tok.Headers) != 1 {
		return Identity{}, refused("The bearer token is not a JWT with one signature.")
	}
	h := tok.Headers[0]
	keys := j.keysFor(ctx, h.KeyID, jose.SignatureAlgorithm(h.Algorithm))
	if len(keys) == 0 {
		if j.keys.Load() == nil {
			return Identity{}, refused("The issuer's signing keys could not be fetched; try again later.")
		}
		return Identity{}, refused("The bearer token is signed with a key that the issuer %q does not publish.", j.cfg.Issuer)
	}
	var claims jwt.Claims
	var entra struct {
		OID string `json:"oid"`
	}
	verified := false
	for _, k := range keys {
		if tok.Claims(k.Key, &claims, &entra) == nil {
			verified = true
			break
		}
	}
	if !verified {
		return Identity{}, refused("The bearer token's signature does not verify with the issuer's keys.")
	}
	if claims.Expiry == nil {
		return Identity{}, refused("The bearer token has no expiry (exp).")
	}
	err = claims.ValidateWithLeeway(jwt.Expected{Issuer: j.cfg.Issuer, AnyAudience: j.cfg.Audiences, Time: now}, j.cfg.Skew)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return Identity{}, refused("The access token is from the wrong issuer %q. It must be %q.", claims.Issuer, j.cfg.Issuer)
	case errors.Is(err, jwt.ErrInvalidAudience):
		return Identity{}, refused("The access token has been obtained for the wrong audience or resource %q. It should exactly match (including a trailing slash) one of the allowed audiences %q.",
			strings.Join(claims.Audience, " "), strings.Join(j.cfg.Audiences, " "))
	case errors.Is(err, jwt.ErrExpired):
		return Identity{}, refused("Lifetime validation failed. The token is expired.")
	case errors.Is(err, jwt.ErrNotValidYet):
		return Identity{}, refused("Lifetime validation failed. The token is not valid yet (nbf).")
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return Identity{}, refused("Lifetime validation failed. The token was issued in the future (iat).")
	default:
		return Identity{}, refused("The bearer token's claims are not valid.")
	}
	subject := claims.Subject
	if entra.OID != "" {
		subject = entra.OID
	}
	if len(j.cfg.Subjects) > 0 && !slices.Contains(j.cfg.Subjects, subject) {
		return Identity{}, refused("The principal %q of the bearer token is not allowed on this server.", subject)
	}
	return Identity{Issuer: claims.Issuer, Subject: subject, Expiry: claims.Expiry.Time()}, nil
}
