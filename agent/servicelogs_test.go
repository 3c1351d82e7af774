package agent

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A LogFile keeps its newest files, each within the size limit unless one write is larger,
// and never splits a write; it appends to the file it finds.
func TestLogFileRotates(t *testing.T) {
	dir := t.TempDir()
	write := func(l *LogFile, s string) {
		t.Helper()
		if n, err := l.Write([]byte(s)); err != nil || n != len(s) {
			t.Fatalf("Write(%q) = %d, %v", s, n, err)
		}
	}
	l, err := OpenLogFile(dir, 10, 3)
	if err != nil {
		t.Fatal(err)
	}
	write(l, "aaaa\n")
	write(l, "bbbb\n") // 10 bytes: fits
	write(l, "cccc\n") // rotates
	write(l, strings.Repeat("d", 20)+"\n")
	l.Close()
	l, err = OpenLogFile(dir, 10, 3) // appends to agent.log, which is over the limit: rotates
	if err != nil {
		t.Fatal(err)
	}
	write(l, "eeee\n")
	l.Close()
	if _, err := l.Write([]byte("x")); err == nil {
		t.Error("a write after Close succeeded")
	}
	want := map[string]string{
		"agent.log":   "eeee\n",
		"agent.log.1": strings.Repeat("d", 20) + "\n",
		"agent.log.2": "cccc\n",
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || string(b) != want[e.Name()] {
			t.Errorf("%s: %q, %v; want %q", e.Name(), b, err, want[e.Name()])
		}
	}
	if !slices.Equal(names, []string{"agent.log", "agent.log.1", "agent.log.2"}) {
		t.Errorf("files %v", names)
	}
	files, err := logFilesIn(dir)
	if err != nil || len(files) != 3 || files[0].name != "agent.log" || files[2].name != "agent.log.2" {
		t.Errorf("logFilesIn = %+v, %v", files, err)
	}
}
