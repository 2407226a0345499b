package e2e

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/playwright-community/playwright-go"

	"github.com/blnk-cloud/apikeys/db"
)

// atLocalhost returns a as the browser must reach it for passkeys: at
// http://localhost:PORT, the relying party a server on loopback uses
// without --public-url (browsers refuse WebAuthn on 127.0.0.1).
func atLocalhost(t *testing.T, a *app) *app {
	t.Helper()
	u, err := url.Parse(a.URL)
	if err != nil {
		t.Fatal(err)
	}
	cp := *a.App
	cp.URL = "http://localhost:" + u.Port()
	return &app{&cp}
}

// virtualAuthenticator gives page's browser a platform authenticator
// through the DevTools protocol (WebAuthn domain): resident keys, user
// verification that always succeeds. It returns a function that counts
// the passkeys it holds.
func virtualAuthenticator(t *testing.T, page playwright.Page) func() int {
	t.Helper()
	cdp, err := page.Context().NewCDPSession(page)
	must(t, err)
	_, err = cdp.Send("WebAuthn.enable", map[string]any{})
	must(t, err)
	res, err := cdp.Send("WebAuthn.addVirtualAuthenticator", map[string]any{"options": map[string]any{
		"protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
		"hasUserVerification": true, "isUserVerified": true, "automaticPresenceSimulation": true,
	}})
	must(t, err)
	id, _ := res.(map[string]any)["authenticatorId"].(string)
	if id == "" {
		t.Fatalf("addVirtualAuthenticator: %v", res)
	}
	return func() int {
		t.Helper()
		res, err := cdp.Send("WebAuthn.getCredentials", map[string]any{"authenticatorId": id})
		must(t, err)
		creds, _ := res.(map[string]any)["credentials"].([]any)
		return len(creds)
	}
}

// signOut signs out through the account menu.
func signOut(t *testing.T, page playwright.Page) {
	t.Helper()
	must(t, accountMenu(page).Click())
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Sign out"}).Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/login$`)))
}

// TestPasskeysInBrowser: add a passkey with the keyboard, sign out, sign
// in with the passkey alone, remove it, and find that it no longer signs
// in, in Chromium with a virtual authenticator.
func TestPasskeysInBrowser(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	page := newPage(t, atLocalhost(t, a), pageOptions{})
	held := virtualAuthenticator(t, page)
	signIn(t, page, "ada@acme.test", "correct horse battery")

	goTo(t, page, "/settings/security")
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/security$`)))
	must(t, expect.Locator(page.GetByText("You have no passkeys yet.")).ToBeVisible())
	// Keyboard only: type the name, Tab to the button, Enter.
	name := page.GetByLabel("Name of the new passkey")
	must(t, name.Focus())
	must(t, page.Keyboard().Type("Work laptop"))
	must(t, page.Keyboard().Press("Tab"))
	must(t, expect.Locator(page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Add a passkey"})).ToBeFocused())
	must(t, page.Keyboard().Press("Enter"))
	must(t, expect.Locator(page.Locator(".flash")).ToHaveText("Passkey “Work laptop” added."))
	row := page.GetByRole("row").Filter(playwright.LocatorFilterOptions{HasText: "Work laptop"})
	must(t, expect.Locator(row.Locator("td[data-label='Last used']")).ToHaveText("Never"))
	if n := held(); n != 1 {
		t.Fatalf("the authenticator holds %d passkeys, want 1", n)
	}

	// A passkey alone signs in, reached by keyboard from the password.
	signOut(t, page)
	must(t, page.GetByLabel("Password").Focus())
	button := page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Sign in with a passkey"})
	for i := 0; i < 3; i++ {
		if focused, _ := button.Evaluate("b => b === document.activeElement", nil); focused == true {
			break
		}
		must(t, page.Keyboard().Press("Tab"))
	}
	must(t, expect.Locator(button).ToBeFocused())
	must(t, page.Keyboard().Press("Enter"))
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/api-keys$`)))

	// The password is no longer enough: the passkey is the second step.
	signOut(t, page)
	passkeySecondStep(t, page, "ada@acme.test", "correct horse battery")

	goTo(t, page, "/settings/security/passkeys")
	must(t, expect.Locator(row.Locator("td[data-label='Last used']")).ToHaveText("just now"))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Remove passkey Work laptop"}).Click())
	must(t, expect.Locator(page.Locator(".flash")).ToHaveText("Passkey “Work laptop” removed."))
	must(t, expect.Locator(page.GetByText("You have no passkeys yet.")).ToBeVisible())

	// The authenticator still offers it; the server refuses it.
	signOut(t, page)
	allowStatus(page, 403)
	must(t, button.Click())
	must(t, expect.Locator(page.GetByRole("alert")).ToContainText("This passkey was not accepted"))
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/login$`)))
	if n := held(); n != 1 {
		t.Errorf("the authenticator holds %d passkeys", n)
	}
	// The audit log says how each sign-in was made.
	signIn(t, page, "ada@acme.test", "correct horse battery")
	goTo(t, page, "/settings/audit-log?action=passkey.removed")
	must(t, expect.Locator(page.GetByText("Work laptop").First()).ToBeVisible())
}

// TestPasskeysScreenshots: the passkeys page and the sign-in page at
// 390, 1024 and 1440 px, light and dark, axe-core clean. One page and one
// virtual authenticator throughout (it holds the passkey the later
// sign-ins need as their second step); the viewport and the colour
// scheme change between shots.
func TestPasskeysScreenshots(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	la := atLocalhost(t, a)
	page := newPage(t, la, pageOptions{width: 390, axe: true})
	virtualAuthenticator(t, page)
	first := true
	for _, width := range []int{390, 1024, 1440} {
		for _, dark := range []bool{false, true} {
			theme := map[bool]string{false: "light", true: "dark"}[dark]
			scheme := map[bool]*playwright.ColorScheme{false: playwright.ColorSchemeLight, true: playwright.ColorSchemeDark}[dark]
			must(t, page.SetViewportSize(width, 900))
			must(t, page.EmulateMedia(playwright.PageEmulateMediaOptions{ColorScheme: scheme}))
			if !first {
				signOut(t, page)
			}
			goTo(t, page, "/login")
			must(t, expect.Locator(page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Sign in with a passkey"})).ToBeVisible())
			checkA11y(t, page, fmt.Sprintf("sign-in with passkeys %d %s", width, theme))
			shot(t, page, fmt.Sprintf("passkeys-login-%d-%s", width, theme))
			if first {
				signIn(t, page, "ada@acme.test", "correct horse battery")
			} else {
				passkeySecondStep(t, page, "ada@acme.test", "correct horse battery")
			}
			goTo(t, page, "/settings/security/passkeys")
			if first {
				checkA11y(t, page, "no passkeys")
				must(t, page.GetByLabel("Name of the new passkey").Fill("MacBook Pro · Touch ID"))
				must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Add a passkey"}).Click())
				must(t, expect.Locator(page.Locator(".flash")).ToBeVisible())
				// The same authenticator again: the browser is told which
				// passkeys exist (excludeCredentials) and refuses a second.
				must(t, page.GetByLabel("Name of the new passkey").Fill("The same laptop"))
				must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Add a passkey"}).Click())
				must(t, expect.Locator(page.GetByRole("alert")).ToHaveText("This device has a passkey for your account already."))
				checkA11y(t, page, "passkey refused")
				shot(t, page, "passkeys-refused")
				first = false
			}
			must(t, expect.Locator(page.Locator("table.passkeys tbody tr")).ToHaveCount(1))
			checkA11y(t, page, fmt.Sprintf("passkeys %d %s", width, theme))
			shot(t, page, fmt.Sprintf("passkeys-%d-%s", width, theme))
			goTo(t, page, "/settings/security")
			checkA11y(t, page, fmt.Sprintf("security %d %s", width, theme))
			shot(t, page, fmt.Sprintf("security-%d-%s", width, theme))
		}
	}
}

// passkeySecondStep signs in with the password, then, on the second
// step's page, with the passkey the page's virtual authenticator holds.
func passkeySecondStep(t *testing.T, page playwright.Page, email, password string) {
	t.Helper()
	goTo(t, page, "/login")
	must(t, page.GetByLabel("Email").Fill(email))
	must(t, page.GetByLabel("Password").Fill(password))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Sign in", Exact: playwright.Bool(true)}).Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/login/two-factor$`)))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Use a passkey"}).Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/api-keys$`)))
}

// ageSudo moves the sudo time of every session of a back 11 minutes, as
// the clock would: the next dangerous action asks again.
func ageSudo(t *testing.T, a *app) {
	t.Helper()
	store, err := db.Open(context.Background(), a.DB)
	must(t, err)
	defer store.Close()
	_, err = store.SQL().Exec(`UPDATE sessions SET sudo_at = sudo_at - $1 WHERE sudo_at IS NOT NULL`, (11 * time.Minute).Milliseconds())
	must(t, err)
}

// TestSudoWithPasskeyInBrowser: the sudo form's "Use a passkey", in
// Chromium with a virtual authenticator. A token created 11 minutes
// after signing in asks to confirm access (a page, without htmx); the
// passkey confirms it and the token is created with the name typed. A
// bulk revoke (htmx, the form swapped in as the page) asks again; the
// passkey confirms it and both keys are revoked. user.sudo says how.
func TestSudoWithPasskeyInBrowser(t *testing.T) {
	t.Parallel()
	a := startApp(t)
	a.createAdmin(t, "Acme Payments", "ada@acme.test", "correct horse battery")
	page := newPage(t, atLocalhost(t, a), pageOptions{axe: true})
	virtualAuthenticator(t, page)
	signIn(t, page, "ada@acme.test", "correct horse battery")
	goTo(t, page, "/settings/security/passkeys")
	must(t, page.GetByLabel("Name of the new passkey").Fill("Work laptop"))
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Add a passkey"}).Click())
	must(t, expect.Locator(page.Locator(".flash")).ToHaveText("Passkey “Work laptop” added."))

	// A page form: the sudo form is the 401 page.
	ageSudo(t, a)
	allowStatus(page, 401)
	goTo(t, page, "/settings/tokens")
	name := uniq("Deploy from CI")
	must(t, page.GetByLabel("Name").Fill(name))
	must(t, page.GetByRole("checkbox", playwright.PageGetByRoleOptions{Name: "keys:read List"}).Check())
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Create token"}).Click())
	must(t, expect.Locator(page.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "Confirm access"})).ToBeVisible())
	must(t, expect.Locator(page.GetByText("This action needs your password or a passkey again.")).ToBeVisible())
	checkA11y(t, page, "sudo with a passkey")
	shot(t, page, "sudo-passkey")
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Use a passkey"}).Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/tokens$`)))
	must(t, expect.Locator(page.GetByRole("row").Filter(playwright.LocatorFilterOptions{HasText: name})).ToHaveCount(1))

	// An htmx form: the sudo form is swapped in as the page.
	one, two := uniq("Bulk one"), uniq("Bulk two")
	addKey(t, a, one, nil)
	addKey(t, a, two, nil)
	ageSudo(t, a)
	goTo(t, page, "/settings/api-keys")
	must(t, page.GetByRole("checkbox", playwright.PageGetByRoleOptions{Name: one}).Check())
	must(t, page.GetByRole("checkbox", playwright.PageGetByRoleOptions{Name: two}).Check())
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Revoke selected"}).Click())
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Revoke 2 Keys"}).Click())
	must(t, expect.Locator(page.GetByRole("heading", playwright.PageGetByRoleOptions{Name: "Confirm access"})).ToBeVisible())
	must(t, page.GetByRole("button", playwright.PageGetByRoleOptions{Name: "Use a passkey"}).Click())
	must(t, expect.Page(page).ToHaveURL(regexp.MustCompile(`/settings/api-keys`)))
	for _, n := range []string{one, two} {
		row := page.GetByRole("row").Filter(playwright.LocatorFilterOptions{HasText: n})
		must(t, expect.Locator(row).ToContainText("Revoked"))
	}

	store, err := db.Open(context.Background(), a.DB)
	must(t, err)
	defer store.Close()
	var n int
	must(t, store.SQL().QueryRow(`SELECT count(*) FROM audit_events WHERE action = 'user.sudo' AND details = '{"with":"passkey"}'`).Scan(&n))
	if n != 2 {
		t.Errorf("%d user.sudo events with a passkey, want 2", n)
	}
}
