package agent

import (
	"errors"
	"fmt"
	"strings"
)

// ErrCommandLine is wrapped by the errors SplitCommandLine returns for a malformed command line.
var ErrCommandLine = errors.New("invalid command line")

// SplitCommandLine splits a task's command line into the program and its arguments, the way
// Corral's agent does before executing it directly (Azure Batch does not run a task's command
// line under a shell; users write `/bin/sh -c "…"` when they want one).
//
// The rules are a small subset of the POSIX shell's:
//   - unquoted whitespace (space, tab, newline, carriage return, vertical tab, form feed)
//     separates arguments; runs of it count as one separator;
//   - a backslash outside quotes takes the next byte literally, whatever it is;
//   - single quotes group, and everything up to the next single quote is literal;
//   - double quotes group; inside them `\"` stands for `"` and `\\` for `\`, and any other
//     backslash is kept as is (so "a\nb" is the four bytes a, \, n, b);
//   - quoted and unquoted pieces next to each other form one argument (a"b c"d is `ab cd`),
//     and an empty pair of quotes is an empty argument.
//
// Nothing else is special: no variable expansion, globbing, comments, redirection or pipes.
// An unterminated quote and a trailing lone backslash are errors wrapping ErrCommandLine.
// A command line of only whitespace gives no arguments and no error.
func SplitCommandLine(s string) ([]string, error) {
	var (
		args    []string
		cur     strings.Builder
		inArg   bool // cur holds an argument, possibly empty (from "")
		quote   byte // 0, '\'' or '"'
		quoteAt int
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch quote {
		case '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteByte(c)
			}
			continue
		case '"':
			switch {
			case c == '"':
				quote = 0
			case c == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\'):
				i++
				cur.WriteByte(s[i])
			default:
				cur.WriteByte(c)
			}
			continue
		}
		switch {
		case isSpace(c):
			if inArg {
				args = append(args, cur.String())
				cur.Reset()
				inArg = false
			}
		case c == '\\':
			if i+1 == len(s) {
				return nil, fmt.Errorf("%w: trailing backslash at byte %d", ErrCommandLine, i)
			}
			i++
			cur.WriteByte(s[i])
			inArg = true
		case c == '\'' || c == '"':
			quote, quoteAt, inArg = c, i, true
		default:
			cur.WriteByte(c)
			inArg = true
		}
	}
	if quote != 0 {
		name := "single"
		if quote == '"' {
			name = "double"
		}
		return nil, fmt.Errorf("%w: unterminated %s quote opened at byte %d", ErrCommandLine, name, quoteAt)
	}
	if inArg {
		args = append(args, cur.String())
	}
	return args, nil
}

func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}

// QuoteArg quotes one argument so that SplitCommandLine gives it back unchanged: arguments made
// only of letters, digits and the bytes _-./:=@%+, are returned as they are, anything else
// (including the empty string) is put in single quotes, with each single quote written as '\”.
func QuoteArg(arg string) string {
	if arg != "" && isPlain(arg) {
		return arg
	}
	return "'" + strings.ReplaceAll(arg, "'", `'\''`) + "'"
}

func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("_-./:=@%+,", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// JoinCommandLine is the inverse of SplitCommandLine: it quotes each argument with QuoteArg
// and joins them with single spaces.
func JoinCommandLine(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = QuoteArg(a)
	}
	return strings.Join(q, " ")
}
