package server

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"corral/agent"
	"corral/api/rest"
)

// taskTree makes root/p1/n1 a node directory holding task j/t with a few files, a bookkeeping
// file, and a symbolic link to a secret outside the task directory; it returns the task
// directory and the secret's path.
func taskTree(t *testing.T, root string) (taskDir, secret string) {
	t.Helper()
	l, err := agent.NewLayout(filepath.Join(root, "p1", "n1"))
	if err != nil {
		t.Fatal(err)
	}
	taskDir, err = l.TaskDir("j", "t")
	if err != nil {
		t.Fatal(err)
	}
	secret = filepath.Join(root, "p1", "secret.txt")
	for name, content := range map[string]string{
		filepath.Join(taskDir, "stdout.txt"):          "hello\n",
		filepath.Join(taskDir, "wd", "out.txt"):       "0123456789",
		filepath.Join(taskDir, "wd", "sub", "x.bin"):  "x",
		filepath.Join(taskDir, ".corral-result.json"): "{}",
		secret: "top secret",
	} {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(name, 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(secret, filepath.Join(taskDir, "wd", "esc")); err != nil {
		t.Fatal(err)
	}
	return taskDir, secret
}

func TestValidNodeDirID(t *testing.T) {
	for id, ok := range map[string]bool{
		"p1": true, "tvm-1_A": true, "": false, ".": false, "..": false, "a/b": false, `a\b`: false,
		"a b": false, "a\x00": false, "é": false, string(make([]byte, 256)): false,
	} {
		if got := validNodeDirID(id); got != ok {
			t.Errorf("validNodeDirID(%q) = %v, want %v", id, got, ok)
		}
	}
}

func TestLocalFilesList(t *testing.T) {
	root := t.TempDir()
	taskTree(t, root)
	f := newLocalFiles(root)
	ctx := context.Background()

	list, err := f.ListFiles(ctx, "p1", "n1", "j", "t", false)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, fi := range list {
		paths = append(paths, fi.Path)
		switch fi.Path {
		case "stdout.txt":
			if fi.IsDirectory || fi.Size != 6 || fi.Mode.Perm() != 0o640 || fi.LastModified.IsZero() || !fi.CreationTime.IsZero() {
				t.Errorf("stdout.txt = %+v", fi)
			}
		case "wd":
			if !fi.IsDirectory || fi.Size != 0 {
				t.Errorf("wd = %+v", fi)
			}
		}
	}
	if want := []string{"stdout.txt", "wd"}; !slices.Equal(paths, want) {
		t.Errorf("paths = %q, want %q", paths, want)
	}

	list, err = f.ListFiles(ctx, "p1", "n1", "j", "t", true)
	if err != nil {
		t.Fatal(err)
	}
	paths = nil
	for _, fi := range list {
		paths = append(paths, fi.Path)
	}
	if want := []string{"stdout.txt", "wd", "wd/esc", "wd/out.txt", "wd/sub", "wd/sub/x.bin"}; !slices.Equal(paths, want) {
		t.Errorf("recursive paths = %q, want %q", paths, want)
	}

	// Whatever names no task directory is not there.
	for _, tt := range []struct{ pool, node, job, task string }{
		{"p1", "n1", "j", "other"},
		{"p1", "n2", "j", "t"},
		{"..", "p1", "j", "t"},
		{"p1", "..", "j", "t"},
		{"p1/n1", "x", "j", "t"},
		{"", "n1", "j", "t"},
		{"p1", "n1", "..", "t"},
		{"p1", "n1", "j", "../t"},
	} {
		if _, err := f.ListFiles(ctx, tt.pool, tt.node, tt.job, tt.task, true); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ListFiles(%q, %q, %q, %q): %v, want fs.ErrNotExist", tt.pool, tt.node, tt.job, tt.task, err)
		}
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.ListFiles(cancelled, "p1", "n1", "j", "t", true); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestLocalFilesOpen(t *testing.T) {
	root := t.TempDir()
	_, secret := taskTree(t, root)
	f := newLocalFiles(root)
	ctx := context.Background()

	r, info, err := f.OpenFile(ctx, "p1", "n1", "j", "t", "wd/out.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Seek(4, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(b) != "456789" {
		t.Errorf("read = %q, %v", b, err)
	}
	if info.Path != "wd/out.txt" || info.IsDirectory || info.Size != 10 || info.Mode.Perm() != 0o640 || info.LastModified.IsZero() {
		t.Errorf("info = %+v", info)
	}

	for _, name := range []string{"wd", "wd/sub/", "wd/./sub"} {
		r, info, err := f.OpenFile(ctx, "p1", "n1", "j", "t", name)
		if err != nil || r != nil || !info.IsDirectory || info.LastModified.IsZero() {
			t.Errorf("OpenFile(%q) = %v, %+v, %v; want a directory", name, r, info, err)
		}
	}

	for _, tt := range []struct {
		pool, node, name string
		want             error
	}{
		{"p1", "n1", "nope.txt", fs.ErrNotExist},
		{"p1", "n1", ".corral-result.json", fs.ErrNotExist},
		{"p1", "n2", "stdout.txt", fs.ErrNotExist},
		{"..", "n1", "stdout.txt", fs.ErrNotExist},
		{"p1", "n1/../n1", "stdout.txt", fs.ErrNotExist},
		{"p1", "n1", "", rest.ErrInvalidFilePath},
		{"p1", "n1", "../../../../../secret.txt", rest.ErrInvalidFilePath},
		{"p1", "n1", "wd/../../t/stdout.txt", rest.ErrInvalidFilePath},
		{"p1", "n1", secret, rest.ErrInvalidFilePath},
		{"p1", "n1", "wd/esc", rest.ErrFileOutsideTask},
	} {
		r, _, err := f.OpenFile(ctx, tt.pool, tt.node, "j", "t", tt.name)
		if r != nil {
			b, _ := io.ReadAll(r)
			r.Close()
			t.Errorf("OpenFile(%q, %q, %q) opened %q", tt.pool, tt.node, tt.name, b)
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("OpenFile(%q, %q, %q): %v, want %v", tt.pool, tt.node, tt.name, err, tt.want)
		}
	}
}
