package server

import (
	"bytes"
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

// nodeTree builds taskTree's task directory in node p1/n1 under root, and the node's own files
// around it: its credential, and shared files with a link to the credential.
func nodeTree(t *testing.T, root string) {
	t.Helper()
	taskTree(t, root)
	node := filepath.Join(root, "p1", "n1")
	for name, content := range map[string]string{
		filepath.Join(node, agent.CredentialFile):   "top secret",
		filepath.Join(node, "shared", "data.txt"):   "shared",
		filepath.Join(node, "startup", "std.txt"):   "",
		filepath.Join(node, "shared", "d", "e.txt"): "e",
	} {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("../"+agent.CredentialFile, filepath.Join(node, "shared", "cred")); err != nil {
		t.Fatal(err)
	}
}

// sameFileErr reports whether two FileSource errors mean the same.
func sameFileErr(a, b error) bool {
	for _, target := range []error{fs.ErrNotExist, rest.ErrInvalidFilePath, rest.ErrFileOutsideTask, rest.ErrDirectoryNotEmpty, rest.ErrFileProtected} {
		if errors.Is(a, target) != errors.Is(b, target) {
			return false
		}
	}
	return (a == nil) == (b == nil)
}

// TestRemoteNodeFilesMatchLocal: a node's root directory read from disk and through its agent
// gives the same listings, contents and errors, and so do deletes of node and task files.
func TestRemoteNodeFilesMatchLocal(t *testing.T) {
	root := t.TempDir()
	nodeTree(t, root)
	local := newLocalFiles(root)
	remote := newRemoteFiles(linkedAgent(t, filepath.Join(root, "p1", "n1")))
	ctx := context.Background()
	for _, recursive := range []bool{false, true} {
		want, werr := local.ListFiles(ctx, "p1", "n1", "", "", recursive)
		got, gerr := remote.ListFiles(ctx, "p1", "n1", "", "", recursive)
		if werr != nil || gerr != nil || !slices.EqualFunc(got, want, func(a, b rest.FileInfo) bool { return a.Path == b.Path && a.Size == b.Size }) {
			t.Errorf("ListFiles(node, %v) = %+v, %v; from disk %+v, %v", recursive, got, gerr, want, werr)
		}
	}
	for _, name := range []string{"shared/data.txt", "workitems/j/job-1/t/stdout.txt", "shared", agent.CredentialFile,
		"shared/cred", "workitems/j/job-1/t/.corral-result.json", "../secret.txt", "workitems/j/job-1/t/wd/esc"} {
		wr, winfo, werr := local.OpenFile(ctx, "p1", "n1", "", "", name)
		gr, ginfo, gerr := remote.OpenFile(ctx, "p1", "n1", "", "", name)
		if !sameFileErr(werr, gerr) || ginfo.Path != winfo.Path || ginfo.IsDirectory != winfo.IsDirectory {
			t.Errorf("OpenFile(node, %q) = %+v, %v; from disk %+v, %v", name, ginfo, gerr, winfo, werr)
		}
		if wr != nil && gr != nil {
			want, _ := io.ReadAll(wr)
			got, err := io.ReadAll(gr)
			if err != nil || !bytes.Equal(got, want) || bytes.Contains(got, []byte("top secret")) {
				t.Errorf("read of %q = %q, %v; from disk %q", name, got, err, want)
			}
		}
		for _, r := range []io.Closer{wr, gr} {
			if r != nil {
				r.Close()
			}
		}
	}

	// The same deletes on two copies of the tree, one from disk, one through an agent.
	roots := []string{t.TempDir(), t.TempDir()}
	for _, r := range roots {
		nodeTree(t, r)
	}
	sources := []rest.FileSource{newLocalFiles(roots[0]), newRemoteFiles(linkedAgent(t, filepath.Join(roots[1], "p1", "n1")))}
	for _, d := range []struct {
		job, task, name string
		recursive       bool
		want            error
	}{
		{"", "", "shared", true, rest.ErrFileProtected},
		{"", "", agent.CredentialFile, false, fs.ErrNotExist},
		{"", "", "shared/d", false, rest.ErrDirectoryNotEmpty},
		{"", "", "shared/cred", false, nil},
		{"", "", "shared/d", true, nil},
		{"j", "t", "wd/esc", false, nil},
		{"j", "t", "wd", false, rest.ErrDirectoryNotEmpty},
		{"j", "t", "wd/../../t", true, rest.ErrInvalidFilePath},
		{"j", "t", ".corral-result.json", false, fs.ErrNotExist},
		{"j", "t", "wd", true, nil},
	} {
		for i, src := range sources {
			err := src.DeleteFile(ctx, "p1", "n1", d.job, d.task, d.name, d.recursive)
			if (d.want == nil) != (err == nil) || d.want != nil && !errors.Is(err, d.want) {
				t.Errorf("source %d: DeleteFile(%q/%q, %q, %v) = %v, want %v", i, d.job, d.task, d.name, d.recursive, err, d.want)
			}
		}
	}
	var lists [2][]string
	for i, src := range sources {
		files, err := src.ListFiles(ctx, "p1", "n1", "", "", true)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			lists[i] = append(lists[i], f.Path)
		}
		if _, err := os.Stat(filepath.Join(roots[i], "p1", "n1", agent.CredentialFile)); err != nil {
			t.Errorf("source %d: the credential is gone: %v", i, err)
		}
	}
	if !slices.Equal(lists[0], lists[1]) || slices.Contains(lists[0], "shared/d") || slices.Contains(lists[0], "workitems/j/job-1/t/wd") {
		t.Errorf("after the deletes: from disk %q, through the agent %q", lists[0], lists[1])
	}
}
