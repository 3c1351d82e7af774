package agent

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
)

// Servers splits a comma-separated list of server base URLs (the replicas of one Corral
// service, as `corral agent --server` takes them), dropping empty items.
func Servers(list string) []string {
	var out []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Failover returns a RoundTripper that sends every request to one server of servers, whatever
// host its URL names: requests are built against the first server's URL and go to the current
// one. When the current server cannot be reached or does not answer before the request's
// deadline, or answers 502, 503 or 504 (a replica that cannot reach the leader either), the next
// request goes to the next server in the list; the failed request's error or answer is returned
// as it is, for the caller to retry as it would with one server. transport makes the RoundTripper of each server (nil means
// http.DefaultTransport); a server's TLS name is its URL's host.
func Failover(servers []string, transport func(server *url.URL) http.RoundTripper) (http.RoundTripper, error) {
	if len(servers) == 0 {
		return nil, fmt.Errorf("agent: no server URL")
	}
	f := &failover{}
	for _, s := range servers {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("agent: server URL %q is not an http or https URL", s)
		}
		var rt http.RoundTripper
		if transport != nil {
			rt = transport(u)
		}
		if rt == nil {
			rt = http.DefaultTransport
		}
		f.servers = append(f.servers, u)
		f.rts = append(f.rts, rt)
	}
	return f, nil
}

type failover struct {
	servers []*url.URL
	rts     []http.RoundTripper
	cur     atomic.Int32
}

func (f *failover) RoundTrip(req *http.Request) (*http.Response, error) {
	i := f.cur.Load()
	out := req.Clone(req.Context())
	out.URL.Scheme, out.URL.Host, out.Host = f.servers[i].Scheme, f.servers[i].Host, ""
	resp, err := f.rts[i].RoundTrip(out)
	switch {
	case err != nil && !errors.Is(req.Context().Err(), context.Canceled):
		// Unreachable, or silent until the request's deadline (a frozen server); a request
		// its caller gave up is no fault of the server's.
	case err == nil && (resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable ||
		resp.StatusCode == http.StatusGatewayTimeout):
	default:
		return resp, err
	}
	if len(f.servers) > 1 {
		f.cur.CompareAndSwap(i, (i+1)%int32(len(f.servers)))
	}
	return resp, err
}
