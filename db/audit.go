package db

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/blnk-cloud/apikeys/internal/audit"
)

// recordEvent appends ev to the audit log inside tx, the transaction of
// the change it records.
func recordEvent(ctx context.Context, tx *sql.Tx, ev audit.Event) error {
	ws := sql.NullInt64{Int64: ev.WorkspaceID, Valid: ev.WorkspaceID != 0}
	user := sql.NullInt64{Int64: ev.Actor.UserID, Valid: ev.Actor.UserID != 0}
	key := sql.NullString{String: ev.KeyID, Valid: ev.KeyID != ""}
	prefix := sql.NullString{String: ev.KeyPrefix, Valid: ev.KeyPrefix != ""}
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_events
		(workspace_id, at, action, actor, actor_kind, actor_user_id, ip, key_id, key_prefix, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		ws, ms(ev.At), string(ev.Action), ev.Actor.Name(), string(ev.Actor.Kind), user, ev.Actor.IP, key, prefix, ev.DetailsJSON())
	if err != nil {
		return fmt.Errorf("record audit event %s: %w", ev.Action, err)
	}
	return nil
}
