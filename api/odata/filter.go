package odata

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Limits on a $filter or $select value, so that a hostile one costs little: MaxLength bytes of
// the decoded value, and MaxDepth levels of parentheses and not, which bounds the parser's and
// the evaluator's recursion. Azure documents neither; a filter of Azure's documented form needs a
// few levels and a few hundred characters.
const (
	MaxLength = 2048
	MaxDepth  = 32
)

// Filter is a parsed $filter: a condition on one entity. The zero Filter and a nil *Filter match
// every entity.
type Filter struct {
	root node
}

// node is a node of a filter's tree: and, or, not, or a comparison.
type node interface {
	// match reports whether the entity v satisfies the node.
	match(v map[string]any) bool
	// write appends the node's canonical text to b.
	write(b *strings.Builder)
}

// ParseFilter parses the $filter value s against props, the properties the list allows. An empty
// or all-space s is no filter: ParseFilter returns nil, nil. Every other failure is an *Error
// naming the problem and its column.
func ParseFilter(s string, props Properties) (*Filter, error) {
	f, err := parseFilter(s, props, MaxLength)
	if err != nil {
		return nil, err // not a nil *Error in a non-nil error
	}
	return f, nil
}

// parseFilter is ParseFilter with the length limit as an argument (maxLen < 0: none).
func parseFilter(s string, props Properties, maxLen int) (*Filter, *Error) {
	if maxLen >= 0 && len(s) > maxLen {
		return nil, errorAt(FilterParam, s, -1, "the filter is %d bytes long; at most %d are allowed", len(s), maxLen)
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	if toks[0].kind == tEOF {
		return nil, nil // only spaces
	}
	p := &parser{s: s, props: props, toks: toks}
	root, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		if t.kind == tRParen {
			return nil, p.errorAt(t, "')' closes no '('")
		}
		return nil, p.errorAt(t, "expected 'and', 'or' or the end of the filter, found %s", t.describe())
	}
	return &Filter{root: root}, nil
}

// Match reports whether the entity v, as decoded from its JSON into a map[string]any, satisfies
// the filter. A property v does not have, or has as JSON null, is null: "x eq null" holds, "x ne
// null" does not, and every other comparison with it is false except ne, which holds (null is
// not equal to any value). A value of the wrong type for its property (a number where a string
// belongs, a string that is not a date-time) compares the same way as null, except with eq null
// and ne null. Match never panics, whatever v holds.
func (f *Filter) Match(v map[string]any) bool {
	if f == nil || f.root == nil {
		return true
	}
	return f.root.match(v)
}

// String returns the filter in canonical form: keywords in lower case, single spaces, only the
// parentheses the precedence needs, enumeration values as the Properties spell them, and
// date-times as datetime'…' in UTC. ParseFilter parses it back to the same filter.
func (f *Filter) String() string {
	if f == nil || f.root == nil {
		return ""
	}
	var b strings.Builder
	f.root.write(&b)
	return b.String()
}

// The nodes.

type (
	andNode []node
	orNode  []node
	notNode struct{ x node }
	// cmpNode compares the property at path with a literal (op Eq…Le) or tests its prefix (op
	// StartsWith, lit a string).
	cmpNode struct {
		path string
		segs []string
		prop Property
		op   Op
		lit  literal
		want string // lit.s as compared: folded unless case-sensitive
	}
)

func (n andNode) match(v map[string]any) bool {
	for _, x := range n {
		if !x.match(v) {
			return false
		}
	}
	return true
}

func (n orNode) match(v map[string]any) bool {
	for _, x := range n {
		if x.match(v) {
			return true
		}
	}
	return false
}

func (n notNode) match(v map[string]any) bool { return !n.x.match(v) }

func (n andNode) write(b *strings.Builder) {
	for i, x := range n {
		if i > 0 {
			b.WriteString(" and ")
		}
		_, or := x.(orNode)
		writeParen(b, x, or)
	}
}

func (n orNode) write(b *strings.Builder) {
	for i, x := range n {
		if i > 0 {
			b.WriteString(" or ")
		}
		x.write(b)
	}
}

func (n notNode) write(b *strings.Builder) {
	b.WriteString("not ")
	_, and := n.x.(andNode)
	_, or := n.x.(orNode)
	writeParen(b, n.x, and || or)
}

func writeParen(b *strings.Builder, x node, paren bool) {
	if paren {
		b.WriteByte('(')
	}
	x.write(b)
	if paren {
		b.WriteByte(')')
	}
}

func (n *cmpNode) write(b *strings.Builder) {
	if n.op == StartsWith {
		b.WriteString("startswith(" + n.path + ", " + quote(n.lit.s) + ")")
		return
	}
	b.WriteString(n.path + " " + n.op.String() + " " + n.lit.String())
}

// literal is a parsed literal value.
type literal struct {
	kind litKind
	s    string    // lString
	i    int64     // lInt
	f    float64   // lInt, lNumber
	b    bool      // lBool
	t    time.Time // lTime
}

type litKind int

const (
	lNull litKind = iota
	lString
	lInt
	lNumber
	lBool
	lTime
)

// String returns the literal as a filter writes it.
func (l literal) String() string {
	switch l.kind {
	case lString:
		return quote(l.s)
	case lInt:
		return strconv.FormatInt(l.i, 10)
	case lNumber:
		return strconv.FormatFloat(l.f, 'g', -1, 64)
	case lBool:
		return strconv.FormatBool(l.b)
	case lTime:
		return "datetime'" + l.t.UTC().Format(time.RFC3339Nano) + "'"
	}
	return "null"
}

// The parser: recursive descent over the tokens, one function a precedence level.
//
//	or    = and { "or" and }
//	and   = unary { "and" unary }
//	unary = "not" unary | "(" or ")" | "startswith" "(" path "," string ")" | path op literal

type parser struct {
	s     string
	props Properties
	toks  []token
	pos   int
	depth int
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *parser) errorAt(t token, format string, args ...any) *Error {
	return errorAt(FilterParam, p.s, t.off, format, args...)
}

// enter counts one more level of nesting at t, refusing one past MaxDepth.
func (p *parser) enter(t token) *Error {
	p.depth++
	if p.depth > MaxDepth {
		return p.errorAt(t, "the filter nests parentheses and 'not' more than %d deep", MaxDepth)
	}
	return nil
}

func (p *parser) or() (node, *Error) { return chain[orNode](p, "or", p.and) }

func (p *parser) and() (node, *Error) { return chain[andNode](p, "and", p.unary) }

// chain parses operands, read by operand, joined by the keyword kw, into one node L; an operand
// that is itself an L is spliced in ("(a or b) or c" is "a or b or c"), and one operand is
// itself.
func chain[L andNode | orNode](p *parser, kw string, operand func() (node, *Error)) (node, *Error) {
	var kids L
	for {
		x, err := operand()
		if err != nil {
			return nil, err
		}
		if l, ok := x.(L); ok {
			kids = append(kids, l...)
		} else {
			kids = append(kids, x)
		}
		if !p.peek().isKeyword(kw) {
			break
		}
		p.next()
	}
	if len(kids) == 1 {
		return kids[0], nil
	}
	return node(kids), nil
}

func (p *parser) unary() (node, *Error) {
	t := p.peek()
	switch {
	case t.isKeyword("not"):
		p.next()
		if err := p.enter(t); err != nil {
			return nil, err
		}
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		p.depth--
		return notNode{x}, nil
	case t.kind == tLParen:
		p.next()
		if err := p.enter(t); err != nil {
			return nil, err
		}
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, p.errorAt(c, "expected ')' to close the '(' at column %d, found %s", column(p.s, t.off), c.describe())
		}
		p.depth--
		return x, nil
	case t.isKeyword("startswith"):
		return p.startsWith()
	case t.kind == tIdent && !keywords[strings.ToLower(t.text)]:
		return p.comparison()
	}
	return nil, p.errorAt(t, "expected a comparison (property eq value), startswith(…), 'not' or '(', found %s", t.describe())
}

// property reads a property path and returns its description.
func (p *parser) property() (*cmpNode, *Error) {
	t := p.next()
	if t.kind != tIdent || keywords[strings.ToLower(t.text)] {
		return nil, p.errorAt(t, "expected a property name, found %s", t.describe())
	}
	segs := strings.Split(t.text, "/")
	for _, seg := range segs {
		if seg == "" {
			return nil, p.errorAt(t, "%q is not a property path: names are joined by single slashes", t.text)
		}
	}
	prop, ok := p.props[t.text]
	if !ok || prop.Kind == SelectOnly {
		if !ok {
			if near := p.props.fold(t.text); near != "" && p.props[near].Kind != SelectOnly {
				return nil, p.errorAt(t, "unknown property '%s'; did you mean '%s'? (property names are case-sensitive)", t.text, near)
			}
		}
		return nil, p.errorAt(t, "'%s' is not a property this list can filter on; it can filter on: %s", t.text, p.props.filterable())
	}
	return &cmpNode{path: t.text, segs: segs, prop: prop}, nil
}

func (p *parser) startsWith() (node, *Error) {
	fn := p.next()
	if t := p.next(); t.kind != tLParen {
		return nil, p.errorAt(t, "expected '(' after startswith, found %s", t.describe())
	}
	n, err := p.property()
	if err != nil {
		return nil, err
	}
	if !n.prop.allows(StartsWith) {
		return nil, p.errorAt(fn, "startswith is not allowed on %s (%s); it allows %s", n.path, n.prop.Kind, n.prop.allowed())
	}
	if t := p.next(); t.kind != tComma {
		return nil, p.errorAt(t, "expected ',' after the property in startswith, found %s", t.describe())
	}
	lit := p.next()
	if lit.kind != tString {
		return nil, p.errorAt(lit, "startswith takes a quoted string, found %s", lit.describe())
	}
	if t := p.next(); t.kind != tRParen {
		return nil, p.errorAt(t, "expected ')' to close startswith, found %s", t.describe())
	}
	n.op, n.lit = StartsWith, literal{kind: lString, s: lit.text}
	n.want = n.fold(lit.text)
	return n, nil
}

var ops = map[string]Op{"eq": Eq, "ne": Ne, "gt": Gt, "ge": Ge, "lt": Lt, "le": Le}

func (p *parser) comparison() (node, *Error) {
	n, err := p.property()
	if err != nil {
		return nil, err
	}
	t := p.next()
	op, ok := ops[strings.ToLower(t.text)]
	if t.kind != tIdent || !ok {
		return nil, p.errorAt(t, "expected an operator (eq, ne, gt, ge, lt, le) after %s, found %s", n.path, t.describe())
	}
	if !n.prop.allows(op) {
		return nil, p.errorAt(t, "%s is not allowed on %s (%s); it allows %s", op, n.path, n.prop.Kind, n.prop.allowed())
	}
	lt := p.next()
	lit, err := p.literal(n, lt)
	if err != nil {
		return nil, err
	}
	if lit.kind == lNull && op != Eq && op != Ne {
		return nil, p.errorAt(lt, "null can be compared with eq and ne only")
	}
	n.op, n.lit = op, lit
	n.want = n.fold(lit.s)
	return n, nil
}

var (
	intRE    = regexp.MustCompile(`^-?[0-9]+$`)
	numberRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)
)

// literal reads the literal t compared with the property of n.
func (p *parser) literal(n *cmpNode, t token) (literal, *Error) {
	k := n.prop.Kind
	mismatch := func(what string) (literal, *Error) {
		return literal{}, p.errorAt(t, "%s is of type %s; %s is %s", n.path, k, t.describe(), what)
	}
	switch t.kind {
	case tIdent:
		switch strings.ToLower(t.text) {
		case "null":
			return literal{kind: lNull}, nil
		case "true", "false":
			if k != Bool {
				return mismatch("a boolean")
			}
			return literal{kind: lBool, b: strings.EqualFold(t.text, "true")}, nil
		}
		if k == String || k == Enum {
			return literal{}, p.errorAt(t, "expected a value after the operator, found %s; a string is quoted: '%s'", t.describe(), t.text)
		}
		return literal{}, p.errorAt(t, "expected a value after the operator, found %s", t.describe())
	case tString:
		switch k {
		case String:
			return literal{kind: lString, s: t.text}, nil
		case Enum:
			for _, v := range n.prop.Values {
				if strings.EqualFold(v, t.text) {
					return literal{kind: lString, s: v}, nil
				}
			}
			return literal{}, p.errorAt(t, "%s is not a value of %s; its values are %s", t.describe(), n.path, strings.Join(n.prop.Values, ", "))
		case Time:
			return p.timeLiteral(n, t)
		}
		return mismatch("a string")
	case tDatetime:
		if k != Time {
			return mismatch("a date-time")
		}
		return p.timeLiteral(n, t)
	case tAtom:
		switch {
		case k == Int && intRE.MatchString(t.text):
			i, err := strconv.ParseInt(t.text, 10, 64)
			if err != nil {
				return literal{}, p.errorAt(t, "%s is out of range for an integer", t.describe())
			}
			return literal{kind: lInt, i: i, f: float64(i)}, nil
		case k == Number && numberRE.MatchString(t.text):
			f, err := strconv.ParseFloat(t.text, 64)
			if err != nil || math.IsInf(f, 0) {
				return literal{}, p.errorAt(t, "%s is out of range for a number", t.describe())
			}
			return literal{kind: lNumber, f: f}, nil
		case k == Time && !numberRE.MatchString(t.text):
			return p.timeLiteral(n, t)
		case k == Int && numberRE.MatchString(t.text):
			return mismatch("not an integer")
		case numberRE.MatchString(t.text):
			return mismatch("a number")
		}
		return literal{}, p.errorAt(t, "%s is not a value: not a number, a quoted string or a date-time", t.describe())
	}
	return literal{}, p.errorAt(t, "expected a value after the operator, found %s", t.describe())
}

// timeLayouts are the forms of a date-time literal: RFC 3339 (W3C-DTF; the fraction optional),
// the same without a zone (UTC), and RFC 1123, the two forms Azure documents.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", time.RFC1123Z, time.RFC1123}

// timeLiteral parses t, a date-time compared with the property of n.
func (p *parser) timeLiteral(n *cmpNode, t token) (literal, *Error) {
	for _, layout := range timeLayouts {
		tm, err := time.Parse(layout, t.text)
		if err != nil {
			continue
		}
		if layout == time.RFC1123 && !strings.HasSuffix(t.text, " GMT") && !strings.HasSuffix(t.text, " UTC") {
			continue // a zone abbreviation Go cannot place would read as UTC
		}
		if y := tm.UTC().Year(); y < 0 || y > 9999 {
			break
		}
		return literal{kind: lTime, t: tm}, nil
	}
	return literal{}, p.errorAt(t, "%s is not a date-time; %s takes datetime'2024-01-01T00:00:00Z' (RFC 3339 or RFC 1123)", t.describe(), n.path)
}
