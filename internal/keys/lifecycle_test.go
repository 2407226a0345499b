package keys_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
	"github.com/blnk-cloud/apikeys/internal/keys"
	"github.com/blnk-cloud/apikeys/internal/testkit"
)

func (f *fixture) roll(t *testing.T, svc *keys.Service, id string, o apikey.Overlap) keys.Rolled {
	t.Helper()
	r, err := svc.Roll(context.Background(), user, keys.RollSpec{WorkspaceID: f.wsID, Workspace: "Acme", ID: id, Overlap: o, FormToken: apikey.NewID()})
	if err != nil {
		t.Fatalf("Roll: %v", err)
	}
	return r
}

// TestRollIsConfirmedByEveryServer: once a roll returns, every live
// server accepts the new key and holds the old one's new end (here: now).
func TestRollIsConfirmedByEveryServer(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a, b := f.server(t, "a"), f.server(t, "b")
	svc := keys.New(keys.Config{RevokeWait: 2 * time.Second}, f.store, a, slog.New(slog.DiscardHandler))
	c := f.create(t, svc, "rolled")
	f.applied(t, b) // a creation is not waited for
	for name, auth := range map[string]*keyauth.Authenticator{"a": a, "b": b} {
		if _, err := auth.Authenticate(ctx, c.Token, "192.0.2.9"); err != nil {
			t.Fatalf("server %s before the roll: %v", name, err)
		}
	}
	r := f.roll(t, svc, c.Key.ID, apikey.OverlapNow)
	if r.Confirmation.Confirmed != 2 || r.Confirmation.Servers != 2 {
		t.Fatalf("confirmation = %+v, want 2 of 2", r.Confirmation)
	}
	for name, auth := range map[string]*keyauth.Authenticator{"a": a, "b": b} {
		if _, err := auth.Authenticate(ctx, c.Token, "192.0.2.9"); !errors.Is(err, keyauth.ErrExpired) {
			t.Errorf("server %s, old key after a roll with no overlap: %v, want %v", name, err, keyauth.ErrExpired)
		}
		id, err := auth.Authenticate(ctx, r.Token, "192.0.2.9")
		if err != nil || id.KeyID != r.New.ID || id.Name != "rolled" {
			t.Errorf("server %s, new key: %+v, %v", name, id, err)
		}
	}
}

// TestRollFromTheCommandLine: a process without an index rolls; a running
// server follows, and names the successor of the old key.
func TestRollFromTheCommandLine(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a := f.server(t, "a")
	c := f.create(t, keys.New(keys.Config{}, f.store, a, slog.New(slog.DiscardHandler)), "from the cli")
	cli := keys.New(keys.Config{RevokeWait: 5 * time.Second}, open(t, f.dsn), nil, slog.New(slog.DiscardHandler))
	r, err := cli.Roll(ctx, audit.Actor{Kind: audit.CommandLine}, keys.RollSpec{WorkspaceID: f.wsID, ID: c.Key.ID, Overlap: apikey.Overlap1h, FormToken: "cli-1", Revealed: true})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Confirmation.Complete() || r.Confirmation.Servers != 1 {
		t.Fatalf("confirmation = %+v, want 1 of 1", r.Confirmation)
	}
	id, err := a.Authenticate(ctx, c.Token, "192.0.2.9")
	if err != nil {
		t.Fatalf("old key during the overlap: %v", err)
	}
	if id.RolledInto != r.New.ID || id.RolledIntoPrefix != r.New.Prefix || !id.ExpiresAt.Equal(r.Old.ExpiresAt) {
		t.Errorf("old key's identity: %+v, want its successor %s and end %v", id, r.New.ID, r.Old.ExpiresAt)
	}
	if _, err := a.Authenticate(ctx, r.Token, "192.0.2.9"); err != nil {
		t.Errorf("new key: %v", err)
	}
	// The command line printed the key: no reveal page can show it.
	if first, err := f.store.MarkRevealed(ctx, f.wsID, r.New.ID, time.Now(), user); err != nil || first {
		t.Errorf("MarkRevealed of a key the command line printed = %v, %v; want used up", first, err)
	}
	// Rolled keys, revoked keys and expired keys are refused, and the
	// refusal writes nothing.
	before := count(t, f.store, "api_keys")
	if _, err := cli.Roll(ctx, user, keys.RollSpec{WorkspaceID: f.wsID, ID: c.Key.ID, Overlap: apikey.Overlap1h, FormToken: "cli-2"}); !errors.Is(err, keys.ErrRolled) {
		t.Errorf("second roll: %v, want %v", err, keys.ErrRolled)
	}
	if _, err := cli.Revoke(ctx, user, f.wsID, r.New.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Roll(ctx, user, keys.RollSpec{WorkspaceID: f.wsID, ID: r.New.ID, Overlap: apikey.Overlap1h, FormToken: "cli-3"}); !errors.Is(err, keys.ErrRevoked) {
		t.Errorf("roll of a revoked key: %v, want %v", err, keys.ErrRevoked)
	}
	if _, err := cli.Roll(ctx, user, keys.RollSpec{WorkspaceID: f.wsID + 1, ID: c.Key.ID, Overlap: apikey.Overlap1h, FormToken: "cli-4"}); !errors.Is(err, blnk.ErrNotFound) {
		t.Errorf("roll in another workspace: %v, want %v", err, blnk.ErrNotFound)
	}
	if n := count(t, f.store, "api_keys"); n != before {
		t.Errorf("keys after refused rolls: %d, want %d", n, before)
	}
}

func count(t *testing.T, d *db.DB, table string) int {
	t.Helper()
	var n int
	if err := d.SQL().QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRollWithAStoppedServer: a server that applies nothing any more
// makes the roll wait RevokeWait, and the confirmation says so.
func TestRollWithAStoppedServer(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a := f.server(t, "a")
	last, err := f.store.LastChange(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.stopped(t, "stopped", last, time.Minute)
	const wait = 300 * time.Millisecond
	svc := keys.New(keys.Config{RevokeWait: wait}, f.store, a, slog.New(slog.DiscardHandler))
	c := f.create(t, svc, "stopped")
	start := time.Now()
	r := f.roll(t, svc, c.Key.ID, apikey.Overlap24h)
	if took := time.Since(start); took < wait {
		t.Errorf("roll answered after %v, want RevokeWait (%v)", took, wait)
	}
	if r.Confirmation.Confirmed != 1 || r.Confirmation.Servers != 2 || r.Confirmation.Complete() {
		t.Errorf("confirmation = %+v, want 1 of 2", r.Confirmation)
	}
}

// TestSweepRecordsEachExpiryOnce: servers sweeping at once record each
// expired key once; revoked keys are not recorded, nor keys not expired.
func TestSweepRecordsEachExpiryOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	clock := testkit.NewClock(time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC))
	cfg := keys.Config{Now: clock.Now}
	svc := keys.New(cfg, f.store, nil, slog.New(slog.DiscardHandler))
	var expiring []string
	for i := range 30 {
		c, err := svc.Create(ctx, user, keys.Spec{WorkspaceID: f.wsID, Name: "k", Scopes: mustScopes(t, "*"), FormToken: apikey.NewID(),
			ExpiresAt: clock.Now().Add(time.Duration(i+1) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		expiring = append(expiring, c.Key.ID)
	}
	if _, err := svc.Revoke(ctx, user, f.wsID, expiring[0]); err != nil {
		t.Fatal(err)
	}
	f.create(t, svc, "never expires")
	clock.Advance(20 * time.Minute) // keys 1..20 have expired, key 1 revoked

	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 4 {
		other := keys.New(cfg, open(t, f.dsn), nil, slog.New(slog.DiscardHandler))
		wg.Go(func() {
			n, err := other.SweepExpired(ctx)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != 19 {
		t.Errorf("recorded %d expiries, want 19", total)
	}
	p, err := f.store.AuditEvents(ctx, blnk.AuditFilter{WorkspaceID: f.wsID, Action: audit.KeyExpired}, 0, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, ev := range p.Events {
		seen[ev.KeyID]++
		if ev.Actor.Name() != "system" || ev.Details["expired_at"] == nil {
			t.Errorf("key.expired %+v", ev)
		}
	}
	for i, id := range expiring {
		want := 0
		if i >= 1 && i < 20 {
			want = 1
		}
		if seen[id] != want {
			t.Errorf("key %d: %d key.expired events, want %d", i, seen[id], want)
		}
	}
	if n, err := svc.SweepExpired(ctx); n != 0 || err != nil {
		t.Errorf("sweeping again = %d, %v; want nothing new", n, err)
	}
}

// TestPruneAudit: retention deletes the events older than it, and only
// those; without retention nothing is deleted.
func TestPruneAudit(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for _, age := range []time.Duration{100 * 24 * time.Hour, 91 * 24 * time.Hour, 89 * 24 * time.Hour, time.Hour} {
		if err := f.store.RecordEvent(ctx, audit.Event{WorkspaceID: f.wsID, At: now.Add(-age), Action: audit.UserSignedIn, Actor: user}); err != nil {
			t.Fatal(err)
		}
	}
	keep := keys.New(keys.Config{Now: func() time.Time { return now }}, f.store, nil, slog.New(slog.DiscardHandler))
	if n, err := keep.PruneAudit(ctx); n != 0 || err != nil {
		t.Errorf("without retention: deleted %d, %v", n, err)
	}
	prune := keys.New(keys.Config{Now: func() time.Time { return now }, AuditRetention: 90 * 24 * time.Hour}, f.store, nil, slog.New(slog.DiscardHandler))
	if n, err := prune.PruneAudit(ctx); n != 2 || err != nil {
		t.Errorf("90 days: deleted %d, %v; want 2", n, err)
	}
	if n := count(t, f.store, "audit_events"); n != 2 {
		t.Errorf("events left: %d, want 2", n)
	}
}

// TestEditReachesTheIndex: whoami says a new name from the next request.
func TestEditReachesTheIndex(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a, b := f.server(t, "a"), f.server(t, "b")
	svc := keys.New(keys.Config{}, f.store, a, slog.New(slog.DiscardHandler))
	c := f.create(t, svc, "before")
	ed, err := svc.Edit(ctx, user, f.wsID, c.Key.ID, keys.Edit{Name: "after", Description: "notes"})
	if err != nil || !ed.Changed || ed.Key.Name != "after" || ed.Key.Description != "notes" {
		t.Fatalf("Edit = %+v, %v", ed, err)
	}
	if id, err := a.Authenticate(ctx, c.Token, "192.0.2.9"); err != nil || id.Name != "after" {
		t.Errorf("this server after the edit: %q, %v", id.Name, err)
	}
	// The other server reads it when told (the edit does not wait for
	// it): once it has applied the edit's change, it says the new name.
	f.applied(t, b)
	if id, err := b.Authenticate(ctx, c.Token, "192.0.2.9"); err != nil || id.Name != "after" {
		t.Errorf("other server, the edit applied: %q, %v", id.Name, err)
	}
	same, err := svc.Edit(ctx, user, f.wsID, c.Key.ID, keys.Edit{Name: "after", Description: "notes"})
	if err != nil || same.Changed {
		t.Errorf("an edit that changes nothing = %+v, %v", same, err)
	}
}
