package db

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/testkit"
)

func TestGenerateKeys(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")
	nk, _ := newKey(t, w.ID, u.ID, "created", testNow)
	created := createKey(t, d, nk)
	_, seq := authKeys(t, d) // where a running server stands

	sets := []apikey.Set{mustScopes(t, "mcp:read", "mcp:write"), mustScopes(t, "*")}
	expires := testNow.AddDate(10, 0, 0)
	s := SyntheticKeys{WorkspaceID: w.ID, CreatedBy: u.ID, N: 2500, Scopes: sets, Created: testNow, ExpiresAt: expires, Batch: 1000}
	for round := range 2 { // a second call: ids and form tokens of its own
		got, err := d.GenerateKeys(ctx, s)
		if err != nil {
			t.Fatalf("GenerateKeys, call %d: %v", round+1, err)
		}
		if got != s.N {
			t.Errorf("GenerateKeys, call %d = %d, want %d", round+1, got, s.N)
		}
	}
	const want = 2*2500 + 1

	if n, err := d.KeyCount(ctx); err != nil || n != want {
		t.Errorf("KeyCount = %d, %v; want %d", n, err, want)
	}
	all, last := authKeys(t, d)
	if len(all) != want {
		t.Errorf("AuthKeys reports %d keys, want %d", len(all), want)
	}
	if _, ok := all[created.ID]; !ok {
		t.Errorf("AuthKeys lost the created key %s", created.ID)
	}
	hashes := map[apikey.Hash]bool{}
	var expiring, scoped [2]int
	for id, a := range all {
		hashes[a.Hash] = true
		if id == created.ID {
			continue
		}
		if !apikey.ValidID(id) || len(a.Key.Prefix) != apikey.PrefixLen || a.Key.Name == "" || a.WorkspaceName != "Acme" {
			t.Fatalf("generated key %q: prefix %q, name %q, workspace %q", id, a.Key.Prefix, a.Key.Name, a.WorkspaceName)
		}
		if a.Key.CreatedAt.Before(testNow) || a.Key.CreatedAt.After(testNow.Add(time.Duration(s.N)*time.Millisecond)) || !a.Key.RevokedAt.IsZero() {
			t.Errorf("generated key %s created %v, revoked %v", id, a.Key.CreatedAt, a.Key.RevokedAt)
		}
		switch {
		case a.Key.ExpiresAt.IsZero():
			expiring[0]++
		case a.Key.ExpiresAt.Equal(expires.Truncate(time.Millisecond)):
			expiring[1]++
		default:
			t.Errorf("generated key %s expires %v", id, a.Key.ExpiresAt)
		}
		switch a.Key.Scopes {
		case sets[0]:
			scoped[0]++
		case sets[1]:
			scoped[1]++
		default:
			t.Errorf("generated key %s has scopes %v", id, a.Key.Scopes)
		}
	}
	if len(hashes) != want {
		t.Errorf("%d distinct hashes among %d keys", len(hashes), want)
	}
	// Of each call's 2,500: i % 3 == 0 expires (834), i % 2 picks the scopes.
	if expiring != [2]int{2 * 1666, 2 * 834} || scoped != [2]int{2 * 1250, 2 * 1250} {
		t.Errorf("never/expiring = %v, scopes = %v; want [3332 1668], [2500 2500]", expiring, scoped)
	}

	// What a running server follows: a change per generated key, each
	// once, in order.
	if last-seq < 2*2500 {
		t.Errorf("the log moved from %d to %d for %d keys", seq, last, 2*2500)
	}
	changed, _, err := d.KeyChangesSince(ctx, seq)
	if err != nil {
		t.Fatalf("KeyChangesSince: %v", err)
	}
	if len(changed) != 2*2500 {
		t.Errorf("KeyChangesSince reports %d keys, want %d", len(changed), 2*2500)
	}
	if n := count(t, d, "api_key_changes"); n != want {
		t.Errorf("%d key changes, want %d (one per key)", n, want)
	}
	// A workspace's keys list pages through them.
	if got, err := d.Keys(ctx, w.ID); err != nil || len(got) != want {
		t.Errorf("Keys lists %d keys (%v), want %d", len(got), err, want)
	}
}

// AuthKeys reads the same keys whatever protocol pgx speaks: binary rows
// read in place by default, database/sql's path in the simple protocol
// (poolers) and in exec mode.
func TestAuthKeysProtocols(t *testing.T) {
	if testkit.Kind() != "postgres" {
		t.Skip("PostgreSQL only")
	}
	ctx := context.Background()
	d, dsn := openTestDB(t)
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")
	keys, tokens := importKeys(t, w.ID, u.ID, 12) // expiring, revoked, allowlisted
	if _, err := d.ImportKeys(ctx, feed(keys, nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.GenerateKeys(ctx, SyntheticKeys{WorkspaceID: w.ID, N: 30, Scopes: []apikey.Set{mustScopes(t, "*")}, Created: testNow}); err != nil {
		t.Fatal(err)
	}
	want, wantSeq := authKeys(t, d)
	if len(want) != 42 || len(tokens) != 12 {
		t.Fatalf("AuthKeys read %d keys, want 42", len(want))
	}
	for _, mode := range []string{"simple_protocol", "exec"} {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("default_query_exec_mode", mode)
		u.RawQuery = q.Encode()
		other, err := Open(ctx, u.String())
		if err != nil {
			t.Fatalf("Open in %s: %v", mode, err)
		}
		t.Cleanup(func() { other.Close() })
		got, seq := authKeys(t, other)
		if seq != wantSeq || len(got) != len(want) {
			t.Errorf("%s: %d keys up to change %d; want %d up to %d", mode, len(got), seq, len(want), wantSeq)
		}
		for id, a := range want {
			b := got[id]
			if a.Hash != b.Hash || a.Key.Name != b.Key.Name || a.Key.Prefix != b.Key.Prefix || a.WorkspaceName != b.WorkspaceName ||
				a.Key.Scopes != b.Key.Scopes || !a.Key.ExpiresAt.Equal(b.Key.ExpiresAt) || !a.Key.RevokedAt.Equal(b.Key.RevokedAt) ||
				!a.Key.CreatedAt.Equal(b.Key.CreatedAt) || apikey.FormatAllowlist(a.Key.Allowlist) != apikey.FormatAllowlist(b.Key.Allowlist) {
				t.Errorf("%s: key %s read as %+v, want %+v", mode, id, b, a)
			}
		}
	}
}
