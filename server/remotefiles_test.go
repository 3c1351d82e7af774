package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"corral/actor"
	"corral/agent"
	"corral/agent/protocol"
	"corral/agentlink"
	"corral/api/rest"
	"corral/internal/testlog"
)

// fakeLink is a fileLink that serves one file, "f", from memory, and counts its reads.
type fakeLink struct {
	data  []byte
	err   error // of every call, if set
	reads int
}

func (l *fakeLink) Files(_ context.Context, _, _ string, req protocol.FileRequest) (protocol.FileAnswer, []byte, error) {
	if l.err != nil {
		return protocol.FileAnswer{}, nil, l.err
	}
	if req.Path != "f" {
		return protocol.FileAnswer{}, nil, &protocol.FileError{Code: protocol.FileErrNotFound}
	}
	file := &protocol.FileEntry{Path: "f", Size: int64(len(l.data))}
	switch req.Op {
	case protocol.FileOpStat:
		return protocol.FileAnswer{File: file}, nil, nil
	case protocol.FileOpRead:
		l.reads++
		end := min(req.Offset+req.Length, int64(len(l.data)))
		if req.Offset >= end {
			return protocol.FileAnswer{File: file}, nil, nil
		}
		return protocol.FileAnswer{File: file, Length: end - req.Offset}, l.data[req.Offset:end], nil
	}
	return protocol.FileAnswer{}, nil, fmt.Errorf("fakeLink: op %q", req.Op)
}

func TestRemoteFileReadsInChunks(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		offset    int64
		whence    int
		want      string
		wantReads int
	}{
		{"whole file", 0, io.SeekStart, "0123456789", 3}, // 2, 4 and 4 bytes
		{"from an offset", 5, io.SeekStart, "56789", 2},
		{"from the end", -3, io.SeekEnd, "789", 2},
		{"from the current position", 9, io.SeekCurrent, "9", 1},
		{"at the end", 10, io.SeekStart, "", 0},
		{"past the end", 20, io.SeekStart, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			link := &fakeLink{data: []byte("0123456789")}
			f := remoteFiles{link: link, first: 2, chunk: 4, timeout: time.Second}
			r, info, err := f.OpenFile(ctx, "p", "n", "j", "t", "f")
			if err != nil || info.Size != 10 || info.IsDirectory {
				t.Fatalf("OpenFile = %+v, %v", info, err)
			}
			defer r.Close()
			if _, err := r.Seek(tt.offset, tt.whence); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil || string(got) != tt.want || link.reads != tt.wantReads {
				t.Errorf("read %q, %v in %d reads; want %q in %d", got, err, link.reads, tt.want, tt.wantReads)
			}
		})
	}

	link := &fakeLink{data: []byte("0123456789")}
	r, _, err := remoteFiles{link: link, first: 2, chunk: 4, timeout: time.Second}.OpenFile(ctx, "p", "n", "j", "t", "f")
	if err != nil {
		t.Fatal(err)
	}
	// Reading back within the chunk read last ("2345") asks for nothing again.
	buf := make([]byte, 3)
	io.ReadFull(r, buf)
	r.Seek(2, io.SeekStart)
	if _, err := io.ReadFull(r, buf); err != nil || string(buf) != "234" || link.reads != 2 {
		t.Errorf("read again %q, %v in %d reads; want \"234\" in 2", buf, err, link.reads)
	}
	if _, err := r.Seek(-1, io.SeekStart); err == nil {
		t.Error("seek to -1: no error")
	}
	// The file shrank since the stat: the read ends early.
	link.data = link.data[:5]
	r.Seek(6, io.SeekStart)
	if n, err := r.Read(buf); n != 0 || err != io.EOF {
		t.Errorf("read past a shrunk end: %d, %v; want io.EOF", n, err)
	}
	r.Close()
	if _, err := r.Read(buf); err == nil {
		t.Error("read after Close: no error")
	}
}

func TestRemoteFilesErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"not found", &protocol.FileError{Code: protocol.FileErrNotFound}, fs.ErrNotExist},
		{"invalid path", &protocol.FileError{Code: protocol.FileErrInvalidPath}, rest.ErrInvalidFilePath},
		{"outside the task", &protocol.FileError{Code: protocol.FileErrOutsideTask}, rest.ErrFileOutsideTask},
		{"not connected", fmt.Errorf("x: %w", agentlink.ErrNotConnected), rest.ErrFilesUnavailable},
		{"link closed", fmt.Errorf("x: %w", agentlink.ErrClosed), rest.ErrFilesUnavailable},
		{"timeout", fmt.Errorf("x: %w", context.DeadlineExceeded), context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newRemoteFiles(&fakeLink{err: tt.err})
			if _, err := f.ListFiles(ctx, "p", "n", "j", "t", true); !errors.Is(err, tt.want) {
				t.Errorf("ListFiles: %v, want %v", err, tt.want)
			}
			if _, _, err := f.OpenFile(ctx, "p", "n", "j", "t", "f"); !errors.Is(err, tt.want) {
				t.Errorf("OpenFile: %v, want %v", err, tt.want)
			}
		})
	}
	// A failure while the file is read.
	link := &fakeLink{data: []byte("0123456789")}
	r, _, err := newRemoteFiles(link).OpenFile(ctx, "p", "n", "j", "t", "f")
	if err != nil {
		t.Fatal(err)
	}
	link.err = agentlink.ErrNotConnected
	if _, err := io.ReadAll(r); !errors.Is(err, rest.ErrFilesUnavailable) {
		t.Errorf("read with the node gone: %v", err)
	}
}

// TestNodeFilesChoosesSource: a task directory on the server's disk is read there, any other
// over the link.
func TestNodeFilesChoosesSource(t *testing.T) {
	root := t.TempDir()
	taskTree(t, root)
	link := &fakeLink{data: []byte("remote")}
	f := nodeFiles{local: newLocalFiles(root), remote: remoteFiles{link: link, first: 2, chunk: 4, timeout: time.Second}}
	tests := []struct {
		pool, node, job, task string
		remote                bool
	}{
		{"p1", "n1", "j", "t", false},
		{"p1", "n1", "j", "t2", true},
		{"p1", "n2", "j", "t", true},
		{"p2", "n1", "j", "t", true},
		{"..", "p1", "j", "t", true},
		{"p1", "n1", "..", "t", true},
	}
	for _, tt := range tests {
		_, isRemote := f.source(tt.pool, tt.node, tt.job, tt.task).(remoteFiles)
		if isRemote != tt.remote {
			t.Errorf("%s/%s %s/%s: remote %v, want %v", tt.pool, tt.node, tt.job, tt.task, isRemote, tt.remote)
		}
	}
	r, _, err := f.OpenFile(context.Background(), "p1", "n2", "j", "t", "f")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if b, err := io.ReadAll(r); err != nil || string(b) != "remote" {
		t.Errorf("read of a remote node's file = %q, %v", b, err)
	}
}

// anyCred accepts the credential "c" for every node.
type anyCred struct{}

func (anyCred) Check(_, _, cred string) bool { return cred == "c" }

// quietSession takes an agent's reports and does nothing.
type quietSession struct{}

func (quietSession) Define(m *actor.Machine) {
	m.State("Quiet",
		actor.On(func(*actor.Context, protocol.Hello) {}),
		actor.On(func(*actor.Context, protocol.Heartbeat) {}),
		actor.On(func(*actor.Context, protocol.TaskStarted) {}),
		actor.On(func(*actor.Context, protocol.TaskResult) {}),
	)
}

// linkedAgent runs a Hub in an HTTP server and an agent Client for node n1 of pool p1, rooted
// at root, connected to it; it returns the Hub once the agent answers.
func linkedAgent(tb testing.TB, root string) *agentlink.Hub {
	tb.Helper()
	log := testlog.New(tb)
	engine := actor.NewEngine(actor.Options{Logger: log})
	session := func(poolID, nodeID string) actor.ID { return actor.ID("node/" + poolID + "/" + nodeID) }
	hub := agentlink.NewHub(engine, anyCred{}, session, agentlink.HubOptions{Logger: log})
	if _, err := engine.Create(string(session("p1", "n1")), quietSession{}); err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(protocol.SyncPath, hub)
	mux.Handle(protocol.FilesPath, hub.FilesHandler())
	srv := httptest.NewServer(mux)
	c, err := agent.NewClient(agent.ClientConfig{
		ServerURL: srv.URL, NodeID: "n1", PoolID: "p1", Credential: "c",
		Runner: agent.Config{Root: root}, HeartbeatEvery: time.Hour, Logger: log,
	})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		<-done
		hub.Close()
		srv.Close()
	})
	// Once connected, the agent answers: the task does not exist.
	deadline := time.Now().Add(10 * time.Second)
	for {
		wctx, wcancel := context.WithTimeout(context.Background(), time.Second)
		_, _, err := hub.Files(wctx, "p1", "n1", protocol.FileRequest{JobID: "j", TaskID: "none", Op: protocol.FileOpList})
		wcancel()
		if errors.Is(err, fs.ErrNotExist) {
			return hub
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the agent does not answer: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRemoteFilesMatchLocal: the same task directory read from disk and through its node's
// agent gives the same listings, descriptions, contents and errors.
func TestRemoteFilesMatchLocal(t *testing.T) {
	root := t.TempDir()
	_, secret := taskTree(t, root)
	local := newLocalFiles(root)
	remote := newRemoteFiles(linkedAgent(t, filepath.Join(root, "p1", "n1")))
	ctx := context.Background()

	sameInfo := func(a, b rest.FileInfo) bool {
		return a.Path == b.Path && a.IsDirectory == b.IsDirectory && a.Size == b.Size && a.Mode == b.Mode && a.LastModified.Equal(b.LastModified)
	}
	sameErr := sameFileErr
	for _, tt := range []struct {
		task      string
		recursive bool
	}{{"t", false}, {"t", true}, {"other", true}} {
		want, werr := local.ListFiles(ctx, "p1", "n1", "j", tt.task, tt.recursive)
		got, gerr := remote.ListFiles(ctx, "p1", "n1", "j", tt.task, tt.recursive)
		if !sameErr(werr, gerr) || !slices.EqualFunc(got, want, sameInfo) {
			t.Errorf("ListFiles(%s, %v) = %+v, %v; from disk %+v, %v", tt.task, tt.recursive, got, gerr, want, werr)
		}
	}
	for _, name := range []string{"stdout.txt", "wd/out.txt", "wd/./sub/x.bin", "wd", "wd/sub/", "nope.txt",
		".corral-result.json", "", "../../../../../secret.txt", "wd/../../t/stdout.txt", secret, "wd/esc"} {
		wr, winfo, werr := local.OpenFile(ctx, "p1", "n1", "j", "t", name)
		gr, ginfo, gerr := remote.OpenFile(ctx, "p1", "n1", "j", "t", name)
		if !sameErr(werr, gerr) || !sameInfo(ginfo, winfo) || (wr == nil) != (gr == nil) {
			t.Errorf("OpenFile(%q) = %+v, %v; from disk %+v, %v", name, ginfo, gerr, winfo, werr)
		}
		if wr != nil && gr != nil {
			want, _ := io.ReadAll(wr)
			got, err := io.ReadAll(gr)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("read of %q = %q, %v; from disk %q", name, got, err, want)
			}
		}
		for _, r := range []io.Closer{wr, gr} {
			if r != nil {
				r.Close()
			}
		}
	}
}

// BenchmarkTaskFileRead reads the same file from the server's disk (localFiles) and through
// its node's agent over the link (remoteFiles, over loopback HTTP): a small file, where the
// round trip dominates, and a large one, read in chunks.
func BenchmarkTaskFileRead(b *testing.B) {
	root := b.TempDir()
	l, err := agent.NewLayout(filepath.Join(root, "p1", "n1"))
	if err != nil {
		b.Fatal(err)
	}
	dir, err := l.TaskDir("j", "t")
	if err != nil {
		b.Fatal(err)
	}
	sizes := map[string]int{"1KiB": 1 << 10, "16MiB": 16 << 20}
	for name, size := range sizes {
		data := bytes.Repeat([]byte("corral "), size/7+1)[:size]
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	hub := linkedAgent(b, filepath.Join(root, "p1", "n1"))
	sources := []struct {
		name string
		src  rest.FileSource
	}{{"local", newLocalFiles(root)}, {"link", newRemoteFiles(hub)}}
	for _, size := range []string{"1KiB", "16MiB"} {
		for _, s := range sources {
			b.Run(size+"/"+s.name, func(b *testing.B) {
				b.SetBytes(int64(sizes[size]))
				for b.Loop() {
					r, _, err := s.src.OpenFile(context.Background(), "p1", "n1", "j", "t", size)
					if err != nil {
						b.Fatal(err)
					}
					n, err := io.Copy(io.Discard, r)
					r.Close()
					if err != nil || n != int64(sizes[size]) {
						b.Fatalf("read %d bytes, %v", n, err)
					}
				}
			})
		}
	}
}
