package pki

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// ClientConfigFromFile returns a client TLS configuration that trusts the certificates of a PEM
// file, and only them (as curl --cacert does): a server's certificate must chain to one of them
// and cover the name the client dials, as crypto/tls checks by default.
func ClientConfigFromFile(caFile string) (*tls.Config, error) {
	b, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("pki: CA file: %w", err)
	}
	return clientConfig(b, caFile)
}

// ClientConfigFromPEM is ClientConfigFromFile for the file's contents.
func ClientConfigFromPEM(caPEM []byte) (*tls.Config, error) {
	return clientConfig(caPEM, "the CA certificate")
}

// clientConfig returns a configuration that trusts the certificates of caPEM; name says where
// they came from, for errors.
func clientConfig(caPEM []byte, name string) (*tls.Config, error) {
	certs, err := parseCerts(caPEM, name)
	if err != nil {
		return nil, fmt.Errorf("pki: %w", err)
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

// PinnedClientConfig returns a client TLS configuration for first contact with a server that
// the client knows only by the fingerprint of a certificate in its chain (see Fingerprint),
// typically its CA's, from a join token. serverName is the host the client dials, a DNS name or
// an IP address (a URL's Hostname()); it is also sent as the TLS server name.
//
// The server is accepted if and only if some certificate of the chain it presents has the
// fingerprint, and its leaf certificate verifies as x509 does for any server, with that
// certificate as the only root: signatures along the chain, validity periods, key usage for
// server authentication, and serverName against the leaf's names. The pinned certificate may be
// the leaf itself (a server that pins its own certificate).
//
// How: crypto/tls cannot verify a chain whose root it does not know before the handshake, so the
// configuration sets InsecureSkipVerify, which turns off only crypto/tls's own verification, and
// does all of the above in VerifyConnection, which crypto/tls calls on every handshake, resumed
// sessions included, and whose error fails the handshake. The name is checked against
// serverName as given here, not the TLS server name of the connection, which is empty for an IP
// address: a client must use the configuration for serverName only.
func PinnedClientConfig(fingerprint, serverName string) (*tls.Config, error) {
	want, err := normalizeFingerprint(fingerprint)
	if err != nil {
		return nil, err
	}
	if serverName == "" {
		return nil, errors.New("pki: pinned TLS needs the server's name or address to check its certificate against")
	}
	serverName = strings.TrimSuffix(strings.TrimPrefix(serverName, "["), "]")
	return &tls.Config{
		ServerName:         serverName,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // VerifyConnection verifies in full; see above
		VerifyConnection: func(cs tls.ConnectionState) error {
			return verifyPinned(cs.PeerCertificates, want, serverName, time.Now())
		},
	}, nil
}

// normalizeFingerprint checks that fp is "sha256:" and 64 hex digits, and returns it lowercase.
func normalizeFingerprint(fp string) (string, error) {
	s := strings.ToLower(strings.TrimSpace(fp))
	hexPart, ok := strings.CutPrefix(s, fingerprintPrefix)
	if b, err := hex.DecodeString(hexPart); !ok || err != nil || len(b) != 32 {
		return "", fmt.Errorf("pki: fingerprint %q: want sha256: and 64 hex digits", fp)
	}
	return s, nil
}

// ErrNotTrusted is wrapped by the errors of a pinned client's handshake when the server's
// certificate does not match the fingerprint: a server that is not the one the fingerprint names,
// which trying again will not change.
var ErrNotTrusted = errors.New("pki: the server is not the one the fingerprint names")

// verifyPinned verifies a server's chain against the fingerprint want (normalized), as
// PinnedClientConfig describes.
func verifyPinned(chain []*x509.Certificate, want, serverName string, now time.Time) error {
	if len(chain) == 0 {
		return fmt.Errorf("%w: it presented no certificate", ErrNotTrusted)
	}
	var anchor *x509.Certificate
	for _, c := range chain {
		if Fingerprint(c) == want {
			anchor = c
			break
		}
	}
	if anchor == nil {
		got := make([]string, len(chain))
		for i, c := range chain {
			got[i] = Fingerprint(c)
		}
		return fmt.Errorf("%w: no certificate the server presented has fingerprint %s (it presented %s)", ErrNotTrusted, want, strings.Join(got, ", "))
	}
	roots, intermediates := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(anchor)
	for _, c := range chain[1:] {
		if c != anchor {
			intermediates.AddCert(c)
		}
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		DNSName:       serverName,
		Roots:         roots,
		Intermediates: intermediates,
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return fmt.Errorf("%w: its certificate, pinned to %s: %w", ErrNotTrusted, want, err)
	}
	return nil
}
