package db

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

const tokenColumns = `t.id, t.workspace_id, t.user_id, t.name, t.prefix, t.scopes, t.created_at, t.expires_at,
	t.last_used_at, t.last_used_ip, t.revoked_at`

func scanToken(row scanner, extra ...any) (blnk.Token, error) {
	var t blnk.Token
	var scopes string
	var created, expires int64
	var used, revoked sql.NullInt64
	dest := append([]any{&t.ID, &t.WorkspaceID, &t.UserID, &t.Name, &t.Prefix, &scopes, &created, &expires,
		&used, &t.LastUsedIP, &revoked}, extra...)
	if err := row.Scan(dest...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return blnk.Token{}, blnk.ErrNotFound
		}
		return blnk.Token{}, err
	}
	for _, s := range strings.Fields(scopes) {
		t.Scopes = append(t.Scopes, blnk.TokenScope(s))
	}
	t.CreatedAt, t.ExpiresAt = time.UnixMilli(created).UTC(), time.UnixMilli(expires).UTC()
	t.LastUsedAt, t.RevokedAt = fromMS(used), fromMS(revoked)
	return t, nil
}

func tokenScopes(t blnk.Token) string {
	s := make([]string, len(t.Scopes))
	for i, sc := range t.Scopes {
		s[i] = string(sc)
	}
	return strings.Join(s, " ")
}

func tokenDetails(t blnk.Token) map[string]any {
	return map[string]any{"token": t.ID, "token_prefix": t.Prefix, "name": t.Name, "scopes": tokenScopes(t),
		"expires_at": t.ExpiresAt.UTC().Format(time.RFC3339)}
}

// CreateToken stores a new management token and records token.created,
// in one transaction. Its person must be a member of its workspace.
func (d *DB) CreateToken(ctx context.Context, nt blnk.NewToken) (blnk.Token, error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return blnk.Token{}, err
	}
	defer tx.Rollback()
	t := nt.Token
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM memberships WHERE workspace_id = $1 AND user_id = $2`, t.WorkspaceID, t.UserID).Scan(&one)
	if err != nil {
		return blnk.Token{}, notFound(err)
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO management_tokens
		(id, workspace_id, user_id, name, prefix, token_hash, scopes, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		t.ID, t.WorkspaceID, t.UserID, t.Name, t.Prefix, nt.Hash[:], tokenScopes(t), ms(t.CreatedAt), ms(t.ExpiresAt))
	if err != nil {
		return blnk.Token{}, err
	}
	if err := recordEvent(ctx, tx, audit.Event{WorkspaceID: t.WorkspaceID, At: t.CreatedAt, Action: audit.TokenCreated,
		Actor: nt.Actor, Details: tokenDetails(t)}); err != nil {
		return blnk.Token{}, err
	}
	t.CreatedAt, t.ExpiresAt = time.UnixMilli(ms(t.CreatedAt)).UTC(), time.UnixMilli(ms(t.ExpiresAt)).UTC()
	return t, tx.Commit()
}

// RevokeToken revokes one of a person's tokens in a workspace and records
// token.revoked; revoked is false (nothing recorded) if it was revoked
// already. Another person's or workspace's token is blnk.ErrNotFound.
func (d *DB) RevokeToken(ctx context.Context, workspaceID, userID int64, id string, by audit.Actor, now time.Time) (t blnk.Token, revoked bool, err error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return blnk.Token{}, false, err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE management_tokens SET revoked_at = $1
		WHERE workspace_id = $2 AND user_id = $3 AND id = $4 AND revoked_at IS NULL`, ms(now), workspaceID, userID, id)
	if err != nil {
		return blnk.Token{}, false, err
	}
	t, err = scanToken(tx.QueryRowContext(ctx, `SELECT `+tokenColumns+` FROM management_tokens t
		WHERE t.workspace_id = $1 AND t.user_id = $2 AND t.id = $3`, workspaceID, userID, id))
	if err != nil {
		return blnk.Token{}, false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return t, false, nil
	}
	if err := recordEvent(ctx, tx, audit.Event{WorkspaceID: workspaceID, At: now, Action: audit.TokenRevoked,
		Actor: by, Details: tokenDetails(t)}); err != nil {
		return blnk.Token{}, false, err
	}
	return t, true, tx.Commit()
}

// ListTokens lists a person's tokens in a workspace, newest first.
func (d *DB) ListTokens(ctx context.Context, workspaceID, userID int64) ([]blnk.Token, error) {
	return collect(ctx, d.sql, func(row scanner) (blnk.Token, error) { return scanToken(row) }, `SELECT `+tokenColumns+` FROM management_tokens t
		WHERE t.workspace_id = $1 AND t.user_id = $2 ORDER BY t.created_at DESC, t.id DESC`, workspaceID, userID)
}

// TokenGrant returns the token stored under h with its person, workspace
// and the person's role there now, in one query: a person no longer a
// member of the token's workspace has no grant (blnk.ErrNotFound), as an
// unknown token has none; nor has a token made before the person's
// current membership began (removed, then invited again: the old tokens
// stay dead), give or take a minute of the servers' clocks.
func (d *DB) TokenGrant(ctx context.Context, h apikey.Hash) (blnk.TokenGrant, error) {
	var g blnk.TokenGrant
	var wsCreated int64
	t, err := scanToken(d.sql.QueryRowContext(ctx, `SELECT `+tokenColumns+`, u.email, u.name, w.name, w.created_at, m.role
		FROM management_tokens t
		JOIN memberships m ON m.workspace_id = t.workspace_id AND m.user_id = t.user_id AND m.created_at <= t.created_at + 60000
		JOIN users u ON u.id = t.user_id
		JOIN workspaces w ON w.id = t.workspace_id
		WHERE t.token_hash = $1`, h[:]), &g.User.Email, &g.User.Name, &g.Workspace.Name, &wsCreated, &g.Role)
	if err != nil {
		return blnk.TokenGrant{}, err
	}
	g.Token = t
	g.User.ID, g.Workspace.ID = t.UserID, t.WorkspaceID
	g.Workspace.CreatedAt = time.UnixMilli(wsCreated).UTC()
	return g, nil
}

// TouchToken records a use of token id at, from ip, unless one was
// recorded within the last minute: "last used" needs no write per call.
func (d *DB) TouchToken(ctx context.Context, id string, at time.Time, ip string) error {
	_, err := d.sql.ExecContext(ctx, `UPDATE management_tokens SET last_used_at = $1, last_used_ip = $2
		WHERE id = $3 AND (last_used_at IS NULL OR last_used_at < $4)`, ms(at), ip, id, ms(at.Add(-time.Minute)))
	return err
}
