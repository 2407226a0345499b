package web_test

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
)

// listedIDs are the ids of the keys a list page shows, in its order.
func listedIDs(d *htmlcheck.Doc) []string {
	var ids []string
	d.Find("#keys-results tbody tr").Each(func(_ int, s *goquery.Selection) {
		id, _ := s.Attr("id")
		ids = append(ids, strings.TrimPrefix(id, "key-row-"))
	})
	return ids
}

// TestKeyListOwnerMe: owner=me lists the keys of the person who asks
// (created by them, or handed to them when their creator left), with
// counts and pages of those keys only, on either database.
func TestKeyListOwnerMe(t *testing.T) {
	tm := newTeamServer(t)
	owner, member := tm.clients[roleOwner], tm.clients[roleMember]
	var mine, theirs []string
	for i := range 3 {
		theirs = append(theirs, member.create("Member key "+strconv.Itoa(i), "data:read").ID)
	}
	for i := range 4 {
		mine = append(mine, owner.create("Owner key "+strconv.Itoa(i), "data:read").ID)
	}
	if r := owner.post("/settings/api-keys/"+mine[0]+"/revoke", url.Values{}); r.Code != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.Code)
	}
	// The keys were made at the same instant: by name, the order is theirs.

	list := func(c *client, query string) *htmlcheck.Doc {
		t.Helper()
		r := c.get("/settings/api-keys" + query)
		if r.Code != http.StatusOK {
			t.Fatalf("GET %s: %d\n%s", query, r.Code, textOf(t, r.Body))
		}
		return parse(t, r.Body)
	}
	count := func(d *htmlcheck.Doc, tab string) string {
		return htmlcheck.Text(d.Find("#status-tab-" + tab + " .tab-count"))
	}

	t.Run("only the asker's keys, counted", func(t *testing.T) {
		d := list(member, "?owner=me&sort=name")
		if got := listedIDs(d); !slices.Equal(got, theirs) {
			t.Errorf("member's owner=me: got %q, want %q", got, theirs)
		}
		if got := count(d, "all"); got != "3" {
			t.Errorf("All tab: %q, want 3", got)
		}
		if got := d.Text("#list-found"); got != "1–3 of 3" {
			t.Errorf("range: %q", got)
		}
		if got := d.Find("#key-owner option[selected]").AttrOr("value", "?"); got != "me" {
			t.Errorf("the owner control says %q, want me", got)
		}
		d = list(owner, "?owner=me&sort=name")
		if got := listedIDs(d); !slices.Equal(got, mine) {
			t.Errorf("owner's owner=me: got %q, want %q", got, mine)
		}
		if a, r, act := count(d, "all"), count(d, "revoked"), count(d, "active"); a != "4" || r != "1" || act != "3" {
			t.Errorf("owner's tabs: all %s revoked %s active %s, want 4 1 3", a, r, act)
		}
		if got := listedIDs(list(owner, "?owner=me&status=revoked")); !slices.Equal(got, mine[:1]) {
			t.Errorf("owner's revoked: %q", got)
		}
		// Everyone's keys without the filter, each saying whose it is.
		d = list(owner, "")
		if got := len(listedIDs(d)); got != 7 {
			t.Errorf("without owner: %d keys, want 7", got)
		}
		if got := htmlcheck.Text(keyCell(d, theirs[0], "Created by")); got != tm.emails[roleMember] {
			t.Errorf("Created by of the member's key: %q", got)
		}
		// A search within one's keys finds none of the others'.
		if got := listedIDs(list(owner, "?owner=me&q=Member")); len(got) != 0 {
			t.Errorf("owner's search for the member's keys: %q", got)
		}
	})

	t.Run("pages keep the filter", func(t *testing.T) {
		d := list(owner, "?owner=me&sort=name&limit=2")
		if got := listedIDs(d); !slices.Equal(got, mine[:2]) {
			t.Fatalf("page 1: %q, want %q", got, mine[:2])
		}
		next := d.Find("#list-next").AttrOr("href", "")
		u, err := url.Parse(next)
		if err != nil || u.Query().Get("owner") != "me" || u.Query().Get("cursor") == "" {
			t.Fatalf("next link %q keeps no owner or cursor", next)
		}
		d = list(owner, "?"+u.RawQuery)
		if got := listedIDs(d); !slices.Equal(got, mine[2:]) {
			t.Errorf("page 2: %q, want %q", got, mine[2:])
		}
		if got := d.Text("#list-found"); got != "3–4 of 4" {
			t.Errorf("page 2 range: %q", got)
		}
	})

	t.Run("the form without JavaScript and bad values", func(t *testing.T) {
		r := owner.get("/settings/api-keys?q=&scope=&owner=me&sort=-created")
		if r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/settings/api-keys?owner=me" {
			t.Errorf("the toolbar form: %d %q", r.Code, r.Header.Get("Location"))
		}
		for _, q := range []string{"?owner=you", "?owner=" + strconv.FormatInt(tm.ids[roleMember], 10), "?owner=me&owner=me"} {
			r := owner.get("/settings/api-keys" + q)
			if r.Code != http.StatusBadRequest || len(listedIDs(parse(t, r.Body))) != 0 {
				t.Errorf("%s: %d, want 400 and no keys", q, r.Code)
			}
		}
		// htmx gets the results, and the address with the filter.
		r = owner.get("/settings/api-keys?owner=me", htmx())
		if r.Code != http.StatusOK || r.Header.Get("HX-Push-Url") != "/settings/api-keys?owner=me" {
			t.Errorf("htmx: %d %q", r.Code, r.Header.Get("HX-Push-Url"))
		}
	})

	t.Run("a transferred key is its new owner's", func(t *testing.T) {
		// Counted before, so that the counts' snapshot must follow the hand-over.
		if got := count(list(owner, "?owner=me"), "all"); got != "4" {
			t.Fatalf("before: %s", got)
		}
		path := "/settings/members/" + strconv.FormatInt(tm.ids[roleMember], 10) + "/remove"
		if r := owner.post(path, url.Values{"keys": {"transfer"}}); r.Code != http.StatusSeeOther {
			t.Fatalf("remove with transfer: %d\n%s", r.Code, textOf(t, r.Body))
		}
		d := list(owner, "?owner=me")
		if got := count(d, "all"); got != "7" {
			t.Errorf("after the transfer, the owner's All tab: %s, want 7", got)
		}
		if got := listedIDs(d); !slices.Contains(got, theirs[0]) || len(got) != 7 {
			t.Errorf("after the transfer: %q", got)
		}
		if got := htmlcheck.Text(keyCell(d, theirs[0], "Created by")); got != adminEmail {
			t.Errorf("the transferred key's Created by: %q, want %q", got, adminEmail)
		}
	})
}
