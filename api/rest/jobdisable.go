package rest

import (
	"net/http"

	"corral/actor"
	"corral/api"
	"corral/batch"
	"corral/service"
)

// jobDisableModel is Azure's JobDisableParameter.
var jobDisableModel = api.RequestModel{Name: "JobDisableParameter", Properties: []string{"disableTasks"}}

// jobDisableParameter is the body of Job - Disable.
type jobDisableParameter struct {
	DisableTasks *batch.DisableTasks `json:"disableTasks"`
}

// disableJob is Job - Disable: POST /jobs/{jobId}/disable → 202. The job is disabling when the
// answer comes, and disabled once its running tasks are dealt with as disableTasks (required)
// says; no task of it starts until it is enabled.
func (s *Server) disableJob(c *call) *api.Error {
	id, e := c.pathID("jobId", api.CodeJobNotFound)
	if e != nil {
		return e
	}
	var p jobDisableParameter
	if e := c.decode(&p, jobDisableModel); e != nil {
		return e
	}
	switch {
	case p.DisableTasks == nil:
		return api.MissingProperty("disableTasks")
	case !p.DisableTasks.Valid():
		return api.InvalidProperty("disableTasks", string(*p.DisableTasks), "want requeue, terminate or wait")
	}
	return c.jobOperation(id, "disable", func(req service.Request) actor.Event {
		return service.DisableJob{Request: req, JobID: id, DisableTasks: *p.DisableTasks, IfVersion: ifMatchVersion(c.r)}
	})
}

// enableJob is Job - Enable: POST /jobs/{jobId}/enable → 202. A disabled job becomes active
// again and its tasks are scheduled.
func (s *Server) enableJob(c *call) *api.Error {
	id, e := c.pathID("jobId", api.CodeJobNotFound)
	if e != nil {
		return e
	}
	return c.jobOperation(id, "enable", func(req service.Request) actor.Event {
		return service.EnableJob{Request: req, JobID: id, IfVersion: ifMatchVersion(c.r)}
	})
}

// jobOperation serves one of the POST operations on a job (terminate, disable, enable) that
// Azure answers 202: the request's conditional headers are checked against the job as the store
// has it when the request arrives, a completed job is 409 JobCompleted without asking the
// service (see activeJob), and the answer carries the job's new ETag. op names the operation
// in the log.
func (c *call) jobOperation(id, op string, mk func(service.Request) actor.Event) *api.Error {
	j, err := service.GetJob(c.ctx, c.s.st, id)
	if err != nil {
		return c.readError("get job", err)
	}
	if e := api.CheckConditions(c.r, j.ETag, j.LastModified); e != nil {
		return e
	}
	if j.State == batch.JobCompleted {
		return api.NewError(api.CodeJobCompleted)
	}
	rep, e := c.send(mk)
	if e != nil {
		return e
	}
	if rep.Err != nil {
		return fromBatch(rep.Err)
	}
	if j, err = service.GetJob(c.ctx, c.s.st, id); err != nil {
		c.s.log.Warn("rest: read job after "+op, "request-id", c.id, "job", id, "err", err)
	}
	c.writeHeaders(http.StatusAccepted, c.jobURL(id), j.ETag, j.LastModified)
	return nil
}
