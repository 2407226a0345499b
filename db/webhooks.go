package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/webhook"
)

// Webhooks. An endpoint (webhooks) subscribes to events
// (webhook_subscriptions). A change that makes an event stores it
// (webhook_events) with one delivery per subscribed, enabled endpoint
// (webhook_deliveries), in the change's own transaction: an event exists
// if and only if its change committed. The deliveries are a queue that
// every server's worker (internal/delivery) claims from: on PostgreSQL
// with FOR UPDATE SKIP LOCKED, so that servers never claim the same row;
// on SQLite the claim is one UPDATE under the database's write lock. A
// claim is a lease: a server that dies mid-delivery leaves its rows to be
// claimed again once the lease ends (so a receiver may, rarely, get an
// event twice: it tells by the webhook-id header).

// CreateWebhook stores a new endpoint and records webhook.created in the
// audit log. If the workspace already has an endpoint made by the same
// form token (a form submitted twice), it stores nothing and returns that
// endpoint with created false.
func (d *DB) CreateWebhook(ctx context.Context, nw blnk.NewWebhook) (ep webhook.Endpoint, created bool, err error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return webhook.Endpoint{}, false, err
	}
	defer tx.Rollback()
	e := nw.Endpoint
	by := nullID(nw.CreatedBy)
	res, err := tx.ExecContext(ctx, `INSERT INTO webhooks (id, workspace_id, url, description, secret, created_at, created_by, create_token)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (workspace_id, create_token) DO NOTHING`,
		e.ID, e.WorkspaceID, e.URL, e.Description, nw.Secret, ms(e.CreatedAt), by, nw.CreateToken)
	if err != nil {
		return webhook.Endpoint{}, false, fmt.Errorf("insert webhook: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var id string
		if err := tx.QueryRowContext(ctx, `SELECT id FROM webhooks WHERE workspace_id = $1 AND create_token = $2`,
			e.WorkspaceID, nw.CreateToken).Scan(&id); err != nil {
			return webhook.Endpoint{}, false, err
		}
		ep, err := webhookIn(ctx, tx, e.WorkspaceID, id)
		return ep, false, err
	}
	for _, ev := range e.Events {
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_subscriptions (webhook_id, event) VALUES ($1, $2)`, e.ID, string(ev)); err != nil {
			return webhook.Endpoint{}, false, fmt.Errorf("subscribe webhook: %w", err)
		}
	}
	events := make([]string, len(e.Events))
	for i, ev := range e.Events {
		events[i] = string(ev)
	}
	if err := recordEvent(ctx, tx, audit.Event{
		WorkspaceID: e.WorkspaceID, At: e.CreatedAt, Action: audit.WebhookCreated, Actor: nw.Actor,
		Details: map[string]any{"webhook_id": e.ID, "url": e.URL, "events": events, "description": e.Description},
	}); err != nil {
		return webhook.Endpoint{}, false, err
	}
	if ep, err = webhookIn(ctx, tx, e.WorkspaceID, e.ID); err != nil {
		return webhook.Endpoint{}, false, err
	}
	return ep, true, tx.Commit()
}

const webhookColumns = `w.id, w.workspace_id, w.url, w.description, w.created_at, COALESCE(u.email, ''), w.disabled_at
	FROM webhooks w LEFT JOIN users u ON u.id = w.created_by`

func scanWebhook(row scanner) (webhook.Endpoint, error) {
	var e webhook.Endpoint
	var created int64
	var disabled sql.NullInt64
	err := row.Scan(&e.ID, &e.WorkspaceID, &e.URL, &e.Description, &created, &e.CreatedBy, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return webhook.Endpoint{}, blnk.ErrNotFound
	}
	e.CreatedAt, e.DisabledAt = time.UnixMilli(created).UTC(), fromMS(disabled)
	return e, err
}

// webhookIn reads one of a workspace's endpoints with q.
func webhookIn(ctx context.Context, q querier, workspaceID int64, id string) (webhook.Endpoint, error) {
	e, err := scanWebhook(q.QueryRowContext(ctx, `SELECT `+webhookColumns+` WHERE w.workspace_id = $1 AND w.id = $2`, workspaceID, id))
	if err != nil {
		return webhook.Endpoint{}, err
	}
	rows, err := q.QueryContext(ctx, `SELECT event FROM webhook_subscriptions WHERE webhook_id = $1`, id)
	if err != nil {
		return webhook.Endpoint{}, err
	}
	defer rows.Close()
	subs := map[webhook.EventType]bool{}
	for rows.Next() {
		var ev string
		if err := rows.Scan(&ev); err != nil {
			return webhook.Endpoint{}, err
		}
		subs[webhook.EventType(ev)] = true
	}
	e.Events = orderedEvents(subs)
	return e, rows.Err()
}

// orderedEvents lists the events of a set in the order forms show them.
func orderedEvents(set map[webhook.EventType]bool) []webhook.EventType {
	var out []webhook.EventType
	for _, info := range webhook.Events() {
		if set[info.Type] {
			out = append(out, info.Type)
		}
	}
	return out
}

// beginWebhookChange begins a transaction that changes one of a
// workspace's endpoints, and reads it there.
func (d *DB) beginWebhookChange(ctx context.Context, workspaceID int64, id string) (*sql.Tx, webhook.Endpoint, error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return nil, webhook.Endpoint{}, err
	}
	e, err := webhookIn(ctx, tx, workspaceID, id)
	if err != nil {
		tx.Rollback()
		return nil, webhook.Endpoint{}, err
	}
	return tx, e, nil
}

// Webhook returns one of a workspace's endpoints; another workspace's is
// ErrNotFound.
func (d *DB) Webhook(ctx context.Context, workspaceID int64, id string) (webhook.Endpoint, error) {
	return webhookIn(ctx, d.sql, workspaceID, id)
}

// Webhooks lists a workspace's endpoints, oldest first.
func (d *DB) Webhooks(ctx context.Context, workspaceID int64) ([]webhook.Endpoint, error) {
	out, err := collect(ctx, d.sql, scanWebhook, `SELECT `+webhookColumns+` WHERE w.workspace_id = $1 ORDER BY w.created_at, w.id`, workspaceID)
	if err != nil {
		return nil, err
	}
	at := make(map[string]int, len(out))
	for i, e := range out {
		at[e.ID] = i
	}
	subs, err := d.sql.QueryContext(ctx, `SELECT s.webhook_id, s.event FROM webhook_subscriptions s
		JOIN webhooks w ON w.id = s.webhook_id WHERE w.workspace_id = $1`, workspaceID)
	if err != nil {
		return nil, err
	}
	defer subs.Close()
	sets := make([]map[webhook.EventType]bool, len(out))
	for subs.Next() {
		var id, ev string
		if err := subs.Scan(&id, &ev); err != nil {
			return nil, err
		}
		if i, ok := at[id]; ok {
			if sets[i] == nil {
				sets[i] = map[webhook.EventType]bool{}
			}
			sets[i][webhook.EventType(ev)] = true
		}
	}
	for i := range out {
		out[i].Events = orderedEvents(sets[i])
	}
	return out, subs.Err()
}

// TakeWebhookSecret returns an endpoint's signing secret the first time it
// is asked for, and "" every time after: the secret is shown once.
func (d *DB) TakeWebhookSecret(ctx context.Context, workspaceID int64, id string, now time.Time) (string, error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `UPDATE webhooks SET secret_shown_at = $1 WHERE workspace_id = $2 AND id = $3 AND secret_shown_at IS NULL`,
		ms(now), workspaceID, id)
	if err != nil {
		return "", err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return "", nil
	}
	var secret string
	if err := tx.QueryRowContext(ctx, `SELECT secret FROM webhooks WHERE id = $1`, id).Scan(&secret); err != nil {
		return "", err
	}
	return secret, tx.Commit()
}

// SetWebhookEnabled enables or disables one of a workspace's endpoints,
// and records webhook.enabled or webhook.disabled in the audit log (the
// key.leaked alerts must not go quiet without a trace). A disabled
// endpoint gets no new deliveries, and its pending ones wait. An endpoint
// already so is left alone, and nothing is recorded.
func (d *DB) SetWebhookEnabled(ctx context.Context, workspaceID int64, id string, enabled bool, by audit.Actor, now time.Time) error {
	tx, e, err := d.beginWebhookChange(ctx, workspaceID, id)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	q := `UPDATE webhooks SET disabled_at = $1 WHERE workspace_id = $2 AND id = $3 AND disabled_at IS NULL`
	arg, action := sql.NullInt64{Int64: ms(now), Valid: true}, audit.WebhookDisabled
	if enabled {
		q = `UPDATE webhooks SET disabled_at = $1 WHERE workspace_id = $2 AND id = $3 AND disabled_at IS NOT NULL`
		arg, action = sql.NullInt64{}, audit.WebhookEnabled
	}
	res, err := tx.ExecContext(ctx, q, arg, workspaceID, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // enabled or disabled already
	}
	if err := recordEvent(ctx, tx, audit.Event{
		WorkspaceID: workspaceID, At: now, Action: action, Actor: by,
		Details: map[string]any{"webhook_id": e.ID, "url": e.URL},
	}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if enabled {
		d.wakeDeliveries()
	}
	return nil
}

// DeleteWebhook deletes one of a workspace's endpoints with its
// deliveries, and records webhook.deleted in the audit log.
func (d *DB) DeleteWebhook(ctx context.Context, workspaceID int64, id string, by audit.Actor, now time.Time) (webhook.Endpoint, error) {
	tx, e, err := d.beginWebhookChange(ctx, workspaceID, id)
	if err != nil {
		return webhook.Endpoint{}, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE workspace_id = $1 AND id = $2`, workspaceID, id); err != nil {
		return webhook.Endpoint{}, err
	}
	if err := recordEvent(ctx, tx, audit.Event{
		WorkspaceID: workspaceID, At: now, Action: audit.WebhookDeleted, Actor: by,
		Details: map[string]any{"webhook_id": e.ID, "url": e.URL},
	}); err != nil {
		return webhook.Endpoint{}, err
	}
	return e, tx.Commit()
}

// enqueueEvent stores an event of a workspace inside tx, the transaction
// of the change it tells of, with a delivery to each enabled endpoint of
// the workspace that subscribes to it. Without any, it stores nothing.
func (d *DB) enqueueEvent(ctx context.Context, tx *sql.Tx, workspaceID int64, t webhook.EventType, now time.Time, payload []byte) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM webhooks w JOIN webhook_subscriptions s ON s.webhook_id = w.id
		WHERE w.workspace_id = $1 AND w.disabled_at IS NULL AND s.event = $2`, workspaceID, string(t)).Scan(&n); err != nil {
		return fmt.Errorf("find webhooks for %s: %w", t, err)
	}
	if n == 0 {
		return nil
	}
	id := webhook.NewMessageID()
	if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_events (id, workspace_id, type, payload, created_at) VALUES ($1, $2, $3, $4, $5)`,
		id, workspaceID, string(t), string(payload), ms(now)); err != nil {
		return fmt.Errorf("store event %s: %w", t, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (webhook_id, event_id, created_at, deadline_at, state, next_attempt_at)
		SELECT w.id, $1, $2, $3, 'pending', $2 FROM webhooks w JOIN webhook_subscriptions s ON s.webhook_id = w.id
		WHERE w.workspace_id = $4 AND w.disabled_at IS NULL AND s.event = $5`,
		id, ms(now), ms(now.Add(webhook.Lifetime)), workspaceID, string(t)); err != nil {
		return fmt.Errorf("queue event %s: %w", t, err)
	}
	return nil
}

// enqueueKeyEvent stores the event t of key k, with details, in the
// transaction of its change (see enqueueEvent); actor is who did it.
func (d *DB) enqueueKeyEvent(ctx context.Context, tx *sql.Tx, t webhook.EventType, now time.Time, k apikey.Key, actor string, details map[string]any) error {
	return d.enqueueEvent(ctx, tx, k.WorkspaceID, t, now, webhook.KeyEvent(t, now, k, actor, details))
}

// SendTestEvent queues a test event to one of a workspace's endpoints,
// whatever it subscribes to, and records webhook.tested in the audit log.
// A disabled endpoint is ErrDisabled.
func (d *DB) SendTestEvent(ctx context.Context, workspaceID int64, id string, by audit.Actor, now time.Time) error {
	tx, e, err := d.beginWebhookChange(ctx, workspaceID, id)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if !e.Enabled() {
		return blnk.ErrDisabled
	}
	msg := webhook.NewMessageID()
	payload := webhook.Payload{Type: webhook.Test, Timestamp: now, Data: map[string]any{
		"webhook_id": e.ID, "actor": by.Name(), "message": "A test event from Blnk Cloud: this endpoint receives webhooks.",
	}}.Encode()
	if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_events (id, workspace_id, type, payload, created_at) VALUES ($1, $2, $3, $4, $5)`,
		msg, workspaceID, string(webhook.Test), string(payload), ms(now)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (webhook_id, event_id, created_at, deadline_at, state, next_attempt_at)
		VALUES ($1, $2, $3, $4, 'pending', $3)`, e.ID, msg, ms(now), ms(now.Add(webhook.Lifetime))); err != nil {
		return err
	}
	if err := recordEvent(ctx, tx, audit.Event{
		WorkspaceID: workspaceID, At: now, Action: audit.WebhookTested, Actor: by,
		Details: map[string]any{"webhook_id": e.ID, "url": e.URL, "event_id": msg},
	}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	d.wakeDeliveries()
	return nil
}

const deliveryColumns = `d.id, d.webhook_id, d.event_id, e.type, d.created_at, d.state, d.attempts, d.next_attempt_at,
	d.last_attempt_at, d.last_status, d.last_error, d.last_duration_ms, d.last_response, d.delivered_at
	FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id JOIN webhooks w ON w.id = d.webhook_id`

func scanDelivery(row scanner) (webhook.Delivery, error) {
	var dl webhook.Delivery
	var event, state string
	var created int64
	var next, last, status, took, delivered sql.NullInt64
	err := row.Scan(&dl.ID, &dl.WebhookID, &dl.EventID, &event, &created, &state, &dl.Attempts, &next,
		&last, &status, &dl.LastError, &took, &dl.LastResponse, &delivered)
	if err != nil {
		return webhook.Delivery{}, notFound(err)
	}
	dl.Event, dl.State = webhook.EventType(event), webhook.State(state)
	dl.CreatedAt = time.UnixMilli(created).UTC()
	dl.NextAttempt, dl.LastAttempt, dl.DeliveredAt = fromMS(next), fromMS(last), fromMS(delivered)
	dl.LastStatus = int(status.Int64)
	dl.LastDuration = time.Duration(took.Int64) * time.Millisecond
	return dl, nil
}

// WebhookDeliveries returns the latest n deliveries to one of a
// workspace's endpoints, newest first.
func (d *DB) WebhookDeliveries(ctx context.Context, workspaceID int64, id string, n int) ([]webhook.Delivery, error) {
	return collect(ctx, d.sql, scanDelivery, `SELECT `+deliveryColumns+`
		WHERE w.workspace_id = $1 AND d.webhook_id = $2 ORDER BY d.id DESC LIMIT $3`, workspaceID, id, n)
}

// ResendDelivery queues a delivery to one of a workspace's endpoints
// again, now, with a new day of retries: the same event, with the same
// webhook-id.
func (d *DB) ResendDelivery(ctx context.Context, workspaceID int64, webhookID string, deliveryID int64, now time.Time) error {
	res, err := d.sql.ExecContext(ctx, `UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $1, deadline_at = $2
		WHERE id = $3 AND webhook_id = $4 AND webhook_id IN (SELECT id FROM webhooks WHERE workspace_id = $5)`,
		ms(now), ms(now.Add(webhook.Lifetime)), deliveryID, webhookID, workspaceID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return blnk.ErrNotFound
	}
	d.wakeDeliveries()
	return nil
}

// ClaimDeliveries claims up to limit deliveries due at now for server by,
// for lease: no other server claims them meanwhile.
func (d *DB) ClaimDeliveries(ctx context.Context, by string, now time.Time, lease time.Duration, limit int) ([]blnk.Job, error) {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	claim := by + "/" + webhook.NewMessageID()[4:]
	lock := ""
	if d.kind == Postgres {
		// Rows another server is claiming right now are skipped, not
		// waited for: each server takes different rows at once.
		lock = " FOR UPDATE OF d SKIP LOCKED"
	}
	res, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET claimed_by = $1, claimed_until = $2
		WHERE id IN (SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
			WHERE d.next_attempt_at <= $3 AND (d.claimed_until IS NULL OR d.claimed_until < $3) AND w.disabled_at IS NULL
			ORDER BY d.next_attempt_at, d.id LIMIT $4`+lock+`)`,
		claim, ms(now.Add(lease)), ms(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, nil
	}
	jobs, err := collect(ctx, tx, func(row scanner) (blnk.Job, error) {
		j := blnk.Job{Claim: claim}
		var event, payload string
		var deadline int64
		if err := row.Scan(&j.ID, &j.WebhookID, &j.URL, &j.Secret, &j.EventID, &event, &payload, &j.Attempts, &deadline); err != nil {
			return blnk.Job{}, err
		}
		j.Event, j.Payload, j.Deadline = webhook.EventType(event), []byte(payload), time.UnixMilli(deadline).UTC()
		return j, nil
	}, `SELECT d.id, d.webhook_id, w.url, w.secret, d.event_id, e.type, e.payload, d.attempts, d.deadline_at
		FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id JOIN webhook_events e ON e.id = d.event_id
		WHERE d.claimed_by = $1 ORDER BY d.next_attempt_at, d.id`, claim)
	if err != nil {
		return nil, err
	}
	return jobs, tx.Commit()
}

// ReleaseDeliveries gives back the claims of deliveries not sent, so that
// another server (or this one, restarted) sends them at once.
func (d *DB) ReleaseDeliveries(ctx context.Context, jobs []blnk.Job) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, j := range jobs {
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET claimed_by = NULL, claimed_until = NULL
			WHERE id = $1 AND claimed_by = $2`, j.ID, j.Claim); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// RecordAttempts records attempts in one transaction and releases their
// claims.
func (d *DB) RecordAttempts(ctx context.Context, attempts []blnk.Attempt) error {
	if len(attempts) == 0 {
		return nil
	}
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, last_attempt_at = $1,
		last_status = $2, last_error = $3, last_duration_ms = $4, last_response = $5, state = $6, next_attempt_at = $7,
		delivered_at = $8, claimed_by = NULL, claimed_until = NULL
		WHERE id = $9 AND claimed_by = $10`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, a := range attempts {
		state, next, delivered := webhook.Failed, sql.NullInt64{}, sql.NullInt64{}
		switch {
		case a.Delivered:
			state, delivered = webhook.Delivered, nullMS(a.At)
		case !a.Next.IsZero():
			state, next = webhook.Pending, nullMS(a.Next)
		}
		status := sql.NullInt64{Int64: int64(a.Status), Valid: a.Status != 0}
		if _, err := stmt.ExecContext(ctx, ms(a.At), status, clip(a.Err, 500), a.Duration.Milliseconds(),
			clip(a.Response, webhook.MaxResponse), string(state), next, delivered, a.ID, a.Claim); err != nil {
			return fmt.Errorf("record attempt of delivery %d: %w", a.ID, err)
		}
	}
	return tx.Commit()
}

// clip cuts s to at most n bytes of text both databases store: valid
// UTF-8, no NUL.
func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	for len(s) > n { // a replacement character may have made it longer
		s = strings.ToValidUTF8(s[:len(s)-1], "")
	}
	return s
}

// DeliveriesQueued receives soon after this process queued a delivery
// (other processes' are found by polling).
func (d *DB) DeliveriesQueued() <-chan struct{} { return d.queued }

func (d *DB) wakeDeliveries() {
	select {
	case d.queued <- struct{}{}:
	default:
	}
}

// PruneWebhookEvents deletes the events made before before, with their
// deliveries (long delivered or given up by then).
func (d *DB) PruneWebhookEvents(ctx context.Context, before time.Time) (int64, error) {
	res, err := d.sql.ExecContext(ctx, `DELETE FROM webhook_events WHERE created_at < $1`, ms(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
