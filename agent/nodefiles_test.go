//go:build unix

package agent

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// makeNodeDir builds a node's root directory by hand on top of makeTaskDir's: the node's own
// files (credential, agent log, records), shared and startup, and links from a task's working
// directory to the node's own files.
func makeNodeDir(t *testing.T) Layout {
	t.Helper()
	l := makeTaskDir(t)
	for _, d := range []string{l.SharedDir(), l.StartupDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir, _ := l.TaskDir("job1", "task1")
	files := map[string]string{
		filepath.Join(l.Root(), CredentialFile):       "node credential",
		filepath.Join(l.Root(), "agent.log"):          "log",
		filepath.Join(l.Root(), ".corral-task-uids"):  "1",
		filepath.Join(l.SharedDir(), "data.bin"):      "shared data",
		filepath.Join(l.SharedDir(), ".corral-x"):     "hidden",
		filepath.Join(l.StartupDir(), "stdout.txt"):   "startup",
		filepath.Join(dir, "wd", "out", "to-delete"):  "x",
		filepath.Join(l.Root(), "shared-sibling.txt"): "not served",
	}
	for p, data := range files {
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		filepath.Join(dir, "wd", "cred"):          "../../../../../" + CredentialFile, // inside the root, outside workitems
		filepath.Join(l.SharedDir(), "up"):        "..",
		filepath.Join(l.SharedDir(), "tasklink"):  "../workitems/job1/job-1/task1/stdout.txt",
		filepath.Join(l.SharedDir(), "inshared"):  "data.bin",
		filepath.Join(l.StartupDir(), "escapes"):  "/",
		filepath.Join(dir, "wd", "credentialdir"): "../../../../..",
	}
	for p, target := range links {
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// TestListNodeFiles: a node's listing holds Azure's directories and what is below them, never
// the node's own files nor Corral's bookkeeping.
func TestListNodeFiles(t *testing.T) {
	l := makeNodeDir(t)
	top, err := l.ListNodeFiles(false)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := paths(top), []string{"shared", "startup", "workitems"}; !slices.Equal(got, want) {
		t.Errorf("ListNodeFiles(false) = %q, want %q", got, want)
	}
	all, err := l.ListNodeFiles(true)
	if err != nil {
		t.Fatal(err)
	}
	got := paths(all)
	for _, p := range []string{"shared/data.bin", "shared/up", "startup/stdout.txt", "workitems/job1/job-1/task1/stdout.txt",
		"workitems/job1/job-1/task1/wd/cred", "workitems/job1/job-1/task2/stdout.txt"} {
		if !slices.Contains(got, p) {
			t.Errorf("recursive listing lacks %s: %q", p, got)
		}
	}
	for _, p := range got {
		if isBookkeeping(p) || !slices.Contains(nodeDirs, firstElem(p)) {
			t.Errorf("recursive listing has %s", p)
		}
	}
}

func firstElem(p string) string {
	first, _, _ := strings.Cut(p, "/")
	return first
}

// TestOpenNodeFile: files of Azure's directories are read; the node's own files, Corral's
// bookkeeping and whatever a symbolic link reaches outside the directory it is in are not.
func TestOpenNodeFile(t *testing.T) {
	l := makeNodeDir(t)
	for name, want := range map[string]string{
		"shared/data.bin":                                "shared data",
		"shared/inshared":                                "shared data",
		"startup/stdout.txt":                             "startup",
		"workitems/job1/job-1/task1/stdout.txt":          "out\n",
		"workitems/job1/job-1/task1/wd/inside":           "out\n",
		"workitems//job1/job-1/./task1/wd/../stdout.txt": "out\n",
	} {
		f, _, err := l.OpenNodeFile(name)
		if err != nil {
			t.Errorf("OpenNodeFile(%q): %v", name, err)
			continue
		}
		data, err := io.ReadAll(f)
		f.Close()
		if string(data) != want || err != nil {
			t.Errorf("OpenNodeFile(%q) read %q, %v; want %q", name, data, err, want)
		}
	}
	for _, tt := range []struct {
		name string
		want error
	}{
		{CredentialFile, fs.ErrNotExist},
		{"agent.log", fs.ErrNotExist},
		{".corral-task-uids", fs.ErrNotExist},
		{"shared-sibling.txt", fs.ErrNotExist},
		{"shared/../" + CredentialFile, fs.ErrNotExist},
		{"shared/.corral-x", fs.ErrNotExist},
		{"workitems/job1/job-1/task1/.corral-result.json", fs.ErrNotExist},
		{"workitems/job1/job-1/task1/wd/cred", ErrPathEscapes},
		{"workitems/job1/job-1/task1/wd/credentialdir/" + CredentialFile, ErrPathEscapes},
		{"shared/up/" + CredentialFile, ErrPathEscapes},
		{"shared/tasklink", ErrPathEscapes},
		{"startup/escapes/etc/passwd", ErrPathEscapes},
		{"../" + CredentialFile, ErrInvalidPath},
		{"/etc/passwd", ErrInvalidPath},
		{"", ErrInvalidPath},
		{"shared", ErrIsDir},
	} {
		f, _, err := l.OpenNodeFile(tt.name)
		if err == nil {
			f.Close()
			t.Errorf("OpenNodeFile(%q) succeeded, want %v", tt.name, tt.want)
		} else if !errors.Is(err, tt.want) {
			t.Errorf("OpenNodeFile(%q) error = %v, want %v", tt.name, err, tt.want)
		}
	}
	fi, err := l.StatNodeFile("workitems/job1")
	if err != nil || !fi.IsDir || fi.Path != "workitems/job1" {
		t.Errorf("StatNodeFile(workitems/job1) = %+v, %v", fi, err)
	}
}

// TestDeleteFiles: deletes stay inside their directory, delete links rather than what they
// point to, refuse non-empty directories without recursive and the layout's own directories.
func TestDeleteFiles(t *testing.T) {
	l := makeNodeDir(t)
	dir, _ := l.TaskDir("job1", "task1")
	cred := filepath.Join(l.Root(), CredentialFile)
	for _, tt := range []struct {
		name      string
		node      bool
		path      string
		recursive bool
		want      error
		gone      string // a file that must be gone after a delete that succeeds
	}{
		{"task: not empty", false, "wd/out", false, ErrNotEmpty, ""},
		{"task: the task directory", false, ".", true, ErrInvalidPath, ""},
		{"task: bookkeeping", false, ".corral-result.json", false, fs.ErrNotExist, ""},
		{"task: outside", false, "../task2/stdout.txt", false, ErrInvalidPath, ""},
		{"task: through a link outside", false, "wd/up/stdout.txt", false, ErrPathEscapes, ""},
		{"task: a link, not its target", false, "wd/secret", false, nil, filepath.Join(dir, "wd", "secret")},
		{"task: a file", false, "wd/out/to-delete", false, nil, filepath.Join(dir, "wd", "out", "to-delete")},
		{"node: a layout directory", true, "shared", true, ErrProtected, ""},
		{"node: the credential", true, CredentialFile, false, fs.ErrNotExist, ""},
		{"node: through a link to the root", true, "shared/up/" + CredentialFile, false, ErrPathEscapes, ""},
		{"node: a link to the root", true, "workitems/job1/job-1/task1/wd/cred", false, nil, filepath.Join(dir, "wd", "cred")},
		{"node: a directory, recursively", true, "workitems/job1/job-1/task1/wd/out", true, nil, filepath.Join(dir, "wd", "out")},
		{"node: missing", true, "shared/nope", false, fs.ErrNotExist, ""},
	} {
		var err error
		if tt.node {
			err = l.DeleteNodeFile(tt.path, tt.recursive)
		} else {
			err = l.DeleteFile("job1", "task1", tt.path, tt.recursive)
		}
		if (tt.want == nil) != (err == nil) || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: delete %q = %v, want %v", tt.name, tt.path, err, tt.want)
		}
		if tt.gone != "" {
			if _, err := os.Lstat(tt.gone); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s: %s still there: %v", tt.name, tt.gone, err)
			}
		}
		if _, err := os.Stat(cred); err != nil {
			t.Fatalf("%s: the node's credential is gone: %v", tt.name, err)
		}
	}
	for _, d := range []string{l.SharedDir(), filepath.Join(dir, "wd", "outdir")} {
		if _, err := os.Lstat(d); err != nil {
			t.Errorf("%s is gone: %v", d, err)
		}
	}
}
