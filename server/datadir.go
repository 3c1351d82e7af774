package server

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// The files of the data directory: the store and its SQLite companions, and the account key.
const (
	dbFile = "corral.db"
	// nodesDir holds the local nodes' directories (their task directories and outputs).
	nodesDir = "nodes"
)

// privateFiles are the files of the data directory that hold Corral's state or secrets: the
// SQLite database with its write-ahead log and shared-memory index, and the account key.
var privateFiles = []string{dbFile, dbFile + "-wal", dbFile + "-shm", keyFile}

// secureDataDir makes dir, and what Corral keeps directly in it, readable by its owner only: the
// directory and its nodes directory 0700, the store's files and the account key 0600. It creates
// the directory when it does not exist, tightens the mode of one that does (an earlier Corral
// left the database 0644 in a 0755 directory), and creates an empty store file 0600 before
// SQLite opens it, since SQLite creates a new database with the process's umask and gives its
// -wal and -shm files the database file's mode. A mode that it changes is logged.
func secureDataDir(dir string, log *slog.Logger) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	for _, d := range []string{dir, filepath.Join(dir, nodesDir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
		if err := restrict(d, 0o700, log); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(filepath.Join(dir, dbFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("data directory: create store file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("data directory: create store file: %w", err)
	}
	for _, name := range privateFiles {
		if err := restrict(filepath.Join(dir, name), 0o600, log); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// restrict sets the permission bits of path to mode when they allow more, and logs the change.
// It does not follow a symbolic link at path (os.Lstat): a link is left as it is.
func restrict(path string, mode fs.FileMode, log *slog.Logger) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 || fi.Mode().Perm()&^mode == 0 {
		return nil
	}
	if err := os.Chmod(path, mode); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	log.Info("server: made readable by its owner only", "path", path, "mode", fmt.Sprintf("%04o", mode), "was", fmt.Sprintf("%04o", fi.Mode().Perm()))
	return nil
}
