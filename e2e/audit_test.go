package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/playwright-community/playwright-go"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/webhook"
)

// Realistic data that does not fit a table: a 60-character email, a
// 100-character key name with emoji, a 200-character description.
var (
	longEmail = "alexandra.konstantinidou-papadopoulou@eu-finance.acmepay.dev"
	longName  = pad("🚀 Customer data export for the quarterly finance reconciliation job, EU region (read only) 📦", 100)
	longDesc  = pad("Used by the nightly reconciliation batch in eu-west-1 to export settled payments to the finance data warehouse; owned by the payments platform team, rotate before each quarter close;", 200)
)

// pad makes s exactly n characters long, with dots.
func pad(s string, n int) string {
	for utf8.RuneCountInString(s) < n {
		s += "."
	}
	return string([]rune(s)[:n])
}

// seedAuditLog stores n events of every kind straight into the app's
// audit log (as the dashboard records them), by a user with a long
// email, about a key with a long name, and returns the key's id.
func seedAuditLog(t *testing.T, a *app, n int) string {
	t.Helper()
	if utf8.RuneCountInString(longEmail) != 60 || utf8.RuneCountInString(longName) != 100 || utf8.RuneCountInString(longDesc) != 200 {
		t.Fatalf("test data lengths %d, %d, %d", utf8.RuneCountInString(longEmail), utf8.RuneCountInString(longName), utf8.RuneCountInString(longDesc))
	}
	_, id := storeKey(t, a, longName, []string{"data:read", "proxy:read"}, time.Now().Add(-2*time.Hour), time.Time{})
	store, login := openAsAdmin(t, a)
	defer store.Close()
	k, err := store.Key(context.Background(), login.Workspace.ID, id)
	must(t, err)
	ws := login.Workspace.ID
	actor := audit.Actor{UserID: login.User.ID, Email: longEmail, Kind: audit.User, IP: "203.0.113.7"}
	v6 := actor
	v6.IP = "2001:db8:85a3:8d3:1319:8a2e:370:7348"
	start := time.Now().Add(-time.Duration(n) * time.Minute)
	hook := "https://hooks.example-integrations.acme.test/services/T024BE7LD/B01ABCDEFGH/webhook-receiver-for-key-events"
	for i := range n {
		ev := audit.Event{WorkspaceID: ws, At: start.Add(time.Duration(i) * time.Minute), Actor: actor, KeyID: k.ID, KeyPrefix: k.Prefix}
		switch i % 10 {
		case 0:
			ev.Action = audit.KeyCreated
			ev.Details = map[string]any{"name": longName, "scopes": "data:read proxy:read", "expires_at": nil, "description": longDesc}
		case 1:
			ev.Action = audit.KeyEdited
			ev.Details = map[string]any{"before": map[string]any{"name": "Export", "description": longDesc},
				"after": map[string]any{"name": longName, "description": strings.ToUpper(longDesc)}}
		case 2:
			ev.Action, ev.Actor = audit.KeyRolled, v6
			ev.Details = map[string]any{"rolled_into": map[string]any{"id": "key_0123456789abcdefghij", "prefix": "blnk_1a2b3c4d"}, "overlap": "24h",
				"before": map[string]any{"expires_at": nil}, "after": map[string]any{"expires_at": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)}}
		case 3:
			ev.Action = audit.KeyRevoked
		case 4:
			ev.Action, ev.Actor = audit.KeyLeaked, audit.Actor{Kind: audit.LeakReport, IP: "198.51.100.23"}
			ev.Details = map[string]any{"url": "https://gist.github.example.com/someone/0123456789abcdef0123456789abcdef/raw/settings.env", "source": "GitHub secret scanning", "revoked": true}
		case 5:
			ev.Action, ev.KeyID, ev.KeyPrefix = audit.UserSignedIn, "", ""
		case 6:
			ev.Action, ev.KeyID, ev.KeyPrefix = audit.UserSignInFailed, "", ""
			ev.Details = map[string]any{"reason": "wrong password"}
		case 7:
			ev.Action, ev.KeyID, ev.KeyPrefix = audit.WebhookCreated, "", ""
			ev.Details = map[string]any{"webhook_id": "wh_0123456789abcdefghij", "url": hook, "events": []any{"key.created", "key.revoked", "key.leaked", "key.expiring"}, "description": longDesc}
		case 8:
			ev.Action = audit.KeyRevealed
		case 9:
			ev.Action, ev.Actor = audit.KeyExpired, audit.Actor{Kind: audit.System}
			ev.Details = map[string]any{"expired_at": time.Now().UTC().Format(time.RFC3339)}
		}
		must(t, store.RecordEvent(context.Background(), ev))
	}
	return k.ID
}

// fitFacts measures, in the browser, whether a list fits: the page does
// not scroll sideways, the box (selector) shows all of its content, every
// row (rows) and everything in a row stays inside it; and what the
// longest words became (the lines a row's actor takes).
const fitFacts = `([box, rows]) => {
	const root = document.documentElement;
	const container = document.querySelector(box);
	const c = container.getBoundingClientRect();
	const out = { clientWidth: root.clientWidth, scrollWidth: root.scrollWidth, boxRight: c.right, boxLeft: c.left,
		boxScroll: container.scrollWidth, boxClient: container.clientWidth, rows: 0, bad: [], maxActorLines: 0, minBody: 1e9 };
	for (const row of container.querySelectorAll(rows)) {
		out.rows++;
		const r = row.getBoundingClientRect();
		if (r.left < c.left - 0.5 || r.right > c.right + 0.5) {
			out.bad.push(row.id + ": row " + Math.round(r.left) + "–" + Math.round(r.right));
		}
		for (const el of row.querySelectorAll("*")) {
			const e = el.getBoundingClientRect();
			if (e.width === 0 || el.closest(".visually-hidden, thead")) continue;
			if (e.left < r.left - 0.5 || e.right > r.right + 0.5 || e.right > root.clientWidth + 0.5) {
				out.bad.push((row.id || row.className) + ": <" + el.tagName.toLowerCase() + " class=" + el.className + "> " + Math.round(e.left) + "–" + Math.round(e.right));
			}
		}
		const actor = row.querySelector(".event-actor");
		if (actor) {
			const lines = new Set(Array.from(actor.getClientRects()).map(b => Math.round(b.top)));
			out.maxActorLines = Math.max(out.maxActorLines, lines.size);
			out.minBody = Math.min(out.minBody, row.querySelector(".event-body").getBoundingClientRect().width);
		}
	}
	return out;
}`

// checkFits fails the test unless the facts say everything fits.
func checkFits(t *testing.T, page playwright.Page, box, rows string, wantRows int) map[string]any {
	t.Helper()
	v, err := page.Evaluate(fitFacts, []string{box, rows})
	must(t, err)
	f := v.(map[string]any)
	if toFloat(f["scrollWidth"]) > toFloat(f["clientWidth"]) {
		t.Errorf("the page scrolls sideways: %v > %v", f["scrollWidth"], f["clientWidth"])
	}
	if toFloat(f["boxScroll"]) > toFloat(f["boxClient"]) {
		t.Errorf("%s hides content: %v px of content in %v px", box, f["boxScroll"], f["boxClient"])
	}
	if toFloat(f["boxRight"]) > toFloat(f["clientWidth"])+0.5 || toFloat(f["boxLeft"]) < 0 {
		t.Errorf("%s is out of the viewport: %v–%v of %v", box, f["boxLeft"], f["boxRight"], f["clientWidth"])
	}
	if int(toFloat(f["rows"])) != wantRows {
		t.Errorf("%d rows, want %d", int(toFloat(f["rows"])), wantRows)
	}
	if bad, _ := f["bad"].([]any); len(bad) > 0 {
		shown := bad
		if len(shown) > 8 {
			shown = shown[:8]
		}
		t.Errorf("%d things cut off or outside their row, such as:\n  %v", len(bad), shown)
	}
	return f
}

// TestAuditLogLayout: 60 events with a 60-character email, a 100-character
// name with emoji and a 200-character description fit from 390 to 1920
// px, light and dark, with their details open or closed: nothing cut off
// or scrolled sideways, no email one letter a line.
func TestAuditLogLayout(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	seedAuditLog(t, a, 60)
	for _, w := range []int{390, 1024, 1280, 1440, 1920} {
		for _, dark := range []bool{false, true} {
			name := fmt.Sprintf("%dpx", w)
			if dark {
				name += "-dark"
			}
			t.Run(name, func(t *testing.T) {
				page := newPage(t, a, pageOptions{width: w, mobile: w < 500, dark: dark})
				signIn(t, page, "ada@acme.test", "correct horse battery")
				goTo(t, page, "/settings/audit-log")
				// The page's 50 events (and the sign-in), the link to older ones.
				must(t, expect.Locator(page.Locator(".audit-event")).ToHaveCount(50))
				must(t, expect.Locator(page.GetByRole("link", playwright.PageGetByRoleOptions{Name: "Older →"})).ToBeVisible())
				f := checkFits(t, page, "#audit-results", ".audit-event", 50)
				// The 60-character email: one line on wide screens, at most
				// two elsewhere; the sentence's column never squeezed.
				maxLines := 2.0
				if w >= 1440 {
					maxLines = 1
				}
				t.Logf("the sentence's column: %v px", f["minBody"])
				if toFloat(f["maxActorLines"]) > maxLines {
					t.Errorf("the email takes %v lines, want at most %v", f["maxActorLines"], maxLines)
				}
				if body := toFloat(f["minBody"]); body < 300 {
					t.Errorf("the sentence's column is %v px wide, want at least 300", body)
				}
				shot(t, page, "audit-layout-"+name)
				viewShot(t, page, "audit-view-"+name)

				// Every event's details open: the 200-character
				// descriptions, before and after, fit as well.
				_, err := page.Evaluate(`() => document.querySelectorAll("#audit-results details").forEach(d => d.open = true)`)
				must(t, err)
				checkFits(t, page, "#audit-results", ".audit-event", 50)
				shot(t, page, "audit-layout-open-"+name)
				_, err = page.Locator(".audit-event").Nth(8).Evaluate("el => el.scrollIntoView()", nil)
				must(t, err)
				viewShot(t, page, "audit-view-open-"+name)
			})
		}
	}
}

// TestAuditLogEventsRead: an event reads as a sentence whose actor and key
// filter the log, and its details open without JavaScript.
func TestAuditLogEventsRead(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	id := seedAuditLog(t, a, 10)
	for _, js := range []bool{true, false} {
		t.Run(map[bool]string{true: "js", false: "nojs"}[js], func(t *testing.T) {
			page := newPage(t, a, pageOptions{noJS: !js, width: 1280})
			signIn(t, page, "ada@acme.test", "correct horse battery")
			goTo(t, page, "/settings/audit-log?action=key.edited")
			ev := page.Locator(".audit-event")
			must(t, expect.Locator(ev).ToHaveCount(1))
			must(t, expect.Locator(ev).ToContainText(longEmail+" edited key blnk_"))
			// The descriptions, before and after, in full once opened.
			details := ev.Locator("details")
			was := details.Locator(".was").Filter(playwright.LocatorFilterOptions{HasText: longDesc})
			now := details.Locator(".now").Filter(playwright.LocatorFilterOptions{HasText: strings.ToUpper(longDesc)})
			must(t, expect.Locator(was).ToHaveCount(1))
			must(t, expect.Locator(was).Not().ToBeVisible())
			must(t, details.Locator("summary").Click())
			must(t, expect.Locator(was).ToBeVisible())
			must(t, expect.Locator(now).ToBeVisible())
			// The actor's link filters by the actor, the key's by the key.
			goTo(t, page, "/settings/audit-log")
			must(t, page.GetByRole("link", playwright.PageGetByRoleOptions{Name: longEmail, Exact: playwright.Bool(true)}).First().Click())
			must(t, expect.Locator(page.GetByLabel("Actor")).ToHaveValue(longEmail))
			must(t, expect.Locator(page.Locator(".audit-event")).ToHaveCount(8)) // of the 10 seeded, 2 by a leak report and the system
			must(t, page.Locator(".audit-event .event-key").First().Click())
			must(t, expect.Locator(page.GetByLabel("Key", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)})).ToHaveValue(id))
			must(t, expect.Locator(page.Locator(".audit-event")).ToHaveCount(5)) // the key's events by that actor
		})
	}
}

// TestAuditLogAccessibility: axe-core finds nothing on the new audit log,
// its details open, in both themes, on a desktop and a phone.
func TestAuditLogAccessibility(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	seedAuditLog(t, a, 60)
	for _, v := range a11yVariants {
		t.Run(v.name, func(t *testing.T) {
			o := v.o
			o.axe = true
			page := newPage(t, a, o)
			signIn(t, page, "ada@acme.test", "correct horse battery")
			goTo(t, page, "/settings/audit-log")
			must(t, expect.Locator(page.Locator(".audit-event")).ToHaveCount(50))
			checkA11y(t, page, v.name+" audit log")
			_, err := page.Evaluate(`() => document.querySelectorAll("#audit-results details").forEach(d => d.open = true)`)
			must(t, err)
			checkA11y(t, page, v.name+" audit log, details open")
			viewShot(t, page, "a11y-"+v.name+"-audit-log-open")
		})
	}
}

// TestWebhookDeliveriesLayout: an endpoint's deliveries (delivered,
// refused, cut off, with their errors and retries) fit from 390 to 1920
// px, light and dark, with every Resend button in full view.
func TestWebhookDeliveriesLayout(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 3 {
		case 1:
			w.WriteHeader(http.StatusNoContent)
		case 2:
			http.Error(w, "upstream unavailable", http.StatusServiceUnavailable)
		default:
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close() // no answer at all: the delivery records an error
			}
		}
	}))
	t.Cleanup(recv.Close)
	a := startApp(t, "--webhook-retry", "1h", "--webhook-poll", "100ms", "--webhook-allow-private") // the receiver is on loopback
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	store, login := openAsAdmin(t, a)
	ep, _, err := store.CreateWebhook(context.Background(), blnk.NewWebhook{
		Endpoint: webhook.Endpoint{ID: webhook.NewID(), WorkspaceID: login.Workspace.ID, URL: recv.URL + "/hooks/blnk/key-events-receiver-for-the-payments-platform",
			Events: []webhook.EventType{webhook.KeyCreated}, Description: longDesc, CreatedAt: time.Now()},
		Secret: webhook.NewSecret(), CreateToken: apikey.NewID(), Actor: audit.Actor{Kind: audit.System},
	})
	store.Close()
	must(t, err)
	const deliveries = 6
	keys := make([]seedKey, deliveries)
	for i := range keys {
		keys[i] = seedKey{name: fmt.Sprintf("%s %d", string([]rune(longName)[:40]), i), scopes: []string{"*"}}
	}
	storeKeys(t, a, keys)
	waitUntil(t, time.Minute, func() bool { return n.Load() >= deliveries })

	for _, w := range []int{390, 1024, 1280, 1440, 1920} {
		for _, dark := range []bool{false, true} {
			name := fmt.Sprintf("%dpx", w)
			if dark {
				name += "-dark"
			}
			t.Run(name, func(t *testing.T) {
				page := newPage(t, a, pageOptions{width: w, mobile: w < 500, dark: dark})
				signIn(t, page, "ada@acme.test", "correct horse battery")
				goTo(t, page, "/settings/webhooks/"+ep.ID)
				resend := page.Locator("#deliveries").GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Resend"})
				must(t, expect.Locator(resend).ToHaveCount(deliveries))
				must(t, expect.Locator(page.Locator("#deliveries").GetByText("No response").First()).ToBeVisible())
				checkFits(t, page, "#deliveries", "tr.delivery", deliveries)
				// Every Resend button in full view, inside the card.
				v, err := page.Evaluate(`() => {
					const card = document.getElementById("deliveries").getBoundingClientRect();
					return Array.from(document.querySelectorAll("#deliveries tr.delivery button")).map(b => {
						const r = b.getBoundingClientRect();
						return r.width > 40 && r.left >= card.left && r.right <= card.right && r.right <= document.documentElement.clientWidth;
					});
				}`)
				must(t, err)
				for i, ok := range v.([]any) {
					if ok != true {
						t.Errorf("Resend button %d not fully in view", i+1)
					}
				}
				shot(t, page, "deliveries-layout-"+name)
				viewShot(t, page, "deliveries-view-"+name)
			})
		}
	}
}

// viewShot saves what the viewport shows as artifacts/NAME.png.
func viewShot(t *testing.T, page playwright.Page, name string) {
	t.Helper()
	if _, err := page.Screenshot(playwright.PageScreenshotOptions{
		Path:       playwright.String(filepath.Join(artifacts, name+".png")),
		Animations: playwright.ScreenshotAnimationsDisabled,
		Timeout:    playwright.Float(60_000), // a record, not an assertion about speed
	}); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
	}
}

// TestRollDialogFocus: the roll dialog (and the roll page, with and
// without JavaScript) starts on the chosen overlap, "24 hours", not on
// "Stop it now", which looks dangerous: the danger colour, as text.
func TestRollDialogFocus(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	_, id := storeKey(t, a, "Billing job", []string{"data:read"}, time.Now().Add(-time.Hour), time.Time{})
	dangerous := func(t *testing.T, page playwright.Page) {
		t.Helper()
		v, err := page.Evaluate(`() => {
			const probe = document.createElement("span");
			probe.style.color = "var(--danger)";
			document.body.append(probe);
			const danger = getComputedStyle(probe).color;
			probe.remove();
			const label = value => getComputedStyle(document.querySelector("input[name=overlap][value='" + value + "']").closest("label")).color;
			return { danger, now: label("now"), hour: label("1h") };
		}`)
		must(t, err)
		f := v.(map[string]any)
		if f["now"] != f["danger"] || f["hour"] == f["danger"] {
			t.Errorf("“Stop it now” in %v, “1 hour” in %v; want the danger colour %v for the first only", f["now"], f["hour"], f["danger"])
		}
	}
	for _, dark := range []bool{false, true} {
		t.Run(map[bool]string{false: "dialog", true: "dialog-dark"}[dark], func(t *testing.T) {
			page := newPage(t, a, pageOptions{dark: dark})
			signIn(t, page, "ada@acme.test", "correct horse battery")
			panel := panelOf(t, page, "Billing job")
			must(t, panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Roll key"}).Click())
			dialog := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Roll “Billing job”"})
			must(t, expect.Locator(dialog).ToBeVisible())
			must(t, expect.Locator(dialog.GetByRole("radio", playwright.LocatorGetByRoleOptions{Name: "24 hours"})).ToBeChecked())
			must(t, expect.Locator(dialog.GetByRole("radio", playwright.LocatorGetByRoleOptions{Name: "24 hours"})).ToBeFocused())
			dangerous(t, page)
			// Chosen, "Stop it now" makes Roll key a danger button.
			must(t, dialog.GetByRole("radio", playwright.LocatorGetByRoleOptions{Name: "Stop it now"}).Check())
			danger, err := page.Evaluate(`() => {
				const probe = document.createElement("span");
				probe.style.color = "var(--danger-strong)";
				document.body.append(probe);
				const danger = getComputedStyle(probe).color;
				probe.remove();
				return danger;
			}`)
			must(t, err)
			must(t, expect.Locator(dialog.GetByRole("button", playwright.LocatorGetByRoleOptions{Name: "Roll key"})).ToHaveCSS("background-color", danger.(string)))
			viewShot(t, page, "roll-dialog-focus-"+map[bool]string{false: "light", true: "dark"}[dark])
		})
	}
	for _, js := range []bool{true, false} {
		t.Run(map[bool]string{true: "page", false: "page-nojs"}[js], func(t *testing.T) {
			page := newPage(t, a, pageOptions{noJS: !js})
			signIn(t, page, "ada@acme.test", "correct horse battery")
			goTo(t, page, "/settings/api-keys/"+id+"/roll")
			must(t, expect.Locator(page.GetByRole("radio", playwright.PageGetByRoleOptions{Name: "24 hours"})).ToBeFocused())
			dangerous(t, page)
		})
	}
}

// TestDialogsStartSafe: every dialog starts its focus on a safe control:
// the create form on its name, the revoke confirmation on Cancel, the
// edit form on the name, the add-endpoint form on its URL.
func TestDialogsStartSafe(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	storeKey(t, a, "Billing job", []string{"data:read"}, time.Now().Add(-time.Hour), time.Time{})
	page := newPage(t, a, pageOptions{})
	signIn(t, page, "ada@acme.test", "correct horse battery")

	must(t, role(page, "link", "Create API Key").Click())
	create := page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Create API Key"})
	must(t, expect.Locator(create.GetByLabel("Name", playwright.LocatorGetByLabelOptions{Exact: playwright.Bool(true)})).ToBeFocused())
	must(t, page.Keyboard().Press("Escape"))

	panel := panelOf(t, page, "Billing job")
	must(t, panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Revoke Key"}).Click())
	revoke := page.GetByRole("alertdialog")
	must(t, expect.Locator(revoke.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Cancel"})).ToBeFocused())
	must(t, page.Keyboard().Press("Escape"))
	must(t, expect.Locator(revoke).ToHaveCount(0))

	must(t, panel.GetByRole("link", playwright.LocatorGetByRoleOptions{Name: "Edit", Exact: playwright.Bool(true)}).Click())
	must(t, expect.Locator(panel.GetByLabel("Name", playwright.LocatorGetByLabelOptions{Exact: playwright.Bool(true)})).ToBeFocused())
	must(t, page.Keyboard().Press("Escape"))

	goTo(t, page, "/settings/webhooks")
	must(t, role(page, "link", "Add endpoint").First().Click())
	must(t, expect.Locator(page.GetByRole("dialog", playwright.PageGetByRoleOptions{Name: "Add endpoint"}).GetByLabel("Endpoint URL")).ToBeFocused())
}

// TestRevealFocus: the reveal page starts on the key, selected, with and
// without JavaScript; Copy is its one primary button.
func TestRevealFocus(t *testing.T) {
	t.Parallel()
	for _, js := range []bool{true, false} {
		t.Run(map[bool]string{true: "js", false: "nojs"}[js], func(t *testing.T) {
			t.Parallel()
			_, page := signedIn(t, pageOptions{noJS: !js})
			name := uniq("Reveal focus")
			must(t, role(page, "link", "Create API Key").First().Click())
			fillKeyForm(t, page, name, []string{"data:read"}, "Never", "")
			must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create API Key"}).Last().Click())
			must(t, expect.Locator(role(page, "heading", "Save your API key")).ToBeVisible())
			key := page.GetByLabel("Your new API key")
			must(t, expect.Locator(key).ToBeFocused())
			if js {
				// Selected: Ctrl+C copies it.
				must(t, expect.Locator(page.Locator(".button-primary:visible")).ToHaveText([]string{"Copy"}))
				sel, err := key.Evaluate("el => el.value.substring(el.selectionStart, el.selectionEnd) === el.value && el.value.length > 0", nil)
				must(t, err)
				if sel != true {
					t.Errorf("the key is not selected")
				}
			} else {
				// No Copy without JavaScript: Done looks primary instead.
				must(t, expect.Locator(page.Locator(".button-primary:visible")).ToHaveCount(0))
				done, err := role(page, "link", "Done").Evaluate(`el => {
					const probe = document.createElement("span");
					probe.style.color = "var(--primary)";
					document.body.append(probe);
					const primary = getComputedStyle(probe).color;
					probe.remove();
					return getComputedStyle(el).backgroundColor === primary;
				}`, nil)
				must(t, err)
				if done != true {
					t.Errorf("without JavaScript, Done does not look primary")
				}
			}
			must(t, expect.Locator(role(page, "link", "Done")).ToBeVisible())
		})
	}
}
