package rest

import (
	"net/http"

	"corral/actor"
	"corral/api"
	"corral/service"
)

// reactivateTask is Task - Reactivate: POST /jobs/{jobId}/tasks/{taskId}/reactivate → 204. A
// task that completed with a failure is active again, with its retry count reset, and runs
// again. The conditional headers are checked against the task as read; If-Match is checked
// again by the job's manager in the transaction that writes the change.
func (s *Server) reactivateTask(c *call) *api.Error {
	jobID, taskID, e := c.taskIDs()
	if e != nil {
		return e
	}
	if e := c.activeJob(jobID); e != nil {
		return e
	}
	if _, e := c.writableTask(jobID, taskID); e != nil {
		return e
	}
	return c.changeTask(jobID, taskID, http.StatusNoContent, "reactivate", func(req service.Request) actor.Event {
		return service.ReactivateTask{Request: req, JobID: jobID, TaskID: taskID, IfVersion: ifMatchVersion(c.r)}
	})
}
