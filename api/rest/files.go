package rest

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"corral/api"
	"corral/api/sharedkey"
	"corral/service"
)

// The file operations: File - List From Task (GET /jobs/{jobId}/tasks/{taskId}/files), File -
// Get From Task (GET …/files/{filePath}), File - Get Properties From Task (HEAD …/files/{filePath})
// and File - Delete From Task (DELETE …/files/{filePath}), and the same four From Compute Node
// (/pools/{poolId}/nodes/{nodeId}/files…). A Server serves them when its Config has a
// FileSource, and answers them 501 NotImplemented otherwise.
//
// A node's files are its root directory as Azure lays a node out, with what a Corral node has of
// it: shared, startup (the start task's directory) and workitems, whose
// <jobId>/job-1/<taskId> directories are the task directories. Azure's applications, fsmounts
// and volatile directories do not exist on a Corral node. Nothing else of the node's root (the
// node's credential, the agent's log and records) and none of Corral's bookkeeping files is
// listed or served, and a symbolic link is followed only inside the top directory it is in.
// Deleting one of those three directories is 409 OperationInvalidForCurrentState; a node whose
// agent cannot be reached answers 409 OperationInvalidForCurrentState too.
//
// Deletes answer 200; a directory that is not empty is deleted only with recursive=true, else
// 409 OperationInvalidForCurrentState (Azure documents that such a delete fails, not how). A
// symbolic link is deleted itself, never what it points to.
//
// The handler reads the task from the store to find the node it runs or ran on (its nodeInfo)
// and asks the FileSource for that node's copy of the task directory. What Azure documents and
// Corral does (checked against the REST reference for api-version 2024-07-01.20.0, its
// examples, and the Go SDK azbatch generated from it):
//
//   - List answers {"odata.metadata", "value": [NodeFile…], "odata.nextLink"} with maxresults
//     (1 to 1000) and $skiptoken paging. Names are relative to the task directory, with '/'
//     separators: "stdout.txt", "wd", "wd/out/result.csv" (Azure's Windows nodes use '\'). Without
//     recursive=true only the direct entries of the task directory are listed.
//   - Get answers 200 with the file's bytes as application/octet-stream, and Get Properties the
//     same headers without a body: Content-Length, Last-Modified, ocp-batch-file-isdirectory,
//     ocp-batch-file-url, ocp-batch-file-mode, and ocp-creation-time when the node knows it.
//   - The ocp-range header ("bytes=first-last" or "first-last") selects a range of the file; the
//     answer is 200 with just those bytes: Azure's API description lists only 200 for this
//     operation, and the SDKs generated from it (azbatch among them) accept nothing else. A range that starts at or after the end of the file is 416 InvalidRange; a
//     malformed ocp-range is 400 InvalidHeaderValue.
//   - If-Modified-Since (304) and If-Unmodified-Since (412 ConditionNotMet) are checked against
//     the file's last-modified time.
//
// Where Corral departs from Azure, or Azure could not be confirmed:
//
//   - A standard HTTP Range header (which Azure does not document for this operation) is honoured
//     as RFC 9110 says: 206 Partial Content with Content-Range for one satisfiable range, 416
//     InvalidRange (with Content-Range "bytes */size") for an unsatisfiable one, and the whole
//     file for a malformed or multi-range header. When ocp-range is present, Range is ignored.
//   - A task that has never been assigned to a node is answered 409 OperationInvalidForCurrentState
//     (the answer Azure users report for listing the files of a task that never ran:
//     MicrosoftDocs/azure-docs issue 53298). A task whose
//     node no longer has its directory is answered 409 TaskFilesUnavailable, and so is any file
//     operation while the node cannot be reached (its agent is not connected).
//   - A file path that cannot name a file inside the task directory (empty, absolute, with a ".."
//     element, or one that leads outside through a symbolic link) is answered 404 FileNotFound,
//     as a path id that breaks Azure's rules is answered not found; nothing outside the task
//     directory is ever served. (A path with literal "." or ".." segments never reaches the
//     handler: the router redirects it (307) to its clean form, as HTTP servers normalise dot
//     segments; percent-encoded ones, and %2F, reach the handler.)
//   - Files carry no ETag (the node keeps no version for them), so If-Match and If-None-Match are
//     ignored.
//   - A directory is listed without "properties" (no contentLength or times); Get and Get
//     Properties of a directory answer 200 with ocp-batch-file-isdirectory: true and no content.
//     Azure's behaviour for directories could not be confirmed.
//   - fileMode and ocp-batch-file-mode are the permission bits in octal as Azure's resource files
//     spell them ("0644", "04755"); Azure documents only "the file mode attribute in octal
//     format", returned for Linux nodes. creationTime, which Azure does not return for Linux
//     nodes either, is returned only when the FileSource knows it.
//   - $filter is refused (400 UnsupportedQueryParameter), as for every other operation.

// FileSource reads and deletes the files of tasks on the nodes that run or ran them, and the
// files of nodes. jobID and taskID name a task directory; both empty, they name the node's root
// directory, of which a FileSource serves only the directories of Azure's layout that a Corral
// node has (shared, startup, workitems). Paths are relative to that directory, with '/'
// separators. A FileSource must never reach anything outside the task directory (outside those
// directories of the node), whatever the path or the symbolic links inside them, nor Corral's
// own files.
//
// Errors: an error wrapping fs.ErrNotExist means the file does not exist (OpenFile, DeleteFile)
// or the node has no directory for the task (ListFiles); one wrapping ErrInvalidFilePath or
// ErrFileOutsideTask means the path cannot name a file of the directory; one wrapping
// ErrFilesUnavailable means the node cannot be reached now; ErrDirectoryNotEmpty and
// ErrFileProtected are DeleteFile's refusals; errors from ctx are returned as they are.
// Anything else is a failure of the source.
type FileSource interface {
	// ListFiles lists the directory on node nodeID of pool poolID: its direct entries, or with
	// recursive every file and directory below it, in any order.
	ListFiles(ctx context.Context, poolID, nodeID, jobID, taskID string, recursive bool) ([]FileInfo, error)
	// OpenFile opens the file at path in the directory for reading and describes it. For a
	// directory it returns a nil reader and the directory's FileInfo (IsDirectory true).
	OpenFile(ctx context.Context, poolID, nodeID, jobID, taskID, path string) (io.ReadSeekCloser, FileInfo, error)
	// DeleteFile deletes the file or directory at path in the directory: a directory that is
	// not empty only with recursive. A symbolic link is deleted itself, not what it points to.
	DeleteFile(ctx context.Context, poolID, nodeID, jobID, taskID, path string, recursive bool) error
}

// FileInfo describes a file or directory of a task directory: what Azure's NodeFile and the
// headers of File - Get From Task report.
type FileInfo struct {
	// Path is relative to the task directory, with '/' separators: "stdout.txt", "wd",
	// "wd/out/result.csv".
	Path        string
	IsDirectory bool
	// Size is the file's length in bytes (0 for a directory).
	Size int64
	// CreationTime is when the file was created, or zero when the node does not know (Azure does
	// not report it for Linux nodes either).
	CreationTime time.Time
	LastModified time.Time
	// Mode holds the file's permission bits (fs.ModePerm, fs.ModeSetuid, fs.ModeSetgid,
	// fs.ModeSticky); other bits are ignored.
	Mode fs.FileMode
}

// Errors a FileSource wraps (see FileSource).
var (
	// ErrInvalidFilePath: the path is empty, absolute, or has a ".." element.
	ErrInvalidFilePath = errors.New("invalid task file path")
	// ErrFileOutsideTask: the path leads outside the task directory (through a symbolic link).
	ErrFileOutsideTask = errors.New("task file path leads outside the task directory")
	// ErrFilesUnavailable: the node that has the task's files cannot be reached now.
	ErrFilesUnavailable = errors.New("the node of the task's files cannot be reached")
	// ErrDirectoryNotEmpty: a delete of a directory that is not empty, without recursive.
	ErrDirectoryNotEmpty = errors.New("the directory is not empty")
	// ErrFileProtected: a delete of one of the node's layout directories (shared, startup,
	// workitems) or of a task directory itself.
	ErrFileProtected = errors.New("the directory belongs to the node's layout")
)

// NodeFile is Azure's NodeFile: one entry of File - List From Task.
type NodeFile struct {
	Name        string          `json:"name"`
	URL         string          `json:"url"`
	IsDirectory bool            `json:"isDirectory"`
	Properties  *FileProperties `json:"properties,omitempty"`
}

// FileProperties is Azure's FileProperties: the properties of a file (not of a directory) in a
// NodeFile. contentLength is an int64 that the API of 2024-07-01.20.0 encodes as a JSON string
// (the Go SDK azbatch refuses a number); the older SDKs, generated from a description that says
// number, parse a string of digits as well.
type FileProperties struct {
	CreationTime  time.Time `json:"creationTime,omitzero"`
	LastModified  time.Time `json:"lastModified"`
	ContentLength int64     `json:"contentLength,string"`
	ContentType   string    `json:"contentType"`
	FileMode      string    `json:"fileMode,omitempty"`
}

// Headers of File - Get From Task and File - Get Properties From Task.
const (
	HeaderOCPRange          = "ocp-range"
	HeaderOCPCreationTime   = "ocp-creation-time"
	HeaderOCPBatchFileIsDir = "ocp-batch-file-isdirectory"
	HeaderOCPBatchFileURL   = "ocp-batch-file-url"
	HeaderOCPBatchFileMode  = "ocp-batch-file-mode"
)

const (
	fileContentType  = "application/octet-stream" // of every task file, as Azure answers
	taskFilesPath    = "/jobs/{jobId}/tasks/{taskId}/files"
	taskFilePath     = taskFilesPath + "/{filePath...}"
	nodeFilesPath    = "/pools/{poolId}/nodes/{nodeId}/files"
	nodeFilePath     = nodeFilesPath + "/{filePath...}"
	recursiveParam   = "recursive"
	taskNotRunReason = "The task has not been assigned to a compute node, so it has no files."
)

// fileRoutes are the routes of the task and node file operations: served when the Server has a
// FileSource, else answered 501 NotImplemented like every operation Corral does not implement.
func (s *Server) fileRoutes() []route {
	const get, del = http.MethodGet, http.MethodDelete
	if s.files == nil {
		return []route{
			{taskFilesPath, nil, []string{get}},
			{taskFilePath, nil, []string{get, http.MethodHead, del}},
			{nodeFilesPath, nil, []string{get}},
			{nodeFilePath, nil, []string{get, http.MethodHead, del}},
		}
	}
	return []route{
		{taskFilesPath, map[string]handlerFunc{get: s.listTaskFiles}, nil},
		{taskFilePath, map[string]handlerFunc{get: s.getTaskFile, del: s.deleteTaskFile}, nil},
		{nodeFilesPath, map[string]handlerFunc{get: s.listNodeFiles}, nil},
		{nodeFilePath, map[string]handlerFunc{get: s.getNodeFile, del: s.deleteNodeFile}, nil},
	}
}

// fileDir is the directory whose files a request is about: a task's directory on the node it
// runs or ran on, or a node's root directory (jobID and taskID empty), with canonical ids.
type fileDir struct {
	jobID, taskID  string
	poolID, nodeID string
	url            string // of the task or node: its files are at url + "/files/…"
	// unavailable answers a directory the node no longer has, or a node that cannot be
	// reached now.
	unavailable func() *api.Error
}

// taskNode reads the task of the path and finds the node it runs or ran on: TaskNotFound or
// JobNotFound when there is no such task, OperationInvalidForCurrentState when it never had a
// node.
func (c *call) taskNode() (fileDir, *api.Error) {
	jobID, taskID, e := c.taskIDs()
	if e != nil {
		return fileDir{}, e
	}
	t, err := service.GetTask(c.ctx, c.s.st, jobID, taskID)
	if err != nil {
		return fileDir{}, c.readError("get task", err)
	}
	// The agent names the task directory after the ids as they were added; the path may spell
	// them in another case.
	j, err := service.GetJob(c.ctx, c.s.st, jobID)
	if err != nil {
		return fileDir{}, c.readError("get job", err)
	}
	n := t.NodeInfo
	if n == nil || n.PoolID == "" || n.NodeID == "" {
		return fileDir{}, api.NewError(api.CodeOperationInvalidForCurrentState,
			api.ErrorValue{Key: "Reason", Value: taskNotRunReason})
	}
	return fileDir{jobID: j.ID, taskID: t.ID, poolID: n.PoolID, nodeID: n.NodeID, url: c.taskURL(j.ID, t.ID),
		unavailable: func() *api.Error { return api.NewError(api.CodeTaskFilesUnavailable) }}, nil
}

// fileURL is the URL of a file of the directory: the task's or node's URL, "/files/", and the
// path with each segment escaped.
func (d fileDir) fileURL(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return d.url + "/files/" + strings.Join(segs, "/")
}

// sourceError turns a FileSource error into Azure's: notFound for a file that does not exist or
// a path that cannot name one, the directory's unavailable answer for a node that cannot be
// reached, 409 OperationInvalidForCurrentState for a delete refused, a timeout or busy store as
// for reads, else InternalError.
func (c *call) sourceError(what string, err error, d fileDir, notFound *api.Error) *api.Error {
	switch {
	case errors.Is(err, ErrFilesUnavailable):
		return d.unavailable()
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrInvalidFilePath) || errors.Is(err, ErrFileOutsideTask):
		return notFound
	case errors.Is(err, ErrDirectoryNotEmpty):
		return api.NewError(api.CodeOperationInvalidForCurrentState,
			api.ErrorValue{Key: "Reason", Value: "The directory is not empty: delete it with recursive=true."})
	case errors.Is(err, ErrFileProtected):
		return api.NewError(api.CodeOperationInvalidForCurrentState,
			api.ErrorValue{Key: "Reason", Value: "The directory belongs to the node's directory layout and cannot be deleted."})
	}
	return c.readError(what, err)
}

// recursive reads the recursive query parameter (false if absent).
func (c *call) recursive() (bool, *api.Error) {
	v, ok := api.QueryValue(c.r, recursiveParam)
	if !ok {
		return false, nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, invalidQuery(recursiveParam, v, "The value must be true or false.")
	}
	return b, nil
}

// listTaskFiles is File - List From Task: GET /jobs/{jobId}/tasks/{taskId}/files.
func (s *Server) listTaskFiles(c *call) *api.Error { return s.listFiles(c, c.taskNode) }

// listFiles lists the files of the directory that dir finds, after checking the query.
func (s *Server) listFiles(c *call, dir func() (fileDir, *api.Error)) *api.Error {
	recursive, e := c.recursive()
	if e != nil {
		return e
	}
	limit, e := api.MaxResults(c.r, api.MaxResultsLimit)
	if e != nil {
		return e
	}
	after := ""
	if tok := api.SkipToken(c.r); tok != "" {
		if after, e = api.DecodeSkipToken(tok); e != nil {
			return e
		}
		if after == "" {
			return invalidQuery(api.SkipTokenParam, tok, "The continuation token is not valid.")
		}
	}
	d, e := dir()
	if e != nil {
		return e
	}
	files, err := s.files.ListFiles(c.ctx, d.poolID, d.nodeID, d.jobID, d.taskID, recursive)
	if err != nil {
		return c.sourceError("list files", err, d, d.unavailable())
	}
	slices.SortFunc(files, func(a, b FileInfo) int { return strings.Compare(a.Path, b.Path) })
	start, _ := slices.BinarySearchFunc(files, after, func(f FileInfo, p string) int { return strings.Compare(f.Path, p) })
	if start < len(files) && after != "" && files[start].Path == after {
		start++
	}
	files = files[start:]
	next := ""
	if len(files) > limit {
		files = files[:limit]
		next = files[limit-1].Path
	}
	out := make([]NodeFile, len(files))
	for i, f := range files {
		out[i] = NodeFile{Name: f.Path, URL: d.fileURL(f.Path), IsDirectory: f.IsDirectory}
		if !f.IsDirectory {
			out[i].Properties = &FileProperties{
				CreationTime:  f.CreationTime.UTC(),
				LastModified:  f.LastModified.UTC(),
				ContentLength: f.Size,
				ContentType:   fileContentType,
				FileMode:      fileMode(f.Mode),
			}
		}
	}
	return writeList(c, "files", out, next)
}

// getTaskFile is File - Get From Task (GET /jobs/{jobId}/tasks/{taskId}/files/{filePath}) and
// File - Get Properties From Task (HEAD of the same).
func (s *Server) getTaskFile(c *call) *api.Error { return s.getFile(c, c.taskNode) }

// filePath finds the directory with dir first, so that a task or node that does not exist is
// answered so whatever the path, and then checks the path (404 FileNotFound).
func (c *call) filePath(dir func() (fileDir, *api.Error)) (fileDir, string, *api.Error) {
	name, ok := cleanFilePath(c.r.PathValue("filePath"))
	d, e := dir()
	if e != nil {
		return fileDir{}, "", e
	}
	if !ok {
		return fileDir{}, "", api.NewError(api.CodeFileNotFound)
	}
	return d, name, nil
}

// getFile answers a GET or HEAD of a file of the directory that dir finds.
func (s *Server) getFile(c *call, dir func() (fileDir, *api.Error)) *api.Error {
	d, name, e := c.filePath(dir)
	if e != nil {
		return e
	}
	f, info, err := s.files.OpenFile(c.ctx, d.poolID, d.nodeID, d.jobID, d.taskID, name)
	if err != nil {
		return c.sourceError("open file", err, d, api.NewError(api.CodeFileNotFound))
	}
	if f != nil {
		defer f.Close()
	}
	if info.IsDirectory {
		info.Size = 0
	}
	if e := checkFileConditions(c.r, info.LastModified); e != nil {
		if e.Status == http.StatusNotModified {
			api.SetEntityHeaders(c.w, "", info.LastModified)
		}
		return e
	}

	status, start, length := http.StatusOK, int64(0), info.Size
	if c.r.Method == http.MethodGet && f != nil {
		var e *api.Error
		if status, start, length, e = fileRange(c.r, info.Size); e != nil {
			if e.Status == http.StatusRequestedRangeNotSatisfiable && c.r.Header.Get(HeaderOCPRange) == "" {
				c.w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(info.Size, 10))
			}
			return e
		}
		if start > 0 {
			if _, err := f.Seek(start, io.SeekStart); err != nil {
				return c.internal("seek task file", err)
			}
		}
	}

	h := c.w.Header()
	api.SetResponseHeaders(c.w, c.r, c.id)
	h.Set("Content-Type", fileContentType)
	api.SetEntityHeaders(c.w, "", info.LastModified)
	if !info.CreationTime.IsZero() {
		h.Set(HeaderOCPCreationTime, info.CreationTime.UTC().Format(http.TimeFormat))
	}
	h.Set(HeaderOCPBatchFileIsDir, strconv.FormatBool(info.IsDirectory))
	h.Set(HeaderOCPBatchFileURL, d.fileURL(name))
	h.Set(HeaderOCPBatchFileMode, fileMode(info.Mode))
	if status == http.StatusPartialContent {
		h.Set("Content-Range", "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(start+length-1, 10)+"/"+strconv.FormatInt(info.Size, 10))
	}
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	if c.r.Method == http.MethodHead || f == nil || length == 0 {
		c.w.WriteHeader(status)
		return nil
	}
	c.w.WriteHeader(status)
	// The copy is not bound by the request's time limit: a large file takes as long as the
	// client takes to read it. It ends early only if the client goes away (or the file shrank,
	// which the client sees as a short body).
	if n, err := io.CopyN(c.w, f, length); err != nil {
		c.s.log.Debug("rest: write task file", "request-id", c.id, "path", c.r.URL.Path, "written", n, "of", length, "err", err)
	}
	return nil
}

// deleteTaskFile is File - Delete From Task: DELETE /jobs/{jobId}/tasks/{taskId}/files/{filePath}.
func (s *Server) deleteTaskFile(c *call) *api.Error { return s.deleteFile(c, c.taskNode) }

// deleteFile deletes a file of the directory that dir finds: 200, a directory that is not empty
// only with recursive=true (else 409 OperationInvalidForCurrentState), as Azure documents.
func (s *Server) deleteFile(c *call, dir func() (fileDir, *api.Error)) *api.Error {
	recursive, e := c.recursive()
	if e != nil {
		return e
	}
	d, name, e := c.filePath(dir)
	if e != nil {
		return e
	}
	if err := s.files.DeleteFile(c.ctx, d.poolID, d.nodeID, d.jobID, d.taskID, name, recursive); err != nil {
		return c.sourceError("delete file", err, d, api.NewError(api.CodeFileNotFound))
	}
	api.SetResponseHeaders(c.w, c.r, c.id)
	c.w.Header().Set("Content-Length", "0")
	c.w.WriteHeader(http.StatusOK)
	return nil
}

// cleanFilePath checks a task file path from the URL and returns it cleaned ("wd/./x" is
// "wd/x"): false when it cannot name a file inside the task directory (empty, absolute, a ".."
// element, a NUL byte).
func cleanFilePath(p string) (string, bool) {
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsRune(p, 0) {
		return "", false
	}
	p = path.Clean(p)
	if p == "." || p == ".." || strings.HasPrefix(p, "../") {
		return "", false
	}
	return p, true
}

// fileMode renders the permission bits of m in octal as Azure's resource files spell a file
// mode: "0644", "0755", "04755".
func fileMode(m fs.FileMode) string {
	bits := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		bits |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		bits |= 0o1000
	}
	s := strconv.FormatUint(uint64(bits), 8)
	for len(s) < 4 {
		s = "0" + s
	}
	return s
}

// checkFileConditions evaluates If-Unmodified-Since (412 ConditionNotMet) and If-Modified-Since
// (304) against the file's last-modified time, to the second. Azure documents both for File - Get
// From Task and Get Properties; an unparseable date is 400 InvalidHeaderValue.
func checkFileConditions(r *http.Request, lastModified time.Time) *api.Error {
	lm := lastModified.UTC().Truncate(time.Second)
	if v := strings.TrimSpace(r.Header.Get("If-Unmodified-Since")); v != "" {
		t, err := sharedkey.ParseDate(v)
		if err != nil {
			return invalidHeader("If-Unmodified-Since", v)
		}
		if lm.After(t) {
			return api.NewError(api.CodeConditionNotMet)
		}
	}
	if v := strings.TrimSpace(r.Header.Get("If-Modified-Since")); v != "" {
		t, err := sharedkey.ParseDate(v)
		if err != nil {
			return invalidHeader("If-Modified-Since", v)
		}
		if !lm.After(t) {
			e := api.NewError(api.CodeConditionNotMet)
			e.Status = http.StatusNotModified
			return e
		}
	}
	return nil
}

// fileRange returns what part of a file of size bytes a GET asks for: the whole file (200), the
// ocp-range (200), or one satisfiable Range (206). See the comment at the top of this file.
func fileRange(r *http.Request, size int64) (status int, start, length int64, e *api.Error) {
	if v := r.Header.Get(HeaderOCPRange); v != "" {
		start, length, valid, satisfiable := parseRange(v, size, true)
		switch {
		case !valid:
			return 0, 0, 0, invalidHeader(HeaderOCPRange, v).With("Reason", "The range must be bytes=first-last.")
		case !satisfiable:
			return 0, 0, 0, api.NewError(api.CodeInvalidRange)
		}
		return http.StatusOK, start, length, nil
	}
	if v := r.Header.Get("Range"); v != "" {
		start, length, valid, satisfiable := parseRange(v, size, false)
		switch {
		case !valid: // RFC 9110: a server may ignore a Range it does not understand
			return http.StatusOK, 0, size, nil
		case !satisfiable:
			return 0, 0, 0, api.NewError(api.CodeInvalidRange)
		}
		return http.StatusPartialContent, start, length, nil
	}
	return http.StatusOK, 0, size, nil
}

// parseRange parses one byte range of a file of size bytes: "bytes=first-last", "bytes=first-"
// or "bytes=-suffix" (the "bytes=" unit may be left out when unitOptional, as Azure's older
// documentation of ocp-range writes it). valid is false for anything else (several ranges too);
// satisfiable is false for a range that starts at or after the end of the file, or a suffix of
// an empty file.
func parseRange(spec string, size int64, unitOptional bool) (start, length int64, valid, satisfiable bool) {
	spec = strings.TrimSpace(spec)
	if rest, ok := strings.CutPrefix(spec, "bytes="); ok {
		spec = strings.TrimSpace(rest)
	} else if !unitOptional {
		return 0, 0, false, false
	}
	first, last, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, 0, false, false
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	if first == "" { // suffix: the last n bytes
		n, ok := parseOffset(last)
		if !ok || n == 0 {
			return 0, 0, false, false
		}
		if size == 0 {
			return 0, 0, true, false
		}
		n = min(n, size)
		return size - n, n, true, true
	}
	a, ok := parseOffset(first)
	if !ok {
		return 0, 0, false, false
	}
	b := size - 1
	if last != "" {
		if b, ok = parseOffset(last); !ok || b < a {
			return 0, 0, false, false
		}
	}
	if a >= size {
		return 0, 0, true, false
	}
	b = min(b, size-1)
	return a, b - a + 1, true, true
}

// parseOffset parses a non-negative decimal byte offset (digits only).
func parseOffset(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

func invalidHeader(name, value string) *api.Error {
	return api.NewError(api.CodeInvalidHeaderValue,
		api.ErrorValue{Key: "HeaderName", Value: name}, api.ErrorValue{Key: "HeaderValue", Value: value})
}

func invalidQuery(name, value, reason string) *api.Error {
	return api.NewError(api.CodeInvalidQueryParameterValue,
		api.ErrorValue{Key: "QueryParameterName", Value: name},
		api.ErrorValue{Key: "QueryParameterValue", Value: value},
		api.ErrorValue{Key: "Reason", Value: reason})
}

// nodeDir finds the node of the path, whose root directory a node file operation is about:
// PoolNotFound or NodeNotFound when there is none.
func (s *Server) nodeDir(c *call) (fileDir, *api.Error) {
	_, n, e := s.pathNode(c)
	if e != nil {
		return fileDir{}, e
	}
	p, err := service.GetPool(c.ctx, s.st, c.r.PathValue("poolId"))
	if err != nil {
		return fileDir{}, c.readError("get pool", err)
	}
	return fileDir{poolID: p.ID, nodeID: n.ID, url: c.nodeURL(p.ID, n.ID), unavailable: func() *api.Error {
		return api.NewError(api.CodeOperationInvalidForCurrentState,
			api.ErrorValue{Key: "Reason", Value: "The node cannot be reached now: its agent is not connected."})
	}}, nil
}

// listNodeFiles is File - List From Compute Node: GET /pools/{poolId}/nodes/{nodeId}/files.
func (s *Server) listNodeFiles(c *call) *api.Error {
	return s.listFiles(c, func() (fileDir, *api.Error) { return s.nodeDir(c) })
}

// getNodeFile is File - Get From Compute Node (GET /pools/{poolId}/nodes/{nodeId}/files/{filePath})
// and File - Get Properties From Compute Node (HEAD of the same).
func (s *Server) getNodeFile(c *call) *api.Error {
	return s.getFile(c, func() (fileDir, *api.Error) { return s.nodeDir(c) })
}

// deleteNodeFile is File - Delete From Compute Node: DELETE
// /pools/{poolId}/nodes/{nodeId}/files/{filePath}.
func (s *Server) deleteNodeFile(c *call) *api.Error {
	return s.deleteFile(c, func() (fileDir, *api.Error) { return s.nodeDir(c) })
}
