// Package bearer verifies the bearer tokens (RFC 6750) that clients send as
//
//	Authorization: Bearer <token>
//
// in place of a Shared Key signature. Azure Batch accepts Microsoft Entra ID access tokens there,
// and the Azure SDK for Go (azbatch) authenticates with nothing else. Corral accepts two kinds:
//
//   - Static tokens ([Static]): secrets the operator configures, compared in constant time over
//     their SHA-256 hashes, so that neither their content nor their length leaks through timing.
//   - JWTs ([JWT]) signed by an issuer the operator names (Microsoft Entra ID, or any OpenID
//     Connect provider), verified against the issuer's published keys (its JWKS): RS256 or ES256
//     signatures only, and the issuer, audience, expiry and not-before claims.
//
// A [Verifier] holds either or both. Failures are [*Error] values whose Detail is safe to return
// to the client; no token, nor any part of one, ever appears in an error or a log.
package bearer

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Scheme is the authorization scheme name in the Authorization header.
const Scheme = "Bearer"

// Error is a token that was refused. Detail says why, for the AuthenticationErrorDetail of
// Azure's error body and the error_description of the WWW-Authenticate challenge.
type Error struct {
	Detail string
}

// Error implements error.
func (e *Error) Error() string { return "bearer: " + e.Detail }

func refused(format string, args ...any) *Error {
	return &Error{Detail: fmt.Sprintf(format, args...)}
}

// ErrNotConfigured is the answer of a nil or empty Verifier: the server accepts no bearer
// tokens.
var ErrNotConfigured = &Error{Detail: "Bearer tokens are not configured on this server: sign the request with Shared Key, " +
	"or start the server with --token-file or --jwt-issuer."}

// Verifier checks bearer tokens: a static token, else a JWT. The zero value and nil accept none.
type Verifier struct {
	// Static holds the static tokens; nil means none.
	Static *Static
	// JWT verifies JWTs; nil means none are accepted.
	JWT *JWT
}

// Configured reports whether v accepts any token at all.
func (v *Verifier) Configured() bool {
	return v != nil && (v.Static.Len() > 0 || v.JWT != nil)
}

// Verify checks token at now. It returns nil, or an *Error. A token that looks like a JWT (three
// dot-separated parts) and is not a static token goes to the JWT verifier, which may fetch the
// issuer's keys (bounded by ctx and the verifier's own timeout).
func (v *Verifier) Verify(ctx context.Context, token string, now time.Time) error {
	if !v.Configured() {
		return ErrNotConfigured
	}
	if token == "" {
		return refused("The Authorization header carries no bearer token.")
	}
	if v.Static.Match(token) {
		return nil
	}
	if v.JWT == nil {
		return refused("The bearer token is not valid.")
	}
	if strings.Count(token, ".") != 2 {
		return refused("The bearer token is not valid: it is not a JWT.")
	}
	_, err := v.JWT.Verify(ctx, token, now)
	return err
}

// Static is a set of static tokens, kept as SHA-256 hashes.
type Static struct {
	hashes [][sha256.Size]byte
}

// MinTokenLength is the shortest static token accepted: 16 characters, a floor, not advice
// (`openssl rand -base64 32` makes a good one).
const MinTokenLength = 16

// NewStatic returns a Static that accepts tokens. Each token must be at least [MinTokenLength]
// characters of RFC 6750's token68 syntax (letters, digits, "-._~+/", then optional "="), so
// that any HTTP client can send it. Duplicates are kept once. The error names a token by its
// position (from 1), never by its content.
func NewStatic(tokens []string) (*Static, error) {
	s := &Static{}
	seen := make(map[[sha256.Size]byte]bool)
	for i, t := range tokens {
		if err := CheckToken(t); err != nil {
			return nil, fmt.Errorf("token %d: %w", i+1, err)
		}
		h := sha256.Sum256([]byte(t))
		if !seen[h] {
			seen[h] = true
			s.hashes = append(s.hashes, h)
		}
	}
	return s, nil
}

// CheckToken checks that t is a usable static token (see NewStatic); its error never quotes t.
func CheckToken(t string) error {
	if len(t) < MinTokenLength {
		return fmt.Errorf("shorter than %d characters", MinTokenLength)
	}
	body := strings.TrimRight(t, "=")
	if body == "" {
		return errors.New("not of the token68 syntax")
	}
	for _, c := range body {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.ContainsRune("-._~+/", c):
		default:
			return errors.New("has a character outside letters, digits and -._~+/= (RFC 6750's token68)")
		}
	}
	return nil
}

// Len is the number of distinct tokens s accepts (0 for nil).
func (s *Static) Len() int {
	if s == nil {
		return 0
	}
	return len(s.hashes)
}

// Match reports whether token is one of s's tokens. It compares the token's SHA-256 hash with
// every configured hash in constant time, without stopping at a match, so the time it takes
// says nothing about the token or which one matched.
func (s *Static) Match(token string) bool {
	if s.Len() == 0 {
		return false
	}
	h := sha256.Sum256([]byte(token))
	found := 0
	for i := range s.hashes {
		found |= subtle.ConstantTimeCompare(h[:], s.hashes[i][:])
	}
	return found == 1
}
