package agent

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// Azure Batch task failure codes for resource files and output files (Azure's
// TaskFailureInformationCodes), all of category usererror.
const (
	CodeBlobNotFound                   = "BlobNotFound"
	CodeBlobAccessDenied               = "BlobAccessDenied"
	CodeBlobDownloadMiscError          = "BlobDownloadMiscError"
	CodeResourceContainerNotFound      = "ResourceContainerNotFound"
	CodeResourceContainerAccessDenied  = "ResourceContainerAccessDenied"
	CodeResourceContainerListMiscError = "ResourceContainerListMiscError"
	CodeResourceFileCreateFailed       = "ResourceFileCreateFailed"
	CodeResourceFileWriteFailed        = "ResourceFileWriteFailed"
	CodeResourceDirectoryCreateFailed  = "ResourceDirectoryCreateFailed"
	CodeFileUploadContainerNotFound    = "FileUploadContainerNotFound"
	CodeFileUploadAccessDenied         = "FileUploadAccessDenied"
	CodeFileUploadMiscError            = "FileUploadMiscError"
)

// messages are Azure's user messages for the codes; the Failure's message adds the detail.
var messages = map[string]string{
	CodeBlobNotFound:                   "One of the specified Azure Blob(s) is not found",
	CodeBlobAccessDenied:               "Access for one of the specified Azure Blob(s) is denied",
	CodeBlobDownloadMiscError:          "Miscellaneous error encountered while downloading one of the specified Azure Blob(s)",
	CodeResourceContainerNotFound:      "One of the specified Azure Blob container(s) is not found",
	CodeResourceContainerAccessDenied:  "Access for one of the specified Azure Blob container(s) is denied",
	CodeResourceContainerListMiscError: "Miscellaneous error encountered while listing one of the specified Azure Blob container(s)",
	CodeResourceFileCreateFailed:       "The compute node could not create a local file for a resource file",
	CodeResourceFileWriteFailed:        "The compute node could not write a local file for a resource file",
	CodeResourceDirectoryCreateFailed:  "The compute node could not create a directory for the task's resource files",
	CodeFileUploadContainerNotFound:    "One of the specified Azure container(s) was not found while attempting to upload an output file",
	CodeFileUploadAccessDenied:         "Access to the Azure Storage Container for uploading Output Files was denied",
	CodeFileUploadMiscError:            "The compute node hit an unexpected error when uploading Output Files",
}

// fileFailure returns the usererror Failure for code, with Azure's message and the detail, whose
// URLs lose their query strings (a SAS is a secret).
func fileFailure(code, detail string) *Failure {
	return &Failure{Category: CategoryUserError, Code: code, Message: messages[code] + ": " + redactURLs(detail)}
}

// urlQuery matches the query string and fragment of a URL in a text.
var urlQuery = regexp.MustCompile(`(https?://[^\s?#"']*)[?#][^\s"']*`)

// redactURLs removes the query strings (SAS tokens) of the URLs in s.
func redactURLs(s string) string { return urlQuery.ReplaceAllString(s, "$1?<redacted>") }

// storageStatus classifies a storage error: the HTTP status of Azure Storage's answer (0 when
// there was none: a network error, a cancelled request) and a short description for messages
// that never holds the request's URL.
func storageStatus(err error) (int, string) {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode, fmt.Sprintf("HTTP %d %s", re.StatusCode, re.ErrorCode)
	}
	return 0, redactURLs(err.Error())
}

// byStatus picks the code for a storage error: notFound for 404, denied for 401 and 403, misc
// otherwise.
func byStatus(status int, notFound, denied, misc string) string {
	switch status {
	case http.StatusNotFound:
		return notFound
	case http.StatusUnauthorized, http.StatusForbidden:
		return denied
	}
	return misc
}

// containerClient returns a client for a container URL with a SAS (or a public container).
func containerClient(containerURL string) (*container.Client, error) {
	c, err := container.NewClientWithNoCredential(containerURL, nil)
	if err != nil {
		return nil, fmt.Errorf("container URL %s: %s", redactURLs(containerURL), redactURLs(err.Error()))
	}
	return c, nil
}
