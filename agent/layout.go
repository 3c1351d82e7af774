package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Names of the files and directories of the node layout (see the package documentation).
const (
	// StdoutFile is the name of the file, in the task directory, that holds a task's standard
	// output.
	StdoutFile = "stdout.txt"
	// StderrFile is the name of the file, in the task directory, that holds a task's standard
	// error.
	StderrFile = "stderr.txt"
	// WorkingDirName is the name of the task's working directory inside its task directory.
	WorkingDirName = "wd"

	workitemsDir = "workitems"
	sharedDir    = "shared"
	startupDir   = "startup"
	jobDirName   = "job-1" // Azure's name for the directory of a job that is not from a schedule
	// jobDirGlob matches the job directories of a work item: job-1, and job-<n> of a job
	// schedule's n-th job.
	jobDirGlob = "job-*"

	// bookkeepingPrefix starts the names of Corral's own files in a task directory. They are
	// hidden from ListFiles and refused by OpenFile.
	bookkeepingPrefix = ".corral-"
	// journalFile, in a task directory, records its attempts, their results and their
	// acknowledgements (see journal.go).
	journalFile = ".corral-journal"
)

// MaxIDLength is the longest job or task id accepted, as in Azure Batch.
const MaxIDLength = 64

// ErrInvalidID is wrapped by the errors returned for a job or task id that ValidateID rejects.
var ErrInvalidID = errors.New("invalid id")

// ValidateID checks a job or task id before it becomes a directory name: it must be 1 to
// MaxIDLength bytes of ASCII letters, digits, '-' and '_' (Azure Batch's rule for job and task
// ids), so it can never be empty, ".", "..", or contain a path separator.
func ValidateID(kind, id string) error {
	if id == "" {
		return fmt.Errorf("%w: %s id is empty", ErrInvalidID, kind)
	}
	if len(id) > MaxIDLength {
		return fmt.Errorf("%w: %s id is %d bytes long, the limit is %d", ErrInvalidID, kind, len(id), MaxIDLength)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("%w: %s id %q may contain only letters, digits, '-' and '_'", ErrInvalidID, kind, id)
		}
	}
	return nil
}

// validateAttemptID checks an attempt id: it is not a path component, but it is written in the
// task's journal as a field of a line, so it must be 1 to 256 bytes of printable ASCII without
// spaces.
func validateAttemptID(id string) error {
	if id == "" || len(id) > 256 {
		return fmt.Errorf("%w: attempt id must be 1 to 256 bytes long", ErrInvalidID)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("%w: attempt id %q may contain only printable ASCII without spaces", ErrInvalidID, id)
		}
	}
	return nil
}

// Layout is the directory layout of one node under its root directory (see the package
// documentation). Its methods give the paths of a task's directories and read a task's files
// and outcome; they do not need a running Runner, and work on every platform.
type Layout struct {
	root string
}

// NewLayout returns the layout rooted at root, made absolute. It creates nothing.
func NewLayout(root string) (Layout, error) {
	if root == "" {
		return Layout{}, errors.New("agent: empty node root directory")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return Layout{}, fmt.Errorf("agent: node root directory: %w", err)
	}
	return Layout{root: abs}, nil
}

// Root returns the node root directory (AZ_BATCH_NODE_ROOT_DIR).
func (l Layout) Root() string { return l.root }

// SharedDir returns the node's shared directory (AZ_BATCH_NODE_SHARED_DIR).
func (l Layout) SharedDir() string { return filepath.Join(l.root, sharedDir) }

// StartupDir returns the start task's directory (AZ_BATCH_NODE_STARTUP_DIR).
func (l Layout) StartupDir() string { return filepath.Join(l.root, startupDir) }

// ValidateJobID checks a job's id: a valid id (ValidateID), or the id of a job schedule's n-th
// job, "<scheduleId>:job-<n>" (Azure's name for it), whose schedule id is valid and whose n is a
// positive decimal number without leading zeros.
func ValidateJobID(id string) error {
	if _, _, ok := scheduleJob(id); ok {
		return nil
	}
	return ValidateID("job", id)
}

// scheduleJob splits the id of a job schedule's job into the schedule's id and the job's
// directory name ("job-<n>").
func scheduleJob(id string) (schedule, jobDir string, ok bool) {
	schedule, n, found := strings.Cut(id, ":job-")
	if !found || ValidateID("job", schedule) != nil || n == "" || len(n) > 18 || n[0] == '0' {
		return "", "", false
	}
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return "", "", false
		}
	}
	return schedule, "job-" + n, true
}

// jobDirs returns the work item and job directory names of a job, after checking its id with
// ValidateJobID: <jobId>/job-1 for a job, and, as Azure lays them out, <scheduleId>/job-<n> for
// the n-th job of a job schedule. (A job and a job schedule cannot have the same id.)
func jobDirs(jobID string) (workItem, jobDir string, err error) {
	if schedule, dir, ok := scheduleJob(jobID); ok {
		return schedule, dir, nil
	}
	if err := ValidateID("job", jobID); err != nil {
		return "", "", err
	}
	return jobID, jobDirName, nil
}

// TaskDir returns the task directory (AZ_BATCH_TASK_DIR) of a task, after checking its job's id
// with ValidateJobID and its own with ValidateID, so that the result is always a directory three
// levels below <root>/workitems.
func (l Layout) TaskDir(jobID, taskID string) (string, error) {
	workItem, jobDir, err := jobDirs(jobID)
	if err != nil {
		return "", err
	}
	if err := ValidateID("task", taskID); err != nil {
		return "", err
	}
	return filepath.Join(l.root, workitemsDir, workItem, jobDir, taskID), nil
}

// WorkingDir returns the working directory (AZ_BATCH_TASK_WORKING_DIR) of a task.
func (l Layout) WorkingDir(jobID, taskID string) (string, error) {
	dir, err := l.TaskDir(jobID, taskID)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, WorkingDirName), nil
}

// isBookkeeping reports whether a relative path names one of Corral's own files (or something
// under a directory so named): one of its elements has Corral's prefix. (So a task's own file
// of such a name is not served either.)
func isBookkeeping(rel string) bool {
	for elem := range strings.SplitSeq(filepath.ToSlash(rel), "/") {
		if strings.HasPrefix(elem, bookkeepingPrefix) {
			return true
		}
	}
	return false
}

// ClearNodeFiles removes the node's task directories and its shared and startup directories
// from root, for a machine that goes on as another node. The node's credential file and the
// agent's own records (such as the task user ids it gave out) stay.
func ClearNodeFiles(root string) error {
	for _, d := range []string{workitemsDir, sharedDir, startupDir} {
		if err := os.RemoveAll(filepath.Join(root, d)); err != nil {
			return fmt.Errorf("agent: clear the node's files: %w", err)
		}
	}
	return nil
}
