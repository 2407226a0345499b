package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/webhook"
)

// KeyImport is one key ImportKeys stores, as CreateKey would store it: its
// metadata, the hash of its token, who made it and the form token that
// made it (unique per workspace). A key imported revoked (Key.RevokedAt
// set) stays revoked, and one imported with a last use (Key.LastUsedAt,
// Key.LastUsedIP) shows it. An import keeps no roll chain (RolledFrom,
// RolledInto).
type KeyImport struct {
	Key         apikey.Key // ID, WorkspaceID, Name, Prefix, Scopes, ExpiresAt, CreatedAt, Description, ExpiryDays, Allowlist, RevokedAt, LastUsedAt, LastUsedIP
	Hash        apikey.Hash
	CreatedBy   int64 // user id; 0: unknown
	CreateToken string
}

// importColumns are the columns of api_keys ImportKeys writes, in the
// order of importRow: those CreateKey writes (rolled_from and revealed_at
// are NULL for a created key too), and revoked_at.
var importColumns = []string{"id", "workspace_id", "name", "prefix", "hash", "scopes", "expires_at", "created_at",
	"created_by", "create_token", "description", "expiry_days", "allowlist", "revoked_at"}

func importRow(k KeyImport) []any {
	var by, days, expires, revoked any // NULL unless set
	if k.CreatedBy != 0 {
		by = k.CreatedBy
	}
	if k.Key.ExpiryDays > 0 {
		days = int64(k.Key.ExpiryDays)
	}
	if !k.Key.ExpiresAt.IsZero() {
		expires = ms(k.Key.ExpiresAt)
	}
	if !k.Key.RevokedAt.IsZero() {
		revoked = ms(k.Key.RevokedAt)
	}
	return []any{k.Key.ID, k.Key.WorkspaceID, k.Key.Name, k.Key.Prefix, k.Hash[:], k.Key.Scopes.String(), expires,
		ms(k.Key.CreatedAt), by, k.CreateToken, k.Key.Description, days, apikey.FormatAllowlist(k.Key.Allowlist), revoked}
}

// ImportKeys stores, in one transaction, the keys next returns until it
// returns false (or an error, which stores nothing), and returns how many
// it stored. It is CreateKey in bulk, for tools that load many keys (the
// bench's seed): COPY on PostgreSQL, prepared INSERTs on SQLite. Like
// CreateKey it appends a change per key to the key change log and tells
// the other processes when it returns, so that running servers load the
// keys; unlike CreateKey it records no audit event and queues no webhook
// (an import is not somebody creating keys), and a key whose id, prefix,
// hash or (workspace, form token) is taken already fails the whole import
// instead of being skipped.
func (d *DB) ImportKeys(ctx context.Context, next func() (KeyImport, bool, error)) (int, error) {
	if d.kind == Postgres {
		return d.importPostgres(ctx, next)
	}
	return d.importSQLite(ctx, next)
}

func (d *DB) importSQLite(ctx context.Context, next func() (KeyImport, bool, error)) (int, error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	// ? placeholders: modernc's driver binds $N by name, a lookup per
	// parameter (see upsertRows).
	ins, err := tx.PrepareContext(ctx, `INSERT INTO api_keys (id, workspace_id, name, prefix, hash, scopes, expires_at, created_at,
		created_by, create_token, description, expiry_days, allowlist, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return 0, err
	}
	defer ins.Close()
	change, err := tx.PrepareContext(ctx, `INSERT INTO api_key_changes (key_id, at) VALUES (?, ?)`)
	if err != nil {
		return 0, err
	}
	defer change.Close()
	use, err := tx.PrepareContext(ctx, `INSERT INTO api_key_usage (key_id, at, ip) VALUES (?, ?, ?)`)
	if err != nil {
		return 0, err
	}
	defer use.Close()
	n := 0
	for {
		k, ok, err := next()
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		if _, err := ins.ExecContext(ctx, importRow(k)...); err != nil {
			return 0, fmt.Errorf("import key %d (%s): %w", n, k.Key.ID, err)
		}
		if _, err := change.ExecContext(ctx, k.Key.ID, ms(k.Key.CreatedAt)); err != nil {
			return 0, fmt.Errorf("record key change: %w", err)
		}
		if !k.Key.LastUsedAt.IsZero() {
			if _, err := use.ExecContext(ctx, k.Key.ID, ms(k.Key.LastUsedAt), k.Key.LastUsedIP); err != nil {
				return 0, fmt.Errorf("record last use: %w", err)
			}
		}
		n++
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	if n > 0 {
		d.announce()
	}
	return n, nil
}

func (d *DB) importPostgres(ctx context.Context, next func() (KeyImport, bool, error)) (int, error) {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var nextErr error
	var uses [][]any // the last uses, written after the keys
	rows := pgx.CopyFromFunc(func() ([]any, error) {
		k, ok, err := next()
		if err != nil {
			nextErr = err
			return nil, err
		}
		if !ok {
			return nil, nil
		}
		if !k.Key.LastUsedAt.IsZero() {
			uses = append(uses, []any{k.Key.ID, ms(k.Key.LastUsedAt), k.Key.LastUsedIP})
		}
		return importRow(k), nil
	})
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"api_keys"}, importColumns, rows)
	if nextErr != nil {
		return 0, nextErr
	}
	if err != nil {
		return 0, fmt.Errorf("copy keys: %w", err)
	}
	if len(uses) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"api_key_usage"}, []string{"key_id", "at", "ip"}, pgx.CopyFromRows(uses)); err != nil {
			return 0, fmt.Errorf("copy last uses: %w", err)
		}
	}
	if n > 0 {
		// The change log, as recordChange writes it: under its lock, so
		// that the changes' seqs commit in order. The rows this
		// transaction inserted are those whose xmin is its id: the log is
		// written from them in the database, without sending every id
		// back (ten million keys would be a quarter of a gigabyte here).
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1 || current_schema()))`, keyChangesLock); err != nil {
			return 0, fmt.Errorf("lock key changes: %w", err)
		}
		res, err := tx.Exec(ctx, `INSERT INTO api_key_changes (key_id, at)
			SELECT id, created_at FROM api_keys WHERE xmin = pg_current_xact_id()::xid`)
		if err != nil {
			return 0, fmt.Errorf("record key changes: %w", err)
		}
		if res.RowsAffected() != n {
			return 0, fmt.Errorf("record key changes: %d for %d keys", res.RowsAffected(), n)
		}
		var last int64
		if err := tx.QueryRow(ctx, `SELECT MAX(seq) FROM api_key_changes`).Scan(&last); err != nil {
			return 0, err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, d.channel, fmt.Sprint(last)); err != nil {
			return 0, fmt.Errorf("notify key change: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	if n > 0 {
		// What autovacuum would do after such a load, at once: statistics
		// for the planner, and the rows' visibility settled, so that the
		// first reader does not set the hint bits of a million fresh rows.
		// A database user that does not own the tables gets a warning, no
		// error, and the load stays as it is.
		if _, err := d.sql.ExecContext(ctx, `VACUUM (ANALYZE) api_keys, api_key_changes`); err != nil {
			return int(n), fmt.Errorf("vacuum after import: %w", err)
		}
	}
	return int(n), nil
}

// ImportEvents queues events of a workspace in one transaction, each as
// a change of its type would (enqueueEvent: a delivery to every enabled
// endpoint that subscribes to it): for loads and tests that need many
// deliveries at once. It returns how many events it stored.
func (d *DB) ImportEvents(ctx context.Context, workspaceID int64, t webhook.EventType, now time.Time, payloads [][]byte) (int, error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	for _, p := range payloads {
		if err := d.enqueueEvent(ctx, tx, workspaceID, t, now, p); err != nil {
			return 0, err
		}
	}
	return len(payloads), tx.Commit()
}

// CountDeliveries returns how many webhook deliveries are in state
// ("pending", "delivered", ...), in every workspace.
func (d *DB) CountDeliveries(ctx context.Context, state webhook.State) (int, error) {
	var n int
	err := d.sql.QueryRowContext(ctx, `SELECT count(*) FROM webhook_deliveries WHERE state = $1`, string(state)).Scan(&n)
	return n, err
}
