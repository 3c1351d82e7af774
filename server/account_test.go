package server

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadAccount(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

	dir := t.TempDir()
	a, err := LoadAccount(dir, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if a.Name != DefaultAccountName || len(a.Key) != 64 || !a.Created || a.KeyPath != filepath.Join(dir, "account.key") {
		t.Fatalf("first load: %+v", a)
	}
	fi, err := os.Stat(a.KeyPath)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	b, err := LoadAccount(dir, env(nil))
	if err != nil || b.Created || string(b.Key) != string(a.Key) {
		t.Fatalf("second load must read the same key: %+v %v", b, err)
	}

	key := base64.StdEncoding.EncodeToString([]byte("0123456789"))
	c, err := LoadAccount(t.TempDir(), env(map[string]string{"CORRAL_ACCOUNT_NAME": "acct", "CORRAL_ACCOUNT_KEY": key}))
	if err != nil || c.Name != "acct" || string(c.Key) != "0123456789" || c.KeyPath != "" {
		t.Fatalf("from environment: %+v %v", c, err)
	}
	if _, err := LoadAccount(t.TempDir(), env(map[string]string{"CORRAL_ACCOUNT_KEY": "not base64!"})); err == nil {
		t.Fatal("bad key accepted")
	}
	bad := t.TempDir()
	os.WriteFile(filepath.Join(bad, "account.key"), []byte("%%%"), 0o600)
	if _, err := LoadAccount(bad, env(nil)); err == nil {
		t.Fatal("bad key file accepted")
	}
}
