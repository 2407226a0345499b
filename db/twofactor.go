package db

import (
	"context"
	"database/sql"
	"time"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// Second factors (internal/twofactor owns every write; these are its
// store), the Owner's requirement of them, and sudo mode per session.

// FindFactors returns the second factors userID has: an authenticator
// app (with its recovery codes left) and passkeys.
func (d *DB) FindFactors(ctx context.Context, userID int64) (blnk.Factors, error) {
	var f blnk.Factors
	err := d.sql.QueryRowContext(ctx, `
		SELECT EXISTS (SELECT 1 FROM totp_factors WHERE user_id = $1),
		       (SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL),
		       (SELECT count(*) FROM passkeys WHERE user_id = $1)`, userID).Scan(&f.TOTP, &f.RecoveryLeft, &f.Passkeys)
	return f, err
}

// ListMemberFactors returns the second factors of every member of
// workspaceID who has one, by user id (the members page).
func (d *DB) ListMemberFactors(ctx context.Context, workspaceID int64) (map[int64]blnk.Factors, error) {
	rows, err := d.sql.QueryContext(ctx, `
		SELECT m.user_id,
		       EXISTS (SELECT 1 FROM totp_factors t WHERE t.user_id = m.user_id),
		       (SELECT count(*) FROM passkeys p WHERE p.user_id = m.user_id)
		FROM memberships m WHERE m.workspace_id = $1`, workspaceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]blnk.Factors{}
	for rows.Next() {
		var id int64
		var f blnk.Factors
		if err := rows.Scan(&id, &f.TOTP, &f.Passkeys); err != nil {
			return nil, err
		}
		if f.Any() {
			out[id] = f
		}
	}
	return out, rows.Err()
}

// TOTPFactor returns userID's TOTP factor: blnk.ErrNotFound when none.
func (d *DB) TOTPFactor(ctx context.Context, userID int64) (blnk.TOTPFactor, error) {
	f := blnk.TOTPFactor{UserID: userID}
	var created int64
	err := d.sql.QueryRowContext(ctx, `SELECT secret, last_step, created_at FROM totp_factors WHERE user_id = $1`, userID).
		Scan(&f.Sealed, &f.LastStep, &created)
	if err != nil {
		return blnk.TOTPFactor{}, notFound(err)
	}
	f.CreatedAt = time.UnixMilli(created).UTC()
	return f, nil
}

// EnableTOTP stores f as its person's TOTP factor with the hashes of new
// recovery codes, and ev (two_factor.enabled), in one transaction:
// blnk.ErrAlreadySet when the person has one already.
func (d *DB) EnableTOTP(ctx context.Context, f blnk.TOTPFactor, codes [][]byte, ev audit.Event) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO totp_factors (user_id, secret, last_step, created_at) VALUES ($1, $2, $3, $4)`,
		f.UserID, f.Sealed, f.LastStep, ms(f.CreatedAt))
	if isUniqueViolation(err) {
		return blnk.ErrAlreadySet
	}
	if err != nil {
		return err
	}
	if err := replaceCodes(ctx, tx, f.UserID, codes); err != nil {
		return err
	}
	if err := recordEvent(ctx, tx, ev); err != nil {
		return err
	}
	return tx.Commit()
}

func replaceCodes(ctx context.Context, tx *sql.Tx, userID int64, codes [][]byte) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
		return err
	}
	for _, h := range codes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)`, userID, h); err != nil {
			return err
		}
	}
	return nil
}

// UseTOTPStep records that userID's code of time step step was
// accepted, only if no code of that step or a later one was: false when
// one was (a replay), or when the person has no TOTP factor. One
// statement: two servers given the same code at once accept it once.
func (d *DB) UseTOTPStep(ctx context.Context, userID, step int64) (bool, error) {
	res, err := d.sql.ExecContext(ctx, `UPDATE totp_factors SET last_step = $1 WHERE user_id = $2 AND last_step < $1`, step, userID)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// UseRecoveryCode marks userID's unused recovery code of hash used at
// now and records ev (two_factor.recovery_used) with it: false when no
// such code is left (never one, or used already).
func (d *DB) UseRecoveryCode(ctx context.Context, userID int64, hash []byte, now time.Time, ev audit.Event) (bool, error) {
	return d.changeOne(ctx, ev, `UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL`,
		ms(now), userID, hash)
}

// changeOne runs query, which changes one row at most, and records ev in
// the same transaction when it did: false, and no event, when it changed
// none.
func (d *DB) changeOne(ctx context.Context, ev audit.Event, query string, args ...any) (bool, error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return false, err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, err
	}
	if err := recordEvent(ctx, tx, ev); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// ReplaceRecoveryCodes replaces userID's recovery codes by codes and
// records ev: blnk.ErrNotFound when the person has no TOTP factor.
func (d *DB) ReplaceRecoveryCodes(ctx context.Context, userID int64, codes [][]byte, ev audit.Event) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var has bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM totp_factors WHERE user_id = $1)`, userID).Scan(&has); err != nil {
		return err
	}
	if !has {
		return blnk.ErrNotFound
	}
	if err := replaceCodes(ctx, tx, userID, codes); err != nil {
		return err
	}
	if err := recordEvent(ctx, tx, ev); err != nil {
		return err
	}
	return tx.Commit()
}

// DeleteTOTP removes userID's TOTP factor and recovery codes and records
// ev (two_factor.disabled; in each workspace of userID when ev names
// none): blnk.ErrNotFound when there was none.
func (d *DB) DeleteTOTP(ctx context.Context, userID int64, ev audit.Event) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM totp_factors WHERE user_id = $1`, userID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		if err == nil {
			err = blnk.ErrNotFound
		}
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = $1`, userID); err != nil {
		return err
	}
	if err := d.recordInWorkspaces(ctx, tx, userID, ev.WorkspaceID, ev); err != nil {
		return err
	}
	return tx.Commit()
}

// UpdateRequireTwoFactor sets workspaceID's requirement of a second factor
// and records ev (two_factor.required) when it changed: false when it
// was so already.
func (d *DB) UpdateRequireTwoFactor(ctx context.Context, workspaceID int64, on bool, ev audit.Event) (bool, error) {
	v := 0
	if on {
		v = 1
	}
	return d.changeOne(ctx, ev, `UPDATE workspaces SET require_two_factor = $1 WHERE id = $2 AND require_two_factor <> $1`, v, workspaceID)
}

// SetSessionSudo records that the session of tokenHash gave a password
// or a second factor at at, and ev (user.sudo).
func (d *DB) SetSessionSudo(ctx context.Context, tokenHash []byte, at time.Time, ev audit.Event) error {
	ok, err := d.changeOne(ctx, ev, `UPDATE sessions SET sudo_at = $1 WHERE token_hash = $2`, ms(at), tokenHash)
	if err == nil && !ok {
		err = blnk.ErrNotFound
	}
	return err
}
