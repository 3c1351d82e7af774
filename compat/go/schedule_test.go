package compat

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/batch/azbatch"
)

// TestJobSchedules drives job schedules through azbatch: two schedules each create a job at
// once (one that does not recur, one every minute from now), seen with ListJobsFromSchedule; a
// task runs in the first's job, which then completes the schedule; the second is read, listed,
// checked for, updated, replaced, disabled and enabled, then terminated (its job with it) and
// deleted (its job with it).
//
// Azure's shortest recurrenceInterval is a minute, and Corral keeps it: TestJobScheduleMakesTwoJobs
// waits that minute for a schedule's second job, beside the other tests. The recurrence is also
// tested where time is virtual (service's TestScheduleLifecycle) or moved by the test (api/rest's
// TestJobScheduleRecurs).
func TestJobSchedules(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil, "--token-file", writeTokenFile(t, staticToken))
	c := s.client(t, staticCredential(staticToken))
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	if _, err := c.CreatePool(ctx, azbatch.CreatePoolContent{ID: to.Ptr("sp"), VMSize: to.Ptr("standard_d2s_v3"), TargetDedicatedNodes: to.Ptr[int32](1)}, nil); err != nil {
		t.Fatalf("CreatePool: %v", err)
	}
	spec := &azbatch.JobSpecification{PoolInfo: &azbatch.PoolInfo{PoolID: to.Ptr("sp")}, DisplayName: to.Ptr("scheduled")}
	now := time.Now().UTC().Truncate(time.Second)
	if _, err := c.CreateJobSchedule(ctx, azbatch.CreateJobScheduleContent{ID: to.Ptr("once"), Schedule: &azbatch.JobScheduleConfiguration{},
		JobSpecification: spec}, nil); err != nil {
		t.Fatalf("CreateJobSchedule once: %v", err)
	}
	if _, err := c.CreateJobSchedule(ctx, azbatch.CreateJobScheduleContent{ID: to.Ptr("every"),
		Schedule:         &azbatch.JobScheduleConfiguration{DoNotRunUntil: &now, RecurrenceInterval: to.Ptr("PT1M"), StartWindow: to.Ptr("PT5M")},
		JobSpecification: spec, Metadata: []azbatch.MetadataItem{{Name: to.Ptr("team"), Value: to.Ptr("a")}}}, nil); err != nil {
		t.Fatalf("CreateJobSchedule every: %v", err)
	}
	if _, err := c.CreateJobSchedule(ctx, azbatch.CreateJobScheduleContent{ID: to.Ptr("fast"),
		Schedule: &azbatch.JobScheduleConfiguration{RecurrenceInterval: to.Ptr("PT10S")}, JobSpecification: spec}, nil); code(err) != "InvalidPropertyValue" {
		t.Fatalf("CreateJobSchedule every 10 seconds: %v, want InvalidPropertyValue", err)
	}

	// Each schedule's first job, seen from the schedule.
	jobsOf := func(id string) []string {
		t.Helper()
		var ids []string
		for pager := c.NewListJobsFromSchedulePager(id, nil); pager.More(); {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListJobsFromSchedule %s: %v", id, err)
			}
			for _, j := range page.Value {
				ids = append(ids, *j.ID+"="+string(*j.State))
			}
		}
		return ids
	}
	for _, id := range []string{"once", "every"} {
		want := []string{id + ":job-1=active"}
		for got := jobsOf(id); !slices.Equal(got, want); got = jobsOf(id) {
			if ctx.Err() != nil {
				t.Fatalf("jobs of %s: %v, want %v", id, got, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// A task runs in the one-shot schedule's job; once the job completes, so does the schedule.
	if _, err := c.CreateTask(ctx, "once:job-1", azbatch.CreateTaskContent{ID: to.Ptr("t1"), CommandLine: to.Ptr(`/bin/sh -c 'echo "$AZ_BATCH_JOB_ID"'`)}, nil); err != nil {
		t.Fatalf("CreateTask in the schedule's job: %v", err)
	}
	if _, err := c.UpdateJob(ctx, "once:job-1", azbatch.UpdateJobContent{OnAllTasksComplete: to.Ptr(azbatch.OnAllTasksCompleteTerminateJob)}, nil); err != nil {
		t.Fatalf("UpdateJob: %v", err)
	}
	for {
		sch, err := c.GetJobSchedule(ctx, "once", nil)
		if err != nil {
			t.Fatalf("GetJobSchedule once: %v", err)
		}
		if *sch.State == azbatch.JobScheduleStateCompleted {
			if sch.ExecutionInfo == nil || sch.ExecutionInfo.EndTime == nil || *sch.ExecutionInfo.RecentJob.ID != "once:job-1" {
				t.Fatalf("completed schedule: %+v", sch.ExecutionInfo)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("schedule once not completed: %s", *sch.State)
		}
		time.Sleep(100 * time.Millisecond)
	}
	task, err := c.GetTask(ctx, "once:job-1", "t1", nil)
	if err != nil || task.ExecutionInfo == nil || task.ExecutionInfo.ExitCode == nil || *task.ExecutionInfo.ExitCode != 0 {
		t.Fatalf("the schedule's task: %+v, %v", task.ExecutionInfo, err)
	}

	// The recurring schedule: get, exists, list.
	sch, err := c.GetJobSchedule(ctx, "every", nil)
	if err != nil {
		t.Fatalf("GetJobSchedule: %v", err)
	}
	if *sch.State != azbatch.JobScheduleStateActive || *sch.Schedule.RecurrenceInterval != "PT1M" || !sch.ExecutionInfo.NextRunTime.Equal(now.Add(time.Minute)) ||
		*sch.ExecutionInfo.RecentJob.URL != s.url+"/jobs/every:job-1" || len(sch.Metadata) != 1 || sch.ETag == nil {
		t.Fatalf("GetJobSchedule: state %s, schedule %+v, executionInfo %+v", *sch.State, sch.Schedule, sch.ExecutionInfo)
	}
	if ex, err := c.JobScheduleExists(ctx, "every", nil); err != nil || ex.ETag == nil {
		t.Fatalf("JobScheduleExists: %+v, %v", ex, err)
	}
	if ex, err := c.JobScheduleExists(ctx, "nope", nil); err != nil || ex.ETag != nil {
		t.Fatalf("JobScheduleExists of a missing schedule: %+v, %v", ex, err)
	}
	var ids []string
	for pager := c.NewListJobSchedulesPager(&azbatch.ListJobSchedulesOptions{Filter: to.Ptr("state eq 'active'")}); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListJobSchedules: %v", err)
		}
		for _, s := range page.Value {
			ids = append(ids, *s.ID)
		}
	}
	if !slices.Equal(ids, []string{"every"}) {
		t.Fatalf("active schedules: %v", ids)
	}

	// Update (PATCH) with the ETag, replace (PUT), disable, enable.
	if _, err := c.UpdateJobSchedule(ctx, "every", azbatch.UpdateJobScheduleContent{Metadata: []azbatch.MetadataItem{{Name: to.Ptr("team"), Value: to.Ptr("b")}}},
		&azbatch.UpdateJobScheduleOptions{IfMatch: sch.ETag}); err != nil {
		t.Fatalf("UpdateJobSchedule: %v", err)
	}
	if _, err := c.UpdateJobSchedule(ctx, "every", azbatch.UpdateJobScheduleContent{Metadata: []azbatch.MetadataItem{}},
		&azbatch.UpdateJobScheduleOptions{IfMatch: sch.ETag}); code(err) != "ConditionNotMet" {
		t.Fatalf("UpdateJobSchedule with a stale ETag: %v", err)
	}
	if _, err := c.ReplaceJobSchedule(ctx, "every", azbatch.JobSchedule{JobSpecification: spec,
		Schedule: &azbatch.JobScheduleConfiguration{DoNotRunUntil: &now, RecurrenceInterval: to.Ptr("PT2M")}}, nil); err != nil {
		t.Fatalf("ReplaceJobSchedule: %v", err)
	}
	if _, err := c.DisableJobSchedule(ctx, "every", nil); err != nil {
		t.Fatalf("DisableJobSchedule: %v", err)
	}
	if sch, err = c.GetJobSchedule(ctx, "every", nil); err != nil || *sch.State != azbatch.JobScheduleStateDisabled ||
		len(sch.Metadata) != 0 || *sch.Schedule.RecurrenceInterval != "PT2M" {
		t.Fatalf("after replace and disable: %+v, %v", sch, err)
	}
	if _, err := c.EnableJobSchedule(ctx, "every", nil); err != nil {
		t.Fatalf("EnableJobSchedule: %v", err)
	}

	// Terminate: the schedule's job ends with it. Delete: its job goes with it.
	if _, err := c.TerminateJobSchedule(ctx, "every", nil); err != nil {
		t.Fatalf("TerminateJobSchedule: %v", err)
	}
	for {
		job, err := c.GetJob(ctx, "every:job-1", nil)
		if err != nil {
			t.Fatalf("GetJob: %v", err)
		}
		if *job.State == azbatch.JobStateCompleted {
			if *job.ExecutionInfo.TerminationReason != "TerminateJobSchedule" {
				t.Fatalf("terminate reason %q", *job.ExecutionInfo.TerminationReason)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("job not terminated: %s", *job.State)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, id := range []string{"every", "once"} {
		if _, err := c.DeleteJobSchedule(ctx, id, nil); err != nil {
			t.Fatalf("DeleteJobSchedule %s: %v", id, err)
		}
		if _, err := c.GetJob(ctx, id+":job-1", nil); code(err) != "JobNotFound" {
			t.Fatalf("the job of a deleted schedule: %v", err)
		}
		if _, err := c.GetJobSchedule(ctx, id, nil); code(err) != "JobScheduleNotFound" {
			t.Fatalf("a deleted schedule: %v", err)
		}
	}
}

// TestJobScheduleMakesTwoJobs lets a job schedule recur through azbatch: it runs every minute
// (Azure's shortest interval) from now; its first job is terminated at once, and a minute later
// the schedule makes its second job, seen with ListJobsFromSchedule. It takes that minute, so it
// runs beside the module's other tests.
func TestJobScheduleMakesTwoJobs(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil, "--token-file", writeTokenFile(t, staticToken))
	c := s.client(t, staticCredential(staticToken))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := c.CreatePool(ctx, azbatch.CreatePoolContent{ID: to.Ptr("rp"), VMSize: to.Ptr("standard_d2s_v3"), TargetDedicatedNodes: to.Ptr[int32](1)}, nil); err != nil {
		t.Fatalf("CreatePool: %v", err)
	}
	start := time.Now().UTC().Truncate(time.Second)
	if _, err := c.CreateJobSchedule(ctx, azbatch.CreateJobScheduleContent{ID: to.Ptr("minutely"),
		Schedule:         &azbatch.JobScheduleConfiguration{DoNotRunUntil: &start, RecurrenceInterval: to.Ptr("PT1M")},
		JobSpecification: &azbatch.JobSpecification{PoolInfo: &azbatch.PoolInfo{PoolID: to.Ptr("rp")}}}, nil); err != nil {
		t.Fatalf("CreateJobSchedule: %v", err)
	}
	jobs := func() []azbatch.Job {
		t.Helper()
		var out []azbatch.Job
		for pager := c.NewListJobsFromSchedulePager("minutely", nil); pager.More(); {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListJobsFromSchedule: %v", err)
			}
			out = append(out, page.Value...)
		}
		return out
	}
	waitFor(ctx, t, "the schedule's first job", func() bool { return len(jobs()) == 1 })
	if _, err := c.TerminateJob(ctx, "minutely:job-1", nil); err != nil {
		t.Fatalf("TerminateJob: %v", err)
	}
	waitFor(ctx, t, "the schedule's second job", func() bool { return len(jobs()) == 2 })
	js := jobs()
	slices.SortFunc(js, func(a, b azbatch.Job) int { return strings.Compare(*a.ID, *b.ID) })
	if *js[0].ID != "minutely:job-1" || *js[0].State != azbatch.JobStateCompleted || *js[1].ID != "minutely:job-2" || *js[1].State != azbatch.JobStateActive {
		t.Errorf("jobs: %s %s, %s %s; want job-1 completed, job-2 active", *js[0].ID, *js[0].State, *js[1].ID, *js[1].State)
	}
	if gap := js[1].CreationTime.Sub(start); gap < time.Minute {
		t.Errorf("the second job came %v after the schedule's start, before its recurrence interval", gap)
	}
	if _, err := c.TerminateJobSchedule(ctx, "minutely", nil); err != nil {
		t.Fatalf("TerminateJobSchedule: %v", err)
	}
}
