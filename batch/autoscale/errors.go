package autoscale

import "fmt"

// Error codes carried by an [Error]. They are Azure Batch's own codes, so the service can put them
// in a pool's autoScaleRun.error (or, for the first two, in the error body of Pool - Enable Auto
// Scale) unchanged.
const (
	// CodeSyntaxError: the formula does not parse, names something that does not exist, assigns
	// to a read-only variable or has more than [MaxStatements] statements. Azure's
	// AutoScalingFormulaSyntaxError.
	CodeSyntaxError = "AutoScalingFormulaSyntaxError"
	// CodeFormulaTooLong: the formula is longer than [MaxFormulaLength] characters. Azure's
	// AutoScaleFormulaTooLong (the code corral/batch uses for the same check).
	CodeFormulaTooLong = "AutoScaleFormulaTooLong"
	// CodeEvaluationError: evaluation failed — an undefined variable, an operation on types that
	// do not support it, an empty list, a bad argument. Azure's AutoScalingFormulaEvaluationError.
	CodeEvaluationError = "AutoScalingFormulaEvaluationError"
	// CodeInsufficientSampleData: GetSample found a smaller share of the samples it asked for
	// than its samplePercent argument requires. Azure's InsufficientSampleData.
	CodeInsufficientSampleData = "InsufficientSampleData"
)

// Error is an error in a formula, found by [Parse] or by [Formula.Evaluate]. Every Error names the
// place in the formula it is about: Line and Col are 1-based, and Col counts characters (Unicode
// code points, a tab is one), not bytes.
type Error struct {
	// Code is one of the Code constants: Azure's error code for this kind of error.
	Code string
	// Line and Col locate the error in the formula's text, both counted from 1.
	Line, Col int
	// Msg says what is wrong, without the position.
	Msg string
}

// Error returns the error as "line 3, column 12: unknown function \"foo\"".
func (e *Error) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Col, e.Msg)
}

// Summary returns the one-line message Azure Batch gives for e's code in autoScaleRun.error.message
// (for example "Autoscale evaluation failed due to insufficient sample data"); the details are in
// [Error.Detail].
func (e *Error) Summary() string {
	switch e.Code {
	case CodeInsufficientSampleData:
		return "Autoscale evaluation failed due to insufficient sample data"
	case CodeFormulaTooLong:
		return "The specified auto-scaling formula exceeds lengths limit."
	case CodeSyntaxError:
		return "The specified auto-scaling formula has a syntax error."
	default:
		return "Autoscale evaluation failed"
	}
}

// Detail returns the error the way Azure Batch writes it in the "Message" value of
// autoScaleRun.error.values: "Line 1, Col 37: Insufficient data from data set: $CPUPercent wanted
// 10%, received 0%".
func (e *Error) Detail() string {
	return fmt.Sprintf("Line %d, Col %d: %s", e.Line, e.Col, e.Msg)
}

// pos is a position in the formula's text, 1-based.
type pos struct{ line, col int }

func errorAt(code string, p pos, format string, args ...any) *Error {
	return &Error{Code: code, Line: p.line, Col: p.col, Msg: fmt.Sprintf(format, args...)}
}

func syntaxError(p pos, format string, args ...any) *Error {
	return errorAt(CodeSyntaxError, p, format, args...)
}

func evalError(p pos, format string, args ...any) *Error {
	return errorAt(CodeEvaluationError, p, format, args...)
}
