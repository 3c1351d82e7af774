// Package actorvet is a vet-style static check that keeps actor code deterministic.
//
// Corral's services are actors that run both under the production runtime and under a
// deterministic systematic concurrency tester. The tester can only explore and replay schedules
// it controls, so actor code must leave every source of nondeterminism to the actor runtime:
// it must not start goroutines, read the clock, draw its own random numbers, or block on
// synchronization primitives. actorvet finds the constructs that break that contract.
//
// # Rules
//
// Each finding carries one of these rule ids:
//
//   - go-statement: any go statement. Start actors with ctx.Create and talk to them with ctx.Send.
//   - clock: a reference (a call or a function value) to time.Now, time.Since, time.Until,
//     time.Sleep, time.After, time.AfterFunc, time.Tick, time.NewTimer or time.NewTicker, and any
//     dot-import of "time", which would hide such calls. Durations, constants and time.Time
//     values and methods are fine. Use ctx.Now and ctx.StartTimer instead.
//   - random: importing math/rand, math/rand/v2 or crypto/rand. Use ctx.RandomInt and
//     ctx.RandomBool instead.
//   - sync: importing sync or sync/atomic.
//   - channel: channel send statements, receive expressions and select statements. A select is
//     reported once; the send or receive that heads each of its cases is covered by that finding.
//   - allow-without-reason: an escape-hatch comment without a reason (see below).
//
// # Escape hatch
//
// Runtime shims sometimes must do what actors may not. A line comment
//
//	//actorvet:allow <reason>
//
// suppresses every finding on its own line. When the comment stands alone on its line it also
// suppresses the findings on the line immediately below it. Findings are keyed by the line on
// which the offending node starts. The reason is mandatory so that reviewers can see why the
// exception is safe: a bare //actorvet:allow suppresses nothing and is itself reported as
// allow-without-reason.
//
// # Usage
//
// Call Test from a test in the package that holds the actor code:
//
//	func TestActorRules(t *testing.T) {
//		actorvet.Test(t, ".")
//	}
//
// Test reports each finding with t.Errorf and fails with t.Fatalf if a directory cannot be
// checked. Check returns the findings for callers that want to handle them themselves.
//
// # Limitations
//
// actorvet works on syntax alone, without type information, which keeps it fast and free of
// dependencies but makes it approximate:
//
//   - A selector such as time.Now is flagged when its left-hand identifier is a name under which
//     the file imports "time". Scopes are not tracked, so a local variable or parameter that
//     shadows the import is still flagged; rename it or use the escape hatch. Conversely, an
//     identifier named time that is not the "time" import (a local variable in a file that
//     imports "time" under another name, or does not import it) is never flagged.
//   - Ranging over a channel is not flagged, because a range over a channel looks the same as a
//     range over a slice or map without types.
//   - Calls through a dot-import of "time" cannot be attributed, so the import itself is flagged.
//   - Nondeterminism reached through other packages (a helper that starts a goroutine, say) is
//     only found by checking those packages too.
//
// Check reads every non-test .go file in the directory, skipping *_test.go files and, like the
// go tool, files whose names start with "." or "_". Build constraints are not evaluated: actor
// code has to be deterministic on every platform, so every file is checked.
package actorvet
