package odata_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"corral/api/odata"
)

// The properties of Pool - List, Task - List and Compute Node - List, after Azure's tables in
// "OData filters in Azure Batch", with the selectable ones the tests use.
var (
	poolProps = odata.Properties{
		"id":                                 {Kind: odata.String},
		"displayName":                        {Kind: odata.String},
		"state":                              {Kind: odata.Enum, Values: []string{"active", "deleting"}},
		"stateTransitionTime":                {Kind: odata.Time},
		"allocationState":                    {Kind: odata.Enum, Values: []string{"steady", "resizing", "stopping"}},
		"allocationStateTransitionTime":      {Kind: odata.Time},
		"creationTime":                       {Kind: odata.Time},
		"lastModified":                       {Kind: odata.Time},
		"vmSize":                             {Kind: odata.String, Ops: []odata.Op{odata.Eq, odata.Ne}},
		"enableAutoScale":                    {Kind: odata.Bool},
		"enableInterNodeCommunication":       {Kind: odata.Bool},
		"currentDedicatedNodes":              {Kind: odata.Int},
		"targetDedicatedNodes":               {Kind: odata.Int},
		"taskSlotsPerNode":                   {Kind: odata.Int},
		"url":                                {Kind: odata.SelectOnly},
		"eTag":                               {Kind: odata.SelectOnly},
		"stats":                              {Kind: odata.SelectOnly},
		"autoScaleFormula":                   {Kind: odata.SelectOnly},
		"resizeTimeout":                      {Kind: odata.SelectOnly},
		"virtualMachineConfiguration":        {Kind: odata.SelectOnly},
		"stats/usageStats/dedicatedCoreTime": {Kind: odata.SelectOnly},
	}
	taskProps = odata.Properties{
		"id":                       {Kind: odata.String},
		"displayName":              {Kind: odata.String, CaseSensitive: true},
		"state":                    {Kind: odata.Enum, Values: []string{"active", "preparing", "running", "completed"}},
		"stateTransitionTime":      {Kind: odata.Time},
		"creationTime":             {Kind: odata.Time},
		"lastModified":             {Kind: odata.Time},
		"executionInfo/startTime":  {Kind: odata.Time},
		"executionInfo/endTime":    {Kind: odata.Time},
		"executionInfo/exitCode":   {Kind: odata.Int},
		"executionInfo/result":     {Kind: odata.Enum, Values: []string{"success", "failure"}},
		"executionInfo/retryCount": {Kind: odata.Int},
		"nodeInfo/nodeId":          {Kind: odata.String},
		"nodeInfo/poolId":          {Kind: odata.String},
		"commandLine":              {Kind: odata.SelectOnly},
		"url":                      {Kind: odata.SelectOnly},
		"eTag":                     {Kind: odata.SelectOnly},
		"constraints":              {Kind: odata.SelectOnly},
		"stats/wallClockTime":      {Kind: odata.SelectOnly},
		"cpuShare":                 {Kind: odata.Number},
	}
	nodeProps = odata.Properties{
		"state":                  {Kind: odata.Enum, Values: []string{"idle", "running", "offline", "starting", "unusable"}},
		"stateTransitionTime":    {Kind: odata.Time},
		"startTaskInfo/state":    {Kind: odata.Enum, Values: []string{"running", "completed"}, Ops: []odata.Op{odata.Eq}},
		"startTaskInfo/exitCode": {Kind: odata.Int},
		"name":                   {Kind: odata.String, Ops: []odata.Op{odata.StartsWith}},
	}
)

// A pool and two tasks as Corral's API writes them (and Azure's reference shows them).
const (
	poolJSON = `{
  "odata.metadata": "https://acct.westus.batch.azure.com/$metadata#pools/@Element",
  "id": "render-Pool",
  "url": "https://acct.westus.batch.azure.com/pools/render-Pool",
  "eTag": "0x8D4123456789ABC",
  "lastModified": "2024-03-01T10:00:00.1234567Z",
  "creationTime": "2024-03-01T09:59:00Z",
  "state": "active",
  "stateTransitionTime": "2024-03-01T09:59:00Z",
  "allocationState": "steady",
  "allocationStateTransitionTime": "2024-03-01T10:05:00+01:00",
  "vmSize": "standard_d2s_v3",
  "resizeTimeout": "PT15M",
  "currentDedicatedNodes": 3,
  "targetDedicatedNodes": 3,
  "enableAutoScale": false,
  "enableInterNodeCommunication": false,
  "taskSlotsPerNode": 1,
  "virtualMachineConfiguration": {"imageReference": {"publisher": "canonical"}, "nodeAgentSKUId": "batch.node.ubuntu 22.04"}
}`
	failedTaskJSON = `{
  "id": "task-7",
  "displayName": "Frame 7",
  "url": "https://acct.westus.batch.azure.com/jobs/job-1/tasks/task-7",
  "eTag": "0x8D4123456789ABD",
  "creationTime": "2024-03-01T10:00:00Z",
  "lastModified": "2024-03-01T10:00:00Z",
  "state": "completed",
  "stateTransitionTime": "2024-03-01T10:20:00Z",
  "commandLine": "/bin/sh -c 'render --frame 7 && exit 3'",
  "constraints": {"maxWallClockTime": "P10675199DT2H48M5.4775807S", "retentionTime": "P7D", "maxTaskRetryCount": 1},
  "executionInfo": {
    "startTime": "2024-03-01T10:01:00Z",
    "endTime": "2024-03-01T10:20:00Z",
    "exitCode": 3,
    "result": "failure",
    "failureInfo": {"category": "usererror", "code": "FailureExitCode", "message": "The task exited with an exit code representing a failure"},
    "retryCount": 1,
    "requeueCount": 0
  },
  "nodeInfo": {"affinityId": "TVM:tvm-1", "nodeUrl": "https://acct.westus.batch.azure.com/pools/p/nodes/tvm-1", "poolId": "render-Pool", "nodeId": "tvm-1"}
}`
	activeTaskJSON = `{
  "id": "task-8",
  "url": "https://acct.westus.batch.azure.com/jobs/job-1/tasks/task-8",
  "creationTime": "2024-03-01T10:00:01Z",
  "state": "active",
  "stateTransitionTime": "2024-03-01T10:00:01Z",
  "commandLine": "render --frame 8",
  "cpuShare": 0.5,
  "executionInfo": {"retryCount": 0, "requeueCount": 0}
}`
)

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// checkError checks that err, from parsing value as param, is an *odata.Error at column col
// whose message contains msg.
func checkError(t *testing.T, err error, param, value string, col int, msg string) {
	t.Helper()
	var e *odata.Error
	if !errors.As(err, &e) {
		t.Errorf("parsing %s %q = %v, want an *odata.Error", param, value, err)
		return
	}
	if e.Param != param || e.Value != value || e.Column != col || !strings.Contains(e.Msg, msg) {
		t.Errorf("parsing %s %q: error %+v\n want column %d and a message with %q", param, value, e, col, msg)
	}
}
