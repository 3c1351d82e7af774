//go:build linux

package agent

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"corral/batch"
	"corral/internal/azurite"
)

// runFiles starts an attempt of job1/taskID with resource files and waits for its result.
func (h *harness) runFiles(taskID, commandLine string, rfs []batch.ResourceFile, ofs []batch.OutputFile) Result {
	h.t.Helper()
	id := "attempt-" + taskID
	h.start(TaskSpec{TaskID: taskID, AttemptID: id, CommandLine: commandLine, ResourceFiles: rfs, OutputFiles: ofs})
	return h.result(id)
}

func TestResourceFilesDownload(t *testing.T) {
	az := azurite.Shared(t)
	in := az.NewContainer(t)
	for name, data := range map[string]string{
		"data/a.txt": "A", "data/sub/b.txt": "B", "other/c.txt": "C", "tool.sh": "#!/bin/sh\necho tool\n",
	} {
		az.Put(t, in, name, []byte(data))
	}
	h := newHarness(t, "")
	res := h.runFiles("t1", `/bin/sh -c 'cat inputs/data/a.txt inputs/data/sub/b.txt; echo; test -e inputs/other/c.txt && echo prefix ignored; ./bin/tool.sh; stat -c %a bin/tool.sh inputs/data/a.txt; cat all/other/c.txt'`,
		[]batch.ResourceFile{
			{HTTPURL: az.BlobSAS(t, in, "tool.sh"), FilePath: "bin/tool.sh", FileMode: "0750"},
			{StorageContainerURL: az.ContainerSAS(t, in, "rl"), BlobPrefix: "data/", FilePath: "inputs"},
			{StorageContainerURL: az.ContainerSAS(t, in, "rl"), BlobPrefix: "other", FilePath: "all"},
		}, nil)
	if !res.Started || res.ExitCode != 0 || res.Failure != nil {
		t.Fatalf("result %+v; stderr: %s", res, h.taskFile("t1", StderrFile))
	}
	if got, want := h.taskFile("t1", StdoutFile), "AB\ntool\n750\n770\nC"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
}

func TestResourceFilesWithoutPathGoToTheWorkingDirectory(t *testing.T) {
	az := azurite.Shared(t)
	in := az.NewContainer(t)
	az.Put(t, in, "d/x.txt", []byte("X"))
	h := newHarness(t, "")
	res := h.runFiles("t1", "/bin/cat d/x.txt", []batch.ResourceFile{{StorageContainerURL: az.ContainerSAS(t, in, "rl")}}, nil)
	if res.ExitCode != 0 || h.taskFile("t1", StdoutFile) != "X" {
		t.Fatalf("result %+v, stdout %q", res, h.taskFile("t1", StdoutFile))
	}
}

func TestResourceFileFailures(t *testing.T) {
	az := azurite.Shared(t)
	in := az.NewContainer(t)
	az.Put(t, in, "a.txt", []byte("A"))
	az.Put(t, in, "up/../../escape.txt", []byte("E"))
	outside := t.TempDir()
	badSig := strings.Replace(az.BlobSAS(t, in, "a.txt"), "sig=", "sig=AAAA", 1)
	tests := []struct {
		name string
		rf   batch.ResourceFile
		code string
	}{
		{"blob not found", batch.ResourceFile{HTTPURL: az.BlobSAS(t, in, "missing.txt"), FilePath: "m"}, CodeBlobNotFound},
		{"bad signature", batch.ResourceFile{HTTPURL: badSig, FilePath: "m"}, CodeBlobAccessDenied},
		{"nothing listens", batch.ResourceFile{HTTPURL: "http://127.0.0.1:1/x?sig=SECRET", FilePath: "m"}, CodeBlobDownloadMiscError},
		{"container not found", batch.ResourceFile{StorageContainerURL: az.ContainerSAS(t, "nope", "rl")}, CodeResourceContainerNotFound},
		{"no list permission", batch.ResourceFile{StorageContainerURL: az.ContainerSAS(t, in, "r")}, CodeResourceContainerAccessDenied},
		{"filePath leaves the directory", batch.ResourceFile{HTTPURL: az.BlobSAS(t, in, "a.txt"), FilePath: "../a.txt"}, CodeResourceFileCreateFailed},
		{"absolute filePath", batch.ResourceFile{HTTPURL: az.BlobSAS(t, in, "a.txt"), FilePath: filepath.Join(outside, "a.txt")}, CodeResourceFileCreateFailed},
		{"through a symbolic link", batch.ResourceFile{HTTPURL: az.BlobSAS(t, in, "a.txt"), FilePath: "link/a.txt"}, CodeResourceDirectoryCreateFailed},
	}
	h := newHarness(t, "")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.t = t
			taskID := "f" + string(rune('a'+i))
			dir, err := h.r.TaskDir("job1", taskID)
			if err != nil {
				t.Fatal(err)
			}
			// What an earlier attempt of the task may have left: a link out of its directory.
			wd := filepath.Join(dir, WorkingDirName)
			if err := os.MkdirAll(wd, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, filepath.Join(wd, "link")); err != nil {
				t.Fatal(err)
			}
			res := h.runFiles(taskID, "/bin/true", []batch.ResourceFile{tt.rf}, nil)
			if res.Started || res.Failure == nil || res.Failure.Code != tt.code || res.Failure.Category != CategoryUserError {
				t.Fatalf("result %+v, failure %+v; want %s", res, res.Failure, tt.code)
			}
			if strings.Contains(res.Failure.Message, "sig=") || strings.Contains(res.Failure.Message, "SECRET") {
				t.Errorf("the failure shows a SAS: %s", res.Failure.Message)
			}
			if tr := TaskResultOf("n", res); !strings.HasPrefix(tr.Error, tt.code+": ") {
				t.Errorf("reported as %q", tr.Error)
			}
		})
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("a download wrote outside the working directory: %v", entries)
	}
	// The blob whose name climbs out: downloaded with the container, it is refused.
	h.t = t
	res := h.runFiles("climb", "/bin/true", []batch.ResourceFile{{StorageContainerURL: az.ContainerSAS(t, in, "rl"), BlobPrefix: "up/"}}, nil)
	if res.Failure == nil || res.Failure.Code != CodeResourceFileCreateFailed {
		t.Fatalf("a blob named up/../../escape.txt: result %+v", res)
	}
}

// Kill stops an attempt whose resource files are downloading; it ends killed, never started.
func TestKillWhileDownloading(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	h := newHarness(t, "")
	h.start(TaskSpec{TaskID: "slow", AttemptID: "a1", CommandLine: "/bin/true",
		ResourceFiles: []batch.ResourceFile{{HTTPURL: srv.URL + "/big", FilePath: "big"}}})
	if ids := h.r.Running(); len(ids) != 1 || ids[0] != "a1" {
		t.Fatalf("Running %v while downloading", ids)
	}
	if _, ok := h.r.StartTime("a1"); ok {
		t.Error("StartTime known before the process started")
	}
	if err := h.r.Kill("a1"); err != nil {
		t.Fatal(err)
	}
	res := h.result("a1")
	if res.Started || !res.Killed || res.Failure != nil || res.ExitCode != 137 {
		t.Fatalf("result %+v", res)
	}
	if tr := TaskResultOf("n", res); tr.Error != "" || tr.ExitCode != 137 {
		t.Errorf("reported as %+v", tr)
	}
}
