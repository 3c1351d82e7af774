package api

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
)

// SkipTokenParam is the query parameter that carries a list's continuation token. Azure's
// odata.nextLink "includes a $skiptoken parameter with a value that specifies the starting point
// in the collection of entities for the next GET operation" (Common Parameters and Headers).
const SkipTokenParam = "$skiptoken"

// Page is one page of a list response:
//
//	{"odata.metadata": "…/$metadata#jobs", "value": [...], "odata.nextLink": "…/jobs?api-version=…&$skiptoken=…"}
//
// NextLink is empty on the last page. Build it with NewPage, which makes an empty list "[]"
// rather than null.
type Page[T any] struct {
	Metadata string `json:"odata.metadata,omitempty"`
	Value    []T    `json:"value"`
	NextLink string `json:"odata.nextLink,omitempty"`
}

// NewPage returns a page of items of the entity set named entitySet ("jobs", "pools", "tasks"…)
// whose next page starts at token, or the last page when token is "".
func NewPage[T any](r *http.Request, entitySet string, items []T, token string) Page[T] {
	if items == nil {
		items = []T{}
	}
	p := Page[T]{Metadata: MetadataURL(r, entitySet), Value: items}
	if token != "" {
		p.NextLink = NextLink(r, BaseURL(r), token)
	}
	return p
}

// SkipToken returns the request's continuation token ($skiptoken), or "" for the first page.
func SkipToken(r *http.Request) string {
	s, _ := QueryValue(r, SkipTokenParam)
	return s
}

// NextLink returns the absolute URL of the next page: baseURL, the request's path, and its query
// as sent (api-version, $filter, $select, maxresults… in their original order and encoding) with
// $skiptoken set to token. Clients follow it as is, so a Shared Key client signs it like any other
// request.
func NextLink(r *http.Request, baseURL, token string) string {
	var kept []string
	for seg := range strings.SplitSeq(r.URL.RawQuery, "&") {
		if seg == "" {
			continue
		}
		k, _, _ := strings.Cut(seg, "=")
		if dk, err := url.QueryUnescape(k); err == nil && strings.EqualFold(dk, SkipTokenParam) {
			continue
		}
		kept = append(kept, seg)
	}
	kept = append(kept, SkipTokenParam+"="+url.QueryEscape(token))
	return strings.TrimSuffix(baseURL, "/") + r.URL.EscapedPath() + "?" + strings.Join(kept, "&")
}

// EncodeSkipToken turns a handler's position (e.g. the last ID returned) into an opaque
// continuation token that travels safely in a URL.
func EncodeSkipToken(position string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(position))
}

// DecodeSkipToken reverses EncodeSkipToken; a token that is not one is an
// InvalidQueryParameterValue error.
func DecodeSkipToken(token string) (string, *Error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", queryError(CodeInvalidQueryParameterValue, SkipTokenParam, token, "The continuation token is not valid.")
	}
	return string(b), nil
}
