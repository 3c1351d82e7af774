package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"corral/batch"
)

// The pool verbs beyond create/show/resize: autoscale, evaluate, remove-nodes, history and counts
// (Azure's Pool - Enable/Disable/Evaluate AutoScale, Pool - Remove Nodes and Account - List Pool
// Node Counts, and Corral's pool history).

// maxRemoveNodes is how many nodes one `pool remove-nodes` may name (Azure's limit per request).
const maxRemoveNodes = 100

var poolAutoscaleSpec = verbSpec{
	name:     "pool autoscale",
	synopsis: "ID (--formula F | --formula-file PATH) [--interval DUR] | ID --disable",
	summary:  "Make a pool size itself by an autoscale formula, or stop it doing so.",
	help: `The formula is Azure Batch's autoscale language: it sets $TargetDedicatedNodes,
$TargetLowPriorityNodes and $NodeDeallocationOption from the pool's samples ($PendingTasks,
$ActiveTasks, $RunningTasks, $CPUPercent…) and time. For example:

  $TargetDedicatedNodes = min(10, $PendingTasks.GetSample(1));

The formula is evaluated at once, then every --interval (at least 5m unless the server says
otherwise; default 15m, Azure's). On a pool that autoscales already, --formula or --interval
alone replaces that one and keeps the other. Try a formula without applying it with:
corral pool evaluate ID --formula F

--disable stops autoscaling: the pool keeps the targets and nodes it has, and can be resized by
hand again (corral pool resize). A pool that is resizing cannot start to autoscale.`,
}

// poolAutoscaleOptions are the options of `corral pool autoscale`.
type poolAutoscaleOptions struct {
	Conn        connOptions
	ID          string
	Formula     string        // --formula
	FormulaFile string        // --formula-file, read when the verb runs
	Interval    time.Duration // 0: keep the pool's interval (or the server's default, 15m)
	Disable     bool
}

// formulaFlags are --formula and --formula-file, which `pool autoscale` and `pool evaluate` share.
type formulaFlags struct {
	formula, file *string
}

func registerFormula(fs *flag.FlagSet, what string) formulaFlags {
	return formulaFlags{
		formula: fs.String("formula", "", "the autoscale formula "+what),
		file:    fs.String("formula-file", "", "a file that holds the autoscale formula "+what),
	}
}

// get returns the formula text and file given, checked: not both, and not empty.
func (f formulaFlags) get(given map[string]bool) (formula, file string, err error) {
	switch {
	case given["formula"] && given["formula-file"]:
		return "", "", usagef("give --formula or --formula-file, not both")
	case given["formula"] && strings.TrimSpace(*f.formula) == "":
		return "", "", usagef("--formula is empty")
	case given["formula-file"] && *f.file == "":
		return "", "", usagef("--formula-file needs a path")
	}
	return *f.formula, *f.file, nil
}

// flagsGiven returns the names of the flags set on the command line.
func flagsGiven(fs *flag.FlagSet) map[string]bool {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	return given
}

func parsePoolAutoscale(fs *flag.FlagSet, args []string, getenv func(string) string) (*poolAutoscaleOptions, error) {
	o := &poolAutoscaleOptions{}
	o.Conn.register(fs)
	ff := registerFormula(fs, "(see --help)")
	interval := fs.String("interval", "", "how often the formula is evaluated, as 15m or PT15M (default: the pool's, else 15m)")
	fs.BoolVar(&o.Disable, "disable", false, "stop autoscaling: the pool keeps the nodes it has")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if o.ID, err = poolIDArg(pos); err != nil {
		return nil, err
	}
	given := flagsGiven(fs)
	if o.Disable {
		for _, f := range []string{"formula", "formula-file", "interval"} {
			if given[f] {
				return nil, usagef("--disable takes no --%s", f)
			}
		}
		return o, o.Conn.resolve(getenv)
	}
	if o.Formula, o.FormulaFile, err = ff.get(given); err != nil {
		return nil, err
	}
	if !given["formula"] && !given["formula-file"] && !given["interval"] {
		return nil, usagef("give --formula F or --formula-file PATH (or --disable)")
	}
	if given["interval"] {
		if o.Interval, err = parseInterval(*interval); err != nil {
			return nil, err
		}
	}
	return o, o.Conn.resolve(getenv)
}

// parseInterval reads --interval: a Go duration ("15m") or an ISO 8601 one ("PT15M"), positive.
// Its bounds are the server's to check (5 minutes to 168 hours by default; a server started with
// --autoscale-min-interval allows shorter).
func parseInterval(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if strings.HasPrefix(strings.TrimPrefix(s, "-"), "P") {
		d, err = batch.ParseDuration(s)
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil {
		return 0, usagef("--interval %q: want a duration such as 15m or PT15M", s)
	}
	if d <= 0 {
		return 0, usagef("--interval %s: want a positive duration", s)
	}
	return d, nil
}

// readFormula returns the formula given on the command line, or read from its file.
func readFormula(formula, file string) (string, error) {
	if file == "" {
		return formula, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("read the formula file: %w", err)
	}
	if strings.TrimSpace(string(b)) == "" {
		return "", fmt.Errorf("the formula file %s is empty", file)
	}
	return string(b), nil
}

// enableAutoScaleBody is the body of Pool - Enable AutoScale (Azure's
// PoolEnableAutoScaleParameter); a property left out keeps the pool's.
type enableAutoScaleBody struct {
	AutoScaleFormula            string `json:"autoScaleFormula,omitempty"`
	AutoScaleEvaluationInterval string `json:"autoScaleEvaluationInterval,omitempty"`
}

func poolAutoscaleRun(ctx context.Context, o *poolAutoscaleOptions, s *streams) error {
	c, err := newClient(o.Conn)
	if err != nil {
		return err
	}
	if o.Disable {
		if err := c.do(ctx, http.MethodPost, "/pools/"+o.ID+"/disableautoscale", nil, nil); err != nil {
			return fmt.Errorf("disable autoscale on pool %s: %w", o.ID, err)
		}
		fmt.Fprintf(s.Out, "pool %s no longer autoscales: it keeps the nodes it has (resize it with: corral pool resize %s --dedicated N)\n", o.ID, o.ID)
		return nil
	}
	formula, err := readFormula(o.Formula, o.FormulaFile)
	if err != nil {
		return err
	}
	body := enableAutoScaleBody{AutoScaleFormula: formula}
	if o.Interval > 0 {
		body.AutoScaleEvaluationInterval = batch.FormatDuration(o.Interval)
	}
	if err := c.do(ctx, http.MethodPost, "/pools/"+o.ID+"/enableautoscale", body, nil); err != nil {
		switch errCode(err) {
		case "PoolBeingResized":
			return fmt.Errorf("pool %s is resizing: it can autoscale once it is steady (corral pool show %s), or stop the resize (corral pool stop-resize %s)", o.ID, o.ID, o.ID)
		case "MissingRequiredProperty":
			return fmt.Errorf("pool %s does not autoscale yet: give its formula with --formula or --formula-file", o.ID)
		case "AutoScalingFormulaSyntaxError", "AutoScaleFormulaTooLong":
			return fmt.Errorf("pool %s: the formula is not valid: %s", o.ID, errMessage(err))
		}
		return fmt.Errorf("enable autoscale on pool %s: %w", o.ID, err)
	}
	// The formula was evaluated at once: show what it gave.
	var p batch.Pool
	if err := c.get(ctx, "/pools/"+o.ID, &p); err != nil {
		return fmt.Errorf("autoscale is enabled, but pool %s could not be read back: %w", o.ID, err)
	}
	every := "15m"
	if p.AutoScaleEvaluationInterval != nil {
		every = shortDuration(p.AutoScaleEvaluationInterval.Std())
	}
	fmt.Fprintf(s.Out, "pool %s autoscales: its formula is evaluated every %s\n", o.ID, every)
	if run := p.AutoScaleRun; run != nil {
		writeRun(s.Out, *run, "  ")
	}
	fmt.Fprintf(s.Out, "(follow it with: corral pool show %s; its history: corral pool history %s)\n", o.ID, o.ID)
	return nil
}

// shortDuration writes d as Go does, without the zero units Go leaves at the end ("15m", not
// "15m0s").
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// writeRun writes an evaluation's results, one name=value per line, and its error.
func writeRun(w io.Writer, run batch.AutoScaleRun, indent string) {
	for _, r := range runResults(run.Results) {
		fmt.Fprintf(w, "%s%s\n", indent, r)
	}
	if e := run.Error; e != nil {
		fmt.Fprintf(w, "%serror: %s\n", indent, runError(*e))
	}
}

// runResults splits an AutoScaleRun's results ("$TargetDedicatedNodes=1;$NodeDeallocationOption=requeue;n=1")
// into its name=value pairs.
func runResults(results string) []string {
	var out []string
	for _, r := range strings.Split(results, ";") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// runError writes an evaluation error on one line: its code, message and details.
func runError(e batch.AutoScaleRunError) string {
	var b strings.Builder
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	for _, v := range e.Values {
		fmt.Fprintf(&b, " (%s: %s)", v.Name, v.Value)
	}
	return b.String()
}

// errMessage returns the server's message of an API error, or err's text.
func errMessage(err error) string {
	var ae *apiError
	if errors.As(err, &ae) && ae.Message != "" {
		return ae.Message
	}
	return err.Error()
}

var poolEvaluateSpec = verbSpec{
	name:     "pool evaluate",
	synopsis: "ID (--formula F | --formula-file PATH)",
	summary:  "Evaluate an autoscale formula against a pool now, without applying it.",
	help: `Prints what the formula sets, one name=value per line ($TargetDedicatedNodes,
$TargetLowPriorityNodes, $NodeDeallocationOption and the formula's own variables), or why it
failed (exit code 1). As in Azure Batch, the pool must autoscale already (corral pool autoscale).`,
}

// poolEvaluateOptions are the options of `corral pool evaluate`.
type poolEvaluateOptions struct {
	Conn        connOptions
	ID          string
	Formula     string
	FormulaFile string
}

func parsePoolEvaluate(fs *flag.FlagSet, args []string, getenv func(string) string) (*poolEvaluateOptions, error) {
	o := &poolEvaluateOptions{}
	o.Conn.register(fs)
	ff := registerFormula(fs, "to evaluate")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if o.ID, err = poolIDArg(pos); err != nil {
		return nil, err
	}
	given := flagsGiven(fs)
	if o.Formula, o.FormulaFile, err = ff.get(given); err != nil {
		return nil, err
	}
	if !given["formula"] && !given["formula-file"] {
		return nil, usagef("give --formula F or --formula-file PATH")
	}
	return o, o.Conn.resolve(getenv)
}

func poolEvaluateRun(ctx context.Context, o *poolEvaluateOptions, s *streams) error {
	c, err := newClient(o.Conn)
	if err != nil {
		return err
	}
	formula, err := readFormula(o.Formula, o.FormulaFile)
	if err != nil {
		return err
	}
	var run batch.AutoScaleRun
	if err := c.do(ctx, http.MethodPost, "/pools/"+o.ID+"/evaluateautoscale", map[string]string{"autoScaleFormula": formula}, &run); err != nil {
		switch errCode(err) {
		case "AutoScaleNotEnabled":
			return fmt.Errorf("pool %s does not autoscale, and a formula is evaluated only on a pool that does: enable it first with: corral pool autoscale %s --formula F", o.ID, o.ID)
		case "AutoScalingFormulaSyntaxError", "AutoScaleFormulaTooLong":
			return fmt.Errorf("the formula is not valid: %s", errMessage(err))
		}
		return fmt.Errorf("evaluate a formula on pool %s: %w", o.ID, err)
	}
	for _, r := range runResults(run.Results) {
		fmt.Fprintln(s.Out, r)
	}
	if run.Error != nil {
		return &exitError{code: 1, msg: "the formula failed: " + runError(*run.Error)}
	}
	return nil
}

var poolRemoveNodesSpec = verbSpec{
	name:     "pool remove-nodes",
	synopsis: "ID NODE... [--timeout DUR] [--deallocation OPTION]",
	summary:  "Remove the named nodes from a pool; its targets drop by as many.",
	help: `The pool must be steady; it is "resizing" until the nodes are gone. Up to 100 nodes at once.
--timeout and --deallocation are as for corral pool resize (--help there): what happens to the
tasks running on the nodes removed, and how long the removal may take.`,
}

// poolRemoveNodesOptions are the options of `corral pool remove-nodes`.
type poolRemoveNodesOptions struct {
	Conn         connOptions
	ID           string
	Nodes        []string
	Timeout      time.Duration                // 0: the server's default (15 minutes)
	Deallocation batch.NodeDeallocationOption // empty: the server's default (requeue)
}

func parsePoolRemoveNodes(fs *flag.FlagSet, args []string, getenv func(string) string) (*poolRemoveNodesOptions, error) {
	o := &poolRemoveNodesOptions{}
	o.Conn.register(fs)
	timeout := fs.String("timeout", "", "how long the removal may take, as 20m or PT20M (at least 5m; default 15m)")
	dealloc := fs.String("deallocation", "", "what happens to tasks on removed nodes: requeue, terminate, taskcompletion or retaineddata (default requeue)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	switch {
	case len(pos) == 0:
		return nil, usagef("missing the pool id and the nodes to remove")
	case len(pos) == 1:
		return nil, usagef("missing the nodes to remove")
	case len(pos)-1 > maxRemoveNodes:
		return nil, usagef("%d nodes: remove at most %d at once", len(pos)-1, maxRemoveNodes)
	}
	if o.ID, err = poolIDArg(pos[:1]); err != nil {
		return nil, err
	}
	for _, n := range pos[1:] {
		if !batch.ValidID(n) {
			return nil, usagef("node id %q: use 1 to 64 letters, digits, '-' and '_'", n)
		}
	}
	o.Nodes = pos[1:]
	if o.Timeout, o.Deallocation, err = parseShrinkFlags(*timeout, *dealloc); err != nil {
		return nil, err
	}
	return o, o.Conn.resolve(getenv)
}

// removeNodesBody is the body of Pool - Remove Nodes (Azure's NodeRemoveParameter).
type removeNodesBody struct {
	NodeList               []string                     `json:"nodeList"`
	ResizeTimeout          string                       `json:"resizeTimeout,omitempty"`
	NodeDeallocationOption batch.NodeDeallocationOption `json:"nodeDeallocationOption,omitempty"`
}

func poolRemoveNodesRun(ctx context.Context, o *poolRemoveNodesOptions, s *streams) error {
	c, err := newClient(o.Conn)
	if err != nil {
		return err
	}
	body := removeNodesBody{NodeList: o.Nodes, NodeDeallocationOption: o.Deallocation}
	if o.Timeout > 0 {
		body.ResizeTimeout = batch.FormatDuration(o.Timeout)
	}
	if err := c.do(ctx, http.MethodPost, "/pools/"+o.ID+"/removenodes", body, nil); err != nil {
		switch errCode(err) {
		case "PoolBeingResized":
			return fmt.Errorf("pool %s is resizing: nodes can be removed once it is steady (corral pool show %s)", o.ID, o.ID)
		case "NodeNotFound":
			return fmt.Errorf("pool %s: %s (see its nodes with: corral pool show %s)", o.ID, errMessage(err), o.ID)
		}
		return fmt.Errorf("remove nodes from pool %s: %w", o.ID, err)
	}
	fmt.Fprintf(s.Out, "removing %d %s from pool %s: %s (follow it with: corral pool show %s)\n",
		len(o.Nodes), plural(len(o.Nodes), "node", "nodes"), o.ID, strings.Join(o.Nodes, ", "), o.ID)
	return nil
}

var poolHistorySpec = verbSpec{
	name:     "pool history",
	synopsis: "ID [--json]",
	summary:  "Show what changed a pool's size or targets, and why: resizes, autoscale, preemptions.",
	help: `One line per event, oldest first (the last 100 are kept): when, what, the targets after it
(dedicated/low-priority), the nodes concerned, and a message, the formula's results or its error.`,
}

// poolHistoryOptions are the options of `corral pool history` (see poolIDOptions).
type poolHistoryOptions = poolIDOptions

var parsePoolHistory = parsePoolID("print the history as JSON")

func poolHistoryRun(ctx context.Context, o *poolHistoryOptions, s *streams) error {
	c, err := newClient(o.Conn)
	if err != nil {
		return err
	}
	var h struct {
		Value []batch.PoolEvent `json:"value"`
	}
	if err := c.get(ctx, "/pools/"+o.ID+"/history", &h); err != nil {
		if errCode(err) == "PoolNotFound" {
			return fmt.Errorf("pool %s does not exist (see the pools with: corral pool list)", o.ID)
		}
		return fmt.Errorf("read pool %s's history: %w", o.ID, err)
	}
	if o.JSON {
		if h.Value == nil {
			h.Value = []batch.PoolEvent{}
		}
		return writeJSON(s.Out, h.Value)
	}
	if len(h.Value) == 0 {
		fmt.Fprintf(s.Err, "pool %s has no history yet\n", o.ID)
		return nil
	}
	writeHistory(s.Out, h.Value)
	return nil
}

// writeHistory writes a pool's history as a table.
func writeHistory(w io.Writer, events []batch.PoolEvent) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tEVENT\tTARGETS\tNODES\tDETAIL")
	for _, ev := range events {
		nodes := "-"
		if len(ev.NodeIDs) > 0 {
			nodes = strings.Join(ev.NodeIDs, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%s\t%s\n", ev.Timestamp.Local().Format("2006-01-02 15:04:05"), ev.Kind,
			ev.TargetDedicatedNodes, ev.TargetLowPriorityNodes, nodes, eventDetail(ev))
	}
	tw.Flush()
}

// eventDetail is the last column of a history line: the error, else the message and the
// formula's results.
func eventDetail(ev batch.PoolEvent) string {
	if ev.Error != nil {
		return "error " + runError(*ev.Error)
	}
	var parts []string
	if ev.Message != "" {
		parts = append(parts, ev.Message)
	}
	if r := runResults(ev.Results); len(r) > 0 {
		parts = append(parts, strings.Join(r, " "))
	}
	return strings.Join(parts, "; ")
}

var poolCountsSpec = verbSpec{
	name:     "pool counts",
	synopsis: "[--json]",
	summary:  "Count every pool's nodes by kind (dedicated, low-priority) and state.",
}

// poolCountsOptions are the options of a listing verb (see listOptions).
type poolCountsOptions = listOptions

var parsePoolCounts = parseList("print the counts as JSON (Azure's PoolNodeCounts shape)")

func poolCountsRun(ctx context.Context, o *poolCountsOptions, s *streams) error {
	c, err := newClient(o.Conn)
	if err != nil {
		return err
	}
	counts, err := list[batch.PoolNodeCounts](ctx, c, "/nodecounts")
	if err != nil {
		return fmt.Errorf("count the pools' nodes: %w", err)
	}
	if o.JSON {
		if counts == nil {
			counts = []batch.PoolNodeCounts{}
		}
		return writeJSON(s.Out, counts)
	}
	if len(counts) == 0 {
		fmt.Fprintln(s.Err, "no pools (create one with: corral pool create ID --nodes N --slots S)")
		return nil
	}
	writeCounts(s.Out, counts)
	return nil
}

// writeCounts writes node counts as a table: a line per pool and kind of node it has (one line
// for a pool without nodes), with the states that have nodes.
func writeCounts(w io.Writer, counts []batch.PoolNodeCounts) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POOL\tKIND\tNODES\tSTATES")
	for _, pc := range counts {
		if pc.Dedicated.Total == 0 && pc.LowPriority.Total == 0 {
			fmt.Fprintf(tw, "%s\t-\t0\t\n", pc.PoolID)
			continue
		}
		for _, k := range []struct {
			kind string
			c    batch.NodeCounts
		}{{"dedicated", pc.Dedicated}, {"low-priority", pc.LowPriority}} {
			if k.c.Total == 0 {
				continue
			}
			var states []string
			for _, sc := range k.c.NonZero() {
				states = append(states, fmt.Sprintf("%s=%d", sc.State, sc.Count))
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", pc.PoolID, k.kind, k.c.Total, strings.Join(states, " "))
		}
	}
	tw.Flush()
}
