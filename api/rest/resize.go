package rest

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"corral/actor"
	"corral/api"
	"corral/batch"
	"corral/service"
)

// Pool - Resize and Pool - Stop Resize answer 202 Accepted, as Azure does: the service has taken
// the new targets (or the stop) and recorded the pool's new allocation state before it answers,
// and the nodes come and go afterwards. The 202 carries DataServiceId, ETag and Last-Modified of
// the pool as changed, and both operations honour If-Match, If-None-Match, If-Modified-Since and
// If-Unmodified-Since against the pool as the store has it when the request arrives.

// resizeParameter is the body of Pool - Resize, Azure's PoolResizeParameter. Every property is
// optional; the pointers tell a property that was left out from one given as zero.
type resizeParameter struct {
	TargetDedicatedNodes   *int32  `json:"targetDedicatedNodes"`
	TargetLowPriorityNodes *int32  `json:"targetLowPriorityNodes"`
	ResizeTimeout          *string `json:"resizeTimeout"`
	NodeDeallocationOption *string `json:"nodeDeallocationOption"`
}

// resizePool is Pool - Resize: POST /pools/{poolId}/resize → 202.
func (s *Server) resizePool(c *call) *api.Error {
	id, e := c.pathID("poolId", api.CodePoolNotFound)
	if e != nil {
		return e
	}
	req, e := c.resizeRequest(id)
	if e != nil {
		return e
	}
	return s.changePool(c, id, func(r service.Request) actor.Event {
		req.Request = r
		return req
	})
}

// stopResizePool is Pool - Stop Resize: POST /pools/{poolId}/stopresize → 202. The operation has
// no body; one that is sent is not read.
func (s *Server) stopResizePool(c *call) *api.Error {
	id, e := c.pathID("poolId", api.CodePoolNotFound)
	if e != nil {
		return e
	}
	return s.changePool(c, id, func(r service.Request) actor.Event {
		return service.StopResizePool{Request: r, PoolID: id}
	})
}

// changePool checks the request's conditions against pool id as the store has it, sends the
// request build makes to the service, and answers 202 with the pool's DataServiceId, ETag and
// Last-Modified after the change.
func (s *Server) changePool(c *call, id string, build func(service.Request) actor.Event) *api.Error {
	return s.changePoolWith(c, id, poolChange{status: http.StatusAccepted, conditional: true}, build)
}

// poolChange says how a write to a pool is answered.
type poolChange struct {
	status      int  // the status of success: 202 (resize, remove nodes) or 200 (autoscale)
	conditional bool // the operation honours If-Match and the like (Azure's Disable AutoScale does not)
}

// changePoolWith is changePool with the answer's status, and conditions checked only when the
// operation has them: a pool that is not in the store is 404 PoolNotFound before anything is
// sent, and the answer carries the pool's DataServiceId, ETag and Last-Modified after the change.
func (s *Server) changePoolWith(c *call, id string, how poolChange, build func(service.Request) actor.Event) *api.Error {
	p, err := service.GetPool(c.ctx, s.st, id)
	if err != nil {
		return c.readError("get pool", err)
	}
	if how.conditional {
		if e := api.CheckConditions(c.r, p.ETag, p.LastModified); e != nil {
			return e
		}
	}
	rep, e := c.send(build)
	if e != nil {
		return e
	}
	if rep.Err != nil {
		return fromBatch(rep.Err)
	}
	changed := s.poolAfterChange(c, id)
	c.writeHeaders(how.status, c.poolURL(id), changed.ETag, changed.LastModified)
	return nil
}

// poolAfterChange reads pool id after the service changed it, for the headers of the answer; a
// failed read is logged and gives a pool without ETag or Last-Modified (the change is made; only
// the headers that describe it are missing).
func (s *Server) poolAfterChange(c *call, id string) batch.Pool {
	changed, err := service.GetPool(c.ctx, s.st, id)
	if err != nil {
		c.s.log.Warn("rest: read pool after change", "request-id", c.id, "pool", id, "err", err)
		return batch.Pool{}
	}
	return changed
}

// resizeRequest reads the body of Pool - Resize and returns the service's request for pool
// poolID, or Azure's 400 (nothing is sent to the service then):
//
//   - InvalidRequestBody: the body is empty, null, not a JSON object, not JSON, has a property of
//     the wrong type (PropertyName names it) or a property PoolResizeParameter does not have.
//     Corral rejects unknown properties in every body; here it matters most, because a
//     misspelt target (or the targetDedicated of older api-versions) would otherwise read as a
//     target left out, which is 0, and shrink the pool to nothing.
//   - InvalidPropertyValue (PropertyName, PropertyValue, Reason): a negative target, a
//     resizeTimeout that is not an ISO 8601 duration or is under 5 minutes (Azure: "If you
//     specify a value less than 5 minutes, the Batch service returns an error; if you are calling
//     the REST API directly, the HTTP status code is 400"), or a nodeDeallocationOption that is
//     not requeue, terminate, taskcompletion or retaineddata (read case-insensitively, like
//     Corral's other enumerations).
//
// A target left out (or null) is 0. That is Corral's reading of the REST reference, which marks
// neither target as required and gives neither a default.
// resizeTimeout left out is Azure's default, 15 minutes (ResizeTimeout 0), and
// nodeDeallocationOption left out is requeue (NodeDeallocationOption "").
func (c *call) resizeRequest(poolID string) (service.ResizePool, *api.Error) {
	var p *resizeParameter
	if e := c.decode(&p, api.RequestModel{}); e != nil {
		return service.ResizePool{}, e
	}
	if p == nil {
		return service.ResizePool{}, api.NewError(api.CodeInvalidRequestBody,
			api.ErrorValue{Key: "Reason", Value: "The request body is null; Pool - Resize takes a PoolResizeParameter object."})
	}
	req := service.ResizePool{PoolID: poolID}
	var e *api.Error
	if req.TargetDedicatedNodes, e = nodeTarget("targetDedicatedNodes", p.TargetDedicatedNodes); e != nil {
		return service.ResizePool{}, e
	}
	if req.TargetLowPriorityNodes, e = nodeTarget("targetLowPriorityNodes", p.TargetLowPriorityNodes); e != nil {
		return service.ResizePool{}, e
	}
	if req.ResizeTimeout, e = resizeTimeout(p.ResizeTimeout); e != nil {
		return service.ResizePool{}, e
	}
	if req.NodeDeallocationOption, e = deallocationOption(p.NodeDeallocationOption); e != nil {
		return service.ResizePool{}, e
	}
	return req, nil
}

// resizeTimeout reads the resizeTimeout of Pool - Resize or Pool - Remove Nodes: 0 (Azure's
// default of 15 minutes) when it was left out, and an InvalidPropertyValue error when it is not
// an ISO 8601 duration or is under 5 minutes.
func resizeTimeout(s *string) (time.Duration, *api.Error) {
	if s == nil {
		return 0, nil
	}
	d, err := batch.ParseDuration(*s)
	if err != nil {
		return 0, api.InvalidProperty("resizeTimeout", *s, "resizeTimeout must be an ISO 8601 duration such as PT15M")
	}
	if d < batch.MinResizeTimeout {
		return 0, api.InvalidProperty("resizeTimeout", *s, "resizeTimeout must be at least 5 minutes")
	}
	return d, nil
}

// deallocationOption reads a nodeDeallocationOption case-insensitively: "" (requeue) when it was
// left out, and an InvalidPropertyValue error when it is not one of Azure's four values.
func deallocationOption(s *string) (batch.NodeDeallocationOption, *api.Error) {
	if s == nil {
		return "", nil
	}
	o := batch.NodeDeallocationOption(strings.ToLower(*s))
	if !batch.ValidNodeDeallocationOption(o) {
		return "", api.InvalidProperty("nodeDeallocationOption", *s,
			"nodeDeallocationOption is requeue, terminate, taskcompletion or retaineddata")
	}
	return o, nil
}

// nodeTarget returns a target node count given as property: 0 when it was left out, and an
// InvalidPropertyValue error when it is negative.
func nodeTarget(property string, n *int32) (int32, *api.Error) {
	switch {
	case n == nil:
		return 0, nil
	case *n < 0:
		return 0, api.InvalidProperty(property, itoa32(*n), "a node count cannot be negative")
	}
	return *n, nil
}

// itoa32 formats an int32 for an error's details.
func itoa32(n int32) string { return strconv.FormatInt(int64(n), 10) }
