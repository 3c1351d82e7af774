package pki

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File modes: certificates are public, keys are their owner's only, and so is the directory.
const (
	dirMode  fs.FileMode = 0o700
	certMode fs.FileMode = 0o644
	keyMode  fs.FileMode = 0o600
)

// writeFile puts data at path whole or not at all: it writes a temporary file in the same
// directory with mode, syncs it, and then moves it to path. With replace, an existing file is
// replaced (os.Rename); without, the move is os.Link, which fails with fs.ErrExist when path
// exists, so that of two processes creating the same file at once, exactly one wins and the
// other can read the winner's.
func writeFile(path string, data []byte, mode fs.FileMode, replace bool) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after a rename, or a link, this removes nothing or only the extra name
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if replace {
		return os.Rename(tmp, path)
	}
	return os.Link(tmp, path)
}

// readCerts reads every CERTIFICATE block of a PEM file, in order.
func readCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseCerts(b, path)
}

// parseCerts parses every CERTIFICATE block of PEM data; name is where it came from, for errors.
func parseCerts(b []byte, name string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate in it", name)
	}
	return certs, nil
}

// encodeCerts returns certificates as PEM, in order.
func encodeCerts(certs ...*x509.Certificate) []byte {
	var b []byte
	for _, c := range certs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return b
}

// readKey reads a PEM private key: PKCS #8 ("PRIVATE KEY", what Corral writes) or SEC 1
// ("EC PRIVATE KEY").
func readKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block in it", path)
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("%s: a PEM %q block, want a private key", path, block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: a %T is not a signing key", path, key)
	}
	return signer, nil
}

// encodeKey returns key as PEM, PKCS #8.
func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ensureKey loads the private key at path, or creates it (a new ECDSA P-256 key, mode 0600)
// when there is none. Two processes that create it at once end with the same key: the one whose
// file lands second discards its own and reads the first's.
func ensureKey(path string) (crypto.Signer, error) {
	key, err := readKey(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	fresh, err := newKey()
	if err != nil {
		return nil, err
	}
	b, err := encodeKey(fresh)
	if err != nil {
		return nil, fmt.Errorf("encode a new key: %w", err)
	}
	if err := writeFile(path, b, keyMode, false); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return readKey(path)
}

// samePublicKey reports whether a certificate is for key.
func samePublicKey(cert *x509.Certificate, key crypto.Signer) bool {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}
