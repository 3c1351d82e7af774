package odata

import (
	"fmt"
	"unicode/utf8"

	"corral/api"
)

// The query parameters whose errors this package reports.
const (
	FilterParam = "$filter"
	SelectParam = "$select"
)

// Error is a $filter or $select that cannot be used: a syntax error, an unknown property, a
// literal of the wrong type, an operator the property does not allow, or one past the limits.
// Its APIError is the answer the REST layer sends.
type Error struct {
	Param  string // FilterParam or SelectParam
	Value  string // the parameter's value, as given
	Column int    // where the problem is, counting characters from 1; 0 for the whole value
	Msg    string // what is wrong, e.g. "unknown property 'stat'; did you mean 'state'?"
}

// Error implements error: "$filter: column 7: unknown property 'stat'".
func (e *Error) Error() string {
	return e.Param + ": " + e.Reason()
}

// Reason is the message with its column: "column 7: unknown property 'stat'".
func (e *Error) Reason() string {
	if e.Column > 0 {
		return fmt.Sprintf("column %d: %s", e.Column, e.Msg)
	}
	return e.Msg
}

// APIError returns Azure's answer to the bad parameter: 400 InvalidQueryParameterValue with
// QueryParameterName, QueryParameterValue and Reason, the details Azure gives for this code.
// Azure documents only that "an invalid property or operator" in a filter is a 400 (Bad
// Request); the code is the one its error table gives for "an invalid value … for one of the
// query parameters", and what its Reason says could not be confirmed.
func (e *Error) APIError() *api.Error {
	return api.NewError(api.CodeInvalidQueryParameterValue,
		api.ErrorValue{Key: "QueryParameterName", Value: e.Param},
		api.ErrorValue{Key: "QueryParameterValue", Value: e.Value},
		api.ErrorValue{Key: "Reason", Value: e.Reason()})
}

// errorAt returns an Error about s at byte offset off (-1 for the whole value).
func errorAt(param, s string, off int, format string, args ...any) *Error {
	col := 0
	if off >= 0 {
		if off > len(s) {
			off = len(s)
		}
		col = column(s, off)
	}
	return &Error{Param: param, Value: s, Column: col, Msg: fmt.Sprintf(format, args...)}
}

// column is the 1-based column, in characters, of byte offset off of s.
func column(s string, off int) int {
	return utf8.RuneCountInString(s[:off]) + 1
}
