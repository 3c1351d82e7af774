// Package api holds the transport-level pieces of Corral's Azure-Batch-compatible REST API, the
// parts every handler shares: Azure's error body and error codes ([Error], [WriteError]), the
// common response headers, authentication of incoming requests by Shared Key ([Authenticate],
// built on package api/sharedkey) or bearer token ([Authenticator], built on package
// api/bearer), reading JSON bodies with Azure's size limit ([DecodeJSON]), the
// api-version check ([APIVersion]), conditional requests ([CheckConditions]), the common query
// parameters (timeout, maxresults; [RefuseUnsupportedQuery] for $filter, $select and $expand)
// and OData paging ([Page], [NextLink]), the bound on requests served at once and Azure's
// throttling answer ([Limiter], [WriteThrottled]: 503 ServerBusy with Retry-After), and a tiny
// signing client for tests and the CLI ([NewRequest]).
//
// Nothing here reads the clock or draws random numbers except [NewRequestID]: times are arguments,
// so handlers stay deterministic under test.
//
// Azure Batch's documented behaviour is the reference (learn.microsoft.com "Batch Status and Error
// Codes", "Authenticate Requests to Azure Batch", "Common Parameters and Headers", and the
// BatchService.json specs in Azure/azure-rest-api-specs). Where Corral departs from it, or where
// Azure's behaviour could not be confirmed, the doc comment says so.
package api
