package batch

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"a", true},
		{"Task_1-x", true},
		{strings.Repeat("x", 64), true},
		{strings.Repeat("x", 65), false},
		{"", false},
		{"a b", false},
		{"a.b", false},
		{"täsk", false},
		{"a/b", false},
	}
	for _, tt := range tests {
		if got := ValidID(tt.id); got != tt.want {
			t.Errorf("ValidID(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
	if IDKey("Task-A") != IDKey("task-a") || IDKey("abc") != "abc" {
		t.Error("IDKey is not case-insensitive")
	}
}

func TestTaskIDValue(t *testing.T) {
	tests := []struct {
		id   string
		v    int32
		want bool
	}{
		{"0", 0, true},
		{"4", 4, true},
		{"004", 4, true},
		{"2147483647", 2147483647, true},
		{"2147483648", 0, false},
		{"5flamingoes", 0, false},
		{"-5", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		v, ok := TaskIDValue(tt.id)
		if ok != tt.want || v != tt.v {
			t.Errorf("TaskIDValue(%q) = %d, %v; want %d, %v", tt.id, v, ok, tt.v, tt.want)
		}
	}
}

// checkCode fails the test unless err has the wanted code ("" meaning no error) and, when
// property is given, names it.
func checkCode(t *testing.T, name string, err error, code, property string) {
	t.Helper()
	if code == "" {
		if err != nil {
			t.Errorf("%s: unexpected error %v", name, err)
		}
		return
	}
	if got := CodeOf(err); got != code {
		t.Errorf("%s: got error %v, want code %s", name, err, code)
		return
	}
	if property != "" {
		if got := err.(*Error).Value(KeyPropertyName); got != property {
			t.Errorf("%s: error names property %q, want %q (%v)", name, got, property, err)
		}
	}
}

func TestValidatePool(t *testing.T) {
	base := func() Pool {
		return Pool{ID: "pool1", VMSize: "standard_d2s_v3", TargetDedicatedNodes: Ptr(int32(2))}
	}
	tests := []struct {
		name     string
		edit     func(p *Pool)
		code     string
		property string
	}{
		{"valid", func(p *Pool) {}, "", ""},
		{"valid low priority only", func(p *Pool) {
			p.TargetDedicatedNodes = nil
			p.TargetLowPriorityNodes = Ptr(int32(3))
		}, "", ""},
		{"valid autoscale", func(p *Pool) {
			p.TargetDedicatedNodes = nil
			p.EnableAutoScale = Ptr(true)
			p.AutoScaleFormula = "$TargetDedicatedNodes = 1;"
			p.AutoScaleEvaluationInterval = Ptr(Duration(5 * time.Minute))
		}, "", ""},
		{"missing id", func(p *Pool) { p.ID = "" }, CodeMissingRequiredProperty, "id"},
		{"bad id", func(p *Pool) { p.ID = "pool 1" }, CodeInvalidPropertyValue, "id"},
		{"long id", func(p *Pool) { p.ID = strings.Repeat("p", 65) }, CodeInvalidPropertyValue, "id"},
		{"long display name", func(p *Pool) { p.DisplayName = strings.Repeat("ü", 1025) },
			CodeInvalidPropertyValue, "displayName"},
		{"missing vmSize", func(p *Pool) { p.VMSize = "" }, CodeMissingRequiredProperty, "vmSize"},
		{"kept: only matters on Azure", func(p *Pool) {
			p.VirtualMachineConfiguration = json.RawMessage(`{"imageReference":{"publisher":"canonical"},"nodeAgentSKUId":"batch.node.ubuntu 22.04"}`)
			p.CloudServiceConfiguration = json.RawMessage(`{"osFamily":"6"}`)
			p.EnableInterNodeCommunication = Ptr(true)
			p.TargetNodeCommunicationMode = "simplified"
			p.ResourceTags = json.RawMessage(`{"team":"graphics"}`)
			p.UpgradePolicy = json.RawMessage(`{"mode":"manual"}`)
		}, "", ""},
		{"null and empty ask for nothing", func(p *Pool) {
			p.UserAccounts, p.MountConfiguration = json.RawMessage(`[]`), json.RawMessage(`[ ]`)
			p.StartTask = &StartTask{CommandLine: "x", ResourceFiles: []ResourceFile{}, ContainerSettings: json.RawMessage(`null`)}
			p.NetworkConfiguration = json.RawMessage(`{}`)
			p.VirtualMachineConfiguration = json.RawMessage(`{"containerConfiguration":null}`)
		}, "", ""},
		{"start task", func(p *Pool) {
			p.StartTask = &StartTask{CommandLine: "x", MaxTaskRetryCount: Ptr(int32(-1)), WaitForSuccess: Ptr(false),
				EnvironmentSettings: []EnvironmentSetting{{Name: "A", Value: "1"}},
				UserIdentity:        json.RawMessage(`{"autoUser":{"scope":"pool","elevationLevel":"nonadmin"}}`)}
		}, "", ""},
		{"start task without command line", func(p *Pool) { p.StartTask = &StartTask{} },
			CodeMissingRequiredProperty, "startTask.commandLine"},
		{"start task resource files", func(p *Pool) {
			p.StartTask = &StartTask{CommandLine: "x", ResourceFiles: []ResourceFile{{HTTPURL: "https://x/y?sig=s", FilePath: "y"}}}
		}, "", ""},
		{"start task resource file from auto-storage", func(p *Pool) {
			p.StartTask = &StartTask{CommandLine: "x", ResourceFiles: []ResourceFile{{AutoStorageContainerName: "c"}}}
		}, CodeUnsupportedProperty, "startTask.resourceFiles[0].autoStorageContainerName"},
		{"start task resource file leaving its directory", func(p *Pool) {
			p.StartTask = &StartTask{CommandLine: "x", ResourceFiles: []ResourceFile{{HTTPURL: "https://x/y", FilePath: "../y"}}}
		}, CodeInvalidPropertyValue, "startTask.resourceFiles[0].filePath"},
		{"start task container", func(p *Pool) {
			p.StartTask = &StartTask{CommandLine: "x", ContainerSettings: json.RawMessage(`{"imageName":"ubuntu"}`)}
		}, CodeUnsupportedProperty, "startTask.containerSettings"},
		{"start task named user", func(p *Pool) {
			p.StartTask = &StartTask{CommandLine: "x", UserIdentity: json.RawMessage(`{"userName":"u"}`)}
		}, CodeUnsupportedProperty, "startTask.userIdentity.userName"},
		{"start task elevated", func(p *Pool) {
			p.StartTask = &StartTask{CommandLine: "x", UserIdentity: json.RawMessage(`{"autoUser":{"elevationLevel":"admin"}}`)}
		}, CodeUnsupportedProperty, "startTask.userIdentity.autoUser.elevationLevel"},
		{"start task bad scope", func(p *Pool) {
			p.StartTask = &StartTask{CommandLine: "x", UserIdentity: json.RawMessage(`{"autoUser":{"scope":"node"}}`)}
		}, CodeInvalidPropertyValue, "startTask.userIdentity.autoUser.scope"},
		{"start task retries", func(p *Pool) { p.StartTask = &StartTask{CommandLine: "x", MaxTaskRetryCount: Ptr(int32(-2))} },
			CodeInvalidPropertyValue, "startTask.maxTaskRetryCount"},
		{"start task env", func(p *Pool) {
			p.StartTask = &StartTask{CommandLine: "x", EnvironmentSettings: []EnvironmentSetting{{Name: "A=B"}}}
		}, CodeInvalidPropertyValue, "startTask.environmentSettings[0].name"},
		{"network", func(p *Pool) { p.NetworkConfiguration = json.RawMessage(`{"subnetId":"x"}`) },
			CodeUnsupportedProperty, "networkConfiguration"},
		{"certificates", func(p *Pool) { p.CertificateReferences = json.RawMessage(`[{"thumbprint":"ab"}]`) },
			CodeUnsupportedProperty, "certificateReferences"},
		{"packages", func(p *Pool) { p.ApplicationPackageReferences = json.RawMessage(`[{"applicationId":"a"}]`) },
			CodeUnsupportedProperty, "applicationPackageReferences"},
		{"licenses", func(p *Pool) { p.ApplicationLicenses = json.RawMessage(`["maya"]`) },
			CodeUnsupportedProperty, "applicationLicenses"},
		{"user accounts", func(p *Pool) { p.UserAccounts = json.RawMessage(`[{"name":"u","password":"p"}]`) },
			CodeUnsupportedProperty, "userAccounts"},
		{"mounts", func(p *Pool) { p.MountConfiguration = json.RawMessage(`[{"nfsMountConfiguration":{}}]`) },
			CodeUnsupportedProperty, "mountConfiguration"},
		{"containers", func(p *Pool) {
			p.VirtualMachineConfiguration = json.RawMessage(`{"nodeAgentSKUId":"x","containerConfiguration":{"type":"dockerCompatible"}}`)
		}, CodeUnsupportedProperty, "virtualMachineConfiguration.containerConfiguration"},
		{"vm configuration not an object", func(p *Pool) { p.VirtualMachineConfiguration = json.RawMessage(`"ubuntu"`) },
			CodeInvalidPropertyValue, "virtualMachineConfiguration"},
		{"slots 0", func(p *Pool) { p.TaskSlotsPerNode = Ptr(int32(0)) },
			CodeInvalidPropertyValue, "taskSlotsPerNode"},
		{"slots 256", func(p *Pool) { p.TaskSlotsPerNode = Ptr(int32(256)) }, "", ""},
		{"slots 257", func(p *Pool) { p.TaskSlotsPerNode = Ptr(int32(257)) },
			CodeInvalidPropertyValue, "taskSlotsPerNode"},
		{"fill type pack", func(p *Pool) {
			p.TaskSchedulingPolicy = &TaskSchedulingPolicy{NodeFillType: FillPack}
		}, "", ""},
		{"fill type bad", func(p *Pool) {
			p.TaskSchedulingPolicy = &TaskSchedulingPolicy{NodeFillType: "diagonal"}
		}, CodeInvalidPropertyValue, "taskSchedulingPolicy.nodeFillType"},
		{"fill type missing", func(p *Pool) { p.TaskSchedulingPolicy = &TaskSchedulingPolicy{} },
			CodeMissingRequiredProperty, "taskSchedulingPolicy.nodeFillType"},
		{"negative dedicated", func(p *Pool) { p.TargetDedicatedNodes = Ptr(int32(-1)) },
			CodeInvalidPropertyValue, "targetDedicatedNodes"},
		{"negative low priority", func(p *Pool) { p.TargetLowPriorityNodes = Ptr(int32(-1)) },
			CodeInvalidPropertyValue, "targetLowPriorityNodes"},
		{"no targets", func(p *Pool) { p.TargetDedicatedNodes = nil },
			CodeMissingRequiredProperty, "targetDedicatedNodes"},
		{"zero target is given", func(p *Pool) { p.TargetDedicatedNodes = Ptr(int32(0)) }, "", ""},
		{"autoscale with target", func(p *Pool) {
			p.EnableAutoScale = Ptr(true)
			p.AutoScaleFormula = "$TargetDedicatedNodes = 1;"
		}, CodeInvalidAutoScalingSettings, "targetDedicatedNodes"},
		{"autoscale with low priority target", func(p *Pool) {
			p.TargetDedicatedNodes = nil
			p.TargetLowPriorityNodes = Ptr(int32(0))
			p.EnableAutoScale = Ptr(true)
			p.AutoScaleFormula = "$TargetDedicatedNodes = 1;"
		}, CodeInvalidAutoScalingSettings, "targetLowPriorityNodes"},
		{"autoscale without formula", func(p *Pool) {
			p.TargetDedicatedNodes = nil
			p.EnableAutoScale = Ptr(true)
		}, CodeMissingRequiredProperty, "autoScaleFormula"},
		{"autoscale formula too long", func(p *Pool) {
			p.TargetDedicatedNodes = nil
			p.EnableAutoScale = Ptr(true)
			p.AutoScaleFormula = strings.Repeat("x", 8193)
		}, CodeAutoScaleFormulaTooLong, "autoScaleFormula"},
		{"autoscale interval too short", func(p *Pool) {
			p.TargetDedicatedNodes = nil
			p.EnableAutoScale = Ptr(true)
			p.AutoScaleFormula = "$TargetDedicatedNodes = 1;"
			p.AutoScaleEvaluationInterval = Ptr(Duration(4 * time.Minute))
		}, CodeInvalidPropertyValue, "autoScaleEvaluationInterval"},
		{"autoscale interval too long", func(p *Pool) {
			p.TargetDedicatedNodes = nil
			p.EnableAutoScale = Ptr(true)
			p.AutoScaleFormula = "$TargetDedicatedNodes = 1;"
			p.AutoScaleEvaluationInterval = Ptr(Duration(169 * time.Hour))
		}, CodeInvalidPropertyValue, "autoScaleEvaluationInterval"},
		{"formula without autoscale", func(p *Pool) { p.AutoScaleFormula = "$x = 1;" },
			CodeInvalidAutoScalingSettings, "autoScaleFormula"},
		{"explicit autoscale false with formula", func(p *Pool) {
			p.EnableAutoScale = Ptr(false)
			p.AutoScaleFormula = "$x = 1;"
		}, CodeInvalidAutoScalingSettings, "autoScaleFormula"},
		{"interval without autoscale", func(p *Pool) {
			p.AutoScaleEvaluationInterval = Ptr(Duration(10 * time.Minute))
		}, CodeInvalidAutoScalingSettings, "autoScaleEvaluationInterval"},
		{"resize timeout too short", func(p *Pool) { p.ResizeTimeout = Ptr(Duration(time.Minute)) },
			CodeInvalidPropertyValue, "resizeTimeout"},
		{"resize timeout 5m", func(p *Pool) { p.ResizeTimeout = Ptr(Duration(5 * time.Minute)) },
			"", ""},
		{"empty metadata name", func(p *Pool) { p.Metadata = []MetadataItem{{Name: "", Value: "x"}} },
			CodeEmptyMetadataKey, "metadata[0].name"},
		{"vm configuration is kept, not checked", func(p *Pool) {
			p.VirtualMachineConfiguration = json.RawMessage(`{"nodeAgentSKUId":"anything"}`)
		}, "", ""},
	}
	for _, tt := range tests {
		p := base()
		tt.edit(&p)
		checkCode(t, tt.name, ValidatePool(p), tt.code, tt.property)
	}
}

func TestValidateJob(t *testing.T) {
	base := func() Job { return Job{ID: "job1", PoolInfo: PoolInformation{PoolID: "pool1"}} }
	tests := []struct {
		name     string
		edit     func(j *Job)
		code     string
		property string
	}{
		{"valid", func(j *Job) {}, "", ""},
		{"missing id", func(j *Job) { j.ID = "" }, CodeMissingRequiredProperty, "id"},
		{"bad id", func(j *Job) { j.ID = "job#1" }, CodeInvalidPropertyValue, "id"},
		{"missing pool", func(j *Job) { j.PoolInfo.PoolID = "" },
			CodeMissingRequiredProperty, "poolInfo.poolId"},
		{"bad pool id", func(j *Job) { j.PoolInfo.PoolID = "a b" },
			CodeInvalidPropertyValue, "poolInfo.poolId"},
		{"auto pool", func(j *Job) {
			j.PoolInfo = PoolInformation{AutoPoolSpecification: json.RawMessage(`{"poolLifetimeOption":"job"}`)}
		}, CodeUnsupportedProperty, "poolInfo.autoPoolSpecification"},
		{"job manager task", func(j *Job) { j.JobManagerTask = json.RawMessage(`{"id":"jm"}`) },
			CodeUnsupportedProperty, "jobManagerTask"},
		{"job preparation task", func(j *Job) { j.JobPreparationTask = &JobPreparationTask{CommandLine: "x"} }, "", ""},
		{"preparation and release", func(j *Job) {
			j.JobPreparationTask, j.JobReleaseTask = &JobPreparationTask{CommandLine: "x"}, &JobReleaseTask{CommandLine: "y"}
		}, "", ""},
		{"release without preparation", func(j *Job) { j.JobReleaseTask = &JobReleaseTask{CommandLine: "y"} },
			CodeInvalidPropertyValue, "jobReleaseTask"},
		{"preparation without command", func(j *Job) { j.JobPreparationTask = &JobPreparationTask{} },
			CodeMissingRequiredProperty, "jobPreparationTask.commandLine"},
		{"release without command", func(j *Job) {
			j.JobPreparationTask, j.JobReleaseTask = &JobPreparationTask{CommandLine: "x"}, &JobReleaseTask{}
		}, CodeMissingRequiredProperty, "jobReleaseTask.commandLine"},
		{"same ids", func(j *Job) {
			j.JobPreparationTask, j.JobReleaseTask = &JobPreparationTask{ID: "p", CommandLine: "x"}, &JobReleaseTask{ID: "p", CommandLine: "y"}
		}, CodeInvalidPropertyValue, "jobReleaseTask.id"},
		{"bad preparation id", func(j *Job) { j.JobPreparationTask = &JobPreparationTask{ID: "a b", CommandLine: "x"} },
			CodeInvalidPropertyValue, "jobPreparationTask.id"},
		{"preparation container", func(j *Job) {
			j.JobPreparationTask = &JobPreparationTask{CommandLine: "x", ContainerSettings: json.RawMessage(`{"imageName":"x"}`)}
		}, CodeUnsupportedProperty, "jobPreparationTask.containerSettings"},
		{"no rerun after reboot", func(j *Job) {
			j.JobPreparationTask = &JobPreparationTask{CommandLine: "x", RerunOnNodeRebootAfterSuccess: Ptr(false)}
		}, CodeUnsupportedProperty, "jobPreparationTask.rerunOnNodeRebootAfterSuccess"},
		{"preparation retries -2", func(j *Job) {
			j.JobPreparationTask = &JobPreparationTask{CommandLine: "x", Constraints: &TaskConstraints{MaxTaskRetryCount: Ptr(int32(-2))}}
		}, CodeInvalidConstraintValue, "jobPreparationTask.constraints.maxTaskRetryCount"},
		{"release wall clock over 15 minutes", func(j *Job) {
			j.JobPreparationTask = &JobPreparationTask{CommandLine: "x"}
			j.JobReleaseTask = &JobReleaseTask{CommandLine: "y", MaxWallClockTime: Ptr(Duration(16 * time.Minute))}
		}, CodeInvalidConstraintValue, "jobReleaseTask.maxWallClockTime"},
		{"release elevated", func(j *Job) {
			j.JobPreparationTask = &JobPreparationTask{CommandLine: "x"}
			j.JobReleaseTask = &JobReleaseTask{CommandLine: "y", UserIdentity: json.RawMessage(`{"autoUser":{"elevationLevel":"admin"}}`)}
		}, CodeUnsupportedProperty, "jobReleaseTask.userIdentity.autoUser.elevationLevel"},
		{"null or empty is nothing", func(j *Job) { j.NetworkConfiguration = json.RawMessage(` {} `) }, "", ""},
		{"priority 0", func(j *Job) { j.Priority = Ptr(int32(0)) }, "", ""},
		{"priority 1000", func(j *Job) { j.Priority = Ptr(int32(1000)) }, CodeUnsupportedProperty, "priority"},
		{"priority -1000", func(j *Job) { j.Priority = Ptr(int32(-1000)) }, CodeUnsupportedProperty, "priority"},
		{"allowTaskPreemption false", func(j *Job) { j.AllowTaskPreemption = Ptr(false) }, "", ""},
		{"allowTaskPreemption true", func(j *Job) { j.AllowTaskPreemption = Ptr(true) },
			CodeUnsupportedProperty, "allowTaskPreemption"},
		{"job wall clock", func(j *Job) { j.Constraints = &JobConstraints{MaxWallClockTime: Ptr(Duration(time.Hour))} },
			CodeUnsupportedProperty, "constraints.maxWallClockTime"},
		{"job wall clock unlimited", func(j *Job) { j.Constraints = &JobConstraints{MaxWallClockTime: Ptr(Duration(Infinite))} },
			"", ""},
		{"job network", func(j *Job) { j.NetworkConfiguration = json.RawMessage(`{"subnetId":"/subscriptions/x"}`) },
			CodeUnsupportedProperty, "networkConfiguration"},
		{"priority 1001", func(j *Job) { j.Priority = Ptr(int32(1001)) },
			CodeOutOfRangePriority, "priority"},
		{"priority -1001", func(j *Job) { j.Priority = Ptr(int32(-1001)) },
			CodeOutOfRangePriority, "priority"},
		{"maxParallelTasks -1", func(j *Job) { j.MaxParallelTasks = Ptr(int32(-1)) }, "", ""},
		{"maxParallelTasks 4", func(j *Job) { j.MaxParallelTasks = Ptr(int32(4)) },
			CodeUnsupportedProperty, "maxParallelTasks"},
		{"maxParallelTasks 0", func(j *Job) { j.MaxParallelTasks = Ptr(int32(0)) },
			CodeInvalidPropertyValue, "maxParallelTasks"},
		{"maxParallelTasks -2", func(j *Job) { j.MaxParallelTasks = Ptr(int32(-2)) },
			CodeInvalidPropertyValue, "maxParallelTasks"},
		{"retry -1", func(j *Job) {
			j.Constraints = &JobConstraints{MaxTaskRetryCount: Ptr(int32(-1))}
		}, "", ""},
		{"retry -2", func(j *Job) {
			j.Constraints = &JobConstraints{MaxTaskRetryCount: Ptr(int32(-2))}
		}, CodeInvalidConstraintValue, "constraints.maxTaskRetryCount"},
		{"wall clock 0", func(j *Job) {
			j.Constraints = &JobConstraints{MaxWallClockTime: Ptr(Duration(0))}
		}, CodeInvalidConstraintValue, "constraints.maxWallClockTime"},
		{"onAllTasksComplete", func(j *Job) { j.OnAllTasksComplete = AllCompleteTerminateJob }, "", ""},
		{"bad onAllTasksComplete", func(j *Job) { j.OnAllTasksComplete = "explode" },
			CodeInvalidPropertyValue, "onAllTasksComplete"},
		{"bad onTaskFailure", func(j *Job) { j.OnTaskFailure = "retry" },
			CodeInvalidPropertyValue, "onTaskFailure"},
		{"env without name", func(j *Job) {
			j.CommonEnvironmentSettings = []EnvironmentSetting{{Value: "x"}}
		}, CodeMissingRequiredProperty, "commonEnvironmentSettings[0].name"},
		{"common env name with =", func(j *Job) {
			j.CommonEnvironmentSettings = []EnvironmentSetting{{Name: "A=B", Value: "x"}}
		}, CodeInvalidPropertyValue, "commonEnvironmentSettings[0].name"},
		{"common env value with NUL", func(j *Job) {
			j.CommonEnvironmentSettings = []EnvironmentSetting{{Name: "A", Value: "x"}, {Name: "B", Value: "x\x00y"}}
		}, CodeInvalidPropertyValue, "commonEnvironmentSettings[1].value"},
		{"empty metadata name", func(j *Job) { j.Metadata = []MetadataItem{{Value: "v"}} },
			CodeEmptyMetadataKey, "metadata[0].name"},
	}
	for _, tt := range tests {
		j := base()
		tt.edit(&j)
		checkCode(t, tt.name, ValidateJob(j), tt.code, tt.property)
	}
}

func TestValidateTask(t *testing.T) {
	depsJob := Job{ID: "job1", UsesTaskDependencies: Ptr(true),
		OnTaskFailure: TaskFailurePerformExitOptionsJobAction}
	plainJob := Job{ID: "job2"}
	pool := &Pool{ID: "pool1", TaskSlotsPerNode: Ptr(int32(4))}
	base := func() Task { return Task{ID: "task1", CommandLine: "/bin/true"} }
	tests := []struct {
		name     string
		job      Job
		pool     *Pool
		edit     func(t *Task)
		code     string
		property string
	}{
		{"valid", plainJob, pool, func(t *Task) {}, "", ""},
		{"missing command line", plainJob, pool, func(t *Task) { t.CommandLine = "" },
			CodeMissingRequiredProperty, "commandLine"},
		{"missing id", plainJob, pool, func(t *Task) { t.ID = "" }, CodeMissingRequiredProperty, "id"},
		{"bad id", plainJob, pool, func(t *Task) { t.ID = "task:1" }, CodeInvalidPropertyValue, "id"},
		{"multi-instance", plainJob, pool, func(t *Task) {
			t.MultiInstanceSettings = json.RawMessage(`{"numberOfInstances":2}`)
		}, CodeUnsupportedProperty, "multiInstanceSettings"},
		{"null and empty ask for nothing", plainJob, pool, func(t *Task) {
			t.ContainerSettings, t.AuthenticationTokenSettings = json.RawMessage(`null`), json.RawMessage(`{}`)
		}, "", ""},
		{"affinity", plainJob, pool, func(t *Task) { t.AffinityInfo = &AffinityInfo{AffinityID: "n1"} },
			CodeUnsupportedProperty, "affinityInfo"},
		{"packages", plainJob, pool, func(t *Task) { t.ApplicationPackageReferences = json.RawMessage(`[{"applicationId":"a"}]`) },
			CodeUnsupportedProperty, "applicationPackageReferences"},
		{"token", plainJob, pool, func(t *Task) { t.AuthenticationTokenSettings = json.RawMessage(`{"access":["job"]}`) },
			CodeUnsupportedProperty, "authenticationTokenSettings"},
		{"container", plainJob, pool, func(t *Task) { t.ContainerSettings = json.RawMessage(`{"imageName":"ubuntu"}`) },
			CodeUnsupportedProperty, "containerSettings"},
		{"auto user, non-admin", plainJob, pool, func(t *Task) {
			t.UserIdentity = json.RawMessage(`{"autoUser":{"scope":"task","elevationLevel":"nonAdmin"}}`)
		}, "", ""},
		{"auto user, pool scope", plainJob, pool, func(t *Task) { t.UserIdentity = json.RawMessage(`{"autoUser":{"scope":"pool"}}`) },
			"", ""},
		{"admin", plainJob, pool, func(t *Task) { t.UserIdentity = json.RawMessage(`{"autoUser":{"elevationLevel":"admin"}}`) },
			CodeUnsupportedProperty, "userIdentity.autoUser.elevationLevel"},
		{"named user", plainJob, pool, func(t *Task) { t.UserIdentity = json.RawMessage(`{"userName":"render"}`) },
			CodeUnsupportedProperty, "userIdentity.userName"},
		{"bad elevation", plainJob, pool, func(t *Task) { t.UserIdentity = json.RawMessage(`{"autoUser":{"elevationLevel":"root"}}`) },
			CodeInvalidPropertyValue, "userIdentity.autoUser.elevationLevel"},
		{"bad scope", plainJob, pool, func(t *Task) { t.UserIdentity = json.RawMessage(`{"autoUser":{"scope":"node"}}`) },
			CodeInvalidPropertyValue, "userIdentity.autoUser.scope"},
		{"unknown user identity property", plainJob, pool, func(t *Task) { t.UserIdentity = json.RawMessage(`{"uid":0}`) },
			CodeInvalidPropertyValue, "userIdentity"},
		{"slots 4 of 4", plainJob, pool, func(t *Task) { t.RequiredSlots = Ptr(int32(4)) }, "", ""},
		{"slots 5 of 4", plainJob, pool, func(t *Task) { t.RequiredSlots = Ptr(int32(5)) },
			CodeInvalidPropertyValue, "requiredSlots"},
		{"slots 2 default pool", plainJob, &Pool{}, func(t *Task) { t.RequiredSlots = Ptr(int32(2)) },
			CodeInvalidPropertyValue, "requiredSlots"},
		{"slots 5, pool unknown", plainJob, nil, func(t *Task) { t.RequiredSlots = Ptr(int32(5)) },
			"", ""},
		{"slots 0", plainJob, nil, func(t *Task) { t.RequiredSlots = Ptr(int32(0)) },
			CodeInvalidPropertyValue, "requiredSlots"},
		{"retry -1", plainJob, pool, func(t *Task) {
			t.Constraints = &TaskConstraints{MaxTaskRetryCount: Ptr(int32(-1))}
		}, "", ""},
		{"retry -2", plainJob, pool, func(t *Task) {
			t.Constraints = &TaskConstraints{MaxTaskRetryCount: Ptr(int32(-2))}
		}, CodeInvalidConstraintValue, "constraints.maxTaskRetryCount"},
		{"negative wall clock", plainJob, pool, func(t *Task) {
			t.Constraints = &TaskConstraints{MaxWallClockTime: Ptr(Duration(-time.Second))}
		}, CodeInvalidConstraintValue, "constraints.maxWallClockTime"},
		{"negative retention", plainJob, pool, func(t *Task) {
			t.Constraints = &TaskConstraints{RetentionTime: Ptr(Duration(-time.Second))}
		}, CodeInvalidConstraintValue, "constraints.retentionTime"},
		{"env without name", plainJob, pool, func(t *Task) {
			t.EnvironmentSettings = []EnvironmentSetting{{Name: "A", Value: "1"}, {Value: "2"}}
		}, CodeMissingRequiredProperty, "environmentSettings[1].name"},
		{"env name with =", plainJob, pool, func(t *Task) {
			t.EnvironmentSettings = []EnvironmentSetting{{Name: "A=1", Value: "1"}}
		}, CodeInvalidPropertyValue, "environmentSettings[0].name"},
		{"env name that is only =", plainJob, pool, func(t *Task) {
			t.EnvironmentSettings = []EnvironmentSetting{{Name: "=", Value: "1"}}
		}, CodeInvalidPropertyValue, "environmentSettings[0].name"},
		{"env name with NUL", plainJob, pool, func(t *Task) {
			t.EnvironmentSettings = []EnvironmentSetting{{Name: "A", Value: "1"}, {Name: "B\x00C", Value: "1"}}
		}, CodeInvalidPropertyValue, "environmentSettings[1].name"},
		{"env value with NUL", plainJob, pool, func(t *Task) {
			t.EnvironmentSettings = []EnvironmentSetting{{Name: "A", Value: "1\x002"}}
		}, CodeInvalidPropertyValue, "environmentSettings[0].value"},
		{"env value with = and odd characters", plainJob, pool, func(t *Task) {
			t.EnvironmentSettings = []EnvironmentSetting{{Name: "A.b-c d", Value: "x=y; \"z\"\n\u00e9"}, {Name: "E", Value: ""}}
		}, "", ""},
		{"depends on job without dependencies", plainJob, pool, func(t *Task) {
			t.DependsOn = &TaskDependencies{TaskIDs: []string{"a"}}
		}, CodeTaskDependenciesNotSpecifiedOnJob, "dependsOn"},
		{"empty dependsOn is fine", plainJob, pool, func(t *Task) {
			t.DependsOn = &TaskDependencies{}
		}, "", ""},
		{"depends", depsJob, pool, func(t *Task) {
			t.DependsOn = &TaskDependencies{TaskIDs: []string{"a", "b"},
				TaskIDRanges: []TaskIDRange{{1, 10}}}
		}, "", ""},
		{"depends on itself", depsJob, pool, func(t *Task) {
			t.DependsOn = &TaskDependencies{TaskIDs: []string{"a", "TASK1"}}
		}, CodeInvalidPropertyValue, "dependsOn.taskIds[1]"},
		{"range covers itself", depsJob, pool, func(t *Task) {
			t.ID = "007"
			t.DependsOn = &TaskDependencies{TaskIDRanges: []TaskIDRange{{1, 3}, {5, 9}}}
		}, CodeInvalidPropertyValue, "dependsOn.taskIdRanges[1]"},
		{"range start > end", depsJob, pool, func(t *Task) {
			t.DependsOn = &TaskDependencies{TaskIDRanges: []TaskIDRange{{5, 4}}}
		}, CodeInvalidPropertyValue, "dependsOn.taskIdRanges[0]"},
		{"range below 0", depsJob, pool, func(t *Task) {
			t.DependsOn = &TaskDependencies{TaskIDRanges: []TaskIDRange{{-1, 4}}}
		}, CodeInvalidPropertyValue, "dependsOn.taskIdRanges[0]"},
		{"bad dependency id", depsJob, pool, func(t *Task) {
			t.DependsOn = &TaskDependencies{TaskIDs: []string{"a b"}}
		}, CodeInvalidPropertyValue, "dependsOn.taskIds[0]"},
		{"dependency list too long", depsJob, pool, func(t *Task) {
			var ids []string
			for i := 0; i < 1100; i++ {
				ids = append(ids, strings.Repeat("x", 60)+itoa(int32(i)))
			}
			t.DependsOn = &TaskDependencies{TaskIDs: ids}
		}, CodeTaskDependencyListTooLong, "dependsOn.taskIds"},
		{"exit code range start > end", depsJob, pool, func(t *Task) {
			t.ExitConditions = &ExitConditions{ExitCodeRanges: []ExitCodeRangeMapping{{Start: 5, End: 1}}}
		}, CodeInvalidPropertyValue, "exitConditions.exitCodeRanges[0]"},
		{"exit options", depsJob, pool, func(t *Task) {
			t.ExitConditions = &ExitConditions{
				ExitCodes: []ExitCodeMapping{{Code: 3, ExitOptions: ExitOptions{
					JobAction: JobActionNone, DependencyAction: DependencySatisfy}}},
				Default: &ExitOptions{JobAction: JobActionDisable},
			}
		}, "", ""},
		{"bad job action", depsJob, pool, func(t *Task) {
			t.ExitConditions = &ExitConditions{Default: &ExitOptions{JobAction: "explode"}}
		}, CodeInvalidPropertyValue, "exitConditions.default.jobAction"},
		{"bad dependency action", depsJob, pool, func(t *Task) {
			t.ExitConditions = &ExitConditions{PreProcessingError: &ExitOptions{DependencyAction: "maybe"}}
		}, CodeInvalidPropertyValue, "exitConditions.preProcessingError.dependencyAction"},
		{"job action without performexitoptionsjobaction", plainJob, pool, func(t *Task) {
			t.ExitConditions = &ExitConditions{Default: &ExitOptions{JobAction: JobActionTerminate}}
		}, CodeInvalidPropertyValue, "exitConditions.default.jobAction"},
		{"dependency action without task dependencies", plainJob, pool, func(t *Task) {
			t.ExitConditions = &ExitConditions{FileUploadError: &ExitOptions{DependencyAction: DependencyBlock}}
		}, CodeInvalidPropertyValue, "exitConditions.fileUploadError.dependencyAction"},
	}
	for _, tt := range tests {
		task := base()
		tt.edit(&task)
		checkCode(t, tt.name, ValidateTask(task, tt.job, tt.pool), tt.code, tt.property)
	}
}

func TestErrorString(t *testing.T) {
	err := invalid("requiredSlots", "5", "too many")
	want := "InvalidPropertyValue: The value provided for requiredSlots is invalid: too many " +
		"(PropertyName=requiredSlots, PropertyValue=5, Reason=too many)"
	if err.Error() != want {
		t.Errorf("got %q\nwant %q", err.Error(), want)
	}
	if CodeOf(nil) != "" {
		t.Error("CodeOf(nil) is not empty")
	}
}

func TestTaskEnvironment(t *testing.T) {
	env := func(kv ...string) []EnvironmentSetting {
		var out []EnvironmentSetting
		for i := 0; i < len(kv); i += 2 {
			out = append(out, EnvironmentSetting{Name: kv[i], Value: kv[i+1]})
		}
		return out
	}
	for _, tt := range []struct {
		name      string
		job, task []EnvironmentSetting
		want      []EnvironmentSetting
	}{
		{"none", nil, nil, nil},
		{"task only", nil, env("A", "1"), env("A", "1")},
		{"job only", env("A", "1", "B", "2"), nil, env("A", "1", "B", "2")},
		// The task's setting comes later, so it wins where the agent applies them in order.
		{"task overrides job", env("A", "1", "B", "2"), env("B", "3", "C", "4"), env("A", "1", "B", "2", "B", "3", "C", "4")},
	} {
		j, tk := Job{CommonEnvironmentSettings: tt.job}, Task{EnvironmentSettings: tt.task}
		if got := TaskEnvironment(j, tk); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: TaskEnvironment = %+v, want %+v", tt.name, got, tt.want)
		}
		if len(tt.job) > 0 && len(tt.task) > 0 && &TaskEnvironment(j, tk)[0] == &j.CommonEnvironmentSettings[0] {
			t.Errorf("%s: TaskEnvironment shares the job's slice", tt.name)
		}
	}
}
