package odata

import (
	"strings"
	"unicode/utf8"
)

// tokKind is the kind of a token of a filter.
type tokKind int

const (
	tEOF      tokKind = iota
	tLParen           // (
	tRParen           // )
	tComma            // ,
	tIdent            // a keyword or a property path: letters, digits, _ and /
	tString           // 'quoted', text unescaped
	tDatetime         // datetime'…', text the quoted part
	tAtom             // a number or a bare timestamp, text as written
)

// token is one token of a filter; off is its byte offset.
type token struct {
	kind tokKind
	text string
	off  int
}

// describe names the token for error messages.
func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "the end of the filter"
	case tLParen:
		return "'('"
	case tRParen:
		return "')'"
	case tComma:
		return "','"
	case tString:
		return quote(t.text)
	case tDatetime:
		return "datetime" + quote(t.text)
	}
	return "'" + t.text + "'"
}

// keywords are the identifiers that cannot be property names; they match case-insensitively.
var keywords = map[string]bool{
	"eq": true, "ne": true, "gt": true, "ge": true, "lt": true, "le": true,
	"and": true, "or": true, "not": true, "startswith": true,
	"true": true, "false": true, "null": true,
}

// isKeyword reports whether t is the keyword kw (lower case).
func (t token) isKeyword(kw string) bool {
	return t.kind == tIdent && strings.EqualFold(t.text, kw)
}

func isSpace(c byte) bool { return strings.IndexByte(spaces, c) >= 0 }

func isIdentStart(c byte) bool {
	return c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || '0' <= c && c <= '9' || c == '/' }

// isAtomChar reports whether c may continue a number or a bare timestamp
// (2024-01-01T00:00:00.5+01:00).
func isAtomChar(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' ||
		c == '.' || c == ':' || c == '+' || c == '-'
}

// lex splits s into tokens, ending with tEOF.
func lex(s string) ([]token, *Error) {
	var toks []token
	i := 0
	for {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			return append(toks, token{kind: tEOF, off: i}), nil
		}
		start := i
		c := s[i]
		switch {
		case c == '(':
			toks = append(toks, token{tLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tRParen, ")", i})
			i++
		case c == ',':
			toks = append(toks, token{tComma, ",", i})
			i++
		case c == '\'':
			text, n, err := lexString(s, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{tString, text, start})
			i = n
		case isIdentStart(c):
			for i < len(s) && isIdentChar(s[i]) {
				i++
			}
			word := s[start:i]
			if strings.EqualFold(word, "datetime") && i < len(s) && s[i] == '\'' {
				text, n, err := lexString(s, i)
				if err != nil {
					return nil, err
				}
				toks = append(toks, token{tDatetime, text, start})
				i = n
				continue
			}
			toks = append(toks, token{tIdent, word, start})
		case '0' <= c && c <= '9' || c == '-':
			i++
			for i < len(s) && isAtomChar(s[i]) {
				i++
			}
			toks = append(toks, token{tAtom, s[start:i], start})
		default:
			_, n := utf8.DecodeRuneInString(s[i:])
			return nil, errorAt(FilterParam, s, i, "unexpected character %q", s[i:i+n])
		}
	}
}

// lexString reads the quoted string that starts at s[i] ('), where ” stands for one quote,
// and returns its text and the offset after it.
func lexString(s string, i int) (string, int, *Error) {
	var b strings.Builder
	for j := i + 1; j < len(s); j++ {
		if s[j] != '\'' {
			b.WriteByte(s[j])
			continue
		}
		if j+1 < len(s) && s[j+1] == '\'' {
			b.WriteByte('\'')
			j++
			continue
		}
		return b.String(), j + 1, nil
	}
	return "", 0, errorAt(FilterParam, s, i, "unterminated string: a quote ' opens it and none closes it")
}

// quote writes text as a filter string literal.
func quote(text string) string {
	return "'" + strings.ReplaceAll(text, "'", "''") + "'"
}
