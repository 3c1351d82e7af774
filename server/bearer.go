package server

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"corral/api/bearer"
)

// LoadTokenFile reads the static bearer tokens in path: one a line, blank lines and lines that
// start with # skipped, surrounding spaces trimmed. Like the account key, the file must be its
// owner's only: a file that its group or others may read or write is refused (chmod 600 it).
// Errors name a token by its line, never by its content.
func LoadTokenFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("token file %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("token file %s: mode %04o lets other users read or change it; make it the owner's only (chmod 600 %s)", path, perm, path)
	}
	var tokens []string
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if err := bearer.CheckToken(t); err != nil {
			return nil, fmt.Errorf("token file %s: line %d: %w", path, line, err)
		}
		tokens = append(tokens, t)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("token file %s: %w", path, err)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("token file %s: no token", path)
	}
	return tokens, nil
}

// SplitTokens splits a list of static tokens separated by commas or white space (the form of
// CORRAL_TOKENS).
func SplitTokens(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
}

// newBearer builds the bearer-token verifier of cfg (TokenFile, Tokens, JWTIssuer, JWKSURL,
// JWTAudiences, JWTSubjects): nil when none is configured. The JWT issuer's keys are first fetched in the
// background, so that a slow or unreachable issuer does not hold up the start (a failure is
// logged, and the first token that needs them fetches them again).
func newBearer(cfg Config, log *slog.Logger) (*bearer.Verifier, error) {
	tokens := append([]string(nil), cfg.Tokens...)
	if cfg.TokenFile != "" {
		t, err := LoadTokenFile(cfg.TokenFile)
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, t...)
	}
	if cfg.JWTIssuer == "" && (cfg.JWKSURL != "" || len(cfg.JWTAudiences) > 0 || len(cfg.JWTSubjects) > 0) {
		return nil, fmt.Errorf("a JWKS URL, JWT audience or JWT subject without a JWT issuer")
	}
	v := &bearer.Verifier{}
	if len(tokens) > 0 {
		s, err := bearer.NewStatic(tokens)
		if err != nil {
			return nil, fmt.Errorf("static bearer tokens: %w", err)
		}
		v.Static = s
	}
	if cfg.JWTIssuer != "" {
		j, err := bearer.NewJWT(bearer.JWTConfig{Issuer: cfg.JWTIssuer, JWKSURL: cfg.JWKSURL, Audiences: cfg.JWTAudiences, Subjects: cfg.JWTSubjects, Logger: log})
		if err != nil {
			return nil, err
		}
		v.JWT = j
		go func() { _ = j.Refresh(context.Background()) }() // a failure is logged by Refresh
	}
	if !v.Configured() {
		return nil, nil
	}
	log.Info("server: bearer tokens accepted", "static", v.Static.Len(), "jwt-issuer", cfg.JWTIssuer)
	return v, nil
}
