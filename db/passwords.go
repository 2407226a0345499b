package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// CreatePasswordReset stores a password reset link of a person and
// records password.reset_link_created, in one transaction: in
// r.WorkspaceID, or in each workspace of the person when it is 0.
func (d *DB) CreatePasswordReset(ctx context.Context, r blnk.NewPasswordReset) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	by := nullID(r.Actor.UserID)
	if _, err := tx.ExecContext(ctx, `INSERT INTO password_resets (token_hash, user_id, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		r.TokenHash, r.UserID, by, ms(r.CreatedAt), ms(r.ExpiresAt)); err != nil {
		return fmt.Errorf("insert password reset: %w", err)
	}
	var email string
	if err := tx.QueryRowContext(ctx, `SELECT email FROM users WHERE id = $1`, r.UserID).Scan(&email); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return blnk.ErrNotFound
		}
		return err
	}
	details := map[string]any{"email": email, "expires_at": r.ExpiresAt.UTC().Format(time.RFC3339)}
	for k, v := range r.Details {
		details[k] = v
	}
	if err := d.recordInWorkspaces(ctx, tx, r.UserID, r.WorkspaceID, audit.Event{At: r.CreatedAt, Action: audit.PasswordResetLinkCreated, Actor: r.Actor, Details: details}); err != nil {
		return err
	}
	return tx.Commit()
}

// recordInWorkspaces records ev in workspaceID, or, when it is 0, in each
// workspace userID belongs to (none: nowhere).
func (d *DB) recordInWorkspaces(ctx context.Context, tx *sql.Tx, userID, workspaceID int64, ev audit.Event) error {
	ids := []int64{workspaceID}
	if workspaceID == 0 {
		var err error
		ids, err = collect(ctx, tx, scanInt64, `SELECT workspace_id FROM memberships WHERE user_id = $1 ORDER BY workspace_id`, userID)
		if err != nil {
			return err
		}
	}
	for _, id := range ids {
		ev.WorkspaceID = id
		if err := recordEvent(ctx, tx, ev); err != nil {
			return err
		}
	}
	return nil
}

// FindPasswordReset returns the reset link stored under tokenHash, with its
// person: ErrResetInvalid when there is none.
func (d *DB) FindPasswordReset(ctx context.Context, tokenHash []byte) (blnk.PasswordReset, error) {
	var r blnk.PasswordReset
	var created, expires, uc int64
	var used sql.NullInt64
	err := d.sql.QueryRowContext(ctx, `SELECT u.id, u.email, u.name, u.created_at, r.created_at, r.expires_at, r.used_at
		FROM password_resets r JOIN users u ON u.id = r.user_id WHERE r.token_hash = $1`, tokenHash).
		Scan(&r.User.ID, &r.User.Email, &r.User.Name, &uc, &created, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return blnk.PasswordReset{}, blnk.ErrResetInvalid
	}
	if err != nil {
		return blnk.PasswordReset{}, err
	}
	r.User.CreatedAt = time.UnixMilli(uc).UTC()
	r.CreatedAt, r.ExpiresAt = time.UnixMilli(created).UTC(), time.UnixMilli(expires).UTC()
	if used.Valid {
		r.UsedAt = time.UnixMilli(used.Int64).UTC()
	}
	return r, nil
}

// ResetPassword uses a reset link, in one transaction: the link is
// marked used (only if it was unused and unexpired at c.Now, so that two
// uses at once cannot both pass), the password changes, the person's
// other unused links stop working, every session of theirs ends, and
// password.changed is recorded in each of their workspaces.
func (d *DB) ResetPassword(ctx context.Context, c blnk.PasswordChange) (blnk.PasswordChanged, error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return blnk.PasswordChanged{}, err
	}
	defer tx.Rollback()
	var out blnk.PasswordChanged
	err = tx.QueryRowContext(ctx, `UPDATE password_resets SET used_at = $2
		WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 RETURNING user_id`, c.TokenHash, ms(c.Now)).Scan(&out.User.ID)
	if errors.Is(err, sql.ErrNoRows) {
		// Why not: say which, as the link's page does.
		r, err := d.FindPasswordReset(ctx, c.TokenHash)
		if err != nil {
			return blnk.PasswordChanged{}, err
		}
		if err := r.Unusable(c.Now); err != nil {
			return blnk.PasswordChanged{}, err
		}
		return blnk.PasswordChanged{}, blnk.ErrResetUsed
	}
	if err != nil {
		return blnk.PasswordChanged{}, err
	}
	var uc int64
	if err := tx.QueryRowContext(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2 RETURNING email, name, created_at`, c.PasswordHash, out.User.ID).
		Scan(&out.User.Email, &out.User.Name, &uc); err != nil {
		return blnk.PasswordChanged{}, fmt.Errorf("set password: %w", err)
	}
	out.User.CreatedAt = time.UnixMilli(uc).UTC()
	if _, err := tx.ExecContext(ctx, `UPDATE password_resets SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL`, out.User.ID, ms(c.Now)); err != nil {
		return blnk.PasswordChanged{}, err
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, out.User.ID)
	if err != nil {
		return blnk.PasswordChanged{}, err
	}
	out.Sessions, _ = res.RowsAffected()
	actor := c.Actor
	if actor.UserID == 0 {
		actor.UserID, actor.Email = out.User.ID, out.User.Email
	}
	if err := d.recordInWorkspaces(ctx, tx, out.User.ID, 0, audit.Event{At: c.Now, Action: audit.PasswordChanged, Actor: actor,
		Details: map[string]any{"email": out.User.Email, "how": "reset link", "sessions_ended": out.Sessions}}); err != nil {
		return blnk.PasswordChanged{}, err
	}
	return out, tx.Commit()
}

// ListSessions returns the sessions of userID, the most recently seen
// first; current (the hash of the asking session's token) is marked.
func (d *DB) ListSessions(ctx context.Context, userID int64, current []byte) ([]blnk.SessionInfo, error) {
	return collect(ctx, d.sql, func(row scanner) (blnk.SessionInfo, error) {
		var s blnk.SessionInfo
		var created, seen int64
		err := row.Scan(&s.ID, &s.UserAgent, &s.IP, &s.Workspace, &created, &seen, &s.Current)
		s.CreatedAt, s.LastSeenAt = time.UnixMilli(created).UTC(), time.UnixMilli(seen).UTC()
		return s, err
	}, `SELECT COALESCE(s.id, ''), s.user_agent, s.ip, w.name, s.created_at, s.last_seen_at, s.token_hash = $2
		FROM sessions s JOIN workspaces w ON w.id = s.workspace_id
		WHERE s.user_id = $1 ORDER BY s.token_hash = $2 DESC, s.last_seen_at DESC, s.created_at DESC`, userID, current)
}

// RevokeSession ends the session id of userID, other than the one
// stored under keep, and records ev (session.revoked) with it:
// ErrNotFound when the person has no such other session.
func (d *DB) RevokeSession(ctx context.Context, userID int64, id string, keep []byte, ev audit.Event) error {
	if !storable(id) {
		return blnk.ErrNotFound
	}
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE id = $1 AND user_id = $2 AND token_hash <> $3`, id, userID, keep)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return blnk.ErrNotFound
	}
	if err := recordEvent(ctx, tx, ev); err != nil {
		return err
	}
	return tx.Commit()
}

// RevokeOtherSessions ends every session of userID but the one stored
// under keep (nil: every one), records ev (session.revoked, with how
// many; in each workspace of userID when it names none) if any ended,
// and returns how many.
func (d *DB) RevokeOtherSessions(ctx context.Context, userID int64, keep []byte, ev audit.Event) (int64, error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var res sql.Result
	if keep == nil {
		res, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1`, userID)
	} else {
		res, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2`, userID, keep)
	}
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	if n == 0 {
		return 0, nil
	}
	if ev.Details == nil {
		ev.Details = map[string]any{}
	}
	ev.Details["sessions"] = n
	if err := d.recordInWorkspaces(ctx, tx, userID, ev.WorkspaceID, ev); err != nil {
		return 0, err
	}
	return n, tx.Commit()
}
