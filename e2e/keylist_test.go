package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
)

// seedKey is a key storeKeys stores.
type seedKey struct {
	name    string
	scopes  []string
	created time.Time // zero: one minute after the key before, the first the oldest
	expires time.Time
	revoked bool
}

// storeKeys stores keys straight into the app's database in one go, as
// the dashboard would have, and returns their tokens and ids.
func storeKeys(t *testing.T, a *app, keys []seedKey) (tokens, ids []string) {
	t.Helper()
	ctx := context.Background()
	store, login := openAsAdmin(t, a)
	defer store.Close()
	start := time.Now().Add(-time.Duration(len(keys)+60) * time.Minute)
	for i, k := range keys {
		token, err := apikey.Generate()
		must(t, err)
		prefix, _ := apikey.Parse(token)
		scopes, err := apikey.ParseScopes(k.scopes)
		must(t, err)
		id := apikey.NewID()
		created := k.created
		if created.IsZero() {
			created = start.Add(time.Duration(i) * time.Minute)
		}
		_, _, err = store.CreateKey(ctx, blnk.NewKey{
			Key: apikey.Key{ID: id, WorkspaceID: login.Workspace.ID, Name: k.name, Prefix: prefix, Scopes: scopes,
				ExpiresAt: k.expires, CreatedAt: created},
			Hash: apikey.HashOf(token), CreatedBy: login.User.ID, CreateToken: apikey.NewID(),
		})
		must(t, err)
		if k.revoked {
			_, err = store.RevokeKey(ctx, login.Workspace.ID, id, audit.Actor{UserID: login.User.ID, Kind: audit.User}, time.Now())
			must(t, err)
		}
		tokens, ids = append(tokens, token), append(ids, id)
	}
	return tokens, ids
}

// Names people give keys, long and short, in several scripts.
var realNames = []string{
	"Production API Key", "Staging (2025)", "GitHub Actions deploy — billing-service",
	"Zahlungsdienst Überweisungen", "🚀 Launch bot", "MCP agent (Claude Desktop)",
	"Customer data export for the quarterly finance reconciliation job, read only",
	"grafana-ledger-dashboard", "Ledger sync for the EU region, nightly batch", "Support triage",
}

// realisticKeys returns n keys with realistic names, scopes and expiries:
// some expire within days, some are revoked.
func realisticKeys(n int) []seedKey {
	scopeSets := [][]string{{"*"}, {"mcp:read", "mcp:write"}, {"data:read", "proxy:read"}, {"data:write"}, {"proxy:write"}}
	day := 24 * time.Hour
	var keys []seedKey
	for i := range n {
		k := seedKey{name: fmt.Sprintf("%s %03d", realNames[i%len(realNames)], i), scopes: scopeSets[i%len(scopeSets)]}
		switch i % 6 {
		case 1:
			k.expires = time.Now().Add(time.Duration(2+i%4) * day).Truncate(day)
		case 2:
			k.expires = time.Now().Add(time.Duration(60+i) * day).Truncate(day)
		}
		k.revoked = i%7 == 3
		keys = append(keys, k)
	}
	return keys
}

// layoutFacts measures, in the browser, what the list's layout promises
// about a row: its Name and Status cells' boxes, the viewport, and the
// words of the name that the line breaks split.
const layoutFacts = `row => {
	const name = row.querySelector("td[data-label='Name']");
	const status = row.querySelector("td[data-label='Status']");
	const link = name.querySelector("a.key-name");
	const text = link.firstChild;
	const split = [];
	let at = 0;
	for (const word of text.data.split(" ")) {
		const r = document.createRange();
		r.setStart(text, at);
		r.setEnd(text, at + word.length);
		const lines = new Set(Array.from(r.getClientRects()).map(b => Math.round(b.top)));
		if (lines.size > 1) split.push(word);
		at += word.length + 1;
	}
	const n = name.getBoundingClientRect(), s = status.getBoundingClientRect();
	// What shows of the table: the viewport, and the box that scrolls it.
	const box = row.closest(".table-scroll-x").getBoundingClientRect();
	return {
		nameWidth: n.width, rowHeight: row.getBoundingClientRect().height,
		statusLeft: s.left, statusRight: s.right, statusWidth: s.width,
		statusShown: getComputedStyle(status).display !== "none" && s.width > 0,
		viewport: Math.min(document.documentElement.clientWidth, box.right),
		clientWidth: document.documentElement.clientWidth,
		pageWidth: document.documentElement.scrollWidth,
		cells: Array.from(row.cells).map(c => c.dataset.label + "=" + Math.round(c.getBoundingClientRect().width)).join(" ") + " box=" + Math.round(box.width),
		split: split.join(","),
	};
}`

// TestKeyListLayout checks layout facts, not pixels, from 390 to 1920 px
// wide, light and dark: a 40-character name gets room and breaks only
// between words, Status is always in view, nothing scrolls sideways.
func TestKeyListLayout(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	const forty = "Production billing reconciliation worker" // 40 characters
	const hundred = "Customer data export for the quarterly finance reconciliation job in the EU region (read only, v2)"
	if len(forty) != 40 || len(hundred) < 95 {
		t.Fatalf("name lengths %d, %d", len(forty), len(hundred))
	}
	keys := realisticKeys(33)
	keys = append(keys,
		seedKey{name: hundred, scopes: []string{"mcp:read", "mcp:write", "proxy:read", "proxy:write", "data:read", "data:write"}, expires: time.Now().Add(3 * 24 * time.Hour)},
		seedKey{name: forty, scopes: []string{"data:read", "proxy:read"}, expires: time.Now().Add(2 * 24 * time.Hour)})
	storeKeys(t, a, keys)

	for _, w := range []int{390, 1024, 1280, 1920, 900, 1180} {
		for _, dark := range []bool{false, true} {
			name := fmt.Sprintf("%dpx", w)
			if dark {
				name += "-dark"
			}
			t.Run(name, func(t *testing.T) {
				page := newPage(t, a, pageOptions{width: w, mobile: w < 500, dark: dark})
				signIn(t, page, "ada@acme.test", "correct horse battery")
				must(t, expect.Locator(page.Locator("tbody tr")).ToHaveCount(35))
				for _, n := range []string{forty, hundred} {
					v, err := keyRow(page, n).Evaluate(layoutFacts, nil)
					must(t, err)
					f := v.(map[string]any)
					if f["split"] != "" {
						t.Errorf("%q: words split across lines: %v", n, f["split"])
					}
					if !f["statusShown"].(bool) || toFloat(f["statusLeft"]) < 0 || toFloat(f["statusRight"]) > toFloat(f["viewport"])+0.5 || toFloat(f["statusWidth"]) < 60 {
						t.Errorf("%q: Status cell not fully in view (right edge %v px): %v", n, f["viewport"], f)
					}
					if toFloat(f["pageWidth"]) > toFloat(f["clientWidth"]) {
						t.Errorf("the page scrolls sideways: %v > %v", f["pageWidth"], f["clientWidth"])
					}
					if w >= 1024 && toFloat(f["nameWidth"]) < 160 {
						t.Errorf("%q: Name cell %v px wide, want at least 160", n, f["nameWidth"])
					}
					// A row is a few lines, not a tower: at 1280 px and more
					// the 40-character name takes at most 2 lines, the
					// 100-character one (with all six scopes) at most 5.
					maxHeight := 90.0
					if n == hundred {
						maxHeight = 150
					}
					if w >= 1280 && toFloat(f["rowHeight"]) > maxHeight {
						t.Errorf("%q: row %v px tall", n, f["rowHeight"])
					}
				}
				shot(t, page, "list-layout-"+name)
			})
		}
	}
}

// TestKeyListNavigation searches, filters, sorts and pages through 120
// keys with and without JavaScript, and goes back with the back button.
func TestKeyListNavigation(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	keys := realisticKeys(120)
	storeKeys(t, a, keys)
	revoked := 0
	for _, k := range keys {
		if k.revoked {
			revoked++
		}
	}

	for _, js := range []bool{true, false} {
		name := "js"
		if !js {
			name = "nojs"
		}
		t.Run(name, func(t *testing.T) {
			page := newPage(t, a, pageOptions{noJS: !js})
			signIn(t, page, "ada@acme.test", "correct horse battery")
			rows := page.Locator("tbody tr")
			count := page.Locator("#list-count")
			// With JavaScript, changing the list never reloads the page: a
			// mark on the window survives every step. (The back button
			// reloads: htmx keeps no snapshots of pages, by design, see
			// views/layout.templ.)
			mark := func() {
				t.Helper()
				if js {
					_, err := page.Evaluate("window.__sameDocument = true")
					must(t, err)
				}
			}
			sameDocument := func(step string) {
				t.Helper()
				if !js {
					return
				}
				if v, err := page.Evaluate("window.__sameDocument === true"); err != nil || v != true {
					t.Errorf("%s: the page reloaded", step)
				}
			}
			back := func(url string) {
				t.Helper()
				_, err := page.GoBack()
				must(t, err)
				must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(url)))
				must(t, page.WaitForLoadState(playwright.PageWaitForLoadStateOptions{State: playwright.LoadStateLoad}))
			}
			firstName := func() string {
				t.Helper()
				s, err := rows.First().Locator("a.key-name").TextContent()
				must(t, err)
				return s
			}

			must(t, expect.Locator(rows).ToHaveCount(50))
			must(t, expect.Locator(count).ToContainText("1–50 of 120"))
			newest := firstName()
			if newest != realNames[119%len(realNames)]+" 119" {
				t.Errorf("first row %q, want the newest key", newest)
			}

			// Pages: 50, 50, 20; Previous; the back button.
			mark()
			must(t, page.Locator("#list-next").Click())
			must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`\?cursor=`)))
			must(t, expect.Locator(rows.First().Locator("a.key-name")).ToHaveText(regexp.MustCompile(` 069$`)))
			must(t, page.Locator("#list-next").Click())
			must(t, expect.Locator(rows).ToHaveCount(20))
			must(t, expect.Locator(page.Locator("#list-next")).ToHaveCount(0))
			must(t, expect.Locator(rows.Last().Locator("a.key-name")).ToHaveText(regexp.MustCompile(` 000$`)))
			must(t, page.Locator("#list-prev").Click())
			must(t, expect.Locator(rows).ToHaveCount(50))
			must(t, expect.Locator(rows.First().Locator("a.key-name")).ToHaveText(regexp.MustCompile(` 069$`)))
			sameDocument("paging")
			back(`\?cursor=`)
			must(t, expect.Locator(rows).ToHaveCount(20))
			back(`\?cursor=`)
			must(t, expect.Locator(rows).ToHaveCount(50))
			must(t, expect.Locator(rows.First().Locator("a.key-name")).ToHaveText(regexp.MustCompile(` 069$`)))
			back(`/settings/api-keys$`)
			must(t, expect.Locator(rows.First().Locator("a.key-name")).ToHaveText(newest))

			// Search: as you type with JavaScript, on Enter without.
			mark()
			search := page.GetByRole("searchbox", playwright.PageGetByRoleOptions{Name: "Search keys"})
			must(t, search.Fill("staging"))
			if !js {
				must(t, search.Press("Enter"))
			}
			must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`\?q=staging$`)))
			must(t, expect.Locator(rows).ToHaveCount(12))
			must(t, expect.Locator(count).ToContainText("1–12 of 12"))
			if js {
				focused, err := search.Evaluate("el => el === document.activeElement", nil)
				must(t, err)
				if focused != true {
					t.Error("the search box lost focus while the results changed")
				}
			}
			shot(t, page, "list-search-"+name)

			// Status tab, then scope, kept together in the address.
			must(t, page.Locator("#status-tab-revoked").Click())
			must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`\?q=staging&status=revoked$`)))
			must(t, expect.Locator(page.Locator("#status-tab-revoked")).ToHaveAttribute("aria-current", "page"))
			n, err := rows.Count()
			must(t, err)
			for i := range n {
				must(t, expect.Locator(rows.Nth(i).Locator(".badge").First()).ToHaveText("Revoked"))
			}
			must(t, page.Locator("#status-tab-all").Click())
			must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`\?q=staging$`)))
			must(t, expect.Locator(rows).ToHaveCount(12))
			_, err = page.Locator("#key-scope").SelectOption(playwright.SelectOptionValues{Values: &[]string{"mcp:read"}})
			must(t, err)
			if !js {
				must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Search"}).Click())
			}
			// Staging keys are i%10 == 1: all of them hold mcp:read and
			// mcp:write.
			must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`\?q=staging&scope=mcp%3Aread$`)))
			must(t, expect.Locator(rows).ToHaveCount(12))
			must(t, expect.Locator(rows.First().Locator("td[data-label='Scopes']")).ToContainText("mcp:write"))

			// Sort by name, then the other way; back restores the order.
			must(t, page.Locator("#sort-name").Click())
			must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`&sort=name$`)))
			must(t, expect.Locator(rows.First().Locator("a.key-name")).ToHaveText("Staging (2025) 001"))
			must(t, expect.Locator(page.Locator("th[aria-sort='ascending']")).ToContainText("Name"))
			must(t, page.Locator("#sort-name").Click())
			must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`&sort=-name$`)))
			must(t, expect.Locator(rows.First().Locator("a.key-name")).ToHaveText("Staging (2025) 111"))
			sameDocument("filters and sort")
			back(`&sort=name$`)
			must(t, expect.Locator(rows.First().Locator("a.key-name")).ToHaveText("Staging (2025) 001"))

			// A search that finds nothing says why, and clears.
			mark()
			must(t, search.Fill("no such key anywhere"))
			if !js {
				must(t, search.Press("Enter"))
			}
			must(t, expect.Locator(page.GetByText(`No keys matching “no such key anywhere”, that can use MCP read.`)).ToBeVisible())
			shot(t, page, "list-nothing-"+name)
			must(t, page.Locator("#list-clear").Click())
			must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`\?sort=name$`)))
			must(t, expect.Locator(rows).ToHaveCount(50))
			must(t, expect.Locator(page.Locator("#status-tab-revoked .tab-count")).ToHaveText(fmt.Sprint(revoked)))
			sameDocument("clear")

			// The banner leads to the keys expiring soon, soonest first.
			must(t, expect.Locator(page.Locator("#expiring-banner")).ToContainText("active keys expire within 7 days."))
			must(t, page.Locator("#expiring-banner a").Click())
			must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`\?status=expiring$`)))
			must(t, expect.Locator(rows.First().Locator(".badge-expiring")).ToHaveText(regexp.MustCompile(`^Expires in \d+ (hours|days)$`)))
			shot(t, page, "list-expiring-"+name)
		})
	}
}

// TestKeyListAccessibility runs axe on the list's states: filtered, found
// nothing, second page, the expiring banner; light and dark, desktop and
// phone.
func TestKeyListAccessibility(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	storeKeys(t, a, realisticKeys(70))
	for _, v := range []struct {
		name string
		o    pageOptions
	}{
		{"desktop", pageOptions{}},
		{"desktop-dark", pageOptions{dark: true}},
		{"phone", pageOptions{mobile: true}},
		{"phone-dark", pageOptions{mobile: true, dark: true}},
	} {
		t.Run(v.name, func(t *testing.T) {
			o := v.o
			o.axe = true
			page := newPage(t, a, o)
			allowStatus(page, 400)
			signIn(t, page, "ada@acme.test", "correct horse battery")
			for _, s := range []struct{ state, path string }{
				{"first-page", "/settings/api-keys"},
				{"second-page", ""},
				{"expiring", "/settings/api-keys?status=expiring&sort=expires"},
				{"nothing-found", "/settings/api-keys?q=zzz&scope=mcp:read"},
				{"bad-address", "/settings/api-keys?status=bogus"},
			} {
				if s.path == "" {
					must(t, page.Locator("#list-next").Click())
					must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`cursor=`)))
				} else {
					goTo(t, page, s.path)
				}
				must(t, expect.Locator(page.Locator("#keys-results")).ToBeVisible())
				checkA11y(t, page, v.name+" "+s.state)
				shot(t, page, "list-a11y-"+v.name+"-"+s.state)
			}
		})
	}
}

// TestKeyListKeyboard: every control of the list shows a focus ring, and
// focus stays on the control that changed the results.
func TestKeyListKeyboard(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	storeKeys(t, a, realisticKeys(60))
	for _, dark := range []bool{false, true} {
		page := newPage(t, a, pageOptions{dark: dark})
		signIn(t, page, "ada@acme.test", "correct horse battery")
		for _, sel := range []string{"#key-search", "#key-scope", "#status-tab-revoked", "#sort-name", "#list-next"} {
			checkFocusRing(t, page, page.Locator(sel), nil, fmt.Sprintf("%s (dark %v)", sel, dark))
		}
		// Enter on a sort header: the results change, the focus stays on
		// that header.
		must(t, page.Locator("#sort-expires").Focus())
		must(t, page.Keyboard().Press("Enter"))
		must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`\?sort=expires$`)))
		must(t, expect.Locator(page.Locator("#sort-expires")).ToBeFocused())
		must(t, page.Locator("#list-next").Focus())
		must(t, page.Keyboard().Press("Enter"))
		must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`cursor=`)))
		// The Next link of the last page is gone: focus goes to Previous.
		must(t, expect.Locator(page.Locator("#list-prev")).ToBeFocused())
	}
}

// TestKeyListPastedKey: a key pasted into the search box leaves the box
// and the address, with and without JavaScript; the list shows that key.
func TestKeyListPastedKey(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	tokens, _ := storeKeys(t, a, realisticKeys(5))
	token := tokens[2]
	for _, js := range []bool{true, false} {
		page := newPage(t, a, pageOptions{noJS: !js})
		signIn(t, page, "ada@acme.test", "correct horse battery")
		search := page.GetByRole("searchbox", playwright.PageGetByRoleOptions{Name: "Search keys"})
		must(t, search.Fill(token))
		must(t, search.Press("Enter"))
		must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`\?q=`+regexp.QuoteMeta(token[:13])+`$`)))
		must(t, expect.Locator(search).ToHaveValue(token[:13]))
		must(t, expect.Locator(page.Locator("tbody tr")).ToHaveCount(1))
		must(t, expect.Locator(page.Locator("tbody tr td[data-label='Name']")).ToContainText(realNames[2]))
		if html, err := page.Content(); err != nil || strings.Contains(html, token) {
			t.Errorf("js %v: the key is still in the page (%v)", js, err)
		}
	}
}
