package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"corral/actor"
	"corral/batch"
	"corral/store"
)

// Pool usage (Pool - List Usage Metrics, Pool - Get All Lifetime Statistics) is the core time
// of the pools' nodes while they are up: from the moment the pool manager records a node's VM
// created (state idle) until it records the node leaving the pool (removed, or the pool
// deleted) or its VM gone (preempted, or lost). Each node up has a record (tableNodesUp, a
// batch.NodeUp), written in the transaction that records it up; the transaction that records
// it down deletes that record and adds its core time to the hourly records of its pool
// (tableUsage) and to the account's lifetime record (statsPoolsKey), so that a node's time is
// counted once whatever crashes. Reads add the time of the nodes still up, to the time of the
// read. A pool's usage records outlive the pool, as Azure's usage metrics list pools that no
// longer exist.
const (
	// tableUsage holds a poolUsage per pool per aggregation interval in which its nodes were
	// up (key: the interval's start, usageHourFormat, "/" IDKey(pool)), so that a time range
	// is a range of keys.
	tableUsage = "poolusage"
	// tableNodesUp holds a batch.NodeUp per node up (key: IDKey(pool) + "/" + node).
	tableNodesUp = "nodesup"
	// statsPoolsKey is the key, in tableStats, of the account's poolLifetime.
	statsPoolsKey = "pools"

	usageHourFormat = "2006-01-02T15Z"
)

// poolUsage is a pool's core time in one aggregation interval.
type poolUsage struct {
	PoolID string `json:"poolId"`
	VMSize string `json:"vmSize,omitempty"`
	batch.CoreTime
}

// poolLifetime is the account's core time of nodes that are no longer up, and when the first
// node came up.
type poolLifetime struct {
	Since time.Time `json:"since"`
	batch.CoreTime
}

// NodeUsage is announced when a pool manager has recorded a node up (Up) or down: the node
// counts towards its pool's usage from, or until, At.
type NodeUsage struct {
	PoolID, NodeID string
	Up             bool
	At             time.Time
	Cores          int
	Dedicated      bool
}

func usageKey(start time.Time, poolID string) string {
	return start.UTC().Format(usageHourFormat) + "/" + batch.IDKey(poolID)
}

func nodeUpKey(poolID, nodeID string) string { return batch.IDKey(poolID) + "/" + nodeID }

// markNodeUp records in tx that a node of a pool is up from at, with cores (0: unknown; it
// counts one). A node already up stays up from when it came up.
func markNodeUp(tx store.Tx, poolID string, n batch.Node, cores int, at time.Time) error {
	key := nodeUpKey(poolID, n.ID)
	if _, err := tx.Get(tableNodesUp, key); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return putJSON(tx, tableNodesUp, key, batch.NodeUp{Since: at, Cores: max(cores, 1), Dedicated: n.IsDedicated, VMSize: n.VMSize}, store.AnyVersion)
}

// markNodeDown records in tx that a node of a pool is down from at: its core time since it came
// up goes to its pool's hourly records and to the lifetime record. A node that is not up
// changes nothing.
func markNodeDown(tx store.Tx, poolID, nodeID string, at time.Time) error {
	key := nodeUpKey(poolID, nodeID)
	var up batch.NodeUp
	if err := getJSON(tx, tableNodesUp, key, &up); errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	var total batch.CoreTime
	for _, c := range up.Until(at) {
		k := usageKey(c.Start, poolID)
		u := poolUsage{PoolID: poolID, VMSize: up.VMSize}
		if err := getJSON(tx, tableUsage, k, &u); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		u.CoreTime = u.CoreTime.Add(c.CoreTime)
		if err := putJSON(tx, tableUsage, k, u, store.AnyVersion); err != nil {
			return err
		}
		total = total.Add(c.CoreTime)
	}
	var life poolLifetime
	if err := getJSON(tx, tableStats, statsPoolsKey, &life); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if life.Since.IsZero() || up.Since.Before(life.Since) {
		life.Since = up.Since
	}
	life.CoreTime = life.CoreTime.Add(total)
	if err := putJSON(tx, tableStats, statsPoolsKey, life, store.AnyVersion); err != nil {
		return err
	}
	return tx.Delete(tableNodesUp, key, store.AnyVersion)
}

// poolUsageView is the pools' usage as the store has it at one time: hourly records by key
// (tableUsage's), with the nodes still up counted to that time, and the lifetime total.
type poolUsageView struct {
	hours map[string]poolUsage
	life  poolLifetime
}

// readUsage reads the pools' usage in tx, counting the nodes up until now, for the intervals
// that start in [from, to) (all of them for zero times).
func readUsage(tx store.Tx, from, to, now time.Time) (poolUsageView, error) {
	v := poolUsageView{hours: map[string]poolUsage{}}
	if err := getJSON(tx, tableStats, statsPoolsKey, &v.life); err != nil && !errors.Is(err, store.ErrNotFound) {
		return v, err
	}
	inRange := func(start time.Time) bool {
		return (from.IsZero() || !start.Before(from)) && (to.IsZero() || start.Before(to))
	}
	start := ""
	if !from.IsZero() {
		start = from.UTC().Format(usageHourFormat)
	}
	rs, err := tx.List(tableUsage, "", start, 0)
	if err != nil {
		return v, fmt.Errorf("list pool usage: %w", err)
	}
	for _, r := range rs {
		hour, _, _ := strings.Cut(r.Key, "/")
		t, err := time.Parse(usageHourFormat, hour)
		if err != nil {
			return v, fmt.Errorf("pool usage key %s: %w", r.Key, err)
		}
		if !inRange(t) {
			if !to.IsZero() && !t.Before(to) {
				break
			}
			continue
		}
		var u poolUsage
		if err := json.Unmarshal(r.Value, &u); err != nil {
			return v, fmt.Errorf("decode pool usage %s: %w", r.Key, err)
		}
		v.hours[r.Key] = u
	}
	ups, err := tx.List(tableNodesUp, "", "", 0)
	if err != nil {
		return v, fmt.Errorf("list nodes up: %w", err)
	}
	for _, r := range ups {
		var up batch.NodeUp
		if err := json.Unmarshal(r.Value, &up); err != nil {
			return v, fmt.Errorf("decode node up %s: %w", r.Key, err)
		}
		poolKey, _, _ := strings.Cut(r.Key, "/")
		poolID, err := poolIDOf(tx, poolKey)
		if err != nil {
			return v, err
		}
		if v.life.Since.IsZero() || up.Since.Before(v.life.Since) {
			v.life.Since = up.Since
		}
		for _, c := range up.Until(now) {
			v.life.CoreTime = v.life.CoreTime.Add(c.CoreTime)
			if !inRange(c.Start) {
				continue
			}
			k := usageKey(c.Start, poolID)
			u, ok := v.hours[k]
			if !ok {
				u = poolUsage{PoolID: poolID, VMSize: up.VMSize}
			}
			u.CoreTime = u.CoreTime.Add(c.CoreTime)
			v.hours[k] = u
		}
	}
	return v, nil
}

// poolIDOf returns the id of the pool whose key is poolKey, as its record spells it (the key
// folds case).
func poolIDOf(tx store.Tx, poolKey string) (string, error) {
	var pr poolRecord
	err := getJSON(tx, tablePools, poolKey, &pr)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return poolKey, nil // a node up outlives its pool's record only inside a deletion's transaction
	case err != nil:
		return "", err
	}
	return pr.Pool.ID, nil
}

// PoolUsageMetrics is Pool - List Usage Metrics: each pool's core hours in each aggregation
// interval (batch.UsageInterval) that starts in [from, to), in the order of the intervals'
// starts and then of pool ids, counted at now: the interval that holds now counts to now. A
// pool is listed for the intervals in which it had nodes up.
func PoolUsageMetrics(ctx context.Context, st store.Store, from, to, now time.Time) ([]batch.PoolUsageMetrics, error) {
	var v poolUsageView
	err := st.View(ctx, func(tx store.Tx) error {
		var err error
		v, err = readUsage(tx, from, to, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(v.hours))
	for k := range v.hours {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]batch.PoolUsageMetrics, 0, len(keys))
	for _, k := range keys {
		u := v.hours[k]
		hour, _, _ := strings.Cut(k, "/")
		start, err := time.Parse(usageHourFormat, hour)
		if err != nil {
			return nil, fmt.Errorf("pool usage key %s: %w", k, err)
		}
		out = append(out, batch.PoolUsageMetrics{PoolID: u.PoolID, StartTime: start, EndTime: start.Add(batch.UsageInterval),
			VMSize: u.VMSize, TotalCoreHours: u.Total.Hours()})
	}
	return out, nil
}

// LifetimePoolStatistics is Pool - Get All Lifetime Statistics: the core time of every node of
// every pool the account has had, from when the first came up (now if none has) to now. Its
// resource statistics hold no measurements (batch.ResourceStatistics).
func LifetimePoolStatistics(ctx context.Context, st store.Store, now time.Time) (batch.PoolStatistics, error) {
	var v poolUsageView
	err := st.View(ctx, func(tx store.Tx) error {
		var err error
		v, err = readUsage(tx, now, now, now) // no interval: the lifetime total only
		return err
	})
	if err != nil {
		return batch.PoolStatistics{}, err
	}
	since := v.life.Since
	if since.IsZero() || since.After(now) {
		since = now
	}
	return batch.PoolStatistics{
		StartTime: since, LastUpdateTime: now,
		UsageStats:    &batch.UsageStatistics{StartTime: since, LastUpdateTime: now, DedicatedCoreTime: batch.Duration(v.life.Dedicated)},
		ResourceStats: &batch.ResourceStatistics{StartTime: since, LastUpdateTime: now},
	}, nil
}

// putNodeUsage writes a node's record, as putNode does, and in the same transaction records
// the node up (with its cores) or down for its pool's usage from the node's state transition
// time (the change being written); once written, it announces NodeUsage.
func (p *poolManager) putNodeUsage(ctx *actor.Context, n batch.Node, up bool, cores int) error {
	now := n.StateTransitionTime
	if now.IsZero() {
		now = ctx.Now()
	}
	err := p.st.Update(context.Background(), func(tx store.Tx) error {
		if err := putJSON(tx, tableNodes, batch.IDKey(p.poolID)+"/"+n.ID, n, store.AnyVersion); err != nil {
			return err
		}
		if up {
			return markNodeUp(tx, p.poolID, n, cores, now)
		}
		return markNodeDown(tx, p.poolID, n.ID, now)
	})
	if err == nil {
		ctx.Announce(NodeUsage{PoolID: p.poolID, NodeID: n.ID, Up: up, At: now, Cores: max(cores, 1), Dedicated: n.IsDedicated})
	}
	return err
}

// PoolStats is the statistics of each of pools (by id) for Pool - Get and Pool - List with
// $expand=stats: the core time of the pool's dedicated nodes, from the hour of its creation (a
// pool id deleted and added again within that hour shares it) to now, counted at now. Their
// resource statistics hold no measurements (batch.ResourceStatistics).
func PoolStats(ctx context.Context, st store.Store, pools []batch.Pool, now time.Time) (map[string]batch.PoolStatistics, error) {
	var v poolUsageView
	err := st.View(ctx, func(tx store.Tx) error {
		var err error
		v, err = readUsage(tx, time.Time{}, time.Time{}, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]batch.PoolStatistics, len(pools))
	for _, p := range pools {
		since := p.CreationTime
		if since.IsZero() || since.After(now) {
			since = now
		}
		first := since.UTC().Truncate(time.Hour).Format(usageHourFormat)
		var dedicated time.Duration
		for _, k := range sortedKeys(v.hours) {
			hour, pool, _ := strings.Cut(k, "/")
			if pool == batch.IDKey(p.ID) && hour >= first {
				dedicated += v.hours[k].Dedicated
			}
		}
		out[p.ID] = batch.PoolStatistics{StartTime: since, LastUpdateTime: now,
			UsageStats:    &batch.UsageStatistics{StartTime: since, LastUpdateTime: now, DedicatedCoreTime: batch.Duration(dedicated)},
			ResourceStats: &batch.ResourceStatistics{StartTime: since, LastUpdateTime: now}}
	}
	return out, nil
}
