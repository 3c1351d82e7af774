module corral/compat/go

go 1.26.8

// Its own module, so that Corral's go.mod does not carry the Azure SDK. Dependencies:
//   github.com/Azure/azure-sdk-for-go/sdk/batch/azbatch: the official Batch client for Go, the
//     client under test (pinned: v0.1.0 speaks api-version 2024-07-01.20.0, as Corral does);
//     azcore (its pipeline and bearer-token policy) and the indirect requirements are its own.
//   github.com/Azure/azure-sdk-for-go/sdk/storage/azblob: the official Blob Storage client, with
//     which TestWorkflow puts its tasks' resource file in Azurite, signs the SAS URLs of their
//     resource and output files, and reads the output files back (pinned: v1.6.1 is the newest
//     that needs no newer azcore than azbatch's; Corral's own v1.8.0 needs azcore v1.22.0).
// The tests build the corral binary from the repository (../..) and drive it as a process.

require (
	github.com/Azure/azure-sdk-for-go/sdk/azcore v1.18.0
	github.com/Azure/azure-sdk-for-go/sdk/batch/azbatch v0.1.0
	github.com/Azure/azure-sdk-for-go/sdk/storage/azblob v1.6.1
)

require (
	github.com/Azure/azure-sdk-for-go/sdk/internal v1.11.1 // indirect
	golang.org/x/net v0.39.0 // indirect
	golang.org/x/text v0.24.0 // indirect
)
