package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// Key changes. Every transaction that creates a key or changes what
// checking it needs to know (revocation, expiry, name, scopes) appends a
// row to api_key_changes, whose seq orders the changes as they commit:
// a process that has applied the changes up to seq N reads "seq > N" to
// catch up, and can say which changes it has applied (servers.applied_seq).
//
// Commit order matters: on PostgreSQL a sequence value taken by one
// transaction may commit after a larger one taken by another, and a reader
// between the two would skip the first for good. So the transactions that
// record changes take one advisory lock first (see lock): each takes its
// seq after the previous one committed. They are rare (people creating and
// revoking keys), so this costs nothing that matters. SQLite's write lock
// orders them already.
//
// After the commit, the other processes are told: on SQLite through a
// counter in shared memory (signal_unix.go), which WatchChanges polls, on
// PostgreSQL through NOTIFY, sent by the transaction itself (delivered at
// commit), which every server LISTENs to (postgres.go). Both are a wake-up
// only: readers always read "seq > last applied", so a missed signal costs
// time (until the next poll), never a change.

// keyChangesLock is the lock (see lock) of the transactions that record
// key changes. Those that change an existing key take it before anything
// else, so that two of them never hold a key's row and wait for the lock
// in opposite orders (PostgreSQL would abort one as a deadlock); once
// held, every statement sees what the previous holders committed.
const keyChangesLock = "blnk key changes"

// beginKeyChange begins a transaction that changes an existing key, and
// takes keyChangesLock first, as every such transaction does.
func (d *DB) beginKeyChange(ctx context.Context) (*sql.Tx, error) {
	return d.beginLocked(ctx, keyChangesLock)
}

// recordChange appends a change of key keyID to the log and returns its
// sequence number. tx must commit before the change is announced with
// announce.
func (d *DB) recordChange(ctx context.Context, tx *sql.Tx, keyID string, now time.Time) (int64, error) {
	if err := d.lock(ctx, tx, keyChangesLock); err != nil {
		return 0, fmt.Errorf("lock key changes: %w", err)
	}
	var seq int64
	err := tx.QueryRowContext(ctx, `INSERT INTO api_key_changes (key_id, at) VALUES ($1, $2) RETURNING seq`, keyID, ms(now)).Scan(&seq)
	if err != nil {
		return 0, fmt.Errorf("record key change: %w", err)
	}
	if d.kind == Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, d.channel, fmt.Sprint(seq)); err != nil {
			return 0, fmt.Errorf("notify key change: %w", err)
		}
	}
	return seq, nil
}

// announce tells the processes sharing a SQLite database that a key
// change committed. (PostgreSQL's NOTIFY went out with the commit.)
func (d *DB) announce() {
	if d.signal != nil {
		d.signal.bump()
	}
}

// keyEventCommitted follows the commit of a key change that queued its
// webhook event (a key created, revoked, rolled): other processes learn
// of the change, and this process's delivery worker wakes for the event.
func (d *DB) keyEventCommitted() {
	d.announce()
	d.wakeDeliveries()
}

// ChangeVersion returns a number that moves whenever a key change may
// have committed in another process: the shared counter on SQLite, a count
// of notifications (and reconnections) on PostgreSQL once WatchChanges
// runs. It costs one atomic load.
func (d *DB) ChangeVersion() uint64 {
	switch {
	case d.signal != nil:
		return d.signal.load()
	case d.feed != nil:
		return d.feed.version.Load()
	}
	return 0
}

// sqliteWatchEvery is how often WatchChanges looks at the shared counter
// of a SQLite database: a load and a compare, so frequent is cheap.
const sqliteWatchEvery = 10 * time.Millisecond

// WatchChanges returns a channel that receives soon after a key change may
// have committed in another process, until ctx ends. A change that
// happens while nobody reads the channel is kept as one pending wake-up.
// Call it once per DB; log says when notifications are lost.
func (d *DB) WatchChanges(ctx context.Context, log *slog.Logger) <-chan struct{} {
	wake := make(chan struct{}, 1)
	notify := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	switch d.kind {
	case Postgres:
		d.feed.start(ctx, notify, log)
	default:
		if d.signal == nil {
			return wake // only the poll, then
		}
		last := d.signal.load() // before returning: a change after the call wakes
		d.watching.Add(1)
		go func() {
			defer d.watching.Done()
			t := time.NewTicker(sqliteWatchEvery)
			defer t.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-d.closing:
					return
				case <-t.C:
					if v := d.signal.load(); v != last {
						last = v
						notify()
					}
				}
			}
		}()
	}
	return wake
}

// authKeyQuery reads what checking a key needs, and no more: a key's
// last use stays in the database, where the pages read it. The
// successor's prefix is looked up for rolled keys only: a join of
// api_keys with itself made PostgreSQL hash every key a second time
// (spilling to disk at a million keys) to find the few that have a
// successor.
const authKeyQuery = `SELECT k.hash, k.id, k.workspace_id, w.name, k.name, k.prefix, k.scopes,
	k.expires_at, k.created_at, k.revoked_at,
	COALESCE(k.rolled_into, ''),
	CASE WHEN k.rolled_into IS NULL THEN '' ELSE COALESCE((SELECT ri.prefix FROM api_keys ri WHERE ri.id = k.rolled_into), '') END,
	k.allowlist
	FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id`

// unsafeString is b as a string, without a copy: good while b is.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// scanAuthKey reads a row of authKeyQuery into a record of its own.
func scanAuthKey(rows scanner) (blnk.Record, error) {
	var a blnk.Record
	var hash []byte
	var scopes, allowlist string
	var created int64
	var expires, revoked sql.NullInt64
	err := rows.Scan(&hash, &a.Key.ID, &a.Key.WorkspaceID, &a.WorkspaceName, &a.Key.Name, &a.Key.Prefix, &scopes,
		&expires, &created, &revoked, &a.Key.RolledInto, &a.Key.RolledIntoPrefix, &allowlist)
	if err != nil {
		return blnk.Record{}, err
	}
	if len(hash) != len(a.Hash) {
		return blnk.Record{}, fmt.Errorf("key %s: stored hash has %d bytes", a.Key.ID, len(hash))
	}
	copy(a.Hash[:], hash)
	if a.Key.Scopes, err = apikey.ParseScopeList(scopes); err != nil {
		return blnk.Record{}, fmt.Errorf("key %s: stored scopes %q: %v", a.Key.ID, scopes, err)
	}
	if a.Key.Allowlist, err = apikey.ParseStoredAllowlist(allowlist); err != nil {
		return blnk.Record{}, fmt.Errorf("key %s: %v", a.Key.ID, err)
	}
	a.Key.CreatedAt = time.UnixMilli(created).UTC()
	a.Key.ExpiresAt, a.Key.RevokedAt = fromMS(expires), fromMS(revoked)
	return a, nil
}

// KeyCount returns how many keys there are, of every workspace.
func (d *DB) KeyCount(ctx context.Context) (int, error) {
	var n int
	err := d.sql.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys`).Scan(&n)
	return n, err
}

// KeyChange returns the key of change seq, "" if the log holds no such
// change.
func (d *DB) KeyChange(ctx context.Context, seq int64) (string, error) {
	var id string
	err := d.sql.QueryRowContext(ctx, `SELECT key_id FROM api_key_changes WHERE seq = $1`, seq).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

// ResumeKeys returns, in one snapshot, what a view of the keys saved
// after change seq (of key keyID; seq 0: before any change) needs to come
// up to date: whether the log holds that change, the keys changed since,
// the last change, and how many keys there are.
func (d *DB) ResumeKeys(ctx context.Context, seq int64, keyID string) (blnk.KeyResume, error) {
	tx, err := d.sql.BeginTx(ctx, d.snapshot())
	if err != nil {
		return blnk.KeyResume{}, err
	}
	defer tx.Rollback()
	var r blnk.KeyResume
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM api_key_changes`).Scan(&r.Last); err != nil {
		return blnk.KeyResume{}, err
	}
	if seq > r.Last {
		return r, nil // a log that went back: another database, or restored
	}
	if seq > 0 {
		var id string
		err := tx.QueryRowContext(ctx, `SELECT key_id FROM api_key_changes WHERE seq = $1`, seq).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) || (err == nil && id != keyID) {
			return r, nil
		}
		if err != nil {
			return blnk.KeyResume{}, err
		}
	}
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys`).Scan(&r.Keys); err != nil {
		return blnk.KeyResume{}, err
	}
	if r.Last > seq {
		if r.Changed, err = collect(ctx, tx, scanAuthKey, authKeyQuery+` WHERE k.id IN (SELECT key_id FROM api_key_changes WHERE seq > $1 AND seq <= $2)`, seq, r.Last); err != nil {
			return blnk.KeyResume{}, err
		}
	}
	r.Found = true
	return r, nil
}

// KeyChangesSince returns the keys changed after change seq, as they are
// now, and the sequence number of the last change included.
func (d *DB) KeyChangesSince(ctx context.Context, seq int64) ([]blnk.Record, int64, error) {
	tx, err := d.sql.BeginTx(ctx, d.snapshot())
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
	out, err := collect(ctx, tx, scanAuthKey, authKeyQuery+` WHERE k.id IN (SELECT key_id FROM api_key_changes WHERE seq > $1 AND seq <= $2)`, seq, last)
	if err != nil {
		return nil, seq, err
	}
	return out, last, nil
}

// LastChange returns the sequence number of the last key change.
func (d *DB) LastChange(ctx context.Context) (int64, error) {
	var seq int64
	err := d.sql.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM api_key_changes`).Scan(&seq)
	return seq, err
}

// recordChanges appends a change of each key of keyIDs to the log, as
// recordChange does for one, in a few statements (a removal revokes a
// member's keys at once), and returns the last sequence number. One
// notification tells of all of them: followers read every change after
// the last they applied.
func (d *DB) recordChanges(ctx context.Context, tx *sql.Tx, keyIDs []string, now time.Time) (int64, error) {
	if err := d.lock(ctx, tx, keyChangesLock); err != nil {
		return 0, fmt.Errorf("lock key changes: %w", err)
	}
	var last int64
	for chunk := range slices.Chunk(keyIDs, 500) {
		var b strings.Builder
		args := make([]any, 0, 2*len(chunk))
		b.WriteString(`INSERT INTO api_key_changes (key_id, at) VALUES `)
		for i, id := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "($%d, $%d)", 2*i+1, 2*i+2)
			args = append(args, id, ms(now))
		}
		b.WriteString(` RETURNING seq`)
		rows, err := tx.QueryContext(ctx, b.String(), args...)
		if err != nil {
			return 0, fmt.Errorf("record key changes: %w", err)
		}
		for rows.Next() {
			var seq int64
			if err := rows.Scan(&seq); err != nil {
				rows.Close()
				return 0, err
			}
			last = max(last, seq)
		}
		if err := rows.Close(); err != nil {
			return 0, err
		}
	}
	if d.kind == Postgres && last != 0 {
		if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, $2)`, d.channel, fmt.Sprint(last)); err != nil {
			return 0, fmt.Errorf("notify key change: %w", err)
		}
	}
	return last, nil
}
