package odata

import (
	"cmp"
	"encoding/json"
	"strings"
	"time"
)

func (n *cmpNode) match(v map[string]any) bool {
	x, ok := lookup(v, n.segs)
	if n.lit.kind == lNull {
		return ok == (n.op == Ne)
	}
	if !ok {
		return n.op == Ne
	}
	if n.op == StartsWith {
		s, ok := x.(string)
		return ok && strings.HasPrefix(n.fold(s), n.want)
	}
	c, ok := n.compare(x)
	if !ok {
		return n.op == Ne
	}
	switch n.op {
	case Eq:
		return c == 0
	case Ne:
		return c != 0
	case Gt:
		return c > 0
	case Ge:
		return c >= 0
	case Lt:
		return c < 0
	case Le:
		return c <= 0
	}
	return false
}

// lookup returns the value at the path segs of v, and false when it is missing or null.
func lookup(v map[string]any, segs []string) (any, bool) {
	var x any = v
	for _, seg := range segs {
		m, ok := x.(map[string]any)
		if !ok {
			return nil, false
		}
		if x, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return x, x != nil
}

// fold returns s as the property compares it: in lower case, unless it is case-sensitive.
func (n *cmpNode) fold(s string) string {
	if n.prop.CaseSensitive && n.prop.Kind == String {
		return s
	}
	return strings.ToLower(s)
}

// compare compares the value x with the literal: -1, 0 or +1, and false when x is not of the
// property's type.
func (n *cmpNode) compare(x any) (int, bool) {
	switch n.prop.Kind {
	case String, Enum:
		s, ok := x.(string)
		if !ok {
			return 0, false
		}
		return strings.Compare(n.fold(s), n.want), true
	case Int, Number:
		f, ok := number(x)
		if !ok {
			return 0, false
		}
		return cmp.Compare(f, n.lit.f), true
	case Bool:
		b, ok := x.(bool)
		if !ok {
			return 0, false
		}
		if b == n.lit.b {
			return 0, true
		}
		return 1, true
	case Time:
		s, ok := x.(string)
		if !ok {
			return 0, false
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, false
		}
		return t.Compare(n.lit.t), true
	}
	return 0, false
}

// number returns x as a float64: encoding/json decodes numbers as float64 (json.Number with
// UseNumber); other Go numbers are taken too, for maps built by hand.
func number(x any) (float64, bool) {
	switch x := x.(type) {
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	}
	return 0, false
}
