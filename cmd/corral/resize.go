package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"time"

	"corral/batch"
)

// maxNodes is the largest node count the CLI asks for (`pool create --nodes`, `pool resize`).
const maxNodes = 10000

var poolResizeSpec = verbSpec{
	name:     "pool resize",
	synopsis: "ID [--dedicated N] [--low-priority M] [--timeout DUR] [--deallocation OPTION]",
	summary:  "Change how many nodes a pool should have; nodes are added or removed afterwards.",
	help: `Give --dedicated, --low-priority or both; a target not given keeps the pool's current one.
The pool is "resizing" until it has its targets, then "steady" (see it with: corral pool show ID).
A pool that is resizing already, or that sizes itself by an autoscale formula, cannot be resized.

--timeout (at least 5m; default 15m, Azure's) bounds how long the resize may take; one that runs
out of time leaves the pool steady with the nodes it has, and an AllocationTimedOut resize error.
--deallocation OPTION says what happens to tasks running on nodes a shrink removes:
  requeue         stop them and run them again elsewhere; the node goes at once (the default)
  terminate       stop them; they complete as terminated and do not run again
  taskcompletion  let them finish, sending the node no new task, then remove the node
  retaineddata    as taskcompletion, and also wait until their files' retention time is over

Stop a resize with: corral pool stop-resize ID`,
}

// poolResizeOptions are the options of `corral pool resize`.
type poolResizeOptions struct {
	Conn         connOptions
	ID           string
	Dedicated    *int32                       // nil: keep the pool's target
	LowPriority  *int32                       // nil: keep the pool's target
	Timeout      time.Duration                // 0: the server's default (15 minutes)
	Deallocation batch.NodeDeallocationOption // empty: the server's default (requeue)
}

func parsePoolResize(fs *flag.FlagSet, args []string, getenv func(string) string) (*poolResizeOptions, error) {
	o := &poolResizeOptions{}
	o.Conn.register(fs)
	dedicated := fs.Int("dedicated", 0, "target number of dedicated nodes (default: the pool's current target)")
	lowPriority := fs.Int("low-priority", 0, "target number of low-priority nodes (default: the pool's current target)")
	timeout := fs.String("timeout", "", "how long the resize may take, as 20m or PT20M (at least 5m; default 15m)")
	dealloc := fs.String("deallocation", "", "what happens to tasks on removed nodes: requeue, terminate, taskcompletion or retaineddata (default requeue)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if o.ID, err = poolIDArg(pos); err != nil {
		return nil, err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if !given["dedicated"] && !given["low-priority"] {
		return nil, usagef("give --dedicated N, --low-priority M or both")
	}
	if given["dedicated"] {
		if o.Dedicated, err = nodeCountFlag("dedicated", *dedicated); err != nil {
			return nil, err
		}
	}
	if given["low-priority"] {
		if o.LowPriority, err = nodeCountFlag("low-priority", *lowPriority); err != nil {
			return nil, err
		}
	}
	if o.Timeout, o.Deallocation, err = parseShrinkFlags(*timeout, *dealloc); err != nil {
		return nil, err
	}
	return o, o.Conn.resolve(getenv)
}

// parseShrinkFlags reads --timeout and --deallocation, as pool resize and pool remove-nodes take
// them; an empty flag reads as the zero value (the service's default).
func parseShrinkFlags(timeout, dealloc string) (time.Duration, batch.NodeDeallocationOption, error) {
	var d time.Duration
	if timeout != "" {
		var err error
		if d, err = parseResizeTimeout(timeout); err != nil {
			return 0, "", err
		}
	}
	opt := batch.NodeDeallocationOption(strings.ToLower(dealloc))
	if dealloc != "" && !batch.ValidNodeDeallocationOption(opt) {
		return 0, "", usagef("--deallocation %q: want requeue, terminate, taskcompletion or retaineddata", dealloc)
	}
	return d, opt, nil
}

// poolIDArg returns the pool id a verb takes as its only argument, checked: it goes into the
// request's path.
func poolIDArg(pos []string) (string, error) {
	id, err := oneArg(pos, "the pool id")
	if err != nil {
		return "", err
	}
	if !batch.ValidID(id) {
		return "", usagef("pool id %q: use 1 to 64 letters, digits, '-' and '_'", id)
	}
	return id, nil
}

// nodeCountFlag checks the value of a node-count flag.
func nodeCountFlag(name string, n int) (*int32, error) {
	if n < 0 || n > maxNodes {
		return nil, usagef("--%s %d: want 0 to %d", name, n, maxNodes)
	}
	return batch.Ptr(int32(n)), nil
}

// parseResizeTimeout reads --timeout: a Go duration ("20m", "1h30m") or an ISO 8601 one
// ("PT20M", as Azure writes them), at least Azure's minimum of 5 minutes.
func parseResizeTimeout(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if strings.HasPrefix(strings.TrimPrefix(s, "-"), "P") {
		d, err = batch.ParseDuration(s)
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil {
		return 0, usagef("--timeout %q: want a duration such as 20m or PT20M", s)
	}
	if d < batch.MinResizeTimeout {
		return 0, usagef("--timeout %s: want at least 5m (Azure's minimum)", s)
	}
	return d, nil
}

// poolResizeBody is the body of Pool - Resize (Azure's PoolResizeParameter). Both targets are
// always sent: Corral reads a target left out as 0.
type poolResizeBody struct {
	TargetDedicatedNodes   int32                        `json:"targetDedicatedNodes"`
	TargetLowPriorityNodes int32                        `json:"targetLowPriorityNodes"`
	ResizeTimeout          string                       `json:"resizeTimeout,omitempty"`
	NodeDeallocationOption batch.NodeDeallocationOption `json:"nodeDeallocationOption,omitempty"`
}

func poolResizeRun(ctx context.Context, o *poolResizeOptions, s *streams) error {
	c, err := newClient(o.Conn)
	if err != nil {
		return err
	}
	var body poolResizeBody
	if o.Dedicated == nil || o.LowPriority == nil {
		// Keep the target not given: read it.
		var p batch.Pool
		if err := c.get(ctx, "/pools/"+o.ID, &p); err != nil {
			return fmt.Errorf("read pool %s's current targets: %w", o.ID, err)
		}
		body.TargetDedicatedNodes, body.TargetLowPriorityNodes = deref(p.TargetDedicatedNodes), deref(p.TargetLowPriorityNodes)
	}
	if o.Dedicated != nil {
		body.TargetDedicatedNodes = *o.Dedicated
	}
	if o.LowPriority != nil {
		body.TargetLowPriorityNodes = *o.LowPriority
	}
	if o.Timeout > 0 {
		body.ResizeTimeout = batch.FormatDuration(o.Timeout)
	}
	body.NodeDeallocationOption = o.Deallocation
	if err := c.do(ctx, http.MethodPost, "/pools/"+o.ID+"/resize", body, nil); err != nil {
		if errCode(err) == "PoolBeingResized" {
			return fmt.Errorf("pool %s is resizing already: wait until it is steady (corral pool show %s), or stop the resize (corral pool stop-resize %s)", o.ID, o.ID, o.ID)
		}
		return fmt.Errorf("resize pool %s: %w", o.ID, err)
	}
	fmt.Fprintf(s.Out, "resizing pool %s to %d dedicated and %d low-priority %s (follow it with: corral pool show %s)\n",
		o.ID, body.TargetDedicatedNodes, body.TargetLowPriorityNodes, plural(int(body.TargetLowPriorityNodes), "node", "nodes"), o.ID)
	return nil
}

var poolStopResizeSpec = verbSpec{
	name:     "pool stop-resize",
	synopsis: "ID",
	summary:  "Stop a pool's resize: it keeps the nodes it has, and no more come or go.",
	help: `The pool's allocation state goes to "stopping", then "steady". Stopping a pool that is not
resizing changes nothing.`,
}

// poolStopResizeOptions are the options of `corral pool stop-resize`.
type poolStopResizeOptions = poolIDOptions

var parsePoolStopResize = parsePoolID("")

func poolStopResizeRun(ctx context.Context, o *poolStopResizeOptions, s *streams) error {
	c, err := newClient(o.Conn)
	if err != nil {
		return err
	}
	if err := c.do(ctx, http.MethodPost, "/pools/"+o.ID+"/stopresize", nil, nil); err != nil {
		return fmt.Errorf("stop resizing pool %s: %w", o.ID, err)
	}
	fmt.Fprintf(s.Out, "stopping the resize of pool %s (see it with: corral pool show %s)\n", o.ID, o.ID)
	return nil
}
