package batch

import (
	"fmt"
	"time"
)

// Pool allocation states and the changes between them:
//
//	steady   -> resizing   a resize started (pool added with nodes, Pool - Resize, autoscale)
//	resizing -> steady     the resize finished or timed out (resizeErrors say why)
//	resizing -> stopping   Pool - Stop Resize
//	stopping -> steady     the stop finished
var allocationTransitions = map[AllocationState][]AllocationState{
	AllocationSteady:   {AllocationResizing},
	AllocationResizing: {AllocationSteady, AllocationStopping},
	AllocationStopping: {AllocationSteady},
}

// CanTransitionAllocation reports whether a pool's allocation state may go from from to to.
func CanTransitionAllocation(from, to AllocationState) bool {
	for _, s := range allocationTransitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// TransitionAllocation returns p with its allocation state moved to to at time now. It fails with
// PoolBeingDeleted for a pool being deleted, PoolBeingResized when a resize is asked for while one
// is under way, and OperationInvalidForCurrentState otherwise.
func TransitionAllocation(p Pool, to AllocationState, now time.Time) (Pool, error) {
	if p.State == PoolDeleting {
		return p, stateError(CodePoolBeingDeleted, fmt.Sprintf("pool %s is being deleted", p.ID))
	}
	from := p.AllocationState
	if from == "" {
		from = AllocationSteady
	}
	if !CanTransitionAllocation(from, to) {
		msg := fmt.Sprintf("pool %s cannot go from allocation state %s to %s", p.ID, from, to)
		if to == AllocationResizing {
			return p, stateError(CodePoolBeingResized, msg)
		}
		return p, stateError(CodeOperationInvalidForCurrentState, msg)
	}
	p.AllocationState = to
	p.AllocationStateTransitionTime = now
	p.LastModified = now
	return p, nil
}

// CanResize checks that Pool - Resize is allowed: the pool is active, steady, and not sized by an
// autoscale formula.
func CanResize(p Pool) error {
	switch {
	case p.State == PoolDeleting:
		return stateError(CodePoolBeingDeleted, fmt.Sprintf("pool %s is being deleted", p.ID))
	case p.AllocationState == AllocationResizing || p.AllocationState == AllocationStopping:
		return stateError(CodePoolBeingResized, fmt.Sprintf("pool %s is %s", p.ID, p.AllocationState))
	case p.AutoScale():
		return stateError(CodeOperationInvalidForCurrentState,
			fmt.Sprintf("pool %s has enableAutoScale set; resize it by its formula", p.ID))
	}
	return nil
}

// DeletePool returns p in state deleting.
func DeletePool(p Pool, now time.Time) (Pool, error) {
	if p.State == PoolDeleting {
		return p, stateError(CodePoolBeingDeleted, fmt.Sprintf("pool %s is being deleted", p.ID))
	}
	p.State = PoolDeleting
	p.StateTransitionTime = now
	p.LastModified = now
	return p, nil
}

// SetNodeState returns n in state s, with stateTransitionTime now if the state changed.
func SetNodeState(n Node, s NodeState, now time.Time) Node {
	if n.State != s {
		n.State = s
		n.StateTransitionTime = now
	}
	return n
}
