//go:build unix

package agent

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// makeTaskDir builds a task directory by hand, with output files, a nested result, Corral's
// bookkeeping files and symbolic links pointing inside and outside the task directory.
func makeTaskDir(t *testing.T) Layout {
	t.Helper()
	l, err := NewLayout(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := l.TaskDir("job1", "task1")
	other, _ := l.TaskDir("job1", "task2")
	for _, d := range []string{filepath.Join(dir, "wd", "out"), filepath.Join(other, "wd")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		filepath.Join(dir, "stdout.txt"):               "out\n",
		filepath.Join(dir, "stderr.txt"):               "err\n",
		filepath.Join(dir, "wd", "out", "result.csv"):  "a,b\n1,2\n",
		filepath.Join(dir, ".corral-result.json"):      "{}",
		filepath.Join(dir, ".corral-journal"):          "start a1\n",
		filepath.Join(other, "stdout.txt"):             "other task\n",
		filepath.Join(l.Root(), "secret.txt"):          "secret\n",
		filepath.Join(dir, "wd", ".hidden-but-listed"): "x",
	}
	for p, data := range files {
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		filepath.Join(dir, "wd", "etc"):      "/etc",
		filepath.Join(dir, "wd", "up"):       "../../task2",
		filepath.Join(dir, "wd", "secret"):   "../../../../../secret.txt",
		filepath.Join(dir, "wd", "abs"):      filepath.Join(other, "stdout.txt"),
		filepath.Join(dir, "wd", "inside"):   "../stdout.txt",
		filepath.Join(dir, "wd", "outdir"):   "out",
		filepath.Join(dir, "wd", "dangling"): "nowhere",
	}
	for p, target := range links {
		if err := os.Symlink(target, p); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func paths(infos []FileInfo) []string {
	var ps []string
	for _, fi := range infos {
		ps = append(ps, fi.Path)
	}
	return ps
}

func TestListFiles(t *testing.T) {
	l := makeTaskDir(t)
	top, err := l.ListFiles("job1", "task1", false)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := paths(top), []string{"stderr.txt", "stdout.txt", "wd"}; !slices.Equal(got, want) {
		t.Errorf("ListFiles(non-recursive) = %q, want %q", got, want)
	}
	for _, fi := range top {
		switch fi.Path {
		case "stdout.txt":
			if fi.IsDir || fi.Size != 4 || fi.ModTime.IsZero() || !fi.Mode.IsRegular() {
				t.Errorf("stdout.txt: %+v", fi)
			}
		case "wd":
			if !fi.IsDir || fi.Size != 0 {
				t.Errorf("wd: %+v", fi)
			}
		}
	}

	all, err := l.ListFiles("job1", "task1", true)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"stderr.txt", "stdout.txt", "wd", "wd/.hidden-but-listed", "wd/abs", "wd/dangling", "wd/etc",
		"wd/inside", "wd/out", "wd/out/result.csv", "wd/outdir", "wd/secret", "wd/up",
	}
	if got := paths(all); !slices.Equal(got, want) {
		t.Errorf("ListFiles(recursive) = %q, want %q", got, want)
	}
	for _, fi := range all {
		if fi.Path == "wd/etc" && (fi.IsDir || fi.Mode&fs.ModeSymlink == 0) {
			t.Errorf("wd/etc should be listed as a symbolic link, not followed: %+v", fi)
		}
	}

	if _, err := l.ListFiles("job1", "nosuchtask", false); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ListFiles(unknown task) error = %v, want fs.ErrNotExist", err)
	}
	for _, ids := range [][2]string{{"..", "task1"}, {"job1", ".."}, {"job1/../job1", "task1"}, {"", "task1"}, {"job1", "task1/wd"}} {
		if _, err := l.ListFiles(ids[0], ids[1], true); !errors.Is(err, ErrInvalidID) {
			t.Errorf("ListFiles(%q, %q) error = %v, want ErrInvalidID", ids[0], ids[1], err)
		}
	}
}

func TestOpenFile(t *testing.T) {
	l := makeTaskDir(t)
	ok := map[string]string{
		"stdout.txt":           "out\n",
		"stderr.txt":           "err\n",
		"wd/out/result.csv":    "a,b\n1,2\n",
		"wd/../stdout.txt":     "out\n", // stays inside
		"./wd//out/result.csv": "a,b\n1,2\n",
		"wd/inside":            "out\n", // symbolic link inside the task directory
		"wd/outdir/result.csv": "a,b\n1,2\n",
	}
	for name, want := range ok {
		f, info, err := l.OpenFile("job1", "task1", name)
		if err != nil {
			t.Errorf("OpenFile(%q): %v", name, err)
			continue
		}
		data, err := io.ReadAll(f)
		f.Close()
		if err != nil || string(data) != want {
			t.Errorf("OpenFile(%q) read %q, %v; want %q", name, data, err, want)
		}
		if info.Size != int64(len(want)) || info.IsDir {
			t.Errorf("OpenFile(%q) info = %+v", name, info)
		}
	}

	bad := []struct {
		name string
		want error
	}{
		{"", ErrInvalidPath},
		{".", ErrIsDir},
		{"/etc/passwd", ErrInvalidPath},
		{"..", ErrInvalidPath},
		{"../task2/stdout.txt", ErrInvalidPath},
		{"wd/../../task2/stdout.txt", ErrInvalidPath},
		{"wd/etc/passwd", ErrPathEscapes},
		{"wd/up/stdout.txt", ErrPathEscapes},
		{"wd/secret", ErrPathEscapes},
		{"wd/abs", ErrPathEscapes},
		{"wd", ErrIsDir},
		{"wd/out", ErrIsDir},
		{"missing.txt", fs.ErrNotExist},
		{"wd/dangling", fs.ErrNotExist},
		{".corral-result.json", fs.ErrNotExist},
		{".corral-journal", fs.ErrNotExist},
		{"wd/../.corral-result.json", fs.ErrNotExist},
	}
	for _, tt := range bad {
		f, _, err := l.OpenFile("job1", "task1", tt.name)
		if err == nil {
			f.Close()
			t.Errorf("OpenFile(%q) succeeded, want %v", tt.name, tt.want)
			continue
		}
		if !errors.Is(err, tt.want) {
			t.Errorf("OpenFile(%q) error = %v, want %v", tt.name, err, tt.want)
		}
	}
	if _, _, err := l.OpenFile("..", "task1", "stdout.txt"); !errors.Is(err, ErrInvalidID) {
		t.Errorf("OpenFile with job id \"..\": %v, want ErrInvalidID", err)
	}
}

func TestStatFile(t *testing.T) {
	l := makeTaskDir(t)
	tests := []struct {
		name  string
		path  string // of the answer
		isDir bool
		size  int64
		want  error
	}{
		{name: "stdout.txt", path: "stdout.txt", size: 4},
		{name: "wd/out/result.csv", path: "wd/out/result.csv", size: 8},
		{name: "./wd//out/", path: "wd/out", isDir: true},
		{name: "wd", path: "wd", isDir: true},
		{name: ".", path: ".", isDir: true},
		{name: "wd/inside", path: "wd/inside", size: 4},
		{name: "wd/outdir", path: "wd/outdir", isDir: true},
		{name: "", want: ErrInvalidPath},
		{name: "/etc", want: ErrInvalidPath},
		{name: "../task2", want: ErrInvalidPath},
		{name: "wd/etc", want: ErrPathEscapes},
		{name: "wd/up", want: ErrPathEscapes},
		{name: "wd/secret", want: ErrPathEscapes},
		{name: "missing", want: fs.ErrNotExist},
		{name: "wd/dangling", want: fs.ErrNotExist},
		{name: ".corral-journal", want: fs.ErrNotExist},
	}
	for _, tt := range tests {
		info, err := l.StatFile("job1", "task1", tt.name)
		if tt.want != nil {
			if !errors.Is(err, tt.want) {
				t.Errorf("StatFile(%q) = %+v, %v; want %v", tt.name, info, err, tt.want)
			}
			continue
		}
		if err != nil || info.Path != tt.path || info.IsDir != tt.isDir || info.Size != tt.size || info.ModTime.IsZero() {
			t.Errorf("StatFile(%q) = %+v, %v; want %s, dir %v, size %d", tt.name, info, err, tt.path, tt.isDir, tt.size)
		}
	}
	if _, err := l.StatFile("job1", "nope", "stdout.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("StatFile of a task without a directory: %v, want fs.ErrNotExist", err)
	}
}

func TestPendingResultsAndAck(t *testing.T) {
	l, err := NewLayout(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
	for _, r := range []Result{
		{JobID: "j2", TaskID: "t1", AttemptID: "a3", Started: true, ExitCode: 1, StartTime: t0, EndTime: t0},
		{JobID: "j1", TaskID: "t2", AttemptID: "a2", Started: true, StartTime: t0, EndTime: t0},
		{JobID: "j1", TaskID: "t1", AttemptID: "a1", StartTime: t0, EndTime: t0,
			Failure: &Failure{Category: CategoryUserError, Code: CodeCommandProgramNotFound, Message: "m"}},
		// The jobs of a job schedule s: the first shares the directory a job s would have.
		{JobID: "s:job-1", TaskID: "t1", AttemptID: "a4", Started: true, StartTime: t0, EndTime: t0},
		{JobID: "s:job-2", TaskID: "t1", AttemptID: "a5", Started: true, StartTime: t0, EndTime: t0},
	} {
		dir, _ := l.TaskDir(r.JobID, r.TaskID)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		appendResult(t, dir, r)
	}
	attempts := func() []string { return pendingAttempts(t, l) }
	if got, want := attempts(), []string{"a1", "a2", "a3", "a4", "a5"}; !slices.Equal(got, want) {
		t.Fatalf("PendingResults = %q, want %q", got, want)
	}
	if err := l.AckResult("s:job-1", "t1", "a4"); err != nil {
		t.Fatal(err)
	}
	if err := l.AckResult("s:job-2", "t1", "a5"); err != nil {
		t.Fatal(err)
	}
	if err := l.AckResult("j1", "t2", "stale-attempt"); err != nil {
		t.Fatal(err)
	}
	if err := l.AckResult("j1", "t2", "a2"); err != nil {
		t.Fatal(err)
	}
	if err := l.AckResult("j1", "t2", "a2"); err != nil { // repeated
		t.Fatal(err)
	}
	if err := l.AckResult("j9", "t9", "a9"); err != nil { // no such task
		t.Fatal(err)
	}
	if got, want := attempts(), []string{"a1", "a3"}; !slices.Equal(got, want) {
		t.Fatalf("after AckResult, PendingResults = %q, want %q", got, want)
	}
	res, ok, err := l.ReadResult("j1", "t2")
	if err != nil || !ok || !res.Acknowledged || res.AttemptID != "a2" {
		t.Errorf("ReadResult after ack = %+v, %v, %v", res, ok, err)
	}
	res, ok, err = l.ReadResult("j1", "t1")
	if err != nil || !ok || res.Failure == nil || res.Failure.Code != CodeCommandProgramNotFound || !res.StartTime.Equal(t0) {
		t.Errorf("ReadResult(j1/t1) = %+v, %v, %v", res, ok, err)
	}
	if _, ok, err := l.ReadResult("j1", "none"); ok || err != nil {
		t.Errorf("ReadResult of a task without outcome = %v, %v; want false, nil", ok, err)
	}
}
