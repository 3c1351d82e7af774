package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"corral/agent/protocol"
)

// restartFile, in the node's root directory, holds the RequestID of the last RestartNode the
// agent carried out, so that a repeated one (commands come at least once) is not carried out
// again, even by an agent process started since.
const restartFile = bookkeepingPrefix + "restarted"

// restart carries out a RestartNode, as a node that Azure reboots (or reimages): every running
// attempt is killed and its result forgotten (the service has given them up), with Reimage the
// node's task files are deleted (and so are the results not yet acknowledged), and the Client goes
// on as a new incarnation, whose Hello says Restarted. A RestartNode carried out already only
// brings a Hello.
func (c *Client) restart(cmd protocol.RestartNode) {
	if cmd.RequestID == "" || strings.ContainsAny(cmd.RequestID, "\r\n") {
		c.log.Warn("agent: RestartNode without a usable request id skipped", "requestId", cmd.RequestID)
		return
	}
	c.needHello = true
	if cmd.RequestID == c.restarted {
		return
	}
	c.log.Info("agent: restarting", "requestId", cmd.RequestID, "reimage", cmd.Reimage, "running", len(c.runner.Running()))
	c.mu.Lock()
	c.restarting = true
	c.dropHeldLocked()
	c.mu.Unlock()
	c.runner.KillAll()
	c.mu.Lock()
	c.restarting = false
	c.mu.Unlock()
	c.forgetKilled()
	if cmd.Reimage {
		if err := c.runner.Reimage(); err != nil {
			c.log.Error("agent: reimage: the node's files were not all deleted", "err", err)
		}
		c.mu.Lock()
		c.unacked = make(map[string]pendingResult) // their journals are gone
		c.queue = dropResults(c.queue)
		c.mu.Unlock()
	}
	if err := writeRestarted(c.runner.Root(), cmd.RequestID); err != nil {
		c.log.Error("agent: the restart was not recorded; a repeat of it restarts again", "err", err)
	}
	c.restarted = cmd.RequestID
	c.mu.Lock()
	c.incarnation = newIncarnation()
	c.mu.Unlock()
}

// dropResults drops the TaskResult reports from a queue of reports.
func dropResults(queue []protocol.Message) []protocol.Message {
	out := queue[:0]
	for _, m := range queue {
		if _, ok := m.Body.(protocol.TaskResult); !ok {
			out = append(out, m)
		}
	}
	return out
}

// readRestarted reads restartFile ("" if there is none).
func readRestarted(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, restartFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("agent: reading the last restart: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// writeRestarted replaces restartFile atomically.
func writeRestarted(root, id string) error {
	tmp := filepath.Join(root, restartFile+".tmp")
	if err := os.WriteFile(tmp, []byte(id+"\n"), 0o600); err != nil {
		return fmt.Errorf("agent: recording the restart: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(root, restartFile)); err != nil {
		return fmt.Errorf("agent: recording the restart: %w", err)
	}
	return nil
}
