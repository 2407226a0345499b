package web_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
)

// TestLastUsedIsAccepted: "Last used" is the last accepted call. A key
// whose every call its allowlist refuses shows "Never used", in the list
// and the panel, and the panel shows its last refused call apart: when,
// from where and why; before and after the usage is flushed.
func TestLastUsedIsAccepted(t *testing.T) {
	ts, c := newSignedIn(t, serverOpts{})
	k := c.createKey(withAllowlist("Locked out", "203.0.113.0/24"))
	for range 3 {
		if r := c.api("/api/v1/whoami", k.Token, fromAddr("198.51.100.1:1000")); r.Code != http.StatusForbidden {
			t.Fatalf("call from outside the allowlist: %d, want 403", r.Code)
		}
	}
	ts.clock.Advance(5 * time.Minute)

	check := func(when string) {
		t.Helper()
		list := c.get("/settings/api-keys")
		if got := cellText(t, list.Body, k.ID, "Last used"); got != "Never" {
			t.Errorf("%s: list Last used = %q, want Never", when, got)
		}
		d := parse(t, c.get("/settings/api-keys/"+k.ID, htmx()).Body)
		if got := detail(d, "Last used"); got != "Never used" {
			t.Errorf("%s: panel Last used = %q, want Never used", when, got)
		}
		if got, want := detail(d, "Last refused"), "5 minutes ago from 198.51.100.1 · Address not on the allowlist"; got != want {
			t.Errorf("%s: panel Last refused = %q, want %q", when, got, want)
		}
		tm := d.Find(".last-refused time")
		if dt, _ := tm.Attr("datetime"); dt != "2026-03-10T12:00:00Z" {
			t.Errorf("%s: Last refused datetime = %q, want 2026-03-10T12:00:00Z", when, dt)
		}
		if title, _ := tm.Attr("title"); title != "Mar 10, 2026 12:00:00 UTC" {
			t.Errorf("%s: Last refused title = %q, want the exact time", when, title)
		}
		if got := htmlcheck.Text(d.Find("section.usage p.muted").Last()); got != "No accepted calls yet." {
			t.Errorf("%s: recent addresses say %q, want No accepted calls yet.", when, got)
		}
		if n := d.Find("table.addresses tbody tr").Length(); n != 0 {
			t.Errorf("%s: %d recent client addresses, want none: no call was accepted", when, n)
		}
	}
	check("in memory")
	if err := ts.auth.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	check("flushed")

	// An accepted call is the last use; the refusal stays as it was.
	if r := c.api("/api/v1/whoami", k.Token, fromAddr("203.0.113.9:1000")); r.Code != http.StatusOK {
		t.Fatalf("call from the allowlist: %d, want 200", r.Code)
	}
	d := parse(t, c.get("/settings/api-keys/"+k.ID, htmx()).Body)
	if got, want := detail(d, "Last used"), "just now from 203.0.113.9"; got != want {
		t.Errorf("after an accepted call: Last used = %q, want %q", got, want)
	}
	if got, want := detail(d, "Last refused"), "5 minutes ago from 198.51.100.1 · Address not on the allowlist"; got != want {
		t.Errorf("after an accepted call: Last refused = %q, want %q", got, want)
	}

	// A key never refused has no such line.
	open := c.create("Open key")
	if got := parse(t, c.get("/settings/api-keys/"+open.ID, htmx()).Body).Find(".last-refused").Length(); got != 0 {
		t.Errorf("a key never refused shows %d Last refused lines, want 0", got)
	}
}
