package web_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
)

// revokedEvents counts the key.revoked events of the audit log.
func (ts *testServer) revokedEvents(id string) int {
	ts.t.Helper()
	var n int
	if err := ts.raw.QueryRow(`SELECT count(*) FROM audit_events WHERE action = 'key.revoked' AND key_id = $1`, id).Scan(&n); err != nil {
		ts.t.Fatal(err)
	}
	return n
}

// idsForm is a bulk revoke's form.
func idsForm(ids ...string) url.Values { return url.Values{"id": ids} }

func TestBulkRevoke(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	make3 := func(prefix string) []newKey {
		return []newKey{c.create(prefix + " one"), c.create(prefix + " two"), c.create("🚀 " + prefix + " three")}
	}

	t.Run("confirmation names every key", func(t *testing.T) {
		ks := make3("Confirm")
		c.post("/settings/api-keys/"+ks[2].ID+"/revoke", nil)
		for _, mode := range []string{"page", "htmx"} {
			var opts []opt
			if mode == "htmx" {
				opts = append(opts, htmx())
			}
			q := url.Values{"id": {ks[0].ID, ks[2].ID}, "page": {ks[1].ID + " " + ks[0].ID}, "back": {"/settings/api-keys?q=Confirm"}}
			r := c.get("/settings/api-keys/revoke?"+q.Encode(), opts...)
			if r.Code != http.StatusOK {
				t.Fatalf("%s: status %d, want 200", mode, r.Code)
			}
			if got := isFullPage(r.Body); got != (mode == "page") {
				t.Errorf("%s: whole page %v", mode, got)
			}
			d := parse(t, r.Body)
			if got := d.Text("#bulk-revoke-title"); got != "Revoke 2 keys?" {
				t.Errorf("%s: title %q, want Revoke 2 keys?", mode, got)
			}
			var named []string
			d.Find(".bulk-keys li").Each(func(_ int, s *goquery.Selection) { named = append(named, htmlcheck.Text(s)) })
			want := []string{"Confirm one " + ks[0].Prefix + "...", "Confirm two " + ks[1].Prefix + "...",
				"🚀 Confirm three " + ks[2].Prefix + "... already revoked, skipped"}
			if !slices.Equal(named, want) {
				t.Errorf("%s: keys named %q, want %q", mode, named, want)
			}
			var hidden []string
			d.Find(`form[method="post"][action="/settings/api-keys/revoke"] input[name="id"]`).Each(func(_ int, s *goquery.Selection) {
				hidden = append(hidden, s.AttrOr("value", ""))
			})
			if len(hidden) != 3 {
				t.Errorf("%s: the form posts %d ids, want 3", mode, len(hidden))
			}
			if got := d.Find(`input[name="back"]`).AttrOr("value", ""); got != "/settings/api-keys?q=Confirm" {
				t.Errorf("%s: back %q", mode, got)
			}
			if mode == "htmx" && !d.Has(`dialog[data-modal][role="alertdialog"] form[hx-post="/settings/api-keys/revoke"][hx-target="#keys-results"]`) {
				t.Errorf("htmx: no dialog posting to the list's results")
			}
		}
		for _, k := range ks[:2] {
			if ts.revokedAt(k.ID) != 0 {
				t.Errorf("the confirmation revoked %s", k.ID)
			}
		}
	})

	t.Run("without JavaScript", func(t *testing.T) {
		ks := make3("Plain")
		c.post("/settings/api-keys/"+ks[2].ID+"/revoke", nil)
		before := ts.count("audit_events")
		r := c.post("/settings/api-keys/revoke", url.Values{"id": {ks[0].ID, ks[1].ID, ks[2].ID, ks[0].ID}, "back": {"/settings/api-keys?status=revoked"}})
		if r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/settings/api-keys?status=revoked" {
			t.Fatalf("POST: %d to %q, want 303 to the list it came from", r.Code, r.Header.Get("Location"))
		}
		for _, k := range ks {
			checkAPIError(t, c.api("/api/v1/whoami", k.Token), http.StatusUnauthorized, "revoked_key")
			if n := ts.revokedEvents(k.ID); n != 1 {
				t.Errorf("%s: %d key.revoked events, want 1", k.ID, n)
			}
		}
		if got := ts.count("audit_events") - before; got != 2 {
			t.Errorf("%d audit events, want 2 (one a key revoked, none for the one revoked already)", got)
		}
		page := parse(t, c.follow(r).Body)
		if got := page.Text(`.flash[role="status"]`); !strings.HasPrefix(got, "2 keys revoked · confirmed by ") || !strings.HasSuffix(got, ". 1 key was revoked already.") {
			t.Errorf("notice %q", got)
		}
		// Somewhere else than the list: back to the list.
		for _, back := range []string{"https://evil.test/settings/api-keys", "//evil.test/settings/api-keys", "/settings/webhooks"} {
			r := c.post("/settings/api-keys/revoke", url.Values{"id": {ks[0].ID}, "back": {back}})
			if r.Header.Get("Location") != "/settings/api-keys" {
				t.Errorf("back %q: went to %q", back, r.Header.Get("Location"))
			}
		}
	})

	t.Run("with htmx", func(t *testing.T) {
		ks := make3("Swap")
		r := c.post("/settings/api-keys/revoke", url.Values{"id": {ks[0].ID, ks[1].ID}, "back": {"/settings/api-keys?q=Swap"}}, htmx())
		if r.Code != http.StatusOK {
			t.Fatalf("status %d, want 200", r.Code)
		}
		if got := r.Header.Get("HX-Trigger"); !strings.Contains(got, `"toast":"2 keys revoked · confirmed by `) {
			t.Errorf("HX-Trigger %q, want the toast", got)
		}
		d := parse(t, r.Body)
		if !d.Has("#keys-results") || !d.Has(`#expiring-banner[hx-swap-oob="true"]`) {
			t.Fatalf("want the list's results and the banner, got %.200q", r.Body)
		}
		for _, k := range ks[:2] {
			if got := htmlcheck.Text(keyCell(d, k.ID, "Status")); got != "Revoked" {
				t.Errorf("row of %s: %q, want Revoked", k.ID, got)
			}
		}
		if got := d.Text("#status-tab-revoked .tab-count"); got == "" || got == "0" {
			t.Errorf("revoked tab count %q after the revoke", got)
		}
		if got := d.Text("#list-found"); got != "1–3 of 3" {
			t.Errorf("results of the search: %q", got)
		}
	})

	t.Run("refused: nothing revoked", func(t *testing.T) {
		mine := c.create("Mine stays")
		other := ts.addWorkspace("Other Co", "other@example.com", "another long password here")
		theirs := other.create("Theirs stays")
		many := make([]string, 201)
		for i := range many {
			many[i] = apikey.NewID()
		}
		many[0] = mine.ID
		for _, tt := range []struct {
			name   string
			form   url.Values
			status int
		}{
			{"another workspace's key", idsForm(mine.ID, theirs.ID), http.StatusNotFound},
			{"unknown id", idsForm(mine.ID, apikey.NewID()), http.StatusNotFound},
			{"malformed id", idsForm(mine.ID, "../1"), http.StatusNotFound},
			{"201 ids", idsForm(many...), http.StatusUnprocessableEntity},
			{"no id", url.Values{}, http.StatusUnprocessableEntity},
		} {
			for _, mode := range []string{"page", "htmx"} {
				var opts []opt
				if mode == "htmx" {
					opts = append(opts, htmx())
				}
				before := ts.counts()
				r := c.post("/settings/api-keys/revoke", tt.form, opts...)
				if r.Code != tt.status {
					t.Errorf("%s (%s): status %d, want %d", tt.name, mode, r.Code, tt.status)
				}
				ts.checkCounts(t, before)
				if tt.form.Has("id") {
					g := c.get("/settings/api-keys/revoke?"+tt.form.Encode(), opts...)
					if g.Code != tt.status {
						t.Errorf("%s (%s): confirmation status %d, want %d", tt.name, mode, g.Code, tt.status)
					}
				}
			}
		}
		for _, k := range []newKey{mine, theirs} {
			if ts.revokedAt(k.ID) != 0 {
				t.Errorf("%s was revoked by a refused request", k.ID)
			}
		}
		if r := c.get("/settings/api-keys/revoke"); r.Code != http.StatusUnprocessableEntity || !strings.Contains(textOf(t, r.Body), "Select at least one key to revoke.") {
			t.Errorf("confirmation of nothing: %d", r.Code)
		}
	})

	t.Run("cross-site POST refused", func(t *testing.T) {
		k := c.create("Cross site")
		r := c.post("/settings/api-keys/revoke", idsForm(k.ID), header("Sec-Fetch-Site", "cross-site"))
		if r.Code != http.StatusForbidden {
			t.Errorf("cross-site: status %d, want 403", r.Code)
		}
		if ts.revokedAt(k.ID) != 0 {
			t.Error("a cross-site POST revoked the key")
		}
	})

	t.Run("200 ids", func(t *testing.T) {
		ks := ts.storeKeys(200, func(i int) (string, []string, time.Time) { return realisticName(i), []string{"mcp:read"}, time.Time{} })
		ids := make([]string, len(ks))
		for i, k := range ks {
			ids[i] = k.ID
		}
		r := c.post("/settings/api-keys/revoke", idsForm(ids...))
		if r.Code != http.StatusSeeOther {
			t.Fatalf("status %d, want 303", r.Code)
		}
		// Every fifth stored key is revoked already.
		if got := parse(t, c.follow(r).Body).Text(`.flash[role="status"]`); !strings.HasPrefix(got, "160 keys revoked · ") || !strings.HasSuffix(got, "40 keys were revoked already.") {
			t.Errorf("notice %q", got)
		}
		for _, k := range ks {
			if ts.revokedAt(k.ID) == 0 || ts.revokedEvents(k.ID) != 1 {
				t.Fatalf("%s: revoked %d, %d events", k.ID, ts.revokedAt(k.ID), ts.revokedEvents(k.ID))
			}
		}
	})
}

// TestKeyListTabsAndRanges: every status tab shows, at 0 too; a page
// says where it is.
func TestKeyListTabsAndRanges(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	ts.storeKeys(63, func(i int) (string, []string, time.Time) { return realisticName(i), []string{"*"}, time.Time{} })
	r := c.get("/settings/api-keys")
	d := parse(t, r.Body)
	if got := d.Text("#status-tab-rolled .tab-count"); got != "0" {
		t.Errorf("Rolled tab: %q, want 0", got)
	}
	if got := d.Text("#list-found"); got != "1–50 of 63" {
		t.Errorf("page 1: %q", got)
	}
	for _, id := range []string{"list-first", "list-prev"} {
		if d.Has("a#" + id) {
			t.Errorf("page 1 links to %s", id)
		}
	}
	next := linkOf(r.Body, "list-next")
	d2 := parse(t, c.get(next).Body)
	if got := d2.Text("#list-found"); got != "51–63 of 63" {
		t.Errorf("page 2: %q", got)
	}
	if !d2.Has("a#list-first") || !d2.Has("a#list-prev") || d2.Has("a#list-next") {
		t.Error("page 2: want First and Previous, no Next")
	}
	// Sorted otherwise, the range follows the order.
	r = c.get("/settings/api-keys?sort=name&limit=20")
	for i, want := range []string{"1–20 of 63", "21–40 of 63", "41–60 of 63", "61–63 of 63"} {
		if got := parse(t, r.Body).Text("#list-found"); got != want {
			t.Errorf("by name, page %d: %q, want %q", i+1, got, want)
		}
		if n := linkOf(r.Body, "list-next"); n != "" {
			r = c.get(n)
		}
	}
}
