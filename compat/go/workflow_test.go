package compat

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/batch/azbatch"
)

// workflowTasks is the size of TestWorkflow's job; with Azurite, its first workflowFileTasks
// tasks have a resource file and an output file.
const workflowTasks, workflowFileTasks = 500, 10

// TestWorkflow is a realistic program on azbatch: a pool of two nodes with a start task, a job
// with a preparation task (which needs the start task's file, and whose own file every task
// needs), a release task and task dependencies, whose 500 tasks are added as collections of 100
// from parallel goroutines (as Azure advises for large jobs), polled with $filter, $select and
// paging until all complete, then terminated and deleted. Tasks 0–398 form chains (task i waits
// for task i-100); task 499 waits for the range 400–498. Each dependency is checked against the
// tasks' start and end times, and after the job is terminated each node that prepared must show
// both tasks succeeded. With Azurite (see startAzurite), tasks 0–9 download a blob as a resource
// file (its URL with a SAS) and upload what they read as output files wf/<i>.txt to a container
// (its URL with a SAS, on task success); the test reads each back and checks it.
func TestWorkflow(t *testing.T) {
	t.Parallel()
	az := startAzurite(t) // first, so that it stops after the server and its nodes
	s := startServer(t, nil, "--token-file", writeTokenFile(t, staticToken))
	c := s.client(t, staticCredential(staticToken))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const poolID, jobID = "wf-pool", "wf-job"

	var inputURL, outputURL string
	if az != nil {
		var err error
		if inputURL, outputURL, err = workflowStorage(ctx, az); err != nil {
			t.Fatalf("Azurite: %v", err)
		}
	}

	if _, err := c.CreatePool(ctx, azbatch.CreatePoolContent{
		ID: to.Ptr(poolID), VMSize: to.Ptr("standard_d2s_v3"), TargetDedicatedNodes: to.Ptr[int32](2), TaskSlotsPerNode: to.Ptr[int32](4),
		StartTask: &azbatch.StartTask{CommandLine: to.Ptr(`/bin/sh -c 'echo started > "$AZ_BATCH_NODE_SHARED_DIR/started"'`), WaitForSuccess: to.Ptr(true)},
	}, nil); err != nil {
		t.Fatalf("CreatePool: %v", err)
	}
	if _, err := c.CreateJob(ctx, azbatch.CreateJobContent{
		ID: to.Ptr(jobID), PoolInfo: &azbatch.PoolInfo{PoolID: to.Ptr(poolID)}, UsesTaskDependencies: to.Ptr(true),
		JobPreparationTask: &azbatch.JobPreparationTask{CommandLine: to.Ptr(`/bin/sh -c 'test -f "$AZ_BATCH_NODE_SHARED_DIR/started" && echo ready > ready.txt'`)},
		JobReleaseTask:     &azbatch.JobReleaseTask{CommandLine: to.Ptr(`/bin/sh -c 'rm "$AZ_BATCH_JOB_PREP_WORKING_DIR/ready.txt"'`)},
	}, nil); err != nil {
		t.Fatalf("CreateJob: %v", err)
	}

	tasks := make([]azbatch.CreateTaskContent, workflowTasks)
	for i := range tasks {
		id := strconv.Itoa(i)
		tasks[i] = azbatch.CreateTaskContent{ID: to.Ptr(id), CommandLine: to.Ptr(`/bin/sh -c 'test -f "$AZ_BATCH_JOB_PREP_WORKING_DIR/ready.txt" && echo ` + id + "'")}
		if az != nil && i < workflowFileTasks {
			tasks[i].CommandLine = to.Ptr(`/bin/sh -c 'test -f "$AZ_BATCH_JOB_PREP_WORKING_DIR/ready.txt" && cat input.txt > out.txt'`)
			tasks[i].ResourceFiles = []azbatch.ResourceFile{{HTTPURL: to.Ptr(inputURL), FilePath: to.Ptr("input.txt")}}
			tasks[i].OutputFiles = []azbatch.OutputFile{{
				FilePattern:   to.Ptr("out.txt"),
				Destination:   &azbatch.OutputFileDestination{Container: &azbatch.OutputFileBlobContainerDestination{ContainerURL: to.Ptr(outputURL), Path: to.Ptr("wf/" + id + ".txt")}},
				UploadOptions: &azbatch.OutputFileUploadConfig{UploadCondition: to.Ptr(azbatch.OutputFileUploadConditionTaskSuccess)},
			}}
		}
		switch {
		case i == workflowTasks-1:
			tasks[i].DependsOn = &azbatch.TaskDependencies{TaskIDRanges: []azbatch.TaskIDRange{{Start: to.Ptr[int32](400), End: to.Ptr[int32](workflowTasks - 2)}}}
		case i >= 100:
			tasks[i].DependsOn = &azbatch.TaskDependencies{TaskIDs: []string{strconv.Itoa(i - 100)}}
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, workflowTasks/100)
	for start := 0; start < workflowTasks; start += 100 {
		wg.Go(func() {
			r, err := c.CreateTaskCollection(ctx, jobID, azbatch.TaskGroup{Value: tasks[start : start+100]}, nil)
			if err != nil {
				errs <- err
				return
			}
			for _, v := range r.Value {
				if v.Status == nil || *v.Status != azbatch.TaskAddStatusSuccess {
					t.Errorf("CreateTaskCollection: task %s: status %v, error %+v", *v.TaskID, v.Status, v.Error)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("CreateTaskCollection: %v", err)
	}
	if t.Failed() {
		return
	}

	// Poll as a program does: only completed tasks, only the properties it reads, 100 a page.
	type times struct{ start, end time.Time }
	done := map[string]times{}
	pages := 0
	for len(done) < workflowTasks {
		if ctx.Err() != nil {
			t.Fatalf("%d of %d tasks completed in time", len(done), workflowTasks)
		}
		time.Sleep(250 * time.Millisecond)
		opts := &azbatch.ListTasksOptions{Filter: to.Ptr("state eq 'completed'"), SelectParam: []string{"id", "executionInfo"}, MaxResults: to.Ptr[int32](100)}
		pages = 0
		for pager := c.NewListTasksPager(jobID, opts); pager.More(); {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListTasks: %v", err)
			}
			pages++
			for _, task := range page.Value {
				if task.CommandLine != nil || task.State != nil {
					t.Fatalf("ListTasks $select id,executionInfo: task %s has commandLine %v, state %v", *task.ID, task.CommandLine, task.State)
				}
				x := task.ExecutionInfo
				if x == nil || x.ExitCode == nil || *x.ExitCode != 0 || x.StartTime == nil || x.EndTime == nil {
					t.Fatalf("task %s completed with execution info %+v, want exit code 0 and times", *task.ID, x)
				}
				done[*task.ID] = times{*x.StartTime, *x.EndTime}
			}
		}
	}
	if pages < workflowTasks/100 {
		t.Errorf("the last poll read %d pages of at most 100 tasks, want at least %d", pages, workflowTasks/100)
	}
	for i := 100; i < workflowTasks; i++ {
		deps := []int{i - 100}
		if i == workflowTasks-1 {
			deps = deps[:0]
			for d := 400; d <= workflowTasks-2; d++ {
				deps = append(deps, d)
			}
		}
		for _, d := range deps {
			if started, depEnd := done[strconv.Itoa(i)].start, done[strconv.Itoa(d)].end; started.Before(depEnd) {
				t.Errorf("task %d started at %s, before its dependency %d ended at %s", i, started, d, depEnd)
			}
		}
	}
	counts, err := c.GetJobTaskCounts(ctx, jobID, nil)
	if err != nil {
		t.Fatalf("GetJobTaskCounts: %v", err)
	}
	if tc := counts.TaskCounts; *tc.Succeeded != workflowTasks || *tc.Failed != 0 {
		t.Errorf("GetJobTaskCounts: succeeded %d, failed %d, want %d and 0", *tc.Succeeded, *tc.Failed, workflowTasks)
	}
	if az != nil {
		// A task's output files are uploaded before it completes.
		for i := range workflowFileTasks {
			name := "wf/" + strconv.Itoa(i) + ".txt"
			if b, err := az.get(ctx, workflowOutContainer, name); err != nil || string(b) != workflowInput {
				t.Errorf("output file %s: %q (%v), want what the resource file held, %q", name, b, err, workflowInput)
			}
		}
	}

	if _, err := c.TerminateJob(ctx, jobID, nil); err != nil {
		t.Fatalf("TerminateJob: %v", err)
	}
	waitFor(ctx, t, "the job to complete", func() bool {
		j, err := c.GetJob(ctx, jobID, nil)
		return err == nil && j.State != nil && *j.State == azbatch.JobStateCompleted
	})
	var status []azbatch.JobPreparationAndReleaseTaskStatus
	waitFor(ctx, t, "the release tasks", func() bool {
		status = nil
		for pager := c.NewListJobPreparationAndReleaseTaskStatusPager(jobID, nil); pager.More(); {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListJobPreparationAndReleaseTaskStatus: %v", err)
			}
			status = append(status, page.Value...)
		}
		for _, s := range status {
			if r := s.JobReleaseTaskExecutionInfo; r == nil || r.State == nil || *r.State != azbatch.JobReleaseTaskStateCompleted {
				return false
			}
		}
		return len(status) > 0
	})
	for _, s := range status {
		p, r := s.JobPreparationTaskExecutionInfo, s.JobReleaseTaskExecutionInfo
		if p == nil || p.ExitCode == nil || *p.ExitCode != 0 || *p.State != azbatch.JobPreparationTaskStateCompleted || r.ExitCode == nil || *r.ExitCode != 0 {
			t.Errorf("node %s: preparation %+v, release %+v", *s.NodeID, p, r)
		}
	}
	if _, err := c.DeleteJob(ctx, jobID, nil); err != nil {
		t.Fatalf("DeleteJob: %v", err)
	}
	if _, err := c.DeletePool(ctx, poolID, nil); err != nil {
		t.Fatalf("DeletePool: %v", err)
	}
	waitFor(ctx, t, "the job and pool to be deleted", func() bool {
		_, jobErr := c.GetJob(ctx, jobID, nil)
		_, poolErr := c.GetPool(ctx, poolID, nil)
		return code(jobErr) == "JobNotFound" && code(poolErr) == "PoolNotFound"
	})
}

// The containers of TestWorkflow's files, and what its input blob holds.
const workflowInContainer, workflowOutContainer, workflowInput = "wf-in", "wf-out", "from storage\n"

// workflowStorage creates TestWorkflow's containers in az and its input blob, and returns the
// blob's URL with a SAS that may read it and the output container's with one that may write.
func workflowStorage(ctx context.Context, az *azurite) (inputURL, outputURL string, err error) {
	for _, name := range []string{workflowInContainer, workflowOutContainer} {
		if err := az.createContainer(ctx, name); err != nil {
			return "", "", err
		}
	}
	if err := az.put(ctx, workflowInContainer, "input.txt", []byte(workflowInput)); err != nil {
		return "", "", err
	}
	if inputURL, err = az.blobSAS(workflowInContainer, "input.txt"); err != nil {
		return "", "", err
	}
	if outputURL, err = az.containerSAS(workflowOutContainer); err != nil {
		return "", "", err
	}
	return inputURL, outputURL, nil
}

// waitFor polls cond until it holds, failing the test when ctx ends first.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if ctx.Err() != nil {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
