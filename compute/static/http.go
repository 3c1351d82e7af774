package static

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"corral/agent/protocol"
)

// maxWait caps how long an assignment request is held.
const maxWait = 20 * time.Second

// Handler serves protocol.AssignPath: a machine of the inventory long polls it for the node it
// is to be. A missing or wrong machine credential (a forgotten machine) gets 401.
func (p *Provider) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "method not allowed: use POST", http.StatusMethodNotAllowed)
			return
		}
		poolID, id, secret, err := protocol.ParseMachineAuthorization(r.Header.Get("Authorization"))
		if err != nil {
			w.Header().Set("WWW-Authenticate", protocol.MachineAuthScheme)
			http.Error(w, "missing or invalid machine credential", http.StatusUnauthorized)
			return
		}
		var req protocol.AssignmentRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&req); err != nil {
			http.Error(w, "bad assignment request", http.StatusBadRequest)
			return
		}
		wait := min(time.Duration(req.WaitMillis)*time.Millisecond, maxWait)
		a, err := p.Await(r.Context(), poolID, id, secret, max(wait, 0))
		switch {
		case errors.Is(err, ErrRefused):
			p.log.Warn("static provider: machine credential refused", "pool", poolID, "machine", id, "remote", r.RemoteAddr)
			w.Header().Set("WWW-Authenticate", protocol.MachineAuthScheme)
			http.Error(w, "missing or invalid machine credential", http.StatusUnauthorized)
			return
		case err != nil && r.Context().Err() != nil:
			return
		case err != nil:
			p.log.Error("static provider: assignment failed", "pool", poolID, "machine", id, "err", err)
			http.Error(w, "the server could not issue the node's credential; try again", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err := json.NewEncoder(w).Encode(protocol.AssignmentResponse{NodeID: a.NodeID, Credential: a.Credential}); err != nil {
			p.log.Log(r.Context(), slog.LevelDebug, "static provider: answer not written", "err", err)
		}
	})
}
