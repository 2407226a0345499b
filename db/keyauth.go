package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
)

// AuthKey is what authenticating a request needs to know about a key.
type AuthKey struct {
	Hash          apikey.Hash
	Key           apikey.Key
	WorkspaceName string
}

const authKeyQuery = `SELECT k.hash, k.id, k.workspace_id, w.name, k.name, k.prefix, k.scopes,
	k.expires_at, k.created_at, k.revoked_at, u.at, COALESCE(u.ip, '')
	FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id
	LEFT JOIN api_key_usage u ON u.key_id = k.id`

func scanAuthKey(rows *sql.Rows) (AuthKey, error) {
	var a AuthKey
	var hash []byte
	var scopes string
	var created int64
	var expires, revoked, used sql.NullInt64
	err := rows.Scan(&hash, &a.Key.ID, &a.Key.WorkspaceID, &a.WorkspaceName, &a.Key.Name, &a.Key.Prefix, &scopes,
		&expires, &created, &revoked, &used, &a.Key.LastUsedIP)
	if err != nil {
		return AuthKey{}, err
	}
	if len(hash) != len(a.Hash) {
		return AuthKey{}, fmt.Errorf("key %s: stored hash has %d bytes", a.Key.ID, len(hash))
	}
	copy(a.Hash[:], hash)
	if a.Key.Scopes, err = apikey.ParseScopeList(scopes); err != nil {
		return AuthKey{}, fmt.Errorf("key %s: stored scopes %q: %v", a.Key.ID, scopes, err)
	}
	a.Key.CreatedAt = time.UnixMilli(created).UTC()
	a.Key.ExpiresAt, a.Key.RevokedAt, a.Key.LastUsedAt = fromMS(expires), fromMS(revoked), fromMS(used)
	return a, nil
}

// AuthKeys calls fn for every key of every workspace, and returns the
// sequence number of the last key change it includes: pass it to
// KeyChangesSince to follow later changes.
func (d *DB) AuthKeys(ctx context.Context, fn func(AuthKey)) (seq int64, err error) {
	// One read transaction: the keys and the sequence number are one
	// snapshot, so no change falls between them.
	tx, err := d.sql.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM api_key_changes`).Scan(&seq); err != nil {
		return 0, err
	}
	rows, err := tx.QueryContext(ctx, authKeyQuery)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	for rows.Next() {
		a, err := scanAuthKey(rows)
		if err != nil {
			return 0, err
		}
		fn(a)
	}
	return seq, rows.Err()
}

// KeyChangesSince returns the keys created or revoked after change seq,
// and the sequence number of the last change included.
func (d *DB) KeyChangesSince(ctx context.Context, seq int64) ([]AuthKey, int64, error) {
	tx, err := d.sql.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, seq, err
	}
	defer tx.Rollback()
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM api_key_changes`).Scan(&last); err != nil {
		return nil, seq, err
	}
	if last <= seq {
		return nil, seq, nil
	}
	rows, err := tx.QueryContext(ctx, authKeyQuery+` WHERE k.id IN (SELECT key_id FROM api_key_changes WHERE seq > ? AND seq <= ?)`, seq, last)
	if err != nil {
		return nil, seq, err
	}
	defer rows.Close()
	var out []AuthKey
	for rows.Next() {
		a, err := scanAuthKey(rows)
		if err != nil {
			return nil, seq, err
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, seq, err
	}
	return out, last, nil
}

// Usage is one key's most recent use.
type Usage struct {
	KeyID string
	At    time.Time
	IP    string
}

// RecordUsage stores the last use of several keys in one transaction. A
// use older than the one stored is ignored, so flushes from several
// processes can interleave.
func (d *DB) RecordUsage(ctx context.Context, uses []Usage) error {
	if len(uses) == 0 {
		return nil
	}
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO api_key_usage (key_id, at, ip) VALUES (?3, ?1, ?2)
		ON CONFLICT (key_id) DO UPDATE SET at = excluded.at, ip = excluded.ip WHERE excluded.at > api_key_usage.at`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, u := range uses {
		if _, err := stmt.ExecContext(ctx, ms(u.At), u.IP, u.KeyID); err != nil {
			return fmt.Errorf("record usage of %s: %w", u.KeyID, err)
		}
	}
	return tx.Commit()
}
