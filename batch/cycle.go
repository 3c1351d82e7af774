package batch

import (
	"slices"
	"strings"
)

// CycleCheck finds the dependency cycles that the tasks of one [Graph.Add] call would close,
// checking them one at a time, in order, before the call. Tasks on a cycle — a chain of tasks,
// none completed, each waiting for the next, back to the first — never become ready, so the
// caller refuses the task that closes one (see [CycleError]) rather than leave its job stuck for
// ever; Graph.Add itself accepts cycles. Get one from [Graph.NewCycleCheck]; it is valid until
// the graph changes.
//
// The edges are those Add would make: the new tasks' explicit dependencies and range members
// (among the tasks already added and those of the call), the tasks already added that named a
// new ID before it existed, and the waiting tasks whose open ranges cover a new integer ID.
//
// The search runs from the checked task both ways at once, along what it waits for and along
// what waits for it, and stops when either side runs out. A task added after its dependencies
// has nothing waiting for it yet, and one added before them waits only for tasks not added yet,
// so either usual order costs O(1) per task; in general the cost is O(the smaller side), plus a
// scan of the call's ranges per task visited.
type CycleCheck struct {
	g       *Graph
	news    []Task           // the tasks accepted so far, then the one being checked
	byKey   map[string]int   // IDKey of a new task -> its index in news
	byName  map[string][]int // IDKey -> the new tasks naming it in dependsOn.taskIds
	values  []int32          // per new task: the integer its ID stands for, if numeric
	numeric []bool
	ranges  []newRange      // the new tasks' merged dependency ranges
	joins   map[int32][]int // waiting task of the graph -> the new tasks its open ranges cover
}

// newRange is a merged dependency range of one of the new tasks.
type newRange struct {
	r    TaskIDRange
	task int
}

// NewCycleCheck returns a CycleCheck for the tasks of one Add call.
func (g *Graph) NewCycleCheck() *CycleCheck {
	return &CycleCheck{g: g, byKey: map[string]int{}, byName: map[string][]int{}, joins: map[int32][]int{}}
}

// Add checks t, to be added after the tasks this CycleCheck accepted. If t would close a
// dependency cycle, Add returns it in waiting order — t, the task t waits for, …, the task that
// waits for t, and t again — and forgets t; otherwise it returns nil and counts t as added in
// the same call, for the tasks checked after it. A task whose ID repeats one already accepted
// or added is the caller's to refuse (TaskExists) before it gets here.
func (c *CycleCheck) Add(t Task) []string {
	j := len(c.news)
	c.news = append(c.news, t)
	key := IDKey(t.ID)
	c.byKey[key] = j
	value, numeric := TaskIDValue(t.ID)
	c.values, c.numeric = append(c.values, value), append(c.numeric, numeric)
	var joined []int32
	if numeric {
		joined = c.g.open.covering(value, c.g.isOpen, nil)
		for _, d := range joined {
			c.joins[d] = append(c.joins[d], j)
		}
	}
	nRanges := len(c.ranges)
	if t.DependsOn != nil {
		for _, id := range t.DependsOn.TaskIDs {
			k := IDKey(id)
			c.byName[k] = append(c.byName[k], j)
		}
		for _, r := range mergeRanges(t.DependsOn.TaskIDRanges) {
			c.ranges = append(c.ranges, newRange{r, j})
		}
	}
	cycle := c.search(newVertex(j))
	if cycle == nil {
		return nil
	}
	// Forget t: undo what it added to the indexes (its entries are the last of each list).
	c.news, c.values, c.numeric = c.news[:j], c.values[:j], c.numeric[:j]
	delete(c.byKey, key)
	if numeric {
		for _, d := range joined {
			c.joins[d] = dropLast(c.joins[d])
		}
	}
	if t.DependsOn != nil {
		for _, id := range t.DependsOn.TaskIDs {
			k := IDKey(id)
			c.byName[k] = dropLast(c.byName[k])
		}
	}
	c.ranges = c.ranges[:nRanges]
	return cycle
}

func dropLast(s []int) []int { return s[:len(s)-1] }

// CycleError is the error for a task refused because adding it would close the dependency cycle
// cycle (as [CycleCheck.Add] returns it): 400 InvalidPropertyValue on dependsOn, naming the
// tasks of the cycle. Azure documents no code for this (it does not detect cycles: their tasks
// wait for ever).
func CycleError(cycle []string) *Error {
	if len(cycle) == 0 {
		return nil
	}
	path := strings.Join(cycle, " -> ")
	reason := "adding task " + cycle[0] + " would close a dependency cycle (" + path +
		": each task waits for the next), and tasks on a cycle never run"
	return &Error{
		Code:    CodeInvalidPropertyValue,
		Message: "The value provided for dependsOn is invalid: " + reason + ".",
		Values:  []KV{{KeyPropertyName, "dependsOn"}, {KeyPropertyValue, path}, {KeyReason, reason}},
	}
}

// A vertex of the search: v >= 0 is the graph's node v, v < 0 is new task -v-1.
func newVertex(j int) int32 { return int32(-j - 1) }

func (c *CycleCheck) id(v int32) string {
	if v < 0 {
		return c.news[-v-1].ID
	}
	return c.g.nodes[v].id
}

// search looks for a cycle through start, one step forward (what waits for a task) and one step
// backward (what a task waits for) at a time, until the two meet or either runs out.
func (c *CycleCheck) search(start int32) []string {
	// fwd[x] is the task x waits for on the way from start; bwd[x] the task that waits for x.
	fwd := map[int32]int32{start: start}
	bwd := map[int32]int32{start: start}
	fq, bq := []int32{start}, []int32{start}
	path := func(m int32, parent map[int32]int32) []string {
		var out []string
		for x := m; ; x = parent[x] {
			out = append(out, c.id(x))
			if x == start {
				return out
			}
		}
	}
	for len(fq) > 0 && len(bq) > 0 {
		v := fq[len(fq)-1]
		fq = fq[:len(fq)-1]
		var cycle []string
		c.waitingFor(v, func(d int32) bool { // d waits for v
			if _, met := bwd[d]; met || d == start {
				back := path(d, bwd) // d ... start, each waited for by the next
				slices.Reverse(back)
				cycle = append(back, path(v, fwd)...)
				return false
			}
			if _, seen := fwd[d]; !seen {
				fwd[d] = v
				fq = append(fq, d)
			}
			return true
		})
		if cycle != nil {
			return cycle
		}
		if len(fq) == 0 {
			return nil
		}
		u := bq[len(bq)-1]
		bq = bq[:len(bq)-1]
		c.waitedFor(u, func(d int32) bool { // u waits for d
			if _, met := fwd[d]; met || d == start {
				back := path(u, bwd)
				slices.Reverse(back)
				cycle = append(back, path(d, fwd)...)
				return false
			}
			if _, seen := bwd[d]; !seen {
				bwd[d] = u
				bq = append(bq, d)
			}
			return true
		})
		if cycle != nil {
			return cycle
		}
	}
	return nil
}

// waitingFor calls yield for each task that will wait for v once the new tasks are added, until
// yield returns false. Completed tasks wait for nothing and are left out.
func (c *CycleCheck) waitingFor(v int32, yield func(int32) bool) {
	g := c.g
	var key string
	var value int32
	var numeric bool
	self := -1
	if v >= 0 {
		n := &g.nodes[v]
		for _, d := range n.dependents {
			if g.nodes[d].flags&flagCompleted == 0 && !yield(d) {
				return
			}
		}
		key = IDKey(n.id)
		value, numeric = n.value, n.flags&flagNumeric != 0
	} else {
		self = int(-v - 1)
		t := c.news[self]
		key = IDKey(t.ID)
		value, numeric = TaskIDValue(t.ID)
		// Tasks that named this ID before it was added wait for it already.
		if p, ok := g.index[key]; ok && g.nodes[p].flags&flagAdded == 0 {
			for _, d := range g.nodes[p].dependents {
				if g.nodes[d].flags&flagCompleted == 0 && !yield(d) {
					return
				}
			}
		}
		// Waiting tasks whose open ranges cover its integer ID will wait for it.
		if numeric {
			for _, d := range g.open.covering(value, g.isOpen, nil) {
				if !yield(d) {
					return
				}
			}
		}
	}
	// New tasks that name it, or whose ranges cover it.
	for _, j := range c.byName[key] {
		if j != self && !yield(newVertex(j)) {
			return
		}
	}
	if numeric {
		for _, nr := range c.ranges {
			if nr.task != self && value >= nr.r.Start && value <= nr.r.End && !yield(newVertex(nr.task)) {
				return
			}
		}
	}
}

// waitedFor calls yield for each task that v will wait for once the new tasks are added, until
// yield returns false. Completed tasks, and tasks named but neither added nor new, are left out:
// they close no cycle.
func (c *CycleCheck) waitedFor(v int32, yield func(int32) bool) {
	g := c.g
	if v >= 0 {
		for _, d := range g.nodes[v].deps {
			dn := &g.nodes[d]
			switch {
			case dn.flags&flagAdded != 0:
				if dn.flags&flagCompleted == 0 && !yield(d) {
					return
				}
			default: // named before it was added: is it one of the new tasks?
				if j, ok := c.byKey[IDKey(dn.id)]; ok && !yield(newVertex(j)) {
					return
				}
			}
		}
		for _, j := range c.joins[v] {
			if !yield(newVertex(j)) {
				return
			}
		}
		return
	}
	self := int(-v - 1)
	t := c.news[self]
	if t.DependsOn == nil {
		return
	}
	for _, id := range t.DependsOn.TaskIDs {
		if j, ok := c.byKey[IDKey(id)]; ok {
			if j != self && !yield(newVertex(j)) {
				return
			}
		} else if d, ok := g.lookup(id); ok && g.nodes[d].flags&flagCompleted == 0 && !yield(d) {
			return
		}
	}
	for _, r := range mergeRanges(t.DependsOn.TaskIDRanges) {
		for _, d := range g.members(r) {
			if g.nodes[d].flags&flagCompleted == 0 && !yield(d) {
				return
			}
		}
		for j, value := range c.values {
			if j != self && c.numeric[j] && value >= r.Start && value <= r.End && !yield(newVertex(j)) {
				return
			}
		}
	}
}
