package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// EnsureServerCert returns the server certificate in the CA's directory (server.crt and
// server.key) for names, DNS names or IP addresses, issuing it (again) when there is none, when
// it does not cover every name, when the CA did not sign it, or when it expires within
// RenewBefore. The key is created once and kept: a certificate issued again is for the same key,
// so two processes issuing it at once leave a certificate that matches the key whichever wins.
// The returned certificate's chain is the server's certificate and then the CA's, so that a
// client that knows only the CA's fingerprint finds the CA in what the server presents.
func (ca *CA) EnsureServerCert(names []string) (*tls.Certificate, error) {
	return ca.ensureServerCert(names, time.Now())
}

func (ca *CA) ensureServerCert(names []string, now time.Time) (*tls.Certificate, error) {
	dns, ips, err := splitNames(names)
	if err != nil {
		return nil, err
	}
	keyPath, certPath := filepath.Join(ca.Dir, ServerKeyFile), filepath.Join(ca.Dir, ServerCertFile)
	key, err := ensureKey(keyPath)
	if err != nil {
		return nil, fmt.Errorf("pki: server key: %w", err)
	}
	var leaf *x509.Certificate
	certs, err := readCerts(certPath)
	switch {
	case err == nil:
		leaf = certs[0]
		if ca.serverCertStale(leaf, key, dns, ips, now) != "" {
			leaf = nil
		}
	case !errors.Is(err, fs.ErrNotExist):
		// A damaged file of ours: issue it again.
	}
	if leaf == nil {
		if leaf, err = ca.issueServerCert(key, dns, ips, now); err != nil {
			return nil, fmt.Errorf("pki: server certificate: %w", err)
		}
		if err := writeFile(certPath, encodeCerts(leaf, ca.Cert), certMode, true); err != nil {
			return nil, fmt.Errorf("pki: write the server certificate: %w", err)
		}
	}
	return &tls.Certificate{Certificate: [][]byte{leaf.Raw, ca.Cert.Raw}, PrivateKey: key, Leaf: leaf}, nil
}

// serverCertStale says why leaf must be issued again, or "" when it may be served.
func (ca *CA) serverCertStale(leaf *x509.Certificate, key crypto.Signer, dns []string, ips []net.IP, now time.Time) string {
	switch {
	case !samePublicKey(leaf, key):
		return "not for the server key"
	case leaf.CheckSignatureFrom(ca.Cert) != nil:
		return "not signed by the CA"
	case now.Before(leaf.NotBefore):
		return "not valid yet"
	case now.Add(RenewBefore).After(leaf.NotAfter):
		return "expires soon"
	}
	for _, name := range dns {
		if !slices.Contains(leaf.DNSNames, name) && leaf.VerifyHostname(name) != nil {
			return "does not cover " + name
		}
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
			return "does not cover " + ip.String()
		}
	}
	return ""
}

// issueServerCert signs a server certificate for key and the names, valid from now for
// ServerValidity but not beyond the CA.
func (ca *CA) issueServerCert(key crypto.Signer, dns []string, ips []net.IP, now time.Time) (*x509.Certificate, error) {
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	cn := "corral"
	if len(dns) > 0 {
		cn = dns[0]
	}
	notAfter := now.Add(ServerValidity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Corral"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// ValidName reports whether a certificate can cover name: an IP address (IPv6 with or without
// brackets), or a DNS name of letters, digits, hyphens and underscores whose first label may be
// a wildcard ("*.example.com"), in any case, with or without a final dot.
func ValidName(name string) bool {
	_, _, err := splitNames([]string{name})
	return err == nil
}

// splitNames sorts names into DNS names (lowercase, without a final dot) and IP addresses,
// dropping repeats; a name that is neither is an error.
func splitNames(names []string) (dns []string, ips []net.IP, err error) {
	for _, n := range names {
		if ip := net.ParseIP(strings.TrimSuffix(strings.TrimPrefix(n, "["), "]")); ip != nil {
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
			continue
		}
		d := strings.TrimSuffix(strings.ToLower(n), ".")
		if !validDNSName(d) {
			return nil, nil, fmt.Errorf("pki: %q is neither an IP address nor a DNS name", n)
		}
		if !slices.Contains(dns, d) {
			dns = append(dns, d)
		}
	}
	return dns, ips, nil
}

// validDNSName reports whether d is a lowercase DNS name of letters, digits and hyphens, whose
// first label may be a wildcard ("*.example.com").
func validDNSName(d string) bool {
	if d == "" || len(d) > 253 {
		return false
	}
	for i, label := range strings.Split(d, ".") {
		if i == 0 && label == "*" && strings.Contains(d, ".") {
			continue
		}
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// ServerCerts serves the CA's server certificate to TLS handshakes and keeps it current: a
// handshake that finds it within RenewBefore of its end has it issued again first (by
// EnsureServerCert). If that fails, the old certificate is served while it lasts, and the next
// attempt waits a minute.
type ServerCerts struct {
	ca    *CA
	names []string
	now   func() time.Time

	mu    sync.Mutex
	cert  *tls.Certificate
	tried time.Time // the last failed attempt to issue it again
}

// ServerCerts returns a ServerCerts for names, with the certificate ensured now (an error
// here is EnsureServerCert's).
func (ca *CA) ServerCerts(names []string) (*ServerCerts, error) {
	return ca.serverCerts(names, time.Now)
}

func (ca *CA) serverCerts(names []string, now func() time.Time) (*ServerCerts, error) {
	cert, err := ca.ensureServerCert(names, now())
	if err != nil {
		return nil, err
	}
	return &ServerCerts{ca: ca, names: slices.Clone(names), now: now, cert: cert}, nil
}

// GetCertificate is for tls.Config.GetCertificate.
func (s *ServerCerts) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.Current(), nil
}

// Current returns the certificate to serve, issued again first when it nears its end.
func (s *ServerCerts) Current() *tls.Certificate {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if now.Add(RenewBefore).After(s.cert.Leaf.NotAfter) && now.Sub(s.tried) >= time.Minute {
		if cert, err := s.ca.ensureServerCert(s.names, now); err == nil {
			s.cert = cert
		} else {
			s.tried = now
		}
	}
	return s.cert
}
