package db

import (
	"context"
	"fmt"
	"time"
)

// CountActiveKeysNamed returns how many keys of the workspace that are
// active at now (not revoked, not expired, not rolled: a rolled key is on
// its way out, replaced by one of the same name) are named name, ignoring
// case:
// the create form warns of a duplicate name. The lookup reads only the
// workspace's keys, through the workspace index.
func (d *DB) CountActiveKeysNamed(ctx context.Context, workspaceID int64, name string, now time.Time) (int, error) {
	var n int
	err := d.sql.QueryRowContext(ctx, `
		SELECT count(*) FROM api_keys
		WHERE workspace_id = $1 AND lower(name) = lower($2)
		  AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3)
		  AND rolled_into IS NULL`,
		workspaceID, name, ms(now)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count keys named: %w", err)
	}
	return n, nil
}
