package agent

import (
	"slices"

	"corral/agent/protocol"
)

// nodeSlots is a Client's account of its node's task slots (protocol.StartTask.NodeSlots): the
// slots the attempts it admitted take, and the StartTasks it holds until enough of them free, in
// the order they came. The service sends a node more attempts than it has free slots when its
// tasks are short, so that the next one starts here the moment a slot frees rather than a round
// trip to the service later. Guarded by Client.mu.
type nodeSlots struct {
	used  int
	taken map[string]int // attempt id -> slots, for the attempts admitted and not ended
	held  []protocol.StartTask
}

// admit decides whether a StartTask runs now (true) or is held for slots (false, and it is
// held). One without NodeSlots runs at once and takes no slot; a repeat of one admitted or
// held changes nothing (the Runner starts an attempt id once). A held attempt is never
// overtaken: the node's slots go to its attempts in the order they were sent.
func (c *Client) admit(s protocol.StartTask) bool {
	if s.NodeSlots <= 0 {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.slots.taken[s.AttemptID]; ok {
		return true
	}
	if slices.ContainsFunc(c.slots.held, func(h protocol.StartTask) bool { return h.AttemptID == s.AttemptID }) {
		return false
	}
	if len(c.slots.held) == 0 && c.fitsLocked(s) {
		c.takeLocked(s)
		return true
	}
	c.slots.held = append(c.slots.held, s)
	return false
}

// fitsLocked reports whether s fits the free slots (an attempt that needs more slots than the
// node has runs when the node is empty, rather than never).
func (c *Client) fitsLocked(s protocol.StartTask) bool {
	slots := max(s.Slots, 1)
	return c.slots.used+slots <= s.NodeSlots || c.slots.used == 0
}

func (c *Client) takeLocked(s protocol.StartTask) {
	if c.slots.taken == nil {
		c.slots.taken = map[string]int{}
	}
	c.slots.taken[s.AttemptID] = max(s.Slots, 1)
	c.slots.used += max(s.Slots, 1)
}

// slotFreed gives back the slots of an attempt that ended (or never started), and starts the
// held attempts that fit now, in order. Nothing held starts while the agent stops or restarts.
func (c *Client) slotFreed(attemptID string) {
	c.mu.Lock()
	if n, ok := c.slots.taken[attemptID]; ok {
		delete(c.slots.taken, attemptID)
		c.slots.used -= n
	}
	var next []protocol.StartTask
	for !c.closing && !c.restarting && len(c.slots.held) > 0 && c.fitsLocked(c.slots.held[0]) {
		s := c.slots.held[0]
		c.slots.held = c.slots.held[1:]
		c.takeLocked(s)
		next = append(next, s)
	}
	c.mu.Unlock()
	for _, s := range next {
		c.run(s)
	}
}

// unhold takes back a held attempt that has not started: it reports whether it was held.
func (c *Client) unhold(attemptID string) (protocol.StartTask, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.IndexFunc(c.slots.held, func(h protocol.StartTask) bool { return h.AttemptID == attemptID })
	if i < 0 {
		return protocol.StartTask{}, false
	}
	s := c.slots.held[i]
	c.slots.held = slices.Delete(c.slots.held, i, i+1)
	return s, true
}

// dropHeldLocked forgets every held attempt (the agent restarts or stops): none started, so
// the next Hello lists none of them and the service places them again.
func (c *Client) dropHeldLocked() { c.slots.held = nil }

// kill carries out a KillTask. A held attempt is taken back unstarted and reported ended with
// NotStarted (its result is the Client's own: no files); with IfQueued, an attempt that has
// started is left alone.
func (c *Client) kill(k protocol.KillTask) {
	if s, ok := c.unhold(k.AttemptID); ok {
		t := now()
		res := Result{JobID: s.JobID, TaskID: s.TaskID, AttemptID: s.AttemptID, StartTime: t, EndTime: t,
			NotStarted: true, Killed: !k.IfQueued}
		c.mu.Lock()
		c.unacked[s.AttemptID] = pendingResult{res: res, local: true}
		c.mu.Unlock()
		c.enqueue(protocol.Message{Body: TaskResultOf(c.cfg.NodeID, res)})
		return
	}
	if k.IfQueued {
		return
	}
	if err := c.runner.Kill(k.AttemptID); err != nil {
		c.log.Error("agent: kill failed", "attempt", k.AttemptID, "err", err)
	}
}

// running lists the attempts the agent runs or holds, sorted: a held attempt is the node's as
// much as a running one (the service must not place it elsewhere while it may still start).
func (c *Client) running() []string {
	ids := c.runner.Running()
	c.mu.Lock()
	for _, s := range c.slots.held {
		ids = append(ids, s.AttemptID)
	}
	c.mu.Unlock()
	slices.Sort(ids)
	return slices.Compact(ids)
}
