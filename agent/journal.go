package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// A task directory's journal (journalFile) is Corral's whole bookkeeping of the task on the
// node: one line per record, appended, never rewritten.
//
//	start <attemptId>             Start accepted the attempt (written before its process starts)
//	result <attemptId> <json>     the attempt ended; <json> is its Result, compact
//	ack <attemptId>               AckResult: the service has the attempt's result
//
// The latest start line names the task's current attempt: a result or ack line counts only
// if it names that attempt, so a new attempt hides the previous one's result. A line that does
// not parse is skipped, and so is a last line without its newline (an agent died writing it):
// whoever appends after such a tail first ends it with a newline, so that it stays one line.
const (
	recordStart  = "start"
	recordResult = "result"
	recordAck    = "ack"
)

// journal is what a task directory's journal says.
type journal struct {
	latest string // the latest attempt started, "" if none
	result []byte // the JSON Result of latest, nil if it has none (yet)
	acked  bool   // result has been acknowledged
	seen   bool   // the attempt asked about was started here (see readJournal)
	torn   bool   // the file ends in a partial line
}

// parseJournal reads a journal's contents; seen reports whether attempt was ever started.
func parseJournal(data []byte, attempt string) journal {
	var j journal
	for len(data) > 0 {
		line, rest, ok := bytes.Cut(data, []byte{'\n'})
		if !ok {
			j.torn = true
			break
		}
		data = rest
		kind, arg, _ := bytes.Cut(line, []byte{' '})
		switch string(kind) {
		case recordStart:
			if len(arg) == 0 {
				continue
			}
			j.latest, j.result, j.acked = string(arg), nil, false
			j.seen = j.seen || string(arg) == attempt
		case recordResult:
			id, res, _ := bytes.Cut(arg, []byte{' '})
			if j.latest != "" && string(id) == j.latest && len(res) > 0 {
				j.result, j.acked = res, false
			}
		case recordAck:
			if j.result != nil && string(arg) == j.latest {
				j.acked = true
			}
		}
	}
	return j
}

// readJournal reads the journal of the task directory dir; a directory without one has an
// empty journal. seen, in the answer, reports whether attempt was ever started there.
func readJournal(dir, attempt string) (journal, error) {
	data, err := os.ReadFile(filepath.Join(dir, journalFile))
	if errors.Is(err, fs.ErrNotExist) {
		return journal{}, nil
	}
	if err != nil {
		return journal{}, fmt.Errorf("reading journal: %w", err)
	}
	return parseJournal(data, attempt), nil
}

// decodeResult decodes the journal's result of its latest attempt; ok is false if it has none.
func (j journal) decodeResult() (res Result, ok bool, err error) {
	if j.result == nil {
		return Result{}, false, nil
	}
	if err := json.Unmarshal(j.result, &res); err != nil {
		return Result{}, false, err
	}
	res.Acknowledged = j.acked
	return res, true, nil
}

// journalLine returns one record, ended by a newline and, after a torn tail, begun by one.
func journalLine(torn bool, kind, attempt string, data []byte) []byte {
	b := make([]byte, 0, 2+len(kind)+1+len(attempt)+1+len(data)+1)
	if torn {
		b = append(b, '\n')
	}
	b = append(b, kind...)
	b = append(b, ' ')
	b = append(b, attempt...)
	if data != nil {
		b = append(b, ' ')
		b = append(b, data...)
	}
	return append(b, '\n')
}

// resultLine returns the result record of res.
func resultLine(res Result) ([]byte, error) {
	data, err := json.Marshal(res)
	if err != nil {
		return nil, fmt.Errorf("encoding result: %w", err)
	}
	return journalLine(false, recordResult, res.AttemptID, data), nil
}

// openJournal opens the journal of the task directory dir for appending, creating it (mode
// 0600) if create is set. It is not fsynced (see "Outcomes and restarts" in the package
// documentation).
func openJournal(dir string, create bool) (*os.File, error) {
	flag := os.O_WRONLY | os.O_APPEND
	if create {
		flag |= os.O_CREATE
	}
	return openFile(filepath.Join(dir, journalFile), flag, modeFile)
}

// appendJournal appends one line to the journal of the task directory dir, which must exist.
func appendJournal(dir string, line []byte) error {
	f, err := openJournal(dir, false)
	if err != nil {
		return err
	}
	_, err = f.Write(line)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
