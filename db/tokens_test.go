package db

import (
	"context"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// storeToken stores a management token for a new workspace's admin and
// returns the store and the token's secret.
func storeToken(t testing.TB) (*DB, string, blnk.Token) {
	t.Helper()
	ctx := context.Background()
	d, _ := openTestDB(t)
	now := time.Now()
	ws, u, err := d.SetupFirstAdmin(ctx, "Acme", "ada@example.com", "x", now)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := apikey.GenerateManagement()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := d.CreateToken(ctx, blnk.NewToken{Token: blnk.Token{ID: blnk.NewTokenID(), WorkspaceID: ws.ID, UserID: u.ID, Name: "ci",
		Prefix: secret[:apikey.MgmtPrefixLen], Scopes: []blnk.TokenScope{blnk.TokenKeysRead}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		Hash: apikey.HashOf(secret), Actor: audit.Actor{UserID: u.ID, Email: u.Email, Kind: audit.User}})
	if err != nil {
		t.Fatal(err)
	}
	return d, secret, tok
}

// TestTokenGrantNeedsMembership: the grant carries the person's role as
// stored now, and there is none once the person left the workspace.
func TestTokenGrantNeedsMembership(t *testing.T) {
	ctx := context.Background()
	d, secret, tok := storeToken(t)
	g, err := d.TokenGrant(ctx, apikey.HashOf(secret))
	if err != nil || g.Role != blnk.RoleOwner || g.Token.ID != tok.ID || g.User.Email != "ada@example.com" || g.Workspace.Name != "Acme" {
		t.Fatalf("grant %+v, %v", g, err)
	}
	if _, err := d.sql.ExecContext(ctx, `UPDATE memberships SET role = 'viewer'`); err != nil {
		t.Fatal(err)
	}
	if g, _ := d.TokenGrant(ctx, apikey.HashOf(secret)); g.Role != blnk.RoleViewer {
		t.Fatalf("role after a change: %s", g.Role)
	}
	if _, err := d.sql.ExecContext(ctx, `DELETE FROM memberships`); err != nil {
		t.Fatal(err)
	}
	if _, err := d.TokenGrant(ctx, apikey.HashOf(secret)); err != blnk.ErrNotFound {
		t.Fatalf("grant without membership: %v", err)
	}
	// Back in the workspace later: the old token stays dead.
	if _, err := d.sql.ExecContext(ctx, `INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)`,
		tok.WorkspaceID, tok.UserID, ms(tok.CreatedAt.Add(2*time.Minute))); err != nil {
		t.Fatal(err)
	}
	if _, err := d.TokenGrant(ctx, apikey.HashOf(secret)); err != blnk.ErrNotFound {
		t.Fatalf("grant of a token older than the membership: %v", err)
	}
}

// BenchmarkTokenGrant is what each management API request pays to read
// its token with the person's current role (make bench runs the
// micro-benchmarks of internal/; run this one with
// go test -run '^$' -bench TokenGrant ./db/).
func BenchmarkTokenGrant(b *testing.B) {
	d, secret, _ := storeToken(b)
	h := apikey.HashOf(secret)
	ctx := context.Background()
	for b.Loop() {
		if _, err := d.TokenGrant(ctx, h); err != nil {
			b.Fatal(err)
		}
	}
}
