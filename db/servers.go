package db

import (
	"context"
	"time"

	"github.com/blnk-cloud/apikeys/internal/keyauth"
)

// Servers. Each running server keeps a row here: who it is, where it
// listens, the last key change it has applied to its memory, and when it
// last confirmed that with the database (a heartbeat). A revoke waits
// until every server seen alive lately has applied it (internal/keys).

// Heartbeat records that server hb.ID is alive and has applied the key
// changes up to hb.Applied.
func (d *DB) Heartbeat(ctx context.Context, hb keyauth.Heartbeat) error {
	_, err := d.sql.ExecContext(ctx, `
		INSERT INTO servers (id, address, started_at, seen_at, applied_seq) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET address = excluded.address, seen_at = excluded.seen_at,
			applied_seq = excluded.applied_seq`,
		hb.ServerID, hb.Address, ms(hb.Started), ms(hb.At), hb.Applied)
	return err
}

// Server is a running (or lately running) server as its heartbeats say.
type Server struct {
	ID      string
	Address string
	Started time.Time
	Seen    time.Time
	Applied int64
}

// ServersSeenSince returns the servers whose last heartbeat is at or after
// since.
func (d *DB) ServersSeenSince(ctx context.Context, since time.Time) ([]Server, error) {
	rows, err := d.sql.QueryContext(ctx, `SELECT id, address, started_at, seen_at, applied_seq FROM servers
		WHERE seen_at >= $1 ORDER BY started_at, id`, ms(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Server
	for rows.Next() {
		var s Server
		var started, seen int64
		if err := rows.Scan(&s.ID, &s.Address, &started, &seen, &s.Applied); err != nil {
			return nil, err
		}
		s.Started, s.Seen = time.UnixMilli(started).UTC(), time.UnixMilli(seen).UTC()
		out = append(out, s)
	}
	return out, rows.Err()
}

// RemoveServer deletes a stopping server's row, so that no revoke waits
// for it, and the rows of servers not seen since before stale.
func (d *DB) RemoveServer(ctx context.Context, id string, stale time.Time) error {
	_, err := d.sql.ExecContext(ctx, `DELETE FROM servers WHERE id = $1 OR seen_at < $2`, id, ms(stale))
	return err
}
