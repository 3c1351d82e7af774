package memstore

// Depth returns the height of s's tree.
func Depth(s *Store) int { return depth(s.state.Load().root) }

func depth(n *node) int {
	if n == nil {
		return 0
	}
	return 1 + max(depth(n.left), depth(n.right))
}
