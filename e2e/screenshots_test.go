package e2e

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"
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
