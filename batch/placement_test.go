package batch

import (
	"slices"
	"testing"
)

// node returns an eligible node with free of total slots.
func node(id string, free, total int) NodeSlots {
	return NodeSlots{ID: id, State: NodeIdle, SchedulingState: SchedulingEnabled, TotalSlots: total, FreeSlots: free}
}

// queue returns tasks t1… of job "j" needing the given slots.
func queue(slots ...int) []QueuedTask {
	q := make([]QueuedTask, len(slots))
	for i, s := range slots {
		q[i] = QueuedTask{ID: "t" + itoa(int32(i+1)), Job: "j", RequiredSlots: s}
	}
	return q
}

// where returns "task@node" for each assignment.
func where(p Placement) []string {
	var out []string
	for _, a := range p.Assignments {
		out = append(out, a.TaskID+"@"+a.NodeID)
	}
	return out
}

func TestPlace(t *testing.T) {
	tests := []struct {
		name       string
		req        PlacementRequest
		want       []string
		tooLarge   []string
		noRoom     int
		atJobLimit int
	}{
		{
			name: "spread: most free slots first, ties by id",
			req: PlacementRequest{FillType: FillSpread,
				Nodes: []NodeSlots{node("b", 4, 4), node("a", 4, 4), node("c", 2, 4)},
				Queue: queue(1, 1, 1, 1, 1)},
			want: []string{"t1@a", "t2@b", "t3@a", "t4@b", "t5@a"},
		},
		{
			name: "default fill type is spread",
			req: PlacementRequest{Nodes: []NodeSlots{node("a", 2, 2), node("b", 2, 2)},
				Queue: queue(1, 1)},
			want: []string{"t1@a", "t2@b"},
		},
		{
			name: "pack: fill a node before starting another",
			req: PlacementRequest{FillType: FillPack,
				Nodes: []NodeSlots{node("b", 4, 4), node("a", 4, 4)},
				Queue: queue(1, 1, 1, 1, 1, 1)},
			want: []string{"t1@a", "t2@a", "t3@a", "t4@a", "t5@b", "t6@b"},
		},
		{
			name: "pack: fewest free slots that still fit",
			req: PlacementRequest{FillType: FillPack,
				Nodes: []NodeSlots{node("a", 4, 4), node("b", 1, 4), node("c", 2, 4)},
				Queue: queue(2, 1, 2)},
			want: []string{"t1@c", "t2@b", "t3@a"},
		},
		{
			name: "spread with required slots",
			req: PlacementRequest{FillType: FillSpread,
				Nodes: []NodeSlots{node("a", 4, 4), node("b", 3, 4)},
				Queue: queue(3, 3, 2)},
			want:   []string{"t1@a", "t2@b"},
			noRoom: 1,
		},
		{
			name: "a large task waits while smaller ones pass",
			req: PlacementRequest{FillType: FillSpread,
				Nodes: []NodeSlots{node("a", 2, 4)},
				Queue: queue(3, 1, 1, 1)},
			want:   []string{"t2@a", "t3@a"},
			noRoom: 2,
		},
		{
			name: "too large for any node, even a busy one",
			req: PlacementRequest{
				Nodes: []NodeSlots{node("a", 4, 4), {ID: "z", State: NodeRebooting, TotalSlots: 4}},
				Queue: queue(5, 4)},
			want:     []string{"t2@a"},
			tooLarge: []string{"t1"},
		},
		{
			name: "only idle and running nodes with scheduling enabled",
			req: PlacementRequest{
				Nodes: []NodeSlots{
					{ID: "a", State: NodeStarting, TotalSlots: 2, FreeSlots: 2},
					{ID: "b", State: NodeRunning, TotalSlots: 2, FreeSlots: 1},
					{ID: "c", State: NodeIdle, SchedulingState: SchedulingDisabled, TotalSlots: 2, FreeSlots: 2},
					{ID: "d", State: NodeUnusable, TotalSlots: 2, FreeSlots: 2},
					{ID: "e", State: NodeIdle, TotalSlots: 2, FreeSlots: 0},
				},
				Queue: queue(1, 1)},
			want:   []string{"t1@b"},
			noRoom: 1,
		},
		{
			name:   "no nodes: nothing is too large, nothing fits",
			req:    PlacementRequest{Queue: queue(1, 300)},
			noRoom: 2,
		},
		{
			name: "maxParallelTasks counts running tasks",
			req: PlacementRequest{
				Nodes:       []NodeSlots{node("a", 8, 8)},
				Queue:       append(queue(1, 1, 1), QueuedTask{ID: "k1", Job: "k", RequiredSlots: 1}),
				MaxParallel: map[string]int{"j": 3, "k": -1},
				Running:     map[string]int{"j": 1, "k": 50},
			},
			want:       []string{"t1@a", "t2@a", "k1@a"},
			atJobLimit: 1,
		},
		{
			name: "job already over its limit",
			req: PlacementRequest{
				Nodes:       []NodeSlots{node("a", 8, 8)},
				Queue:       queue(1),
				MaxParallel: map[string]int{"j": 2},
				Running:     map[string]int{"j": 5},
			},
			atJobLimit: 1,
		},
		{
			name: "zero required slots counts as one",
			req: PlacementRequest{Nodes: []NodeSlots{node("a", 1, 1)},
				Queue: queue(0, 0)},
			want:   []string{"t1@a"},
			noRoom: 1,
		},
		{
			name: "many slot sizes across word boundaries",
			req: PlacementRequest{FillType: FillPack,
				Nodes: []NodeSlots{node("a", 200, 256), node("b", 70, 256), node("c", 130, 256)},
				Queue: queue(65, 100, 150, 6)},
			want: []string{"t1@b", "t2@c", "t3@a", "t4@c"},
		},
	}
	for _, tt := range tests {
		p := Place(tt.req)
		if got := where(p); !slices.Equal(got, tt.want) {
			t.Errorf("%s: assignments %v, want %v", tt.name, got, tt.want)
		}
		if !slices.Equal(p.TooLarge, tt.tooLarge) || p.NoRoom != tt.noRoom || p.AtJobLimit != tt.atJobLimit {
			t.Errorf("%s: tooLarge %v noRoom %d atJobLimit %d; want %v %d %d", tt.name,
				p.TooLarge, p.NoRoom, p.AtJobLimit, tt.tooLarge, tt.noRoom, tt.atJobLimit)
		}
	}
}

// TestPlaceAgreesWithScan compares Place with a direct scan over the nodes on random inputs.
func TestPlaceAgreesWithScan(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		rng := newRand(seed)
		var nodes []NodeSlots
		total := 1 + rng.IntN(8)
		for i := range rng.IntN(12) {
			nodes = append(nodes, node("n"+itoa(int32(rng.IntN(1000)))+"-"+itoa(int32(i)), rng.IntN(total+1), total))
		}
		var q []QueuedTask
		for i := range rng.IntN(40) {
			q = append(q, QueuedTask{ID: "t" + itoa(int32(i)), Job: "j", RequiredSlots: 1 + rng.IntN(total+1)})
		}
		for _, fill := range []NodeFillType{FillSpread, FillPack} {
			got := Place(PlacementRequest{FillType: fill, Nodes: nodes, Queue: q})
			want := scanPlace(fill, nodes, q)
			if !slices.Equal(got.Assignments, want) {
				t.Fatalf("seed %d %s: got %v, want %v", seed, fill, got.Assignments, want)
			}
		}
	}
}

// scanPlace is the obvious O(nodes) per task placement.
func scanPlace(fill NodeFillType, nodes []NodeSlots, q []QueuedTask) []Assignment {
	free := map[string]int{}
	for _, n := range nodes {
		free[n.ID] = n.FreeSlots
	}
	var out []Assignment
	for _, task := range q {
		best := ""
		for _, n := range nodes {
			f := free[n.ID]
			if f < task.RequiredSlots {
				continue
			}
			if best == "" {
				best = n.ID
				continue
			}
			b := free[best]
			better := (fill == FillSpread && f > b) || (fill == FillPack && f < b) || (f == b && n.ID < best)
			if better {
				best = n.ID
			}
		}
		if best != "" {
			free[best] -= task.RequiredSlots
			out = append(out, Assignment{TaskID: task.ID, NodeID: best, Slots: task.RequiredSlots})
		}
	}
	return out
}

func TestSlotsOf(t *testing.T) {
	n := Node{ID: "n", State: NodeRunning, RunningTaskSlotsCount: 3}
	if s := SlotsOf(n, 4); s.FreeSlots != 1 || s.TotalSlots != 4 || s.ID != "n" {
		t.Fatalf("%+v", s)
	}
}
