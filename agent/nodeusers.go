package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// NodeUser is an account that Compute Node - Add User asks a node to have: a Linux user of the
// machine the agent runs on, with a home directory, who may log in with the password or the SSH
// key (over the machine's own SSH server, if it runs one). The password never reaches a command
// line or a log: it is handed to chpasswd on its standard input.
type NodeUser struct {
	Name    string
	IsAdmin bool // a member of the machine's sudo (or wheel) group
	// Expiry is when the account stops working. Linux keeps an account's expiry as a day, so
	// the account expires at the end of the UTC day that holds Expiry.
	Expiry       time.Time
	Password     string // "" for none: password login is locked
	SSHPublicKey string // "" for none
}

// Errors of NodeUsers, each wrapped with details.
var (
	// ErrNodeUsersUnsupported: the agent cannot add users here (it does not run as root on
	// Linux, or the machine lacks useradd).
	ErrNodeUsersUnsupported = errors.New("this node cannot add user accounts")
	// ErrNodeUserExists: the name is taken, by a user this agent added or any other of the
	// machine's.
	ErrNodeUserExists = errors.New("the node user exists")
	// ErrNodeUserNotFound: this agent added no user of that name. Users the agent did not add
	// are never changed or deleted.
	ErrNodeUserNotFound = errors.New("the node user does not exist")
	// ErrInvalidNodeUser: a name, password or key that cannot be given to a Linux account.
	ErrInvalidNodeUser = errors.New("invalid node user")
)

// userNamePattern is what NodeUsers accepts as a name: Debian's default NAME_REGEX, at most 32
// bytes (useradd's limit).
var userNamePattern = regexp.MustCompile(`^[a-z][-a-z0-9_]{0,31}$`)

// CommandRunner runs a program with stdin as its standard input and returns its combined
// output. NodeUsers runs useradd, usermod, userdel, chpasswd and gpasswd through it.
type CommandRunner func(ctx context.Context, stdin string, name string, args ...string) ([]byte, error)

// runCommand is the CommandRunner of a real machine.
func runCommand(ctx context.Context, stdin string, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	return cmd.CombinedOutput()
}

// NodeUsers adds, changes and deletes the accounts of Compute Node - Add User, Update User and
// Delete User on the agent's machine. It keeps the names of the users it added in a file, and
// touches no other user: a name the machine already has is ErrNodeUserExists, and one this
// agent did not add is ErrNodeUserNotFound. Several agents on one machine (the local provider's
// nodes) share its users: a name can be on one of them at a time.
type NodeUsers struct {
	state string // the file of the names this agent added
	run   CommandRunner
	// lookup reports whether the machine has a user of the name (user.Lookup on a real one).
	lookup func(name string) bool
	// home returns the home directory of a user this agent added, and its uid and gid.
	home      func(name string) (dir string, uid, gid int, err error)
	supported bool
	mu        sync.Mutex
}

// NewNodeUsers returns the NodeUsers of an agent whose own files are in dir. Users are
// supported when the agent runs as root on Linux and the machine has useradd.
func NewNodeUsers(dir string) *NodeUsers {
	_, err := exec.LookPath("useradd")
	return &NodeUsers{
		state:     filepath.Join(dir, "node-users.json"),
		run:       runCommand,
		lookup:    func(name string) bool { _, err := user.Lookup(name); return err == nil },
		home:      lookupHome,
		supported: runtime.GOOS == "linux" && os.Geteuid() == 0 && err == nil,
	}
}

func lookupHome(name string) (string, int, int, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return "", 0, 0, err
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return "", 0, 0, err
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return "", 0, 0, err
	}
	return u.HomeDir, uid, gid, nil
}

// Add creates the account.
func (n *NodeUsers) Add(ctx context.Context, u NodeUser) error {
	if err := n.check(u.Name, u.Password, u.SSHPublicKey); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	names, err := n.load()
	if err != nil {
		return err
	}
	if slices.Contains(names, u.Name) || n.lookup(u.Name) {
		return fmt.Errorf("%w: %s", ErrNodeUserExists, u.Name)
	}
	args := []string{"--create-home", "--shell", "/bin/bash", "--expiredate", expiryDay(u.Expiry)}
	if u.IsAdmin {
		group, err := n.adminGroup()
		if err != nil {
			return err
		}
		args = append(args, "--groups", group)
	}
	if out, err := n.run(ctx, "", "useradd", append(args, "--", u.Name)...); err != nil {
		return commandError("useradd", out, err)
	}
	// Recorded before anything else can fail, so that a half-made user can still be deleted.
	if err := n.save(append(names, u.Name)); err != nil {
		return err
	}
	return n.setCredentials(ctx, u.Name, u.Password, u.SSHPublicKey)
}

// Update replaces the password, the SSH key and the expiry of a user this agent added; an empty
// password or key removes it, as Azure's Update User does.
func (n *NodeUsers) Update(ctx context.Context, u NodeUser) error {
	if err := n.check(u.Name, u.Password, u.SSHPublicKey); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.own(u.Name); err != nil {
		return err
	}
	if out, err := n.run(ctx, "", "usermod", "--expiredate", expiryDay(u.Expiry), "--", u.Name); err != nil {
		return commandError("usermod", out, err)
	}
	return n.setCredentials(ctx, u.Name, u.Password, u.SSHPublicKey)
}

// Delete removes a user this agent added, with its home directory.
func (n *NodeUsers) Delete(ctx context.Context, name string) error {
	if err := n.check(name, "", ""); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.own(name); err != nil {
		return err
	}
	return n.remove(ctx, name)
}

// DeleteAll removes every user this agent added (a reimage starts the node afresh).
func (n *NodeUsers) DeleteAll(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	names, err := n.load()
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		errs = append(errs, n.remove(ctx, name))
	}
	return errors.Join(errs...)
}

// remove deletes a user of the state file, and then its name from the file. A user the machine
// no longer has (deleted by hand) only leaves the file.
func (n *NodeUsers) remove(ctx context.Context, name string) error {
	if n.lookup(name) {
		if out, err := n.run(ctx, "", "userdel", "--remove", "--", name); err != nil {
			return commandError("userdel", out, err)
		}
	}
	names, err := n.load()
	if err != nil {
		return err
	}
	return n.save(slices.DeleteFunc(names, func(s string) bool { return s == name }))
}

// check refuses what cannot be given to a Linux account, and everything when users are not
// supported here.
func (n *NodeUsers) check(name, password, key string) error {
	if !n.supported {
		return fmt.Errorf("%w: the agent must run as root on Linux, with useradd", ErrNodeUsersUnsupported)
	}
	switch {
	case !userNamePattern.MatchString(name):
		return fmt.Errorf("%w: name %q: want a lowercase letter, then up to 31 lowercase letters, digits, '-' or '_'", ErrInvalidNodeUser, name)
	case strings.ContainsAny(password, "\n\r\x00"):
		return fmt.Errorf("%w: the password has a line break or NUL", ErrInvalidNodeUser)
	case strings.ContainsAny(key, "\n\r\x00"):
		return fmt.Errorf("%w: the SSH public key must be one line", ErrInvalidNodeUser)
	}
	return nil
}

// own reports ErrNodeUserNotFound for a user this agent did not add.
func (n *NodeUsers) own(name string) error {
	names, err := n.load()
	if err != nil {
		return err
	}
	if !slices.Contains(names, name) {
		return fmt.Errorf("%w: %s", ErrNodeUserNotFound, name)
	}
	return nil
}

// setCredentials sets the user's password (locked when empty) and authorized SSH key.
func (n *NodeUsers) setCredentials(ctx context.Context, name, password, key string) error {
	if password == "" {
		if out, err := n.run(ctx, "", "usermod", "--lock", "--", name); err != nil {
			return commandError("usermod", out, err)
		}
	} else if out, err := n.run(ctx, name+":"+password+"\n", "chpasswd"); err != nil {
		// chpasswd's output names the user, never the password.
		return commandError("chpasswd", out, err)
	}
	dir, uid, gid, err := n.home(name)
	if err != nil {
		return fmt.Errorf("agent: node user %s: %w", name, err)
	}
	sshDir := filepath.Join(dir, ".ssh")
	keys := filepath.Join(sshDir, "authorized_keys")
	if key == "" {
		if err := os.Remove(keys); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("agent: node user %s: %w", name, err)
		}
		return nil
	}
	if err := os.MkdirAll(sshDir, 0o700); err != nil {
		return fmt.Errorf("agent: node user %s: %w", name, err)
	}
	if err := os.WriteFile(keys, []byte(key+"\n"), 0o600); err != nil {
		return fmt.Errorf("agent: node user %s: %w", name, err)
	}
	for _, p := range []string{sshDir, keys} {
		if err := os.Lchown(p, uid, gid); err != nil {
			return fmt.Errorf("agent: node user %s: %w", name, err)
		}
	}
	return nil
}

// adminGroup is the group whose members may use sudo: sudo (Debian, Ubuntu) or wheel.
func (n *NodeUsers) adminGroup() (string, error) {
	for _, g := range []string{"sudo", "wheel"} {
		if _, err := user.LookupGroup(g); err == nil {
			return g, nil
		}
	}
	return "", fmt.Errorf("%w: the machine has neither a sudo nor a wheel group for an admin user", ErrNodeUsersUnsupported)
}

// expiryDay is the date useradd and usermod take for an account that works until the end of
// the UTC day of t.
func expiryDay(t time.Time) string {
	return t.UTC().AddDate(0, 0, 1).Format(time.DateOnly)
}

func commandError(name string, out []byte, err error) error {
	return fmt.Errorf("agent: %s: %w: %s", name, err, bytes.TrimSpace(out))
}

func (n *NodeUsers) load() ([]string, error) {
	b, err := os.ReadFile(n.state)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("agent: node users: %w", err)
	}
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return nil, fmt.Errorf("agent: node users %s: %w", n.state, err)
	}
	return names, nil
}

func (n *NodeUsers) save(names []string) error {
	b, err := json.Marshal(names)
	if err != nil {
		return fmt.Errorf("agent: node users: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(n.state), 0o700); err != nil {
		return fmt.Errorf("agent: node users: %w", err)
	}
	if err := writeSynced(n.state, b); err != nil {
		return fmt.Errorf("agent: node users: %w", err)
	}
	return nil
}
