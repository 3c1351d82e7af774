// Package nodeauth keeps the secrets that let node agents talk to the server: a credential for
// every node, and join tokens that an agent on another machine exchanges for one.
//
// The account key never leaves the server. A node's credential is a random secret that names
// one node of one pool; the server keeps only its SHA-256 hash, in the store (table
// "nodecreds"), and a copy of the hashes in memory so that every agent request is checked
// without touching the store, in constant time. Revoking a node (it is deleted, its pool is
// deleted) deletes its hash: the credential is worthless from that moment.
//
// A join token (table "jointokens") is what an operator or a provider's create program hands
// to a new machine. Its text is
//
//	corral1.<id>.<secret>[.<caFingerprint>]
//
// where the fingerprint (protocol.ParseJoinToken) is that of the server's CA certificate, as
// `kubeadm join --discovery-token-ca-cert-hash` carries it, so the agent can trust the server
// on first contact. A token is either bound to one node (the exec provider issues one for
// each node it creates) or open to any machine that joins its pool (static pools). Tokens
// expire, can be revoked, and are kept as hashes too.
//
// A Registry is safe for concurrent use. It is not actor code: it writes to the store
// synchronously, and is called from HTTP handlers and providers.
package nodeauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"corral/agent/protocol"
	"corral/store"
)

const (
	credTable  = "nodecreds"
	tokenTable = "jointokens"
)

// Errors of join token redemption. They say nothing about which check failed beyond what an
// operator needs in the server's log; the agent sees 401 in every case.
var (
	ErrBadToken     = errors.New("nodeauth: unknown or malformed join token")
	ErrTokenExpired = errors.New("nodeauth: join token expired")
	ErrTokenRevoked = errors.New("nodeauth: join token revoked")
)

// credRecord is a node's credential as stored: the hash only.
type credRecord struct {
	PoolID  string    `json:"poolId"`
	NodeID  string    `json:"nodeId"`
	Hash    string    `json:"hash"` // hex SHA-256 of the secret
	Created time.Time `json:"created"`
}

// JoinToken describes a join token; its secret is never kept.
type JoinToken struct {
	ID      string    `json:"id"`
	PoolID  string    `json:"poolId"`
	NodeID  string    `json:"nodeId,omitempty"` // bound to this node; empty: any machine of the pool
	Hash    string    `json:"hash"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	Revoked bool      `json:"revoked,omitempty"`
	Uses    int       `json:"uses"`
}

type nodeKey struct{ pool, node string }

// Registry issues, checks and revokes node credentials and join tokens.
type Registry struct {
	st    store.Store
	log   *slog.Logger
	now   func() time.Time
	mu    sync.RWMutex
	creds map[nodeKey][]byte // SHA-256 of each node's secret
}

// Open loads the credentials kept in st. now gives the time for token expiry; nil means
// time.Now. log nil means slog.Default().
func Open(ctx context.Context, st store.Store, now func() time.Time, log *slog.Logger) (*Registry, error) {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	r := &Registry{st: st, log: log, now: now, creds: map[nodeKey][]byte{}}
	err := st.View(ctx, func(tx store.Tx) error {
		recs, err := tx.List(credTable, "", "", 0)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			var c credRecord
			if err := json.Unmarshal(rec.Value, &c); err != nil {
				return fmt.Errorf("credential %s: %w", rec.Key, err)
			}
			h, err := hex.DecodeString(c.Hash)
			if err != nil {
				return fmt.Errorf("credential %s: %w", rec.Key, err)
			}
			r.creds[nodeKey{c.PoolID, c.NodeID}] = h
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("nodeauth: load credentials: %w", err)
	}
	return r, nil
}

func credKey(poolID, nodeID string) string { return poolID + "/" + nodeID }

func hashOf(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// HashSecret returns the hex SHA-256 of a secret: what is kept of it.
func HashSecret(secret string) string { return hex.EncodeToString(hashOf(secret)) }

// SecretMatches reports, in constant time, whether secret's hash is hashHex (as HashSecret made
// it). An empty hashHex matches nothing, after the same work.
func SecretMatches(secret, hashHex string) bool {
	want, err := hex.DecodeString(hashHex)
	if err != nil || len(want) != sha256.Size {
		want = make([]byte, sha256.Size)
		subtle.ConstantTimeCompare(hashOf(secret), want)
		return false
	}
	return subtle.ConstantTimeCompare(hashOf(secret), want) == 1
}

// NewSecret returns n random bytes, base64url without padding (no '.', ':' or '/').
func NewSecret(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("nodeauth: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// IssueNode makes a new credential for a node, replacing (and so revoking) any it had, and
// returns its secret: the only copy, to be handed to the node's agent.
func (r *Registry) IssueNode(ctx context.Context, poolID, nodeID string) (string, error) {
	if poolID == "" || nodeID == "" || strings.Contains(poolID, "/") {
		return "", fmt.Errorf("nodeauth: bad node %q of pool %q", nodeID, poolID)
	}
	secret, err := NewSecret(32)
	if err != nil {
		return "", err
	}
	h := hashOf(secret)
	val, err := json.Marshal(credRecord{PoolID: poolID, NodeID: nodeID, Hash: hex.EncodeToString(h), Created: r.now().UTC()})
	if err != nil {
		return "", err
	}
	// The lock spans the write so that a revocation that follows cannot be undone by an
	// issue that committed before it and updates the map after it.
	r.mu.Lock()
	defer r.mu.Unlock()
	err = r.st.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Put(credTable, credKey(poolID, nodeID), val, store.AnyVersion)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("nodeauth: store credential of %s/%s: %w", poolID, nodeID, err)
	}
	r.creds[nodeKey{poolID, nodeID}] = h
	return secret, nil
}

// Check reports whether secret is the credential of the node. It reads no store and compares
// in constant time.
func (r *Registry) Check(poolID, nodeID, secret string) bool {
	r.mu.RLock()
	want, ok := r.creds[nodeKey{poolID, nodeID}]
	r.mu.RUnlock()
	if !ok {
		// Compare anyway, so that an unknown node takes as long as a wrong secret.
		want = make([]byte, sha256.Size)
	}
	return subtle.ConstantTimeCompare(hashOf(secret), want) == 1 && ok
}

// Revoke makes a node's credential worthless: at once in memory, then in the store, with every
// join token bound to the node (one not yet redeemed would otherwise give the node a new
// credential). Revoking a node that has none is not an error.
func (r *Registry) Revoke(ctx context.Context, poolID, nodeID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, had := r.creds[nodeKey{poolID, nodeID}]
	delete(r.creds, nodeKey{poolID, nodeID})
	err := r.st.Update(ctx, func(tx store.Tx) error {
		err := tx.Delete(credTable, credKey(poolID, nodeID), store.AnyVersion)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return eachToken(tx, func(rec store.Record, t JoinToken) error {
			if t.PoolID != poolID || t.NodeID != nodeID || t.Revoked {
				return nil
			}
			t.Revoked = true
			val, err := json.Marshal(t)
			if err != nil {
				return err
			}
			_, err = tx.Put(tokenTable, rec.Key, val, rec.Version)
			return err
		})
	})
	if err != nil {
		return fmt.Errorf("nodeauth: revoke %s/%s: %w", poolID, nodeID, err)
	}
	if had {
		r.log.Info("node credential revoked", "pool", poolID, "node", nodeID)
	}
	return nil
}

// Nodes returns the nodes that hold a credential, as pool/node, in order.
func (r *Registry) Nodes() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.creds))
	for k := range r.creds {
		out = append(out, credKey(k.pool, k.node))
	}
	sort.Strings(out)
	return out
}

// CreateJoinToken makes a join token for a pool (bound to nodeID if it is not empty) that
// expires after ttl, and returns its text, with caFingerprint in it when not empty, and its
// description.
func (r *Registry) CreateJoinToken(ctx context.Context, poolID, nodeID string, ttl time.Duration, caFingerprint string) (string, JoinToken, error) {
	if poolID == "" || strings.Contains(poolID, "/") {
		return "", JoinToken{}, fmt.Errorf("nodeauth: bad pool id %q", poolID)
	}
	if ttl <= 0 {
		return "", JoinToken{}, fmt.Errorf("nodeauth: join token lifetime %v: want a positive duration", ttl)
	}
	id, err := NewSecret(6)
	if err != nil {
		return "", JoinToken{}, err
	}
	secret, err := NewSecret(24)
	if err != nil {
		return "", JoinToken{}, err
	}
	now := r.now().UTC()
	t := JoinToken{ID: id, PoolID: poolID, NodeID: nodeID, Hash: hex.EncodeToString(hashOf(secret)),
		Created: now, Expires: now.Add(ttl)}
	val, err := json.Marshal(t)
	if err != nil {
		return "", JoinToken{}, err
	}
	err = r.st.Update(ctx, func(tx store.Tx) error {
		if err := dropStaleTokens(tx, now); err != nil {
			return err
		}
		_, err := tx.Put(tokenTable, id, val, 0)
		return err
	})
	if err != nil {
		return "", JoinToken{}, fmt.Errorf("nodeauth: store join token: %w", err)
	}
	return protocol.FormatJoinToken(id, secret, caFingerprint), t, nil
}

// eachToken calls fn with every join token in the store, in id order.
func eachToken(tx store.Tx, fn func(rec store.Record, t JoinToken) error) error {
	recs, err := tx.List(tokenTable, "", "", 0)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		var t JoinToken
		if err := json.Unmarshal(rec.Value, &t); err != nil {
			return fmt.Errorf("join token %s: %w", rec.Key, err)
		}
		if err := fn(rec, t); err != nil {
			return err
		}
	}
	return nil
}

// tokenKeep is how long a token is listed after it expired, so that an operator sees why a
// machine could not join; after that it is deleted.
const tokenKeep = 24 * time.Hour

// dropStaleTokens deletes the tokens that expired more than tokenKeep before now.
func dropStaleTokens(tx store.Tx, now time.Time) error {
	return eachToken(tx, func(rec store.Record, t JoinToken) error {
		if now.Sub(t.Expires) > tokenKeep {
			return tx.Delete(tokenTable, rec.Key, rec.Version)
		}
		return nil
	})
}

// JoinTokens returns the pool's join tokens (every pool's if poolID is empty), expired and
// revoked ones included, in id order.
func (r *Registry) JoinTokens(ctx context.Context, poolID string) ([]JoinToken, error) {
	var out []JoinToken
	err := r.st.View(ctx, func(tx store.Tx) error {
		return eachToken(tx, func(_ store.Record, t JoinToken) error {
			if poolID == "" || t.PoolID == poolID {
				out = append(out, t)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("nodeauth: list join tokens: %w", err)
	}
	return out, nil
}

// RevokeJoinToken revokes a token of the pool: it can no longer be redeemed. Credentials it
// was exchanged for stay good (revoke those nodes to end them). It returns an error wrapping
// store.ErrNotFound for a token the pool does not have.
func (r *Registry) RevokeJoinToken(ctx context.Context, poolID, id string) error {
	return r.updateToken(ctx, id, func(t *JoinToken) error {
		if t.PoolID != poolID {
			return fmt.Errorf("join token %s: %w", id, store.ErrNotFound)
		}
		t.Revoked = true
		return nil
	})
}

// updateToken changes the token id in one transaction.
func (r *Registry) updateToken(ctx context.Context, id string, change func(*JoinToken) error) error {
	return r.st.Update(ctx, func(tx store.Tx) error {
		rec, err := tx.Get(tokenTable, id)
		if err != nil {
			return err
		}
		var t JoinToken
		if err := json.Unmarshal(rec.Value, &t); err != nil {
			return fmt.Errorf("join token %s: %w", id, err)
		}
		if err := change(&t); err != nil {
			return err
		}
		val, err := json.Marshal(t)
		if err != nil {
			return err
		}
		_, err = tx.Put(tokenTable, id, val, rec.Version)
		return err
	})
}

// Redeem checks a join token's text and counts a use of it: it returns the token, or an error
// wrapping ErrBadToken, ErrTokenExpired or ErrTokenRevoked (or the store's). A bound token may
// be redeemed more than once until it expires, so that an agent whose first answer was lost
// can try again; each redemption issues a new credential, which revokes the one before.
func (r *Registry) Redeem(ctx context.Context, text string) (JoinToken, error) {
	id, secret, _, err := protocol.ParseJoinToken(text)
	if err != nil {
		return JoinToken{}, ErrBadToken
	}
	var got JoinToken
	err = r.updateToken(ctx, id, func(t *JoinToken) error {
		if !SecretMatches(secret, t.Hash) {
			return ErrBadToken
		}
		switch {
		case t.Revoked:
			return ErrTokenRevoked
		case !r.now().Before(t.Expires):
			return ErrTokenExpired
		}
		t.Uses++
		got = *t
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return JoinToken{}, ErrBadToken
	}
	if err != nil {
		return JoinToken{}, err
	}
	return got, nil
}
