package rest

import (
	"bytes"
	"io"
	"net/http"

	"corral/actor"
	"corral/api"
	"corral/batch"
	"corral/service"
)

// addJob is Job - Add: POST /jobs → 201.
func (s *Server) addJob(c *call) *api.Error {
	var j batch.Job
	if e := c.decode(&j, jobAddModel); e != nil {
		return e
	}
	rep, e := c.send(func(req service.Request) actor.Event { return service.AddJob{Request: req, Job: j} })
	if e != nil {
		return e
	}
	if rep.Err != nil {
		return fromBatch(rep.Err)
	}
	job, err := service.GetJob(c.ctx, s.st, j.ID)
	if err != nil {
		c.s.log.Warn("rest: read job after add", "request-id", c.id, "job", j.ID, "err", err)
	}
	c.writeHeaders(http.StatusCreated, c.jobURL(j.ID), job.ETag, job.LastModified)
	return nil
}

// getJob is Job - Get: GET /jobs/{jobId}.
func (s *Server) getJob(c *call) *api.Error {
	id, e := c.pathID("jobId", api.CodeJobNotFound)
	if e != nil {
		return e
	}
	j, err := service.GetJob(c.ctx, s.st, id)
	if err != nil {
		return c.readError("get job", err)
	}
	c.fillJob(&j)
	v, e := c.jobViews([]batch.Job{j})
	if e != nil {
		return e
	}
	return c.writeEntity("jobs/@Element", v[0], j.ETag, j.LastModified)
}

// listJobs is Job - List: GET /jobs.
func (s *Server) listJobs(c *call) *api.Error {
	after, limit, e := c.paging()
	if e != nil {
		return e
	}
	jobs, next, err := page(c, func(after string, n int) ([]batch.Job, error) { return service.ListJobs(c.ctx, s.st, after, n) },
		func(j batch.Job) string { return j.ID }, c.fillJob, after, limit)
	if err != nil {
		return c.readError("list jobs", err)
	}
	v, e := c.jobViews(jobs)
	if e != nil {
		return e
	}
	return writeList(c, "jobs", v, next)
}

// terminateParameter is the optional body of Job - Terminate.
type terminateParameter struct {
	TerminateReason string `json:"terminateReason,omitempty"`
}

// terminateJob is Job - Terminate: POST /jobs/{jobId}/terminate → 202. The body
// ({"terminateReason": "…"}) is optional. The force parameter asks Azure not to wait for the
// job's release tasks; Corral refuses jobs with release tasks, so there is nothing to wait for
// and force changes nothing. The request's conditions are checked against the job as the
// store has it when the request arrives.
func (s *Server) terminateJob(c *call) *api.Error {
	id, e := c.pathID("jobId", api.CodeJobNotFound)
	if e != nil {
		return e
	}
	var p terminateParameter
	if present, e := c.optionalBody(); e != nil {
		return e
	} else if present {
		if e := c.decode(&p, api.RequestModel{}); e != nil {
			return e
		}
	}
	return c.jobOperation(id, "terminate", func(req service.Request) actor.Event {
		return service.TerminateJob{Request: req, JobID: id, Reason: p.TerminateReason}
	})
}

// taskCounts is Job - Get Task Counts: GET /jobs/{jobId}/taskcounts.
func (s *Server) taskCounts(c *call) *api.Error {
	id, e := c.pathID("jobId", api.CodeJobNotFound)
	if e != nil {
		return e
	}
	res, err := service.TaskCounts(c.ctx, s.st, id)
	if err != nil {
		return c.readError("task counts", err)
	}
	return c.writeEntity("taskcounts/@Element", res, "", zeroTime)
}

// activeJob answers, from the store, a request to change a job that is completed: Azure's 409
// JobCompleted, the service's own answer. The request is not sent to the service at all, which
// also keeps clear of a fault of the service: after a restart it has no job manager for a job
// completed earlier, yet its account actor forwards requests about the job to that manager (a
// send to an unknown actor, which fails the account actor under actor.Engine).
func (c *call) activeJob(jobID string) *api.Error {
	j, err := service.GetJob(c.ctx, c.s.st, jobID)
	if err != nil {
		return c.readError("get job", err)
	}
	if j.State == batch.JobCompleted {
		return api.NewError(api.CodeJobCompleted)
	}
	return nil
}

// fillJob sets the job's url.
func (c *call) fillJob(j *batch.Job) { j.URL = c.jobURL(j.ID) }

// optionalBody reports whether the request has a non-empty body, reading a body of unknown
// length (chunked) to find out and putting it back.
func (c *call) optionalBody() (bool, *api.Error) {
	r := c.r
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return false, nil
	}
	if r.ContentLength > 0 {
		return true, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, api.DefaultMaxBodyBytes+1))
	if err != nil {
		return false, api.NewError(api.CodeInvalidRequestBody, api.ErrorValue{Key: "Reason", Value: "The request body could not be read."})
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return false, nil
	}
	r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(b), r.Body))
	return true, nil
}
