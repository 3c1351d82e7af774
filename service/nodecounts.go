package service

import (
	"context"
	"encoding/json"
	"fmt"

	"corral/batch"
	"corral/store"
)

// ListPoolNodeCounts counts each pool's nodes by kind (dedicated, low-priority) and state, for
// Account - List Pool Node Counts: pools in id order, at most limit (0: all) after the pool id
// after. It reads the store in one transaction, so the counts of one pool are of one moment.
func ListPoolNodeCounts(ctx context.Context, st store.Store, after string, limit int) ([]batch.PoolNodeCounts, error) {
	var out []batch.PoolNodeCounts
	err := st.View(ctx, func(tx store.Tx) error {
		pools, err := tx.List(tablePools, "", keyAfter(after), limit)
		if err != nil {
			return fmt.Errorf("list pools: %w", err)
		}
		for _, pr := range pools {
			var rec poolRecord
			if err := json.Unmarshal(pr.Value, &rec); err != nil {
				return fmt.Errorf("decode pool %s: %w", pr.Key, err)
			}
			nodes, err := readNodes(tx, rec.Pool.ID)
			if err != nil {
				return err
			}
			out = append(out, batch.CountNodes(rec.Pool.ID, nodes))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count nodes: %w", err)
	}
	return out, nil
}
