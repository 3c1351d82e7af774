package batch

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// deps returns a task with explicit dependencies and ranges.
func deps(id string, ids []string, ranges ...TaskIDRange) Task {
	t := Task{ID: id, State: TaskActive}
	if len(ids) > 0 || len(ranges) > 0 {
		t.DependsOn = &TaskDependencies{TaskIDs: ids, TaskIDRanges: ranges}
	}
	return t
}

// mustAdd adds tasks and returns the change.
func mustAdd(t *testing.T, g *Graph, tasks ...Task) Change {
	t.Helper()
	ch, err := g.Add(tasks...)
	if err != nil {
		t.Fatalf("Add: %v", err)
	}
	return ch
}

// mustComplete completes a task and returns the change.
func mustComplete(t *testing.T, g *Graph, id string, a DependencyAction) Change {
	t.Helper()
	ch, err := g.Complete(id, a)
	if err != nil {
		t.Fatalf("Complete(%s): %v", id, err)
	}
	return ch
}

// same fails the test unless got and want hold the same strings, in any order.
func same(t *testing.T, what string, got, want []string) {
	t.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

func TestGraphChain(t *testing.T) {
	g := NewGraph()
	ch := mustAdd(t, g, deps("A", nil), deps("B", []string{"A"}), deps("C", []string{"A", "B", "a"}))
	same(t, "ready at add", ch.Ready, []string{"A"})
	if g.Len() != 3 || !g.Ready("A") || g.Ready("B") {
		t.Fatal("state after add")
	}
	same(t, "C waits on", g.WaitingOn("C"), []string{"A", "B"})
	ch = mustComplete(t, g, "A", DependencySatisfy)
	same(t, "ready after A", ch.Ready, []string{"B"})
	same(t, "C waits on", g.WaitingOn("C"), []string{"B"})
	ch = mustComplete(t, g, "b", "")
	same(t, "ready after B", ch.Ready, []string{"C"})
	if g.WaitingOn("C") != nil || !g.Ready("c") {
		t.Fatal("C should be ready")
	}
	if _, err := g.Complete("B", DependencySatisfy); CodeOf(err) != CodeTaskCompleted {
		t.Fatalf("completing twice: %v", err)
	}
	if _, err := g.Complete("Z", DependencySatisfy); CodeOf(err) != CodeTaskNotFound {
		t.Fatalf("completing an unknown task: %v", err)
	}
	if _, err := g.Complete("C", "maybe"); err == nil {
		t.Fatal("unknown dependency action accepted")
	}
}

func TestGraphForwardReference(t *testing.T) {
	g := NewGraph()
	ch := mustAdd(t, g, deps("B", []string{"a"}))
	if len(ch.Ready) != 0 {
		t.Fatalf("B ready before A exists: %v", ch.Ready)
	}
	if w := g.Waits("B"); len(w) != 1 || w[0] != (Wait{"a", WaitNotAdded}) {
		t.Fatalf("waits: %v", w)
	}
	if g.Ready("a") || g.Blocked("a") {
		t.Fatal("a placeholder is not a task")
	}
	if _, err := g.Complete("a", DependencySatisfy); CodeOf(err) != CodeTaskNotFound {
		t.Fatal("completed a placeholder")
	}
	ch = mustAdd(t, g, deps("A", nil))
	same(t, "ready", ch.Ready, []string{"A"})
	if w := g.Waits("B"); len(w) != 1 || w[0] != (Wait{"A", WaitPending}) {
		t.Fatalf("waits: %v", w)
	}
	ch = mustComplete(t, g, "A", DependencySatisfy)
	same(t, "ready", ch.Ready, []string{"B"})
}

func TestGraphBlock(t *testing.T) {
	g := NewGraph()
	mustAdd(t, g, deps("A", nil), deps("B", []string{"A"}), deps("C", []string{"B"}),
		deps("D", []string{"B", "E"}), deps("E", nil), deps("F", []string{"E"}))
	ch := mustComplete(t, g, "A", DependencyBlock)
	same(t, "ready", ch.Ready, nil)
	same(t, "blocked", ch.Blocked, []string{"B", "C", "D"})
	if !g.Blocked("C") || g.Blocked("F") || g.Ready("B") {
		t.Fatal("blocked state")
	}
	if w := g.Waits("B"); len(w) != 1 || w[0] != (Wait{"A", WaitBlockedBy}) {
		t.Fatalf("B waits: %v", w)
	}
	if w := g.Waits("D"); len(w) != 2 || w[0] != (Wait{"B", WaitBlocked}) || w[1] != (Wait{"E", WaitPending}) {
		t.Fatalf("D waits: %v", w)
	}
	// E satisfies: D is still blocked through B.
	ch = mustComplete(t, g, "E", DependencySatisfy)
	same(t, "ready after E", ch.Ready, []string{"F"})
	if !g.Blocked("D") {
		t.Fatal("D unblocked")
	}
	// A user terminates B and its exit options satisfy: C and D run.
	ch = mustComplete(t, g, "B", DependencySatisfy)
	same(t, "ready after B", ch.Ready, []string{"C", "D"})
	same(t, "unblocked", ch.Unblocked, []string{"C", "D"})
	// A task added later that depends on a blocked task is blocked at once.
	ch = mustAdd(t, g, deps("G", []string{"A"}), deps("H", []string{"G"}))
	same(t, "blocked at add", ch.Blocked, []string{"G", "H"})
	same(t, "ready at add", ch.Ready, nil)
}

func TestGraphBlockedPlaceholder(t *testing.T) {
	// X is named before it exists; when it arrives it depends on a blocked task.
	g := NewGraph()
	mustAdd(t, g, deps("A", nil), deps("Y", []string{"X"}))
	mustComplete(t, g, "A", DependencyBlock)
	ch := mustAdd(t, g, deps("X", []string{"A"}))
	same(t, "blocked", ch.Blocked, []string{"X", "Y"})
}

func TestGraphRanges(t *testing.T) {
	g := NewGraph()
	ch := mustAdd(t, g, deps("1", nil), deps("2", nil), deps("3", nil), deps("5flamingoes", nil),
		deps("merge", nil, TaskIDRange{1, 3}, TaskIDRange{2, 2}))
	same(t, "ready", ch.Ready, []string{"1", "2", "3", "5flamingoes"})
	same(t, "merge waits", g.WaitingOn("merge"), []string{"1", "2", "3"})
	// Late members join while merge waits; "04" and "4" are both in [1,10].
	mustAdd(t, g, deps("04", nil))
	ch = mustAdd(t, g, deps("4", nil), deps("11", nil))
	same(t, "ready", ch.Ready, []string{"4", "11"})
	same(t, "merge waits", g.WaitingOn("merge"), []string{"1", "2", "3"})

	g2 := NewGraph()
	mustAdd(t, g2, deps("1", nil), deps("merge", nil, TaskIDRange{1, 10}))
	mustAdd(t, g2, deps("04", nil))
	ch = mustAdd(t, g2, deps("4", nil), deps("11", nil))
	same(t, "ready", ch.Ready, []string{"4", "11"})
	same(t, "merge waits", g2.WaitingOn("merge"), []string{"1", "04", "4"})
	mustComplete(t, g2, "1", DependencySatisfy)
	mustComplete(t, g2, "4", DependencySatisfy)
	ch = mustComplete(t, g2, "04", DependencySatisfy)
	same(t, "merge ready", ch.Ready, []string{"merge"})
	// merge is ready: its range is closed.
	mustAdd(t, g2, deps("5", nil))
	if !g2.Ready("merge") {
		t.Fatal("a task added after merge became ready held it back")
	}

	// A range over tasks none of which exists yet is satisfied at once.
	g3 := NewGraph()
	ch = mustAdd(t, g3, deps("merge", nil, TaskIDRange{0, 100}))
	same(t, "ready", ch.Ready, []string{"merge"})
	mustAdd(t, g3, deps("7", nil))
	if !g3.Ready("merge") {
		t.Fatal("closed range reopened")
	}

	// A wide range (scanned, not indexed by value) works the same way.
	g4 := NewGraph()
	mustAdd(t, g4, deps("10", nil), deps("merge", []string{"500000"}, TaskIDRange{0, 1 << 30}))
	mustAdd(t, g4, deps("500000", nil), deps("7", nil))
	same(t, "wide waits", g4.WaitingOn("merge"), []string{"500000", "10", "7"})

	// A task added in state running had its ranges closed when it was released.
	g5 := NewGraph()
	run := deps("merge", nil, TaskIDRange{1, 10})
	run.State = TaskRunning
	mustAdd(t, g5, deps("1", nil), run)
	mustAdd(t, g5, deps("2", nil))
	same(t, "restored waits", g5.WaitingOn("merge"), []string{"1"})
}

func TestGraphAddErrors(t *testing.T) {
	g := NewGraph()
	mustAdd(t, g, deps("A", nil))
	tests := []struct {
		name  string
		tasks []Task
		code  string
	}{
		{"exists", []Task{deps("B", nil), deps("a", nil)}, CodeTaskExists},
		{"twice in one call", []Task{deps("B", nil), deps("b", nil)}, CodeTaskExists},
		{"self", []Task{deps("B", []string{"b"})}, CodeInvalidPropertyValue},
		{"self by range", []Task{deps("5", nil, TaskIDRange{1, 9})}, CodeInvalidPropertyValue},
		{"bad range", []Task{deps("B", nil, TaskIDRange{3, 1})}, CodeInvalidPropertyValue},
		{"no id", []Task{deps("", nil)}, CodeMissingRequiredProperty},
	}
	for _, tt := range tests {
		if _, err := g.Add(tt.tasks...); CodeOf(err) != tt.code {
			t.Errorf("%s: %v, want %s", tt.name, err, tt.code)
		}
	}
	if g.Len() != 1 || g.Ready("B") {
		t.Fatal("a failed Add changed the graph")
	}
}

func TestGraphReactivate(t *testing.T) {
	g := NewGraph()
	mustAdd(t, g, deps("A", nil), deps("B", []string{"A"}), deps("C", []string{"B"}))
	mustComplete(t, g, "A", DependencySatisfy)
	ch, err := g.Reactivate("A")
	if err != nil {
		t.Fatal(err)
	}
	same(t, "unready", ch.Unready, []string{"B"})
	same(t, "ready", ch.Ready, []string{"A"})
	mustComplete(t, g, "A", DependencyBlock)
	if !g.Blocked("C") {
		t.Fatal("C not blocked")
	}
	ch, _ = g.Reactivate("A")
	same(t, "unblocked", ch.Unblocked, []string{"B", "C"})
	same(t, "ready", ch.Ready, []string{"A"})
	if _, err := g.Reactivate("A"); CodeOf(err) != CodeOperationInvalidForCurrentState {
		t.Fatalf("reactivating an active task: %v", err)
	}
	// A reactivated task that waits for a blocked one is reported blocked.
	g2 := NewGraph()
	mustAdd(t, g2, deps("A", nil), deps("B", []string{"A"}), deps("C", []string{"B"}))
	mustComplete(t, g2, "A", DependencyBlock)
	mustComplete(t, g2, "B", DependencyBlock) // terminated
	ch, _ = g2.Reactivate("B")
	same(t, "blocked", ch.Blocked, []string{"B"})
	if !g2.Blocked("C") || ch.Unblocked != nil {
		t.Fatalf("C: %+v", ch)
	}
}

func TestGraphCycle(t *testing.T) {
	g := NewGraph()
	mustAdd(t, g, deps("A", []string{"B"}), deps("X", []string{"A"}))
	mustAdd(t, g, deps("B", []string{"C"}), deps("C", []string{"A"}))
	if c := g.Cycle("A"); !slices.Equal(c, []string{"A", "B", "C", "A"}) {
		t.Fatalf("cycle: %v", c)
	}
	if c := g.Cycle("X"); c != nil {
		t.Fatalf("X is not on a cycle: %v", c)
	}
	mustComplete(t, g, "C", DependencySatisfy) // terminated: the cycle is broken
	if c := g.Cycle("A"); c != nil {
		t.Fatalf("cycle through a completed task: %v", c)
	}
}

// refTask is a task as the reference model sees it.
type refTask struct {
	id        string
	explicit  []string // keys
	ranges    []TaskIDRange
	state     TaskState
	addStep   int
	closedAt  int // -1: ranges still open
	completed bool
	block     bool
}

// refModel recomputes readiness from scratch after every operation. The only history it keeps is
// what the documented semantics make history-dependent: when each task's ranges closed.
type refModel struct {
	tasks map[string]*refTask // by key, added tasks only
	step  int
}

// depsOf returns the keys of the dependencies of r.
func (m *refModel) depsOf(r *refTask) []string {
	set := map[string]bool{}
	self := IDKey(r.id)
	for _, k := range r.explicit {
		set[k] = true
	}
	for k, u := range m.tasks {
		if k == self {
			continue
		}
		v, ok := TaskIDValue(u.id)
		if !ok {
			continue
		}
		for _, rg := range r.ranges {
			if v >= rg.Start && v <= rg.End && (r.closedAt < 0 || u.addStep <= r.closedAt) {
				set[k] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// status computes ready, blocked and unsatisfied dependencies of every added task.
func (m *refModel) status() (ready, stuck map[string]bool, waits map[string][]string) {
	ready, stuck, waits = map[string]bool{}, map[string]bool{}, map[string][]string{}
	depsOf := map[string][]string{}
	for k, r := range m.tasks {
		depsOf[k] = m.depsOf(r)
		ok := true
		for _, d := range depsOf[k] {
			u := m.tasks[d]
			if u == nil || !u.completed || u.block {
				ok = false
				waits[k] = append(waits[k], d)
			}
		}
		ready[k] = ok && !r.completed
	}
	for changed := true; changed; {
		changed = false
		for k, r := range m.tasks {
			if r.completed || stuck[k] {
				continue
			}
			for _, d := range depsOf[k] {
				u := m.tasks[d]
				if u != nil && ((u.completed && u.block) || (!u.completed && stuck[d])) {
					stuck[k] = true
					changed = true
					break
				}
			}
		}
	}
	return ready, stuck, waits
}

// closeRanges records the step at which tasks' ranges closed.
func (m *refModel) closeRanges(ready map[string]bool) {
	for k, r := range m.tasks {
		if r.closedAt < 0 && (ready[k] || r.completed || (r.state != "" && r.state != TaskActive)) {
			r.closedAt = m.step
		}
	}
}

// keys maps IDs to keys.
func keys(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = IDKey(id)
	}
	return out
}

// diff returns the keys set in after but not in before, restricted by keep.
func diff(before, after map[string]bool, keep func(string) bool) []string {
	var out []string
	for k, v := range after {
		if v && !before[k] && keep(k) {
			out = append(out, k)
		}
	}
	return out
}

// randomCase changes the case of the letters of id at random.
func randomCase(rng *rand.Rand, id string) string {
	b := []byte(id)
	for i, c := range b {
		if c >= 'a' && c <= 'z' && rng.IntN(2) == 0 {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func TestGraphAgreesWithRecomputation(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { checkRandomGraph(t, seed) })
	}
}

// checkRandomGraph drives a Graph and the reference model with the same random operations on a
// random DAG and compares them after every operation.
func checkRandomGraph(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	n := 10 + rng.IntN(60)
	// stride spreads the integer IDs so that ranges exercise every level of the range index.
	stride := []int{1, 1, 1000, 10_000_000}[rng.IntN(4)]
	tasks := make([]Task, n)
	for i := range tasks {
		var id string
		switch rng.IntN(6) {
		case 0:
			id = fmt.Sprintf("t%d", i)
		case 1:
			id = fmt.Sprintf("0%d", i*stride)
		default:
			id = fmt.Sprint(i * stride)
		}
		task := Task{ID: id, State: TaskActive}
		if rng.IntN(10) == 0 {
			task.State = TaskRunning
		}
		var ids []string
		var ranges []TaskIDRange
		if i > 0 {
			for range rng.IntN(4) {
				ids = append(ids, randomCase(rng, tasks[rng.IntN(i)].ID))
			}
			if rng.IntN(4) == 0 {
				// Only tasks before i: the graph stays acyclic.
				a := rng.IntN(i)
				b := a + rng.IntN(i-a)
				lo := a*stride + rng.IntN(stride)
				hi := max(lo, b*stride+rng.IntN(stride))
				ranges = append(ranges, TaskIDRange{int32(lo), int32(hi)})
				if rng.IntN(3) == 0 {
					c := int32(rng.IntN(i) * stride)
					ranges = append(ranges, TaskIDRange{c, c})
				}
			}
		}
		if rng.IntN(25) == 0 {
			ids = append(ids, fmt.Sprintf("ghost%d", rng.IntN(3)))
		}
		if len(ids) > 0 || len(ranges) > 0 {
			task.DependsOn = &TaskDependencies{TaskIDs: ids, TaskIDRanges: ranges}
		}
		tasks[i] = task
	}
	order := rng.Perm(n)

	g := NewGraph()
	m := &refModel{tasks: map[string]*refTask{}}
	ready, stuck, _ := m.status()
	check := func(op string, ch Change, wantReady, wantBlocked, wantUnblocked, wantUnready []string) {
		t.Helper()
		same(t, op+" Ready", keys(ch.Ready), wantReady)
		same(t, op+" Blocked", keys(ch.Blocked), wantBlocked)
		same(t, op+" Unblocked", keys(ch.Unblocked), wantUnblocked)
		same(t, op+" Unready", keys(ch.Unready), wantUnready)
		r2, s2, w2 := m.status()
		for k, r := range m.tasks {
			if g.Ready(r.id) != r2[k] || g.Blocked(r.id) != s2[k] {
				t.Fatalf("%s: task %s ready=%v blocked=%v, reference ready=%v blocked=%v",
					op, r.id, g.Ready(r.id), g.Blocked(r.id), r2[k], s2[k])
			}
			same(t, op+" waits of "+r.id, keys(g.WaitingOn(r.id)), w2[k])
		}
	}
	var incomplete, completed []string
	for len(order) > 0 {
		// Add a batch.
		size := min(1+rng.IntN(8), len(order))
		batch := make([]Task, size)
		m.step++
		isNew := map[string]bool{}
		for i, idx := range order[:size] {
			batch[i] = tasks[idx]
			task := tasks[idx]
			r := &refTask{id: task.ID, state: task.State, addStep: m.step, closedAt: -1}
			if task.DependsOn != nil {
				r.explicit = keys(task.DependsOn.TaskIDs)
				r.ranges = task.DependsOn.TaskIDRanges
			}
			m.tasks[IDKey(task.ID)] = r
			isNew[IDKey(task.ID)] = true
			incomplete = append(incomplete, task.ID)
		}
		order = order[size:]
		ch, err := g.Add(batch...)
		if err != nil {
			t.Fatalf("Add: %v", err)
		}
		r2, s2, _ := m.status()
		wantReady := diff(ready, r2, func(k string) bool {
			return isNew[k] && m.tasks[k].state == TaskActive
		})
		check("Add", ch, wantReady, diff(stuck, s2, func(string) bool { return true }), nil, nil)
		m.closeRanges(r2)
		ready, stuck = r2, s2

		// Complete or reactivate a few tasks.
		for range rng.IntN(4) {
			m.step++
			if len(completed) > 0 && rng.IntN(6) == 0 {
				i := rng.IntN(len(completed))
				id := completed[i]
				completed = slices.Delete(completed, i, i+1)
				incomplete = append(incomplete, id)
				r := m.tasks[IDKey(id)]
				r.completed, r.block = false, false
				ch, err := g.Reactivate(randomCase(rng, id))
				if err != nil {
					t.Fatalf("Reactivate: %v", err)
				}
				r2, s2, _ := m.status()
				var wantReady []string
				if r2[IDKey(id)] {
					wantReady = []string{IDKey(id)}
				}
				notSelf := func(k string) bool { return k != IDKey(id) }
				wantUnready := diff(r2, ready, func(k string) bool { return notSelf(k) && !m.tasks[k].completed })
				check("Reactivate "+id, ch, wantReady,
					diff(stuck, s2, func(string) bool { return true }),
					diff(s2, stuck, func(k string) bool { return !m.tasks[k].completed }), wantUnready)
				m.closeRanges(r2)
				ready, stuck = r2, s2
				continue
			}
			if len(incomplete) == 0 {
				continue
			}
			i := rng.IntN(len(incomplete))
			id := incomplete[i]
			incomplete = slices.Delete(incomplete, i, i+1)
			completed = append(completed, id)
			action := DependencySatisfy
			if rng.IntN(4) == 0 {
				action = DependencyBlock
			}
			r := m.tasks[IDKey(id)]
			r.completed, r.block = true, action == DependencyBlock
			ch, err := g.Complete(randomCase(rng, id), action)
			if err != nil {
				t.Fatalf("Complete: %v", err)
			}
			r2, s2, _ := m.status()
			check("Complete "+id+" "+string(action), ch,
				diff(ready, r2, func(string) bool { return true }),
				diff(stuck, s2, func(string) bool { return true }),
				diff(s2, stuck, func(k string) bool { return !m.tasks[k].completed }), nil)
			m.closeRanges(r2)
			ready, stuck = r2, s2
		}
	}
	if t.Failed() {
		var b strings.Builder
		for _, task := range tasks {
			fmt.Fprintf(&b, "%s %s %+v\n", task.ID, task.State, task.DependsOn)
		}
		t.Log(b.String())
	}
}

// newRand returns a deterministic random source for seed.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }
