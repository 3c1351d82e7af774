package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"corral/agent/protocol"
	"corral/batch"
	"corral/internal/testlog"
	"corral/service"
)

func TestStartRefusesProvider(t *testing.T) {
	prog := filepath.Join(t.TempDir(), "prog")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	progs := ExecConfig{Create: prog, Delete: prog}
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown provider", Config{Provider: "cloud"}, `unknown provider "cloud": want local, static or exec`},
		{"exec without programs", Config{Provider: ProviderExec}, "CreateProgram"},
		{"exec with the local provider's options", Config{Provider: ProviderExec, Exec: progs, FailureRate: 0.5}, "local provider's"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Listen, cfg.DataDir, cfg.Logger = "127.0.0.1:0", t.TempDir(), testlog.New(t)
			cfg.Account = Account{Name: "corral", Key: []byte("test-key-0123456789")}
			srv, err := Start(cfg)
			if err == nil {
				srv.Close()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

// TestExecProvider runs a server whose nodes come from programs: a pool of one node runs the
// create program with a join token bound to the node and where to reach the server, never the
// account key; deleting the pool runs the delete program.
func TestExecProvider(t *testing.T) {
	t.Setenv("CORRAL_ACCOUNT_KEY", "c2VjcmV0LWtleQ==")
	ctl := t.TempDir()
	t.Setenv("SERVERTEST_DIR", ctl)
	prog := filepath.Join(t.TempDir(), "prog")
	script := "#!/bin/sh\nset -eu\nenv > \"$SERVERTEST_DIR/$CORRAL_OPERATION.env\"\necho \"vm-$CORRAL_NODE_ID\"\n"
	if err := os.WriteFile(prog, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	srv, err := Start(Config{
		Listen:   "127.0.0.1:0",
		DataDir:  dir,
		Account:  Account{Name: "corral", Key: []byte("test-key-0123456789")},
		Logger:   testlog.New(t),
		Provider: ProviderExec,
		Exec:     ExecConfig{Create: prog, Delete: prog, ServerURL: "https://corral.example:8765", PassEnv: []string{"SERVERTEST_DIR"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if srv.Provider() != nil {
		t.Error("Provider() is not nil with the exec provider")
	}
	replies := make(chan service.Reply, 1)
	if _, err := srv.Runtime().Create("test.requester", &requester{replies: replies}); err != nil {
		t.Fatal(err)
	}
	req := func(id string) service.Request { return service.Request{ID: id, ReplyTo: "test.requester"} }
	one := int32(1)
	if r := ask(t, srv.Runtime(), replies, service.AddPool{Request: req("1"), Pool: batch.Pool{ID: "p1", VMSize: "Standard_D2s_v3", TargetDedicatedNodes: &one}}); r.Err != nil {
		t.Fatalf("add pool: %+v", r.Err)
	}
	env := waitEnv(t, filepath.Join(ctl, "create.env"))
	for k, want := range map[string]string{
		"CORRAL_POOL_ID": "p1", "CORRAL_VM_SIZE": "Standard_D2s_v3", "CORRAL_PRIORITY": "dedicated",
		"CORRAL_SERVER_URL": "https://corral.example:8765",
	} {
		if env[k] != want {
			t.Errorf("create program got %s=%q, want %q", k, env[k], want)
		}
	}
	id, _, _, err := protocol.ParseJoinToken(env["CORRAL_JOIN_TOKEN"])
	if err != nil {
		t.Fatalf("create program got CORRAL_JOIN_TOKEN that does not parse: %v", err)
	}
	toks, err := srv.creds.JoinTokens(context.Background(), "p1")
	if err != nil || len(toks) != 1 || toks[0].ID != id || toks[0].NodeID != env["CORRAL_NODE_ID"] || toks[0].Expires.Before(time.Now().Add(30*time.Minute)) {
		t.Errorf("join tokens of p1 = %+v, %v; want the create program's, bound to its node, good for 40 minutes", toks, err)
	}
	if v, ok := env["CORRAL_ACCOUNT_KEY"]; ok {
		t.Errorf("create program got the account key %q", v)
	}
	if _, err := os.Stat(filepath.Join(dir, execDir, "nodes", "p1", env["CORRAL_NODE_ID"]+".json")); err != nil {
		t.Errorf("no record of the node in the data directory: %v", err)
	}
	// The create program has written its environment, but it may not have answered yet: deleting
	// the pool now would cancel the creation, whose handle nobody knows (the delete program then
	// gets none). Wait for the handle in the node's record.
	rec := filepath.Join(dir, execDir, "nodes", "p1", env["CORRAL_NODE_ID"]+".json")
	deadline := time.Now().Add(30 * time.Second)
	for b, _ := os.ReadFile(rec); !strings.Contains(string(b), "vm-"+env["CORRAL_NODE_ID"]); b, _ = os.ReadFile(rec) {
		if time.Now().After(deadline) {
			t.Fatalf("the node's record never got the create program's handle: %s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := ask(t, srv.Runtime(), replies, service.DeletePool{Request: req("2"), PoolID: "p1"}); r.Err != nil {
		t.Fatalf("delete pool: %+v", r.Err)
	}
	env = waitEnv(t, filepath.Join(ctl, "delete.env"))
	if want := "vm-" + env["CORRAL_NODE_ID"]; env["CORRAL_NODE_HANDLE"] != want {
		t.Errorf("delete program got CORRAL_NODE_HANDLE=%q, want %q", env["CORRAL_NODE_HANDLE"], want)
	}
}

// waitEnv waits for a program to write its environment to path, and returns it.
func waitEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil && strings.Contains(string(b), "CORRAL_OPERATION=") {
			env := map[string]string{}
			for _, line := range strings.Split(string(b), "\n") {
				if k, v, ok := strings.Cut(line, "="); ok {
					env[k] = v
				}
			}
			return env
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no environment in %s", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
