package service

import (
	"context"
	"encoding/json"
	"fmt"

	"corral/actor"
	"corral/batch"
	"corral/store"
)

// Config is what a service instance needs to start.
type Config struct {
	// Store is the source of truth; it lives outside the service's host and survives its crashes.
	Store store.Store
	// Pools are the pools and their nodes. (A pool manager that grows and shrinks pools through
	// the VM provider replaces this static list.)
	Pools []PoolConfig
	// Timing sets how node sessions judge their agents' health.
	Timing NodeTiming
}

// PoolConfig is a pool with a fixed set of nodes.
type PoolConfig struct {
	ID           string
	SlotsPerNode int
	Fill         batch.NodeFillType
	Nodes        []string
}

// AgentID is the actor that stands for the agent of a node: the adapter to a real agent in
// production, a model under the tester.
func AgentID(nodeID string) actor.ID { return actor.ID("agent/" + nodeID) }

// NodeSessionID is the actor of a node's session.
func NodeSessionID(poolID, nodeID string) actor.ID { return nodeActor(poolID, nodeID) }

// JobManagerID is the actor of a job's manager.
func JobManagerID(jobID string) actor.ID { return jobActor(jobID) }

// Boot creates the service's actors on h and rebuilds them from the store: a scheduler per pool,
// a session per node (expecting the attempts the store records on it), a job manager per job that
// is not completed. It is the boot function of the service's host, run again after every crash.
func Boot(h actor.Host, cfg Config) error {
	ctx := context.Background()
	for _, p := range cfg.Pools {
		if _, err := h.Create("sched/"+p.ID, newScheduler(p.ID, p.Fill)); err != nil {
			return fmt.Errorf("boot pool %s: %w", p.ID, err)
		}
		for _, n := range p.Nodes {
			var expected []attemptRef
			err := cfg.Store.View(ctx, func(tx store.Tx) error {
				rs, err := tx.List(tableAttempts, p.ID+"/"+n+"/", "", 0)
				if err != nil {
					return err
				}
				for _, r := range rs {
					var a attemptRef
					if err := json.Unmarshal(r.Value, &a); err != nil {
						return err
					}
					expected = append(expected, a)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("boot node %s/%s: %w", p.ID, n, err)
			}
			s := newNodeSession(p.ID, n, p.SlotsPerNode, AgentID(n), actor.ID("sched/"+p.ID), cfg.Timing, expected)
			if _, err := h.Create(string(nodeActor(p.ID, n)), s); err != nil {
				return fmt.Errorf("boot node %s/%s: %w", p.ID, n, err)
			}
		}
	}
	var jobs []string
	err := cfg.Store.View(ctx, func(tx store.Tx) error {
		rs, err := tx.List(tableJobs, "", "", 0)
		if err != nil {
			return err
		}
		for _, r := range rs {
			var jr jobRecord
			if err := json.Unmarshal(r.Value, &jr); err != nil {
				return err
			}
			if jr.Job.State != batch.JobCompleted {
				jobs = append(jobs, jr.Job.ID)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("boot jobs: %w", err)
	}
	for _, id := range jobs {
		if _, err := h.Create(string(jobActor(id)), newJobManager(id, cfg.Store)); err != nil {
			return fmt.Errorf("boot job %s: %w", id, err)
		}
	}
	return nil
}

// PutJob stores a new job on a pool. (The job API goes through a service actor; this is for
// tests and tools until it does.)
func PutJob(st store.Store, j batch.Job) error {
	return st.Update(context.Background(), func(tx store.Tx) error {
		return putJSON(tx, tableJobs, batch.IDKey(j.ID), jobRecord{PoolID: j.PoolInfo.PoolID, Job: j}, 0)
	})
}
