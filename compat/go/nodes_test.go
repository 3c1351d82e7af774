package compat

import (
	"context"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/batch/azbatch"
)

// TestNodeOperations drives the compute node operations through azbatch: disable and enable
// scheduling, reboot and reimage, the node's files and a task's file deleted, and the answers
// for VM extensions and remote login.
func TestNodeOperations(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil, "--token-file", writeTokenFile(t, staticToken))
	c := s.client(t, staticCredential(staticToken))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const poolID, jobID = "nodes", "nodes-job"
	if _, err := c.CreatePool(ctx, azbatch.CreatePoolContent{ID: to.Ptr(poolID), VMSize: to.Ptr("standard_d2s_v3"), TargetDedicatedNodes: to.Ptr[int32](1)}, nil); err != nil {
		t.Fatalf("CreatePool: %v", err)
	}
	node := func(ok func(azbatch.Node) bool, what string) azbatch.Node {
		t.Helper()
		for {
			page, err := c.NewListNodesPager(poolID, nil).NextPage(ctx)
			if err != nil {
				t.Fatalf("ListNodes: %v", err)
			}
			if len(page.Value) == 1 && ok(page.Value[0]) {
				return page.Value[0]
			}
			if ctx.Err() != nil {
				t.Fatalf("node not %s in time: %+v", what, page.Value)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	state := func(want azbatch.NodeState) func(azbatch.Node) bool {
		return func(n azbatch.Node) bool { return n.State != nil && *n.State == want }
	}
	id := *node(state(azbatch.NodeStateIdle), "idle").ID

	if _, err := c.DisableNodeScheduling(ctx, poolID, id, &azbatch.DisableNodeSchedulingOptions{
		Parameters: &azbatch.DisableNodeSchedulingContent{NodeDisableSchedulingOption: to.Ptr(azbatch.NodeDisableSchedulingOptionRequeue)}}); err != nil {
		t.Fatalf("DisableNodeScheduling: %v", err)
	}
	n := node(state(azbatch.NodeStateOffline), "offline")
	if *n.SchedulingState != azbatch.SchedulingStateDisabled {
		t.Errorf("disabled node: schedulingState %v", *n.SchedulingState)
	}
	if _, err := c.EnableNodeScheduling(ctx, poolID, id, nil); err != nil {
		t.Fatalf("EnableNodeScheduling: %v", err)
	}
	booted := node(state(azbatch.NodeStateIdle), "idle again").LastBootTime
	if _, err := c.RebootNode(ctx, poolID, id, &azbatch.RebootNodeOptions{
		Parameters: &azbatch.RebootNodeContent{NodeRebootOption: to.Ptr(azbatch.NodeRebootOptionRequeue)}}); err != nil {
		t.Fatalf("RebootNode: %v", err)
	}
	rebooted := node(func(n azbatch.Node) bool {
		return state(azbatch.NodeStateIdle)(n) && n.LastBootTime != nil && n.LastBootTime.After(*booted)
	}, "rebooted")
	if _, err := c.ReimageNode(ctx, poolID, id, nil); err != nil {
		t.Fatalf("ReimageNode: %v", err)
	}
	node(func(n azbatch.Node) bool {
		return state(azbatch.NodeStateIdle)(n) && n.LastBootTime.After(*rebooted.LastBootTime)
	}, "reimaged")

	// A task leaves files in its directory and in the node's shared directory.
	if _, err := c.CreateJob(ctx, azbatch.CreateJobContent{ID: to.Ptr(jobID), PoolInfo: &azbatch.PoolInfo{PoolID: to.Ptr(poolID)}}, nil); err != nil {
		t.Fatalf("CreateJob: %v", err)
	}
	if _, err := c.CreateTask(ctx, jobID, azbatch.CreateTaskContent{ID: to.Ptr("t"),
		CommandLine: to.Ptr(`/bin/sh -c "echo hi; echo shared > $AZ_BATCH_NODE_SHARED_DIR/out.txt"`)}, nil); err != nil {
		t.Fatalf("CreateTask: %v", err)
	}
	for {
		tk, err := c.GetTask(ctx, jobID, "t", nil)
		if err != nil {
			t.Fatalf("GetTask: %v", err)
		}
		if *tk.State == azbatch.TaskStateCompleted {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("task not completed in time")
		}
		time.Sleep(100 * time.Millisecond)
	}
	files, err := c.NewListNodeFilesPager(poolID, id, &azbatch.ListNodeFilesOptions{Recursive: to.Ptr(true)}).NextPage(ctx)
	if err != nil {
		t.Fatalf("ListNodeFiles: %v", err)
	}
	var names []string
	for _, f := range files.Value {
		names = append(names, *f.Name)
	}
	for _, want := range []string{"shared", "shared/out.txt", "startup", "workitems", "workitems/" + jobID + "/job-1/t/stdout.txt"} {
		if !slices.Contains(names, want) {
			t.Errorf("ListNodeFiles lacks %s: %q", want, names)
		}
	}
	props, err := c.GetNodeFileProperties(ctx, poolID, id, "shared/out.txt", nil)
	if err != nil || props.ContentLength == nil || *props.ContentLength != 7 {
		t.Fatalf("GetNodeFileProperties: %+v, %v", props, err)
	}
	got, err := c.GetNodeFile(ctx, poolID, id, "shared/out.txt", nil)
	if err != nil {
		t.Fatalf("GetNodeFile: %v", err)
	}
	body, _ := io.ReadAll(got.Body)
	got.Body.Close()
	if string(body) != "shared\n" {
		t.Errorf("GetNodeFile: %q", body)
	}
	if _, err := c.DeleteNodeFile(ctx, poolID, id, "shared/out.txt", nil); err != nil {
		t.Fatalf("DeleteNodeFile: %v", err)
	}
	if _, err := c.GetNodeFileProperties(ctx, poolID, id, "shared/out.txt", nil); status(err) != http.StatusNotFound {
		t.Errorf("GetNodeFileProperties after the delete: %v", err)
	}
	if _, err := c.DeleteTaskFile(ctx, jobID, "t", "stdout.txt", nil); err != nil {
		t.Fatalf("DeleteTaskFile: %v", err)
	}
	if _, err := c.GetTaskFile(ctx, jobID, "t", "stdout.txt", nil); code(err) != "FileNotFound" {
		t.Errorf("GetTaskFile after the delete: %v", err)
	}

	ext, err := c.NewListNodeExtensionsPager(poolID, id, nil).NextPage(ctx)
	if err != nil || len(ext.Value) != 0 {
		t.Errorf("ListNodeExtensions: %+v, %v", ext.Value, err)
	}
	if _, err := c.GetNodeExtension(ctx, poolID, id, "CustomScript", nil); code(err) != "ResourceNotFound" {
		t.Errorf("GetNodeExtension: %v", err)
	}
	if _, err := c.GetNodeRemoteLoginSettings(ctx, poolID, id, nil); code(err) != "OperationInvalidForCurrentState" {
		t.Errorf("GetNodeRemoteLoginSettings: %v", err)
	}
}
