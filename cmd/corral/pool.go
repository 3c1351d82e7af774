package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"

	"corral/batch"
)

// localVMSize is the vmSize the CLI gives the pools it creates. Azure requires a vmSize; Corral's
// local provider ignores it (a node is a process, not a machine with a size).
const localVMSize = "local"

var poolGroup = group{
	name:    "pool",
	summary: "Pools are the nodes that run tasks; with `corral server`'s local provider a node is a\nnode-agent process on the server's machine.",
	verbs: []groupVerb{
		verb(poolCreateSpec, parsePoolCreate, poolCreateRun),
		verb(poolListSpec, parsePoolList, poolListRun),
		verb(poolShowSpec, parsePoolShow, poolShowRun),
		verb(poolResizeSpec, parsePoolResize, poolResizeRun),
		verb(poolStopResizeSpec, parsePoolStopResize, poolStopResizeRun),
		verb(poolAutoscaleSpec, parsePoolAutoscale, poolAutoscaleRun),
		verb(poolEvaluateSpec, parsePoolEvaluate, poolEvaluateRun),
		verb(poolRemoveNodesSpec, parsePoolRemoveNodes, poolRemoveNodesRun),
		verb(poolHistorySpec, parsePoolHistory, poolHistoryRun),
		verb(poolCountsSpec, parsePoolCounts, poolCountsRun),
		verb(poolJoinTokenSpec, parsePoolJoinToken, poolJoinTokenRun),
		verb(poolMachinesSpec, parsePoolMachines, poolMachinesRun),
	},
}

var poolCreateSpec = verbSpec{
	name:     "pool create",
	synopsis: "ID [--nodes N] [--slots S] [--fill spread|pack]",
	summary:  "Create a pool of N nodes, each running up to S task slots at once.",
	help: `A task takes requiredSlots slots (1 unless its job file says otherwise) on one node. With
--fill spread (the default) tasks go to the node with the most free slots; with pack, to a node
that already runs tasks, filling it before the next.`,
}

// poolCreateOptions are the options of `corral pool create`.
type poolCreateOptions struct {
	Conn  connOptions
	ID    string
	Nodes int
	Slots int
	Fill  batch.NodeFillType // empty: the server's default (spread)
}

func parsePoolCreate(fs *flag.FlagSet, args []string, getenv func(string) string) (*poolCreateOptions, error) {
	o := &poolCreateOptions{}
	o.Conn.register(fs)
	fs.IntVar(&o.Nodes, "nodes", 1, "number of nodes")
	fs.IntVar(&o.Slots, "slots", 1, "task slots per node (1 to 256)")
	fill := fs.String("fill", "", "how tasks are distributed over nodes: spread or pack (default spread)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if o.ID, err = oneArg(pos, "the pool id"); err != nil {
		return nil, err
	}
	if !batch.ValidID(o.ID) {
		return nil, usagef("pool id %q: use 1 to 64 letters, digits, '-' and '_'", o.ID)
	}
	if o.Nodes < 0 || o.Nodes > maxNodes {
		return nil, usagef("--nodes %d: want 0 to %d", o.Nodes, maxNodes)
	}
	if o.Slots < 1 || o.Slots > batch.MaxTaskSlotsPerNode {
		return nil, usagef("--slots %d: want 1 to %d", o.Slots, batch.MaxTaskSlotsPerNode)
	}
	switch f := batch.NodeFillType(*fill); f {
	case "":
	case batch.FillSpread, batch.FillPack:
		o.Fill = f
	default:
		return nil, usagef("--fill %q: want spread or pack", *fill)
	}
	return o, o.Conn.resolve(getenv)
}

// newPool is the pool `corral pool create` and `corral run` add.
func newPool(id string, nodes, slots int, fill batch.NodeFillType) batch.Pool {
	p := batch.Pool{
		ID:                   id,
		VMSize:               localVMSize,
		TargetDedicatedNodes: batch.Ptr(int32(nodes)),
		TaskSlotsPerNode:     batch.Ptr(int32(slots)),
	}
	if fill != "" {
		p.TaskSchedulingPolicy = &batch.TaskSchedulingPolicy{NodeFillType: fill}
	}
	return p
}

func poolCreateRun(ctx context.Context, o *poolCreateOptions, s *streams) error {
	c, err := newClient(o.Conn)
	if err != nil {
		return err
	}
	p := newPool(o.ID, o.Nodes, o.Slots, o.Fill)
	if err := c.do(ctx, http.MethodPost, "/pools", p, nil); err != nil {
		if errCode(err) == "PoolExists" {
			return fmt.Errorf("pool %s exists already (see it with: corral pool show %s)", o.ID, o.ID)
		}
		return err
	}
	fmt.Fprintf(s.Out, "created pool %s: %d %s of %d %s (%s)\n", o.ID, o.Nodes, plural(o.Nodes, "node", "nodes"),
		o.Slots, plural(o.Slots, "slot", "slots"), p.FillType())
	return nil
}

var poolListSpec = verbSpec{
	name:     "pool list",
	synopsis: "[--json]",
	summary:  "List the pools.",
}

// poolListOptions are the options of a listing verb (see listOptions).
type poolListOptions = listOptions

var parsePoolList = parseList("print the pools as JSON (Azure's CloudPool shape)")

func poolListRun(ctx context.Context, o *poolListOptions, s *streams) error {
	c, err := newClient(o.Conn)
	if err != nil {
		return err
	}
	pools, err := list[batch.Pool](ctx, c, "/pools")
	if err != nil {
		return err
	}
	if o.JSON {
		return writeJSON(s.Out, pools)
	}
	if len(pools) == 0 {
		fmt.Fprintln(s.Err, "no pools (create one with: corral pool create ID --nodes N --slots S)")
		return nil
	}
	tw := tabwriter.NewWriter(s.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tALLOCATION\tNODES\tSLOTS/NODE\tFILL")
	for _, p := range pools {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", p.ID, p.State, p.AllocationState, nodeCount(p), p.SlotsPerNode(), p.FillType())
	}
	return tw.Flush()
}

// nodeCount is "current/target" dedicated nodes.
func nodeCount(p batch.Pool) string {
	ded := fmt.Sprintf("%d/%d", deref(p.CurrentDedicatedNodes), deref(p.TargetDedicatedNodes))
	if deref(p.CurrentLowPriorityNodes) == 0 && deref(p.TargetLowPriorityNodes) == 0 {
		return ded
	}
	return fmt.Sprintf("%s dedicated + %d/%d low-priority", ded, deref(p.CurrentLowPriorityNodes), deref(p.TargetLowPriorityNodes))
}

var poolShowSpec = verbSpec{
	name:     "pool show",
	synopsis: "ID [--json]",
	summary:  "Show a pool and its nodes.",
}

// poolShowOptions are the options of `corral pool show`.
type poolShowOptions struct {
	Conn connOptions
	ID   string
	JSON bool
}

func parsePoolShow(fs *flag.FlagSet, args []string, getenv func(string) string) (*poolShowOptions, error) {
	o := &poolShowOptions{}
	o.Conn.register(fs)
	fs.BoolVar(&o.JSON, "json", false, `print {"pool": …, "nodes": […]} as JSON (Azure's shapes)`)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if o.ID, err = oneArg(pos, "the pool id"); err != nil {
		return nil, err
	}
	return o, o.Conn.resolve(getenv)
}

func poolShowRun(ctx context.Context, o *poolShowOptions, s *streams) error {
	c, err := newClient(o.Conn)
	if err != nil {
		return err
	}
	var p batch.Pool
	if err := c.get(ctx, "/pools/"+o.ID, &p); err != nil {
		return err
	}
	nodes, err := list[batch.Node](ctx, c, "/pools/"+o.ID+"/nodes")
	if err != nil {
		return err
	}
	if o.JSON {
		return writeJSON(s.Out, struct {
			Pool  batch.Pool   `json:"pool"`
			Nodes []batch.Node `json:"nodes"`
		}{p, nodes})
	}
	writePool(s.Out, p, nodes)
	return nil
}

// writePool writes a pool and its nodes for people.
func writePool(w io.Writer, p batch.Pool, nodes []batch.Node) {
	fmt.Fprintf(w, "pool %s: %s, allocation %s\n", p.ID, p.State, p.AllocationState)
	fmt.Fprintf(w, "  nodes:        %s (current/target)\n", nodeCount(p))
	fmt.Fprintf(w, "  slots/node:   %d\n", p.SlotsPerNode())
	fmt.Fprintf(w, "  fill:         %s\n", p.FillType())
	if p.VMSize != "" {
		fmt.Fprintf(w, "  vmSize:       %s\n", p.VMSize)
	}
	if !p.CreationTime.IsZero() {
		fmt.Fprintf(w, "  created:      %s\n", p.CreationTime.Local().Format("2006-01-02 15:04:05"))
	}
	for _, e := range p.ResizeErrors {
		fmt.Fprintf(w, "  resize error: %s: %s\n", e.Code, e.Message)
	}
	if p.AutoScale() {
		every := batch.DefaultAutoScaleEvaluationInterval
		if p.AutoScaleEvaluationInterval != nil {
			every = p.AutoScaleEvaluationInterval.Std()
		}
		fmt.Fprintf(w, "  autoscale:    every %s (its runs: corral pool history %s)\n", every, p.ID)
		if r := p.AutoScaleRun; r != nil && r.Error != nil {
			fmt.Fprintf(w, "  autoscale error: %s: %s\n", r.Error.Code, r.Error.Message)
		}
	}
	if len(nodes) == 0 {
		fmt.Fprintln(w, "\nno nodes yet")
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATE\tSCHEDULING\tSLOTS BUSY\tRUNNING\tRUN\tSUCCEEDED")
	for _, n := range nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d\t%d\t%d\n", n.ID, n.State, n.SchedulingState,
			n.RunningTaskSlotsCount, p.SlotsPerNode(), n.RunningTasksCount, n.TotalTasksRun, n.TotalTasksSucceeded)
	}
	tw.Flush()
	for _, n := range nodes {
		for _, e := range n.Errors {
			fmt.Fprintf(w, "node %s: error %s: %s\n", n.ID, e.Code, e.Message)
		}
	}
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
