package exec

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"corral/compute"
)

// Phases of a node as recorded in its state file.
const (
	phaseCreating = "creating" // the create program runs (or ran when the provider stopped)
	phaseCreated  = "created"  // the create program succeeded: the machine exists
	phaseDeleting = "deleting" // the delete program runs, or will run again
)

// record is what the provider keeps of a node in Dir/nodes/<pool>/<node>.json, so that a
// provider started later knows the node: to list it, to delete it with its handle, and to
// reverse a creation that a stop interrupted.
type record struct {
	Pool      string `json:"pool"`
	Node      string `json:"node"`
	VMSize    string `json:"vmSize,omitempty"`
	Dedicated bool   `json:"dedicated"`
	Phase     string `json:"phase"`
	Handle    string `json:"handle,omitempty"`
	// The create program's process while the phase is creating, so that a provider started
	// later can stop it: its pid, start time (/proc/<pid>/stat field 22) and the boot id.
	PID   int    `json:"pid,omitempty"`
	Start uint64 `json:"start,omitempty"`
	Boot  string `json:"boot,omitempty"`
}

const (
	nodesDir = "nodes"
	logsDir  = "logs"
)

func (p *Provider) recordPath(pool, node string) string {
	return filepath.Join(p.dir, nodesDir, pool, node+".json")
}

// save writes r atomically (a reader, or a provider started after a crash, sees the old record
// or the new one) and durably.
func (p *Provider) save(r record) error {
	path := p.recordPath(r.Pool, r.Node)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("save node record: %w", err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("save node record: %w", err)
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("save node record: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save node record: %w", err)
	}
	return nil
}

// forgetRecord removes a node's record.
func (p *Provider) forgetRecord(pool, node string) error {
	err := os.Remove(p.recordPath(pool, node))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove node record: %w", err)
	}
	return nil
}

// loadRecords reads every node record under Dir/nodes. A record that cannot be read is
// reported and skipped.
func (p *Provider) loadRecords() ([]record, error) {
	root := filepath.Join(p.dir, nodesDir)
	pools, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read node records: %w", err)
	}
	var out []record
	for _, pe := range pools {
		if !pe.IsDir() || !compute.ValidID(pe.Name()) {
			continue
		}
		files, err := os.ReadDir(filepath.Join(root, pe.Name()))
		if err != nil {
			return nil, fmt.Errorf("read node records: %w", err)
		}
		for _, fe := range files {
			node, ok := strings.CutSuffix(fe.Name(), ".json")
			if !ok || !compute.ValidID(node) {
				continue
			}
			r, err := readRecord(filepath.Join(root, pe.Name(), fe.Name()))
			if err == nil && (r.Pool != pe.Name() || r.Node != node) {
				err = fmt.Errorf("it names node %s/%s", r.Pool, r.Node)
			}
			if err == nil && r.Phase != phaseCreating && r.Phase != phaseCreated && r.Phase != phaseDeleting {
				err = fmt.Errorf("unknown phase %q", r.Phase)
			}
			if err != nil {
				p.log.Warn("exec provider: node record skipped", "pool", pe.Name(), "node", node, "err", err)
				continue
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func readRecord(path string) (record, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return record{}, err
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return record{}, fmt.Errorf("decode %s: %w", path, err)
	}
	return r, nil
}

// logPath is the log of a node's program runs.
func (p *Provider) logPath(pool, node string) string {
	return filepath.Join(p.dir, logsDir, pool, node+".log")
}

// pruneLogs removes the oldest logs of nodes the provider no longer has, keeping p.keepLogs of
// them, so that logs of deleted nodes (whose ids are not used again) do not pile up.
func (p *Provider) pruneLogs() {
	root := filepath.Join(p.dir, logsDir)
	pools, err := os.ReadDir(root)
	if err != nil {
		return
	}
	type old struct {
		path string
		mod  int64
	}
	var olds []old
	for _, pe := range pools {
		if !pe.IsDir() {
			continue
		}
		files, err := os.ReadDir(filepath.Join(root, pe.Name()))
		if err != nil {
			continue
		}
		for _, fe := range files {
			node, ok := strings.CutSuffix(fe.Name(), ".log")
			if !ok || p.has(pe.Name(), node) {
				continue
			}
			info, err := fe.Info()
			if err != nil {
				continue
			}
			olds = append(olds, old{filepath.Join(root, pe.Name(), fe.Name()), info.ModTime().UnixNano()})
		}
	}
	if len(olds) <= p.keepLogs {
		return
	}
	sort.Slice(olds, func(i, j int) bool { return olds[i].mod > olds[j].mod })
	for _, o := range olds[p.keepLogs:] {
		os.Remove(o.path)
		os.Remove(o.path + ".1")
	}
}
