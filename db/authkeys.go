package db

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// Reading every key at start (AuthKeys): a million rows, so what each
// costs counts. The query reads the workspaces' names apart (a few rows)
// rather than joining them to every key, and gives empty values as NULL:
// modernc's SQLite driver makes one call into SQLite, under its mutex,
// for a NULL, three for a text, and copies the text. On PostgreSQL the
// rows are read through pgx itself, in binary, as they arrive
// (database/sql's adapter makes a Go value of every column of every row).

// authLoadQuery is authKeyQuery without the workspace's name, its empty
// texts NULL.
const authLoadQuery = `SELECT k.hash, k.id, k.workspace_id, k.name, k.prefix, k.scopes,
	k.expires_at, k.created_at, k.revoked_at, k.rolled_into,
	CASE WHEN k.rolled_into IS NULL THEN NULL ELSE (SELECT ri.prefix FROM api_keys ri WHERE ri.id = k.rolled_into) END,
	NULLIF(k.allowlist, '')
	FROM api_keys k`

// authKeyRow is a row of authLoadQuery as read, reused from row to row,
// and what decoding rows keeps from one to the next.
type authKeyRow struct {
	hash, id, name, prefix, scopes, succ, succPrefix, allowlist []byte
	wsID, created                                               int64
	expires, revoked                                            sql.NullInt64

	workspaces map[int64]string      // every workspace's name
	sets       map[string]apikey.Set // scopes texts parsed so far (a few)
	lastWS     int64                 // the last row's workspace and its name
	lastName   string
}

// maxScopeSets bounds authKeyRow.sets: keys share a few sets of scopes,
// and past that many, each is parsed anew.
const maxScopeSets = 256

// emit hands the row's record to fn, unless it is a key of no
// workspace (record).
func (r *authKeyRow) emit(fn func(blnk.Record)) error {
	a, ok, err := r.record()
	if err != nil {
		return err
	}
	if ok {
		fn(a)
	}
	return nil
}

// record returns the record of the row in r. Its strings (but the
// workspace name) point into r's buffers: they are good until the next
// row, which is enough for fn of AuthKeys (the index copies what it
// keeps). ok is false for a key of no workspace (none: a workspace's
// keys go with it), which a join would not have read.
func (r *authKeyRow) record() (a blnk.Record, ok bool, err error) {
	a.Key.ID = unsafeString(r.id)
	if len(r.hash) != len(a.Hash) {
		return blnk.Record{}, false, fmt.Errorf("key %s: stored hash has %d bytes", a.Key.ID, len(r.hash))
	}
	copy(a.Hash[:], r.hash)
	if r.wsID != r.lastWS || r.lastName == "" {
		name, ok := r.workspaces[r.wsID]
		if !ok {
			return blnk.Record{}, false, nil
		}
		r.lastWS, r.lastName = r.wsID, name
	}
	a.WorkspaceName = r.lastName
	a.Key.WorkspaceID = r.wsID
	a.Key.Name, a.Key.Prefix = unsafeString(r.name), unsafeString(r.prefix)
	set, ok := r.sets[string(r.scopes)]
	if !ok {
		if set, err = apikey.ParseScopeList(string(r.scopes)); err != nil {
			return blnk.Record{}, false, fmt.Errorf("key %s: stored scopes %q: %v", a.Key.ID, r.scopes, err)
		}
		if len(r.sets) < maxScopeSets {
			r.sets[string(r.scopes)] = set
		}
	}
	a.Key.Scopes = set
	if len(r.allowlist) > 0 {
		if a.Key.Allowlist, err = apikey.ParseStoredAllowlist(string(r.allowlist)); err != nil {
			return blnk.Record{}, false, fmt.Errorf("key %s: %v", a.Key.ID, err)
		}
	}
	a.Key.RolledInto, a.Key.RolledIntoPrefix = unsafeString(r.succ), unsafeString(r.succPrefix)
	a.Key.CreatedAt = time.UnixMilli(r.created).UTC()
	a.Key.ExpiresAt, a.Key.RevokedAt = fromMS(r.expires), fromMS(r.revoked)
	return a, true, nil
}

// AuthKeys calls fn for every key of every workspace, and returns the
// sequence number of the last key change it includes: pass it to
// KeyChangesSince to follow later changes. The record fn gets is good
// until fn returns: its strings point into buffers the next row reuses
// (a million rows would otherwise make four million strings of garbage).
func (d *DB) AuthKeys(ctx context.Context, fn func(blnk.Record)) (seq int64, err error) {
	if d.kind == Postgres && d.binaryResults() {
		return d.authKeysPostgres(ctx, fn)
	}
	// One snapshot: the keys and the sequence number agree, so no change
	// falls between them.
	tx, err := d.sql.BeginTx(ctx, d.snapshot())
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if d.kind == Postgres {
		// As in authKeysPostgres.
		if _, err := tx.ExecContext(ctx, `SET LOCAL jit = off`); err != nil {
			return 0, err
		}
	}
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM api_key_changes`).Scan(&seq); err != nil {
		return 0, err
	}
	r := authKeyRow{sets: map[string]apikey.Set{}}
	if r.workspaces, err = workspaceNames(ctx, tx); err != nil {
		return 0, err
	}
	rows, err := tx.QueryContext(ctx, authLoadQuery)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var hash, id, name, prefix, scopes, succ, succPrefix, allowlist sql.RawBytes
	for rows.Next() {
		err := rows.Scan(&hash, &id, &r.wsID, &name, &prefix, &scopes,
			&r.expires, &r.created, &r.revoked, &succ, &succPrefix, &allowlist)
		if err != nil {
			return 0, err
		}
		r.hash, r.id, r.name, r.prefix, r.scopes, r.succ, r.succPrefix, r.allowlist = hash, id, name, prefix, scopes, succ, succPrefix, allowlist
		if err := r.emit(fn); err != nil {
			return 0, err
		}
	}
	return seq, rows.Err()
}

// workspaceNames returns the name of every workspace, by id.
func workspaceNames(ctx context.Context, q querier) (map[int64]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, name FROM workspaces`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names := map[int64]string{}
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, err
		}
		names[id] = name
	}
	return names, rows.Err()
}

// binaryResults reports whether queries through d.pool can ask for
// their results in binary: not in the simple protocol
// (default_query_exec_mode=simple_protocol in the URL, for some
// poolers), nor in exec mode, which pgx runs without a description of
// the results.
func (d *DB) binaryResults() bool {
	switch d.pool.Config().ConnConfig.DefaultQueryExecMode {
	case pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe, pgx.QueryExecModeDescribeExec:
		return true
	}
	return false
}

// authKeysPostgres is AuthKeys on PostgreSQL: the rows in binary, read
// in place (pgx's RawValues: good until the next row).
func (d *DB) authKeysPostgres(ctx context.Context, fn func(blnk.Record)) (seq int64, err error) {
	tx, err := d.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// The planner counts the successor's subquery once per key and would
	// compile this plain scan (JIT), which costs more than it saves: a
	// quarter of a second at a million keys.
	if _, err := tx.Exec(ctx, `SET LOCAL jit = off`); err != nil {
		return 0, err
	}
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM api_key_changes`).Scan(&seq); err != nil {
		return 0, err
	}
	r := authKeyRow{sets: map[string]apikey.Set{}, workspaces: map[int64]string{}}
	var wsID int64
	var wsName string
	ws, err := tx.Query(ctx, `SELECT id, name FROM workspaces`)
	if err != nil {
		return 0, err
	}
	if _, err := pgx.ForEachRow(ws, []any{&wsID, &wsName}, func() error {
		r.workspaces[wsID] = wsName
		return nil
	}); err != nil {
		return 0, err
	}
	// Binary for every column: a bigint is its 8 bytes, a bytea and a
	// text their bytes as they are.
	formats := make(pgx.QueryResultFormats, 12)
	for i := range formats {
		formats[i] = pgx.BinaryFormatCode
	}
	rows, err := tx.Query(ctx, authLoadQuery, formats)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	for i, f := range rows.FieldDescriptions() {
		if f.Format != pgx.BinaryFormatCode { // a connection in the simple protocol answers in text
			rows.Close()
			return 0, fmt.Errorf("read keys: column %d in format %d, want binary", i, f.Format)
		}
	}
	for rows.Next() {
		v := rows.RawValues()
		if len(v) != 12 {
			return 0, fmt.Errorf("read keys: %d columns", len(v))
		}
		r.hash, r.id, r.name, r.prefix, r.scopes = v[0], v[1], v[3], v[4], v[5]
		r.succ, r.succPrefix, r.allowlist = v[9], v[10], v[11]
		if r.wsID, err = pgInt8(v[2]); err != nil {
			return 0, err
		}
		if r.created, err = pgInt8(v[7]); err != nil {
			return 0, err
		}
		if r.expires, err = pgNullInt8(v[6]); err != nil {
			return 0, err
		}
		if r.revoked, err = pgNullInt8(v[8]); err != nil {
			return 0, err
		}
		if err := r.emit(fn); err != nil {
			return 0, err
		}
	}
	return seq, rows.Err()
}

// pgInt8 decodes a bigint in binary.
func pgInt8(b []byte) (int64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("read keys: a bigint of %d bytes", len(b))
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// pgNullInt8 decodes a bigint or NULL (nil) in binary.
func pgNullInt8(b []byte) (sql.NullInt64, error) {
	if b == nil {
		return sql.NullInt64{}, nil
	}
	n, err := pgInt8(b)
	return sql.NullInt64{Int64: n, Valid: err == nil}, err
}
