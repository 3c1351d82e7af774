// Package odata parses and applies the OData query options of Azure Batch's list operations:
// $filter, which entities a list returns ([ParseFilter], [Filter.Match]), and $select, which of
// their properties ([ParseSelect], [Select.Apply]). It works on entities as encoding/json decodes
// them into map[string]any, and knows nothing of HTTP: a list handler parses the options with the
// [Properties] its operation allows, turns an [*Error] into Azure's 400 with [Error.APIError], and
// filters and trims what it read from the store.
//
// # Filter grammar
//
// Keywords (operators, and, or, not, startswith, true, false, null, datetime) are
// case-insensitive; property names are case-sensitive, as Azure's REST API spells them.
//
//	filter     = or
//	or         = and { "or" and }
//	and        = unary { "and" unary }
//	unary      = "not" unary | "(" or ")" | startswith | comparison
//	startswith = "startswith" "(" path "," string ")"
//	comparison = path op literal
//	op         = "eq" | "ne" | "gt" | "ge" | "lt" | "le"
//	path       = name { "/" name }                 e.g. executionInfo/result
//	name       = letter-or-_ { letter-or-_ | digit }
//	literal    = string | integer | decimal | "true" | "false" | "null" | datetime | timestamp
//	string     = "'" { character | "''" } "'"      '' is one quote
//	integer    = [ "-" ] digit { digit }
//	decimal    = integer [ "." digit { digit } ] [ ( "e" | "E" ) [ "+" | "-" ] digit { digit } ]
//	datetime   = "datetime" "'" RFC 3339 or RFC 1123 (GMT) date-time "'"
//	timestamp  = an RFC 3339 date-time, unquoted: 2024-01-01T00:00:00Z
//
// not binds tighter than and, and than or: "not a eq 1 and b eq 2 or c eq 3" is "((not (a eq
// 1)) and b eq 2) or c eq 3". not applies to a whole comparison, so "not state eq 'active'" reads
// as "not (state eq 'active')". Azure documents and and or; not is OData's, and Corral takes it.
//
// Each property has a [Kind], which decides the literals it takes and the operators it allows:
//
//	String      'text'                                  eq ne gt ge lt le startswith
//	Int         integer                                 eq ne gt ge lt le
//	Number      integer or decimal                      eq ne gt ge lt le
//	Bool        true, false                             eq ne
//	Time        datetime'…', timestamp, or 'RFC 3339'   eq ne gt ge lt le
//	Enum        'value', one of Property.Values         eq ne
//	SelectOnly  (selectable by $select, not comparable)
//
// and a [Property] can narrow the operators further (Azure's tables in "OData filters in Azure
// Batch" list them per property). null compares with any kind, with eq and ne only.
//
// An unknown property (a misspelt one, or one the list cannot filter on), a literal of the wrong
// type ("state eq 5"), an operator the property does not allow ("startswith" on a number, "gt" on
// a boolean), a syntax error, or a filter past the limits ([MaxLength] bytes, [MaxDepth] levels of
// parentheses and not) is an [*Error] that names the problem and its column. Azure answers "an
// invalid property or operator" with 400 (Bad Request); [Error.APIError] makes it
// InvalidQueryParameterValue naming the parameter.
//
// # Evaluation
//
// Azure's rule is that "all property names are case-sensitive, but property values are case
// insensitive": strings (unless a Property is CaseSensitive) and enumeration values compare
// case-insensitively, in eq and ne, in the order of gt, ge, lt and le, and in startswith.
// Date-times compare as instants, whatever their zone. A missing property is null; see
// [Filter.Match] for how null and values of the wrong type compare.
//
// # Select
//
// $select is a comma-separated list of top-level property names; [Select.Apply] keeps those and
// the entity's OData annotations (odata.metadata) and drops the rest, url and eTag included.
package odata
