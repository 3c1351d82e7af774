// Package skiptest is clean; only its test file and an ignored file break the rules.
package skiptest

func add(a, b int) int { return a + b }
