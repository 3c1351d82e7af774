package agentlink

// Waiting reports whether a long poll of the node waits in the Hub (for tests).
func (h *Hub) Waiting(nodeID string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	o, ok := h.nodes[nodeID]
	return ok && o.waiter != nil
}
