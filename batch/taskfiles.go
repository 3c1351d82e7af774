package batch

import (
	"encoding/json"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// ResourceFile is a file, or the blobs of a container, that the node agent downloads into a
// task's working directory before the task's process starts (Azure's ResourceFile). Exactly
// one of HTTPURL and StorageContainerURL is given; Corral refuses autoStorageContainerName (it
// has no linked storage account) and identityReference (its nodes have no managed identities).
type ResourceFile struct {
	AutoStorageContainerName string `json:"autoStorageContainerName,omitempty"`
	// StorageContainerURL is a blob container's URL, with a SAS granting read and list unless
	// the container is public: every blob (under BlobPrefix) is downloaded, keeping its path.
	StorageContainerURL string `json:"storageContainerUrl,omitempty"`
	// HTTPURL is any http or https URL, such as a blob's with a SAS.
	HTTPURL    string `json:"httpUrl,omitempty"`
	BlobPrefix string `json:"blobPrefix,omitempty"`
	// FilePath is relative to the working directory: the file's path for HTTPURL (required),
	// the directory the blobs go to for a container (optional).
	FilePath string `json:"filePath,omitempty"`
	// FileMode is the files' permission bits in octal ("0644"); Azure's default is 0770.
	FileMode          string          `json:"fileMode,omitempty"`
	IdentityReference json.RawMessage `json:"identityReference,omitempty"`
}

// OutputFile is a set of files that the node agent uploads to a blob container after the
// task's process ends (Azure's OutputFile).
type OutputFile struct {
	// FilePattern names the files, relative to the working directory, with Azure's wildcards
	// (*, **, ?, [abc], [a-c], [!abc]) and $VAR expansion from the task's environment.
	FilePattern   string                   `json:"filePattern"`
	Destination   *OutputFileDestination   `json:"destination,omitempty"`
	UploadOptions *OutputFileUploadOptions `json:"uploadOptions,omitempty"`
}

// OutputFileDestination is where output files go: a blob container, the only kind Azure has.
type OutputFileDestination struct {
	Container *OutputFileBlobContainerDestination `json:"container,omitempty"`
}

// OutputFileBlobContainerDestination is a blob container and the blob name, or virtual
// directory, the files are uploaded to.
type OutputFileBlobContainerDestination struct {
	// Path is the blob's name when FilePattern names one file (no wildcards), else the virtual
	// directory prepended to each file's path; empty, the files go to the container's root.
	Path string `json:"path,omitempty"`
	// ContainerURL is the container's URL with a SAS granting write.
	ContainerURL      string          `json:"containerUrl"`
	IdentityReference json.RawMessage `json:"identityReference,omitempty"`
	// UploadHeaders are set on each blob (see [UploadHeaderNames]).
	UploadHeaders []HTTPHeader `json:"uploadHeaders,omitempty"`
}

// HTTPHeader is one header of an upload (Azure's HttpHeader).
type HTTPHeader struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// OutputFileUploadOptions says when the files are uploaded.
type OutputFileUploadOptions struct {
	UploadCondition UploadCondition `json:"uploadCondition"`
}

// UploadCondition is when a task's output files are uploaded (OutputFileUploadCondition).
type UploadCondition string

// Upload conditions: after an attempt whose process exited with 0, with another code, or
// either.
const (
	UploadOnSuccess    UploadCondition = "tasksuccess"
	UploadOnFailure    UploadCondition = "taskfailure"
	UploadOnCompletion UploadCondition = "taskcompletion"
)

// Valid reports whether c is a known upload condition.
func (c UploadCondition) Valid() bool {
	return c == UploadOnSuccess || c == UploadOnFailure || c == UploadOnCompletion
}

// UnmarshalJSON reads the condition case-insensitively.
func (c *UploadCondition) UnmarshalJSON(b []byte) error { return unmarshalEnum(b, (*string)(c)) }

// UploadHeaderNames are the upload headers Corral sets on blobs, lower case: Put Blob's
// content headers (also under their x-ms-blob- names) and x-ms-meta- metadata. Others are
// refused.
var UploadHeaderNames = []string{
	"content-type", "content-encoding", "content-language", "content-disposition", "cache-control",
	"x-ms-blob-content-type", "x-ms-blob-content-encoding", "x-ms-blob-content-language",
	"x-ms-blob-content-disposition", "x-ms-blob-cache-control", "x-ms-meta-*",
}

// MaxFileMode is the largest fileMode: permission bits with setuid, setgid and sticky.
const MaxFileMode = 0o7777

// ParseFileMode reads a resource file's fileMode, an octal number such as "0644" or "755".
func ParseFileMode(s string) (uint32, bool) {
	if s == "" || strings.HasPrefix(s, "+") || strings.HasPrefix(s, "-") {
		return 0, false
	}
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > MaxFileMode {
		return 0, false
	}
	return uint32(m), true
}

// RedactURL returns u without its query string and fragment, for messages: a SAS in a query
// string is a secret.
func RedactURL(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		return u[:i] + "?<redacted>"
	}
	return u
}

// EscapesDir reports whether the slash-separated relative path p leaves the directory it is
// relative to (an absolute path, or ".." beyond its start).
func EscapesDir(p string) bool {
	if strings.HasPrefix(p, "/") {
		return true
	}
	c := path.Clean(p)
	return c == ".." || strings.HasPrefix(c, "../")
}

// validateTaskFiles checks a task's resourceFiles and outputFiles.
func validateTaskFiles(t Task) *Error {
	for i, rf := range t.ResourceFiles {
		if err := validateResourceFile("resourceFiles["+strconv.Itoa(i)+"]", rf); err != nil {
			return err
		}
	}
	for i, of := range t.OutputFiles {
		if err := validateOutputFile("outputFiles["+strconv.Itoa(i)+"]", of); err != nil {
			return err
		}
	}
	return nil
}

func validateResourceFile(p string, rf ResourceFile) *Error {
	if rf.AutoStorageContainerName != "" {
		return unsupported(p+".autoStorageContainerName", reasonOf(UnsupportedTaskProperties, "resourceFiles.autoStorageContainerName"))
	}
	if given(rf.IdentityReference) {
		return unsupported(p+".identityReference", reasonOf(UnsupportedTaskProperties, "resourceFiles.identityReference"))
	}
	switch {
	case rf.HTTPURL == "" && rf.StorageContainerURL == "":
		return missing(p + ".httpUrl")
	case rf.HTTPURL != "" && rf.StorageContainerURL != "":
		return invalid(p+".storageContainerUrl", RedactURL(rf.StorageContainerURL),
			"httpUrl, storageContainerUrl and autoStorageContainerName are mutually exclusive")
	}
	if rf.HTTPURL != "" {
		if err := checkURL(p+".httpUrl", rf.HTTPURL); err != nil {
			return err
		}
		if rf.BlobPrefix != "" {
			return invalid(p+".blobPrefix", rf.BlobPrefix, "blobPrefix is valid only with storageContainerUrl")
		}
		if rf.FilePath == "" {
			return missing(p + ".filePath")
		}
	} else if err := checkURL(p+".storageContainerUrl", rf.StorageContainerURL); err != nil {
		return err
	}
	if rf.FilePath != "" {
		if EscapesDir(rf.FilePath) {
			return invalid(p+".filePath", rf.FilePath, "filePath must be relative and must not leave the task's working directory")
		}
		if rf.HTTPURL != "" && (path.Clean(rf.FilePath) == "." || strings.HasSuffix(rf.FilePath, "/")) {
			return invalid(p+".filePath", rf.FilePath, "with httpUrl, filePath names a file")
		}
	}
	if rf.FileMode != "" {
		if _, ok := ParseFileMode(rf.FileMode); !ok {
			return invalid(p+".fileMode", rf.FileMode, "fileMode is an octal number of permission bits, such as 0644")
		}
	}
	return nil
}

func validateOutputFile(p string, of OutputFile) *Error {
	if of.FilePattern == "" {
		return missing(p + ".filePattern")
	}
	if !strings.Contains(of.FilePattern, "$") &&
		(strings.HasPrefix(of.FilePattern, "/") || EscapesDir(path.Join("wd", of.FilePattern))) {
		return invalid(p+".filePattern", of.FilePattern,
			"Corral uploads only files in the task's directory: filePattern is relative to the working directory and may not leave the task directory")
	}
	if of.Destination == nil {
		return missing(p + ".destination")
	}
	c := of.Destination.Container
	if c == nil {
		return missing(p + ".destination.container")
	}
	cp := p + ".destination.container"
	if given(c.IdentityReference) {
		return unsupported(cp+".identityReference", reasonOf(UnsupportedTaskProperties, "outputFiles.destination.container.identityReference"))
	}
	if c.ContainerURL == "" {
		return missing(cp + ".containerUrl")
	}
	if err := checkURL(cp+".containerUrl", c.ContainerURL); err != nil {
		return err
	}
	for i, h := range c.UploadHeaders {
		hp := cp + ".uploadHeaders[" + strconv.Itoa(i) + "]"
		if h.Name == "" {
			return missing(hp + ".name")
		}
		if !UploadHeaderKnown(h.Name) {
			return unsupported(hp+".name", "Corral sets only these upload headers: "+strings.Join(UploadHeaderNames, ", "))
		}
	}
	if of.UploadOptions == nil {
		return missing(p + ".uploadOptions")
	}
	u := of.UploadOptions.UploadCondition
	if u == "" {
		return missing(p + ".uploadOptions.uploadCondition")
	}
	if !u.Valid() {
		return invalid(p+".uploadOptions.uploadCondition", string(u), "uploadCondition is taskSuccess, taskFailure or taskCompletion")
	}
	return nil
}

// UploadHeaderKnown reports whether Corral sets the upload header name (see [UploadHeaderNames]).
func UploadHeaderKnown(name string) bool {
	n := strings.ToLower(name)
	if m, ok := strings.CutPrefix(n, "x-ms-meta-"); ok {
		return m != ""
	}
	for _, k := range UploadHeaderNames {
		if k == n {
			return true
		}
	}
	return false
}

// checkURL checks that u is an absolute http or https URL. The value in the error leaves out the
// query string, which may hold a SAS.
func checkURL(property, u string) *Error {
	parsed, err := url.Parse(u)
	if err != nil {
		return invalid(property, RedactURL(u), "the URL cannot be parsed")
	}
	if parsed.Scheme != "http" && parsed.Scheme != "https" || parsed.Host == "" {
		return invalid(property, RedactURL(u), "the URL must be an absolute http or https URL")
	}
	return nil
}
