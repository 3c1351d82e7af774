package batch

import (
	"fmt"
	"testing"
)

// layeredJob returns the hot-path job: layers of width tasks, each task of a layer depending on
// two tasks of the layer before, n tasks in all, in topological order.
func layeredJob(n, width int) []Task {
	tasks := make([]Task, n)
	for i := range tasks {
		tasks[i] = Task{ID: fmt.Sprintf("task-%d", i), State: TaskActive}
		if layer := i / width; layer > 0 {
			pos := i % width
			prev := (layer - 1) * width
			tasks[i].DependsOn = &TaskDependencies{TaskIDs: []string{
				tasks[prev+pos].ID, tasks[prev+(pos+37)%width].ID,
			}}
		}
	}
	return tasks
}

// rangedJob is layeredJob with integer IDs where each task depends on the whole layer before
// through a task ID range, added in chunks of 100 as the Azure SDKs do.
func rangedJob(n, width int) []Task {
	tasks := make([]Task, n)
	for i := range tasks {
		tasks[i] = Task{ID: fmt.Sprint(i), State: TaskActive}
		if layer := i / width; layer > 0 {
			start := int32((layer - 1) * width)
			tasks[i].DependsOn = &TaskDependencies{TaskIDRanges: []TaskIDRange{{start, start + int32(width) - 1}}}
		}
	}
	return tasks
}

// BenchmarkGraphComplete measures Graph.Complete on a 100,000-task job in layers of 100, each task
// depending on two of the layer before: one op is one completion.
func BenchmarkGraphComplete(b *testing.B) {
	tasks := layeredJob(100_000, 100)
	var g *Graph
	next := len(tasks)
	b.ReportAllocs()
	for b.Loop() {
		if next == len(tasks) {
			b.StopTimer()
			g = NewGraph()
			if _, err := g.Add(tasks...); err != nil {
				b.Fatal(err)
			}
			next = 0
			b.StartTimer()
		}
		if _, err := g.Complete(tasks[next].ID, DependencySatisfy); err != nil {
			b.Fatal(err)
		}
		next++
	}
}

// BenchmarkGraphCompleteBlock is BenchmarkGraphComplete where every 100th task blocks its
// dependents (and, transitively, theirs): the cost of propagating blocked status.
func BenchmarkGraphCompleteBlock(b *testing.B) {
	tasks := layeredJob(100_000, 100)
	var g *Graph
	next := len(tasks)
	b.ReportAllocs()
	for b.Loop() {
		if next == len(tasks) {
			b.StopTimer()
			g = NewGraph()
			if _, err := g.Add(tasks...); err != nil {
				b.Fatal(err)
			}
			next = 0
			b.StartTimer()
		}
		action := DependencySatisfy
		if next%100 == 99 {
			action = DependencyBlock
		}
		if _, err := g.Complete(tasks[next].ID, action); err != nil {
			b.Fatal(err)
		}
		next++
	}
}

// BenchmarkGraphAdd measures adding the 100,000-task layered job in one call; one op is the
// whole job.
func BenchmarkGraphAdd(b *testing.B) {
	tasks := layeredJob(100_000, 100)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewGraph().Add(tasks...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(tasks)), "ns/task")
}

// BenchmarkGraphAddRangesInChunks adds a 100,000-task job whose tasks depend on the previous layer
// of 100 by ID range, in chunks of 100 tasks; one op is the whole job.
func BenchmarkGraphAddRangesInChunks(b *testing.B) {
	tasks := rangedJob(100_000, 100)
	b.ReportAllocs()
	for b.Loop() {
		g := NewGraph()
		for i := 0; i < len(tasks); i += 100 {
			if _, err := g.Add(tasks[i : i+100]...); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(tasks)), "ns/task")
}

// placementInput returns a queue of 100,000 single-slot tasks and nodes 4 slots each.
func placementInput(nodes int) ([]NodeSlots, []QueuedTask) {
	ns := make([]NodeSlots, nodes)
	for i := range ns {
		ns[i] = NodeSlots{ID: fmt.Sprintf("node-%05d", i), State: NodeIdle, TotalSlots: 4, FreeSlots: 4 - i%3}
	}
	q := make([]QueuedTask, 100_000)
	for i := range q {
		q[i] = QueuedTask{ID: fmt.Sprintf("task-%d", i), Job: "job", RequiredSlots: 1 + i%2}
	}
	return ns, q
}

// BenchmarkPlace measures one placement round for a queue of 100,000 ready tasks: on 1,000 nodes
// (most tasks stay queued) and on 50,000 nodes (most are placed); one op is one round.
func BenchmarkPlace(b *testing.B) {
	for _, nodes := range []int{1_000, 50_000} {
		for _, fill := range []NodeFillType{FillSpread, FillPack} {
			ns, q := placementInput(nodes)
			b.Run(fmt.Sprintf("%s/nodes=%d", fill, nodes), func(b *testing.B) {
				b.ReportAllocs()
				var placed int
				for b.Loop() {
					placed = len(Place(PlacementRequest{FillType: fill, Nodes: ns, Queue: q,
						MaxParallel: map[string]int{"job": 90_000}}).Assignments)
				}
				b.ReportMetric(float64(placed), "placed")
			})
		}
	}
}
