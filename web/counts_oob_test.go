package web_test

import (
	"maps"
	"net/http"
	"net/url"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
)

// tabCounts reads the status tabs of sel: the count of each tab, by id.
func tabCounts(sel *goquery.Selection) map[string]string {
	out := map[string]string{}
	sel.Find("a.status-tab").Each(func(_ int, a *goquery.Selection) {
		id, _ := a.Attr("id")
		out[id] = htmlcheck.Text(a.Find(".tab-count"))
	})
	return out
}

// TestCountsAfterPanelActions: a revoke or an edit in the panel over the
// list answers with the list's counts out of band (the status tabs of the
// filter the list shows, and the expiring banner), equal to what the list
// shows when loaded again.
func TestCountsAfterPanelActions(t *testing.T) {
	_, c := newSignedIn(t, serverOpts{})
	soon := c.createKey(url.Values{"name": {"Soon"}, "scopes": {"*"}, "expires": {"date"}, "expires_on": {"2026-03-12"}, "form_token": {formToken()}})
	c.create("Other")
	list := func(q string) *htmlcheck.Doc {
		t.Helper()
		r := c.get("/settings/api-keys" + q)
		if r.Code != http.StatusOK {
			t.Fatalf("list: %d", r.Code)
		}
		return parse(t, r.Body)
	}
	before := tabCounts(list("").Find("#status-tabs"))
	if before["status-tab-active"] != "2" || before["status-tab-expiring"] != "1" || before["status-tab-revoked"] != "0" {
		t.Fatalf("tabs before = %v, want Active 2, Expiring 1, Revoked 0", before)
	}

	fromList := header("HX-Current-URL", origin+"/settings/api-keys")
	r := c.post("/settings/api-keys/"+soon.ID+"/revoke", nil, htmx(), fromList)
	if r.Code != http.StatusOK {
		t.Fatalf("revoke: %d", r.Code)
	}
	d := parse(t, r.Body)
	tabs := d.Find(`nav#status-tabs[hx-swap-oob="true"]`)
	if tabs.Length() != 1 {
		t.Fatalf("revoke from the list: %d status tabs out of band, want 1", tabs.Length())
	}
	got := tabCounts(tabs)
	if got["status-tab-active"] != "1" || got["status-tab-revoked"] != "1" || got["status-tab-expiring"] != "0" {
		t.Errorf("tabs after the revoke = %v, want Active 1, Revoked 1, Expiring 0", got)
	}
	if want := tabCounts(list("").Find("#status-tabs")); !maps.Equal(got, want) {
		t.Errorf("tabs out of band = %v, the list loaded again = %v", got, want)
	}
	banner := d.Find(`#expiring-banner[hx-swap-oob="true"]`)
	if _, hidden := banner.Attr("hidden"); banner.Length() != 1 || !hidden || htmlcheck.Text(banner) != "" {
		t.Errorf("expiring banner after the revoke: %d, hidden %v, text %q; want one, hidden and empty", banner.Length(), hidden, htmlcheck.Text(banner))
	}
	if n := list("").Find("#expiring-banner:not([hidden])").Length(); n != 0 {
		t.Errorf("the list loaded again shows the expiring banner")
	}

	// The tabs follow the filter the list shows: a search counts what
	// it finds.
	other := c.create("Other two")
	r = c.post("/settings/api-keys/"+other.ID+"/edit", url.Values{"name": {"Renamed"}}, htmx(),
		header("HX-Current-URL", origin+"/settings/api-keys?q=Other"))
	if r.Code != http.StatusOK {
		t.Fatalf("edit: %d\n%s", r.Code, r.Body)
	}
	got = tabCounts(parse(t, r.Body).Find(`nav#status-tabs[hx-swap-oob="true"]`))
	if want := tabCounts(list("?q=Other").Find("#status-tabs")); !maps.Equal(got, want) || got["status-tab-all"] != "1" {
		t.Errorf("tabs after renaming “Other two” in a search for Other = %v, want %v (All 1)", got, want)
	}

	// From the key's own page there are no tabs to update.
	third := c.create("Third")
	r = c.post("/settings/api-keys/"+third.ID+"/revoke", nil, htmx(), header("HX-Current-URL", origin+"/settings/api-keys/"+third.ID))
	if n := parse(t, r.Body).Find("#status-tabs, #expiring-banner").Length(); n != 0 {
		t.Errorf("revoke from the key's page: %d count elements, want none", n)
	}
}
