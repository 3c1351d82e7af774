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

	"corral/agent/protocol"
)

// CredentialFile is the name of the file, in the node's root directory, that holds the node's
// Identity. It is readable by the agent's user only (0600), and no task directory contains it.
const CredentialFile = "credential"

// Identity is who a node is, and how it proves it: what a node's agent needs to reach the
// server. The local provider writes it before it starts a node's agent; an agent on another
// machine gets it by joining (Join). It is kept in CredentialFile.
type Identity struct {
	ServerURL  string `json:"serverUrl"`
	PoolID     string `json:"poolId"`
	NodeID     string `json:"nodeId"`
	Credential string `json:"credential"`
	// CACert is the PEM of the CA that the server's certificate must chain to; empty when the
	// agent trusts the system's roots, or the server serves plain HTTP on loopback.
	CACert string `json:"caCert,omitempty"`
}

// check returns an error if the identity lacks something an agent needs.
func (id Identity) check() error {
	if id.ServerURL == "" || id.PoolID == "" || id.NodeID == "" || id.Credential == "" {
		return errors.New("agent: the identity lacks the server URL, pool, node or credential")
	}
	return nil
}

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

// maxJoinResponse bounds the join answer the agent reads.
const maxJoinResponse = 1 << 20

// Join exchanges a join token for a node's identity: it POSTs the token to the server's
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
		return Identity{}, fmt.Errorf("agent: join %s refused: %s: %s", serverURL, resp.Status, strings.TrimSpace(string(raw)))
	}
	var jr protocol.JoinResponse
	if err := json.Unmarshal(raw, &jr); err != nil {
		return Identity{}, fmt.Errorf("agent: join %s: bad answer: %w", serverURL, err)
	}
	id := Identity{ServerURL: serverURL, PoolID: jr.PoolID, NodeID: jr.NodeID, Credential: jr.Credential, CACert: jr.CACert}
	if err := id.check(); err != nil {
		return Identity{}, fmt.Errorf("agent: join %s: %w", serverURL, err)
	}
	return id, nil
}
