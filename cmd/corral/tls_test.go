package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"corral/agent/protocol"
	"corral/pki"
	"corral/server"
)

// TestConnCA checks which CA file the CLI trusts: --ca, else CORRAL_CA_CERT, else for an
// https:// URL the default data directory's tls/ca.crt when it exists.
func TestConnCA(t *testing.T) {
	withCA, without := t.TempDir(), t.TempDir()
	if _, err := pki.EnsureCA(filepath.Join(withCA, "tls")); err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(withCA, "tls", "ca.crt")
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{name: "https, the data directory's CA", env: map[string]string{"CORRAL_URL": "https://h:1", "CORRAL_DATA": withCA}, want: local},
		{name: "http, no CA", env: map[string]string{"CORRAL_URL": "http://h:1", "CORRAL_DATA": withCA}},
		{name: "https, no CA in the data directory", env: map[string]string{"CORRAL_URL": "https://h:1", "CORRAL_DATA": without}},
		{name: "CORRAL_CA_CERT", env: map[string]string{"CORRAL_URL": "https://h:1", "CORRAL_DATA": withCA, "CORRAL_CA_CERT": "/env.pem"}, want: "/env.pem"},
		{name: "--ca beats CORRAL_CA_CERT", args: []string{"--ca", "/flag.pem"},
			env: map[string]string{"CORRAL_URL": "https://h:1", "CORRAL_CA_CERT": "/env.pem"}, want: "/flag.pem"},
		{name: "--ca with http", args: []string{"--ca", "/flag.pem", "--url", "http://h:1"}, env: map[string]string{"CORRAL_DATA": without}, want: "/flag.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := parsePoolList(newFlagSet("pool list"), tt.args, func(k string) string { return tt.env[k] })
			if err != nil {
				t.Fatal(err)
			}
			if o.Conn.CAFile != tt.want {
				t.Errorf("CA file %q, want %q", o.Conn.CAFile, tt.want)
			}
		})
	}
}

// TestCLIOverTLS runs a CLI verb against a server that serves TLS with a CA of its own: it works
// when the CLI trusts the CA (by the data directory, --ca or CORRAL_CA_CERT), and fails with a
// certificate error that says how to trust it otherwise.
func TestCLIOverTLS(t *testing.T) {
	data := t.TempDir()
	key := []byte("cli-tls-key-0123456789")
	srv, err := server.Start(server.Config{Listen: "127.0.0.1:0", DataDir: data, TLS: true,
		Account: server.Account{Name: "corral", Key: key}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if !strings.HasPrefix(srv.URL, "https://") || srv.CACertFile() != filepath.Join(data, "tls", "ca.crt") {
		t.Fatalf("URL %s, CA file %s", srv.URL, srv.CACertFile())
	}
	other, err := pki.EnsureCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"CORRAL_URL": srv.URL, "CORRAL_ACCOUNT_KEY": base64.StdEncoding.EncodeToString(key), "CORRAL_DATA": t.TempDir()}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range env {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		code     int
		stderrIn string
	}{
		{name: "the data directory's CA", env: with("CORRAL_DATA", data)},
		{name: "--ca", args: []string{"--ca", srv.CACertFile()}, env: env},
		{name: "CORRAL_CA_CERT", env: with("CORRAL_CA_CERT", srv.CACertFile())},
		{name: "untrusted", env: env, code: 1, stderrIn: "trust the server's CA with --ca FILE or CORRAL_CA_CERT"},
		{name: "another CA", env: with("CORRAL_CA_CERT", other.CertFile), code: 1, stderrIn: "certificate signed by unknown authority"},
		{name: "no CA file", args: []string{"--ca", filepath.Join(data, "none.pem")}, env: env, code: 1, stderrIn: "no such file"},
		{name: "empty CA file", args: []string{"--ca", empty}, env: env, code: 1, stderrIn: "the CA to trust, " + empty + ": an empty file"},
		{name: "not a CA file", args: []string{"--ca", filepath.Join(data, "corral.db")}, env: env, code: 1, stderrIn: "no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut strings.Builder
			code := dispatch(append([]string{"pool", "list"}, tt.args...), &streams{Out: &out, Err: &errOut, Getenv: func(k string) string { return tt.env[k] }})
			if code != tt.code || !strings.Contains(errOut.String(), tt.stderrIn) {
				t.Errorf("exit code %d, stderr %q; want %d and %q", code, errOut.String(), tt.code, tt.stderrIn)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(data, "tls", "ca.key")); err != nil {
		t.Error(err)
	}
}

// TestJoinOverTLS joins a node over https with nothing but the join token: the agent trusts the
// server only if it presents the CA whose fingerprint the token carries, and keeps the CA the
// server answers with for its later connections.
func TestJoinOverTLS(t *testing.T) {
	ca, err := pki.EnsureCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.EnsureServerCert([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != protocol.JoinPath {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		json.NewEncoder(w).Encode(protocol.JoinResponse{PoolID: "p1", NodeID: "n1", Credential: "cred", CACert: string(caPEM)})
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{*cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes refused below
	srv.StartTLS()
	t.Cleanup(srv.Close)
	other, err := pki.EnsureCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		token string
		err   string
	}{
		{name: "the server's CA", token: protocol.FormatJoinToken("t1", "s", ca.Fingerprint())},
		{name: "another CA", token: protocol.FormatJoinToken("t1", "s", other.Fingerprint()), err: "no certificate the server presented has fingerprint " + other.Fingerprint()},
		{name: "no fingerprint", token: protocol.FormatJoinToken("t1", "s", ""), err: "carries no CA fingerprint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			id, err := agentIdentity(context.Background(), root, srv.URL, tt.token, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("join: %v, want an error with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id.NodeID != "n1" || id.CACert != string(caPEM) {
				t.Fatalf("identity %+v", id)
			}
			hc, err := agentHTTPClient(id.CACert, "", "", []string{srv.URL})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := hc.Get(srv.URL + "/after")
			if err != nil {
				t.Fatalf("the joined agent's client: %v", err)
			}
			resp.Body.Close()
		})
	}
}

// TestAgentHTTPClient checks which CA and server name the agent's transport uses: --ca before the
// credential file's CA, --tls-server-name for the name; nothing given is the default transport.
func TestAgentHTTPClient(t *testing.T) {
	ca, err := pki.EnsureCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.EnsureCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	pemOf := func(c *pki.CA) string {
		b, err := os.ReadFile(c.CertFile)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	empty := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name                  string
		caPEM, caFile, server string
		nilClient             bool
		trusts                *pki.CA // the CA the client's roots hold; nil: the system's
		err                   string
	}{
		{name: "nothing", nilClient: true},
		{name: "credential file's CA", caPEM: pemOf(ca), trusts: ca},
		{name: "--ca wins", caPEM: pemOf(other), caFile: ca.CertFile, trusts: ca},
		{name: "--tls-server-name alone", server: "batch.example"},
		{name: "missing --ca", caFile: filepath.Join(t.TempDir(), "none.pem"), err: "no such file"},
		{name: "empty --ca", caFile: empty, err: "an empty file"},
		{name: "not PEM", caPEM: "junk", err: "no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := agentTransport(tt.caPEM, tt.caFile, tt.server)
			switch {
			case tt.err != "":
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("%v, want an error with %q", err, tt.err)
				}
				return
			case err != nil:
				t.Fatal(err)
			case tt.nilClient:
				if tr != nil {
					t.Fatal("want the default transport (nil)")
				}
				return
			}
			cfg := tr.TLSClientConfig
			if cfg.ServerName != tt.server {
				t.Errorf("server name %q, want %q", cfg.ServerName, tt.server)
			}
			if tt.trusts == nil {
				if cfg.RootCAs != nil {
					t.Error("roots set, want the system's")
				}
				return
			}
			if _, err := tt.trusts.Cert.Verify(x509.VerifyOptions{Roots: cfg.RootCAs}); err != nil {
				t.Errorf("the client does not trust the CA: %v", err)
			}
		})
	}
}
