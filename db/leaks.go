package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/webhook"
)

// ReportLeak handles a report that the token whose hash is h leaked, in
// one transaction: the key is revoked unless it is already, and marked
// exposed with where and by what it was found; key.leaked goes to the
// audit log (actor by) and to the workspace's webhooks. A hash of no key
// is ErrNotFound. Other processes are told of the revocation when this
// returns.
func (d *DB) ReportLeak(ctx context.Context, h apikey.Hash, exp apikey.Exposure, by audit.Actor) (blnk.Leak, error) {
	if !storable(exp.URL) || !storable(exp.Source) {
		return blnk.Leak{}, errors.New("db: leak report text is not storable") // the caller cleans it
	}
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return blnk.Leak{}, err
	}
	defer tx.Rollback()
	var id string
	var workspaceID int64
	err = tx.QueryRowContext(ctx, `SELECT id, workspace_id FROM api_keys WHERE hash = $1`, h[:]).Scan(&id, &workspaceID)
	if err != nil {
		return blnk.Leak{}, notFound(err)
	}
	var l blnk.Leak
	res, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, ms(exp.At), id)
	if err != nil {
		return blnk.Leak{}, fmt.Errorf("revoke leaked key: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		l.Revoked = true
		if l.Seq, err = d.recordChange(ctx, tx, id, exp.At); err != nil {
			return blnk.Leak{}, err
		}
	}
	res, err = tx.ExecContext(ctx, `UPDATE api_keys SET exposed_at = $1, exposed_url = $2, exposed_source = $3
		WHERE id = $4 AND exposed_at IS NULL`, ms(exp.At), exp.URL, exp.Source, id)
	if err != nil {
		return blnk.Leak{}, fmt.Errorf("mark key exposed: %w", err)
	}
	n, _ := res.RowsAffected()
	l.Recorded = n == 1
	if l.Key, err = keyByID(ctx, tx, id); err != nil {
		return blnk.Leak{}, err
	}
	if !l.Revoked && !l.Recorded {
		return l, nil // reported before: nothing changes
	}
	if l.Recorded {
		details := map[string]any{"url": exp.URL, "source": exp.Source, "revoked": l.Revoked}
		if err := recordEvent(ctx, tx, audit.Event{
			WorkspaceID: workspaceID, At: exp.At, Action: audit.KeyLeaked, Actor: by,
			KeyID: l.Key.ID, KeyPrefix: l.Key.Prefix, Details: details,
		}); err != nil {
			return blnk.Leak{}, err
		}
		if err := d.enqueueKeyEvent(ctx, tx, webhook.KeyLeaked, exp.At, l.Key, by.Name(), map[string]any{"exposure": map[string]any{"url": exp.URL, "source": exp.Source}}); err != nil {
			return blnk.Leak{}, err
		}
	}
	if err := tx.Commit(); err != nil {
		return blnk.Leak{}, err
	}
	if l.Revoked {
		d.announce()
	}
	d.wakeDeliveries()
	return l, nil
}
