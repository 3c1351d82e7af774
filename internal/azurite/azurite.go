// Package azurite runs Azurite, the Azure Storage emulator, for tests: its blob service on a free
// loopback port, in memory, for the life of one test. Azurite comes from the npm registry,
// pinned in this directory's package.json and package-lock.json: install it with `npm ci` here
// (`bash .ci/run` does). Without it Start skips the test, saying so, unless
// CORRAL_TEST_REQUIRE_AZURITE is set (CI sets it): then the test fails.
package azurite

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
	"runtime"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
)

// Azurite's well-known development account, published in its documentation.
const (
	AccountName = "devstoreaccount1"
	AccountKey  = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Server is a running Azurite blob service.
type Server struct {
	// URL is the account's blob endpoint, http://127.0.0.1:<port>/devstoreaccount1.
	URL    string
	cred   *azblob.SharedKeyCredential
	client *azblob.Client
}

var listening = regexp.MustCompile(`successfully listens on (http://127\.0\.0\.1:\d+)`)

// Start starts Azurite's blob service for t and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	skipUnlessInstalled(t)
	s, stop, err := launch(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return s
}

var shared struct {
	mu     sync.Mutex
	s      *Server
	stop   func()
	dir    string
	err    error
	tried  bool
	serial int
}

// Shared returns the Azurite of the test binary, started by its first caller; a package that
// uses it stops it with StopShared in its TestMain. Tests sharing it keep to containers of their
// own (NewContainer).
func Shared(t testing.TB) *Server {
	t.Helper()
	skipUnlessInstalled(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.tried {
		shared.tried = true
		shared.dir, shared.err = os.MkdirTemp("", "azurite")
		if shared.err == nil {
			shared.s, shared.stop, shared.err = launch(shared.dir)
		}
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.s
}

// StopShared stops the Azurite that Shared started, if any.
func StopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.stop != nil {
		shared.stop()
		shared.stop = nil
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
}

// NewContainer creates a container with a name no other caller in this process gets.
func (s *Server) NewContainer(t testing.TB) string {
	t.Helper()
	shared.mu.Lock()
	shared.serial++
	name := fmt.Sprintf("c%04d", shared.serial)
	shared.mu.Unlock()
	s.CreateContainer(t, name)
	return name
}

// Installed reports whether Azurite and Node.js are installed, for a test that can leave out
// the part that needs them (Start and Shared skip the whole test).
func Installed() bool {
	_, nodeErr := exec.LookPath("node")
	_, err := os.Stat(binary())
	return err == nil && nodeErr == nil
}

// skipUnlessInstalled skips t, or fails it under CORRAL_TEST_REQUIRE_AZURITE, when Azurite or
// Node.js is missing.
func skipUnlessInstalled(t testing.TB) {
	t.Helper()
	if !Installed() {
		msg := "Azurite is not installed: it needs Node.js and `npm ci` in internal/azurite (bash .ci/run does both)"
		if os.Getenv("CORRAL_TEST_REQUIRE_AZURITE") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}

// binary is the path of azurite-blob in this directory's node_modules.
func binary() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "node_modules", ".bin", "azurite-blob")
}

// launch starts Azurite's blob service in dir (its working directory) and returns it and the
// function that kills it.
func launch(dir string) (*Server, func(), error) {
	cmd := exec.Command(binary(), "--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence",
		"--skipApiVersionCheck", "--disableTelemetry", "--silent")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("azurite: %w", err)
	}
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
				break
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	var base string
	select {
	case base = <-found:
	case <-time.After(30 * time.Second):
		stop()
		return nil, nil, fmt.Errorf("azurite: not started within 30s; stderr: %s", stderr.String())
	}
	s := &Server{URL: base + "/" + AccountName}
	s.cred, err = azblob.NewSharedKeyCredential(AccountName, AccountKey)
	if err == nil {
		s.client, err = azblob.NewClientWithSharedKeyCredential(s.URL, s.cred, nil)
	}
	if err != nil {
		stop()
		return nil, nil, err
	}
	return s, stop, nil
}

// CreateContainer creates a container.
func (s *Server) CreateContainer(t testing.TB, name string) {
	t.Helper()
	if _, err := s.client.CreateContainer(context.Background(), name, nil); err != nil {
		t.Fatalf("creating container %s: %v", name, err)
	}
}

// Put uploads a blob.
func (s *Server) Put(t testing.TB, container, name string, data []byte) {
	t.Helper()
	if _, err := s.client.UploadBuffer(context.Background(), container, name, data, nil); err != nil {
		t.Fatalf("uploading %s/%s: %v", container, name, err)
	}
}

// Get downloads a blob; ok is false if it does not exist.
func (s *Server) Get(t testing.TB, container, name string) (data []byte, props blob.GetPropertiesResponse, ok bool) {
	t.Helper()
	ctx := context.Background()
	bc := s.client.ServiceClient().NewContainerClient(container).NewBlobClient(name)
	props, err := bc.GetProperties(ctx, nil)
	if err != nil {
		return nil, props, false
	}
	resp, err := bc.DownloadStream(ctx, nil)
	if err != nil {
		t.Fatalf("downloading %s/%s: %v", container, name, err)
	}
	defer resp.Body.Close()
	data, err = io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("downloading %s/%s: %v", container, name, err)
	}
	return data, props, true
}

// List returns the names of a container's blobs, sorted.
func (s *Server) List(t testing.TB, container string) []string {
	t.Helper()
	var names []string
	pager := s.client.NewListBlobsFlatPager(container, nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatalf("listing %s: %v", container, err)
		}
		for _, b := range page.Segment.BlobItems {
			names = append(names, *b.Name)
		}
	}
	sort.Strings(names)
	return names
}

// ContainerSAS returns the URL of a container with a SAS granting perms ("rl" to read and list,
// "w" or "cw" to write) for an hour. The container need not exist.
func (s *Server) ContainerSAS(t testing.TB, container, perms string) string {
	t.Helper()
	var p sas.ContainerPermissions
	for _, c := range perms {
		switch c {
		case 'r':
			p.Read = true
		case 'l':
			p.List = true
		case 'w':
			p.Write = true
		case 'c':
			p.Create = true
		default:
			t.Fatalf("ContainerSAS: unknown permission %q", c)
		}
	}
	q, err := sas.BlobSignatureValues{
		Protocol:      sas.ProtocolHTTPSandHTTP,
		StartTime:     time.Now().Add(-time.Minute).UTC(),
		ExpiryTime:    time.Now().Add(time.Hour).UTC(),
		Permissions:   p.String(),
		ContainerName: container,
	}.SignWithSharedKey(s.cred)
	if err != nil {
		t.Fatal(err)
	}
	return s.URL + "/" + container + "?" + q.Encode()
}

// BlobSAS returns the URL of a blob with a SAS granting read for an hour.
func (s *Server) BlobSAS(t testing.TB, container, name string) string {
	t.Helper()
	q, err := sas.BlobSignatureValues{
		Protocol:      sas.ProtocolHTTPSandHTTP,
		StartTime:     time.Now().Add(-time.Minute).UTC(),
		ExpiryTime:    time.Now().Add(time.Hour).UTC(),
		Permissions:   (&sas.BlobPermissions{Read: true}).String(),
		ContainerName: container,
		BlobName:      name,
	}.SignWithSharedKey(s.cred)
	if err != nil {
		t.Fatal(err)
	}
	return s.URL + "/" + container + "/" + name + "?" + q.Encode()
}
