package db

import (
	"context"
	"fmt"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/webhook"
)

// Expiry notices. A periodic sweep (internal/keys) finds keys that
// crossed a threshold — 7 days before expiry, 1 day before, expired —
// without its notice, and records each notice once per key, whichever
// server sees it first (api_key_notices' primary key decides), with its
// webhook event in the same transaction.

// NoticeKind is which notice a key is due.
type NoticeKind string

// The notices.
const (
	Expiring7d NoticeKind = "expiring_7d"
	Expiring1d NoticeKind = "expiring_1d"
	ExpiredNow NoticeKind = "expired"
)

// noticeLookback is how long after its expiry a key still gets its
// key.expired notice: a server down for longer does not flood the
// webhooks with old expiries when it starts.
const noticeLookback = 7 * 24 * time.Hour

// Notice is a notice a key is due.
type Notice struct {
	Key  apikey.Key
	Kind NoticeKind
}

// noticeKind is the notice a key expiring at exp is due at now: the
// nearest threshold it crossed. A key made 3 days before its expiry gets
// the 7-day notice at once; one made 12 hours before gets only the 1-day.
func noticeKind(exp, now time.Time) NoticeKind {
	switch {
	case !now.Before(exp):
		return ExpiredNow
	case !now.Before(exp.Add(-24 * time.Hour)):
		return Expiring1d
	}
	return Expiring7d
}

// DueNotices returns up to limit notices keys are due at now, soonest
// expiry first. Revoked keys get none.
func (d *DB) DueNotices(ctx context.Context, now time.Time, limit int) ([]Notice, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT `+keyColumns+`
		WHERE k.revoked_at IS NULL AND k.expires_at > $1 AND k.expires_at <= $2 AND (
			(k.expires_at <= $3 AND NOT EXISTS (SELECT 1 FROM api_key_notices n WHERE n.key_id = k.id AND n.kind = 'expired'))
			OR (k.expires_at > $3 AND k.expires_at <= $4 AND NOT EXISTS (SELECT 1 FROM api_key_notices n WHERE n.key_id = k.id AND n.kind = 'expiring_1d'))
			OR (k.expires_at > $4 AND NOT EXISTS (SELECT 1 FROM api_key_notices n WHERE n.key_id = k.id AND n.kind = 'expiring_7d')))
		ORDER BY k.expires_at, k.id LIMIT $5`,
		ms(now.Add(-noticeLookback)), ms(now.Add(7*24*time.Hour)), ms(now), ms(now.Add(24*time.Hour)), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Notice
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, Notice{Key: k, Kind: noticeKind(k.ExpiresAt, now)})
	}
	return out, rows.Err()
}

// RecordNotice records notice n at now, unless a server did already, and
// reports whether this call did: key.expired goes to the audit log (as
// the system), and either event to the workspace's webhooks, in the same
// transaction.
func (d *DB) RecordNotice(ctx context.Context, n Notice, now time.Time) (bool, error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO api_key_notices (key_id, kind, at) VALUES ($1, $2, $3)
		ON CONFLICT (key_id, kind) DO NOTHING`, n.Key.ID, string(n.Kind), ms(now))
	if err != nil {
		return false, fmt.Errorf("record notice: %w", err)
	}
	if c, _ := res.RowsAffected(); c == 0 {
		return false, nil
	}
	system := audit.Actor{Kind: audit.System}
	k := n.Key
	switch n.Kind {
	case ExpiredNow:
		if err := recordEvent(ctx, tx, audit.Event{
			WorkspaceID: k.WorkspaceID, At: k.ExpiresAt, Action: audit.KeyExpired, Actor: system,
			KeyID: k.ID, KeyPrefix: k.Prefix, Details: map[string]any{"expires_at": k.ExpiresAt.UTC().Format(time.RFC3339)},
		}); err != nil {
			return false, err
		}
		if err := d.enqueueEvent(ctx, tx, k.WorkspaceID, webhook.KeyExpired, now,
			webhook.KeyEvent(webhook.KeyExpired, now, k, system.Name(), nil)); err != nil {
			return false, err
		}
	default:
		days := 7
		if n.Kind == Expiring1d {
			days = 1
		}
		if err := d.enqueueEvent(ctx, tx, k.WorkspaceID, webhook.KeyExpiring, now,
			webhook.KeyEvent(webhook.KeyExpiring, now, k, system.Name(), map[string]any{"days": days})); err != nil {
			return false, err
		}
	}
	if err := tx.Commit(); err != nil {
		return false, err
	}
	d.wakeDeliveries()
	return true, nil
}
