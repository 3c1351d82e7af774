package autoscale

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokNumber
	tokString
	tokIdent  // name, user variable, function, constant
	tokSysVar // $name: a system variable or a user variable written with "$"
	tokPlus
	tokMinus
	tokStar
	tokSlash
	tokLParen
	tokRParen
	tokComma
	tokSemi
	tokQuestion
	tokColon
	tokDot
	tokAssign
	tokEQ
	tokNE
	tokLT
	tokLE
	tokGT
	tokGE
	tokAnd
	tokOr
	tokNot
)

var tokNames = [...]string{
	tokEOF: "end of formula", tokNumber: "number", tokString: "string", tokIdent: "name",
	tokSysVar: "variable", tokPlus: "+", tokMinus: "-", tokStar: "*", tokSlash: "/",
	tokLParen: "(", tokRParen: ")", tokComma: ",", tokSemi: ";", tokQuestion: "?", tokColon: ":",
	tokDot: ".", tokAssign: "=", tokEQ: "==", tokNE: "!=", tokLT: "<", tokLE: "<=", tokGT: ">",
	tokGE: ">=", tokAnd: "&&", tokOr: "||", tokNot: "!",
}

func (k tokKind) String() string { return tokNames[k] }

type token struct {
	kind tokKind
	p    pos
	text string  // identifiers and variables as written; the literal's text for numbers
	num  float64 // tokNumber
	str  string  // tokString, unquoted
}

// describe names a token for an error message.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "end of formula"
	case tokNumber:
		return "number " + t.text
	case tokString:
		return "string " + strconv.Quote(t.str)
	case tokIdent, tokSysVar:
		return strconv.Quote(t.text)
	}
	return strconv.Quote(t.kind.String())
}

// lex splits src into tokens. Comments run from "//" to the end of the line.
func lex(src string) ([]token, error) {
	var toks []token
	line, col := 1, 1
	i := 0
	// advance moves past n bytes of ASCII, which never contain a newline here.
	advance := func(n int) { i += n; col += n }
	for {
		// Skip white space and comments.
	skip:
		for i < len(src) {
			c := src[i]
			switch {
			case c == '\n':
				i++
				line, col = line+1, 1
			case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
				advance(1)
			case c == '/' && i+1 < len(src) && src[i+1] == '/':
				for i < len(src) && src[i] != '\n' {
					_, size := utf8.DecodeRuneInString(src[i:])
					i += size
					col++
				}
			case c >= utf8.RuneSelf:
				r, size := utf8.DecodeRuneInString(src[i:])
				if r != '\u00a0' && r != '\ufeff' { // no-break space and BOM count as space
					break skip
				}
				i += size
				col++
			default:
				break skip
			}
		}
		p := pos{line, col}
		if i >= len(src) {
			toks = append(toks, token{kind: tokEOF, p: p})
			return toks, nil
		}
		c := src[i]
		two := ""
		if i+1 < len(src) {
			two = src[i : i+2]
		}
		switch {
		case isDigit(c) || (c == '.' && i+1 < len(src) && isDigit(src[i+1])):
			j := i
			for j < len(src) && isDigit(src[j]) {
				j++
			}
			if j < len(src) && src[j] == '.' {
				j++
				for j < len(src) && isDigit(src[j]) {
					j++
				}
			}
			if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
				k := j + 1
				if k < len(src) && (src[k] == '+' || src[k] == '-') {
					k++
				}
				if k < len(src) && isDigit(src[k]) {
					for k < len(src) && isDigit(src[k]) {
						k++
					}
					j = k
				}
			}
			if j < len(src) && isIdentByte(src[j]) {
				return nil, syntaxError(p, "malformed number %q", src[i:j+1])
			}
			text := src[i:j]
			v, err := strconv.ParseFloat(text, 64)
			if err != nil { // out of range: ParseFloat returns ±Inf, which is what a double holds
				if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
					return nil, syntaxError(p, "malformed number %q", text)
				}
			}
			toks = append(toks, token{kind: tokNumber, p: p, text: text, num: v})
			advance(j - i)
		case isIdentStart(c):
			j := i
			for j < len(src) && isIdentByte(src[j]) {
				j++
			}
			toks = append(toks, token{kind: tokIdent, p: p, text: src[i:j]})
			advance(j - i)
		case c == '$':
			j := i + 1
			for j < len(src) && isIdentByte(src[j]) {
				j++
			}
			if j == i+1 {
				return nil, syntaxError(p, `"$" must be followed by a variable name`)
			}
			toks = append(toks, token{kind: tokSysVar, p: p, text: src[i:j]})
			advance(j - i)
		case c == '"':
			var b strings.Builder
			j := i + 1
			width := 1
			for {
				if j >= len(src) || src[j] == '\n' {
					return nil, syntaxError(p, "string is not terminated")
				}
				if src[j] == '"' {
					j++
					width++
					break
				}
				if src[j] == '\\' && j+1 < len(src) && (src[j+1] == '"' || src[j+1] == '\\') {
					b.WriteByte(src[j+1])
					j += 2
					width += 2
					continue
				}
				r, size := utf8.DecodeRuneInString(src[j:])
				b.WriteRune(r)
				j += size
				width++
			}
			toks = append(toks, token{kind: tokString, p: p, str: b.String(), text: src[i:j]})
			i = j
			col += width
		case two == "==" || two == "!=" || two == "<=" || two == ">=" || two == "&&" || two == "||":
			toks = append(toks, token{kind: twoCharOps[two], p: p, text: two})
			advance(2)
		default:
			var k tokKind
			switch c {
			case '+':
				k = tokPlus
			case '-':
				k = tokMinus
			case '*':
				k = tokStar
			case '/':
				k = tokSlash
			case '(':
				k = tokLParen
			case ')':
				k = tokRParen
			case ',':
				k = tokComma
			case ';':
				k = tokSemi
			case '?':
				k = tokQuestion
			case ':':
				k = tokColon
			case '.':
				k = tokDot
			case '=':
				k = tokAssign
			case '<':
				k = tokLT
			case '>':
				k = tokGT
			case '!':
				k = tokNot
			case '%', '^':
				return nil, syntaxError(p, "%q is not an operator of Azure Batch autoscale formulas", string(c))
			case '&', '|':
				return nil, syntaxError(p, "%q is not an operator; did you mean %q?", string(c), string(c)+string(c))
			case '{', '}', '[', ']':
				return nil, syntaxError(p, "%q: autoscale formulas have no list literals; pass several arguments instead, as in avg(a, b)", string(c))
			case '\'':
				return nil, syntaxError(p, `strings are written in double quotes`)
			default:
				r, _ := utf8.DecodeRuneInString(src[i:])
				return nil, syntaxError(p, "unexpected character %q", r)
			}
			toks = append(toks, token{kind: k, p: p, text: string(c)})
			advance(1)
		}
	}
}

var twoCharOps = map[string]tokKind{"==": tokEQ, "!=": tokNE, "<=": tokLE, ">=": tokGE, "&&": tokAnd, "||": tokOr}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isIdentStart(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
func isIdentByte(c byte) bool  { return isIdentStart(c) || isDigit(c) }
