package db

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// rollSpec returns a Roll of key id at now that makes a successor from a
// fresh token.
func rollSpec(t testing.TB, workspaceID int64, id, token string, o apikey.Overlap, now time.Time) blnk.Roll {
	t.Helper()
	return blnk.Roll{
		WorkspaceID: workspaceID, ID: id, Now: now, Overlap: o, FormToken: token,
		Actor: audit.Actor{Kind: audit.CommandLine},
		Successor: func(old apikey.Key) (blnk.NewKey, error) {
			nk, _ := newKey(t, old.WorkspaceID, 0, old.Name, now)
			nk.Key.Scopes, nk.Key.Description = old.Scopes, old.Description
			return nk, nil
		},
	}
}

func TestRollKey(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")
	nk, _ := newKey(t, w.ID, u.ID, "roll me", testNow)
	nk.Key.Description = "notes"
	old := createKey(t, d, nk)
	seqBefore, _ := d.LastChange(ctx)

	r, err := d.RollKey(ctx, rollSpec(t, w.ID, old.ID, "form-1", apikey.Overlap24h, testNow.Add(time.Minute)))
	if err != nil {
		t.Fatal(err)
	}
	end := testNow.Add(time.Minute + 24*time.Hour).Truncate(time.Millisecond)
	if !r.Rolled || r.Old.RolledInto != r.New.ID || r.New.RolledFrom != old.ID || !r.Old.ExpiresAt.Equal(end) ||
		r.Old.RolledIntoPrefix != r.New.Prefix || r.New.RolledFromPrefix != old.Prefix {
		t.Errorf("RollKey = %+v", r)
	}
	if r.New.Name != "roll me" || r.New.Description != "notes" || r.Old.Status(testNow.Add(time.Hour)) != apikey.Rolled {
		t.Errorf("new key %+v, old status %s", r.New, r.Old.Status(testNow.Add(time.Hour)))
	}
	if r.OldHash == (apikey.Hash{}) {
		t.Error("no hash of the old key for the index")
	}
	// Both keys are changes the other servers read, the old one last.
	changed, seq, err := d.KeyChangesSince(ctx, seqBefore)
	if err != nil {
		t.Fatal(err)
	}
	if seq != r.Seq || len(changed) != 2 {
		t.Errorf("changes since the roll: %d up to %d, want 2 up to %d", len(changed), seq, r.Seq)
	}
	for _, c := range changed {
		if c.Key.ID == old.ID && (c.Key.RolledInto != r.New.ID || !c.Key.ExpiresAt.Equal(end)) {
			t.Errorf("old key as the servers read it: %+v", c.Key)
		}
	}
	// The same form again: nothing changes, the same successor.
	before := count(t, d, "api_keys")
	again, err := d.RollKey(ctx, rollSpec(t, w.ID, old.ID, "form-1", apikey.Overlap24h, testNow.Add(2*time.Minute)))
	if err != nil || again.Rolled || again.New.ID != r.New.ID {
		t.Errorf("same form again = %+v, %v", again, err)
	}
	// Another form: refused.
	if _, err := d.RollKey(ctx, rollSpec(t, w.ID, old.ID, "form-2", apikey.Overlap24h, testNow.Add(2*time.Minute))); !errors.Is(err, blnk.ErrKeyRolled) {
		t.Errorf("another roll: %v, want %v", err, blnk.ErrKeyRolled)
	}
	if n := count(t, d, "api_keys"); n != before {
		t.Errorf("keys: %d, want %d", n, before)
	}
	evs, err := d.AuditEvents(ctx, blnk.AuditFilter{WorkspaceID: w.ID}, 0, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(actionsOf(evs.Events), " "); got != "key.created key.rolled key.created" {
		t.Errorf("events: %s", got)
	}
}

func actionsOf(evs []audit.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, string(ev.Action))
	}
	return out
}

// TestRollKeyConcurrently: rolls of one key from different forms, and a
// revoke, all at once: one roll wins, the others are refused, nothing
// deadlocks, and every successor that exists is linked and recorded.
func TestRollKeyConcurrently(t *testing.T) {
	ctx := context.Background()
	d, dsn := openTestDB(t)
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")
	for round := range 5 {
		nk, _ := newKey(t, w.ID, u.ID, fmt.Sprint("race ", round), testNow)
		k := createKey(t, d, nk)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var won, refused int
		for i := range 6 {
			other, err := Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			wg.Go(func() {
				defer other.Close()
				if i == 5 {
					if _, err := other.RevokeKey(ctx, w.ID, k.ID, audit.Actor{Kind: audit.CommandLine}, testNow); err != nil {
						t.Error(err)
					}
					return
				}
				_, err := other.RollKey(ctx, rollSpec(t, w.ID, k.ID, fmt.Sprint("form-", round, "-", i), apikey.Overlap1h, testNow))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					won++
				case errors.Is(err, blnk.ErrKeyRolled), errors.Is(err, blnk.ErrKeyRevoked):
					refused++
				default:
					t.Errorf("roll: %v", err)
				}
			})
		}
		wg.Wait()
		if won > 1 || won+refused != 5 {
			t.Errorf("round %d: %d rolls won, %d refused", round, won, refused)
		}
		var successors, rolledEvents int
		d.sql.QueryRow(`SELECT count(*) FROM api_keys WHERE rolled_from = $1`, k.ID).Scan(&successors)
		d.sql.QueryRow(`SELECT count(*) FROM audit_events WHERE key_id = $1 AND action = 'key.rolled'`, k.ID).Scan(&rolledEvents)
		if successors != won || rolledEvents != won {
			t.Errorf("round %d: %d successors, %d key.rolled events, want %d", round, successors, rolledEvents, won)
		}
	}
}

func TestEditKey(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")
	w2, _ := newWorkspace(t, d, "Other", "admin@other.io")
	nk, _ := newKey(t, w.ID, u.ID, "edit me", testNow)
	k := createKey(t, d, nk)
	by := audit.Actor{UserID: u.ID, Email: "admin@acme.io", Kind: audit.User, IP: "192.0.2.3"}

	if _, _, err := d.EditKey(ctx, w2.ID, k.ID, blnk.KeyEdit{Name: "stolen"}, by, testNow); !errors.Is(err, blnk.ErrNotFound) {
		t.Errorf("edit from another workspace: %v, want %v", err, blnk.ErrNotFound)
	}
	seq, _ := d.LastChange(ctx)
	got, changed, err := d.EditKey(ctx, w.ID, k.ID, blnk.KeyEdit{Name: "edit me", Description: "only notes"}, by, testNow)
	if err != nil || !changed || got.Description != "only notes" {
		t.Fatalf("EditKey = %+v, %v, %v", got, changed, err)
	}
	if after, _ := d.LastChange(ctx); after != seq {
		t.Errorf("a description changed the key's change log (%d -> %d): the servers do not need it", seq, after)
	}
	if _, changed, _ = d.EditKey(ctx, w.ID, k.ID, blnk.KeyEdit{Name: "renamed", Description: "only notes"}, by, testNow); !changed {
		t.Fatal("rename: not changed")
	}
	if after, _ := d.LastChange(ctx); after != seq+1 {
		t.Errorf("a rename is not a key change the servers read")
	}
	p, err := d.AuditEvents(ctx, blnk.AuditFilter{WorkspaceID: w.ID, Action: audit.KeyEdited}, 0, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 2 {
		t.Fatalf("key.edited events: %d", len(p.Events))
	}
	if got := p.Events[0].Details; fmt.Sprint(got) != "map[after:map[name:renamed] before:map[name:edit me]]" {
		t.Errorf("details of the rename: %v, want only what changed", got)
	}
	// The table refuses a description over 1,000 characters, whatever calls it.
	if _, _, err := d.EditKey(ctx, w.ID, k.ID, blnk.KeyEdit{Name: "renamed", Description: strings.Repeat("x", 1001)}, by, testNow); err == nil {
		t.Error("a 1,001-character description was stored")
	}
}

// TestAuditEventsAreAppendOnly: the table refuses updates, whoever asks.
func TestAuditEventsAreAppendOnly(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w, _ := newWorkspace(t, d, "Acme", "admin@acme.io")
	if err := d.RecordEvent(ctx, audit.Event{WorkspaceID: w.ID, At: testNow, Action: audit.UserSignedIn, Actor: audit.Actor{Kind: audit.System}}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.sql.ExecContext(ctx, `UPDATE audit_events SET actor = 'someone else'`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Errorf("UPDATE audit_events: %v, want it refused as append-only", err)
	}
}

func TestAuditEventsPagesAndExport(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w, _ := newWorkspace(t, d, "Acme", "admin@acme.io")
	w2, _ := newWorkspace(t, d, "Other", "admin@other.io")
	const n = 2*exportChunk + 17
	for i := range n {
		ws := w.ID
		if i%10 == 0 {
			ws = w2.ID
		}
		if err := d.RecordEvent(ctx, audit.Event{WorkspaceID: ws, At: testNow.Add(time.Duration(i) * time.Second), Action: audit.KeyRevealed,
			Actor: audit.Actor{Kind: audit.System}, KeyID: "key_00000000000000000000", KeyPrefix: "blnk_00000000", Details: map[string]any{"i": i}}); err != nil {
			t.Fatal(err)
		}
	}
	var all []int64
	if err := d.EachAuditEvent(ctx, blnk.AuditFilter{WorkspaceID: w.ID}, func(ev audit.Event) error {
		if ev.WorkspaceID != w.ID || ev.Details != nil || len(ev.RawDetails) == 0 {
			t.Fatalf("event %+v", ev)
		}
		all = append(all, ev.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(all) != n-n/10-1 || !slices.IsSortedFunc(all, func(a, b int64) int { return int(b - a) }) {
		t.Errorf("export of one workspace: %d events (sorted newest first: %v), want %d", len(all), slices.IsSortedFunc(all, func(a, b int64) int { return int(b - a) }), n-n/10-1)
	}
	// Pages read back to back are the export, in order.
	var paged []int64
	var before int64
	for {
		p, err := d.AuditEvents(ctx, blnk.AuditFilter{WorkspaceID: w.ID}, before, 0, 400)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range p.Events {
			paged = append(paged, ev.ID)
		}
		if p.Older == 0 {
			break
		}
		before = p.Older
	}
	if !slices.Equal(paged, all) {
		t.Errorf("pages: %d events, export %d; want the same", len(paged), len(all))
	}
	// A time window, and an error that stops the export.
	var window int
	d.EachAuditEvent(ctx, blnk.AuditFilter{Since: testNow.Add(100 * time.Second), Until: testNow.Add(200 * time.Second)}, func(audit.Event) error { window++; return nil })
	if window != 100 {
		t.Errorf("events in [100 s, 200 s): %d, want 100", window)
	}
	stop := errors.New("stop")
	seen := 0
	if err := d.EachAuditEvent(ctx, blnk.AuditFilter{}, func(audit.Event) error { seen++; return stop }); !errors.Is(err, stop) || seen != 1 {
		t.Errorf("EachAuditEvent with an error = %v after %d events", err, seen)
	}
}
