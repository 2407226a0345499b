package db

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// Servers. Each running server keeps a row here: who it is, where it
// listens, the last key change it has applied to its memory, when it last
// said so (a heartbeat), and its lease: until when it may answer API
// calls from its memory, in Unix ms of the database's clock, so that the
// servers' clocks never need to agree. A revoke waits until every server
// has applied it or its lease has run out (internal/keys).
//
// The lease is renewed by compare-and-swap: a heartbeat renews it only
// while the row still holds the value the server last got back, and a
// revoke that found a lease run out changes that value (FenceLapsed)
// before it answers. So a server that was paused after a read, or whose
// heartbeat was lost, cannot extend a lease from a view the revoke gave up
// on: its heartbeat claims a new value instead, and only a read made after
// that claim can renew. The stored lease never moves back (GREATEST).

// nowMS is the database's clock in Unix ms, in SQL.
func (d *DB) nowMS() string {
	if d.kind == Postgres {
		return `(extract(epoch from clock_timestamp()) * 1000)::bigint`
	}
	return `CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)`
}

// greatest is SQL's GREATEST of two expressions (SQLite's is max).
func (d *DB) greatest(a, b string) string {
	if d.kind == Postgres {
		return `GREATEST(` + a + `, ` + b + `)`
	}
	return `max(` + a + `, ` + b + `)`
}

// Heartbeat records that server hb.ServerID is alive and has applied the
// key changes up to hb.Applied, and renews its lease to hb.Renew from the
// database's now if the stored lease is still hb.Held. Otherwise (no row,
// a lease changed by a revoke, or hb.Held 0) it claims the row without
// renewing: the Lease it returns says which, and what to hold next.
func (d *DB) Heartbeat(ctx context.Context, hb blnk.Heartbeat) (blnk.Lease, error) {
	renew := max(hb.Renew, 0).Milliseconds() + 1 // rounded up: the stored lease never ends before the server's
	if hb.Held != 0 {
		var until int64
		err := d.sql.QueryRowContext(ctx, `UPDATE servers SET seen_at = $1, applied_seq = $2,
			lease_until = `+d.greatest(`lease_until`, d.nowMS()+` + $3`)+`
			WHERE id = $4 AND lease_until = $5 RETURNING lease_until`,
			ms(hb.At), hb.Applied, renew, hb.ServerID, hb.Held).Scan(&until)
		switch {
		case err == nil:
			return blnk.Lease{Held: until, Renewed: true}, nil
		case !errors.Is(err, sql.ErrNoRows):
			return blnk.Lease{}, err
		}
	}
	var until int64
	err := d.sql.QueryRowContext(ctx, `
		INSERT INTO servers (id, address, started_at, seen_at, applied_seq, lease_until) VALUES ($1, $2, $3, $4, $5, `+d.nowMS()+`)
		ON CONFLICT (id) DO UPDATE SET address = excluded.address, seen_at = excluded.seen_at,
			applied_seq = excluded.applied_seq, lease_until = `+d.greatest(`servers.lease_until`, `excluded.lease_until`)+`
		RETURNING lease_until`,
		hb.ServerID, hb.Address, ms(hb.Started), ms(hb.At), hb.Applied).Scan(&until)
	if err != nil {
		return blnk.Lease{}, err
	}
	return blnk.Lease{Held: until}, nil
}

// ServersSeenSince returns the servers whose last heartbeat is at or after
// since, and those whose lease has not run out.
func (d *DB) ServersSeenSince(ctx context.Context, since time.Time) ([]blnk.Server, error) {
	return collect(ctx, d.sql, func(row scanner) (blnk.Server, error) {
		var s blnk.Server
		var started, seen, left int64
		err := row.Scan(&s.ID, &s.Address, &started, &seen, &s.Applied, &left)
		s.Started, s.Seen = time.UnixMilli(started).UTC(), time.UnixMilli(seen).UTC()
		s.LeaseLeft = time.Duration(left) * time.Millisecond
		return s, err
	}, `SELECT id, address, started_at, seen_at, applied_seq, lease_until - n.now
		FROM servers, (SELECT `+d.nowMS()+` AS now) n
		WHERE seen_at >= $1 OR lease_until >= n.now ORDER BY started_at, id`, ms(since))
}

// FenceLapsed marks the leases of the servers that have not applied key
// change seq and whose lease ran out more than margin ago as given up on,
// and returns their ids: none of them can renew its lease from a view
// without that change (see Heartbeat). A revoke calls it before it
// counts a server as no longer trusting its memory.
func (d *DB) FenceLapsed(ctx context.Context, seq int64, margin time.Duration) ([]string, error) {
	return d.strings(ctx, `UPDATE servers SET lease_until = lease_until + 1
		WHERE applied_seq < $1 AND lease_until < `+d.nowMS()+` - $2 RETURNING id`, seq, margin.Milliseconds())
}

// RemoveServer deletes a stopping server's row, so that no revoke waits
// for it, and the rows of servers not seen since before stale.
func (d *DB) RemoveServer(ctx context.Context, id string, stale time.Time) error {
	_, err := d.sql.ExecContext(ctx, `DELETE FROM servers WHERE id = $1 OR seen_at < $2`, id, ms(stale))
	return err
}
