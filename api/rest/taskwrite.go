package rest

import (
	"corral/actor"
	"corral/api"
	"corral/batch"
	"corral/service"
)

// writableTask reads a task that a request is to change, and checks the request's conditional
// headers against it as the store has it now.
func (c *call) writableTask(jobID, taskID string) (batch.Task, *api.Error) {
	t, err := service.GetTask(c.ctx, c.s.st, jobID, taskID)
	if err != nil {
		return t, c.readError("get task", err)
	}
	return t, api.CheckConditions(c.r, t.ETag, t.LastModified)
}

// changeTask sends the service the request that mk makes and, once it is done, answers status
// with the task's new ETag and Last-Modified; op names the operation in the log.
func (c *call) changeTask(jobID, taskID string, status int, op string, mk func(service.Request) actor.Event) *api.Error {
	rep, e := c.send(mk)
	if e != nil {
		return e
	}
	if rep.Err != nil {
		return fromBatch(rep.Err)
	}
	t, err := service.GetTask(c.ctx, c.s.st, jobID, taskID)
	if err != nil {
		c.s.log.Warn("rest: read task after "+op, "request-id", c.id, "job", jobID, "task", taskID, "err", err)
	}
	c.writeHeaders(status, c.taskURL(jobID, taskID), t.ETag, t.LastModified)
	return nil
}
