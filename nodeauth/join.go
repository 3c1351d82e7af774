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

// Machines takes the machines that redeem open (pool-wide) join tokens into a pool's
// inventory (compute/static does): Join returns the machine's id and its secret.
type Machines interface {
	Join(poolID, hostname string) (machineID, secret string, err error)
}

// JoinHandler serves protocol.JoinPath: it redeems a join token and answers
// (protocol.JoinResponse) with the credential of the node a bound token names, issued at that
// moment, or, for an open token, with the id and credential of a machine that machines took
// into the pool's inventory (nil machines: open tokens are refused with 409). caCert returns
// the PEM of the server's CA for the agent's later connections ("" without TLS).
//
// Every refusal is a 401 with the same short text, whatever the reason (the log says which),
// so that the endpoint tells a prober nothing about which tokens exist.
func JoinHandler(reg *Registry, machines Machines, caCert func() string, log *slog.Logger) http.Handler {
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
		var resp protocol.JoinResponse
		if tok.NodeID == "" {
			if machines == nil {
				log.Warn("join refused: the pool's nodes are not made by joining", "pool", tok.PoolID, "token", tok.ID, "remote", r.RemoteAddr)
				http.Error(w, fmt.Sprintf("pool %s does not take machines that join by themselves", tok.PoolID), http.StatusConflict)
				return
			}
			id, secret, err := machines.Join(tok.PoolID, req.Hostname)
			if err != nil {
				log.Warn("join refused", "pool", tok.PoolID, "token", tok.ID, "remote", r.RemoteAddr, "err", err)
				http.Error(w, err.Error(), http.StatusConflict)
				return
			}
			resp = protocol.JoinResponse{PoolID: tok.PoolID, MachineID: id, MachineCredential: secret}
			log.Info("machine joined", "pool", tok.PoolID, "machine", id, "token", tok.ID, "hostname", req.Hostname, "remote", r.RemoteAddr)
		} else {
			cred, err := reg.IssueNode(r.Context(), tok.PoolID, tok.NodeID)
			if err != nil {
				log.Error("join failed", "pool", tok.PoolID, "node", tok.NodeID, "err", err)
				http.Error(w, "the server could not issue a credential; try again", http.StatusServiceUnavailable)
				return
			}
			resp = protocol.JoinResponse{PoolID: tok.PoolID, NodeID: tok.NodeID, Credential: cred}
			log.Info("node joined", "pool", tok.PoolID, "node", tok.NodeID, "token", tok.ID, "hostname", req.Hostname, "remote", r.RemoteAddr)
		}
		if caCert != nil {
			resp.CACert = caCert()
		}
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
