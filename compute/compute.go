// Package compute is the VM provider contract of Corral: how the pool manager asks for compute
// nodes and learns what became of them. Nodes are virtual machines on a cloud, pods, or (the
// embedded default, compute/local) node-agent processes on this host.
//
// The contract is a conversation of events, not method calls, so that the service never blocks
// on a provider: the pool manager sends requests to the provider's actor ([ProviderID]) and gets
// the outcomes back as events. In production the provider actor is an adapter around a real
// provider; under the systematic tester it is a model that is slow, fails, and finishes work
// after a cancel. Every request carries a request id and every outcome names it, so that a
// duplicated or retried request is recognised: providers must treat a second request with the same
// id as the same request.
package compute

import "corral/actor"

// ProviderID is the actor that stands for the VM provider.
const ProviderID actor.ID = "compute.provider"

// CreateVM asks for one node. The provider answers with VMCreated or VMFailed, sent to ReplyTo.
type CreateVM struct {
	RequestID string
	ReplyTo   actor.ID
	PoolID    string
	NodeID    string // the id the node will have; unique in the pool
	VMSize    string
	Dedicated bool // false: a low-priority (spot) node, which the provider may take back
}

// VMCreated says a node exists and its agent can be reached.
type VMCreated struct {
	RequestID string
	PoolID    string
	NodeID    string
	Address   string // where the node's agent is, for the provider's own use; empty for models
	// Cores is how many CPU cores the node has, as the provider knows them (0: it does not
	// know). Pools' usage metrics count a node's time by its cores, and one for a node of 0.
	Cores int
}

// VMFailed says a CreateVM did not produce a node.
type VMFailed struct {
	RequestID string
	PoolID    string
	NodeID    string
	Reason    string
}

// DeleteVM releases a node; the provider answers with VMDeleted once it is gone. Deleting a node
// that does not exist (any more) succeeds.
type DeleteVM struct {
	RequestID string
	ReplyTo   actor.ID
	PoolID    string
	NodeID    string
}

// VMDeleted says a node is gone.
type VMDeleted struct {
	RequestID string
	PoolID    string
	NodeID    string
}

// VMPreempted says the provider took a low-priority node back, as a spot eviction does: the VM
// and everything on it are gone. The provider sends it, unasked, to the ReplyTo of the CreateVM
// that made the VM (CreateRequestID names that request; empty if the provider no longer knows
// it, for example after it restarted).
type VMPreempted struct {
	CreateRequestID string
	PoolID          string
	NodeID          string
}

// VMLost says a node failed by itself (its VM, or its agent process, died): the VM is gone. It
// is sent as VMPreempted is.
type VMLost struct {
	CreateRequestID string
	PoolID          string
	NodeID          string
	Reason          string
}

// ListVMs asks which nodes exist for a pool (all pools if PoolID is empty), counting those being
// created, as a cloud lists its VMs in state creating; the provider answers with VMList. The pool
// manager uses it to find orphans: VMs its pool does not want, such as one a creation brought up
// after the pool had given it up and a crash lost the VMCreated that would have said so. A
// provider answers a ListVMs after every request the same sender sent before it.
type ListVMs struct {
	RequestID string
	ReplyTo   actor.ID
	PoolID    string
}

// VMList answers ListVMs.
type VMList struct {
	RequestID string
	PoolID    string
	Nodes     []VM
}

// VM is one node as the provider knows it.
type VM struct {
	PoolID    string
	NodeID    string
	Dedicated bool
}
