package protocol

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"
)

// Task files on the wire. The server reads the files of a task on a node that is not on its
// own machine by asking the node's agent: it sends a FileRequest command, delivered like the
// others (in a sync response, at least once), and the agent POSTs its answer to FilesPath, so
// that only the agent opens connections. The upload carries the node's credential in its
// Authorization header (AuthorizationHeader), as sync requests do, and the request's id in the
// query parameter FileRequestIDParam. Its body is the FileAnswer as one line of JSON and, for a
// read that succeeded, the FileAnswer.Length bytes read, nothing else (see WriteFileAnswer and
// ReadFileAnswer).
//
// The server accepts an answer only from the node it sent the request to, and only the first
// answer to a request: a repeated command (commands come at least once) may be answered
// twice, and the later answer is dropped. Request ids are random, so that one cannot be
// guessed.

// FilesPath is the path of the endpoint to which agents upload their answers to FileRequests.
const FilesPath = "/corral/agent/v1/files"

// FileRequestIDParam is the query parameter of an upload to FilesPath that names the
// FileRequest it answers.
const FileRequestIDParam = "requestId"

// File operations, the Op of a FileRequest.
const (
	// FileOpList lists the task directory: its direct entries, or with Recursive every file
	// and directory below it.
	FileOpList = "list"
	// FileOpStat describes the file or directory at Path.
	FileOpStat = "stat"
	// FileOpRead reads at most Length bytes of the file at Path from Offset.
	FileOpRead = "read"
	// FileOpDelete deletes the file or directory at Path: a directory that is not empty only
	// with Recursive.
	FileOpDelete = "delete"
)

// Limits of a FileAnswer.
const (
	// MaxFileChunk is the most bytes one read answers with: an agent reads no more than this,
	// whatever Length asks for.
	MaxFileChunk = 4 << 20
	// MaxFileAnswerJSON bounds the JSON line of an answer (a listing: some 50,000 entries). An
	// agent answers a listing that does not fit with FileErrTooLarge.
	MaxFileAnswerJSON = 8 << 20
)

// FileRequest asks an agent for one operation on a task directory, or with Node on the node's
// root directory (a command). Paths are relative to that directory, with '/' separators; the
// agent never reaches outside the task directory, whatever the path or the symbolic links inside
// it, and in the node's root serves only the directories of Azure's layout that it has (shared,
// startup, workitems), none of which symbolic links may leave.
type FileRequest struct {
	// RequestID names the request in the answer's upload: random, unguessable, chosen by the
	// server.
	RequestID string `json:"requestId"`
	JobID     string `json:"jobId,omitempty"`
	TaskID    string `json:"taskId,omitempty"`
	Node      bool   `json:"node,omitempty"` // the node's root, not a task directory
	// Op is FileOpList, FileOpStat, FileOpRead or FileOpDelete.
	Op        string `json:"op"`
	Path      string `json:"path,omitempty"`      // stat, read and delete
	Recursive bool   `json:"recursive,omitempty"` // list and delete
	Offset    int64  `json:"offset,omitempty"`    // read: the first byte, from 0
	Length    int64  `json:"length,omitempty"`    // read: the most bytes, 1 to MaxFileChunk
}

// FileEntry describes a file or directory of a task directory.
type FileEntry struct {
	// Path is relative to the task directory, with '/' separators.
	Path    string    `json:"path"`
	IsDir   bool      `json:"isDir,omitempty"`
	Size    int64     `json:"size"` // bytes; 0 for a directory
	ModTime time.Time `json:"modTime"`
	// Mode holds the permission and type bits (fs.FileMode's).
	Mode fs.FileMode `json:"mode"`
}

// Error codes of a FileAnswer.
const (
	// FileErrNotFound: the file, or the task directory, does not exist (or names Corral's
	// bookkeeping, or an id that cannot name a directory).
	FileErrNotFound = "notFound"
	// FileErrInvalidPath: the path is empty, absolute, or has a ".." element.
	FileErrInvalidPath = "invalidPath"
	// FileErrOutsideTask: the path leads, through a symbolic link, outside the task directory.
	FileErrOutsideTask = "outsideTask"
	// FileErrIsDirectory: a read of a directory.
	FileErrIsDirectory = "isDirectory"
	// FileErrNotEmpty: a delete of a directory that is not empty, without Recursive.
	FileErrNotEmpty = "notEmpty"
	// FileErrProtected: a delete of one of the directories of the node's layout.
	FileErrProtected = "protected"
	// FileErrTooLarge: the answer would exceed MaxFileAnswerJSON.
	FileErrTooLarge = "tooLarge"
	// FileErrInvalidRequest: the request is malformed (an unknown op, a negative offset...).
	FileErrInvalidRequest = "invalidRequest"
	// FileErrFailed: anything else; Message says what.
	FileErrFailed = "failed"
)

// FileAnswer is an agent's answer to a FileRequest: the JSON line of its upload.
type FileAnswer struct {
	RequestID string `json:"requestId"`
	// Error is empty on success, else one of the FileErr codes; Message says more, for logs.
	Error   string `json:"error,omitempty"`
	Message string `json:"message,omitempty"`
	// Files is the listing of a list, in any order.
	Files []FileEntry `json:"files,omitempty"`
	// File describes the file of a stat or read, as it is at the time of the answer.
	File *FileEntry `json:"file,omitempty"`
	// Length is how many bytes of the file follow the JSON line (a read): fewer than asked for
	// at the end of the file, 0 at or past it.
	Length int64 `json:"length,omitempty"`
}

// FileError is the error of a FileAnswer whose Error is set. One with code FileErrNotFound is
// fs.ErrNotExist (errors.Is).
type FileError struct {
	Code    string
	Message string
}

func (e *FileError) Error() string {
	if e.Message == "" {
		return "agent answered " + e.Code
	}
	return "agent answered " + e.Code + ": " + e.Message
}

// Is makes an error with code FileErrNotFound match fs.ErrNotExist.
func (e *FileError) Is(target error) bool {
	return target == fs.ErrNotExist && e.Code == FileErrNotFound
}

// Err returns the answer's error as a *FileError, or nil if it has none.
func (a FileAnswer) Err() error {
	if a.Error == "" {
		return nil
	}
	return &FileError{Code: a.Error, Message: a.Message}
}

// WriteFileAnswer writes an upload's body: a's JSON line, then data, whose length must be
// a.Length. It fails, writing nothing, when the JSON line would exceed MaxFileAnswerJSON.
func WriteFileAnswer(w io.Writer, a FileAnswer, data []byte) error {
	if int64(len(data)) != a.Length {
		return fmt.Errorf("protocol: file answer of %d bytes declares %d", len(data), a.Length)
	}
	head, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("protocol: encoding file answer: %w", err)
	}
	if len(head)+1 > MaxFileAnswerJSON {
		return fmt.Errorf("protocol: file answer of %d bytes: %w", len(head), ErrFileAnswerTooLarge)
	}
	head = append(head, '\n')
	if _, err := w.Write(head); err != nil {
		return fmt.Errorf("protocol: writing file answer: %w", err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("protocol: writing file answer: %w", err)
	}
	return nil
}

// ErrFileAnswerTooLarge is wrapped by WriteFileAnswer's error for an answer whose JSON line
// would exceed MaxFileAnswerJSON.
var ErrFileAnswerTooLarge = errors.New("file answer over the limit")

// ReadFileAnswer reads an upload's body, as WriteFileAnswer wrote it, with at most maxData
// bytes of data. Anything after the data is an error.
func ReadFileAnswer(r io.Reader, maxData int64) (FileAnswer, []byte, error) {
	br := bufio.NewReader(r)
	var head []byte
	for {
		line, err := br.ReadSlice('\n')
		head = append(head, line...)
		if len(head) > MaxFileAnswerJSON {
			return FileAnswer{}, nil, fmt.Errorf("protocol: file answer: %w", ErrFileAnswerTooLarge)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return FileAnswer{}, nil, fmt.Errorf("protocol: reading file answer: %w", err)
		}
	}
	var a FileAnswer
	if err := json.Unmarshal(head, &a); err != nil {
		return FileAnswer{}, nil, fmt.Errorf("protocol: decoding file answer: %w", err)
	}
	if a.Length < 0 || a.Length > maxData {
		return FileAnswer{}, nil, fmt.Errorf("protocol: file answer declares %d bytes, the limit is %d", a.Length, maxData)
	}
	var data []byte
	if a.Length > 0 {
		data = make([]byte, a.Length)
		if _, err := io.ReadFull(br, data); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return FileAnswer{}, nil, fmt.Errorf("protocol: reading file answer's %d bytes: %w", a.Length, err)
		}
	}
	if n, _ := br.Read(make([]byte, 1)); n > 0 {
		return FileAnswer{}, nil, errors.New("protocol: file answer has bytes after its data")
	}
	return a, data, nil
}
