package rest

import (
	"net/http"

	"corral/actor"
	"corral/api"
	"corral/batch"
	"corral/service"
)

// taskUpdateModel is Azure's TaskUpdateParameter.
var taskUpdateModel = api.RequestModel{Name: "TaskUpdateParameter", Properties: []string{"constraints"}}

// taskUpdateParameter is the body of Task - Update.
type taskUpdateParameter struct {
	Constraints *batch.TaskConstraints `json:"constraints"`
}

// updateTask is Task - Update: PUT /jobs/{jobId}/tasks/{taskId} → 200. The task's constraints
// are replaced; what the body leaves out gets Azure's defaults (an unlimited maxWallClockTime, a
// retentionTime of 7 days, the job's maxTaskRetryCount). The conditional headers are checked
// against the task as read; If-Match is checked again by the job's manager in the transaction
// that writes the change.
func (s *Server) updateTask(c *call) *api.Error {
	jobID, taskID, e := c.taskIDs()
	if e != nil {
		return e
	}
	var p taskUpdateParameter
	if e := c.decode(&p, taskUpdateModel); e != nil {
		return e
	}
	if e := c.activeJob(jobID); e != nil {
		return e
	}
	if _, e := c.writableTask(jobID, taskID); e != nil {
		return e
	}
	return c.changeTask(jobID, taskID, http.StatusOK, "update", func(req service.Request) actor.Event {
		return service.UpdateTask{Request: req, JobID: jobID, TaskID: taskID, Constraints: p.Constraints, IfVersion: ifMatchVersion(c.r)}
	})
}
