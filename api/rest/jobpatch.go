package rest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"corral/actor"
	"corral/api"
	"corral/batch"
	"corral/service"
)

// jobPatchModel is Azure's JobPatchParameter.
var jobPatchModel = api.RequestModel{Name: "JobPatchParameter", Properties: []string{
	"priority", "maxParallelTasks", "allowTaskPreemption", "onAllTasksComplete", "constraints",
	"poolInfo", "metadata", "networkConfiguration",
}}

// jobPatchParameter is the body of Job - Patch; raw fields are those Corral keeps as they are
// unless they ask for nothing.
type jobPatchParameter struct {
	Priority             *int32                    `json:"priority"`
	MaxParallelTasks     *int32                    `json:"maxParallelTasks"`
	AllowTaskPreemption  *bool                     `json:"allowTaskPreemption"`
	OnAllTasksComplete   *batch.OnAllTasksComplete `json:"onAllTasksComplete"`
	Constraints          json.RawMessage           `json:"constraints"`
	PoolInfo             *batch.PoolInformation    `json:"poolInfo"`
	Metadata             *[]batch.MetadataItem     `json:"metadata"`
	NetworkConfiguration json.RawMessage           `json:"networkConfiguration"`
}

// jobUpdateModel is Azure's JobUpdateParameter: the same properties as a patch, but every one
// it leaves out goes back to its default, and poolInfo is required.
var jobUpdateModel = api.RequestModel{Name: "JobUpdateParameter", Properties: jobPatchModel.Properties}

// updateJob is Job - Update: PUT /jobs/{jobId}. As patchJob, but the properties left out go
// back to their defaults: metadata is cleared and onAllTasksComplete becomes noaction (which a
// job set to terminatejob refuses, as Azure does).
func (s *Server) updateJob(c *call) *api.Error {
	return s.changeJob(c, true)
}

// patchJob is Job - Patch: PATCH /jobs/{jobId}. onAllTasksComplete and metadata change, and a
// disabled job moves to the pool poolInfo names; the other properties are accepted only when they
// change nothing Corral keeps (priority 0, maxParallelTasks -1, allowTaskPreemption false), and
// refused otherwise.
// The conditional headers are checked against the job as read; If-Match is checked again by
// the job's manager in the transaction that writes the change.
func (s *Server) patchJob(c *call) *api.Error {
	return s.changeJob(c, false)
}

// changeJob is Job - Patch, or with replace Job - Update.
func (s *Server) changeJob(c *call, replace bool) *api.Error {
	id, e := c.pathID("jobId", api.CodeJobNotFound)
	if e != nil {
		return e
	}
	var p jobPatchParameter
	model := jobPatchModel
	if replace {
		model = jobUpdateModel
	}
	if e := c.decode(&p, model); e != nil {
		return e
	}
	if replace {
		if p.PoolInfo == nil {
			return api.MissingProperty("poolInfo")
		}
		if p.OnAllTasksComplete == nil {
			none := batch.AllCompleteNoAction
			p.OnAllTasksComplete = &none
		}
		if p.Metadata == nil {
			p.Metadata = &[]batch.MetadataItem{}
		}
	}
	j, err := service.GetJob(c.ctx, s.st, id)
	if err != nil {
		return c.readError("get job", err)
	}
	if e := api.CheckConditions(c.r, j.ETag, j.LastModified); e != nil {
		return e
	}
	if e := refusePatch(p, j); e != nil {
		return e
	}
	ev := service.PatchJob{JobID: id, Metadata: p.Metadata, IfVersion: ifMatchVersion(c.r)}
	if p.PoolInfo != nil && !strings.EqualFold(p.PoolInfo.PoolID, j.PoolInfo.PoolID) {
		ev.PoolID = p.PoolInfo.PoolID // the service moves only a disabled job
	}
	if p.OnAllTasksComplete != nil {
		ev.OnAllTasksComplete = *p.OnAllTasksComplete
	}
	rep, e := c.send(func(req service.Request) actor.Event { ev.Request = req; return ev })
	if e != nil {
		return e
	}
	if rep.Err != nil {
		return fromBatch(rep.Err)
	}
	if j, err = service.GetJob(c.ctx, s.st, id); err != nil {
		c.s.log.Warn("rest: read job after patch", "request-id", c.id, "job", id, "err", err)
	}
	c.writeHeaders(http.StatusOK, c.jobURL(id), j.ETag, j.LastModified)
	return nil
}

// refusePatch refuses what a Job - Patch asks that Corral does not do.
func refusePatch(p jobPatchParameter, j batch.Job) *api.Error {
	switch {
	case p.Priority != nil && *p.Priority != 0:
		return unsupportedProperty("priority", "tasks of all jobs are scheduled in the order they become ready")
	case p.MaxParallelTasks != nil && *p.MaxParallelTasks != -1:
		return unsupportedProperty("maxParallelTasks", "not enforced yet")
	case p.AllowTaskPreemption != nil && *p.AllowTaskPreemption:
		return unsupportedProperty("allowTaskPreemption", "it only matters with priorities")
	case given(p.Constraints):
		return unsupportedProperty("constraints", "Corral does not change a job's constraints yet")
	case given(p.NetworkConfiguration):
		return unsupportedProperty("networkConfiguration", "nodes are not on Azure virtual networks")
	case p.PoolInfo != nil && p.PoolInfo.AutoPoolSpecification != nil:
		return unsupportedProperty("poolInfo.autoPoolSpecification", "create a pool and give its id")
	case p.PoolInfo != nil && !batch.ValidID(p.PoolInfo.PoolID):
		return api.InvalidProperty("poolInfo.poolId", p.PoolInfo.PoolID, "not a valid pool id")
	case p.OnAllTasksComplete != nil && !p.OnAllTasksComplete.Valid():
		return api.InvalidProperty("onAllTasksComplete", string(*p.OnAllTasksComplete), "want noaction or terminatejob")
	}
	return nil
}

// unsupportedProperty is 400 UnsupportedProperty naming property, with the reason Corral does
// not do what it asks.
func unsupportedProperty(property, reason string) *api.Error {
	return api.NewError(api.CodeUnsupportedProperty, api.ErrorValue{Key: "PropertyName", Value: property}, api.ErrorValue{Key: "Reason", Value: reason})
}

// given reports whether a raw property asks for something: present and not null, an empty
// object or an empty list.
func given(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && !bytes.Equal(t, []byte("null")) && !bytes.Equal(t, []byte("{}")) && !bytes.Equal(t, []byte("[]"))
}

// ifMatchVersion is the store version named by a request's If-Match when it names one ETag
// (Corral's ETags are 0x and the version in hex), for the service to check again as it writes;
// 0 when there is no If-Match, "*", a list, or a value that is not Corral's.
func ifMatchVersion(r *http.Request) int64 {
	v := strings.TrimSpace(r.Header.Get("If-Match"))
	v = strings.Trim(strings.TrimPrefix(v, "W/"), `"`)
	hex, ok := strings.CutPrefix(v, "0x")
	if !ok || strings.Contains(v, ",") {
		return 0
	}
	n, err := strconv.ParseInt(hex, 16, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}
