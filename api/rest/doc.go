// Package rest is Corral's Azure Batch data-plane REST API: the HTTP handlers for pools, nodes,
// jobs and tasks, on top of the protocol plumbing of package api (Shared Key and bearer-token
// authentication, Azure's error bodies, api-version, paging, conditional requests).
//
// A [Server] is an http.Handler. Writes (Pool - Add, Pool - Resize, Pool - Stop Resize, Pool -
// Enable AutoScale, Pool - Disable AutoScale, Pool - Evaluate AutoScale, Pool - Remove Nodes,
// Job - Add, Job - Terminate, Task - Add, Task - Add Collection, Task - Terminate, the job
// schedules' writes, and the deletes) become requests to the service's account actor
// (service.AccountID), sent through the actor runtime; the answer comes back to one bridge actor
// ([BridgeID]) that hands it to the waiting HTTP handler. Reads (GET and list) go to the store
// directly through the service's read functions: every write the service acknowledged is in the
// store before its answer, so a read after a write sees it.
//
// # Azure Batch as the reference
//
// Paths, methods, status codes and headers are Azure's (checked against the Go SDK azbatch
// generated from api-version 2024-07-01.20.0 and the REST reference on learn.microsoft.com):
//
//   - Pool - Add, Job - Add, Task - Add: 201 Created, empty body, with DataServiceId (the
//     entity's URL), ETag and Last-Modified.
//   - Task - Add Collection: 200 OK with {"value": [TaskAddResult…]}, one result per task in the
//     order given; status is "success", "clienterror" or "servererror".
//   - Job - Terminate, Pool - Resize, Pool - Stop Resize and Pool - Remove Nodes: 202 Accepted;
//     Pool - Enable AutoScale: 200 OK; Task - Terminate: 204 No Content; all with DataServiceId,
//     ETag and Last-Modified, all honouring If-Match, If-None-Match, If-Modified-Since and
//     If-Unmodified-Since (412 ConditionNotMet).
//   - Pool - Disable AutoScale: 200 OK with DataServiceId, ETag and Last-Modified; Azure gives it
//     no conditional headers, and Corral ignores any sent.
//   - Pool - Evaluate AutoScale: 200 OK with the AutoScaleRun (timestamp, results, error) and its
//     odata.metadata, and the pool's DataServiceId, ETag and Last-Modified; the pool is not
//     changed. Evaluating on a pool without autoscale is 409 (Azure: "The Pool must have auto
//     scaling enabled in order to evaluate a formula").
//   - Pool - Remove Nodes: nodeList is required and names 1 to 100 nodes; resizeTimeout (at
//     least 5 minutes) and nodeDeallocationOption as in Pool - Resize. The pool must be steady
//     (409 PoolBeingResized otherwise) and every node in it (404 NodeNotFound otherwise): those
//     are the service's checks.
//   - Account - List Pool Node Counts (GET /nodecounts): 200 with {"odata.metadata", "value":
//     [PoolNodeCounts…], "odata.nextLink"}, one entry per pool in id order, counting dedicated and
//     low-priority nodes per state; its maxresults is 1 to 10, default 10 (api-version
//     2024-07-01.20.0; the later 2025-06-01 allows 1000).
//   - Job schedules (jobschedules.go): Job Schedule - Add 201; Get and List 200 (HEAD is Job
//     Schedule - Exists, 200 or 404); Patch and Update 200; Disable and Enable 204; Terminate and
//     Delete 202; Job - List From Job Schedule 200. The writes honour the conditional headers.
//     A schedule's jobs are named <scheduleId>:job-<n>, and the job operations take such ids.
//   - A formula longer than 8192 characters is 400 AutoScaleFormulaTooLong, as in Pool - Add.
//   - GET of one pool, job or task: 200 with ETag and Last-Modified, and 304 for a conditional
//     GET whose condition is not met. GET of a list: {"odata.metadata", "value",
//     "odata.nextLink"} with maxresults (1 to 1000, default 1000) and $skiptoken paging.
//   - Every response carries request-id (a random UUID, also the id of the request sent to the
//     service) and DataServiceVersion 3.0, and echoes client-request-id when
//     return-client-request-id is true.
//   - Reads (GET and HEAD; not the file operations, which wait on nodes) are bounded by
//     Config.Reads: so many are served at once, each place resting after a read, a few more
//     wait briefly for a place, and a read beyond them is answered 503 ServerBusy with a
//     Retry-After header, in Azure's error shape, before its signature is checked (shedding
//     load costs the least that way). Azure answers throttled requests with 429 or 503 and
//     Retry-After, and its SDKs retry both after the time Retry-After gives. Writes are never
//     throttled, so that submitting and changing work is not held up by polling; nor is the
//     agents' endpoint, which is not part of this API. Azure throttles by its own rules, not
//     published; Corral's bound is the server's (corral server --read-limit).
//
// Corral's extensions, paths Azure does not have (see extensions.go):
//
//   - GET /pools/{poolId}/history: {"value": [PoolEvent…]}, the pool's resize and autoscale
//     history, oldest first (batch.PoolEvent; at most batch.MaxPoolHistory entries); 404
//     PoolNotFound for a missing pool. Azure shows only the latest autoScaleRun and resizeErrors.
//   - POST /pools/{poolId}/nodes/{nodeId}/evict, for development and tests: takes a
//     low-priority node away as a spot eviction would, through Config.Evict; 202 Accepted with the
//     node's DataServiceId. 501 NotImplemented when the server has no Config.Evict, 404
//     PoolNotFound or NodeNotFound for what the store does not have, 409
//     OperationInvalidForCurrentState for a dedicated node or when the provider refuses (its
//     reason is the message).
//   - Join tokens and joined machines, for pools of machines that join by themselves (the
//     static provider; joins.go, Config.Joins; 501 NotImplemented without it, 404 PoolNotFound
//     for a missing pool): POST /pools/{poolId}/jointokens with an optional body {"lifetime":
//     ISO 8601 duration, default PT1H, at most P7D} → 201 with the token's text (the only time
//     it is shown); GET /pools/{poolId}/jointokens; DELETE /pools/{poolId}/jointokens/{tokenId}
//     revokes one (404 JoinTokenNotFound); GET /pools/{poolId}/machines lists the machines that
//     joined and the node each is lent to; DELETE /pools/{poolId}/machines/{machineId} removes
//     one (404 MachineNotFound), refusing its credential and losing its node.
//
// Where Corral departs from Azure, or Azure could not be confirmed:
//
//   - $filter and $select work on the lists of pools, jobs, tasks and nodes, and $select on
//     their gets (query.go, package api/odata); a filter's page counts matches and may be short
//     after 10,000 entities read. $expand=stats works on the gets and lists of jobs, tasks,
//     pools and job schedules (stats.go), and any other $expand value there is 400
//     InvalidQueryParameterValue naming it. Any other operation that gets one of them with a value, and every other operation
//     given $expand, answers 400 UnsupportedQueryParameter with QueryParameterName,
//     QueryParameterValue and Reason, rather than 200 with every entity or property (see
//     docs/compatibility.md).
//   - Pool - List Usage Metrics lists the current hour, counted to the request, as its latest
//     interval (Azure lists intervals hours after they end), and Pool - Get All Lifetime
//     Statistics answers resourceStats with every figure 0: Corral does not measure nodes'
//     resources (stats.go, docs/compatibility.md). An invalid filter or select is 400
//     InvalidQueryParameterValue: Azure documents only "400" for it. maxresults and $skiptoken
//     paging work.
//   - A request body is refused (400 InvalidRequestBody, naming the property) when it holds a
//     property that its type does not declare, at any depth, or, for Pool - Add, Job - Add and
//     Task - Add (each task of Add Collection too), a top-level property outside Azure's request
//     model (models.go): a read-only property of the resource (url, eTag, state…), a misspelt
//     or unknown one. Azure parses bodies with OData, which refuses such properties too; its
//     exact answer could not be confirmed. Properties of the models that Corral does not
//     implement (a start task's resourceFiles, a resource file's autoStorageContainerName, a
//     job's priority…) are refused with 400 UnsupportedProperty by the service's validation
//     (package batch); those that only matter on Azure (vmSize, the VM image…) are kept.
//     docs/compatibility.md lists every property and query option.
//   - Pool - Enable AutoScale: an empty autoScaleFormula, and an autoScaleEvaluationInterval that
//     is not positive, are 400 InvalidPropertyValue here (Corral reads a property left out as
//     "keep the pool's", so an empty one must not read the same); the interval's bounds (5
//     minutes to 168 hours, or the server's configured minimum) are checked by the service.
//     Azure allows one Enable AutoScale per pool every 30 seconds; Corral any number.
//   - Pool - Evaluate AutoScale on a pool without autoscale is 409 with the code
//     AutoScaleNotEnabled (the service's); Azure's code for it could not be confirmed. The
//     odata.metadata of its answer ends in "#Microsoft.WindowsAzure.Batch.Protocol.Entities.AutoScaleRun",
//     as Azure's REST reference shows it (an old page); the current service's could not be
//     confirmed, and clients do not read it.
//   - Pool - Remove Nodes: a node named twice (ids compare case-insensitively) is removed once,
//     and an entry of nodeList that cannot be a node id is 400 InvalidPropertyValue; Azure's
//     answers to these were not confirmed.
//   - Account - List Pool Node Counts: the counts are read from the store, so they are current
//     (Azure warns that its own "may not always be up to date"). The deallocated and
//     deallocating counts are always 0 (Corral's nodes have no such states), and a node in a
//     state Corral does not know counts as unknown. The odata.metadata fragment
//     ("poolnodecounts") was not confirmed against the live service.
//   - Operations that Azure has and Corral does not implement yet (updates and patches, node
//     user accounts, and any other path under one of Azure's top-level collections)
//     answer 501 Not Implemented with the error code "NotImplemented", a code Azure's own SDKs
//     know (the .NET SDK's BatchErrorCode.NotImplemented: "the operation is not implemented"),
//     though the "Batch Status and Error Codes" page does not list it or its status; the
//     alternative from that page, UnsupportedHttpVerb (405), would wrongly say that the resource
//     never supports the verb. A path that is not Azure's answers 400 InvalidUri, and a method
//     a path does not have in Azure answers 405 UnsupportedHttpVerb.
//   - Compute nodes carry no ETag or Last-Modified (the service keeps no version for them), so
//     Compute Node - Get ignores conditional headers.
//   - A node's runningTasksCount, runningTaskSlotsCount and state running (for a node that would
//     otherwise be idle) come from the attempts the service records as running on it, and its
//     recentTasks lists those tasks only (Azure also lists tasks that completed recently). Its
//     stateTransitionTime is that of its last recorded state, not of its going running.
//     totalTasksRun counts the attempts that ended on it with a result (a retried task counts
//     each attempt; one requeued from a lost or removed node does not), totalTasksSucceeded
//     those that exited 0. Its startTask is the start task of its current run (a pool patch
//     changes the pool's for later runs only), startTaskInfo that run's state, and a node up
//     shows waitingforstarttask or starttaskfailed while a start task with waitForSuccess has
//     not succeeded; Corral does not show starting (a node goes from creating to idle or
//     waitingforstarttask).
//   - A task whose dependencies would close a cycle with the job's tasks, or with the tasks
//     before it in its collection, is refused with 400 InvalidPropertyValue on dependsOn, whose
//     PropertyValue names the cycle ("a -> c -> b -> a"): tasks on a cycle would wait for ever
//     (Azure accepts them, and they do).
//   - More than 100 tasks in one Add Collection is answered 413 RequestBodyTooLarge (the answer
//     clients already handle by sending fewer tasks); Azure documents the limit, not its error.
//   - The TaskAddResult status values are lower case, as api-version 2024-07-01.20.0 (and the Go
//     SDK) spell them; older documentation spells them "clientError" and "serverError".
//   - A write that the service does not answer within the request's time limit (the timeout
//     query parameter, at most 30 seconds, and Config.RequestTimeout) is answered 500
//     OperationTimedOut; like Azure's, such a request may still take effect later.
//   - Terminating a task that has already completed succeeds (204), as the service answers it,
//     so that a retried request succeeds; Azure answers 409 TaskCompleted (as error logs of
//     real Batch accounts show).
//   - A request to add tasks to, or terminate, a job the store has as completed is answered 409
//     JobCompleted from the store, and one to terminate a completed task 204, without asking the
//     service (whose answers these are too): see activeJob in jobs.go for the service fault this
//     also avoids.
//   - The odata.metadata fragments of Task Counts ("taskcounts/@Element") and Add Collection
//     ("taskaddresult") were not confirmed against the live service; clients do not read them.
//   - Job Schedule - Delete answers once the schedule and its jobs are gone, and Terminate once
//     the schedule is terminating (Azure answers both at once); Update without a schedule gives
//     the default one (a job at once). docs/compatibility.md has the details.
package rest
