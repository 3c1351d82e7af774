package exec

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"corral/internal/testlog"
)

func TestLineWriter(t *testing.T) {
	const secret = "s3cr3t-t0ken"
	long := strings.Repeat("x", maxLine-3)
	for _, tc := range []struct {
		name   string
		writes []string
		want   []string
	}{
		{name: "lines", writes: []string{"a\nb", "c\n", "d"}, want: []string{"a", "bc", "d"}},
		{name: "token in one write", writes: []string{"token=" + secret + "\n"}, want: []string{"token=" + redacted}},
		{name: "token across writes", writes: []string{"token=s3cr", "3t-t0ken!\n"}, want: []string{"token=" + redacted + "!"}},
		{name: "token across a cut", writes: []string{long, secret, long, "\n"}, want: []string{long + redacted[:3], redacted[3:] + long}},
		{name: "control characters", writes: []string{"a\x1b[1mb\tc\r\n\xff\n"}, want: []string{"a?[1mb\tc", "?"}},
		{name: "crlf", writes: []string{"a\r\nb\r\n"}, want: []string{"a", "b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "run.log")
			log := openRunLog(path, 1<<20, testlog.New(t))
			w := &lineWriter{op: "create", stream: "stdout", log: log, secret: secret, keep: 1 << 20}
			for _, s := range tc.writes {
				w.Write([]byte(s))
			}
			w.flush()
			log.close()
			if !slices.Equal(w.all, tc.want) {
				t.Errorf("lines = %q, want %q", short(w.all), short(tc.want))
			}
			if !slices.Equal(w.tail, tc.want) {
				t.Errorf("tail = %q, want %q", short(w.tail), short(tc.want))
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), secret) {
				t.Errorf("log holds the token")
			}
			if got := strings.Count(string(b), " create stdout: "); got != len(tc.want) {
				t.Errorf("log has %d lines of output, want %d", got, len(tc.want))
			}
		})
	}
}

// short shortens long lines for a failure message.
func short(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l
		if len(l) > 40 {
			out[i] = fmt.Sprintf("%s...%s (%d bytes)", l[:15], l[len(l)-15:], len(l))
		}
	}
	return out
}

func TestLineWriterBounds(t *testing.T) {
	log := openRunLog(filepath.Join(t.TempDir(), "run.log"), 1<<20, testlog.New(t))
	defer log.close()
	w := &lineWriter{op: "list", stream: "stdout", log: log, keep: 10}
	for i := 0; i < 2*tailLines; i++ {
		w.Write([]byte("line\n"))
	}
	if len(w.tail) != tailLines {
		t.Errorf("tail holds %d lines, want %d", len(w.tail), tailLines)
	}
	if !w.overflow || len(w.all) != 2 {
		t.Errorf("kept %d lines (overflow %v), want 2 and an overflow", len(w.all), w.overflow)
	}
}

func TestRunLogRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "n.log")
	log := openRunLog(path, 1000, testlog.New(t))
	for i := 0; i < 100; i++ {
		log.line("create", "stdout", strings.Repeat("y", 50))
	}
	log.close()
	for _, p := range []string{path, path + ".1"} {
		st, err := os.Stat(p)
		if err != nil || st.Size() > 1000 || st.Size() == 0 {
			t.Errorf("%s: %v, %v; want a file of at most 1000 bytes", p, st, err)
		}
	}
}

func TestLastLines(t *testing.T) {
	for _, tc := range []struct {
		tail []string
		n    int
		max  int
		want string
	}{
		{tail: []string{"a", "", "b", " c "}, n: 2, max: 100, want: "b | c"},
		{tail: []string{"a", "b"}, n: 5, max: 100, want: "a | b"},
		{tail: nil, n: 5, max: 100, want: ""},
		{tail: []string{"abcdefghij"}, n: 1, max: 8, want: "abcde..."},
		{tail: []string{"ééééé"}, n: 1, max: 8, want: "éé..."},
	} {
		if got := lastLines(tc.tail, tc.n, tc.max); got != tc.want {
			t.Errorf("lastLines(%q, %d, %d) = %q, want %q", tc.tail, tc.n, tc.max, got, tc.want)
		}
	}
}
