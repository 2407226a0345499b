package db

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/testkit"
)

// TestMigrationMakesAdminsOwners migrates a database made before
// workspaces had roles, with two workspaces and their admins, and finds
// each admin the Owner of their workspace.
func TestMigrationMakesAdminsOwners(t *testing.T) {
	ctx := context.Background()
	dsn := testkit.DSN(t)
	var d *DB
	var err error
	if KindOf(dsn) == Postgres {
		d, err = openPostgres(ctx, dsn)
	} else {
		d, err = openSQLite(ctx, dsn)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	d.queued = make(chan struct{}, 1)
	conn, err := d.sql.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	list, err := migrationsFor(d.kind)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range list {
		if m.version >= 11 { // 0011_members is the migration under test
			break
		}
		if err := d.apply(ctx, conn, m); err != nil {
			t.Fatalf("apply %s: %v", m.name, err)
		}
	}
	for i, email := range []string{"a@example.com", "b@example.com"} {
		if _, err := conn.ExecContext(ctx, `INSERT INTO workspaces (id, name, created_at) VALUES ($1, $2, 1)`, i+1, fmt.Sprintf("W%d", i)); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, 'x', 1)`, i+1, email); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $1, 'admin', 1)`, i+1); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close()
	if err := d.migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	for ws := int64(1); ws <= 2; ws++ {
		m, err := d.FindMember(ctx, ws, ws)
		if err != nil {
			t.Fatalf("FindMember(%d): %v", ws, err)
		}
		if m.Role != blnk.RoleOwner {
			t.Errorf("workspace %d: the admin's role is %q after the migration, want owner", ws, m.Role)
		}
	}
	if _, err := d.sql.ExecContext(ctx, `UPDATE memberships SET role = 'admin' WHERE user_id = 1`); err != nil {
		t.Errorf("role admin refused after the migration: %v", err)
	}
	if _, err := d.sql.ExecContext(ctx, `UPDATE memberships SET role = 'boss' WHERE user_id = 1`); err == nil {
		t.Error("role boss accepted after the migration")
	}
}

// team is a workspace with an Owner and a member, for the store tests.
type team struct {
	d      *DB
	ws     blnk.Workspace
	owner  blnk.User
	member blnk.User
	now    time.Time
}

func newTeam(t *testing.T) team {
	t.Helper()
	ctx := context.Background()
	d, _ := openTestDB(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ws, owner, err := d.CreateWorkspaceAdmin(ctx, "Acme", "owner@example.com", "hash", now)
	if err != nil {
		t.Fatal(err)
	}
	member, created, err := d.AddMember(ctx, ws.ID, "member@example.com", "hash", blnk.RoleMember, audit.Actor{Kind: audit.CommandLine}, now)
	if err != nil || !created {
		t.Fatalf("AddMember: %v, created %v", err, created)
	}
	return team{d: d, ws: ws, owner: owner, member: member, now: now}
}

func (tm team) addKey(t *testing.T, by int64, name string) apikey.Key {
	t.Helper()
	tok, err := apikey.Generate()
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := tm.d.CreateKey(context.Background(), blnk.NewKey{
		Key:       apikey.Key{ID: apikey.NewID(), WorkspaceID: tm.ws.ID, Name: name, Prefix: tok[:apikey.PrefixLen], Scopes: mustScopes(t, "*"), CreatedAt: tm.now},
		Hash:      apikey.HashOf(tok),
		CreatedBy: by, CreateToken: apikey.NewID(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if k.CreatedByID != by {
		t.Fatalf("key %s: CreatedByID %d, want %d", name, k.CreatedByID, by)
	}
	return k
}

func TestWorkspaceNameTaken(t *testing.T) {
	tm := newTeam(t)
	_, _, err := tm.d.CreateWorkspaceAdmin(context.Background(), "ACME", "other@example.com", "hash", tm.now)
	if !errors.Is(err, blnk.ErrWorkspaceTaken) {
		t.Fatalf("a second workspace named ACME: %v, want ErrWorkspaceTaken", err)
	}
	if n := count(t, tm.d, "workspaces"); n != 1 {
		t.Errorf("%d workspaces, want 1", n)
	}
}

func TestLastOwnerStays(t *testing.T) {
	tm := newTeam(t)
	ctx := context.Background()
	by := audit.Actor{UserID: tm.owner.ID, Email: tm.owner.Email, Kind: audit.User}
	if _, err := tm.d.ChangeMemberRole(ctx, blnk.RoleChange{WorkspaceID: tm.ws.ID, UserID: tm.owner.ID, From: blnk.RoleOwner, To: blnk.RoleAdmin, Actor: by, Now: tm.now}); !errors.Is(err, blnk.ErrLastOwner) {
		t.Errorf("demote the last Owner: %v, want ErrLastOwner", err)
	}
	if _, err := tm.d.RemoveMember(ctx, blnk.Removal{WorkspaceID: tm.ws.ID, UserID: tm.owner.ID, Role: blnk.RoleOwner, Keys: blnk.KeysRevoke, Actor: by, Now: tm.now}); !errors.Is(err, blnk.ErrLastOwner) {
		t.Errorf("remove the last Owner: %v, want ErrLastOwner", err)
	}
	// With a second Owner, the first may step down.
	if _, err := tm.d.ChangeMemberRole(ctx, blnk.RoleChange{WorkspaceID: tm.ws.ID, UserID: tm.member.ID, From: blnk.RoleMember, To: blnk.RoleOwner, Actor: by, Now: tm.now}); err != nil {
		t.Fatal(err)
	}
	if m, err := tm.d.ChangeMemberRole(ctx, blnk.RoleChange{WorkspaceID: tm.ws.ID, UserID: tm.owner.ID, From: blnk.RoleOwner, To: blnk.RoleAdmin, Actor: by, Now: tm.now}); err != nil || m.Role != blnk.RoleAdmin {
		t.Errorf("demote one of two Owners: %v, role %q", err, m.Role)
	}
	// A change made for a role read before another change is refused.
	if _, err := tm.d.ChangeMemberRole(ctx, blnk.RoleChange{WorkspaceID: tm.ws.ID, UserID: tm.owner.ID, From: blnk.RoleOwner, To: blnk.RoleViewer, Actor: by, Now: tm.now}); !errors.Is(err, blnk.ErrRoleChanged) {
		t.Errorf("change from a stale role: %v, want ErrRoleChanged", err)
	}
}

func TestRemoveMemberHandsOverKeys(t *testing.T) {
	for _, handOff := range []blnk.KeyHandOff{blnk.KeysTransfer, blnk.KeysRevoke} {
		t.Run(string(handOff), func(t *testing.T) {
			tm := newTeam(t)
			ctx := context.Background()
			a := tm.addKey(t, tm.member.ID, "a")
			b := tm.addKey(t, tm.member.ID, "b")
			mine := tm.addKey(t, tm.owner.ID, "mine")
			token := []byte("0123456789abcdef0123456789abcdef")
			if err := tm.d.CreateSession(ctx, token, tm.member.ID, tm.ws.ID, tm.now); err != nil {
				t.Fatal(err)
			}
			by := audit.Actor{UserID: tm.owner.ID, Email: tm.owner.Email, Kind: audit.User}
			out, err := tm.d.RemoveMember(ctx, blnk.Removal{WorkspaceID: tm.ws.ID, UserID: tm.member.ID, Role: blnk.RoleMember,
				Keys: handOff, To: tm.owner.ID, Actor: by, Now: tm.now.Add(time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Keys) != 2 || out.Sessions != 1 {
				t.Errorf("removed with %d keys and %d sessions, want 2 and 1", len(out.Keys), out.Sessions)
			}
			if _, err := tm.d.SessionByToken(ctx, token); !errors.Is(err, blnk.ErrNotFound) {
				t.Errorf("the removed member's session: %v, want ErrNotFound", err)
			}
			if _, err := tm.d.FindMember(ctx, tm.ws.ID, tm.member.ID); !errors.Is(err, blnk.ErrNotFound) {
				t.Errorf("FindMember after removal: %v", err)
			}
			for _, k := range []apikey.Key{a, b} {
				got, err := tm.d.Key(ctx, tm.ws.ID, k.ID)
				if err != nil {
					t.Fatal(err)
				}
				switch handOff {
				case blnk.KeysTransfer:
					if got.CreatedByID != tm.owner.ID || got.CreatedBy != tm.owner.Email || !got.RevokedAt.IsZero() {
						t.Errorf("key %s after transfer: owner %d %q, revoked %v", k.Name, got.CreatedByID, got.CreatedBy, got.RevokedAt)
					}
				case blnk.KeysRevoke:
					if got.RevokedAt.IsZero() || got.CreatedByID != tm.member.ID {
						t.Errorf("key %s after revoke: owner %d, revoked %v", k.Name, got.CreatedByID, got.RevokedAt)
					}
				}
			}
			if got, _ := tm.d.Key(ctx, tm.ws.ID, mine.ID); !got.RevokedAt.IsZero() || got.CreatedByID != tm.owner.ID {
				t.Errorf("the remover's own key changed: %+v", got)
			}
			want := map[audit.Action]int{audit.KeyTransferred: 2, audit.MemberRemoved: 1}
			if handOff == blnk.KeysRevoke {
				want = map[audit.Action]int{audit.KeyRevoked: 2, audit.MemberRemoved: 1}
			}
			for action, n := range want {
				var got int
				if err := tm.d.sql.QueryRowContext(ctx, `SELECT count(*) FROM audit_events WHERE action = $1`, string(action)).Scan(&got); err != nil {
					t.Fatal(err)
				}
				if got != n {
					t.Errorf("%d %s events, want %d", got, action, n)
				}
			}
		})
	}
}

func TestInvitationSingleUse(t *testing.T) {
	tm := newTeam(t)
	ctx := context.Background()
	hash := []byte("abcdefghijklmnopqrstuvwxyz012345")
	by := audit.Actor{UserID: tm.owner.ID, Email: tm.owner.Email, Kind: audit.User}
	inv, err := tm.d.CreateInvitation(ctx, blnk.NewInvitation{
		Invitation: blnk.Invitation{ID: "inv_1", WorkspaceID: tm.ws.ID, Email: "new@example.com", Role: blnk.RoleViewer,
			CreatedAt: tm.now, ExpiresAt: tm.now.Add(blnk.InvitationTTL)},
		TokenHash: hash, Actor: by,
	})
	if err != nil {
		t.Fatal(err)
	}
	if inv.InvitedBy != tm.owner.Email || inv.Workspace != "Acme" {
		t.Errorf("invitation: %+v", inv)
	}
	// Someone else's account cannot take it.
	if _, _, err := tm.d.AcceptInvitation(ctx, blnk.Acceptance{TokenHash: hash, UserID: tm.member.ID, Now: tm.now}); !errors.Is(err, blnk.ErrWrongInvitee) {
		t.Errorf("accepted by another email: %v, want ErrWrongInvitee", err)
	}
	u, _, err := tm.d.AcceptInvitation(ctx, blnk.Acceptance{TokenHash: hash, Name: "New", PasswordHash: "h", Now: tm.now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if m, err := tm.d.FindMember(ctx, tm.ws.ID, u.ID); err != nil || m.Role != blnk.RoleViewer || m.User.Name != "New" {
		t.Errorf("the new member: %+v, %v", m, err)
	}
	if _, _, err := tm.d.AcceptInvitation(ctx, blnk.Acceptance{TokenHash: hash, Name: "Again", PasswordHash: "h", Now: tm.now.Add(time.Hour)}); !errors.Is(err, blnk.ErrInvitationUsed) {
		t.Errorf("accepted twice: %v, want ErrInvitationUsed", err)
	}
	if _, err := tm.d.RevokeMemberInvitation(ctx, tm.ws.ID, "inv_1", by, tm.now.Add(2*time.Hour)); !errors.Is(err, blnk.ErrInvitationUsed) {
		t.Errorf("revoke a used invitation: %v, want ErrInvitationUsed", err)
	}
}

func TestSwitchWorkspace(t *testing.T) {
	tm := newTeam(t)
	ctx := context.Background()
	other, _, err := tm.d.CreateWorkspaceAdmin(ctx, "Other", "other@example.com", "hash", tm.now)
	if err != nil {
		t.Fatal(err)
	}
	token := []byte("0123456789abcdef0123456789abcdef")
	if err := tm.d.CreateSession(ctx, token, tm.member.ID, tm.ws.ID, tm.now); err != nil {
		t.Fatal(err)
	}
	if err := tm.d.SwitchWorkspace(ctx, token, tm.member.ID, other.ID); !errors.Is(err, blnk.ErrNotFound) {
		t.Errorf("switch to a workspace one is not a member of: %v, want ErrNotFound", err)
	}
	if _, _, err := tm.d.AddMember(ctx, other.ID, tm.member.Email, "", blnk.RoleViewer, audit.Actor{Kind: audit.CommandLine}, tm.now); err != nil {
		t.Fatal(err)
	}
	if err := tm.d.SwitchWorkspace(ctx, token, tm.member.ID, other.ID); err != nil {
		t.Fatal(err)
	}
	s, err := tm.d.SessionByToken(ctx, token)
	if err != nil || s.Workspace.ID != other.ID || s.Role != blnk.RoleViewer {
		t.Errorf("session after the switch: workspace %d role %q, %v; want %d viewer", s.Workspace.ID, s.Role, err, other.ID)
	}
	ms, err := tm.d.ListMemberships(ctx, tm.member.ID)
	if err != nil || len(ms) != 2 {
		t.Errorf("memberships: %+v, %v", ms, err)
	}
}
