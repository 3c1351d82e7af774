package server

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"corral/internal/testlog"
)

func TestSecureDataDir(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(t *testing.T, dir string) // prepares dir (which does not exist yet)
	}{
		{"new directory", func(t *testing.T, dir string) {}},
		{"existing open directory and files", func(t *testing.T, dir string) {
			if err := os.MkdirAll(filepath.Join(dir, nodesDir), 0o755); err != nil {
				t.Fatal(err)
			}
			for _, d := range []string{dir, filepath.Join(dir, nodesDir)} {
				if err := os.Chmod(d, 0o755); err != nil { // MkdirAll is subject to umask
					t.Fatal(err)
				}
			}
			for _, name := range privateFiles {
				if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(filepath.Join(dir, name), 0o666); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"already private", func(t *testing.T, dir string) {
			if err := os.MkdirAll(filepath.Join(dir, nodesDir), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, keyFile), []byte("k\n"), 0o400); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			tt.setup(t, dir)
			if err := secureDataDir(dir, testlog.New(t)); err != nil {
				t.Fatal(err)
			}
			wantMode(t, dir, 0o700)
			wantMode(t, filepath.Join(dir, nodesDir), 0o700)
			wantMode(t, filepath.Join(dir, dbFile), 0o600)
			for _, name := range privateFiles {
				p := filepath.Join(dir, name)
				if _, err := os.Lstat(p); err == nil && name != keyFile {
					wantMode(t, p, 0o600)
				}
			}
			if tt.name == "already private" {
				wantMode(t, filepath.Join(dir, keyFile), 0o400) // stricter than needed: left alone
			}
		})
	}
}

// TestStartKeepsDataPrivate starts a server on an existing, world-readable data directory and
// checks every file and directory Corral has in it once it runs: the database with its -wal and
// -shm files, the account key, the nodes' directories.
func TestStartKeepsDataPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	acct, err := LoadAccount(dir, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(acct.KeyPath, 0o644); err != nil { // as an older Corral or a user left it
		t.Fatal(err)
	}
	srv, err := Start(Config{Listen: "127.0.0.1:0", DataDir: dir, Account: acct, Logger: testlog.New(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	wantMode(t, dir, 0o700)
	wantMode(t, filepath.Join(dir, nodesDir), 0o700)
	wantMode(t, acct.KeyPath, 0o600)
	wantMode(t, filepath.Join(dir, dbFile), 0o600)
	// SQLite keeps its write-ahead log and shared-memory index while the store is open; they take
	// the database file's mode.
	for _, name := range []string{dbFile + "-wal", dbFile + "-shm"} {
		wantMode(t, filepath.Join(dir, name), 0o600)
	}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %04o: others may read it", path, fi.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func wantMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s has mode %04o, want %04o", path, got, want)
	}
}
