package exec

import (
	"slices"
	"strings"
	"testing"
)

func TestParseList(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
		want  map[nodeKey][]listedVM
		bad   string
	}{
		{name: "all forms", lines: []string{"p a dedicated", "  p b lowpriority  preempted", "p c dedicated lost i-1", "", "# p x dedicated",
			"q d lowpriority running", "q d lowpriority running vm-2"},
			want: map[nodeKey][]listedVM{
				{"p", "a"}: {{dedicated: true}}, {"p", "b"}: {{mark: markPreempted}}, {"p", "c"}: {{dedicated: true, mark: markLost, handle: "i-1"}},
				{"q", "d"}: {{}, {handle: "vm-2"}},
			}},
		{name: "empty", lines: nil, want: map[nodeKey][]listedVM{}},
		{name: "too few fields", lines: []string{"p a"}, bad: "line 1"},
		{name: "too many fields", lines: []string{"p a dedicated lost h now"}, bad: "number of fields"},
		{name: "bad id", lines: []string{"p a/b dedicated"}, bad: "invalid pool or node id"},
		{name: "bad kind", lines: []string{"p a spot"}, bad: "unknown kind spot"},
		{name: "bad state", lines: []string{"p a dedicated gone"}, bad: "unknown state gone"},
	} {
		got, err := parseList(tc.lines)
		switch {
		case tc.bad != "":
			if err == nil || !strings.Contains(err.Error(), tc.bad) {
				t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.bad)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case len(got) != len(tc.want):
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		default:
			for k, v := range tc.want {
				if !slices.Equal(got[k], v) {
					t.Errorf("%s: %v = %+v, want %+v", tc.name, k, got[k], v)
				}
			}
		}
	}
}

func TestJudge(t *testing.T) {
	running := func(h string) listedVM { return listedVM{handle: h} }
	gone := func(mark, h string) listedVM { return listedVM{mark: mark, handle: h} }
	for _, tc := range []struct {
		name     string
		vms      []listedVM
		handle   string
		listed   bool
		wantMark string
	}{
		{name: "not listed", handle: "h"},
		{name: "listed", vms: []listedVM{running("")}, handle: "h", listed: true},
		{name: "listed by its handle", vms: []listedVM{running("h")}, handle: "h", listed: true},
		{name: "another machine of the node", vms: []listedVM{gone(markPreempted, "old")}, handle: "h"},
		{name: "a handle the provider does not know", vms: []listedVM{gone(markLost, "x")}, listed: true, wantMark: markLost},
		{name: "preempted", vms: []listedVM{gone(markPreempted, "h")}, handle: "h", listed: true, wantMark: markPreempted},
		{name: "the old machine preempted, the new one runs", vms: []listedVM{gone(markPreempted, ""), running("")}, listed: true},
		{name: "preempted wins over lost", vms: []listedVM{gone(markLost, ""), gone(markPreempted, "")}, listed: true, wantMark: markPreempted},
	} {
		listed, mark := judge(tc.vms, tc.handle)
		if listed != tc.listed || mark != tc.wantMark {
			t.Errorf("%s: judge = %v, %q; want %v, %q", tc.name, listed, mark, tc.listed, tc.wantMark)
		}
	}
}
