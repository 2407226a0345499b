package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// policiesLock serialises changes of key policies on PostgreSQL, so that
// each policy.changed holds the rules its change replaced.
const policiesLock = "blnk key policies"

// KeyPolicy returns a workspace's key policies; a workspace that never
// set any has the zero Policy.
func (d *DB) KeyPolicy(ctx context.Context, workspaceID int64) (blnk.Policy, error) {
	return keyPolicy(ctx, d.sql, workspaceID)
}

func keyPolicy(ctx context.Context, q querier, workspaceID int64) (blnk.Policy, error) {
	var p blnk.Policy
	var max, updated sql.NullInt64
	var expiry, allowlist int
	var scopes string
	err := q.QueryRowContext(ctx, `SELECT kp.max_lifetime_days, kp.require_expiry, kp.member_scopes, kp.require_allowlist,
		kp.updated_at, COALESCE(u.email, '')
		FROM key_policies kp LEFT JOIN users u ON u.id = kp.updated_by WHERE kp.workspace_id = $1`, workspaceID).
		Scan(&max, &expiry, &scopes, &allowlist, &updated, &p.UpdatedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return blnk.Policy{}, nil
	}
	if err != nil {
		return blnk.Policy{}, err
	}
	p.MaxLifetimeDays, p.RequireExpiry, p.RequireAllowlist = int(max.Int64), expiry == 1, allowlist == 1
	p.UpdatedAt = fromMS(updated)
	if p.MemberScopes, err = blnk.ParseStoredMemberScopes(scopes); err != nil {
		return blnk.Policy{}, fmt.Errorf("key policies of workspace %d: stored member scopes %q: %v", workspaceID, scopes, err)
	}
	return p, nil
}

// SetKeyPolicy replaces a workspace's key policies by p's rules on behalf
// of by, and records policy.changed with the rules that changed, before
// and after, in the same transaction. It returns the policies as they
// were; a change that changes nothing writes nothing (changed false).
func (d *DB) SetKeyPolicy(ctx context.Context, workspaceID int64, p blnk.Policy, by audit.Actor, now time.Time) (before blnk.Policy, changed bool, err error) {
	tx, err := d.beginLocked(ctx, policiesLock)
	if err != nil {
		return blnk.Policy{}, false, err
	}
	defer tx.Rollback()
	before, err = keyPolicy(ctx, tx, workspaceID)
	if err != nil {
		return blnk.Policy{}, false, err
	}
	if before.Rules() == p.Rules() {
		return before, false, nil
	}
	var max any
	if p.MaxLifetimeDays > 0 {
		max = p.MaxLifetimeDays
	}
	var user any
	if by.UserID != 0 {
		user = by.UserID
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO key_policies
		(workspace_id, max_lifetime_days, require_expiry, member_scopes, require_allowlist, updated_at, updated_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (workspace_id) DO UPDATE SET max_lifetime_days = excluded.max_lifetime_days,
			require_expiry = excluded.require_expiry, member_scopes = excluded.member_scopes,
			require_allowlist = excluded.require_allowlist, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		workspaceID, max, bit(p.RequireExpiry), p.MemberScopesString(), bit(p.RequireAllowlist), ms(now), user); err != nil {
		return blnk.Policy{}, false, fmt.Errorf("set key policies: %w", err)
	}
	b, a := before.AuditFields(), p.AuditFields()
	for k, v := range a {
		if fmt.Sprint(b[k]) == fmt.Sprint(v) {
			delete(a, k)
			delete(b, k)
		}
	}
	if err := recordEvent(ctx, tx, audit.Event{
		WorkspaceID: workspaceID, At: now, Action: audit.PolicyChanged, Actor: by,
		Details: map[string]any{"before": b, "after": a},
	}); err != nil {
		return blnk.Policy{}, false, err
	}
	return before, true, tx.Commit()
}

// bit is a boolean as the policies' columns hold it.
func bit(b bool) int {
	if b {
		return 1
	}
	return 0
}

// nonCompliant is the SQL condition of the keys that work at now and
// break p: Policy.NonCompliant in SQL (its creator's role is read from
// memberships), for the list's filter and counts. TestNonCompliantAgrees
// holds the two together on both databases.
func (d *DB) nonCompliant(p blnk.Policy, now time.Time, a *args) string {
	if p.IsZero() {
		return "FALSE"
	}
	var or []string
	if p.ExpiryRequired() {
		or = append(or, "k.expires_at IS NULL")
	}
	if p.MaxLifetimeDays > 0 {
		or = append(or, "k.expires_at > "+a.add(ms(p.Latest(now))))
	}
	if p.RequireAllowlist {
		or = append(or, "k.allowlist = ''")
	}
	if p.MemberScopes != 0 {
		contains := "instr"
		if d.kind == Postgres {
			contains = "strpos"
		}
		// Stored scopes are names joined by single spaces: a key breaks
		// the rule if it holds one that the member scopes do not allow.
		var refused []string
		for _, info := range apikey.Scopes() {
			if !p.MayGrant(info.Scope) {
				refused = append(refused, fmt.Sprintf("%s(' ' || k.scopes || ' ', %s) > 0", contains, a.add(" "+string(info.Scope)+" ")))
			}
		}
		if len(refused) > 0 {
			// Bound: made by someone (not the command line) who is not an
			// Owner or Admin of the workspace now.
			or = append(or, `(k.created_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM memberships m
				WHERE m.workspace_id = k.workspace_id AND m.user_id = k.created_by AND m.role IN ('owner', 'admin'))
				AND (`+strings.Join(refused, " OR ")+`))`)
		}
	}
	if len(or) == 0 {
		return "FALSE"
	}
	return "(k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > " + a.add(ms(now)) + ") AND (" + strings.Join(or, " OR ") + "))"
}
