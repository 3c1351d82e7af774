package server

import (
	"context"
	"errors"
	"time"

	"corral/api/rest"
	"corral/compute/static"
	"corral/store"
)

// Where nodes come from (Config.Provider).
const (
	// ProviderLocal runs nodes as agent processes on the server's machine (compute/local).
	ProviderLocal = "local"
	// ProviderStatic lends pools the machines that joined them with join tokens
	// (compute/static).
	ProviderStatic = "static"
)

// joins returns what the REST API serves of join tokens and joined machines: nil unless the
// provider is static.
func (s *Server) joins() rest.Joins {
	if s.static == nil {
		return nil
	}
	return staticJoins{s}
}

// staticJoins is rest.Joins for the static provider.
type staticJoins struct{ s *Server }

func (j staticJoins) CreateJoinToken(ctx context.Context, poolID string, ttl time.Duration) (string, rest.JoinToken, error) {
	text, t, err := j.s.creds.CreateJoinToken(ctx, poolID, "", ttl, j.s.CAFingerprint())
	if err != nil {
		return "", rest.JoinToken{}, err
	}
	return text, rest.JoinToken{ID: t.ID, PoolID: t.PoolID, Created: t.Created, Expires: t.Expires}, nil
}

func (j staticJoins) JoinTokens(ctx context.Context, poolID string) ([]rest.JoinToken, error) {
	list, err := j.s.creds.JoinTokens(ctx, poolID)
	if err != nil {
		return nil, err
	}
	out := make([]rest.JoinToken, 0, len(list))
	for _, t := range list {
		out = append(out, rest.JoinToken{ID: t.ID, PoolID: t.PoolID, NodeID: t.NodeID, Created: t.Created, Expires: t.Expires, Revoked: t.Revoked, Uses: t.Uses})
	}
	return out, nil
}

func (j staticJoins) RevokeJoinToken(ctx context.Context, poolID, id string) error {
	err := j.s.creds.RevokeJoinToken(ctx, poolID, id)
	if errors.Is(err, store.ErrNotFound) {
		return rest.ErrNotFound
	}
	return err
}

func (j staticJoins) Machines(poolID string) []rest.JoinedMachine {
	var out []rest.JoinedMachine
	for _, m := range j.s.static.Machines(poolID) {
		out = append(out, rest.JoinedMachine{ID: m.ID, Hostname: m.Hostname, Joined: m.Joined, NodeID: m.NodeID})
	}
	return out
}

func (j staticJoins) ForgetMachine(poolID, id string) error {
	err := j.s.static.Forget(poolID, id)
	if errors.Is(err, static.ErrUnknownMachine) {
		return rest.ErrNotFound
	}
	return err
}
