package service

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"corral/actor"
	"corral/batch"
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
}

// AgentID is the actor that stands for the agent of a node: the adapter to a real agent in
// production, a model under the tester.
func AgentID(nodeID string) actor.ID { return actor.ID("agent/" + nodeID) }

// NodeSessionID is the actor of a node's session.
func NodeSessionID(poolID, nodeID string) actor.ID { return nodeActor(poolID, nodeID) }

// JobManagerID is the actor of a job's manager.
func JobManagerID(jobID string) actor.ID { return jobActor(jobID) }

// Boot creates the service's actors on h and rebuilds them from the store: the account, a
// scheduler and a pool manager per pool (which starts a session per node, expecting the attempts
// the store records on it), a job manager per job that is not completed. It is the boot function
// of the service's host, run again after every crash.
func Boot(h actor.Host, cfg Config) error {
	var pools, jobs []string
	jobPools := map[string]string{} // IDKey(pool) -> pool id, for pools named by jobs
	err := cfg.Store.View(context.Background(), func(tx store.Tx) error {
		ps, err := tx.List(tablePools, "", "", 0)
		if err != nil {
			return err
		}
		for _, r := range ps {
			var pr poolRecord
			if err := json.Unmarshal(r.Value, &pr); err != nil {
				return err
			}
			pools = append(pools, pr.Pool.ID)
		}
		js, err := tx.List(tableJobs, "", "", 0)
		if err != nil {
			return err
		}
		for _, r := range js {
			var jr jobRecord
			if err := json.Unmarshal(r.Value, &jr); err != nil {
				return err
			}
			if jr.Job.State != batch.JobCompleted {
				jobs = append(jobs, jr.Job.ID)
				jobPools[batch.IDKey(jr.PoolID)] = jr.PoolID
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boot: %w", err)
	}
	if _, err := h.Create(string(AccountID), newAccount(cfg.Store, cfg.Timing, cfg.AutoScaleMinInterval)); err != nil {
		return fmt.Errorf("boot account: %w", err)
	}
	for _, id := range pools {
		pool, err := GetPool(context.Background(), cfg.Store, id)
		if err != nil {
			return fmt.Errorf("boot pool %s: %w", id, err)
		}
		if _, err := h.Create(string(SchedulerID(id)), newScheduler(id, fillOf(pool))); err != nil {
			return fmt.Errorf("boot pool %s: %w", id, err)
		}
		if _, err := h.Create(string(PoolManagerID(id)), newPoolManager(id, cfg.Store, cfg.Timing, cfg.AutoScaleMinInterval)); err != nil {
			return fmt.Errorf("boot pool %s: %w", id, err)
		}
	}
	for _, id := range pools {
		delete(jobPools, batch.IDKey(id))
	}
	for _, key := range sortedKeys(jobPools) {
		// A pool that does not exist (yet): a scheduler without nodes holds its jobs' tasks.
		if _, err := h.Create(string(SchedulerID(jobPools[key])), newScheduler(jobPools[key], batch.FillSpread)); err != nil {
			return fmt.Errorf("boot scheduler %s: %w", jobPools[key], err)
		}
	}
	for _, id := range jobs {
		if _, err := h.Create(string(jobActor(id)), newJobManager(id, cfg.Store, cfg.AutoScaleMinInterval)); err != nil {
			return fmt.Errorf("boot job %s: %w", id, err)
		}
	}
	return nil
}
