package actorvet

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ruleMapOrder flags a range over a map whose body depends on the order of iteration.
const ruleMapOrder = "map-order"

const mapOrderAdvice = "Go randomizes map order, so the tester cannot replay it: range over sorted keys " +
	"(collect the keys, sort them, range over the slice) or keep an ordered index"

// actorPath is the import path of Corral's actor runtime, whose Context (and the tester's Sim)
// carry every effect the tester observes.
const actorPath = "corral/actor"

// typeCheck type-checks the package made of files, best effort, and returns what it learnt of
// types, definitions and uses. Packages of the module that holds dir are type-checked from
// source; any other import (the standard library included) is an empty stand-in, so expressions
// that involve it have no known type, and errors are ignored: the map-order rule acts only where
// the type of the ranged expression is known to be a map.
func typeCheck(fset *token.FileSet, dir string, files []*ast.File) *types.Info {
	im := newSourceImporter(fset, dir)
	info := &types.Info{
		Types: map[ast.Expr]types.TypeAndValue{},
		Defs:  map[*ast.Ident]types.Object{},
		Uses:  map[*ast.Ident]types.Object{},
	}
	conf := types.Config{Importer: im, Error: func(error) {}, FakeImportC: true}
	conf.Check(im.pathOf(dir), fset, files, info) // errors are expected, see above
	return info
}

// sourceImporter imports the packages of one module from source and stands in empty packages for
// everything else.
type sourceImporter struct {
	fset    *token.FileSet
	root    string // the module's directory, "" if none was found
	modPath string // its module path
	pkgs    map[string]*types.Package
}

func newSourceImporter(fset *token.FileSet, dir string) *sourceImporter {
	im := &sourceImporter{fset: fset, pkgs: map[string]*types.Package{}}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return im
	}
	for d := abs; ; d = filepath.Dir(d) {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil {
			im.root, im.modPath = d, modulePath(string(data))
			return im
		}
		if filepath.Dir(d) == d {
			return im
		}
	}
}

// modulePath returns the path on the module line of a go.mod file's content.
func modulePath(gomod string) string {
	for _, line := range strings.Split(gomod, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module "); ok {
			rest = strings.TrimSpace(rest)
			if p, err := strconv.Unquote(rest); err == nil {
				return p
			}
			return rest
		}
	}
	return ""
}

// pathOf returns the import path of the package in dir ("" outside the module).
func (im *sourceImporter) pathOf(dir string) string {
	abs, err := filepath.Abs(dir)
	if im.root == "" || err != nil {
		return ""
	}
	rel, err := filepath.Rel(im.root, abs)
	if err != nil || strings.HasPrefix(rel, "..") {
		return ""
	}
	if rel == "." {
		return im.modPath
	}
	return im.modPath + "/" + filepath.ToSlash(rel)
}

// Import implements types.Importer.
func (im *sourceImporter) Import(path string) (*types.Package, error) {
	if p, ok := im.pkgs[path]; ok {
		return p, nil
	}
	if im.modPath != "" && (path == im.modPath || strings.HasPrefix(path, im.modPath+"/")) {
		dir := filepath.Join(im.root, filepath.FromSlash(strings.TrimPrefix(path, im.modPath)))
		if files := parseForTypes(im.fset, dir); len(files) > 0 {
			// A stand-in first, so that an import cycle (a broken module) cannot recurse for ever.
			im.pkgs[path] = types.NewPackage(path, files[0].Name.Name)
			conf := types.Config{Importer: im, Error: func(error) {}, FakeImportC: true}
			pkg, _ := conf.Check(path, im.fset, files, nil)
			if pkg != nil {
				im.pkgs[path] = pkg
			}
			return im.pkgs[path], nil
		}
	}
	if path == "unsafe" {
		return types.Unsafe, nil
	}
	name := path[strings.LastIndex(path, "/")+1:]
	pkg := types.NewPackage(path, name)
	pkg.MarkComplete()
	im.pkgs[path] = pkg
	return pkg, nil
}

// ImportFrom implements types.ImporterFrom, so that the type checker does not fall back to the
// default importer.
func (im *sourceImporter) ImportFrom(path, _ string, _ types.ImportMode) (*types.Package, error) {
	return im.Import(path)
}

var _ types.ImporterFrom = (*sourceImporter)(nil)

// parseForTypes parses the package files of dir, skipping what does not parse.
func parseForTypes(fset *token.FileSet, dir string) []*ast.File {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var files []*ast.File
	for _, e := range entries {
		if e.IsDir() || !isPackageSource(e.Name()) {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, parser.SkipObjectResolution)
		if err == nil && (len(files) == 0 || f.Name.Name == files[0].Name.Name) {
			files = append(files, f)
		}
	}
	return files
}

// isMap reports whether t is a map, or a type parameter whose constraint admits only maps.
func isMap(t types.Type) bool {
	if t == nil {
		return false
	}
	if tp, ok := t.(*types.TypeParam); ok {
		iface, ok := tp.Constraint().Underlying().(*types.Interface)
		if !ok || iface.NumEmbeddeds() == 0 {
			return false
		}
		for i := range iface.NumEmbeddeds() {
			switch e := iface.EmbeddedType(i).(type) {
			case *types.Union:
				for j := range e.Len() {
					if _, ok := e.Term(j).Type().Underlying().(*types.Map); !ok {
						return false
					}
				}
			default:
				if _, ok := e.Underlying().(*types.Map); !ok {
					return false
				}
			}
		}
		return true
	}
	_, ok := t.Underlying().(*types.Map)
	return ok
}

// mapRange judges one range over a map.
type mapRange struct {
	c     *fileChecker
	rs    *ast.RangeStmt
	fn    *ast.BlockStmt // the body of the enclosing function, for the sort that may follow
	exits bool           // the body leaves the loop early (break, or return of constants)
	keeps bool           // the body accumulates (appends, sums, map writes)
	why   string         // the first order-dependent construct found
}

// checkMapRange reports rs if its body depends on the order of iteration. See the package
// documentation for the rule.
func (c *fileChecker) checkMapRange(rs *ast.RangeStmt, fn *ast.BlockStmt) {
	if c.info == nil || !isMap(c.info.TypeOf(rs.X)) {
		return
	}
	r := &mapRange{c: c, rs: rs, fn: fn}
	r.block(rs.Body.List)
	if r.why == "" {
		r.calls(rs.Body)
	}
	if r.why == "" && r.exits && r.keeps {
		r.why = "it leaves the loop early after accumulating, so what it kept depends on the order"
	}
	if r.why != "" {
		c.report(rs.Pos(), ruleMapOrder, "range over a map: "+r.why+"; "+mapOrderAdvice)
	}
}

func (r *mapRange) fail(why string) {
	if r.why == "" {
		r.why = why
	}
}

func (r *mapRange) block(list []ast.Stmt) {
	for _, s := range list {
		r.stmt(s)
	}
}

func (r *mapRange) stmt(s ast.Stmt) {
	switch s := s.(type) {
	case nil, *ast.EmptyStmt:
	case *ast.BlockStmt:
		r.block(s.List)
	case *ast.LabeledStmt:
		r.stmt(s.Stmt)
	case *ast.ExprStmt:
		// A call: the runtime check (calls) judges it.
	case *ast.DeclStmt:
		// var and const declarations inside the loop are the loop's own.
	case *ast.IncDecStmt:
		r.keeps = true
	case *ast.AssignStmt:
		r.assign(s)
	case *ast.IfStmt:
		r.stmt(s.Init)
		r.block(s.Body.List)
		r.stmt(s.Else)
	case *ast.SwitchStmt:
		r.stmt(s.Init)
		r.clauses(s.Body)
	case *ast.TypeSwitchStmt:
		r.stmt(s.Init)
		r.clauses(s.Body)
	case *ast.ForStmt:
		r.stmt(s.Init)
		r.stmt(s.Post)
		r.block(s.Body.List)
	case *ast.RangeStmt:
		r.block(s.Body.List)
	case *ast.BranchStmt:
		switch s.Tok {
		case token.CONTINUE:
		case token.BREAK:
			r.exits = true
		default:
			r.fail(s.Tok.String() + " statement in the body")
		}
	case *ast.ReturnStmt:
		for _, res := range s.Results {
			if !r.constant(res) {
				r.fail("it returns a value that depends on which element comes first")
				return
			}
		}
		r.exits = true
	default:
		r.fail("a statement whose effect depends on the order")
	}
}

func (r *mapRange) clauses(body *ast.BlockStmt) {
	for _, cl := range body.List {
		if cc, ok := cl.(*ast.CaseClause); ok {
			r.block(cc.Body)
		}
	}
}

// assign accepts what does not depend on the order: definitions and writes of the loop's own
// variables, writes of map elements, commutative accumulation into numbers, min and max, constants,
// and appends to a slice that is sorted after the loop.
func (r *mapRange) assign(s *ast.AssignStmt) {
	if s.Tok == token.DEFINE {
		return
	}
	for i, lhs := range s.Lhs {
		if r.local(lhs) || r.mapElem(lhs) {
			continue
		}
		switch s.Tok {
		case token.ADD_ASSIGN, token.SUB_ASSIGN, token.MUL_ASSIGN, token.OR_ASSIGN, token.AND_ASSIGN, token.XOR_ASSIGN, token.AND_NOT_ASSIGN:
			if b, ok := r.typeOf(lhs).(*types.Basic); ok && b.Info()&types.IsNumeric != 0 {
				r.keeps = true
				continue
			}
			r.fail("it accumulates with " + s.Tok.String() + " into " + types.ExprString(lhs) + ", which is not known to be a number")
			continue
		case token.ASSIGN:
		default:
			r.fail("it updates " + types.ExprString(lhs) + " with " + s.Tok.String())
			continue
		}
		if len(s.Rhs) != len(s.Lhs) {
			r.fail("it assigns " + types.ExprString(lhs) + " from a call, so the last element wins")
			continue
		}
		rhs := ast.Unparen(s.Rhs[i])
		switch {
		case r.constant(rhs):
		case r.builtinOf(rhs, lhs, "min", "max"):
			r.keeps = true
		case r.builtinOf(rhs, lhs, "append"):
			r.keeps = true
			if !r.sortedAfter(lhs) {
				r.fail("it appends to " + types.ExprString(lhs) + ", which is not sorted after the loop")
			}
		default:
			r.fail("it assigns " + types.ExprString(lhs) + ", so the last element wins")
		}
	}
}

func (r *mapRange) typeOf(e ast.Expr) types.Type { return r.c.info.TypeOf(e) }

// constant reports whether e is a constant or nil.
func (r *mapRange) constant(e ast.Expr) bool {
	if tv, ok := r.c.info.Types[e]; ok && (tv.Value != nil || tv.IsNil()) {
		return true
	}
	id, ok := ast.Unparen(e).(*ast.Ident)
	return ok && (id.Name == "nil" || id.Name == "true" || id.Name == "false")
}

// local reports whether the variable at the root of e (x in x, x.f, x[i], *x) is declared inside
// the loop, the key and value included.
func (r *mapRange) local(e ast.Expr) bool {
	for {
		switch x := ast.Unparen(e).(type) {
		case *ast.Ident:
			if x.Name == "_" {
				return true
			}
			obj := r.c.info.Uses[x]
			if obj == nil {
				obj = r.c.info.Defs[x]
			}
			return obj != nil && obj.Pos() >= r.rs.Pos() && obj.Pos() < r.rs.End()
		case *ast.SelectorExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.StarExpr:
			e = x.X
		default:
			return false
		}
	}
}

// mapElem reports whether e is an element of a map: m[k], with m of map type.
func (r *mapRange) mapElem(e ast.Expr) bool {
	ix, ok := ast.Unparen(e).(*ast.IndexExpr)
	return ok && isMap(r.typeOf(ix.X))
}

// builtinOf reports whether e is a call of one of the named builtins whose first argument is lhs,
// as in x = max(x, v) or s = append(s, k).
func (r *mapRange) builtinOf(e, lhs ast.Expr, names ...string) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok || len(call.Args) == 0 {
		return false
	}
	id, ok := ast.Unparen(call.Fun).(*ast.Ident)
	if !ok {
		return false
	}
	if _, builtin := r.c.info.Uses[id].(*types.Builtin); !builtin {
		return false
	}
	for _, n := range names {
		if id.Name == n {
			return types.ExprString(call.Args[0]) == types.ExprString(lhs)
		}
	}
	return false
}

// sortFuncs are the functions of packages sort and slices that sort their first argument.
var sortFuncs = map[string]map[string]bool{
	"sort":   {"Strings": true, "Ints": true, "Float64s": true, "Sort": true, "Stable": true, "Slice": true, "SliceStable": true},
	"slices": {"Sort": true, "SortFunc": true, "SortStableFunc": true},
}

// sortedAfter reports whether the enclosing function sorts s after the loop: a call such as
// sort.Strings(s), slices.SortFunc(s, cmp) or sort.Sort(byName(s)).
func (r *mapRange) sortedAfter(s ast.Expr) bool {
	if r.fn == nil {
		return false
	}
	want := types.ExprString(s)
	found := false
	ast.Inspect(r.fn, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if found || !ok || call.Pos() < r.rs.End() || len(call.Args) == 0 {
			return !found
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		pkg, ok := sel.X.(*ast.Ident)
		if !ok || !sortFuncs[r.c.importPaths[pkg.Name]][sel.Sel.Name] {
			return true
		}
		arg := ast.Unparen(call.Args[0])
		if conv, ok := arg.(*ast.CallExpr); ok && len(conv.Args) == 1 {
			arg = ast.Unparen(conv.Args[0]) // sort.Sort(byName(s))
		}
		found = types.ExprString(arg) == want
		return !found
	})
	return found
}

// calls fails the range if its body calls into the actor runtime: a method of actor.Context (a
// send, an announcement, a timer, a random choice, a log line), or any function or method that
// is handed a Context, or the tester's Sim. Those effects are what the tester records, and their
// order is the schedule it replays.
func (r *mapRange) calls(body *ast.BlockStmt) {
	ast.Inspect(body, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || r.why != "" {
			return r.why == ""
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); ok && r.runtime(sel.X) {
			r.fail("it calls " + types.ExprString(call.Fun) + " in map order")
			return false
		}
		for _, a := range call.Args {
			if r.runtime(a) {
				r.fail("it calls " + types.ExprString(call.Fun) + " with " + types.ExprString(a) + " in map order")
				return false
			}
		}
		return true
	})
}

// runtime reports whether e is the actor runtime as actor code sees it: an actor.Context or a
// systest.Sim, or a pointer to one.
func (r *mapRange) runtime(e ast.Expr) bool {
	t := r.typeOf(e)
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	named, ok := t.(*types.Named)
	if !ok || named.Obj().Pkg() == nil {
		return false
	}
	path, name := named.Obj().Pkg().Path(), named.Obj().Name()
	return (path == actorPath && name == "Context") || (path == actorPath+"/systest" && name == "Sim")
}
