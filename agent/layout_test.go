package agent

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateID(t *testing.T) {
	valid := []string{"a", "Z", "0", "job-1", "task_2", "A-b_C-9", "-", "_", "--", strings.Repeat("x", MaxIDLength)}
	for _, id := range valid {
		if err := ValidateID("task", id); err != nil {
			t.Errorf("ValidateID(%q) = %v, want nil", id, err)
		}
	}
	invalid := []string{
		"", ".", "..", "...", "/", "a/b", "/abs", "../x", "x/..", `a\b`, `..\x`, "a b", " a", "a\n",
		"a.b", "a:b", "a*b", "a\x00b", "ä", "日本", "%2e%2e", "~", strings.Repeat("x", MaxIDLength+1),
	}
	for _, id := range invalid {
		err := ValidateID("task", id)
		if err == nil {
			t.Errorf("ValidateID(%q) = nil, want an error", id)
			continue
		}
		if !errors.Is(err, ErrInvalidID) {
			t.Errorf("ValidateID(%q) = %v, does not wrap ErrInvalidID", id, err)
		}
	}
}

func TestLayoutPaths(t *testing.T) {
	root := t.TempDir()
	l, err := NewLayout(root)
	if err != nil {
		t.Fatal(err)
	}
	if l.Root() != root {
		t.Errorf("Root() = %q, want %q", l.Root(), root)
	}
	if got, want := l.SharedDir(), filepath.Join(root, "shared"); got != want {
		t.Errorf("SharedDir() = %q, want %q", got, want)
	}
	dir, err := l.TaskDir("job1", "task-1")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "workitems", "job1", "job-1", "task-1"); dir != want {
		t.Errorf("TaskDir = %q, want %q", dir, want)
	}
	wd, err := l.WorkingDir("job1", "task-1")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "wd"); wd != want {
		t.Errorf("WorkingDir = %q, want %q", wd, want)
	}
	for _, ids := range [][2]string{{"..", "t"}, {"j", ".."}, {"", "t"}, {"j", ""}, {"a/b", "t"}, {"j", "/etc"}, {"j", "t/../../x"}} {
		if _, err := l.TaskDir(ids[0], ids[1]); !errors.Is(err, ErrInvalidID) {
			t.Errorf("TaskDir(%q, %q) error = %v, want ErrInvalidID", ids[0], ids[1], err)
		}
	}
	// A job schedule's jobs, as Azure lays them out: the schedule's work item, a directory per job.
	if dir, err := l.TaskDir("nightly:job-12", "t"); err != nil || dir != filepath.Join(root, "workitems", "nightly", "job-12", "t") {
		t.Errorf("TaskDir of a schedule's job = %q, %v", dir, err)
	}
	for _, id := range []string{"nightly:job-0", "nightly:job-01", "nightly:job-", "a/b:job-1", "..:job-1", ":job-1", "a:job-1/..", "a:job-x"} {
		if _, err := l.TaskDir(id, "t"); !errors.Is(err, ErrInvalidID) {
			t.Errorf("TaskDir(%q) error = %v, want ErrInvalidID", id, err)
		}
	}
	if _, err := NewLayout(""); err == nil {
		t.Error("NewLayout(\"\") succeeded")
	}
	rel, err := NewLayout("relative/root")
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(rel.Root()) {
		t.Errorf("NewLayout(relative).Root() = %q, want an absolute path", rel.Root())
	}
}
