package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

const (
	firefoxLinux = "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"
	safariIPhone = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1"
)

// signInAs signs c in as email from the browser ua at addr.
func signInAs(t *testing.T, c *client, email, ua, addr string) {
	t.Helper()
	r := c.post("/login", url.Values{"email": {email}, "password": {adminPassword}}, header("User-Agent", ua), fromAddr(addr))
	if r.Code != http.StatusSeeOther {
		t.Fatalf("sign in: %d", r.Code)
	}
}

// TestSessionsList: the person sees each of their sessions with its
// browser, address and times, the current one marked and without a
// sign-out; signing one out ends it at once, with session.revoked.
func TestSessionsList(t *testing.T) {
	ts, owner := newSignedIn(t, serverOpts{})
	laptop, phone := ts.client(), ts.client()
	signInAs(t, laptop, adminEmail, firefoxLinux, "192.0.2.10:5000")
	ts.clock.Advance(3 * 60 * 1e9)
	signInAs(t, phone, adminEmail, safariIPhone, "198.51.100.20:5000")
	other := memberClient(t, ts, "ana@example.com")

	r := laptop.get("/settings/security/sessions")
	if r.Code != http.StatusOK {
		t.Fatalf("sessions page: %d", r.Code)
	}
	d := parse(t, r.Body)
	if n := d.Count("table.sessions tbody tr"); n != 3 {
		t.Fatalf("%d sessions listed, want 3 (the Owner's, not Ana's)", n)
	}
	first := d.One("table.sessions tbody tr:first-child")
	if !strings.Contains(first.Text(), "This session") || !strings.Contains(first.Text(), "Firefox on Linux") || !strings.Contains(first.Text(), "192.0.2.10") {
		t.Errorf("the first row is not this session:\n%s", first.Text())
	}
	if first.Find("form").Length() != 0 {
		t.Error("the current session has a sign-out button")
	}
	if !strings.Contains(d.Text("table.sessions"), "Safari on iPhone") || !strings.Contains(d.Text("table.sessions"), "198.51.100.20") {
		t.Errorf("the phone's session is not shown:\n%s", d.Text("table.sessions"))
	}
	if d.Count(`form[action$="/revoke"] button`) != 2 || !d.Has(`form[action="/settings/security/sessions/revoke-others"]`) {
		t.Errorf("sign-out buttons: %d", d.Count(`form[action$="/revoke"] button`))
	}

	// Sign out the phone from the laptop.
	var phoneID string
	if err := ts.raw.QueryRow(`SELECT id FROM sessions WHERE user_agent = $1`, safariIPhone).Scan(&phoneID); err != nil {
		t.Fatal(err)
	}
	out := laptop.post("/settings/security/sessions/"+phoneID+"/revoke", url.Values{"back": {"https://evil.example/"}})
	if out.Code != http.StatusSeeOther || out.Header.Get("Location") != "/settings/security/sessions" {
		t.Fatalf("sign out the phone: %d %s", out.Code, out.Header.Get("Location"))
	}
	if signedIn(phone) {
		t.Error("the phone is still signed in")
	}
	if !signedIn(laptop) || !signedIn(owner) || !signedIn(other) {
		t.Error("another session ended")
	}
	if again := laptop.post("/settings/security/sessions/"+phoneID+"/revoke", nil); again.Code != http.StatusNotFound {
		t.Errorf("sign out the phone again: %d", again.Code)
	}
	ev := ts.events(blnk.AuditFilter{Action: audit.SessionRevoked})
	if len(ev) != 1 || ev[0].Actor.Email != adminEmail || !strings.Contains(ev[0].DetailsJSON(), phoneID) {
		t.Errorf("session.revoked: %+v", ev)
	}

	// All the others: the setup's session; the laptop stays.
	all := laptop.post("/settings/security/sessions/revoke-others", url.Values{"back": {"/settings/security"}})
	if all.Code != http.StatusSeeOther || all.Header.Get("Location") != "/settings/security" {
		t.Fatalf("sign out the others: %d %s", all.Code, all.Header.Get("Location"))
	}
	page := parse(t, laptop.get("/settings/security/sessions").Body)
	if signedIn(owner) || !signedIn(laptop) || !signedIn(other) {
		t.Error("sign out the others: the wrong sessions ended")
	}
	if n := page.Count("table.sessions tbody tr"); n != 1 || page.Has(`form[action="/settings/security/sessions/revoke-others"]`) {
		t.Errorf("after signing out the others: %d rows", n)
	}
	if !strings.Contains(page.Text(".flash"), "1 other session was signed out") {
		t.Errorf("no notice of how many ended:\n%s", page.Text("main"))
	}
	if ev := ts.events(blnk.AuditFilter{Action: audit.SessionRevoked}); len(ev) != 2 {
		t.Errorf("%d session.revoked events, want 2", len(ev))
	}
}

// TestSessionsOfOthersAreNotFound: another person's session, the
// current one, and ids that are no session's are 404, and end nothing.
func TestSessionsOfOthersAreNotFound(t *testing.T) {
	ts, owner := newSignedIn(t, serverOpts{})
	ana := memberClient(t, ts, "ana@example.com")
	var anaID, ownerID string
	if err := ts.raw.QueryRow(`SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = 'ana@example.com'`).Scan(&anaID); err != nil {
		t.Fatal(err)
	}
	if err := ts.raw.QueryRow(`SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = $1`, adminEmail).Scan(&ownerID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{anaID, ownerID, strings.Repeat("0", 32), "x", strings.ToUpper(anaID), "../" + anaID} {
		r := owner.post("/settings/security/sessions/"+url.PathEscape(id)+"/revoke", nil)
		if r.Code != http.StatusNotFound {
			t.Errorf("revoke %q: %d, want 404", id, r.Code)
		}
	}
	if !signedIn(ana) || !signedIn(owner) {
		t.Error("a refused sign-out ended a session")
	}
	if ev := ts.events(blnk.AuditFilter{Action: audit.SessionRevoked}); len(ev) != 0 {
		t.Errorf("refused sign-outs were recorded: %d", len(ev))
	}
	// Ana's list shows only hers.
	if n := parse(t, ana.get("/settings/security/sessions").Body).Count("table.sessions tbody tr"); n != 1 {
		t.Errorf("Ana sees %d sessions", n)
	}
}
