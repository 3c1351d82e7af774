package agent

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseUIDRange(t *testing.T) {
	valid := []struct {
		in   string
		want UIDRange
	}{
		{"2000000000-2099999999", DefaultTaskUIDs},
		{"65536-65536", UIDRange{65536, 65536}},
		{" 100000 - 200000 ", UIDRange{100000, 200000}},
		{"3000000000-4294967294", UIDRange{3000000000, 4294967294}},
	}
	for _, tt := range valid {
		got, err := ParseUIDRange(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseUIDRange(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
	invalid := []string{
		"", "2000000000", "-", "a-b", "1-2-3", "200000-100000", "0-99999", "1000-2000",
		"65535-70000", "100000-4294967295", "100000-4294967296", "-1-100000",
	}
	for _, in := range invalid {
		if got, err := ParseUIDRange(in); err == nil {
			t.Errorf("ParseUIDRange(%q) = %v, want an error", in, got)
		}
	}
	var r UIDRange
	if err := r.Set("100000-100009"); err != nil || r.String() != "100000-100009" {
		t.Errorf("Set then String = %q, %v", r.String(), err)
	}
	if _, err := NewRunner(Config{Root: t.TempDir(), TaskUIDs: UIDRange{0, 10}, OnDone: func(Result) {}}); err == nil {
		t.Error("NewRunner accepted a uid range that includes root")
	}
}

// TestUIDAllocator checks the order of the ids, the wrap-around, and what a new allocator on
// the same file (an agent restart) hands out first.
func TestUIDAllocator(t *testing.T) {
	big := UIDRange{100000, 199999}
	tests := []struct {
		name     string
		r        UIDRange
		file     string // the record before the first allocator opens it; "" for none
		n        int    // ids handed out by the first allocator
		wantLast uint32 // the last of them
		wantFile string // the record afterwards
		wantNext uint32 // the first id of a second allocator on the same record
	}{
		{"fresh", big, "", 3, 100002, "101024", 101024},
		{"a second block", big, "", uidBlock + 1, 100000 + uidBlock, "102048", 102048},
		{"resumes where the record says", big, "150000", 1, 150000, "151024", 151024},
		{"a record outside the range starts at its beginning", big, "5000", 1, 100000, "101024", 101024},
		{"the last block ends at the end of the range", UIDRange{100000, 100000 + 2*uidBlock - 1}, "101024", 1, 101024, "100000", 100000},
		{"wraps around once the range is used", UIDRange{100000, 100004}, "", 7, 100001, "100000", 100000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), uidsFile)
			if tt.file != "" {
				if err := os.WriteFile(path, []byte(tt.file+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			a, err := openUIDAllocator(path, tt.r)
			if err != nil {
				t.Fatal(err)
			}
			var got []uint32
			for range tt.n {
				uid, err := a.allocate()
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, uid)
			}
			if last := got[len(got)-1]; last != tt.wantLast {
				t.Errorf("last id = %d, want %d (all: %v)", last, tt.wantLast, got)
			}
			if tt.r.size() >= uint64(tt.n) {
				sorted := slices.Clone(got)
				slices.Sort(sorted)
				if len(slices.Compact(sorted)) != tt.n {
					t.Errorf("an id was handed out twice before the range was used: %v", got)
				}
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(string(data)) != tt.wantFile {
				t.Errorf("record = %q, want %q", data, tt.wantFile)
			}
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("record mode: %v, %v; want 0600", fi.Mode(), err)
			}
			b, err := openUIDAllocator(path, tt.r)
			if err != nil {
				t.Fatal(err)
			}
			if uid, err := b.allocate(); err != nil || uid != tt.wantNext {
				t.Errorf("after a restart: %d, %v; want %d", uid, err, tt.wantNext)
			}
		})
	}

	path := filepath.Join(t.TempDir(), uidsFile)
	if err := os.WriteFile(path, []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openUIDAllocator(path, big); err == nil {
		t.Error("a damaged record was accepted")
	}
}

// TestUserFor checks whom an attempt runs as, for every kind of agent.
func TestUserFor(t *testing.T) {
	tests := []struct {
		name               string
		superuser, isolate bool
		admin              bool
		wantOwn, wantFail  bool
	}{
		{"not root", false, false, false, false, false},
		{"not root, admin", false, false, true, false, true},
		{"root, isolating", true, true, false, true, false},
		{"root, isolating, admin", true, true, true, false, false},
		{"root, root unreachable", true, false, false, false, false},
		{"root, root unreachable, admin", true, false, true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Runner{superuser: tt.superuser, isolate: tt.isolate}
			if tt.isolate {
				var err error
				if r.uids, err = openUIDAllocator(filepath.Join(t.TempDir(), uidsFile), DefaultTaskUIDs); err != nil {
					t.Fatal(err)
				}
			}
			u, failure, err := r.userFor(TaskSpec{ElevationAdmin: tt.admin})
			if err != nil {
				t.Fatal(err)
			}
			if u.own != tt.wantOwn || (failure != nil) != tt.wantFail {
				t.Errorf("userFor = %+v, failure %v; want own %v, failure %v", u, failure, tt.wantOwn, tt.wantFail)
			}
			if u.own && (u.uid < DefaultTaskUIDs.First || u.uid > DefaultTaskUIDs.Last) {
				t.Errorf("uid %d outside %v", u.uid, DefaultTaskUIDs)
			}
			if !u.own && u.uid != 0 {
				t.Errorf("uid %d for an attempt that runs as the agent, want 0", u.uid)
			}
			if failure != nil && (failure.Code != codeInvalidTaskRequest || !strings.Contains(failure.Message, "root")) {
				t.Errorf("failure = %+v", failure)
			}
		})
	}
}
