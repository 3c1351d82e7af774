package rest

import "corral/api"

// The request models of the add operations: the properties of Azure's PoolAddParameter,
// JobAddParameter and TaskAddParameter in the api-versions Corral serves (2022-10-01.16.0 to
// 2024-07-01.20.0; cloudServiceConfiguration and applicationLicenses are in the older ones,
// resourceTags and upgradePolicy in the newer). A body with any other top-level property —
// a read-only property of the resource (url, state, creationTime…), a misspelt or unknown one —
// is refused with 400 InvalidRequestBody naming it; nested objects that Corral types refuse
// properties they do not declare. Which of these properties Corral acts on, keeps because they
// only matter on Azure, or refuses (batch.UnsupportedPoolProperties…) is in
// docs/compatibility.md.
var (
	poolAddModel = api.RequestModel{Name: "PoolAddParameter", Properties: []string{
		"id", "displayName", "vmSize", "cloudServiceConfiguration", "virtualMachineConfiguration",
		"resizeTimeout", "targetDedicatedNodes", "targetLowPriorityNodes", "enableAutoScale",
		"autoScaleFormula", "autoScaleEvaluationInterval", "enableInterNodeCommunication",
		"networkConfiguration", "startTask", "certificateReferences", "applicationPackageReferences",
		"applicationLicenses", "taskSlotsPerNode", "taskSchedulingPolicy", "userAccounts", "metadata",
		"mountConfiguration", "targetNodeCommunicationMode", "resourceTags", "upgradePolicy",
	}}
	jobAddModel = api.RequestModel{Name: "JobAddParameter", Properties: []string{
		"id", "displayName", "priority", "maxParallelTasks", "allowTaskPreemption", "constraints",
		"jobManagerTask", "jobPreparationTask", "jobReleaseTask", "commonEnvironmentSettings",
		"poolInfo", "onAllTasksComplete", "onTaskFailure", "metadata", "usesTaskDependencies",
		"networkConfiguration",
	}}
	taskAddModel = api.RequestModel{Name: "TaskAddParameter", Properties: []string{
		"id", "displayName", "commandLine", "containerSettings", "exitConditions", "resourceFiles",
		"outputFiles", "environmentSettings", "affinityInfo", "constraints", "requiredSlots",
		"userIdentity", "multiInstanceSettings", "dependsOn", "applicationPackageReferences",
		"authenticationTokenSettings",
	}}
	taskAddCollectionModel = api.RequestModel{Name: "TaskAddCollectionParameter", Properties: []string{"value"}}
)
