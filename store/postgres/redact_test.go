package postgres

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		// URLs.
		{"postgres://corral:s3cret@db.example:5432/corral?sslmode=require",
			"postgres://corral:xxxxx@db.example:5432/corral?sslmode=require"},
		{"postgresql://corral:s3cret@db/corral", "postgresql://corral:xxxxx@db/corral"},
		{"POSTGRES://corral:s3cret@db/corral", "POSTGRES://corral:xxxxx@db/corral"},
		{"postgres://corral@db/corral", "postgres://corral@db/corral"},
		{"postgres://db/corral", "postgres://db/corral"},
		{"postgres://corral:@db/corral", "postgres://corral:xxxxx@db/corral"},
		{"postgres://corral:p%40ss%2Fw0rd@db/corral", "postgres://corral:xxxxx@db/corral"},
		{"postgres://corral:s3cret@h1:5432,h2:5433/corral?target_session_attrs=read-write",
			"postgres://corral:xxxxx@h1:5432,h2:5433/corral?target_session_attrs=read-write"},
		{"postgres://db/corral?user=corral&password=s3cret&sslmode=disable",
			"postgres://db/corral?user=corral&password=xxxxx&sslmode=disable"},
		{"postgres://db/corral?sslpassword=s3cret&pass%77ord=s3cret",
			"postgres://db/corral?sslpassword=xxxxx&pass%77ord=xxxxx"},
		{"postgres://corral:s3cret@db?password=s3cret2", "postgres://corral:xxxxx@db?password=xxxxx"},
		// Malformed: a password with characters that should have been escaped is masked whole.
		{"postgres://corral:s3@cr/e?t@db/corral", "postgres://corral:xxxxx@db/corral"},
		{"postgres://corral:s3cr/et@db/corral", "postgres://corral:xxxxx@db/corral"},
		{"postgres://db:5432/corral?application_name=a@b", "postgres://db:xxxxx@b"}, // generous
		{"postgres://corral:s3cret@db/corral?application_name=a@b", "postgres://corral:xxxxx@b"},
		{"postgres://corral@db/corral?application_name=a@b", "postgres://corral@db/corral?application_name=a@b"},
		// Keyword/value pairs.
		{"host=db user=corral password=s3cret dbname=corral", "host=db user=corral password=xxxxx dbname=corral"},
		{"host=db password = s3cret", "host=db password = xxxxx"},
		{"password='s3 cr\\'et' host=db", "password=xxxxx host=db"},
		{"password=s3\\ cret host=db", "password=xxxxx host=db"},
		{"host=db\tsslpassword=s3cret\n", "host=db\tsslpassword=xxxxx\n"},
		{"host=db password='s3cret", "host=db password=xxxxx"},
		{"host=db password", "host=db password"},
		{"host=db password s3cret", "host=db password xxxxx"},
		{"", ""},
	} {
		if got := Redact(c.in); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := Redact(c.in); strings.Contains(got, "s3") || strings.Contains(got, "cret") {
			t.Errorf("Redact(%q) = %q shows a password", c.in, got)
		}
	}
}
