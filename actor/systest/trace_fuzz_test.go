package systest

import (
	"bytes"
	"testing"
)

// FuzzParseTrace checks that the trace reader never panics, and that whatever it accepts it
// writes back in a form it reads to the same choices.
func FuzzParseTrace(f *testing.F) {
	f.Add([]byte(traceMagic + "\nchoices 0\n"))
	f.Add([]byte(traceMagic + "\ntest \"T\"\nstrategy \"pct:3\"\nseed 1\nhunt-seed 2\niteration 3\nbug \"x\"\nsteps 1\nshrunk-from 0\nchoices 3\n# step 0: a starts\ns \"a\" \"a@S <entry>\"\nb 1/2\nf 0/3\n"))
	f.Add([]byte(traceMagic + "\nchoices 2\ns \"a b\" \"\"\ni 4/5\n"))
	f.Add([]byte("corral-systest-trace 2\n"))
	f.Add([]byte(traceMagic + "\nchoices 1\ns \"unterminated\n"))
	f.Add([]byte(traceMagic + "\nchoices 99999999999\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ParseTrace(data)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if _, err := tr.WriteTo(&out); err != nil {
			t.Fatal(err)
		}
		again, err := ParseTrace(out.Bytes())
		if err != nil {
			t.Fatalf("rewritten trace does not parse: %v\n%s", err, out.String())
		}
		if len(again.choices) != len(tr.choices) {
			t.Fatalf("choices %d after rewrite, %d before", len(again.choices), len(tr.choices))
		}
		for i := range tr.choices {
			if again.choices[i] != tr.choices[i] {
				t.Fatalf("choice %d changed: %+v -> %+v", i, tr.choices[i], again.choices[i])
			}
		}
		if again.Test != tr.Test || again.Bug != tr.Bug || again.Seed != tr.Seed || again.Strategy != tr.Strategy {
			t.Fatalf("header changed: %+v -> %+v", tr, again)
		}
	})
}
