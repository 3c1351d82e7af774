package service

import (
	"fmt"
	"time"

	"corral/actor"
	"corral/store"
)

// Config is what a service instance needs to start.
type Config struct {
	// Store is the source of truth; it lives outside the service's host and survives its crashes.
	Store store.Store
	// Timing sets how node sessions judge their agents' health.
	Timing NodeTiming
	// AutoScaleMinInterval is the shortest autoScaleEvaluationInterval a pool may have; 0 means
	// Azure's minimum, 5 minutes. Shorter values are for development: pools' task samples are
	// then taken at least this often.
	AutoScaleMinInterval time.Duration
	// DeleteChunk is how many tasks of a job being deleted go in one transaction; 0 means 1,000.
	// Between two, the job manager takes the events waiting for it.
	DeleteChunk int
}

// AgentID is the actor that stands for the agent of a node: the adapter to a real agent in
// production, a model under the tester.
func AgentID(nodeID string) actor.ID { return actor.ID("agent/" + nodeID) }

// NodeSessionID is the actor of a node's session.
func NodeSessionID(poolID, nodeID string) actor.ID { return nodeActor(poolID, nodeID) }

// Boot creates the service's account on h. The account rebuilds the rest from the store when it
// loads (retrying, with a backoff, while the store fails): a scheduler and a pool manager per
// pool (which starts a session per node, expecting the attempts the store records on it), a job
// manager per job that is not completed. It is the boot function of the service's host, run
// again after every crash.
func Boot(h actor.Host, cfg Config) error {
	a := newAccount(cfg.Store, cfg.Timing, cfg.AutoScaleMinInterval)
	a.deleteChunk = cfg.DeleteChunk
	if _, err := h.Create(string(AccountID), a); err != nil {
		return fmt.Errorf("boot account: %w", err)
	}
	return nil
}
