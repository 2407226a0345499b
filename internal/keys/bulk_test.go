package keys_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/keyauth"
	"github.com/blnk-cloud/apikeys/internal/keys"
)

// TestRevokeMany: keys revoked together are refused by every live
// server once RevokeMany answers, confirmed by both; keys revoked
// already are skipped; an id of another workspace revokes nothing.
func TestRevokeMany(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	a, b := f.server(t, "a"), f.server(t, "b")
	svc := keys.New(keys.Config{RevokeWait: 5 * time.Second}, f.store, a, slog.New(slog.DiscardHandler))
	var made []keys.Created
	for _, name := range []string{"one", "two", "three", "four"} {
		made = append(made, f.create(t, svc, name))
	}
	f.applied(t, b)
	if _, err := svc.Revoke(ctx, user, f.wsID, made[3].Key.ID); err != nil {
		t.Fatal(err)
	}

	// Another workspace's key among them: nothing happens.
	other, _, err := f.store.CreateWorkspaceAdmin(ctx, "Other", "admin@other.io", "x", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := svc.Create(ctx, user, keys.Spec{WorkspaceID: other.ID, Workspace: "Other", Name: "theirs",
		Scopes: mustScopes(t, "mcp:read"), FormToken: apikey.NewID()})
	if err != nil {
		t.Fatal(err)
	}
	for _, ids := range [][]string{
		{made[0].Key.ID, foreign.Key.ID},
		{made[0].Key.ID, apikey.NewID()},
	} {
		if _, err := svc.RevokeMany(ctx, user, f.wsID, ids); !errors.Is(err, blnk.ErrNotFound) {
			t.Errorf("RevokeMany(%v): error = %v, want %v", ids, err, blnk.ErrNotFound)
		}
	}
	for _, c := range []keys.Created{made[0], foreign} {
		if _, err := a.Authenticate(ctx, c.Token, "192.0.2.9"); err != nil {
			t.Errorf("key %q after a refused RevokeMany: %v, want it to work", c.Key.Name, err)
		}
	}

	ids := []string{made[0].Key.ID, made[1].Key.ID, made[2].Key.ID, made[3].Key.ID, made[0].Key.ID}
	r, err := svc.RevokeMany(ctx, user, f.wsID, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Revoked) != 3 || len(r.Skipped) != 1 || r.Skipped[0].ID != made[3].Key.ID {
		t.Fatalf("revoked %d, skipped %v; want 3 revoked, four skipped", len(r.Revoked), r.Skipped)
	}
	if !r.Confirmation.Complete() || r.Confirmation.Servers != 2 {
		t.Errorf("confirmation = %+v, want 2 of 2", r.Confirmation)
	}
	for _, srv := range []*keyauth.Authenticator{a, b} {
		for _, c := range made[:3] {
			if _, err := srv.Authenticate(ctx, c.Token, "192.0.2.9"); !errors.Is(err, keyauth.ErrRevoked) {
				t.Errorf("key %q after RevokeMany: error = %v, want %v", c.Key.Name, err, keyauth.ErrRevoked)
			}
		}
	}
	for _, c := range made[:3] {
		k, err := f.store.Key(ctx, f.wsID, c.Key.ID)
		if err != nil {
			t.Fatal(err)
		}
		if k.RevokeConfirmation.Servers != 2 {
			t.Errorf("key %q: recorded confirmation %+v, want 2 servers", k.Name, k.RevokeConfirmation)
		}
	}

	for _, n := range []int{0, keys.MaxRevokeMany + 1} {
		many := make([]string, n)
		for i := range many {
			many[i] = apikey.NewID()
		}
		if _, err := svc.RevokeMany(ctx, user, f.wsID, many); err == nil {
			t.Errorf("RevokeMany of %d ids: no error", n)
		}
	}
}
