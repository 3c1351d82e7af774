package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"corral/api/bearer"
	"corral/api/sharedkey"
)

// Authenticate verifies r's Shared Key signature for account with any of keys (an Azure account
// has a primary and a secondary key) and checks that its ocp-date (or Date) is within
// [sharedkey.DefaultSkew] (Azure's 15 minutes) of now. It returns nil, or Azure's error: 403
// AuthenticationFailed or 400 InvalidAuthenticationInfo, with the reason in an
// AuthenticationErrorDetail value.
//
// Corral departs from Azure in one way: Azure's AuthenticationErrorDetail for a bad signature
// quotes the signature the request carried; Corral's never does (it does quote the string the
// server signed, as Azure does, which holds nothing secret).
//
// Authenticate knows Shared Key only: a "Bearer" Authorization header is answered with
// InvalidAuthenticationInfo. [Authenticator] accepts bearer tokens too.
func Authenticate(r *http.Request, account string, keys [][]byte, now time.Time) *Error {
	err := sharedkey.VerifyAny(r, account, keys, now, sharedkey.DefaultSkew)
	if err == nil {
		return nil
	}
	var se *sharedkey.Error
	if !errors.As(err, &se) {
		return NewError(CodeAuthenticationFailed, ErrorValue{"AuthenticationErrorDetail", "The request could not be authenticated."})
	}
	e := NewError(se.Code, ErrorValue{"AuthenticationErrorDetail", se.Detail})
	e.Status = se.Status
	return e
}

// HeaderWWWAuthenticate is the challenge header of a 401 answer (RFC 9110, RFC 6750).
const HeaderWWWAuthenticate = "WWW-Authenticate"

// Authenticator authenticates requests by the scheme of their Authorization header: "Bearer"
// (RFC 6750: a static token or a JWT, see package bearer) or, for anything else, Shared Key,
// exactly as [Authenticate].
type Authenticator struct {
	// Account and Keys check Shared Key signatures.
	Account string
	Keys    [][]byte
	// Bearer checks bearer tokens; nil means the server accepts none, and says so.
	Bearer *bearer.Verifier
}

// Authenticate authenticates r at now. It returns nil, or the error to answer with and the
// WWW-Authenticate challenge to send with it ("" for none). A refused bearer token is answered
// 401 AuthenticationFailed, its reason in AuthenticationErrorDetail, with the challenge
// `Bearer error="invalid_token", error_description="…"`; Shared Key failures are Authenticate's
// (403 or 400, no challenge). ctx bounds a fetch of a JWT issuer's keys.
func (a *Authenticator) Authenticate(ctx context.Context, r *http.Request, now time.Time) (e *Error, challenge string) {
	token, ok := bearerToken(r.Header.Get("Authorization"))
	if !ok {
		return Authenticate(r, a.Account, a.Keys, now), ""
	}
	err := a.Bearer.Verify(ctx, token, now)
	if err == nil {
		return nil, ""
	}
	detail := "The bearer token is not valid."
	var be *bearer.Error
	if errors.As(err, &be) {
		detail = be.Detail
	}
	e = NewError(CodeAuthenticationFailed, ErrorValue{"AuthenticationErrorDetail", detail})
	e.Status = http.StatusUnauthorized
	return e, `Bearer error="invalid_token", error_description="` + quotable(detail) + `"`
}

// bearerToken returns the token of a "Bearer <token>" Authorization header (the scheme is
// case-insensitive), and whether the header is of that scheme.
func bearerToken(h string) (string, bool) {
	scheme, token, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, bearer.Scheme) {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// quotable makes s safe inside a quoted-string: RFC 6750 allows error_description only
// printable ASCII but '"' and '\'.
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '\''
		}
		return r
	}, s)
}
