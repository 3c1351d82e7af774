package autoscale

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Azure's limits on a formula ("Autoscale formulas" in Azure's doc).
const (
	// MaxFormulaLength is the longest formula, in characters (Azure: "cannot exceed 8 KB"; its
	// error code's description says 8192 characters, which corral/batch checks too).
	MaxFormulaLength = 8192
	// MaxStatements is the most statements a formula may have. Empty statements (";;", a line
	// holding only a comment) do not count.
	MaxStatements = 100
)

// Formula is a parsed autoscale formula. It holds no state between evaluations: one Formula may be
// evaluated any number of times, from several goroutines at once.
type Formula struct {
	src   string
	stmts []*stmt
}

// Source returns the text the formula was parsed from.
func (f *Formula) Source() string { return f.src }

// stmt is one statement: an assignment when target or sys is set, else an expression evaluated
// for its effect (stop(), an error) and discarded.
type stmt struct {
	p      pos
	target string  // user variable, as written
	sys    *sysVar // settable system variable
	x      expr
}

// expr is a node of an expression tree. at is where its text starts, for errors about the whole
// expression (an argument of the wrong type); errors about an operator point at the operator.
type expr interface{ at() pos }

type (
	numberExpr struct {
		p pos
		v float64
	}
	stringExpr struct {
		p pos
		v string
	}
	// constExpr is a predefined name: a TimeInterval_ unit or a deallocation option.
	constExpr struct {
		p pos
		v value
	}
	varExpr struct {
		p    pos
		name string
	}
	// sysVarExpr reads a system variable, never a metric: metrics only take methods.
	sysVarExpr struct {
		p pos
		v *sysVar
	}
	unaryExpr struct {
		p  pos
		op tokKind
		x  expr
	}
	binaryExpr struct {
		p    pos
		op   tokKind
		x, y expr
	}
	// logicalExpr is && or ||, which short-circuit.
	logicalExpr struct {
		p    pos
		op   tokKind
		x, y expr
	}
	condExpr struct {
		p          pos
		cond, a, b expr
	}
	callExpr struct {
		p    pos
		fn   *function
		args []expr
	}
	methodExpr struct {
		p      pos
		metric Metric
		m      *method
		args   []expr
	}
	fieldExpr struct {
		p     pos
		x     expr
		field string
	}
)

func (e *numberExpr) at() pos  { return e.p }
func (e *stringExpr) at() pos  { return e.p }
func (e *constExpr) at() pos   { return e.p }
func (e *varExpr) at() pos     { return e.p }
func (e *sysVarExpr) at() pos  { return e.p }
func (e *unaryExpr) at() pos   { return e.p }
func (e *binaryExpr) at() pos  { return e.x.at() }
func (e *logicalExpr) at() pos { return e.x.at() }
func (e *condExpr) at() pos    { return e.cond.at() }
func (e *callExpr) at() pos    { return e.p }
func (e *methodExpr) at() pos  { return e.p }
func (e *fieldExpr) at() pos   { return e.x.at() }

// Parse parses an autoscale formula. It checks what can be checked without evaluating: the
// syntax, Azure's limits of [MaxFormulaLength] characters and [MaxStatements] statements, that
// every function, method, constant and timestamp field exists and gets a number of arguments it
// accepts, that only settable system variables are assigned, and that sampled metrics are only
// used through their methods. Types, and whether a variable is assigned before it is read, are
// checked by [Formula.Evaluate], as Azure does. Errors are of type *[Error].
func Parse(src string) (*Formula, error) {
	if n := utf8.RuneCountInString(src); n > MaxFormulaLength {
		return nil, errorAt(CodeFormulaTooLong, positionOfRune(src, MaxFormulaLength),
			"the formula is %d characters long; Azure Batch allows at most %d", n, MaxFormulaLength)
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	ps := &parser{toks: toks}
	f := &Formula{src: src}
	for {
		for ps.peek().kind == tokSemi {
			ps.next()
		}
		if ps.peek().kind == tokEOF {
			return f, nil
		}
		if len(f.stmts) == MaxStatements {
			return nil, syntaxError(ps.peek().p, "the formula has more than %d statements, Azure Batch's limit", MaxStatements)
		}
		s, err := ps.statement()
		if err != nil {
			return nil, err
		}
		f.stmts = append(f.stmts, s)
		switch t := ps.peek(); t.kind {
		case tokSemi, tokEOF:
		default:
			return nil, syntaxError(t.p, "expected \";\" or the end of the formula, found %s", t.describe())
		}
	}
}

// positionOfRune returns the position of the n'th character of src, counted from 0.
func positionOfRune(src string, n int) pos {
	p := pos{1, 1}
	for _, r := range src {
		if n == 0 {
			break
		}
		n--
		if r == '\n' {
			p.line, p.col = p.line+1, 1
		} else {
			p.col++
		}
	}
	return p
}

type parser struct {
	toks []token
	i    int
}

func (ps *parser) peek() token { return ps.toks[ps.i] }

func (ps *parser) peek2() token {
	if ps.i+1 < len(ps.toks) {
		return ps.toks[ps.i+1]
	}
	return ps.toks[len(ps.toks)-1]
}

func (ps *parser) next() token {
	t := ps.toks[ps.i]
	if t.kind != tokEOF {
		ps.i++
	}
	return t
}

func (ps *parser) expect(k tokKind, context string) (token, error) {
	t := ps.next()
	if t.kind != k {
		return t, syntaxError(t.p, "expected %q %s, found %s", k.String(), context, t.describe())
	}
	return t, nil
}

func (ps *parser) statement() (*stmt, error) {
	t := ps.peek()
	if (t.kind == tokIdent || t.kind == tokSysVar) && ps.peek2().kind == tokAssign {
		s := &stmt{p: t.p}
		if err := ps.assignTarget(s, t); err != nil {
			return nil, err
		}
		ps.next() // the name
		ps.next() // "="
		x, err := ps.expr()
		if err != nil {
			return nil, err
		}
		s.x = x
		return s, nil
	}
	x, err := ps.expr()
	if err != nil {
		return nil, err
	}
	return &stmt{p: t.p, x: x}, nil
}

func (ps *parser) assignTarget(s *stmt, t token) error {
	if t.kind == tokSysVar {
		if v := lookupSysVar(t.text); v != nil {
			if !v.settable() {
				return syntaxError(t.p, "%s is read-only; only $TargetDedicatedNodes, $TargetLowPriorityNodes and $NodeDeallocationOption can be assigned", v.name)
			}
			s.sys = v
			return nil
		}
	} else if _, ok := constant(t.text); ok {
		return syntaxError(t.p, "cannot assign to %s, a predefined constant", t.text)
	}
	s.target = t.text
	return nil
}

// The grammar, loosest binding first (C's precedence; Azure documents none):
//
//	expr    = or [ "?" expr ":" expr ]
//	or      = and { "||" and }
//	and     = eq { "&&" eq }
//	eq      = rel { ("==" | "!=") rel }
//	rel     = add { ("<" | "<=" | ">" | ">=") add }
//	add     = mul { ("+" | "-") mul }
//	mul     = unary { ("*" | "/") unary }
//	unary   = ("-" | "!") unary | postfix
//	postfix = primary { "." name [ "(" args ")" ] }
//	primary = number | string | name | $name | name "(" args ")" | "(" expr ")"
func (ps *parser) expr() (expr, error) {
	cond, err := ps.or()
	if err != nil {
		return nil, err
	}
	if ps.peek().kind != tokQuestion {
		return cond, nil
	}
	q := ps.next()
	a, err := ps.expr()
	if err != nil {
		return nil, err
	}
	if _, err := ps.expect(tokColon, "in a ?: expression"); err != nil {
		return nil, err
	}
	b, err := ps.expr()
	if err != nil {
		return nil, err
	}
	return &condExpr{p: q.p, cond: cond, a: a, b: b}, nil
}

func (ps *parser) or() (expr, error) {
	return ps.binaryLevel(ps.and, true, tokOr)
}

func (ps *parser) and() (expr, error) {
	return ps.binaryLevel(ps.eq, true, tokAnd)
}

func (ps *parser) eq() (expr, error) {
	return ps.binaryLevel(ps.rel, false, tokEQ, tokNE)
}

func (ps *parser) rel() (expr, error) {
	return ps.binaryLevel(ps.add, false, tokLT, tokLE, tokGT, tokGE)
}

func (ps *parser) add() (expr, error) {
	return ps.binaryLevel(ps.mul, false, tokPlus, tokMinus)
}

func (ps *parser) mul() (expr, error) {
	return ps.binaryLevel(ps.unary, false, tokStar, tokSlash)
}

// binaryLevel parses a left-associative chain of operand (op operand)*.
func (ps *parser) binaryLevel(operand func() (expr, error), logical bool, ops ...tokKind) (expr, error) {
	x, err := operand()
	if err != nil {
		return nil, err
	}
	for {
		t := ps.peek()
		found := false
		for _, op := range ops {
			if t.kind == op {
				found = true
				break
			}
		}
		if !found {
			return x, nil
		}
		ps.next()
		y, err := operand()
		if err != nil {
			return nil, err
		}
		if logical {
			x = &logicalExpr{p: t.p, op: t.kind, x: x, y: y}
		} else {
			x = &binaryExpr{p: t.p, op: t.kind, x: x, y: y}
		}
	}
}

func (ps *parser) unary() (expr, error) {
	t := ps.peek()
	if t.kind == tokMinus || t.kind == tokNot {
		ps.next()
		x, err := ps.unary()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{p: t.p, op: t.kind, x: x}, nil
	}
	if t.kind == tokPlus {
		return nil, syntaxError(t.p, "unary + is not an operator of Azure Batch autoscale formulas")
	}
	return ps.postfix()
}

func (ps *parser) postfix() (expr, error) {
	t := ps.peek()
	// A sampled metric is an object: the only thing a formula can do with it is call a method.
	if t.kind == tokSysVar {
		if v := lookupSysVar(t.text); v != nil && v.kind == sysMetric {
			ps.next()
			if ps.peek().kind != tokDot {
				return nil, syntaxError(t.p, "%s is a sampled metric, not a value; call one of its methods, as in %s.GetSample(TimeInterval_Minute * 5)", v.name, v.name)
			}
			ps.next() // "."
			name, err := ps.expect(tokIdent, "after \".\"")
			if err != nil {
				return nil, err
			}
			m := lookupMethod(name.text)
			if m == nil {
				return nil, syntaxError(name.p, "unknown method %q of %s; the methods are GetSample, GetSamplePercent, GetSamplePeriod, Count and HistoryBeginTime", name.text, v.name)
			}
			if ps.peek().kind != tokLParen {
				return nil, syntaxError(ps.peek().p, "expected \"(\" after %s.%s", v.name, m.name)
			}
			args, err := ps.args()
			if err != nil {
				return nil, err
			}
			if len(args) < m.min || len(args) > m.max {
				return nil, syntaxError(name.p, "%s takes %s, not %d", m.name, arity(m.min, m.max), len(args))
			}
			return ps.fields(&methodExpr{p: name.p, metric: v.metric, m: m, args: args})
		}
	}
	x, err := ps.primary()
	if err != nil {
		return nil, err
	}
	return ps.fields(x)
}

// fields parses the ".field" suffixes of a value: only timestamps have fields.
func (ps *parser) fields(x expr) (expr, error) {
	for ps.peek().kind == tokDot {
		ps.next()
		name, err := ps.expect(tokIdent, "after \".\"")
		if err != nil {
			return nil, err
		}
		if ps.peek().kind == tokLParen {
			return nil, syntaxError(name.p, "only sampled metrics such as $CPUPercent have methods")
		}
		f, ok := lookupField(name.text)
		if !ok {
			return nil, syntaxError(name.p, "unknown field %q; a timestamp has the fields %s", name.text, strings.Join(timestampFields, ", "))
		}
		x = &fieldExpr{p: name.p, x: x, field: f}
	}
	return x, nil
}

func (ps *parser) primary() (expr, error) {
	t := ps.next()
	switch t.kind {
	case tokNumber:
		return &numberExpr{p: t.p, v: t.num}, nil
	case tokString:
		return &stringExpr{p: t.p, v: t.str}, nil
	case tokLParen:
		x, err := ps.expr()
		if err != nil {
			return nil, err
		}
		if _, err := ps.expect(tokRParen, "to close \"(\""); err != nil {
			return nil, err
		}
		return x, nil
	case tokSysVar:
		if v := lookupSysVar(t.text); v != nil {
			return &sysVarExpr{p: t.p, v: v}, nil
		}
		if ps.peek().kind == tokLParen {
			return nil, syntaxError(t.p, "%s is a variable, not a function", t.text)
		}
		return &varExpr{p: t.p, name: t.text}, nil
	case tokIdent:
		if ps.peek().kind == tokLParen {
			fn := lookupFunction(t.text)
			if fn == nil {
				return nil, syntaxError(t.p, "unknown function %q", t.text)
			}
			args, err := ps.args()
			if err != nil {
				return nil, err
			}
			if len(args) < fn.min || len(args) > fn.max {
				return nil, syntaxError(t.p, "%s takes %s, not %d", fn.name, arity(fn.min, fn.max), len(args))
			}
			return &callExpr{p: t.p, fn: fn, args: args}, nil
		}
		if v, ok := constant(t.text); ok {
			return &constExpr{p: t.p, v: v}, nil
		}
		return &varExpr{p: t.p, name: t.text}, nil
	}
	return nil, syntaxError(t.p, "expected a value, found %s", t.describe())
}

// args parses "(" [ expr { "," expr } ] ")".
func (ps *parser) args() ([]expr, error) {
	if _, err := ps.expect(tokLParen, "before arguments"); err != nil {
		return nil, err
	}
	var args []expr
	if ps.peek().kind == tokRParen {
		ps.next()
		return args, nil
	}
	for {
		x, err := ps.expr()
		if err != nil {
			return nil, err
		}
		args = append(args, x)
		t := ps.next()
		switch t.kind {
		case tokComma:
			continue
		case tokRParen:
			return args, nil
		}
		return nil, syntaxError(t.p, "expected \",\" or \")\" in the arguments, found %s", t.describe())
	}
}

func arity(min, max int) string {
	plural := func(n int) string {
		if n == 1 {
			return "1 argument"
		}
		return strconv.Itoa(n) + " arguments"
	}
	switch {
	case min == max:
		return plural(min)
	case max == manyArgs:
		return "at least " + plural(min)
	default:
		return strconv.Itoa(min) + " to " + plural(max)
	}
}
