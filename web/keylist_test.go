package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/testkit/htmlcheck"
)

// storeKeys stores n keys of the admin's workspace straight in the
// database, the i-th made by mk (name, scopes, expiry), one minute apart,
// newest last; every fifth is revoked. It returns them oldest first.
func (ts *testServer) storeKeys(n int, mk func(i int) (string, []string, time.Time)) []apikey.Key {
	ts.t.Helper()
	ctx := context.Background()
	login, err := ts.db.LoginByEmail(ctx, adminEmail)
	if err != nil {
		ts.t.Fatal(err)
	}
	var out []apikey.Key
	base := ts.clock.Now().Add(-time.Duration(n) * time.Minute)
	for i := range n {
		name, scopeNames, expires := mk(i)
		token, err := apikey.Generate()
		if err != nil {
			ts.t.Fatal(err)
		}
		prefix, _ := apikey.Parse(token)
		scopes, err := apikey.ParseScopes(scopeNames)
		if err != nil {
			ts.t.Fatal(err)
		}
		k, _, err := ts.db.CreateKey(ctx, blnk.NewKey{
			Key: apikey.Key{ID: apikey.NewID(), WorkspaceID: login.Workspace.ID, Name: name, Prefix: prefix,
				Scopes: scopes, ExpiresAt: expires, CreatedAt: base.Add(time.Duration(i) * time.Minute)},
			Hash: apikey.HashOf(token), CreatedBy: login.User.ID, CreateToken: apikey.NewID(),
		})
		if err != nil {
			ts.t.Fatal(err)
		}
		if i%5 == 4 {
			if _, err := ts.db.RevokeKey(ctx, login.Workspace.ID, k.ID, audit.Actor{UserID: login.User.ID, Kind: audit.User}, ts.clock.Now()); err != nil {
				ts.t.Fatal(err)
			}
		}
		out = append(out, k)
	}
	return out
}

// rowIDs returns the ids of the rows of a list page's table, in order.
func rowIDs(body string) []string {
	var ids []string
	htmlcheck.Read(body).Find(`table.keys > tbody > tr[id^="key-row-"]`).Each(func(_ int, tr *goquery.Selection) {
		id, _ := tr.Attr("id")
		ids = append(ids, strings.TrimPrefix(id, "key-row-"))
	})
	return ids
}

// linkOf returns the href of the link with id, or "".
func linkOf(body, id string) string {
	href, _ := htmlcheck.Read(body).Attr("a"+htmlcheck.ID(id), "href")
	return href
}

// realisticName is the i-th of names people give keys.
func realisticName(i int) string {
	names := []string{"Production API Key", "Staging (2025)", "GitHub Actions deploy — billing-service",
		"Zahlungsdienst Größe Überweisung", "🚀 Launch bot", "Customer data export for the quarterly finance reconciliation job (read only)",
		"MCP agent: support triage", "grafana-ledger-dashboard"}
	return fmt.Sprintf("%s %03d", names[i%len(names)], i)
}

func TestKeyListPagesSearchesFiltersAndSorts(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	scopeSets := [][]string{{"*"}, {"mcp:read"}, {"data:read", "proxy:read"}, {"data:write"}}
	keys := ts.storeKeys(120, func(i int) (string, []string, time.Time) {
		var exp time.Time
		switch i % 6 {
		case 1:
			exp = ts.clock.Now().Add(time.Duration(1+i%5) * 24 * time.Hour) // expiring
		case 2:
			exp = ts.clock.Now().Add(90 * 24 * time.Hour)
		}
		return realisticName(i), scopeSets[i%len(scopeSets)], exp
	})
	byID := map[string]apikey.Key{}
	for _, k := range keys {
		byID[k.ID] = k
	}

	// Page through: 50, 50, 20, newest first; then back.
	for _, mode := range []string{"page", "htmx"} {
		t.Run("paging/"+mode, func(t *testing.T) {
			var opts []opt
			if mode == "htmx" {
				opts = append(opts, htmx())
			}
			var all []string
			var pages []string
			target := "/settings/api-keys"
			for target != "" {
				r := c.get(target, opts...)
				if r.Code != http.StatusOK {
					t.Fatalf("GET %s: %d", target, r.Code)
				}
				if mode == "htmx" {
					if isFullPage(r.Body) {
						t.Fatalf("htmx GET %s: a full page, want the results", target)
					}
					if got := r.Header.Get("HX-Push-Url"); got != target {
						t.Errorf("HX-Push-Url = %q, want %q", got, target)
					}
				}
				if !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "HX-Request") {
					t.Errorf("Vary = %q, want HX-Request in it", r.Header.Values("Vary"))
				}
				pages = append(pages, target)
				all = append(all, rowIDs(r.Body)...)
				wantRange := []string{"1–50 of 120", "51–100 of 120", "101–120 of 120"}[len(pages)-1]
				if got := parse(t, r.Body).Text("#list-found"); got != wantRange {
					t.Errorf("page %d says %q, want %q", len(pages), got, wantRange)
				}
				target = linkOf(r.Body, "list-next")
			}
			if len(pages) != 3 {
				t.Fatalf("%d pages, want 3", len(pages))
			}
			want := make([]string, 0, 120)
			for i := len(keys) - 1; i >= 0; i-- {
				want = append(want, keys[i].ID)
			}
			if !slices.Equal(all, want) {
				t.Fatalf("paged ids differ from newest first:\n got %v\nwant %v", all, want)
			}
			// Previous from the last page gives the middle page again.
			last := c.get(pages[2], opts...)
			prev := c.get(linkOf(last.Body, "list-prev"), opts...)
			if !slices.Equal(rowIDs(prev.Body), want[50:100]) {
				t.Errorf("Previous from page 3 = %v, want %v", rowIDs(prev.Body), want[50:100])
			}
			if got := parse(t, prev.Body).Text("#list-found"); got != "51–100 of 120" {
				t.Errorf("Previous from page 3 says %q, want 51–100 of 120", got)
			}
			if first := linkOf(prev.Body, "list-first"); first != "/settings/api-keys" {
				t.Errorf("First = %q", first)
			}
		})
	}

	t.Run("status", func(t *testing.T) {
		// Keys i%5 == 4 are revoked; i%6 == 1 expire within 5 days.
		for status, want := range map[string]func(i int) bool{
			"revoked":  func(i int) bool { return i%5 == 4 },
			"expiring": func(i int) bool { return i%5 != 4 && i%6 == 1 },
			"active":   func(i int) bool { return i%5 != 4 },
			"expired":  func(i int) bool { return false },
		} {
			r := c.get("/settings/api-keys?status=" + status + "&limit=200")
			if r.Code != http.StatusOK {
				t.Fatalf("status=%s: %d", status, r.Code)
			}
			var wantIDs []string
			for i := len(keys) - 1; i >= 0; i-- {
				if want(i) {
					wantIDs = append(wantIDs, keys[i].ID)
				}
			}
			if status == "expiring" {
				// By default, the soonest expiry first (ties by id).
				slices.SortFunc(wantIDs, func(a, b string) int {
					if c := byID[a].ExpiresAt.Compare(byID[b].ExpiresAt); c != 0 {
						return c
					}
					return strings.Compare(a, b)
				})
			}
			if got := rowIDs(r.Body); !slices.Equal(got, wantIDs) {
				t.Errorf("status=%s: %d rows, want %d", status, len(got), len(wantIDs))
			}
			tab := parse(t, r.Body).One("nav.status-tabs a#status-tab-" + status)
			if cur, _ := tab.Attr("aria-current"); cur != "page" || htmlcheck.Text(tab.Find("span.tab-count")) != fmt.Sprint(len(wantIDs)) {
				t.Errorf("status=%s: the tab is not current with count %d", status, len(wantIDs))
			}
		}
	})

	t.Run("expiring banner", func(t *testing.T) {
		r := c.get("/settings/api-keys?q=Staging")
		d := parse(t, r.Body)
		banner := d.Find("#expiring-banner")
		if !strings.Contains(htmlcheck.Text(banner), "active keys expire within 7 days.") {
			t.Fatal("no banner for the keys expiring within 7 days")
		}
		if !hasLink(banner, "/settings/api-keys?status=expiring") {
			t.Error("the banner does not link to the expiring keys")
		}
		d = parse(t, r.Body)
		soon := d.Find("tbody tr").FilterFunction(func(_ int, tr *goquery.Selection) bool {
			return strings.HasPrefix(htmlcheck.Text(tr.Find(".badge-expiring")), "Expires in ")
		}).First()
		if soon.Length() == 0 {
			t.Fatal("no Expires in N days badge")
		}
		if title, _ := soon.Find(".cell-expires time").Attr("title"); !strings.HasSuffix(title, " UTC") {
			t.Errorf("an expiring key's Expires date has title %q, want its exact time", title)
		}
	})

	t.Run("search", func(t *testing.T) {
		for q, want := range map[string]func(apikey.Key) bool{
			"größe":          func(k apikey.Key) bool { return strings.Contains(k.Name, "Größe") }, // PostgreSQL folds ß/ö; SQLite matches the same case
			"🚀":              func(k apikey.Key) bool { return strings.Contains(k.Name, "🚀") },
			"STAGING (2025)": func(k apikey.Key) bool { return strings.HasPrefix(k.Name, "Staging (2025)") },
			"100%":           func(apikey.Key) bool { return false },
			"' OR 1=1 --":    func(apikey.Key) bool { return false },
			"<script>":       func(apikey.Key) bool { return false },
			keys[17].Prefix:  func(k apikey.Key) bool { return k.ID == keys[17].ID },
			keys[18].ID:      func(k apikey.Key) bool { return k.ID == keys[18].ID },
		} {
			r := c.get("/settings/api-keys?limit=200&q=" + url.QueryEscape(q))
			if r.Code != http.StatusOK {
				t.Fatalf("q=%q: %d", q, r.Code)
			}
			var wantIDs []string
			for i := len(keys) - 1; i >= 0; i-- {
				if want(keys[i]) {
					wantIDs = append(wantIDs, keys[i].ID)
				}
			}
			if got := rowIDs(r.Body); !slices.Equal(got, wantIDs) {
				t.Errorf("q=%q: %d rows, want %d", q, len(got), len(wantIDs))
			}
			if len(wantIDs) == 0 {
				d := parse(t, r.Body)
				if !strings.Contains(d.Text(".list-empty strong"), "No keys matching “"+q+"”") || !d.Has(".list-empty a#list-clear") {
					t.Errorf("q=%q: the empty result does not say what hid the keys or offer to clear", q)
				}
			}
			if strings.Contains(r.Body, "<script>") {
				t.Errorf("q=%q: unescaped in the page", q)
			}
		}
	})

	t.Run("scope", func(t *testing.T) {
		r := c.get("/settings/api-keys?limit=200&scope=data:read")
		n := 0
		for _, k := range keys {
			if k.Scopes.Allows(apikey.DataRead) {
				n++
			}
		}
		if got := len(rowIDs(r.Body)); got != n || n == 0 {
			t.Errorf("scope=data:read: %d rows, want %d (keys with *, data:read or data:write)", got, n)
		}
		if !parse(t, r.Body).Has(`select#key-scope option[value="data:read"][selected]`) {
			t.Error("the scope filter does not show data:read")
		}
	})

	t.Run("sort", func(t *testing.T) {
		r := c.get("/settings/api-keys?limit=200&sort=name")
		ids := rowIDs(r.Body)
		if len(ids) != 120 {
			t.Fatalf("%d rows", len(ids))
		}
		for i := 1; i < len(ids); i++ {
			if a, b := strings.ToLower(byID[ids[i-1]].Name), strings.ToLower(byID[ids[i]].Name); a > b && !strings.HasPrefix(a, "🚀") && !strings.HasPrefix(b, "🚀") {
				t.Fatalf("sort=name: %q before %q", a, b)
			}
		}
		if sort, _ := parse(t, r.Body).Attr("th:has(a#sort-name)", "aria-sort"); sort != "ascending" {
			t.Error("the Name header does not say it sorts ascending")
		}
		// The sorted header links to the other direction.
		if got := linkOf(r.Body, "sort-name"); got != "/settings/api-keys?limit=200&sort=-name" {
			t.Errorf("Name header links to %q", got)
		}
		r = c.get("/settings/api-keys?sort=expires&limit=200")
		ids = rowIDs(r.Body)
		for i := 1; i < len(ids); i++ {
			a, b := byID[ids[i-1]].ExpiresAt, byID[ids[i]].ExpiresAt
			if a.IsZero() && !b.IsZero() || !a.IsZero() && !b.IsZero() && a.After(b) {
				t.Fatalf("sort=expires: %v before %v", a, b)
			}
		}
	})
}

func TestKeyListBadAddresses(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	ts.storeKeys(3, func(i int) (string, []string, time.Time) { return realisticName(i), []string{"*"}, time.Time{} })
	page := c.get("/settings/api-keys?sort=name&limit=1")
	nameCursor := linkOf(page.Body, "list-next")
	u, _ := url.Parse(nameCursor)
	cursor := u.Query().Get("cursor")
	if cursor == "" {
		t.Fatal("no cursor on a page of 1 of 3 keys")
	}
	bad := map[string]string{
		"status=bogus":                        "Unknown status",
		"status=Active":                       "Unknown status",
		"status=active&status=revoked":        "given 2 times",
		"scope=admin":                         "Unknown scope",
		"scope=*,mcp:read":                    "Unknown scope",
		"sort=price":                          "Unknown sort",
		"sort=--name":                         "Unknown sort",
		"limit=0":                             "from 1 to 200",
		"limit=-5":                            "from 1 to 200",
		"limit=100000":                        "from 1 to 200",
		"limit=ten":                           "from 1 to 200",
		"limit=1e3":                           "from 1 to 200",
		"cursor=garbage":                      "first page",
		"cursor=" + cursor:                    "first page", // a name cursor without sort=name
		"sort=-name&cursor=" + cursor:         "first page",
		"cursor=" + strings.Repeat("A", 5000): "first page",
		"q=" + strings.Repeat("x", 101):       "longer than 100",
		"q=%00":                               "NUL character or text that is not valid UTF-8 (in “q”)",
		"q=a%07b":                             "control characters",
		"q=%ff%fe":                            "NUL character or text that is not valid UTF-8 (in “q”)",
	}
	for query, want := range bad {
		for _, opts := range [][]opt{nil, {htmx()}} {
			r := c.get("/settings/api-keys?"+query, opts...)
			if r.Code != http.StatusBadRequest {
				t.Errorf("?%.60s: %d, want 400", query, r.Code)
				continue
			}
			if !strings.Contains(textOf(t, r.Body), want) {
				t.Errorf("?%.60s: the page does not say %q", query, want)
			}
			if len(rowIDs(r.Body)) != 0 {
				t.Errorf("?%.60s: keys listed on a 400", query)
			}
		}
	}
	// Good values around the edges.
	for _, query := range []string{"limit=1", "limit=200", "q=" + strings.Repeat("x", 100), "q=%20%20", "sort=-last_used", "unknown=1"} {
		if r := c.get("/settings/api-keys?" + query); r.Code != http.StatusOK {
			t.Errorf("?%.40s: %d, want 200", query, r.Code)
		}
	}
	// What a form without JavaScript sends: empty fields go, the list
	// moves to its one address.
	r := c.get("/settings/api-keys?q=Staging&scope=&status=")
	if r.Code != http.StatusSeeOther || r.Header.Get("Location") != "/settings/api-keys?q=Staging" {
		t.Errorf("empty fields: %d to %q, want 303 to ?q=Staging", r.Code, r.Header.Get("Location"))
	}
}

func TestKeyListKeepsKeysOutOfTheAddress(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	k := c.create("Pasted by mistake")
	r := c.get("/settings/api-keys?status=active&q=" + url.QueryEscape(" "+k.Token+" "))
	if r.Code != http.StatusSeeOther {
		t.Fatalf("a key in the search: %d, want 303", r.Code)
	}
	loc := r.Header.Get("Location")
	if strings.Contains(loc, k.Token[len(k.Prefix):]) || !strings.Contains(loc, "q="+k.Prefix) || !strings.Contains(loc, "status=active") {
		t.Errorf("Location = %q, want the search by prefix only", loc)
	}
	r = c.follow(r)
	if ids := rowIDs(r.Body); len(ids) != 1 || ids[0] != k.ID {
		t.Errorf("search by the pasted key's prefix: %v", ids)
	}
	// With htmx: the results of the prefix, its address, and the search
	// box holding the prefix instead of the key.
	h := c.get("/settings/api-keys?q="+url.QueryEscape("ci key "+k.Token), htmx())
	if push := h.Header.Get("HX-Push-Url"); h.Code != http.StatusOK || push != "/settings/api-keys?q="+k.Prefix {
		t.Errorf("htmx: %d HX-Push-Url %q", h.Code, push)
	}
	if ids := rowIDs(h.Body); len(ids) != 1 || ids[0] != k.ID {
		t.Errorf("htmx: rows %v", ids)
	}
	if v, ok := parse(t, h.Body).Attr(`input#key-search[name="q"][hx-swap-oob="true"]`, "value"); !ok || v != k.Prefix {
		t.Error("htmx: the search box is not given the prefix")
	}
	if strings.Contains(h.Body, k.Token) || strings.Contains(h.Header.Get("HX-Push-Url"), k.Token[len(k.Prefix):]) {
		t.Error("htmx: the key is in the answer")
	}
	if strings.Contains(ts.logs.String(), k.Token) {
		t.Error("the key is in the server's log")
	}
}

func TestKeyListHistoryWhileTyping(t *testing.T) {
	t.Parallel()
	_, c := newSignedIn(t, serverOpts{})
	c.create("Billing worker")
	for _, tc := range []struct {
		current, next, header string
	}{
		{"/settings/api-keys", "/settings/api-keys?q=bi", "HX-Push-Url"},          // the first letters: a new entry
		{"/settings/api-keys?q=bi", "/settings/api-keys?q=bil", "HX-Replace-Url"}, // typing on
		{"/settings/api-keys?q=bil&status=active", "/settings/api-keys?q=bill&status=active", "HX-Replace-Url"},
		{"/settings/api-keys?q=bil", "/settings/api-keys?q=bil&status=revoked", "HX-Push-Url"}, // another tab
		{"/settings/api-keys?q=bil", "/settings/api-keys", "HX-Push-Url"},                      // cleared
	} {
		r := c.get(tc.next, htmx(), header("HX-Current-URL", "http://127.0.0.1"+tc.current))
		if r.Header.Get(tc.header) == "" {
			t.Errorf("%s -> %s: no %s (push %q, replace %q)", tc.current, tc.next, tc.header, r.Header.Get("HX-Push-Url"), r.Header.Get("HX-Replace-Url"))
		}
	}
}

func TestKeyListSearchOtherScripts(t *testing.T) {
	t.Parallel()
	_, c := newSignedIn(t, serverOpts{})
	k := c.create("Überweisung Größe Bot")
	// Found as typed, on both databases, and counted the same way.
	for _, q := range []string{"Überweisung", "größe", "BOT"} {
		r := c.get("/settings/api-keys?q=" + url.QueryEscape(q))
		if ids := rowIDs(r.Body); len(ids) != 1 || ids[0] != k.ID || parse(t, r.Body).Text("#list-found") != "1–1 of 1" {
			t.Errorf("q=%q: rows %v", q, ids)
		}
	}
}

func TestKeyListWorkspaceIsolation(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	mine := c.create("Mine")
	other := ts.addWorkspace("Other", "eve@other.test", "correct horse battery")
	theirs := other.create("Theirs")
	for _, q := range []string{"", "?q=" + theirs.ID, "?q=" + theirs.Prefix, "?q=Theirs", "?sort=name&limit=200"} {
		r := c.get("/settings/api-keys" + q)
		d := parse(t, r.Body)
		named := d.Find("a").FilterFunction(func(_ int, a *goquery.Selection) bool { return htmlcheck.Text(a) == "Theirs" })
		if slices.Contains(rowIDs(r.Body), theirs.ID) || named.Length() > 0 || strings.Contains(htmlcheck.Text(d.Selection), theirs.Prefix+"...") {
			t.Errorf("%s: another workspace's key listed", q)
		}
	}
	// Counts are per workspace.
	r := c.get("/settings/api-keys")
	if ids := rowIDs(r.Body); len(ids) != 1 || ids[0] != mine.ID || parse(t, r.Body).Text("#list-found") != "1–1 of 1" {
		t.Errorf("own list: %v", ids)
	}
}

func TestKeyListPageSize(t *testing.T) {
	t.Parallel()
	ts, c := newSignedIn(t, serverOpts{})
	long := strings.Repeat("Quarterly reconciliation export ", 12)[:380]
	ts.storeKeys(60, func(i int) (string, []string, time.Time) {
		return fmt.Sprintf("%s %d", long, i), []string{"mcp:read", "mcp:write", "proxy:read", "proxy:write", "data:read", "data:write"}, ts.clock.Now().Add(72 * time.Hour)
	})
	r := c.get("/settings/api-keys")
	if n := len(rowIDs(r.Body)); n != 50 {
		t.Fatalf("%d rows, want 50", n)
	}
	// Each row carries its menu, its box and its copy button (about 1.3 KB
	// more than the bare row); none repeats the name, so the page grows
	// with the names once. What travels is compressed.
	if len(r.Body) > 200_000 {
		t.Errorf("a page of 50 keys with 380-character names and every scope is %d bytes, want < 200 KB", len(r.Body))
	}
	if n := strings.Count(r.Body, long); n != 50 {
		t.Errorf("the long names appear %d times in the page, want 50 (once a row)", n)
	}
	gz := c.get("/settings/api-keys", header("Accept-Encoding", "gzip"))
	if gz.Header.Get("Content-Encoding") != "gzip" || len(gz.Body) > 20_000 {
		t.Errorf("compressed page: %q, %d bytes; want gzip under 20 KB", gz.Header.Get("Content-Encoding"), len(gz.Body))
	}
	t.Logf("page of 50 long keys: %d bytes, %d compressed", len(r.Body), len(gz.Body))
}
