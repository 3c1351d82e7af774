package server

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"corral/batch"
	"corral/internal/azurite"
)

// TestTaskFilesThroughTheAPI runs tasks with resource files and output files through the REST API
// on a real server and its local node agents, against Azurite: files come in and go out, a blob
// that does not exist fails its task as a pre-processing error (not retried), and an upload to a
// container that does not exist fails its task as a file upload error whose exitConditions let
// its dependent run.
func TestTaskFilesThroughTheAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	az := azurite.Start(t)
	az.CreateContainer(t, "inputs")
	az.CreateContainer(t, "outputs")
	az.Put(t, "inputs", "tool.txt", []byte("tool "))
	az.Put(t, "inputs", "data/x.txt", []byte("x"))
	az.Put(t, "inputs", "other/y.txt", []byte("y"))
	out := az.ContainerSAS(t, "outputs", "cw")
	output := func(pattern, u, path string, cond batch.UploadCondition) batch.OutputFile {
		return batch.OutputFile{
			FilePattern:   pattern,
			Destination:   &batch.OutputFileDestination{Container: &batch.OutputFileBlobContainerDestination{ContainerURL: u, Path: path}},
			UploadOptions: &batch.OutputFileUploadOptions{UploadCondition: cond},
		}
	}

	e := newE2E(t)
	addPoolAndDAGJob(t, e.srv.base, e.key, "p1", "j1", 1, 2)
	two := int32(2)
	tasks := []batch.Task{
		{ID: "in-out", CommandLine: `/bin/sh -c 'cat bin/tool.txt in/data/x.txt > result.txt; ls in'`,
			ResourceFiles: []batch.ResourceFile{
				{HTTPURL: az.BlobSAS(t, "inputs", "tool.txt"), FilePath: "bin/tool.txt", FileMode: "0640"},
				{StorageContainerURL: az.ContainerSAS(t, "inputs", "rl"), BlobPrefix: "data/", FilePath: "in"},
			},
			OutputFiles: []batch.OutputFile{
				output("result.txt", out, "in-out/result.txt", batch.UploadOnSuccess),
				output("../std*.txt", out, "in-out/logs", batch.UploadOnCompletion),
				output("result.txt", out, "in-out/failed.txt", batch.UploadOnFailure),
			}},
		{ID: "no-blob", CommandLine: "/bin/true", Constraints: &batch.TaskConstraints{MaxTaskRetryCount: &two},
			ResourceFiles: []batch.ResourceFile{{HTTPURL: az.BlobSAS(t, "inputs", "missing.txt"), FilePath: "m"}}},
		{ID: "no-container", CommandLine: `/bin/sh -c 'echo z > z.txt'`,
			OutputFiles:    []batch.OutputFile{output("*.txt", az.ContainerSAS(t, "nowhere", "cw"), "", batch.UploadOnCompletion)},
			ExitConditions: &batch.ExitConditions{FileUploadError: &batch.ExitOptions{DependencyAction: batch.DependencySatisfy}}},
		{ID: "after-upload-error", CommandLine: "/bin/true", DependsOn: &batch.TaskDependencies{TaskIDs: []string{"no-container"}}},
	}
	var added struct {
		Value []struct{ Status, TaskID string } `json:"value"`
	}
	if code := call(t, e.srv.base, e.key, "POST", "/jobs/j1/addtaskcollection", map[string]any{"value": tasks}, &added); code != http.StatusOK {
		t.Fatalf("add tasks: %d", code)
	}
	for _, a := range added.Value {
		if a.Status != "success" {
			t.Fatalf("task %s: %s", a.TaskID, a.Status)
		}
	}

	got := map[string]batch.Task{}
	deadline := time.Now().Add(90 * time.Second)
	for len(got) < len(tasks) {
		var list struct{ Value []batch.Task }
		if code := call(t, e.srv.base, e.key, "GET", "/jobs/j1/tasks", nil, &list); code == http.StatusOK {
			for _, tk := range list.Value {
				if tk.State == batch.TaskCompleted {
					got[tk.ID] = tk
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("tasks not completed: %+v", list.Value)
		}
		time.Sleep(100 * time.Millisecond)
	}

	if ei := got["in-out"].ExecutionInfo; ei.Result != batch.ResultSuccess || ei.FailureInfo != nil {
		t.Errorf("in-out: %+v, failure %+v", ei, ei.FailureInfo)
	}
	blobs := az.List(t, "outputs")
	if want := []string{"in-out/logs/stderr.txt", "in-out/logs/stdout.txt", "in-out/result.txt"}; !slices.Equal(blobs, want) {
		t.Errorf("blobs %v, want %v", blobs, want)
	}
	if data, _, _ := az.Get(t, "outputs", "in-out/result.txt"); string(data) != "tool x" {
		t.Errorf("result.txt: %q", data)
	}
	if data, _, _ := az.Get(t, "outputs", "in-out/logs/stdout.txt"); string(data) != "data\n" {
		t.Errorf("stdout.txt: %q (the container's blobs outside the prefix were downloaded?)", data)
	}

	checkFailure := func(id, code string, exitCode *int32, retries int32) {
		t.Helper()
		ei := got[id].ExecutionInfo
		fi := ei.FailureInfo
		if ei.Result != batch.ResultFailure || fi == nil || fi.Code != code || fi.Category != batch.UserError {
			t.Errorf("%s: %+v, failure %+v; want %s", id, ei, fi, code)
			return
		}
		if strings.Contains(fi.Message, "sig=") {
			t.Errorf("%s: the failure shows a SAS: %s", id, fi.Message)
		}
		if (ei.ExitCode == nil) != (exitCode == nil) || exitCode != nil && *ei.ExitCode != *exitCode {
			t.Errorf("%s: exit code %v, want %v", id, ei.ExitCode, exitCode)
		}
		if ei.RetryCount != retries {
			t.Errorf("%s: retried %d times", id, ei.RetryCount)
		}
	}
	zero := int32(0)
	checkFailure("no-blob", "BlobNotFound", nil, 0)
	checkFailure("no-container", "FileUploadContainerNotFound", &zero, 0)
	if ei := got["after-upload-error"].ExecutionInfo; ei.Result != batch.ResultSuccess {
		t.Errorf("after-upload-error: %+v", ei)
	}

	// SAS tokens are secrets: neither the server's log nor the agents' hold one.
	logs := []string{e.srv.log}
	agentLogs, _ := filepath.Glob(filepath.Join(e.data, "nodes", "*", "*", "agent.log"))
	if len(agentLogs) == 0 {
		agentLogs, _ = filepath.Glob(filepath.Join(e.data, "nodes", "*", "agent.log"))
	}
	for _, l := range append(logs, agentLogs...) {
		b, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "sig=") {
			t.Errorf("%s holds a SAS", l)
		}
	}
	if len(agentLogs) == 0 {
		t.Error("no agent log found to check")
	}
}
