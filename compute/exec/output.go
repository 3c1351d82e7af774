package exec

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// maxLine bounds a line of a program's output: a longer one is cut into lines of this size.
const maxLine = 4096

// tailLines is how many of a stream's last lines a run keeps, for a reason or a handle.
const tailLines = 20

// redacted replaces the join token wherever it appears in a program's output.
const redacted = "[join token]"

// runLog is the log file of a node's (or of the list program's) runs: every line a program
// writes, with the time, the operation and the stream. It is bounded: once it would grow past
// max bytes it becomes path.1 (replacing an older one) and a new file starts, so a node's logs
// take at most twice max. Writing it never fails a run: a write error is reported once and the
// lines are dropped.
type runLog struct {
	mu     sync.Mutex
	path   string
	max    int64
	f      *os.File
	size   int64
	log    *slog.Logger
	failed bool
}

// openRunLog opens (appends to) the log at path.
func openRunLog(path string, max int64, log *slog.Logger) *runLog {
	l := &runLog{path: path, max: max, log: log}
	l.open()
	return l
}

func (l *runLog) open() {
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		l.fail(err)
		return
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		l.fail(err)
		return
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		l.fail(err)
		return
	}
	l.f, l.size = f, st.Size()
}

func (l *runLog) fail(err error) {
	if !l.failed {
		l.failed = true
		l.log.Warn("exec provider: cannot write a program log; its lines are dropped", "path", l.path, "err", err)
	}
}

// line writes one line: "<time> <op> <what>: <text>".
func (l *runLog) line(op, what, text string) {
	s := fmt.Sprintf("%s %s %s: %s\n", time.Now().UTC().Format(time.RFC3339Nano), op, what, text)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil && l.size > 0 && l.size+int64(len(s)) > l.max {
		l.f.Close()
		l.f = nil
		if err := os.Rename(l.path, l.path+".1"); err != nil {
			l.fail(err)
		}
		l.open()
	}
	if l.f == nil {
		return
	}
	n, err := l.f.WriteString(s)
	l.size += int64(n)
	if err != nil {
		l.fail(err)
	}
}

func (l *runLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// lineWriter takes one output stream of a run: it cuts it into lines, replaces the join token
// in them, makes them printable, writes them to the run's log, and keeps the last few (and, if
// asked, all of them up to a bound).
type lineWriter struct {
	op, stream string
	log        *runLog
	secret     string
	buf        []byte
	tail       []string
	keep       int      // > 0: keep every line, up to this many bytes in all
	all        []string // every line, if keep > 0
	kept       int
	overflow   bool // keep was exceeded: all is incomplete
}

// Write takes more of the stream. It never fails.
func (w *lineWriter) Write(b []byte) (int, error) {
	w.buf = append(w.buf, b...)
	for {
		if i := bytes.IndexByte(w.buf, '\n'); i >= 0 {
			w.emit(redact(w.buf[:i], w.secret))
			w.buf = w.buf[i+1:]
			continue
		}
		// A long line is cut, but only where no token can be cut in two: with at least the
		// token's length beyond the cut, every token that starts before it is whole in buf.
		if len(w.buf) < maxLine+len(w.secret) {
			break
		}
		w.buf = redact(w.buf, w.secret)
		if len(w.buf) < maxLine+len(w.secret) {
			break
		}
		w.emit(w.buf[:maxLine])
		w.buf = append([]byte(nil), w.buf[maxLine:]...)
	}
	return len(b), nil
}

// flush takes what is left of the stream once the program has ended.
func (w *lineWriter) flush() {
	if len(w.buf) > 0 {
		w.emit(redact(w.buf, w.secret))
		w.buf = nil
	}
}

func (w *lineWriter) emit(b []byte) {
	s := printable(string(b))
	w.log.line(w.op, w.stream, s)
	if len(w.tail) == tailLines {
		w.tail = append(w.tail[:0], w.tail[1:]...)
	}
	w.tail = append(w.tail, s)
	if w.keep > 0 && !w.overflow {
		if w.kept+len(s)+1 > w.keep {
			w.overflow = true
			return
		}
		w.kept += len(s) + 1
		w.all = append(w.all, s)
	}
}

// redact replaces every occurrence of secret in b.
func redact(b []byte, secret string) []byte {
	if secret == "" {
		return b
	}
	return bytes.ReplaceAll(b, []byte(secret), []byte(redacted))
}

// printable makes s valid UTF-8 without control characters (a tab stays, a carriage return at
// the end goes), so that a line of a program's output cannot forge lines of a log.
func printable(s string) string {
	s = strings.TrimSuffix(s, "\r")
	if utf8.ValidString(s) && strings.IndexFunc(s, func(r rune) bool { return r != '\t' && unicode.IsControl(r) }) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || (r != '\t' && unicode.IsControl(r)) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}

// lastLines returns up to n of the last non-empty lines of tail, joined with " | " and cut to
// max bytes (at a rune boundary), for a reason.
func lastLines(tail []string, n, max int) string {
	var picked []string
	for i := len(tail) - 1; i >= 0 && len(picked) < n; i-- {
		if s := strings.TrimSpace(tail[i]); s != "" {
			picked = append(picked, s)
		}
	}
	for i, j := 0, len(picked)-1; i < j; i, j = i+1, j-1 {
		picked[i], picked[j] = picked[j], picked[i]
	}
	s := strings.Join(picked, " | ")
	if len(s) > max {
		cut := max - len("...")
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}
