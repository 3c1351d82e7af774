package provkit

import "testing"

func TestAnswers(t *testing.T) {
	a := NewAnswers(2)
	a.Remember("", "ignored")
	a.Remember("r1", "one")
	a.Remember("r2", "two")
	a.Remember("r1", "one again") // a known id keeps its place
	a.Remember("r3", "three")     // r1 is the oldest: forgotten
	for _, tc := range []struct {
		id   string
		want any
		ok   bool
	}{
		{id: "", ok: false},
		{id: "r1", ok: false},
		{id: "r2", want: "two", ok: true},
		{id: "r3", want: "three", ok: true},
	} {
		got, ok := a.Lookup(tc.id)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("Lookup(%q) = %v, %v; want %v, %v", tc.id, got, ok, tc.want, tc.ok)
		}
	}
}
