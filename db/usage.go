package db

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// Usage. A server counts calls in memory (internal/keyauth) and writes
// them here in batches: the last use of each key (api_key_usage), the
// addresses each key was used from (api_key_addresses) and the calls per
// key per hour (api_key_usage_hours), and the last refused call of each
// key (api_key_refusals: never a use). Every write is an upsert that keeps
// the newest time or adds the counts, so several servers writing the same
// keys add up, in any order. Rows older than the retention are deleted
// (PruneUsage): the chart shows 30 days, and hours before that are gone.

// upsertRows is how many rows one INSERT of a batch writes: a few
// statements for thousands of rows instead of a statement (on PostgreSQL a
// round trip) each, well below both databases' limits on parameters. On
// SQLite these generated statements use ? placeholders: modernc's driver
// binds $N by name, a lookup per parameter that made a statement of 1,750
// of them ten times slower than the same rows one by one.
const upsertRows = 250

// RecordUsage writes a batch of usage in one transaction.
func (d *DB) RecordUsage(ctx context.Context, u blnk.Usage) error {
	uses, addrs, hours := latestUses(u.Uses, false), latestUses(u.Addresses, true), sumHours(u.Hours)
	refusals := latestRefusals(u.Refusals)
	if len(uses)+len(addrs)+len(hours)+len(refusals) == 0 {
		return nil
	}
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Rows are written sorted, one order for every writer: two servers
	// writing the same keys in opposite orders would deadlock on
	// PostgreSQL's row locks.
	err = d.upsert(ctx, tx, `INSERT INTO api_key_usage (key_id, at, ip) VALUES `,
		` ON CONFLICT (key_id) DO UPDATE SET at = excluded.at, ip = excluded.ip WHERE excluded.at > api_key_usage.at`,
		3, len(uses), func(i int) []any { return []any{uses[i].KeyID, ms(uses[i].At), uses[i].IP} })
	if err != nil {
		return fmt.Errorf("record last uses: %w", err)
	}
	err = d.upsert(ctx, tx, `INSERT INTO api_key_addresses (key_id, ip, last_at) VALUES `,
		` ON CONFLICT (key_id, ip) DO UPDATE SET last_at = excluded.last_at WHERE excluded.last_at > api_key_addresses.last_at`,
		3, len(addrs), func(i int) []any { return []any{addrs[i].KeyID, addrs[i].IP, ms(addrs[i].At)} })
	if err != nil {
		return fmt.Errorf("record addresses: %w", err)
	}
	err = d.upsert(ctx, tx, `INSERT INTO api_key_usage_hours (key_id, hour, accepted, refused_revoked, refused_expired, refused_scope, refused_address) VALUES `,
		` ON CONFLICT (key_id, hour) DO UPDATE SET
			accepted = api_key_usage_hours.accepted + excluded.accepted,
			refused_revoked = api_key_usage_hours.refused_revoked + excluded.refused_revoked,
			refused_expired = api_key_usage_hours.refused_expired + excluded.refused_expired,
			refused_scope = api_key_usage_hours.refused_scope + excluded.refused_scope,
			refused_address = api_key_usage_hours.refused_address + excluded.refused_address`,
		7, len(hours), func(i int) []any {
			h := hours[i]
			return []any{h.KeyID, ms(h.Hour), h.Accepted, h.Revoked, h.Expired, h.Scope, h.Address}
		})
	if err != nil {
		return fmt.Errorf("record hourly counts: %w", err)
	}
	err = d.upsert(ctx, tx, `INSERT INTO api_key_refusals (key_id, at, ip, reason) VALUES `,
		` ON CONFLICT (key_id) DO UPDATE SET at = excluded.at, ip = excluded.ip, reason = excluded.reason WHERE excluded.at > api_key_refusals.at`,
		4, len(refusals), func(i int) []any {
			r := refusals[i]
			return []any{r.KeyID, ms(r.At), r.IP, string(r.Reason)}
		})
	if err != nil {
		return fmt.Errorf("record refused calls: %w", err)
	}
	return tx.Commit()
}

// writeValues writes the tuples of rows rows of cols arguments each to
// b, "($1, $2), ($3, $4)", the placeholder of the nth argument being
// placeholder(n).
func writeValues(b *strings.Builder, rows, cols int, placeholder func(n int) string) {
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteString(placeholder(r*cols + c + 1))
		}
		b.WriteByte(')')
	}
}

// dollar is the placeholder of the nth argument, as both dialects take
// it.
func dollar(n int) string { return "$" + strconv.Itoa(n) }

// upsert writes n rows of cols values each: head, then "($1, $2...)"
// (or "(?, ?...)" on SQLite) for each row, then tail. See upsertRows.
func (d *DB) upsert(ctx context.Context, tx *sql.Tx, head, tail string, cols, n int, row func(i int) []any) error {
	if n == 0 {
		return nil
	}
	per := upsertRows
	placeholder := dollar
	if d.kind == SQLite {
		placeholder = func(int) string { return "?" }
	}
	values := func(rows int) string {
		var q strings.Builder
		q.WriteString(head)
		writeValues(&q, rows, cols, placeholder)
		q.WriteString(tail)
		return q.String()
	}
	full, err := tx.PrepareContext(ctx, values(min(per, n)))
	if err != nil {
		return err
	}
	defer full.Close()
	for start := 0; start < n; start += per {
		end := min(n, start+per)
		args := make([]any, 0, (end-start)*cols)
		for i := start; i < end; i++ {
			args = append(args, row(i)...)
		}
		if end-start == min(per, n) {
			_, err = full.ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, values(end-start), args...) // the last, shorter batch
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// latestUses keeps the newest use of each key (or of each key and
// address, byIP), sorted: one INSERT cannot update a row twice.
func latestUses(uses []blnk.Use, byIP bool) []blnk.Use {
	type k struct{ id, ip string }
	latest := make(map[k]blnk.Use, len(uses))
	for _, u := range uses {
		key := k{u.KeyID, ""}
		if byIP {
			key.ip = u.IP
		}
		if old, ok := latest[key]; !ok || u.At.After(old.At) {
			latest[key] = u
		}
	}
	out := make([]blnk.Use, 0, len(latest))
	for _, u := range latest {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b blnk.Use) int {
		return cmp.Or(strings.Compare(a.KeyID, b.KeyID), strings.Compare(a.IP, b.IP))
	})
	return out
}

// latestRefusals keeps the newest refusal of each key, sorted by key.
func latestRefusals(rs []blnk.Refusal) []blnk.Refusal {
	latest := make(map[string]blnk.Refusal, len(rs))
	for _, r := range rs {
		if old, ok := latest[r.KeyID]; !ok || r.At.After(old.At) {
			latest[r.KeyID] = r
		}
	}
	out := make([]blnk.Refusal, 0, len(latest))
	for _, r := range latest {
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b blnk.Refusal) int { return strings.Compare(a.KeyID, b.KeyID) })
	return out
}

// LastRefused returns the last refused call to key id that was written,
// and false if there was none.
func (d *DB) LastRefused(ctx context.Context, id string) (blnk.Refusal, bool, error) {
	r := blnk.Refusal{KeyID: id}
	var at int64
	var reason string
	err := d.sql.QueryRowContext(ctx, `SELECT at, ip, reason FROM api_key_refusals WHERE key_id = $1`, id).Scan(&at, &r.IP, &reason)
	if errors.Is(err, sql.ErrNoRows) {
		return blnk.Refusal{}, false, nil
	}
	if err != nil {
		return blnk.Refusal{}, false, err
	}
	r.At, r.Reason = time.UnixMilli(at).UTC(), blnk.RefusalReason(reason)
	return r, true, nil
}

// sumHours adds up the counts of the same key and hour, sorted.
func sumHours(hours []blnk.HourCount) []blnk.HourCount {
	type k struct {
		id   string
		hour int64
	}
	sum := make(map[k]blnk.Counts, len(hours))
	for _, h := range hours {
		key := k{h.KeyID, ms(h.Hour)}
		c := sum[key]
		c.Add(h.Counts)
		sum[key] = c
	}
	out := make([]blnk.HourCount, 0, len(sum))
	for key, c := range sum {
		out = append(out, blnk.HourCount{KeyID: key.id, Hour: time.UnixMilli(key.hour).UTC(), Counts: c})
	}
	slices.SortFunc(out, func(a, b blnk.HourCount) int {
		return cmp.Or(strings.Compare(a.KeyID, b.KeyID), a.Hour.Compare(b.Hour))
	})
	return out
}

// KeyUsage returns the calls to key id per hour, for the hours from since
// on that had any, oldest first.
func (d *DB) KeyUsage(ctx context.Context, id string, since time.Time) ([]blnk.HourCount, error) {
	return collect(ctx, d.sql, func(row scanner) (blnk.HourCount, error) {
		h := blnk.HourCount{KeyID: id}
		var hour int64
		err := row.Scan(&hour, &h.Accepted, &h.Revoked, &h.Expired, &h.Scope, &h.Address)
		h.Hour = time.UnixMilli(hour).UTC()
		return h, err
	}, `SELECT hour, accepted, refused_revoked, refused_expired, refused_scope, refused_address
		FROM api_key_usage_hours WHERE key_id = $1 AND hour >= $2 ORDER BY hour`, id, ms(since))
}

// KeyAddresses returns the n client addresses key id was used from most
// lately, newest first, with the last time of each.
func (d *DB) KeyAddresses(ctx context.Context, id string, n int) ([]blnk.Use, error) {
	return collect(ctx, d.sql, func(row scanner) (blnk.Use, error) {
		u := blnk.Use{KeyID: id}
		var at int64
		err := row.Scan(&u.IP, &at)
		u.At = time.UnixMilli(at).UTC()
		return u, err
	}, `SELECT ip, last_at FROM api_key_addresses
		WHERE key_id = $1 ORDER BY last_at DESC, ip LIMIT $2`, id, n)
}

// PruneUsage deletes the hourly counts of hours that started before
// before, and the addresses last used before it. It returns how many rows
// went.
func (d *DB) PruneUsage(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for _, q := range []string{
		`DELETE FROM api_key_usage_hours WHERE hour < $1`,
		`DELETE FROM api_key_addresses WHERE last_at < $1`,
	} {
		res, err := d.sql.ExecContext(ctx, q, ms(before))
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}
