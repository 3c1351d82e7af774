package server

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadTokenFile(t *testing.T) {
	const tok1, tok2 = "first-token-0123456789", "second+token/0123456789=="
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		want    []string
		err     string // substring of the error; "" means none
	}{
		{"tokens and comments", "# ci\n" + tok1 + "\n\n  " + tok2 + "  \n", 0o600, []string{tok1, tok2}, ""},
		{"read-only", tok1 + "\n", 0o400, []string{tok1}, ""},
		{"group-readable", tok1 + "\n", 0o640, nil, "chmod 600"},
		{"world-readable", tok1 + "\n", 0o644, nil, "chmod 600"},
		{"group-writable", tok1 + "\n", 0o620, nil, "chmod 600"},
		{"empty", "# nothing\n", 0o600, nil, "no token"},
		{"short token", tok1 + "\ntiny\n", 0o600, nil, "line 2"},
		{"space inside", "two words in one token\n", 0o600, nil, "line 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tokens")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			got, err := LoadTokenFile(path)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, want an error with %q", err, tt.err)
				}
				for _, line := range strings.Split(tt.content, "\n") {
					if len(strings.TrimSpace(line)) > 3 && !strings.HasPrefix(line, "#") && strings.Contains(err.Error(), strings.TrimSpace(line)) {
						t.Fatalf("error %q quotes a token", err)
					}
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %d tokens, %v; want %d", len(got), err, len(tt.want))
			}
		})
	}
	if _, err := LoadTokenFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("a missing file accepted")
	}
}

func TestNewBearer(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name   string
		cfg    Config
		static int
		jwt    bool
		nilV   bool
		err    bool
	}{
		{"nothing", Config{}, 0, false, true, false},
		{"tokens", Config{Tokens: SplitTokens("token-one-0123456789, token-two-0123456789")}, 2, false, false, false},
		{"issuer", Config{JWTIssuer: "https://login.microsoftonline.com/t/v2.0"}, 0, true, false, false},
		{"plain-http issuer", Config{JWTIssuer: "http://issuer.example"}, 0, false, false, true},
		{"JWKS URL alone", Config{JWKSURL: "https://issuer.example/keys"}, 0, false, false, true},
		{"subjects alone", Config{JWTSubjects: []string{"oid"}}, 0, false, false, true},
		{"bad token", Config{Tokens: []string{"short"}}, 0, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := newBearer(tt.cfg, log)
			if (err != nil) != tt.err {
				t.Fatalf("err %v, want one: %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if (v == nil) != tt.nilV {
				t.Fatalf("verifier %v, want nil: %v", v, tt.nilV)
			}
			if v != nil && (v.Static.Len() != tt.static || (v.JWT != nil) != tt.jwt) {
				t.Fatalf("verifier has %d static tokens and JWT %v", v.Static.Len(), v.JWT != nil)
			}
		})
	}
}
