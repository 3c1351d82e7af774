// Package maporder ranges over maps, in order-dependent ways (marked "flagged") and in ways whose
// outcome does not depend on the order.
package maporder

import (
	"sort"
	"strings"

	"corral/actor"
	"corral/actor/systest"
)

type ping struct{}

type node struct {
	peers map[actor.ID]bool
	recs  map[string]*rec
	list  []actor.ID
}

type rec struct{ done bool }

type byLen []string

func (b byLen) Len() int           { return len(b) }
func (b byLen) Less(i, j int) bool { return len(b[i]) < len(b[j]) }
func (b byLen) Swap(i, j int)      { b[i], b[j] = b[j], b[i] }

func notify(ctx *actor.Context, id actor.ID) { ctx.Send(id, ping{}) }

func (n *node) sendInMapOrder(ctx *actor.Context) {
	for id := range n.peers { // flagged: sends
		ctx.Send(id, ping{})
	}
	for id := range n.peers { // flagged: a helper that gets the context
		notify(ctx, id)
	}
	for _, id := range n.list { // a slice: in order
		ctx.Send(id, ping{})
	}
	//actorvet:allow every peer gets the same event and no receiver hears from another
	for id := range n.peers {
		ctx.Send(id, ping{})
	}
}

func first(m map[string]int) string {
	for k := range m { // flagged: picks one
		return k
	}
	return ""
}

func last(m map[string]int) string {
	var l string
	for k := range m { // flagged: the last one wins
		l = k
	}
	return l
}

func unsorted(m map[string]int) []string {
	var keys []string
	for k := range m { // flagged: never sorted
		keys = append(keys, k)
	}
	return keys
}

func joined(m map[string]int) string {
	s := ""
	for k := range m { // flagged: strings do not commute
		s += k
	}
	return s
}

func firstTwo(m map[string]int) []string {
	var keys []string
	for k := range m { // flagged: which two depends on the order
		keys = append(keys, k)
		if len(keys) == 2 {
			break
		}
	}
	sort.Strings(keys)
	return keys
}

func each[M ~map[string]int](ctx *actor.Context, m M) {
	for k := range m { // flagged: a map by its constraint
		ctx.Send(actor.ID(k), ping{})
	}
}

func choose(s *systest.Sim, m map[string]int) int {
	n := 0
	for range m { // flagged: choices in map order
		n += s.RandomInt(3)
	}
	return n
}

func sorted(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sortedByLen(m map[string]int) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Sort(byLen(keys))
	return keys
}

func copied(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = v
		out[strings.ToUpper(k)] += v
	}
	return out
}

func summed(m map[string]int) (total, n, hi int) {
	for _, v := range m {
		total += v
		n++
		hi = max(hi, v)
	}
	return total, n, hi
}

func anyBig(m map[string]int) bool {
	for _, v := range m {
		if v > 3 {
			return true
		}
	}
	return false
}

func hasZero(m map[string]int) bool {
	found := false
	for _, v := range m {
		switch {
		case v == 0:
			found = true
		}
		if found {
			break
		}
	}
	return found
}

func pruned(m map[string]int) {
	for k, v := range m {
		if v == 0 {
			delete(m, k)
		}
	}
}

func (n *node) finish() {
	for _, r := range n.recs {
		r.done = true
	}
}
