package e2e

import (
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// TestUsageScreenshotsForTheREADME draws the usage of a key with a month
// of traffic (stored as the servers' flushes would have), in both themes,
// into artifacts/readme-usage*.png; e2e/screenshots/ holds the copies the
// README shows.
func TestUsageScreenshotsForTheREADME(t *testing.T) {
	t.Parallel()
	a := startApp(t, "--trusted-proxies", "127.0.0.1")
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	now := time.Now().UTC()
	token, id := storeKey(t, a, "Payments gateway", []string{"proxy:read"}, now.Add(-60*24*time.Hour), time.Time{})

	// A month of calls: busier on weekdays and in working hours, a few
	// refused, a burst of refusals from an address not allowed.
	var u blnk.Usage
	start := now.Truncate(time.Hour).Add(-29 * 24 * time.Hour)
	for h := start; h.Before(now.Truncate(time.Hour)); h = h.Add(time.Hour) {
		base := 40.0
		if wd := h.Weekday(); wd == time.Saturday || wd == time.Sunday {
			base = 12
		}
		c := blnk.Counts{Accepted: int64(base * (1.2 + math.Sin(float64(h.Hour()-6)*math.Pi/12)))}
		if h.Hour()%7 == 0 {
			c.Scope = 2
		}
		if h.Sub(start) > 20*24*time.Hour && h.Sub(start) < 20*24*time.Hour+3*time.Hour {
			c.Address = 90
		}
		u.Hours = append(u.Hours, blnk.HourCount{KeyID: id, Hour: h, Counts: c})
	}
	for i, ip := range []string{"203.0.113.10", "203.0.113.11", "198.51.100.23", "2001:db8:42::7"} {
		u.Addresses = append(u.Addresses, blnk.Use{KeyID: id, IP: ip, At: now.Add(-time.Duration(i*i) * 37 * time.Minute)})
	}
	store, err := db.Open(context.Background(), a.DB)
	must(t, err)
	must(t, store.RecordUsage(context.Background(), u))
	store.Close()
	for range 5 {
		call(t, a, "/api/v1/whoami", "Authorization", token)
	}

	for _, s := range []struct {
		name string
		o    pageOptions
	}{
		{"readme-usage", pageOptions{width: 1280}},
		{"readme-usage-dark", pageOptions{width: 1280, dark: true}},
	} {
		page := newPage(t, a, s.o)
		signIn(t, page, "ada@acme.test", "correct horse battery")
		must(t, exactRole(page, "link", "Payments gateway").Click())
		usage := page.GetByRole("region", playwright.PageGetByRoleOptions{Name: "Usage"})
		must(t, expect.Locator(usage).ToBeVisible())
		must(t, expect.Locator(usage.Locator(".usage-reasons")).ToContainText("from an address not allowed"))
		if _, err := usage.Screenshot(playwright.LocatorScreenshotOptions{
			Path:       playwright.String(filepath.Join(artifacts, s.name+".png")),
			Animations: playwright.ScreenshotAnimationsDisabled,
		}); err != nil {
			t.Errorf("screenshot %s: %v", s.name, err)
		}
	}
}
