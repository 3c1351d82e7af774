package rest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	"corral/actor"
	"corral/api"
	"corral/batch"
	"corral/service"
)

// zeroTime is "no Last-Modified".
var zeroTime time.Time

// TaskAddStatus values: the status of one task of an Add Collection.
const (
	TaskAddSuccess     = "success"
	TaskAddClientError = "clienterror"
	TaskAddServerError = "servererror"
)

// TaskAddResult is Azure's result for one task of an Add Collection.
type TaskAddResult struct {
	Status       string      `json:"status"`
	TaskID       string      `json:"taskId"`
	ETag         string      `json:"eTag,omitempty"`
	LastModified time.Time   `json:"lastModified,omitzero"`
	Location     string      `json:"location,omitempty"`
	Error        *BatchError `json:"error,omitempty"`
}

// inCollection puts the index of the collection's entry in front of the PropertyName of e, or
// adds one: "value[3].state".
func inCollection(e *api.Error, i int) *api.Error {
	c := *e
	c.Values = slices.Clone(e.Values)
	prefix := "value[" + strconv.Itoa(i) + "]"
	for k, v := range c.Values {
		if v.Key == "PropertyName" {
			c.Values[k].Value = prefix + "." + v.Value
			return &c
		}
	}
	c.Values = append([]api.ErrorValue{{Key: "PropertyName", Value: prefix}}, c.Values...)
	return &c
}

// taskAddCollection is the body of Add Collection ({"value": [...]}) and of its answer.
type taskAddCollection[T any] struct {
	Metadata string `json:"odata.metadata,omitempty"`
	Value    []T    `json:"value"`
}

// addTask is Task - Add: POST /jobs/{jobId}/tasks → 201.
func (s *Server) addTask(c *call) *api.Error {
	jobID, e := c.pathID("jobId", api.CodeJobNotFound)
	if e != nil {
		return e
	}
	var t batch.Task
	if e := c.decode(&t, taskAddModel); e != nil {
		return e
	}
	if e := c.activeJob(jobID); e != nil {
		return e
	}
	rep, e := c.send(func(req service.Request) actor.Event {
		return service.AddTasks{Request: req, JobID: jobID, Tasks: []batch.Task{t}}
	})
	if e != nil {
		return e
	}
	if rep.Err != nil {
		return fromBatch(rep.Err)
	}
	if len(rep.Tasks) != 1 {
		return c.internal("add task", errUnexpectedReply(len(rep.Tasks), 1))
	}
	if rep.Tasks[0].Err != nil {
		return fromBatch(rep.Tasks[0].Err)
	}
	task, err := service.GetTask(c.ctx, s.st, jobID, t.ID)
	if err != nil {
		c.s.log.Warn("rest: read task after add", "request-id", c.id, "job", jobID, "task", t.ID, "err", err)
	}
	c.writeHeaders(http.StatusCreated, c.taskURL(jobID, t.ID), task.ETag, task.LastModified)
	return nil
}

// addTaskCollection is Task - Add Collection: POST /jobs/{jobId}/addtaskcollection with
// {"value": [up to 100 tasks]} → 200 with one TaskAddResult per task, in the order given. A
// request that fails as a whole (the job does not exist or is completed) is an error response.
func (s *Server) addTaskCollection(c *call) *api.Error {
	jobID, e := c.pathID("jobId", api.CodeJobNotFound)
	if e != nil {
		return e
	}
	var raw taskAddCollection[json.RawMessage]
	if e := c.decode(&raw, taskAddCollectionModel); e != nil {
		return e
	}
	body := taskAddCollection[batch.Task]{Value: make([]batch.Task, len(raw.Value))}
	if raw.Value == nil {
		body.Value = nil
	}
	switch n := len(body.Value); {
	case body.Value == nil:
		return api.MissingProperty("value")
	case n == 0:
		return api.InvalidProperty("value", "[]", "The collection must hold at least one task.")
	case n > api.MaxTasksPerCollection:
		return api.NewError(api.CodeRequestBodyTooLarge, api.ErrorValue{Key: "Reason",
			Value: "The collection holds " + strconv.Itoa(n) + " tasks; the maximum is " + strconv.Itoa(api.MaxTasksPerCollection) + "."})
	}
	// Each task fits TaskAddParameter, or the request fails as a whole, as one body that does
	// not parse does.
	for i, r := range raw.Value {
		if e := api.DecodeJSONValue(r, &body.Value[i], api.DecodeOptions{RejectUnknownFields: true, Model: taskAddModel}); e != nil {
			return inCollection(e, i)
		}
	}
	if e := c.activeJob(jobID); e != nil {
		return e
	}
	rep, e := c.send(func(req service.Request) actor.Event {
		return service.AddTasks{Request: req, JobID: jobID, Tasks: body.Value}
	})
	if e != nil {
		return e
	}
	if rep.Err != nil {
		return fromBatch(rep.Err)
	}
	if len(rep.Tasks) != len(body.Value) {
		return c.internal("add task collection", errUnexpectedReply(len(rep.Tasks), len(body.Value)))
	}
	out := taskAddCollection[TaskAddResult]{Metadata: c.base + "/$metadata#taskaddresult", Value: make([]TaskAddResult, len(rep.Tasks))}
	for i, r := range rep.Tasks {
		res := TaskAddResult{TaskID: r.TaskID}
		if r.Err != nil {
			ae := fromBatch(r.Err)
			res.Status = TaskAddClientError
			if ae.Status >= 500 {
				res.Status = TaskAddServerError
			}
			res.Error = newBatchError(ae, c.id, c.now)
		} else {
			res.Status = TaskAddSuccess
			res.Location = c.taskURL(jobID, r.TaskID)
			if r.ETag != "" {
				res.ETag, res.LastModified = r.ETag, r.LastModified
			} else if t, err := service.GetTask(c.ctx, s.st, jobID, r.TaskID); err == nil {
				res.ETag, res.LastModified = t.ETag, t.LastModified
			} else {
				c.s.log.Warn("rest: read task after add", "request-id", c.id, "job", jobID, "task", r.TaskID, "err", err)
			}
		}
		out.Value[i] = res
	}
	if err := api.WriteJSON(c.w, c.r, http.StatusOK, out, c.id); err != nil {
		c.s.log.Debug("rest: write task add results", "request-id", c.id, "err", err)
	}
	return nil
}

// getTask is Task - Get: GET /jobs/{jobId}/tasks/{taskId}.
func (s *Server) getTask(c *call) *api.Error {
	jobID, taskID, e := c.taskIDs()
	if e != nil {
		return e
	}
	t, err := service.GetTask(c.ctx, s.st, jobID, taskID)
	if err != nil {
		return c.readError("get task", err)
	}
	c.fillTask(jobID, &t)
	v, e := c.taskViews(jobID, []batch.Task{t})
	if e != nil {
		return e
	}
	return c.writeEntity("tasks/@Element", v[0], t.ETag, t.LastModified)
}

// listTasks is Task - List: GET /jobs/{jobId}/tasks.
func (s *Server) listTasks(c *call) *api.Error {
	jobID, e := c.pathID("jobId", api.CodeJobNotFound)
	if e != nil {
		return e
	}
	after, limit, e := c.paging()
	if e != nil {
		return e
	}
	tasks, next, err := page(c, func(after string, n int) ([]batch.Task, error) {
		return service.ListTasks(c.ctx, s.st, jobID, after, n)
	},
		func(t batch.Task) string { return t.ID }, func(t *batch.Task) { c.fillTask(jobID, t) }, after, limit)
	if err != nil {
		return c.readError("list tasks", err)
	}
	v, e := c.taskViews(jobID, tasks)
	if e != nil {
		return e
	}
	return writeList(c, "tasks", v, next)
}

// terminateTask is Task - Terminate: POST /jobs/{jobId}/tasks/{taskId}/terminate → 204. The
// request's conditions are checked against the task as the store has it when the request
// arrives.
func (s *Server) terminateTask(c *call) *api.Error {
	jobID, taskID, e := c.taskIDs()
	if e != nil {
		return e
	}
	t, e := c.writableTask(jobID, taskID)
	if e != nil {
		return e
	}
	if t.State == batch.TaskCompleted {
		// Nothing to do: the service's answer too, given here without asking it (see activeJob).
		c.writeHeaders(http.StatusNoContent, c.taskURL(jobID, taskID), t.ETag, t.LastModified)
		return nil
	}
	return c.changeTask(jobID, taskID, http.StatusNoContent, "terminate", func(req service.Request) actor.Event {
		return service.TerminateTask{Request: req, JobID: jobID, TaskID: taskID}
	})
}

// taskIDs returns the job and task ids of the path.
func (c *call) taskIDs() (jobID, taskID string, e *api.Error) {
	if jobID, e = c.pathID("jobId", api.CodeJobNotFound); e != nil {
		return "", "", e
	}
	if taskID, e = c.pathID("taskId", api.CodeTaskNotFound); e != nil {
		return "", "", e
	}
	return jobID, taskID, nil
}

// fillTask sets the task's url and, when it runs or ran on a node, the node's url.
func (c *call) fillTask(jobID string, t *batch.Task) {
	t.URL = c.taskURL(jobID, t.ID)
	if n := t.NodeInfo; n != nil && n.NodeURL == "" && n.PoolID != "" && n.NodeID != "" {
		n.NodeURL = c.nodeURL(n.PoolID, n.NodeID)
	}
}

type unexpectedReply struct{ got, want int }

func (e unexpectedReply) Error() string {
	return "the service answered with " + strconv.Itoa(e.got) + " task results for " + strconv.Itoa(e.want) + " tasks"
}

func errUnexpectedReply(got, want int) error { return unexpectedReply{got, want} }
