// Package rest is Corral's Azure Batch data-plane REST API: the HTTP handlers for pools, nodes,
// jobs and tasks, on top of the protocol plumbing of package api (Shared Key authentication,
// Azure's error bodies, api-version, paging, conditional requests).
//
// A [Server] is an http.Handler. Writes (Pool - Add, Pool - Resize, Pool - Stop Resize,
// Job - Add, Job - Terminate, Task - Add, Task - Add Collection, Task - Terminate, and the
// deletes) become requests to the service's account actor
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
//   - Job - Terminate, Pool - Resize and Pool - Stop Resize: 202 Accepted; Task - Terminate:
//     204 No Content; all with DataServiceId, ETag and Last-Modified, all honouring If-Match,
//     If-None-Match, If-Modified-Since and If-Unmodified-Since (412 ConditionNotMet).
//   - GET of one pool, job or task: 200 with ETag and Last-Modified, and 304 for a conditional
//     GET whose condition is not met. GET of a list: {"odata.metadata", "value",
//     "odata.nextLink"} with maxresults (1 to 1000, default 1000) and $skiptoken paging.
//   - Every response carries request-id (a random UUID, also the id of the request sent to the
//     service) and DataServiceVersion 3.0, and echoes client-request-id when
//     return-client-request-id is true.
//
// Where Corral departs from Azure, or Azure could not be confirmed:
//
//   - $filter and $select are accepted and ignored: every list returns every entity, every
//     property ($select must still be a well-formed list). A later issue implements them.
//   - Unknown properties in a request body are ignored, as are read-only properties (url, eTag,
//     state…) sent by the client: the service sets them. Pool - Resize is the exception: it
//     rejects unknown properties (400 InvalidRequestBody), because there a target left out means
//     0, and a misspelt one must not shrink the pool (see resizeRequest in resize.go).
//   - Operations that Azure has and Corral does not implement yet (updates and patches, File -
//     Delete From Task, and any other path under one of Azure's top-level collections)
//     answer 501 Not Implemented with the error code "NotImplemented", a code Azure's own SDKs
//     know (the .NET SDK's BatchErrorCode.NotImplemented: "the operation is not implemented"),
//     though the "Batch Status and Error Codes" page does not list it or its status; the
//     alternative from that page, UnsupportedHttpVerb (405), would wrongly say that the resource
//     never supports the verb. A path that is not Azure's answers 400 InvalidUri, and a method
//     a path does not have in Azure answers 405 UnsupportedHttpVerb.
//   - Compute nodes carry no ETag or Last-Modified (the service keeps no version for them), so
//     Compute Node - Get ignores conditional headers.
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
package rest
