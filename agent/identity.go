package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"corral/agent/protocol"
)

// CredentialFile is the name of the file, in the node's root directory, that holds the node's
// Identity. It is readable by the agent's user only (0600), and no task directory contains it.
const CredentialFile = "credential"

// Identity is who a node is, and how it proves it: what a node's agent needs to reach the
// server. The local provider writes it before it starts a node's agent; an agent on another
// machine gets it by joining (Join). It is kept in CredentialFile.
type Identity struct {
	// ServerURL is the server's base URL, or a comma-separated list of the base URLs of the
	// replicas of one service (see Servers and Failover).
	ServerURL  string `json:"serverUrl"`
	PoolID     string `json:"poolId"`
	NodeID     string `json:"nodeId,omitempty"`
	Credential string `json:"credential,omitempty"`
	// MachineID and MachineCredential are set for a machine of a static pool: it is lent to a
	// node at a time (NodeID and Credential, empty while it waits for one; see Await).
	MachineID         string `json:"machineId,omitempty"`
	MachineCredential string `json:"machineCredential,omitempty"`
	// CACert is the PEM of the CA that the server's certificate must chain to; empty when the
	// agent trusts the system's roots, or the server serves plain HTTP on loopback.
	CACert string `json:"caCert,omitempty"`
}

// check returns an error if the identity lacks something an agent needs.
func (id Identity) check() error {
	switch {
	case id.ServerURL == "" || id.PoolID == "":
		return errors.New("agent: the identity lacks the server URL or pool")
	case (id.NodeID == "") != (id.Credential == ""):
		return errors.New("agent: the identity has a node without a credential, or a credential without a node")
	case id.NodeID == "" && (id.MachineID == "" || id.MachineCredential == ""):
		return errors.New("agent: the identity names neither a node nor a machine")
	}
	return nil
}

// firstServer is the first of the identity's servers: requests are built against it, and a
// Failover transport sends them to the current one.
func (id Identity) firstServer() string {
	if s := Servers(id.ServerURL); len(s) > 0 {
		return s[0]
	}
	return id.ServerURL
}

// IsMachine reports whether the identity is that of a machine of a static pool.
func (id Identity) IsMachine() bool { return id.MachineID != "" }

// LoadIdentity reads the node's identity from root's CredentialFile. It returns an error
// wrapping fs.ErrNotExist when there is none.
func LoadIdentity(root string) (Identity, error) {
	b, err := os.ReadFile(filepath.Join(root, CredentialFile))
	if err != nil {
		return Identity{}, fmt.Errorf("agent: read the node's credential: %w", err)
	}
	var id Identity
	if err := json.Unmarshal(b, &id); err != nil {
		return Identity{}, fmt.Errorf("agent: %s: %w", filepath.Join(root, CredentialFile), err)
	}
	if err := id.check(); err != nil {
		return Identity{}, fmt.Errorf("%w (in %s)", err, filepath.Join(root, CredentialFile))
	}
	return id, nil
}

// SaveIdentity writes the node's identity to root's CredentialFile, readable by its owner only,
// replacing any: atomically, so that a crash leaves the old one or the new one.
func SaveIdentity(root string, id Identity) error {
	if err := id.check(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("agent: save the node's credential: %w", err)
	}
	tmp, err := os.CreateTemp(root, ".credential-*")
	if err != nil {
		return fmt.Errorf("agent: save the node's credential: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("agent: save the node's credential: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("agent: save the node's credential: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("agent: save the node's credential: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("agent: save the node's credential: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(root, CredentialFile)); err != nil {
		return fmt.Errorf("agent: save the node's credential: %w", err)
	}
	return nil
}

// ErrJoinRefused is wrapped by the error Join returns when the server answered and refused (a
// stale, revoked or unknown token, a pool that takes no machines): trying again will not help,
// unlike a server that could not be reached.
var ErrJoinRefused = errors.New("join refused")

// maxJoinResponse bounds the join answer the agent reads.
const maxJoinResponse = 1 << 20

// Join exchanges a join token for a node's (or a static pool machine's) identity: it POSTs the token to the server's
// protocol.JoinPath with client, which must already trust the server (for a first contact over
// TLS, a client that pins the CA fingerprint the token carries). hostname is sent for the
// server's log. A refusal (a stale, revoked or unknown token) is an error that says so.
func Join(ctx context.Context, client *http.Client, serverURL, token, hostname string) (Identity, error) {
	if _, _, _, err := protocol.ParseJoinToken(token); err != nil {
		return Identity{}, fmt.Errorf("agent: %w", err)
	}
	body, err := json.Marshal(protocol.JoinRequest{Token: strings.TrimSpace(token), Hostname: hostname})
	if err != nil {
		return Identity{}, err
	}
	url := strings.TrimRight(serverURL, "/") + protocol.JoinPath
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Identity{}, fmt.Errorf("agent: join: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return Identity{}, fmt.Errorf("agent: join %s: %w", serverURL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxJoinResponse))
	if err != nil {
		return Identity{}, fmt.Errorf("agent: join %s: %w", serverURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		err := fmt.Errorf("agent: join %s: %w: %s: %s", serverURL, ErrJoinRefused, resp.Status, strings.TrimSpace(string(raw)))
		if resp.StatusCode >= 500 {
			err = fmt.Errorf("agent: join %s: %s: %s", serverURL, resp.Status, strings.TrimSpace(string(raw)))
		}
		return Identity{}, err
	}
	var jr protocol.JoinResponse
	if err := json.Unmarshal(raw, &jr); err != nil {
		return Identity{}, fmt.Errorf("agent: join %s: bad answer: %w", serverURL, err)
	}
	id := Identity{ServerURL: serverURL, PoolID: jr.PoolID, NodeID: jr.NodeID, Credential: jr.Credential,
		MachineID: jr.MachineID, MachineCredential: jr.MachineCredential, CACert: jr.CACert}
	if err := id.check(); err != nil {
		return Identity{}, fmt.Errorf("agent: join %s: %w", serverURL, err)
	}
	return id, nil
}

// ErrMachineRefused is wrapped by the error Await returns when the server refuses the
// machine's credential: the machine was removed from its pool.
var ErrMachineRefused = errors.New("the server refused the machine's credential")

// Await asks the server, for a machine of a static pool, which node it is to be: it long polls
// protocol.AssignPath for up to wait and returns id with NodeID and Credential filled in, or
// unchanged (NodeID empty) if the machine is still free.
func Await(ctx context.Context, client *http.Client, id Identity, wait time.Duration) (Identity, error) {
	body, err := json.Marshal(protocol.AssignmentRequest{WaitMillis: wait.Milliseconds()})
	if err != nil {
		return id, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(id.firstServer(), "/")+protocol.AssignPath, bytes.NewReader(body))
	if err != nil {
		return id, fmt.Errorf("agent: await a node: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", protocol.MachineAuthorizationHeader(id.PoolID, id.MachineID, id.MachineCredential))
	resp, err := client.Do(req)
	if err != nil {
		return id, fmt.Errorf("agent: await a node: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxJoinResponse))
	if err != nil {
		return id, fmt.Errorf("agent: await a node: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return id, fmt.Errorf("agent: %w (machine %s of pool %s): it was removed from the pool", ErrMachineRefused, id.MachineID, id.PoolID)
	default:
		return id, fmt.Errorf("agent: await a node: %s: %s", resp.Status, strings.TrimSpace(string(raw)))
	}
	var ar protocol.AssignmentResponse
	if err := json.Unmarshal(raw, &ar); err != nil {
		return id, fmt.Errorf("agent: await a node: bad answer: %w", err)
	}
	if (ar.NodeID == "") != (ar.Credential == "") {
		return id, errors.New("agent: await a node: an answer with a node but no credential, or the reverse")
	}
	id.NodeID, id.Credential = ar.NodeID, ar.Credential
	return id, nil
}
