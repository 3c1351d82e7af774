package nodeauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"corral/agent/protocol"
)

// maxJoinBody bounds a join request's body.
const maxJoinBody = 16 << 10

// Assigner decides which node a machine that redeemed an open (pool-wide) join token becomes.
// It returns an error when the pool cannot take it. Nil: open tokens are refused.
type Assigner func(poolID, hostname string) (nodeID string, err error)

// JoinHandler serves protocol.JoinPath: it redeems a join token and answers with the
// credential of the node the agent is to be (protocol.JoinResponse), issued at that moment.
// A token bound to a node gives that node; an open one gives the node assign picks. caCert
// returns the PEM of the server's CA for the agent's later connections ("" without TLS).
//
// Every refusal is a 401 with the same short text, whatever the reason (the log says which),
// so that the endpoint tells a prober nothing about which tokens exist.
func JoinHandler(reg *Registry, assign Assigner, caCert func() string, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed: use POST", http.StatusMethodNotAllowed)
			return
		}
		var req protocol.JoinRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJoinBody)).Decode(&req); err != nil {
			http.Error(w, "bad join request", http.StatusBadRequest)
			return
		}
		tok, err := reg.Redeem(r.Context(), req.Token)
		if err != nil {
			log.Warn("join refused", "remote", r.RemoteAddr, "hostname", req.Hostname, "reason", reason(err))
			http.Error(w, "join token refused: unknown, expired or revoked", http.StatusUnauthorized)
			return
		}
		nodeID := tok.NodeID
		if nodeID == "" {
			if assign == nil {
				log.Warn("join refused: the pool's nodes are not made by joining", "pool", tok.PoolID, "token", tok.ID, "remote", r.RemoteAddr)
				http.Error(w, fmt.Sprintf("pool %s does not take machines that join by themselves", tok.PoolID), http.StatusConflict)
				return
			}
			nodeID, err = assign(tok.PoolID, req.Hostname)
			if err != nil {
				log.Warn("join refused", "pool", tok.PoolID, "token", tok.ID, "remote", r.RemoteAddr, "err", err)
				http.Error(w, err.Error(), http.StatusConflict)
				return
			}
		}
		cred, err := reg.IssueNode(r.Context(), tok.PoolID, nodeID)
		if err != nil {
			log.Error("join failed", "pool", tok.PoolID, "node", nodeID, "err", err)
			http.Error(w, "the server could not issue a credential; try again", http.StatusServiceUnavailable)
			return
		}
		resp := protocol.JoinResponse{PoolID: tok.PoolID, NodeID: nodeID, Credential: cred}
		if caCert != nil {
			resp.CACert = caCert()
		}
		log.Info("node joined", "pool", tok.PoolID, "node", nodeID, "token", tok.ID, "hostname", req.Hostname, "remote", r.RemoteAddr)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(resp)
	})
}

// reason names a redemption failure for the log.
func reason(err error) string {
	switch {
	case errors.Is(err, ErrTokenExpired):
		return "expired"
	case errors.Is(err, ErrTokenRevoked):
		return "revoked"
	case errors.Is(err, ErrBadToken):
		return "unknown or malformed token"
	default:
		return err.Error()
	}
}
