//go:build linux

package agent

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"corral/batch"
	"corral/internal/azurite"
)

func TestMatchOutputFiles(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{
		"stdout.txt", "stderr.txt", "wd/a.txt", "wd/.hidden.txt", "wd/sub/b.txt", "wd/sub/deep/c.txt",
		"wd/sub/.h/d.txt", "wd/x.log", "wd/y.log", "wd/abc*", "wd/abcd",
	} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "wd", "link.txt")); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	tests := []struct {
		pattern, prefix string
		want            []string // local=blob
		fails           bool
	}{
		{"*.txt", "", []string{"wd/a.txt=a.txt"}, false},
		{"**/*.txt", "out", []string{"wd/a.txt=out/a.txt", "wd/sub/b.txt=out/sub/b.txt", "wd/sub/deep/c.txt=out/sub/deep/c.txt"}, false},
		{".*.txt", "", []string{"wd/.hidden.txt=.hidden.txt"}, false},
		{"sub/**", "s/", []string{"wd/sub/b.txt=s/b.txt", "wd/sub/deep/c.txt=s/deep/c.txt"}, false},
		{"sub/*/c.txt", "", []string{"wd/sub/deep/c.txt=deep/c.txt"}, false},
		{"../std*.txt", "t1", []string{"stderr.txt=t1/stderr.txt", "stdout.txt=t1/stdout.txt"}, false},
		{"a.txt", "results/first.txt", []string{"wd/a.txt=results/first.txt"}, false},
		{"sub/b.txt", "", []string{"wd/sub/b.txt=b.txt"}, false},
		{"?.log", "", []string{"wd/x.log=x.log", "wd/y.log=y.log"}, false},
		{"[!x].log", "", []string{"wd/y.log=y.log"}, false},
		{"[a-x].log", "", []string{"wd/x.log=x.log"}, false},
		{"abc[*]", "", []string{"wd/abc*=abc*"}, false},
		{"missing.txt", "", nil, false},
		{"nodir/*.txt", "", nil, false},
		{filepath.Join(dir, "wd", "x.log"), "", []string{"wd/x.log=x.log"}, false},
		{"../../etc/passwd", "", nil, true},
		{"/etc/passwd", "", nil, true},
		{"../../*", "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			files, f := matchOutputFiles(root, dir, tt.pattern, tt.prefix)
			if (f != nil) != tt.fails {
				t.Fatalf("failure %+v, want failing %v", f, tt.fails)
			}
			if f != nil && f.Code != CodeFileUploadMiscError {
				t.Errorf("failure code %s", f.Code)
			}
			var got []string
			for _, m := range files {
				got = append(got, m.local+"="+m.blob)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// out is an output file to container URL u.
func out(pattern, u, path string, cond batch.UploadCondition, headers ...batch.HTTPHeader) batch.OutputFile {
	return batch.OutputFile{
		FilePattern:   pattern,
		Destination:   &batch.OutputFileDestination{Container: &batch.OutputFileBlobContainerDestination{ContainerURL: u, Path: path, UploadHeaders: headers}},
		UploadOptions: &batch.OutputFileUploadOptions{UploadCondition: cond},
	}
}

func TestOutputFilesUpload(t *testing.T) {
	az := azurite.Shared(t)
	outputs := az.NewContainer(t)
	u := az.ContainerSAS(t, outputs, "cw")
	h := newHarness(t, "")
	for _, tt := range []struct {
		task string
		code int
		want []string
	}{
		{"good", 0, []string{"good.dat", "good/ok/a.txt", "good/ok/d/b.txt", "good/stdout"}},
		{"bad", 3, []string{"bad.dat", "bad/failed/a.txt", "bad/stdout"}},
	} {
		files := []batch.OutputFile{
			out("**/*.txt", u, tt.task+"/ok", batch.UploadOnSuccess),
			out("*.txt", u, tt.task+"/failed", batch.UploadOnFailure),
			out("../stdout.txt", u, tt.task+"/stdout", batch.UploadOnCompletion,
				batch.HTTPHeader{Name: "Content-Type", Value: "text/plain"}, batch.HTTPHeader{Name: "x-ms-meta-run", Value: "7"}),
			out("$AZ_BATCH_TASK_ID.dat", u, "", batch.UploadOnCompletion),
		}
		cmd := `/bin/sh -c 'mkdir d && echo A > a.txt && echo B > d/b.txt && echo D > $AZ_BATCH_TASK_ID.dat && echo out; exit ` + string(rune('0'+tt.code)) + `'`
		res := h.runFiles(tt.task, cmd, nil, files)
		if res.ExitCode != tt.code || res.UploadFailure != nil {
			t.Fatalf("%s: result %+v, upload failure %+v", tt.task, res, res.UploadFailure)
		}
		var got []string
		for _, b := range az.List(t, outputs) {
			if strings.HasPrefix(b, tt.task) {
				got = append(got, b)
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: blobs %v, want %v", tt.task, got, tt.want)
		}
	}
	data, props, ok := az.Get(t, outputs, "good/stdout")
	if !ok || string(data) != "out\n" {
		t.Fatalf("good/stdout: %q, %v", data, ok)
	}
	run := ""
	for k, v := range props.Metadata {
		if strings.EqualFold(k, "run") && v != nil {
			run = *v
		}
	}
	if props.ContentType == nil || *props.ContentType != "text/plain" || run != "7" {
		t.Errorf("headers not set: content type %v, metadata %v", props.ContentType, props.Metadata)
	}
	if data, _, _ := az.Get(t, outputs, "good/ok/d/b.txt"); string(data) != "B\n" {
		t.Errorf("good/ok/d/b.txt: %q", data)
	}
	if log := h.taskFile("good", uploadOutFile); !strings.Contains(log, "good/stdout") || strings.Contains(log, "sig=") {
		t.Errorf("fileuploadout.txt: %q", log)
	}
}

func TestOutputFileUploadFailures(t *testing.T) {
	az := azurite.Shared(t)
	outputs := az.NewContainer(t)
	good := az.ContainerSAS(t, outputs, "cw")
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusBadRequest)
	}))
	defer refusing.Close()
	tests := []struct {
		name string
		url  string
		code string
	}{
		{"container not found", az.ContainerSAS(t, "nowhere", "cw"), CodeFileUploadContainerNotFound},
		{"no write permission", az.ContainerSAS(t, outputs, "r"), CodeFileUploadAccessDenied},
		{"storage refuses", refusing.URL + "/devstoreaccount1/outputs?sig=SECRET", CodeFileUploadMiscError},
	}
	h := newHarness(t, "")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.t = t
			task := "u" + string(rune('a'+i))
			res := h.runFiles(task, `/bin/sh -c 'echo X > x.txt; exit 2'`, nil, []batch.OutputFile{
				out("x.txt", tt.url, "", batch.UploadOnCompletion),
				out("x.txt", good, task+"/x.txt", batch.UploadOnFailure),
			})
			f := res.UploadFailure
			if !res.Started || res.ExitCode != 2 || f == nil || f.Code != tt.code || f.Category != CategoryUserError {
				t.Fatalf("result %+v, upload failure %+v; want %s", res, f, tt.code)
			}
			if strings.Contains(f.Message, "sig=") || strings.Contains(f.Message, "SECRET") {
				t.Errorf("the failure shows a SAS: %s", f.Message)
			}
			tr := TaskResultOf("n", res)
			if !strings.HasPrefix(tr.UploadError, tt.code+": ") || tr.Error != "" || tr.ExitCode != 2 {
				t.Errorf("reported as %+v", tr)
			}
			if log := h.taskFile(task, uploadErrFile); !strings.Contains(log, tt.code) || strings.Contains(log, "sig=") {
				t.Errorf("fileuploaderr.txt: %q", log)
			}
			if _, _, ok := az.Get(t, outputs, task+"/x.txt"); !ok {
				t.Error("the other output file was not uploaded")
			}
		})
	}
}

// A task ended by Kill uploads nothing.
func TestKilledTaskUploadsNothing(t *testing.T) {
	az := azurite.Shared(t)
	outputs := az.NewContainer(t)
	h := newHarness(t, "")
	h.start(TaskSpec{TaskID: "k", AttemptID: "k1", CommandLine: `/bin/sh -c 'echo X > x.txt; exec sleep 60'`,
		OutputFiles: []batch.OutputFile{out("x.txt", az.ContainerSAS(t, outputs, "cw"), "", batch.UploadOnCompletion)}})
	h.waitForFile("k", "wd/x.txt")
	if err := h.r.Kill("k1"); err != nil {
		t.Fatal(err)
	}
	if res := h.result("k1"); !res.Killed || res.UploadFailure != nil {
		t.Fatalf("result %+v", res)
	}
	if blobs := az.List(t, outputs); len(blobs) != 0 {
		t.Errorf("a killed task uploaded %v", blobs)
	}
}

// waitForFile waits until a file of a task's directory exists.
func (h *harness) waitForFile(taskID, name string) {
	h.t.Helper()
	dir, err := h.r.TaskDir("job1", taskID)
	if err != nil {
		h.t.Fatal(err)
	}
	eventually(h.t, name+" written", func() bool { return fileExists(filepath.Join(dir, name)) })
}
