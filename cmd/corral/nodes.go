package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"

	"corral/batch"
)

var nodeGroup = group{
	name:    "node",
	summary: "A node is one machine of a pool (with `corral server`, a node-agent process); see a\npool's nodes with: corral pool show ID",
	verbs: []groupVerb{
		verb(nodeEvictSpec, parseNodeEvict, nodeEvictRun),
	},
}

var nodeEvictSpec = verbSpec{
	name:     "node evict",
	synopsis: "POOL NODE",
	summary:  "Take a low-priority node away, as a spot eviction would (for development and tests).",
	help: `The node is preempted: its tasks are requeued, and the pool replaces it if its target still
asks for it. Only low-priority nodes can be evicted, and only by a server whose compute
provider can (corral server's local provider can). This is a Corral extension; Azure Batch
evicts nodes on its own schedule.`,
}

// nodeEvictOptions are the options of `corral node evict`.
type nodeEvictOptions struct {
	Conn   connOptions
	PoolID string
	NodeID string
}

func parseNodeEvict(fs *flag.FlagSet, args []string, getenv func(string) string) (*nodeEvictOptions, error) {
	o := &nodeEvictOptions{}
	o.Conn.register(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if o.PoolID, o.NodeID, err = twoArgs(pos, "the pool id", "the node id"); err != nil {
		return nil, err
	}
	if !batch.ValidID(o.PoolID) {
		return nil, usagef("pool id %q: use 1 to 64 letters, digits, '-' and '_'", o.PoolID)
	}
	if !batch.ValidID(o.NodeID) {
		return nil, usagef("node id %q: use 1 to 64 letters, digits, '-' and '_'", o.NodeID)
	}
	return o, o.Conn.resolve(getenv)
}

func nodeEvictRun(ctx context.Context, o *nodeEvictOptions, s *streams) error {
	c, err := newClient(o.Conn)
	if err != nil {
		return err
	}
	if err := c.do(ctx, http.MethodPost, "/pools/"+o.PoolID+"/nodes/"+o.NodeID+"/evict", nil, nil); err != nil {
		switch errCode(err) {
		case "NotImplemented":
			return fmt.Errorf("this server cannot evict nodes: its compute provider has no spot evictions")
		case "PoolNotFound":
			return fmt.Errorf("pool %s does not exist (see the pools with: corral pool list)", o.PoolID)
		case "NodeNotFound":
			return fmt.Errorf("pool %s has no node %s (see its nodes with: corral pool show %s)", o.PoolID, o.NodeID, o.PoolID)
		case "OperationInvalidForCurrentState":
			return fmt.Errorf("cannot evict node %s of pool %s: %s", o.NodeID, o.PoolID, errMessage(err))
		}
		return fmt.Errorf("evict node %s of pool %s: %w", o.NodeID, o.PoolID, err)
	}
	fmt.Fprintf(s.Out, "evicted node %s of pool %s, as a spot eviction would (follow the pool with: corral pool show %s)\n",
		o.NodeID, o.PoolID, o.PoolID)
	return nil
}
