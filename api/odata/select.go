package odata

import (
	"strings"
)

// Select is a parsed $select: the top-level properties to return of each entity. A nil *Select
// returns them all.
type Select struct {
	names []string // as given, in order, without duplicates
	all   bool     // "*"
}

// spaces are the characters a filter or select may have between its words.
const spaces = " \t\r\n"

// ParseSelect parses the $select value s, property names separated by commas (spaces around
// them allowed: Azure's own example is "id, stats"), against props (see Properties for what is
// selectable). "*" selects every property. An empty or all-space s is no select: ParseSelect
// returns nil, nil. Names are top-level only and case-sensitive; a nested path
// ("executionInfo/result"), an unknown name or an empty item is an *Error.
func ParseSelect(s string, props Properties) (*Select, error) {
	sel, err := parseSelect(s, props)
	if err != nil {
		return nil, err // not a nil *Error in a non-nil error
	}
	return sel, nil
}

func parseSelect(s string, props Properties) (*Select, *Error) {
	if len(s) > MaxLength {
		return nil, errorAt(SelectParam, s, -1, "the select is %d bytes long; at most %d are allowed", len(s), MaxLength)
	}
	if strings.Trim(s, spaces) == "" {
		return nil, nil
	}
	sel := &Select{}
	seen := map[string]bool{}
	off := 0
	for item := range strings.SplitSeq(s, ",") {
		name := strings.Trim(item, spaces)
		at := off + strings.Index(item, name) // where name starts; the item's start when empty
		off += len(item) + 1
		switch {
		case name == "":
			return nil, errorAt(SelectParam, s, at, "expected a property name; an item of the list is empty")
		case name == "*":
			sel.all = true
		case strings.Contains(name, "/"):
			top, _, _ := strings.Cut(name, "/")
			return nil, errorAt(SelectParam, s, at, "'%s' is a nested property; $select takes top-level properties, such as '%s'", name, top)
		case !props.selectable(name):
			if near := props.fold(name); near != "" && !strings.Contains(near, "/") {
				return nil, errorAt(SelectParam, s, at, "unknown property '%s'; did you mean '%s'? (property names are case-sensitive)", name, near)
			}
			return nil, errorAt(SelectParam, s, at, "unknown property '%s'", name)
		case !seen[name]:
			seen[name] = true
			sel.names = append(sel.names, name)
		}
	}
	return sel, nil
}

// Names returns the selected property names in the order given, without duplicates, or nil
// when every property is selected.
func (s *Select) Names() []string {
	if s == nil || s.all {
		return nil
	}
	return append([]string(nil), s.names...)
}

// Apply returns a new map with the selected properties of v that v has, and v's OData
// annotations (keys beginning "odata.", such as odata.metadata), which are not properties.
// Nothing else is kept: not url, not eTag, not even id unless selected (Azure's .NET SDK warns
// that an entity listed without its id cannot be refreshed, so Azure does not add it). A nil
// *Select, or one with "*", returns v itself.
func (s *Select) Apply(v map[string]any) map[string]any {
	if s == nil || s.all || v == nil {
		return v
	}
	out := make(map[string]any, len(s.names)+1)
	for _, name := range s.names {
		if x, ok := v[name]; ok {
			out[name] = x
		}
	}
	for k, x := range v {
		if strings.HasPrefix(k, "odata.") {
			out[k] = x
		}
	}
	return out
}

// String returns the select in canonical form: the names joined by commas, "*" when every
// property is selected.
func (s *Select) String() string {
	if s == nil {
		return ""
	}
	if s.all {
		return "*"
	}
	return strings.Join(s.names, ",")
}
