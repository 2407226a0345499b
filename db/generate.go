package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
)

// SyntheticKeys describes the keys GenerateKeys makes: N keys of a
// workspace whose tokens nobody holds (their hashes are random), for
// loads too large to import key by key (issue 21's ten million).
type SyntheticKeys struct {
	WorkspaceID int64
	CreatedBy   int64 // user id; 0: unknown
	N           int
	// Key i has Scopes[i % len(Scopes)]: at least one set (a key has
	// scopes).
	Scopes []apikey.Set
	// Key i is created at Created + i ms.
	Created time.Time
	// Every third key (i % 3 == 0) expires then; zero: none does.
	ExpiresAt time.Time
	// Keys written per transaction; 0: a million.
	Batch int
}

// GenerateKeys makes the keys of s in the database, in set-based SQL (a
// recursive CTE on SQLite, generate_series on PostgreSQL), Batch keys per
// transaction, and returns how many it stored. Each key is what
// ImportKeys would store for a key of that shape: a random 32-byte hash
// (unique), an id of NewID's shape ("key_", 8 characters random per call,
// then i in 12 hex digits: unique), a display prefix "blnk_" and i in 8
// hex digits (prefixes need not be unique), the name "synthetic key i",
// the form token "synthetic-" and the id, and a change in the key change
// log per key, in i's order, so that a running server loads them and a
// snapshot's key count holds. Like ImportKeys it records no audit event
// and queues no webhook; a transaction that fails stores nothing of its
// batch, and those before it stay.
func (d *DB) GenerateKeys(ctx context.Context, s SyntheticKeys) (int, error) {
	if len(s.Scopes) == 0 {
		return 0, errors.New("generate keys: no scopes")
	}
	batch := s.Batch
	if batch <= 0 {
		batch = 1_000_000
	}
	tag := apikey.NewID()[4:12] // this call's keys: ids and form tokens unique across calls
	var by, expires any
	if s.CreatedBy != 0 {
		by = s.CreatedBy
	}
	if !s.ExpiresAt.IsZero() {
		expires = ms(s.ExpiresAt)
	}
	// $1, $2: the batch's first i and the one after its last.
	args := []any{0, 0, tag, s.WorkspaceID, by, ms(s.Created), expires}
	var b strings.Builder
	fmt.Fprintf(&b, "CASE i %% %d", len(s.Scopes))
	for j, set := range s.Scopes {
		args = append(args, set.String())
		fmt.Fprintf(&b, " WHEN %d THEN $%d", j, len(args))
	}
	b.WriteString(" END")
	scopes := b.String()
	q := generateSQLite
	if d.kind == Postgres {
		q = generatePostgres
	}
	keys, changes := strings.ReplaceAll(q.keys, "{scopes}", scopes), q.changes

	var conn *sql.Conn
	if d.kind == SQLite {
		// The unique index of the hashes takes every key at random: a
		// page cache that holds it (about 45 bytes a key) keeps each
		// insert in memory rather than a read from the file. This
		// connection's only, and put back before it returns to the pool.
		c, err := d.sql.Conn(ctx)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		var was int64
		if err := c.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&was); err != nil {
			return 0, err
		}
		if _, err := c.ExecContext(ctx, `PRAGMA cache_size = -1048576`); err != nil { // 1 GiB
			return 0, err
		}
		defer c.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf(`PRAGMA cache_size = %d`, was))
		conn = c
	}
	n := 0
	for n < s.N {
		end := min(n+batch, s.N)
		args[0], args[1] = n, end
		if err := d.generateBatch(ctx, conn, keys, changes, args, end-n); err != nil {
			return n, fmt.Errorf("generate keys %d to %d: %w", n, end-1, err)
		}
		n = end
		d.announce()
	}
	if n > 0 && d.kind == Postgres {
		// As after ImportKeys: statistics, and the rows' visibility settled.
		if _, err := d.sql.ExecContext(ctx, `VACUUM (ANALYZE) api_keys, api_key_changes`); err != nil {
			return n, fmt.Errorf("vacuum after generating keys: %w", err)
		}
	}
	return n, nil
}

// generateBatch writes want keys and their changes in one transaction
// (on conn when not nil).
func (d *DB) generateBatch(ctx context.Context, conn *sql.Conn, keys, changes string, args []any, want int) error {
	var tx *sql.Tx
	var err error
	if conn != nil {
		tx, err = conn.BeginTx(ctx, nil)
	} else {
		tx, err = d.sql.BeginTx(ctx, nil)
	}
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, keys, args...)
	if err != nil {
		return err
	}
	if got, err := res.RowsAffected(); err != nil || got != int64(want) {
		return fmt.Errorf("%d keys written, want %d (%v)", got, want, err)
	}
	// The change log as recordChange writes it: under its lock, so that
	// the seqs commit in order (SQLite's write lock orders them already).
	if err := d.lock(ctx, tx, keyChangesLock); err != nil {
		return fmt.Errorf("lock key changes: %w", err)
	}
	if res, err = tx.ExecContext(ctx, changes, args[0], args[1], args[2], args[5]); err != nil {
		return fmt.Errorf("record key changes: %w", err)
	}
	if got, err := res.RowsAffected(); err != nil || got != int64(want) {
		return fmt.Errorf("%d key changes written, want %d (%v)", got, want, err)
	}
	if d.kind == Postgres {
		if _, err := tx.ExecContext(ctx, `SELECT pg_notify($1, (SELECT MAX(seq) FROM api_key_changes)::text)`, d.channel); err != nil {
			return fmt.Errorf("notify key change: %w", err)
		}
	}
	return tx.Commit()
}

// generateSQLite and generatePostgres are GenerateKeys's statements:
// keys writes the keys i of [$1, $2) ({scopes} is the scopes' CASE): $3
// is the call's tag, $4 the workspace, $5 the creator, $6 the first key's
// creation (ms), $7 the expiry of every third key, $8... the scopes.
// changes writes a change for each, with the same ids: $1 to $3 as keys,
// $4 the first key's creation.
var generateSQLite = struct{ keys, changes string }{
	keys: `WITH RECURSIVE s(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < $2)
		INSERT INTO api_keys (id, workspace_id, name, prefix, hash, scopes, expires_at, created_at, created_by, create_token)
		SELECT printf('key_%s%012x', $3, i), $4, 'synthetic key ' || i, printf('blnk_%08x', i & 4294967295), randomblob(32),
			{scopes}, CASE WHEN i % 3 = 0 THEN $7 END, $6 + i, $5, printf('synthetic-key_%s%012x', $3, i)
		FROM s`,
	changes: `WITH RECURSIVE s(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < $2)
		INSERT INTO api_key_changes (key_id, at)
		SELECT printf('key_%s%012x', $3, i), $4 + i FROM s`,
}

var generatePostgres = struct{ keys, changes string }{
	// The hash is the SHA-256 of the tag and i: unique, and as spread as a
	// token's.
	keys: `INSERT INTO api_keys (id, workspace_id, name, prefix, hash, scopes, expires_at, created_at, created_by, create_token)
		SELECT 'key_' || $3::text || lpad(to_hex(i), 12, '0'), $4::bigint, 'synthetic key ' || i, 'blnk_' || lpad(to_hex(i & 4294967295), 8, '0'),
			sha256(convert_to($3::text || ':' || i, 'UTF8')), {scopes}, CASE WHEN i % 3 = 0 THEN $7::bigint END, $6::bigint + i, $5::bigint,
			'synthetic-key_' || $3::text || lpad(to_hex(i), 12, '0')
		FROM generate_series($1::bigint, $2::bigint - 1) AS s(i)`,
	changes: `INSERT INTO api_key_changes (key_id, at)
		SELECT 'key_' || $3::text || lpad(to_hex(i), 12, '0'), $4::bigint + i
		FROM generate_series($1::bigint, $2::bigint - 1) AS s(i)`,
}
