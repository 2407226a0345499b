package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"github.com/blnk-cloud/apikeys/internal/apikey"
	"github.com/blnk-cloud/apikeys/internal/audit"
	"github.com/blnk-cloud/apikeys/internal/blnk"
	"github.com/blnk-cloud/apikeys/internal/twofactor"
	"github.com/blnk-cloud/apikeys/internal/webhook"
)

// fitWidths are the window widths every page must fit (issue 20).
var fitWidths = []int{390, 1024, 1280, 1440, 1920}

// pageFitFacts measures, in the browser, whether what the page shows
// fits its window, whatever the page is (a form, a table, a list):
//   - the page does not scroll sideways;
//   - every element drawn lies inside the viewport, left to right;
//   - no box scrolls sideways (a table in a scrolling box included),
//     but for a strip that says it does with a fade at its edge;
//   - no block's text runs past its box (scrollWidth > clientWidth),
//     unless it is cut on purpose: an ellipsis, and the whole text in a
//     title attribute;
//   - no text is squeezed into a column a few letters wide;
//   - in tables, every cell stays inside its row.
//
// Fields (input, textarea, select) scroll their own text by design;
// visually hidden text (for screen readers) and what is not drawn are
// left out.
const pageFitFacts = `async () => {
	// Measured as the page ends up: a panel sliding in is not yet where
	// it stays.
	await Promise.all(document.getAnimations()
		.filter(a => a.effect && a.effect.getTiming().iterations !== Infinity)
		.map(a => a.finished.catch(() => {})));
	const root = document.documentElement;
	const vw = root.clientWidth;
	const out = { clientWidth: vw, scrollWidth: root.scrollWidth, bad: [] };
	const name = el => {
		let s = el.tagName.toLowerCase();
		if (el.id) s += "#" + el.id;
		if (typeof el.className === "string" && el.className.trim()) s += "." + el.className.trim().split(/\s+/).join(".");
		const text = (el.textContent || "").trim().replace(/\s+/g, " ");
		return s + (text ? " “" + text.slice(0, 40) + (text.length > 40 ? "…" : "") + "”" : "");
	};
	// Text for screen readers only: in a box of 1 px or none, however
	// the stylesheet makes it (.visually-hidden, or a label's own rule).
	const srOnly = new Map();
	const hiddenText = el => {
		if (!el || el === document.body) return false;
		if (srOnly.has(el)) return srOnly.get(el);
		const r = el.getBoundingClientRect();
		const cs = getComputedStyle(el);
		const v = el.matches(".visually-hidden, [hidden]") ||
			(cs.position === "absolute" && r.width <= 1 && r.height <= 1 && cs.overflow === "hidden") ||
			hiddenText(el.parentElement);
		srOnly.set(el, v);
		return v;
	};
	// A strip that scrolls sideways on purpose (the keys' status tabs on
	// a phone) says so: a fade drawn over its edge (its parent's
	// ::after). What it scrolls out of view is not cut off.
	const hinted = box => {
		const a = box.parentElement && getComputedStyle(box.parentElement, "::after");
		return !!a && a.content !== "none" && a.backgroundImage.includes("gradient") && parseFloat(a.width) >= 16;
	};
	const inHintedScroller = el => {
		for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
			const o = getComputedStyle(p).overflowX;
			if ((o === "auto" || o === "scroll") && hinted(p)) return true;
		}
		return false;
	};
	const fields = new Set(["INPUT", "TEXTAREA", "SELECT", "OPTION", "svg", "path"]);
	for (const el of document.body.querySelectorAll("*")) {
		if (hiddenText(el)) continue;
		const r = el.getBoundingClientRect();
		if (r.width === 0 || r.height === 0) continue;
		const cs = getComputedStyle(el);
		if (cs.visibility === "hidden" || cs.opacity === "0") continue;
		if ((r.left < -0.5 || r.right > vw + 0.5) && !inHintedScroller(el)) {
			out.bad.push("outside the viewport (" + Math.round(r.left) + "–" + Math.round(r.right) + " of " + vw + "): " + name(el));
			continue;
		}
		if (fields.has(el.tagName) || el.closest("svg")) continue;
		const sideways = cs.overflowX === "auto" || cs.overflowX === "scroll";
		if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0 && cs.display !== "inline") {
			const ellipsized = cs.textOverflow === "ellipsis" && (el.title || el.closest("[title]"));
			if (sideways && !hinted(el)) {
				out.bad.push("scrolls sideways (" + el.scrollWidth + " px in " + el.clientWidth + "): " + name(el));
			} else if (!sideways && !ellipsized) {
				out.bad.push("text runs past its box (" + el.scrollWidth + " px in " + el.clientWidth + "): " + name(el));
			}
		}
		// A column so narrow that words become letters on lines.
		const text = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.data.trim().length > 3);
		if (text && cs.display !== "inline") {
			const line = parseFloat(cs.lineHeight) || parseFloat(cs.fontSize) * 1.4;
			if (r.width < 48 && r.height > 4 * line) {
				out.bad.push("squeezed to " + Math.round(r.width) + " px wide, " + Math.round(r.height / line) + " lines: " + name(el));
			}
		}
	}
	for (const row of document.querySelectorAll("tbody tr")) {
		if (hiddenText(row)) continue;
		const r = row.getBoundingClientRect();
		if (r.width === 0) continue;
		for (const cell of row.children) {
			const c = cell.getBoundingClientRect();
			if (c.width === 0 || hiddenText(cell)) continue;
			if (c.left < r.left - 0.5 || c.right > r.right + 0.5) {
				out.bad.push("outside its row (" + Math.round(c.left) + "–" + Math.round(c.right) + " of " + Math.round(r.left) + "–" + Math.round(r.right) + "): " + name(cell));
			}
		}
	}
	return out;
}`

// checkPageFits fails the test unless pageFitFacts finds the page fits.
func checkPageFits(t *testing.T, page playwright.Page) {
	t.Helper()
	v, err := page.Evaluate(pageFitFacts)
	must(t, err)
	f := v.(map[string]any)
	if toFloat(f["scrollWidth"]) > toFloat(f["clientWidth"]) {
		t.Errorf("%s scrolls sideways: %v px of content in %v", page.URL(), f["scrollWidth"], f["clientWidth"])
	}
	if bad, _ := f["bad"].([]any); len(bad) > 0 {
		shown := bad
		if len(shown) > 10 {
			shown = shown[:10]
		}
		var b strings.Builder
		for _, s := range shown {
			fmt.Fprintf(&b, "\n  %v", s)
		}
		t.Errorf("%s: %d things do not fit, such as:%s", page.URL(), len(bad), b.String())
	}
}

// fitEveryWidth checks the page as it is at every width of fitWidths
// (the viewport resized, the page not reloaded), one subtest each, and
// photographs it at 390, 1024 and 1440 px as artifacts/fit-NAME-WIDTH-THEME.png.
func fitEveryWidth(t *testing.T, page playwright.Page, name, theme string) {
	t.Helper()
	for _, w := range fitWidths {
		t.Run(fmt.Sprintf("%s/%dpx-%s", name, w, theme), func(t *testing.T) {
			must(t, page.SetViewportSize(w, 900))
			checkPageFits(t, page)
			if w == 390 || w == 1024 || w == 1440 {
				shot(t, page, fmt.Sprintf("fit-%s-%d-%s", name, w, theme))
			}
		})
	}
	must(t, page.SetViewportSize(1280, 900))
}

// Long things people type, for the pages that show them.
var (
	longPersonName = "Maximiliane Konstantinidou-Papadopoulou von Hohenzollern-Sigmaringen"
	longUserAgents = []string{
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.2903.86",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1.1 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0 SomeCorporateProxyAgent/4.2.1-build.20241203+internal.security.scanner",
		"curl/8.11.0-DEV-with-a-very-long-build-identifier-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	}
	longPasskeyNames = []string{
		"🔐 MacBook Pro 16″ (M3 Max) · Touch ID · work laptop of the payments platform team 💻",
		"YubiKey 5C NFC — kept in the office safe, second drawer, for emergencies only 🗝️🗝️",
		"iCloud Keychain on Maximiliane's iPhone 16 Pro Max (personal device, approved) 📱",
	}
)

// TestEveryPageFits: every page of the dashboard, filled with the
// longest things people type (a 60-character email, a long display name,
// 100-character names with emoji, 200-character descriptions, long user
// agents), fits at 390, 1024, 1280, 1440 and 1920 px, light and dark:
// nothing scrolls sideways, leaves the window or its row, or is cut off
// without an ellipsis and the whole text on hover. The audit log, the
// deliveries and the keys list's rows have their own, closer tests.
//
// One server; a browser context per theme (and per signed-in person),
// the viewport resized between widths.
func TestEveryPageFits(t *testing.T) {
	t.Parallel()
	a, _ := startMailApp(t) // email: the forgot-password page works; localhost: passkeys
	themes := []string{"light", "dark"}
	opts := func(theme string) pageOptions { return pageOptions{width: 1280, dark: theme == "dark"} }

	// Before anyone: the setup page.
	for _, theme := range themes {
		anon := newPage(t, a, opts(theme))
		goTo(t, anon, "/")
		must(t, expect.Locator(role(anon, "heading", "Set up your workspace")).ToBeVisible())
		fitEveryWidth(t, anon, "setup", theme)
	}
	a.createAdmin(t, "Acme Payments Europe (Payments Platform)", "ada@acme.test", "correct horse battery")

	// Ada, in both themes, signed in before she turns on a second factor.
	admin := map[string]playwright.Page{}
	for _, theme := range themes {
		admin[theme] = newPage(t, a, opts(theme))
		signIn(t, admin[theme], "ada@acme.test", "correct horse battery")
	}
	seedEveryPage(t, a)

	// The long-named person joins by invitation; two more are pending.
	ada := admin["light"]
	invite := func(email string) string {
		t.Helper()
		goTo(t, ada, "/settings/members")
		must(t, ada.GetByLabel("Email").Fill(email))
		must(t, ada.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create invitation link"}).Click())
		field := ada.GetByLabel("Invitation link")
		must(t, expect.Locator(field).ToHaveValue(regexp.MustCompile(`/invite/[A-Za-z0-9_-]{43}$`)))
		link, err := field.InputValue()
		must(t, err)
		return link
	}
	link := invite(longEmail)
	for _, theme := range themes {
		guest := newPage(t, a, opts(theme))
		goTo(t, guest, link)
		must(t, expect.Locator(guest.GetByLabel("Your name")).ToBeVisible())
		fitEveryWidth(t, guest, "invitation", theme)
		if theme == "dark" {
			must(t, guest.GetByLabel("Your name").Fill(longPersonName))
			must(t, guest.GetByLabel("Choose a password").Fill("a long enough password"))
			must(t, guest.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Join workspace"}).Click())
			must(t, expect.Page(guest).ToHaveURL(regexp.MustCompile(`/settings/api-keys$`)))
		}
	}
	invite("pending.invitation-for-the-finance-controlling-team@eu-finance.acmepay.dev")
	invite("ops@acme.test")
	storeKeysBy(t, a, longEmail, []string{longName, "Ledger sync for the EU region, nightly batch"})
	storeKeysBy(t, a, "ada@acme.test", []string{"Production API Key", string([]rune(longName)[:60])})

	// Ada's authenticator app: its set-up page in both themes, turned on
	// in the light one; the recovery codes in both (the dark theme's
	// new ones replace the first; one of them signs in below).
	for _, theme := range themes {
		page := admin[theme]
		goTo(t, page, "/settings/security/totp")
		must(t, expect.Locator(page.Locator("#totp-secret")).ToBeVisible())
		fitEveryWidth(t, page, "totp-setup", theme)
	}
	{
		text, err := ada.Locator("#totp-secret").TextContent()
		must(t, err)
		code, err := twofactor.Code(strings.ReplaceAll(strings.TrimSpace(text), " ", ""), time.Now())
		must(t, err)
		must(t, ada.GetByLabel("Code").Fill(code))
		must(t, ada.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Turn on"}).Click())
		must(t, expect.Locator(ada.Locator("#recovery-codes li")).ToHaveCount(10))
		fitEveryWidth(t, ada, "recovery-codes", "light")
	}
	dark := admin["dark"]
	goTo(t, dark, "/settings/security")
	must(t, dark.GetByRole("button", playwright.PageGetByRoleOptions{Name: "New recovery codes"}).Click())
	must(t, expect.Locator(dark.Locator("#recovery-codes li")).ToHaveCount(10))
	fitEveryWidth(t, dark, "recovery-codes", "dark")
	recovery, err := dark.Locator("#recovery-codes li").First().TextContent()
	must(t, err)
	recovery = strings.TrimSpace(recovery)

	// Ada's pages, in both themes.
	for _, theme := range themes {
		page := admin[theme]
		for _, p := range []struct{ name, path, ready string }{
			{"keys", "/settings/api-keys", "table.keys tbody tr"},
			{"keys-mine", "/settings/api-keys?owner=me", "table.keys tbody tr"},
			{"members", "/settings/members", "table.invitations tbody tr"},
			{"webhooks", "/settings/webhooks", "table.endpoints tbody tr"},
			{"webhook-new", "/settings/webhooks/new", "main h1"},
			{"security", "/settings/security", "table.passkeys tbody tr"},
			{"passkeys", "/settings/security/passkeys", "table.passkeys tbody tr"},
			{"sessions", "/settings/security/sessions", "table.sessions tbody tr"},
			{"tokens", "/settings/tokens", "table tbody tr"},
			{"policies", "/settings/policies", "main h1"},
			{"key-new", "/settings/api-keys/new", "main h1"},
		} {
			goTo(t, page, p.path)
			must(t, expect.Locator(page.Locator(p.ready).First()).ToBeVisible())
			fitEveryWidth(t, page, p.name, theme)
			switch p.name {
			case "keys":
				t.Run("keys/filter-labels-"+theme, func(t *testing.T) { checkFilterLabels(t, page) })
				t.Run("keys/workspace-name-390-"+theme, func(t *testing.T) { checkWorkspaceName(t, page, "Acme Payments Europe (Payments Platform)") })
			case "security":
				t.Run("security/card-gaps-"+theme, func(t *testing.T) { checkCardGaps(t, page) })
			}
		}
		// A key's own page, with the long name and description.
		goTo(t, page, "/settings/api-keys")
		must(t, exactRole(page, "link", longName).First().Click())
		must(t, expect.Locator(page.GetByRole("dialog")).ToBeVisible())
		fitEveryWidth(t, page, "key-panel", theme)
		goTo(t, page, "/settings/tokens")
		// A new token, shown once.
		must(t, page.GetByLabel("Name").Fill(pad("Deploy pipeline for the payments platform, EU region, nightly 🚀", 100)))
		must(t, page.Locator(`input[name=scopes][value="keys:read"]`).Check())
		must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create token"}).Click())
		must(t, expect.Locator(page.Locator("#token-secret")).ToBeVisible())
		fitEveryWidth(t, page, "token-reveal", theme)
	}
	// Signed out: sign-in, forgot password, a reset link, the second
	// step of signing in.
	out, err := a.cli(t, "", "members", "reset-link", "--email", longEmail, "--public-url", a.URL)
	if err != nil {
		t.Fatalf("members reset-link: %v\n%s", err, out)
	}
	reset := emailedLink(t, a, out, "/password/reset/")
	for _, theme := range themes {
		anon := newPage(t, a, opts(theme))
		goTo(t, anon, "/login")
		fitEveryWidth(t, anon, "sign-in", theme)
		goTo(t, anon, "/password/forgot")
		fitEveryWidth(t, anon, "forgot-password", theme)
		goTo(t, anon, reset)
		must(t, expect.Locator(anon.GetByLabel("New password", playwright.PageGetByLabelOptions{Exact: playwright.Bool(true)})).ToBeVisible())
		fitEveryWidth(t, anon, "reset-password", theme)
		goTo(t, anon, "/login")
		must(t, anon.GetByLabel("Email").Fill("ada@acme.test"))
		must(t, anon.GetByLabel("Password").Fill("correct horse battery"))
		must(t, anon.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Sign in", Exact: playwright.Bool(true)}).Click())
		must(t, expect.Page(anon).ToHaveURL(regexp.MustCompile(`/login/two-factor$`)))
		fitEveryWidth(t, anon, "two-factor", theme)
		if theme == "dark" {
			// A recovery code signs in: 9 left.
			must(t, anon.GetByLabel("Code").Fill(recovery))
			must(t, anon.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Verify"}).Click())
			must(t, expect.Page(anon).ToHaveURL(regexp.MustCompile(`/settings/api-keys$`)))
		}
	}

	// Sudo: the sign-ins' 10 minutes over, a sensitive page asks again.
	store, _ := openAsAdmin(t, a)
	_, err = store.SQL().ExecContext(context.Background(), `UPDATE sessions SET sudo_at = NULL`)
	store.Close()
	must(t, err)
	for _, theme := range themes {
		page := admin[theme]
		goTo(t, page, "/sudo?next=/settings/policies")
		must(t, expect.Locator(role(page, "heading", "Confirm access")).ToBeVisible())
		fitEveryWidth(t, page, "sudo", theme)
	}
}

// seedEveryPage stores, straight into the app's database, what makes
// Ada's pages long: a webhook with a long address and description,
// three passkeys with long names (one made for another address), four
// more sessions with long user agents, three management tokens with
// long names.
func seedEveryPage(t *testing.T, a *app) {
	t.Helper()
	ctx := context.Background()
	store, login := openAsAdmin(t, a)
	defer store.Close()
	ws, me := login.Workspace.ID, login.User.ID
	system := audit.Actor{Kind: audit.System}
	_, _, err := store.CreateWebhook(ctx, blnk.NewWebhook{
		Endpoint: webhook.Endpoint{ID: webhook.NewID(), WorkspaceID: ws, URL: "https://hooks.example.com/blnk/key-events-receiver-for-the-payments-platform-in-the-eu-region",
			Events: []webhook.EventType{webhook.KeyCreated, webhook.KeyRevoked, webhook.KeyLeaked, webhook.KeyExpiring}, Description: longDesc, CreatedAt: time.Now()},
		Secret: webhook.NewSecret(), CreateToken: apikey.NewID(), Actor: system,
	})
	must(t, err)
	for i, name := range longPasskeyNames {
		rp := "localhost"
		if i == 2 {
			rp = "dashboard.eu-west-1.payments-platform.acme-corporation.example"
		}
		id := make([]byte, 32)
		rand.Read(id)
		p := blnk.Passkey{ID: blnk.NewPasskeyID(), UserID: me, RPID: rp, CredentialID: id, Name: name, Credential: []byte("{}"),
			CreatedAt: time.Now().Add(-time.Duration(30-i) * 24 * time.Hour)}
		if i == 0 {
			p.LastUsedAt = time.Now().Add(-3 * time.Hour)
		}
		must(t, store.CreatePasskey(ctx, p, audit.Event{WorkspaceID: ws, At: p.CreatedAt, Action: audit.PasskeyAdded,
			Actor: audit.Actor{UserID: me, Kind: audit.User}, Details: map[string]any{"name": name}}))
	}
	for i, ua := range longUserAgents {
		token := make([]byte, 32)
		rand.Read(token)
		h := sha256.Sum256(token)
		ip := "203.0.113." + fmt.Sprint(10+i)
		if i == 1 {
			ip = "2001:db8:85a3:8d3:1319:8a2e:370:7348"
		}
		must(t, store.CreateSessionFrom(ctx, h[:], me, ws, time.Now().Add(-time.Duration(i+1)*time.Hour), blnk.SessionClient{UserAgent: ua, IP: ip}))
	}
	for i, name := range []string{
		pad("GitHub Actions — deploy the billing-service to production (eu-west-1, eu-central-1) 🚀", 100),
		"Terraform Cloud workspace: payments-platform-infrastructure-production-europe",
		"CI",
	} {
		secret, err := apikey.GenerateManagement()
		must(t, err)
		_, err = store.CreateToken(ctx, blnk.NewToken{
			Token: blnk.Token{ID: blnk.NewTokenID(), WorkspaceID: ws, UserID: me, Name: name, Prefix: secret[:apikey.MgmtPrefixLen],
				Scopes:    []blnk.TokenScope{blnk.TokenKeysRead, blnk.TokenKeysWrite, blnk.TokenMembersRead, blnk.TokenAuditRead}[:1+i],
				CreatedAt: time.Now().Add(-time.Duration(i+1) * 24 * time.Hour), ExpiresAt: time.Now().Add(time.Duration(30*(i+1)) * 24 * time.Hour)},
			Hash: apikey.HashOf(secret), Actor: audit.Actor{UserID: me, Kind: audit.User},
		})
		must(t, err)
	}
}

// storeKeysBy stores active keys made by the person of email, with a
// 200-character description, straight into the app's database.
func storeKeysBy(t *testing.T, a *app, email string, names []string) {
	t.Helper()
	ctx := context.Background()
	store, login := openAsAdmin(t, a)
	defer store.Close()
	u, err := store.FindUser(ctx, email)
	must(t, err)
	for _, name := range names {
		token, err := apikey.Generate()
		must(t, err)
		prefix, _ := apikey.Parse(token)
		_, _, err = store.CreateKey(ctx, blnk.NewKey{
			Key: apikey.Key{ID: apikey.NewID(), WorkspaceID: login.Workspace.ID, Name: name, Description: longDesc, Prefix: prefix,
				Scopes: apikey.Set(1), CreatedAt: time.Now().Add(-time.Hour), ExpiresAt: time.Now().Add(90 * 24 * time.Hour)},
			Hash: apikey.HashOf(token), CreatedBy: u.ID, CreateToken: apikey.NewID(),
		})
		must(t, err)
	}
}

// checkFilterLabels: on a desktop, the keys list's "Created by" select
// has a visible label beside it, drawn as the one of "Scope" is; and
// from 1600 px the list has its "Created by" column.
func checkFilterLabels(t *testing.T, page playwright.Page) {
	t.Helper()
	for _, w := range []int{1024, 1440, 1920} {
		must(t, page.SetViewportSize(w, 900))
		v, err := page.Evaluate(`() => {
			const look = sel => {
				const l = document.querySelector(sel), r = l.getBoundingClientRect(), cs = getComputedStyle(l);
				return { width: r.width, height: r.height, font: cs.fontWeight + " " + cs.fontSize + " " + cs.color };
			};
			const col = document.querySelector("table.keys th.col-owner").getBoundingClientRect();
			return { owner: look("label[for=key-owner]"), scope: look("label[for=key-scope]"), column: col.width };
		}`)
		must(t, err)
		f := v.(map[string]any)
		owner, scope := f["owner"].(map[string]any), f["scope"].(map[string]any)
		if toFloat(owner["width"]) < 40 || toFloat(owner["height"]) < 10 {
			t.Errorf("%d px: the “Created by” label is %v×%v px: not visible", w, owner["width"], owner["height"])
		}
		if owner["font"] != scope["font"] {
			t.Errorf("%d px: “Created by” drawn in %v, “Scope” in %v", w, owner["font"], scope["font"])
		}
		if wide := toFloat(f["column"]) > 0; wide != (w >= 1600) {
			t.Errorf("%d px: the Created by column is %v px wide", w, f["column"])
		}
	}
	must(t, page.SetViewportSize(1280, 900))
}

// checkCardGaps: the cards of Settings > Security never touch: at least
// 16 px between each and the next, at every width.
func checkCardGaps(t *testing.T, page playwright.Page) {
	t.Helper()
	for _, w := range fitWidths {
		must(t, page.SetViewportSize(w, 900))
		v, err := page.Evaluate(`() => {
			const cards = Array.from(document.querySelectorAll("main .card"));
			const gaps = [];
			for (let i = 1; i < cards.length; i++) {
				gaps.push({ after: cards[i - 1].id || cards[i - 1].className, gap: cards[i].getBoundingClientRect().top - cards[i - 1].getBoundingClientRect().bottom });
			}
			return gaps;
		}`)
		must(t, err)
		gaps := v.([]any)
		if len(gaps) < 3 {
			t.Fatalf("%d px: %d cards on the security page, want 4 or more", w, len(gaps)+1)
		}
		for _, g := range gaps {
			g := g.(map[string]any)
			if toFloat(g["gap"]) < 16 {
				t.Errorf("%d px: %v px between %v and the next card", w, g["gap"], g["after"])
			}
		}
	}
	must(t, page.SetViewportSize(1280, 900))
}

// checkWorkspaceName: on a phone (390 px) the bar shows the workspace's
// name readably, at least its first 12 characters ("Acme Payments"
// was "Acm…" beside five icons), cut only with an ellipsis and the whole
// name in its title; the sections' links and the account menu stay in
// view, none over another.
func checkWorkspaceName(t *testing.T, page playwright.Page, workspace string) {
	t.Helper()
	must(t, page.SetViewportSize(390, 900))
	defer func() { must(t, page.SetViewportSize(1280, 900)) }()
	v, err := page.Evaluate(`() => {
		const el = document.querySelector(".workspace-name");
		const r = el.getBoundingClientRect(), cs = getComputedStyle(el);
		const range = document.createRange();
		range.setStart(el.firstChild, 0);
		range.setEnd(el.firstChild, 12);
		const box = e => { const b = e.getBoundingClientRect(); return { left: b.left, right: b.right, top: b.top, bottom: b.bottom }; };
		return {
			shown: r.width, first12: range.getBoundingClientRect().width,
			cut: el.scrollWidth > el.clientWidth, ellipsis: cs.textOverflow === "ellipsis",
			title: el.title, text: el.textContent,
			boxes: [el, ...document.querySelectorAll(".nav-link"), document.querySelector(".user-menu summary")].map(box),
			vw: document.documentElement.clientWidth,
		};
	}`)
	must(t, err)
	f := v.(map[string]any)
	if f["text"] != workspace {
		t.Fatalf("the workspace card says %q, want %q", f["text"], workspace)
	}
	if shown, want := toFloat(f["shown"]), toFloat(f["first12"]); shown < want {
		t.Errorf("390 px: the workspace's name has %.0f px, its first 12 characters need %.0f", shown, want)
	}
	if f["cut"] == true && (f["ellipsis"] != true || f["title"] != workspace) {
		t.Errorf("390 px: the name is cut without an ellipsis and its whole text in title (title %q)", f["title"])
	}
	boxes := f["boxes"].([]any)
	vw := toFloat(f["vw"])
	for i, a := range boxes {
		a := a.(map[string]any)
		if toFloat(a["left"]) < 0 || toFloat(a["right"]) > vw || toFloat(a["bottom"]) <= 0 {
			t.Errorf("390 px: box %d of the bar (%v) is out of view", i, a)
		}
		for j := i + 1; j < len(boxes); j++ {
			b := boxes[j].(map[string]any)
			if toFloat(a["left"]) < toFloat(b["right"])-0.5 && toFloat(b["left"]) < toFloat(a["right"])-0.5 &&
				toFloat(a["top"]) < toFloat(b["bottom"])-0.5 && toFloat(b["top"]) < toFloat(a["bottom"])-0.5 {
				t.Errorf("390 px: boxes %d (%v) and %d (%v) of the bar overlap", i, a, j, b)
			}
		}
	}
}
