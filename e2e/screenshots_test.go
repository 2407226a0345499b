package e2e

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
)

// TestScreenshotsForTheREADME draws the keys page of a workspace in use,
// on a desktop in both themes and on a phone, into
// artifacts/readme-*.png; e2e/screenshots/ holds the copies the README
// shows (refresh them by hand after a change of look).
func TestScreenshotsForTheREADME(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	now := time.Now()
	day := 24 * time.Hour
	prod, _ := storeKey(t, a, "Production API Key", []string{"*"}, now.Add(-41*day), time.Time{})
	storeKey(t, a, "Alerts Integration", []string{"data:read"}, now.Add(-12*day), now.Add(78*day).Truncate(day))
	storeKey(t, a, "MCP agent (Claude Desktop)", []string{"mcp:read", "mcp:write"}, now.Add(-3*day), now.Add(27*day).Truncate(day))
	_, old := storeKey(t, a, "Old CI runner", []string{"proxy:write"}, now.Add(-95*day), time.Time{})
	revokeStoredKey(t, a, old, now.Add(-2*day))
	addExpiredKey(t, a, "Staging (2025)")
	storeKey(t, a, "Ledger sync for the EU region, nightly batch", []string{"data:read", "data:write", "proxy:read"}, now.Add(-1*day), now.Add(6*day).Truncate(day))
	// One key in use: its last use shows.
	waitUntil(t, 5*time.Second, func() bool {
		status, _ := call(t, a, "/api/v1/whoami", "Authorization", prod)
		return status == 200
	})

	for _, s := range []struct {
		name string
		o    pageOptions
	}{
		{"readme-keys-list", pageOptions{width: 1280}},
		{"readme-keys-list-dark", pageOptions{width: 1280, dark: true}},
		{"readme-keys-list-phone", pageOptions{mobile: true}},
	} {
		page := newPage(t, a, s.o)
		if s.o.width != 0 {
			must(t, page.SetViewportSize(s.o.width, 800))
		}
		signIn(t, page, "ada@acme.test", "correct horse battery")
		must(t, expect.Locator(keyRow(page, "Production API Key").Locator("td[data-label='Last used']")).ToHaveText("just now"))
		if _, err := page.Screenshot(playwright.PageScreenshotOptions{
			Path:       playwright.String(filepath.Join(artifacts, s.name+".png")),
			Animations: playwright.ScreenshotAnimationsDisabled,
		}); err != nil {
			t.Errorf("screenshot %s: %v", s.name, err)
		}
	}
}

// waitUntil polls ok until it holds, and fails the test after d.
func waitUntil(t *testing.T, d time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("not so after %v", d)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAuditLogScreenshot draws the audit log of a workspace in use, one
// edit's details open, into artifacts/readme-audit-log.png (the README's
// e2e/screenshots/audit-log.png is a copy).
func TestAuditLogScreenshot(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	now := time.Now()
	day := 24 * time.Hour
	_, prod := storeKey(t, a, "Production API Key", []string{"*"}, now.Add(-41*day), time.Time{})
	_, ci := storeKey(t, a, "Old CI runner", []string{"proxy:write"}, now.Add(-95*day), time.Time{})
	_, stg := storeKey(t, a, "Staging (2025)", []string{"data:read"}, now.Add(-60*day), time.Time{})
	store, login := openAsAdmin(t, a)
	defer store.Close()
	ctx := context.Background()
	key := func(id string) apikey.Key {
		k, err := store.Key(ctx, login.Workspace.ID, id)
		must(t, err)
		return k
	}
	ada := audit.Actor{UserID: login.User.ID, Email: "ada@acme.test", Kind: audit.User, IP: "203.0.113.7"}
	grace := audit.Actor{Email: "grace.hopper@acme.test", Kind: audit.User, IP: "198.51.100.24"}
	p, c, s := key(prod), key(ci), key(stg)
	for _, ev := range []audit.Event{
		{At: now.Add(-26 * time.Hour), Action: audit.KeyExpired, Actor: audit.Actor{Kind: audit.System}, KeyID: s.ID, KeyPrefix: s.Prefix,
			Details: map[string]any{"expired_at": now.Add(-26 * time.Hour).UTC().Format(time.RFC3339)}},
		{At: now.Add(-5 * time.Hour), Action: audit.WebhookCreated, Actor: grace,
			Details: map[string]any{"webhook_id": "wh_3k9x", "url": "https://hooks.acme.test/blnk", "events": []any{"key.leaked", "key.expiring"}}},
		{At: now.Add(-3 * time.Hour), Action: audit.UserSignInFailed, Actor: audit.Actor{Email: "grace.hopper@acme.test", Kind: audit.User, IP: "192.0.2.55"},
			Details: map[string]any{"reason": "wrong password"}},
		{At: now.Add(-2 * time.Hour), Action: audit.KeyLeaked, Actor: audit.Actor{Kind: audit.LeakReport, IP: "140.82.115.4"}, KeyID: c.ID, KeyPrefix: c.Prefix,
			Details: map[string]any{"url": "https://gist.github.com/someone/0c5a1d", "source": "GitHub secret scanning", "revoked": true}},
		{At: now.Add(-90 * time.Minute), Action: audit.KeyRevoked, Actor: ada, KeyID: c.ID, KeyPrefix: c.Prefix},
		{At: now.Add(-40 * time.Minute), Action: audit.KeyEdited, Actor: ada, KeyID: p.ID, KeyPrefix: p.Prefix,
			Details: map[string]any{"before": map[string]any{"description": "Checkout service."},
				"after": map[string]any{"description": "Checkout and refunds services, eu-west-1. Owner: payments platform team; rotate before each quarter close."}}},
		{At: now.Add(-12 * time.Minute), Action: audit.KeyRolled, Actor: ada, KeyID: p.ID, KeyPrefix: p.Prefix,
			Details: map[string]any{"rolled_into": map[string]any{"id": "key_new", "prefix": "blnk_7f3e21ab"}, "overlap": "24h",
				"before": map[string]any{"expires_at": nil}, "after": map[string]any{"expires_at": now.Add(24*time.Hour - 12*time.Minute).UTC().Format(time.RFC3339)}}},
		{At: now.Add(-3 * time.Minute), Action: audit.KeyRevealed, Actor: ada, KeyID: p.ID, KeyPrefix: p.Prefix},
	} {
		ev.WorkspaceID = login.Workspace.ID
		must(t, store.RecordEvent(ctx, ev))
	}
	for _, s := range []struct {
		name string
		o    pageOptions
	}{
		{"readme-audit-log", pageOptions{width: 1280}},
		{"readme-audit-log-phone", pageOptions{mobile: true, dark: true}},
	} {
		page := newPage(t, a, s.o)
		signIn(t, page, "ada@acme.test", "correct horse battery")
		goTo(t, page, "/settings/audit-log")
		edited := page.Locator(".audit-event").Filter(playwright.LocatorFilterOptions{HasText: "edited key"})
		must(t, edited.Locator("summary").Click())
		must(t, expect.Locator(edited.Locator(".now")).ToBeVisible())
		must(t, page.Mouse().Move(0, 0))
		_, err := page.Evaluate("window.scrollTo(0, 0)")
		must(t, err)
		if s.o.width != 0 {
			must(t, page.SetViewportSize(s.o.width, 1160)) // the whole log
		}
		if _, err := page.Screenshot(playwright.PageScreenshotOptions{
			Path:       playwright.String(filepath.Join(artifacts, s.name+".png")),
			Animations: playwright.ScreenshotAnimationsDisabled,
		}); err != nil {
			t.Errorf("screenshot %s: %v", s.name, err)
		}
	}
}
