package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"github.com/blnk-cloud/apikeys/db"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// toastOnTop checks that the toast saying text is visible and is what a
// click at its centre would hit: above any open dialog or panel, not
// behind it (a modal dialog makes the rest of the page inert).
func toastOnTop(t *testing.T, page playwright.Page, text string) {
	t.Helper()
	toast := page.Locator(".toast").Filter(playwright.LocatorFilterOptions{HasText: text})
	must(t, expect.Locator(toast).ToBeVisible())
	onTop, err := toast.Evaluate(`t => {
		const r = t.getBoundingClientRect();
		const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
		return hit === t || t.contains(hit);
	}`, nil)
	must(t, err)
	if onTop != true {
		open, _ := page.Evaluate(`Array.from(document.querySelectorAll("dialog[open]")).map(d => d.className).join(", ")`)
		t.Errorf("toast %q is not on top (open dialogs: %v)", text, open)
	}
}

// checkCounts compares the list's status tabs and expiring banner with
// the database's counts, now.
func checkCounts(t *testing.T, page playwright.Page, a *app, when string) {
	t.Helper()
	store, login := openAsAdmin(t, a)
	c, err := store.CountKeys(context.Background(), login.Workspace.ID, blnk.ListQuery{Now: time.Now()})
	store.Close()
	must(t, err)
	for id, n := range map[string]int{"all": c.All, "active": c.Active, "expiring": c.Expiring, "rolled": c.Rolled, "revoked": c.Revoked, "expired": c.Expired} {
		tab := page.Locator("#status-tab-" + id + " .tab-count")
		if shown, err := tab.Count(); err != nil || shown == 0 {
			if n != 0 {
				t.Errorf("%s: no %s tab, the database has %d", when, id, n)
			}
			continue
		}
		if err := expect.Locator(tab).ToHaveText(fmt.Sprint(n)); err != nil {
			t.Errorf("%s: %s tab: %v (database: %d)", when, id, err, n)
		}
	}
	banner := page.Locator("#expiring-banner:not([hidden])")
	if c.Expiring == 0 {
		must(t, expect.Locator(banner).ToHaveCount(0))
	} else {
		must(t, expect.Locator(banner).ToContainText(fmt.Sprint(c.Expiring)))
	}
}

// TestToastOnTopAndCountsCurrent: every action in the panel answers with
// a toast above the panel and any dialog, and the list's counts equal
// the database's after each action (revoke, edit, roll, create).
func TestToastOnTopAndCountsCurrent(t *testing.T) {
	t.Parallel()
	a, page := signedIn(t, pageOptions{})
	now := time.Now()
	storeKeys(t, a, []seedKey{
		{name: "Expiring soon", scopes: []string{"*"}, expires: now.Add(3 * 24 * time.Hour)},
		{name: "Nightly export", scopes: []string{"data:read"}},
		{name: "Old key", scopes: []string{"data:read"}, revoked: true},
	})
	goTo(t, page, "/settings/api-keys")
	checkCounts(t, page, a, "at first")

	// Revoke in the panel: the toast is above the panel, the tabs and
	// the banner change without a reload.
	_, err := page.Evaluate("window.__noReload = true")
	must(t, err)
	panel := panelOf(t, page, "Expiring soon")
	must(t, panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Revoke Key"}).Click())
	confirm := page.GetByRole("alertdialog")
	must(t, confirm.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Revoke Key"}).Click())
	must(t, expect.Locator(confirm).ToHaveCount(0))
	must(t, expect.Locator(panel).ToBeVisible())
	toastOnTop(t, page, "API key revoked.")
	shot(t, page, "toast-over-panel")
	checkCounts(t, page, a, "after the revoke, panel open")

	// Any toast shown while a dialog is open over the panel is above it.
	must(t, page.Keyboard().Press("Escape"))
	must(t, expect.Locator(panel).ToHaveCount(0))
	panel = panelOf(t, page, "Nightly export")
	must(t, panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Roll key"}).Click())
	roll := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Roll “Nightly export”"})
	must(t, expect.Locator(roll).ToBeVisible())
	_, err = page.Evaluate(`document.dispatchEvent(new CustomEvent("toast", {detail: {value: "A notice over the dialog."}}))`)
	must(t, err)
	toastOnTop(t, page, "A notice over the dialog.")
	shot(t, page, "toast-over-dialog")

	// Roll: the new key's page, then the list, current.
	must(t, roll.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Roll key"}).Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/reveal$`)))
	must(t, role(page, "link", "Done").Click())
	checkCounts(t, page, a, "after the roll")

	// Edit in the panel: its toast on top, the counts still right.
	_, err = page.Evaluate("window.__noReload = true")
	must(t, err)
	panel = panelOf(t, page, "Old key")
	must(t, panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Edit", Exact: playwright.Bool(true)}).Click())
	must(t, panel.GetByLabel("Name", playwright.LocatorGetByLabelOptions{Exact: playwright.Bool(true)}).Fill("Old key, retired"))
	must(t, panel.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Save changes"}).Click())
	toastOnTop(t, page, "Changes saved.")
	checkCounts(t, page, a, "after the edit")
	if still, err := page.Evaluate("window.__noReload === true"); err != nil || still != true {
		t.Errorf("the page reloaded during the panel's actions")
	}
	must(t, page.Keyboard().Press("Escape"))

	// Create: the reveal page, then the list, current.
	createKey(t, page, uniq("Fresh key"), []string{"data:read"}, "30 days", "")
	must(t, role(page, "link", "Done").Click())
	checkCounts(t, page, a, "after the create")
}

// TestUsageChartValues: the chart's days say their numbers on hover and
// on keyboard focus (one Tab stop, arrow keys), the refused row shows a
// day of few refused calls among many accepted ones, and the panel has
// no axe-core violation, light and dark, desktop and phone.
func TestUsageChartValues(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	now := time.Now().UTC()
	_, id := storeKey(t, a, "Payments gateway", []string{"proxy:read"}, now.Add(-60*24*time.Hour), now.Add(89*24*time.Hour))
	// 30 days of about 3,700 accepted calls; 541 refused in all, 3 on one day.
	today := now.Truncate(24 * time.Hour)
	var u blnk.Usage
	for i := range 30 {
		day := today.AddDate(0, 0, -i)
		c := blnk.Counts{Accepted: 3600 + int64(i*7)}
		switch i {
		case 2:
			c.Scope = 3
		case 9:
			c.Address = 538
		}
		u.Hours = append(u.Hours, blnk.HourCount{KeyID: id, Hour: day.Add(9 * time.Hour), Counts: c})
	}
	store, err := db.Open(context.Background(), a.DB)
	must(t, err)
	must(t, store.RecordUsage(context.Background(), u))
	store.Close()

	page := newPage(t, a, pageOptions{})
	signIn(t, page, "ada@acme.test", "correct horse battery")
	panel := panelOf(t, page, "Payments gateway")
	usage := panel.GetByRole("region", playwright.LocatorGetByRoleOptions{Name: "Usage"})
	must(t, usage.ScrollIntoViewIfNeeded())
	readout := usage.Locator(".chart-readout")
	must(t, expect.Locator(readout).ToContainText("Busiest day: "))
	must(t, expect.Locator(usage.Locator(".chart-y").First()).ToHaveText(regexp.MustCompile(`^\s*4k\s*2k\s*0\s*$`)))

	days := usage.Locator(".chart-day")
	dayLabel := func(i int) string {
		d := today.AddDate(0, 0, -29+i)
		c := u.Hours[29-i].Counts
		return fmt.Sprintf("%s: %s accepted, %d refused.", d.Format("Jan 2, 2006"), thousands(c.Accepted), c.Refused())
	}
	// Hover: the day's numbers.
	must(t, days.Nth(20).Hover())
	must(t, expect.Locator(readout).ToHaveText(dayLabel(20)))
	shot(t, page, "usage-chart-hover")
	// Keyboard: one Tab stop (today), arrows move.
	must(t, page.Mouse().Move(0, 0))
	must(t, days.Last().Focus())
	must(t, expect.Locator(readout).ToHaveText(dayLabel(29)))
	must(t, page.Keyboard().Press("ArrowLeft"))
	must(t, page.Keyboard().Press("ArrowLeft"))
	must(t, expect.Locator(days.Nth(27)).ToBeFocused())
	must(t, expect.Locator(readout).ToHaveText(dayLabel(27)))
	if n, err := usage.Locator(`.chart-day[tabindex="0"]`).Count(); err != nil || n != 1 {
		t.Errorf("%d days in the Tab order, want 1", n)
	}
	// 3 refused calls among 3,600 accepted: a bar one can see.
	box, err := usage.Locator("svg.chart-refused .bar-refused").Nth(27).BoundingBox()
	must(t, err)
	if box == nil || box.Height < 3 {
		t.Errorf("the day of 3 refused calls has a refused bar of %v px", box)
	}

	for _, o := range []pageOptions{{axe: true}, {axe: true, dark: true}, {axe: true, mobile: true}, {axe: true, mobile: true, dark: true}} {
		p := newPage(t, a, o)
		signIn(t, p, "ada@acme.test", "correct horse battery")
		pn := panelOf(t, p, "Payments gateway")
		must(t, pn.GetByRole("region", playwright.LocatorGetByRoleOptions{Name: "Usage"}).ScrollIntoViewIfNeeded())
		what := fmt.Sprintf("details panel (dark %v, phone %v)", o.dark, o.mobile)
		checkA11y(t, p, what)
		must(t, pn.Locator(".chart-day").Last().Focus())
		checkA11y(t, p, what+", a day focused")
		name := "usage-panel-axe"
		if o.mobile {
			name += "-phone"
		}
		if o.dark {
			name += "-dark"
		}
		shot(t, p, name)
	}
}

// thousands writes n with commas, as the pages do.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
