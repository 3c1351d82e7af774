package rest

import (
	"encoding/json"
	"net/http"

	"corral/actor"
	"corral/api"
	"corral/batch"
	"corral/service"
)

// poolPatchModel is Azure's PoolPatchParameter and poolUpdatePropertiesModel its
// PoolUpdatePropertiesParameter; properties of newer api-versions are refused as unknown.
var (
	poolPatchModel = api.RequestModel{Name: "PoolPatchParameter", Properties: []string{
		"startTask", "certificateReferences", "applicationPackageReferences", "metadata", "targetNodeCommunicationMode",
	}}
	poolUpdatePropertiesModel = api.RequestModel{Name: "PoolUpdatePropertiesParameter", Properties: poolPatchModel.Properties}
)

// poolPatchParameter is the body of Pool - Patch and Pool - Update Properties.
type poolPatchParameter struct {
	StartTask                    *batch.StartTask      `json:"startTask"`
	CertificateReferences        *[]json.RawMessage    `json:"certificateReferences"`
	ApplicationPackageReferences *[]json.RawMessage    `json:"applicationPackageReferences"`
	Metadata                     *[]batch.MetadataItem `json:"metadata"`
	TargetNodeCommunicationMode  *string               `json:"targetNodeCommunicationMode"`
}

// patchPool is Pool - Patch: PATCH /pools/{poolId} → 200. Metadata and the start task change
// (a start task left out or null is kept); the rest is refused unless it asks for nothing (see
// refusePoolPatch). A new start task is what nodes run from their next run on: nodes that join
// the pool, or restart afresh; the nodes up keep theirs (as on Azure).
func (s *Server) patchPool(c *call) *api.Error {
	return s.patchPoolBody(c, false)
}

// updatePoolProperties is Pool - Update Properties: POST /pools/{poolId}/updateproperties →
// 204. It replaces: certificateReferences, applicationPackageReferences and metadata are
// required, and a startTask left out removes the pool's (for the nodes' next runs, as a patch).
func (s *Server) updatePoolProperties(c *call) *api.Error {
	return s.patchPoolBody(c, true)
}

// patchPoolBody is Pool - Patch, or with replace Pool - Update Properties.
func (s *Server) patchPoolBody(c *call, replace bool) *api.Error {
	id, e := c.pathID("poolId", api.CodePoolNotFound)
	if e != nil {
		return e
	}
	var p poolPatchParameter
	model := poolPatchModel
	if replace {
		model = poolUpdatePropertiesModel
	}
	if e := c.decode(&p, model); e != nil {
		return e
	}
	if replace {
		switch {
		case p.CertificateReferences == nil:
			return api.MissingProperty("certificateReferences")
		case p.ApplicationPackageReferences == nil:
			return api.MissingProperty("applicationPackageReferences")
		case p.Metadata == nil:
			return api.MissingProperty("metadata")
		}
	}
	pool, err := service.GetPool(c.ctx, s.st, id)
	if err != nil {
		return c.readError("get pool", err)
	}
	if e := api.CheckConditions(c.r, pool.ETag, pool.LastModified); e != nil {
		return e
	}
	if e := refusePoolPatch(p, pool); e != nil {
		return e
	}
	if err := batch.ValidateStartTask(p.StartTask); err != nil {
		return fromBatch(err)
	}
	rep, e := c.send(func(req service.Request) actor.Event {
		return service.PatchPool{Request: req, PoolID: id, Metadata: p.Metadata, IfVersion: ifMatchVersion(c.r),
			SetStartTask: replace || p.StartTask != nil, StartTask: p.StartTask}
	})
	if e != nil {
		return e
	}
	if rep.Err != nil {
		return fromBatch(rep.Err)
	}
	if pool, err = service.GetPool(c.ctx, s.st, id); err != nil {
		c.s.log.Warn("rest: read pool after patch", "request-id", c.id, "pool", id, "err", err)
	}
	status := http.StatusOK
	if replace {
		status = http.StatusNoContent
	}
	c.writeHeaders(status, c.poolURL(id), pool.ETag, pool.LastModified)
	return nil
}

// refusePoolPatch refuses what a pool patch asks that Corral does not do.
func refusePoolPatch(p poolPatchParameter, pool batch.Pool) *api.Error {
	switch {
	case p.CertificateReferences != nil && len(*p.CertificateReferences) > 0:
		return unsupportedProperty("certificateReferences", "Corral does not install certificates on nodes")
	case p.ApplicationPackageReferences != nil && len(*p.ApplicationPackageReferences) > 0:
		return unsupportedProperty("applicationPackageReferences", "application packages are not supported")
	case p.TargetNodeCommunicationMode != nil && *p.TargetNodeCommunicationMode != pool.TargetNodeCommunicationMode &&
		!(pool.TargetNodeCommunicationMode == "" && *p.TargetNodeCommunicationMode == "default"):
		return unsupportedProperty("targetNodeCommunicationMode", "it only matters on Azure; Corral keeps the value the pool was added with")
	}
	return nil
}
