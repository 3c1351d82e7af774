package server

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"corral/pki"
)

// tlsDir is the directory of the data directory where the server keeps its CA and its
// certificate (see package pki).
const tlsDir = "tls"

// ErrPlainHTTPNotLoopback is the error of a configuration that asks for plain HTTP on an address
// that is not a loopback address, without AllowInsecure.
var ErrPlainHTTPNotLoopback = errors.New("plain HTTP is served only on a loopback address")

// ServesTLS reports whether a server with this configuration serves TLS, or why the
// configuration is refused. The rule:
//   - on a loopback address (an IP address in 127.0.0.0/8, ::1, or the name localhost) the server
//     serves plain HTTP unless TLS is asked for: TLS, TLSCert or TLSNames;
//   - on any other address it serves TLS; PlainHTTP there is refused (ErrPlainHTTPNotLoopback)
//     unless AllowInsecure says so too. An address without a host (":8765"), an unspecified one
//     (0.0.0.0, ::) and every host name but localhost count as other addresses, since they may
//     be reached from the network.
//
// TLSCert and TLSKey go together; PlainHTTP cannot be asked for with TLS, TLSCert or TLSNames;
// TLSNames name the certificate the server makes, so not with TLSCert; AllowInsecure only
// qualifies PlainHTTP.
func (c Config) ServesTLS() (bool, error) {
	asked := c.TLS || c.TLSCert != "" || len(c.TLSNames) > 0
	switch {
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return false, errors.New("a TLS certificate (TLSCert) and its key (TLSKey) go together")
	case c.PlainHTTP && asked:
		return false, errors.New("plain HTTP (PlainHTTP) and TLS (TLS, TLSCert, TLSNames) both asked for")
	case c.TLSCert != "" && len(c.TLSNames) > 0:
		return false, errors.New("TLSNames are the names of the certificate the server makes, not of one it is given (TLSCert)")
	case c.AllowInsecure && !c.PlainHTTP:
		return false, errors.New("AllowInsecure allows plain HTTP (PlainHTTP), which is not asked for")
	case c.PlainHTTP && !loopbackListen(c.listen()) && !c.AllowInsecure:
		return false, fmt.Errorf("%w, and %s is not one: requests and the account's signatures would cross the network unencrypted (AllowInsecure allows it)", ErrPlainHTTPNotLoopback, c.listen())
	case c.PlainHTTP:
		return false, nil
	}
	return asked || !loopbackListen(c.listen()), nil
}

// listen is the listen address, with its default.
func (c Config) listen() string {
	if c.Listen == "" {
		return DefaultListen
	}
	return c.Listen
}

// loopbackListen reports whether a listen address is reachable from this machine only: its host
// is a loopback IP address or localhost.
func loopbackListen(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// transport is how a TLS server serves and how its local agents trust it.
type transport struct {
	config *tls.Config
	// caFile is the file a client trusts (empty if the operator's chain does not hold its CA),
	// caPEM the CA certificate alone, fingerprint its fingerprint (see Server.CAFingerprint).
	caFile, caPEM, fingerprint string
	// leaf is the served certificate, as the server started (to choose agents' server name).
	leaf *x509.Certificate
}

// newTransport loads the operator's certificate, or the CA and server certificate that the server
// keeps in its data directory (created or issued again as needed, see pki.EnsureServerCert).
func newTransport(cfg Config, log *slog.Logger) (*transport, error) {
	t := &transport{config: &tls.Config{MinVersion: tls.VersionTLS12}}
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("TLS certificate: %w", err)
		}
		chain := make([]*x509.Certificate, len(cert.Certificate))
		for i, der := range cert.Certificate {
			if chain[i], err = x509.ParseCertificate(der); err != nil {
				return nil, fmt.Errorf("TLS certificate %s: %w", cfg.TLSCert, err)
			}
		}
		last := chain[len(chain)-1]
		t.leaf, t.fingerprint = chain[0], pki.Fingerprint(last)
		// The chain holds its CA when it ends with a self-signed certificate: trusting the file
		// trusts that CA (and, harmlessly, the server's own certificates before it).
		if last.CheckSignatureFrom(last) == nil {
			if t.caFile, err = filepath.Abs(cfg.TLSCert); err != nil {
				return nil, fmt.Errorf("TLS certificate: %w", err)
			}
			t.caPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: last.Raw}))
		}
		t.config.Certificates = []tls.Certificate{cert}
		return t, nil
	}
	dir := filepath.Join(cfg.DataDir, tlsDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("TLS directory: %w", err)
	}
	if err := restrict(dir, 0o700, log); err != nil {
		return nil, err
	}
	ca, err := pki.EnsureCA(dir)
	if err != nil {
		return nil, err
	}
	certs, err := ca.ServerCerts(serverNames(cfg.listen(), cfg.TLSNames, log))
	if err != nil {
		return nil, err
	}
	t.caFile, t.fingerprint, t.leaf = ca.CertFile, ca.Fingerprint(), certs.Current().Leaf
	t.caPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}))
	t.config.GetCertificate = certs.GetCertificate
	return t, nil
}

// serverNames are the names of the certificate the server makes for itself: localhost and the
// loopback addresses, the machine's host name, the address of every interface but loopback and
// link-local ones, the listen address's host when it names one, and extra.
func serverNames(listen string, extra []string, log *slog.Logger) []string {
	names := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil && pki.ValidName(h) {
		names = append(names, h)
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		log.Warn("server: the TLS certificate names no interface address", "err", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			names = append(names, n.IP.String())
		}
	}
	if host, _, err := net.SplitHostPort(listen); err == nil && pki.ValidName(host) {
		if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
			names = append(names, host)
		}
	}
	return append(names, extra...)
}

// agentServerName is the name a local agent checks the server's certificate against when its
// URL's host (loopback, or the listen address) is not among the certificate's names, as with an
// operator's certificate for the server's public name; "" when the host is covered.
func agentServerName(leaf *x509.Certificate, host string) string {
	if leaf.VerifyHostname(host) == nil {
		return ""
	}
	for _, d := range leaf.DNSNames {
		if !strings.HasPrefix(d, "*.") {
			return d
		}
	}
	if len(leaf.DNSNames) > 0 { // wildcards only: a name one of them covers
		return "corral" + strings.TrimPrefix(leaf.DNSNames[0], "*")
	}
	if len(leaf.IPAddresses) > 0 {
		return leaf.IPAddresses[0].String()
	}
	return ""
}
