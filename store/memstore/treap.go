package memstore

import (
	"hash/fnv"
	"strings"

	"corral/store"
)

// The committed state is a persistent (path-copying) treap ordered by composite key
// table + "\x00" + key. No node is changed after it is built, so a snapshot is a root pointer:
// a View reads one without locks while Updates build new roots, and a rolled-back Update is simply
// forgotten. Because tables and keys contain no NUL byte, composite keys order first by table and
// then by key, both by bytes. Priorities are a hash of the composite key, which keeps the tree
// balanced in expectation and its shape (and so the run) deterministic.

type node struct {
	ck          string // composite key
	prio        uint64
	rec         store.Record // rec.Value is never modified
	left, right *node
	size        int // nodes in this subtree
}

func composite(table, key string) string { return table + "\x00" + key }

func priority(ck string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(ck))
	x := h.Sum64()
	// splitmix64 finalizer: FNV's low bits are weak.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func size(n *node) int {
	if n == nil {
		return 0
	}
	return n.size
}

// with returns a copy of n with new children.
func with(n, left, right *node) *node {
	return &node{ck: n.ck, prio: n.prio, rec: n.rec, left: left, right: right, size: 1 + size(left) + size(right)}
}

func lookup(n *node, ck string) *node {
	for n != nil {
		switch c := strings.Compare(ck, n.ck); {
		case c < 0:
			n = n.left
		case c > 0:
			n = n.right
		default:
			return n
		}
	}
	return nil
}

// insert returns a tree with x (a fresh leaf) in place of any node with its key.
func insert(n, x *node) *node {
	if n == nil {
		return x
	}
	switch c := strings.Compare(x.ck, n.ck); {
	case c == 0:
		return with(x, n.left, n.right)
	case x.prio > n.prio:
		l, r := split(n, x.ck)
		return with(x, l, r)
	case c < 0:
		return with(n, insert(n.left, x), n.right)
	default:
		return with(n, n.left, insert(n.right, x))
	}
}

// split returns the nodes of n with keys below ck and above ck; a node with key ck is dropped.
func split(n *node, ck string) (l, r *node) {
	if n == nil {
		return nil, nil
	}
	switch c := strings.Compare(n.ck, ck); {
	case c < 0:
		a, b := split(n.right, ck)
		return with(n, n.left, a), b
	case c > 0:
		a, b := split(n.left, ck)
		return a, with(n, b, n.right)
	default:
		return n.left, n.right
	}
}

// remove returns a tree without the node with key ck, which must be present.
func remove(n *node, ck string) *node {
	switch c := strings.Compare(ck, n.ck); {
	case c < 0:
		return with(n, remove(n.left, ck), n.right)
	case c > 0:
		return with(n, n.left, remove(n.right, ck))
	default:
		return merge(n.left, n.right)
	}
}

// merge joins two trees where every key of a is below every key of b.
func merge(a, b *node) *node {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case a.prio >= b.prio:
		return with(a, a.left, merge(a.right, b))
	default:
		return with(b, merge(a, b.left), b.right)
	}
}

// rank returns how many keys of n are below ck.
func rank(n *node, ck string) int {
	r := 0
	for n != nil {
		if n.ck < ck {
			r += size(n.left) + 1
			n = n.right
		} else {
			n = n.left
		}
	}
	return r
}

// ascend calls f on the nodes with keys above lo (or equal to it, unless strict) and below hi,
// in key order, until f returns false. It reports whether f never returned false.
func ascend(n *node, lo string, strict bool, hi string, f func(*node) bool) bool {
	if n == nil {
		return true
	}
	aboveLo := n.ck > lo || (!strict && n.ck == lo)
	belowHi := n.ck < hi
	if aboveLo {
		if !ascend(n.left, lo, strict, hi, f) {
			return false
		}
		if belowHi && !f(n) {
			return false
		}
	}
	if belowHi {
		return ascend(n.right, lo, strict, hi, f)
	}
	return true
}
