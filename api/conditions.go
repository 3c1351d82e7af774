package api

import (
	"net/http"
	"strings"
	"time"

	"corral/api/sharedkey"
)

// CheckConditions evaluates the request's conditional headers against the resource's current
// ETag and last-modified time and returns nil when the request may proceed, or Azure's
// ConditionNotMet: status 304 (no body) for a GET or HEAD whose If-None-Match matches or whose
// If-Modified-Since finds no change, and 412 otherwise ("Batch Status and Error Codes" gives 304
// for read operations and 412 for writes).
//
// Pass etag "" when the resource does not exist: If-Match then fails (even "*") and
// If-None-Match "*" succeeds. The evaluation order is RFC 9110's: If-Match, else
// If-Unmodified-Since; then If-None-Match, else (GET and HEAD only) If-Modified-Since. ETags are
// compared after removing a "W/" prefix and surrounding quotes, because Batch ETags are unquoted
// ("0x8D4EDFEBFADF4AB") and clients send them back either way; lists ("a", "b") and "*" are
// understood. Times are compared to the second, HTTP dates' precision. A date that does not parse
// is a 400 InvalidHeaderValue (RFC 9110 would ignore it; Azure validates headers).
func CheckConditions(r *http.Request, etag string, lastModified time.Time) *Error {
	read := r.Method == http.MethodGet || r.Method == http.MethodHead
	lm := lastModified.UTC().Truncate(time.Second)

	if v, ok := conditionHeader(r, "If-Match"); ok {
		if !etagMatches(v, etag) {
			return NewError(CodeConditionNotMet)
		}
	} else if v, ok := conditionHeader(r, "If-Unmodified-Since"); ok {
		t, err := sharedkey.ParseDate(v)
		if err != nil {
			return invalidHeader("If-Unmodified-Since", v)
		}
		if etag == "" || lm.After(t) {
			return NewError(CodeConditionNotMet)
		}
	}

	if v, ok := conditionHeader(r, "If-None-Match"); ok {
		if etagMatches(v, etag) {
			return notMet(read)
		}
	} else if v, ok := conditionHeader(r, "If-Modified-Since"); ok && read {
		t, err := sharedkey.ParseDate(v)
		if err != nil {
			return invalidHeader("If-Modified-Since", v)
		}
		if etag != "" && !lm.After(t) {
			return notMet(true)
		}
	}
	return nil
}

func notMet(read bool) *Error {
	e := NewError(CodeConditionNotMet)
	if read {
		e.Status = http.StatusNotModified
		e.Message = "The condition specified in the conditional header(s) was not met for a read operation."
	}
	return e
}

func invalidHeader(name, value string) *Error {
	return NewError(CodeInvalidHeaderValue, ErrorValue{"HeaderName", name}, ErrorValue{"HeaderValue", value})
}

func conditionHeader(r *http.Request, name string) (string, bool) {
	vs := r.Header.Values(name)
	if len(vs) == 0 {
		return "", false
	}
	return strings.TrimSpace(strings.Join(vs, ",")), true
}

// etagMatches reports whether the header list (a comma-separated list of ETags, or "*") matches
// the current etag; a missing resource (etag "") matches nothing.
func etagMatches(list, etag string) bool {
	if etag == "" {
		return false
	}
	cur := normalizeETag(etag)
	for t := range strings.SplitSeq(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || (t != "" && normalizeETag(t) == cur) {
			return true
		}
	}
	return false
}

func normalizeETag(t string) string {
	t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
	if len(t) >= 2 && t[0] == '"' && t[len(t)-1] == '"' {
		t = t[1 : len(t)-1]
	}
	return t
}

// SetEntityHeaders sets the ETag and Last-Modified response headers of a single resource, as Batch
// sends them (the ETag unquoted, the date in RFC 1123 GMT).
func SetEntityHeaders(w http.ResponseWriter, etag string, lastModified time.Time) {
	if etag != "" {
		w.Header().Set("ETag", etag)
	}
	if !lastModified.IsZero() {
		w.Header().Set("Last-Modified", lastModified.UTC().Format(http.TimeFormat))
	}
}
