package rest

import (
	"net/http"
	"time"

	"corral/actor"
	"corral/api"
	"corral/service"
)

// Deletes answer 202 Accepted, as Azure does: the entity may still be visible (being deleted)
// for a while. A job stays, in state deleting, until its tasks are removed (in the background,
// a chunk at a time); a pool, until the provider has deleted every node's VM. A task is removed
// before the answer (200), so a GET after it finds it gone.

// deletePool is Pool - Delete: DELETE /pools/{poolId}.
func (s *Server) deletePool(c *call) *api.Error {
	id, e := c.pathID("poolId", api.CodePoolNotFound)
	if e != nil {
		return e
	}
	p, life, err := service.GetPoolLife(c.ctx, s.st, id)
	if err != nil {
		return c.readError("get pool", err)
	}
	if e := api.CheckConditions(c.r, p.ETag, p.LastModified); e != nil {
		return e
	}
	// The delete is for the pool whose record was checked: one added again under the id since
	// is another life, and the service answers PoolNotFound for this one.
	return c.accepted(c.poolURL(id), func(req service.Request) actor.Event {
		return service.DeletePool{Request: req, PoolID: id, Inc: life}
	})
}

// deleteJob is Job - Delete: DELETE /jobs/{jobId}.
func (s *Server) deleteJob(c *call) *api.Error {
	id, e := c.pathID("jobId", api.CodeJobNotFound)
	if e != nil {
		return e
	}
	j, life, err := service.GetJobLife(c.ctx, s.st, id)
	if err != nil {
		return c.readError("get job", err)
	}
	if e := api.CheckConditions(c.r, j.ETag, j.LastModified); e != nil {
		return e
	}
	return c.accepted(c.jobURL(id), func(req service.Request) actor.Event {
		return service.DeleteJob{Request: req, JobID: id, Inc: life} // as for pools
	})
}

// deleteTask is Task - Delete: DELETE /jobs/{jobId}/tasks/{taskId}. Azure answers 200.
func (s *Server) deleteTask(c *call) *api.Error {
	jobID, e := c.pathID("jobId", api.CodeJobNotFound)
	if e != nil {
		return e
	}
	taskID, e := c.pathID("taskId", api.CodeTaskNotFound)
	if e != nil {
		return e
	}
	if _, e := c.writableTask(jobID, taskID); e != nil {
		return e
	}
	rep, e := c.send(func(req service.Request) actor.Event {
		return service.DeleteTask{Request: req, JobID: jobID, TaskID: taskID}
	})
	if e != nil {
		return e
	}
	if rep.Err != nil {
		return fromBatch(rep.Err)
	}
	c.writeHeaders(http.StatusOK, c.taskURL(jobID, taskID), "", time.Time{})
	return nil
}

// accepted sends a request to the service and answers 202 once it is done.
func (c *call) accepted(location string, build func(service.Request) actor.Event) *api.Error {
	rep, e := c.send(build)
	if e != nil {
		return e
	}
	if rep.Err != nil {
		return fromBatch(rep.Err)
	}
	c.writeHeaders(http.StatusAccepted, location, "", time.Time{})
	return nil
}
