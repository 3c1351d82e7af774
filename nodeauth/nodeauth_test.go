package nodeauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"corral/agent"
	"corral/agent/protocol"
	"corral/internal/testlog"
	"corral/nodeauth"
	"corral/store"
	"corral/store/memstore"
)

// clock is a settable time for token expiry.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func open(t *testing.T, st *memstore.Store, c *clock) *nodeauth.Registry {
	t.Helper()
	r, err := nodeauth.Open(context.Background(), st, c.now, testlog.New(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNodeCredentials(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	c := &clock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	r := open(t, st, c)

	a, err := r.IssueNode(ctx, "p1", "n1")
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.IssueNode(ctx, "p1", "n2")
	if err != nil {
		t.Fatal(err)
	}
	if a == b || len(a) < 40 || strings.ContainsAny(a, ":/. ") {
		t.Fatalf("credentials %q and %q: want distinct random base64url secrets", a, b)
	}
	tests := []struct {
		name       string
		pool, node string
		cred       string
		want       bool
	}{
		{"own credential", "p1", "n1", a, true},
		{"another node's credential", "p1", "n1", b, false},
		{"own credential, another pool", "p2", "n1", a, false},
		{"unknown node", "p1", "n9", a, false},
		{"empty", "p1", "n1", "", false},
		{"a prefix", "p1", "n1", a[:len(a)-1], false},
	}
	for _, tt := range tests {
		if got := r.Check(tt.pool, tt.node, tt.cred); got != tt.want {
			t.Errorf("%s: Check = %v, want %v", tt.name, got, tt.want)
		}
	}

	// What is stored is the hash: the secret appears nowhere in the store.
	if dump := dumpStore(t, st); strings.Contains(dump, a) || strings.Contains(dump, b) {
		t.Error("a credential's secret is in the store")
	}

	// A registry opened again on the store knows the same credentials.
	r2 := open(t, st, c)
	if !r2.Check("p1", "n1", a) || !r2.Check("p1", "n2", b) {
		t.Error("credentials lost across a reopen")
	}

	// Issuing again replaces; revoking ends at once, and for good.
	a2, err := r.IssueNode(ctx, "p1", "n1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Check("p1", "n1", a) || !r.Check("p1", "n1", a2) {
		t.Error("a credential issued again did not replace the old one")
	}
	if err := r.Revoke(ctx, "p1", "n1"); err != nil {
		t.Fatal(err)
	}
	if err := r.Revoke(ctx, "p1", "n1"); err != nil {
		t.Errorf("revoking twice: %v", err)
	}
	if r.Check("p1", "n1", a2) {
		t.Error("a revoked credential is still good")
	}
	if got := open(t, st, c).Nodes(); len(got) != 1 || got[0] != "p1/n2" {
		t.Errorf("after revoking n1, the store holds %v, want [p1/n2]", got)
	}
	if _, err := r.IssueNode(ctx, "p/1", "n1"); err == nil {
		t.Error("a pool id with '/' was accepted")
	}
}

// dumpStore returns every value of the registry's tables.
func dumpStore(t *testing.T, st *memstore.Store) string {
	t.Helper()
	var sb strings.Builder
	err := st.View(context.Background(), func(tx store.Tx) error {
		for _, table := range []string{"nodecreds", "jointokens"} {
			recs, err := tx.List(table, "", "", 0)
			if err != nil {
				return err
			}
			for _, rec := range recs {
				sb.Write(rec.Value)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

func TestJoinTokens(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	c := &clock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	r := open(t, st, c)
	fp := "sha256:" + strings.Repeat("0f", 32)

	text, tok, err := r.CreateJoinToken(ctx, "p1", "n7", time.Hour, fp)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, got, err := protocol.ParseJoinToken(text); err != nil || got != fp {
		t.Fatalf("token %q: fingerprint %q, %v", text, got, err)
	}
	if dump := dumpStore(t, st); strings.Contains(dump, strings.Split(text, ".")[2]) {
		t.Error("a join token's secret is in the store")
	}
	open2, _, err := r.CreateJoinToken(ctx, "p1", "", time.Minute, "")
	if err != nil {
		t.Fatal(err)
	}
	revoked, rtok, err := r.CreateJoinToken(ctx, "p1", "", time.Hour, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RevokeJoinToken(ctx, "p2", rtok.ID); err == nil {
		t.Error("revoked a token through another pool")
	}
	if err := r.RevokeJoinToken(ctx, "p1", rtok.ID); err != nil {
		t.Fatal(err)
	}
	id, _, _, _ := protocol.ParseJoinToken(text)
	tests := []struct {
		name  string
		text  string
		after time.Duration
		want  error
		node  string
	}{
		{"bound token", text, 0, nil, "n7"},
		{"bound token again (an answer was lost)", text, 0, nil, "n7"},
		{"wrong secret", protocol.FormatJoinToken(id, "guess", fp), 0, nodeauth.ErrBadToken, ""},
		{"unknown id", protocol.FormatJoinToken("nope", "guess", ""), 0, nodeauth.ErrBadToken, ""},
		{"not a token", "hello", 0, nodeauth.ErrBadToken, ""},
		{"revoked", revoked, 0, nodeauth.ErrTokenRevoked, ""},
		{"open token", open2, 0, nil, ""},
		{"open token, expired", open2, time.Minute, nodeauth.ErrTokenExpired, ""},
		{"bound token, expired", text, time.Hour, nodeauth.ErrTokenExpired, ""},
	}
	base := c.t
	for _, tt := range tests {
		c.t = base.Add(tt.after)
		got, err := r.Redeem(ctx, tt.text)
		if !errors.Is(err, tt.want) || (err == nil && (got.PoolID != "p1" || got.NodeID != tt.node)) {
			t.Errorf("%s: Redeem = %+v, %v; want node %q, error %v", tt.name, got, err, tt.node, tt.want)
		}
	}
	list, err := r.JoinTokens(ctx, "p1")
	if err != nil || len(list) != 3 {
		t.Fatalf("JoinTokens = %v, %v; want 3", list, err)
	}
	for _, l := range list {
		if l.ID == tok.ID && l.Uses != 2 {
			t.Errorf("bound token used %d times, want 2", l.Uses)
		}
	}
	if _, _, err := r.CreateJoinToken(ctx, "p1", "", 0, ""); err == nil {
		t.Error("a token without a lifetime was made")
	}

	// Revoking a node revokes the tokens bound to it, and only those.
	c.t = base
	bound2, _, _ := r.CreateJoinToken(ctx, "p1", "n8", time.Hour, "")
	other, _, _ := r.CreateJoinToken(ctx, "p1", "n9", time.Hour, "")
	if err := r.Revoke(ctx, "p1", "n8"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Redeem(ctx, bound2); !errors.Is(err, nodeauth.ErrTokenRevoked) {
		t.Errorf("a token bound to a revoked node: %v, want ErrTokenRevoked", err)
	}
	if _, err := r.Redeem(ctx, other); err != nil {
		t.Errorf("a token bound to another node: %v", err)
	}

	// A token is listed for a day after it expired, then dropped when the next is made.
	c.t = base.Add(26 * time.Hour)
	if _, _, err := r.CreateJoinToken(ctx, "p2", "", time.Hour, ""); err != nil {
		t.Fatal(err)
	}
	if list, _ := r.JoinTokens(ctx, "p1"); len(list) != 0 {
		t.Errorf("tokens a day past their expiry still listed: %+v", list)
	}
}

func TestJoinHandler(t *testing.T) {
	ctx := context.Background()
	st := memstore.New()
	c := &clock{time.Now()}
	r := open(t, st, c)
	machines := &fakeMachines{}
	srv := httptest.NewServer(nodeauth.JoinHandler(r, machines, func() string { return "PEM" }, testlog.New(t)))
	defer srv.Close()

	bound, _, _ := r.CreateJoinToken(ctx, "p1", "n1", time.Hour, "")
	id, err := agent.Join(ctx, srv.Client(), srv.URL, bound, "host-a")
	if err != nil {
		t.Fatal(err)
	}
	if id.PoolID != "p1" || id.NodeID != "n1" || id.CACert != "PEM" || !r.Check("p1", "n1", id.Credential) {
		t.Errorf("joined as %+v; want p1/n1 with a credential the registry accepts", id)
	}
	// Joining again with the bound token issues a new credential and revokes the first.
	id2, err := agent.Join(ctx, srv.Client(), srv.URL, bound, "host-a")
	if err != nil {
		t.Fatal(err)
	}
	if r.Check("p1", "n1", id.Credential) || !r.Check("p1", "n1", id2.Credential) {
		t.Error("joining again did not replace the node's credential")
	}

	open1, _, _ := r.CreateJoinToken(ctx, "p1", "", time.Hour, "")
	if id, err := agent.Join(ctx, srv.Client(), srv.URL, open1, "host-b"); err != nil || id.NodeID != "" || id.MachineID != "m1" || id.MachineCredential != "secret-m1" {
		t.Errorf("open token: %+v, %v; want machine m1 and its secret", id, err)
	}
	full, _, _ := r.CreateJoinToken(ctx, "full", "", time.Hour, "")
	if _, err := agent.Join(ctx, srv.Client(), srv.URL, full, "host-c"); err == nil || !strings.Contains(err.Error(), "no node free") {
		t.Errorf("join a pool that cannot take it: %v", err)
	}
	stale, _, _ := r.CreateJoinToken(ctx, "p1", "n2", time.Hour, "")
	c.t = c.t.Add(2 * time.Hour)
	if _, err := agent.Join(ctx, srv.Client(), srv.URL, stale, "host-d"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("stale token: %v, want a 401 refusal", err)
	}
	if r.Check("p1", "n2", "") {
		t.Error("a refused join made a credential")
	}
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", resp.StatusCode)
	}
}

// fakeMachines takes machines into pools, except into pool "full".
type fakeMachines struct{ n int }

func (f *fakeMachines) Join(pool, host string) (string, string, error) {
	if pool == "full" {
		return "", "", errors.New("pool full has no node free")
	}
	f.n++
	id := fmt.Sprintf("m%d", f.n)
	return id, "secret-" + id, nil
}
