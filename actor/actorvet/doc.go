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
//   - map-order: a range over a map whose body depends on the order of iteration, which Go
//     randomizes behind the tester's back (see below).
//   - allow-without-reason: an escape-hatch comment without a reason (see below).
//
// # Ranging over maps
//
// A range over a map is reported unless its body is order-independent: every statement in it,
// through if, switch, nested loops and blocks, is one of
//
//   - a definition, or an assignment to a variable declared inside the loop (the key and value
//     included), or to what such a variable points to or holds (r.done = true for a record r);
//   - a write to a map element (m[k] = v, m[k] += v) or a delete;
//   - a commutative accumulation into a number: +=, -=, *=, |=, &=, ^=, &^=, ++ and --
//     (floating-point sums may differ in their last bits; strings do not commute and are reported);
//   - x = min(x, ...) or x = max(x, ...), or the assignment of a constant or nil (found = true);
//   - s = append(s, ...) where the enclosing function sorts s after the loop with sort.Strings,
//     sort.Ints, sort.Float64s, sort.Sort, sort.Stable, sort.Slice, sort.SliceStable,
//     slices.Sort, slices.SortFunc or slices.SortStableFunc (sort.Sort(byName(s)) counts);
//   - continue; break and return of constants only (an "any" or "all" check), and only when the
//     body accumulates nothing, since what it kept before leaving would depend on the order;
//   - a call, unless it reaches the actor runtime: a method of an actor.Context (a send, an
//     announcement, a timer, a random choice, a log line, a transition), or any call handed a
//     Context, or a method of the tester's systest.Sim. Those effects are what the tester records
//     and replays in order.
//
// Anything else (a return of a value, an assignment of a non-constant to an outer variable, an
// append to a slice that is not sorted, a send on a channel) is reported. To keep an
// order-dependent range that is harmless (every peer gets the same event, and the receivers do
// not interact), mark it with the escape hatch and say why:
//
//	//actorvet:allow every peer gets the same event and no receiver hears from another
//	for id := range n.peers {
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
// actorvet works on syntax alone, without type information, for every rule but map-order, which
// keeps it fast and free of dependencies (the standard library's go/types is all it uses) but
// makes it approximate:
//
//   - A selector such as time.Now is flagged when its left-hand identifier is a name under which
//     the file imports "time". Scopes are not tracked, so a local variable or parameter that
//     shadows the import is still flagged; rename it or use the escape hatch. Conversely, an
//     identifier named time that is not the "time" import (a local variable in a file that
//     imports "time" under another name, or does not import it) is never flagged.
//   - Ranging over a channel is not flagged, because a range over a channel looks the same as a
//     range over a slice or map without types.
//   - The map-order rule is the one rule that uses types. The package is type-checked with the
//     packages of its own module, read from source; every other import (the standard library
//     included) stands in as an empty package, and type errors are ignored. A range is judged
//     only when its expression is known to be a map: one whose type comes from outside the module
//     (url.Values, http.Header) is not checked. Calls are assumed not to depend on the order
//     unless they reach the actor runtime as above; a helper that appends to shared state without
//     a Context is not seen.
//   - Calls through a dot-import of "time" cannot be attributed, so the import itself is flagged.
//   - Nondeterminism reached through other packages (a helper that starts a goroutine, say) is
//     only found by checking those packages too.
//
// Check reads every non-test .go file in the directory, skipping *_test.go files and, like the
// go tool, files whose names start with "." or "_". Build constraints are not evaluated: actor
// code has to be deterministic on every platform, so every file is checked.
package actorvet
