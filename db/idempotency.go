package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// StartIdempotent claims r for the caller, who is then the one server to
// run it, and returns started true with the row it holds. Each step is one
// statement, atomic on both engines, so that servers racing for one key
// agree on a single winner:
//  1. insert a running row if there is none;
//  2. take over an expired row (created before expiredBefore), whatever
//     it held;
//  3. take over a row of the same request still running since before
//     staleBefore (its server crashed).
//
// Otherwise it returns the row as it is (done, running, or another
// request's), with started false.
func (d *DB) StartIdempotent(ctx context.Context, r blnk.IdempotentRequest, now, staleBefore, expiredBefore time.Time) (blnk.IdempotencyRecord, bool, error) {
	mine := blnk.IdempotencyRecord{IdempotentRequest: r, State: blnk.IdempotencyRunning, CreatedAt: now, StartedAt: now}
	for range 3 {
		res, err := d.sql.ExecContext(ctx, `INSERT INTO idempotency_keys (token_id, idem_key, request_hash, state, created_at, started_at)
			VALUES ($1, $2, $3, 'running', $4, $4) ON CONFLICT (token_id, idem_key) DO NOTHING`, r.TokenID, r.Key, r.Hash, ms(now))
		if ok, err := one(res, err); err != nil || ok {
			return mine, ok, err
		}
		res, err = d.sql.ExecContext(ctx, `UPDATE idempotency_keys
			SET request_hash = $3, state = 'running', status = 0, header = '', body = NULL, created_at = $4, started_at = $4
			WHERE token_id = $1 AND idem_key = $2 AND created_at < $5`, r.TokenID, r.Key, r.Hash, ms(now), ms(expiredBefore))
		if ok, err := one(res, err); err != nil || ok {
			return mine, ok, err
		}
		var created int64
		err = d.sql.QueryRowContext(ctx, `UPDATE idempotency_keys SET started_at = $4
			WHERE token_id = $1 AND idem_key = $2 AND request_hash = $3 AND state = 'running' AND started_at < $5
			RETURNING created_at`, r.TokenID, r.Key, r.Hash, ms(now), ms(staleBefore)).Scan(&created)
		switch {
		case err == nil:
			mine.CreatedAt = time.UnixMilli(created)
			return mine, true, nil
		case !errors.Is(err, sql.ErrNoRows):
			return blnk.IdempotencyRecord{}, false, err
		}
		rec, err := d.idempotent(ctx, r.TokenID, r.Key)
		if errors.Is(err, blnk.ErrNotFound) {
			continue // released meanwhile: try again
		}
		return rec, false, err
	}
	return blnk.IdempotencyRecord{}, false, fmt.Errorf("idempotency key: the row kept changing")
}

// one reports whether an Exec changed exactly one row.
func one(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// idempotent reads a kept request.
func (d *DB) idempotent(ctx context.Context, tokenID int64, key string) (blnk.IdempotencyRecord, error) {
	rec := blnk.IdempotencyRecord{IdempotentRequest: blnk.IdempotentRequest{TokenID: tokenID, Key: key}}
	var header string
	var created, started int64
	err := d.sql.QueryRowContext(ctx, `SELECT request_hash, state, status, header, body, created_at, started_at
		FROM idempotency_keys WHERE token_id = $1 AND idem_key = $2`, tokenID, key).
		Scan(&rec.Hash, &rec.State, &rec.Response.Status, &header, &rec.Response.Body, &created, &started)
	if err != nil {
		return rec, notFound(err)
	}
	rec.CreatedAt, rec.StartedAt = time.UnixMilli(created), time.UnixMilli(started)
	if header != "" {
		if err := json.Unmarshal([]byte(header), &rec.Response.Header); err != nil {
			return rec, fmt.Errorf("idempotency key: stored headers: %w", err)
		}
	}
	return rec, nil
}

// FinishIdempotent stores the answer of a request the caller started
// (rec as StartIdempotent returned it). It returns false, storing
// nothing, if another server took the request over meanwhile.
func (d *DB) FinishIdempotent(ctx context.Context, rec blnk.IdempotencyRecord, resp blnk.StoredResponse) (bool, error) {
	header, err := json.Marshal(resp.Header)
	if err != nil {
		return false, err
	}
	res, err := d.sql.ExecContext(ctx, `UPDATE idempotency_keys SET state = 'done', status = $3, header = $4, body = $5
		WHERE token_id = $1 AND idem_key = $2 AND state = 'running' AND started_at = $6`,
		rec.TokenID, rec.Key, resp.Status, string(header), resp.Body, ms(rec.StartedAt))
	return one(res, err)
}

// ReleaseIdempotent deletes the row of a request the caller started and
// could not answer (a failure of ours), so that a retry runs it again.
func (d *DB) ReleaseIdempotent(ctx context.Context, rec blnk.IdempotencyRecord) error {
	_, err := d.sql.ExecContext(ctx, `DELETE FROM idempotency_keys
		WHERE token_id = $1 AND idem_key = $2 AND state = 'running' AND started_at = $3`, rec.TokenID, rec.Key, ms(rec.StartedAt))
	return err
}

// DeleteIdempotentBefore deletes the kept requests created before t, and
// returns how many.
func (d *DB) DeleteIdempotentBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := d.sql.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE created_at < $1`, ms(t))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
