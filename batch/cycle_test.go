package batch

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

func TestCycleCheck(t *testing.T) {
	deps := func(id string, on ...string) Task {
		return Task{ID: id, CommandLine: "x", DependsOn: &TaskDependencies{TaskIDs: on}}
	}
	ranged := func(tk Task, start, end int32) Task {
		if tk.DependsOn == nil {
			tk.DependsOn = &TaskDependencies{}
		}
		tk.DependsOn.TaskIDRanges = append(tk.DependsOn.TaskIDRanges, TaskIDRange{start, end})
		return tk
	}
	tests := []struct {
		name     string
		existing [][]Task // Add calls, in order
		complete []string // completed (satisfy) after the adds
		pending  []Task
		task     Task
		want     []string
	}{
		{"empty graph", nil, nil, nil, deps("a"), nil},
		{"in order", [][]Task{{deps("a")}, {deps("b", "a")}}, nil, nil, deps("c", "a", "b"), nil},
		{"forward reference without cycle", [][]Task{{deps("b", "a")}}, nil, nil, deps("a"), nil},
		{"two tasks", [][]Task{{deps("b", "a")}}, nil, nil, deps("a", "b"), []string{"a", "b", "a"}},
		{"case-insensitive ids", [][]Task{{deps("B", "a")}}, nil, nil, deps("A", "b"), []string{"A", "B", "A"}},
		{"longer cycle", [][]Task{{deps("b", "a")}, {deps("c", "b")}, {deps("d", "c")}}, nil, nil, deps("a", "x", "d"),
			[]string{"a", "d", "c", "b", "a"}},
		{"a completed task waits for nothing", [][]Task{{deps("b", "a")}}, []string{"b"}, nil, deps("a", "b"), nil},
		{"within one collection", nil, nil, []Task{deps("a", "b")}, deps("b", "a"), []string{"b", "a", "b"}},
		{"collection and graph", [][]Task{{deps("c", "a")}}, nil, []Task{deps("b", "c")}, deps("a", "b"),
			[]string{"a", "b", "c", "a"}},
		{"range of a collection task", nil, nil, []Task{ranged(deps("x"), 1, 3)}, deps("2", "x"), []string{"2", "x", "2"}},
		{"range outside", nil, nil, []Task{ranged(deps("x"), 1, 3)}, deps("4", "x"), nil},
		{"the checked task's range", [][]Task{{deps("3", "x")}}, nil, nil, ranged(deps("x"), 1, 5), []string{"x", "3", "x"}},
		{"open range of a waiting task", [][]Task{{ranged(deps("x", "y"), 1, 10)}}, nil, nil, deps("5", "x"),
			[]string{"5", "x", "5"}},
		{"closed range of a ready task", [][]Task{{ranged(deps("x"), 1, 10)}}, nil, nil, deps("5", "x"), nil},
		{"range closed by completion", [][]Task{{deps("y")}, {ranged(deps("x", "y"), 1, 10)}}, []string{"y"}, nil, deps("5", "x"), nil},
		{"through an open range and a name", [][]Task{{ranged(deps("x", "w"), 1, 10)}, {deps("b", "5")}}, nil, nil, deps("w", "b"),
			nil}, // 5 is not added: x waits for w, b waits for 5, w waits for b: no cycle
		{"dependents of dependents", [][]Task{{deps("b", "a")}, {deps("c", "b")}, {deps("e", "c")}}, nil, nil, deps("a", "e"),
			[]string{"a", "e", "c", "b", "a"}},
	}
	for _, tt := range tests {
		g := NewGraph()
		for _, call := range tt.existing {
			if _, err := g.Add(call...); err != nil {
				t.Fatalf("%s: add: %v", tt.name, err)
			}
		}
		for _, id := range tt.complete {
			if _, err := g.Complete(id, DependencySatisfy); err != nil {
				t.Fatalf("%s: complete: %v", tt.name, err)
			}
		}
		check := g.NewCycleCheck()
		for _, p := range tt.pending {
			if c := check.Add(p); c != nil {
				t.Fatalf("%s: pending task %s closes %q", tt.name, p.ID, c)
			}
		}
		got := check.Add(tt.task)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: CycleCheck.Add = %q, want %q", tt.name, got, tt.want)
		}
		// What Add then does agrees.
		if _, err := g.Add(append(slices.Clone(tt.pending), tt.task)...); err != nil {
			t.Fatalf("%s: add: %v", tt.name, err)
		}
		if c := g.Cycle(tt.task.ID); (c != nil) != (tt.want != nil) {
			t.Errorf("%s: after Add, Cycle = %q", tt.name, c)
		}
	}
}

func TestCycleError(t *testing.T) {
	e := CycleError([]string{"a", "b", "a"})
	if e.Code != CodeInvalidPropertyValue || e.Value(KeyPropertyName) != "dependsOn" ||
		e.Value(KeyPropertyValue) != "a -> b -> a" || e.Value(KeyReason) == "" {
		t.Errorf("CycleError = %v", e)
	}
	if CycleError(nil) != nil {
		t.Error("CycleError(nil) is not nil")
	}
}

// TestCycleCheckAgreesWithAdd adds random tasks in random calls, completing some between
// calls, and checks each task against what Add would do: CycleCheck.Add finds a cycle exactly when
// Graph.Cycle finds one once the task is added (on a graph rebuilt with the same calls), and
// what it returns is a cycle of waiting tasks. Refused tasks are left out, as a caller does.
func TestCycleCheckAgreesWithAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 17))
	names := []string{"1", "2", "3", "4", "5", "6", "a", "b", "c", "d"}
	type op struct {
		add      []Task
		complete string
	}
	replay := func(ops []op, last []Task) *Graph {
		g := NewGraph()
		for _, o := range ops {
			var err error
			if o.add != nil {
				_, err = g.Add(o.add...)
			} else {
				_, err = g.Complete(o.complete, DependencySatisfy)
			}
			if err != nil {
				t.Fatalf("replay: %v", err)
			}
		}
		if _, err := g.Add(last...); err != nil {
			t.Fatalf("replay: %v", err)
		}
		return g
	}
	found := 0
	for iter := range 400 {
		g := NewGraph()
		var ops []op
		var added []string
		order := slices.Clone(names)
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for len(order) > 0 {
			// One call of 1 to 3 tasks.
			n := min(len(order), 1+rng.IntN(3))
			var call []Task
			check := g.NewCycleCheck()
			for _, id := range order[:n] {
				tk := Task{ID: id, CommandLine: "x", DependsOn: &TaskDependencies{}}
				for _, d := range names {
					if d != id && rng.IntN(5) == 0 {
						tk.DependsOn.TaskIDs = append(tk.DependsOn.TaskIDs, d)
					}
				}
				if rng.IntN(4) == 0 {
					lo := int32(1 + rng.IntN(6))
					r := TaskIDRange{lo, lo + int32(rng.IntN(3))}
					if !r.Contains(id) {
						tk.DependsOn.TaskIDRanges = append(tk.DependsOn.TaskIDRanges, r)
					}
				}
				cycle := check.Add(tk)
				truth := replay(ops, append(slices.Clone(call), tk))
				want := truth.Cycle(id)
				if (cycle != nil) != (want != nil) {
					t.Fatalf("iteration %d: task %s (%+v) after %d ops, call %+v: CycleCheck.Add = %q, Cycle after Add = %q",
						iter, id, *tk.DependsOn, len(ops), call, cycle, want)
				}
				if cycle != nil {
					found++
					if cycle[0] != id || cycle[len(cycle)-1] != id {
						t.Fatalf("iteration %d: cycle %q does not start and end at %s", iter, cycle, id)
					}
					for i := 0; i+1 < len(cycle); i++ {
						if !slices.Contains(truth.WaitingOn(cycle[i]), cycle[i+1]) {
							t.Fatalf("iteration %d: in cycle %q, %s does not wait for %s (waits for %q)",
								iter, cycle, cycle[i], cycle[i+1], truth.WaitingOn(cycle[i]))
						}
					}
					continue // refused
				}
				call = append(call, tk)
			}
			order = order[n:]
			if len(call) > 0 {
				if _, err := g.Add(call...); err != nil {
					t.Fatal(err)
				}
				ops = append(ops, op{add: call})
				for _, tk := range call {
					added = append(added, tk.ID)
				}
			}
			// Sometimes a task completes (a terminated one completes whatever it waits for).
			if len(added) > 0 && rng.IntN(3) == 0 {
				id := added[rng.IntN(len(added))]
				if _, err := g.Complete(id, DependencySatisfy); err == nil {
					ops = append(ops, op{complete: id})
				}
			}
		}
	}
	t.Logf("%d tasks refused", found)
	if found < 50 {
		t.Errorf("only %d cycles in the random graphs: the test does not exercise CycleCheck", found)
	}
}

// BenchmarkCycleCheckChain checks a chain of 10,000 tasks (each waiting for the one before)
// in collections of 100, as the job manager does when they are added: in order, and in reverse
// (each task named before it is added). Both cost about the same per task.
func BenchmarkCycleCheckChain(b *testing.B) {
	const n = 10000
	chain := make([]Task, n)
	for i := range chain {
		chain[i] = Task{ID: strconv.Itoa(i), CommandLine: "x"}
		if i > 0 {
			chain[i].DependsOn = &TaskDependencies{TaskIDs: []string{strconv.Itoa(i - 1)}}
		}
	}
	reversed := slices.Clone(chain)
	slices.Reverse(reversed)
	for _, order := range []struct {
		name  string
		tasks []Task
	}{{"in order", chain}, {"reversed", reversed}} {
		b.Run(order.name, func(b *testing.B) {
			for b.Loop() {
				g := NewGraph()
				for start := 0; start < n; start += 100 {
					call := order.tasks[start : start+100]
					check := g.NewCycleCheck()
					for _, tk := range call {
						if check.Add(tk) != nil {
							b.Fatalf("cycle at %s", tk.ID)
						}
					}
					if _, err := g.Add(call...); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
