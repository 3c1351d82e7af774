// Package sharedkey implements Azure Batch's Shared Key authentication: a client signs a request
// with HMAC-SHA256 over a canonical "string to sign", keyed by the account's key, and sends
//
//	Authorization: SharedKey <account>:<base64(HMAC-SHA256(key, UTF-8(stringToSign)))>
//
// [Sign] is the client side (Corral's own CLI and the tests use it); [Verify] and [VerifyAny] are the
// server side. The package does no I/O and reads no clock: the time is always an argument.
//
// # The string to sign
//
//	VERB + "\n" +
//	Content-Encoding + "\n" + Content-Language + "\n" + Content-Length + "\n" + Content-MD5 + "\n" +
//	Content-Type + "\n" + Date + "\n" + If-Modified-Since + "\n" + If-Match + "\n" +
//	If-None-Match + "\n" + If-Unmodified-Since + "\n" + Range + "\n" +
//	CanonicalizedHeaders +
//	CanonicalizedResource
//
// where:
//
//   - Each standard header contributes its value, or nothing when absent.
//   - Date is empty when the request carries ocp-date (the time then travels in ocp-date, which is
//     signed among the canonicalized headers); otherwise it is the Date header.
//   - CanonicalizedHeaders: every header whose name starts with "ocp-" (case-insensitively; Batch
//     signs no "x-ms-" headers, unlike Azure Storage), name lowercased, sorted by name,
//     each written "name:value\n".
//   - CanonicalizedResource: "/" + account + the request path exactly as sent (still
//     percent-encoded), then for each query parameter, sorted by lowercased name,
//     "\n" + lowercased name + ":" + URL-decoded value, several values of one name joined by ",".
//
// # What the official SDKs actually sign, and why Verify accepts more than one form
//
// The documented algorithm leaves details open, and the official clients fill them differently
// (read in Azure/azure-sdk-for-js sdk/batch/batch/src/credentials/batchSharedKeyCredentials.ts and
// src/batchSharedKeyCredentials.ts, Azure/azure-sdk-for-net Microsoft.Azure.Batch
// BatchSharedKeyCredential.cs and Azure.Compute.Batch BatchNamedKeyCredentialPolicy.cs,
// Azure/azure-sdk-for-java BatchSharedKeyCredentialsPolicy.java, Azure/azure-sdk-for-python
// azure/batch/_patch.py). The Go SDK (Azure/azure-sdk-for-go sdk/batch/azbatch) has no Shared Key
// credential at all: it authenticates with Microsoft Entra ID bearer tokens only.
//
//   - Content-Length of an empty body: the JavaScript, Python and older .NET clients sign "0" for a
//     POST without a body (the .NET one also for DELETE, PATCH and OPTIONS, the Python one for every
//     verb but GET and HEAD); the newer .NET client signs "" for zero; Java signs the header as sent.
//     Verify accepts both "" and "0" when the body is empty.
//   - Date: JavaScript and Python sign the Date header even when ocp-date is present; .NET and Java
//     sign an empty Date then, as documented. Verify accepts both when both headers are present.
//   - Query names: .NET and Java lowercase them; JavaScript and Python sign them as sent. All decode
//     the values (so "+" and "%20" are both a space). Several values of one name: .NET joins them
//     with ",", JavaScript writes one line per value. Verify accepts the lowercased, comma-joined form
//     and the as-sent, one-line-per-value form.
//   - ocp- headers with an empty value: JavaScript and Python leave them out, .NET signs "name:".
//     Verify accepts both.
//   - Account in the resource: Java lowercases it. Verify accepts the account as written in the
//     Authorization header and its lowercase form.
//
// Every form still covers every part of the request that means something (verb, content headers,
// ocp-date, path, every query value); they differ only in how the same request is written down.
// [Sign] produces the documented form with an empty Content-Length for an empty body.
//
// The Batch service rejects a request more than 15 minutes from its ocp-date (or Date); Verify
// takes the allowed skew as an argument and applies it in both directions ([DefaultSkew]).
package sharedkey

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Scheme is the authorization scheme name in the Authorization header.
const Scheme = "SharedKey"

// DefaultSkew is how far the request's date may be from the server's clock: the Batch service
// requires a request to arrive within 15 minutes of its ocp-date (or Date).
const DefaultSkew = 15 * time.Minute

// HeaderOCPDate is the request header that carries the request's creation time.
const HeaderOCPDate = "ocp-date"

// Azure error codes an authentication failure carries.
const (
	// CodeAuthenticationFailed (HTTP 403): the request is well-formed but not authentic: missing
	// Authorization, unknown account, bad signature, missing or stale date.
	CodeAuthenticationFailed = "AuthenticationFailed"
	// CodeInvalidAuthenticationInfo (HTTP 400): the Authorization header is not of the form
	// "SharedKey account:base64-signature".
	CodeInvalidAuthenticationInfo = "InvalidAuthenticationInfo"
)

// Error is an authentication failure with the HTTP status and error code Azure Batch answers with.
// Detail is what Azure puts in the error body's AuthenticationErrorDetail value. Neither the key
// nor the signature found in the request ever appears in an Error.
type Error struct {
	Status int    // 403 for CodeAuthenticationFailed, 400 for CodeInvalidAuthenticationInfo
	Code   string // CodeAuthenticationFailed or CodeInvalidAuthenticationInfo
	Detail string // human-readable reason, safe to return to the client
	// mismatch is set when everything checked out except the signature, so that VerifyAny may try
	// the next key.
	mismatch bool
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("sharedkey: %s: %s", e.Code, e.Detail)
}

func failed(format string, args ...any) *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeAuthenticationFailed, Detail: fmt.Sprintf(format, args...)}
}

func invalidInfo(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidAuthenticationInfo, Detail: fmt.Sprintf(format, args...)}
}

// standardHeaders are the headers whose values form lines 2 to 12 of the string to sign, in order.
// Content-Length (index 2) and Date (index 5) are handled separately.
var standardHeaders = [...]string{
	"Content-Encoding",
	"Content-Language",
	"Content-Length",
	"Content-MD5",
	"Content-Type",
	"Date",
	"If-Modified-Since",
	"If-Match",
	"If-None-Match",
	"If-Unmodified-Since",
	"Range",
}

const (
	idxContentLength = 2
	idxDate          = 5
)

// Sign adds "Authorization: SharedKey account:signature" to r, signing the documented string to
// sign (see [StringToSign]). r must already carry its final headers, URL and ContentLength, and an
// ocp-date or Date header: Sign reads no clock. Headers the Go transport adds later (User-Agent,
// Accept-Encoding) are not signed, so they do not matter.
func Sign(r *http.Request, account string, key []byte) error {
	if account == "" {
		return errors.New("sharedkey: sign: empty account name")
	}
	if len(key) == 0 {
		return errors.New("sharedkey: sign: empty key")
	}
	s, err := StringToSign(r, account)
	if err != nil {
		return err
	}
	r.Header.Set("Authorization", Scheme+" "+account+":"+base64.StdEncoding.EncodeToString(mac(key, s)))
	return nil
}

// StringToSign returns the documented string to sign for r, the one [Sign] signs: Content-Length
// empty for an empty or unknown-length body, Date empty when ocp-date is present, every ocp- header
// (empty values included), the path as sent, query names lowercased and sorted with several values
// of one name joined by ",".
func StringToSign(r *http.Request, account string) (string, error) {
	p, err := parts(r, account)
	if err != nil {
		return "", err
	}
	if !p.hasDate() {
		return "", errors.New("sharedkey: request has neither an ocp-date nor a Date header")
	}
	return p.build(p.contentLength[0], p.date[0], p.headers[0], p.accounts[0], p.queries[0]), nil
}

// Verify checks r's Shared Key signature against account and key, and that its ocp-date (or Date)
// is within skew of now. It returns nil or an [*Error] carrying Azure's status and error code.
// The comparison is constant-time (hmac.Equal) for every canonical form tried.
func Verify(r *http.Request, account string, key []byte, now time.Time, skew time.Duration) error {
	return VerifyAny(r, account, [][]byte{key}, now, skew)
}

// VerifyAny is [Verify] for an account with several valid keys (Azure accounts have a primary and
// a secondary key): r is authentic if it is signed with any of them.
func VerifyAny(r *http.Request, account string, keys [][]byte, now time.Time, skew time.Duration) error {
	claimed, sig, err := parseAuthorization(r.Header.Values("Authorization"))
	if err != nil {
		return err
	}
	if !strings.EqualFold(claimed, account) {
		return failed("The account %q named in the Authorization header is not this service's account.", claimed)
	}
	when, err := RequestTime(r)
	if err != nil {
		return err
	}
	if d := now.Sub(when); d > skew {
		return failed("Request date header too old: %q.", dateHeader(r))
	} else if -d > skew {
		return failed("Request date header is in the future: %q.", dateHeader(r))
	}
	p, perr := parts(r, claimed)
	if perr != nil {
		return failed("The request could not be canonicalized: %v.", perr)
	}
	var last *Error
	for _, key := range keys {
		if len(key) == 0 {
			continue
		}
		err := p.verify(key, sig)
		if err == nil {
			return nil
		}
		last = err
	}
	if last == nil {
		return failed("No key is configured for account %q.", account)
	}
	return last
}

// IsSignatureMismatch reports whether err is a Verify failure caused only by the signature not
// matching the key (as opposed to a malformed header, a wrong account or a stale date).
func IsSignatureMismatch(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.mismatch
}

// parseAuthorization splits "SharedKey account:signature" and decodes the signature.
func parseAuthorization(values []string) (account string, sig []byte, err error) {
	switch len(values) {
	case 0:
		return "", nil, failed("The request has no Authorization header.")
	case 1:
	default:
		return "", nil, invalidInfo("The request has more than one Authorization header.")
	}
	scheme, cred, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !ok || !strings.EqualFold(scheme, Scheme) {
		if scheme == "" {
			scheme = values[0]
		}
		return "", nil, invalidInfo("The Authorization header must have the form %q; the scheme %q is not supported.",
			"SharedKey <account>:<signature>", scheme)
	}
	account, b64, ok := strings.Cut(strings.TrimSpace(cred), ":")
	if !ok || account == "" || b64 == "" {
		return "", nil, invalidInfo("The Authorization header must have the form %q.", "SharedKey <account>:<signature>")
	}
	sig, decErr := base64.StdEncoding.DecodeString(b64)
	if decErr != nil {
		return "", nil, invalidInfo("The signature in the Authorization header is not valid base64.")
	}
	return account, sig, nil
}

// RequestTime returns the request's creation time: its ocp-date header if present (Azure prefers
// it when both are sent), else its Date header. It returns an [*Error] when neither is present or
// the value is not an HTTP date.
func RequestTime(r *http.Request) (time.Time, error) {
	name := HeaderOCPDate
	v, ok := header(r.Header, HeaderOCPDate)
	if !ok {
		name = "Date"
		v, ok = header(r.Header, "Date")
	}
	if !ok || v == "" {
		return time.Time{}, failed("Request date header not specified: send ocp-date or Date.")
	}
	t, err := ParseDate(v)
	if err != nil {
		return time.Time{}, failed("The %s header %q is not a valid HTTP date.", name, v)
	}
	return t, nil
}

func dateHeader(r *http.Request) string {
	if v, ok := header(r.Header, HeaderOCPDate); ok {
		return v
	}
	v, _ := header(r.Header, "Date")
	return v
}

// dateLayouts are the date formats ParseDate accepts: RFC 1123 with "GMT" (what the JavaScript,
// .NET, Java and Python clients send), RFC 1123 with "UTC" or a numeric zone (what Go's
// time.RFC1123 and time.RFC1123Z produce, e.g. azbatch's OCPDate option), RFC 850 and ANSI C
// (which HTTP/1.1 also allows).
var dateLayouts = []string{
	http.TimeFormat,
	time.RFC1123,
	time.RFC1123Z,
	time.RFC850,
	time.ANSIC,
}

// ParseDate parses an HTTP date as found in ocp-date or Date.
func ParseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("sharedkey: %q is not an HTTP date", s)
}

// header returns the first value of the header named name, matched case-insensitively: requests
// built by hand (as azbatch does) may hold "ocp-date" rather than the canonical "Ocp-Date".
func header(h http.Header, name string) (string, bool) {
	if v, ok := h[http.CanonicalHeaderKey(name)]; ok && len(v) > 0 {
		return strings.TrimSpace(v[0]), true
	}
	for k, v := range h {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return strings.TrimSpace(v[0]), true
		}
	}
	return "", false
}

type kv struct{ k, v string }

// canonParts holds every piece of the string to sign, with the alternatives that the official
// clients produce for the same request (the documented form first).
type canonParts struct {
	verb          string
	std           [len(standardHeaders)]string
	contentLength []string
	date          []string
	headers       []string // rendered CanonicalizedHeaders alternatives
	accounts      []string
	path          string
	queries       []string // rendered query-part alternatives
}

func (p *canonParts) hasDate() bool { return len(p.date) > 0 }

func parts(r *http.Request, account string) (*canonParts, error) {
	p := &canonParts{verb: r.Method}
	if p.verb == "" {
		p.verb = http.MethodGet
	}
	for i, name := range standardHeaders {
		p.std[i], _ = header(r.Header, name)
	}

	// Content-Length: the header as sent, else the known length; an empty body may be signed "" or "0".
	cl := p.std[idxContentLength]
	if cl == "" && r.ContentLength > 0 {
		cl = strconv.FormatInt(r.ContentLength, 10)
	}
	if cl == "" || cl == "0" {
		p.contentLength = []string{"", "0"}
	} else {
		p.contentLength = []string{cl}
	}

	// Date: empty when ocp-date is present (documented), or the Date header (JavaScript, Python).
	date, hasDate := header(r.Header, "Date")
	if _, hasOCP := header(r.Header, HeaderOCPDate); hasOCP {
		p.date = []string{""}
		if hasDate && date != "" {
			p.date = append(p.date, date)
		}
	} else if hasDate && date != "" {
		p.date = []string{date}
	}

	// ocp- headers, lowercased and sorted; with and without empty values.
	ocp := map[string]string{}
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, "ocp-") || len(vs) == 0 {
			continue
		}
		if _, dup := ocp[lk]; dup {
			return nil, fmt.Errorf("header %q appears under two spellings", lk)
		}
		ocp[lk] = strings.TrimSpace(vs[0])
	}
	names := make([]string, 0, len(ocp))
	for k := range ocp {
		names = append(names, k)
	}
	sort.Strings(names)
	var all, nonEmpty strings.Builder
	for _, k := range names {
		line := k + ":" + ocp[k] + "\n"
		all.WriteString(line)
		if ocp[k] != "" {
			nonEmpty.WriteString(line)
		}
	}
	p.headers = dedupe(all.String(), nonEmpty.String())

	p.accounts = dedupe(account, strings.ToLower(account))

	// The path as sent: a server request's RequestURI holds the exact bytes of the request line.
	p.path = r.URL.EscapedPath()
	if u := r.RequestURI; strings.HasPrefix(u, "/") {
		p.path, _, _ = strings.Cut(u, "?")
	}
	if p.path == "" {
		p.path = "/"
	}

	pairs, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	p.queries = dedupe(queryDocumented(pairs), queryAsSent(pairs))
	return p, nil
}

// build renders one string to sign.
func (p *canonParts) build(contentLength, date, headers, account, query string) string {
	var b strings.Builder
	b.WriteString(p.verb)
	b.WriteByte('\n')
	for i, v := range p.std {
		switch i {
		case idxContentLength:
			v = contentLength
		case idxDate:
			v = date
		}
		b.WriteString(v)
		b.WriteByte('\n')
	}
	b.WriteString(headers)
	b.WriteByte('/')
	b.WriteString(account)
	b.WriteString(p.path)
	b.WriteString(query)
	return b.String()
}

// verify tries every alternative canonical form and compares in constant time.
func (p *canonParts) verify(key, sig []byte) *Error {
	seen := map[string]bool{}
	var first string
	ok := false
	for _, cl := range p.contentLength {
		for _, d := range p.date {
			for _, h := range p.headers {
				for _, a := range p.accounts {
					for _, q := range p.queries {
						s := p.build(cl, d, h, a, q)
						if seen[s] {
							continue
						}
						if first == "" {
							first = s
						}
						seen[s] = true
						if hmac.Equal(mac(key, s), sig) {
							ok = true
						}
					}
				}
			}
		}
	}
	if ok {
		return nil
	}
	e := failed("The MAC signature found in the HTTP request is not the same as any computed signature. Server used following string to sign: '%s'.", first)
	e.mismatch = true
	return e
}

func mac(key []byte, s string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(s))
	return h.Sum(nil)
}

// parseQuery splits a raw query into decoded name/value pairs in the order sent. Unlike
// url.ParseQuery it keeps the order and does not treat ";" as an error.
func parseQuery(raw string) ([]kv, error) {
	var out []kv
	for seg := range strings.SplitSeq(raw, "&") {
		if seg == "" {
			continue
		}
		k, v, _ := strings.Cut(seg, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			return nil, fmt.Errorf("query name %q: %w", k, err)
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("query value of %q: %w", dk, err)
		}
		out = append(out, kv{dk, dv})
	}
	return out, nil
}

// queryDocumented renders "\nname:v1,v2" per lowercased name, sorted by name (.NET, Java, and the
// documented algorithm).
func queryDocumented(pairs []kv) string {
	vals := map[string][]string{}
	var names []string
	for _, p := range pairs {
		k := strings.ToLower(p.k)
		if _, ok := vals[k]; !ok {
			names = append(names, k)
		}
		vals[k] = append(vals[k], p.v)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		b.WriteString("\n" + k + ":" + strings.Join(vals[k], ","))
	}
	return b.String()
}

// queryAsSent renders "\nname:value" per pair, names as sent, sorted by name (JavaScript, Python).
func queryAsSent(pairs []kv) string {
	sorted := append([]kv(nil), pairs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].k < sorted[j].k })
	var b strings.Builder
	for _, p := range sorted {
		b.WriteString("\n" + p.k + ":" + p.v)
	}
	return b.String()
}

func dedupe(first string, rest ...string) []string {
	out := []string{first}
	for _, s := range rest {
		dup := false
		for _, o := range out {
			if o == s {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, s)
		}
	}
	return out
}
