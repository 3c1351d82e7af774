package postgres

import (
	"errors"
	"net/url"
	"strings"
)

// mask replaces a password.
const mask = "xxxxx"

// Redact returns the PostgreSQL connection string conn with its passwords replaced by "xxxxx",
// for logs and error messages; the rest is kept as written. In the URL form
// (postgres://user:password@host:port/db?param=value&...) that is the password of the user
// information and the values of the password and sslpassword parameters; in the keyword/value
// form (host=... password=... or password='...') the values of password and sslpassword. A
// malformed string is masked generously rather than risk showing a password: in a URL,
// everything from the ':' of the user information to the last '@' (even one in the query), and in
// the keyword/value form everything after the first keyword without '='.
func Redact(conn string) string {
	redacted, _ := redact(conn)
	return redacted
}

// redact returns conn with its passwords masked, and the passwords as written in conn.
func redact(conn string) (string, []string) {
	for _, scheme := range []string{"postgres://", "postgresql://"} {
		if len(conn) >= len(scheme) && strings.EqualFold(conn[:len(scheme)], scheme) {
			return redactURL(conn[:len(scheme)], conn[len(scheme):])
		}
	}
	return redactKeywords(conn)
}

// secretKey says whether the parameter name holds a password.
func secretKey(name string) bool {
	name = strings.ToLower(name)
	return name == "password" || name == "sslpassword"
}

func redactURL(scheme, rest string) (string, []string) {
	var (
		b       strings.Builder
		secrets []string
	)
	b.WriteString(scheme)
	// The user information ends at an '@'. A password may hold '@', '/' or '?' that should
	// have been percent-encoded, and the query may hold an '@' too: mask up to the last one.
	if at := strings.LastIndexByte(rest, '@'); at >= 0 {
		if user, password, ok := strings.Cut(rest[:at], ":"); ok {
			secrets = append(secrets, password)
			b.WriteString(user + ":" + mask + "@")
			rest = rest[at+1:]
		}
	}
	path, query, ok := strings.Cut(rest, "?")
	b.WriteString(path)
	if !ok {
		return b.String(), secrets
	}
	b.WriteByte('?')
	for i, param := range strings.Split(query, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		key, value, ok := strings.Cut(param, "=")
		if name, err := url.QueryUnescape(key); ok && (err != nil || secretKey(name)) {
			secrets = append(secrets, value)
			param = key + "=" + mask
		}
		b.WriteString(param)
	}
	return b.String(), secrets
}

// redactKeywords masks the keyword/value form, as libpq reads it: keyword = value pairs
// separated by white space, a value either single-quoted (with \' and \\ inside) or running to
// the next white space (with \ escaping the next character).
func redactKeywords(conn string) (string, []string) {
	var (
		b       strings.Builder
		secrets []string
	)
	space := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' }
	skip := func(i int) int {
		for i < len(conn) && space(conn[i]) {
			i++
		}
		return i
	}
	for i := 0; i < len(conn); {
		k := skip(i)
		e := k
		for e < len(conn) && conn[e] != '=' && !space(conn[e]) {
			e++
		}
		key := conn[k:e]
		if e = skip(e); e >= len(conn) || conn[e] != '=' {
			// A keyword without a value: what follows cannot be told apart.
			b.WriteString(conn[i:e])
			if e < len(conn) {
				b.WriteString(mask)
				secrets = append(secrets, conn[e:])
			}
			break
		}
		e = skip(e + 1)
		v := e
		quoted := v < len(conn) && conn[v] == '\''
		if quoted {
			v++
		}
		for v < len(conn) && (quoted && conn[v] != '\'' || !quoted && !space(conn[v])) {
			if conn[v] == '\\' {
				v++
			}
			v++
		}
		if quoted && v < len(conn) {
			v++ // the closing quote
		}
		v = min(v, len(conn))
		b.WriteString(conn[i:e])
		if secretKey(key) {
			b.WriteString(mask)
			secrets = append(secrets, conn[e:v], unquote(conn[e:v]))
		} else {
			b.WriteString(conn[e:v])
		}
		i = v
	}
	return b.String(), secrets
}

// unquote returns a keyword/value form's value as libpq reads it.
func unquote(v string) string {
	v = strings.TrimPrefix(v, "'")
	v = strings.TrimSuffix(v, "'")
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// openErr is an error of Open: it names the connection string with its passwords masked.
type openErr struct {
	conn string
	err  error
}

func (e *openErr) Error() string {
	return "postgres: open " + e.conn + ": " + strings.TrimPrefix(e.err.Error(), "postgres: ")
}

func (e *openErr) Unwrap() error { return e.err }

func openError(conn string, err error) error {
	return &openErr{conn: Redact(conn), err: err}
}

// parseError describes a connection string that pgx could not parse. pgx quotes the string in
// its message, masking what it recognizes as a password: the passwords Redact finds are masked
// again, and pgx's error is not kept, so that nothing can print the string as it was.
func parseError(conn string, err error) error {
	_, secrets := redact(conn)
	msg := err.Error()
	for _, s := range secrets {
		for _, form := range unescaped(s) {
			if form != "" {
				msg = strings.ReplaceAll(msg, form, mask)
			}
		}
	}
	return errors.New("cannot parse the connection string: " + msg)
}

// unescaped returns s and its percent-decoded forms.
func unescaped(s string) []string {
	forms := []string{s}
	if u, err := url.PathUnescape(s); err == nil {
		forms = append(forms, u)
	}
	if u, err := url.QueryUnescape(s); err == nil {
		forms = append(forms, u)
	}
	return forms
}
