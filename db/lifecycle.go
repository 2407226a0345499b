package db

import (
	"context"
	"fmt"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/webhook"
)

// EditKey changes the name and description of one of a workspace's keys
// on behalf of by, and records key.edited with what changed, before and
// after, in the same transaction. Revoked and expired keys can be renamed
// (and stay revoked). An edit that changes nothing writes nothing and
// reports changed false. A key of another workspace is ErrNotFound. Other
// processes are told of a new name when this returns.
func (d *DB) EditKey(ctx context.Context, workspaceID int64, id string, e blnk.KeyEdit, by audit.Actor, now time.Time) (k apikey.Key, changed bool, err error) {
	tx, err := d.beginKeyChange(ctx)
	if err != nil {
		return apikey.Key{}, false, err
	}
	defer tx.Rollback()
	old, err := keyIn(ctx, tx, workspaceID, id)
	if err != nil {
		return apikey.Key{}, false, err
	}
	before, after := map[string]any{}, map[string]any{}
	if e.Name != old.Name {
		before["name"], after["name"] = old.Name, e.Name
	}
	if e.Description != old.Description {
		before["description"], after["description"] = old.Description, e.Description
	}
	oldList, newList := apikey.FormatAllowlist(old.Allowlist), apikey.FormatAllowlist(e.Allowlist)
	if oldList != newList {
		before["allowlist"], after["allowlist"] = oldList, newList
	}
	if len(after) == 0 {
		return old, false, nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET name = $1, description = $2, allowlist = $3 WHERE workspace_id = $4 AND id = $5`,
		e.Name, e.Description, newList, workspaceID, id); err != nil {
		return apikey.Key{}, false, fmt.Errorf("edit key: %w", err)
	}
	_, renamed := after["name"]
	_, relisted := after["allowlist"]
	if renamed || relisted {
		// The index holds names (whoami says them) and allowlists (the
		// check reads them); descriptions it does not.
		if _, err := d.recordChange(ctx, tx, id, now); err != nil {
			return apikey.Key{}, false, err
		}
	}
	if err := recordEvent(ctx, tx, audit.Event{
		WorkspaceID: workspaceID, At: now, Action: audit.KeyEdited, Actor: by, KeyID: id, KeyPrefix: old.Prefix,
		Details: map[string]any{"before": before, "after": after},
	}); err != nil {
		return apikey.Key{}, false, err
	}
	k, err = keyByID(ctx, tx, id)
	if err != nil {
		return apikey.Key{}, false, err
	}
	if err := tx.Commit(); err != nil {
		return apikey.Key{}, false, err
	}
	if renamed || relisted {
		d.announce()
	}
	return k, true, nil
}

// RollKey replaces a working key by a new one in one transaction: the new
// key (from r.Successor), linked both ways with the old one, whose expiry
// becomes the end of the overlap (or stays, if sooner); the changes of
// both for the other processes; key.rolled on the old key and key.created
// on the new one in the audit log. A revoked key is ErrKeyRevoked, an
// expired one ErrKeyExpired, one rolled already ErrKeyRolled (unless by
// the same form token: then Rolled is false), a key of another workspace
// ErrNotFound; none of these writes anything.
func (d *DB) RollKey(ctx context.Context, r blnk.Roll) (blnk.Rolled, error) {
	// From the lock on, nothing changes the old key under this transaction.
	tx, err := d.beginKeyChange(ctx)
	if err != nil {
		return blnk.Rolled{}, err
	}
	defer tx.Rollback()
	old, err := keyIn(ctx, tx, r.WorkspaceID, r.ID)
	if err != nil {
		return blnk.Rolled{}, err
	}
	switch {
	case old.RolledInto != "":
		var token string
		err := tx.QueryRowContext(ctx, `SELECT create_token FROM api_keys WHERE id = $1`, old.RolledInto).Scan(&token)
		if err != nil {
			return blnk.Rolled{}, fmt.Errorf("read successor: %w", err)
		}
		if token != r.FormToken {
			return blnk.Rolled{Old: old}, blnk.ErrKeyRolled
		}
		next, err := keyByID(ctx, tx, old.RolledInto)
		return blnk.Rolled{Old: old, New: next}, err
	case !old.RevokedAt.IsZero():
		return blnk.Rolled{Old: old}, blnk.ErrKeyRevoked
	case apikey.IsExpired(old.ExpiresAt, r.Now):
		return blnk.Rolled{Old: old}, blnk.ErrKeyExpired
	}

	nk, err := r.Successor(old)
	if err != nil {
		return blnk.Rolled{Old: old}, err
	}
	nk.Key.RolledFrom = old.ID
	nk.Key.CreatedAt = r.Now
	nk.CreateToken = r.FormToken
	res, err := insertKey(ctx, tx, nk, r.Revealed)
	if err != nil {
		return blnk.Rolled{}, fmt.Errorf("insert successor: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return blnk.Rolled{Old: old}, blnk.ErrFormUsed
	}
	end := apikey.RollEnd(old.ExpiresAt, r.Now, r.Overlap)
	if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET rolled_into = $1, rolled_at = $2, expires_at = $3
		WHERE workspace_id = $4 AND id = $5`, nk.Key.ID, ms(r.Now), ms(end), r.WorkspaceID, old.ID); err != nil {
		return blnk.Rolled{}, fmt.Errorf("roll key: %w", err)
	}
	if _, err := d.recordChange(ctx, tx, nk.Key.ID, r.Now); err != nil {
		return blnk.Rolled{}, err
	}
	// The old key's change last: a server that applied it applied both.
	seq, err := d.recordChange(ctx, tx, old.ID, r.Now)
	if err != nil {
		return blnk.Rolled{}, err
	}
	next := nk.Key
	rolled := audit.Event{
		WorkspaceID: r.WorkspaceID, At: r.Now, Action: audit.KeyRolled, Actor: r.Actor, KeyID: old.ID, KeyPrefix: old.Prefix,
		Details: map[string]any{
			"rolled_into": map[string]any{"id": next.ID, "prefix": next.Prefix},
			"overlap":     string(r.Overlap),
			"before":      map[string]any{"expires_at": timeJSON(old.ExpiresAt)},
			"after":       map[string]any{"expires_at": timeJSON(end)},
		},
	}
	created := audit.Event{
		WorkspaceID: r.WorkspaceID, At: r.Now, Action: audit.KeyCreated, Actor: r.Actor, KeyID: next.ID, KeyPrefix: next.Prefix,
		Details: map[string]any{
			"name": next.Name, "scopes": next.Scopes.String(), "expires_at": timeJSON(next.ExpiresAt),
			"rolled_from": map[string]any{"id": old.ID, "prefix": old.Prefix},
		},
	}
	for _, ev := range []audit.Event{rolled, created} {
		if err := recordEvent(ctx, tx, ev); err != nil {
			return blnk.Rolled{}, err
		}
	}
	out := blnk.Rolled{Rolled: true, Seq: seq}
	var hash []byte
	if err := tx.QueryRowContext(ctx, `SELECT hash FROM api_keys WHERE id = $1`, old.ID).Scan(&hash); err != nil {
		return blnk.Rolled{}, err
	}
	if len(hash) != len(out.OldHash) {
		return blnk.Rolled{}, fmt.Errorf("key %s: stored hash has %d bytes", old.ID, len(hash))
	}
	copy(out.OldHash[:], hash)
	if out.Old, err = keyByID(ctx, tx, old.ID); err != nil {
		return blnk.Rolled{}, err
	}
	if out.New, err = keyByID(ctx, tx, next.ID); err != nil {
		return blnk.Rolled{}, err
	}
	// The webhooks hear of both, as the audit log does: key.rolled about
	// the old key, key.created about its successor.
	if err := d.enqueueKeyEvent(ctx, tx, webhook.KeyRolled, r.Now, out.Old, r.Actor.Name(),
		map[string]any{"rolled_into": webhook.KeyData(out.New), "overlap": string(r.Overlap)}); err != nil {
		return blnk.Rolled{}, err
	}
	if err := d.enqueueKeyEvent(ctx, tx, webhook.KeyCreated, r.Now, out.New, r.Actor.Name(),
		map[string]any{"rolled_from": map[string]any{"id": out.Old.ID, "prefix": out.Old.Prefix}}); err != nil {
		return blnk.Rolled{}, err
	}
	if err := tx.Commit(); err != nil {
		return blnk.Rolled{}, err
	}
	d.keyEventCommitted()
	return out, nil
}

// timeJSON is an instant as the audit log writes it: RFC 3339 in UTC
// with milliseconds, or nil for none (never).
func timeJSON(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// RecordExpiredKeys finds up to limit keys that have expired by now and
// were not recorded as such yet, marks them, and records key.expired for
// each (actor system), in one transaction: each key's expiry is recorded
// once, whichever server sweeps. Revoked keys are not: their revocation is
// what ended them.
func (d *DB) RecordExpiredKeys(ctx context.Context, now time.Time, limit int) ([]blnk.Expired, error) {
	// Servers sweeping at once take turns: the second finds nothing left.
	tx, err := d.beginLocked(ctx, "blnk expiry sweep")
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `UPDATE api_keys SET expired_seen_at = $1
		WHERE id IN (SELECT id FROM api_keys
			WHERE expires_at <= $1 AND expired_seen_at IS NULL AND revoked_at IS NULL
			ORDER BY expires_at, id LIMIT $2)
		RETURNING id, workspace_id, prefix, expires_at`, ms(now), limit)
	if err != nil {
		return nil, fmt.Errorf("mark expired keys: %w", err)
	}
	var out []blnk.Expired
	for rows.Next() {
		var e blnk.Expired
		var at int64
		if err := rows.Scan(&e.ID, &e.WorkspaceID, &e.Prefix, &at); err != nil {
			rows.Close()
			return nil, err
		}
		e.ExpiresAt = time.UnixMilli(at).UTC()
		out = append(out, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, e := range out {
		if err := recordEvent(ctx, tx, audit.Event{
			WorkspaceID: e.WorkspaceID, At: now, Action: audit.KeyExpired, Actor: audit.Actor{Kind: audit.System},
			KeyID: e.ID, KeyPrefix: e.Prefix, Details: map[string]any{"expired_at": timeJSON(e.ExpiresAt)},
		}); err != nil {
			return nil, err
		}
		k, err := keyByID(ctx, tx, e.ID)
		if err != nil {
			return nil, err
		}
		if err := d.enqueueKeyEvent(ctx, tx, webhook.KeyExpired, now, k, string(audit.System), nil); err != nil {
			return nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	if len(out) > 0 {
		d.wakeDeliveries()
	}
	return out, nil
}
