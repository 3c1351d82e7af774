package agentlink

// Waiting reports whether a long poll of the node waits in the Hub (for tests).
func (h *Hub) Waiting(nodeID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	o, ok := h.nodes[nodeID]
	return ok && o.waiter != nil
}

// FileCalls returns how many Files calls wait for their answers (for tests).
func (h *Hub) FileCalls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.calls)
}
