package db

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// UpdateBucket reads, changes and writes one sign-in throttle bucket in
// one transaction, so that attempts arriving at several servers at once
// are counted one after the other (throttle.Shared).
func (d *DB) UpdateBucket(ctx context.Context, key string, fn func(b blnk.Bucket, found bool) (blnk.Bucket, bool)) error {
	// SQLite's write lock, taken at BEGIN, orders these already; on
	// PostgreSQL a row that does not exist yet cannot be locked, so lock
	// the key's name.
	tx, err := d.beginLocked(ctx, "blnk throttle "+key)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var b blnk.Bucket
	var at int64
	found := true
	err = tx.QueryRowContext(ctx, `SELECT tokens, at FROM login_throttle WHERE key = $1`, key).Scan(&b.Tokens, &at)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		found = false
	case err != nil:
		return err
	default:
		b.At = time.UnixMilli(at)
	}
	nb, keep := fn(b, found)
	switch {
	case keep:
		_, err = tx.ExecContext(ctx, `INSERT INTO login_throttle (key, tokens, at) VALUES ($1, $2, $3)
			ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, at = excluded.at`, key, nb.Tokens, ms(nb.At))
	case found:
		_, err = tx.ExecContext(ctx, `DELETE FROM login_throttle WHERE key = $1`, key)
	}
	if err != nil {
		return err
	}
	return tx.Commit()
}

// DeleteBucketsBefore deletes the throttle buckets last updated before t.
func (d *DB) DeleteBucketsBefore(ctx context.Context, t time.Time) error {
	_, err := d.sql.ExecContext(ctx, `DELETE FROM login_throttle WHERE at < $1`, ms(t))
	return err
}
