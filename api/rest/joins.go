package rest

import (
	"context"
	"errors"
	"net/http"
	"time"

	"corral/api"
	"corral/batch"
	"corral/service"
)

// Joins is what the server offers for pools whose nodes are machines that join by themselves
// (the static provider): join tokens, and the machines that joined. The server implements it;
// nil means those operations answer 501 NotImplemented.
type Joins interface {
	// CreateJoinToken makes an open join token of the pool that expires after ttl and returns
	// its text (the only copy) and description.
	CreateJoinToken(ctx context.Context, poolID string, ttl time.Duration) (string, JoinToken, error)
	// JoinTokens lists the pool's tokens.
	JoinTokens(ctx context.Context, poolID string) ([]JoinToken, error)
	// RevokeJoinToken revokes one; ErrNotFound if the pool has no such token.
	RevokeJoinToken(ctx context.Context, poolID, id string) error
	// Machines lists the machines that joined the pool.
	Machines(poolID string) []JoinedMachine
	// ForgetMachine removes a machine from the pool; ErrNotFound if the pool has no such machine.
	ForgetMachine(poolID, id string) error
}

// ErrNotFound is what Joins returns for a token or machine the pool does not have.
var ErrNotFound = errors.New("not found")

// JoinToken describes a join token (never its secret, except in the answer that creates it).
type JoinToken struct {
	ID      string    `json:"id"`
	Token   string    `json:"token,omitempty"`
	PoolID  string    `json:"poolId"`
	NodeID  string    `json:"nodeId,omitempty"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	Revoked bool      `json:"revoked,omitempty"`
	Uses    int       `json:"uses"`
}

// JoinedMachine describes a machine of a pool's inventory.
type JoinedMachine struct {
	ID       string    `json:"id"`
	Hostname string    `json:"hostname,omitempty"`
	Joined   time.Time `json:"joined"`
	NodeID   string    `json:"nodeId,omitempty"`
}

// DefaultJoinTokenLifetime is how long a join token lasts when the request does not say.
const DefaultJoinTokenLifetime = time.Hour

// maxJoinTokenLifetime bounds a join token's lifetime, as kubeadm's default of a day does.
const maxJoinTokenLifetime = 7 * 24 * time.Hour

type joinTokenParameter struct {
	Lifetime *string `json:"lifetime"`
}

// joinsOr501 returns the server's Joins, or the 501 that says this server has none.
func (s *Server) joinsOr501() (Joins, *api.Error) {
	if s.joins == nil {
		return nil, &api.Error{Status: http.StatusNotImplemented, Code: CodeNotImplemented,
			Message: "This Corral server's nodes are made by its provider; machines join pools by themselves only with `corral server --provider static`."}
	}
	return s.joins, nil
}

// joinPool checks the pool of a join operation exists and returns its id and the Joins.
func (c *call) joinPool() (string, Joins, *api.Error) {
	j, e := c.s.joinsOr501()
	if e != nil {
		return "", nil, e
	}
	id, e := c.pathID("poolId", api.CodePoolNotFound)
	if e != nil {
		return "", nil, e
	}
	p, err := service.GetPool(c.ctx, c.s.st, id)
	if err != nil {
		return "", nil, c.readError("get pool", err)
	}
	return p.ID, j, nil
}

// createJoinToken is a Corral extension: POST /pools/{poolId}/jointokens with an optional body
// {"lifetime": ISO 8601 duration, default PT1H, at most P7D} → 201 with the JoinToken,
// its text in "token".
func (s *Server) createJoinToken(c *call) *api.Error {
	poolID, j, e := c.joinPool()
	if e != nil {
		return e
	}
	var p *joinTokenParameter
	has, e := c.optionalBody()
	if e != nil {
		return e
	}
	if has {
		if e := c.decode(&p, api.RequestModel{}); e != nil {
			return e
		}
	}
	ttl := DefaultJoinTokenLifetime
	if p != nil && p.Lifetime != nil {
		d, err := batch.ParseDuration(*p.Lifetime)
		if err != nil || d <= 0 || d > maxJoinTokenLifetime {
			return api.InvalidProperty("lifetime", *p.Lifetime, "lifetime must be an ISO 8601 duration from PT1S to P7D")
		}
		ttl = d
	}
	text, t, err := j.CreateJoinToken(c.ctx, poolID, ttl)
	if err != nil {
		return c.internal("create join token", err)
	}
	t.Token = text
	if err := api.WriteJSON(c.w, c.r, http.StatusCreated, t, c.id); err != nil {
		c.s.log.Debug("rest: write join token", "request-id", c.id, "err", err)
	}
	return nil
}

// listJoinTokens is a Corral extension: GET /pools/{poolId}/jointokens → 200 {"value": [...]}.
func (s *Server) listJoinTokens(c *call) *api.Error {
	poolID, j, e := c.joinPool()
	if e != nil {
		return e
	}
	list, err := j.JoinTokens(c.ctx, poolID)
	if err != nil {
		return c.internal("list join tokens", err)
	}
	if list == nil {
		list = []JoinToken{}
	}
	return c.writeValue(list)
}

// revokeJoinToken is a Corral extension: DELETE /pools/{poolId}/jointokens/{tokenId} → 200.
func (s *Server) revokeJoinToken(c *call) *api.Error {
	poolID, j, e := c.joinPool()
	if e != nil {
		return e
	}
	id := c.r.PathValue("tokenId")
	if err := j.RevokeJoinToken(c.ctx, poolID, id); err != nil {
		if errors.Is(err, ErrNotFound) {
			return &api.Error{Status: http.StatusNotFound, Code: "JoinTokenNotFound", Message: "The pool has no join token " + id + "."}
		}
		return c.internal("revoke join token", err)
	}
	c.writeHeaders(http.StatusOK, "", "", time.Time{})
	return nil
}

// listMachines is a Corral extension: GET /pools/{poolId}/machines → 200 {"value": [...]}, the
// machines that joined the pool and the node each is lent to.
func (s *Server) listMachines(c *call) *api.Error {
	poolID, j, e := c.joinPool()
	if e != nil {
		return e
	}
	list := j.Machines(poolID)
	if list == nil {
		list = []JoinedMachine{}
	}
	return c.writeValue(list)
}

// forgetMachine is a Corral extension: DELETE /pools/{poolId}/machines/{machineId} → 200
// removes a machine from the pool: its credential is refused from then on, and the node it was
// lent to is lost (its tasks requeued).
func (s *Server) forgetMachine(c *call) *api.Error {
	poolID, j, e := c.joinPool()
	if e != nil {
		return e
	}
	id := c.r.PathValue("machineId")
	if err := j.ForgetMachine(poolID, id); err != nil {
		if errors.Is(err, ErrNotFound) {
			return &api.Error{Status: http.StatusNotFound, Code: "MachineNotFound", Message: "The pool has no machine " + id + "."}
		}
		return c.internal("forget machine", err)
	}
	c.writeHeaders(http.StatusOK, "", "", time.Time{})
	return nil
}

// writeValue writes 200 with {"value": v}.
func (c *call) writeValue(v any) *api.Error {
	body := struct {
		Value any `json:"value"`
	}{v}
	if err := api.WriteJSON(c.w, c.r, http.StatusOK, body, c.id); err != nil {
		c.s.log.Debug("rest: write list", "request-id", c.id, "err", err)
	}
	return nil
}
