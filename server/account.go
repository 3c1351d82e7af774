// Package server puts Corral together: the store in the data directory, the actor engine and the
// service's actors, the REST API, the endpoint node agents talk to, and the local VM provider
// that runs nodes as agent processes. `corral server` and `corral run` are thin layers over it.
package server

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DefaultAccountName is the account name when CORRAL_ACCOUNT_NAME is not set.
const DefaultAccountName = "corral"

// keyFile is where the generated account key is kept, inside the data directory.
const keyFile = "account.key"

// Account is the account name and the key requests are signed with.
type Account struct {
	Name string
	Key  []byte
	// KeyPath is the file the key came from or was written to; empty when it came from the
	// environment.
	KeyPath string
	// Created says the key was generated just now.
	Created bool
}

// LoadAccount finds the account's name and key: CORRAL_ACCOUNT_NAME and CORRAL_ACCOUNT_KEY (the
// key base64-encoded, as Azure shows account keys) when set; otherwise the key kept in the data
// directory, generated there (64 random bytes, file mode 0600) the first time.
func LoadAccount(dataDir string, getenv func(string) string) (Account, error) {
	a := Account{Name: getenv("CORRAL_ACCOUNT_NAME")}
	if a.Name == "" {
		a.Name = DefaultAccountName
	}
	if k := getenv("CORRAL_ACCOUNT_KEY"); k != "" {
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(k))
		if err != nil || len(key) == 0 {
			return a, errors.New("CORRAL_ACCOUNT_KEY is not a base64-encoded key")
		}
		a.Key = key
		return a, nil
	}
	a.KeyPath = filepath.Join(dataDir, keyFile)
	b, err := os.ReadFile(a.KeyPath)
	switch {
	case err == nil:
		key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(key) == 0 {
			return a, fmt.Errorf("%s does not hold a base64-encoded key", a.KeyPath)
		}
		a.Key = key
		return a, nil
	case !errors.Is(err, fs.ErrNotExist):
		return a, fmt.Errorf("read account key: %w", err)
	}
	key := make([]byte, 64)
	if _, err := rand.Read(key); err != nil {
		return a, fmt.Errorf("generate account key: %w", err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return a, fmt.Errorf("create data directory: %w", err)
	}
	f, err := os.OpenFile(a.KeyPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return a, fmt.Errorf("write account key: %w", err)
	}
	if _, err := fmt.Fprintln(f, base64.StdEncoding.EncodeToString(key)); err != nil {
		f.Close()
		return a, fmt.Errorf("write account key: %w", err)
	}
	if err := f.Close(); err != nil {
		return a, fmt.Errorf("write account key: %w", err)
	}
	a.Key, a.Created = key, true
	return a, nil
}
