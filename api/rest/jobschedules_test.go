package rest_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"corral/actor"
	"corral/api"
	"corral/batch"
)

// schedule is a job schedule's add parameter: jobs on pool p1 (which need not exist), the
// schedule's own properties as given.
func schedule(id string, sch map[string]any) map[string]any {
	return map[string]any{"id": id, "schedule": sch, "jobSpecification": map[string]any{"poolInfo": map[string]any{"poolId": "p1"}}}
}

// getSchedule reads a job schedule through the API.
func (e *env) getSchedule(t *testing.T, id string) batch.JobSchedule {
	t.Helper()
	r := e.do("GET", "/jobschedules/"+id, nil, nil)
	want(t, r, http.StatusOK, "")
	var s batch.JobSchedule
	r.decode(t, &s)
	return s
}

// scheduleJobs lists a job schedule's jobs through the API.
func (e *env) scheduleJobs(t *testing.T, id string) []batch.Job {
	t.Helper()
	r := e.do("GET", "/jobschedules/"+id+"/jobs", nil, nil)
	want(t, r, http.StatusOK, "")
	var p api.Page[batch.Job]
	r.decode(t, &p)
	return p.Value
}

func jobIDs(jobs []batch.Job) []string {
	var ids []string
	for _, j := range jobs {
		ids = append(ids, j.ID+"="+string(j.State))
	}
	return ids
}

// Job schedules through the API: add, get, exists, list with paging, $filter and $select, the
// jobs a schedule creates (named <id>:job-<n>, listed from the schedule, reached as jobs), patch
// and update with ETags, disable, enable, terminate and delete, with Azure's errors.
func TestJobSchedules(t *testing.T) {
	e := newEnv(t, envOptions{})
	created(t, e.do("POST", "/jobs", nil, job("taken", "p1", false)), http.StatusCreated, e.base+"/jobs/taken")

	// Refusals, by Job - Add's rules for the job specification.
	for _, tt := range []struct {
		name     string
		body     map[string]any
		code     string
		property string
	}{
		{"short recurrence", schedule("bad", map[string]any{"recurrenceInterval": "PT30S"}), api.CodeInvalidPropertyValue, "schedule.recurrenceInterval"},
		{"short window", schedule("bad", map[string]any{"startWindow": "PT59S"}), api.CodeInvalidPropertyValue, "schedule.startWindow"},
		{"no schedule", map[string]any{"id": "bad", "jobSpecification": map[string]any{"poolInfo": map[string]any{"poolId": "p1"}}},
			api.CodeMissingRequiredProperty, "schedule"},
		{"no job specification", map[string]any{"id": "bad", "schedule": map[string]any{}}, api.CodeMissingRequiredProperty, "jobSpecification"},
		{"no pool", map[string]any{"id": "bad", "schedule": map[string]any{}, "jobSpecification": map[string]any{}},
			api.CodeMissingRequiredProperty, "jobSpecification.poolInfo.poolId"},
		{"priority", map[string]any{"id": "bad", "schedule": map[string]any{}, "jobSpecification": map[string]any{"poolInfo": map[string]any{"poolId": "p1"}, "priority": 7}},
			api.CodeUnsupportedProperty, "jobSpecification.priority"},
		{"job manager task", map[string]any{"id": "bad", "schedule": map[string]any{},
			"jobSpecification": map[string]any{"poolInfo": map[string]any{"poolId": "p1"}, "jobManagerTask": map[string]any{"id": "m", "commandLine": "x"}}},
			api.CodeUnsupportedProperty, "jobSpecification.jobManagerTask"},
		{"id of the specification", map[string]any{"id": "bad", "schedule": map[string]any{}, "jobSpecification": map[string]any{"id": "x", "poolInfo": map[string]any{"poolId": "p1"}}},
			api.CodeInvalidRequestBody, "id"},
		{"unknown schedule property", schedule("bad", map[string]any{"startTime": "2030-01-01T00:00:00Z"}), api.CodeInvalidRequestBody, "startTime"},
		{"read-only property", map[string]any{"id": "bad", "state": "active", "schedule": map[string]any{}, "jobSpecification": map[string]any{"poolInfo": map[string]any{"poolId": "p1"}}},
			api.CodeInvalidRequestBody, "state"},
		{"bad id", schedule("a:b", map[string]any{}), api.CodeInvalidPropertyValue, "id"},
	} {
		eb := want(t, e.do("POST", "/jobschedules", nil, tt.body), http.StatusBadRequest, tt.code)
		if got := value(eb, "PropertyName"); got != tt.property {
			t.Errorf("%s: PropertyName %q, want %q", tt.name, got, tt.property)
		}
	}
	want(t, e.do("POST", "/jobschedules", nil, schedule("Taken", map[string]any{})), http.StatusConflict, api.CodeJobWithSameIDExists)

	// A schedule that recurs every hour: its first job at once.
	added := e.do("POST", "/jobschedules", nil, map[string]any{"id": "hourly", "displayName": "every hour", "schedule": map[string]any{"recurrenceInterval": "PT1H"},
		"jobSpecification": map[string]any{"poolInfo": map[string]any{"poolId": "p1"}, "displayName": "an hour's job", "metadata": []batch.MetadataItem{{Name: "k", Value: "v"}}},
		"metadata":         []batch.MetadataItem{{Name: "team", Value: "a"}}})
	created(t, added, http.StatusCreated, e.base+"/jobschedules/hourly")
	want(t, e.do("POST", "/jobschedules", nil, schedule("HOURLY", map[string]any{})), http.StatusConflict, api.CodeJobScheduleExists)
	want(t, e.do("POST", "/jobs", nil, job("Hourly", "p1", false)), http.StatusConflict, api.CodeJobScheduleWithSameIDExists)

	eventually(t, "the first job", func() string {
		if got := jobIDs(e.scheduleJobs(t, "hourly")); !slices.Equal(got, []string{"hourly:job-1=active"}) {
			return fmt.Sprint(got)
		}
		return ""
	})
	r := e.do("GET", "/jobschedules/hourly", nil, nil)
	want(t, r, http.StatusOK, "")
	var s struct {
		Metadata string `json:"odata.metadata"`
		batch.JobSchedule
	}
	r.decode(t, &s)
	ei := s.ExecutionInfo
	if s.URL != e.base+"/jobschedules/hourly" || s.Metadata != e.base+"/$metadata#jobschedules/@Element" || s.State != batch.ScheduleActive ||
		s.ETag != r.header.Get("ETag") || s.DisplayName != "every hour" || len(s.Metadata) == 0 || ei == nil || ei.RecentJob == nil ||
		ei.RecentJob.ID != "hourly:job-1" || ei.RecentJob.URL != e.base+"/jobs/hourly:job-1" || !ei.NextRunTime.Equal(s.CreationTime.Add(time.Hour)) {
		t.Fatalf("schedule = %s", r.body)
	}
	// The job is a job: it carries the specification, and answers at its own URL.
	r = e.do("GET", "/jobs/hourly:job-1", nil, nil)
	want(t, r, http.StatusOK, "")
	var j batch.Job
	r.decode(t, &j)
	if j.DisplayName != "an hour's job" || j.PoolInfo.PoolID != "p1" || len(j.Metadata) != 1 || j.URL != e.base+"/jobs/hourly:job-1" {
		t.Errorf("the schedule's job = %s", r.body)
	}
	want(t, e.do("GET", "/jobs/nope:job-1", nil, nil), http.StatusNotFound, api.CodeJobNotFound)

	// Exists.
	if r := e.do("HEAD", "/jobschedules/HOURLY", nil, nil); r.status != http.StatusOK || r.header.Get("ETag") == "" {
		t.Errorf("HEAD existing schedule = %d", r.status)
	}
	if r := e.do("HEAD", "/jobschedules/nope", nil, nil); r.status != http.StatusNotFound {
		t.Errorf("HEAD missing schedule = %d", r.status)
	}
	want(t, e.do("GET", "/jobschedules/nope/jobs", nil, nil), http.StatusNotFound, api.CodeJobScheduleNotFound)

	// A second schedule, one job at a time far ahead: lists, paging, $filter and $select.
	created(t, e.do("POST", "/jobschedules", nil, schedule("later", map[string]any{"doNotRunUntil": "2100-01-01T00:00:00Z"})),
		http.StatusCreated, e.base+"/jobschedules/later")
	r = e.do("GET", "/jobschedules", url.Values{"maxresults": {"1"}}, nil)
	want(t, r, http.StatusOK, "")
	var page api.Page[batch.JobSchedule]
	r.decode(t, &page)
	if len(page.Value) != 1 || page.Value[0].ID != "hourly" || page.NextLink == "" || page.Metadata != e.base+"/$metadata#jobschedules" {
		t.Fatalf("first page = %s", r.body)
	}
	page = api.Page[batch.JobSchedule]{}
	e.follow(page2(t, r)).decode(t, &page)
	if len(page.Value) != 1 || page.Value[0].ID != "later" || page.NextLink != "" ||
		!page.Value[0].ExecutionInfo.NextRunTime.Equal(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("second page = %+v", page)
	}
	page = api.Page[batch.JobSchedule]{}
	e.do("GET", "/jobschedules", url.Values{"$filter": {"schedule/doNotRunUntil gt datetime'2099-01-01T00:00:00Z'"}, "$select": {"id,state"}}, nil).decode(t, &page)
	if len(page.Value) != 1 || page.Value[0].ID != "later" || page.Value[0].State != batch.ScheduleActive || page.Value[0].CreationTime != (time.Time{}) {
		t.Errorf("filtered and selected = %+v", page.Value)
	}
	want(t, e.do("GET", "/jobschedules", url.Values{"$filter": {"priority eq 1"}}, nil), http.StatusBadRequest, api.CodeInvalidQueryParameterValue)
	var jobs api.Page[batch.Job]
	e.do("GET", "/jobschedules/hourly/jobs", url.Values{"$filter": {"state eq 'active'"}}, nil).decode(t, &jobs)
	if len(jobs.Value) != 1 {
		t.Errorf("active jobs of hourly = %+v", jobs.Value)
	}
	want(t, e.do("GET", "/jobschedules/hourly/jobs", url.Values{"$filter": {"id eq 'x'"}}, nil), http.StatusBadRequest, api.CodeInvalidQueryParameterValue)

	// Patch and update, with ETags.
	etag := e.getSchedule(t, "hourly").ETag
	want(t, e.send(e.newRequest("PATCH", "/jobschedules/hourly", nil, map[string]any{"metadata": []batch.MetadataItem{}}, http.Header{"If-Match": {"0x1"}})),
		http.StatusPreconditionFailed, api.CodeConditionNotMet)
	r = e.send(e.newRequest("PATCH", "/jobschedules/hourly", nil, map[string]any{"metadata": []batch.MetadataItem{{Name: "team", Value: "b"}},
		"jobSpecification": map[string]any{"poolInfo": map[string]any{"poolId": "p2"}}}, http.Header{"If-Match": {etag}}))
	want(t, r, http.StatusOK, "")
	if r.header.Get("ETag") == etag || r.header.Get("DataServiceId") != e.base+"/jobschedules/hourly" {
		t.Errorf("patch answered ETag %q (before %q), DataServiceId %q", r.header.Get("ETag"), etag, r.header.Get("DataServiceId"))
	}
	if got := e.getSchedule(t, "hourly"); got.Metadata[0].Value != "b" || got.JobSpecification.PoolInfo.PoolID != "p2" ||
		got.Schedule.RecurrenceInterval.Std() != time.Hour {
		t.Errorf("after the patch: %+v, %+v", got.Metadata, got.JobSpecification)
	}
	want(t, e.do("PATCH", "/jobschedules/hourly", nil, map[string]any{"schedule": map[string]any{"recurrenceInterval": "PT1S"}}),
		http.StatusBadRequest, api.CodeInvalidPropertyValue)
	want(t, e.do("PATCH", "/jobschedules/hourly", nil, map[string]any{"jobSpecification": map[string]any{"poolInfo": map[string]any{"poolId": "p1"}, "maxParallelTasks": 3}}),
		http.StatusBadRequest, api.CodeUnsupportedProperty)
	want(t, e.do("PUT", "/jobschedules/hourly", nil, map[string]any{"schedule": map[string]any{}}), http.StatusBadRequest, api.CodeMissingRequiredProperty)
	want(t, e.do("PUT", "/jobschedules/hourly", nil, map[string]any{"schedule": map[string]any{"recurrenceInterval": "PT2H"},
		"jobSpecification": map[string]any{"poolInfo": map[string]any{"poolId": "p1"}}}), http.StatusOK, "")
	if got := e.getSchedule(t, "hourly"); len(got.Metadata) != 0 || got.Schedule.RecurrenceInterval.Std() != 2*time.Hour {
		t.Errorf("after the update: %+v", got)
	}

	// Disable, enable, terminate: the active job is terminated, the schedule completes.
	r = e.do("POST", "/jobschedules/hourly/disable", nil, nil)
	want(t, r, http.StatusNoContent, "")
	if r.header.Get("DataServiceId") != e.base+"/jobschedules/hourly" || r.header.Get("ETag") == "" {
		t.Errorf("disable headers %v", r.header)
	}
	if got := e.getSchedule(t, "hourly"); got.State != batch.ScheduleDisabled || got.PreviousState != batch.ScheduleActive {
		t.Errorf("disabled: %s, previously %s", got.State, got.PreviousState)
	}
	want(t, e.do("POST", "/jobschedules/hourly/disable", nil, nil), http.StatusNoContent, "")
	want(t, e.do("POST", "/jobschedules/hourly/enable", nil, nil), http.StatusNoContent, "")
	want(t, e.do("POST", "/jobschedules/hourly/terminate", nil, nil), http.StatusAccepted, "")
	eventually(t, "the schedule completes", func() string {
		if got := e.getSchedule(t, "hourly"); got.State != batch.ScheduleCompleted || got.ExecutionInfo.EndTime.IsZero() || !got.ExecutionInfo.NextRunTime.IsZero() {
			return fmt.Sprintf("%s %+v", got.State, got.ExecutionInfo)
		}
		return ""
	})
	e.do("GET", "/jobs/hourly:job-1", nil, nil).decode(t, &j)
	if j.State != batch.JobCompleted || j.ExecutionInfo.TerminateReason != batch.TerminateReasonTerminateJobSchedule {
		t.Errorf("the job after the schedule's terminate: %s, %+v", j.State, j.ExecutionInfo)
	}
	want(t, e.do("POST", "/jobschedules/hourly/disable", nil, nil), http.StatusConflict, api.CodeJobScheduleCompleted)
	want(t, e.do("POST", "/jobschedules/hourly/terminate", nil, nil), http.StatusConflict, api.CodeJobScheduleCompleted)
	want(t, e.do("PATCH", "/jobschedules/hourly", nil, map[string]any{"metadata": []any{}}), http.StatusConflict, api.CodeJobScheduleCompleted)

	// Delete: the schedule and its jobs are gone; the id is free for a job.
	want(t, e.send(e.newRequest("DELETE", "/jobschedules/hourly", nil, nil, http.Header{"If-Match": {"0x1"}})), http.StatusPreconditionFailed, api.CodeConditionNotMet)
	want(t, e.do("DELETE", "/jobschedules/hourly", nil, nil), http.StatusAccepted, "")
	want(t, e.do("GET", "/jobschedules/hourly", nil, nil), http.StatusNotFound, api.CodeJobScheduleNotFound)
	want(t, e.do("GET", "/jobs/hourly:job-1", nil, nil), http.StatusNotFound, api.CodeJobNotFound)
	want(t, e.do("DELETE", "/jobschedules/hourly", nil, nil), http.StatusNotFound, api.CodeJobScheduleNotFound)
	created(t, e.do("POST", "/jobs", nil, job("hourly", "p1", false)), http.StatusCreated, e.base+"/jobs/hourly")

	// Methods Azure does not have on the paths.
	r = e.do("PUT", "/jobschedules", nil, map[string]any{})
	want(t, r, http.StatusMethodNotAllowed, api.CodeUnsupportedHTTPVerb)
	if r.header.Get("Allow") != "GET, HEAD, POST" {
		t.Errorf("Allow = %q", r.header.Get("Allow"))
	}
	want(t, e.do("GET", "/jobschedules/later/terminate", nil, nil), http.StatusMethodNotAllowed, api.CodeUnsupportedHTTPVerb)
}

// page2 is the next link of a page, which must have one.
func page2(t *testing.T, r response) string {
	t.Helper()
	link := r.nextLink(t)
	if link == "" {
		t.Fatalf("no next link: %s", r.body)
	}
	return link
}

// Recurrence on a clock the test moves: a job every minute while the one before has finished;
// one due while the previous job is active waits for it, and is created when it ends within
// the occurrence's window; one whose window passes is skipped; the schedule completes once
// doNotRunAfter has passed and its last job has finished.
func TestJobScheduleRecurs(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := actor.NewManualClock(start)
	e := newEnv(t, envOptions{clock: clock})
	advance := func(d time.Duration) {
		t.Helper()
		e.idle()
		for step := 10 * time.Second; d > 0; d -= step {
			clock.Advance(min(step, d))
			e.idle()
		}
	}
	jobs := func(id string) []string {
		t.Helper()
		e.idle()
		return jobIDs(e.scheduleJobs(t, id))
	}
	expect := func(id string, want ...string) {
		t.Helper()
		if got := jobs(id); !slices.Equal(got, want) {
			t.Fatalf("jobs of %s at +%v: %v, want %v", id, clock.Now().Sub(start), got, want)
		}
	}
	terminate := func(jobID string) {
		t.Helper()
		want(t, e.do("POST", "/jobs/"+jobID+"/terminate", nil, nil), http.StatusAccepted, "")
		e.idle()
	}

	// Every minute from +1m, each occurrence open until the next; none after +5m30s.
	created(t, e.do("POST", "/jobschedules", nil, schedule("minutely", map[string]any{
		"doNotRunUntil": start.Add(time.Minute), "doNotRunAfter": start.Add(5*time.Minute + 30*time.Second), "recurrenceInterval": "PT1M"})),
		http.StatusCreated, e.base+"/jobschedules/minutely")
	expect("minutely")
	if nr := e.getSchedule(t, "minutely").ExecutionInfo.NextRunTime; !nr.Equal(start.Add(time.Minute)) {
		t.Fatalf("nextRunTime %v", nr)
	}
	advance(time.Minute)
	expect("minutely", "minutely:job-1=active")
	advance(time.Minute) // +2m: due, but job-1 is active
	expect("minutely", "minutely:job-1=active")
	if nr := e.getSchedule(t, "minutely").ExecutionInfo.NextRunTime; !nr.Equal(start.Add(2 * time.Minute)) {
		t.Fatalf("nextRunTime while the +2m occurrence waits: %v", nr)
	}
	advance(30 * time.Second)
	terminate("minutely:job-1") // within the window: job-2 at once
	expect("minutely", "minutely:job-1=completed", "minutely:job-2=active")
	advance(90 * time.Second) // +4m: +3m's waited, and passed with +4m due
	terminate("minutely:job-2")
	expect("minutely", "minutely:job-1=completed", "minutely:job-2=completed", "minutely:job-3=active")
	if j := e.scheduleJobs(t, "minutely")[2]; !j.CreationTime.Equal(start.Add(4 * time.Minute)) {
		t.Errorf("job-3 created %v", j.CreationTime.Sub(start))
	}
	terminate("minutely:job-3")
	advance(time.Minute) // +5m
	expect("minutely", "minutely:job-1=completed", "minutely:job-2=completed", "minutely:job-3=completed", "minutely:job-4=active")
	advance(2 * time.Minute) // past doNotRunAfter: the schedule waits for job-4
	if got := e.getSchedule(t, "minutely"); got.State != batch.ScheduleActive || !got.ExecutionInfo.NextRunTime.IsZero() {
		t.Fatalf("after doNotRunAfter, with a job active: %s, next %v", got.State, got.ExecutionInfo.NextRunTime)
	}
	terminate("minutely:job-4")
	if got := e.getSchedule(t, "minutely"); got.State != batch.ScheduleCompleted || !got.ExecutionInfo.EndTime.Equal(clock.Now()) {
		t.Fatalf("after its last job: %s, ended %v", got.State, got.ExecutionInfo.EndTime.Sub(start))
	}

	// Every two minutes, each occurrence open for one: one whose window passes while the job
	// before is active is skipped.
	created(t, e.do("POST", "/jobschedules", nil, schedule("windowed", map[string]any{"recurrenceInterval": "PT2M", "startWindow": "PT1M"})),
		http.StatusCreated, e.base+"/jobschedules/windowed")
	t0 := clock.Now()
	expect("windowed", "windowed:job-1=active")
	advance(3 * time.Minute) // the +2m occurrence's window has passed
	if nr := e.getSchedule(t, "windowed").ExecutionInfo.NextRunTime; !nr.Equal(t0.Add(4 * time.Minute)) {
		t.Fatalf("nextRunTime after a window passed: %v", nr.Sub(t0))
	}
	terminate("windowed:job-1")
	expect("windowed", "windowed:job-1=completed")
	advance(time.Minute)
	expect("windowed", "windowed:job-1=completed", "windowed:job-2=active")

	// Disabled, the schedule creates nothing; enabled, the occurrence whose window is open runs.
	terminate("windowed:job-2")
	want(t, e.do("POST", "/jobschedules/windowed/disable", nil, nil), http.StatusNoContent, "")
	advance(2*time.Minute + 30*time.Second) // +6m30s: the +6m occurrence is due, its window open
	expect("windowed", "windowed:job-1=completed", "windowed:job-2=completed")
	want(t, e.do("POST", "/jobschedules/windowed/enable", nil, nil), http.StatusNoContent, "")
	expect("windowed", "windowed:job-1=completed", "windowed:job-2=completed", "windowed:job-3=active")

	// Terminating the schedule terminates its job; deleting it deletes its jobs.
	want(t, e.do("POST", "/jobschedules/windowed/terminate", nil, nil), http.StatusAccepted, "")
	e.idle()
	if got := e.getSchedule(t, "windowed"); got.State != batch.ScheduleCompleted {
		t.Fatalf("terminated: %s", got.State)
	}
	want(t, e.do("DELETE", "/jobschedules/windowed", nil, nil), http.StatusAccepted, "")
	for _, id := range []string{"windowed:job-1", "windowed:job-2", "windowed:job-3"} {
		want(t, e.do("GET", "/jobs/"+id, nil, nil), http.StatusNotFound, api.CodeJobNotFound)
	}
}
