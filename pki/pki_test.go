package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"io/fs"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// day is a day, for the test's clocks.
const day = 24 * time.Hour

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

func mustCA(t *testing.T, dir string, now time.Time) *CA {
	t.Helper()
	ca, err := ensureCA(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestEnsureCA(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string) // before the EnsureCA under test
		now     time.Time
		same    bool   // the CA keeps the fingerprint of the one prepare made
		err     string // a substring of the error
	}{
		{name: "new", now: t0},
		{name: "loaded again", prepare: func(t *testing.T, dir string) { mustCA(t, dir, t0) }, now: t0.Add(day), same: true},
		{name: "key without certificate keeps the fingerprint", now: t0, same: true, prepare: func(t *testing.T, dir string) {
			mustCA(t, dir, t0)
			if err := os.Remove(filepath.Join(dir, CACertFile)); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "certificate of another key", now: t0, err: "is not the certificate of the key", prepare: func(t *testing.T, dir string) {
			mustCA(t, dir, t0)
			other := mustCA(t, t.TempDir(), t0)
			b, _ := os.ReadFile(other.CertFile)
			if err := os.WriteFile(filepath.Join(dir, CACertFile), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "expired", prepare: func(t *testing.T, dir string) { mustCA(t, dir, t0) }, now: t0.Add(CAValidity + day), err: "expired on"},
		{name: "damaged key", now: t0, err: "CA key", prepare: func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, CAKeyFile), []byte("not a key"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "tls")
			var before string
			if tt.prepare != nil {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
				tt.prepare(t, dir)
				if k, err := readKey(filepath.Join(dir, CAKeyFile)); err == nil {
					before = fingerprintOfKey(t, k)
				}
			}
			ca, err := ensureCA(dir, tt.now)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("EnsureCA: %v, want an error with %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.same && ca.Fingerprint() != before {
				t.Errorf("fingerprint %s, want the earlier %s", ca.Fingerprint(), before)
			}
			if !ca.Cert.IsCA || !ca.Cert.NotAfter.Equal(t0.Add(CAValidity)) { // every CA here was made at t0
				t.Errorf("CA certificate: IsCA %v, valid until %v", ca.Cert.IsCA, ca.Cert.NotAfter)
			}
			for path, want := range map[string]fs.FileMode{dir: 0o700, filepath.Join(dir, CAKeyFile): 0o600, ca.CertFile: 0o644} {
				if got := mode(t, path); got != want {
					t.Errorf("mode of %s = %04o, want %04o", path, got, want)
				}
			}
			if got := Fingerprint(ca.Cert); !strings.HasPrefix(got, "sha256:") || len(got) != len("sha256:")+64 || got != strings.ToLower(got) {
				t.Errorf("fingerprint %q", got)
			}
		})
	}
}

// fingerprintOfKey is the fingerprint a certificate of k would have.
func fingerprintOfKey(t *testing.T, k crypto.Signer) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	return Fingerprint(&x509.Certificate{RawSubjectPublicKeyInfo: der})
}

// TestEnsureCAConcurrent sets up one directory from several goroutines at once: they all end
// with the same CA, whose key and certificate match.
func TestEnsureCAConcurrent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	const n = 8
	fps := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ca, err := EnsureCA(dir)
			if err != nil {
				t.Error(err)
				return
			}
			fps[i] = ca.Fingerprint()
		})
	}
	wg.Wait()
	for i := range fps {
		if fps[i] != fps[0] {
			t.Fatalf("fingerprints differ: %v", fps)
		}
	}
	if _, err := EnsureCA(dir); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestEnsureServerCert(t *testing.T) {
	names := []string{"localhost", "127.0.0.1", "::1", "corral.example"}
	type step struct {
		names   []string
		at      time.Time
		reissue bool // a new certificate, not the one of the step before
	}
	tests := []struct {
		name  string
		steps []step
		newCA bool // a new CA in the directory before the last step
	}{
		{name: "kept while it covers the names", steps: []step{
			{names: names, at: t0, reissue: true},
			{names: names, at: t0.Add(100 * day)},
			{names: []string{"LOCALHOST.", "[::1]"}, at: t0.Add(200 * day)}},
		},
		{name: "a name it lacks", steps: []step{
			{names: names, at: t0, reissue: true},
			{names: append(names, "10.1.2.3"), at: t0.Add(day), reissue: true},
			{names: append(names, "other.example"), at: t0.Add(2 * day), reissue: true}},
		},
		{name: "renewed within 30 days of its end", steps: []step{
			{names: names, at: t0, reissue: true},
			{names: names, at: t0.Add(ServerValidity - RenewBefore - day)},
			{names: names, at: t0.Add(ServerValidity - RenewBefore + day), reissue: true}},
		},
		{name: "expired", steps: []step{
			{names: names, at: t0, reissue: true},
			{names: names, at: t0.Add(2 * ServerValidity), reissue: true}},
		},
		{name: "wildcard", steps: []step{
			{names: []string{"*.example.com"}, at: t0, reissue: true},
			{names: []string{"*.example.com", "a.example.com"}, at: t0}},
		},
		{name: "another CA", newCA: true, steps: []step{
			{names: names, at: t0, reissue: true},
			{names: names, at: t0, reissue: true}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			ca := mustCA(t, dir, t0)
			var last *tls.Certificate
			for i, st := range tt.steps {
				if tt.newCA && i == len(tt.steps)-1 {
					for _, f := range []string{CACertFile, CAKeyFile} {
						os.Remove(filepath.Join(dir, f))
					}
					ca = mustCA(t, dir, t0)
				}
				cert, err := ca.ensureServerCert(st.names, st.at)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				reissued := last == nil || cert.Leaf.SerialNumber.Cmp(last.Leaf.SerialNumber) != 0
				if reissued != st.reissue {
					t.Errorf("step %d: issued again %v, want %v", i, reissued, st.reissue)
				}
				if last != nil && fingerprintOfKey(t, cert.PrivateKey.(crypto.Signer)) != Fingerprint(last.Leaf) {
					t.Errorf("step %d: the server key changed", i)
				}
				if why := ca.serverCertStale(cert.Leaf, cert.PrivateKey.(crypto.Signer), nil, nil, st.at); why != "" && st.at.Before(cert.Leaf.NotAfter.Add(-RenewBefore)) {
					t.Errorf("step %d: served certificate stale: %s", i, why)
				}
				checkCovers(t, cert.Leaf, st.names)
				if _, err := cert.Leaf.Verify(x509.VerifyOptions{Roots: pool(ca.Cert), CurrentTime: st.at,
					KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
					t.Errorf("step %d: %v", i, err)
				}
				if len(cert.Certificate) != 2 || string(cert.Certificate[1]) != string(ca.Cert.Raw) {
					t.Errorf("step %d: the chain is not the certificate and the CA's", i)
				}
				onDisk, err := readCerts(filepath.Join(dir, ServerCertFile))
				if err != nil || len(onDisk) != 2 || !onDisk[0].Equal(cert.Leaf) || !onDisk[1].Equal(ca.Cert) {
					t.Errorf("step %d: server.crt does not hold the certificate and the CA's (%v)", i, err)
				}
				last = cert
			}
			for f, want := range map[string]fs.FileMode{ServerKeyFile: 0o600, ServerCertFile: 0o644} {
				if got := mode(t, filepath.Join(dir, f)); got != want {
					t.Errorf("mode of %s = %04o, want %04o", f, got, want)
				}
			}
		})
	}
}

func checkCovers(t *testing.T, leaf *x509.Certificate, names []string) {
	t.Helper()
	for _, n := range names {
		n = strings.TrimSuffix(strings.Trim(n, "[]"), ".")
		if strings.HasPrefix(n, "*.") {
			n = "x" + n[1:]
		}
		if err := leaf.VerifyHostname(n); err != nil {
			t.Errorf("certificate does not cover %s: %v", n, err)
		}
	}
}

func pool(certs ...*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c)
	}
	return p
}

func TestNames(t *testing.T) {
	ca := mustCA(t, t.TempDir(), t0)
	tests := []struct {
		name  string
		valid bool
	}{
		{"localhost", true}, {"Batch.Example.", true}, {"*.example.com", true}, {"node_1.lan", true},
		{"10.0.0.1", true}, {"::1", true}, {"[2001:db8::1]", true},
		{"", false}, {"a b", false}, {"-x.example", false}, {"fe80::1%eth0", false}, {"*", false},
		{"a.*.example", false}, {"a..example", false}, {strings.Repeat("a", 64) + ".example", false},
	}
	for _, tt := range tests {
		if got := ValidName(tt.name); got != tt.valid {
			t.Errorf("ValidName(%q) = %v, want %v", tt.name, got, tt.valid)
		}
		if tt.valid {
			continue
		}
		if _, err := ca.ensureServerCert([]string{tt.name}, t0); err == nil || !strings.Contains(err.Error(), "neither an IP address nor a DNS name") {
			t.Errorf("name %q: %v, want an error", tt.name, err)
		}
	}
}

func TestServerCertsRenew(t *testing.T) {
	ca := mustCA(t, t.TempDir(), t0)
	now := t0
	s, err := ca.serverCerts([]string{"localhost"}, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	first := s.Current()
	now = t0.Add(ServerValidity - RenewBefore - day)
	if got, _ := s.GetCertificate(nil); got != first {
		t.Error("issued again too early")
	}
	now = t0.Add(ServerValidity - RenewBefore + day)
	if got, _ := s.GetCertificate(nil); got == first || !got.Leaf.NotAfter.After(first.Leaf.NotAfter) {
		t.Error("not issued again near its end")
	}
}

// selfSigned returns a self-signed server certificate (not a CA) for 127.0.0.1, valid at now.
func selfSigned(t *testing.T, now time.Time) tls.Certificate {
	t.Helper()
	key, err := newKey()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "self"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// serveTLS starts an HTTPS test server presenting cert and returns its URL.
func serveTLS(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshakes the tests refuse
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

// get fetches url with cfg and returns the error, if any.
func get(url string, cfg *tls.Config) error {
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

func TestClientConfigs(t *testing.T) {
	now := time.Now()
	ca := mustCA(t, t.TempDir(), now)
	served, err := ca.ensureServerCert([]string{"localhost", "127.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	good := serveTLS(t, *served)
	// An impostor: a certificate of another CA, presented with the real CA's certificate.
	other := mustCA(t, t.TempDir(), now)
	fake, err := other.ensureServerCert([]string{"127.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	fake.Certificate = [][]byte{fake.Certificate[0], ca.Cert.Raw}
	impostor := serveTLS(t, *fake)
	// A certificate of the real CA that has expired.
	oldCA := mustCA(t, t.TempDir(), now.Add(-3*ServerValidity))
	expired, err := oldCA.ensureServerCert([]string{"127.0.0.1"}, now.Add(-3*ServerValidity))
	if err != nil {
		t.Fatal(err)
	}
	stale := serveTLS(t, *expired)
	self := selfSigned(t, now)
	selfURL := serveTLS(t, self)

	pinned := func(fp, name string) func() (*tls.Config, error) {
		return func() (*tls.Config, error) { return PinnedClientConfig(fp, name) }
	}
	fromFile := func(path string) func() (*tls.Config, error) {
		return func() (*tls.Config, error) { return ClientConfigFromFile(path) }
	}
	tests := []struct {
		name   string
		config func() (*tls.Config, error)
		url    string
		err    string // a substring of the error of the config or the request; "" is success
	}{
		{name: "pinned CA", config: pinned(ca.Fingerprint(), "127.0.0.1"), url: good},
		{name: "pinned CA, uppercase", config: pinned(strings.ToUpper(ca.Fingerprint()), "127.0.0.1"), url: good},
		{name: "pinned leaf of the CA", config: pinned(Fingerprint(served.Leaf), "127.0.0.1"), url: good},
		{name: "pinned self-signed leaf", config: pinned(Fingerprint(self.Leaf), "127.0.0.1"), url: selfURL},
		{name: "wrong fingerprint", config: pinned(other.Fingerprint(), "127.0.0.1"), url: good, err: "no certificate the server presented has fingerprint"},
		{name: "a name the certificate lacks", config: pinned(ca.Fingerprint(), "corral.example"), url: good, err: "not corral.example"},
		{name: "impostor with the CA in its chain", config: pinned(ca.Fingerprint(), "127.0.0.1"), url: impostor, err: "unknown authority"},
		{name: "expired", config: pinned(oldCA.Fingerprint(), "127.0.0.1"), url: stale, err: "expired"},
		{name: "not a fingerprint", config: pinned("sha256:abc", "127.0.0.1"), err: "want sha256: and 64 hex digits"},
		{name: "md5", config: pinned("md5:"+strings.Repeat("0", 64), "127.0.0.1"), err: "want sha256:"},
		{name: "no server name", config: pinned(ca.Fingerprint(), ""), err: "needs the server's name"},
		{name: "CA file", config: fromFile(ca.CertFile), url: good},
		{name: "CA PEM", config: func() (*tls.Config, error) { return ClientConfigFromPEM(encodeCerts(ca.Cert)) }, url: good},
		{name: "not a PEM", config: func() (*tls.Config, error) { return ClientConfigFromPEM([]byte("x")) }, err: "no PEM certificate"},
		{name: "another CA's file", config: fromFile(other.CertFile), url: good, err: "unknown authority"},
		{name: "CA file, expired certificate", config: fromFile(oldCA.CertFile), url: stale, err: "expired"},
		{name: "no CA file", config: fromFile(filepath.Join(t.TempDir(), "none.crt")), err: "no such file"},
		{name: "not PEM", config: fromFile(filepath.Join(ca.Dir, CAKeyFile)), err: "no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := tt.config()
			if err == nil && tt.url != "" {
				err = get(tt.url, cfg)
			}
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("%v, want success", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("%v, want an error with %q", err, tt.err)
			}
		})
	}
}

// TestPinnedResumption checks that a resumed TLS session is verified too.
func TestPinnedResumption(t *testing.T) {
	now := time.Now()
	ca := mustCA(t, t.TempDir(), now)
	served, err := ca.ensureServerCert([]string{"127.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	url := serveTLS(t, *served)
	cfg, err := PinnedClientConfig(ca.Fingerprint(), "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	verify := cfg.VerifyConnection
	cfg.VerifyConnection = func(cs tls.ConnectionState) error { calls++; return verify(cs) }
	cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	for range 2 {
		if err := get(url, cfg); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 2 {
		t.Errorf("VerifyConnection called %d times for 2 connections", calls)
	}
	if err := get(url, &tls.Config{MinVersion: tls.VersionTLS12}); err == nil || !errors.As(err, new(*tls.CertificateVerificationError)) {
		t.Errorf("a client with the system's roots: %v, want a certificate error", err)
	}
}
