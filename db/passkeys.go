package db

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// EnsurePasskeyHandle returns the user handle of userID, storing handle
// first if the person has none yet: every passkey of a person carries the
// same one, whichever request made it first.
func (d *DB) EnsurePasskeyHandle(ctx context.Context, userID int64, handle []byte) ([]byte, error) {
	if _, err := d.sql.ExecContext(ctx, `INSERT INTO passkey_handles (user_id, handle) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING`, userID, handle); err != nil {
		return nil, err
	}
	return d.FindPasskeyHandle(ctx, userID)
}

// FindPasskeyHandle returns the user handle of userID: blnk.ErrNotFound
// when the person has never added a passkey.
func (d *DB) FindPasskeyHandle(ctx context.Context, userID int64) ([]byte, error) {
	var h []byte
	err := d.sql.QueryRowContext(ctx, `SELECT handle FROM passkey_handles WHERE user_id = $1`, userID).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, blnk.ErrNotFound
	}
	return h, err
}

// FindPasskeyUser returns the person whose user handle is handle:
// blnk.ErrNotFound when none is.
func (d *DB) FindPasskeyUser(ctx context.Context, handle []byte) (int64, error) {
	var id int64
	err := d.sql.QueryRowContext(ctx, `SELECT user_id FROM passkey_handles WHERE handle = $1`, handle).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, blnk.ErrNotFound
	}
	return id, err
}

const passkeyColumns = `id, user_id, rp_id, credential_id, name, credential, sign_count, created_at, last_used_at`

func scanPasskey(row scanner) (blnk.Passkey, error) {
	var p blnk.Passkey
	var created int64
	var used sql.NullInt64
	var count int64
	if err := row.Scan(&p.ID, &p.UserID, &p.RPID, &p.CredentialID, &p.Name, &p.Credential, &count, &created, &used); err != nil {
		return blnk.Passkey{}, err
	}
	p.SignCount = uint32(count)
	p.CreatedAt = time.UnixMilli(created).UTC()
	p.LastUsedAt = fromMS(used)
	return p, nil
}

// ListPasskeys returns every passkey of userID, oldest first.
func (d *DB) ListPasskeys(ctx context.Context, userID int64) ([]blnk.Passkey, error) {
	return collect(ctx, d.sql, scanPasskey, `SELECT `+passkeyColumns+` FROM passkeys WHERE user_id = $1 ORDER BY created_at, id`, userID)
}

// CountPasskeys returns how many passkeys userID has: whether the person
// has a passkey as a second factor.
func (d *DB) CountPasskeys(ctx context.Context, userID int64) (int, error) {
	var n int
	err := d.sql.QueryRowContext(ctx, `SELECT count(*) FROM passkeys WHERE user_id = $1`, userID).Scan(&n)
	return n, err
}

// CreatePasskey stores a new passkey and its passkey.added event in one
// transaction: blnk.ErrPasskeyTaken when the credential is stored already.
func (d *DB) CreatePasskey(ctx context.Context, p blnk.Passkey, ev audit.Event) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	_, err = tx.ExecContext(ctx, `INSERT INTO passkeys (`+passkeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		p.ID, p.UserID, p.RPID, p.CredentialID, p.Name, p.Credential, int64(p.SignCount), ms(p.CreatedAt), nullMS(p.LastUsedAt))
	if isUniqueViolation(err) {
		return blnk.ErrPasskeyTaken
	}
	if err != nil {
		return err
	}
	if err := recordEvent(ctx, tx, ev); err != nil {
		return err
	}
	return tx.Commit()
}

// DeletePasskey deletes passkey id of userID and records ev
// (passkey.removed, given the deleted passkey's name; in each workspace
// of userID when it names none) in one transaction: blnk.ErrNotFound when userID has no such passkey
// (another person's is not found either).
func (d *DB) DeletePasskey(ctx context.Context, userID int64, id string, ev func(blnk.Passkey) audit.Event) (blnk.Passkey, error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return blnk.Passkey{}, err
	}
	defer tx.Rollback()
	p, err := scanPasskey(tx.QueryRowContext(ctx, `DELETE FROM passkeys WHERE id = $1 AND user_id = $2 RETURNING `+passkeyColumns, id, userID))
	if err != nil {
		return blnk.Passkey{}, notFound(err)
	}
	e := ev(p)
	if err := d.recordInWorkspaces(ctx, tx, userID, e.WorkspaceID, e); err != nil {
		return blnk.Passkey{}, err
	}
	return p, tx.Commit()
}

// UpdatePasskeyUse writes back what a sign-in with passkey id changed:
// the credential's record (sign count, flags) and when it was used.
func (d *DB) UpdatePasskeyUse(ctx context.Context, id string, credential []byte, signCount uint32, now time.Time) error {
	res, err := d.sql.ExecContext(ctx, `UPDATE passkeys SET credential = $1, sign_count = $2, last_used_at = $3 WHERE id = $4`,
		credential, int64(signCount), ms(now), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return blnk.ErrNotFound // removed meanwhile
	}
	return nil
}

// CreatePasskeyCeremony keeps a ceremony under way under the hash of its
// token, and deletes the ceremonies that ran out before now: a browser
// that never finishes leaves nothing behind for long.
func (d *DB) CreatePasskeyCeremony(ctx context.Context, tokenHash []byte, c blnk.Ceremony, now time.Time) error {
	if _, err := d.sql.ExecContext(ctx, `DELETE FROM passkey_ceremonies WHERE expires_at < $1`, ms(now)); err != nil {
		return err
	}
	user := nullID(c.UserID)
	_, err := d.sql.ExecContext(ctx, `INSERT INTO passkey_ceremonies (token_hash, kind, user_id, data, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		tokenHash, c.Kind, user, c.Data, ms(c.ExpiresAt))
	return err
}

// TakePasskeyCeremony deletes and returns the ceremony kept under
// tokenHash, so that it is finished once only, on whichever server:
// blnk.ErrCeremonyGone when there is none, or it ran out before now.
func (d *DB) TakePasskeyCeremony(ctx context.Context, tokenHash []byte, now time.Time) (blnk.Ceremony, error) {
	var c blnk.Ceremony
	var user sql.NullInt64
	var expires int64
	err := d.sql.QueryRowContext(ctx, `DELETE FROM passkey_ceremonies WHERE token_hash = $1 RETURNING kind, user_id, data, expires_at`, tokenHash).
		Scan(&c.Kind, &user, &c.Data, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return blnk.Ceremony{}, blnk.ErrCeremonyGone
	}
	if err != nil {
		return blnk.Ceremony{}, err
	}
	c.UserID = user.Int64
	c.ExpiresAt = time.UnixMilli(expires).UTC()
	if !now.Before(c.ExpiresAt) {
		return blnk.Ceremony{}, blnk.ErrCeremonyGone
	}
	return c, nil
}

// LoginByUserID finds a person by id with the first workspace they
// joined, as LoginByEmail does by email: a passkey names the person, not
// their email.
func (d *DB) LoginByUserID(ctx context.Context, userID int64) (blnk.Login, error) {
	return d.login(ctx, `u.id = $1`, userID)
}
