package db

import (
	"context"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
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
