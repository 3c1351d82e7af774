package compat

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
)

// Azurite's well-known development account, published in its documentation.
const (
	azuriteAccount = "devstoreaccount1"
	azuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// azuriteMissing says how to install Azurite, for a test that runs without it.
const azuriteMissing = "Azurite is not installed: it needs Node.js and `npm ci` in internal/azurite (bash .ci/run does both)"

// azuriteListening is the line Azurite's blob service prints once it serves.
var azuriteListening = regexp.MustCompile(`successfully listens on (http://127\.0\.0\.1:\d+)`)

// azurite is a running Azurite blob service (the Azure Storage emulator) and a client of its
// development account: it serves the blobs of tasks' resource files and output files. It is the
// Azurite that Corral's own tests use, installed from the npm registry by `npm ci` in
// ../../internal/azurite (bash .ci/run does it) and pinned by that directory's
// package-lock.json; this module does not import Corral's packages, so it starts it itself.
type azurite struct {
	client *azblob.Client
}

// azuriteBinary is the path of azurite-blob as `npm ci` installs it in internal/azurite.
func azuriteBinary() (string, error) {
	return filepath.Abs(filepath.Join("..", "..", "internal", "azurite", "node_modules", ".bin", "azurite-blob"))
}

// startAzurite starts Azurite's blob service, in memory on a free loopback port, for the life
// of t. Without Azurite or Node.js it logs how to install them and returns nil, so that the test
// runs without blobs; under CORRAL_TEST_REQUIRE_AZURITE (which CI sets) it fails t instead.
func startAzurite(t *testing.T) *azurite {
	t.Helper()
	bin, err := azuriteBinary()
	if err != nil {
		t.Fatal(err)
	}
	_, nodeErr := exec.LookPath("node")
	if _, err := os.Stat(bin); err != nil || nodeErr != nil {
		if os.Getenv("CORRAL_TEST_REQUIRE_AZURITE") != "" {
			t.Fatal(azuriteMissing)
		}
		t.Log(azuriteMissing)
		return nil
	}
	dir := t.TempDir() // Azurite's working directory; removed after the cleanup below kills it
	cmd := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence",
		"--skipApiVersionCheck", "--disableTelemetry", "--silent")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // node may start children: kill them all
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer // read only after Wait
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting Azurite: %v", err)
	}
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}
	t.Cleanup(stop)

	found := make(chan string, 1)
	go func() {
		defer close(found)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := azuriteListening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout) // keep the pipe drained until Azurite exits
	}()
	var base string
	select {
	case base = <-found:
	case <-time.After(30 * time.Second):
	}
	if base == "" {
		stop()
		t.Fatalf("Azurite did not serve within 30s; its stderr:\n%s", stderr.String())
	}

	cred, err := azblob.NewSharedKeyCredential(azuriteAccount, azuriteKey)
	if err != nil {
		t.Fatalf("Azurite's account key: %v", err)
	}
	client, err := azblob.NewClientWithSharedKeyCredential(base+"/"+azuriteAccount, cred, nil)
	if err != nil {
		t.Fatalf("Azurite's blob client: %v", err)
	}
	return &azurite{client: client}
}

// createContainer creates a container.
func (a *azurite) createContainer(ctx context.Context, name string) error {
	if _, err := a.client.CreateContainer(ctx, name, nil); err != nil {
		return fmt.Errorf("creating container %s: %w", name, err)
	}
	return nil
}

// put uploads a blob.
func (a *azurite) put(ctx context.Context, container, name string, data []byte) error {
	if _, err := a.client.UploadBuffer(ctx, container, name, data, nil); err != nil {
		return fmt.Errorf("uploading %s/%s: %w", container, name, err)
	}
	return nil
}

// get downloads a blob.
func (a *azurite) get(ctx context.Context, container, name string) ([]byte, error) {
	resp, err := a.client.DownloadStream(ctx, container, name, nil)
	if err != nil {
		return nil, fmt.Errorf("downloading %s/%s: %w", container, name, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("downloading %s/%s: %w", container, name, err)
	}
	return data, nil
}

// blobSAS returns a blob's URL with a SAS that may read it for an hour.
func (a *azurite) blobSAS(container, name string) (string, error) {
	u, err := a.client.ServiceClient().NewContainerClient(container).NewBlobClient(name).
		GetSASURL(sas.BlobPermissions{Read: true}, time.Now().Add(time.Hour), nil)
	if err != nil {
		return "", fmt.Errorf("a SAS for %s/%s: %w", container, name, err)
	}
	return u, nil
}

// containerSAS returns a container's URL with a SAS that may create and write its blobs for an
// hour, as output files need.
func (a *azurite) containerSAS(container string) (string, error) {
	u, err := a.client.ServiceClient().NewContainerClient(container).
		GetSASURL(sas.ContainerPermissions{Create: true, Write: true}, time.Now().Add(time.Hour), nil)
	if err != nil {
		return "", fmt.Errorf("a SAS for container %s: %w", container, err)
	}
	return u, nil
}
