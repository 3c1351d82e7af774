package batch

// NodeCounts is the number of a pool's compute nodes of one kind (dedicated or low-priority) in
// each node state: Azure's NodeCounts, a part of the answer to Account - List Pool Node Counts.
// The JSON names are Azure's (api-version 2024-07-01.20.0). Deallocated and Deallocating are
// states of Azure's that Corral's nodes never take; they are always 0 and are kept so that the
// shape is Azure's whole.
type NodeCounts struct {
	Creating            int32 `json:"creating"`
	Idle                int32 `json:"idle"`
	Offline             int32 `json:"offline"`
	Preempted           int32 `json:"preempted"`
	Rebooting           int32 `json:"rebooting"`
	Reimaging           int32 `json:"reimaging"`
	Running             int32 `json:"running"`
	Starting            int32 `json:"starting"`
	StartTaskFailed     int32 `json:"startTaskFailed"`
	LeavingPool         int32 `json:"leavingPool"`
	Unknown             int32 `json:"unknown"`
	Unusable            int32 `json:"unusable"`
	WaitingForStartTask int32 `json:"waitingForStartTask"`
	Deallocated         int32 `json:"deallocated"`
	Deallocating        int32 `json:"deallocating"`
	Total               int32 `json:"total"`
	UpgradingOS         int32 `json:"upgradingOS"`
}

// PoolNodeCounts is the number of a pool's nodes in each state, dedicated and low-priority apart:
// one entry of Account - List Pool Node Counts (Azure's PoolNodeCounts).
type PoolNodeCounts struct {
	PoolID      string     `json:"poolId"`
	Dedicated   NodeCounts `json:"dedicated"`
	LowPriority NodeCounts `json:"lowPriority"`
}

// Add counts one node in state s, and in Total. A state Corral does not know (or none) counts as
// unknown: the node is there, but what it does is not known.
func (c *NodeCounts) Add(s NodeState) {
	c.Total++
	switch s {
	case NodeCreating:
		c.Creating++
	case NodeIdle:
		c.Idle++
	case NodeOffline:
		c.Offline++
	case NodePreempted:
		c.Preempted++
	case NodeRebooting:
		c.Rebooting++
	case NodeReimaging:
		c.Reimaging++
	case NodeRunning:
		c.Running++
	case NodeStarting:
		c.Starting++
	case NodeStartTaskFailed:
		c.StartTaskFailed++
	case NodeLeavingPool:
		c.LeavingPool++
	case NodeUnusable:
		c.Unusable++
	case NodeWaitingForStartTask:
		c.WaitingForStartTask++
	case NodeUpgradingOS:
		c.UpgradingOS++
	default:
		c.Unknown++
	}
}

// StateCount is the number of nodes in one state, the state named as Azure's NodeCounts names
// it ("startTaskFailed", "leavingPool"…).
type StateCount struct {
	State string
	Count int32
}

// NonZero returns the states that have nodes, in the order of Azure's NodeCounts properties
// (Total is not a state and is left out).
func (c NodeCounts) NonZero() []StateCount {
	all := []StateCount{
		{"creating", c.Creating}, {"idle", c.Idle}, {"offline", c.Offline}, {"preempted", c.Preempted},
		{"rebooting", c.Rebooting}, {"reimaging", c.Reimaging}, {"running", c.Running},
		{"starting", c.Starting}, {"startTaskFailed", c.StartTaskFailed}, {"leavingPool", c.LeavingPool},
		{"unknown", c.Unknown}, {"unusable", c.Unusable}, {"waitingForStartTask", c.WaitingForStartTask},
		{"deallocated", c.Deallocated}, {"deallocating", c.Deallocating}, {"upgradingOS", c.UpgradingOS},
	}
	var out []StateCount
	for _, sc := range all {
		if sc.Count != 0 {
			out = append(out, sc)
		}
	}
	return out
}

// CountNodes counts a pool's nodes by kind and state.
func CountNodes(poolID string, nodes []Node) PoolNodeCounts {
	pc := PoolNodeCounts{PoolID: poolID}
	for i := range nodes {
		if nodes[i].IsDedicated {
			pc.Dedicated.Add(nodes[i].State)
		} else {
			pc.LowPriority.Add(nodes[i].State)
		}
	}
	return pc
}
