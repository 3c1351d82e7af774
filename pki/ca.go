// Package pki is Corral's small certificate authority: a CA of its own in a directory, the
// server certificate it issues for the names a server is reached by, and the client TLS
// configurations that trust it, either from its certificate file or, on first contact, from
// nothing but its fingerprint (the scheme of kubeadm's --discovery-token-ca-cert-hash).
//
// Keys are ECDSA P-256, written in PEM (PKCS #8) with mode 0600 in a directory of mode 0700;
// certificates are PEM with mode 0644. Files are written whole or not at all (a temporary file,
// synced, then moved into place), so two processes that set up the same directory at once end
// with one CA and one key, never a certificate of one and the key of the other.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// The files of a CA directory.
const (
	// CACertFile and CAKeyFile are the CA's certificate and private key.
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
	// ServerCertFile holds the server's certificate followed by the CA's (the chain a server
	// presents), and ServerKeyFile its private key.
	ServerCertFile = "server.crt"
	ServerKeyFile  = "server.key"
)

// Lifetimes of what the CA makes.
const (
	// CAValidity is how long a new CA certificate is valid.
	CAValidity = 10 * 365 * 24 * time.Hour
	// ServerValidity is how long a new server certificate is valid (never beyond its CA).
	ServerValidity = 365 * 24 * time.Hour
	// RenewBefore is how long before it expires a server certificate is issued again.
	RenewBefore = 30 * 24 * time.Hour
	// backdate is how far before now a certificate's validity starts, for clocks a little behind.
	backdate = time.Hour
)

// CA is a certificate authority kept in a directory.
type CA struct {
	// Cert is the CA's self-signed certificate.
	Cert *x509.Certificate
	// Key is the CA's private key.
	Key crypto.Signer
	// Dir is the directory of its files; CertFile is the path of its certificate, the file that
	// clients trust.
	Dir, CertFile string
}

// EnsureCA loads the CA in dir (ca.crt and ca.key), or creates it: dir with mode 0700, a new
// ECDSA P-256 key, and a self-signed certificate valid for CAValidity. A key without a
// certificate (a creation cut short) gets a new certificate for the same key, so the CA keeps
// its fingerprint. A certificate that is not the key's, or that has expired, is an error:
// replacing it would silently change what every client trusts.
func EnsureCA(dir string) (*CA, error) {
	return ensureCA(dir, time.Now())
}

func ensureCA(dir string, now time.Time) (*CA, error) {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, fmt.Errorf("pki: CA directory: %w", err)
	}
	ca := &CA{Dir: dir, CertFile: filepath.Join(dir, CACertFile)}
	key, err := ensureKey(filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, fmt.Errorf("pki: CA key: %w", err)
	}
	ca.Key = key
	certs, err := readCerts(ca.CertFile)
	if errors.Is(err, fs.ErrNotExist) {
		cert, nerr := newCACert(key, now)
		if nerr != nil {
			return nil, fmt.Errorf("pki: CA certificate: %w", nerr)
		}
		if werr := writeFile(ca.CertFile, encodeCerts(cert), certMode, false); werr != nil && !errors.Is(werr, fs.ErrExist) {
			return nil, fmt.Errorf("pki: write the CA certificate: %w", werr)
		}
		certs, err = readCerts(ca.CertFile) // ours, or the one another process wrote first
	}
	if err != nil {
		return nil, fmt.Errorf("pki: CA certificate: %w", err)
	}
	ca.Cert = certs[0]
	switch {
	case !samePublicKey(ca.Cert, key):
		return nil, fmt.Errorf("pki: %s is not the certificate of the key in %s", ca.CertFile, CAKeyFile)
	case !ca.Cert.IsCA:
		return nil, fmt.Errorf("pki: %s is not a CA certificate", ca.CertFile)
	case now.After(ca.Cert.NotAfter):
		return nil, fmt.Errorf("pki: the CA in %s expired on %s; move %s and %s away to create a new CA (clients must then trust the new one)",
			ca.CertFile, ca.Cert.NotAfter.Format(time.DateOnly), CACertFile, CAKeyFile)
	}
	return ca, nil
}

// Fingerprint returns the CA certificate's fingerprint (see Fingerprint).
func (ca *CA) Fingerprint() string { return Fingerprint(ca.Cert) }

// Fingerprint returns "sha256:" and the lowercase hex SHA-256 of a certificate's
// SubjectPublicKeyInfo: kubeadm's --discovery-token-ca-cert-hash. It names the key, not the
// certificate, so a certificate issued again for the same key keeps it.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return fingerprintPrefix + hex.EncodeToString(sum[:])
}

const fingerprintPrefix = "sha256:"

// newKey returns a new ECDSA P-256 key.
func newKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate a key: %w", err)
	}
	return key, nil
}

// serialNumber returns a random 128-bit certificate serial number.
func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n, nil
}

// newCACert returns a self-signed CA certificate for key, valid from now for CAValidity.
func newCACert(key crypto.Signer, now time.Time) (*x509.Certificate, error) {
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	name := "Corral CA"
	if host, err := os.Hostname(); err == nil && host != "" {
		name += " " + host
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Corral"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
