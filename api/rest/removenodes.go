package rest

import (
	"strconv"

	"corral/actor"
	"corral/api"
	"corral/batch"
	"corral/service"
)

// removeNodesParameter is the body of Pool - Remove Nodes, Azure's NodeRemoveParameter.
type removeNodesParameter struct {
	NodeList               []string `json:"nodeList"`
	ResizeTimeout          *string  `json:"resizeTimeout"`
	NodeDeallocationOption *string  `json:"nodeDeallocationOption"`
}

// maxRemoveNodes is how many nodes one Pool - Remove Nodes may name (Azure: "Each request may
// remove up to 100 nodes").
const maxRemoveNodes = 100

// removeNodes is Pool - Remove Nodes: POST /pools/{poolId}/removenodes → 202, with the pool's
// DataServiceId, ETag and Last-Modified, honouring the conditional headers as Pool - Resize does.
// Azure: "This operation can only run when the allocation state of the Pool is steady. When this
// operation runs, the allocation state changes from steady to resizing" (the service's rule).
func (s *Server) removeNodes(c *call) *api.Error {
	id, e := c.pathID("poolId", api.CodePoolNotFound)
	if e != nil {
		return e
	}
	req, e := c.removeNodesRequest(id)
	if e != nil {
		return e
	}
	return s.changePool(c, id, func(r service.Request) actor.Event {
		req.Request = r
		return req
	})
}

// removeNodesRequest reads the body of Pool - Remove Nodes and returns the service's request for
// pool poolID, or Azure's 400:
//
//   - InvalidRequestBody: as for Pool - Resize (unknown properties are rejected too).
//   - MissingRequiredProperty: nodeList is left out or null (Azure requires it).
//   - InvalidPropertyValue: nodeList is empty or names more than 100 nodes, or names something
//     that cannot be a node id; resizeTimeout and nodeDeallocationOption as for Pool - Resize
//     (at least 5 minutes; requeue, terminate, taskcompletion or retaineddata).
//
// A node named twice (ids compare case-insensitively) is removed once. Whether each node is in
// the pool is the service's to say.
func (c *call) removeNodesRequest(poolID string) (service.RemoveNodes, *api.Error) {
	var p *removeNodesParameter
	if e := c.decode(&p, api.RequestModel{}); e != nil {
		return service.RemoveNodes{}, e
	}
	if p == nil {
		return service.RemoveNodes{}, api.NewError(api.CodeInvalidRequestBody,
			api.ErrorValue{Key: "Reason", Value: "The request body is null; Pool - Remove Nodes takes a NodeRemoveParameter object."})
	}
	if p.NodeList == nil {
		return service.RemoveNodes{}, api.MissingProperty("nodeList")
	}
	if n := len(p.NodeList); n == 0 || n > maxRemoveNodes {
		return service.RemoveNodes{}, api.InvalidProperty("nodeList", strconv.Itoa(n),
			"nodeList must name 1 to 100 nodes")
	}
	req := service.RemoveNodes{PoolID: poolID}
	seen := make(map[string]bool, len(p.NodeList))
	for _, n := range p.NodeList {
		if !batch.ValidID(n) {
			return service.RemoveNodes{}, api.InvalidProperty("nodeList", n, "nodeList holds something that is not a node id")
		}
		if k := batch.IDKey(n); !seen[k] {
			seen[k] = true
			req.NodeIDs = append(req.NodeIDs, n)
		}
	}
	var e *api.Error
	if req.ResizeTimeout, e = resizeTimeout(p.ResizeTimeout); e != nil {
		return service.RemoveNodes{}, e
	}
	if req.NodeDeallocationOption, e = deallocationOption(p.NodeDeallocationOption); e != nil {
		return service.RemoveNodes{}, e
	}
	return req, nil
}
