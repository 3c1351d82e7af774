package compat

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/batch/azbatch"
)

const staticToken = "compat-go-static-token-0123456789"

// TestStaticToken runs a job end to end through azbatch with a static token: a pool of one
// local node, a job, tasks added one by one and as a collection, listed and waited for, and
// everything deleted.
func TestStaticToken(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil, "--token-file", writeTokenFile(t, staticToken))
	cred := staticCredential(staticToken)
	c := s.client(t, cred)
	runJob(t, c, "static")
	for _, sc := range cred.askedScopes() {
		if sc != batchScope {
			t.Errorf("azbatch asked for scope %q, want %q", sc, batchScope)
		}
	}
}

// runJob is the round trip of a user's program: pools, jobs and tasks through the SDK.
func runJob(t *testing.T, c *azbatch.Client, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	poolID, jobID := name+"-pool", name+"-job"

	if _, err := c.CreatePool(ctx, azbatch.CreatePoolContent{
		ID: to.Ptr(poolID), VMSize: to.Ptr("standard_d2s_v3"), TargetDedicatedNodes: to.Ptr[int32](1),
	}, nil); err != nil {
		t.Fatalf("CreatePool: %v", err)
	}
	var ids []string
	for pager := c.NewListPoolsPager(nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListPools: %v", err)
		}
		for _, p := range page.Value {
			ids = append(ids, *p.ID)
		}
	}
	if len(ids) != 1 || ids[0] != poolID {
		t.Fatalf("ListPools: %v, want [%s]", ids, poolID)
	}
	pool, err := c.GetPool(ctx, poolID, nil)
	if err != nil {
		t.Fatalf("GetPool: %v", err)
	}
	if *pool.ID != poolID || *pool.TargetDedicatedNodes != 1 || pool.ETag == nil {
		t.Fatalf("GetPool: id %v, target %v, etag %v", *pool.ID, pool.TargetDedicatedNodes, pool.ETag)
	}
	// No If-Match: the pool's ETag changes as its node is allocated.
	if _, err := c.UpdatePool(ctx, poolID, azbatch.UpdatePoolContent{Metadata: []azbatch.MetadataItem{{Name: to.Ptr("owner"), Value: to.Ptr(name)}}}, nil); err != nil {
		t.Fatalf("UpdatePool: %v", err)
	}
	filtered, err := c.NewListPoolsPager(&azbatch.ListPoolsOptions{Filter: to.Ptr("id eq '" + poolID + "'"), SelectParam: []string{"id", "metadata"}}).NextPage(ctx)
	if err != nil {
		t.Fatalf("ListPools $filter $select: %v", err)
	}
	if len(filtered.Value) != 1 || len(filtered.Value[0].Metadata) != 1 || *filtered.Value[0].Metadata[0].Value != name || filtered.Value[0].VMSize != nil {
		t.Fatalf("ListPools $filter $select: %d pools, first %+v", len(filtered.Value), filtered.Value)
	}

	if _, err := c.CreateJob(ctx, azbatch.CreateJobContent{ID: to.Ptr(jobID), PoolInfo: &azbatch.PoolInfo{PoolID: to.Ptr(poolID)}}, nil); err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	if _, err := c.CreateTask(ctx, jobID, azbatch.CreateTaskContent{ID: to.Ptr("t1"), CommandLine: to.Ptr("/bin/sh -c 'echo one'")}, nil); err != nil {
		t.Fatalf("CreateTask: %v", err)
	}
	coll, err := c.CreateTaskCollection(ctx, jobID, azbatch.TaskGroup{Value: []azbatch.CreateTaskContent{
		{ID: to.Ptr("t2"), CommandLine: to.Ptr("/bin/sh -c 'echo two'")},
		{ID: to.Ptr("t3"), CommandLine: to.Ptr("/bin/sh -c 'exit 3'")},
	}}, nil)
	if err != nil {
		t.Fatalf("CreateTaskCollection: %v", err)
	}
	for _, r := range coll.Value {
		if r.Status == nil || *r.Status != azbatch.TaskAddStatusSuccess {
			t.Fatalf("CreateTaskCollection: task %v: status %v, error %+v", *r.TaskID, r.Status, r.Error)
		}
	}

	// Wait until the three tasks have completed on the pool's node.
	exit := map[string]int32{}
	for len(exit) < 3 {
		if ctx.Err() != nil {
			t.Fatalf("tasks not completed in time; exit codes so far %v", exit)
		}
		time.Sleep(200 * time.Millisecond)
		clear(exit)
		for pager := c.NewListTasksPager(jobID, nil); pager.More(); {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListTasks: %v", err)
			}
			for _, task := range page.Value {
				if task.State != nil && *task.State == azbatch.TaskStateCompleted && task.ExecutionInfo != nil && task.ExecutionInfo.ExitCode != nil {
					exit[*task.ID] = *task.ExecutionInfo.ExitCode
				}
			}
		}
	}
	if exit["t1"] != 0 || exit["t2"] != 0 || exit["t3"] != 3 {
		t.Fatalf("exit codes %v, want t1 0, t2 0, t3 3", exit)
	}
	task, err := c.GetTask(ctx, jobID, "t3", nil)
	if err != nil {
		t.Fatalf("GetTask: %v", err)
	}
	if task.NodeInfo == nil || task.NodeInfo.PoolID == nil || *task.NodeInfo.PoolID != poolID {
		t.Fatalf("GetTask: node info %+v", task.NodeInfo)
	}
	// Task - Update (the SDK's ReplaceTask): the constraints are replaced, with the current ETag.
	if _, err := c.ReplaceTask(ctx, jobID, "t3", azbatch.Task{Constraints: &azbatch.TaskConstraints{MaxTaskRetryCount: to.Ptr[int32](1)}},
		&azbatch.ReplaceTaskOptions{IfMatch: task.ETag}); err != nil {
		t.Fatalf("ReplaceTask: %v", err)
	}
	if task, err = c.GetTask(ctx, jobID, "t3", nil); err != nil || task.Constraints == nil || *task.Constraints.MaxTaskRetryCount != 1 {
		t.Fatalf("GetTask after ReplaceTask: %v, constraints %+v", err, task.Constraints)
	}
	counts, err := c.GetJobTaskCounts(ctx, jobID, nil)
	if err != nil {
		t.Fatalf("GetJobTaskCounts: %v", err)
	}
	if tc := counts.TaskCounts; *tc.Completed != 3 || *tc.Succeeded != 2 || *tc.Failed != 1 {
		t.Fatalf("GetJobTaskCounts: completed %d, succeeded %d, failed %d", *tc.Completed, *tc.Succeeded, *tc.Failed)
	}
	// $expand=stats: the job's statistics count its tasks by result; a task's have its wait.
	withStats, err := c.GetJob(ctx, jobID, &azbatch.GetJobOptions{Expand: []string{"stats"}})
	if err != nil {
		t.Fatalf("GetJob with $expand=stats: %v", err)
	}
	if st := withStats.Stats; st == nil || st.NumSucceededTasks == nil || *st.NumSucceededTasks != 2 || *st.NumFailedTasks != 1 || st.WallClockTime == nil {
		t.Fatalf("GetJob with $expand=stats: stats %+v", st)
	}
	if task, err = c.GetTask(ctx, jobID, "t1", &azbatch.GetTaskOptions{Expand: []string{"stats"}}); err != nil || task.Stats == nil || task.Stats.WaitTime == nil || task.Stats.StartTime == nil {
		t.Fatalf("GetTask with $expand=stats: %v, stats %+v", err, task.Stats)
	}
	// A pool's statistics: the core time of its dedicated node, which has been up a while.
	if p, err := c.GetPool(ctx, poolID, &azbatch.GetPoolOptions{Expand: []string{"stats"}}); err != nil || p.Stats == nil || p.Stats.UsageStats == nil ||
		p.Stats.UsageStats.DedicatedCoreTime == nil || *p.Stats.UsageStats.DedicatedCoreTime == "" || *p.Stats.UsageStats.DedicatedCoreTime == "PT0S" {
		t.Fatalf("GetPool with $expand=stats: %v, stats %+v", err, p.Stats)
	}

	// Task - Reactivate: the failed t3 runs again, now with the one retry ReplaceTask gave it.
	if _, err := c.ReactivateTask(ctx, jobID, "t3", nil); err != nil {
		t.Fatalf("ReactivateTask: %v", err)
	}
	task = waitTask(ctx, t, c, jobID, "t3", azbatch.TaskStateCompleted)
	if x := task.ExecutionInfo; x == nil || x.ExitCode == nil || *x.ExitCode != 3 || *x.RetryCount != 1 {
		t.Fatalf("GetTask after ReactivateTask: executionInfo %+v", x)
	}

	// Job - Disable with requeue while a task runs: the task is active again, its retry count
	// not charged; Job - Enable runs it again.
	if _, err := c.CreateTask(ctx, jobID, azbatch.CreateTaskContent{ID: to.Ptr("t4"), CommandLine: to.Ptr("/bin/sh -c 'sleep 60'")}, nil); err != nil {
		t.Fatalf("CreateTask: %v", err)
	}
	waitTask(ctx, t, c, jobID, "t4", azbatch.TaskStateRunning)
	if _, err := c.DisableJob(ctx, jobID, azbatch.DisableJobContent{DisableTasks: to.Ptr(azbatch.DisableJobOptionRequeue)}, nil); err != nil {
		t.Fatalf("DisableJob: %v", err)
	}
	waitJob(ctx, t, c, jobID, azbatch.JobStateDisabled)
	task = waitTask(ctx, t, c, jobID, "t4", azbatch.TaskStateActive)
	if x := task.ExecutionInfo; x == nil || *x.RequeueCount != 1 || *x.RetryCount != 0 {
		t.Fatalf("GetTask after DisableJob: executionInfo %+v", x)
	}
	if _, err := c.EnableJob(ctx, jobID, nil); err != nil {
		t.Fatalf("EnableJob: %v", err)
	}
	waitJob(ctx, t, c, jobID, azbatch.JobStateActive)
	waitTask(ctx, t, c, jobID, "t4", azbatch.TaskStateRunning)

	if _, err := c.DeleteJob(ctx, jobID, nil); err != nil {
		t.Fatalf("DeleteJob: %v", err)
	}
	if _, err := c.DeletePool(ctx, poolID, nil); err != nil {
		t.Fatalf("DeletePool: %v", err)
	}
	// Deletion is asynchronous, as on Azure: wait until the pool is gone (its node with it).
	for {
		_, err := c.GetPool(ctx, poolID, nil)
		if code(err) == "PoolNotFound" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("pool not deleted in time: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitTask waits until a task is in state want, and returns it.
func waitTask(ctx context.Context, t *testing.T, c *azbatch.Client, jobID, taskID string, want azbatch.TaskState) azbatch.GetTaskResponse {
	t.Helper()
	for {
		task, err := c.GetTask(ctx, jobID, taskID, nil)
		if err == nil && task.State != nil && *task.State == want {
			return task
		}
		if ctx.Err() != nil {
			t.Fatalf("task %s not %s in time: %v, state %v", taskID, want, err, task.State)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitJob waits until a job is in state want.
func waitJob(ctx context.Context, t *testing.T, c *azbatch.Client, jobID string, want azbatch.JobState) {
	t.Helper()
	for {
		j, err := c.GetJob(ctx, jobID, nil)
		if err == nil && j.State != nil && *j.State == want {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("job %s not %s in time: %v, state %v", jobID, want, err, j.State)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// code is the Azure error code of err ("" when it is not an azcore.ResponseError).
func code(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

// status is the HTTP status of err (0 when it is not an azcore.ResponseError).
func status(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// TestRefusedTokens: what the SDK surfaces for a token the server does not accept.
func TestRefusedTokens(t *testing.T) {
	t.Parallel()
	withTokens := startServer(t, nil, "--token-file", writeTokenFile(t, staticToken))
	keysOnly := startServer(t, nil)
	tests := []struct {
		name   string
		s      *server
		token  string
		detail string
	}{
		{"wrong token", withTokens, "wrong-token-0123456789abcdef", "not valid"},
		{"bearer tokens not configured", keysOnly, staticToken, "not configured"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.s.client(t, staticCredential(tt.token))
			_, err := c.GetPool(context.Background(), "p", nil)
			var re *azcore.ResponseError
			if !errors.As(err, &re) || re.StatusCode != http.StatusUnauthorized || re.ErrorCode != "AuthenticationFailed" {
				t.Fatalf("got %v, want 401 AuthenticationFailed", err)
			}
			if !strings.HasPrefix(re.RawResponse.Header.Get("WWW-Authenticate"), "Bearer ") {
				t.Fatalf("WWW-Authenticate %q", re.RawResponse.Header.Get("WWW-Authenticate"))
			}
			if !strings.Contains(err.Error(), tt.detail) {
				t.Fatalf("error does not say %q: %v", tt.detail, err)
			}
			if strings.Contains(err.Error(), tt.token) {
				t.Fatal("the error quotes the token")
			}
		})
	}
}

// TestUnimplemented records what azbatch calls that Corral does not serve yet: each must be
// answered with Azure's error shape (the SDK surfaces a ResponseError with a code), never faked.
// The test logs each answer, and fails if a call is served (it then belongs in runJob) or fails
// without an Azure error.
func TestUnimplemented(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil, "--token-file", writeTokenFile(t, staticToken))
	c := s.client(t, staticCredential(staticToken))
	ctx := context.Background()
	if _, err := c.CreatePool(ctx, azbatch.CreatePoolContent{ID: to.Ptr("p"), VMSize: to.Ptr("standard_d2s_v3"), TargetDedicatedNodes: to.Ptr[int32](0)}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateJob(ctx, azbatch.CreateJobContent{ID: to.Ptr("j"), PoolInfo: &azbatch.PoolInfo{PoolID: to.Ptr("p")}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateTask(ctx, "j", azbatch.CreateTaskContent{ID: to.Ptr("t"), CommandLine: to.Ptr("true")}, nil); err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"CreateJobSchedule with a job manager task", func() error {
			_, err := c.CreateJobSchedule(ctx, azbatch.CreateJobScheduleContent{ID: to.Ptr("s"), Schedule: &azbatch.JobScheduleConfiguration{},
				JobSpecification: &azbatch.JobSpecification{PoolInfo: &azbatch.PoolInfo{PoolID: to.Ptr("p")},
					JobManagerTask: &azbatch.JobManagerTask{ID: to.Ptr("m"), CommandLine: to.Ptr("true")}}}, nil)
			return err
		}},
		{"UpdateJob priority", func() error {
			_, err := c.UpdateJob(ctx, "j", azbatch.UpdateJobContent{Priority: to.Ptr[int32](1)}, nil)
			return err
		}},
	}
	for _, tc := range calls {
		err := tc.call()
		switch {
		case err == nil:
			t.Errorf("%s: served; test it in runJob", tc.name)
		case code(err) == "":
			t.Errorf("%s: not an Azure error: %v", tc.name, err)
		default:
			t.Logf("%s: %d %s", tc.name, status(err), code(err))
		}
	}
}
