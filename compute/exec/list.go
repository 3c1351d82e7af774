package exec

import (
	"fmt"
	"strings"

	"corral/compute"
)

// listedVM is one machine as the list program printed it.
type listedVM struct {
	dedicated bool
	mark      string // "", "preempted" or "lost"
	handle    string // the machine's handle, if the program printed it
}

// Marks the list program may put after a node's kind.
const (
	markRunning   = "running"
	markPreempted = "preempted"
	markLost      = "lost"
)

// parseList reads the list program's output lines (see the package documentation): the
// machines listed, by node (a node may have several, such as a machine that was preempted and
// the one that replaced it).
func parseList(lines []string) (map[nodeKey][]listedVM, error) {
	out := map[nodeKey][]listedVM{}
	for i, line := range lines {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		bad := func(why string) error {
			return fmt.Errorf("line %d %q: %s (want: <poolId> <nodeId> <dedicated|lowpriority> [running|preempted|lost [<handle>]])", i+1, cut(line, 200), why)
		}
		if len(f) < 3 || len(f) > 5 {
			return nil, bad("wrong number of fields")
		}
		if !compute.ValidID(f[0]) || !compute.ValidID(f[1]) {
			return nil, bad("invalid pool or node id")
		}
		var vm listedVM
		switch f[2] {
		case "dedicated":
			vm.dedicated = true
		case "lowpriority":
		default:
			return nil, bad("unknown kind " + f[2])
		}
		if len(f) >= 4 {
			switch f[3] {
			case markRunning:
			case markPreempted, markLost:
				vm.mark = f[3]
			default:
				return nil, bad("unknown state " + f[3])
			}
		}
		if len(f) == 5 {
			vm.handle = f[4]
		}
		k := nodeKey{f[0], f[1]}
		out[k] = append(out[k], vm)
	}
	return out, nil
}

// judge says what the machines listed for a node whose handle is handle tell of it: whether one
// of them is the node's machine (a machine listed without a handle may be; one with another
// handle is not, when the node's handle is known), and if so, whether it is gone (preempted or
// lost). A machine that runs wins over one that is gone.
func judge(vms []listedVM, handle string) (listed bool, mark string) {
	for _, vm := range vms {
		if vm.handle != "" && handle != "" && vm.handle != handle {
			continue
		}
		switch {
		case vm.mark == "":
			return true, ""
		case !listed || vm.mark == markPreempted:
			listed, mark = true, vm.mark
		}
	}
	return listed, mark
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func (p *Provider) onList(l compute.ListVMs) []outbound {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.openLocked(l) {
		return nil
	}
	if p.listProg == "" {
		return []outbound{{To: l.ReplyTo, Ev: p.vmListLocked(l, nil)}}
	}
	p.listWaiters = append(p.listWaiters, l)
	if !p.listing {
		p.listing = true
		p.listRuns++
		run := p.listRuns
		p.goLocked(func() { p.runList(run) })
	}
	return nil
}

// vmListLocked answers l with the nodes the provider knows (being created, created, being
// deleted) and those in listed. p.mu must be held.
func (p *Provider) vmListLocked(l compute.ListVMs, listed map[nodeKey][]listedVM) compute.VMList {
	vms := map[nodeKey]bool{} // dedicated, by node
	for k, n := range p.nodes {
		vms[k] = n.rec.Dedicated
	}
	for k, machines := range listed {
		if _, ok := vms[k]; !ok {
			vms[k] = machines[0].dedicated
		}
	}
	out := []compute.VM{}
	for _, k := range sortedKeys(vms) {
		if l.PoolID == "" || k.pool == l.PoolID {
			out = append(out, compute.VM{PoolID: k.pool, NodeID: k.node, Dedicated: vms[k]})
		}
	}
	return compute.VMList{RequestID: l.RequestID, PoolID: l.PoolID, Nodes: out}
}

// runList runs the list program (run is its number), judges from its output which created nodes
// are gone, and answers the ListVMs waiting.
func (p *Provider) runList(run uint64) {
	res := p.run(runSpec{
		op:         opList,
		program:    p.listProg,
		env:        p.env(vmVars{op: opList}),
		timeout:    p.lsTO,
		log:        p.listLog,
		keepStdout: maxListOutput,
	})
	if res.closed {
		return
	}
	var listed map[nodeKey][]listedVM
	err := fmt.Errorf("%s", res.reason(opList, p.lsTO))
	if res.ok() {
		err = nil
		if res.stdout.overflow {
			err = fmt.Errorf("list program wrote more than %d bytes", maxListOutput)
		} else {
			listed, err = parseList(res.stdout.all)
		}
	}
	if err != nil {
		p.log.Warn("exec provider: list program failed; answering from the provider's records", "err", err)
	}
	p.mu.Lock()
	var outs []outbound
	if err == nil {
		p.listed = listed
		outs = p.judgeLocked(run, listed)
	}
	for _, l := range p.listWaiters {
		outs = append(outs, outbound{To: l.ReplyTo, Ev: p.vmListLocked(l, listed)})
	}
	p.listWaiters = nil
	p.listing = false
	p.mu.Unlock()
	p.send(outs)
}

// judgeLocked finds the created nodes that a successful list run shows gone: marked preempted or
// lost, or left out of p.lostAfter runs in a row. Runs that started before a node was created
// say nothing of it. p.mu must be held.
func (p *Provider) judgeLocked(run uint64, listed map[nodeKey][]listedVM) []outbound {
	var outs []outbound
	for _, k := range sortedKeys(p.nodes) {
		n := p.nodes[k]
		if n.phase != phaseCreated || n.deleteAsked || run <= n.createdRun {
			continue
		}
		ok, mark := judge(listed[k], n.rec.Handle)
		switch {
		case ok && mark == markPreempted:
			outs = p.goneLocked(outs, n, true, "")
		case ok && mark == markLost:
			outs = p.goneLocked(outs, n, false, "the list program reports the machine lost")
		case ok:
			n.misses = 0
		default:
			n.misses++
			if n.misses >= p.lostAfter {
				outs = p.goneLocked(outs, n, false, fmt.Sprintf("the machine is gone: the list program has not listed it %d times in a row", n.misses))
			}
		}
	}
	return outs
}
