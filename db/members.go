package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/webhook"
)

// membersLock orders the transactions that change who is a member of a
// workspace and with what role (on PostgreSQL; SQLite's write lock, taken
// at BEGIN, does it there): the last-Owner rule is checked and kept in
// one step.
const membersLock = "blnk members"

// roleOrder sorts members from Owners to Viewers.
const roleOrder = `CASE m.role WHEN 'owner' THEN 1 WHEN 'admin' THEN 2 WHEN 'member' THEN 3 ELSE 4 END`

// ListMemberships lists the workspaces userID belongs to, with their role
// in each, by workspace name.
func (d *DB) ListMemberships(ctx context.Context, userID int64) ([]blnk.Membership, error) {
	return collect(ctx, d.sql, func(row scanner) (blnk.Membership, error) {
		var m blnk.Membership
		var created int64
		err := row.Scan(&m.Workspace.ID, &m.Workspace.Name, &created, &m.Role)
		m.Workspace.CreatedAt = time.UnixMilli(created).UTC()
		return m, err
	}, `
		SELECT w.id, w.name, w.created_at, m.role
		FROM memberships m JOIN workspaces w ON w.id = m.workspace_id
		WHERE m.user_id = $1
		ORDER BY lower(w.name), w.id`, userID)
}

const memberColumns = `u.id, u.email, u.name, u.created_at, m.role, m.created_at, u.last_signed_in_at
	FROM memberships m JOIN users u ON u.id = m.user_id`

func scanMember(row scanner) (blnk.Member, error) {
	var m blnk.Member
	var uc, joined int64
	var last sql.NullInt64
	err := row.Scan(&m.User.ID, &m.User.Email, &m.User.Name, &uc, &m.Role, &joined, &last)
	if err != nil {
		return blnk.Member{}, notFound(err)
	}
	m.User.CreatedAt = time.UnixMilli(uc).UTC()
	m.JoinedAt = time.UnixMilli(joined).UTC()
	m.LastSignInAt = fromMS(last)
	return m, nil
}

// ListMembers lists a workspace's members, Owners first, then by email.
func (d *DB) ListMembers(ctx context.Context, workspaceID int64) ([]blnk.Member, error) {
	return collect(ctx, d.sql, scanMember, `SELECT `+memberColumns+`
		WHERE m.workspace_id = $1
		ORDER BY `+roleOrder+`, lower(u.email)`, workspaceID)
}

// FindMember returns the member userID of a workspace: ErrNotFound if
// they are not one.
func (d *DB) FindMember(ctx context.Context, workspaceID, userID int64) (blnk.Member, error) {
	return scanMember(d.sql.QueryRowContext(ctx, `SELECT `+memberColumns+`
		WHERE m.workspace_id = $1 AND m.user_id = $2`, workspaceID, userID))
}

// FindUser returns the person with this email (in any case).
func (d *DB) FindUser(ctx context.Context, email string) (blnk.User, error) {
	if !storable(email) {
		return blnk.User{}, blnk.ErrNotFound
	}
	var u blnk.User
	var created int64
	err := d.sql.QueryRowContext(ctx, `SELECT id, email, name, created_at FROM users WHERE lower(email) = lower($1)`, email).
		Scan(&u.ID, &u.Email, &u.Name, &created)
	if err != nil {
		return blnk.User{}, notFound(err)
	}
	u.CreatedAt = time.UnixMilli(created).UTC()
	return u, nil
}

// FindWorkspace returns the workspace of this name (in any case).
func (d *DB) FindWorkspace(ctx context.Context, name string) (blnk.Workspace, error) {
	if !storable(name) {
		return blnk.Workspace{}, blnk.ErrNotFound
	}
	var w blnk.Workspace
	var created int64
	err := d.sql.QueryRowContext(ctx, `SELECT id, name, created_at FROM workspaces WHERE lower(name) = lower($1) ORDER BY id LIMIT 1`, name).
		Scan(&w.ID, &w.Name, &created)
	if err != nil {
		return blnk.Workspace{}, notFound(err)
	}
	w.CreatedAt = time.UnixMilli(created).UTC()
	return w, nil
}

// activeKeysOf is the condition of a member's active keys: $1 the
// workspace, $2 the member, $3 now.
const activeKeysOf = `k.workspace_id = $1 AND k.created_by = $2 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > $3)`

// ListMemberKeys lists the active keys userID created (or took over) in a
// workspace, by name: what their removal hands over or revokes.
func (d *DB) ListMemberKeys(ctx context.Context, workspaceID, userID int64, now time.Time) ([]apikey.Key, error) {
	return d.memberKeys(ctx, d.sql, workspaceID, userID, now)
}

func (d *DB) memberKeys(ctx context.Context, q querier, workspaceID, userID int64, now time.Time) ([]apikey.Key, error) {
	return collect(ctx, q, scanKey, `SELECT `+keyColumns+` WHERE `+activeKeysOf+` ORDER BY lower(k.name), k.id`,
		workspaceID, userID, ms(now))
}

const invitationColumns = `i.id, i.workspace_id, w.name, i.email, i.role, COALESCE(u.email, ''), i.created_at, i.expires_at,
	i.accepted_at, i.revoked_at
	FROM invitations i
	JOIN workspaces w ON w.id = i.workspace_id
	LEFT JOIN users u ON u.id = i.invited_by`

func scanInvitation(row scanner) (blnk.Invitation, error) {
	var inv blnk.Invitation
	var created, expires int64
	var accepted, revoked sql.NullInt64
	err := row.Scan(&inv.ID, &inv.WorkspaceID, &inv.Workspace, &inv.Email, &inv.Role, &inv.InvitedBy, &created, &expires, &accepted, &revoked)
	if err != nil {
		return blnk.Invitation{}, notFound(err)
	}
	inv.CreatedAt, inv.ExpiresAt = time.UnixMilli(created).UTC(), time.UnixMilli(expires).UTC()
	inv.AcceptedAt, inv.RevokedAt = fromMS(accepted), fromMS(revoked)
	return inv, nil
}

// ListInvitations lists a workspace's pending invitations at now, newest
// first.
func (d *DB) ListInvitations(ctx context.Context, workspaceID int64, now time.Time) ([]blnk.Invitation, error) {
	return collect(ctx, d.sql, scanInvitation, `SELECT `+invitationColumns+`
		WHERE i.workspace_id = $1 AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > $2
		ORDER BY i.created_at DESC, i.id`, workspaceID, ms(now))
}

// FindInvitation returns the invitation whose token hashes to tokenHash,
// whatever its state.
func (d *DB) FindInvitation(ctx context.Context, tokenHash []byte) (blnk.Invitation, error) {
	return scanInvitation(d.sql.QueryRowContext(ctx, `SELECT `+invitationColumns+` WHERE i.token_hash = $1`, tokenHash))
}

// CreateInvitation stores an invitation and records member.invited.
func (d *DB) CreateInvitation(ctx context.Context, ni blnk.NewInvitation) (blnk.Invitation, error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return blnk.Invitation{}, err
	}
	defer tx.Rollback()
	inv := ni.Invitation
	by := nullID(ni.Actor.UserID)
	if _, err := tx.ExecContext(ctx, `INSERT INTO invitations (id, workspace_id, email, role, token_hash, invited_by, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		inv.ID, inv.WorkspaceID, inv.Email, string(inv.Role), ni.TokenHash, by, ms(inv.CreatedAt), ms(inv.ExpiresAt)); err != nil {
		return blnk.Invitation{}, fmt.Errorf("insert invitation: %w", err)
	}
	if err := recordEvent(ctx, tx, audit.Event{WorkspaceID: inv.WorkspaceID, At: inv.CreatedAt, Action: audit.MemberInvited, Actor: ni.Actor,
		Details: map[string]any{"invitation": inv.ID, "email": inv.Email, "role": string(inv.Role), "expires_at": inv.ExpiresAt.UTC().Format(time.RFC3339)}}); err != nil {
		return blnk.Invitation{}, err
	}
	stored, err := scanInvitation(tx.QueryRowContext(ctx, `SELECT `+invitationColumns+` WHERE i.id = $1`, inv.ID))
	if err != nil {
		return blnk.Invitation{}, err
	}
	return stored, tx.Commit()
}

// RevokeMemberInvitation revokes a workspace's pending invitation and records
// member.invitation_revoked. An invitation no longer pending (accepted,
// revoked or expired) is ErrInvitationUsed, ErrInvitationRevoked or
// ErrInvitationExpired; another workspace's is ErrNotFound.
func (d *DB) RevokeMemberInvitation(ctx context.Context, workspaceID int64, id string, by audit.Actor, now time.Time) (blnk.Invitation, error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return blnk.Invitation{}, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE invitations SET revoked_at = $1
		WHERE workspace_id = $2 AND id = $3 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $1`,
		ms(now), workspaceID, id)
	if err != nil {
		return blnk.Invitation{}, err
	}
	inv, err := scanInvitation(tx.QueryRowContext(ctx, `SELECT `+invitationColumns+` WHERE i.workspace_id = $1 AND i.id = $2`, workspaceID, id))
	if err != nil {
		return blnk.Invitation{}, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return blnk.Invitation{}, inv.Unusable(now)
	}
	if err := recordEvent(ctx, tx, audit.Event{WorkspaceID: workspaceID, At: now, Action: audit.MemberInvitationRevoked, Actor: by,
		Details: map[string]any{"invitation": inv.ID, "email": inv.Email, "role": string(inv.Role)}}); err != nil {
		return blnk.Invitation{}, err
	}
	return inv, tx.Commit()
}

// AcceptInvitation uses the invitation of a.TokenHash, once: a new person
// is created (its email the invitation's), or the existing person a.UserID
// (whose email must be the invitation's: else ErrWrongInvitee) joins the
// workspace with the invitation's role; member.joined is recorded.
func (d *DB) AcceptInvitation(ctx context.Context, a blnk.Acceptance) (blnk.User, blnk.Invitation, error) {
	tx, err := d.beginLocked(ctx, membersLock)
	if err != nil {
		return blnk.User{}, blnk.Invitation{}, err
	}
	defer tx.Rollback()
	inv, err := scanInvitation(tx.QueryRowContext(ctx, `SELECT `+invitationColumns+` WHERE i.token_hash = $1`, a.TokenHash))
	if err != nil {
		return blnk.User{}, blnk.Invitation{}, err
	}
	if err := inv.Unusable(a.Now); err != nil {
		return blnk.User{}, blnk.Invitation{}, err
	}
	var u blnk.User
	if a.UserID == 0 {
		u = blnk.User{Email: inv.Email, Name: a.Name, CreatedAt: a.Now.UTC().Truncate(time.Millisecond)}
		err := tx.QueryRowContext(ctx, `INSERT INTO users (email, name, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
			inv.Email, a.Name, a.PasswordHash, ms(a.Now)).Scan(&u.ID)
		if isUniqueViolation(err) {
			return blnk.User{}, blnk.Invitation{}, blnk.ErrEmailTaken
		}
		if err != nil {
			return blnk.User{}, blnk.Invitation{}, fmt.Errorf("insert user: %w", err)
		}
	} else {
		var created int64
		if err := tx.QueryRowContext(ctx, `SELECT id, email, name, created_at FROM users WHERE id = $1`, a.UserID).
			Scan(&u.ID, &u.Email, &u.Name, &created); err != nil {
			return blnk.User{}, blnk.Invitation{}, fmt.Errorf("read user: %w", err)
		}
		u.CreatedAt = time.UnixMilli(created).UTC()
		if !strings.EqualFold(u.Email, inv.Email) {
			return blnk.User{}, blnk.Invitation{}, blnk.ErrWrongInvitee
		}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (workspace_id, user_id) DO NOTHING`, inv.WorkspaceID, u.ID, string(inv.Role), ms(a.Now))
	if err != nil {
		return blnk.User{}, blnk.Invitation{}, fmt.Errorf("insert membership: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return blnk.User{}, blnk.Invitation{}, blnk.ErrAlreadyMember
	}
	if _, err := tx.ExecContext(ctx, `UPDATE invitations SET accepted_at = $1, accepted_by = $2 WHERE id = $3`,
		ms(a.Now), u.ID, inv.ID); err != nil {
		return blnk.User{}, blnk.Invitation{}, err
	}
	inv.AcceptedAt = a.Now
	by := a.Actor
	by.UserID, by.Email, by.Kind = u.ID, u.Email, audit.User
	if err := recordEvent(ctx, tx, audit.Event{WorkspaceID: inv.WorkspaceID, At: a.Now, Action: audit.MemberJoined, Actor: by,
		Details: map[string]any{"invitation": inv.ID, "email": u.Email, "role": string(inv.Role), "invited_by": inv.InvitedBy}}); err != nil {
		return blnk.User{}, blnk.Invitation{}, err
	}
	return u, inv, tx.Commit()
}

// AddMember makes the person with this email a member of a workspace with
// role, creating them with passwordHash if they have no account (created
// says so), and records member.joined: the command line's way in.
// ErrAlreadyMember if they are one.
func (d *DB) AddMember(ctx context.Context, workspaceID int64, email, passwordHash string, role blnk.Role, by audit.Actor, now time.Time) (u blnk.User, created bool, err error) {
	tx, err := d.beginLocked(ctx, membersLock)
	if err != nil {
		return blnk.User{}, false, err
	}
	defer tx.Rollback()
	var uc int64
	err = tx.QueryRowContext(ctx, `SELECT id, email, name, created_at FROM users WHERE lower(email) = lower($1)`, email).Scan(&u.ID, &u.Email, &u.Name, &uc)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if passwordHash == "" {
			return blnk.User{}, false, errors.New("db: a new person needs a password")
		}
		u = blnk.User{Email: email, CreatedAt: now.UTC().Truncate(time.Millisecond)}
		if err := tx.QueryRowContext(ctx, `INSERT INTO users (email, password_hash, created_at) VALUES ($1, $2, $3) RETURNING id`,
			email, passwordHash, ms(now)).Scan(&u.ID); err != nil {
			return blnk.User{}, false, fmt.Errorf("insert user: %w", err)
		}
		created = true
	case err != nil:
		return blnk.User{}, false, err
	default:
		u.CreatedAt = time.UnixMilli(uc).UTC()
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (workspace_id, user_id) DO NOTHING`, workspaceID, u.ID, string(role), ms(now))
	if err != nil {
		return blnk.User{}, false, fmt.Errorf("insert membership: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return blnk.User{}, false, blnk.ErrAlreadyMember
	}
	if err := recordEvent(ctx, tx, audit.Event{WorkspaceID: workspaceID, At: now, Action: audit.MemberJoined, Actor: by,
		Details: map[string]any{"email": u.Email, "role": string(role)}}); err != nil {
		return blnk.User{}, false, err
	}
	return u, created, tx.Commit()
}

// owners counts a workspace's Owners inside tx.
func owners(ctx context.Context, tx *sql.Tx, workspaceID int64) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, `SELECT count(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'`, workspaceID).Scan(&n)
	return n, err
}

// ChangeMemberRole changes a member's role from c.From to c.To and records
// member.role_changed. The last Owner keeps their role (ErrLastOwner);
// a member whose role is no longer c.From is a conflict.
func (d *DB) ChangeMemberRole(ctx context.Context, c blnk.RoleChange) (blnk.Member, error) {
	tx, err := d.beginLocked(ctx, membersLock)
	if err != nil {
		return blnk.Member{}, err
	}
	defer tx.Rollback()
	m, err := scanMember(tx.QueryRowContext(ctx, `SELECT `+memberColumns+` WHERE m.workspace_id = $1 AND m.user_id = $2`, c.WorkspaceID, c.UserID))
	if err != nil {
		return blnk.Member{}, err
	}
	if m.Role != c.From {
		return blnk.Member{}, blnk.ErrRoleChanged
	}
	if m.Role == c.To {
		return m, nil
	}
	if m.Role == blnk.RoleOwner {
		n, err := owners(ctx, tx, c.WorkspaceID)
		if err != nil {
			return blnk.Member{}, err
		}
		if n <= 1 {
			return blnk.Member{}, blnk.ErrLastOwner
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE memberships SET role = $1 WHERE workspace_id = $2 AND user_id = $3`,
		string(c.To), c.WorkspaceID, c.UserID); err != nil {
		return blnk.Member{}, err
	}
	if err := recordEvent(ctx, tx, audit.Event{WorkspaceID: c.WorkspaceID, At: c.Now, Action: audit.MemberRoleChanged, Actor: c.Actor,
		Details: map[string]any{"email": m.User.Email, "before": map[string]any{"role": string(m.Role)}, "after": map[string]any{"role": string(c.To)}}}); err != nil {
		return blnk.Member{}, err
	}
	m.Role = c.To
	return m, tx.Commit()
}

// RemoveMember removes a member whose role is r.Role, in one
// transaction: their active keys go to r.To (key.transferred for each) or
// are revoked (key.revoked for each, with its webhook event), their
// sessions in the workspace end, and member.removed is recorded. The
// last Owner stays (ErrLastOwner). Other processes are told of the
// revocations when this returns.
func (d *DB) RemoveMember(ctx context.Context, r blnk.Removal) (blnk.Removed, error) {
	// The key changes' lock first, as every transaction that changes an
	// existing key takes it (see keyChangesLock), then the members'.
	tx, err := d.beginLocked(ctx, keyChangesLock, membersLock)
	if err != nil {
		return blnk.Removed{}, err
	}
	defer tx.Rollback()
	var out blnk.Removed
	out.Member, err = scanMember(tx.QueryRowContext(ctx, `SELECT `+memberColumns+` WHERE m.workspace_id = $1 AND m.user_id = $2`, r.WorkspaceID, r.UserID))
	if err != nil {
		return blnk.Removed{}, err
	}
	if out.Member.Role != r.Role {
		return blnk.Removed{}, blnk.ErrRoleChanged
	}
	if out.Member.Role == blnk.RoleOwner {
		n, err := owners(ctx, tx, r.WorkspaceID)
		if err != nil {
			return blnk.Removed{}, err
		}
		if n <= 1 {
			return blnk.Removed{}, blnk.ErrLastOwner
		}
	}
	if out.Keys, err = d.memberKeys(ctx, tx, r.WorkspaceID, r.UserID, r.Now); err != nil {
		return blnk.Removed{}, err
	}
	from := out.Member.User.Email
	switch r.Keys {
	case blnk.KeysTransfer:
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET created_by = $4 WHERE id IN (SELECT k.id FROM api_keys k WHERE `+activeKeysOf+`)`,
			r.WorkspaceID, r.UserID, ms(r.Now), r.To); err != nil {
			return blnk.Removed{}, fmt.Errorf("transfer keys: %w", err)
		}
		// A change of each key: the list's counts (its owner=me filter)
		// are kept until the change log moves.
		ids := make([]string, len(out.Keys))
		for i := range out.Keys {
			ids[i] = out.Keys[i].ID
		}
		if len(ids) > 0 {
			if out.Seq, err = d.recordChanges(ctx, tx, ids, r.Now); err != nil {
				return blnk.Removed{}, err
			}
		}
		evs := make([]audit.Event, len(out.Keys))
		for i := range out.Keys {
			k := &out.Keys[i]
			k.CreatedByID, k.CreatedBy = r.To, r.Actor.Email
			evs[i] = audit.Event{WorkspaceID: r.WorkspaceID, At: r.Now, Action: audit.KeyTransferred, Actor: r.Actor,
				KeyID: k.ID, KeyPrefix: k.Prefix, Details: map[string]any{"before": map[string]any{"owner": from}, "after": map[string]any{"owner": r.Actor.Email}}}
		}
		if err := recordEvents(ctx, tx, evs); err != nil {
			return blnk.Removed{}, err
		}
	case blnk.KeysRevoke:
		byUser := nullID(r.Actor.UserID)
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $4, revoked_by = $5 WHERE id IN (SELECT k.id FROM api_keys k WHERE `+activeKeysOf+`)`,
			r.WorkspaceID, r.UserID, ms(r.Now), ms(r.Now), byUser); err != nil {
			return blnk.Removed{}, fmt.Errorf("revoke keys: %w", err)
		}
		details := map[string]any{"reason": "member removed", "member": from}
		ids := make([]string, len(out.Keys))
		evs := make([]audit.Event, len(out.Keys))
		for i := range out.Keys {
			k := &out.Keys[i]
			k.RevokedAt, k.RevokedBy = r.Now, r.Actor.Email
			ids[i] = k.ID
			evs[i] = audit.Event{WorkspaceID: r.WorkspaceID, At: r.Now, Action: audit.KeyRevoked, Actor: r.Actor,
				KeyID: k.ID, KeyPrefix: k.Prefix, Details: details}
		}
		if len(ids) > 0 {
			if out.Seq, err = d.recordChanges(ctx, tx, ids, r.Now); err != nil {
				return blnk.Removed{}, err
			}
		}
		if err := recordEvents(ctx, tx, evs); err != nil {
			return blnk.Removed{}, err
		}
		// One webhook event per key, when an endpoint subscribes.
		var hooks int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM webhooks w JOIN webhook_subscriptions s ON s.webhook_id = w.id
			WHERE w.workspace_id = $1 AND w.disabled_at IS NULL AND s.event = $2`, r.WorkspaceID, string(webhook.KeyRevoked)).Scan(&hooks); err != nil {
			return blnk.Removed{}, err
		}
		for i := range out.Keys {
			if hooks == 0 {
				break
			}
			if err := d.enqueueEvent(ctx, tx, r.WorkspaceID, webhook.KeyRevoked, r.Now, webhook.KeyEvent(webhook.KeyRevoked, r.Now, out.Keys[i], r.Actor.Name(), details)); err != nil {
				return blnk.Removed{}, err
			}
		}
	default:
		return blnk.Removed{}, fmt.Errorf("db: no key hand-off %q", r.Keys)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2`, r.WorkspaceID, r.UserID); err != nil {
		return blnk.Removed{}, err
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE workspace_id = $1 AND user_id = $2`, r.WorkspaceID, r.UserID)
	if err != nil {
		return blnk.Removed{}, err
	}
	out.Sessions, _ = res.RowsAffected()
	if err := recordEvent(ctx, tx, audit.Event{WorkspaceID: r.WorkspaceID, At: r.Now, Action: audit.MemberRemoved, Actor: r.Actor,
		Details: map[string]any{"email": from, "role": string(out.Member.Role), "keys": string(r.Keys), "key_count": len(out.Keys)}}); err != nil {
		return blnk.Removed{}, err
	}
	if err := tx.Commit(); err != nil {
		return blnk.Removed{}, err
	}
	if out.Seq != 0 {
		d.keyEventCommitted()
	}
	return out, nil
}

// SwitchWorkspace makes workspaceID the current workspace of the session
// stored under tokenHash, if its person userID is a member of it; else
// ErrNotFound.
func (d *DB) SwitchWorkspace(ctx context.Context, tokenHash []byte, userID, workspaceID int64) error {
	res, err := d.sql.ExecContext(ctx, `UPDATE sessions SET workspace_id = $1
		WHERE token_hash = $2 AND user_id = $3
		AND EXISTS (SELECT 1 FROM memberships WHERE workspace_id = $1 AND user_id = $3)`, workspaceID, tokenHash, userID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return blnk.ErrNotFound
	}
	return nil
}
