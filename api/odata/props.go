package odata

import (
	"slices"
	"sort"
	"strings"
)

// Kind is the type of a property, which decides the literals it is compared with and the
// operators it allows.
type Kind int

// The kinds of property. The zero Kind is not valid.
const (
	// String is a string compared case-insensitively (Azure: "property values are case
	// insensitive"), unless its Property is CaseSensitive. Operators: eq, ne, gt, ge, lt, le and
	// startswith. Literal: 'quoted'.
	String Kind = iota + 1
	// Int is an integer. Operators: eq, ne, gt, ge, lt, le. Literal: an integer.
	Int
	// Number is a number with or without a fraction. Operators: eq, ne, gt, ge, lt, le. Literal:
	// an integer or a decimal, with an optional exponent.
	Number
	// Bool is true or false. Operators: eq, ne. Literal: true or false.
	Bool
	// Time is a date-time, held in JSON as an RFC 3339 string. Operators: eq, ne, gt, ge, lt, le.
	// Literal: datetime'…' (RFC 3339 or RFC 1123), a bare RFC 3339 timestamp, or a quoted RFC 3339
	// string.
	Time
	// Enum is a string with a fixed set of values (Property.Values), compared
	// case-insensitively. Operators: eq, ne. Literal: 'quoted', one of the values.
	Enum
	// SelectOnly is a property that $select can name but $filter cannot compare: an object or an
	// array (a task's executionInfo, a pool's stats), or a value Azure does not filter on (a
	// task's commandLine).
	SelectOnly
)

var kindNames = [...]string{String: "string", Int: "integer", Number: "number", Bool: "boolean",
	Time: "date-time", Enum: "enumeration", SelectOnly: "select-only"}

// String returns the kind's name as error messages use it ("date-time").
func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid kind"
}

// Op is a comparison operator or function of a filter.
type Op int

// The operators. Their keywords are case-insensitive in a filter.
const (
	Eq Op = iota + 1
	Ne
	Gt
	Ge
	Lt
	Le
	StartsWith
)

var opNames = [...]string{Eq: "eq", Ne: "ne", Gt: "gt", Ge: "ge", Lt: "lt", Le: "le", StartsWith: "startswith"}

// String returns the operator's keyword.
func (o Op) String() string {
	if o > 0 && int(o) < len(opNames) {
		return opNames[o]
	}
	return "invalid operator"
}

// kindOps are the operators each kind allows.
var kindOps = map[Kind][]Op{
	String: {Eq, Ne, Gt, Ge, Lt, Le, StartsWith},
	Int:    {Eq, Ne, Gt, Ge, Lt, Le},
	Number: {Eq, Ne, Gt, Ge, Lt, Le},
	Bool:   {Eq, Ne},
	Time:   {Eq, Ne, Gt, Ge, Lt, Le},
	Enum:   {Eq, Ne},
}

// Property describes one property a list can filter on or select.
type Property struct {
	Kind Kind
	// Values are the allowed values of an Enum, in lower case.
	Values []string
	// Ops, when not empty, narrows the operators the kind allows to these: Azure's tables in
	// "OData filters in Azure Batch" list them per property (a task file's name allows
	// startswith only, a node's startTaskInfo/state eq only). An operator the kind does not
	// allow stays refused.
	Ops []Op
	// CaseSensitive makes a String compare as written rather than case-insensitively.
	CaseSensitive bool
}

// allows reports whether p allows op.
func (p Property) allows(op Op) bool {
	if !slices.Contains(kindOps[p.Kind], op) {
		return false
	}
	return len(p.Ops) == 0 || slices.Contains(p.Ops, op)
}

// allowed lists the operators p allows, for error messages.
func (p Property) allowed() string {
	var names []string
	for _, op := range kindOps[p.Kind] {
		if p.allows(op) {
			names = append(names, op.String())
		}
	}
	return strings.Join(names, ", ")
}

// Properties describes what a list operation allows: each property a filter may compare, by its
// path ("state", "executionInfo/result": names as Azure's REST API spells them, nested ones
// joined by "/"), and each property $select may name. A top-level name is selectable when it is
// a key, or when a key is a path below it ("executionInfo" when "executionInfo/result" is a key);
// give the kind SelectOnly to those that are selectable only.
type Properties map[string]Property

// selectable reports whether name is a top-level property $select may name.
func (ps Properties) selectable(name string) bool {
	if _, ok := ps[name]; ok {
		return true
	}
	for path := range ps {
		if strings.HasPrefix(path, name+"/") {
			return true
		}
	}
	return false
}

// filterable lists, sorted, the paths a filter may compare, for error messages.
func (ps Properties) filterable() string {
	var paths []string
	for path, p := range ps {
		if p.Kind != SelectOnly {
			paths = append(paths, path)
		}
	}
	sort.Strings(paths)
	return strings.Join(paths, ", ")
}

// fold returns the path that differs from path only in case, if there is exactly one.
func (ps Properties) fold(path string) string {
	var found string
	for k := range ps {
		if strings.EqualFold(k, path) {
			if found != "" {
				return ""
			}
			found = k
		}
	}
	return found
}
