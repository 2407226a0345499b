package db

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// HasAdmin reports whether any user exists, i.e. whether first-run setup
// is over.
func (d *DB) HasAdmin(ctx context.Context) (bool, error) {
	var exists bool
	err := d.sql.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users)`).Scan(&exists)
	return exists, err
}

// SetupFirstAdmin creates the first workspace and its admin, in one
// transaction, only if no user exists yet; else it returns ErrAlreadySet.
// Two concurrent setups cannot both succeed: the transaction takes the
// write lock before it looks.
func (d *DB) SetupFirstAdmin(ctx context.Context, workspace, email, passwordHash string, now time.Time) (blnk.Workspace, blnk.User, error) {
	return d.createAdmin(ctx, workspace, email, passwordHash, now, true)
}

// CreateWorkspaceAdmin creates a workspace and its Owner in one
// transaction. It returns ErrEmailTaken if the email is registered, and
// ErrWorkspaceTaken if a workspace has the name (in any case).
func (d *DB) CreateWorkspaceAdmin(ctx context.Context, workspace, email, passwordHash string, now time.Time) (blnk.Workspace, blnk.User, error) {
	return d.createAdmin(ctx, workspace, email, passwordHash, now, false)
}

func (d *DB) createAdmin(ctx context.Context, workspace, email, passwordHash string, now time.Time, firstOnly bool) (blnk.Workspace, blnk.User, error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return blnk.Workspace{}, blnk.User{}, err
	}
	defer tx.Rollback()

	if firstOnly {
		// Two setups at once must not both find no user: SQLite's write
		// lock, taken at BEGIN, orders them; PostgreSQL needs a lock.
		if err := d.lock(ctx, tx, "blnk first admin"); err != nil {
			return blnk.Workspace{}, blnk.User{}, err
		}
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users)`).Scan(&exists); err != nil {
			return blnk.Workspace{}, blnk.User{}, err
		}
		if exists {
			return blnk.Workspace{}, blnk.User{}, blnk.ErrAlreadySet
		}
	} else {
		// Never a second workspace of the same name: the command line
		// says so instead.
		if err := d.lock(ctx, tx, "blnk workspace names"); err != nil {
			return blnk.Workspace{}, blnk.User{}, err
		}
		var taken bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM workspaces WHERE lower(name) = lower($1))`, workspace).Scan(&taken); err != nil {
			return blnk.Workspace{}, blnk.User{}, err
		}
		if taken {
			return blnk.Workspace{}, blnk.User{}, blnk.ErrWorkspaceTaken
		}
	}

	ws := blnk.Workspace{Name: workspace, CreatedAt: now.UTC().Truncate(time.Millisecond)}
	err = tx.QueryRowContext(ctx, `INSERT INTO workspaces (name, created_at) VALUES ($1, $2) RETURNING id`,
		ws.Name, ms(now)).Scan(&ws.ID)
	if err != nil {
		return blnk.Workspace{}, blnk.User{}, fmt.Errorf("insert workspace: %w", err)
	}
	u := blnk.User{Email: email, CreatedAt: ws.CreatedAt}
	err = tx.QueryRowContext(ctx, `INSERT INTO users (email, password_hash, created_at) VALUES ($1, $2, $3) RETURNING id`,
		email, passwordHash, ms(now)).Scan(&u.ID)
	if isUniqueViolation(err) {
		return blnk.Workspace{}, blnk.User{}, blnk.ErrEmailTaken
	}
	if err != nil {
		return blnk.Workspace{}, blnk.User{}, fmt.Errorf("insert user: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, 'owner', $3)`,
		ws.ID, u.ID, ms(now)); err != nil {
		return blnk.Workspace{}, blnk.User{}, fmt.Errorf("insert membership: %w", err)
	}
	return ws, u, tx.Commit()
}

// LoginByEmail finds a user by email (case-insensitive) with the first
// workspace they joined (none, Workspace.ID 0, when they belong to no
// workspace any more).
func (d *DB) LoginByEmail(ctx context.Context, email string) (blnk.Login, error) {
	if !storable(email) {
		return blnk.Login{}, blnk.ErrNotFound // no stored email is like it; PostgreSQL would refuse to compare
	}
	return d.login(ctx, `lower(u.email) = lower($1)`, email)
}

// login finds the person that where (a condition on u, of $1 = arg)
// selects, with the first workspace they joined.
func (d *DB) login(ctx context.Context, where string, arg any) (blnk.Login, error) {
	var l blnk.Login
	var uc int64
	var wid, wc sql.NullInt64
	var wname sql.NullString
	err := d.sql.QueryRowContext(ctx, `
		SELECT u.id, u.email, u.name, u.created_at, u.password_hash, w.id, w.name, w.created_at
		FROM users u
		LEFT JOIN memberships m ON m.user_id = u.id
		LEFT JOIN workspaces w ON w.id = m.workspace_id
		WHERE `+where+`
		ORDER BY m.created_at, w.id
		LIMIT 1`, arg).Scan(&l.User.ID, &l.User.Email, &l.User.Name, &uc, &l.PasswordHash, &wid, &wname, &wc)
	if err != nil {
		return blnk.Login{}, notFound(err)
	}
	l.User.CreatedAt = time.UnixMilli(uc).UTC()
	if wid.Valid {
		l.Workspace = blnk.Workspace{ID: wid.Int64, Name: wname.String, CreatedAt: time.UnixMilli(wc.Int64).UTC()}
	}
	return l, nil
}

// CreateSession records a new session under the hash of its token, and
// events (user.signed_in) in the same transaction.
func (d *DB) CreateSession(ctx context.Context, tokenHash []byte, userID, workspaceID int64, now time.Time, events ...audit.Event) error {
	return d.CreateSessionFrom(ctx, tokenHash, userID, workspaceID, now, blnk.SessionClient{}, events...)
}

// CreateSessionFrom is CreateSession with the client it signs in from:
// its public id (a random one when empty), user agent and address, for
// the person's list of sessions. Over-long values are cut.
func (d *DB) CreateSessionFrom(ctx context.Context, tokenHash []byte, userID, workspaceID int64, now time.Time, client blnk.SessionClient, events ...audit.Event) error {
	if client.ID == "" {
		var b [16]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		client.ID = hex.EncodeToString(b[:])
	}
	ua, ip := cut(client.UserAgent, blnk.MaxUserAgent), cut(client.IP, blnk.MaxIP)
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, user_id, workspace_id, created_at, last_seen_at, sudo_at, id, user_agent, ip) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		tokenHash, userID, workspaceID, ms(now), ms(now), ms(now), client.ID, ua, ip); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE users SET last_signed_in_at = $1 WHERE id = $2`, ms(now), userID); err != nil {
		return err
	}
	for _, ev := range events {
		if err := recordEvent(ctx, tx, ev); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// SessionByToken finds the session stored under tokenHash, with the
// user's role in its workspace, read now: a session whose person is no
// longer a member of its workspace is not found.
func (d *DB) SessionByToken(ctx context.Context, tokenHash []byte) (blnk.Session, error) {
	var s blnk.Session
	var created, seen, uc, wc, req int64
	var sudo sql.NullInt64
	err := d.sql.QueryRowContext(ctx, `
		SELECT s.created_at, s.last_seen_at, s.sudo_at, u.id, u.email, u.created_at, w.id, w.name, w.created_at, w.require_two_factor, m.role
		FROM sessions s
		JOIN users u ON u.id = s.user_id
		JOIN workspaces w ON w.id = s.workspace_id
		JOIN memberships m ON m.workspace_id = s.workspace_id AND m.user_id = s.user_id
		WHERE s.token_hash = $1`, tokenHash).Scan(&created, &seen, &sudo, &s.User.ID, &s.User.Email, &uc, &s.Workspace.ID, &s.Workspace.Name, &wc, &req, &s.Role)
	if err != nil {
		return blnk.Session{}, notFound(err)
	}
	s.CreatedAt = time.UnixMilli(created).UTC()
	s.LastSeenAt = time.UnixMilli(seen).UTC()
	if sudo.Valid {
		s.SudoAt = time.UnixMilli(sudo.Int64).UTC()
	}
	s.Workspace.RequireTwoFactor = req == 1
	s.User.CreatedAt = time.UnixMilli(uc).UTC()
	s.Workspace.CreatedAt = time.UnixMilli(wc).UTC()
	return s, nil
}

// TouchSession records activity on a session, for the idle timeout.
func (d *DB) TouchSession(ctx context.Context, tokenHash []byte, now time.Time) error {
	_, err := d.sql.ExecContext(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2`, ms(now), tokenHash)
	return err
}

// DeleteSession ends a session for good: its cookie no longer signs in.
// If it existed, events (user.signed_out) are recorded in the same
// transaction.
func (d *DB) DeleteSession(ctx context.Context, tokenHash []byte, events ...audit.Event) error {
	if len(events) == 0 {
		_, err := d.sql.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash)
		return err
	}
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE token_hash = $1`, tokenHash)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // ended already (a second sign-out): nothing to record
	}
	for _, ev := range events {
		if err := recordEvent(ctx, tx, ev); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// DeleteStaleSessions deletes sessions idle since before idleBefore or
// created before createdBefore, and returns how many it deleted.
func (d *DB) DeleteStaleSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int64, error) {
	res, err := d.sql.ExecContext(ctx, `DELETE FROM sessions WHERE last_seen_at < $1 OR created_at < $2`, ms(idleBefore), ms(createdBefore))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// EnsureSetting returns the value of setting name, storing value first if
// the setting does not exist yet. Concurrent callers, even in other
// processes, all get the value stored first.
func (d *DB) EnsureSetting(ctx context.Context, name string, value []byte) ([]byte, error) {
	if _, err := d.sql.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`, name, value); err != nil {
		return nil, err
	}
	var got []byte
	err := d.sql.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&got)
	return got, err
}

// TouchReadiness writes a row of settings: the readiness probe's proof
// that the database takes writes now (not full, not locked), which a
// query does not give.
func (d *DB) TouchReadiness(ctx context.Context, now time.Time) error {
	_, err := d.sql.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`,
		"readiness_checked_at", []byte(strconv.FormatInt(ms(now), 10)))
	return err
}

// cut returns s cut to at most n bytes on a character boundary, as text
// that can be stored (valid UTF-8, no NUL).
func cut(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
