package db

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// recordEvent appends ev to the audit log inside tx, the transaction of
// the change it records.
func recordEvent(ctx context.Context, tx *sql.Tx, ev audit.Event) error {
	if ev.Actor.Kind == "" {
		ev.Actor.Kind = audit.System // a caller that named no actor (a tool, a test): never a blank one
	}
	ws := nullID(ev.WorkspaceID)
	user := nullID(ev.Actor.UserID)
	key := nullString(ev.KeyID)
	prefix := nullString(ev.KeyPrefix)
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_events
		(workspace_id, at, action, actor, actor_kind, actor_user_id, ip, key_id, key_prefix, details, actor_via)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		ws, ms(ev.At), string(ev.Action), ev.Actor.Name(), string(ev.Actor.Kind), user, ev.Actor.IP, key, prefix, ev.DetailsJSON(), ev.Actor.Via)
	if err != nil {
		return fmt.Errorf("record audit event %s: %w", ev.Action, err)
	}
	return nil
}

// RecordEvent appends an event that goes with no other change (a failed
// sign-in) to the audit log.
func (d *DB) RecordEvent(ctx context.Context, ev audit.Event) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := recordEvent(ctx, tx, ev); err != nil {
		return err
	}
	return tx.Commit()
}

const eventColumns = `e.id, COALESCE(e.workspace_id, 0), e.at, e.action, e.actor, e.actor_kind, COALESCE(e.actor_user_id, 0),
	e.ip, COALESCE(e.key_id, ''), COALESCE(e.key_prefix, ''), e.details, e.actor_via FROM audit_events e`

// scanEvent reads eventColumns. The details are kept as stored
// (RawDetails); Details is filled in only if parse.
func scanEvent(row scanner, parse bool) (audit.Event, error) {
	var ev audit.Event
	var at int64
	var action, kind, details string
	err := row.Scan(&ev.ID, &ev.WorkspaceID, &at, &action, &ev.Actor.Email, &kind, &ev.Actor.UserID,
		&ev.Actor.IP, &ev.KeyID, &ev.KeyPrefix, &details, &ev.Actor.Via)
	if err != nil {
		return audit.Event{}, err
	}
	ev.At = time.UnixMilli(at).UTC()
	ev.Action, ev.Actor.Kind = audit.Action(action), audit.ActorKind(kind)
	if ev.Actor.Kind != audit.User {
		ev.Actor.Email = "" // the stored name is the kind: Name says it again
	}
	ev.RawDetails = json.RawMessage(details)
	if parse {
		if err := json.Unmarshal(ev.RawDetails, &ev.Details); err != nil {
			return audit.Event{}, fmt.Errorf("audit event %d: details: %w", ev.ID, err)
		}
	}
	return ev, nil
}

// AuditEvents returns up to limit events that f selects, newest first:
// the newest ones, or those just older than before, or just newer than
// after (0: not set; before wins). Pages are read by id (keyset), so any
// page costs what the first does.
func (d *DB) AuditEvents(ctx context.Context, f blnk.AuditFilter, before, after int64, limit int) (blnk.AuditPage, error) {
	where, args := auditWhere(f)
	order := "DESC"
	if before > 0 {
		args = append(args, before)
		where += " AND e.id < $" + strconv.Itoa(len(args))
	} else if after > 0 {
		args = append(args, after)
		where += " AND e.id > $" + strconv.Itoa(len(args))
		order = "ASC"
	}
	args = append(args, limit+1)
	evs, err := collect(ctx, d.sql, func(row scanner) (audit.Event, error) { return scanEvent(row, true) },
		`SELECT `+eventColumns+` WHERE `+where+` ORDER BY e.id `+order+` LIMIT $`+strconv.Itoa(len(args)), args...)
	if err != nil {
		return blnk.AuditPage{}, err
	}
	more := len(evs) > limit
	if more {
		evs = evs[:limit]
	}
	if order == "ASC" {
		slices.Reverse(evs)
	}
	p := blnk.AuditPage{Events: evs}
	if len(evs) == 0 {
		return p, nil
	}
	newest, oldest := evs[0].ID, evs[len(evs)-1].ID
	switch {
	case before > 0:
		p.Newer = newest // we came from there
		if more {
			p.Older = oldest
		}
	case after > 0:
		p.Older = oldest
		if more {
			p.Newer = newest
		}
	default:
		if more {
			p.Older = oldest
		}
	}
	return p, nil
}

// exportChunk is how many events EachAuditEvent reads per query.
const exportChunk = 1000

// EachAuditEvent calls fn for every event that f selects, newest first,
// reading exportChunk events per query (keyset by id), so that an export
// of any size holds one chunk in memory and no connection while fn
// writes. Events recorded after it began are not included. fn's error
// stops it. Details are not parsed (RawDetails).
func (d *DB) EachAuditEvent(ctx context.Context, f blnk.AuditFilter, fn func(audit.Event) error) error {
	before := int64(math.MaxInt64)
	for {
		where, args := auditWhere(f)
		args = append(args, before, exportChunk)
		n := len(args)
		chunk, err := collect(ctx, d.sql, func(row scanner) (audit.Event, error) { return scanEvent(row, false) }, `SELECT `+eventColumns+` WHERE `+where+
			` AND e.id < $`+strconv.Itoa(n-1)+` ORDER BY e.id DESC LIMIT $`+strconv.Itoa(n), args...)
		if err != nil {
			return err
		}
		for _, ev := range chunk {
			if err := fn(ev); err != nil {
				return err
			}
		}
		if len(chunk) < exportChunk {
			return nil
		}
		before = chunk[len(chunk)-1].ID
	}
}

// DeleteAuditEventsBefore deletes the events recorded before t, a batch
// at a time, and returns how many it deleted. It is what --audit-retention
// runs, and the only thing that removes events.
func (d *DB) DeleteAuditEventsBefore(ctx context.Context, t time.Time, batch int) (int64, error) {
	var total int64
	for {
		res, err := d.sql.ExecContext(ctx, `DELETE FROM audit_events WHERE id IN
			(SELECT id FROM audit_events WHERE at < $1 ORDER BY id LIMIT $2)`, ms(t), batch)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		total += n
		if err != nil || n < int64(batch) {
			return total, err
		}
	}
}

// auditWhere returns the filter's conditions, with its parameters numbered
// from $1, for the events table aliased e.
func auditWhere(f blnk.AuditFilter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if f.WorkspaceID != 0 {
		add("e.workspace_id = ?", f.WorkspaceID)
	}
	if f.Key != "" {
		if strings.HasPrefix(f.Key, "blnk_") {
			add("e.key_prefix = ?", f.Key)
		} else {
			add("e.key_id = ?", f.Key)
		}
	}
	if f.Actor != "" {
		add("e.actor = ?", f.Actor)
	}
	if f.Action != "" {
		add("e.action = ?", string(f.Action))
	}
	if !f.Since.IsZero() {
		add("e.at >= ?", ms(f.Since))
	}
	if !f.Until.IsZero() {
		add("e.at < ?", ms(f.Until))
	}
	if len(conds) == 0 {
		return "1 = 1", nil
	}
	return strings.Join(conds, " AND "), args
}

// recordEvents appends events to the audit log inside tx, as recordEvent
// does, a few hundred rows a statement.
func recordEvents(ctx context.Context, tx *sql.Tx, evs []audit.Event) error {
	const cols = 11
	for chunk := range slices.Chunk(evs, 200) {
		var b strings.Builder
		b.WriteString(`INSERT INTO audit_events
		(workspace_id, at, action, actor, actor_kind, actor_user_id, ip, key_id, key_prefix, details, actor_via) VALUES `)
		writeValues(&b, len(chunk), cols, dollar)
		args := make([]any, 0, cols*len(chunk))
		for _, ev := range chunk {
			if ev.Actor.Kind == "" {
				ev.Actor.Kind = audit.System
			}
			args = append(args,
				nullID(ev.WorkspaceID), ms(ev.At), string(ev.Action), ev.Actor.Name(),
				string(ev.Actor.Kind), nullID(ev.Actor.UserID), ev.Actor.IP,
				nullString(ev.KeyID), nullString(ev.KeyPrefix),
				ev.DetailsJSON(), ev.Actor.Via)
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("record %d audit events: %w", len(chunk), err)
		}
	}
	return nil
}
