package systest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"corral/actor"
)

// traceMagic opens every trace file; the number is the format version.
const traceMagic = "corral-systest-trace 1"

// Limits on what ParseTrace accepts, so that a damaged or hostile file cannot exhaust memory.
const (
	maxTraceLine    = 64 << 10
	maxTraceChoices = 10_000_000
)

// Trace is a recorded run: every choice the strategy made, in order, and what each step did. It is
// enough to replay the run exactly and to check that the replay does the same thing. A trace file
// is text: a header, then one line per choice; lines starting with # are the readable account of
// the run (one per step, with faults, logs and announcements) and are ignored when reading.
type Trace struct {
	Test      string // the test that recorded it
	Strategy  string // the strategy of the iteration
	Seed      uint64 // the iteration's seed
	HuntSeed  uint64 // the hunt's seed (rerun the hunt with it to find the same iteration)
	Iteration int    // the iteration, counted from 0
	Bug       string // the bug, one line ("" if the run passed)
	Steps     int    // steps taken
	Shrunk    int    // steps before shrinking (0 if not shrunk)
	Unfair    int    // steps at the start not fairly scheduled (liveness is judged after them)
	// LivenessThreshold is the threshold of fair steps the run was judged by (0: not recorded,
	// as in traces written before it was); a replay judges by it too.
	LivenessThreshold int

	choices []choice
	expect  []string // per step: what it did (for the determinism check)
	account []string // readable lines, written as comments
}

// Choices returns the number of recorded choices.
func (t *Trace) Choices() int { return len(t.choices) }

// Faults returns the number of injected faults the trace holds.
func (t *Trace) Faults() int {
	n := 0
	for _, c := range t.choices {
		if c.kind == choiceFault && c.v != 0 {
			n++
		}
	}
	return n
}

// WriteTo writes the trace in its file format.
func (t *Trace) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	fmt.Fprintln(&b, traceMagic)
	fmt.Fprintf(&b, "test %s\n", strconv.Quote(t.Test))
	fmt.Fprintf(&b, "strategy %s\n", strconv.Quote(t.Strategy))
	fmt.Fprintf(&b, "seed %d\n", t.Seed)
	fmt.Fprintf(&b, "hunt-seed %d\n", t.HuntSeed)
	fmt.Fprintf(&b, "iteration %d\n", t.Iteration)
	fmt.Fprintf(&b, "bug %s\n", strconv.Quote(t.Bug))
	fmt.Fprintf(&b, "steps %d\n", t.Steps)
	fmt.Fprintf(&b, "shrunk-from %d\n", t.Shrunk)
	fmt.Fprintf(&b, "unfair-steps %d\n", t.Unfair)
	if t.LivenessThreshold > 0 {
		fmt.Fprintf(&b, "liveness-threshold %d\n", t.LivenessThreshold)
	}
	fmt.Fprintf(&b, "choices %d\n", len(t.choices))
	step := 0
	for _, c := range t.choices {
		switch c.kind {
		case choiceSchedule:
			if step < len(t.account) {
				for _, line := range strings.Split(t.account[step], "\n") {
					fmt.Fprintf(&b, "# %s\n", line)
				}
			}
			exp := ""
			if step < len(t.expect) {
				exp = t.expect[step]
			}
			fmt.Fprintf(&b, "s %s %s\n", strconv.Quote(c.key), strconv.Quote(exp))
			step++
		default:
			fmt.Fprintf(&b, "%c %d/%d\n", c.kind, c.v, c.n)
		}
	}
	n, err := w.Write(b.Bytes())
	return int64(n), err
}

// WriteFile writes the trace to path.
func (t *Trace) WriteFile(path string) error {
	var b bytes.Buffer
	if _, err := t.WriteTo(&b); err != nil {
		return err
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("systest: write trace: %w", err)
	}
	return nil
}

// ReadTraceFile reads a trace file.
func ReadTraceFile(path string) (*Trace, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("systest: read trace: %w", err)
	}
	t, err := ParseTrace(data)
	if err != nil {
		return nil, fmt.Errorf("systest: %s: %w", path, err)
	}
	return t, nil
}

// ParseTrace reads a trace from its file format. It rejects anything malformed with an error that
// names the line.
func ParseTrace(data []byte) (*Trace, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxTraceLine)
	t := &Trace{}
	lineNo := 0
	want := -1
	sawMagic := false
	seen := map[string]bool{}
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !sawMagic {
			if line != traceMagic {
				return nil, fmt.Errorf("line %d: not a trace file (want %q)", lineNo, traceMagic)
			}
			sawMagic = true
			continue
		}
		if err := t.parseLine(line, &want, seen); err != nil {
			return nil, fmt.Errorf("line %d: %w", lineNo, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", lineNo+1, err)
	}
	if !sawMagic {
		return nil, errors.New("empty trace")
	}
	if want < 0 {
		return nil, errors.New("missing choices header")
	}
	if want != len(t.choices) {
		return nil, fmt.Errorf("header says %d choices, file has %d", want, len(t.choices))
	}
	return t, nil
}

func (t *Trace) parseLine(line string, want *int, seen map[string]bool) error {
	word, rest, _ := strings.Cut(line, " ")
	if len(word) == 1 {
		if *want < 0 {
			return errors.New("choice before the choices header")
		}
		if len(t.choices) >= *want {
			return fmt.Errorf("more choices than the header's %d", *want)
		}
		c, exp, err := parseChoice(word[0], rest)
		if err != nil {
			return err
		}
		t.choices = append(t.choices, c)
		if c.kind == choiceSchedule {
			t.expect = append(t.expect, exp)
		}
		return nil
	}
	if seen[word] {
		return fmt.Errorf("header %q repeated", word)
	}
	seen[word] = true
	var err error
	switch word {
	case "test":
		t.Test, err = unquoteAll(rest)
	case "strategy":
		t.Strategy, err = unquoteAll(rest)
	case "bug":
		t.Bug, err = unquoteAll(rest)
	case "seed":
		t.Seed, err = strconv.ParseUint(rest, 10, 64)
	case "hunt-seed":
		t.HuntSeed, err = strconv.ParseUint(rest, 10, 64)
	case "iteration":
		t.Iteration, err = parseCount(rest, 1<<31)
	case "steps":
		t.Steps, err = parseCount(rest, maxTraceChoices)
	case "shrunk-from":
		t.Shrunk, err = parseCount(rest, 1<<31)
	case "unfair-steps":
		t.Unfair, err = parseCount(rest, math.MaxInt)
	case "liveness-threshold":
		t.LivenessThreshold, err = parseCount(rest, math.MaxInt)
	case "choices":
		*want, err = parseCount(rest, maxTraceChoices)
		if err == nil {
			t.choices = make([]choice, 0, min(*want, 1<<16))
		}
	default:
		return fmt.Errorf("unknown header %q", word)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", word, err)
	}
	return nil
}

func parseCount(s string, limit int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > limit {
		return 0, fmt.Errorf("%d out of range [0, %d]", n, limit)
	}
	return n, nil
}

func unquoteAll(s string) (string, error) {
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", fmt.Errorf("want a quoted string: %w", err)
	}
	if q != s {
		return "", errors.New("text after the quoted string")
	}
	return strconv.Unquote(q)
}

func parseChoice(kind byte, rest string) (choice, string, error) {
	switch kind {
	case choiceSchedule:
		q1, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return choice{}, "", fmt.Errorf("schedule choice: want a quoted key: %w", err)
		}
		key, _ := strconv.Unquote(q1)
		tail := strings.TrimPrefix(rest[len(q1):], " ")
		exp, err := unquoteAll(tail)
		if err != nil {
			return choice{}, "", fmt.Errorf("schedule choice: %w", err)
		}
		if key == "" {
			return choice{}, "", errors.New("schedule choice: empty key")
		}
		return choice{kind: kind, key: key}, exp, nil
	case choiceBool, choiceInt, choiceFault:
		vs, ns, ok := strings.Cut(rest, "/")
		if !ok {
			return choice{}, "", fmt.Errorf("%s choice: want value/options", kindName(kind))
		}
		v, err1 := parseCount(vs, 1<<31)
		n, err2 := parseCount(ns, 1<<31)
		if err1 != nil || err2 != nil || v >= n {
			return choice{}, "", fmt.Errorf("%s choice %q: want value/options with value < options", kindName(kind), rest)
		}
		return choice{kind: kind, v: v, n: n}, "", nil
	}
	return choice{}, "", fmt.Errorf("unknown choice kind %q", kind)
}

// fingerprint is what a step did, as the determinism check compares it: who, in which state, and
// which event — with the event's value when it holds no pointers, so its printed form is the same
// in every run.
func (r *stepRec) fingerprint() string {
	switch r.kind {
	case opDeliver:
		if r.result == actor.StepStart {
			return string(r.actor) + "@" + r.state + " <entry>"
		}
		fp := string(r.actor) + "@" + r.state + " <- " + actor.TypeName(r.ev)
		if r.ev != nil && plain(r.ev, 0) {
			fp += fmt.Sprintf(" %v", r.val)
		}
		return fp
	case opClock:
		return "clock -> " + string(r.actor) + " " + actor.TypeName(r.ev)
	case opNet:
		return "net -> " + string(r.actor) + " " + actor.TypeName(r.ev)
	case opSetup:
		return "setup: " + r.what
	}
	return r.key
}

// plain reports whether values of t print the same in every run: no pointers, maps, channels,
// functions or interfaces inside.
func plain(t reflect.Type, depth int) bool {
	if depth > 8 {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.String:
		return true
	case reflect.Array:
		return plain(t.Elem(), depth+1)
	case reflect.Struct:
		for i := range t.NumField() {
			if !plain(t.Field(i).Type, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// checkDeterminism compares step i with what the trace recorded.
func (s *Sim) checkDeterminism(i int) {
	if i >= len(s.expect) {
		s.diverged = fmt.Sprintf("the run took step %d; the trace has only %d", i, len(s.expect))
		return
	}
	got := s.steps[i].fingerprint()
	if want := s.expect[i]; want != "" && got != want {
		s.diverged = fmt.Sprintf("step %d did %q; the trace says %q (is something outside the tester's control: map order, the clock, a goroutine?)", i, got, want)
	}
}

// describe is the readable account of step i.
func (s *Sim) describe(i int, notes []note) string {
	r := &s.steps[i]
	var b strings.Builder
	fmt.Fprintf(&b, "step %d [%s]: ", i, vtime(r.at))
	switch r.kind {
	case opDeliver:
		fmt.Fprintf(&b, "%s (%s) in %s ", r.actor, r.typ, r.state)
		switch r.result {
		case actor.StepStart:
			b.WriteString("starts")
		case actor.StepIgnored:
			fmt.Fprintf(&b, "ignores %s", actor.TypeName(r.ev))
		case actor.StepStale:
			fmt.Fprintf(&b, "drops %s from a cancelled timer", actor.TypeName(r.ev))
		case actor.StepHalt:
			b.WriteString("takes a halt request")
		default:
			fmt.Fprintf(&b, "handles %s", actor.TypeName(r.ev))
			switch {
			case r.timer:
				b.WriteString(" (timer)")
			case r.from != "":
				fmt.Fprintf(&b, " from %s", r.from)
			default:
				b.WriteString(" from outside")
			}
		}
		if r.after != r.state && !r.halted {
			fmt.Fprintf(&b, " -> %s", r.after)
		}
		if r.halted {
			b.WriteString(" -> halted")
		}
	case opClock:
		if r.advance > 0 {
			fmt.Fprintf(&b, "clock: time advances %v, timer fires %s for %s", r.advance, actor.TypeName(r.ev), r.actor)
		} else {
			fmt.Fprintf(&b, "clock: timer fires %s for %s (it was due)", actor.TypeName(r.ev), r.actor)
		}
		if r.dropped {
			b.WriteString(" (dropped: the last tick is not handled yet)")
		}
	case opNet:
		fmt.Fprintf(&b, "network delivers delayed %s to %s", actor.TypeName(r.ev), r.actor)
	case opRestart:
		fmt.Fprintf(&b, "host %s restarts", strings.TrimPrefix(r.key, "restart:"))
	case opHeal:
		fmt.Fprintf(&b, "partition %s heals", strings.TrimPrefix(r.key, "heal:"))
	case opResume:
		fmt.Fprintf(&b, "host %s resumes", strings.TrimPrefix(r.key, "resume:"))
	case opSetup:
		fmt.Fprintf(&b, "setup: %s", r.what)
	}
	for _, n := range notes {
		b.WriteString("\n    ")
		switch n.kind {
		case "log":
			fmt.Fprintf(&b, "log %s: %s", n.who, n.text)
			for j := 0; j+1 < len(n.args); j += 2 {
				fmt.Fprintf(&b, " %v=%v", n.args[j], n.args[j+1])
			}
		case "announce":
			fmt.Fprintf(&b, "%s announces %s %+v", n.who, actor.EventName(n.ev), n.ev)
		case "timer", "cancel":
			fmt.Fprintf(&b, "timer: %s %s", n.who, timerText(n, r.at))
		default:
			fmt.Fprintf(&b, "%s: %s", n.kind, n.text)
		}
	}
	return b.String()
}

// vtime formats virtual time since the start of the run, as traces and diagrams show it.
func vtime(d time.Duration) string { return "+" + d.String() }

// timerText describes a timer started or cancelled at virtual time now.
func timerText(n note, now time.Duration) string {
	verb := "sets"
	if n.kind == "cancel" {
		verb = "cancels"
	}
	text := fmt.Sprintf("%s timer %s, due %s (in %v)", verb, actor.EventName(n.ev), vtime(n.due), n.due-now)
	if n.period > 0 {
		text += fmt.Sprintf(", every %v", n.period)
	}
	return text
}

// trace builds the Trace of the run just finished.
func (s *Sim) trace(test string, iter int, seed, huntSeed uint64) *Trace {
	t := &Trace{Test: test, Strategy: s.strat.name(), Seed: seed, HuntSeed: huntSeed, Iteration: iter,
		Steps: len(s.steps), Unfair: s.strat.unfairSteps(), LivenessThreshold: s.cfg.LivenessThreshold,
		choices: append([]choice(nil), s.choices...)}
	if s.bug != nil {
		t.Bug = s.bug.Summary()
	}
	t.expect = make([]string, len(s.steps))
	t.account = make([]string, len(s.steps))
	ni := 0
	for i := range s.steps {
		t.expect[i] = s.steps[i].fingerprint()
		start := ni
		for ni < len(s.notes) && s.notes[ni].step <= i {
			ni++
		}
		t.account[i] = s.describe(i, s.notes[start:ni])
	}
	return t
}

// Account returns the readable account of the run, one entry per step.
func (t *Trace) Account() []string { return t.account }

// Mermaid renders the run as a Mermaid sequence diagram: one arrow per delivered event, notes for
// state changes, timers set, cancelled and fired, faults and restarts. Every arrow and note of a
// step starts with the step's number and its virtual time.
func (s *Sim) mermaid() string {
	var b strings.Builder
	b.WriteString("sequenceDiagram\n")
	alias := map[actor.ID]string{}
	var order []actor.ID
	name := func(id actor.ID) string {
		if a, ok := alias[id]; ok {
			return a
		}
		a := "p" + strconv.Itoa(len(alias)+1)
		alias[id] = a
		order = append(order, id)
		return a
	}
	var body strings.Builder
	ni := 0
	for i := range s.steps {
		r := &s.steps[i]
		switch r.kind {
		case opDeliver:
			to := name(r.actor)
			switch {
			case r.result == actor.StepStart:
				fmt.Fprintf(&body, "  Note over %s: %d %s start in %s\n", to, i, vtime(r.at), r.state)
			case r.result == actor.StepHandled || r.result == actor.StepIgnored || (r.result == actor.StepIdle && r.ev != nil):
				// StepIdle with an event: the handler failed, which is the bug.
				from := "env"
				if r.timer {
					from = "timer"
				} else if r.from != "" {
					from = name(r.from)
				}
				if from == "env" || from == "timer" {
					fmt.Fprintf(&body, "  Note over %s: %d %s %s %s\n", to, i, vtime(r.at), from, mermaidText(actor.TypeName(r.ev)))
				} else {
					fmt.Fprintf(&body, "  %s->>%s: %d %s %s\n", from, to, i, vtime(r.at), mermaidText(actor.TypeName(r.ev)))
				}
			case r.result == actor.StepHalt:
				fmt.Fprintf(&body, "  Note over %s: %d %s halt\n", to, i, vtime(r.at))
			}
			if r.after != r.state && !r.halted {
				fmt.Fprintf(&body, "  Note over %s: %s -> %s\n", to, r.state, r.after)
			}
		case opClock:
			what := "fires"
			if r.dropped {
				what = "ticks, dropped (last tick unhandled)"
			}
			fmt.Fprintf(&body, "  Note over %s: %d %s timer %s %s\n", name(r.actor), i, vtime(r.at), mermaidText(actor.TypeName(r.ev)), what)
		case opRestart, opHeal, opResume:
			fmt.Fprintf(&body, "  Note over %s: %d %s %s\n", name("env"), i, vtime(r.at), mermaidText(r.key))
		case opSetup:
			fmt.Fprintf(&body, "  Note over %s: %d %s setup %s\n", name("env"), i, vtime(r.at), mermaidText(r.what))
		}
		for ; ni < len(s.notes) && s.notes[ni].step <= i; ni++ {
			n := s.notes[ni]
			switch n.kind {
			case "fault", "crash":
				who := "env"
				if n.who != "" {
					who = string(n.who)
				}
				fmt.Fprintf(&body, "  Note over %s: %s %s\n", name(actor.ID(who)), strings.ToUpper(n.kind), mermaidText(n.text))
			case "timer", "cancel":
				fmt.Fprintf(&body, "  Note over %s: %d %s %s\n", name(n.who), i, vtime(r.at), mermaidText(timerText(n, r.at)))
			}
		}
	}
	for _, id := range order {
		fmt.Fprintf(&b, "  participant %s as %s\n", alias[id], mermaidText(string(id)))
	}
	if s.bug != nil && len(order) > 0 {
		fmt.Fprintf(&body, "  Note over %s: BUG %s\n", alias[order[0]], mermaidText(s.bug.Summary()))
	}
	b.WriteString(body.String())
	return b.String()
}

// mermaidText keeps a label from breaking Mermaid's syntax.
func mermaidText(s string) string {
	r := strings.NewReplacer(";", ",", "#", "", "\n", " ", ":", " ", "<", "‹", ">", "›")
	return r.Replace(s)
}
