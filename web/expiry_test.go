package web_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
)

// TestExpiryTimeLeft: Expires shows the last day and the time left, in the
// list and the panel, with the exact instant on hover (title, <time
// datetime>); a revoked or expired key's dates are muted and say no time
// left. The clock is the test server's.
func TestExpiryTimeLeft(t *testing.T) {
	ts, c := newSignedIn(t, serverOpts{})
	dated := func(name, day string) newKey {
		return c.createKey(url.Values{"name": {name}, "scopes": {"*"}, "expires": {"date"}, "expires_on": {day}, "form_token": {formToken()}})
	}
	live := dated("Live", "2026-06-06")    // stops at Jun 7 00:00 UTC: 88.5 days after Mar 10, 12:00
	revoked := dated("Gone", "2026-06-06") // revoked below
	soon := dated("Soon", "2026-03-11")    // expires after the clock moves
	if r := c.post("/settings/api-keys/"+revoked.ID+"/revoke", nil); r.Code != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.Code)
	}

	type want struct {
		text, left string
		muted      bool
	}
	check := func(when string, sel *goquery.Selection, w want) {
		t.Helper()
		if got := htmlcheck.Text(sel); got != w.text {
			t.Errorf("%s: Expires %q, want %q", when, got, w.text)
		}
		tm := sel.Find("time")
		if dt, _ := tm.Attr("datetime"); dt == "" {
			t.Errorf("%s: no <time datetime>", when)
		}
		if title, _ := tm.Attr("title"); title == "" {
			t.Errorf("%s: no exact time on hover", when)
		}
		if got := htmlcheck.Text(sel.Find(".time-left")); got != w.left {
			t.Errorf("%s: time left %q, want %q", when, got, w.left)
		}
		if got := tm.HasClass("muted"); got != w.muted {
			t.Errorf("%s: muted %v, want %v", when, got, w.muted)
		}
	}
	list := parse(t, c.get("/settings/api-keys").Body)
	check("list, live key", keyCell(list, live.ID, "Expires"), want{"Jun 6, 2026 · in 89 days", "· in 89 days", false})
	check("list, revoked key", keyCell(list, revoked.ID, "Expires"), want{"Jun 6, 2026", "", true})
	if title, _ := keyCell(list, live.ID, "Expires").Find("time").Attr("title"); title != "Jun 7, 2026 00:00:00 UTC" {
		t.Errorf("live key's exact expiry = %q, want Jun 7, 2026 00:00:00 UTC", title)
	}
	if dt, _ := keyCell(list, live.ID, "Expires").Find("time").Attr("datetime"); dt != "2026-06-07T00:00:00Z" {
		t.Errorf("live key's datetime = %q", dt)
	}

	panel := func(id string) *goquery.Selection {
		d := parse(t, c.get("/settings/api-keys/"+id, htmx()).Body)
		return d.Find("dt").FilterFunction(func(_ int, s *goquery.Selection) bool { return htmlcheck.Text(s) == "Expires" }).Next()
	}
	check("panel, live key", panel(live.ID), want{"Jun 6, 2026 · in 89 days (end of day, UTC)", "· in 89 days", false})
	check("panel, revoked key", panel(revoked.ID), want{"Jun 6, 2026 (end of day, UTC)", "", true})
	if n := parse(t, c.get("/settings/api-keys/"+revoked.ID, htmx()).Body).Find(".details.key-dead").Length(); n != 1 {
		t.Errorf("the revoked key's details are not marked as a dead key's (its dates muted)")
	}

	// The clock moves on: the time left follows it; a key past its expiry
	// is muted.
	ts.clock.Advance(48 * time.Hour)
	c.signIn(adminEmail, adminPassword)
	list = parse(t, c.get("/settings/api-keys").Body)
	check("list, two days later", keyCell(list, live.ID, "Expires"), want{"Jun 6, 2026 · in 87 days", "· in 87 days", false})
	check("list, expired key", keyCell(list, soon.ID, "Expires"), want{"Mar 11, 2026", "", true})
	check("panel, expired key", panel(soon.ID), want{"Mar 11, 2026 (end of day, UTC)", "", true})
}
