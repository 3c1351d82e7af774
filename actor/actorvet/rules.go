package actorvet

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"strconv"
	"strings"
)

// Rule ids, as they appear in Finding.Rule.
const (
	ruleGo          = "go-statement"
	ruleClock       = "clock"
	ruleRandom      = "random"
	ruleSync        = "sync"
	ruleChannel     = "channel"
	ruleAllowReason = "allow-without-reason"
)

// clockFuncs are the members of package time that read the clock or wait on it. Everything else
// in package time (durations, constants, time.Time values) is deterministic and allowed.
var clockFuncs = map[string]bool{
	"Now": true, "Since": true, "Until": true,
	"Sleep": true, "After": true, "AfterFunc": true,
	"Tick": true, "NewTimer": true, "NewTicker": true,
}

// forbiddenImports maps an import path to the rule it breaks and the advice to give.
var forbiddenImports = map[string]struct{ rule, advice string }{
	"math/rand":    {ruleRandom, randomAdvice},
	"math/rand/v2": {ruleRandom, randomAdvice},
	"crypto/rand":  {ruleRandom, randomAdvice},
	"sync":         {ruleSync, syncAdvice},
	"sync/atomic":  {ruleSync, syncAdvice},
}

// The advice names the actor.Context methods that replace each construct: the runtime is what
// the tester controls.
const (
	randomAdvice = "actors must not use their own randomness; use ctx.RandomInt or ctx.RandomBool"
	syncAdvice   = "actors must not block on synchronization primitives; keep state inside one actor and coordinate with ctx.Send"
	clockAdvice  = "actors must not read the clock or wait on timers; use ctx.Now or ctx.StartTimer"
	chanAdvice   = "actors must not block on channels; exchange messages with ctx.Send"
)

// fileChecker collects the findings of one file.
type fileChecker struct {
	fset *token.FileSet
	// timeNames are the names under which the file imports "time". A set, because Go allows
	// importing a package twice under different names.
	timeNames map[string]bool
	// selectComms are the send and receive operations that head select cases. The enclosing
	// select is already reported, and one finding per construct keeps the output readable.
	selectComms map[ast.Node]bool
	// info is what type checking learnt of the package (see typeCheck); importPaths maps the
	// names under which the file imports packages to their paths.
	info        *types.Info
	importPaths map[string]string
	// stack holds the nodes from the file down to the one being visited.
	stack    []ast.Node
	findings []Finding
}

// checkFile applies every rule to one file and then the escape hatch.
func checkFile(fset *token.FileSet, f sourceFile, info *types.Info) []Finding {
	c := &fileChecker{
		fset:        fset,
		timeNames:   map[string]bool{},
		selectComms: map[ast.Node]bool{},
		info:        info,
		importPaths: map[string]string{},
	}
	c.checkImports(f.ast)
	ast.Inspect(f.ast, c.visit)
	allowed, malformed := scanAllows(fset, f)
	return append(suppress(c.findings, allowed), malformed...)
}

func (c *fileChecker) report(pos token.Pos, rule, message string) {
	c.findings = append(c.findings, Finding{Pos: c.fset.Position(pos), Rule: rule, Message: message})
}

// checkImports flags forbidden imports and records the names "time" is imported under, which
// visit needs before it sees any selector.
func (c *fileChecker) checkImports(f *ast.File) {
	for _, spec := range f.Imports {
		path, err := strconv.Unquote(spec.Path.Value)
		if err != nil {
			continue // the parser accepted it, so this cannot happen; skip rather than guess
		}
		name := path[strings.LastIndex(path, "/")+1:]
		if spec.Name != nil {
			name = spec.Name.Name
		}
		c.importPaths[name] = path
		if bad, ok := forbiddenImports[path]; ok {
			c.report(spec.Pos(), bad.rule, fmt.Sprintf("import %q: %s", path, bad.advice))
		}
		if path == "time" {
			c.recordTimeImport(spec)
		}
	}
}

func (c *fileChecker) recordTimeImport(spec *ast.ImportSpec) {
	switch {
	case spec.Name == nil:
		c.timeNames["time"] = true
	case spec.Name.Name == ".":
		// Calls through a dot-import look like local calls, so the import is the only place
		// they can be caught.
		c.report(spec.Pos(), ruleClock, `dot-import of "time" hides clock calls from actorvet; `+clockAdvice)
	case spec.Name.Name != "_":
		c.timeNames[spec.Name.Name] = true
	}
}

// visit is the ast.Inspect callback for the statement and expression rules.
func (c *fileChecker) visit(n ast.Node) bool {
	if n == nil {
		c.stack = c.stack[:len(c.stack)-1]
		return true
	}
	c.stack = append(c.stack, n)
	switch n := n.(type) {
	case *ast.RangeStmt:
		c.checkMapRange(n, c.enclosingFunc())
	case *ast.GoStmt:
		c.report(n.Pos(), ruleGo, "go statement: actors must not start goroutines; use ctx.Create or ctx.Send")
	case *ast.SelectorExpr:
		c.checkClockRef(n)
	case *ast.SelectStmt:
		c.report(n.Pos(), ruleChannel, "select statement: "+chanAdvice)
		c.markSelectComms(n)
	case *ast.SendStmt:
		if !c.selectComms[n] {
			c.report(n.Pos(), ruleChannel, "channel send: "+chanAdvice)
		}
	case *ast.UnaryExpr:
		if n.Op == token.ARROW && !c.selectComms[n] {
			c.report(n.Pos(), ruleChannel, "channel receive: "+chanAdvice)
		}
	}
	return true
}

// enclosingFunc returns the body of the innermost function around the node being visited.
func (c *fileChecker) enclosingFunc() *ast.BlockStmt {
	for i := len(c.stack) - 1; i >= 0; i-- {
		switch f := c.stack[i].(type) {
		case *ast.FuncDecl:
			return f.Body
		case *ast.FuncLit:
			return f.Body
		}
	}
	return nil
}

// checkClockRef flags time.Now and friends, whether called or used as a function value.
func (c *fileChecker) checkClockRef(sel *ast.SelectorExpr) {
	x, ok := sel.X.(*ast.Ident)
	if !ok || !c.timeNames[x.Name] || !clockFuncs[sel.Sel.Name] {
		return
	}
	c.report(sel.Pos(), ruleClock, fmt.Sprintf("time.%s: %s", sel.Sel.Name, clockAdvice))
}

// markSelectComms records the operation heading each case of s. ast.Inspect visits s before
// its cases, so the marks are in place when visit reaches them.
func (c *fileChecker) markSelectComms(s *ast.SelectStmt) {
	for _, stmt := range s.Body.List {
		clause, ok := stmt.(*ast.CommClause)
		if !ok {
			continue
		}
		switch comm := clause.Comm.(type) {
		case *ast.SendStmt: // case ch <- v:
			c.selectComms[comm] = true
		case *ast.ExprStmt: // case <-ch:
			c.selectComms[ast.Unparen(comm.X)] = true
		case *ast.AssignStmt: // case v := <-ch: and case v, ok = <-ch:
			if len(comm.Rhs) == 1 {
				c.selectComms[ast.Unparen(comm.Rhs[0])] = true
			}
		}
	}
}
