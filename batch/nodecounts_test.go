package batch

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestCountNodes(t *testing.T) {
	node := func(s NodeState, dedicated bool) Node { return Node{State: s, IsDedicated: dedicated} }
	tests := []struct {
		name        string
		nodes       []Node
		dedicated   NodeCounts
		lowPriority NodeCounts
	}{
		{name: "no nodes"},
		{name: "one of each kind",
			nodes:       []Node{node(NodeIdle, true), node(NodeRunning, false)},
			dedicated:   NodeCounts{Idle: 1, Total: 1},
			lowPriority: NodeCounts{Running: 1, Total: 1}},
		{name: "every state",
			nodes: []Node{
				node(NodeCreating, true), node(NodeIdle, true), node(NodeOffline, true), node(NodePreempted, true),
				node(NodeRebooting, true), node(NodeReimaging, true), node(NodeRunning, true), node(NodeStarting, true),
				node(NodeStartTaskFailed, true), node(NodeLeavingPool, true), node(NodeUnknown, true),
				node(NodeUnusable, true), node(NodeWaitingForStartTask, true), node(NodeUpgradingOS, true),
			},
			dedicated: NodeCounts{Creating: 1, Idle: 1, Offline: 1, Preempted: 1, Rebooting: 1, Reimaging: 1, Running: 1,
				Starting: 1, StartTaskFailed: 1, LeavingPool: 1, Unknown: 1, Unusable: 1, WaitingForStartTask: 1,
				UpgradingOS: 1, Total: 14}},
		{name: "states add up",
			nodes:       []Node{node(NodeIdle, false), node(NodeIdle, false), node(NodePreempted, false), node(NodeStarting, true)},
			dedicated:   NodeCounts{Starting: 1, Total: 1},
			lowPriority: NodeCounts{Idle: 2, Preempted: 1, Total: 3}},
		{name: "no state or a strange one is unknown",
			nodes:     []Node{node("", true), node("hibernating", true)},
			dedicated: NodeCounts{Unknown: 2, Total: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CountNodes("p1", tt.nodes)
			want := PoolNodeCounts{PoolID: "p1", Dedicated: tt.dedicated, LowPriority: tt.lowPriority}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestNodeCountsNonZero(t *testing.T) {
	c := NodeCounts{Idle: 2, StartTaskFailed: 1, UpgradingOS: 3, Total: 6}
	want := []StateCount{{"idle", 2}, {"startTaskFailed", 1}, {"upgradingOS", 3}}
	if got := c.NonZero(); !reflect.DeepEqual(got, want) {
		t.Errorf("NonZero = %v, want %v", got, want)
	}
	if got := (NodeCounts{}).NonZero(); got != nil {
		t.Errorf("NonZero of nothing = %v, want nil", got)
	}
}

// TestPoolNodeCountsJSON: the JSON names are Azure's, and every count is written, zero or not.
func TestPoolNodeCountsJSON(t *testing.T) {
	b, err := json.Marshal(PoolNodeCounts{PoolID: "p1", Dedicated: NodeCounts{Idle: 1, Total: 1}})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]map[string]any
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		t.Fatal(err)
	}
	if string(top["poolId"]) != `"p1"` {
		t.Errorf("poolId = %s", top["poolId"])
	}
	delete(top, "poolId")
	rest, _ := json.Marshal(top)
	if err := json.Unmarshal(rest, &got); err != nil {
		t.Fatal(err)
	}
	names := []string{"creating", "idle", "offline", "preempted", "rebooting", "reimaging", "running", "starting",
		"startTaskFailed", "leavingPool", "unknown", "unusable", "waitingForStartTask", "deallocated", "deallocating",
		"total", "upgradingOS"}
	for _, kind := range []string{"dedicated", "lowPriority"} {
		if len(got[kind]) != len(names) {
			t.Errorf("%s has %d properties, want %d: %v", kind, len(got[kind]), len(names), got[kind])
		}
		for _, n := range names {
			if _, ok := got[kind][n]; !ok {
				t.Errorf("%s has no %q: %s", kind, n, b)
			}
		}
	}
	if got["dedicated"]["idle"] != 1.0 || got["dedicated"]["total"] != 1.0 {
		t.Errorf("dedicated = %v", got["dedicated"])
	}
}
