package batch

import "time"

// PoolEventKind names what a pool history entry records.
type PoolEventKind string

// The kinds of pool history entries.
const (
	PoolEventResize            PoolEventKind = "resize"            // a resize started (Pool - Resize, or a formula's new targets)
	PoolEventRemoveNodes       PoolEventKind = "removeNodes"       // Pool - Remove Nodes
	PoolEventStopResize        PoolEventKind = "stopResize"        // Pool - Stop Resize
	PoolEventResizeTimedOut    PoolEventKind = "resizeTimedOut"    // a resize passed its resizeTimeout
	PoolEventSteady            PoolEventKind = "steady"            // a resize ended: the pool is steady
	PoolEventAutoScaleEnabled  PoolEventKind = "autoScaleEnabled"  // Pool - Enable AutoScale (or a pool added with it)
	PoolEventAutoScaleDisabled PoolEventKind = "autoScaleDisabled" // Pool - Disable AutoScale
	PoolEventAutoScale         PoolEventKind = "autoScale"         // an evaluation whose outcome differs from the previous one
	PoolEventPreempted         PoolEventKind = "preempted"         // the provider took a low-priority node back
	PoolEventNodeLost          PoolEventKind = "nodeLost"          // a node failed by itself
	PoolEventNodeFailed        PoolEventKind = "nodeFailed"        // a node could not be created
)

// PoolEvent is one entry of a pool's resize and autoscale history, a Corral extension (Azure Batch
// shows only the latest autoScaleRun and resizeErrors): what changed the pool's size or targets,
// when, and why. Targets are the pool's targets after the event.
type PoolEvent struct {
	Timestamp              time.Time          `json:"timestamp"`
	Kind                   PoolEventKind      `json:"kind"`
	TargetDedicatedNodes   int32              `json:"targetDedicatedNodes"`
	TargetLowPriorityNodes int32              `json:"targetLowPriorityNodes"`
	NodeIDs                []string           `json:"nodeIds,omitempty"`
	Message                string             `json:"message,omitempty"`
	Results                string             `json:"results,omitempty"` // autoScale: the formula's results
	Error                  *AutoScaleRunError `json:"error,omitempty"`   // autoScale: why it failed
}

// MaxPoolHistory is how many entries a pool's history keeps; older ones are dropped.
const MaxPoolHistory = 100
