package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/webhook"
)

// keyColumns are the columns scanKey reads, in its order.
const keyColumns = `k.id, k.workspace_id, k.name, k.prefix, k.scopes, k.expires_at, k.created_at,
	COALESCE(cu.email, ''), k.revoked_at, COALESCE(ru.email, ''), u.at, COALESCE(u.ip, ''),
	k.revoke_confirmed, k.revoke_servers, k.revoke_confirm_ms, k.revoke_lapsed,
	k.description, k.expiry_days, COALESCE(k.rolled_from, ''), COALESCE(rf.prefix, ''),
	COALESCE(k.rolled_into, ''), COALESCE(ri.prefix, ''), k.rolled_at,
	k.allowlist, k.exposed_at, COALESCE(k.exposed_url, ''), COALESCE(k.exposed_source, ''), COALESCE(k.created_by, 0),
	COALESCE(cu.name, '')
	FROM api_keys k
	LEFT JOIN users cu ON cu.id = k.created_by
	LEFT JOIN users ru ON ru.id = k.revoked_by
	LEFT JOIN api_key_usage u ON u.key_id = k.id
	LEFT JOIN api_keys rf ON rf.id = k.rolled_from
	LEFT JOIN api_keys ri ON ri.id = k.rolled_into`

func scanKey(row scanner) (apikey.Key, error) {
	var k apikey.Key
	var scopes, allowlist string
	var created int64
	var expires, revoked, used, confirmed, servers, took, lapsed, days, rolled, exposed sql.NullInt64
	err := row.Scan(&k.ID, &k.WorkspaceID, &k.Name, &k.Prefix, &scopes, &expires, &created,
		&k.CreatedBy, &revoked, &k.RevokedBy, &used, &k.LastUsedIP, &confirmed, &servers, &took, &lapsed,
		&k.Description, &days, &k.RolledFrom, &k.RolledFromPrefix, &k.RolledInto, &k.RolledIntoPrefix, &rolled,
		&allowlist, &exposed, &k.Exposure.URL, &k.Exposure.Source, &k.CreatedByID, &k.CreatedByName)
	if err != nil {
		return apikey.Key{}, notFound(err)
	}
	if k.Scopes, err = apikey.ParseScopeList(scopes); err != nil {
		return apikey.Key{}, fmt.Errorf("key %s: stored scopes %q: %v", k.ID, scopes, err)
	}
	if k.Allowlist, err = apikey.ParseStoredAllowlist(allowlist); err != nil {
		return apikey.Key{}, fmt.Errorf("key %s: %v", k.ID, err)
	}
	k.CreatedAt = time.UnixMilli(created).UTC()
	k.ExpiresAt, k.RevokedAt, k.LastUsedAt, k.RolledAt = fromMS(expires), fromMS(revoked), fromMS(used), fromMS(rolled)
	k.ExpiryDays = int(days.Int64)
	k.Exposure.At = fromMS(exposed)
	if servers.Valid {
		k.RevokeConfirmation = apikey.Confirmation{
			Confirmed: int(confirmed.Int64),
			Lapsed:    int(lapsed.Int64),
			Servers:   int(servers.Int64),
			Took:      time.Duration(took.Int64) * time.Millisecond,
		}
	}
	return k, nil
}

// CreateKey stores a new key. If the workspace already has a key made by
// the same form token (a form submitted twice), it stores nothing and
// returns that key with created false. Other processes are told of a new
// key when this returns.
func (d *DB) CreateKey(ctx context.Context, nk blnk.NewKey) (k apikey.Key, created bool, err error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return apikey.Key{}, false, err
	}
	defer tx.Rollback()

	key := nk.Key
	res, err := insertKey(ctx, tx, nk, false)
	if err != nil {
		return apikey.Key{}, false, fmt.Errorf("insert key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		k, err := scanKey(tx.QueryRowContext(ctx, `SELECT `+keyColumns+` WHERE k.workspace_id = $1 AND k.create_token = $2`,
			key.WorkspaceID, nk.CreateToken))
		return k, false, err
	}
	if _, err := d.recordChange(ctx, tx, key.ID, key.CreatedAt); err != nil {
		return apikey.Key{}, false, err
	}
	if err := recordEvent(ctx, tx, audit.Event{
		WorkspaceID: key.WorkspaceID, At: key.CreatedAt, Action: audit.KeyCreated, Actor: nk.Actor,
		KeyID: key.ID, KeyPrefix: key.Prefix, Details: nk.Details,
	}); err != nil {
		return apikey.Key{}, false, err
	}
	k, err = keyByID(ctx, tx, key.ID)
	if err != nil {
		return apikey.Key{}, false, err
	}
	if err := d.enqueueKeyEvent(ctx, tx, webhook.KeyCreated, key.CreatedAt, k, nk.Actor.Name(), nil); err != nil {
		return apikey.Key{}, false, err
	}
	if err := tx.Commit(); err != nil {
		return apikey.Key{}, false, err
	}
	d.keyEventCommitted()
	return k, true, nil
}

// insertKey inserts nk, or nothing if its workspace has a key made by the
// same form token already.
func insertKey(ctx context.Context, tx *sql.Tx, nk blnk.NewKey, revealed bool) (sql.Result, error) {
	key := nk.Key
	by := nullID(nk.CreatedBy)
	days := sql.NullInt64{Int64: int64(key.ExpiryDays), Valid: key.ExpiryDays > 0}
	from := nullString(key.RolledFrom)
	var shown sql.NullInt64
	if revealed {
		shown = sql.NullInt64{Int64: ms(key.CreatedAt), Valid: true}
	}
	return tx.ExecContext(ctx, `
		INSERT INTO api_keys (id, workspace_id, name, prefix, hash, scopes, expires_at, created_at, created_by, create_token,
			description, expiry_days, rolled_from, revealed_at, allowlist)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		ON CONFLICT (workspace_id, create_token) DO NOTHING`,
		key.ID, key.WorkspaceID, key.Name, key.Prefix, nk.Hash[:], key.Scopes.String(),
		nullMS(key.ExpiresAt), ms(key.CreatedAt), by, nk.CreateToken, key.Description, days, from, shown,
		apikey.FormatAllowlist(key.Allowlist))
}

// Keys lists a workspace's keys, newest first.
func (d *DB) Keys(ctx context.Context, workspaceID int64) ([]apikey.Key, error) {
	return collect(ctx, d.sql, scanKey, `SELECT `+keyColumns+`
		WHERE k.workspace_id = $1
		ORDER BY k.created_at DESC, k.id DESC`, workspaceID)
}

// Key returns one of a workspace's keys. A key of another workspace is
// ErrNotFound, like a key that does not exist.
func (d *DB) Key(ctx context.Context, workspaceID int64, id string) (apikey.Key, error) {
	return keyIn(ctx, d.sql, workspaceID, id)
}

// keyByID returns the key id of any workspace, read through q.
func keyByID(ctx context.Context, q querier, id string) (apikey.Key, error) {
	return scanKey(q.QueryRowContext(ctx, `SELECT `+keyColumns+` WHERE k.id = $1`, id))
}

// keyIn returns one of a workspace's keys, read through q.
func keyIn(ctx context.Context, q querier, workspaceID int64, id string) (apikey.Key, error) {
	return scanKey(q.QueryRowContext(ctx, `SELECT `+keyColumns+` WHERE k.workspace_id = $1 AND k.id = $2`, workspaceID, id))
}

// MarkRevealed records that key id's one-time reveal is used up, and, if
// this call was the first to do so, the key.revealed event of by, in the
// same transaction. It reports whether it was the first: only the first
// may show the token.
func (d *DB) MarkRevealed(ctx context.Context, workspaceID int64, id string, now time.Time, by audit.Actor) (bool, error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	var prefix string
	err = tx.QueryRowContext(ctx, `UPDATE api_keys SET revealed_at = $1 WHERE workspace_id = $2 AND id = $3 AND revealed_at IS NULL
		RETURNING prefix`, ms(now), workspaceID, id).Scan(&prefix)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := recordEvent(ctx, tx, audit.Event{
		WorkspaceID: workspaceID, At: now, Action: audit.KeyRevealed, Actor: by, KeyID: id, KeyPrefix: prefix,
	}); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

// RevokeKey revokes one of a workspace's keys on behalf of by, and records
// it in the audit log (action key.revoked unless by says otherwise, e.g.
// key.leaked, with details). Revoking a revoked key changes nothing, is
// not an error and records nothing. Other processes are told when this
// returns.
func (d *DB) RevokeKey(ctx context.Context, workspaceID int64, id string, by audit.Actor, now time.Time) (blnk.Revocation, error) {
	return d.revokeKey(ctx, workspaceID, id, by, now, audit.KeyRevoked, nil)
}

func (d *DB) revokeKey(ctx context.Context, workspaceID int64, id string, by audit.Actor, now time.Time, action audit.Action, details map[string]any) (blnk.Revocation, error) {
	tx, err := d.beginKeyChange(ctx)
	if err != nil {
		return blnk.Revocation{}, err
	}
	defer tx.Rollback()
	r, err := d.revokeInTx(ctx, tx, workspaceID, id, by, now, action, details)
	if err != nil {
		return blnk.Revocation{}, err
	}
	if err := tx.Commit(); err != nil {
		return blnk.Revocation{}, err
	}
	if r.Revoked {
		d.keyEventCommitted()
	}
	return r, nil
}

// RevokeKeys revokes several of a workspace's keys on behalf of by, in one
// transaction: each revoked key gets its own audit event and webhook, as
// RevokeKey gives it; keys revoked already change nothing. If any id is
// not a key of the workspace, it is ErrNotFound and nothing is revoked.
// The revocations are in the order of ids (each id once).
func (d *DB) RevokeKeys(ctx context.Context, workspaceID int64, ids []string, by audit.Actor, now time.Time) ([]blnk.Revocation, error) {
	tx, err := d.beginKeyChange(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var out []blnk.Revocation
	seen := make(map[string]bool, len(ids))
	revoked := false
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		r, err := d.revokeInTx(ctx, tx, workspaceID, id, by, now, audit.KeyRevoked, nil)
		if err != nil {
			return nil, err // ErrNotFound: the whole request, nothing revoked
		}
		revoked = revoked || r.Revoked
		out = append(out, r)
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	if revoked {
		d.keyEventCommitted()
	}
	return out, nil
}

// revokeInTx revokes key id in tx (which holds keyChangesLock) and
// records its change, audit event and webhook. A key of another
// workspace, or none, is ErrNotFound.
func (d *DB) revokeInTx(ctx context.Context, tx *sql.Tx, workspaceID int64, id string, by audit.Actor, now time.Time, action audit.Action, details map[string]any) (blnk.Revocation, error) {
	var r blnk.Revocation
	byUser := nullID(by.UserID)
	res, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $1, revoked_by = $2
		WHERE workspace_id = $3 AND id = $4 AND revoked_at IS NULL`, ms(now), byUser, workspaceID, id)
	if err != nil {
		return blnk.Revocation{}, fmt.Errorf("revoke key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		r.Revoked = true
		if r.Seq, err = d.recordChange(ctx, tx, id, now); err != nil {
			return blnk.Revocation{}, err
		}
	}
	r.Key, err = keyIn(ctx, tx, workspaceID, id)
	if err != nil {
		return blnk.Revocation{}, err
	}
	if r.Revoked {
		if err := recordEvent(ctx, tx, audit.Event{
			WorkspaceID: workspaceID, At: now, Action: action, Actor: by,
			KeyID: r.Key.ID, KeyPrefix: r.Key.Prefix, Details: details,
		}); err != nil {
			return blnk.Revocation{}, err
		}
		event := webhook.EventType(action)
		if err := d.enqueueKeyEvent(ctx, tx, event, now, r.Key, by.Name(), details); err != nil {
			return blnk.Revocation{}, err
		}
	}
	return r, nil
}

// SetRevokeConfirmation records how the running servers confirmed the
// revocation of key id: confirmed of servers applied it, and lapsed
// stopped trusting their memory, within took.
func (d *DB) SetRevokeConfirmation(ctx context.Context, id string, c apikey.Confirmation) error {
	_, err := d.sql.ExecContext(ctx, `UPDATE api_keys SET revoke_confirmed = $1, revoke_servers = $2, revoke_confirm_ms = $3,
		revoke_lapsed = $4 WHERE id = $5 AND revoked_at IS NOT NULL`, c.Confirmed, c.Servers, c.Took.Milliseconds(), c.Lapsed, id)
	return err
}

// FindKey finds a key of any workspace by id or by display prefix, for the
// admin command line. A prefix two keys share is ErrAmbiguous.
func (d *DB) FindKey(ctx context.Context, idOrPrefix string) (apikey.Key, error) {
	found, err := collect(ctx, d.sql, scanKey, `SELECT `+keyColumns+` WHERE k.id = $1 OR k.prefix = $1 LIMIT 2`, idOrPrefix)
	if err != nil {
		return apikey.Key{}, err
	}
	switch len(found) {
	case 0:
		return apikey.Key{}, blnk.ErrNotFound
	case 1:
		return found[0], nil
	}
	return apikey.Key{}, blnk.ErrAmbiguous
}
