package rest

import (
	"net/http"
	"strings"
	"time"

	"corral/actor"
	"corral/api"
	"corral/batch"
	"corral/service"
)

// disableSchedulingParameter is the body of Compute Node - Disable Scheduling, Azure's
// NodeDisableSchedulingParameter.
type disableSchedulingParameter struct {
	NodeDisableSchedulingOption *string `json:"nodeDisableSchedulingOption"`
}

// disableNodeScheduling is Compute Node - Disable Scheduling: POST
// /pools/{poolId}/nodes/{nodeId}/disablescheduling → 200, with the node's DataServiceId. The body
// is optional; nodeDisableSchedulingOption is requeue (the default), terminate or taskcompletion
// (400 InvalidPropertyValue otherwise). 404 PoolNotFound or NodeNotFound for what does not exist.
func (s *Server) disableNodeScheduling(c *call) *api.Error {
	poolID, nodeID, e := c.nodePath()
	if e != nil {
		return e
	}
	var opt batch.NodeDeallocationOption
	if c.hasBody() {
		var p *disableSchedulingParameter
		if e := c.decode(&p, api.RequestModel{}); e != nil {
			return e
		}
		if p != nil && p.NodeDisableSchedulingOption != nil {
			opt = batch.NodeDeallocationOption(strings.ToLower(*p.NodeDisableSchedulingOption))
			if !service.ValidDisableSchedulingOption(opt) {
				return api.InvalidProperty("nodeDisableSchedulingOption", *p.NodeDisableSchedulingOption,
					"nodeDisableSchedulingOption is requeue, terminate or taskcompletion")
			}
		}
	}
	return s.changeNode(c, poolID, nodeID, http.StatusOK, func(r service.Request) actor.Event {
		return service.DisableNodeScheduling{Request: r, PoolID: poolID, NodeID: nodeID, Option: opt}
	})
}

// enableNodeScheduling is Compute Node - Enable Scheduling: POST
// /pools/{poolId}/nodes/{nodeId}/enablescheduling → 200, with the node's DataServiceId. It takes
// no body (a body is refused: 400 InvalidRequestBody).
func (s *Server) enableNodeScheduling(c *call) *api.Error {
	poolID, nodeID, e := c.nodePath()
	if e != nil {
		return e
	}
	if c.hasBody() {
		return api.NewError(api.CodeInvalidRequestBody,
			api.ErrorValue{Key: "Reason", Value: "Compute Node - Enable Scheduling takes no request body."})
	}
	return s.changeNode(c, poolID, nodeID, http.StatusOK, func(r service.Request) actor.Event {
		return service.EnableNodeScheduling{Request: r, PoolID: poolID, NodeID: nodeID}
	})
}

// nodePath returns the pool and node ids of a path /pools/{poolId}/nodes/{nodeId}/...
func (c *call) nodePath() (poolID, nodeID string, e *api.Error) {
	if poolID, e = c.pathID("poolId", api.CodePoolNotFound); e != nil {
		return "", "", e
	}
	if nodeID, e = c.pathID("nodeId", api.CodeNodeNotFound); e != nil {
		return "", "", e
	}
	return poolID, nodeID, nil
}

// hasBody reports whether the request carries a body (one of unknown length counts).
func (c *call) hasBody() bool {
	return c.r.ContentLength != 0 && c.r.Body != nil && c.r.Body != http.NoBody
}

// changeNode sends the service's request about a node and answers status with the node's
// DataServiceId (nodes have no ETag), or the service's error.
func (s *Server) changeNode(c *call, poolID, nodeID string, status int, build func(service.Request) actor.Event) *api.Error {
	rep, e := c.send(build)
	if e != nil {
		return e
	}
	if rep.Err != nil {
		return fromBatch(rep.Err)
	}
	c.writeHeaders(status, c.nodeURL(poolID, nodeID), "", time.Time{})
	return nil
}

// rebootNode is Compute Node - Reboot: POST /pools/{poolId}/nodes/{nodeId}/reboot → 202, with
// the node's DataServiceId. The body is optional; nodeRebootOption is requeue (the default),
// terminate, taskcompletion or retaineddata. The node shows state rebooting until its agent has
// restarted. 409 for a node that is not idle or running (see service.RestartComputeNode).
func (s *Server) rebootNode(c *call) *api.Error { return s.restartNode(c, false) }

// reimageNode is Compute Node - Reimage: as rebootNode, with nodeReimageOption, state reimaging,
// and the node's task files deleted.
func (s *Server) reimageNode(c *call) *api.Error { return s.restartNode(c, true) }

// rebootParameter is the body of Compute Node - Reboot, Azure's NodeRebootParameter.
type rebootParameter struct {
	NodeRebootOption *string `json:"nodeRebootOption"`
}

// reimageParameter is the body of Compute Node - Reimage, Azure's NodeReimageParameter.
type reimageParameter struct {
	NodeReimageOption *string `json:"nodeReimageOption"`
}

func (s *Server) restartNode(c *call, reimage bool) *api.Error {
	poolID, nodeID, e := c.nodePath()
	if e != nil {
		return e
	}
	var opt batch.NodeDeallocationOption
	if c.hasBody() {
		var given *string
		name := "nodeRebootOption"
		if reimage {
			name = "nodeReimageOption"
			var p *reimageParameter
			if e := c.decode(&p, api.RequestModel{}); e != nil {
				return e
			}
			if p != nil {
				given = p.NodeReimageOption
			}
		} else {
			var p *rebootParameter
			if e := c.decode(&p, api.RequestModel{}); e != nil {
				return e
			}
			if p != nil {
				given = p.NodeRebootOption
			}
		}
		if given != nil {
			opt = batch.NodeDeallocationOption(strings.ToLower(*given))
			if !batch.ValidNodeDeallocationOption(opt) {
				return api.InvalidProperty(name, *given, name+" is requeue, terminate, taskcompletion or retaineddata")
			}
		}
	}
	return s.changeNode(c, poolID, nodeID, http.StatusAccepted, func(r service.Request) actor.Event {
		return service.RestartComputeNode{Request: r, PoolID: poolID, NodeID: nodeID, Option: opt, Reimage: reimage}
	})
}
