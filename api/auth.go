package api

import (
	"errors"
	"net/http"
	"time"

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
// Microsoft Entra ID (bearer token) authentication is not supported: a "Bearer" Authorization
// header is answered with InvalidAuthenticationInfo.
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
