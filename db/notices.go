package db

import (
	"context"
	"fmt"
	"time"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/webhook"
)

// Expiry notices. A periodic sweep (internal/keys) finds keys that
// crossed a threshold, 7 days before expiry or 1 day before, without its
// notice, and records each notice once per key, whichever server sees it
// first (api_key_notices' primary key decides), with its key.expiring
// webhook event in the same transaction. (The expiry itself is
// RecordExpiredKeys'.)

// noticeKind is the notice a key expiring at exp is due at now: the
// nearest threshold it crossed. A key made 3 days before its expiry gets
// the 7-day notice at once; one made 12 hours before gets only the 1-day.
func noticeKind(exp, now time.Time) blnk.NoticeKind {
	if !now.Before(exp.Add(-24 * time.Hour)) {
		return blnk.Expiring1d
	}
	return blnk.Expiring7d
}

// DueNotices returns up to limit notices keys are due at now, soonest
// expiry first. Revoked keys get none, nor rolled ones: their end is the
// roll's overlap, which their owner chose.
func (d *DB) DueNotices(ctx context.Context, now time.Time, limit int) ([]blnk.Notice, error) {
	return collect(ctx, d.sql, func(row scanner) (blnk.Notice, error) {
		k, err := scanKey(row)
		return blnk.Notice{Key: k, Kind: noticeKind(k.ExpiresAt, now)}, err
	}, `SELECT `+keyColumns+`
		WHERE k.revoked_at IS NULL AND k.rolled_into IS NULL AND k.expires_at > $1 AND k.expires_at <= $2 AND (
			(k.expires_at <= $3 AND NOT EXISTS (SELECT 1 FROM api_key_notices n WHERE n.key_id = k.id AND n.kind = 'expiring_1d'))
			OR (k.expires_at > $3 AND NOT EXISTS (SELECT 1 FROM api_key_notices n WHERE n.key_id = k.id AND n.kind = 'expiring_7d')))
		ORDER BY k.expires_at, k.id LIMIT $4`,
		ms(now), ms(now.Add(7*24*time.Hour)), ms(now.Add(24*time.Hour)), limit)
}

// RecordNotice records notice n at now, unless a server did already, and
// reports whether this call did; key.expiring goes to the workspace's
// webhooks in the same transaction.
func (d *DB) RecordNotice(ctx context.Context, n blnk.Notice, now time.Time) (bool, error) {
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
	days := 7
	if n.Kind == blnk.Expiring1d {
		days = 1
	}
	k := n.Key
	if err := d.enqueueKeyEvent(ctx, tx, webhook.KeyExpiring, now, k, string(audit.System), map[string]any{"days": days}); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, err
	}
	d.wakeDeliveries()
	return true, nil
}
