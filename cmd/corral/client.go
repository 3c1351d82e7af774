package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"corral/agent"
	"corral/api"
)

// defaultURL is where the CLI looks for a server unless told otherwise: `corral server`'s
// default listen address.
const defaultURL = "http://127.0.0.1:8765"

// connOptions say how to reach a Corral server: its URL, and the account name and key that sign
// requests (Azure Batch's Shared Key).
type connOptions struct {
	// URL is the server's base URL: --url, else $CORRAL_URL, else defaultURL.
	URL string
	// URLGiven says the URL came from --url or $CORRAL_URL rather than the default.
	URLGiven bool
	// Servers are the URLs of the service's replicas when --url or $CORRAL_URL lists several,
	// comma-separated (URL is then the first); requests fail over between them.
	Servers []string
	// Account is $CORRAL_ACCOUNT_NAME, else "corral".
	Account string
	// Key is $CORRAL_ACCOUNT_KEY (base64), else the key in the default data directory's
	// account.key (where `corral server` keeps the key it generated).
	Key []byte
	// KeyErr says why there is no Key; it is reported only when a request needs the key.
	KeyErr error
	// CAFile is the PEM file of the CA that an https:// server's certificate chains to: --ca,
	// else $CORRAL_CA_CERT, else for an https:// URL the default data directory's tls/ca.crt
	// when it exists (the CA `corral server` made on this machine); "" means the system's roots.
	CAFile string
}

// register adds --url and --ca to fs; resolve fills in the rest after parsing.
func (c *connOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&c.URL, "url", "", "the server's URL, or its replicas' URLs comma-separated (default $CORRAL_URL, else "+defaultURL+")")
	fs.StringVar(&c.CAFile, "ca", "", "PEM file of the CA to trust for an https:// server (default $CORRAL_CA_CERT, else the data directory's tls/ca.crt if any, else the system's roots)")
}

// resolve completes c after fs was parsed: the URL's default, the account name and key.
func (c *connOptions) resolve(getenv func(string) string) error {
	switch {
	case c.URL != "":
		c.URLGiven = true
	case getenv("CORRAL_URL") != "":
		c.URL, c.URLGiven = getenv("CORRAL_URL"), true
	default:
		c.URL = defaultURL
	}
	c.Servers = nil
	for _, s := range agent.Servers(c.URL) {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usagef("--url %q: want an http:// or https:// URL such as %s, or several, comma-separated", s, defaultURL)
		}
		c.Servers = append(c.Servers, strings.TrimSuffix(s, "/"))
	}
	if len(c.Servers) == 0 {
		return usagef("--url %q: want an http:// or https:// URL such as %s", c.URL, defaultURL)
	}
	c.URL = c.Servers[0]
	if len(c.Servers) == 1 {
		c.Servers = nil
	}
	u, _ := url.Parse(c.URL)
	if c.CAFile == "" {
		c.CAFile = getenv("CORRAL_CA_CERT")
	}
	if c.CAFile == "" && u.Scheme == "https" {
		if path := filepath.Join(defaultDataDirFrom(getenv), "tls", "ca.crt"); fileExists(path) {
			c.CAFile = path
		}
	}
	c.Account = getenv("CORRAL_ACCOUNT_NAME")
	if c.Account == "" {
		c.Account = "corral"
	}
	if k := strings.TrimSpace(getenv("CORRAL_ACCOUNT_KEY")); k != "" {
		key, err := base64.StdEncoding.DecodeString(k)
		if err != nil || len(key) == 0 {
			return errors.New("CORRAL_ACCOUNT_KEY is not a base64-encoded key")
		}
		c.Key = key
		return nil
	}
	path := filepath.Join(defaultDataDirFrom(getenv), "account.key")
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(key) == 0 {
			c.KeyErr = fmt.Errorf("%s does not hold a base64-encoded key", path)
		} else {
			c.Key = key
		}
	case errors.Is(err, os.ErrNotExist):
		c.KeyErr = fmt.Errorf("no account key: set CORRAL_ACCOUNT_KEY to the server's key (base64), "+
			"or run `corral server` on this machine, which keeps its key in %s", path)
	default:
		c.KeyErr = fmt.Errorf("read the account key: %w", err)
	}
	return nil
}

// client calls a Corral (or Azure Batch) server's REST API with Shared-Key-signed requests.
type client struct {
	base    string
	servers int // how many replicas the transport fails over between
	account string
	key     []byte
	http    *http.Client
}

// fileExists reports whether path names a file (or anything but a missing one).
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// newClient returns a client for c, or c.KeyErr when there is no key.
func newClient(c connOptions) (*client, error) {
	if c.Key == nil {
		if c.KeyErr != nil {
			return nil, c.KeyErr
		}
		return nil, errors.New("no account key")
	}
	hc := &http.Client{Timeout: 60 * time.Second}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("the CA to trust: %w", err)
		}
		tr, err := tlsTransport(pem, "")
		if err == nil && tr == nil {
			err = errors.New("an empty file")
		}
		if err != nil {
			return nil, fmt.Errorf("the CA to trust, %s: %w", c.CAFile, err)
		}
		hc.Transport = tr
	}
	servers := c.Servers
	if len(servers) == 0 {
		servers = []string{c.URL}
	}
	base := hc.Transport
	rt, err := agent.Failover(servers, func(*url.URL) http.RoundTripper { return base })
	if err != nil {
		return nil, err
	}
	hc.Transport = rt
	return &client{base: c.URL, servers: len(servers), account: c.Account, key: c.Key, http: hc}, nil
}

// apiError is an error answer of the server, in Azure's error shape.
type apiError struct {
	Method, Path string
	Status       int
	Code         string
	Message      string
}

func (e *apiError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, e.Code, msg)
}

// code returns err's Azure error code if it is an apiError, else "".
func errCode(err error) string {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// errStatus returns err's HTTP status if it is an apiError, else 0.
func errStatus(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// unreachable reports whether err says that nothing answers at the server's address.
func unreachable(err error) bool {
	var ne *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &ne) && ne.Op == "dial")
}

// untrusted reports whether err says that the server's TLS certificate was not verified.
func untrusted(err error) bool {
	var ve *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	return errors.As(err, &ve) || errors.As(err, &ua) || errors.As(err, &hn)
}

// send sends a signed request and returns the response when its status is 2xx; any other status
// is returned as an *apiError (the body read and closed).
func (c *client) send(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
	var resp *http.Response
	var err error
	// With several replicas, a request that finds one unreachable or busy goes to the next.
	for try := 0; try < max(c.servers, 1); try++ {
		var req *http.Request
		req, err = api.NewRequest(method, c.base, path, query, body, c.account, c.key, time.Now())
		if err != nil {
			return nil, err
		}
		resp, err = c.http.Do(req.WithContext(ctx))
		if try+1 == c.servers || ctx.Err() != nil || (err == nil && resp.StatusCode != http.StatusServiceUnavailable) {
			break
		}
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if unreachable(err) {
			return nil, fmt.Errorf("cannot reach Corral at %s (is `corral server` running? `corral run` starts one for a job)", c.base)
		}
		if untrusted(err) {
			return nil, fmt.Errorf("%s %s: %w (trust the server's CA with --ca FILE or CORRAL_CA_CERT: a server's own CA is tls/ca.crt in its data directory)", method, path, err)
		}
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	ae := &apiError{Method: method, Path: path, Status: resp.StatusCode}
	var eb struct {
		Code    string `json:"code"`
		Message struct {
			Value string `json:"value"`
		} `json:"message"`
	}
	if json.Unmarshal(b, &eb) == nil {
		ae.Code = eb.Code
		// Azure appends "\nRequestId:…\nTime:…" to the message: keep the sentence.
		ae.Message, _, _ = strings.Cut(eb.Message.Value, "\n")
	}
	if ae.Code == "AuthenticationFailed" || resp.StatusCode == http.StatusForbidden {
		return nil, fmt.Errorf("%w (the server rejected account %q's key: set CORRAL_ACCOUNT_NAME and CORRAL_ACCOUNT_KEY to the server's)", ae, c.account)
	}
	return nil, ae
}

// do sends a request and decodes a JSON answer into out (when out is not nil).
func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.send(ctx, method, path, nil, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
	}
	return nil
}

// get is do for GET.
func (c *client) get(ctx context.Context, path string, out any) error {
	return c.do(ctx, http.MethodGet, path, nil, out)
}

// list reads every page of a list operation (Azure's {"value": [...], "odata.nextLink": ...}).
func list[T any](ctx context.Context, c *client, path string) ([]T, error) {
	var all []T
	query := url.Values{}
	for {
		resp, err := c.send(ctx, http.MethodGet, path, query, nil)
		if err != nil {
			return nil, err
		}
		var page struct {
			Value    []T    `json:"value"`
			NextLink string `json:"odata.nextLink"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("GET %s: decode the answer: %w", path, err)
		}
		all = append(all, page.Value...)
		if page.NextLink == "" {
			return all, nil
		}
		next, err := url.Parse(page.NextLink)
		if err != nil {
			return nil, fmt.Errorf("GET %s: bad odata.nextLink %q: %w", path, page.NextLink, err)
		}
		query = next.Query()
	}
}
