package db

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// authKeys returns every key AuthKeys reports, by id, and its sequence
// number.
func authKeys(t *testing.T, d *DB) (map[string]blnk.Record, int64) {
	t.Helper()
	keys := make(map[string]blnk.Record)
	seq, err := d.AuthKeys(context.Background(), func(a blnk.Record) {
		// The record's strings are good until fn returns: keep copies.
		k := &a.Key
		k.ID, k.Name, k.Prefix = strings.Clone(k.ID), strings.Clone(k.Name), strings.Clone(k.Prefix)
		k.RolledInto, k.RolledIntoPrefix = strings.Clone(k.RolledInto), strings.Clone(k.RolledIntoPrefix)
		keys[a.Key.ID] = a
	})
	if err != nil {
		t.Fatalf("AuthKeys: %v", err)
	}
	return keys, seq
}

func TestAuthKeys(t *testing.T) {
	d, _ := openTestDB(t)
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")

	keys, seq := authKeys(t, d)
	if len(keys) != 0 || seq != 0 {
		t.Errorf("AuthKeys of an empty database = %d keys, seq %d; want 0, 0", len(keys), seq)
	}

	nk, _ := newKey(t, w.ID, u.ID, "acme key", testNow)
	nk.Key.ExpiresAt = testNow.Add(24 * time.Hour)
	k := createKey(t, d, nk)
	nk2, _ := newKey(t, w.ID, u.ID, "revoked key", testNow)
	k2 := createKey(t, d, nk2)
	if _, err := d.RevokeKey(context.Background(), w.ID, k2.ID, audit.Actor{UserID: u.ID, Kind: audit.User}, testNow); err != nil {
		t.Fatal(err)
	}

	keys, seq2 := authKeys(t, d)
	if got, want := len(keys), 2; got != want {
		t.Fatalf("AuthKeys reported %d keys, want %d", got, want)
	}
	if seq2 <= seq {
		t.Errorf("seq after changes = %d, want more than %d", seq2, seq)
	}
	a := keys[k.ID]
	if got, want := a.Hash, nk.Hash; got != want {
		t.Errorf("hash = %x, want %x", got, want)
	}
	if got, want := a.WorkspaceName, "Acme"; got != want {
		t.Errorf("workspace name = %q, want %q", got, want)
	}
	if got, want := a.Key.Scopes, nk.Key.Scopes; got != want {
		t.Errorf("scopes = %v, want %v", got, want)
	}
	if got, want := a.Key.ExpiresAt, nk.Key.ExpiresAt.Truncate(time.Millisecond); !got.Equal(want) {
		t.Errorf("expires at = %v, want %v", got, want)
	}
	if !a.Key.RevokedAt.IsZero() {
		t.Errorf("active key revoked at %v", a.Key.RevokedAt)
	}
	if got := keys[k2.ID].Key.RevokedAt; got.IsZero() {
		t.Errorf("revoked key has no revocation time")
	}
}

func TestKeyChangesSince(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")
	before, _ := newKey(t, w.ID, u.ID, "before", testNow)
	createKey(t, d, before)
	_, seq := authKeys(t, d)

	changesSince := func(seq int64) ([]blnk.Record, int64) {
		t.Helper()
		changed, next, err := d.KeyChangesSince(ctx, seq)
		if err != nil {
			t.Fatalf("KeyChangesSince(%d): %v", seq, err)
		}
		return changed, next
	}

	changed, next := changesSince(seq)
	if len(changed) != 0 || next != seq {
		t.Errorf("KeyChangesSince with no change = %d keys, seq %d; want 0, %d", len(changed), next, seq)
	}

	nk, _ := newKey(t, w.ID, u.ID, "new", testNow)
	k := createKey(t, d, nk)
	changed, next = changesSince(seq)
	if len(changed) != 1 || changed[0].Key.ID != k.ID {
		t.Fatalf("KeyChangesSince after create = %v, want key %s", ids(changed), k.ID)
	}
	if got, want := changed[0].Hash, nk.Hash; got != want {
		t.Errorf("changed key hash = %x, want %x", got, want)
	}
	if next <= seq {
		t.Errorf("seq after create = %d, want more than %d", next, seq)
	}
	seq = next

	if changed, next := changesSince(seq); len(changed) != 0 || next != seq {
		t.Errorf("KeyChangesSince again = %v, seq %d; want nothing, %d", ids(changed), next, seq)
	}

	if _, err := d.RevokeKey(ctx, w.ID, k.ID, audit.Actor{UserID: u.ID, Kind: audit.User}, testNow); err != nil {
		t.Fatal(err)
	}
	changed, next = changesSince(seq)
	if len(changed) != 1 || changed[0].Key.ID != k.ID {
		t.Fatalf("KeyChangesSince after revoke = %v, want key %s", ids(changed), k.ID)
	}
	if changed[0].Key.RevokedAt.IsZero() {
		t.Errorf("revoked key reported without revocation time")
	}
	if next <= seq {
		t.Errorf("seq after revoke = %d, want more than %d", next, seq)
	}
	seq = next

	// Revoking again changes nothing, so reports nothing.
	if _, err := d.RevokeKey(ctx, w.ID, k.ID, audit.Actor{UserID: u.ID, Kind: audit.User}, testNow.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if changed, next := changesSince(seq); len(changed) != 0 || next != seq {
		t.Errorf("KeyChangesSince after a second revoke = %v, seq %d; want nothing, %d", ids(changed), next, seq)
	}

	// From the start: each key once, however often it changed.
	changed, _ = changesSince(0)
	if got, want := len(changed), 2; got != want {
		t.Errorf("KeyChangesSince(0) = %v, want %d keys", ids(changed), want)
	}
}

func ids(keys []blnk.Record) []string {
	var out []string
	for _, k := range keys {
		out = append(out, k.Key.ID)
	}
	return out
}

func TestRecordUsage(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")
	nk, _ := newKey(t, w.ID, u.ID, "k1", testNow)
	k1 := createKey(t, d, nk)
	nk, _ = newKey(t, w.ID, u.ID, "k2", testNow)
	k2 := createKey(t, d, nk)

	if err := d.RecordUsage(ctx, blnk.Usage{}); err != nil {
		t.Errorf("RecordUsage of nothing: %v", err)
	}

	t1 := testNow.Add(time.Minute)
	steps := []struct {
		name   string
		uses   []blnk.Use
		wantAt map[string]time.Time
		wantIP map[string]string
	}{
		{
			name:   "first uses",
			uses:   []blnk.Use{{KeyID: k1.ID, At: t1, IP: "192.0.2.1"}, {KeyID: k2.ID, At: t1, IP: "192.0.2.2"}},
			wantAt: map[string]time.Time{k1.ID: t1, k2.ID: t1},
			wantIP: map[string]string{k1.ID: "192.0.2.1", k2.ID: "192.0.2.2"},
		},
		{
			name:   "newer wins",
			uses:   []blnk.Use{{KeyID: k1.ID, At: t1.Add(time.Second), IP: "192.0.2.3"}},
			wantAt: map[string]time.Time{k1.ID: t1.Add(time.Second), k2.ID: t1},
			wantIP: map[string]string{k1.ID: "192.0.2.3", k2.ID: "192.0.2.2"},
		},
		{
			name:   "older is ignored",
			uses:   []blnk.Use{{KeyID: k1.ID, At: t1, IP: "192.0.2.9"}, {KeyID: k2.ID, At: t1.Add(-time.Hour), IP: "192.0.2.9"}},
			wantAt: map[string]time.Time{k1.ID: t1.Add(time.Second), k2.ID: t1},
			wantIP: map[string]string{k1.ID: "192.0.2.3", k2.ID: "192.0.2.2"},
		},
		{
			name:   "unknown key is ignored",
			uses:   []blnk.Use{{KeyID: apikey.NewID(), At: t1.Add(time.Hour), IP: "192.0.2.9"}},
			wantAt: map[string]time.Time{k1.ID: t1.Add(time.Second), k2.ID: t1},
			wantIP: map[string]string{k1.ID: "192.0.2.3", k2.ID: "192.0.2.2"},
		},
	}
	for _, s := range steps {
		if err := d.RecordUsage(ctx, blnk.Usage{Uses: s.uses}); err != nil {
			t.Fatalf("%s: RecordUsage: %v", s.name, err)
		}
		for id, want := range s.wantAt {
			k := mustKey(t, d, w.ID, id)
			if got, want := k.LastUsedAt, want.Truncate(time.Millisecond); !got.Equal(want) {
				t.Errorf("%s: key %s last used at %v, want %v", s.name, id, got, want)
			}
			if got, want := k.LastUsedIP, s.wantIP[id]; got != want {
				t.Errorf("%s: key %s last used from %q, want %q", s.name, id, got, want)
			}
		}
	}
}

// BenchmarkRecordUsage flushes the usage of 10,000 keys, as a busy server
// does every flush interval: last use, address and the hour's counts.
func BenchmarkRecordUsage(b *testing.B) {
	d, err := Open(context.Background(), b.TempDir()+"/bench.db")
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	w, u, err := d.CreateWorkspaceAdmin(context.Background(), "Bench", "bench@example.com", "x", testNow)
	if err != nil {
		b.Fatal(err)
	}
	uses := make([]blnk.Use, 10_000)
	for i := range uses {
		tok, _ := apikey.Generate()
		prefix, _ := apikey.Parse(tok)
		k, _, err := d.CreateKey(context.Background(), blnk.NewKey{
			Key:  apikey.Key{ID: apikey.NewID(), WorkspaceID: w.ID, Name: "k", Prefix: prefix, Scopes: 1, CreatedAt: testNow},
			Hash: apikey.HashOf(tok), CreatedBy: u.ID, CreateToken: apikey.NewID(),
		})
		if err != nil {
			b.Fatal(err)
		}
		uses[i] = blnk.Use{KeyID: k.ID, IP: "203.0.113.7"}
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		at := testNow.Add(time.Duration(i+1) * time.Second)
		for j := range uses {
			uses[j].At = at
		}
		hours := make([]blnk.HourCount, len(uses))
		for j, u := range uses {
			hours[j] = blnk.HourCount{KeyID: u.KeyID, Hour: at.Truncate(time.Hour), Counts: blnk.Counts{Accepted: 3, Scope: 1}}
		}
		if err := d.RecordUsage(context.Background(), blnk.Usage{Uses: uses, Addresses: uses, Hours: hours}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestResumeKeys: what a server starting from a saved view reads.
func TestResumeKeys(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")
	nk, _ := newKey(t, w.ID, u.ID, "k1", testNow)
	k1 := createKey(t, d, nk)
	nk, _ = newKey(t, w.ID, u.ID, "k2", testNow)
	k2 := createKey(t, d, nk)
	_, seq := authKeys(t, d)
	if n, err := d.KeyCount(ctx); err != nil || n != 2 {
		t.Fatalf("KeyCount = %d, %v; want 2", n, err)
	}
	if id, err := d.KeyChange(ctx, seq); err != nil || id != k2.ID {
		t.Fatalf("KeyChange(%d) = %q, %v; want %s", seq, id, err, k2.ID)
	}
	if id, err := d.KeyChange(ctx, seq+100); err != nil || id != "" {
		t.Fatalf("KeyChange past the end = %q, %v; want none", id, err)
	}

	r, err := d.ResumeKeys(ctx, seq, k2.ID)
	if err != nil || !r.Found || len(r.Changed) != 0 || r.Last != seq || r.Keys != 2 {
		t.Fatalf("ResumeKeys with nothing since = %+v, %v; want found, nothing changed, last %d, 2 keys", r, err, seq)
	}
	nk, _ = newKey(t, w.ID, u.ID, "k3", testNow)
	k3 := createKey(t, d, nk)
	if _, err := d.RevokeKey(ctx, w.ID, k1.ID, audit.Actor{UserID: u.ID, Kind: audit.User}, testNow); err != nil {
		t.Fatal(err)
	}
	r, err = d.ResumeKeys(ctx, seq, k2.ID)
	if err != nil || !r.Found || r.Last <= seq || r.Keys != 3 || len(r.Changed) != 2 {
		t.Fatalf("ResumeKeys after a create and a revoke = %+v, %v; want found, 2 changed, 3 keys", r, err)
	}
	got := map[string]bool{}
	for _, c := range r.Changed {
		got[c.Key.ID] = !c.Key.RevokedAt.IsZero()
	}
	if revoked, ok := got[k1.ID]; !ok || !revoked {
		t.Errorf("changed since: %v; want %s revoked", got, k1.ID)
	}
	if revoked, ok := got[k3.ID]; !ok || revoked {
		t.Errorf("changed since: %v; want %s, not revoked", got, k3.ID)
	}
	// Another key at that change (another database), or a change the log
	// does not hold: not found.
	for _, c := range []struct {
		seq int64
		id  string
	}{{seq, k1.ID}, {seq, ""}, {r.Last + 1, ""}} {
		if r, err := d.ResumeKeys(ctx, c.seq, c.id); err != nil || r.Found {
			t.Errorf("ResumeKeys(%d, %q) = %+v, %v; want not found", c.seq, c.id, r, err)
		}
	}
	if r, err := d.ResumeKeys(ctx, 0, ""); err != nil || !r.Found || len(r.Changed) != 3 || r.Keys != 3 {
		t.Errorf("ResumeKeys from the start = %+v, %v; want every key changed", r, err)
	}
}
