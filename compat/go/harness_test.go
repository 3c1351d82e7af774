// Package compat drives a real `corral server` with the official Azure SDK for Go's Batch client
// (github.com/Azure/azure-sdk-for-go/sdk/batch/azbatch), which authenticates with bearer tokens
// only. The tests build the corral binary from the repository around this module and run it as
// a process, over TLS on loopback (azcore's bearer-token policy refuses to send a token over
// plain HTTP), trusting the server's own CA.
package compat

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/batch/azbatch"
)

// batchScope is the scope azbatch asks its credential for.
const batchScope = "https://batch.core.windows.net//.default"

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	binDir    string
)

func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "corral-compat-go-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// corralBin builds the corral binary of the repository around this module, once.
func corralBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binPath = filepath.Join(binDir, "corral")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/corral")
		cmd.Dir = filepath.Join("..", "..")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build corral: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// server is a `corral server` process serving TLS on a loopback port of its own.
type server struct {
	url    string
	data   string
	caFile string
	cmd    *exec.Cmd
	log    *lockedBuffer
}

// startServer starts `corral server --tls --listen 127.0.0.1:0` on a fresh data directory with
// args added, and waits until it serves. env is added to a minimal environment.
func startServer(t *testing.T, env []string, args ...string) *server {
	t.Helper()
	data := t.TempDir()
	cmd := exec.Command(corralBin(t), append([]string{"server", "--listen", "127.0.0.1:0", "--tls", "--data", data, "--node-lost-after", "5s"}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + data}, env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{data: data, cmd: cmd, log: &lockedBuffer{}}
	cmd.Stderr = s.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.stop(t) })
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(30 * time.Second)
	for s.url == "" || s.caFile == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("corral server exited before serving; its log:\n%s", s.log)
			}
			if rest, ok := strings.CutPrefix(line, "corral server: serving "); ok {
				s.url, _, _ = strings.Cut(rest, " ")
			}
			if _, rest, ok := strings.Cut(line, "clients trust the CA in "); ok {
				s.caFile, _, _ = strings.Cut(rest, " ")
			}
		case <-deadline:
			t.Fatalf("corral server did not serve within 30s; its log:\n%s", s.log)
		}
	}
	go func() {
		for range lines { // keep the pipe drained
		}
	}()
	return s
}

// stop ends the server (SIGTERM, then SIGKILL) and kills the node agents it left: they run in
// sessions of their own and outlive it by design.
func (s *server) stop(t *testing.T) {
	if s.cmd.ProcessState == nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			s.cmd.Process.Kill()
			<-done
		}
	}
	pidFiles, _ := filepath.Glob(filepath.Join(s.data, "nodes", "*", "*", "node.pid"))
	for _, f := range pidFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "pid "); ok {
				if pid, err := strconv.Atoi(v); err == nil && pid > 1 {
					syscall.Kill(-pid, syscall.SIGKILL) // the agent leads its session's group
				}
			}
		}
	}
	if t.Failed() {
		t.Logf("corral server log:\n%s", s.log)
	}
}

// client is an azbatch client of s with cred, trusting s's CA.
func (s *server) client(t *testing.T, cred azcore.TokenCredential) *azbatch.Client {
	t.Helper()
	pem, err := os.ReadFile(s.caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("no certificate in %s", s.caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	t.Cleanup(tr.CloseIdleConnections)
	c, err := azbatch.NewClient(s.url, cred, &azbatch.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: &http.Client{Transport: tr},
		Retry:     policy.RetryOptions{MaxRetries: 1, RetryDelay: 100 * time.Millisecond},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// credential is an azcore.TokenCredential whose tokens come from mint, given the scope asked
// for; it records the scopes.
type credential struct {
	mint   func(scope string) string
	mu     sync.Mutex
	scopes []string
}

func staticCredential(token string) *credential {
	return &credential{mint: func(string) string { return token }}
}

// GetToken implements azcore.TokenCredential.
func (c *credential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	c.scopes = append(c.scopes, opts.Scopes...)
	c.mu.Unlock()
	scope := ""
	if len(opts.Scopes) > 0 {
		scope = opts.Scopes[0]
	}
	return azcore.AccessToken{Token: c.mint(scope), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (c *credential) askedScopes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.scopes...)
}

// writeTokenFile writes tokens to a 0600 file and returns its path.
func writeTokenFile(t *testing.T, tokens ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte("# test tokens\n"+strings.Join(tokens, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// lockedBuffer is an io.Writer safe for concurrent use: a server's log.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var _ io.Writer = (*lockedBuffer)(nil)
