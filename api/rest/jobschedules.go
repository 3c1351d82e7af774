package rest

import (
	"net/http"
	"net/url"

	"corral/actor"
	"corral/api"
	"corral/batch"
	"corral/service"
)

// Job schedules: Job Schedule - Add, Get, Exists (HEAD), List, Patch, Update, Disable, Enable,
// Terminate and Delete, and Job - List From Job Schedule. The schedule's actor in the service
// creates its jobs (see service/schedule.go); these handlers read the store and send the
// service its requests, as for jobs.

// The request models of job schedules, as in api-version 2024-07-01.20.0 (the same in
// 2022-10-01.16.0): JobScheduleAddParameter, JobSchedulePatchParameter and
// JobScheduleUpdateParameter. The schedule (Schedule) and the job specification
// (JobSpecification) are typed, so a property they do not declare is refused at any depth.
var (
	jobScheduleAddModel = api.RequestModel{Name: "JobScheduleAddParameter", Properties: []string{
		"id", "displayName", "schedule", "jobSpecification", "metadata",
	}}
	jobSchedulePatchModel  = api.RequestModel{Name: "JobSchedulePatchParameter", Properties: []string{"schedule", "jobSpecification", "metadata"}}
	jobScheduleUpdateModel = api.RequestModel{Name: "JobScheduleUpdateParameter", Properties: jobSchedulePatchModel.Properties}
)

func (c *call) scheduleURL(scheduleID string) string {
	return c.base + "/jobschedules/" + url.PathEscape(scheduleID)
}

// fillSchedule sets the schedule's url and its recent job's.
func (c *call) fillSchedule(s *batch.JobSchedule) {
	s.URL = c.scheduleURL(s.ID)
	if ei := s.ExecutionInfo; ei != nil && ei.RecentJob != nil {
		rj := *ei.RecentJob
		rj.URL = c.jobURL(rj.ID)
		e := *ei
		e.RecentJob = &rj
		s.ExecutionInfo = &e
	}
}

// addJobSchedule is Job Schedule - Add: POST /jobschedules → 201.
func (s *Server) addJobSchedule(c *call) *api.Error {
	var js batch.JobSchedule
	if e := c.decode(&js, jobScheduleAddModel); e != nil {
		return e
	}
	rep, e := c.send(func(req service.Request) actor.Event { return service.AddJobSchedule{Request: req, Schedule: js} })
	if e != nil {
		return e
	}
	if rep.Err != nil {
		return fromBatch(rep.Err)
	}
	sch, err := service.GetJobSchedule(c.ctx, s.st, js.ID)
	if err != nil {
		c.s.log.Warn("rest: read job schedule after add", "request-id", c.id, "schedule", js.ID, "err", err)
	}
	c.writeHeaders(http.StatusCreated, c.scheduleURL(js.ID), sch.ETag, sch.LastModified)
	return nil
}

// getJobSchedule is Job Schedule - Get (and, for HEAD, Job Schedule - Exists): GET
// /jobschedules/{jobScheduleId}.
func (s *Server) getJobSchedule(c *call) *api.Error {
	id, e := c.pathID("jobScheduleId", api.CodeJobScheduleNotFound)
	if e != nil {
		return e
	}
	sch, err := service.GetJobSchedule(c.ctx, s.st, id)
	if err != nil {
		return c.readError("get job schedule", err)
	}
	c.fillSchedule(&sch)
	v, e := c.scheduleViews([]batch.JobSchedule{sch})
	if e != nil {
		return e
	}
	return c.writeEntity("jobschedules/@Element", v[0], sch.ETag, sch.LastModified)
}

// listJobSchedules is Job Schedule - List: GET /jobschedules.
func (s *Server) listJobSchedules(c *call) *api.Error {
	after, limit, e := c.paging()
	if e != nil {
		return e
	}
	scheds, next, err := page(c, func(after string, n int) ([]batch.JobSchedule, error) {
		return service.ListJobSchedules(c.ctx, s.st, after, n)
	}, func(s batch.JobSchedule) string { return s.ID }, c.fillSchedule, after, limit)
	if err != nil {
		return c.readError("list job schedules", err)
	}
	v, e := c.scheduleViews(scheds)
	if e != nil {
		return e
	}
	return writeList(c, "jobschedules", v, next)
}

// listJobsFromSchedule is Job - List From Job Schedule: GET /jobschedules/{jobScheduleId}/jobs,
// the schedule's jobs that exist.
func (s *Server) listJobsFromSchedule(c *call) *api.Error {
	id, e := c.pathID("jobScheduleId", api.CodeJobScheduleNotFound)
	if e != nil {
		return e
	}
	after, limit, e := c.paging()
	if e != nil {
		return e
	}
	jobs, next, err := page(c, func(after string, n int) ([]batch.Job, error) {
		return service.ListJobsFromSchedule(c.ctx, s.st, id, after, n)
	}, func(j batch.Job) string { return j.ID }, c.fillJob, after, limit)
	if err != nil {
		return c.readError("list jobs from job schedule", err)
	}
	v, e := c.jobViews(jobs)
	if e != nil {
		return e
	}
	return writeList(c, "jobs", v, next)
}

// jobSchedulePatchParameter is the body of Job Schedule - Patch and Update.
type jobSchedulePatchParameter struct {
	Schedule         *batch.Schedule         `json:"schedule"`
	JobSpecification *batch.JobSpecification `json:"jobSpecification"`
	Metadata         *[]batch.MetadataItem   `json:"metadata"`
}

// patchJobSchedule is Job Schedule - Patch: PATCH /jobschedules/{jobScheduleId} → 200. What
// the body gives replaces the schedule's; the rest stays.
func (s *Server) patchJobSchedule(c *call) *api.Error { return s.changeJobSchedule(c, false) }

// updateJobSchedule is Job Schedule - Update: PUT /jobschedules/{jobScheduleId} → 200. It
// replaces: jobSpecification is required (400 MissingRequiredProperty), a schedule left out is
// the default schedule (one job, at once: Azure's "equivalent to passing the default
// schedule"), and metadata left out is cleared.
func (s *Server) updateJobSchedule(c *call) *api.Error { return s.changeJobSchedule(c, true) }

// changeJobSchedule is Job Schedule - Patch, or with replace Update. The conditional headers are
// checked against the schedule as read; If-Match is checked again by the schedule's actor as it
// writes.
func (s *Server) changeJobSchedule(c *call, replace bool) *api.Error {
	id, e := c.pathID("jobScheduleId", api.CodeJobScheduleNotFound)
	if e != nil {
		return e
	}
	var p jobSchedulePatchParameter
	model := jobSchedulePatchModel
	if replace {
		model = jobScheduleUpdateModel
	}
	if e := c.decode(&p, model); e != nil {
		return e
	}
	if replace {
		if p.JobSpecification == nil {
			return api.MissingProperty("jobSpecification")
		}
		if p.Schedule == nil {
			p.Schedule = &batch.Schedule{}
		}
		if p.Metadata == nil {
			p.Metadata = &[]batch.MetadataItem{}
		}
	}
	sch, err := service.GetJobSchedule(c.ctx, s.st, id)
	if err != nil {
		return c.readError("get job schedule", err)
	}
	if e := api.CheckConditions(c.r, sch.ETag, sch.LastModified); e != nil {
		return e
	}
	rep, e := c.send(func(req service.Request) actor.Event {
		return service.PatchJobSchedule{Request: req, JobScheduleID: id, Schedule: p.Schedule, JobSpecification: p.JobSpecification,
			Metadata: p.Metadata, IfVersion: ifMatchVersion(c.r)}
	})
	if e != nil {
		return e
	}
	if rep.Err != nil {
		return fromBatch(rep.Err)
	}
	if sch, err = service.GetJobSchedule(c.ctx, s.st, id); err != nil {
		c.s.log.Warn("rest: read job schedule after change", "request-id", c.id, "schedule", id, "err", err)
	}
	c.writeHeaders(http.StatusOK, c.scheduleURL(id), sch.ETag, sch.LastModified)
	return nil
}

// disableJobSchedule is Job Schedule - Disable: POST /jobschedules/{jobScheduleId}/disable →
// 204.
func (s *Server) disableJobSchedule(c *call) *api.Error {
	return s.scheduleAction(c, http.StatusNoContent, func(req service.Request, id string) actor.Event {
		return service.DisableJobSchedule{Request: req, JobScheduleID: id}
	})
}

// enableJobSchedule is Job Schedule - Enable: POST /jobschedules/{jobScheduleId}/enable → 204.
func (s *Server) enableJobSchedule(c *call) *api.Error {
	return s.scheduleAction(c, http.StatusNoContent, func(req service.Request, id string) actor.Event {
		return service.EnableJobSchedule{Request: req, JobScheduleID: id}
	})
}

// terminateJobSchedule is Job Schedule - Terminate: POST /jobschedules/{jobScheduleId}/terminate
// → 202, once the schedule is terminating; it completes once its active job is terminated. The
// force parameter asks Azure not to wait for job release tasks; Corral refuses them, so it
// changes nothing.
func (s *Server) terminateJobSchedule(c *call) *api.Error {
	return s.scheduleAction(c, http.StatusAccepted, func(req service.Request, id string) actor.Event {
		return service.TerminateJobSchedule{Request: req, JobScheduleID: id}
	})
}

// scheduleAction sends the request build makes about the schedule of the path, once the
// request's conditions hold for the schedule as read, and answers status with the schedule's
// headers.
func (s *Server) scheduleAction(c *call, status int, build func(service.Request, string) actor.Event) *api.Error {
	id, e := c.pathID("jobScheduleId", api.CodeJobScheduleNotFound)
	if e != nil {
		return e
	}
	sch, err := service.GetJobSchedule(c.ctx, s.st, id)
	if err != nil {
		return c.readError("get job schedule", err)
	}
	if e := api.CheckConditions(c.r, sch.ETag, sch.LastModified); e != nil {
		return e
	}
	rep, e := c.send(func(req service.Request) actor.Event { return build(req, id) })
	if e != nil {
		return e
	}
	if rep.Err != nil {
		return fromBatch(rep.Err)
	}
	if sch, err = service.GetJobSchedule(c.ctx, s.st, id); err != nil {
		c.s.log.Warn("rest: read job schedule after change", "request-id", c.id, "schedule", id, "err", err)
	}
	c.writeHeaders(status, c.scheduleURL(id), sch.ETag, sch.LastModified)
	return nil
}

// deleteJobSchedule is Job Schedule - Delete: DELETE /jobschedules/{jobScheduleId} → 202, once
// the schedule and every job it created are gone. The force parameter is as for Terminate.
func (s *Server) deleteJobSchedule(c *call) *api.Error {
	id, e := c.pathID("jobScheduleId", api.CodeJobScheduleNotFound)
	if e != nil {
		return e
	}
	sch, life, err := service.GetJobScheduleLife(c.ctx, s.st, id)
	if err != nil {
		return c.readError("get job schedule", err)
	}
	if e := api.CheckConditions(c.r, sch.ETag, sch.LastModified); e != nil {
		return e
	}
	// For the life whose record was checked, as for pools and jobs.
	return c.accepted(c.scheduleURL(id), func(req service.Request) actor.Event {
		return service.DeleteJobSchedule{Request: req, JobScheduleID: id, Inc: life}
	})
}
