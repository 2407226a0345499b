package db

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/webhook"
)

// addWebhook stores an endpoint of workspace ws receiving events.
func addWebhook(t testing.TB, d *DB, ws int64, url string, events ...webhook.EventType) webhook.Endpoint {
	t.Helper()
	e, created, err := d.CreateWebhook(context.Background(), blnk.NewWebhook{
		Endpoint:    webhook.Endpoint{ID: webhook.NewID(), WorkspaceID: ws, URL: url, Events: events, CreatedAt: testNow},
		Secret:      webhook.NewSecret(),
		CreateToken: apikey.NewID(),
		Actor:       audit.Actor{Kind: audit.User, Email: "admin@acme.io"},
	})
	if err != nil || !created {
		t.Fatalf("CreateWebhook = %v, %v", created, err)
	}
	return e
}

// queued returns the event types queued for endpoint id, oldest first.
func queued(t testing.TB, d *DB, id string) []webhook.EventType {
	t.Helper()
	rows, err := d.sql.Query(`SELECT e.type FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
		WHERE d.webhook_id = $1 ORDER BY d.id`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []webhook.EventType
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, webhook.EventType(s))
	}
	return out
}

func equalEvents(a, b []webhook.EventType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestWebhooksOfAWorkspace(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")
	other, _ := newWorkspace(t, d, "Other", "admin@other.io")
	nw := blnk.NewWebhook{
		Endpoint: webhook.Endpoint{ID: webhook.NewID(), WorkspaceID: w.ID, URL: "https://example.com/h", Description: "alerts",
			Events: []webhook.EventType{webhook.KeyRevoked, webhook.KeyCreated}, CreatedAt: testNow},
		Secret: webhook.NewSecret(), CreatedBy: u.ID, CreateToken: "form-1",
		Actor: audit.Actor{UserID: u.ID, Email: u.Email, Kind: audit.User},
	}
	e, created, err := d.CreateWebhook(ctx, nw)
	if err != nil || !created {
		t.Fatalf("CreateWebhook = %v, %v", created, err)
	}
	if !equalEvents(e.Events, []webhook.EventType{webhook.KeyCreated, webhook.KeyRevoked}) || e.CreatedBy != u.Email || !e.Enabled() {
		t.Errorf("stored endpoint = %+v", e)
	}
	// The same form twice: one endpoint.
	again := nw
	again.Endpoint.ID = webhook.NewID()
	if e2, created, err := d.CreateWebhook(ctx, again); err != nil || created || e2.ID != e.ID {
		t.Errorf("same form token again = %v, %v, %v; want the first endpoint", e2.ID, created, err)
	}
	if n := count(t, d, "webhooks"); n != 1 {
		t.Errorf("%d endpoints stored, want 1", n)
	}
	list, err := d.Webhooks(ctx, w.ID)
	if err != nil || len(list) != 1 || list[0].ID != e.ID || len(list[0].Events) != 2 {
		t.Errorf("Webhooks = %+v, %v", list, err)
	}
	if list, _ := d.Webhooks(ctx, other.ID); len(list) != 0 {
		t.Errorf("another workspace lists %+v", list)
	}
	if _, err := d.Webhook(ctx, other.ID, e.ID); !errors.Is(err, blnk.ErrNotFound) {
		t.Errorf("Webhook from another workspace: %v, want blnk.ErrNotFound", err)
	}

	// The secret is shown once, to its own workspace.
	if s, err := d.TakeWebhookSecret(ctx, other.ID, e.ID, testNow); err != nil || s != "" {
		t.Errorf("TakeWebhookSecret from another workspace = %q, %v", s, err)
	}
	if s, err := d.TakeWebhookSecret(ctx, w.ID, e.ID, testNow); err != nil || s != nw.Secret {
		t.Errorf("first TakeWebhookSecret = %q, %v; want the secret", s, err)
	}
	if s, err := d.TakeWebhookSecret(ctx, w.ID, e.ID, testNow); err != nil || s != "" {
		t.Errorf("second TakeWebhookSecret = %q, %v; want nothing", s, err)
	}

	by := audit.Actor{UserID: u.ID, Email: u.Email, Kind: audit.User, IP: "192.0.2.7"}
	if err := d.SetWebhookEnabled(ctx, other.ID, e.ID, false, by, testNow); !errors.Is(err, blnk.ErrNotFound) {
		t.Errorf("disable from another workspace: %v", err)
	}
	if err := d.SetWebhookEnabled(ctx, w.ID, e.ID, false, by, testNow); err != nil {
		t.Fatal(err)
	}
	// Disabled again: no change, no event.
	if err := d.SetWebhookEnabled(ctx, w.ID, e.ID, false, by, testNow); err != nil {
		t.Fatal(err)
	}
	if err := d.SendTestEvent(ctx, w.ID, e.ID, by, testNow); !errors.Is(err, blnk.ErrDisabled) {
		t.Errorf("test event to a disabled endpoint: %v, want blnk.ErrDisabled", err)
	}
	if err := d.SetWebhookEnabled(ctx, w.ID, e.ID, true, by, testNow); err != nil {
		t.Fatal(err)
	}
	if err := d.SendTestEvent(ctx, other.ID, e.ID, by, testNow); !errors.Is(err, blnk.ErrNotFound) {
		t.Errorf("test event from another workspace: %v", err)
	}
	if err := d.SendTestEvent(ctx, w.ID, e.ID, by, testNow); err != nil {
		t.Fatal(err)
	}
	if got := queued(t, d, e.ID); !equalEvents(got, []webhook.EventType{webhook.Test}) {
		t.Errorf("queued = %v, want the test event", got)
	}
	dl, err := d.WebhookDeliveries(ctx, w.ID, e.ID, 10)
	if err != nil || len(dl) != 1 || dl[0].State != webhook.Pending || dl[0].Event != webhook.Test {
		t.Errorf("WebhookDeliveries = %+v, %v", dl, err)
	}
	if dl, _ := d.WebhookDeliveries(ctx, other.ID, e.ID, 10); len(dl) != 0 {
		t.Errorf("another workspace sees deliveries %+v", dl)
	}
	if err := d.ResendDelivery(ctx, other.ID, e.ID, dl[0].ID, testNow); !errors.Is(err, blnk.ErrNotFound) {
		t.Errorf("resend from another workspace: %v", err)
	}

	if _, err := d.DeleteWebhook(ctx, other.ID, e.ID, audit.Actor{Kind: audit.User}, testNow); !errors.Is(err, blnk.ErrNotFound) {
		t.Errorf("delete from another workspace: %v", err)
	}
	if _, err := d.DeleteWebhook(ctx, w.ID, e.ID, by, testNow); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"webhooks", "webhook_subscriptions", "webhook_deliveries"} {
		if n := count(t, d, table); n != 0 {
			t.Errorf("%d rows left in %s after the delete", n, table)
		}
	}
	// Every change is audited, with who, from where and which endpoint,
	// never its secret.
	var actions []string
	rows, err := d.sql.Query(`SELECT action, actor, ip, details FROM audit_events WHERE workspace_id = $1 AND action LIKE 'webhook.%' ORDER BY id`, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var a, actor, ip, details string
		if err := rows.Scan(&a, &actor, &ip, &details); err != nil {
			t.Fatal(err)
		}
		actions = append(actions, a)
		if a == "webhook.created" {
			continue // its actor is the fixture's
		}
		if actor != u.Email || ip != "192.0.2.7" || !strings.Contains(details, `"webhook_id":"`+e.ID+`"`) || !strings.Contains(details, `"url":"`+e.URL+`"`) {
			t.Errorf("%s: actor %q, ip %q, details %s; want the user, the address and the endpoint", a, actor, ip, details)
		}
		if strings.Contains(details, "whsec_") || strings.Contains(details, strings.TrimPrefix(nw.Secret, "whsec_")) {
			t.Errorf("%s holds the signing secret: %s", a, details)
		}
	}
	want := "webhook.created webhook.disabled webhook.enabled webhook.tested webhook.deleted"
	if got := strings.Join(actions, " "); got != want {
		t.Errorf("audit = %s, want %s", got, want)
	}
}

// TestEventsQueuedWithTheChange: creating and revoking a key queue their
// events to the endpoints of the key's workspace that subscribe and are
// enabled, in the change's transaction.
func TestEventsQueuedWithTheChange(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")
	other, ou := newWorkspace(t, d, "Other", "admin@other.io")
	both := addWebhook(t, d, w.ID, "https://a.example/h", webhook.KeyCreated, webhook.KeyRevoked)
	created := addWebhook(t, d, w.ID, "https://b.example/h", webhook.KeyCreated)
	off := addWebhook(t, d, w.ID, "https://c.example/h", webhook.KeyCreated, webhook.KeyRevoked)
	if err := d.SetWebhookEnabled(ctx, w.ID, off.ID, false, audit.Actor{Kind: audit.System}, testNow); err != nil {
		t.Fatal(err)
	}
	elsewhere := addWebhook(t, d, other.ID, "https://d.example/h", webhook.KeyCreated)

	nk, _ := newKey(t, w.ID, u.ID, "k", testNow)
	nk.Actor = audit.Actor{UserID: u.ID, Email: u.Email, Kind: audit.User}
	k := createKey(t, d, nk)
	if _, err := d.RevokeKey(ctx, w.ID, k.ID, audit.Actor{UserID: u.ID, Email: u.Email, Kind: audit.User}, testNow); err != nil {
		t.Fatal(err)
	}
	want := map[string][]webhook.EventType{
		both.ID:      {webhook.KeyCreated, webhook.KeyRevoked},
		created.ID:   {webhook.KeyCreated},
		off.ID:       nil,
		elsewhere.ID: nil,
	}
	for id, w := range want {
		if got := queued(t, d, id); !equalEvents(got, w) {
			t.Errorf("endpoint %s: queued %v, want %v", id, got, w)
		}
	}
	// One event per change, shared by its deliveries (one webhook-id).
	if n := count(t, d, "webhook_events"); n != 2 {
		t.Errorf("%d events stored, want 2", n)
	}
	var payload string
	if err := d.sql.QueryRow(`SELECT payload FROM webhook_events WHERE type = 'key.created'`).Scan(&payload); err != nil {
		t.Fatal(err)
	}
	var p struct {
		Type string `json:"type"`
		Data struct {
			Actor string         `json:"actor"`
			Key   map[string]any `json:"key"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(payload), &p); err != nil {
		t.Fatal(err)
	}
	if p.Type != "key.created" || p.Data.Key["id"] != k.ID || p.Data.Key["prefix"] != k.Prefix || p.Data.Actor != u.Email {
		t.Errorf("payload = %s", payload)
	}
	// A workspace without subscribers stores no event.
	before := count(t, d, "webhook_events")
	nk, _ = newKey(t, other.ID, ou.ID, "k", testNow)
	ok := createKey(t, d, nk)
	if _, err := d.RevokeKey(ctx, other.ID, ok.ID, audit.Actor{Kind: audit.CommandLine}, testNow); err != nil {
		t.Fatal(err)
	}
	if got := count(t, d, "webhook_events"); got != before+1 { // key.created only: revoked has no subscriber there
		t.Errorf("events after a change with one subscriber and one with none: %d, want %d", got, before+1)
	}
}

// TestClaimDeliveries: due deliveries are claimed once, by one claimer,
// until their claim ends or the attempt is recorded.
func TestClaimDeliveries(t *testing.T) {
	ctx := context.Background()
	d, dsn := openTestDB(t)
	w, _ := newWorkspace(t, d, "Acme", "admin@acme.io")
	e := addWebhook(t, d, w.ID, "https://a.example/h", webhook.KeyCreated)
	const n = 40
	for range n {
		if err := d.SendTestEvent(ctx, w.ID, e.ID, audit.Actor{Kind: audit.System}, testNow); err != nil {
			t.Fatal(err)
		}
	}
	if jobs, err := d.ClaimDeliveries(ctx, "s", testNow.Add(-time.Second), time.Minute, 100); err != nil || len(jobs) != 0 {
		t.Fatalf("claim before they are due = %d, %v; want none", len(jobs), err)
	}

	// Four servers claim at once, each on its own connections: every
	// delivery goes to exactly one.
	claimers := []*DB{d, openExtra(t, dsn), openExtra(t, dsn), openExtra(t, dsn)}
	var mu sync.Mutex
	owner := map[int64]int{}
	var wg sync.WaitGroup
	for i, c := range claimers {
		wg.Go(func() {
			for {
				jobs, err := c.ClaimDeliveries(ctx, "server", testNow, time.Minute, 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(jobs) == 0 {
					return
				}
				mu.Lock()
				for _, j := range jobs {
					if prev, dup := owner[j.ID]; dup {
						t.Errorf("delivery %d claimed by %d and %d", j.ID, prev, i)
					}
					owner[j.ID] = i
					if j.URL != e.URL || j.Event != webhook.Test || len(j.Payload) == 0 || j.Secret == "" {
						t.Errorf("job = %+v", j)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(owner) != n {
		t.Fatalf("%d deliveries claimed, want %d", len(owner), n)
	}
	// Claimed: not claimed again before the claim ends ...
	if jobs, _ := d.ClaimDeliveries(ctx, "late", testNow.Add(30*time.Second), time.Minute, 100); len(jobs) != 0 {
		t.Errorf("%d claimed again within the claim", len(jobs))
	}
	// ... and again after (a server died holding them).
	jobs, err := d.ClaimDeliveries(ctx, "late", testNow.Add(2*time.Minute), time.Minute, 100)
	if err != nil || len(jobs) != n {
		t.Fatalf("claim after the claims ended = %d, %v; want %d", len(jobs), err, n)
	}
	// The server that died records nothing now: its claim is not the
	// current one.
	stale := blnk.Attempt{ID: jobs[0].ID, Claim: "server/old", At: testNow, Delivered: true}
	if err := d.RecordAttempts(ctx, []blnk.Attempt{stale}); err != nil {
		t.Fatal(err)
	}
	var attempts []blnk.Attempt
	for i, j := range jobs {
		a := blnk.Attempt{ID: j.ID, Claim: j.Claim, At: testNow.Add(2 * time.Minute), Duration: 12 * time.Millisecond}
		switch i % 3 {
		case 0:
			a.Status, a.Delivered, a.Response = 204, true, ""
		case 1:
			a.Status, a.Response, a.Next = 500, string(make([]byte, 5000)), testNow.Add(3*time.Minute)
		case 2:
			a.Err = "timed out"
		}
		attempts = append(attempts, a)
	}
	if err := d.RecordAttempts(ctx, attempts); err != nil {
		t.Fatal(err)
	}
	dls, err := d.WebhookDeliveries(ctx, w.ID, e.ID, 100)
	if err != nil {
		t.Fatal(err)
	}
	states := map[webhook.State]int{}
	for _, dl := range dls {
		states[dl.State]++
		if dl.Attempts != 1 {
			t.Errorf("delivery %d: %d attempts recorded, want 1", dl.ID, dl.Attempts)
		}
		if len(dl.LastResponse) > webhook.MaxResponse {
			t.Errorf("delivery %d keeps %d bytes of response", dl.ID, len(dl.LastResponse))
		}
		if dl.State == webhook.Pending && (dl.LastStatus != 500 || !dl.NextAttempt.Equal(testNow.Add(3*time.Minute))) {
			t.Errorf("retrying delivery = %+v", dl)
		}
		if dl.State == webhook.Failed && dl.LastError != "timed out" {
			t.Errorf("failed delivery = %+v", dl)
		}
	}
	if states[webhook.Delivered] != 14 || states[webhook.Pending] != 13 || states[webhook.Failed] != 13 {
		t.Errorf("states = %v", states)
	}
	// Only the retrying ones come back, when due.
	if jobs, _ := d.ClaimDeliveries(ctx, "s", testNow.Add(3*time.Minute), time.Minute, 100); len(jobs) != 13 {
		t.Errorf("%d due for retry, want 13", len(jobs))
	}
	// A disabled endpoint's deliveries wait.
	if err := d.SetWebhookEnabled(ctx, w.ID, e.ID, false, audit.Actor{Kind: audit.System}, testNow); err != nil {
		t.Fatal(err)
	}
	if jobs, _ := d.ClaimDeliveries(ctx, "s", testNow.Add(time.Hour), time.Minute, 100); len(jobs) != 0 {
		t.Errorf("%d claimed of a disabled endpoint", len(jobs))
	}
	// Resend queues a delivered one again.
	if err := d.SetWebhookEnabled(ctx, w.ID, e.ID, true, audit.Actor{Kind: audit.System}, testNow); err != nil {
		t.Fatal(err)
	}
	var delivered int64
	for _, dl := range dls {
		if dl.State == webhook.Delivered {
			delivered = dl.ID
			break
		}
	}
	if err := d.ResendDelivery(ctx, w.ID, e.ID, delivered, testNow.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	jobs, _ = d.ClaimDeliveries(ctx, "s", testNow.Add(2*time.Hour), time.Minute, 100)
	found := false
	for _, j := range jobs {
		found = found || j.ID == delivered
	}
	if !found {
		t.Errorf("the resent delivery was not claimed")
	}
}

// openExtra opens the database of dsn once more, as another server.
func openExtra(t testing.TB, dsn string) *DB {
	t.Helper()
	d, err := Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestReportLeak(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")
	hook := addWebhook(t, d, w.ID, "https://a.example/h", webhook.KeyLeaked)
	nk, _ := newKey(t, w.ID, u.ID, "leaky", testNow)
	k := createKey(t, d, nk)
	by := audit.Actor{Kind: audit.LeakReport, IP: "203.0.113.5"}
	exp := apikey.Exposure{At: testNow.Add(time.Minute), URL: "https://gist.example/x", Source: "scanner"}

	if _, err := d.ReportLeak(ctx, apikey.HashOf("not a key"), exp, by); !errors.Is(err, blnk.ErrNotFound) {
		t.Errorf("unknown hash: %v, want blnk.ErrNotFound", err)
	}
	_, seqBefore := authKeys(t, d)
	l, err := d.ReportLeak(ctx, nk.Hash, exp, by)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Revoked || !l.Recorded || l.Seq <= seqBefore {
		t.Errorf("first report = %+v, want revoked and recorded with a new change", l)
	}
	got := mustKey(t, d, w.ID, k.ID)
	if !got.RevokedAt.Equal(exp.At.Truncate(time.Millisecond)) || !got.Exposed() || got.Exposure.URL != exp.URL || got.Exposure.Source != exp.Source {
		t.Errorf("key after the report = revoked %v, exposure %+v", got.RevokedAt, got.Exposure)
	}
	// Other processes learn of the revocation.
	changed, _, err := d.KeyChangesSince(ctx, seqBefore)
	if err != nil || len(changed) != 1 || changed[0].Key.RevokedAt.IsZero() {
		t.Errorf("changes after the report = %+v, %v", changed, err)
	}
	var actor, kind, details string
	if err := d.sql.QueryRow(`SELECT actor, actor_kind, details FROM audit_events WHERE action = 'key.leaked' AND key_id = $1`, k.ID).Scan(&actor, &kind, &details); err != nil {
		t.Fatalf("audit event key.leaked: %v", err)
	}
	if actor != "leak report" || kind != "leak report" {
		t.Errorf("audit actor = %q (%q)", actor, kind)
	}
	if got := queued(t, d, hook.ID); !equalEvents(got, []webhook.EventType{webhook.KeyLeaked}) {
		t.Errorf("queued = %v, want key.leaked", got)
	}
	// Reported again: nothing changes, nothing is recorded twice.
	l, err = d.ReportLeak(ctx, nk.Hash, apikey.Exposure{At: testNow.Add(time.Hour), URL: "https://other", Source: "x"}, by)
	if err != nil || l.Revoked || l.Recorded {
		t.Errorf("second report = %+v, %v", l, err)
	}
	if n := count(t, d, "webhook_deliveries"); n != 1 {
		t.Errorf("%d deliveries after two reports, want 1", n)
	}
	// A key revoked before is marked exposed, not revoked again.
	nk2, _ := newKey(t, w.ID, u.ID, "revoked first", testNow)
	k2 := createKey(t, d, nk2)
	r, err := d.RevokeKey(ctx, w.ID, k2.ID, audit.Actor{UserID: u.ID, Kind: audit.User}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	l, err = d.ReportLeak(ctx, nk2.Hash, exp, by)
	if err != nil || l.Revoked || !l.Recorded {
		t.Errorf("report of a revoked key = %+v, %v; want recorded, not revoked", l, err)
	}
	if got := mustKey(t, d, w.ID, k2.ID); !got.RevokedAt.Equal(r.Key.RevokedAt) || !got.Exposed() {
		t.Errorf("revoked key after the report = %+v", got)
	}
}

func TestNotices(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")
	hook := addWebhook(t, d, w.ID, "https://a.example/h", webhook.KeyExpiring, webhook.KeyExpired)
	add := func(name string, expires time.Duration) apikey.Key {
		nk, _ := newKey(t, w.ID, u.ID, name, testNow.Add(-60*24*time.Hour))
		nk.Key.ExpiresAt = testNow.Add(expires)
		return createKey(t, d, nk)
	}
	in10d := add("in 10 days", 10*24*time.Hour)
	in5d := add("in 5 days", 5*24*time.Hour)
	in12h := add("in 12 hours", 12*time.Hour)
	ago := add("expired an hour ago", -time.Hour)
	revoked := add("revoked, in 2 days", 2*24*time.Hour)
	never, _ := newKey(t, w.ID, u.ID, "never", testNow)
	createKey(t, d, never)
	if _, err := d.RevokeKey(ctx, w.ID, revoked.ID, audit.Actor{Kind: audit.CommandLine}, testNow); err != nil {
		t.Fatal(err)
	}
	// A rolled key's end is its overlap: no notice for it.
	rolledFrom := add("rolled, overlap of a day", 30*24*time.Hour)
	if _, err := d.RollKey(ctx, blnk.Roll{WorkspaceID: w.ID, ID: rolledFrom.ID, Now: testNow, Overlap: apikey.Overlap24h, FormToken: "roll-1",
		Actor: audit.Actor{Kind: audit.User}, Successor: func(old apikey.Key) (blnk.NewKey, error) {
			nk, _ := newKey(t, w.ID, u.ID, old.Name, testNow)
			return nk, nil
		}}); err != nil {
		t.Fatal(err)
	}
	due, err := d.DueNotices(ctx, testNow, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]blnk.NoticeKind{in12h.ID: blnk.Expiring1d, in5d.ID: blnk.Expiring7d}
	if len(due) != len(want) {
		t.Fatalf("due = %+v, want %v", due, want)
	}
	for _, n := range due {
		if want[n.Key.ID] != n.Kind {
			t.Errorf("key %s (%s): due %s, want %s", n.Key.ID, n.Key.Name, n.Kind, want[n.Key.ID])
		}
		first, err := d.RecordNotice(ctx, n, testNow)
		if err != nil || !first {
			t.Errorf("RecordNotice = %v, %v", first, err)
		}
		if again, err := d.RecordNotice(ctx, n, testNow); err != nil || again {
			t.Errorf("RecordNotice twice = %v, %v; want once", again, err)
		}
	}
	if due, _ := d.DueNotices(ctx, testNow, 100); len(due) != 0 {
		t.Errorf("due after recording = %+v", due)
	}
	// Four days later the 5-day key is due its 1-day notice and the
	// 10-day key its 7-day one; the expired key is the expiry sweep's,
	// with its webhook.
	later := testNow.Add(4*24*time.Hour + time.Hour)
	due, _ = d.DueNotices(ctx, later, 100)
	kinds := map[string]blnk.NoticeKind{}
	for _, n := range due {
		kinds[n.Key.ID] = n.Kind
	}
	if len(kinds) != 2 || kinds[in5d.ID] != blnk.Expiring1d || kinds[in10d.ID] != blnk.Expiring7d {
		t.Errorf("due later = %v", kinds)
	}
	expired, err := d.RecordExpiredKeys(ctx, testNow, 100)
	if err != nil || len(expired) != 1 || expired[0].ID != ago.ID {
		t.Fatalf("RecordExpiredKeys = %+v, %v", expired, err)
	}
	if got := queued(t, d, hook.ID); !equalEvents(got, []webhook.EventType{webhook.KeyExpiring, webhook.KeyExpiring, webhook.KeyExpired}) {
		t.Errorf("queued = %v", got)
	}
	var payload string
	if err := d.sql.QueryRow(`SELECT payload FROM webhook_events WHERE type = 'key.expiring' AND payload LIKE $1`, "%"+in12h.ID+"%").Scan(&payload); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(payload, `"days":1`) {
		t.Errorf("key.expiring payload = %s, want days 1", payload)
	}
}

func TestUsageStoredAndPruned(t *testing.T) {
	ctx := context.Background()
	d, _ := openTestDB(t)
	w, u := newWorkspace(t, d, "Acme", "admin@acme.io")
	nk, _ := newKey(t, w.ID, u.ID, "k", testNow)
	k := createKey(t, d, nk)
	h := testNow.Truncate(time.Hour)
	old := h.Add(-31 * 24 * time.Hour)
	write := func(u blnk.Usage) {
		t.Helper()
		if err := d.RecordUsage(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	// One batch with the same hour twice (two rolls), and a batch from
	// another server: counts add up.
	write(blnk.Usage{Hours: []blnk.HourCount{
		{KeyID: k.ID, Hour: h, Counts: blnk.Counts{Accepted: 2, Scope: 1}},
		{KeyID: k.ID, Hour: h, Counts: blnk.Counts{Accepted: 3, Revoked: 4}},
		{KeyID: k.ID, Hour: old, Counts: blnk.Counts{Accepted: 7}},
	}, Addresses: []blnk.Use{
		{KeyID: k.ID, IP: "192.0.2.1", At: testNow},
		{KeyID: k.ID, IP: "192.0.2.1", At: testNow.Add(-time.Minute)},
		{KeyID: k.ID, IP: "2001:db8::1", At: testNow.Add(time.Second)},
		{KeyID: k.ID, IP: "192.0.2.9", At: old},
	}})
	write(blnk.Usage{Hours: []blnk.HourCount{{KeyID: k.ID, Hour: h, Counts: blnk.Counts{Expired: 1, Address: 2}}},
		Addresses: []blnk.Use{{KeyID: k.ID, IP: "192.0.2.1", At: testNow.Add(-time.Hour)}}})
	hours, err := d.KeyUsage(ctx, k.ID, old)
	if err != nil {
		t.Fatal(err)
	}
	if len(hours) != 2 || hours[1].Counts != (blnk.Counts{Accepted: 5, Revoked: 4, Expired: 1, Scope: 1, Address: 2}) || hours[0].Accepted != 7 {
		t.Errorf("hours = %+v", hours)
	}
	addrs, err := d.KeyAddresses(ctx, k.ID, 2)
	if err != nil || len(addrs) != 2 || addrs[0].IP != "2001:db8::1" || addrs[1].IP != "192.0.2.1" || !addrs[1].At.Equal(testNow.Truncate(time.Millisecond)) {
		t.Errorf("addresses = %+v, %v", addrs, err)
	}
	n, err := d.PruneUsage(ctx, testNow.Add(-30*24*time.Hour))
	if err != nil || n != 2 {
		t.Errorf("PruneUsage = %d, %v; want the old hour and the old address", n, err)
	}
	if hours, _ := d.KeyUsage(ctx, k.ID, time.Time{}); len(hours) != 1 {
		t.Errorf("hours after pruning = %+v", hours)
	}
	// A batch of more rows than one INSERT holds.
	var many blnk.Usage
	for i := range 2*upsertRows + 3 {
		many.Hours = append(many.Hours, blnk.HourCount{KeyID: k.ID, Hour: h.Add(-time.Duration(i) * time.Hour), Counts: blnk.Counts{Accepted: 1}})
	}
	write(many)
	if hours, _ := d.KeyUsage(ctx, k.ID, time.Time{}); len(hours) != 2*upsertRows+3 {
		t.Errorf("%d hours after a large batch, want %d", len(hours), 2*upsertRows+3)
	}
}
