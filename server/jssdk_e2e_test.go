package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"corral/internal/azurite"
)

// TestJSSDKSurvey runs compat/js/survey.mjs, which calls every method of the official Azure
// Batch JavaScript SDK against a real server and checks each answer against Azure's
// documentation. Every method listed in compat/js/survey-expected.txt must behave as
// documented; the test logs the count and what the others answered.
func TestJSSDKSurvey(t *testing.T) {
	dir := jsSDK(t)
	if dir == "" {
		return
	}
	expected := readExpected(t, filepath.Join(dir, "survey-expected.txt"))
	var env []string
	if os.Geteuid() == 0 && os.Getenv("CORRAL_TEST_NODE_USERS") == "1" {
		env = append(env, "CORRAL_SURVEY_NODE_USERS=1")
	} else {
		t.Log("the node user methods add a user to this machine: they run as root with CORRAL_TEST_NODE_USERS=1 (bash .ci/run sets it)")
		for _, m := range []string{"computeNode.addUser", "computeNode.updateUser", "computeNode.deleteUser"} {
			delete(expected, m)
		}
	}
	// Upload Batch Service Logs needs a container: Azurite's, when it is installed.
	if azurite.Installed() || os.Getenv("CORRAL_TEST_REQUIRE_AZURITE") != "" {
		az := azurite.Shared(t)
		env = append(env, "CORRAL_SURVEY_CONTAINER_URL="+az.ContainerSAS(t, az.NewContainer(t), "cw"))
	} else {
		t.Log("computeNode.uploadBatchServiceLogs uploads to Azurite, which is not installed (npm ci in internal/azurite; bash .ci/run does it)")
		delete(expected, "computeNode.uploadBatchServiceLogs")
	}
	out := runJS(t, dir, "survey.mjs", newE2E(t), env...)
	var survey struct {
		Total   int `json:"total"`
		OK      int `json:"ok"`
		Results map[string]struct {
			OK     bool   `json:"ok"`
			Detail string `json:"detail"`
		} `json:"results"`
	}
	if err := json.Unmarshal(out, &survey); err != nil {
		t.Fatalf("survey.mjs output: %v\n%s", err, out)
	}
	t.Logf("%d of the JavaScript SDK's %d methods behave as Azure documents", survey.OK, survey.Total)
	names := make([]string, 0, len(survey.Results))
	for m := range survey.Results {
		names = append(names, m)
	}
	slices.Sort(names)
	for _, m := range names {
		r := survey.Results[m]
		switch {
		case !r.OK && expected[m]:
			t.Errorf("%s: %s", m, r.Detail)
		case !r.OK:
			t.Logf("not yet: %s: %s", m, r.Detail)
		case !expected[m]:
			t.Logf("%s now behaves as documented: add it to compat/js/survey-expected.txt", m)
		}
	}
	for m := range expected {
		if _, ok := survey.Results[m]; !ok {
			t.Errorf("survey-expected.txt names %s, which the SDK does not have", m)
		}
	}
}

// readExpected reads a list of names, one a line; blank lines and lines starting with # are
// left out.
func readExpected(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			names[line] = true
		}
	}
	return names
}

// TestJSSDKWorkflow runs compat/js/workflow.mjs, a realistic program on the JavaScript SDK: a
// pool with a start task, a job with preparation and release tasks, 500 tasks with dependencies
// added as parallel collections, polled with $filter, $select and paging, then the job
// terminated and deleted; beside it, a job schedule that recurs every minute creates two jobs
// (the program waits what is left of that minute, Azure's shortest recurrenceInterval, for the
// second), and is terminated and deleted with its jobs before the pool is. The program checks
// every answer. With Azurite, ten of the tasks download a blob as a resource file and upload it
// again as an output file, checked here.
func TestJSSDKWorkflow(t *testing.T) {
	dir := jsSDK(t)
	if dir == "" {
		return
	}
	var env []string
	var az *azurite.Server
	var out string
	if azurite.Installed() || os.Getenv("CORRAL_TEST_REQUIRE_AZURITE") != "" {
		az = azurite.Shared(t)
		in := az.NewContainer(t)
		az.Put(t, in, "input.txt", []byte("from storage\n"))
		out = az.NewContainer(t)
		env = append(env, "CORRAL_WORKFLOW_INPUT_URL="+az.BlobSAS(t, in, "input.txt"), "CORRAL_WORKFLOW_OUTPUT_URL="+az.ContainerSAS(t, out, "cw"))
	} else {
		t.Log("the workflow's resource and output files need Azurite, which is not installed (npm ci in internal/azurite; bash .ci/run does it)")
	}
	t.Logf("workflow.mjs: %s", bytes.TrimSpace(runJS(t, dir, "workflow.mjs", newE2E(t), env...)))
	if az == nil {
		return
	}
	for i := range 10 {
		name := fmt.Sprintf("wf/%d.txt", i)
		if b, _, ok := az.Get(t, out, name); !ok || string(b) != "from storage\n" {
			t.Errorf("output file %s: %q (found: %v), want what the resource file held", name, b, ok)
		}
	}
}

// runJS runs a program of compat/js against the server of e, with env added to the test's
// environment, and returns its standard output; the test fails if the program does.
func runJS(t *testing.T, dir, script string, e *e2eEnv, env ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, script), e.srv.base)
	cmd.Env = append(append(os.Environ(), env...), "CORRAL_ACCOUNT_NAME=corral", "CORRAL_ACCOUNT_KEY="+base64.StdEncoding.EncodeToString(e.key))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, errb.String())
	}
	return out.Bytes()
}
