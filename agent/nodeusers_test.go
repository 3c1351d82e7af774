package agent

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeMachine is a machine's users as NodeUsers sees them: the commands it ran, with their
// standard input, and the users that exist.
type fakeMachine struct {
	home  string
	users map[string]bool
	ran   []string
	stdin []string
}

func newFakeUsers(t *testing.T) (*NodeUsers, *fakeMachine) {
	t.Helper()
	m := &fakeMachine{home: t.TempDir(), users: map[string]bool{"root": true}}
	n := &NodeUsers{
		state:     filepath.Join(t.TempDir(), "node-users.json"),
		supported: true,
		lookup:    func(name string) bool { return m.users[name] },
		home: func(name string) (string, int, int, error) {
			return filepath.Join(m.home, name), os.Getuid(), os.Getgid(), nil
		},
		run: func(_ context.Context, stdin, name string, args ...string) ([]byte, error) {
			m.ran = append(m.ran, strings.Join(append([]string{name}, args...), " "))
			m.stdin = append(m.stdin, stdin)
			if len(args) == 0 {
				return nil, nil
			}
			user := args[len(args)-1]
			switch name {
			case "useradd":
				m.users[user] = true
				return nil, os.MkdirAll(filepath.Join(m.home, user), 0o755)
			case "userdel":
				delete(m.users, user)
			}
			return nil, nil
		},
	}
	return n, m
}

// NodeUsers adds, changes and deletes only the users it added, hands the password to chpasswd
// on its standard input (never in arguments), writes the SSH key, and refuses names and values
// a Linux account cannot have.
func TestNodeUsers(t *testing.T) {
	ctx := context.Background()
	expiry := time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)
	n, m := newFakeUsers(t)

	if err := n.Add(ctx, NodeUser{Name: "alice", Password: "s3cret:pass", SSHPublicKey: "ssh-ed25519 AAAA alice", Expiry: expiry}); err != nil {
		t.Fatal(err)
	}
	want := []string{"useradd --create-home --shell /bin/bash --expiredate 2026-12-09 -- alice", "chpasswd"}
	if !slices.Equal(m.ran, want) {
		t.Errorf("ran %q, want %q", m.ran, want)
	}
	if m.stdin[1] != "alice:s3cret:pass\n" {
		t.Errorf("chpasswd's input %q", m.stdin[1])
	}
	for _, c := range m.ran {
		if strings.Contains(c, "s3cret") {
			t.Errorf("the password is in the arguments of %q", c)
		}
	}
	keys := filepath.Join(m.home, "alice", ".ssh", "authorized_keys")
	if b, err := os.ReadFile(keys); err != nil || string(b) != "ssh-ed25519 AAAA alice\n" {
		t.Errorf("authorized_keys: %q, %v", b, err)
	}
	if fi, err := os.Stat(keys); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("authorized_keys mode: %v, %v", fi, err)
	}

	// Update replaces: no password locks password login, no key removes the key.
	m.ran = nil
	if err := n.Update(ctx, NodeUser{Name: "alice", Expiry: expiry.AddDate(0, 0, 2)}); err != nil {
		t.Fatal(err)
	}
	want = []string{"usermod --expiredate 2026-12-11 -- alice", "usermod --lock -- alice"}
	if !slices.Equal(m.ran, want) {
		t.Errorf("ran %q, want %q", m.ran, want)
	}
	if _, err := os.Stat(keys); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("authorized_keys after an update without a key: %v", err)
	}

	for _, tc := range []struct {
		name string
		err  error
		call func() error
	}{
		{"add again", ErrNodeUserExists, func() error { return n.Add(ctx, NodeUser{Name: "alice"}) }},
		{"add a user of the machine", ErrNodeUserExists, func() error { return n.Add(ctx, NodeUser{Name: "root"}) }},
		{"update a user of the machine", ErrNodeUserNotFound, func() error { return n.Update(ctx, NodeUser{Name: "root", Password: "x"}) }},
		{"delete a user of the machine", ErrNodeUserNotFound, func() error { return n.Delete(ctx, "root") }},
		{"delete one never added", ErrNodeUserNotFound, func() error { return n.Delete(ctx, "bob") }},
		{"uppercase name", ErrInvalidNodeUser, func() error { return n.Add(ctx, NodeUser{Name: "Bob"}) }},
		{"option as name", ErrInvalidNodeUser, func() error { return n.Add(ctx, NodeUser{Name: "-r"}) }},
		{"path as name", ErrInvalidNodeUser, func() error { return n.Add(ctx, NodeUser{Name: "../x"}) }},
		{"long name", ErrInvalidNodeUser, func() error { return n.Add(ctx, NodeUser{Name: strings.Repeat("a", 33)}) }},
		{"password with a line break", ErrInvalidNodeUser, func() error { return n.Add(ctx, NodeUser{Name: "carol", Password: "a\nroot:x"}) }},
		{"key of two lines", ErrInvalidNodeUser, func() error { return n.Add(ctx, NodeUser{Name: "carol", SSHPublicKey: "a\nb"}) }},
	} {
		if err := tc.call(); !errors.Is(err, tc.err) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
		}
	}
	if !m.users["root"] {
		t.Fatal("root was deleted")
	}

	if err := n.Add(ctx, NodeUser{Name: "bob", IsAdmin: false}); err != nil {
		t.Fatal(err)
	}
	m.ran = nil
	if err := n.Delete(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := n.DeleteAll(ctx); err != nil {
		t.Fatal(err)
	}
	want = []string{"userdel --remove -- alice", "userdel --remove -- bob"}
	if !slices.Equal(m.ran, want) || m.users["alice"] || m.users["bob"] {
		t.Errorf("ran %q (want %q); users %v", m.ran, want, m.users)
	}
	if names, err := n.load(); err != nil || len(names) != 0 {
		t.Errorf("users left in the state file: %v, %v", names, err)
	}

	n.supported = false
	if err := n.Add(ctx, NodeUser{Name: "dave"}); !errors.Is(err, ErrNodeUsersUnsupported) {
		t.Errorf("add where unsupported: %v", err)
	}
}

// On a real Linux machine, as root, a node user is an account with a home, a password hash in
// /etc/shadow and the SSH key, and is gone with its home after Delete. It changes the machine's
// users, so it runs only when CORRAL_TEST_NODE_USERS=1 (bash .ci/run sets it).
func TestNodeUsersOnThisMachine(t *testing.T) {
	if runtime.GOOS != "linux" || os.Geteuid() != 0 || os.Getenv("CORRAL_TEST_NODE_USERS") != "1" {
		t.Skip("adds a real user to this machine: run as root on Linux with CORRAL_TEST_NODE_USERS=1 (bash .ci/run does)")
	}
	if _, err := exec.LookPath("useradd"); err != nil {
		t.Fatal("useradd is missing")
	}
	ctx := context.Background()
	n := NewNodeUsers(t.TempDir())
	name := "corraltest" + strings.ToLower(strings.ReplaceAll(time.Now().Format("150405.000"), ".", ""))
	t.Cleanup(func() { n.DeleteAll(context.Background()) })
	if err := n.Add(ctx, NodeUser{Name: name, Password: "Passw0rd-test", SSHPublicKey: "ssh-ed25519 AAAAtest test", Expiry: time.Now().Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(u.HomeDir, ".ssh", "authorized_keys")); err != nil || !strings.HasPrefix(string(b), "ssh-ed25519") {
		t.Errorf("authorized_keys: %q, %v", b, err)
	}
	shadow, err := os.ReadFile("/etc/shadow")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(shadow), "\n") {
		if f := strings.Split(line, ":"); f[0] == name && (len(f) < 2 || !strings.HasPrefix(f[1], "$")) {
			t.Errorf("shadow entry %q has no password hash", line)
		}
	}
	if err := n.Delete(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, err := user.Lookup(name); err == nil {
		t.Error("the user is still there after Delete")
	}
	if _, err := os.Stat(u.HomeDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("home directory after Delete: %v", err)
	}
}
