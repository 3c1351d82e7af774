package server

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"corral/actor"
	"corral/compute"
	"corral/nodeauth"
)

// providerImplID is where the VM provider's own actor lives; compute.ProviderID holds the
// revoker in front of it.
const providerImplID = compute.ProviderID + ".impl"

// providerHost is the engine's host of the provider's actors.
const providerHost = "provider"

// revoker stands in front of the VM provider: it revokes a node's credential when the pool
// manager asks for the node to be deleted (removed, shrunk away, its pool deleted), before
// the provider acts, so that the node's agent is refused from that moment even while its
// machine is still being torn down. Every request goes on to the provider in the order it came.
type revoker struct {
	creds *nodeauth.Registry
	log   *slog.Logger
}

// Define declares the revoker's one state.
func (r *revoker) Define(m *actor.Machine) {
	m.State("Forwarding",
		actor.On(func(ctx *actor.Context, c compute.CreateVM) { ctx.Send(providerImplID, c) }),
		actor.On(func(ctx *actor.Context, l compute.ListVMs) { ctx.Send(providerImplID, l) }),
		actor.On(func(ctx *actor.Context, d compute.DeleteVM) {
			// A failure to write the revocation leaves the credential refused in memory;
			// only a restart before the node is deleted again could bring it back, and the
			// pool manager deletes it again after a restart.
			c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := r.creds.Revoke(c, d.PoolID, d.NodeID); err != nil {
				r.log.Error("node credential not revoked in the store", "pool", d.PoolID, "node", d.NodeID, "err", err)
			}
			ctx.Send(providerImplID, d)
		}),
	)
}

// createProvider creates the provider's actor behind a revoker, on a host of their own that
// halt stops with the service's.
func (s *Server) createProvider(impl actor.Actor) error {
	booted := false
	err := s.engine.AddHost(providerHost, func(h actor.Host) error {
		if booted {
			return fmt.Errorf("provider: the provider's host is not restarted")
		}
		booted = true
		if _, err := h.Create(string(providerImplID), impl); err != nil {
			return err
		}
		_, err := h.Create(string(compute.ProviderID), &revoker{creds: s.creds, log: s.log()})
		return err
	})
	if err != nil {
		return fmt.Errorf("provider: %w", err)
	}
	return nil
}
