package rest

import (
	"net/http"
	"time"

	"corral/api"
	"corral/batch"
	"corral/service"
)

// Corral's extensions to Azure's API: paths Azure does not have, for what Azure Batch does not
// show (a pool's history) or cannot be asked to do (evict a node on demand). The package
// documentation lists them.

// poolHistory is a Corral extension: GET /pools/{poolId}/history → 200 with {"value":
// [PoolEvent…]}, the pool's resize and autoscale history, oldest first (at most
// batch.MaxPoolHistory entries).
func (s *Server) poolHistory(c *call) *api.Error {
	id, e := c.pathID("poolId", api.CodePoolNotFound)
	if e != nil {
		return e
	}
	h, err := service.PoolHistory(c.ctx, s.st, id)
	if err != nil {
		return c.readError("pool history", err)
	}
	if h == nil {
		h = []batch.PoolEvent{}
	}
	body := struct {
		Value []batch.PoolEvent `json:"value"`
	}{h}
	if err := api.WriteJSON(c.w, c.r, http.StatusOK, body, c.id); err != nil {
		c.s.log.Debug("rest: write pool history", "request-id", c.id, "err", err)
	}
	return nil
}

// evictNode is a Corral extension for development and tests: POST
// /pools/{poolId}/nodes/{nodeId}/evict → 202 takes a low-priority node away as a spot eviction
// would (the provider reports the node preempted, and the service reacts as to any preemption).
// It answers 501 NotImplemented when the server has no way to evict (Config.Evict is nil), 404
// PoolNotFound or NodeNotFound for what is not in the store, and 409
// OperationInvalidForCurrentState for a dedicated node or when the provider refuses (its reason
// is the message). The 202 carries the node's DataServiceId; nodes have no ETag.
func (s *Server) evictNode(c *call) *api.Error {
	if _, _, e := c.nodePath(); e != nil {
		return e
	}
	if s.evict == nil {
		return &api.Error{Status: http.StatusNotImplemented, Code: CodeNotImplemented,
			Message: "This Corral server cannot evict nodes: its compute provider has no spot evictions."}
	}
	poolID, node, e := s.pathNode(c)
	if e != nil {
		return e
	}
	p, err := service.GetPool(c.ctx, s.st, poolID)
	if err != nil {
		return c.readError("get pool", err)
	}
	if node.IsDedicated {
		return &api.Error{Status: http.StatusConflict, Code: api.CodeOperationInvalidForCurrentState,
			Message: "Node " + node.ID + " is dedicated: only low-priority nodes can be evicted."}
	}
	if err := s.evict(p.ID, node.ID); err != nil {
		c.s.log.Info("rest: evict refused", "request-id", c.id, "pool", p.ID, "node", node.ID, "err", err)
		return &api.Error{Status: http.StatusConflict, Code: api.CodeOperationInvalidForCurrentState, Message: err.Error()}
	}
	c.writeHeaders(http.StatusAccepted, c.nodeURL(p.ID, node.ID), "", time.Time{})
	return nil
}
