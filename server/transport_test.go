package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corral/api"
	"corral/internal/testlog"
	"corral/pki"
)

func TestServesTLS(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want bool
		err  string // a substring of the error
	}{
		{name: "default address", cfg: Config{}, want: false},
		{name: "127.0.0.1", cfg: Config{Listen: "127.0.0.1:0"}},
		{name: "127.0.0.0/8", cfg: Config{Listen: "127.1.2.3:80"}},
		{name: "::1", cfg: Config{Listen: "[::1]:80"}},
		{name: "localhost", cfg: Config{Listen: "LocalHost:80"}},
		{name: "every address", cfg: Config{Listen: ":8765"}, want: true},
		{name: "0.0.0.0", cfg: Config{Listen: "0.0.0.0:8765"}, want: true},
		{name: "::", cfg: Config{Listen: "[::]:8765"}, want: true},
		{name: "an interface", cfg: Config{Listen: "10.0.0.5:8765"}, want: true},
		{name: "a host name", cfg: Config{Listen: "corral.example:8765"}, want: true},
		{name: "not an address", cfg: Config{Listen: "8765"}, want: true},
		{name: "TLS on loopback", cfg: Config{Listen: "127.0.0.1:0", TLS: true}, want: true},
		{name: "operator's certificate on loopback", cfg: Config{TLSCert: "c", TLSKey: "k"}, want: true},
		{name: "names on loopback", cfg: Config{TLSNames: []string{"a.example"}}, want: true},
		{name: "plain on loopback", cfg: Config{PlainHTTP: true}},
		{name: "plain elsewhere", cfg: Config{Listen: ":8765", PlainHTTP: true}, err: ErrPlainHTTPNotLoopback.Error()},
		{name: "plain elsewhere, allowed", cfg: Config{Listen: "0.0.0.0:8765", PlainHTTP: true, AllowInsecure: true}},
		{name: "allowed but not asked", cfg: Config{Listen: ":8765", AllowInsecure: true}, err: "AllowInsecure allows plain HTTP"},
		{name: "certificate without key", cfg: Config{TLSCert: "c"}, err: "go together"},
		{name: "key without certificate", cfg: Config{TLSKey: "k"}, err: "go together"},
		{name: "plain and TLS", cfg: Config{PlainHTTP: true, TLS: true}, err: "both asked for"},
		{name: "names and certificate", cfg: Config{TLSCert: "c", TLSKey: "k", TLSNames: []string{"a"}}, err: "not of one it is given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.ServesTLS()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ServesTLS() = %v, %v; want an error with %q", got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ServesTLS() = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// startTLS starts a server on a free loopback port with cfg's transport fields.
func startTLS(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.Account = Account{Name: "corral", Key: []byte("tls-test-key-0123456789")}
	cfg.Logger = testlog.New(t)
	srv, err := Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// listPools sends a Shared-Key-signed Pool - List through a client with tlsCfg and returns the
// response's protocol.
func listPools(srv *Server, tlsCfg *tls.Config) (string, error) {
	req, err := api.NewRequest("GET", srv.URL, "/pools", nil, nil, srv.cfg.Account.Name, srv.cfg.Account.Key, time.Now())
	if err != nil {
		return "", err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", errors.New(resp.Status)
	}
	return resp.Proto, nil
}

// TestStartTLS starts a server with a CA of its own and checks who may talk to it: a client
// that trusts the CA file, or that knows its fingerprint, gets answers (over HTTP/2), and one
// that does not trust it fails on the certificate.
func TestStartTLS(t *testing.T) {
	data := t.TempDir()
	srv := startTLS(t, Config{DataDir: data, TLSNames: []string{"batch.example", "192.0.2.7"}})
	if !strings.HasPrefix(srv.URL, "https://127.0.0.1:") {
		t.Fatalf("URL %s", srv.URL)
	}
	dir := filepath.Join(data, tlsDir)
	if got := srv.CACertFile(); got != filepath.Join(dir, pki.CACertFile) {
		t.Errorf("CACertFile() = %s", got)
	}
	ca, err := pki.EnsureCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if srv.CAFingerprint() != ca.Fingerprint() {
		t.Errorf("CAFingerprint() = %s, the CA's is %s", srv.CAFingerprint(), ca.Fingerprint())
	}
	for path, want := range map[string]fs.FileMode{dir: 0o700, filepath.Join(dir, pki.CAKeyFile): 0o600, filepath.Join(dir, pki.ServerKeyFile): 0o600} {
		wantMode(t, path, want)
	}

	trusting, err := pki.ClientConfigFromFile(srv.CACertFile())
	if err != nil {
		t.Fatal(err)
	}
	pinned, err := pki.PinnedClientConfig(srv.CAFingerprint(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	otherCA, err := pki.EnsureCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	wrongPin, err := pki.PinnedClientConfig(otherCA.Fingerprint(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		config *tls.Config
		err    string
	}{
		{name: "trusts the CA file", config: trusting},
		{name: "pins the CA's fingerprint", config: pinned},
		{name: "system roots", config: &tls.Config{}, err: "certificate signed by unknown authority"},
		{name: "another fingerprint", config: wrongPin, err: "no certificate the server presented has fingerprint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proto, err := listPools(srv, tt.config)
			switch {
			case tt.err == "" && err != nil:
				t.Fatal(err)
			case tt.err == "" && proto != "HTTP/2.0":
				t.Errorf("protocol %s, want HTTP/2.0", proto)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("%v, want an error with %q", err, tt.err)
			}
		})
	}
	t.Run("plain HTTP to the TLS port", func(t *testing.T) {
		resp, err := http.Get(strings.Replace(srv.URL, "https://", "http://", 1) + "/pools")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", resp.StatusCode)
			}
		}
	})

	// The served certificate covers the machine's names and the extra ones.
	conn, err := tls.Dial("tcp", strings.TrimPrefix(srv.URL, "https://"), trusting)
	if err != nil {
		t.Fatal(err)
	}
	leaf := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	host, _ := os.Hostname()
	for _, name := range []string{"localhost", "127.0.0.1", "::1", "batch.example", "192.0.2.7", strings.ToLower(host)} {
		if err := leaf.VerifyHostname(name); err != nil {
			t.Errorf("served certificate: %v", err)
		}
	}

	// Started again on the same data directory, it keeps its CA.
	srv.Close()
	again := startTLS(t, Config{DataDir: data, TLS: true})
	if again.CAFingerprint() != srv.CAFingerprint() {
		t.Errorf("fingerprint after a restart %s, was %s", again.CAFingerprint(), srv.CAFingerprint())
	}
}

// TestStartOperatorCert starts servers with an operator's certificate and key: the certificate
// is served, and the CA file and fingerprint follow the operator's chain.
func TestStartOperatorCert(t *testing.T) {
	opDir := t.TempDir()
	ca, err := pki.EnsureCA(opDir)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.EnsureServerCert([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(opDir, pki.ServerKeyFile)
	chainFile := filepath.Join(opDir, pki.ServerCertFile) // the certificate, then its CA
	leafFile := filepath.Join(opDir, "leaf.crt")          // the certificate alone
	b, err := os.ReadFile(chainFile)
	if err != nil {
		t.Fatal(err)
	}
	end := strings.Index(string(b), "-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----\n")
	if err := os.WriteFile(leafFile, b[:end], 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name            string
		certFile        string
		wantCAFile      string
		wantFingerprint string
	}{
		{name: "chain with its CA", certFile: chainFile, wantCAFile: chainFile, wantFingerprint: ca.Fingerprint()},
		{name: "certificate alone", certFile: leafFile, wantFingerprint: pki.Fingerprint(cert.Leaf)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			srv := startTLS(t, Config{DataDir: data, TLSCert: tt.certFile, TLSKey: keyFile})
			if srv.CACertFile() != tt.wantCAFile || srv.CAFingerprint() != tt.wantFingerprint {
				t.Errorf("CACertFile() %q, CAFingerprint() %s; want %q, %s", srv.CACertFile(), srv.CAFingerprint(), tt.wantCAFile, tt.wantFingerprint)
			}
			if _, err := os.Stat(filepath.Join(data, tlsDir)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the server made a CA of its own: %v", err)
			}
			trusting, err := pki.ClientConfigFromFile(ca.CertFile)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := listPools(srv, trusting); err != nil {
				t.Fatal(err)
			}
			pinned, err := pki.PinnedClientConfig(srv.CAFingerprint(), "127.0.0.1")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := listPools(srv, pinned); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("a key that is not the certificate's", func(t *testing.T) {
		other, err := pki.EnsureCA(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		_, err = Start(Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Account: Account{Key: []byte("k")}, Logger: testlog.New(t),
			TLSCert: chainFile, TLSKey: filepath.Join(other.Dir, pki.CAKeyFile)})
		if err == nil || !strings.Contains(err.Error(), "TLS certificate") {
			t.Fatalf("Start: %v, want a TLS certificate error", err)
		}
	})
}

func TestStartRefusesPlainHTTPOffLoopback(t *testing.T) {
	_, err := Start(Config{Listen: "0.0.0.0:0", PlainHTTP: true, DataDir: t.TempDir(), Account: Account{Key: []byte("k")}, Logger: testlog.New(t)})
	if !errors.Is(err, ErrPlainHTTPNotLoopback) {
		t.Fatalf("Start: %v, want ErrPlainHTTPNotLoopback", err)
	}
}

func TestAgentServerName(t *testing.T) {
	tests := []struct {
		name string
		leaf *x509.Certificate
		host string
		want string
	}{
		{name: "covered", leaf: &x509.Certificate{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}, host: "127.0.0.1"},
		{name: "a public name", leaf: &x509.Certificate{DNSNames: []string{"*.example.com", "batch.example.com"}}, host: "127.0.0.1", want: "batch.example.com"},
		{name: "a wildcard", leaf: &x509.Certificate{DNSNames: []string{"*.example.com"}}, host: "127.0.0.1", want: "corral.example.com"},
		{name: "an address", leaf: &x509.Certificate{IPAddresses: []net.IP{net.IPv4(192, 0, 2, 1)}}, host: "127.0.0.1", want: "192.0.2.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := agentServerName(tt.leaf, tt.host); got != tt.want {
				t.Errorf("agentServerName = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct {
		addr string
		tls  bool
		want string
	}{
		{addr: "127.0.0.1:80", want: "http://127.0.0.1:80"},
		{addr: "0.0.0.0:80", tls: true, want: "https://127.0.0.1:80"},
		{addr: "[::]:80", tls: true, want: "https://127.0.0.1:80"},
		{addr: "[::1]:80", want: "http://[::1]:80"},
		{addr: "10.0.0.5:443", tls: true, want: "https://10.0.0.5:443"},
	}
	for _, tt := range tests {
		addr, err := net.ResolveTCPAddr("tcp", tt.addr)
		if err != nil {
			t.Fatal(err)
		}
		if got := baseURL(addr, tt.tls); got != tt.want {
			t.Errorf("baseURL(%s, %v) = %s, want %s", tt.addr, tt.tls, got, tt.want)
		}
	}
}
